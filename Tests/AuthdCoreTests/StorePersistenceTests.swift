// Logins through the real encrypted store: saved, reloaded into a new process's vault, bound to their identity.
@testable import AuthdCore
import AuthdOAuth
import AuthdStore
import AuthdSystem
import AuthdTestSupport
import Foundation
import Testing

@Suite struct StorePersistenceTests {
    private func temporaryDirectory() -> String {
        let path = "/tmp/authd-persist-\(UUID().uuidString.prefix(8))"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test func loginSurvivesAReopenAndOnlyForTheSameIdentity() async throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let identity = LoginIdentity(issuer: "http://127.0.0.1:1", clientID: "cli")
        let clock = ManualClock()
        let provider = ScriptedProvider()
        do {
            let vault = TokenVault()
            let persistence = try StorePersistence(store: try TokenStore.open(directory: directory), identities: ["demo": identity],
                                                   vault: vault, clock: clock)
            let agent = AudienceAgent(policy: AudiencePolicy(name: "demo", requestedScopes: ["read"], identity: identity), provider: provider,
                                      environment: AgentEnvironment(clock: clock, vault: vault, audit: RecordingAuditSink(),
                                                                    persistence: persistence))
            let first = Task { try await agent.get(minimumValidity: .seconds(60), canPrompt: true, client: alice) { _ in } }
            try await eventually { await provider.pollWaiters == 1 }
            await provider.approve()
            _ = try await first.value
            await agent.shutdown()
        }
        // A new process: new vault, the store reopened from disk.
        let vault = TokenVault()
        // The first store's lock goes with its last reference (a cancelled timer task may hold it briefly).
        // Waited for up to 60 s: a fixed number of tries is too few on a loaded machine.
        var store: TokenStore?
        let deadline = ContinuousClock.now + .seconds(60)
        while store == nil {
            store = try? TokenStore.open(directory: directory)
            if store == nil {
                guard ContinuousClock.now < deadline else { break }
                try await Task.sleep(for: .milliseconds(10))
            }
        }
        let reopened = try StorePersistence(store: try #require(store), identities: ["demo": identity], vault: vault, clock: clock)
        let restored = await reopened.restorable()
        let login = try #require(restored["demo"])
        #expect(login.scopes == ["read", "write"])
        #expect(login.accessTokenFingerprint != nil)
        let bytes = try #require(login.refreshToken)
        #expect(try vault.open(bytes, context: "refresh:demo").copyString() == "refresh-token-secret-1")
        // Pointed at another issuer, the same audience name gets nothing.
        await reopened.setIdentities(["demo": LoginIdentity(issuer: "https://elsewhere.example", clientID: "cli")])
        #expect(await reopened.restorable().isEmpty)
        // The file holds no token in plain text.
        let file = try Data(contentsOf: URL(fileURLWithPath: directory + "/" + TokenStore.fileName))
        #expect(file.range(of: Data("access-token-secret-1".utf8)) == nil)
        #expect(file.range(of: Data("refresh-token-secret-1".utf8)) == nil)
    }

    /// The engine's wall time for the refresh token's end is what the store keeps, unchanged; on
    /// both sides it becomes the same monotonic deadline, after which the login needs a person.
    @Test func aRefreshTokensExpiryGoesFromTheEngineToTheStoreAsOneWallTime() async throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let identity = LoginIdentity(issuer: "http://127.0.0.1:1", clientID: "cli")
        let clock = ManualClock()
        let provider = ScriptedProvider()
        let refreshEnds = clock.unixSecondsAtOrigin + 7_200
        await provider.setRefreshTokenExpiresAt(refreshEnds)
        let store = try TokenStore.open(directory: directory)
        let vault = TokenVault()
        let persistence = try StorePersistence(store: store, identities: ["demo": identity], vault: vault, clock: clock)
        let agent = AudienceAgent(policy: AudiencePolicy(name: "demo", requestedScopes: ["read"], identity: identity), provider: provider,
                                  environment: AgentEnvironment(clock: clock, vault: vault, audit: RecordingAuditSink(),
                                                                persistence: persistence))
        clock.advance(by: .seconds(100))
        let first = Task { try await agent.get(minimumValidity: .seconds(60), canPrompt: true, client: alice) { _ in } }
        try await eventually { await provider.pollWaiters == 1 }
        await provider.approve()
        _ = try await first.value
        #expect(try store.load().logins.first?.refreshTokenExpiry == refreshEnds)
        let restored = try #require(await persistence.restorable()["demo"])
        #expect(restored.refreshExpiry == ClockMoment(wall: refreshEnds, now: ClockReading(monotonic: .seconds(100), wall: clock.unixSecondsAtOrigin + 100)))
        #expect(restored.refreshExpiry?.monotonic == .seconds(7_200))
        #expect(restored.refreshTokenIsUsable(now: .seconds(7_199)))
        #expect(!restored.refreshTokenIsUsable(now: .seconds(7_200)))
        await agent.shutdown()
    }

    @Test func theVerifiedIdentityAndIDTokenSurviveARestart() async throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let identity = LoginIdentity(issuer: "http://127.0.0.1:1", clientID: "cli")
        let clock = ManualClock()
        let provider = ScriptedProvider()
        let evidence = VerifiedIdentity(issuer: "http://127.0.0.1:1", subject: "00u1", email: "a@example.com",
                                        authenticationMethods: ["pwd", "mfa"], authTime: 5, expiresAt: 1_900_000_000)
        await provider.setMintedIdentity(evidence)
        do {
            let vault = TokenVault()
            let persistence = try StorePersistence(store: try TokenStore.open(directory: directory), identities: ["demo": identity],
                                                   vault: vault, clock: clock)
            let agent = AudienceAgent(policy: AudiencePolicy(name: "demo", requestedScopes: ["openid"], identity: identity), provider: provider,
                                      environment: AgentEnvironment(clock: clock, vault: vault, audit: RecordingAuditSink(),
                                                                    persistence: persistence))
            let first = Task { try await agent.get(minimumValidity: .seconds(60), canPrompt: true, client: alice) { _ in } }
            try await eventually { await provider.pollWaiters == 1 }
            await provider.approve()
            _ = try await first.value
            await agent.shutdown()
        }
        var store: TokenStore?
        let deadline = ContinuousClock.now + .seconds(60)
        while store == nil {
            store = try? TokenStore.open(directory: directory)
            if store == nil {
                guard ContinuousClock.now < deadline else { break }
                try await Task.sleep(for: .milliseconds(10))
            }
        }
        let vault = TokenVault()
        let restored = await (try StorePersistence(store: try #require(store), identities: ["demo": identity], vault: vault,
                                                   clock: clock)).restorable()
        let login = try #require(restored["demo"])
        #expect(login.identity == evidence)
        let sealed = try #require(login.idToken)
        #expect(try vault.open(sealed, context: "id:demo").copyString() == "id-token-secret-1")
        let file = try Data(contentsOf: URL(fileURLWithPath: directory + "/" + TokenStore.fileName))
        #expect(file.range(of: Data("id-token-secret-1".utf8)) == nil)
    }

    /// Logins of audiences no longer configured, and registered clients, are held sealed and written
    /// back as they were when another audience's login is saved.
    @Test func recordsOfOtherAudiencesAreWrittenBackUnchanged() async throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var gone = StoredLogin(audience: "gone", issuer: "https://old.example", clientID: "old-client",
                               refreshToken: SecretBytes(copying: "old-refresh"), accessToken: SecretBytes(copying: "old-access"),
                               accessTokenExpiry: 1_800_000_300, refreshTokenExpiry: 1_800_086_400, scopes: ["a", "b"],
                               loginTime: 1_799_990_000, subject: "someone")
        gone.idToken = SecretBytes(copying: "old-id-token")
        gone.identity = VerifiedIdentity(issuer: "https://old.example", subject: "s1", authenticationMethods: ["pwd"], expiresAt: 1_800_000_600)
        let registration = StoredRegistration(audience: "sso", issuer: "https://old.example", clientID: "dyn-1",
                                              registrationAccessToken: SecretBytes(copying: "rat-secret"),
                                              registrationClientURI: "https://old.example/register/dyn-1", registeredAt: 1_700_000_000)
        let store = try TokenStore.open(directory: directory)
        _ = try store.load()
        try store.save(StoreContents(logins: [gone], registrations: [registration]))

        let identity = LoginIdentity(issuer: "http://127.0.0.1:1", clientID: "cli")
        let clock = ManualClock()
        let vault = TokenVault()
        let persistence = try StorePersistence(store: store, identities: ["demo": identity], vault: vault, clock: clock)
        #expect(await persistence.restorable().isEmpty)
        let held = try #require(await persistence.registration(audience: "sso", identity: LoginIdentity(issuer: "https://old.example", clientID: "x")))
        #expect(held == registration)

        var login = Login(accessToken: vault.seal(SecretBytes(copying: "new-access"), context: "access:demo"), tokenType: "Bearer",
                          accessIssuedAt: .zero, scopes: ["read"], loginAtWall: clock.unixSecondsAtOrigin, loginAt: .zero)
        login.refreshToken = vault.seal(SecretBytes(copying: "new-refresh"), context: "refresh:demo")
        try await persistence.save(audience: "demo", identity: identity, login: login)

        let onDisk = try store.load()
        #expect(onDisk.logins.map(\.audience) == ["demo", "gone"])
        #expect(onDisk.logins.last == gone)
        #expect(onDisk.logins.first?.refreshToken?.copyString() == "new-refresh")
        #expect(onDisk.registrations == [registration])
        #expect(try #require(await persistence.restorable()["demo"]).accessToken.map { try vault.open($0, context: "access:demo").copyString() }
                == "new-access")
    }
}
