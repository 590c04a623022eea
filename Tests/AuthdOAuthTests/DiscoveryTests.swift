// Discovery: RFC 8414 path rule, OIDC fallback, issuer comparison, explicit endpoints first, the TTL cache.

@testable import AuthdOAuth
import AuthdTestSupport
import AuthdWire
import Testing

@Suite struct DiscoveryTests {
    static func metadata(_ issuer: String, device: Bool = true, revocation: Bool = true) -> String {
        var members = [#""issuer":"\#(issuer)""#, #""token_endpoint":"https://id.example.com/token""#,
                       #""token_endpoint_auth_methods_supported":["client_secret_basic","none"]"#]
        if device { members.append(#""device_authorization_endpoint":"https://id.example.com/device""#) }
        if revocation { members.append(#""revocation_endpoint":"https://id.example.com/revoke""#) }
        return "{" + members.joined(separator: ",") + "}"
    }

    @Test func discoveryURLOrder() {
        #expect(IssuerIdentifier.discoveryURLs(issuer: "https://h/p/q") == [
            "https://h/.well-known/oauth-authorization-server/p/q",
            "https://h/p/q/.well-known/openid-configuration",
            "https://h/p/q/.well-known/oauth-authorization-server",
        ])
        #expect(IssuerIdentifier.discoveryURLs(issuer: "https://h/") == [
            "https://h/.well-known/oauth-authorization-server",
            "https://h/.well-known/openid-configuration",
        ])
    }

    @Test func rfc8414PathRuleIsTriedFirst() async throws {
        let clock = ManualClock()
        let transport = ScriptedTransport([.json(Self.metadata("https://id.example.com/tenant"))], clock: clock)
        let discovery = MetadataDiscovery(transport: transport, clock: clock)
        let m = try await discovery.metadata(issuer: "https://id.example.com/tenant")
        #expect(transport.requests.map(\.request.url) == ["https://id.example.com/.well-known/oauth-authorization-server/tenant"])
        #expect(transport.requests[0].request.method == .get)
        #expect(m.deviceAuthorizationEndpoint == "https://id.example.com/device")
        #expect(m.tokenEndpointAuthMethods == ["client_secret_basic", "none"])
    }

    @Test func fallsBackToOpenIDConnectDiscovery() async throws {
        let clock = ManualClock()
        let transport = ScriptedTransport([.status(404, body: "not found"), .json(Self.metadata("https://id.example.com/tenant"))], clock: clock)
        let discovery = MetadataDiscovery(transport: transport, clock: clock)
        let m = try await discovery.metadata(issuer: "https://id.example.com/tenant")
        #expect(transport.requests.map(\.request.url) == [
            "https://id.example.com/.well-known/oauth-authorization-server/tenant",
            "https://id.example.com/tenant/.well-known/openid-configuration",
        ])
        #expect(m.source == "https://id.example.com/tenant/.well-known/openid-configuration")
    }

    @Test func allDocumentsFailingReportsTheFirstFailure() async {
        let clock = ManualClock()
        let transport = ScriptedTransport([.status(404), .failure(.timedOut), .status(500)], clock: clock)
        let discovery = MetadataDiscovery(transport: transport, clock: clock)
        let error = await expectFailure { try await discovery.metadata(issuer: "https://h/p") }
        #expect(error == .httpStatus(endpoint: OAuthEndpoint(.discovery, "https://h/.well-known/oauth-authorization-server/p"), status: 404))
        #expect(transport.requests.count == 3)
    }

    @Test func issuerMismatchIsAnErrorAndStopsTheSearch() async {
        let clock = ManualClock()
        let transport = ScriptedTransport([.json(Self.metadata("https://evil.example.com")), .json(Self.metadata("https://id.example.com"))], clock: clock)
        let discovery = MetadataDiscovery(transport: transport, clock: clock)
        let error = await expectFailure { try await discovery.metadata(issuer: "https://id.example.com") }
        #expect(error == .issuerMismatch(expected: "https://id.example.com", found: "https://evil.example.com"))
        #expect(transport.requests.count == 1)
    }

    @Test func trailingSlashIsTheOnlyDifferenceTolerated() {
        #expect(IssuerIdentifier.matches("https://tenant.auth0.com", "https://tenant.auth0.com/"))
        #expect(IssuerIdentifier.matches("https://h/p/", "https://h/p"))
        #expect(!IssuerIdentifier.matches("https://H/p", "https://h/p"))
        #expect(!IssuerIdentifier.matches("https://h:443/p", "https://h/p"))
        #expect(!IssuerIdentifier.matches("https://h/p", "https://h/p/v2.0"))
    }

    @Test func cacheHitWithinTheTTLAndRefetchAfter() async throws {
        let clock = ManualClock()
        let transport = ScriptedTransport([.json(Self.metadata("https://id.example.com")), .json(Self.metadata("https://id.example.com"))], clock: clock)
        let discovery = MetadataDiscovery(transport: transport, clock: clock, timeToLive: .seconds(600))
        _ = try await discovery.metadata(issuer: "https://id.example.com")
        clock.advance(by: .seconds(599))
        _ = try await discovery.metadata(issuer: "https://id.example.com/")
        #expect(transport.requests.count == 1)
        clock.advance(by: .seconds(1))
        _ = try await discovery.metadata(issuer: "https://id.example.com")
        #expect(transport.requests.count == 2)
        await discovery.invalidate(issuer: "https://id.example.com")
        #expect(await expectFailure { try await discovery.metadata(issuer: "https://id.example.com") } != nil)
    }

    @Test func explicitEndpointsWinAndSkipDiscoveryWhenComplete() async throws {
        let settings = Fixture.settings(endpoints: EndpointSettings(issuer: "https://id.example.com", deviceAuthorization: "https://other.example.com/dev",
                                                                    token: "https://other.example.com/tok"))
        let (client, transport, _) = Fixture.client([.json(Self.metadata("https://id.example.com"))], settings: settings)
        let flow = try await client.resolveEndpoints(for: .deviceFlow)
        #expect(flow.deviceAuthorization == "https://other.example.com/dev")
        #expect(flow.token == "https://other.example.com/tok")
        #expect(transport.requests.isEmpty)
        // Revocation is not configured: discovery supplies it, and explicit ones still win.
        let revocation = try await client.resolveEndpoints(for: .revocation)
        #expect(revocation.revocation == "https://id.example.com/revoke")
        #expect(revocation.token == "https://other.example.com/tok")
        #expect(transport.requests.count == 1)
    }

    @Test func discoveryFillsMissingEndpointsAndSharesItsCache() async throws {
        let settings = Fixture.settings(endpoints: EndpointSettings(issuer: "https://id.example.com", token: "https://other.example.com/tok"))
        let clock = ManualClock()
        let transport = ScriptedTransport([.json(Self.metadata("https://id.example.com"))], clock: clock)
        let discovery = MetadataDiscovery(transport: transport, clock: clock)
        let a = OAuthClient(settings: settings, transport: transport, clock: clock, discovery: discovery)
        let b = OAuthClient(settings: settings, transport: transport, clock: clock, discovery: discovery)
        let flow = try await a.resolveEndpoints(for: .deviceFlow)
        #expect(flow.deviceAuthorization == "https://id.example.com/device")
        #expect(flow.token == "https://other.example.com/tok")
        _ = try await b.resolveEndpoints(for: .deviceFlow)
        #expect(transport.requests.count == 1)
    }

    @Test func metadataWithoutADeviceEndpointSaysWhatToConfigure() async {
        // GitLab's OIDC metadata omits device_authorization_endpoint.
        let settings = Fixture.settings(endpoints: EndpointSettings(issuer: "https://gitlab.example.com"))
        let (client, _, _) = Fixture.client([.json(Self.metadata("https://gitlab.example.com", device: false))], settings: settings)
        let error = await expectFailure { try await client.runDeviceFlow() }
        guard case .noEndpoint(.deviceAuthorization, let reason)? = error else { Issue.record("\(String(describing: error))"); return }
        #expect(reason.contains("set it explicitly"))
        #expect(error?.description.hasPrefix("no device authorization endpoint") == true)
    }

    @Test func noIssuerAndNoEndpoint() async {
        let settings = Fixture.settings(endpoints: EndpointSettings(token: Fixture.tokenURL))
        let (client, _, _) = Fixture.client([], settings: settings)
        guard case .noEndpoint(.deviceAuthorization, _)? = await expectFailure({ try await client.runDeviceFlow() }) else {
            Issue.record("expected noEndpoint"); return
        }
    }
}
