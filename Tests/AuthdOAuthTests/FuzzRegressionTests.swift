// Inputs found by fuzz/targets/oauth.swift (docs/fuzzing.md, "Found"), kept as regression tests.
// The fuzz inputs themselves are also in fuzz/corpus/oauth/regress-*, so every fuzz run replays them.

@testable import AuthdOAuth
import AuthdTestSupport
import AuthdWire
import Testing

/// Whether a text would reach a terminal with a C0/C1 control character (escape sequences).
private func hasControl(_ text: String) -> Bool {
    text.unicodeScalars.contains { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) }
}

@Suite struct OAuthFuzzRegressionTests {
    /// Found 1 (fixed): a poll answered with an unknown `error` code holding a NUL
    /// (fuzz/corpus/oauth/regress-poll-error-code-control). Unknown codes end the flow with the
    /// provider's words, and OAuthClient.poll put the code into `.failed` unfiltered, so a provider
    /// could put terminal escapes, or the device code it was sent, into what authctl prints.
    static let pollAnswers: [(name: String, reply: ScriptedTransport.Reply)] = [
        ("fuzz input", .form("error=authorization_\u{0}ending&err}or_description=The+authorizatexpires_int+is+still+pending.")),
        ("terminal escape", .json(#"{"error":"weird\u001b]0;owned\u0007_error"}"#, status: 400)),
        ("C1 control", .json(#"{"error":"x\u0085y"}"#, status: 400)),
        ("echoed device code", .json(#"{"error":"\#(Secret.deviceCode)"}"#, status: 400)),
    ]

    @Test(arguments: pollAnswers.indices)
    func unknownPollErrorCodeIsCleaned(_ index: Int) async {
        let (client, _, _) = Fixture.client([Fixture.deviceAuthorization(), Self.pollAnswers[index].reply])
        var thrown: OAuthError?
        do { _ = try await client.runDeviceFlow() } catch { thrown = error }
        guard let thrown, case .provider(_, let code, _, _) = thrown else {
            Issue.record("\(Self.pollAnswers[index].name): expected a provider error, got \(String(describing: thrown))")
            return
        }
        #expect(!hasControl(thrown.description), "\(Self.pollAnswers[index].name): \(thrown.description.debugDescription)")
        #expect(!thrown.description.contains(Secret.deviceCode), "\(Self.pollAnswers[index].name): \(thrown)")
        #expect(!code.isEmpty)
    }

    /// Found 2 (fixed): a discovery document naming another issuer with a DEL in it
    /// (fuzz/corpus/oauth/regress-discovery-issuer-control); `.issuerMismatch` printed the published
    /// issuer as is.
    @Test func mismatchedIssuerIsCleaned() async {
        let clock = ManualClock()
        let transport = ScriptedTransport(clock: clock) { _ in
            HTTPResponse(status: 200, headers: [("Content-Type", "application/json")],
                         body: Array(#"{"issuer":"https:/authorixation_pendinJil.ex\#u{7F}mple.com/t\u001b[2J"}"#.utf8))
        }
        let discovery = MetadataDiscovery(transport: transport, clock: clock)
        var thrown: OAuthError?
        do { _ = try await discovery.metadata(issuer: "https://issuer.example.com") } catch { thrown = error }
        guard let thrown, case .issuerMismatch = thrown else {
            Issue.record("expected an issuer mismatch, got \(String(describing: thrown))")
            return
        }
        #expect(!hasControl(thrown.description), "\(thrown.description.debugDescription)")
        #expect(thrown.description.contains("https:/authorixation_pendinJil.ex mple.com/t"))
    }

    /// Found 3 (fixed): a refresh answered with `token_type` echoing the refresh token
    /// (fuzz/corpus/oauth/regress-refresh-token-type-echo). TokenGrant.decode cleans the type of the
    /// new access token only, not of the secrets the request carried (refresh token, client secret).
    @Test func unsupportedTokenTypeDoesNotEchoTheRequestSecrets() async {
        let secrets = Fixture.settings(clientSecret: Secret.clientSecret, authentication: .clientSecretPost)
        let (client, _, _) = Fixture.client([.form("access_token=x&token_type=m+\(Secret.refreshToken)+\(Secret.clientSecret)")], settings: secrets)
        var thrown: OAuthError?
        do { _ = try await client.refresh(Fixture.grant()) } catch { thrown = error }
        #expect(thrown != nil)
        let text = thrown?.description ?? ""
        #expect(!text.contains(Secret.refreshToken), "\(text)")
    }

    /// Found 7 (fixed): revoking the refresh token, the provider's error echoed the access token of
    /// the same login (fuzz/corpus/oauth/regress-revoke-echoes-other-token): it knows both.
    @Test func revocationErrorsHideTheOtherTokenOfTheLogin() async {
        let grant = Fixture.grant()
        let (client, _, _) = Fixture.client([.status(400, headers: [(name: "Content-Type", value: "application/json")], body: #"{"error":"u\#(grant.accessToken)y"}"#),
                                             .status(400, headers: [(name: "Content-Type", value: "application/json")], body: #"{"error":"u\#(grant.refreshToken!)y"}"#)])
        var thrown: OAuthError?
        do { try await client.revoke(grant: grant) } catch { thrown = error }
        let text = thrown?.description ?? ""
        #expect(thrown != nil)
        #expect(!text.contains(grant.accessToken) && !text.contains(grant.refreshToken!), "\(text)")
    }

    /// Found 4 (fixed): a token answer whose `scope` holds a control character
    /// (fuzz/corpus/oauth/regress-scope-control). ScopeList.parse keeps it; scopes reach `authctl
    /// status`, the status JSON and audit records.
    @Test func grantedScopesHoldNoControlCharacters() async throws {
        let (client, _, _) = Fixture.client([Fixture.deviceAuthorization(),
                                             .form("access_token=ghc6912E78&scope=rep%0E%1B%5B2J%2Cg.ist&token_type=bearer")])
        let grant = try await client.runDeviceFlow()
        #expect(!grant.scopes.contains(where: hasControl), "\(grant.scopes)")
    }

    /// Found 5 (fixed): a discovery document whose device_authorization_endpoint holds an ESC
    /// (fuzz/corpus/oauth/regress-discovery-endpoint-control); `.invalidEndpoint` (and
    /// `.insecureEndpoint`) print the URL as is.
    @Test func invalidDiscoveredEndpointIsCleaned() async {
        let document = #"{"issuer":"https://issuer.example.com","device_authorization_endpoint":"https:/\u001br.example.com/device/code","token_endpoint":"https://issuer.example.com/token"}"#
        let settings = OAuthClientSettings(clientID: "c", endpoints: EndpointSettings(issuer: "https://issuer.example.com"))
        let clock = ManualClock()
        let transport = ScriptedTransport(clock: clock) { _ in
            HTTPResponse(status: 200, headers: [("Content-Type", "application/json")], body: Array(document.utf8))
        }
        let client = OAuthClient(settings: settings, transport: transport, clock: clock)
        var thrown: OAuthError?
        do { _ = try await client.resolveEndpoints(for: .deviceFlow) } catch { thrown = error }
        guard let thrown, case .invalidEndpoint = thrown else {
            Issue.record("expected an invalid endpoint, got \(String(describing: thrown))")
            return
        }
        #expect(!hasControl(thrown.description), "\(thrown.description.debugDescription)")
    }
}
