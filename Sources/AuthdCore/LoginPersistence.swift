// The bridge between agents' sealed logins and the encrypted on-disk store.

/// Saves one audience's login (nil = erase it). Implementations serialise writes.
public protocol LoginPersistence: Sendable {
    /// Saves `login` (sealed under the daemon's vault) as belonging to `identity` (the issuer and
    /// client it came from), or erases the audience's stored login when `login` is nil.
    func save(audience: String, identity: LoginIdentity?, login: Login?) async throws
}

/// Logins kept in memory only (`persist = false` everywhere, and tests).
public actor MemoryPersistence: LoginPersistence {
    public private(set) var saved: [String: Login] = [:]
    public private(set) var saveCount = 0

    public init() {}

    public func save(audience: String, identity: LoginIdentity?, login: Login?) async throws {
        saveCount += 1
        saved[audience] = login
    }
}
