// Test doubles for the daemon core: a scripted provider, an in-memory audit sink (the clock is AuthdTestSupport's).
import AuthdCore
import AuthdOAuth
import AuthdSystem
import AuthdTestSupport
import AuthdWire
import Synchronization

/// Records audit events; tests search them for secrets.
final class RecordingAuditSink: AuditSink {
    private let records = Mutex<[AuditRecord]>([])
    func record(_ record: AuditRecord) { records.withLock { $0.append(record) } }
    var all: [AuditRecord] { records.withLock { $0 } }
    func count(_ event: AuditEvent) -> Int { all.filter { $0.event == event }.count }
    var renderedText: String {
        all.map { r in r.journalFields.map { "\($0.0)=\($0.1)" }.joined(separator: "\n") + "\n" + r.jsonLine(wallClock: 0) }
            .joined(separator: "\n")
    }
}

/// A provider whose answers the test scripts: device flows wait for `approve()`/`deny()`.
actor ScriptedProvider: AudienceProvider {
    var deviceCodeRequests = 0
    var refreshRequests: [String] = []
    var revocations: [(String?, String?)] = []
    var pollsCancelled = 0
    var issued = 0
    var accessLifetime: Int64? = 3600
    var refreshOutcomes: [Result<Void, ProviderError>] = []
    var rotateRefreshTokens = true
    /// The verified identity and id_token the next logins and refreshes carry (nil: none).
    var mintedIdentity: VerifiedIdentity?
    func setMintedIdentity(_ identity: VerifiedIdentity?) { mintedIdentity = identity }
    private var waiting: [CheckedContinuation<Result<Void, ProviderError>, Never>] = []
    private var decided: Result<Void, ProviderError>?

    nonisolated var issuer: String? { get async { "http://127.0.0.1:1" } }

    func setAccessLifetime(_ seconds: Int64?) { accessLifetime = seconds }
    /// The wall time (Unix seconds) the next minted refresh tokens expire at, as the engine reports it; nil: unknown.
    var refreshTokenExpiresAt: Int64?
    func setRefreshTokenExpiresAt(_ wall: Int64?) { refreshTokenExpiresAt = wall }
    func queueRefreshOutcome(_ outcome: Result<Void, ProviderError>) { refreshOutcomes.append(outcome) }

    func runDeviceFlow(events: @escaping @Sendable (DeviceFlowEvent) -> Void) async throws -> IssuedTokens {
        deviceCodeRequests += 1
        decided = nil
        events(.prompt(DeviceFlowPrompt(userCode: "BCDF-GHJK", verificationURI: "http://127.0.0.1:1/device",
                                        verificationURIComplete: "http://127.0.0.1:1/device?user_code=BCDFGHJK", expiresIn: 600,
                                        expiresAtUnixSeconds: 1_800_000_600)))
        let outcome: Result<Void, ProviderError> = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                if let decided { continuation.resume(returning: decided) } else { waiting.append(continuation) }
            }
        } onCancel: {
            Task { await self.cancelWaiters() }
        }
        try outcome.get()
        return mint()
    }

    private func cancelWaiters() {
        pollsCancelled += 1
        let all = waiting
        waiting = []
        for c in all { c.resume(returning: .failure(ProviderError(.cancelled, "cancelled"))) }
    }

    func approve() { decide(.success(())) }
    func deny() { decide(.failure(ProviderError(.denied, "the person denied the request"))) }

    private func decide(_ outcome: Result<Void, ProviderError>) {
        decided = outcome
        let all = waiting
        waiting = []
        for c in all { c.resume(returning: outcome) }
    }

    var pollWaiters: Int { waiting.count }

    /// When set, refreshes wait until `releaseRefreshes()` (to hold one in flight).
    var holdRefreshes = false
    private var heldRefreshes: [CheckedContinuation<Void, Never>] = []
    var refreshesWaiting: Int { heldRefreshes.count }
    func setHoldRefreshes(_ hold: Bool) { holdRefreshes = hold }
    func releaseRefreshes() {
        holdRefreshes = false
        let all = heldRefreshes
        heldRefreshes = []
        for c in all { c.resume() }
    }

    func refresh(refreshToken: String) async throws -> IssuedTokens {
        refreshRequests.append(refreshToken)
        if holdRefreshes { await withCheckedContinuation { heldRefreshes.append($0) } }
        if !refreshOutcomes.isEmpty { try refreshOutcomes.removeFirst().get() }
        var tokens = mint()
        if !rotateRefreshTokens { tokens.refreshToken = nil }
        return tokens
    }

    /// Narrowing refreshes asked for, in order; each is also in `refreshRequests`.
    var narrowings: [TokenNarrowing] = []
    /// Answer a narrowing refresh with the full scopes, as some providers do.
    var ignoreNarrowing = false
    func setIgnoreNarrowing(_ ignore: Bool) { ignoreNarrowing = ignore }
    func setRotateRefreshTokens(_ rotate: Bool) { rotateRefreshTokens = rotate }
    var lastIssuedRefreshToken: String { "refresh-token-secret-\(issued)" }

    func refresh(refreshToken: String, narrowing: TokenNarrowing) async throws -> IssuedTokens {
        narrowings.append(narrowing)
        var tokens = try await refresh(refreshToken: refreshToken)
        if !ignoreNarrowing, let scopes = narrowing.scopes { tokens.scopes = scopes }
        return tokens
    }

    func revoke(refreshToken: String?, accessToken: String?) async -> RevocationOutcome {
        revocations.append((refreshToken, accessToken))
        return .revoked
    }

    private func mint() -> IssuedTokens {
        issued += 1
        var tokens = IssuedTokens(accessToken: "access-token-secret-\(issued)", expiresIn: accessLifetime,
                                  refreshToken: "refresh-token-secret-\(issued)", refreshTokenExpiresAt: refreshTokenExpiresAt,
                                  scopes: ["read", "write"], subject: "alice")
        if let mintedIdentity {
            tokens.identity = mintedIdentity
            tokens.idToken = "id-token-secret-\(issued)"
            tokens.subject = mintedIdentity.displayName
        }
        return tokens
    }
}

/// Lets a test wait until a condition holds, yielding to other tasks meanwhile (no wall-clock sleeps
/// that decide the outcome; the bound only stops a broken test from hanging).
func eventually(_ what: String = "condition", _ condition: () async -> Bool) async throws {
    // A time ceiling, not a count of tries: on a loaded machine each try can take far longer than it sleeps.
    let deadline = ContinuousClock.now + .seconds(300)
    while ContinuousClock.now < deadline {
        if await condition() { return }
        await Task.yield()
        try await Task.sleep(for: .microseconds(200))
    }
    struct Timeout: Error, CustomStringConvertible { var what: String; var description: String { "timed out waiting for \(what)" } }
    throw Timeout(what: what)
}

let alice = ClientIdentity(uid: 1000, pid: 4242, executable: "/usr/bin/authctl", hasControllingTerminal: true)

func makeAgent(_ provider: ScriptedProvider, clock: ManualClock = ManualClock(),
               audit: RecordingAuditSink = RecordingAuditSink(), persistence: MemoryPersistence = MemoryPersistence(),
               policy: AudiencePolicy = AudiencePolicy(name: "demo", requestedScopes: ["read"])) -> AudienceAgent {
    AudienceAgent(policy: policy, provider: provider,
                  environment: AgentEnvironment(clock: clock, vault: TokenVault(), audit: audit, persistence: persistence,
                                                jitter: { 0.5 }))
}

extension ServedToken {
    var text: String { token.copyString() ?? "" }
}

final class Counter: Sendable {
    private let count = Mutex(0)
    func increment() { count.withLock { $0 += 1 } }
    var value: Int { count.withLock { $0 } }
}
