// flow, authorization_endpoint and redirect_port: validation, and which login method each audience gets and why.
import AuthdConfig
import AuthdWire
import Testing

@Suite struct LoginMethodTests {
    static let explicitDevice = """
        device_authorization_endpoint = "http://127.0.0.1:8765/device"
        token_endpoint = "http://127.0.0.1:8765/token"
        """
    static let explicitAuthorization = """
        authorization_endpoint = "http://127.0.0.1:8765/authorize"
        token_endpoint = "http://127.0.0.1:8765/token"
        """

    static func config(_ body: String) -> String { "[audience.a]\nclient_id = \"c\"\n" + body }

    @Test(arguments: [
        // (keys, flow override, first method, falls back)
        (explicitDevice, nil as LoginFlowChoice?, LoginMethod.deviceFlow, false),
        (explicitDevice + "\nauthorization_endpoint = \"http://127.0.0.1:8765/authorize\"", nil, .deviceFlow, true),
        (explicitAuthorization, nil, .authorizationCode, false),
        (explicitAuthorization + "\nflow = \"authcode\"", nil, .authorizationCode, false),
        ("issuer = \"https://id.example.com\"", nil, .deviceFlow, true),
        ("provider = \"github\"", nil, .deviceFlow, true),
        ("provider = \"github\"\nflow = \"device\"", nil, .deviceFlow, false),
        ("provider = \"github\"", .authcode, .authorizationCode, false),
        ("provider = \"github\"\nflow = \"authcode\"", .device, .deviceFlow, false),
        ("provider = \"entra\"\ntenant = \"t\"", nil, .deviceFlow, true),
    ])
    func eachAudienceGetsOneMethodByOneRule(keys: String, override: LoginFlowChoice?, first: LoginMethod, fallsBack: Bool) throws {
        let a = try audience(Self.config(keys))
        let plan = a.loginMethodPlan(override: override)
        #expect(plan.first == first, "\(keys)")
        #expect(plan.fallsBackToAuthorizationCode == fallsBack, "\(keys)")
    }

    @Test func presetsNameTheirAuthorizationEndpoints() throws {
        #expect(try audience(Self.config("provider = \"github\"")).endpoints.authorization == url("https://github.com/login/oauth/authorize"))
        #expect(try audience(Self.config("provider = \"gitlab\"")).endpoints.authorization == url("https://gitlab.com/oauth/authorize"))
        #expect(try audience(Self.config("provider = \"entra\"\ntenant = \"t\"")).endpoints.authorization
                == url("https://login.microsoftonline.com/t/oauth2/v2.0/authorize"))
        #expect(try audience(Self.config("provider = \"google\"\nclient_secret = \"s\"")).endpoints.authorization
                == url("https://accounts.google.com/o/oauth2/v2/auth"))
        // OIDC: left to discovery.
        let oidc = try audience(Self.config("provider = \"oidc\"\nissuer = \"https://id.example.com\""))
        #expect(oidc.endpoints.authorization == nil)
        #expect(oidc.endpoints.needsDiscovery)
        #expect(oidc.origin(of: .authorizationEndpoint) == .discovery(issuer: url("https://id.example.com")))
    }

    @Test func authcodeWithoutAnAuthorizationEndpointIsAConfigError() {
        let found = errors(Self.config(Self.explicitDevice + "\nflow = \"authcode\""))
        #expect(found.map(\.message) == ["flow = \"authcode\" needs authorization_endpoint (or issuer, to discover it)"])
        #expect(found.first?.line == 5)
    }

    @Test func authorizationAndTokenEndpointsAloneAreACompleteAudience() throws {
        #expect(errors(Self.config(Self.explicitAuthorization)).isEmpty)
        #expect(!errors(Self.config("token_endpoint = \"http://127.0.0.1:8765/token\"")).isEmpty)
    }

    @Test(arguments: [
        ("flow = \"browser\"", "\"browser\" is not one of \"auto\", \"device\", \"authcode\""),
        ("redirect_port = 80", "redirect_port must be an integer from 1024 to 65535 (a loopback port this user can bind)"),
        ("redirect_port = \"8080\"", "redirect_port must be an integer from 1024 to 65535 (a loopback port this user can bind)"),
        ("authorization_endpoint = \"http://login.example.com/authorize\"", nil),
    ])
    func badValuesAreReportedWithTheKey(line: String, message: String?) {
        let found = errors(Self.config(Self.explicitDevice + "\n" + line))
        #expect(!found.isEmpty, "\(line)")
        if let message { #expect(found.first?.message.hasPrefix(message) == true, "\(found)") }
        #expect(found.first?.line == 5)
    }

    @Test(arguments: ["state", "redirect_uri", "code_challenge", "nonce", "response_type", "code_verifier"])
    func extraParamsMayNotSetTheAuthorizationCodeFlowsOwnParameters(name: String) {
        let found = errors(Self.config(Self.explicitAuthorization + "\nextra_params = { \(name) = \"x\" }"))
        #expect(found.count == 1, "\(found)")
        #expect(found.first?.keyPath?.contains("extra_params") == true)
    }

    @Test func redirectPortAndExplanation() throws {
        let a = try audience(Self.config(Self.explicitAuthorization + "\nredirect_port = 38080"))
        #expect(a.redirectPort == 38080)
        let text = a.explanation.text
        #expect(text.contains("redirect_port                  38080: the redirect is http://127.0.0.1:38080/callback  [config line 5]"))
        #expect(text.contains("flow = \"auto\": the authorization code flow, since no device endpoint is known  [default]"))
    }
}
