// `client_id = "register"`: what it means for an audience, and the config rule that checks it can work.

extension AudienceConfiguration {
    /// The `client_id` value that asks authd to register itself (RFC 7591) instead of naming a client.
    public static let registeringClientID = "register"

    /// Whether authd registers this audience's client itself (CONTRACT.md Part 2, "Zero registration").
    public var registersClient: Bool { clientID == Self.registeringClientID }
}

/// The config rule for `client_id = "register"` (and `registration_endpoint`), kept apart from the
/// validator so it reads as one rule: a registered client is public, and authd must know where to register.
public enum ClientRegistrationRule {
    public struct Finding: Sendable, Equatable {
        public var isError: Bool
        /// The key the finding is about, below the audience's path.
        public var key: String
        public var message: String
    }

    /// `register`: the `register` key as written (`register = true` without `client_id` means
    /// `client_id = "register"`; validation has already filled `clientID` in then).
    public static func check(clientID: String?, register: Bool? = nil, hasClientSecret: Bool, issuer: EndpointURL?,
                             registrationEndpoint: EndpointURL?, preset: ProviderPreset?, baseURL: EndpointURL?) -> [Finding] {
        if register == true, let clientID, clientID != AudienceConfiguration.registeringClientID {
            return [Finding(isError: true, key: "register",
                            message: "register = true asks authd to register its own client, but client_id names one (\(clientID)); keep one of them")]
        }
        guard clientID == AudienceConfiguration.registeringClientID else {
            guard registrationEndpoint != nil else { return [] }
            return [Finding(isError: false, key: "registration_endpoint",
                            message: "registration_endpoint is used only with client_id = \"register\"; this audience names its client, so it is ignored")]
        }
        var findings: [Finding] = []
        if hasClientSecret {
            findings.append(Finding(isError: true, key: "client_secret",
                                    message: "client_id = \"register\" registers a public client, which has no secret; remove client_secret "
                                        + "(or client_secret_file), or set client_id to a client registered by hand"))
        }
        if registrationEndpoint == nil {
            if let preset, !preset.offersDynamicRegistration {
                findings.append(Finding(isError: true, key: "client_id",
                                        message: "\(preset.displayName) offers no dynamic client registration (RFC 7591): register an app at "
                                            + "\(preset.registrationPage(baseURL: baseURL)) and set client_id to its id"))
            } else if issuer == nil {
                findings.append(Finding(isError: true, key: "client_id",
                                        message: "client_id = \"register\" needs issuer (whose discovery metadata names registration_endpoint) "
                                            + "or registration_endpoint"))
            }
        }
        return findings
    }
}
