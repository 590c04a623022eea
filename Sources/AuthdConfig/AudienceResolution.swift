// One audience's effective settings: what was written, else the preset's, else the default, with where each came from.
import AuthdWire

/// An audience after resolution, before the rules (`AudienceRules`) judge it: every setting's
/// effective value and, in `origins`, where it came from (`config check --explain`).
struct ResolvedAudience {
    var clientID: String?
    var clientSecret: ClientSecretSource?
    var baseURL: EndpointURL?
    var tenant: String?
    var endpoints: ResolvedEndpoints
    var flow: LoginFlowChoice
    var redirectPort: Int?
    /// Whether the provider's metadata document can be used to fill endpoints (the preset says; true without one).
    var discoveryUsable: Bool
    var tokenAuthMethod: TokenEndpointAuthMethod
    var scopes: [String]
    var resources: [String]
    var extraParameters: [ExtraParameter]
    var gitURLs: [GitURLPrefix]
    var gitUsername: String
    var gitUsernames: [String]
    var gitAuth: GitAuthScheme
    var registries: [RegistryHost]
    var registryUsername: String
    var persist: Bool
    var requireTTY: Bool
    var allowedClients: [String]
    var caFile: String?
    var jwksURI: EndpointURL?
    /// Where `client_id = "register"` registers the client, when not from discovery.
    var registrationEndpoint: EndpointURL?
    var requireMFA: Bool
    var acrValues: [String]
    var origins: [AudienceKey: SettingOrigin]

    /// Resolves every setting of `written` against `preset`. Reports nothing: judging is the rules' job.
    init(_ written: ConfigValidator.WrittenAudience, preset: ProviderPreset?) {
        var resolver = ConfigValidator.SettingResolver(lines: written.lines, provider: preset?.kind)
        _ = resolver.keep(.provider, preset?.kind)

        // Who the client is.
        // `register = true` without a client_id means `client_id = "register"`.
        clientID = resolver.keep(.clientID, written.clientID
            ?? (written.register == true ? AudienceConfiguration.registeringClientID : nil))
        _ = resolver.keep(.register, written.register)
        let inlineSecret = resolver.keep(.clientSecret, written.clientSecret.map { ClientSecretSource.inline($0.0) })
        let secretFile = resolver.keep(.clientSecretFile, written.clientSecretFile.map { ClientSecretSource.file($0.0) })
        clientSecret = inlineSecret ?? secretFile

        // Where the provider is.
        let usesBaseURL = preset?.usesBaseURL == true, usesTenant = preset?.usesTenant == true
        baseURL = resolver.resolve(.baseURL, written: usesBaseURL ? written.baseURL?.0 : nil,
                                   preset: usesBaseURL ? preset?.defaultBaseURL : nil)
        tenant = resolver.resolve(.tenant, written: usesTenant ? written.tenant?.0 : nil,
                                  preset: usesTenant ? preset?.defaultTenant : nil)
        let presetEndpoints = preset?.endpoints(baseURL: baseURL, tenant: tenant) ?? PresetEndpoints()
        var endpoints = ResolvedEndpoints(
            issuer: resolver.resolve(.issuer, written: written.issuer, preset: presetEndpoints.issuer),
            deviceAuthorization: resolver.resolve(.deviceAuthorizationEndpoint, written: written.deviceAuthorization,
                                                  preset: presetEndpoints.deviceAuthorization),
            token: resolver.resolve(.tokenEndpoint, written: written.token, preset: presetEndpoints.token),
            revocation: resolver.resolve(.revocationEndpoint, written: written.revocation, preset: presetEndpoints.revocation),
            introspection: resolver.resolve(.introspectionEndpoint, written: written.introspection,
                                            preset: presetEndpoints.introspection),
            authorization: resolver.resolve(.authorizationEndpoint, written: written.authorization,
                                            preset: presetEndpoints.authorization))
        let flow = resolver.resolve(.flow, written: written.flow, preset: nil, default: LoginFlowChoice.auto)
        self.flow = flow
        redirectPort = resolver.keep(.redirectPort, written.redirectPort)
        let discoveryUsable = preset?.discoveryUsable ?? true
        self.discoveryUsable = discoveryUsable
        // The authorization endpoint is looked up only for an audience that may start with the
        // authorization code flow; `auto` with a known device endpoint falls back to it only when known.
        let authorizationFromDiscovery = endpoints.authorization == nil
            && (flow == .authcode || (flow == .auto && endpoints.deviceAuthorization == nil))
        let revocationMayExist = preset?.offersRevocation ?? true
        endpoints.needsDiscovery = endpoints.issuer != nil && discoveryUsable
            && (endpoints.deviceAuthorization == nil || endpoints.token == nil || (endpoints.revocation == nil && revocationMayExist)
                || authorizationFromDiscovery)
        if let issuer = endpoints.issuer, endpoints.needsDiscovery {
            if authorizationFromDiscovery { resolver.leaveToDiscovery(.authorizationEndpoint, issuer: issuer) }
            if endpoints.deviceAuthorization == nil { resolver.leaveToDiscovery(.deviceAuthorizationEndpoint, issuer: issuer) }
            if endpoints.token == nil { resolver.leaveToDiscovery(.tokenEndpoint, issuer: issuer) }
            if endpoints.revocation == nil && revocationMayExist { resolver.leaveToDiscovery(.revocationEndpoint, issuer: issuer) }
        }
        if endpoints.revocation == nil && !revocationMayExist { resolver.presetHasNone(.revocationEndpoint) }
        if endpoints.issuer == nil && !discoveryUsable { resolver.presetHasNone(.issuer) }
        self.endpoints = endpoints

        // How the client authenticates: with a secret, the preset's method, else RFC 6749's Basic.
        tokenAuthMethod = resolver.resolve(.tokenAuthMethod, written: written.tokenAuthMethod?.0,
                                           preset: clientSecret == nil ? nil : preset?.authMethodWithSecret,
                                           default: clientSecret == nil ? .none : .clientSecretBasic)

        // What is asked for, and for whom it is served.
        scopes = resolver.resolve(.scopes, written: written.scopes, preset: preset?.defaultScopes, default: [])
        resources = resolver.resolve(.resource, written: written.resources, preset: nil, default: [])
        extraParameters = resolver.resolve(.extraParams, written: written.extraParameters, preset: nil, default: [])
        gitURLs = resolver.keep(.gitURLs, written.gitURLs.map(\.0))
        let gitUsername = resolver.resolve(.gitUsername, written: written.gitUsername, preset: preset?.gitUsername, default: "oauth2")
        self.gitUsername = gitUsername
        gitUsernames = resolver.resolve(.gitUsernames, written: written.gitUsernames, preset: nil, default: [])
        gitAuth = resolver.resolve(.gitAuth, written: written.gitAuth?.0, preset: nil, default: .basic)
        registries = resolver.keep(.registries, written.registries)
        registryUsername = resolver.resolve(.registryUsername, written: written.registryUsername, preset: nil, default: gitUsername)
        // Unwritten, it is git_username's value, and so comes from wherever that came from.
        if written.registryUsername == nil { resolver.origins[.registryUsername] = resolver.origins[.gitUsername] }
        persist = resolver.resolve(.persist, written: written.persist, preset: nil, default: true)
        requireTTY = resolver.resolve(.requireTTY, written: written.requireTTY, preset: nil, default: false)
        allowedClients = resolver.resolve(.allowedClients, written: written.allowedClients, preset: nil, default: [])
        caFile = resolver.keep(.caFile, written.caFile)
        jwksURI = resolver.keep(.jwksURI, written.jwksURI)
        registrationEndpoint = resolver.keep(.registrationEndpoint, written.registrationEndpoint)
        requireMFA = resolver.resolve(.requireMFA, written: written.requireMFA, preset: nil, default: false)
        acrValues = resolver.resolve(.acrValues, written: written.acrValues, preset: nil, default: [])
        origins = resolver.origins
    }
}
