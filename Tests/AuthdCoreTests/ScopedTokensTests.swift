// get --scope/--resource: the serve/narrow/refuse decision as tables, and the agent serving narrower tokens.
@testable import AuthdCore
import AuthdTestSupport
import AuthdWire
import Testing

@Suite struct NarrowingDecisionTests {
    static let granted = ["read", "write", "admin"]
    static let resources = ["https://api.example/", "https://files.example/"]

    enum Expected: Equatable { case serveLogin, narrow, refuse(String) }

    @Test(arguments: [
        // scopes asked (nil: none), resources asked, expected (refuse: a word the message must contain)
        (["read"], [], Expected.narrow),
        (["read", "write"], [], .narrow),
        (["write", "read", "admin"], [], .serveLogin),             // the whole granted set, in another order
        (["admin", "read", "write", "read"], [], .serveLogin),     // duplicates collapse
        (["read", "delete"], [], .refuse("\"delete\"")),           // one scope outside the grant
        (["delete"], [], .refuse("was not granted")),
        (nil, ["https://api.example/"], .narrow),                  // resource only: no scope sent
        (["read"], ["https://files.example/"], .narrow),
        (nil, ["https://evil.example/"], .refuse("https://evil.example/")),
        (["admin", "read", "write"], ["https://api.example/"], .narrow),  // full scopes but one resource
    ] as [([String]?, [String], Expected)])
    func decision(scopes: [String]?, resources: [String], expected: Expected) {
        let decision = NarrowingDecision.decide(TokenNarrowing(scopes: scopes, resources: resources), audience: "work",
                                                granted: Self.granted, allowedResources: Self.resources)
        switch (decision, expected) {
        case (.serveLogin, .serveLogin): break
        case (.narrow(let key), .narrow): #expect(key == TokenNarrowing(scopes: scopes, resources: resources))
        case (.refuse(let message), .refuse(let word)):
            #expect(message.contains(word))
            #expect(message.contains("work"))
        default: Issue.record("got \(decision), expected \(expected)")
        }
    }

    @Test func beforeALoginTheConfiguredScopesAreTheLimitAndSaidSo() {
        let decision = NarrowingDecision.decide(TokenNarrowing(scopes: ["delete"], resources: []), audience: "work",
                                                granted: Self.granted, loggedIn: false, allowedResources: [])
        guard case .refuse(let message) = decision else { Issue.record("not refused: \(decision)"); return }
        #expect(message.contains("is not among the scopes this audience asks for"))
        #expect(!message.contains("login (it has"))
    }

    @Test func aResourceIsRefusedWhenNoneIsConfigured() {
        let decision = NarrowingDecision.decide(TokenNarrowing(scopes: nil, resources: ["https://api.example/"]),
                                                audience: "work", granted: Self.granted, allowedResources: [])
        guard case .refuse(let message) = decision else { Issue.record("not refused: \(decision)"); return }
        #expect(message.contains("no resource configured"))
    }

    @Test(arguments: [
        // asked scopes, scopes the provider said it issued (nil: not said), honoured
        (["read"], nil, true),
        (["read"], ["read"], true),
        (["read", "write"], ["read"], true),            // narrower still: fine
        (["read"], ["read", "write", "admin"], false),  // the full grant came back
        (["read"], ["write"], false),
    ] as [([String], [String]?, Bool)])
    func providerHonoured(asked: [String], issued: [String]?, expected: Bool) {
        #expect(NarrowingDecision.providerHonoured(TokenNarrowing(scopes: asked, resources: []), issuedScopes: issued) == expected)
    }

    @Test func aResourceOnlyNarrowingIsNeverJudgedByScope() {
        #expect(NarrowingDecision.providerHonoured(TokenNarrowing(scopes: nil, resources: ["https://api.example/"]),
                                                   issuedScopes: ["read", "write"]))
    }
}

@Suite struct TokenNarrowingParseTests {
    @Test(arguments: [
        ("read write", nil, true),
        ("  read   write ", nil, true),
        ("", nil, false),                       // empty scope
        ("read \"x\"", nil, false),             // a quote is not a scope-token character
        ("read\u{1B}[2J", nil, false),          // a control character
        (nil, "https://api.example/v1", true),
        (nil, "urn:example:resource", true),
        (nil, "https://api.example/#frag", false),   // RFC 8707: no fragment
        (nil, "/relative", false),
        (nil, "api.example", false),
        (nil, "1http://x", false),
    ] as [(String?, String?, Bool)])
    func parse(scope: String?, resource: String?, valid: Bool) {
        let result = Result { () throws(ProtocolFailure) in try TokenNarrowing.parse(scope: scope, resources: resource.map { [$0] } ?? []) }
        switch result {
        case .success: #expect(valid)
        case .failure(let failure):
            #expect(!valid)
            #expect(failure.code == .badRequest)
            #expect(!failure.message.contains("\u{1B}"))
        }
    }

    @Test func getWithScopeRoundTripsAsGetNarrowed() throws {
        let request = Request.getNarrowed(audience: "work", minimumValiditySeconds: 60, interactive: false,
                                          narrowing: TokenNarrowing(scopes: ["write", "read"], resources: ["https://api.example/"]))
        let line = request.line()
        #expect(try Request.decode(line.dropLast()) == request)
        #expect(request.operation == "get")
        let text = String(decoding: line, as: UTF8.self)
        #expect(text.contains(#""scope":"read write""#))
    }

    @Test(arguments: [
        #"{"op":"get","audience":"work","scope":7}"#,
        #"{"op":"get","audience":"work","resource":{"a":1}}"#,
        #"{"op":"get","audience":"work","resource":[1]}"#,
        #"{"op":"get","audience":"work","scope":""}"#,
    ])
    func badNarrowingIsABadRequest(_ json: String) {
        #expect(throws: ProtocolFailure.self) { try Request.decode(Array(json.utf8)) }
    }
}

/// The agent's narrower tokens, against a provider that narrows (or, when told, ignores narrowing).
@Suite struct AgentNarrowingTests {
    static let policy = AudiencePolicy(name: "demo", requestedScopes: ["read", "write"], resources: ["https://api.example/"])

    static func loggedIn(_ provider: ScriptedProvider, audit: RecordingAuditSink = RecordingAuditSink()) async throws -> AudienceAgent {
        let agent = makeAgent(provider, audit: audit, policy: policy)
        async let login = agent.login(client: alice, events: { _ in })
        try await eventually("device flow waiting") { await provider.pollWaiters == 1 }
        await provider.approve()
        _ = try await login
        return agent
    }

    @Test func aNarrowerScopeIsRefreshedOnceThenCached() async throws {
        let provider = ScriptedProvider()
        let agent = try await Self.loggedIn(provider)
        let narrow = TokenNarrowing(scopes: ["read"], resources: [])
        let first = try await agent.get(minimumValidity: .seconds(60), canPrompt: false, client: alice, narrowing: narrow, events: { _ in })
        #expect(first.scopes == ["read"])
        #expect(await provider.narrowings == [narrow])
        let second = try await agent.get(minimumValidity: .seconds(60), canPrompt: false, client: alice, narrowing: narrow, events: { _ in })
        #expect(second.fingerprint == first.fingerprint)
        #expect(await provider.narrowings.count == 1)
        // The login's own token is another one, with the full scopes.
        let full = try await agent.get(minimumValidity: .seconds(60), canPrompt: false, client: alice, events: { _ in })
        #expect(full.scopes == ["read", "write"])
        #expect(full.fingerprint != first.fingerprint)
    }

    @Test func eachScopeSetHasItsOwnToken() async throws {
        let provider = ScriptedProvider()
        let agent = try await Self.loggedIn(provider)
        let read = try await agent.get(minimumValidity: .seconds(60), canPrompt: false, client: alice,
                                       narrowing: TokenNarrowing(scopes: ["read"], resources: []), events: { _ in })
        let api = try await agent.get(minimumValidity: .seconds(60), canPrompt: false, client: alice,
                                      narrowing: TokenNarrowing(scopes: nil, resources: ["https://api.example/"]), events: { _ in })
        #expect(read.fingerprint != api.fingerprint)
        #expect(await provider.narrowings.count == 2)
    }

    @Test func aWiderScopeIsRefusedWithoutAskingTheProvider() async throws {
        let provider = ScriptedProvider()
        let agent = try await Self.loggedIn(provider)
        let refreshesBefore = await provider.refreshRequests.count
        await #expect(throws: ProtocolFailure.self) {
            try await agent.get(minimumValidity: .seconds(60), canPrompt: true, client: alice,
                                narrowing: TokenNarrowing(scopes: ["read", "admin"], resources: []), events: { _ in })
        }
        do {
            _ = try await agent.get(minimumValidity: .seconds(60), canPrompt: true, client: alice,
                                    narrowing: TokenNarrowing(scopes: ["admin"], resources: []), events: { _ in })
        } catch {
            #expect(error.code == .badRequest)
            #expect(error.code.exitCode == 2)
            #expect(error.message.contains("\"admin\""))
        }
        #expect(await provider.narrowings.isEmpty)
        #expect(await provider.refreshRequests.count == refreshesBefore)
        #expect(await provider.deviceCodeRequests == 1)
    }

    @Test func aProviderIgnoringTheNarrowerScopeIsReportedAndNotServed() async throws {
        let provider = ScriptedProvider()
        let audit = RecordingAuditSink()
        let agent = try await Self.loggedIn(provider, audit: audit)
        await provider.setIgnoreNarrowing(true)
        do {
            _ = try await agent.get(minimumValidity: .seconds(60), canPrompt: false, client: alice,
                                    narrowing: TokenNarrowing(scopes: ["read"], resources: []), events: { _ in })
            Issue.record("a token with the full scopes was served for a narrower request")
        } catch {
            #expect(error.code == .providerError)
            #expect(error.message.contains("ignored the narrower scope"))
            #expect(error.message.contains("\"read write\""))
        }
        #expect(audit.count(.scopeNotNarrowed) == 1)
        #expect(!audit.renderedText.contains("access-token-secret"))
        // The rotated refresh token became the login's: the next refresh uses it.
        let rotated = await provider.lastIssuedRefreshToken
        await provider.setIgnoreNarrowing(false)
        _ = try await agent.get(minimumValidity: .seconds(60), canPrompt: false, client: alice,
                                narrowing: TokenNarrowing(scopes: ["write"], resources: []), events: { _ in })
        #expect(await provider.refreshRequests.last == rotated)
    }

    @Test func concurrentNarrowerRequestsShareOneRefresh() async throws {
        let provider = ScriptedProvider()
        let agent = try await Self.loggedIn(provider)
        await provider.setHoldRefreshes(true)
        let narrow = TokenNarrowing(scopes: ["read"], resources: [])
        async let a = agent.get(minimumValidity: .seconds(60), canPrompt: false, client: alice, narrowing: narrow, events: { _ in })
        try await eventually("one refresh held") { await provider.refreshesWaiting == 1 }
        async let b = agent.get(minimumValidity: .seconds(60), canPrompt: false, client: alice, narrowing: narrow, events: { _ in })
        try await eventually("second request waiting") { await agent.refreshWaiters == 2 }
        await provider.releaseRefreshes()
        let (first, second) = try await (a, b)
        #expect(first.fingerprint == second.fingerprint)
        #expect(await provider.narrowings.count == 1)
    }

    /// The login's scheduled refresh fires while a narrowing refresh holds the refresh token: it joins that
    /// one, which does not renew the login, so it must be re-armed rather than lost (a provider that does not rotate).
    @Test func aScheduledRefreshThatJoinedANarrowingOneStillHappens() async throws {
        let provider = ScriptedProvider()
        await provider.setAccessLifetime(600)
        await provider.setRotateRefreshTokens(false)
        let clock = ManualClock()
        let agent = makeAgent(provider, clock: clock, policy: Self.policy)
        async let login = agent.login(client: alice, events: { _ in })
        try await eventually("device flow waiting") { await provider.pollWaiters == 1 }
        await provider.approve()
        _ = try await login
        try await eventually("refresh timer armed") { clock.sleeperCount >= 1 }
        await provider.setHoldRefreshes(true)
        async let narrowed = agent.get(minimumValidity: .seconds(60), canPrompt: false, client: alice,
                                       narrowing: TokenNarrowing(scopes: ["read"], resources: []), events: { _ in })
        try await eventually("narrowing refresh held") { await provider.refreshesWaiting == 1 }
        clock.advance(by: .seconds(545))   // past the 60 s margin before expiry: the timer fires and joins
        try await eventually("scheduled refresh joined") { await agent.refreshWaiters == 2 }
        await provider.releaseRefreshes()
        _ = try await narrowed
        try await eventually("the login itself refreshed") { await provider.refreshRequests.count == 2 }
        #expect(await provider.narrowings.count == 1)
    }

    @Test func logoutDropsNarrowerTokens() async throws {
        let provider = ScriptedProvider()
        let agent = try await Self.loggedIn(provider)
        let narrow = TokenNarrowing(scopes: ["read"], resources: [])
        _ = try await agent.get(minimumValidity: .seconds(60), canPrompt: false, client: alice, narrowing: narrow, events: { _ in })
        _ = await agent.logout(client: alice)
        await #expect(throws: ProtocolFailure.self) {
            try await agent.get(minimumValidity: .seconds(60), canPrompt: false, client: alice, narrowing: narrow, events: { _ in })
        }
    }
}
