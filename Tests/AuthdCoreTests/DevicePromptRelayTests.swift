// The engine's device-flow prompt becomes the wire prompt in one place: the audience and a QR code added, nothing else changed, and a client that joins later gets it too.
@testable import AuthdCore
import AuthdSystem
import AuthdTestSupport
import AuthdWire
import Synchronization
import Testing

@Suite struct DevicePromptRelayTests {
    final class Prompts: Sendable {
        private let seen = Mutex<[DevicePrompt]>([])
        func record(_ line: ReplyLine) { if case .prompt(let p) = line { seen.withLock { $0.append(p) } } }
        var all: [DevicePrompt] { seen.withLock { $0 } }
    }

    @Test func theWirePromptIsTheEnginesWithTheAudienceAndAQRCode() async throws {
        let provider = ScriptedProvider()
        let qrFor = Mutex<[String]>([])
        let environment = AgentEnvironment(clock: ManualClock(), vault: TokenVault(), audit: RecordingAuditSink(),
                                           persistence: MemoryPersistence(),
                                           qrRows: { uri in qrFor.withLock { $0.append(uri) }; return ["101", "010"] }, jitter: { 0.5 })
        let agent = AudienceAgent(policy: AudiencePolicy(name: "demo", requestedScopes: ["read"]), provider: provider, environment: environment)
        let first = Prompts(), second = Prompts()
        let a = Task { try await agent.login(client: alice) { first.record($0) } }
        try await eventually("the first prompt") { await provider.pollWaiters == 1 && first.all.count == 1 }
        let b = Task { try await agent.login(client: alice) { second.record($0) } }
        try await eventually("the late joiner's prompt") { second.all.count == 1 }
        await provider.approve()
        _ = try await a.value
        _ = try await b.value
        let expected = DevicePrompt(audience: "demo", verificationURI: "http://127.0.0.1:1/device", userCode: "BCDF-GHJK",
                                    verificationURIComplete: "http://127.0.0.1:1/device?user_code=BCDFGHJK",
                                    expiresAt: 1_800_000_600, expiresIn: 600, qrRows: ["101", "010"], providerMessage: nil)
        #expect(first.all == [expected])
        #expect(second.all == [expected])
        // The QR code is of the complete URI, made once for the flow.
        #expect(qrFor.withLock { $0 } == ["http://127.0.0.1:1/device?user_code=BCDFGHJK"])
        #expect(await provider.deviceCodeRequests == 1)
    }
}
