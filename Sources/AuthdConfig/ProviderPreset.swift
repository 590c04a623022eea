// What authd knows about each supported identity provider: endpoints, defaults and quirks (see PROVIDERS.md).

/// The providers a `provider = "..."` key can name.
public enum ProviderKind: String, Sendable, Hashable, CaseIterable {
    case github
    case gitlab
    case google
    case entra
    case azureDevOps = "azure-devops"
    case keycloak
    case okta
    case auth0
    case oidc
}

/// How the client authenticates at the token endpoint (RFC 6749 §2.3, OIDC names).
public enum TokenEndpointAuthMethod: String, Sendable, Hashable, CaseIterable {
    /// Public client: `client_id` in the body only.
    case none
    case clientSecretBasic = "client_secret_basic"
    case clientSecretPost = "client_secret_post"
}

/// The endpoints a preset derives from `base_url` and `tenant`.
public struct PresetEndpoints: Sendable, Equatable {
    public var issuer: EndpointURL?
    public var deviceAuthorization: EndpointURL?
    public var token: EndpointURL?
    public var revocation: EndpointURL?
    public var introspection: EndpointURL?
    /// RFC 6749 §3.1, for the authorization code flow.
    public var authorization: EndpointURL?
}

public struct ProviderPreset: Sendable {
    public enum ClientSecretPolicy: Sendable, Equatable {
        case optional
        /// The provider refuses a device flow without the secret (Google).
        case expected
        /// The provider refuses a secret from a public client (Entra: AADSTS700025).
        case refused
    }

    public var kind: ProviderKind
    public var displayName: String
    /// Used when the audience has no `base_url`; nil when there is no sensible default.
    public var defaultBaseURL: EndpointURL?
    /// Whether `base_url` means anything for this preset.
    public var usesBaseURL: Bool
    /// What `base_url` must point at, for the "missing base_url" message.
    public var baseURLDescription: String?
    public var usesTenant: Bool
    public var defaultTenant: String?
    /// Whether RFC 8414 / OpenID discovery gives a usable answer: GitHub has none and
    /// GitLab's lacks the device endpoint, so those presets never discover.
    public var discoveryUsable: Bool
    /// False when the provider has no RFC 7009 endpoint at all: then discovery is not
    /// tried to find one, and `revocationHint` says where a person revokes instead.
    public var offersRevocation: Bool
    public var defaultScopes: [String]
    /// The method used when the audience has a client secret and no `token_auth_method`.
    public var authMethodWithSecret: TokenEndpointAuthMethod
    public var clientSecretPolicy: ClientSecretPolicy
    /// The git user name for Basic authentication when `git_username` is not set.
    public var gitUsername: String?
    /// GitHub and GitLab reject `Authorization: Bearer` for git over HTTPS.
    public var gitAcceptsBearer: Bool
    /// `extra_params` the provider needs for useful tokens (a warning when missing).
    public var expectedExtraParameters: [String]
    /// What to change at the provider when it says device flow is not enabled for the client.
    public var deviceFlowSetupHint: String
    /// How this provider departs from RFC 8628 and what authd does about it, in a few words
    /// each, for `authctl config check --explain`. Facts that other fields already carry
    /// (revocation, secret policy, git auth, expected parameters) are added by `quirks`.
    public var providerNotes: [String]

    public static func preset(for kind: ProviderKind) -> ProviderPreset {
        switch kind {
        case .github: return github
        case .gitlab: return gitlab
        case .google: return google
        case .entra: return entra
        case .azureDevOps: return azureDevOps
        case .keycloak: return keycloak
        case .okta: return okta
        case .auth0: return auth0
        case .oidc: return oidc
        }
    }

    public static func named(_ name: String) -> ProviderPreset? {
        ProviderKind(rawValue: name).map(preset(for:))
    }

    /// The endpoints this preset builds; nil parts are left to explicit keys or discovery.
    public func endpoints(baseURL: EndpointURL?, tenant: String?) -> PresetEndpoints {
        let base = baseURL ?? defaultBaseURL
        var result = PresetEndpoints()
        switch kind {
        case .github:
            guard let base else { break }
            result.deviceAuthorization = base.appendingPath("/login/device/code")
            result.token = base.appendingPath("/login/oauth/access_token")
            result.authorization = base.appendingPath("/login/oauth/authorize")
        case .gitlab:
            guard let base else { break }
            result.issuer = base
            result.deviceAuthorization = base.appendingPath("/oauth/authorize_device")
            result.authorization = base.appendingPath("/oauth/authorize")
            result.token = base.appendingPath("/oauth/token")
            result.revocation = base.appendingPath("/oauth/revoke")
        case .google:
            result.issuer = Self.url("https://accounts.google.com")
            result.deviceAuthorization = Self.url("https://oauth2.googleapis.com/device/code")
            result.token = Self.url("https://oauth2.googleapis.com/token")
            result.authorization = Self.url("https://accounts.google.com/o/oauth2/v2/auth")
            result.revocation = Self.url("https://oauth2.googleapis.com/revoke")
        case .entra, .azureDevOps:
            guard let base else { break }
            let tenantBase = base.appendingPath("/" + (tenant ?? defaultTenant ?? "common"))
            result.issuer = tenantBase.appendingPath("/v2.0")
            result.deviceAuthorization = tenantBase.appendingPath("/oauth2/v2.0/devicecode")
            result.token = tenantBase.appendingPath("/oauth2/v2.0/token")
            result.authorization = tenantBase.appendingPath("/oauth2/v2.0/authorize")
        case .keycloak:
            guard let base else { break }
            result.issuer = base
            result.deviceAuthorization = base.appendingPath("/protocol/openid-connect/auth/device")
            result.token = base.appendingPath("/protocol/openid-connect/token")
            result.authorization = base.appendingPath("/protocol/openid-connect/auth")
            result.revocation = base.appendingPath("/protocol/openid-connect/revoke")
            result.introspection = base.appendingPath("/protocol/openid-connect/token/introspect")
        case .okta:
            guard let base else { break }
            // A bare domain means the "default" custom authorization server.
            let server = base.pathSegments.isEmpty ? base.appendingPath("/oauth2/default") : base.appendingPath("")
            result.issuer = server
            result.deviceAuthorization = server.appendingPath("/v1/device/authorize")
            result.token = server.appendingPath("/v1/token")
            result.authorization = server.appendingPath("/v1/authorize")
            result.revocation = server.appendingPath("/v1/revoke")
            result.introspection = server.appendingPath("/v1/introspect")
        case .auth0:
            guard let base else { break }
            // Auth0's issuer identifier ends with a slash.
            result.issuer = base.appendingPath("/")
            result.deviceAuthorization = base.appendingPath("/oauth/device/code")
            result.token = base.appendingPath("/oauth/token")
            result.authorization = base.appendingPath("/authorize")
            result.revocation = base.appendingPath("/oauth/revoke")
        case .oidc:
            break
        }
        return result
    }

    /// Where a person revokes a login when the provider has no revocation endpoint.
    public func revocationHint(baseURL: EndpointURL?) -> String? {
        switch kind {
        case .github:
            let base = baseURL ?? defaultBaseURL ?? Self.url("https://github.com")
            return "GitHub has no token revocation endpoint for device-flow clients; revoke the app's access at \(base.appendingPath("/settings/applications")) (OAuth apps) or \(base.appendingPath("/settings/apps/authorizations")) (GitHub Apps)"
        case .entra, .azureDevOps:
            return "Microsoft Entra ID has no token revocation endpoint; sign out of the app's sessions at https://myaccount.microsoft.com/ (an administrator can revoke all sessions of a user)"
        default:
            return nil
        }
    }

    /// What authd does differently for this provider: the notes, then what the preset's
    /// other fields imply. Derived rather than written twice, so the list cannot disagree
    /// with what validation and the daemon do.
    public var quirks: [String] {
        var quirks = providerNotes
        if !offersRevocation {
            quirks.append("no revocation endpoint: logout erases the login here and says where to revoke")
        }
        switch clientSecretPolicy {
        case .optional: break
        case .expected: quirks.append("needs the client secret, sent in the request body (a warning when missing)")
        case .refused: quirks.append("refuses a client secret from a public client (AADSTS700025; a warning when set)")
        }
        for parameter in expectedExtraParameters {
            quirks.append("needs extra_params.\(parameter) (a warning when missing)")
        }
        if !gitAcceptsBearer {
            quirks.append("git over HTTPS accepts Basic only: git_auth = \"bearer\" is a config error")
        }
        return quirks
    }

    // MARK: - The presets

    public static let github = ProviderPreset(
        kind: .github, displayName: "GitHub",
        defaultBaseURL: url("https://github.com"), usesBaseURL: true,
        baseURLDescription: "the GitHub Enterprise Server URL, e.g. https://github.example.com",
        usesTenant: false, defaultTenant: nil,
        discoveryUsable: false, offersRevocation: false,
        defaultScopes: ["repo"],
        authMethodWithSecret: .clientSecretPost, clientSecretPolicy: .optional,
        gitUsername: "x-access-token", gitAcceptsBearer: false,
        expectedExtraParameters: [],
        deviceFlowSetupHint: "enable Device Flow in the app's settings on GitHub (Settings → Developer settings → OAuth Apps or GitHub Apps → your app → \"Enable Device Flow\")",
        providerNotes: [
            "publishes no discovery metadata: the endpoints come from the preset",
            "the token endpoint answers form-encoded unless asked for JSON, and reports pending, slow_down and errors with HTTP 200: authd reads the error field whatever the status",
            "slow_down carries a new interval, which authd adopts",
            "no verification_uri_complete: the QR code encodes the plain verification URL",
            "granted scopes come back comma-separated",
            "OAuth-App tokens never expire (no refresh is scheduled); GitHub-App tokens expire after 8 h and refresh with single-use refresh tokens",
        ])

    public static let gitlab = ProviderPreset(
        kind: .gitlab, displayName: "GitLab",
        defaultBaseURL: url("https://gitlab.com"), usesBaseURL: true,
        baseURLDescription: "the GitLab instance URL, e.g. https://gitlab.example.com",
        usesTenant: false, defaultTenant: nil,
        discoveryUsable: false, offersRevocation: true,
        defaultScopes: ["read_repository", "write_repository"],
        authMethodWithSecret: .clientSecretBasic, clientSecretPolicy: .optional,
        gitUsername: "oauth2", gitAcceptsBearer: false,
        expectedExtraParameters: [],
        deviceFlowSetupHint: "GitLab 17.3 or later is needed, and the application must not be confidential (Edit application → clear \"Confidential\")",
        providerNotes: [
            "its OpenID discovery omits the device endpoint, so the preset never discovers",
            "slow_down comes without a new interval: authd adds 5 s",
            "refresh rotates both tokens: refreshes are serialized and the new pair saved atomically",
        ])

    public static let google = ProviderPreset(
        kind: .google, displayName: "Google",
        defaultBaseURL: nil, usesBaseURL: false, baseURLDescription: nil,
        usesTenant: false, defaultTenant: nil,
        discoveryUsable: true, offersRevocation: true,
        defaultScopes: ["openid", "email"],
        authMethodWithSecret: .clientSecretPost, clientSecretPolicy: .expected,
        gitUsername: nil, gitAcceptsBearer: true,
        expectedExtraParameters: [],
        deviceFlowSetupHint: "the OAuth client must be of type \"TVs and Limited Input devices\", its client_secret must be configured, and only scopes allowed for the device flow can be requested",
        providerNotes: [
            "the device answer says verification_url instead of verification_uri",
            "refresh answers omit refresh_token: the old one is kept",
            "only some scopes are allowed for the device flow",
        ])

    public static let entra = ProviderPreset(
        kind: .entra, displayName: "Microsoft Entra ID",
        defaultBaseURL: url("https://login.microsoftonline.com"), usesBaseURL: true,
        baseURLDescription: "the login host of a national cloud, e.g. https://login.microsoftonline.us",
        usesTenant: true, defaultTenant: "organizations",
        discoveryUsable: true, offersRevocation: false,
        defaultScopes: ["openid", "profile", "offline_access"],
        authMethodWithSecret: .clientSecretPost, clientSecretPolicy: .refused,
        gitUsername: nil, gitAcceptsBearer: true,
        expectedExtraParameters: [],
        deviceFlowSetupHint: "in the app registration, set Authentication → Advanced settings → \"Allow public client flows\" to Yes (AADSTS7000218)",
        providerNotes: [
            "the device answer carries a human message, shown with the prompt; no verification_uri_complete",
            "a denial is authorization_declined (exit 4, like access_denied)",
            "a refresh token comes only with offline_access, and refresh tokens rotate",
        ])

    public static let azureDevOps = ProviderPreset(
        kind: .azureDevOps, displayName: "Azure DevOps (Microsoft Entra ID)",
        defaultBaseURL: url("https://login.microsoftonline.com"), usesBaseURL: true,
        baseURLDescription: "the login host of a national cloud, e.g. https://login.microsoftonline.us",
        usesTenant: true, defaultTenant: "organizations",
        discoveryUsable: true, offersRevocation: false,
        defaultScopes: ["499b84ac-1321-427f-aa17-267ca6975798/.default", "offline_access"],
        authMethodWithSecret: .clientSecretPost, clientSecretPolicy: .refused,
        gitUsername: "oauth2", gitAcceptsBearer: true,
        expectedExtraParameters: [],
        deviceFlowSetupHint: "in the Entra app registration, set Authentication → Advanced settings → \"Allow public client flows\" to Yes (AADSTS7000218)",
        providerNotes: [
            "the device answer carries a human message, shown with the prompt; no verification_uri_complete",
            "a denial is authorization_declined (exit 4, like access_denied)",
            "a refresh token comes only with offline_access, and refresh tokens rotate",
            "git takes the Entra token as the Basic password",
        ])

    public static let keycloak = ProviderPreset(
        kind: .keycloak, displayName: "Keycloak",
        defaultBaseURL: nil, usesBaseURL: true,
        baseURLDescription: "the realm URL, e.g. https://sso.example.com/realms/REALM",
        usesTenant: false, defaultTenant: nil,
        discoveryUsable: true, offersRevocation: true,
        defaultScopes: ["openid"],
        authMethodWithSecret: .clientSecretBasic, clientSecretPolicy: .optional,
        gitUsername: nil, gitAcceptsBearer: true,
        expectedExtraParameters: [],
        deviceFlowSetupHint: "enable \"OAuth 2.0 Device Authorization Grant\" in the client's Capability config in the Keycloak admin console",
        providerNotes: [
            "always sends verification_uri_complete (used for the QR code)",
            "slow_down comes without a new interval: authd adds 5 s",
        ])

    public static let okta = ProviderPreset(
        kind: .okta, displayName: "Okta",
        defaultBaseURL: nil, usesBaseURL: true,
        baseURLDescription: "the authorization server URL, e.g. https://example.okta.com/oauth2/default",
        usesTenant: false, defaultTenant: nil,
        discoveryUsable: true, offersRevocation: true,
        defaultScopes: ["openid", "offline_access"],
        authMethodWithSecret: .clientSecretBasic, clientSecretPolicy: .optional,
        gitUsername: nil, gitAcceptsBearer: true,
        expectedExtraParameters: [],
        deviceFlowSetupHint: "use a Native application with the \"Device Authorization\" and \"Refresh Token\" grant types enabled, and allow the device grant in the authorization server's access policy",
        providerNotes: [
            "a base_url without a path means the default authorization server (/oauth2/default)",
        ])

    public static let auth0 = ProviderPreset(
        kind: .auth0, displayName: "Auth0",
        defaultBaseURL: nil, usesBaseURL: true,
        baseURLDescription: "the tenant domain URL, e.g. https://example.eu.auth0.com",
        usesTenant: false, defaultTenant: nil,
        discoveryUsable: true, offersRevocation: true,
        defaultScopes: ["openid", "offline_access"],
        authMethodWithSecret: .clientSecretPost, clientSecretPolicy: .optional,
        gitUsername: nil, gitAcceptsBearer: true,
        expectedExtraParameters: ["audience"],
        deviceFlowSetupHint: "set the application type to Native and enable the \"Device Code\" grant (Application → Advanced Settings → Grant Types)",
        providerNotes: [
            "the issuer identifier ends with a slash",
            "an expired code answers expired_token once, then invalid_grant; both end the flow",
        ])

    public static let oidc = ProviderPreset(
        kind: .oidc, displayName: "OpenID Connect provider",
        defaultBaseURL: nil, usesBaseURL: false, baseURLDescription: nil,
        usesTenant: false, defaultTenant: nil,
        discoveryUsable: true, offersRevocation: true,
        defaultScopes: ["openid", "offline_access"],
        authMethodWithSecret: .clientSecretBasic, clientSecretPolicy: .optional,
        gitUsername: nil, gitAcceptsBearer: true,
        expectedExtraParameters: [],
        deviceFlowSetupHint: "enable the device authorization grant (urn:ietf:params:oauth:grant-type:device_code) for this client at the provider",
        providerNotes: [])

    public static let all: [ProviderPreset] = ProviderKind.allCases.map(preset(for:))

    private static func url(_ text: String) -> EndpointURL {
        // The preset URLs are constants checked by the tests.
        try! EndpointURL(parsing: text)
    }
}

/// Providers people put in `provider` that offer no OAuth 2.0 device authorization grant
/// (RFC 8628). They get their own error instead of "unknown provider": the fix is a different
/// setup, not a spelling.
public enum ProviderWithoutDeviceFlow: String, Sendable, Hashable, CaseIterable {
    case bitbucket
    case gitea
    case forgejo
    case aws
    case awsSSO = "aws-sso"
    case iamIdentityCenter = "iam-identity-center"

    /// Case-insensitive: "Bitbucket" is as clearly meant as "bitbucket".
    public static func named(_ name: String) -> ProviderWithoutDeviceFlow? {
        ProviderWithoutDeviceFlow(rawValue: name.lowercased())
    }

    public var displayName: String {
        switch self {
        case .bitbucket: return "Bitbucket Cloud"
        case .gitea: return "Gitea"
        case .forgejo: return "Forgejo"
        case .aws, .awsSSO, .iamIdentityCenter: return "AWS IAM Identity Center"
        }
    }

    /// Why authd cannot log in there, and what to do instead.
    public var explanation: String {
        let bearer = "its git server accepts Bearer tokens: when it trusts an identity provider that has a device flow, use an audience of that provider with git_auth = \"bearer\""
        switch self {
        case .bitbucket:
            return "\(displayName) offers no OAuth device authorization grant, so authd cannot log in to it; \(bearer) (Bitbucket's git user name for tokens is x-token-auth)"
        case .gitea, .forgejo:
            return "\(displayName) offers no OAuth device authorization grant, so authd cannot log in to it; \(bearer)"
        case .aws, .awsSSO, .iamIdentityCenter:
            return "\(displayName) offers no RFC 8628 device authorization grant (its device flow uses JSON bodies, camelCase fields and a client registration first), so authd does not support it; use the AWS CLI (aws sso login) for AWS credentials"
        }
    }
}
