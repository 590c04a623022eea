// The authorization code flow's pure parts and its code exchange against a scripted provider: PKCE, state, nonce, redirect errors, client authentication.

@testable import AuthdOAuth
import AuthdTestSupport
import AuthdWire
import Testing

@Suite struct AuthorizationCodeTests {
    static let authorizeURL = "\(Fixture.base)/authorize"
    static let redirect = OAuthClient.loopbackRedirectURI(port: 43123)

    /// Distinct, recognisable octets per draw, so a test can tell verifier, state and nonce apart.
    final class CountingRandom: Sendable {
        func callAsFunction(_ count: Int) -> [UInt8] { [UInt8](repeating: 7, count: count) }
    }

    static func settings(scopes: [String] = ["openid", "offline_access"], secret: String? = nil,
                         authentication: ClientAuthentication? = nil) -> OAuthClientSettings {
        Fixture.settings(clientSecret: secret, authentication: authentication, scopes: scopes,
                         endpoints: EndpointSettings(token: Fixture.tokenURL, revocation: Fixture.revokeURL, authorization: authorizeURL))
    }

    static func pending(_ client: OAuthClient, draws: [[UInt8]] = []) throws -> PendingAuthorization {
        var queue = draws
        return try client.authorizationRequest(authorizationEndpoint: authorizeURL, tokenEndpoint: Fixture.tokenURL, issuer: Fixture.base,
                                               redirectURI: redirect) { count in
            queue.isEmpty ? [UInt8](repeating: 0x41, count: count) : queue.removeFirst()
        }
    }

    static func query(_ url: String) -> [(String, String)] {
        FormURLEncoding.decode(String(url[url.index(after: url.firstIndex(of: "?")!)...]))
    }

    // MARK: PKCE

    @Test func pkcePairMatchesRFC7636AppendixB() throws {
        let octets: [UInt8] = [116, 24, 223, 180, 151, 153, 224, 37, 79, 250, 96, 125, 216, 173, 187, 186, 22, 212, 37, 77,
                               105, 214, 191, 240, 91, 88, 5, 88, 83, 132, 141, 121]
        let pair = try #require(PKCEPair(randomOctets: octets))
        #expect(pair.verifier == "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")
        #expect(pair.challenge == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
    }

    @Test(arguments: [(31, false), (32, true), (96, true), (97, false)])
    func verifierLengthStaysWithin43To128(octets: Int, accepted: Bool) {
        let pair = PKCEPair(randomOctets: [UInt8](repeating: 0xFF, count: octets))
        #expect((pair != nil) == accepted)
        if let pair { #expect((43...128).contains(pair.verifier.count)) }
    }

    // MARK: The authorization URL

    @Test func authorizationURLCarriesPKCEStateNonceAndTheLoopbackRedirect() throws {
        let (client, _, _) = Fixture.client([], settings: Self.settings())
        let verifierOctets = [UInt8](repeating: 1, count: 32)
        let pending = try Self.pending(client, draws: [verifierOctets, [UInt8](repeating: 2, count: 32), [UInt8](repeating: 3, count: 32)])
        #expect(pending.authorizationURL.hasPrefix(Self.authorizeURL + "?"))
        let q = Self.query(pending.authorizationURL)
        func value(_ n: String) -> String? { q.first { $0.0 == n }?.1 }
        #expect(value("response_type") == "code")
        #expect(value("client_id") == "authctl-test")
        #expect(value("redirect_uri") == "http://127.0.0.1:43123/callback")
        #expect(value("scope") == "openid offline_access")
        #expect(value("code_challenge_method") == "S256")
        #expect(value("code_challenge") == PKCEPair(randomOctets: verifierOctets)?.challenge)
        #expect(value("state") == Base64URL.encode([UInt8](repeating: 2, count: 32)))
        #expect(value("nonce") == Base64URL.encode([UInt8](repeating: 3, count: 32)))
        #expect(pending.nonce == value("nonce"))
        // The verifier itself never leaves the daemon in the URL.
        #expect(!pending.authorizationURL.contains(pending.pkce.verifier))
        #expect(!pending.description.contains(pending.state) && !pending.description.contains(pending.pkce.verifier))
    }

    @Test func noNonceWithoutOpenID() throws {
        let (client, _, _) = Fixture.client([], settings: Self.settings(scopes: ["repo"]))
        let pending = try Self.pending(client)
        #expect(pending.nonce == nil)
        #expect(!Self.query(pending.authorizationURL).contains { $0.0 == "nonce" })
    }

    @Test func anEndpointWithAQueryKeepsIt() throws {
        let (client, _, _) = Fixture.client([], settings: Self.settings())
        let pending = try client.authorizationRequest(authorizationEndpoint: Self.authorizeURL + "?tenant=x", tokenEndpoint: Fixture.tokenURL,
                                                      issuer: nil, redirectURI: Self.redirect) { [UInt8](repeating: 9, count: $0) }
        #expect(pending.authorizationURL.hasPrefix(Self.authorizeURL + "?tenant=x&response_type=code"))
    }

    @Test func plainHTTPAuthorizationEndpointOffLoopbackIsRefused() throws {
        let (client, _, _) = Fixture.client([], settings: Self.settings())
        #expect(throws: OAuthError.insecureEndpoint(url: "http://login.example.com/authorize")) {
            _ = try client.authorizationRequest(authorizationEndpoint: "http://login.example.com/authorize", tokenEndpoint: Fixture.tokenURL,
                                                issuer: nil, redirectURI: Self.redirect) { [UInt8](repeating: 9, count: $0) }
        }
    }

    @Test func discoveryFillsTheAuthorizationEndpoint() async throws {
        let metadata = #"{"issuer":"\#(Fixture.base)","authorization_endpoint":"\#(Fixture.base)/authz","token_endpoint":"\#(Fixture.tokenURL)"}"#
        let (client, _, _) = Fixture.client([.json(metadata)], settings: Fixture.settings(endpoints: EndpointSettings(issuer: Fixture.base)))
        let pending = try await client.beginAuthorization(redirectURI: Self.redirect) { [UInt8](repeating: 5, count: $0) }
        #expect(pending.authorizationURL.hasPrefix("\(Fixture.base)/authz?"))
        #expect(pending.tokenEndpoint == Fixture.tokenURL)
    }

    @Test func noAuthorizationEndpointAnywhereSaysWhichKey() async throws {
        let (client, _, _) = Fixture.client([], settings: Fixture.settings())
        do {
            _ = try await client.beginAuthorization(redirectURI: Self.redirect) { [UInt8](repeating: 5, count: $0) }
            Issue.record("began without an authorization endpoint")
        } catch {
            guard case .noEndpoint(.authorization, _) = error else { Issue.record("\(error)"); return }
        }
    }

    // MARK: The callback

    static func callback(_ pending: PendingAuthorization, state: String? = nil, code: String? = "the-code", extra: String = "") -> String {
        var parts: [String] = []
        if let code { parts.append("code=\(code)") }
        parts.append("state=\(state ?? pending.state)")
        if !extra.isEmpty { parts.append(extra) }
        return parts.joined(separator: "&")
    }

    @Test func theRightStateAndACodeAreAccepted() throws {
        let (client, _, _) = Fixture.client([], settings: Self.settings())
        let pending = try Self.pending(client)
        #expect(pending.check(query: Self.callback(pending)) == .code("the-code"))
        #expect(pending.check(query: Self.callback(pending, extra: "iss=\(Fixture.base)")) == .code("the-code"))
    }

    @Test(arguments: [
        ("wrong state", "code=c&state=forged", "the state does not match this login"),
        ("no state", "code=c", "the answer has no state"),
        ("no code", "STATE", "the answer has no code"),
        ("empty code", "code=&STATE", "the answer has no code"),
        ("two states", "code=c&STATE&STATE", "the parameter state appears more than once"),
        ("two codes", "code=c&code=d&STATE", "the parameter code appears more than once"),
        ("other issuer", "code=c&STATE&iss=https://evil.example", "the answer names another issuer"),
        ("error without state", "error=access_denied", "the answer has no state"),
        ("error with wrong state", "error=access_denied&state=forged", "the state does not match this login"),
        ("state prefix", "code=c&state=QUFB", "the state does not match this login"),
    ])
    func strayCallbacksAreRefusedWithoutEndingTheLogin(name: String, query: String, reason: String) throws {
        let (client, _, _) = Fixture.client([], settings: Self.settings())
        let pending = try Self.pending(client)
        let text = query.replacing("STATE", with: "state=\(pending.state)")
        #expect(pending.check(query: text) == .refused(reason: reason), "\(name)")
    }

    @Test(arguments: [
        ("access_denied", "the+user+said+no", OAuthError.denied(code: "access_denied", description: "the user said no")),
        ("authorization_declined", "", OAuthError.denied(code: "authorization_declined", description: nil)),
        ("invalid_scope", "bad+scope", OAuthError.provider(endpoint: OAuthEndpoint(.authorization, authorizeURL), error: "invalid_scope",
                                                           description: "bad scope", hint: nil)),
        ("server_error", "", OAuthError.provider(endpoint: OAuthEndpoint(.authorization, authorizeURL), error: "server_error",
                                                 description: nil, hint: nil)),
        ("temporarily_unavailable", "", OAuthError.provider(endpoint: OAuthEndpoint(.authorization, authorizeURL),
                                                            error: "temporarily_unavailable", description: nil, hint: nil)),
        ("unauthorized_client", "", OAuthError.provider(endpoint: OAuthEndpoint(.authorization, authorizeURL), error: "unauthorized_client",
                                                        description: nil, hint: nil)),
        ("consent_required", "", OAuthError.provider(endpoint: OAuthEndpoint(.authorization, authorizeURL), error: "consent_required",
                                                     description: nil, hint: nil)),
    ])
    func everyRedirectErrorWithTheRightStateEndsTheLogin(error: String, description: String, expected: OAuthError) throws {
        let (client, _, _) = Fixture.client([], settings: Self.settings())
        let pending = try Self.pending(client)
        let query = "error=\(error)&state=\(pending.state)" + (description.isEmpty ? "" : "&error_description=\(description)")
        #expect(pending.check(query: query) == .ended(expected))
        // Denials map to exit 4 like a device-flow denial; the rest are provider errors (exit 1).
    }

    @Test func aRedirectErrorDescriptionIsCleanedAndCannotEchoTheState() throws {
        let (client, _, _) = Fixture.client([], settings: Self.settings())
        let pending = try Self.pending(client)
        let query = "error=access_denied&state=\(pending.state)&error_description=\(pending.state)%1B%5B31m"
        guard case .ended(.denied(_, let description)) = pending.check(query: query) else { Issue.record("not denied"); return }
        #expect(description?.contains(pending.state) == false)
        #expect(description?.unicodeScalars.contains { $0.value == 0x1B } == false)
    }

    @Test(arguments: [
        ("full URL", "http://127.0.0.1:43123/callback?QUERY", true),
        ("full URL with spaces and fragment", "  http://127.0.0.1:43123/callback?QUERY#frag \n", true),
        ("query alone", "QUERY", true),
        ("query with ?", "?QUERY", true),
        ("another port", "http://127.0.0.1:9999/callback?QUERY", false),
        ("another host", "http://evil.example/callback?QUERY", false),
        ("another path", "http://127.0.0.1:43123/other?QUERY", false),
    ])
    func pasteBackTakesTheAddressOrItsQuery(name: String, text: String, accepted: Bool) throws {
        let (client, _, _) = Fixture.client([], settings: Self.settings())
        let pending = try Self.pending(client)
        let verdict = pending.check(pasted: text.replacing("QUERY", with: Self.callback(pending)))
        if accepted {
            #expect(verdict == .code("the-code"), "\(name)")
        } else {
            guard case .refused(let reason) = verdict else { Issue.record("\(name): \(verdict)"); return }
            #expect(reason.contains("http://127.0.0.1:43123/callback"), "\(name)")
        }
    }

    @Test func aPastedWrongStateIsRefused() throws {
        let (client, _, _) = Fixture.client([], settings: Self.settings())
        let pending = try Self.pending(client)
        #expect(pending.check(pasted: "http://127.0.0.1:43123/callback?code=c&state=guess") == .refused(reason: "the state does not match this login"))
        #expect(pending.check(pasted: String(repeating: "a", count: 9000)) == .refused(reason: "the pasted text is too long"))
    }

    // MARK: Code exchange

    @Test(arguments: [
        (ClientAuthentication.none, nil as String?, true, false, false),
        (.clientSecretPost, "s3cret-value", true, true, false),
        (.clientSecretBasic, "s3cret-value", false, false, true),
    ])
    func codeExchangeAuthenticatesTheClientAsConfigured(method: ClientAuthentication, secret: String?, idInBody: Bool,
                                                         secretInBody: Bool, basic: Bool) async throws {
        let (client, transport, _) = Fixture.client([Fixture.token], settings: Self.settings(secret: secret, authentication: method))
        let pending = try Self.pending(client)
        let grant = try await client.exchange(code: "the-code", for: pending)
        #expect(grant.accessToken == Secret.accessToken)
        #expect(grant.refreshToken == Secret.refreshToken)
        #expect(grant.nonce == pending.nonce && grant.nonce != nil)
        let request = transport.requests[0]
        #expect(request.request.url.description == Fixture.tokenURL)
        #expect(request.formValue("grant_type") == "authorization_code")
        #expect(request.formValue("code") == "the-code")
        #expect(request.formValue("redirect_uri") == Self.redirect)
        #expect(request.formValue("code_verifier") == pending.pkce.verifier)
        #expect((request.formValue("client_id") == "authctl-test") == idInBody)
        #expect((request.formValue("client_secret") != nil) == secretInBody)
        if secretInBody { #expect(request.formValue("client_secret") == secret) }
        #expect((request.header("Authorization")?.hasPrefix("Basic ") ?? false) == basic)
        if basic { #expect(request.header("Authorization") == "Basic " + Base64.encode(Array("authctl-test:s3cret-value".utf8))) }
    }

    @Test func aRefusedCodeIsAProviderErrorThatNamesNoSecret() async throws {
        let (client, _, _) = Fixture.client([], settings: Self.settings())
        let pending = try Self.pending(client)
        let echo = ScriptedTransport.Reply.json(
            #"{"error":"invalid_grant","error_description":"code the-code-value with verifier \#(pending.pkce.verifier) is used"}"#, status: 400)
        let (client2, _, _) = Fixture.client([echo], settings: Self.settings())
        do {
            _ = try await client2.exchange(code: "the-code-value", for: pending)
            Issue.record("exchange succeeded")
        } catch {
            guard case .provider(_, "invalid_grant", let description, _) = error else { Issue.record("\(error)"); return }
            #expect(description?.contains("the-code-value") == false)
            #expect(description?.contains(pending.pkce.verifier) == false)
        }
    }

    @Test func aDenialAtTheTokenEndpointIsADenial() async throws {
        let (client, _, _) = Fixture.client([.json(#"{"error":"access_denied"}"#, status: 400)], settings: Self.settings())
        let pending = try Self.pending(client)
        await #expect(throws: OAuthError.denied(code: "access_denied", description: nil)) {
            _ = try await client.exchange(code: "c", for: pending)
        }
    }

    // MARK: auto's fallback rule

    @Test(arguments: [
        (OAuthError.provider(endpoint: OAuthEndpoint(.deviceAuthorization, "u"), error: "unauthorized_client", description: nil, hint: nil), true),
        (.provider(endpoint: OAuthEndpoint(.deviceAuthorization, "u"), error: "device_flow_disabled", description: nil, hint: nil), true),
        (.provider(endpoint: OAuthEndpoint(.token, "u"), error: "invalid_request",
                   description: "AADSTS53003: Access has been blocked by Conditional Access policies.", hint: nil), true),
        (.provider(endpoint: OAuthEndpoint(.deviceAuthorization, "u"), error: "invalid_scope", description: nil, hint: nil), false),
        (.httpStatus(endpoint: OAuthEndpoint(.deviceAuthorization, "u"), status: 404), true),
        (.httpStatus(endpoint: OAuthEndpoint(.deviceAuthorization, "u"), status: 503), false),
        (.network(endpoint: OAuthEndpoint(.deviceAuthorization, "u"), .transport("refused")), false),
        (.denied(code: "access_denied", description: nil), false),
        (.noEndpoint(.deviceAuthorization, reason: "none"), true),
    ])
    func whichDeviceFlowFailuresOfferTheAuthorizationCodeFlow(error: OAuthError, offers: Bool) {
        #expect(error.refusesDeviceGrant == offers)
    }
}
