// The daemon's registered clients: one registration shared by concurrent first uses, kept in the store, bound to the provider.
@testable import AuthdCore
import AuthdOAuth
import AuthdStore
import AuthdSystem
import AuthdTestSupport
import Foundation
import Synchronization
import Testing

@Suite struct ClientRegistrationsTests {
    static let identity = LoginIdentity(issuer: "https://sso.example.com", clientID: "register")

    /// Counts registrations; each one answers a new client id after a moment (so callers overlap).
    final class Registrar: Sendable {
        let count = Mutex(0)
        let failing: Bool
        init(failing: Bool = false) { self.failing = failing }
        var register: @Sendable () async throws(OAuthError) -> RegisteredClient {
            { () async throws(OAuthError) in
                let n = self.count.withLock { $0 += 1; return $0 }
                try? await Task.sleep(for: .milliseconds(20))
                if self.failing { throw OAuthError.httpStatus(endpoint: OAuthEndpoint(.registration, "https://sso.example.com/reg"), status: 503) }
                return RegisteredClient(clientID: "client-\(n)", registrationAccessToken: "rat-\(n)",
                                        registrationClientURI: "https://sso.example.com/reg/client-\(n)")
            }
        }
    }

    @Test func concurrentFirstUsesShareOneRegistration() async throws {
        let audit = RecordingAuditSink()
        let registrations = ClientRegistrations(persistence: nil, wallSeconds: { 1_800_000_000 }, audit: audit)
        let registrar = Registrar()
        let ids = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<5 {
                group.addTask { try await registrations.clientID(audience: "sso", identity: Self.identity, persist: true, register: registrar.register) }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(Set(ids) == ["client-1"])
        #expect(registrar.count.withLock { $0 } == 1)
        #expect(audit.count(.clientRegistered) == 1)
        #expect(!audit.renderedText.contains("rat-1"), "the registration access token is never audited")
        // Another provider (a changed issuer) registers anew; forgetting hands back what was kept.
        let elsewhere = LoginIdentity(issuer: "https://other.example.com", clientID: "register")
        #expect(try await registrations.clientID(audience: "sso", identity: elsewhere, persist: true, register: registrar.register) == "client-2")
        let forgotten = await registrations.forget(audience: "sso", identity: elsewhere)
        #expect(forgotten?.registrationAccessToken?.copyString() == "rat-2")
        #expect(await registrations.existing(audience: "sso", identity: elsewhere) == nil)
    }

    @Test func aFailedRegistrationIsNotKept() async throws {
        let registrations = ClientRegistrations(persistence: nil, wallSeconds: { 0 }, audit: RecordingAuditSink())
        let failing = Registrar(failing: true)
        await #expect(throws: OAuthError.self) {
            try await registrations.clientID(audience: "sso", identity: Self.identity, persist: true, register: failing.register)
        }
        #expect(await registrations.existing(audience: "sso", identity: Self.identity) == nil)
        let working = Registrar()
        #expect(try await registrations.clientID(audience: "sso", identity: Self.identity, persist: true, register: working.register) == "client-1")
    }

    @Test func keptInTheStoreUnlessTheAudienceKeepsNothingOnDisk() async throws {
        let directory = "/tmp/authd-registrations-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try TokenStore.open(directory: directory)
        let persistence = try StorePersistence(store: store, identities: [:], vault: TokenVault(), clock: ManualClock())
        let registrations = ClientRegistrations(persistence: persistence, wallSeconds: { 1_800_000_000 }, audit: RecordingAuditSink())
        let registrar = Registrar()
        _ = try await registrations.clientID(audience: "kept", identity: Self.identity, persist: true, register: registrar.register)
        _ = try await registrations.clientID(audience: "memory", identity: Self.identity, persist: false, register: registrar.register)
        let onDisk = try store.load().registrations
        #expect(onDisk.map(\.audience) == ["kept"])
        #expect(onDisk.first?.clientID == "client-1" && onDisk.first?.registrationAccessToken?.copyString() == "rat-1")
        #expect(onDisk.first?.issuer == Self.identity.issuer && onDisk.first?.registeredAt == 1_800_000_000)
        // Forgetting erases it from the store.
        _ = await registrations.forget(audience: "kept", identity: Self.identity)
        #expect(try store.load().registrations.isEmpty)
    }
}
