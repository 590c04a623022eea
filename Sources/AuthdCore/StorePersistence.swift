// Writes logins and registered clients through the encrypted store; one actor so saves never interleave.
import AuthdOAuth
import AuthdStore
import AuthdSystem
import AuthdWire

/// Keeps what the store holds between writes sealed under the daemon's vault, as the agents hold
/// their logins: no plaintext token lives here between operations. A load opens the file into one
/// `SecretArena`, seals every token and drops the arena; a write opens every token into a fresh
/// arena, saves, and drops it.
public actor StorePersistence: LoginPersistence {
    /// One stored login: the agent's `Login` (or one restored from the file) and who it belongs to.
    private struct HeldLogin: Sendable {
        var identity: LoginIdentity
        var login: Login
    }

    /// A registered client, its registration access token sealed.
    private struct HeldRegistration: Sendable {
        var issuer: String
        var clientID: String
        var registrationAccessToken: SealedSecret?
        var registrationClientURI: String?
        var registeredAt: Int64
    }

    private let store: TokenStore
    /// The daemon's vault, which the agents' logins are sealed under too.
    private let vault: TokenVault
    /// Every stored login by audience, including audiences no longer configured (kept, not lost).
    private var logins: [String: HeldLogin] = [:]
    /// Clients registered for `client_id = "register"` audiences, by audience (kept across logouts).
    private var registrations: [String: HeldRegistration] = [:]
    private var identities: [String: LoginIdentity]

    /// Opens and loads the store, sealing every token under `vault`; `clock` places the stored
    /// wall times on the monotonic clock. A damaged store is set aside by `TokenStore`; the error
    /// comes back in `damage` so the daemon can say where it went, and the daemon starts empty.
    public init(store: TokenStore, identities: [String: LoginIdentity], vault: TokenVault,
                clock: any DaemonClock) throws(StoreError) {
        self.store = store
        self.identities = identities
        self.vault = vault
        let contents = try store.load(into: SecretArena())
        let reading = ClockReading(clock)
        var logins: [String: HeldLogin] = [:]
        var registrations: [String: HeldRegistration] = [:]
        for stored in contents.logins {
            logins[stored.audience] = HeldLogin(identity: LoginIdentity(issuer: stored.issuer, clientID: stored.clientID),
                                                login: Self.login(restoring: stored, vault: vault, now: reading))
        }
        for stored in contents.registrations {
            registrations[stored.audience] = HeldRegistration(
                issuer: stored.issuer, clientID: stored.clientID,
                registrationAccessToken: stored.registrationAccessToken.map {
                    vault.seal($0, context: VaultContext.registration(stored.audience))
                },
                registrationClientURI: stored.registrationClientURI, registeredAt: stored.registeredAt)
        }
        self.logins = logins
        self.registrations = registrations
        // `contents` and the load's arena, the only plaintext, go here.
    }

    public func setIdentities(_ identities: [String: LoginIdentity]) {
        self.identities = identities
    }

    /// The stored logins that belong to the configured audiences, as agents hold them.
    public func restorable() -> [String: Login] {
        var result: [String: Login] = [:]
        for (audience, held) in logins where identities[audience] == held.identity {
            result[audience] = held.login
        }
        return result
    }

    public func save(audience: String, identity: LoginIdentity?, login: Login?) async throws {
        if let login {
            // The identity the agent says the login came from, not the (possibly just reloaded) config's.
            guard let identity else { return }
            logins[audience] = HeldLogin(identity: identity, login: login)
        } else {
            logins[audience] = nil
        }
        try write()
    }

    /// The client registered for `audience` at the provider `identity` names; nil when there is none
    /// (or it was registered at another provider, which is then left as it is until replaced).
    /// Its registration access token is opened into secret memory of its own.
    public func registration(audience: String, identity: LoginIdentity) -> StoredRegistration? {
        guard let held = registrations[audience], held.issuer == identity.issuer else { return nil }
        return try? stored(held, audience: audience, in: nil)
    }

    /// Keeps (or, with nil, forgets) the client registered for `audience`.
    public func saveRegistration(_ registration: StoredRegistration?, audience: String) throws {
        registrations[audience] = registration.map { registration in
            HeldRegistration(
                issuer: registration.issuer, clientID: registration.clientID,
                registrationAccessToken: registration.registrationAccessToken.map {
                    vault.seal($0, context: VaultContext.registration(audience))
                },
                registrationClientURI: registration.registrationClientURI, registeredAt: registration.registeredAt)
        }
        try write()
    }

    /// Opens everything into one arena, saves it, and lets the arena go with the plaintext.
    private func write() throws {
        let arena = SecretArena()
        var contents = StoreContents()
        for (audience, held) in logins.sorted(by: { $0.key < $1.key }) {
            contents.logins.append(try stored(held, audience: audience, in: arena))
        }
        for (audience, held) in registrations.sorted(by: { $0.key < $1.key }) {
            contents.registrations.append(try stored(held, audience: audience, in: arena))
        }
        try store.save(contents, arena: arena)
    }

    private func stored(_ held: HeldLogin, audience: String, in arena: SecretArena) throws(CryptoError) -> StoredLogin {
        let login = held.login
        var stored = StoredLogin(
            audience: audience, issuer: held.identity.issuer, clientID: held.identity.clientID,
            refreshToken: try login.refreshToken.map { (sealed) throws(CryptoError) in
                try vault.open(sealed, context: VaultContext.refresh(audience), in: arena)
            },
            accessToken: try login.accessToken.map { (sealed) throws(CryptoError) in
                try vault.open(sealed, context: VaultContext.access(audience), in: arena)
            },
            accessTokenExpiry: login.accessExpiry?.wall, refreshTokenExpiry: login.refreshExpiry?.wall,
            scopes: login.scopes, loginTime: login.loginAtWall, subject: login.subject)
        stored.identity = login.identity
        stored.idToken = try login.idToken.map { (sealed) throws(CryptoError) in
            try vault.open(sealed, context: VaultContext.idToken(audience), in: arena)
        }
        stored.identityUnverifiable = login.identityUnverifiable
        return stored
    }

    private func stored(_ held: HeldRegistration, audience: String, in arena: SecretArena?) throws(CryptoError) -> StoredRegistration {
        StoredRegistration(
            audience: audience, issuer: held.issuer, clientID: held.clientID,
            registrationAccessToken: try held.registrationAccessToken.map { (sealed) throws(CryptoError) in
                try vault.open(sealed, context: VaultContext.registration(audience), in: arena)
            },
            registrationClientURI: held.registrationClientURI, registeredAt: held.registeredAt)
    }

    /// A login read from the store as an agent holds it: tokens sealed, wall times placed on the
    /// monotonic clock as of `now`.
    private static func login(restoring stored: StoredLogin, vault: TokenVault, now reading: ClockReading) -> Login {
        let audience = stored.audience
        let accessFingerprint = stored.accessToken.map { token in token.withBytes { span in
            var bytes: [UInt8] = []
            bytes.reserveCapacity(span.count)
            for i in span.indices { bytes.append(span[i]) }
            defer { SecretBytes.zero(&bytes) }
            return AuthdWire.TokenFingerprint.of(bytes)
        } }
        var login = Login(
            accessToken: stored.accessToken.map { vault.seal($0, context: VaultContext.access(audience)) }, tokenType: "Bearer",
            accessTokenFingerprint: accessFingerprint,
            accessExpiry: stored.accessTokenExpiry.map { ClockMoment(wall: $0, now: reading) },
            // The issue time is not stored; the margin rule then uses what is left as the lifetime.
            accessIssuedAt: reading.monotonic,
            refreshToken: stored.refreshToken.map { vault.seal($0, context: VaultContext.refresh(audience)) },
            refreshExpiry: stored.refreshTokenExpiry.map { ClockMoment(wall: $0, now: reading) },
            scopes: stored.scopes, loginAtWall: stored.loginTime,
            loginAt: reading.monotonic - .seconds(max(0, reading.wall - stored.loginTime)),
            subject: stored.subject)
        login.identity = stored.identity
        login.idToken = stored.idToken.map { vault.seal($0, context: VaultContext.idToken(audience)) }
        login.identityUnverifiable = stored.identityUnverifiable
        return login
    }
}
