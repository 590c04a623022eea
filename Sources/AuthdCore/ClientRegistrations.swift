// The clients authd registered for `client_id = "register"` audiences: registered once, kept sealed, forgotten on request.
import AuthdOAuth
import AuthdStore
import AuthdSystem

/// The one owner of registered clients. Providers are rebuilt at every reload; they all ask here,
/// so an audience registers once per provider, and concurrent first uses share one registration.
public actor ClientRegistrations {
    private let persistence: StorePersistence?
    /// Registrations kept in memory only: audiences with `persist = false`, or no usable store.
    private var unpersisted: [String: StoredRegistration] = [:]
    private var inFlight: [String: Task<Result<StoredRegistration, OAuthError>, Never>] = [:]
    private let wallSeconds: @Sendable () -> Int64
    private let audit: any AuditSink
    private let warn: @Sendable (String) -> Void

    public init(persistence: StorePersistence?, wallSeconds: @escaping @Sendable () -> Int64, audit: any AuditSink,
                warn: @escaping @Sendable (String) -> Void = { _ in }) {
        self.persistence = persistence
        self.wallSeconds = wallSeconds
        self.audit = audit
        self.warn = warn
    }

    /// The client id registered for `audience` at `identity`'s provider, registering first when there is none.
    public func clientID(audience: String, identity: LoginIdentity, persist: Bool,
                         register: @escaping @Sendable () async throws(OAuthError) -> RegisteredClient) async throws(OAuthError) -> String {
        if let known = await existing(audience: audience, identity: identity) { return known.clientID }
        let task: Task<Result<StoredRegistration, OAuthError>, Never>
        if let running = inFlight[audience] {
            task = running
        } else {
            let now = wallSeconds()
            task = Task {
                do throws(OAuthError) {
                    let client = try await register()
                    return .success(StoredRegistration(
                        audience: audience, issuer: identity.issuer, clientID: client.clientID,
                        registrationAccessToken: client.registrationAccessToken.map { SecretBytes(copying: $0) },
                        registrationClientURI: client.registrationClientURI, registeredAt: now))
                } catch {
                    return .failure(error)
                }
            }
            inFlight[audience] = task
        }
        let result = await task.value
        if inFlight[audience] == task {
            inFlight[audience] = nil
            if case .success(let registration) = result {
                await keep(registration, persist: persist)
                audit.record(AuditRecord(.clientRegistered, "\(audience): registered as client \(registration.clientID)", audience: audience,
                                         detail: registration.registrationClientURI == nil ? "the provider offers no deletion (RFC 7592)" : nil))
            }
        }
        return try result.get().clientID
    }

    /// The registration now kept for `audience`, if it belongs to `identity`'s provider.
    public func existing(audience: String, identity: LoginIdentity) async -> StoredRegistration? {
        if let held = unpersisted[audience], held.issuer == identity.issuer { return held }
        return await persistence?.registration(audience: audience, identity: identity)
    }

    /// Forgets `audience`'s registration (memory and store) and hands it back for deletion at the provider.
    public func forget(audience: String, identity: LoginIdentity) async -> StoredRegistration? {
        let registration = await existing(audience: audience, identity: identity)
        unpersisted[audience] = nil
        if registration != nil, await persistence?.registration(audience: audience, identity: identity) != nil {
            do { try await persistence?.saveRegistration(nil, audience: audience) } catch {
                warn("\(audience): the registered client could not be erased from the store: \(error)")
            }
        }
        return registration
    }

    private func keep(_ registration: StoredRegistration, persist: Bool) async {
        guard persist, let persistence else {
            unpersisted[registration.audience] = registration
            return
        }
        do {
            try await persistence.saveRegistration(registration, audience: registration.audience)
        } catch {
            // Served from memory until the store can be written: a restart then registers again.
            unpersisted[registration.audience] = registration
            warn("\(registration.audience): the registered client \(registration.clientID) could not be stored (\(error)); "
                 + "it is used until authd stops, and authd registers again after a restart")
        }
    }
}
