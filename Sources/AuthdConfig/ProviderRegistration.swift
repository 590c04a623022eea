// Where a person registers an app with device flow at each provider (for `authctl setup`; docs/providers.md has the details), and what to change when a provider refuses authd's own registration.

extension ProviderPreset {
    /// The page (or console path) where the app is registered, for the audience's base URL.
    public func registrationPage(baseURL: EndpointURL?) -> String {
        let base = (baseURL ?? defaultBaseURL).map { $0.description.hasSuffix("/") ? String($0.description.dropLast()) : $0.description }
        switch kind {
        case .github:
            return "\(base ?? "https://github.com")/settings/applications/new (an OAuth App; or a GitHub App under /settings/apps/new)"
        case .gitlab:
            return "\(base ?? "https://gitlab.com")/-/user_settings/applications (or a group's or the instance's Applications page)"
        case .google:
            return "https://console.cloud.google.com/apis/credentials (Create credentials → OAuth client ID → \"TVs and Limited Input devices\")"
        case .entra, .azureDevOps:
            return "https://portal.azure.com/#view/Microsoft_AAD_RegisteredApps/ApplicationsListBlade (App registrations → New registration)"
        case .keycloak:
            return "your realm's admin console (Clients → Create client, \"OAuth 2.0 Device Authorization Grant\" on, Client authentication off)"
        case .okta:
            return "your Okta admin console (Applications → Create App Integration → OIDC, Native Application, Device Authorization grant)"
        case .auth0:
            return "https://manage.auth0.com/ (Applications → Create Application → Native; Advanced Settings → Grant Types → Device Code)"
        case .oidc:
            return "your provider's client registration (a public client with the device authorization grant)"
        case .gitea, .forgejo:
            return "\(base ?? "https://gitea.example.com")/user/settings/applications (OAuth2 Applications; redirect URI http://127.0.0.1/callback, confidential client off)"
        case .codeberg:
            return "https://codeberg.org/user/settings/applications (OAuth2 Applications; redirect URI http://127.0.0.1/callback, confidential client off)"
        case .bitbucket:
            return "https://bitbucket.org/WORKSPACE/workspace/settings/api (OAuth consumers → Add consumer; callback URL http://127.0.0.1/callback)"
        }
    }

    /// Whether the provider can offer RFC 7591 dynamic client registration at all; the forges,
    /// GitHub, GitLab, Google and Entra cannot, so `client_id = "register"` is a config error there.
    public var offersDynamicRegistration: Bool {
        switch kind {
        case .keycloak, .okta, .auth0, .oidc: return true
        case .github, .gitlab, .google, .entra, .azureDevOps, .gitea, .forgejo, .codeberg, .bitbucket: return false
        }
    }

    /// What to change when the provider refuses dynamic client registration (`client_id = "register"`)
    /// with HTTP 401/403; nil for the generic advice.
    public var registrationRefusedHint: String? {
        switch kind {
        case .keycloak:
            return "Keycloak refuses anonymous client registration: in the realm's admin console, Clients → Client registration → "
                + "Anonymous access policies (\"Client Registration Policies\"), allow this host under Trusted Hosts and public clients; "
                + "or create a public client by hand (Clients → Create client, Client authentication off) and set client_id to its id"
        case .okta:
            return "Okta allows dynamic registration only with an API token (an initial access token), which authd does not send: "
                + "create a Native Application with the Device Authorization grant in the admin console and set client_id to its id"
        case .auth0:
            return "Auth0 registers clients only with \"OIDC Dynamic Application Registration\" on (tenant Settings → Advanced); "
                + "turn it on, or create a Native application by hand and set client_id to its id"
        default:
            return nil
        }
    }
}

