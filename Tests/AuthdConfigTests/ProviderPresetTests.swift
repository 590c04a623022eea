// Each preset's endpoints, defaults and quirks, and explicit keys winning over them.
import AuthdConfig
import Testing

private func endpoints(_ body: String) throws -> AudienceConfiguration {
    try audience("[audience.a]\nclient_id = \"c\"\n" + body)
}

@Suite struct ProviderPresetTests {
    @Test func github() throws {
        let a = try endpoints("provider = \"github\"")
        #expect(a.endpoints == ResolvedEndpoints(deviceAuthorization: url("https://github.com/login/device/code"),
                                                 token: url("https://github.com/login/oauth/access_token"),
                                                 authorization: url("https://github.com/login/oauth/authorize")))
        #expect(a.revocationHint == "GitHub has no token revocation endpoint for device-flow clients; revoke the app's access at https://github.com/settings/applications (OAuth apps) or https://github.com/settings/apps/authorizations (GitHub Apps)")
        #expect(a.gitUsername == "x-access-token")
        #expect(a.scopes == ["repo"])
        #expect(try endpoints("provider = \"github\"\nclient_secret = \"s\"").tokenAuthMethod == .clientSecretPost)
    }

    @Test func gitlab() throws {
        let a = try endpoints("provider = \"gitlab\"")
        #expect(a.endpoints == ResolvedEndpoints(issuer: url("https://gitlab.com"),
                                                 deviceAuthorization: url("https://gitlab.com/oauth/authorize_device"),
                                                 token: url("https://gitlab.com/oauth/token"),
                                                 revocation: url("https://gitlab.com/oauth/revoke"),
                                                 needsDiscovery: false, authorization: url("https://gitlab.com/oauth/authorize")))
        #expect(a.gitUsername == "oauth2")
        let selfManaged = try endpoints("provider = \"gitlab\"\nbase_url = \"https://git.corp.example/gitlab/\"")
        #expect(selfManaged.endpoints.deviceAuthorization == url("https://git.corp.example/gitlab/oauth/authorize_device"))
        #expect(selfManaged.revocationHint == nil)
    }

    @Test func google() throws {
        let a = try endpoints("provider = \"google\"\nclient_secret = \"s\"")
        #expect(a.endpoints == ResolvedEndpoints(issuer: url("https://accounts.google.com"),
                                                 deviceAuthorization: url("https://oauth2.googleapis.com/device/code"),
                                                 token: url("https://oauth2.googleapis.com/token"),
                                                 revocation: url("https://oauth2.googleapis.com/revoke"),
                                                 authorization: url("https://accounts.google.com/o/oauth2/v2/auth")))
        #expect(a.tokenAuthMethod == .clientSecretPost)
    }

    @Test func entraAndAzureDevOps() throws {
        let a = try endpoints("provider = \"entra\"\ntenant = \"contoso.onmicrosoft.com\"")
        #expect(a.endpoints == ResolvedEndpoints(
            issuer: url("https://login.microsoftonline.com/contoso.onmicrosoft.com/v2.0"),
            deviceAuthorization: url("https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/devicecode"),
            token: url("https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"),
            needsDiscovery: false,
            authorization: url("https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/authorize")))
        #expect(a.tenant == "contoso.onmicrosoft.com")
        #expect(a.revocationHint?.contains("no token revocation endpoint") == true)
        #expect(a.deviceFlowSetupHint?.contains("Allow public client flows") == true)
        let ado = try endpoints("provider = \"azure-devops\"")
        #expect(ado.tenant == "organizations")
        #expect(ado.endpoints.token == url("https://login.microsoftonline.com/organizations/oauth2/v2.0/token"))
        #expect(ado.scopes == ["499b84ac-1321-427f-aa17-267ca6975798/.default", "offline_access"])
        let sovereign = try endpoints("provider = \"entra\"\nbase_url = \"https://login.microsoftonline.us\"\ntenant = \"t1\"")
        #expect(sovereign.endpoints.deviceAuthorization == url("https://login.microsoftonline.us/t1/oauth2/v2.0/devicecode"))
    }

    @Test func keycloak() throws {
        let a = try endpoints("provider = \"keycloak\"\nbase_url = \"https://sso.example.com/realms/dev/\"")
        #expect(a.endpoints == ResolvedEndpoints(
            issuer: url("https://sso.example.com/realms/dev/"),
            deviceAuthorization: url("https://sso.example.com/realms/dev/protocol/openid-connect/auth/device"),
            token: url("https://sso.example.com/realms/dev/protocol/openid-connect/token"),
            revocation: url("https://sso.example.com/realms/dev/protocol/openid-connect/revoke"),
            introspection: url("https://sso.example.com/realms/dev/protocol/openid-connect/token/introspect"),
            authorization: url("https://sso.example.com/realms/dev/protocol/openid-connect/auth")))
        #expect(a.deviceFlowSetupHint?.contains("OAuth 2.0 Device Authorization Grant") == true)
    }

    @Test func okta() throws {
        let bare = try endpoints("provider = \"okta\"\nbase_url = \"https://example.okta.com\"")
        #expect(bare.endpoints.issuer == url("https://example.okta.com/oauth2/default"))
        #expect(bare.endpoints.deviceAuthorization == url("https://example.okta.com/oauth2/default/v1/device/authorize"))
        #expect(bare.endpoints.token == url("https://example.okta.com/oauth2/default/v1/token"))
        #expect(bare.endpoints.revocation == url("https://example.okta.com/oauth2/default/v1/revoke"))
        let custom = try endpoints("provider = \"okta\"\nbase_url = \"https://example.okta.com/oauth2/aus123/\"")
        #expect(custom.endpoints.issuer == url("https://example.okta.com/oauth2/aus123"))
        #expect(custom.endpoints.token == url("https://example.okta.com/oauth2/aus123/v1/token"))
    }

    @Test func auth0() throws {
        let a = try endpoints("provider = \"auth0\"\nbase_url = \"https://t.eu.auth0.com\"\nextra_params = { audience = \"https://api\" }")
        #expect(a.endpoints == ResolvedEndpoints(issuer: url("https://t.eu.auth0.com/"),
                                                 deviceAuthorization: url("https://t.eu.auth0.com/oauth/device/code"),
                                                 token: url("https://t.eu.auth0.com/oauth/token"),
                                                 revocation: url("https://t.eu.auth0.com/oauth/revoke"),
                                                 authorization: url("https://t.eu.auth0.com/authorize")))
        #expect(a.scopes == ["openid", "offline_access"])
    }

    @Test func oidcAndNoPresetUseDiscovery() throws {
        let oidc = try endpoints("provider = \"oidc\"\nissuer = \"https://id.example.com\"")
        #expect(oidc.endpoints == ResolvedEndpoints(issuer: url("https://id.example.com"), needsDiscovery: true))
        #expect(oidc.scopes == ["openid", "offline_access"])
        let plain = try endpoints("issuer = \"https://id.example.com\"")
        #expect(plain.endpoints.needsDiscovery)
        #expect(plain.scopes.isEmpty)
        let explicitNoIssuer = try endpoints("device_authorization_endpoint = \"https://i/d\"\ntoken_endpoint = \"https://i/t\"")
        #expect(!explicitNoIssuer.endpoints.needsDiscovery)
        // With an issuer, discovery may still find a revocation endpoint the config lacks.
        let explicitWithIssuer = try endpoints("issuer = \"https://i\"\ndevice_authorization_endpoint = \"https://i/d\"\ntoken_endpoint = \"https://i/t\"")
        #expect(explicitWithIssuer.endpoints.needsDiscovery)
    }

    @Test func explicitKeysWinOverPresets() throws {
        let a = try endpoints("""
            provider = "keycloak"
            base_url = "https://sso.example.com/realms/dev"
            token_endpoint = "https://proxy.example.com/token"
            revocation_endpoint = "https://proxy.example.com/revoke"
            scopes = ["openid", "offline_access"]
            git_username = "me"
            token_auth_method = "client_secret_post"
            client_secret_file = "/run/secrets/kc"
            """)
        #expect(a.endpoints.token == url("https://proxy.example.com/token"))
        #expect(a.endpoints.revocation == url("https://proxy.example.com/revoke"))
        #expect(a.endpoints.deviceAuthorization == url("https://sso.example.com/realms/dev/protocol/openid-connect/auth/device"))
        #expect(a.scopes == ["openid", "offline_access"])
        #expect(a.gitUsername == "me")
        #expect(a.tokenAuthMethod == .clientSecretPost)
        #expect(a.clientSecret == .file("/run/secrets/kc"))
        let github = try endpoints("provider = \"github\"\nrevocation_endpoint = \"https://github.com/revoke\"")
        #expect(github.revocationHint == nil)
    }

    @Test("every value a preset fills in gives way to an explicit key", arguments: ProviderKind.allCases)
    func everyPresetValueGivesWayToAnExplicitKey(_ kind: ProviderKind) throws {
        let preset = ProviderPreset.preset(for: kind)
        var body = "provider = \"\(kind.rawValue)\"\n"
        if preset.usesBaseURL { body += "base_url = \"https://idp.example.com/realms/x\"\n" }
        if preset.usesTenant { body += "tenant = \"contoso\"\n" }
        body += """
            issuer = "https://explicit.example.com"
            device_authorization_endpoint = "https://explicit.example.com/device"
            token_endpoint = "https://explicit.example.com/token"
            revocation_endpoint = "https://explicit.example.com/revoke"
            scopes = ["explicit"]
            git_username = "explicit-user"
            token_auth_method = "client_secret_basic"
            client_secret_file = "/run/secrets/explicit"
            """
        // Bearer is a config error where the provider's git refuses it (GitHub, GitLab): that is the
        // one preset fact an explicit key cannot overrule, because it would only fail later.
        if preset.gitAcceptsBearer { body += "\ngit_auth = \"bearer\"" }
        let a = try endpoints(body)
        #expect(a.endpoints.issuer == url("https://explicit.example.com"))
        #expect(a.endpoints.deviceAuthorization == url("https://explicit.example.com/device"))
        #expect(a.endpoints.token == url("https://explicit.example.com/token"))
        #expect(a.endpoints.revocation == url("https://explicit.example.com/revoke"))
        #expect(a.endpoints.needsDiscovery == false)
        #expect(a.revocationHint == nil)
        #expect(a.scopes == ["explicit"])
        #expect(a.gitUsername == "explicit-user")
        #expect(a.tokenAuthMethod == .clientSecretBasic)
        #expect(a.clientSecret == .file("/run/secrets/explicit"))
        #expect(a.gitAuth == (preset.gitAcceptsBearer ? .bearer : .basic))
    }

    @Test func everyPresetHasAHintAndBuildsHTTPSURLs() throws {
        let base = try EndpointURL(parsing: "https://host.example/realms/r")
        for preset in ProviderPreset.all {
            #expect(!preset.deviceFlowSetupHint.isEmpty)
            let built = preset.endpoints(baseURL: base, tenant: "t")
            for endpoint in [built.issuer, built.deviceAuthorization, built.token, built.revocation, built.introspection,
                             built.authorization].compactMap({ $0 }) {
                #expect(endpoint.scheme == .https)
            }
            #expect((built.revocation == nil) == !preset.offersRevocation || preset.kind == .oidc)
            #expect(ProviderPreset.named(preset.kind.rawValue)?.kind == preset.kind)
            // Every preset but oidc (discovery) knows its authorization endpoint; one without a
            // device flow has no device endpoint to find.
            #expect((built.authorization == nil) == (preset.kind == .oidc), "\(preset.kind)")
            #expect((built.deviceAuthorization == nil) == (!preset.offersDeviceFlow || preset.kind == .oidc), "\(preset.kind)")
            #expect(preset.quirks.contains { $0.hasPrefix("no device flow") } == !preset.offersDeviceFlow)
        }
    }

    @Test func authorizationEndpoints() throws {
        let cases: [(ProviderKind, String?, String)] = [
            (.github, nil, "https://github.com/login/oauth/authorize"),
            (.github, "https://ghe.example.com", "https://ghe.example.com/login/oauth/authorize"),
            (.gitlab, nil, "https://gitlab.com/oauth/authorize"),
            (.google, nil, "https://accounts.google.com/o/oauth2/v2/auth"),
            (.entra, nil, "https://login.microsoftonline.com/organizations/oauth2/v2.0/authorize"),
            (.keycloak, "https://sso.example.com/realms/dev", "https://sso.example.com/realms/dev/protocol/openid-connect/auth"),
            (.okta, "https://example.okta.com", "https://example.okta.com/oauth2/default/v1/authorize"),
            (.auth0, "https://t.eu.auth0.com", "https://t.eu.auth0.com/authorize"),
            (.gitea, "https://gitea.example.com", "https://gitea.example.com/login/oauth/authorize"),
            (.forgejo, "https://git.example.org/forgejo/", "https://git.example.org/forgejo/login/oauth/authorize"),
            (.codeberg, nil, "https://codeberg.org/login/oauth/authorize"),
            (.bitbucket, nil, "https://bitbucket.org/site/oauth2/authorize"),
        ]
        for (kind, base, expected) in cases {
            let preset = ProviderPreset.preset(for: kind)
            let built = preset.endpoints(baseURL: try base.map { try EndpointURL(parsing: $0) }, tenant: nil)
            #expect(built.authorization == url(expected), "\(kind)")
        }
        #expect(ProviderPreset.oidc.endpoints(baseURL: nil, tenant: nil).authorization == nil)
    }

    @Test func forgesUseTheAuthorizationCodeFlow() throws {
        for kind in [ProviderKind.gitea, .forgejo] {
            let a = try endpoints("provider = \"\(kind.rawValue)\"\nbase_url = \"https://git.example.com\"")
            #expect(a.endpoints.token == url("https://git.example.com/login/oauth/access_token"))
            #expect(a.endpoints.deviceAuthorization == nil)
            #expect(!a.endpoints.needsDiscovery)
            #expect(a.gitUsername == "oauth2")
            #expect(a.gitAuth == .basic)
            #expect(a.revocationHint == "\(ProviderPreset.preset(for: kind).displayName) has no token revocation endpoint; revoke the app's access at https://git.example.com/user/settings/applications (Authorized OAuth2 Applications)")
            #expect(!ProviderPreset.preset(for: kind).offersDeviceFlow)
            // base_url is required: there is no default instance.
            let missing = errors("[audience.a]\nprovider = \"\(kind.rawValue)\"\nclient_id = \"c\"")
            #expect(missing.map(\.message) == ["provider \"\(kind.rawValue)\" needs base_url: the \(ProviderPreset.preset(for: kind).displayName) instance URL, e.g. https://\(kind.rawValue).example.com"])
        }
        let codeberg = try endpoints("provider = \"codeberg\"")
        #expect(codeberg.endpoints.token == url("https://codeberg.org/login/oauth/access_token"))
        #expect(codeberg.baseURL == nil)
        #expect(codeberg.revocationHint?.contains("https://codeberg.org/user/settings/applications") == true)
        #expect(errors("[audience.a]\nprovider = \"codeberg\"\nclient_id = \"c\"\nbase_url = \"https://x.example\"").first?.message
                == "Codeberg has fixed endpoints; remove base_url")
    }

    @Test func bitbucketIsAConfidentialAuthorizationCodeClient() throws {
        let a = try endpoints("provider = \"bitbucket\"\nclient_secret = \"s\"")
        #expect(a.endpoints.token == url("https://bitbucket.org/site/oauth2/access_token"))
        #expect(a.endpoints.deviceAuthorization == nil)
        #expect(a.tokenAuthMethod == .clientSecretBasic)
        #expect(a.gitUsername == "x-token-auth")
        #expect(a.revocationHint?.contains("https://bitbucket.org/account/settings/app-authorizations/") == true)
        let noSecret = diagnostics("[audience.a]\nprovider = \"bitbucket\"\nclient_id = \"c\"")
        #expect(noSecret.map(\.severity) == [.warning])
        #expect(noSecret.first?.message.contains("only to confidential clients") == true)
        #expect(ProviderPreset.bitbucket.quirks.contains { $0.contains("sent with HTTP Basic") })
    }

    /// PROVIDERS.md deviation 14: git user names differ per provider (GitHub `x-access-token`,
    /// GitLab `oauth2`, Bitbucket `x-token-auth`), and GitHub and GitLab take only Basic.
    @Test func deviation14GitUsernamesPerProvider() throws {
        let text = """
            [audience.gh]
            provider = "github"
            client_id = "c"
            git_urls = ["https://github.com/"]

            [audience.gl]
            provider = "gitlab"
            client_id = "c"
            git_urls = ["https://gitlab.com/"]
            """
        let (configuration, found) = AuthdConfiguration.validate(text: text, path: "config.toml")
        #expect(found.isEmpty, "\(found)")
        let config = try #require(configuration)
        let github = try #require(config.audience(named: "gh"))
        #expect(github.gitUsername == "x-access-token")
        #expect(github.gitAuth == .basic)
        #expect(github.origin(of: .gitUsername) == .preset(.github))
        let gitlab = try #require(config.audience(named: "gl"))
        #expect(gitlab.gitUsername == "oauth2")
        #expect(gitlab.gitAuth == .basic)
        #expect(gitlab.origin(of: .gitUsername) == .preset(.gitlab))

        for provider in ["github", "gitlab"] {
            let bearer = "[audience.a]\nprovider = \"\(provider)\"\nclient_id = \"c\"\ngit_auth = \"bearer\""
            let refused = errors(bearer)
            #expect(refused.map(\.keyPath) == ["audience.a.git_auth"])
            #expect(refused.first?.message.contains("rejects Bearer authentication for git over HTTPS; use git_auth = \"basic\"") == true)
            #expect(AuthdConfiguration.validate(text: bearer, path: "c").0 == nil)
        }

        // Bitbucket has no device flow but a preset (authorization code flow) with its git user name.
        let bitbucket = try audience("[audience.a]\nprovider = \"bitbucket\"\nclient_id = \"c\"\nclient_secret = \"s\"")
        #expect(bitbucket.gitUsername == "x-token-auth")
        #expect(bitbucket.origin(of: .gitUsername) == .preset(.bitbucket))
    }

    @Test(arguments: ProviderWithoutDeviceFlow.allCases)
    func providersWithoutDeviceFlowGetTheirOwnError(provider: ProviderWithoutDeviceFlow) throws {
        let found = errors("[audience.a]\nprovider = \"\(provider.rawValue)\"\nclient_id = \"c\"\ngit_urls = [\"https://h/\"]")
        // One error, on the provider line: not "unknown provider", and no follow-on "needs issuer".
        #expect(found.count == 1, "\(found)")
        let error = try #require(found.first)
        #expect(error.line == 2)
        #expect(error.keyPath == "audience.a.provider")
        #expect(!error.message.contains("unknown provider"))
        #expect(error.message.contains("device authorization grant"))
        #expect(error.message.contains("no RFC 8628"))
        #expect(error.message.contains("does not support it"))
    }

    @Test func providersWithoutDeviceFlowAreRecognisedInAnyCase() {
        #expect(errors("[audience.a]\nprovider = \"AWS\"\nclient_id = \"c\"").first?.message.hasPrefix("provider \"AWS\": AWS IAM Identity Center offers no RFC 8628") == true)
        // A near miss of a real preset is still a spelling question.
        #expect(errors("[audience.a]\nprovider = \"gitea-ish\"\nclient_id = \"c\"").first?.message.contains("unknown provider") == true)
    }

    @Test func quirksFollowThePresetData() {
        #expect(ProviderPreset.github.quirks.contains { $0.contains("form-encoded unless asked for JSON") })
        #expect(ProviderPreset.github.quirks.contains { $0.hasPrefix("no revocation endpoint") })
        #expect(ProviderPreset.github.quirks.contains { $0.contains("Basic only") })
        #expect(ProviderPreset.auth0.quirks.contains("needs extra_params.audience (a warning when missing)"))
        #expect(ProviderPreset.google.quirks.contains { $0.contains("needs the client secret") })
        #expect(ProviderPreset.entra.quirks.contains { $0.contains("AADSTS700025") })
        for preset in ProviderPreset.all {
            #expect(preset.quirks.contains { $0.hasPrefix("no revocation endpoint") } == !preset.offersRevocation)
            #expect(preset.quirks.contains { $0.contains("Basic only") } == !preset.gitAcceptsBearer)
        }
    }
}
