// Where each effective setting came from (config line, preset, default, discovery) and how --explain prints it.
import AuthdConfig
import Testing

private func explained(_ audience: AudienceConfiguration) -> [String: ExplainedSetting] {
    Dictionary(uniqueKeysWithValues: audience.explanation.settings.map { ($0.key, $0) })
}

/// The 1-based line of `key = ...` in `text`.
private func line(of key: String, in text: String) -> Int? {
    text.split(separator: "\n", omittingEmptySubsequences: false)
        .firstIndex { $0.hasPrefix(key + " ") || $0.hasPrefix(key + "=") }.map { $0 + 1 }
}

@Suite struct AudienceExplanationTests {
    @Test func githubPresetFillsWhatTheFileLeavesOut() throws {
        let a = try audience("""
            [audience.a]
            provider  = "github"
            client_id = "Ov23liABCDEFGHIJKLMN"
            git_urls  = ["https://github.com/"]
            """)
        let rows = explained(a)
        #expect(rows["provider"] == ExplainedSetting(key: "provider", value: "github", origin: .config(line: 2)))
        #expect(rows["client_id"]?.origin == .config(line: 3))
        #expect(rows["git_urls"] == ExplainedSetting(key: "git_urls", value: "https://github.com/", origin: .config(line: 4)))
        #expect(rows["base_url"] == ExplainedSetting(key: "base_url", value: "https://github.com", origin: .preset(.github)))
        #expect(rows["issuer"]?.origin == .preset(.github))
        #expect(rows["device_authorization_endpoint"] == ExplainedSetting(
            key: "device_authorization_endpoint", value: "https://github.com/login/device/code", origin: .preset(.github)))
        #expect(rows["token_endpoint"]?.value == "https://github.com/login/oauth/access_token")
        #expect(rows["revocation_endpoint"] == ExplainedSetting(
            key: "revocation_endpoint",
            value: "none: GitHub has no token revocation endpoint for device-flow clients; revoke the app's access at https://github.com/settings/applications (OAuth apps) or https://github.com/settings/apps/authorizations (GitHub Apps)",
            origin: .preset(.github)))
        #expect(rows["scopes"] == ExplainedSetting(key: "scopes", value: "repo", origin: .preset(.github)))
        #expect(rows["git_username"] == ExplainedSetting(key: "git_username", value: "x-access-token", origin: .preset(.github)))
        for key in ["git_auth", "persist", "require_tty", "allowed_clients", "ca_file", "client_secret", "token_auth_method",
                    "resource", "extra_params", "introspection_endpoint"] {
            #expect(rows[key]?.origin == .builtInDefault, "\(key)")
        }
        #expect(rows["tenant"] == nil)
        let explanation = a.explanation
        #expect(explanation.discoveryDocuments.isEmpty)
        #expect(explanation.quirks == ProviderPreset.github.quirks)
        #expect(explanation.setupHint == ProviderPreset.github.deviceFlowSetupHint)
    }

    /// The validator records an origin for every key it reads: a config that writes every key
    /// must have each one reported with its own line, so none can be silently dropped.
    @Test(arguments: ["client_secret_file = \"/run/secrets/entra\"", "client_secret = \"s3cr3t\""])
    func everyWrittenKeyIsReportedWithItsLine(secret: String) throws {
        let text = """
            [audience.a]
            provider = "entra"
            client_id = "c"
            \(secret)
            base_url = "https://login.microsoftonline.us"
            tenant = "t1"
            issuer = "https://login.microsoftonline.us/t1/v2.0"
            device_authorization_endpoint = "https://proxy.example.com/device"
            token_endpoint = "https://proxy.example.com/token"
            revocation_endpoint = "https://proxy.example.com/revoke"
            introspection_endpoint = "https://proxy.example.com/introspect"
            scopes = ["openid"]
            resource = ["https://api.example.com"]
            extra_params = { prompt = "login" }
            git_urls = ["https://dev.azure.com/org/"]
            git_username = "me"
            git_usernames = ["work"]
            git_auth = "bearer"
            registries = ["ghcr.io"]
            registry_username = "robot"
            persist = false
            require_tty = true
            allowed_clients = ["/usr/bin/git"]
            ca_file = "/etc/ssl/extra.pem"
            token_auth_method = "client_secret_basic"
            authorization_endpoint = "https://proxy.example.com/authorize"
            flow = "authcode"
            redirect_port = 38080
            jwks_uri = "https://proxy.example.com/keys"
            registration_endpoint = "https://proxy.example.com/register"
            require_mfa = true
            acr_values = ["c1"]
            """
        let a = try audience(text)
        let unwritten: AudienceKey = secret.hasPrefix("client_secret_file") ? .clientSecret : .clientSecretFile
        // `register` cannot be written beside a client_id naming a client (ClientRegistrationRuleTests).
        for key in AudienceKey.allCases where key != unwritten && key != .register {
            let expected = try #require(line(of: key.rawValue, in: text), "\(key)")
            #expect(a.origin(of: key) == .config(line: expected), "\(key)")
        }
        #expect(a.origin(of: unwritten) == .builtInDefault)
        // Every written value is the one shown.
        let rows = explained(a)
        #expect(rows["revocation_endpoint"]?.value == "https://proxy.example.com/revoke")
        #expect(rows["scopes"]?.value == "openid")
        #expect(rows["extra_params"]?.value == "prompt=login")
        #expect(rows["git_username"]?.value == "me")
        #expect(rows["registries"]?.value == "ghcr.io")
        #expect(rows["registry_username"]?.value == "robot")
        #expect(rows["persist"]?.value.hasPrefix("false") == true)
        #expect(rows["require_tty"]?.value.hasPrefix("true") == true)
        #expect(rows["token_auth_method"]?.value.hasPrefix("client_secret_basic") == true)
        #expect(rows["tenant"]?.value == "t1")
    }

    /// What the explanation says a preset filled in is exactly the preset's data.
    @Test(arguments: ProviderPreset.all.map(\.kind))
    func presetValuesAreAttributedToThePreset(kind: ProviderKind) throws {
        let preset = ProviderPreset.preset(for: kind)
        var body = "provider = \"\(kind.rawValue)\"\nclient_id = \"c\"\n"
        if preset.usesBaseURL && preset.defaultBaseURL == nil { body += "base_url = \"https://id.example.com/realms/r\"\n" }
        if kind == .oidc { body += "issuer = \"https://id.example.com\"\n" }
        let a = try audience("[audience.a]\n" + body)
        let built = preset.endpoints(baseURL: a.baseURL, tenant: a.tenant)
        for (key, value, fromPreset) in [(AudienceKey.deviceAuthorizationEndpoint, a.endpoints.deviceAuthorization, built.deviceAuthorization),
                                         (.tokenEndpoint, a.endpoints.token, built.token),
                                         (.revocationEndpoint, a.endpoints.revocation, built.revocation),
                                         (.introspectionEndpoint, a.endpoints.introspection, built.introspection)] {
            if let fromPreset {
                #expect(value == fromPreset)
                #expect(a.origin(of: key) == .preset(kind), "\(key)")
            } else if a.endpoints.needsDiscovery, key != .introspectionEndpoint, let issuer = a.endpoints.issuer {
                #expect(a.origin(of: key) == .discovery(issuer: issuer), "\(key)")
            } else if key == .revocationEndpoint {
                // The preset knows there is none; the explanation says where to revoke instead.
                #expect(a.origin(of: key) == .preset(kind))
                #expect(explained(a)["revocation_endpoint"]?.value == "none: " + (a.revocationHint ?? ""))
            }
        }
        #expect(a.scopes == preset.defaultScopes)
        #expect(a.origin(of: .scopes) == .preset(kind))
        #expect(a.gitUsername == preset.gitUsername ?? "oauth2")
        #expect(a.origin(of: .gitUsername) == (preset.gitUsername == nil ? .builtInDefault : .preset(kind)))
        if let defaultBaseURL = preset.defaultBaseURL {
            #expect(a.baseURL == defaultBaseURL)
            #expect(a.origin(of: .baseURL) == .preset(kind))
        }
        if let defaultTenant = preset.defaultTenant {
            #expect(a.tenant == defaultTenant)
            #expect(a.origin(of: .tenant) == .preset(kind))
        }
        let withSecret = try audience("[audience.a]\n" + body + "client_secret = \"s\"\n")
        #expect(withSecret.tokenAuthMethod == preset.authMethodWithSecret)
        #expect(withSecret.origin(of: .tokenAuthMethod) == .preset(kind))
    }

    @Test func tokenAuthMethodWithoutPreset() throws {
        let base = "[audience.a]\nclient_id = \"c\"\nissuer = \"https://i\"\n"
        let publicClient = try audience(base)
        #expect(publicClient.tokenAuthMethod == .none)
        #expect(publicClient.origin(of: .tokenAuthMethod) == .builtInDefault)
        #expect(explained(publicClient)["token_auth_method"]?.value == "none: a public client, no secret is sent")
        let confidential = try audience(base + "client_secret = \"s\"\n")
        #expect(confidential.tokenAuthMethod == .clientSecretBasic)
        #expect(confidential.origin(of: .tokenAuthMethod) == .builtInDefault)
        let explicit = try audience(base + "client_secret = \"s\"\ntoken_auth_method = \"client_secret_post\"\n")
        #expect(explicit.origin(of: .tokenAuthMethod) == .config(line: 5))
    }

    @Test func discoveryIsNamedButNotFetched() throws {
        let a = try audience("[audience.a]\nclient_id = \"c\"\nissuer = \"https://id.example.com/tenant1/\"")
        let issuer = url("https://id.example.com/tenant1/")
        for key in [AudienceKey.deviceAuthorizationEndpoint, .tokenEndpoint, .revocationEndpoint] {
            #expect(a.origin(of: key) == .discovery(issuer: issuer))
            #expect(explained(a)[key.rawValue]?.value == "discovered at run time from the issuer's metadata")
        }
        #expect(a.origin(of: .issuer) == .config(line: 3))
        #expect(a.explanation.discoveryDocuments == [
            "https://id.example.com/.well-known/oauth-authorization-server/tenant1",
            "https://id.example.com/tenant1/.well-known/openid-configuration",
            "https://id.example.com/tenant1/.well-known/oauth-authorization-server",
        ])
        #expect(a.explanation.text.contains("    https://id.example.com/tenant1/.well-known/openid-configuration\n"))

        // Explicit endpoints win; only the missing revocation endpoint is left to discovery.
        let partly = try audience("[audience.a]\nclient_id = \"c\"\nissuer = \"https://i\"\ndevice_authorization_endpoint = \"https://i/d\"\ntoken_endpoint = \"https://i/t\"")
        #expect(partly.origin(of: .deviceAuthorizationEndpoint) == .config(line: 4))
        #expect(partly.origin(of: .revocationEndpoint) == .discovery(issuer: url("https://i")))
        // An issuer without a path has two documents, not three.
        #expect(partly.explanation.discoveryDocuments == ["https://i/.well-known/oauth-authorization-server", "https://i/.well-known/openid-configuration"])

        // Without an issuer nothing is discovered, and logout can only erase locally.
        let explicitOnly = try audience("[audience.a]\nclient_id = \"c\"\ndevice_authorization_endpoint = \"https://i/d\"\ntoken_endpoint = \"https://i/t\"")
        #expect(explicitOnly.explanation.discoveryDocuments.isEmpty)
        #expect(explained(explicitOnly)["revocation_endpoint"] == ExplainedSetting(
            key: "revocation_endpoint", value: "none: logout erases the login here only", origin: .builtInDefault))
    }

    @Test func secretsAreNeverShown() throws {
        let inline = try audience("[audience.a]\nclient_id = \"c\"\nissuer = \"https://i\"\nclient_secret = \"s3cr3t-value\"")
        #expect(!inline.explanation.text.contains("s3cr3t-value"))
        #expect(explained(inline)["client_secret"] == ExplainedSetting(key: "client_secret", value: "inline (not shown)", origin: .config(line: 4)))
        let file = try audience("[audience.a]\nclient_id = \"c\"\nissuer = \"https://i\"\n\nclient_secret_file = \"/run/secrets/a\"")
        #expect(explained(file)["client_secret"] == ExplainedSetting(key: "client_secret", value: "file /run/secrets/a", origin: .config(line: 5)))
        let none = try audience("[audience.a]\nclient_id = \"c\"\nissuer = \"https://i\"")
        #expect(explained(none)["client_secret"] == ExplainedSetting(key: "client_secret", value: "none", origin: .builtInDefault))
    }

    @Test func controlCharactersFromTheFileAreNotPrinted() throws {
        let a = try audience("[audience.a]\nclient_id = \"c\"\nissuer = \"https://i\"\nextra_params = { prompt = \"a\\u001b[31mb\\u0007\" }")
        #expect(explained(a)["extra_params"]?.value == "prompt=a\u{FFFD}[31mb\u{FFFD}")
        #expect(!a.explanation.text.unicodeScalars.contains { $0.value < 0x20 && $0 != "\n" })
    }

    @Test func printedForm() throws {
        let a = try audience("""
            [audience.a]
            device_authorization_endpoint = "http://127.0.0.1:8765/device"
            token_endpoint = "http://127.0.0.1:8765/token"
            client_id = "demo"
            scopes = ["openid", "offline_access"]
            git_urls = ["http://127.0.0.1:8765/git/"]
            """)
        #expect(a.explanation.text == """
            [audience.a] line 1
              provider                       none  [default]
              client_id                      demo  [config line 4]
              issuer                         none: nothing is discovered  [default]
              device_authorization_endpoint  http://127.0.0.1:8765/device  [config line 2]
              authorization_endpoint         none  [default]
              token_endpoint                 http://127.0.0.1:8765/token  [config line 3]
              revocation_endpoint            none: logout erases the login here only  [default]
              introspection_endpoint         none  [default]
              flow                           flow = "auto": the device flow, since a device endpoint is known (no authorization endpoint to fall back to)  [default]
              redirect_port                  none: an ephemeral loopback port per login (http://127.0.0.1:PORT/callback)  [default]
              token_auth_method              none: a public client, no secret is sent  [default]
              client_secret                  none  [default]
              scopes                         openid offline_access  [config line 5]
              resource                       none  [default]
              extra_params                   none  [default]
              git_urls                       http://127.0.0.1:8765/git  [config line 6]
              git_username                   oauth2  [default]
              git_usernames                  any: answers whatever user name the remote URL has  [default]
              git_auth                       basic: the token as the password  [default]
              registries                     none: not used by docker-credential-authctl  [default]
              registry_username              oauth2  [default]
              persist                        true: the login is kept on disk, encrypted  [default]
              require_tty                    false  [default]
              allowed_clients                any program of this user  [default]
              ca_file                        none: the system's trust anchors  [default]
              jwks_uri                       none: with neither issuer nor jwks_uri an id_token cannot be verified and is discarded  [default]
              registration_endpoint          not used: client_id names the client  [default]
              register                       false: client_id names a client registered by hand  [default]
              require_mfa                    false  [default]
              acr_values                     none  [default]

            """)
        #expect(SettingOrigin.discovery(issuer: url("https://i")).description == "discovery")
        #expect(SettingOrigin.preset(.azureDevOps).description == "preset azure-devops")
    }
}
