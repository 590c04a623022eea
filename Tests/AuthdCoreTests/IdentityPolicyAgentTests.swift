// The agent's side of identity: a policy refusal revokes and keeps nothing; evidence in status and audit; get --id-token.
import AuthdCore
import AuthdOAuth
import AuthdWire
import Testing

@Suite struct IdentityPolicyAgentTests {
    static func identity(_ amr: [String], expiresAt: Int64 = 1_000_000_000_000) -> VerifiedIdentity {
        VerifiedIdentity(issuer: "https://idp.example", subject: "00u1", email: "alice@example.com", preferredUsername: "alice",
                         authenticationMethods: amr, authTime: 1_700_000_000, expiresAt: expiresAt)
    }

    static func mfaPolicy() -> AudiencePolicy {
        var policy = AudiencePolicy(name: "demo", requestedScopes: ["openid"])
        policy.identityPolicy = IdentityPolicy(requireMFA: true)
        return policy
    }

    @Test func requireMFARefusesAPasswordLoginRevokesItAndKeepsNothing() async throws {
        let provider = ScriptedProvider()
        await provider.setMintedIdentity(Self.identity(["pwd"]))
        let audit = RecordingAuditSink()
        let persistence = MemoryPersistence()
        let agent = makeAgent(provider, audit: audit, persistence: persistence, policy: Self.mfaPolicy())
        let login = Task { try await agent.get(minimumValidity: .seconds(60), canPrompt: true, client: alice) { _ in }.text }
        try await eventually("poll") { await provider.pollWaiters == 1 }
        await provider.approve()
        do {
            _ = try await login.value
            Issue.record("served a token")
        } catch let failure as ProtocolFailure {
            #expect(failure.code == .refused)
            #expect(failure.code.exitCode == 6)
            #expect(failure.message.contains("require_mfa") && failure.message.contains("amr pwd"), "\(failure.message)")
        }
        #expect(await provider.revocations.count == 1)
        #expect(await provider.revocations.first?.1 == "access-token-secret-1")
        #expect(audit.count(.loginRefusedPolicy) == 1)
        #expect(audit.count(.deviceFlowApproved) == 0)
        #expect(!audit.renderedText.contains("access-token-secret"))
        #expect(await agent.status().state == .loggedOut)
    }

    @Test func anMFALoginIsKeptWithItsEvidence() async throws {
        let provider = ScriptedProvider()
        await provider.setMintedIdentity(Self.identity(["pwd", "otp"]))
        let audit = RecordingAuditSink()
        let agent = makeAgent(provider, audit: audit, policy: Self.mfaPolicy())
        let login = Task { try await agent.get(minimumValidity: .seconds(60), canPrompt: true, client: alice) { _ in }.text }
        try await eventually("poll") { await provider.pollWaiters == 1 }
        await provider.approve()
        #expect(try await login.value == "access-token-secret-1")
        let status = await agent.status()
        #expect(status.identity == "verified" && status.subject == "alice" && status.email == "alice@example.com")
        #expect(status.amr == ["pwd", "otp"] && status.mfa == true && status.authTime == 1_700_000_000)
        let approved = try #require(audit.all.first { $0.event == .deviceFlowApproved })
        #expect(approved.detail?.contains("sub=00u1") == true && approved.detail?.contains("amr=pwd,otp") == true)

        let id = try await agent.getIDToken(minimumValidity: .seconds(60), canPrompt: false, client: alice) { _ in }
        #expect(id.kind == .id && id.text == "id-token-secret-1" && id.expiresAtWall == 1_000_000_000_000)
    }

    @Test func anExpiredIDTokenIsRefreshedOnceThenLoginNeeded() async throws {
        let provider = ScriptedProvider()
        // Already expired by the manual clock's wall time.
        await provider.setMintedIdentity(Self.identity(["pwd"], expiresAt: 1))
        let agent = makeAgent(provider)
        let login = Task { try await agent.get(minimumValidity: .seconds(60), canPrompt: true, client: alice) { _ in }.text }
        try await eventually("poll") { await provider.pollWaiters == 1 }
        await provider.approve()
        _ = try await login.value
        await #expect(throws: ProtocolFailure.self) {
            _ = try await agent.getIDToken(minimumValidity: .seconds(60), canPrompt: false, client: alice) { _ in }
        }
        #expect(await provider.refreshRequests.count == 1)
        // A refresh that brings a fresh id_token serves it.
        await provider.setMintedIdentity(Self.identity(["pwd"]))
        let id = try await agent.getIDToken(minimumValidity: .seconds(60), canPrompt: false, client: alice) { _ in }
        #expect(id.text == "id-token-secret-3")
    }

    @Test func aRefreshedIDTokenForAnotherSubjectIsNotTaken() async throws {
        let provider = ScriptedProvider()
        await provider.setMintedIdentity(Self.identity(["pwd"], expiresAt: 1))
        let agent = makeAgent(provider)
        let login = Task { try await agent.get(minimumValidity: .seconds(60), canPrompt: true, client: alice) { _ in }.text }
        try await eventually("poll") { await provider.pollWaiters == 1 }
        await provider.approve()
        _ = try await login.value
        var other = Self.identity(["pwd"])
        other.subject = "someone-else"
        other.preferredUsername = "mallory"
        await provider.setMintedIdentity(other)
        await #expect(throws: ProtocolFailure.self) {
            _ = try await agent.getIDToken(minimumValidity: .seconds(60), canPrompt: false, client: alice) { _ in }
        }
        #expect(await agent.status().subject == "alice")
        #expect(await provider.refreshRequests.count == 1)
    }

    @Test func withoutAnIDTokenRequireMFARefuses() async throws {
        let provider = ScriptedProvider()
        let agent = makeAgent(provider, policy: Self.mfaPolicy())
        let login = Task { try await agent.get(minimumValidity: .seconds(60), canPrompt: true, client: alice) { _ in }.text }
        try await eventually("poll") { await provider.pollWaiters == 1 }
        await provider.approve()
        await #expect(throws: ProtocolFailure.self) { _ = try await login.value }
        #expect(await provider.revocations.count == 1)
    }
}
