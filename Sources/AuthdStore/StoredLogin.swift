// One audience's login, and the client authd registered for it, as the store keeps them between daemon runs.
import AuthdWire
import AuthdSystem

/// What the daemon keeps on disk for one audience. Tokens stay in `SecretBytes`; the identity
/// fields (audience, issuer, client id) are configuration values and are not secret.
public struct StoredLogin: Sendable, Equatable {
    /// The audience's name in the config (`[audience.NAME]`).
    public var audience: String
    /// The issuer the tokens came from; empty when the audience has explicit endpoints and no issuer.
    public var issuer: String
    /// The OAuth client id the tokens were issued to.
    public var clientID: String
    /// The refresh token, if the provider gave one.
    public var refreshToken: SecretBytes?
    /// The last access token, if any (persisted so a restart does not force a refresh).
    public var accessToken: SecretBytes?
    /// When the access token expires, in seconds since the Unix epoch.
    public var accessTokenExpiry: Int64?
    /// When the refresh token expires (`refresh_expires_in` and the like), in seconds since the Unix epoch.
    public var refreshTokenExpiry: Int64?
    /// The scopes the provider granted.
    public var scopes: [String]
    /// When the device flow completed, in seconds since the Unix epoch (for `max_session`).
    public var loginTime: Int64
    /// Who logged in: the verified identity's display name (or, from a layout-1 record, an unverified subject).
    public var subject: String?
    /// The verified id_token's approval evidence (record layout 2); nil when there was none.
    public var identity: StoredIdentity? = nil
    /// The verified id_token itself (layout 2), served by `get --id-token` until its exp.
    public var idToken: SecretBytes? = nil
    /// An id_token came that no key could verify, and was discarded (layout 2).
    public var identityUnverifiable = false

    /// A login record; every field is stored as given.
    public init(
        audience: String, issuer: String, clientID: String,
        refreshToken: SecretBytes? = nil, accessToken: SecretBytes? = nil,
        accessTokenExpiry: Int64? = nil, refreshTokenExpiry: Int64? = nil,
        scopes: [String] = [], loginTime: Int64, subject: String? = nil
    ) {
        self.audience = audience
        self.issuer = issuer
        self.clientID = clientID
        self.refreshToken = refreshToken
        self.accessToken = accessToken
        self.accessTokenExpiry = accessTokenExpiry
        self.refreshTokenExpiry = refreshTokenExpiry
        self.scopes = scopes
        self.loginTime = loginTime
        self.subject = subject
    }
}

/// The claims of a verified id_token kept with a login (the engine's `VerifiedIdentity`, the same type).
public typealias StoredIdentity = IdentityClaims

/// A client authd registered for an audience (`client_id = "register"`, RFC 7591), kept so that
/// it is registered once and can be deleted again (RFC 7592). It outlives logouts.
public struct StoredRegistration: Sendable, Equatable {
    /// The audience's name in the config.
    public var audience: String
    /// The audience's login identity's issuer field (as `StoredLogin.issuer`): a registration is
    /// used only by an audience at the same provider.
    public var issuer: String
    /// The client id the provider assigned.
    public var clientID: String
    /// RFC 7592's registration access token, a secret; nil when the provider sent none.
    public var registrationAccessToken: SecretBytes?
    /// RFC 7592's client configuration URL; nil when the provider sent none.
    public var registrationClientURI: String?
    /// When the client was registered, in seconds since the Unix epoch.
    public var registeredAt: Int64

    public init(audience: String, issuer: String, clientID: String, registrationAccessToken: SecretBytes? = nil,
                registrationClientURI: String? = nil, registeredAt: Int64) {
        self.audience = audience
        self.issuer = issuer
        self.clientID = clientID
        self.registrationAccessToken = registrationAccessToken
        self.registrationClientURI = registrationClientURI
        self.registeredAt = registeredAt
    }
}

/// Everything one store file holds.
public struct StoreContents: Sendable, Equatable {
    public var logins: [StoredLogin]
    public var registrations: [StoredRegistration]

    public init(logins: [StoredLogin] = [], registrations: [StoredRegistration] = []) {
        self.logins = logins
        self.registrations = registrations
    }
}
