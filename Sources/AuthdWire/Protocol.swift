// The authd socket protocol (docs/protocol.md): one JSON object per line, requests and replies.

public enum AuthdProtocol {
    /// The protocol version this build speaks; requests may omit `v` to mean 1.
    public static let version = 1
    /// No single line (request or reply) may exceed this, newline included.
    public static let maximumMessageBytes = 65_536
    /// The software version, reported by `version` requests and `authctl version`.
    public static let softwareVersion = "0.1.0"
}

/// What went wrong, as a stable code clients map to exit codes, plus a human sentence.
public struct ProtocolFailure: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable, CaseIterable {
        case badRequest = "bad_request"
        case unsupportedVersion = "unsupported_version"
        case unknownAudience = "unknown_audience"
        case configError = "config_error"
        case loginNeeded = "login_needed"
        case denied = "denied"
        case expired = "expired"
        case providerError = "provider_error"
        case networkError = "network_error"
        case refused = "refused"
        case busy = "busy"
        case cancelled = "cancelled"
        case internalError = "internal"
        // Each code's exit status: `exitStatus` (ClientExitStatus.swift, the one exit table).
    }

    public var code: Code
    public var message: String
    /// What the person should do next, when there is something specific (e.g. `authctl login work`).
    public var hint: String?

    public init(_ code: Code, _ message: String, hint: String? = nil) {
        self.code = code
        self.message = message
        self.hint = hint
    }

    public var description: String { hint.map { "\(message) (\($0))" } ?? message }
}

/// How an audience logs in (`flow`): CONTRACT.md Part 2, "Login methods".
public enum LoginFlowChoice: String, Sendable, Hashable, CaseIterable {
    /// The device flow when a device endpoint is known, else the authorization code flow; and the
    /// authorization code flow when the provider refuses the device grant itself.
    case auto
    /// RFC 8628 only.
    case device
    /// RFC 6749 §4.1 with PKCE and a loopback redirect only.
    case authcode
}

/// A request from a client. Each is one line; a connection may carry several in turn.
public enum Request: Sendable, Equatable {
    case version
    /// A token valid for at least `minimumValiditySeconds`; `interactive` says a person
    /// can see a device-flow prompt (the daemon still applies `require_tty` itself).
    case get(audience: String, minimumValiditySeconds: Int, interactive: Bool)
    /// `get` with `scope` and/or `resource`: a token narrower than the audience's own (op `get`).
    case getNarrowed(audience: String, minimumValiditySeconds: Int, interactive: Bool, narrowing: TokenNarrowing)
    /// `get` with `"token":"id"`: the audience's verified OpenID Connect id_token, answered
    /// `{"ok":true,"id_token":"…","expires_at":N}` (authctl kube-credential --token id).
    case getIDToken(audience: String, minimumValiditySeconds: Int, interactive: Bool)
    /// A new login now, replacing the stored one; `flow` overrides the audience's method once.
    case login(audience: String, flow: LoginFlowChoice?)
    /// Paste-back: the address the browser ended on (or its query), for the authorization code
    /// login that `audience` is waiting for. It carries the code: never logged.
    case authorizationResponse(audience: String, url: String)
    /// `forgetClient`: also delete the client authd registered for the audience (RFC 7592).
    case logout(audience: String, forgetClient: Bool = false)
    case logoutAll
    case status
    /// Stop serving the token with this fingerprint (git saw it rejected).
    case erase(audience: String?, fingerprint: String)
    /// Read the config file again now (as SIGHUP does), and answer how it went.
    case reload
    /// Open a restricted forwarding socket (main socket only; docs/remote.md).
    case forwardOpen(ForwardOpening)
    case forwardList
    case forwardClose(id: String)
    /// The daemon's audit records (of one audience, from the last `sinceSeconds`), oldest first.
    case audit(audience: String?, sinceSeconds: Int?)
    /// Which audience's token answers git for this credential description, by the daemon's own
    /// config (`git_urls`): git's credential helper asks it instead of reading the config itself.
    case gitLookup(GitLookup)

    /// The largest `min_valid` a `get` may ask: 365 days, in seconds.
    public static let maximumMinimumValiditySeconds = 31_536_000

    public var operation: String {
        switch self {
        case .version: return "version"
        case .get, .getNarrowed, .getIDToken: return "get"
        case .login: return "login"
        case .logout, .logoutAll: return "logout"
        case .status: return "status"
        case .erase: return "erase"
        case .reload: return "reload"
        case .forwardOpen: return "forward_open"
        case .forwardList: return "forward_list"
        case .forwardClose: return "forward_close"
        case .audit: return "audit"
        case .authorizationResponse: return "authorization_response"
        case .gitLookup: return "git_lookup"
        }
    }

    public var audience: String? {
        switch self {
        case .get(let a, _, _), .getIDToken(let a, _, _), .login(let a, _), .logout(let a, _), .authorizationResponse(let a, _): return a
        case .getNarrowed(let a, _, _, _): return a
        case .erase(let a, _): return a
        case .audit(let a, _): return a
        case .version, .logoutAll, .status, .reload, .forwardOpen, .forwardList, .forwardClose, .gitLookup: return nil
        }
    }

    public func json() -> JSONValue {
        var m: [(String, JSONValue)] = [("v", .integer(Int64(AuthdProtocol.version))), ("op", .string(operation))]
        switch self {
        case .version, .status, .reload, .forwardList: break
        case .forwardOpen(let opening):
            if let audiences = opening.audiences { m.append(("audiences", .array(audiences.map { .string($0) }))) }
            m += [("ttl", .integer(Int64(opening.ttlSeconds))), ("allow_login", .bool(opening.allowLogin))]
            if let socket = opening.socket { m.append(("socket", .string(socket))) }
        case .forwardClose(let id):
            m.append(("id", .string(id)))
        case let .get(audience, minValid, interactive):
            m += [("audience", .string(audience)), ("min_valid", .integer(Int64(minValid))), ("interactive", .bool(interactive))]
        case let .getNarrowed(audience, minValid, interactive, narrowing):
            m += [("audience", .string(audience)), ("min_valid", .integer(Int64(minValid))), ("interactive", .bool(interactive))]
            m += narrowing.jsonMembers
        case let .getIDToken(audience, minValid, interactive):
            m += [("audience", .string(audience)), ("min_valid", .integer(Int64(minValid))), ("interactive", .bool(interactive)),
                  ("token", .string("id"))]
        case let .login(audience, flow):
            m.append(("audience", .string(audience)))
            if let flow { m.append(("flow", .string(flow.rawValue))) }
        case let .authorizationResponse(audience, url):
            m += [("audience", .string(audience)), ("url", .string(url))]
        case let .logout(audience, forgetClient):
            m.append(("audience", .string(audience)))
            if forgetClient { m.append(("forget_client", .bool(true))) }
        case .logoutAll:
            m.append(("all", .bool(true)))
        case let .erase(audience, fingerprint):
            if let audience { m.append(("audience", .string(audience))) }
            m.append(("fingerprint", .string(fingerprint)))
        case let .audit(audience, since):
            if let audience { m.append(("audience", .string(audience))) }
            if let since { m.append(("since", .integer(Int64(since)))) }
        case .gitLookup(let lookup):
            m += lookup.jsonMembers
        }
        return .object(m)
    }

    /// The request as one protocol line, newline included.
    public func line() -> [UInt8] {
        var bytes = json().serializedBytes()
        bytes.append(0x0A)
        return bytes
    }

    /// Decodes one line (without its newline). Every failure is a `bad_request` or
    /// `unsupported_version` answer, never a crash.
    public static func decode(_ line: some Collection<UInt8>) throws(ProtocolFailure) -> Request {
        let value: JSONValue
        do {
            value = try JSONValue.parse(line, maximumDepth: 8)
        } catch {
            throw ProtocolFailure(.badRequest, "cannot read the request as JSON: \(error.reason) at byte \(error.offset)")
        }
        guard case .object = value else { throw ProtocolFailure(.badRequest, "request must be a JSON object") }
        if let v = value["v"] {
            guard let version = v.integerValue else { throw ProtocolFailure(.badRequest, "\"v\" must be an integer") }
            guard version == Int64(AuthdProtocol.version) else {
                throw ProtocolFailure(.unsupportedVersion, "protocol version \(version) is not supported; this daemon speaks \(AuthdProtocol.version)")
            }
        }
        guard let op = value["op"]?.stringValue else { throw ProtocolFailure(.badRequest, "missing \"op\"") }

        func audience() throws(ProtocolFailure) -> String {
            guard let a = value["audience"]?.stringValue else { throw ProtocolFailure(.badRequest, "\(op): missing \"audience\"") }
            guard AudienceName.isValid(a) else { throw ProtocolFailure(.badRequest, "\(op): invalid audience name") }
            return a
        }

        switch op {
        case "version": return .version
        case "status": return .status
        case "reload": return .reload
        case "get":
            let a = try audience()
            var minValid = 60
            if let raw = value["min_valid"] {
                guard let seconds = raw.integerValue, seconds >= 0, seconds <= Int64(maximumMinimumValiditySeconds) else {
                    throw ProtocolFailure(.badRequest, "get: \"min_valid\" must be seconds between 0 and \(maximumMinimumValiditySeconds)")
                }
                minValid = Int(seconds)
            }
            var interactive = false
            if let raw = value["interactive"] {
                guard let b = raw.boolValue else { throw ProtocolFailure(.badRequest, "get: \"interactive\" must be a boolean") }
                interactive = b
            }
            switch value["token"] {
            case nil, .string("access")?: break
            case .string("id")?:
                guard value["scope"] == nil, value["resource"] == nil else {
                    throw ProtocolFailure(.badRequest, "get: \"token\":\"id\" takes no \"scope\" or \"resource\"")
                }
                return .getIDToken(audience: a, minimumValiditySeconds: minValid, interactive: interactive)
            default: throw ProtocolFailure(.badRequest, "get: \"token\" must be \"access\" or \"id\"")
            }
            if value["scope"] != nil || value["resource"] != nil {
                var scope: String?
                if let raw = value["scope"] {
                    guard let text = raw.stringValue else { throw ProtocolFailure(.badRequest, "get: \"scope\" must be a string of space-separated scopes") }
                    scope = text
                }
                var resources: [String] = []
                switch value["resource"] {
                case nil: break
                case .string(let uri)?: resources = [uri]
                case .array(let items)?:
                    for item in items {
                        guard let uri = item.stringValue else { throw ProtocolFailure(.badRequest, "get: \"resource\" must be a URI or a list of URIs") }
                        resources.append(uri)
                    }
                default: throw ProtocolFailure(.badRequest, "get: \"resource\" must be a URI or a list of URIs")
                }
                let narrowing: TokenNarrowing
                do { narrowing = try TokenNarrowing.parse(scope: scope, resources: resources) } catch {
                    throw ProtocolFailure(.badRequest, "get: " + error.message)
                }
                return .getNarrowed(audience: a, minimumValiditySeconds: minValid, interactive: interactive, narrowing: narrowing)
            }
            return .get(audience: a, minimumValiditySeconds: minValid, interactive: interactive)
        case "login":
            let a = try audience()
            guard let raw = value["flow"] else { return .login(audience: a, flow: nil) }
            guard let text = raw.stringValue, let flow = LoginFlowChoice(rawValue: text) else {
                throw ProtocolFailure(.badRequest, "login: \"flow\" must be one of \"auto\", \"device\", \"authcode\"")
            }
            return .login(audience: a, flow: flow)
        case "authorization_response":
            let a = try audience()
            guard let url = value["url"]?.stringValue, !url.isEmpty, url.utf8.count <= 8192 else {
                throw ProtocolFailure(.badRequest, "authorization_response: \"url\" must be the address the browser ended on (at most 8192 bytes)")
            }
            return .authorizationResponse(audience: a, url: url)
        case "logout":
            if value["all"]?.boolValue == true {
                guard value["audience"] == nil else { throw ProtocolFailure(.badRequest, "logout: give \"audience\" or \"all\", not both") }
                return .logoutAll
            }
            return .logout(audience: try audience(), forgetClient: value["forget_client"]?.boolValue == true)
        case "erase":
            guard let fingerprint = value["fingerprint"]?.stringValue,
                  fingerprint.utf8.count == 16, fingerprint.utf8.allSatisfy({ FormURLEncoding.hexValue($0) != nil })
            else { throw ProtocolFailure(.badRequest, "erase: \"fingerprint\" must be 16 hex digits") }
            let a: String? = value["audience"] == nil ? nil : try audience()
            return .erase(audience: a, fingerprint: fingerprint.lowercased())
        case "forward_open": return .forwardOpen(try ForwardOpening.decode(value))
        case "forward_list": return .forwardList
        case "forward_close":
            guard let id = value["id"]?.stringValue, ForwardOpening.isValidID(id) else {
                throw ProtocolFailure(.badRequest, "forward_close: \"id\" must be a forward id (see: authctl forward --list)")
            }
            return .forwardClose(id: id)
        case "audit":
            let a: String? = value["audience"] == nil ? nil : try audience()
            var since: Int?
            if let raw = value["since"] {
                guard let seconds = raw.integerValue, seconds >= 0, seconds <= 3_153_600_000 else {
                    throw ProtocolFailure(.badRequest, "audit: \"since\" must be seconds between 0 and 3153600000")
                }
                since = Int(seconds)
            }
            return .audit(audience: a, sinceSeconds: since)
        case "git_lookup": return .gitLookup(try GitLookup.decode(value))
        default:
            throw ProtocolFailure(.badRequest, "unknown op \"\(String(op.prefix(32)))\"")
        }
    }

}

/// What git told its credential helper (protocol, host, path, user), as `git_lookup` carries it.
public struct GitLookup: Sendable, Equatable {
    public var scheme: String
    /// May carry `:port`.
    public var host: String
    public var path: String?
    public var username: String?
    /// An erase asks for every audience that may have served the rejected token, not only the best match.
    public var forErase: Bool

    public init(scheme: String, host: String, path: String? = nil, username: String? = nil, forErase: Bool = false) {
        self.scheme = scheme
        self.host = host
        self.path = path
        self.username = username
        self.forErase = forErase
    }

    var jsonMembers: [(String, JSONValue)] {
        var m: [(String, JSONValue)] = [("protocol", .string(scheme)), ("host", .string(host))]
        if let path { m.append(("path", .string(path))) }
        if let username { m.append(("username", .string(username))) }
        if forErase { m.append(("erase", .bool(true))) }
        return m
    }

    static func decode(_ value: JSONValue) throws(ProtocolFailure) -> GitLookup {
        func text(_ key: String, required: Bool, limit: Int) throws(ProtocolFailure) -> String? {
            guard let raw = value[key] else {
                if required { throw ProtocolFailure(.badRequest, "git_lookup: missing \"\(key)\"") }
                return nil
            }
            guard let string = raw.stringValue, !(required && string.isEmpty), string.utf8.count <= limit else {
                throw ProtocolFailure(.badRequest, "git_lookup: \"\(key)\" must be a\(required ? " non-empty" : "") string of at most \(limit) bytes")
            }
            return string
        }
        var forErase = false
        if let raw = value["erase"] {
            guard let b = raw.boolValue else { throw ProtocolFailure(.badRequest, "git_lookup: \"erase\" must be a boolean") }
            forErase = b
        }
        // The caps are git's own (a helper's line is at most 8 KiB); the whole line is capped anyway.
        return GitLookup(scheme: try text("protocol", required: true, limit: 64)!, host: try text("host", required: true, limit: 1024)!,
                         path: try text("path", required: false, limit: 8192), username: try text("username", required: false, limit: 1024),
                         forErase: forErase)
    }
}

/// The device-flow prompt the daemon streams to a waiting client.
public struct DevicePrompt: Sendable, Equatable {
    public var audience: String
    public var verificationURI: String
    public var userCode: String
    public var verificationURIComplete: String?
    /// Wall-clock time (Unix seconds) when the code expires.
    public var expiresAt: Int64
    /// Seconds left when the prompt was sent (for clients whose clock differs).
    public var expiresIn: Int64
    /// QR code of the complete URI (or the URI), one string per row, `1` = dark module.
    public var qrRows: [String]
    /// A provider's own instruction text (Entra sends one), shown as-is.
    public var providerMessage: String?

    public init(audience: String, verificationURI: String, userCode: String, verificationURIComplete: String?,
                expiresAt: Int64, expiresIn: Int64, qrRows: [String], providerMessage: String? = nil) {
        self.audience = audience
        self.verificationURI = verificationURI
        self.userCode = userCode
        self.verificationURIComplete = verificationURIComplete
        self.expiresAt = expiresAt
        self.expiresIn = expiresIn
        self.qrRows = qrRows
        self.providerMessage = providerMessage
    }

    public func json() -> JSONValue {
        var m: [(String, JSONValue)] = [
            ("event", .string("prompt")), ("audience", .string(audience)),
            ("verification_uri", .string(verificationURI)), ("user_code", .string(userCode)),
        ]
        if let verificationURIComplete { m.append(("verification_uri_complete", .string(verificationURIComplete))) }
        m += [("expires_at", .integer(expiresAt)), ("expires_in", .integer(expiresIn)),
              ("qr", .array(qrRows.map { .string($0) }))]
        if let providerMessage { m.append(("message", .string(providerMessage))) }
        return .object(m)
    }

    public init?(json v: JSONValue) {
        guard v["event"]?.stringValue == "prompt", let audience = v["audience"]?.stringValue,
              let uri = v["verification_uri"]?.stringValue, let code = v["user_code"]?.stringValue,
              let expiresAt = v["expires_at"]?.integerValue, let expiresIn = v["expires_in"]?.integerValue
        else { return nil }
        self.init(audience: audience, verificationURI: uri, userCode: code,
                  verificationURIComplete: v["verification_uri_complete"]?.stringValue,
                  expiresAt: expiresAt, expiresIn: expiresIn,
                  qrRows: v["qr"]?.arrayValue?.compactMap(\.stringValue) ?? [],
                  providerMessage: v["message"]?.stringValue)
    }
}

/// The authorization code flow's prompt: the URL to open, and that a pasted address is accepted.
/// The URL carries `state` and the PKCE challenge (never the verifier): it is for the person's eyes.
public struct AuthorizationPrompt: Sendable, Equatable {
    public var audience: String
    public var authorizationURL: String
    /// `http://127.0.0.1:PORT/callback`: where the browser is sent back.
    public var redirectURI: String
    /// Wall-clock time (Unix seconds) after which the login stops waiting.
    public var expiresAt: Int64
    public var expiresIn: Int64
    /// Why this method, when the device flow was tried first and refused.
    public var reason: String?

    public init(audience: String, authorizationURL: String, redirectURI: String, expiresAt: Int64, expiresIn: Int64, reason: String? = nil) {
        self.audience = audience
        self.authorizationURL = authorizationURL
        self.redirectURI = redirectURI
        self.expiresAt = expiresAt
        self.expiresIn = expiresIn
        self.reason = reason
    }

    public func json() -> JSONValue {
        var m: [(String, JSONValue)] = [
            ("event", .string("authorization_prompt")), ("audience", .string(audience)),
            ("authorization_url", .string(authorizationURL)), ("redirect_uri", .string(redirectURI)),
            ("expires_at", .integer(expiresAt)), ("expires_in", .integer(expiresIn)), ("paste_back", .bool(true)),
        ]
        if let reason { m.append(("reason", .string(reason))) }
        return .object(m)
    }

    public init?(json v: JSONValue) {
        guard v["event"]?.stringValue == "authorization_prompt", let audience = v["audience"]?.stringValue,
              let url = v["authorization_url"]?.stringValue, let redirect = v["redirect_uri"]?.stringValue,
              let expiresAt = v["expires_at"]?.integerValue, let expiresIn = v["expires_in"]?.integerValue
        else { return nil }
        self.init(audience: audience, authorizationURL: url, redirectURI: redirect, expiresAt: expiresAt, expiresIn: expiresIn,
                  reason: v["reason"]?.stringValue)
    }
}

/// One audience's row in a `status` reply. Never carries a token.
public struct AudienceStatus: Sendable, Equatable {
    public enum State: String, Sendable {
        case loggedOut = "logged_out"
        case pending = "device_flow_pending"
        case valid
        case refreshing
        case loginNeeded = "login_needed"
        /// The access token has expired and refreshing it keeps failing for a reason that may pass
        /// (the provider is unreachable); retries continue (`refreshAt`), no login is needed.
        case refreshFailing = "refresh_failing"
        /// The audience's config section has an error; `configError` says which.
        case configError = "config_error"
    }

    public var audience: String
    public var state: State
    public var issuer: String?
    public var scopes: [String]
    /// Wall-clock expiry of the access token (Unix seconds); nil when none or unknown.
    public var accessTokenExpiresAt: Int64?
    /// When the next refresh is scheduled (Unix seconds), if one is.
    public var refreshAt: Int64?
    public var hasRefreshToken: Bool
    /// When the person last completed a device flow (Unix seconds).
    public var loginAt: Int64?
    public var persist: Bool
    /// Who approved the login: the verified id_token's display name (preferred_username, else
    /// email, else sub); nil without a verified id_token.
    public var subject: String?
    /// Whether the login's identity is `verified` (a signed id_token checked), `unverified` (an
    /// id_token came but no key could be known: discarded), or `none` (no id_token).
    public var identity: String = "none"
    /// Approval evidence from the verified id_token (nil / empty otherwise).
    public var email: String? = nil
    public var amr: [String] = []
    public var acr: String? = nil
    public var authTime: Int64? = nil
    /// Whether the verified `amr` names a multi-factor method (the daemon's rule, IdentityPolicy); nil when unknown.
    public var mfa: Bool? = nil
    /// A device flow is waiting for approval while `state` describes the login still in use.
    public var loginPending: Bool
    /// Why the last refresh failed, while `state` is `refresh_failing`.
    public var refreshError: String?
    /// The audience's config error (`FILE:LINE: KEY: MESSAGE`), while `state` is `config_error`.
    public var configError: String?

    public init(audience: String, state: State, issuer: String?, scopes: [String], accessTokenExpiresAt: Int64?,
                refreshAt: Int64?, hasRefreshToken: Bool, loginAt: Int64?, persist: Bool, subject: String?,
                loginPending: Bool = false, refreshError: String? = nil, configError: String? = nil) {
        self.audience = audience
        self.state = state
        self.issuer = issuer
        self.scopes = scopes
        self.accessTokenExpiresAt = accessTokenExpiresAt
        self.refreshAt = refreshAt
        self.hasRefreshToken = hasRefreshToken
        self.loginAt = loginAt
        self.persist = persist
        self.subject = subject
        self.loginPending = loginPending
        self.refreshError = refreshError
        self.configError = configError
    }

    public func json() -> JSONValue {
        func opt(_ v: Int64?) -> JSONValue { v.map { .integer($0) } ?? .null }
        var members: [(String, JSONValue)] = [
            ("audience", .string(audience)), ("state", .string(state.rawValue)),
            ("issuer", issuer.map { .string($0) } ?? .null),
            ("scopes", .array(scopes.map { .string($0) })),
            ("expires_at", opt(accessTokenExpiresAt)), ("refresh_at", opt(refreshAt)),
            ("has_refresh_token", .bool(hasRefreshToken)), ("login_at", opt(loginAt)),
            ("persist", .bool(persist)), ("subject", subject.map { .string($0) } ?? .null),
            ("login_pending", .bool(loginPending)),
            ("identity", .string(identity)), ("email", email.map { .string($0) } ?? .null),
            ("amr", .array(amr.map { .string($0) })), ("acr", acr.map { .string($0) } ?? .null),
            ("auth_time", opt(authTime)), ("mfa", mfa.map { .bool($0) } ?? .null),
        ]
        if let refreshError { members.append(("refresh_error", .string(refreshError))) }
        if let configError { members.append(("config_error", .string(configError))) }
        return .object(members)
    }

    public init?(json v: JSONValue) {
        guard let audience = v["audience"]?.stringValue, let raw = v["state"]?.stringValue,
              let state = State(rawValue: raw) else { return nil }
        self.init(audience: audience, state: state, issuer: v["issuer"]?.stringValue,
                  scopes: v["scopes"]?.arrayValue?.compactMap(\.stringValue) ?? [],
                  accessTokenExpiresAt: v["expires_at"]?.integerValue, refreshAt: v["refresh_at"]?.integerValue,
                  hasRefreshToken: v["has_refresh_token"]?.boolValue ?? false, loginAt: v["login_at"]?.integerValue,
                  persist: v["persist"]?.boolValue ?? true, subject: v["subject"]?.stringValue,
                  loginPending: v["login_pending"]?.boolValue ?? false,
                  refreshError: v["refresh_error"]?.stringValue, configError: v["config_error"]?.stringValue)
        // A daemon from before verification sent only the (unverified) subject.
        identity = v["identity"]?.stringValue ?? (subject == nil ? "none" : "unverified")
        email = v["email"]?.stringValue
        amr = v["amr"]?.arrayValue?.compactMap(\.stringValue) ?? []
        acr = v["acr"]?.stringValue
        authTime = v["auth_time"]?.integerValue
        mfa = v["mfa"]?.boolValue
    }
}

/// The config file a daemon serves, as `status` reports it.
public struct ConfigFileStatus: Sendable, Equatable {
    public var path: String
    /// When the file was last loaded (Unix seconds); nil when there was no file.
    public var loadedAt: Int64?
    /// The file on disk differs from what was loaded (the daemon reloads it with the next
    /// request; this stays true only when that reload failed).
    public var changedSinceLoad: Bool
    /// The last load that failed, kept until one succeeds: when, and the diagnostics.
    public var failedAt: Int64?
    public var failure: String?
    /// Errors outside any audience that did not stop serving.
    public var otherErrors: [String]

    public init(path: String, loadedAt: Int64?, changedSinceLoad: Bool, failedAt: Int64? = nil, failure: String? = nil,
                otherErrors: [String] = []) {
        self.path = path
        self.loadedAt = loadedAt
        self.changedSinceLoad = changedSinceLoad
        self.failedAt = failedAt
        self.failure = failure
        self.otherErrors = otherErrors
    }

    public func json() -> JSONValue {
        var members: [(String, JSONValue)] = [
            ("path", .string(path)), ("loaded_at", loadedAt.map { .integer($0) } ?? .null),
            ("changed_since_load", .bool(changedSinceLoad)),
        ]
        if let failedAt, let failure {
            members.append(("reload_failed", .object([("at", .integer(failedAt)), ("message", .string(failure))])))
        }
        if !otherErrors.isEmpty { members.append(("errors", .array(otherErrors.map { .string($0) }))) }
        return .object(members)
    }

    public init?(json v: JSONValue) {
        guard let path = v["path"]?.stringValue else { return nil }
        self.init(path: path, loadedAt: v["loaded_at"]?.integerValue,
                  changedSinceLoad: v["changed_since_load"]?.boolValue ?? false,
                  failedAt: v["reload_failed"]?["at"]?.integerValue, failure: v["reload_failed"]?["message"]?.stringValue,
                  otherErrors: v["errors"]?.arrayValue?.compactMap(\.stringValue) ?? [])
    }
}

/// A reply line as a client sees it: an event that more lines follow, or the final answer.
public enum ReplyLine: Sendable {
    case prompt(DevicePrompt)
    case authorizationPrompt(AuthorizationPrompt)
    /// Progress of a device flow: `"polling"`, `"slow_down"` (interval raised), `"approved"`.
    case progress(stage: String, intervalSeconds: Int64?)
    /// The final answer of a request: success with its fields, or a failure.
    case success(JSONValue)
    case failure(ProtocolFailure)

    public var isFinal: Bool {
        switch self {
        case .success, .failure: return true
        case .prompt, .authorizationPrompt, .progress: return false
        }
    }

    public static func decode(_ line: some Collection<UInt8>) throws(ProtocolFailure) -> ReplyLine {
        try decode(Array(line))
    }

    /// The same for a line already in an array, as the clients read it: not generic, so the call
    /// needs no runtime type metadata for its argument.
    public static func decode(_ line: [UInt8]) throws(ProtocolFailure) -> ReplyLine {
        let value: JSONValue
        do {
            value = try JSONValue.parse(line, maximumDepth: 16)
        } catch {
            throw ProtocolFailure(.internalError, "the daemon sent a malformed reply (\(error))")
        }
        if let event = value["event"]?.stringValue {
            switch event {
            case "prompt":
                guard let prompt = DevicePrompt(json: value) else { throw ProtocolFailure(.internalError, "malformed prompt event") }
                return .prompt(prompt)
            case "authorization_prompt":
                guard let prompt = AuthorizationPrompt(json: value) else { throw ProtocolFailure(.internalError, "malformed authorization prompt event") }
                return .authorizationPrompt(prompt)
            default:
                return .progress(stage: value["stage"]?.stringValue ?? event, intervalSeconds: value["interval"]?.integerValue)
            }
        }
        guard let ok = value["ok"]?.boolValue else { throw ProtocolFailure(.internalError, "reply without \"ok\" or \"event\"") }
        if ok { return .success(value) }
        let codeText = value["error"]?.stringValue ?? "internal"
        let code = ProtocolFailure.Code(rawValue: codeText) ?? .internalError
        return .failure(ProtocolFailure(code, value["message"]?.stringValue ?? codeText, hint: value["hint"]?.stringValue))
    }

    /// Encodes an event or final answer as one line, newline included.
    public func line() -> [UInt8] {
        let value: JSONValue
        switch self {
        case .prompt(let p): value = p.json()
        case .authorizationPrompt(let p): value = p.json()
        case let .progress(stage, interval):
            var m: [(String, JSONValue)] = [("event", .string("progress")), ("stage", .string(stage))]
            if let interval { m.append(("interval", .integer(interval))) }
            value = .object(m)
        case .success(let v):
            var m: [(String, JSONValue)] = [("ok", .bool(true))]
            m += (v.objectMembers ?? []).filter { $0.0 != "ok" }
            value = .object(m)
        case .failure(let f):
            var m: [(String, JSONValue)] = [("ok", .bool(false)), ("error", .string(f.code.rawValue)), ("message", .string(f.message))]
            if let hint = f.hint { m.append(("hint", .string(hint))) }
            value = .object(m)
        }
        var bytes = value.serializedBytes()
        bytes.append(0x0A)
        return bytes
    }
}
