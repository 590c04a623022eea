// Which login method an audience uses, and why: the one rule `flow` follows, for the daemon and `config check --explain`.
import AuthdWire

/// The two ways a person logs in.
public enum LoginMethod: String, Sendable, Hashable {
    /// RFC 8628: a code typed at the provider's page.
    case deviceFlow = "device"
    /// RFC 6749 §4.1 with PKCE and a loopback redirect (RFC 8252).
    case authorizationCode = "authcode"
}

/// The method a login starts with and whether it may switch.
public struct LoginMethodPlan: Sendable, Equatable {
    /// The method tried first.
    public var first: LoginMethod
    /// When the provider refuses the device grant itself, the same login goes on with the
    /// authorization code flow (`flow = "auto"` only, and only when it can be had).
    public var fallsBackToAuthorizationCode: Bool
    /// Why, in words, for `config check --explain`.
    public var reason: String

    public init(first: LoginMethod, fallsBackToAuthorizationCode: Bool, reason: String) {
        self.first = first
        self.fallsBackToAuthorizationCode = fallsBackToAuthorizationCode
        self.reason = reason
    }
}

extension AudienceConfiguration {
    /// `override` is `authctl login --flow`; nil uses the audience's `flow`.
    public func loginMethodPlan(override: LoginFlowChoice? = nil) -> LoginMethodPlan {
        let discovers = endpoints.needsDiscovery && endpoints.issuer != nil
        let deviceKnown = endpoints.deviceAuthorization != nil
        let authorizationKnown = endpoints.authorization != nil
        let authorizationPossible = authorizationKnown || discovers
        switch override ?? flow {
        case .device:
            return LoginMethodPlan(first: .deviceFlow, fallsBackToAuthorizationCode: false, reason: "flow = \"device\": the device flow only")
        case .authcode:
            return LoginMethodPlan(first: .authorizationCode, fallsBackToAuthorizationCode: false,
                                   reason: "flow = \"authcode\": the authorization code flow (PKCE, loopback redirect) only")
        case .auto:
            if deviceKnown {
                return LoginMethodPlan(first: .deviceFlow, fallsBackToAuthorizationCode: authorizationPossible, reason: authorizationPossible
                    ? "flow = \"auto\": the device flow, since a device endpoint is known; the authorization code flow if the provider refuses the device grant"
                    : "flow = \"auto\": the device flow, since a device endpoint is known (no authorization endpoint to fall back to)")
            }
            if discovers {
                return LoginMethodPlan(first: .deviceFlow, fallsBackToAuthorizationCode: true,
                                       reason: "flow = \"auto\": the device flow when the issuer's metadata names a device endpoint, else (or if the provider refuses the device grant) the authorization code flow")
            }
            return LoginMethodPlan(first: .authorizationCode, fallsBackToAuthorizationCode: false,
                                   reason: "flow = \"auto\": the authorization code flow, since no device endpoint is known")
        }
    }
}
