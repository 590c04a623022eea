// One audience's login as the daemon holds it: sealed tokens and what is known about them.
import AuthdOAuth
import AuthdSystem
import AuthdWire

/// The tokens of one login, sealed under the process vault key, with their lifetimes on both clocks.
public struct Login: Sendable {
    var accessToken: SealedSecret?
    var tokenType: String
    /// Fingerprint of the access token (audit, `erase`), computed once at issuance.
    var accessTokenFingerprint: String?
    /// When the access token expires; nil when the provider gave no lifetime.
    var accessExpiry: ClockMoment?
    /// When the access token was issued (monotonic), to know its lifetime for the margin rule.
    var accessIssuedAt: Duration
    var refreshToken: SealedSecret?
    /// When the refresh token expires (`refresh_token_expires_in`); nil when the provider did not say.
    var refreshExpiry: ClockMoment?
    var scopes: [String]
    /// When the person last approved a device flow (wall seconds and monotonic).
    var loginAtWall: Int64
    var loginAt: Duration
    var subject: String?
    /// The verified id_token's claims: who approved, and how (approval evidence).
    var identity: VerifiedIdentity? = nil
    /// The verified id_token, sealed; served by `get --id-token` until its own `exp`.
    var idToken: SealedSecret? = nil
    /// An id_token came that no key could verify (no issuer, no jwks_uri): status says "unverified".
    var identityUnverifiable = false
    /// The lifetime the provider gave the access token when this daemon received it (a login or a
    /// refresh); nil for a login restored from the store. What a renewal is expected to give.
    var issuedLifetime: Duration? = nil

    /// The access token's expiry on the monotonic clock, which decides.
    var accessExpiresAt: Duration? { accessExpiry?.monotonic }

    /// Lifetime of the current access token, when known.
    var accessLifetime: Duration? {
        accessExpiresAt.map { $0 - accessIssuedAt }
    }

    /// Whether the access token can be served to a caller who needs it for `minimumValidity` more.
    /// A token without a known lifetime is served until the provider rejects it (see docs/oauth.md).
    func accessTokenIsValid(now: Duration, minimumValidity: Duration) -> Bool {
        guard accessToken != nil else { return false }
        guard let expiresAt = accessExpiresAt else { return true }
        return expiresAt - now >= minimumValidity
    }

    func accessTokenIsUnexpired(now: Duration) -> Bool {
        accessTokenIsValid(now: now, minimumValidity: .zero)
    }

    func refreshTokenIsUsable(now: Duration) -> Bool {
        guard refreshToken != nil else { return false }
        guard let expiresAt = refreshExpiry?.monotonic else { return true }
        return expiresAt > now
    }
}

/// What each sealed secret is bound to: a token sealed for one audience and role does not open
/// as another (the vault authenticates the context).
enum VaultContext {
    static func access(_ audience: String) -> String { "access:" + audience }
    static func refresh(_ audience: String) -> String { "refresh:" + audience }
    static func idToken(_ audience: String) -> String { "id:" + audience }
    /// A registered client's registration access token (RFC 7592), as `StorePersistence` keeps it.
    static func registration(_ audience: String) -> String { "registration:" + audience }
}
