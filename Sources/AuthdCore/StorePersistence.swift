// Writes logins and registered clients through the encrypted store; one actor so saves never interleave.
import AuthdOAuth
import AuthdStore
import AuthdSystem
import AuthdWire

public actor StorePersistence: LoginPersistence {
    private let store: TokenStore
    /// Every stored login by audience, including audiences no longer configured (kept, not lost).
    private var logins: [String: StoredLogin] = [:]
    /// Clients registered for `client_id = "register"` audiences, by audience (kept across logouts).
    private var registrations: [String: StoredRegistration] = [:]
    private var identities: [String: LoginIdentity]

    /// Opens and loads the store. A damaged store is set aside by `TokenStore`; the error comes
    /// back in `damage` so the daemon can say where it went, and the daemon starts empty.
    public init(store: TokenStore, identities: [String: LoginIdentity]) throws(StoreError) {
        self.store = store
        self.identities = identities
        let contents = try store.load()
        for login in contents.logins { logins[login.audience] = login }
        for registration in contents.registrations { registrations[registration.audience] = registration }
    }

    public func setIdentities(_ identities: [String: LoginIdentity]) {
        self.identities = identities
    }

    /// The stored logins that belong to the configured audiences, as agents hold them.
    public func restorable(vault: TokenVault, clock: any DaemonClock) -> [String: Login] {
        var result: [String: Login] = [:]
        let reading = ClockReading(clock)
        let now = reading.monotonic
        let wallNow = reading.wall
        for (audience, stored) in logins {
            guard let identity = identities[audience], identity.issuer == stored.issuer, identity.clientID == stored.clientID
            else { continue }
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
                accessIssuedAt: now,
                refreshToken: stored.refreshToken.map { vault.seal($0, context: VaultContext.refresh(audience)) },
                refreshExpiry: stored.refreshTokenExpiry.map { ClockMoment(wall: $0, now: reading) },
                scopes: stored.scopes, loginAtWall: stored.loginTime, loginAt: now - .seconds(max(0, wallNow - stored.loginTime)),
                subject: stored.subject)
            login.identity = stored.identity
            login.idToken = stored.idToken.map { vault.seal($0, context: VaultContext.idToken(audience)) }
            login.identityUnverifiable = stored.identityUnverifiable
            result[audience] = login
        }
        return result
    }

    public func save(audience: String, identity: LoginIdentity?, login: Login?, vault: TokenVault) async throws {
        if let login {
            // The identity the agent says the login came from, not the (possibly just reloaded) config's.
            guard let identity else { return }
            var stored = StoredLogin(
                audience: audience, issuer: identity.issuer, clientID: identity.clientID,
                refreshToken: try login.refreshToken.map { try vault.open($0, context: VaultContext.refresh(audience)) },
                accessToken: try login.accessToken.map { try vault.open($0, context: VaultContext.access(audience)) },
                accessTokenExpiry: login.accessExpiry?.wall, refreshTokenExpiry: login.refreshExpiry?.wall,
                scopes: login.scopes, loginTime: login.loginAtWall, subject: login.subject)
            stored.identity = login.identity
            stored.idToken = try login.idToken.map { try vault.open($0, context: VaultContext.idToken(audience)) }
            stored.identityUnverifiable = login.identityUnverifiable
            logins[audience] = stored
        } else {
            logins[audience] = nil
        }
        try write()
    }

    /// The client registered for `audience` at the provider `identity` names; nil when there is none
    /// (or it was registered at another provider, which is then left as it is until replaced).
    public func registration(audience: String, identity: LoginIdentity) -> StoredRegistration? {
        registrations[audience].flatMap { $0.issuer == identity.issuer ? $0 : nil }
    }

    /// Keeps (or, with nil, forgets) the client registered for `audience`.
    public func saveRegistration(_ registration: StoredRegistration?, audience: String) throws {
        registrations[audience] = registration
        try write()
    }

    private func write() throws {
        try store.save(StoreContents(logins: logins.values.sorted { $0.audience < $1.audience },
                                     registrations: registrations.values.sorted { $0.audience < $1.audience }))
    }

}

