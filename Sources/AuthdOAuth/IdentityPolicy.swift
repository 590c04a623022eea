// Whether a login's verified identity satisfies the audience's policy (require_mfa, acr_values): a pure decision.

/// An audience's rules about how the person must have signed in.
public struct IdentityPolicy: Sendable, Equatable {
    public var requireMFA: Bool
    /// Acceptable `acr` values, also sent as `acr_values` on the request.
    public var acrValues: [String]

    public init(requireMFA: Bool = false, acrValues: [String] = []) {
        self.requireMFA = requireMFA
        self.acrValues = acrValues
    }

    public var isEmpty: Bool { !requireMFA && acrValues.isEmpty }

    /// RFC 8176 methods that are more than one factor or a strong single factor: `mfa` itself,
    /// one-time codes, hardware and software keys, smart cards, biometrics, proof of possession.
    public static let multiFactorMethods: Set<String> = ["mfa", "otp", "hwk", "swk", "sc", "fpt", "face", "pop"]

    public enum Decision: Sendable, Equatable {
        case accept
        /// Refused; `rule` is the one line authctl prints (exit 6).
        case refuse(rule: String)
    }

    /// `identity` is nil when the login has no verified id_token (none sent, or none verifiable).
    /// `require_mfa`: some `amr` is a multi-factor method, or `acr` is one of `acr_values`.
    /// `acr_values` alone: `acr` (or one of Entra's `acrs`) must be one of them.
    public func decide(_ identity: VerifiedIdentity?) -> Decision {
        guard !isEmpty else { return .accept }
        guard let identity else {
            let rule = requireMFA ? "require_mfa" : "acr_values"
            return .refuse(rule: "\(rule) needs a verified id_token, and this login has none "
                + "(add the openid scope, and issuer or jwks_uri, to the audience)")
        }
        let contexts = (identity.authenticationContext.map { [$0] } ?? []) + identity.authenticationContexts
        let acrMatches = contexts.contains { acrValues.contains($0) }
        if requireMFA {
            if identity.authenticationMethods.contains(where: Self.multiFactorMethods.contains) || acrMatches { return .accept }
            let shown = identity.authenticationMethods.isEmpty ? "no amr" : "amr " + identity.authenticationMethods.joined(separator: ",")
            return .refuse(rule: "require_mfa: the provider reports \(shown)"
                + (identity.authenticationContext.map { ", acr \($0)" } ?? "") + ", not a multi-factor sign-in; sign in with a second factor and log in again")
        }
        if acrMatches { return .accept }
        return .refuse(rule: "acr_values: the provider reports " + (identity.authenticationContext.map { "acr \($0)" } ?? "no acr")
            + ", not one of " + acrValues.joined(separator: ", ") + "; sign in as that level requires and log in again")
    }
}
