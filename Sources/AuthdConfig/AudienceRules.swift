// The checks an audience must pass once read and resolved: each a small named rule, run in the order of `AudienceRules.all`.
import AuthdWire

/// What every rule looks at: one audience as written, its preset, and what resolution made of it.
struct AudienceFacts {
    /// The config file's name, for diagnostics.
    var file: String
    /// `audience.NAME`, the key path diagnostics name.
    var audiencePath: String
    /// Where the `[audience.NAME]` table is: diagnostics about the audience as a whole point here.
    var position: TOMLPosition
    var written: ConfigValidator.WrittenAudience
    var preset: ProviderPreset?
    var resolved: ResolvedAudience
    /// Whether reading the audience, or a rule before this one, found an error in it.
    var hasEarlierErrors = false

    /// How diagnostics name the audience's kind: `provider "github"`, or "an audience without provider".
    var presetName: String { written.provider.map { "provider \"\($0.0.rawValue)\"" } ?? "an audience without provider" }

    /// The issuer's metadata can fill whatever endpoint is missing.
    var discoveryCanFill: Bool { resolved.endpoints.issuer != nil && resolved.discoveryUsable }

    /// `flow = "authcode"` with a token endpoint but no authorization endpoint.
    var authorizationEndpointMissing: Bool {
        resolved.flow == .authcode && resolved.endpoints.authorization == nil && resolved.endpoints.token != nil
    }

    /// Complete for the method the audience uses: the device flow needs its endpoint, the
    /// authorization code flow its own; `auto` is content with either.
    var endpointsCompleteForFlow: Bool {
        let endpoints = resolved.endpoints
        return endpoints.token != nil && (resolved.flow == .authcode ? endpoints.authorization != nil
            : resolved.flow == .device ? endpoints.deviceAuthorization != nil
            : endpoints.deviceAuthorization != nil || endpoints.authorization != nil)
    }

    /// The base URL already has its own error (`baseURLFitsPreset`): the endpoint rules, which
    /// would only repeat it in other words, stay silent.
    var baseURLIsReported: Bool { AudienceRules.baseURLFitsPreset(self).contains { $0.severity == .error } }

    func error(_ position: TOMLPosition, _ keyPath: String, _ message: String) -> ConfigDiagnostic {
        ConfigDiagnostic(severity: .error, file: file, line: position.line, column: position.column, keyPath: keyPath, message: message)
    }

    func warning(_ position: TOMLPosition, _ keyPath: String, _ message: String) -> ConfigDiagnostic {
        ConfigDiagnostic(severity: .warning, file: file, line: position.line, column: position.column, keyPath: keyPath, message: message)
    }
}

/// A check of one audience: the diagnostics it finds, none when the audience passes.
typealias AudienceRule = @Sendable (AudienceFacts) -> [ConfigDiagnostic]

enum AudienceRules {
    /// Every rule, in the order their diagnostics are reported (diagnostics at one position keep
    /// this order). A new rule is a function below and one line here.
    static let all: [AudienceRule] = [
        clientIDPresent,
        oneSecretSource,
        secretFitsPreset,
        baseURLFitsPreset,
        keycloakBaseURLIsRealm,
        tenantFitsPreset,
        authcodeHasAuthorizationEndpoint,
        endpointsComplete,
        expectedExtraParameters,
        tokenAuthMethodFitsSecret,
        gitAuthAccepted,
        issuerOnlyAudienceHasScopes,
        identityPolicyHasOpenID,
        clientRegistration,
    ]

    // MARK: - Who the client is

    static func clientIDPresent(_ f: AudienceFacts) -> [ConfigDiagnostic] {
        guard f.written.clientID == nil && f.written.lines["client_id"] == nil && f.written.register != true else { return [] }
        return [f.error(f.position, f.audiencePath, "missing required key client_id")]
    }

    static func oneSecretSource(_ f: AudienceFacts) -> [ConfigDiagnostic] {
        guard let secret = f.written.clientSecret, let secretFile = f.written.clientSecretFile else { return [] }
        return [f.error(secretFile.1.keyPosition, f.audiencePath + ".client_secret_file",
                        "client_secret (line \(secret.1.keyPosition.line)) and client_secret_file are both set; keep one")]
    }

    /// Entra refuses a secret from a public client; Google and the confidential-only presets need one.
    static func secretFitsPreset(_ f: AudienceFacts) -> [ConfigDiagnostic] {
        guard let preset = f.preset else { return [] }
        let written = f.written
        if let secretEntry = written.clientSecret?.1 ?? written.clientSecretFile?.1 {
            guard preset.clientSecretPolicy == .refused else { return [] }
            return [f.warning(secretEntry.keyPosition, f.audiencePath + "." + secretEntry.key,
                              "\(preset.displayName) rejects a client secret from a public client (AADSTS700025); device flow clients are public")]
        }
        guard !written.providerInvalid else { return [] }
        switch preset.clientSecretPolicy {
        case .expected:
            return [f.warning(f.position, f.audiencePath, "\(preset.displayName) needs the client_secret of a \"TVs and Limited Input devices\" client for the device flow; set client_secret or client_secret_file")]
        case .required:
            return [f.warning(f.position, f.audiencePath, "\(preset.displayName) issues tokens only to confidential clients; set client_secret or client_secret_file to the consumer's secret")]
        default:
            return []
        }
    }

    // MARK: - Where the provider is

    static func baseURLFitsPreset(_ f: AudienceFacts) -> [ConfigDiagnostic] {
        if let (_, baseEntry) = f.written.baseURL {
            if let preset = f.preset, !preset.usesBaseURL {
                return [f.error(baseEntry.keyPosition, f.audiencePath + ".base_url", preset.kind == .oidc
                                ? "the oidc preset does not use base_url; set issuer to the provider's issuer URL"
                                : "\(preset.displayName) has fixed endpoints; remove base_url")]
            }
            if f.preset == nil && !f.written.providerInvalid {
                return [f.error(baseEntry.keyPosition, f.audiencePath + ".base_url",
                                "base_url is only used with a provider preset; set provider, or use issuer for discovery")]
            }
        } else if let preset = f.preset, preset.usesBaseURL, preset.defaultBaseURL == nil {
            return [f.error(f.position, f.audiencePath, "\(f.presetName) needs base_url: \(preset.baseURLDescription ?? "the provider's URL")")]
        }
        return []
    }

    static func keycloakBaseURLIsRealm(_ f: AudienceFacts) -> [ConfigDiagnostic] {
        guard let (base, baseEntry) = f.written.baseURL, f.preset?.kind == .keycloak else { return [] }
        let segments = base.pathSegments
        guard segments.count < 2 || segments[segments.count - 2] != "realms" else { return [] }
        return [f.warning(baseEntry.node.position, f.audiencePath + ".base_url",
                          "a Keycloak base_url is the realm URL, e.g. https://sso.example.com/realms/REALM")]
    }

    static func tenantFitsPreset(_ f: AudienceFacts) -> [ConfigDiagnostic] {
        guard let (_, tenantEntry) = f.written.tenant, f.preset?.usesTenant != true, !f.written.providerInvalid else { return [] }
        return [f.error(tenantEntry.keyPosition, f.audiencePath + ".tenant", "tenant is only used with provider \"entra\" or \"azure-devops\"")]
    }

    static func authcodeHasAuthorizationEndpoint(_ f: AudienceFacts) -> [ConfigDiagnostic] {
        guard f.authorizationEndpointMissing, !f.discoveryCanFill, !f.written.endpointInvalid, !f.written.providerInvalid,
              !f.baseURLIsReported else { return [] }
        return [f.error(f.written.lines["flow"].map { TOMLPosition(line: $0, column: 1) } ?? f.position, f.audiencePath + ".flow",
                        "flow = \"authcode\" needs authorization_endpoint (or issuer, to discover it)")]
    }

    /// The endpoints the audience's login method needs are written, derived by the preset, or left to discovery.
    static func endpointsComplete(_ f: AudienceFacts) -> [ConfigDiagnostic] {
        let written = f.written
        guard !f.endpointsCompleteForFlow, !f.discoveryCanFill, !f.baseURLIsReported, !written.providerInvalid,
              !written.endpointInvalid, !f.authorizationEndpointMissing else { return [] }
        guard f.preset == nil || f.preset?.kind == .oidc else {
            return [f.error(f.position, f.audiencePath, "\(f.presetName) cannot derive the endpoints; set device_authorization_endpoint and token_endpoint")]
        }
        if written.authorization != nil && written.token == nil {
            return [f.error(f.position, f.audiencePath, "token_endpoint is missing: the authorization code flow needs authorization_endpoint and token_endpoint, or issuer for discovery")]
        }
        if written.deviceAuthorization != nil || written.token != nil {
            let missing = written.deviceAuthorization == nil ? "device_authorization_endpoint" : "token_endpoint"
            return [f.error(f.position, f.audiencePath, "\(missing) is missing: give both device_authorization_endpoint and token_endpoint, or issuer for discovery")]
        }
        return [f.error(f.position, f.audiencePath, f.preset == nil
                        ? "needs issuer (discovery), provider (a preset), or device_authorization_endpoint and token_endpoint"
                        : "provider \"oidc\" needs issuer (discovery), or device_authorization_endpoint and token_endpoint")]
    }

    // MARK: - What is asked for, and how

    static func expectedExtraParameters(_ f: AudienceFacts) -> [ConfigDiagnostic] {
        guard let preset = f.preset else { return [] }
        return preset.expectedExtraParameters.filter { parameter in
            !(f.written.extraParameters ?? []).contains { $0.name == parameter }
        }.map { parameter in
            f.warning(f.position, f.audiencePath + ".extra_params",
                      "\(preset.displayName) needs extra_params.\(parameter) to issue tokens for your API (e.g. extra_params = { \(parameter) = \"https://api.example.com\" })")
        }
    }

    static func tokenAuthMethodFitsSecret(_ f: AudienceFacts) -> [ConfigDiagnostic] {
        guard let (method, methodEntry) = f.written.tokenAuthMethod else { return [] }
        if method != .none && f.resolved.clientSecret == nil {
            return [f.error(methodEntry.node.position, f.audiencePath + ".token_auth_method", "\(method.rawValue) needs client_secret or client_secret_file")]
        }
        if method == .none && f.resolved.clientSecret != nil {
            return [f.warning(methodEntry.node.position, f.audiencePath + ".token_auth_method",
                              "token_auth_method is \"none\", so the configured client secret is never sent")]
        }
        return []
    }

    static func gitAuthAccepted(_ f: AudienceFacts) -> [ConfigDiagnostic] {
        guard let (scheme, gitAuthEntry) = f.written.gitAuth, scheme == .bearer, let preset = f.preset, !preset.gitAcceptsBearer else { return [] }
        return [f.error(gitAuthEntry.node.position, f.audiencePath + ".git_auth",
                        "\(preset.displayName) rejects Bearer authentication for git over HTTPS; use git_auth = \"basic\"")]
    }

    /// An issuer-only (OpenID Connect) audience: no preset chooses scopes for it. Only for an
    /// otherwise valid audience: a misspelt `scopes` has its own error.
    static func issuerOnlyAudienceHasScopes(_ f: AudienceFacts) -> [ConfigDiagnostic] {
        guard f.resolved.scopes.isEmpty, f.written.lines["scopes"] == nil, f.written.issuer != nil,
              f.preset == nil || f.preset?.kind == .oidc, !f.hasEarlierErrors else { return [] }
        return [f.warning(f.position, f.audiencePath + ".scopes", "no scopes: authd sends no scope parameter, and many OpenID Connect providers "
                          + "then issue no refresh token (so every expiry needs a new login); e.g. scopes = [\"openid\", \"offline_access\"]")]
    }

    /// `require_mfa` and `acr_values` judge the verified id_token, which needs the openid scope.
    static func identityPolicyHasOpenID(_ f: AudienceFacts) -> [ConfigDiagnostic] {
        let resolved = f.resolved
        guard resolved.requireMFA || !resolved.acrValues.isEmpty, !resolved.scopes.contains("openid") else { return [] }
        return [f.warning(f.position, f.audiencePath, (resolved.requireMFA ? "require_mfa" : "acr_values")
                          + " needs a verified id_token, which only comes with the openid scope: every login will be refused; add \"openid\" to scopes")]
    }

    // MARK: - Registering the client (RFC 7591)

    /// `client_id = "register"` (or `register = true`): a public client, and somewhere to register it.
    static func clientRegistration(_ f: AudienceFacts) -> [ConfigDiagnostic] {
        ClientRegistrationRule.check(clientID: f.resolved.clientID, register: f.written.register,
                                     hasClientSecret: f.resolved.clientSecret != nil, issuer: f.resolved.endpoints.issuer,
                                     registrationEndpoint: f.resolved.registrationEndpoint, preset: f.preset,
                                     baseURL: f.resolved.baseURL).map { finding in
            finding.isError ? f.error(f.position, f.audiencePath + "." + finding.key, finding.message)
                : f.warning(f.position, f.audiencePath + "." + finding.key, finding.message)
        }
    }
}
