// Narrower tokens per request (`get --scope/--resource`): the serve/narrow/refuse decision and their cache.
import AuthdSystem
import AuthdWire

/// What to do with a `get` that asks for a narrower token, decided from what the login was granted.
public enum NarrowingDecision: Sendable, Equatable {
    /// It asks for exactly the login's own token: serve that, as a plain `get` would.
    case serveLogin
    /// A strict subset of the granted scopes and/or configured resources: a refresh-token grant asking
    /// for it (RFC 6749 §6, RFC 8707), cached under this key.
    case narrow(TokenNarrowing)
    /// Outside what was granted: refused at once, before any request to the provider.
    case refuse(String)

    /// `granted`: the login's scopes as the provider granted them, or before any login (`loggedIn`
    /// false) the configured ones it will ask for. `allowedResources`: the audience's configured
    /// `resource` list, the only ones its grant was asked for.
    public static func decide(_ asked: TokenNarrowing, audience: String, granted: [String], loggedIn: Bool = true,
                              allowedResources: [String]) -> NarrowingDecision {
        if let scopes = asked.scopes {
            let extra = scopes.filter { !granted.contains($0) }
            if !extra.isEmpty {
                let grantedText = granted.isEmpty ? "no scopes" : "\"\(granted.joined(separator: " "))\""
                let whose = loggedIn ? "was not granted to this login (it has \(grantedText))"
                    : "is not among the scopes this audience asks for (\(grantedText))"
                return .refuse("\(audience): scope \"\(extra.joined(separator: " "))\" \(whose); "
                               + "ask for a subset, or add the scope to the audience's scopes and run: authctl login \(audience)")
            }
        }
        let unknown = asked.resources.filter { !allowedResources.contains($0) }
        if !unknown.isEmpty {
            let configured = allowedResources.isEmpty ? "it has no resource configured"
                : "it has \(allowedResources.joined(separator: " "))"
            return .refuse("\(audience): resource \(unknown.joined(separator: " ")) is not one of this audience's resources (\(configured)); "
                           + "add it to the audience's resource list in the config and run: authctl login \(audience)")
        }
        let sameScopes = asked.scopes.map { Set($0) == Set(granted) } ?? true
        if asked.resources.isEmpty && sameScopes { return .serveLogin }
        return .narrow(asked)
    }

    /// Whether a provider's answer to a narrowing refresh really is narrower: the scopes it says it issued
    /// (nil: it did not say, which RFC 6749 §5.1 allows only when they are the ones asked for).
    public static func providerHonoured(_ asked: TokenNarrowing, issuedScopes: [String]?) -> Bool {
        guard let wanted = asked.scopes, let issued = issuedScopes else { return true }
        return Set(issued).isSubset(of: Set(wanted))
    }
}

/// One audience's narrower access tokens, per scope set, sealed like the login's own. Memory only: a
/// restart cuts them again from the stored login. Owned by the audience's agent (actor state).
struct ScopedTokenCache {
    struct Entry {
        var token: SealedSecret
        var tokenType: String
        var fingerprint: String
        var expiry: ClockMoment?
        var issuedLifetime: Duration?
        var scopes: [String]
        /// The agent's login generation it was cut from: a new login or a logout makes it stale.
        var generation: Int

        /// The expiry on the monotonic clock, which decides.
        var expiresAt: Duration? { expiry?.monotonic }
    }

    /// Enough for the handful of scope sets one audience is asked for; the soonest to expire makes room.
    static let capacity = 16

    private var entries: [TokenNarrowing: Entry] = [:]
    /// Why the last narrowing refresh for a key produced no token, for the request that started it.
    private var failures: [TokenNarrowing: ProtocolFailure] = [:]

    func entry(_ key: TokenNarrowing, generation: Int) -> Entry? {
        guard let entry = entries[key], entry.generation == generation else { return nil }
        return entry
    }

    mutating func store(_ entry: Entry, for key: TokenNarrowing) {
        failures[key] = nil
        entries = entries.filter { $0.value.generation == entry.generation }
        if entries[key] == nil, entries.count >= Self.capacity,
           let soonest = entries.min(by: { ($0.value.expiresAt ?? .seconds(Int64.max)) < ($1.value.expiresAt ?? .seconds(Int64.max)) }) {
            entries[soonest.key] = nil
        }
        entries[key] = entry
    }

    mutating func recordFailure(_ failure: ProtocolFailure, for key: TokenNarrowing) {
        failures[key] = failure
    }

    mutating func takeFailure(for key: TokenNarrowing) -> ProtocolFailure? {
        failures.removeValue(forKey: key)
    }

    /// Drops the token with this fingerprint (`erase`); true when there was one.
    mutating func remove(fingerprint: String) -> Bool {
        guard let key = entries.first(where: { $0.value.fingerprint == fingerprint })?.key else { return false }
        entries[key] = nil
        return true
    }

    mutating func removeAll() {
        entries = [:]
        failures = [:]
    }
}

extension VaultContext {
    /// A narrower token opens only as the audience's token for that very scope set.
    static func scoped(_ audience: String, _ key: TokenNarrowing) -> String { "scoped:\(audience):\(key)" }
}
