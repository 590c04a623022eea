// The request side: loopback-only plain http, client authentication, form parameters, limits on every request.

@testable import AuthdOAuth
import AuthdTestSupport
import AuthdWire
import Testing

@Suite struct HTTPPolicyTests {
    @Test func plainHTTPToANonLoopbackHostIsRefusedBeforeSending() async {
        let settings = Fixture.settings(endpoints: EndpointSettings(deviceAuthorization: "http://auth.example.com/device",
                                                                    token: "http://auth.example.com/token"))
        let (client, transport, _) = Fixture.client([Fixture.deviceAuthorization()], settings: settings)
        let error = await expectFailure { try await client.runDeviceFlow() }
        #expect(error == .insecureEndpoint(url: "http://auth.example.com/device"))
        #expect(transport.requests.isEmpty)
        #expect(error?.description.contains("use https://") == true)
    }

    @Test func plainHTTPIssuerIsRefusedBeforeDiscovery() async {
        let settings = Fixture.settings(endpoints: EndpointSettings(issuer: "http://10.0.0.1:8080/realms/x"))
        let (client, transport, _) = Fixture.client([], settings: settings)
        #expect(await expectFailure { try await client.runDeviceFlow() } == .insecureEndpoint(url: "http://10.0.0.1:8080/realms/x"))
        #expect(transport.requests.isEmpty)
    }

    @Test func insecureEndpointFromDiscoveryIsRefused() async {
        let settings = Fixture.settings(endpoints: EndpointSettings(issuer: "https://id.example.com"))
        let (client, transport, _) = Fixture.client([
            .json(#"{"issuer":"https://id.example.com","device_authorization_endpoint":"http://id.example.com/device","token_endpoint":"https://id.example.com/token"}"#),
        ], settings: settings)
        #expect(await expectFailure { try await client.runDeviceFlow() } == .insecureEndpoint(url: "http://id.example.com/device"))
        #expect(transport.requests.count == 1)
    }

    enum Verdict { case sent, insecure, invalid }

    // One rule, EndpointURL's: the same table the config check applies (EndpointURLTests).
    @Test(arguments: [
        ("http://127.0.0.1:8765/token", Verdict.sent), ("http://127.1.2.3/token", .sent), ("http://localhost:99/t", .sent),
        ("http://LOCALHOST/t", .sent), ("http://[::1]:8080/t", .sent), ("http://[0:0:0:0:0:0:0:1]/t", .sent),
        ("http://[::ffff:127.0.0.1]/t", .sent), ("https://anything.example.com/t", .sent),
        ("http://example.com/t", .insecure), ("http://128.0.0.1/t", .insecure), ("http://127.0.0.1.evil.com/t", .insecure),
        ("http://localhost.evil.com/t", .insecure), ("http://[::2]/t", .insecure), ("http://10.0.0.1/t", .insecure),
        // Spellings curl or the resolver would hand to DNS (security review, finding 4), and userinfo.
        ("http://localhost./t", .invalid), ("http://127.0.0.08/t", .invalid), ("http://0177.0.0.1/t", .invalid),
        ("http://127.1/t", .invalid), ("http://2130706433/t", .invalid), ("http://user:pw@127.0.0.1/t", .invalid),
        ("http://evil.com@localhost.evil.com/t", .invalid), ("https://h/t#frag", .invalid),
    ])
    func loopbackRule(url: String, verdict: Verdict) {
        let outcome: Verdict
        do {
            _ = try EndpointPolicy.sendable(url)
            outcome = .sent
        } catch .insecureEndpoint(url) {
            outcome = .insecure
        } catch {
            outcome = .invalid
        }
        #expect(outcome == verdict)
    }

    @Test func invalidURLsAreRefused() {
        for url in ["ftp://h/t", "not a url", "https://", "https://h/t with space", "/token", "http://evil.com\\@127.0.0.1/t"] {
            #expect(throws: OAuthError.self) { try EndpointPolicy.sendable(url) }
        }
    }

    /// Security review, finding 4: discovery named `http://localhost.:P/device`, the engine's second
    /// parser called it loopback, and the name went to DNS. Now nothing is sent after the document.
    @Test(arguments: ["http://localhost.:8765/device", "http://127.0.0.08:8765/device"])
    func discoveredEndpointWithAResolvableLoopbackLookalikeIsRefused(device: String) async {
        let settings = Fixture.settings(endpoints: EndpointSettings(issuer: "https://id.example.com"))
        let (client, transport, _) = Fixture.client([
            .json(#"{"issuer":"https://id.example.com","device_authorization_endpoint":"\#(device)","token_endpoint":"https://id.example.com/token"}"#),
        ], settings: settings)
        let error = await expectFailure { try await client.runDeviceFlow() }
        guard case .invalidEndpoint(let url, _)? = error else {
            Issue.record("expected invalidEndpoint, got \(String(describing: error))")
            return
        }
        #expect(url == device)
        #expect(transport.requests.count == 1)
    }

    @Test func requestsGoToTheCanonicalURLAndLoopbackOnesSaySo() async throws {
        let settings = Fixture.settings(endpoints: EndpointSettings(deviceAuthorization: "http://LocalHost:8765/device?x=1",
                                                                    token: "https://ID.example.com/token"))
        let (client, transport, _) = Fixture.client([Fixture.deviceAuthorization()], settings: settings)
        _ = try await client.requestDeviceAuthorization(at: "http://LocalHost:8765/device?x=1")
        #expect(transport.requests[0].request.url == "http://localhost:8765/device?x=1")
        #expect(transport.requests[0].request.loopbackOnly)
        let https = try RequestFactory(settings: settings).form(to: OAuthEndpoint(.token, "https://ID.example.com/token"), [])
        #expect(https.url == "https://id.example.com/token")
        #expect(!https.loopbackOnly)
    }

    @Test func publicClientSendsClientIDInTheBody() async throws {
        let settings = Fixture.settings(scopes: ["openid", "offline_access"])
        let (client, transport, _) = Fixture.client([Fixture.deviceAuthorization()], settings: settings)
        _ = try await client.requestDeviceAuthorization(at: Fixture.deviceURL)
        let r = transport.requests[0]
        #expect(r.request.method == .post)
        #expect(r.formValue("client_id") == "authctl-test")
        #expect(r.formValue("client_secret") == nil)
        #expect(r.formValue("scope") == "openid offline_access")
        #expect(r.header("Authorization") == nil)
        #expect(r.header("Content-Type") == "application/x-www-form-urlencoded")
        #expect(r.header("Accept") == "application/json")
    }

    @Test func clientSecretBasicFormEncodesBeforeBase64() async throws {
        var settings = Fixture.settings(clientSecret: Secret.clientSecret)
        settings.clientID = "my client:id"
        #expect(settings.clientAuthentication == .clientSecretBasic)
        let (client, transport, _) = Fixture.client([Fixture.deviceAuthorization()], settings: settings)
        _ = try await client.requestDeviceAuthorization(at: Fixture.deviceURL)
        let r = transport.requests[0]
        // "my+client%3Aid:cs-SECRET-p%40ss+w%3Ard%26%3D%2F"
        let expected = "Basic " + Base64.encode(Array("my+client%3Aid:cs-SECRET-p%40ss+w%3Ard%26%3D%2F".utf8))
        #expect(r.header("Authorization") == expected)
        #expect(r.formValue("client_id") == nil)
        #expect(r.formValue("client_secret") == nil)
    }

    @Test func clientSecretPostPutsBothInTheBody() async throws {
        let settings = Fixture.settings(clientSecret: Secret.clientSecret, authentication: .clientSecretPost)
        let (client, transport, _) = Fixture.client([Fixture.deviceAuthorization(), Fixture.token], settings: settings)
        _ = try await client.runDeviceFlow()
        for r in transport.requests {
            #expect(r.formValue("client_id") == "authctl-test")
            #expect(r.formValue("client_secret") == Secret.clientSecret)
            #expect(r.header("Authorization") == nil)
        }
    }

    @Test func resourcesRepeatedAndExtraParameters() async throws {
        let settings = Fixture.settings(scopes: [], resources: ["https://api.example.com", "https://other.example.com/x"],
                                        extra: [("audience", "https://api.example.com"), ("prompt", "login")])
        let (client, transport, _) = Fixture.client([Fixture.deviceAuthorization()], settings: settings)
        _ = try await client.requestDeviceAuthorization(at: Fixture.deviceURL)
        let r = transport.requests[0]
        #expect(r.formValues("resource") == ["https://api.example.com", "https://other.example.com/x"])
        #expect(r.formValue("audience") == "https://api.example.com")
        #expect(r.formValue("prompt") == "login")
        #expect(r.formValue("scope") == nil)
        #expect(String(decoding: r.request.body, as: UTF8.self).contains("resource=https%3A%2F%2Fapi.example.com&resource=https%3A%2F%2Fother.example.com%2Fx"))
    }

    @Test func limitsAreSetOnEveryRequest() async throws {
        var settings = Fixture.settings()
        settings.limits = HTTPLimits(connectTimeoutMilliseconds: 1234, totalTimeoutMilliseconds: 5678, maximumResponseBytes: 1 << 20)
        settings.caFile = "/etc/my-ca.pem"
        let (client, transport, _) = Fixture.client([Fixture.deviceAuthorization(), Fixture.token], settings: settings)
        _ = try await client.runDeviceFlow()
        #expect(transport.requests.count == 2)
        for r in transport.requests {
            #expect(r.request.connectTimeoutMilliseconds == 1234)
            #expect(r.request.totalTimeoutMilliseconds == 5678)
            #expect(r.request.maximumResponseBytes == 1 << 20)
            #expect(r.request.caFile == "/etc/my-ca.pem")
        }
    }

    @Test func oversizedBodiesAreRefusedEvenIfTheTransportDelivers() async {
        let big = ScriptedTransport.Reply.json("{\"a\":\"" + String(repeating: "x", count: (1 << 20) + 1) + "\"}")
        let (client, _, _) = Fixture.client([big])
        let error = await expectFailure { try await client.requestDeviceAuthorization(at: Fixture.deviceURL) }
        #expect(error == .network(endpoint: OAuthEndpoint(.deviceAuthorization, Fixture.deviceURL), .responseTooLarge(limit: 1 << 20)))
    }

    @Test func errorsNameTheEndpoint() {
        let error = OAuthError.httpStatus(endpoint: OAuthEndpoint(.token, "http://127.0.0.1:8765/token"), status: 502)
        #expect(error.description == "token endpoint http://127.0.0.1:8765/token: HTTP 502")
        let withUser = OAuthError.httpStatus(endpoint: OAuthEndpoint(.token, "https://u:hunter2-SECRET@h/token"), status: 500)
        #expect(withUser.description == "token endpoint https://***@h/token: HTTP 500")
    }
}
