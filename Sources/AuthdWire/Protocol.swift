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

        /// The contract's exit codes (CONTRACT.md, authctl).
        public var exitCode: Int32 {
            switch self {
            case .badRequest, .unsupportedVersion, .unknownAudience, .configError: return 2
            case .loginNeeded: return 3
            case .denied, .expired: return 4
            case .providerError, .networkError, .busy, .cancelled, .internalError: return 1
            case .refused: return 6
            }
        }
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

/// A request from a client. Each is one line; a connection may carry several in turn.
public enum Request: Sendable, Equatable {
    case version
    /// A token valid for at least `minimumValiditySeconds`; `interactive` says a person
    /// can see a device-flow prompt (the daemon still applies `require_tty` itself).
    case get(audience: String, minimumValiditySeconds: Int, interactive: Bool)
    /// `get` with `"token":"id"`: the login's verified, unexpired OpenID Connect id_token.
    case getIDToken(audience: String, minimumValiditySeconds: Int, interactive: Bool)
    /// A new device flow now, replacing the stored login.
    case login(audience: String)
    case logout(audience: String)
    case logoutAll
    case status
    /// Stop serving the token with this fingerprint (git saw it rejected).
    case erase(audience: String?, fingerprint: String)

    public var operation: String {
        switch self {
        case .version: return "version"
        case .get, .getIDToken: return "get"
        case .login: return "login"
        case .logout, .logoutAll: return "logout"
        case .status: return "status"
        case .erase: return "erase"
        }
    }

    public var audience: String? {
        switch self {
        case .get(let a, _, _), .getIDToken(let a, _, _), .login(let a), .logout(let a): return a
        case .erase(let a, _): return a
        case .version, .logoutAll, .status: return nil
        }
    }

    public func json() -> JSONValue {
        var m: [(String, JSONValue)] = [("v", .integer(Int64(AuthdProtocol.version))), ("op", .string(operation))]
        switch self {
        case .version, .status: break
        case let .get(audience, minValid, interactive):
            m += [("audience", .string(audience)), ("min_valid", .integer(Int64(minValid))), ("interactive", .bool(interactive))]
        case let .getIDToken(audience, minValid, interactive):
            m += [("audience", .string(audience)), ("min_valid", .integer(Int64(minValid))), ("interactive", .bool(interactive)),
                  ("token", .string("id"))]
        case .login(let audience), .logout(let audience):
            m.append(("audience", .string(audience)))
        case .logoutAll:
            m.append(("all", .bool(true)))
        case let .erase(audience, fingerprint):
            if let audience { m.append(("audience", .string(audience))) }
            m.append(("fingerprint", .string(fingerprint)))
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
            guard isValidAudienceName(a) else { throw ProtocolFailure(.badRequest, "\(op): invalid audience name") }
            return a
        }

        switch op {
        case "version": return .version
        case "status": return .status
        case "get":
            let a = try audience()
            var minValid = 60
            if let raw = value["min_valid"] {
                guard let seconds = raw.integerValue, seconds >= 0, seconds <= 31_536_000 else {
                    throw ProtocolFailure(.badRequest, "get: \"min_valid\" must be seconds between 0 and 31536000")
                }
                minValid = Int(seconds)
            }
            var interactive = false
            if let raw = value["interactive"] {
                guard let b = raw.boolValue else { throw ProtocolFailure(.badRequest, "get: \"interactive\" must be a boolean") }
                interactive = b
            }
            switch value["token"] {
            case nil, .string("access")?: return .get(audience: a, minimumValiditySeconds: minValid, interactive: interactive)
            case .string("id")?: return .getIDToken(audience: a, minimumValiditySeconds: minValid, interactive: interactive)
            default: throw ProtocolFailure(.badRequest, "get: \"token\" must be \"access\" or \"id\"")
            }
        case "login": return .login(audience: try audience())
        case "logout":
            if value["all"]?.boolValue == true {
                guard value["audience"] == nil else { throw ProtocolFailure(.badRequest, "logout: give \"audience\" or \"all\", not both") }
                return .logoutAll
            }
            return .logout(audience: try audience())
        case "erase":
            guard let fingerprint = value["fingerprint"]?.stringValue,
                  fingerprint.utf8.count == 16, fingerprint.utf8.allSatisfy({ FormURLEncoding.hexValue($0) != nil })
            else { throw ProtocolFailure(.badRequest, "erase: \"fingerprint\" must be 16 hex digits") }
            let a: String? = value["audience"] == nil ? nil : try audience()
            return .erase(audience: a, fingerprint: fingerprint.lowercased())
        default:
            throw ProtocolFailure(.badRequest, "unknown op \"\(String(op.prefix(32)))\"")
        }
    }

    /// Audience names as the config allows them: `[A-Za-z0-9._-]{1,64}`.
    public static func isValidAudienceName(_ name: String) -> Bool {
        let utf8 = name.utf8
        return !utf8.isEmpty && utf8.count <= 64 && utf8.allSatisfy { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A)
                || c == UInt8(ascii: ".") || c == UInt8(ascii: "_") || c == UInt8(ascii: "-")
        }
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

/// One audience's row in a `status` reply. Never carries a token.
public struct AudienceStatus: Sendable, Equatable {
    public enum State: String, Sendable {
        case loggedOut = "logged_out"
        case pending = "device_flow_pending"
        case valid
        case refreshing
        case loginNeeded = "login_needed"
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

    public init(audience: String, state: State, issuer: String?, scopes: [String], accessTokenExpiresAt: Int64?,
                refreshAt: Int64?, hasRefreshToken: Bool, loginAt: Int64?, persist: Bool, subject: String?,
                loginPending: Bool = false) {
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
    }

    public func json() -> JSONValue {
        func opt(_ v: Int64?) -> JSONValue { v.map { .integer($0) } ?? .null }
        return .object([
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
        ])
    }

    public init?(json v: JSONValue) {
        guard let audience = v["audience"]?.stringValue, let raw = v["state"]?.stringValue,
              let state = State(rawValue: raw) else { return nil }
        self.init(audience: audience, state: state, issuer: v["issuer"]?.stringValue,
                  scopes: v["scopes"]?.arrayValue?.compactMap(\.stringValue) ?? [],
                  accessTokenExpiresAt: v["expires_at"]?.integerValue, refreshAt: v["refresh_at"]?.integerValue,
                  hasRefreshToken: v["has_refresh_token"]?.boolValue ?? false, loginAt: v["login_at"]?.integerValue,
                  persist: v["persist"]?.boolValue ?? true, subject: v["subject"]?.stringValue,
                  loginPending: v["login_pending"]?.boolValue ?? false)
        // A daemon from before verification sent only the (unverified) subject.
        identity = v["identity"]?.stringValue ?? (subject == nil ? "none" : "unverified")
        email = v["email"]?.stringValue
        amr = v["amr"]?.arrayValue?.compactMap(\.stringValue) ?? []
        acr = v["acr"]?.stringValue
        authTime = v["auth_time"]?.integerValue
        mfa = v["mfa"]?.boolValue
    }
}

/// A reply line as a client sees it: an event that more lines follow, or the final answer.
public enum ReplyLine: Sendable {
    case prompt(DevicePrompt)
    /// Progress of a device flow: `"polling"`, `"slow_down"` (interval raised), `"approved"`.
    case progress(stage: String, intervalSeconds: Int64?)
    /// The final answer of a request: success with its fields, or a failure.
    case success(JSONValue)
    case failure(ProtocolFailure)

    public var isFinal: Bool {
        switch self {
        case .success, .failure: return true
        case .prompt, .progress: return false
        }
    }

    public static func decode(_ line: some Collection<UInt8>) throws(ProtocolFailure) -> ReplyLine {
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
