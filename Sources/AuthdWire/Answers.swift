// The final answers of the requests, typed: the daemon encodes them and the clients decode them here, nowhere else.

/// The answer to `get`: a token and what is known of it. The daemon writes the token from secret
/// memory with `writeLine(token:into:)` (no `String` copy); a client reads it with `token(_:in:)`.
public struct TokenAnswer: Sendable, Equatable {
    /// Which token the answer carries, named by the member that carries it.
    public enum Kind: String, Sendable {
        case access = "access_token"
        /// The verified id_token (`"token":"id"`).
        case id = "id_token"
    }

    public var kind: Kind
    public var tokenType: String
    /// Wall-clock expiry (Unix seconds); nil when the provider gave no lifetime.
    public var expiresAt: Int64?
    public var scopes: [String]
    /// `TokenFingerprint.of(token)`: names the token for `erase` and the audit without showing it.
    public var fingerprint: String
    /// Valid for less than the `min_valid` asked: nothing better could be had.
    public var shortOfMinimumValidity: Bool

    public init(kind: Kind = .access, tokenType: String, expiresAt: Int64?, scopes: [String], fingerprint: String,
                shortOfMinimumValidity: Bool = false) {
        self.kind = kind
        self.tokenType = tokenType
        self.expiresAt = expiresAt
        self.scopes = scopes
        self.fingerprint = fingerprint
        self.shortOfMinimumValidity = shortOfMinimumValidity
    }

    /// The members after the token, in wire order.
    func members() -> [(String, JSONValue)] {
        var members: [(String, JSONValue)] = [
            ("token_type", .string(tokenType)), ("expires_at", expiresAt.map { .integer($0) } ?? .null),
            ("scope", .string(scopes.joined(separator: " "))), ("fingerprint", .string(fingerprint)),
        ]
        if shortOfMinimumValidity { members.append(("short_of_min_valid", .bool(true))) }
        return members
    }

    /// The whole reply line, newline included, with the token's bytes escaped straight into `out`
    /// by JSON.swift's one escaper: `{"ok":true,"access_token":"…","token_type":…}`.
    public func writeLine(token: borrowing Span<UInt8>, into out: inout [UInt8]) {
        out.reserveCapacity(out.count + token.count + 256)
        out += Array(#"{"ok":true,""#.utf8)
        out += Array(kind.rawValue.utf8)
        out += Array(#"":""#.utf8)
        for i in token.indices { JSONValue.writeEscaped(token[i], into: &out) }
        out.append(UInt8(ascii: "\""))
        for (key, value) in members() {
            out.append(UInt8(ascii: ","))
            JSONValue.writeString(key, into: &out)
            out.append(UInt8(ascii: ":"))
            value.write(into: &out)
        }
        out += [UInt8(ascii: "}"), 0x0A]
    }

    /// A client's reading of a success payload; absent members read as a daemon that did not send them.
    public init(json v: JSONValue) {
        self.init(kind: v[Kind.id.rawValue] != nil && v[Kind.access.rawValue] == nil ? .id : .access,
                  tokenType: v["token_type"]?.stringValue ?? "Bearer", expiresAt: v["expires_at"]?.integerValue,
                  scopes: Self.words(v["scope"]?.stringValue ?? ""),
                  fingerprint: v["fingerprint"]?.stringValue ?? "",
                  shortOfMinimumValidity: v["short_of_min_valid"]?.boolValue == true)
    }

    /// The space-separated words of `text`, empty ones left out. A loop rather than
    /// `split(separator:)`, whose array of substrings costs a client's start-up its type metadata.
    static func words(_ text: String) -> [String] {
        var words: [String] = []
        var rest = text[...]
        while let space = rest.firstIndex(of: " ") {
            if space > rest.startIndex { words.append(String(rest[..<space])) }
            rest = rest[rest.index(after: space)...]
        }
        if !rest.isEmpty { words.append(String(rest)) }
        return words
    }

    /// The token of `kind` in a success payload, if it carries one (clients check it before printing).
    public static func token(_ kind: Kind, in payload: JSONValue) -> String? {
        payload[kind.rawValue]?.stringValue
    }
}

/// The answer to `version`.
public struct VersionAnswer: Sendable, Equatable {
    public var version: String
    public var protocolVersion: Int64?
    /// The daemon's process id (for `kill -HUP`, `ps`).
    public var pid: Int64?
    /// The forward the request came through, if any.
    public var forward: String?

    public init(version: String, protocolVersion: Int64?, pid: Int64?, forward: String? = nil) {
        self.version = version
        self.protocolVersion = protocolVersion
        self.pid = pid
        self.forward = forward
    }

    public func json() -> JSONValue {
        var members: [(String, JSONValue)] = [("version", .string(version))]
        if let protocolVersion { members.append(("protocol", .integer(protocolVersion))) }
        if let pid { members.append(("pid", .integer(pid))) }
        if let forward { members.append(("forward", .string(forward))) }
        return .object(members)
    }

    public init?(json v: JSONValue) {
        guard let version = v["version"]?.stringValue else { return nil }
        self.init(version: version, protocolVersion: v["protocol"]?.integerValue, pid: v["pid"]?.integerValue,
                  forward: v["forward"]?.stringValue)
    }
}

/// The answer to `status`: every audience's row, and the config file served.
public struct StatusAnswer: Sendable, Equatable {
    public var audiences: [AudienceStatus]
    public var config: ConfigFileStatus?

    public init(audiences: [AudienceStatus], config: ConfigFileStatus?) {
        self.audiences = audiences
        self.config = config
    }

    public func json() -> JSONValue {
        var members: [(String, JSONValue)] = [("audiences", .array(audiences.map { $0.json() }))]
        if let config { members.append(("config", config.json())) }
        return .object(members)
    }

    /// Rows this client cannot read are left out (a newer daemon's states).
    public init(json v: JSONValue) {
        self.init(audiences: (v["audiences"]?.arrayValue ?? []).compactMap(AudienceStatus.init(json:)),
                  config: v["config"].flatMap(ConfigFileStatus.init(json:)))
    }
}

/// The answer to `reload`: how many audiences are served, which are not (their errors), and the file.
public struct ReloadAnswer: Sendable, Equatable {
    public var audiences: Int
    /// `FILE:LINE: KEY: MESSAGE` of each audience not served because of its own section.
    public var broken: [String]
    public var config: ConfigFileStatus?

    public init(audiences: Int, broken: [String], config: ConfigFileStatus?) {
        self.audiences = audiences
        self.broken = broken
        self.config = config
    }

    public func json() -> JSONValue {
        var members: [(String, JSONValue)] = [
            ("audiences", .integer(Int64(audiences))), ("broken", .array(broken.map { .string($0) })),
        ]
        if let config { members.append(("config", config.json())) }
        return .object(members)
    }

    public init(json v: JSONValue) {
        self.init(audiences: v["audiences"]?.integerValue.map { Int(clamping: $0) } ?? 0,
                  broken: v["broken"]?.arrayValue?.compactMap(\.stringValue) ?? [],
                  config: v["config"].flatMap(ConfigFileStatus.init(json:)))
    }
}

/// The answer to `login`: the audience's status row after it.
public struct LoginAnswer: Sendable, Equatable {
    public var status: AudienceStatus?

    public init(status: AudienceStatus?) { self.status = status }

    public func json() -> JSONValue { .object(status.map { [("status", $0.json())] } ?? []) }

    public init(json v: JSONValue) { self.init(status: v["status"].flatMap(AudienceStatus.init(json:))) }
}

/// The answer to `authorization_response`: the waiting login has its address.
public struct AuthorizationResponseAnswer: Sendable, Equatable {
    public var audience: String

    public init(audience: String) { self.audience = audience }

    public func json() -> JSONValue { .object([("audience", .string(audience)), ("accepted", .bool(true))]) }

    public init?(json v: JSONValue) {
        guard let audience = v["audience"]?.stringValue, v["accepted"]?.boolValue == true else { return nil }
        self.init(audience: audience)
    }
}

/// The answer to `git_lookup`: the audiences whose token answers git (none, the best match, or for
/// an erase every candidate), and, when none matched only because git sent no path, the config
/// entry that needs one and the command that makes git send it.
public struct GitLookupAnswer: Sendable, Equatable {
    public struct Match: Sendable, Equatable {
        public var audience: String
        /// The user name git is answered with (`git_username`).
        public var username: String
        /// `git_auth = "bearer"`: answer with an ephemeral Bearer credential when git can take one.
        public var bearer: Bool

        public init(audience: String, username: String, bearer: Bool) {
            self.audience = audience
            self.username = username
            self.bearer = bearer
        }
    }

    public struct PathHint: Sendable, Equatable {
        /// The `git_urls` entry, as written.
        public var entry: String
        public var command: String

        public init(entry: String, command: String) {
            self.entry = entry
            self.command = command
        }
    }

    public var matches: [Match]
    public var pathHint: PathHint?

    public init(matches: [Match], pathHint: PathHint? = nil) {
        self.matches = matches
        self.pathHint = pathHint
    }

    public func json() -> JSONValue {
        var m: [(String, JSONValue)] = [("audiences", .array(matches.map {
            .object([("audience", .string($0.audience)), ("username", .string($0.username)),
                     ("auth", .string($0.bearer ? "bearer" : "basic"))])
        }))]
        if let pathHint {
            m.append(("use_http_path", .object([("entry", .string(pathHint.entry)), ("command", .string(pathHint.command))])))
        }
        return .object(m)
    }

    public init?(json v: JSONValue) {
        guard case .array(let items)? = v["audiences"] else { return nil }
        var matches: [Match] = []
        for item in items {
            guard let audience = item["audience"]?.stringValue, AudienceName.isValid(audience),
                  let username = item["username"]?.stringValue, let auth = item["auth"]?.stringValue,
                  auth == "bearer" || auth == "basic" else { return nil }
            matches.append(Match(audience: audience, username: username, bearer: auth == "bearer"))
        }
        var hint: PathHint?
        if let raw = v["use_http_path"] {
            guard let entry = raw["entry"]?.stringValue, let command = raw["command"]?.stringValue else { return nil }
            hint = PathHint(entry: entry, command: command)
        }
        self.init(matches: matches, pathHint: hint)
    }
}

/// The answer to `erase`: the audience that stopped serving the token, or none.
public struct EraseAnswer: Sendable, Equatable {
    /// nil: no audience served a token with that fingerprint.
    public var erasedFrom: String?

    public init(erasedFrom: String?) { self.erasedFrom = erasedFrom }

    public func json() -> JSONValue {
        guard let erasedFrom else { return .object([("erased", .bool(false))]) }
        return .object([("erased", .bool(true)), ("audience", .string(erasedFrom))])
    }

    public init(json v: JSONValue) {
        self.init(erasedFrom: v["erased"]?.boolValue == true ? (v["audience"]?.stringValue ?? "") : nil)
    }
}

/// What deleting an audience's registered client achieved (`authctl logout --forget-client`).
public enum ClientForgetting: Sendable, Equatable {
    /// The audience does not register its client, or nothing is registered yet.
    case notRegistered
    /// Deleted at the provider (RFC 7592) and forgotten here.
    case deleted(clientID: String)
    /// Forgotten here; the provider still has it, and authd has no way to delete it (`why` says what to do).
    case forgottenOnly(clientID: String, why: String)
    /// Deleting it at the provider failed; it is kept, to be tried again.
    case failed(clientID: String, why: String)

    /// Its members in a logout result: `client`, and `client_id` / `client_message` where they apply.
    var members: [(String, JSONValue)] {
        switch self {
        case .notRegistered: return [("client", .string("not_registered"))]
        case .deleted(let clientID): return [("client", .string("deleted")), ("client_id", .string(clientID))]
        case let .forgottenOnly(clientID, why):
            return [("client", .string("forgotten")), ("client_id", .string(clientID)), ("client_message", .string(why))]
        case let .failed(clientID, why):
            return [("client", .string("failed")), ("client_id", .string(clientID)), ("client_message", .string(why))]
        }
    }

    /// Read from a logout result; nil when it has no `client` member (no `forget_client` asked) or an unknown one.
    init?(members v: JSONValue) {
        let clientID = v["client_id"]?.stringValue ?? "?", why = v["client_message"]?.stringValue ?? ""
        switch v["client"]?.stringValue {
        case "not_registered": self = .notRegistered
        case "deleted": self = .deleted(clientID: clientID)
        case "forgotten": self = .forgottenOnly(clientID: clientID, why: why)
        case "failed": self = .failed(clientID: clientID, why: why)
        default: return nil
        }
    }
}

/// What `logout` did for one audience.
public struct LogoutResult: Sendable, Equatable {
    public enum Revocation: Sendable, Equatable {
        /// The provider revoked the tokens.
        case revoked
        /// Nothing was logged in; nothing was sent.
        case notLoggedIn
        /// The provider has no revocation endpoint; the hint says where to revoke.
        case unsupported(hint: String?)
        /// Revocation failed; the login was erased locally anyway.
        case failed(message: String?)
        /// With `all`: the client may not use this audience, which stays logged in.
        case refused(message: String?)
        /// A value this client does not know (a newer daemon's).
        case other(String)

        public var wireName: String {
            switch self {
            case .revoked: return "revoked"
            case .notLoggedIn: return "not_logged_in"
            case .unsupported: return "unsupported"
            case .failed: return "failed"
            case .refused: return "refused"
            case .other(let name): return name
            }
        }
    }

    public var audience: String
    public var revocation: Revocation
    /// With `forget_client`: what happened to the audience's registered client.
    public var client: ClientForgetting?

    public init(audience: String, revocation: Revocation, client: ClientForgetting? = nil) {
        self.audience = audience
        self.revocation = revocation
        self.client = client
    }

    public func json() -> JSONValue {
        var members: [(String, JSONValue)] = [("audience", .string(audience)), ("revocation", .string(revocation.wireName))]
        switch revocation {
        case .unsupported(let hint?): members.append(("hint", .string(hint)))
        case .failed(let message?), .refused(let message?): members.append(("message", .string(message)))
        default: break
        }
        if let client { members += client.members }
        return .object(members)
    }

    public init(json v: JSONValue) {
        let revocation: Revocation
        switch v["revocation"]?.stringValue ?? "" {
        case "revoked": revocation = .revoked
        case "not_logged_in": revocation = .notLoggedIn
        case "unsupported": revocation = .unsupported(hint: v["hint"]?.stringValue)
        case "failed": revocation = .failed(message: v["message"]?.stringValue)
        case "refused": revocation = .refused(message: v["message"]?.stringValue)
        case let name: revocation = .other(name)
        }
        self.init(audience: v["audience"]?.stringValue ?? "?", revocation: revocation, client: ClientForgetting(members: v))
    }
}

/// The answer to `logout`: one result per audience, in config order.
public struct LogoutAnswer: Sendable, Equatable {
    public var results: [LogoutResult]

    public init(results: [LogoutResult]) { self.results = results }

    public func json() -> JSONValue { .object([("results", .array(results.map { $0.json() }))]) }

    public init(json v: JSONValue) { self.init(results: (v["results"]?.arrayValue ?? []).map(LogoutResult.init(json:))) }
}

/// One open forward: the answer to `forward_open`, and each row of `forward_list`.
public struct ForwardAnswer: Sendable, Equatable {
    public var id: String
    public var socket: String
    /// nil: every audience.
    public var audiences: [String]?
    public var allowLogin: Bool
    public var expiresAt: Int64
    public var expiresIn: Int64
    /// Sent with `forward_open` only (always false: forwards live in memory).
    public var survivesRestart: Bool?

    public init(id: String, socket: String, audiences: [String]?, allowLogin: Bool, expiresAt: Int64, expiresIn: Int64,
                survivesRestart: Bool? = nil) {
        self.id = id
        self.socket = socket
        self.audiences = audiences
        self.allowLogin = allowLogin
        self.expiresAt = expiresAt
        self.expiresIn = expiresIn
        self.survivesRestart = survivesRestart
    }

    public func json() -> JSONValue {
        var members: [(String, JSONValue)] = [
            ("id", .string(id)), ("socket", .string(socket)),
            ("audiences", audiences.map { .array($0.map { .string($0) }) } ?? .null),
            ("allow_login", .bool(allowLogin)), ("expires_at", .integer(expiresAt)), ("expires_in", .integer(expiresIn)),
        ]
        if let survivesRestart { members.append(("survives_restart", .bool(survivesRestart))) }
        return .object(members)
    }

    public init?(json v: JSONValue) {
        guard let id = v["id"]?.stringValue, let socket = v["socket"]?.stringValue, let expiresAt = v["expires_at"]?.integerValue else {
            return nil
        }
        self.init(id: id, socket: socket, audiences: v["audiences"]?.arrayValue?.compactMap(\.stringValue),
                  allowLogin: v["allow_login"]?.boolValue == true, expiresAt: expiresAt, expiresIn: v["expires_in"]?.integerValue ?? 0,
                  survivesRestart: v["survives_restart"]?.boolValue)
    }
}

/// The answer to `forward_list`: the open forwards, soonest to end first.
public struct ForwardListAnswer: Sendable, Equatable {
    public var forwards: [ForwardAnswer]

    public init(forwards: [ForwardAnswer]) { self.forwards = forwards }

    public func json() -> JSONValue { .object([("forwards", .array(forwards.map { $0.json() }))]) }

    public init(json v: JSONValue) { self.init(forwards: (v["forwards"]?.arrayValue ?? []).compactMap(ForwardAnswer.init(json:))) }
}

/// The answer to `forward_close`.
public struct ForwardCloseAnswer: Sendable, Equatable {
    public var closed: String

    public init(closed: String) { self.closed = closed }

    public func json() -> JSONValue { .object([("closed", .string(closed))]) }

    public init?(json v: JSONValue) {
        guard let closed = v["closed"]?.stringValue else { return nil }
        self.init(closed: closed)
    }
}

/// The answer to `audit`: the records, and where they came from.
public struct AuditAnswer: Sendable, Equatable {
    public enum Source: String, Sendable {
        case journal
        case memory
    }

    /// nil: a source this client does not know.
    public var source: Source?
    /// Oldest first; each an object of the lower-cased journal fields (docs/operations.md).
    public var records: [JSONValue]
    /// Records that fell out of the in-memory ring (memory only).
    public var dropped: UInt64?
    /// Why the journal was not read although authd writes there.
    public var note: String?

    public init(source: Source?, records: [JSONValue], dropped: UInt64? = nil, note: String? = nil) {
        self.source = source
        self.records = records
        self.dropped = dropped
        self.note = note
    }

    public func json() -> JSONValue {
        var members: [(String, JSONValue)] = []
        if let source { members.append(("source", .string(source.rawValue))) }
        members.append(("records", .array(records)))
        if let dropped { members.append(("dropped", .integer(Int64(clamping: dropped)))) }
        if let note { members.append(("note", .string(note))) }
        return .object(members)
    }

    public init(json v: JSONValue) {
        self.init(source: v["source"]?.stringValue.flatMap(Source.init(rawValue:)), records: v["records"]?.arrayValue ?? [],
                  dropped: v["dropped"]?.integerValue.flatMap { $0 >= 0 ? UInt64($0) : nil }, note: v["note"]?.stringValue)
    }
}
