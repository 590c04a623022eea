// The per-audience lifecycle: single-flight flows and refreshes, schedules, erase, policy, audit hygiene.
@testable import AuthdCore
import AuthdTestSupport
import AuthdWire
import Synchronization
import Testing

// The limit catches a hang, not slowness: under --parallel the synchronous end-to-end suites can hold
// the cooperative pool's threads for minutes, during which these tests cannot even be scheduled.
@Suite(.timeLimit(.minutes(8))) struct AudienceAgentTests {
    @Test func fiftyConcurrentGetsShareOneDeviceFlow() async throws {
        let provider = ScriptedProvider()
        let agent = makeAgent(provider)
        let prompts = Counter()
        try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<50 {
                group.addTask {
                    try await agent.get(minimumValidity: .seconds(60), canPrompt: true, client: alice) { line in
                        if case .prompt = line { prompts.increment() }
                    }.text
                }
            }
            try await eventually("all waiters") { await provider.pollWaiters == 1 && prompts.value == 50 }
            await provider.approve()
            var tokens: [String] = []
            for try await token in group { tokens.append(token) }
            #expect(tokens.count == 50)
            #expect(Set(tokens) == ["access-token-secret-1"])
        }
        #expect(await provider.deviceCodeRequests == 1)
        #expect(await agent.status().state == .valid)
    }

    @Test func nobodyToPromptMeansLoginNeededAtOnce() async throws {
        let provider = ScriptedProvider()
        let audit = RecordingAuditSink()
        let agent = makeAgent(provider, audit: audit)
        await #expect(throws: ProtocolFailure(.loginNeeded, "demo: login needed (not logged in) and nobody can be prompted here",
                                              hint: "run: authctl login demo")) {
            _ = try await agent.get(minimumValidity: .seconds(60), canPrompt: false, client: alice) { _ in }
        }
        #expect(await provider.deviceCodeRequests == 0)
    }

    @Test func aWaiterLeavingDoesNotCancelTheFlowButTheLastOneDoes() async throws {
        let provider = ScriptedProvider()
        let agent = makeAgent(provider)
        let prompts = Counter()
        let first = Task { try await agent.get(minimumValidity: .seconds(1), canPrompt: true, client: alice) { line in
            if case .prompt = line { prompts.increment() } }.text }
        let second = Task { try await agent.get(minimumValidity: .seconds(1), canPrompt: true, client: alice) { line in
            if case .prompt = line { prompts.increment() } }.text }
        try await eventually("both waiting") { await provider.pollWaiters == 1 && prompts.value == 2 }
        first.cancel()
        await #expect(throws: ProtocolFailure.self) { _ = try await first.value }
        await provider.approve()
        #expect(try await second.value == "access-token-secret-1")
        #expect(await provider.pollsCancelled == 0)
        #expect(await provider.deviceCodeRequests == 1)

        // A new flow whose only waiter leaves is cancelled at the provider side.
        _ = await agent.logout(client: alice)
        let lone = Task { try await agent.get(minimumValidity: .seconds(1), canPrompt: true, client: alice) { _ in }.text }
        try await eventually("second flow polling") { await provider.pollWaiters == 1 }
        lone.cancel()
        _ = try? await lone.value
        try await eventually("flow cancelled") { await provider.pollsCancelled == 1 }
        try await eventually("agent idle") { await agent.status().state == .loggedOut }
    }

    @Test func deniedFlowEndsWithDeniedForEveryWaiter() async throws {
        let provider = ScriptedProvider()
        let audit = RecordingAuditSink()
        let agent = makeAgent(provider, audit: audit)
        let prompts = Counter()
        let a = Task { try await agent.get(minimumValidity: .seconds(1), canPrompt: true, client: alice) { line in
            if case .prompt = line { prompts.increment() } } }
        let b = Task { try await agent.login(client: alice) { line in if case .prompt = line { prompts.increment() } } }
        try await eventually { await provider.pollWaiters == 1 && prompts.value == 2 }
        await provider.deny()
        for task in [a] {
            do { _ = try await task.value; Issue.record("expected denial") } catch { #expect((error as? ProtocolFailure)?.code == .denied) }
        }
        do { _ = try await b.value; Issue.record("expected denial") } catch { #expect((error as? ProtocolFailure)?.code == .denied) }
        #expect(await provider.deviceCodeRequests == 1)
        #expect(audit.count(.deviceFlowDenied) == 1)
    }

    @Test func refreshesAheadOfExpiryOnTheMonotonicClock() async throws {
        let provider = ScriptedProvider()
        await provider.setAccessLifetime(600)
        let clock = ManualClock()
        let persistence = MemoryPersistence()
        let agent = makeAgent(provider, clock: clock, persistence: persistence)
        let first = Task { try await agent.get(minimumValidity: .seconds(60), canPrompt: true, client: alice) { _ in }.text }
        try await eventually { await provider.pollWaiters == 1 }
        await provider.approve()
        #expect(try await first.value == "access-token-secret-1")
        // Default margin: max(60 s, 10 % of 600 s) = 60 s, so the refresh is due at 540 s.
        try await eventually("timer armed") { clock.earliestDeadline == .seconds(540) }
        clock.advance(by: .seconds(539))
        // Still asleep at 539 s (the manual clock wakes only sleepers that are due, synchronously).
        #expect(clock.earliestDeadline == .seconds(540))
        #expect(await provider.refreshRequests.isEmpty)
        clock.advance(by: .seconds(1))
        try await eventually("refreshed") { await provider.refreshRequests == ["refresh-token-secret-1"] }
        try await eventually("new token served") {
            (try? await agent.get(minimumValidity: .seconds(60), canPrompt: false, client: alice) { _ in }.text) == "access-token-secret-2"
        }
        // The rotated refresh token is the one used next time.
        try await eventually("next timer") { clock.earliestDeadline == .seconds(1080) }
        clock.advance(by: .seconds(540))
        try await eventually("refreshed twice") { await provider.refreshRequests == ["refresh-token-secret-1", "refresh-token-secret-2"] }
        // The rotated pair is saved after the provider answered, so wait for it rather than race it.
        try await eventually("saved") { await persistence.saveCount >= 3 }
        #expect(await provider.deviceCodeRequests == 1)
    }

    @Test func rejectedRefreshMeansLoginNeededWhileTheOldTokenIsStillServed() async throws {
        let provider = ScriptedProvider()
        await provider.setAccessLifetime(600)
        await provider.queueRefreshOutcome(.failure(ProviderError(.loginNeeded, "invalid_grant")))
        let clock = ManualClock()
        let audit = RecordingAuditSink()
        let agent = makeAgent(provider, clock: clock, audit: audit)
        let first = Task { try await agent.get(minimumValidity: .seconds(60), canPrompt: true, client: alice) { _ in }.text }
        try await eventually { await provider.pollWaiters == 1 }
        await provider.approve()
        _ = try await first.value
        try await eventually { clock.earliestDeadline != nil }
        clock.advance(by: .seconds(540))
        try await eventually("refresh attempted") { await provider.refreshRequests.count == 1 }
        try await eventually("login needed") { audit.count(.loginNeeded) == 1 }
        // Still valid for 60 s: a script without a terminal is served the old token.
        let served = try await agent.get(minimumValidity: .seconds(30), canPrompt: false, client: alice) { _ in }
        #expect(served.text == "access-token-secret-1")
        clock.advance(by: .seconds(61))
        do {
            _ = try await agent.get(minimumValidity: .seconds(30), canPrompt: false, client: alice) { _ in }
            Issue.record("expected login needed")
        } catch {
            #expect(error.code == .loginNeeded)
            #expect(error.hint == "run: authctl login demo")
        }
        #expect(await provider.refreshRequests.count == 1)
    }

    @Test func transientRefreshFailureIsRetriedBeforeExpiry() async throws {
        let provider = ScriptedProvider()
        await provider.setAccessLifetime(600)
        await provider.queueRefreshOutcome(.failure(ProviderError(.transient, "HTTP 503")))
        let clock = ManualClock()
        let agent = makeAgent(provider, clock: clock)
        let first = Task { try await agent.get(minimumValidity: .seconds(60), canPrompt: true, client: alice) { _ in }.text }
        try await eventually { await provider.pollWaiters == 1 }
        await provider.approve()
        _ = try await first.value
        try await eventually { clock.earliestDeadline == .seconds(540) }
        clock.advance(by: .seconds(540))
        try await eventually("first attempt") { await provider.refreshRequests.count == 1 }
        // Retry after 5 s plus jitter (0.5 → 7.5 s), well before expiry at 600 s.
        try await eventually("retry armed") { clock.earliestDeadline == .seconds(540) + .milliseconds(7500) }
        clock.advance(by: .milliseconds(7500))
        try await eventually("second attempt") { await provider.refreshRequests.count == 2 }
        try await eventually("new token") {
            let token = try? await agent.get(minimumValidity: .seconds(500), canPrompt: false, client: alice) { _ in }.text
            return token == "access-token-secret-2"
        }
    }

    @Test func concurrentGetsDuringExpiryShareOneRefresh() async throws {
        let provider = ScriptedProvider()
        await provider.setAccessLifetime(100)
        let clock = ManualClock()
        let agent = makeAgent(provider, clock: clock)
        let first = Task { try await agent.get(minimumValidity: .seconds(1), canPrompt: true, client: alice) { _ in }.text }
        try await eventually { await provider.pollWaiters == 1 }
        await provider.approve()
        _ = try await first.value
        // Ask for more validity than is left (but no more than a refresh gives): every request needs
        // a refresh, and they share one (held open until all twenty are waiting for it).
        clock.advance(by: .seconds(10))
        await provider.setHoldRefreshes(true)
        let tokens = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<20 {
                group.addTask { try await agent.get(minimumValidity: .seconds(100), canPrompt: false, client: alice) { _ in }.text }
            }
            try await eventually("refresh in flight") { await provider.refreshesWaiting == 1 }
            try await eventually("all twenty waiting for it") { await agent.refreshWaiters == 20 }
            await provider.releaseRefreshes()
            return try await group.reduce(into: [String]()) { $0.append($1) }
        }
        #expect(await provider.refreshRequests.count == 1)
        #expect(Set(tokens) == ["access-token-secret-2"])
    }

    @Test func eraseStopsServingThatTokenAndTheNextGetRefreshes() async throws {
        let provider = ScriptedProvider()
        let audit = RecordingAuditSink()
        let agent = makeAgent(provider, audit: audit)
        let first = Task { try await agent.get(minimumValidity: .seconds(60), canPrompt: true, client: alice) { _ in } }
        try await eventually { await provider.pollWaiters == 1 }
        await provider.approve()
        let served = try await first.value
        #expect(served.fingerprint == TokenFingerprint.of(Array("access-token-secret-1".utf8)))
        #expect(await agent.erase(fingerprint: "0000000000000000", client: alice) == false)
        #expect(await agent.erase(fingerprint: served.fingerprint, client: alice))
        let next = try await agent.get(minimumValidity: .seconds(60), canPrompt: false, client: alice) { _ in }
        #expect(next.text == "access-token-secret-2")
        #expect(await provider.refreshRequests == ["refresh-token-secret-1"])
        #expect(audit.count(.tokenErased) == 1)
    }

    @Test func logoutRevokesBothTokensAndForgetsTheLogin() async throws {
        let provider = ScriptedProvider()
        let persistence = MemoryPersistence()
        let agent = makeAgent(provider, persistence: persistence)
        let first = Task { try await agent.get(minimumValidity: .seconds(60), canPrompt: true, client: alice) { _ in } }
        try await eventually { await provider.pollWaiters == 1 }
        await provider.approve()
        _ = try await first.value
        let (outcome, status) = await agent.logout(client: alice)
        #expect(outcome == .revoked)
        #expect(status.state == .loggedOut)
        let revoked = await provider.revocations
        #expect(revoked.count == 1)
        #expect(revoked.first?.0 == "refresh-token-secret-1")
        #expect(revoked.first?.1 == "access-token-secret-1")
        #expect(await persistence.saved["demo"] == nil)
    }

    @Test func maxSessionForcesANewLoginEvenWhenRefreshWorks() async throws {
        let provider = ScriptedProvider()
        await provider.setAccessLifetime(600)
        let clock = ManualClock()
        let audit = RecordingAuditSink()
        let agent = makeAgent(provider, clock: clock, audit: audit,
                              policy: AudiencePolicy(name: "demo", requestedScopes: ["read"], maxSession: .seconds(300)))
        let first = Task { try await agent.get(minimumValidity: .seconds(60), canPrompt: true, client: alice) { _ in } }
        try await eventually { await provider.pollWaiters == 1 }
        await provider.approve()
        _ = try await first.value
        try await eventually { clock.earliestDeadline == .seconds(300) }
        clock.advance(by: .seconds(300))
        try await eventually("login needed") { audit.count(.loginNeeded) == 1 }
        #expect(await provider.refreshRequests.isEmpty)
    }

    @Test func auditRecordsNeverContainATokenOrDeviceCode() async throws {
        let provider = ScriptedProvider()
        let audit = RecordingAuditSink()
        let agent = makeAgent(provider, audit: audit)
        let first = Task { try await agent.get(minimumValidity: .seconds(60), canPrompt: true, client: alice) { _ in } }
        try await eventually { await provider.pollWaiters == 1 }
        await provider.approve()
        let served = try await first.value
        _ = await agent.erase(fingerprint: served.fingerprint, client: alice)
        _ = try await agent.get(minimumValidity: .seconds(60), canPrompt: false, client: alice) { _ in }
        _ = await agent.logout(client: alice)
        let text = audit.renderedText
        #expect(audit.all.count >= 6)
        for secret in ["access-token-secret", "refresh-token-secret", "device-code-secret"] {
            #expect(!text.contains(secret), "audit output contains \(secret)")
        }
        #expect(text.contains(served.fingerprint))
        #expect(text.contains("MESSAGE_ID=\(AuditEvent.tokenServed.messageID)"))
    }

    /// Logs in with a 600 s token and returns the agent, its provider and clock.
    /// Security review, finding 12: `get --min-valid 2h` against 1 h tokens refreshed on every call.
    @Test func aMinValidBeyondWhatTheProviderIssuesDoesNotRefreshOnEveryCall() async throws {
        let (agent, provider, clock) = try await loggedIn()
        for _ in 0..<5 {
            let served = try await agent.get(minimumValidity: .seconds(1200), canPrompt: false, client: alice) { _ in }
            #expect(served.text == "access-token-secret-1")
            #expect(served.shortOfMinimumValidity)
            clock.advance(by: .seconds(1))
        }
        #expect(await provider.refreshRequests.isEmpty)
        // Once the token is worse than a refresh would give (past the margin), one refresh is worth it.
        clock.advance(by: .seconds(100))
        let renewed = try await agent.get(minimumValidity: .seconds(1200), canPrompt: false, client: alice) { _ in }
        #expect(renewed.text == "access-token-secret-2")
        #expect(renewed.shortOfMinimumValidity)
        #expect(await provider.refreshRequests.count == 1)
        // A min_valid the token meets says nothing extra.
        #expect(try await agent.get(minimumValidity: .seconds(60), canPrompt: false, client: alice) { _ in }.shortOfMinimumValidity == false)
    }

    private func loggedIn(_ provider: ScriptedProvider = ScriptedProvider(), audit: RecordingAuditSink = RecordingAuditSink(),
                          persistence: MemoryPersistence = MemoryPersistence())
        async throws -> (AudienceAgent, ScriptedProvider, ManualClock) {
        await provider.setAccessLifetime(600)
        let clock = ManualClock()
        let agent = makeAgent(provider, clock: clock, audit: audit, persistence: persistence)
        let first = Task { try await agent.get(minimumValidity: .seconds(60), canPrompt: true, client: alice) { _ in } }
        try await eventually { await provider.pollWaiters == 1 }
        await provider.approve()
        _ = try await first.value
        return (agent, provider, clock)
    }

    @Test func aNetworkErrorAfterExpiryNeverEndsTheLogin() async throws {
        let audit = RecordingAuditSink()
        let (agent, provider, clock) = try await loggedIn(audit: audit)
        // The laptop slept past expiry; on wake the network is not back yet.
        await provider.queueRefreshOutcome(.failure(ProviderError(.transient, "cannot resolve host")))
        clock.advance(by: .seconds(700))
        try await eventually("first attempt") { await provider.refreshRequests.count == 1 }
        #expect(audit.count(.loginNeeded) == 0)
        // The retry (5 s + jitter) succeeds and a script is served again without a device flow.
        try await eventually("retry armed") { clock.earliestDeadline != nil }
        clock.advance(by: .seconds(10))
        try await eventually("second attempt") { await provider.refreshRequests.count == 2 }
        let token = try await agent.get(minimumValidity: .seconds(60), canPrompt: false, client: alice) { _ in }
        #expect(token.text == "access-token-secret-2")
        #expect(await provider.deviceCodeRequests == 1)
    }

    @Test func aSetupErrorKeepsTheRefreshTokenAndAReloadRecovers() async throws {
        let persistence = MemoryPersistence()
        let (agent, provider, clock) = try await loggedIn(persistence: persistence)
        await provider.queueRefreshOutcome(.failure(ProviderError(.provider, "invalid_client: the client secret is wrong")))
        clock.advance(by: .seconds(540))
        try await eventually("refresh attempted") { await provider.refreshRequests.count == 1 }
        try await eventually("refresh failed") {
            let status = await agent.status()
            return status.state == .valid && status.hasRefreshToken
        }
        // The config is fixed and reloaded: renewal works again with the same refresh token.
        await agent.reconfigure(policy: AudiencePolicy(name: "demo", requestedScopes: ["read"]), provider: provider,
                                identityChanged: false)
        let token = try await agent.get(minimumValidity: .seconds(600), canPrompt: false, client: alice) { _ in }
        #expect(token.text == "access-token-secret-2")
        #expect(await provider.refreshRequests == ["refresh-token-secret-1", "refresh-token-secret-1"])
    }

    @Test func aRefreshThatReturnsAfterLogoutIsDiscarded() async throws {
        let (agent, provider, clock) = try await loggedIn()
        clock.advance(by: .seconds(10))
        await provider.setHoldRefreshes(true)
        let pending = Task { try? await agent.get(minimumValidity: .seconds(600), canPrompt: false, client: alice) { _ in } }
        try await eventually("refresh in flight") { await provider.refreshesWaiting == 1 }
        _ = await agent.logout(client: alice)
        await provider.releaseRefreshes()
        _ = await pending.value
        #expect(await agent.status().state == .loggedOut)
        await #expect(throws: ProtocolFailure.self) {
            _ = try await agent.get(minimumValidity: .seconds(1), canPrompt: false, client: alice) { _ in }
        }
    }

    @Test func shutdownWaitsForARefreshInFlightSoTheRotatedTokenIsSaved() async throws {
        let persistence = MemoryPersistence()
        let (agent, provider, clock) = try await loggedIn(persistence: persistence)
        clock.advance(by: .seconds(10))
        await provider.setHoldRefreshes(true)
        let pending = Task { try? await agent.get(minimumValidity: .seconds(600), canPrompt: false, client: alice) { _ in } }
        try await eventually("refresh in flight") { await provider.refreshesWaiting == 1 }
        let stopping = Task { await agent.shutdown() }
        try await eventually("shutdown waiting for the refresh") { await agent.refreshWaiters == 2 }
        await provider.releaseRefreshes()
        await stopping.value
        _ = await pending.value
        let saved = await persistence.saved["demo"]
        #expect(saved.map { $0.refreshToken != nil } == true)
        #expect(await persistence.saveCount >= 2)
    }

    @Test func aJoinedRefreshThatFailsDoesNotRelaxMinimumValidity() async throws {
        let (agent, provider, clock) = try await loggedIn()
        clock.advance(by: .seconds(300))  // 300 s left
        await provider.setHoldRefreshes(true)
        await provider.queueRefreshOutcome(.failure(ProviderError(.loginNeeded, "invalid_grant")))
        let background = Task { try? await agent.get(minimumValidity: .seconds(400), canPrompt: false, client: alice) { _ in } }
        try await eventually("refresh in flight") { await provider.refreshesWaiting == 1 }
        let joined = Task { try await agent.get(minimumValidity: .seconds(400), canPrompt: false, client: alice) { _ in } }
        try await eventually("second request joined") { await agent.refreshWaiters == 2 }
        await provider.releaseRefreshes()
        _ = await background.value
        do {
            _ = try await joined.value
            Issue.record("a token with 300 s left was served for --min-valid 400")
        } catch {
            #expect((error as? ProtocolFailure)?.code == .loginNeeded)
        }
    }

    @Test func aZeroLifetimeTokenDoesNotRefreshInATightLoop() async throws {
        let provider = ScriptedProvider()
        await provider.setAccessLifetime(0)
        let clock = ManualClock()
        let agent = makeAgent(provider, clock: clock)
        let first = Task { try await agent.get(minimumValidity: .seconds(60), canPrompt: true, client: alice) { _ in }.text }
        try await eventually { await provider.pollWaiters == 1 }
        await provider.approve()
        // Served, not re-prompted, although it is already at its expiry.
        #expect(try await first.value == "access-token-secret-1")
        // The retry timer is armed (waited for, not slept on); until the clock moves nothing refreshes.
        try await eventually("timer armed") { clock.earliestDeadline == .seconds(2) }
        #expect(await provider.refreshRequests.count == 0)
        #expect(await provider.deviceCodeRequests == 1)
    }
    @Test func aPendingLoginDoesNotStopRefreshesForClientsThatCannotPrompt() async throws {
        let (agent, provider, clock) = try await loggedIn()

        // Someone runs `authctl login` again; the new flow waits for approval.
        let relogin = Task { try await agent.login(client: alice) { _ in } }
        try await eventually("second flow polling") { await provider.pollWaiters == 1 }
        // Status shows the login still in use, and that a new one waits.
        let waiting = await agent.status()
        #expect(waiting.state == .valid && waiting.loginPending)

        // A script that cannot prompt needs more validity than is left: the current login is refreshed.
        clock.advance(by: .seconds(10))
        let scripted = try await agent.get(minimumValidity: .seconds(600), canPrompt: false, client: alice) { _ in }.text
        #expect(scripted == "access-token-secret-2")
        #expect(await provider.refreshRequests == ["refresh-token-secret-1"])

        // A terminal too is served by a refresh rather than made to wait for someone else's approval.
        clock.advance(by: .seconds(10))
        let interactive = try await agent.get(minimumValidity: .seconds(600), canPrompt: true, client: alice) { _ in }.text
        #expect(interactive == "access-token-secret-3")
        #expect(await provider.refreshRequests == ["refresh-token-secret-1", "refresh-token-secret-2"])

        // The refresh timer keeps running under the pending flow too (due 60 s before the new token's expiry).
        #expect(await agent.status().refreshAt != nil)
        clock.advance(by: .seconds(540))
        try await eventually("scheduled refresh during the flow") { await provider.refreshRequests.count == 3 }
        #expect(await provider.pollWaiters == 1, "the pending flow is untouched")

        // Approval replaces the login with the new one; nothing of the old one is served after.
        await provider.approve()
        _ = try await relogin.value
        let after = try await agent.get(minimumValidity: .seconds(60), canPrompt: false, client: alice) { _ in }.text
        #expect(after == "access-token-secret-5")
        #expect(await provider.deviceCodeRequests == 2)
    }

    @Test func withoutARefreshTokenAPendingLoginStillMeansLoginNeededForScripts() async throws {
        let (agent, provider, clock) = try await loggedIn()
        clock.advance(by: .seconds(10))
        await provider.queueRefreshOutcome(.failure(ProviderError(.loginNeeded, "invalid_grant")))
        let relogin = Task { try await agent.login(client: alice) { _ in } }
        try await eventually("second flow polling") { await provider.pollWaiters == 1 }
        // The refresh is refused; the script is told to log in instead of waiting for someone else's flow.
        await #expect(throws: ProtocolFailure.self) {
            _ = try await agent.get(minimumValidity: .seconds(600), canPrompt: false, client: alice) { _ in }
        }
        // Tried, and refused: the refresh the clock's advance scheduled may have run first and been the one.
        #expect(await provider.refreshRequests.count >= 1)
        relogin.cancel()
    }

    @Test func noRefreshStartsOnceTheAgentIsShutDown() async throws {
        let (agent, provider, clock) = try await loggedIn()
        await agent.shutdown()
        // Past the refresh time and past expiry: a stopping daemon rotates nothing it might not save.
        clock.advance(by: .seconds(700))
        _ = try? await agent.get(minimumValidity: .seconds(60), canPrompt: false, client: alice) { _ in }
        try await Task.sleep(for: .milliseconds(20))
        #expect(await provider.refreshRequests.isEmpty)
    }
}
