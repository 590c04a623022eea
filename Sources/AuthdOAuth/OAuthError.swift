// The errors the OAuth engine reports: typed, classified (retryable or not), and free of secrets.

import AuthdWire

/// A provider endpoint as errors name it: "token endpoint https://h/token".
public struct OAuthEndpoint: Sendable, Equatable, CustomStringConvertible {
    public enum Role: String, Sendable, Equatable {
        case discovery = "discovery document"
        case deviceAuthorization = "device authorization endpoint"
        case token = "token endpoint"
        case revocation = "revocation endpoint"
        case authorization = "authorization endpoint"
        case keySet = "JWKS (jwks_uri)"
        /// RFC 7591 dynamic client registration, and the RFC 7592 client configuration URL.
        case registration = "client registration endpoint"
    }

    public var role: Role
    public var url: String

    public init(_ role: Role, _ url: String) {
        self.role = role
        self.url = url
    }

    /// The URL without userinfo: a `user:password@` part is a secret even when someone put it in a URL.
    public var displayURL: String { EndpointPolicy.withoutUserinfo(url) }

    public var description: String { "\(role.rawValue) \(displayURL)" }
}

public enum OAuthError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The person declined at the provider (`access_denied`, `authorization_declined`).
    case denied(code: String, description: String?)
    /// The device code expired (the provider said `expired_token`, or the local deadline passed).
    case expired
    /// A new device flow is needed: the refresh token was refused, is missing or expired, or the session reached `max_session`.
    case loginNeeded(reason: String)
    /// The provider answered with an OAuth error that ends the operation. `hint` says how to fix known setup problems.
    case provider(endpoint: OAuthEndpoint, error: String, description: String?, hint: String?)
    /// No HTTP answer at all (connection, TLS, timeout).
    case network(endpoint: OAuthEndpoint, HTTPError)
    /// An HTTP status without a usable OAuth answer (5xx, 429, or a 4xx without an `error`).
    case httpStatus(endpoint: OAuthEndpoint, status: Int)
    /// The answer could not be understood (malformed body, missing field, unsupported token type).
    case invalidResponse(endpoint: OAuthEndpoint, reason: String)
    /// A plain `http://` URL to a host that is not loopback; nothing was sent.
    case insecureEndpoint(url: String)
    /// A URL that is not a usable absolute `http(s)` URL; nothing was sent.
    case invalidEndpoint(url: String, reason: String)
    /// Neither the settings nor discovery name the endpoint this operation needs.
    case noEndpoint(OAuthEndpoint.Role, reason: String)
    /// Discovery metadata names a different issuer than the configured one (RFC 8414 §3.3).
    case issuerMismatch(expected: String, found: String)
    /// The provider would not register authd as a client (RFC 7591 with HTTP 401/403: anonymous
    /// registration is off, or a policy refused it). `hint` names the provider's setting.
    case registrationRefused(endpoint: OAuthEndpoint, status: Int, error: String?, description: String?, hint: String?)
    /// The calling task was cancelled.
    case cancelled

    /// Whether trying the same operation again later may succeed without anyone changing anything.
    public var isRetryable: Bool {
        switch self {
        case .network(_, let e): return e != .cancelled
        case .httpStatus(_, let status): return status >= 500 || status == 429 || status == 408
        case .provider(_, let error, _, _): return OAuthErrorCode.isTransient(error)
        default: return false
        }
    }

    public var description: String {
        switch self {
        case let .denied(code, description):
            return "the sign-in request was denied at the provider (\(code)\(description.map { ": \($0)" } ?? ""))"
        case .expired:
            return "the device code expired before the sign-in was approved"
        case .loginNeeded(let reason):
            return "login needed: \(reason)"
        case let .provider(endpoint, error, description, hint):
            var text = "\(endpoint): the provider answered \(error)"
            if let description, !description.isEmpty { text += ": \(description)" }
            if let hint { text += " (hint: \(hint))" }
            return text
        case let .network(endpoint, error):
            return "\(endpoint): \(error)"
        case let .httpStatus(endpoint, status):
            // A device endpoint that does not exist is how a provider without device flow, or a wrong URL, shows.
            if status == 404, endpoint.role == .deviceAuthorization {
                return "\(endpoint): HTTP 404: the provider may not support device flow (RFC 8628 device authorization) at this URL; check device_authorization_endpoint"
            }
            return "\(endpoint): HTTP \(status)"
        case let .invalidResponse(endpoint, reason):
            return "\(endpoint): unusable answer: \(reason)"
        case .insecureEndpoint(let url):
            return "refusing the plain-http endpoint \(EndpointPolicy.withoutUserinfo(url)): http:// is allowed only for loopback hosts (127.0.0.0/8, ::1, localhost); use https://"
        case let .invalidEndpoint(url, reason):
            return "invalid endpoint URL \(EndpointPolicy.withoutUserinfo(url)): \(reason)"
        case let .noEndpoint(role, reason):
            return "no \(role.rawValue): \(reason)"
        case let .issuerMismatch(expected, found):
            return "discovery metadata names issuer \(found) but \(expected) is configured; the configured issuer must match exactly"
        case let .registrationRefused(endpoint, status, error, description, hint):
            var text = "\(endpoint): the provider refused to register authd as a client (HTTP \(status)"
            if let error { text += ", \(error)" }
            if let description, !description.isEmpty { text += ": \(description)" }
            return text + ")" + (hint.map { " (hint: \($0))" } ?? "")
        case .cancelled:
            return "cancelled"
        }
    }
}

/// OAuth `error` codes with a meaning the engine acts on.
enum OAuthErrorCode {
    static let authorizationPending = "authorization_pending"
    static let slowDown = "slow_down"
    static let accessDenied = "access_denied"
    static let authorizationDeclined = "authorization_declined"
    static let expiredToken = "expired_token"
    static let invalidGrant = "invalid_grant"
    static let unsupportedTokenType = "unsupported_token_type"

    /// RFC 6749 names these for passing trouble at the server; retrying later is the remedy.
    static func isTransient(_ code: String) -> Bool {
        code == "temporarily_unavailable" || code == "server_error"
    }

    /// The refresh token is dead: RFC 6749's `invalid_grant`, or GitHub's `bad_refresh_token` (its
    /// refresh tokens are single-use and expire); either way only a new login helps.
    static func rejectsRefreshToken(_ code: String) -> Bool {
        code == invalidGrant || code == "bad_refresh_token"
    }

    static func isDenial(_ code: String) -> Bool {
        code == accessDenied || code == authorizationDeclined
    }
}

/// Provider text is shown on a person's terminal and may echo what we sent: control and format
/// characters are replaced (`TerminalText`, the one rule the clients apply too), the length is
/// bounded, and the secrets of the exchange are cut out.
struct ProviderText {
    var secrets: [String]

    static let maximumLength = 400

    func clean(_ text: String?) -> String? {
        guard var text else { return nil }
        for secret in secrets where secret.count >= 4 {
            text = text.replacing(secret, with: "[redacted]")
        }
        var scalars = String.UnicodeScalarView()
        scalars.append(contentsOf: text.unicodeScalars.prefix(Self.maximumLength))
        let cleaned = TerminalText.clean(String(scalars))
        return cleaned.isEmpty ? nil : cleaned
    }
}
