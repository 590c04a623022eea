// client_id = "register" and registration_endpoint: the config rule, by table, and what the audience carries.
import AuthdConfig
import Testing

@Suite struct ClientRegistrationRuleTests {
    static func section(_ lines: String) -> String {
        "[audience.a]\nscopes = [\"openid\"]\n" + lines + "\n"
    }

    @Test(arguments: [
        // Nothing to say: discovery may name the endpoint, or the config does.
        ("issuer = \"https://sso.example.com\"\nclient_id = \"register\"", nil, nil),
        ("provider = \"keycloak\"\nbase_url = \"https://sso.example.com/realms/eng\"\nclient_id = \"register\"", nil, nil),
        ("provider = \"oidc\"\nissuer = \"https://id.example\"\nclient_id = \"register\"", nil, nil),
        ("issuer = \"https://id.example\"\nregister = true", nil, nil),
        ("issuer = \"https://id.example\"\nregister = true\nclient_id = \"register\"", nil, nil),
        ("issuer = \"https://id.example\"\nregister = true\nclient_id = \"authd\"", "audience.a.register", "client_id names one (authd); keep one of them"),
        ("issuer = \"https://id.example\"\nregister = false", "audience.a", "missing required key client_id"),
        ("device_authorization_endpoint = \"https://id.example/device\"\ntoken_endpoint = \"https://id.example/token\"\n"
            + "registration_endpoint = \"https://id.example/register\"\nclient_id = \"register\"", nil, nil),
        // Errors.
        ("issuer = \"https://sso.example.com\"\nclient_id = \"register\"\nclient_secret = \"s3cret\"",
         "audience.a.client_secret", "registers a public client, which has no secret"),
        ("provider = \"github\"\nclient_id = \"register\"", "audience.a.client_id",
         "GitHub offers no dynamic client registration (RFC 7591): register an app at https://github.com/settings/applications/new"),
        ("provider = \"entra\"\nclient_id = \"register\"", "audience.a.client_id", "offers no dynamic client registration"),
        ("device_authorization_endpoint = \"https://id.example/device\"\ntoken_endpoint = \"https://id.example/token\"\nclient_id = \"register\"",
         "audience.a.client_id", "needs issuer (whose discovery metadata names registration_endpoint) or registration_endpoint"),
        ("issuer = \"https://sso.example.com\"\nclient_id = \"register\"\nregistration_endpoint = \"http://sso.example.com/register\"",
         "audience.a.registration_endpoint", "http://"),
    ] as [(String, String?, String?)])
    func rule(lines: String, keyPath: String?, message: String?) {
        let found = errors(Self.section(lines))
        guard let keyPath, let message else {
            #expect(found.isEmpty, "\(found)")
            return
        }
        #expect(found.contains { $0.keyPath == keyPath && $0.message.contains(message) }, "\(found)")
    }

    @Test func registrationEndpointWithoutRegisteringIsAWarning() {
        let found = diagnostics(Self.section("issuer = \"https://id.example\"\nclient_id = \"authd\"\nregistration_endpoint = \"https://id.example/register\""))
        #expect(found.count == 1 && found[0].severity == .warning, "\(found)")
        #expect(found.first?.message.contains("used only with client_id = \"register\"") == true)
    }

    @Test func theAudienceCarriesIt() throws {
        let registering = try audience(Self.section("issuer = \"https://id.example\"\nclient_id = \"register\"\nregistration_endpoint = \"https://id.example/reg\""))
        #expect(registering.registersClient)
        #expect(registering.registrationEndpoint?.description == "https://id.example/reg")
        let named = try audience(Self.section("issuer = \"https://id.example\"\nclient_id = \"Register\""))
        #expect(!named.registersClient, "only the exact word asks for registration")
        let flagged = try audience(Self.section("issuer = \"https://id.example\"\nregister = true"))
        #expect(flagged.registersClient && flagged.clientID == "register")
        #expect(ProviderPreset.preset(for: .keycloak).registrationRefusedHint?.contains("Client Registration Policies") == true)
        #expect(ProviderPreset.preset(for: .github).registrationRefusedHint == nil)
    }
}
