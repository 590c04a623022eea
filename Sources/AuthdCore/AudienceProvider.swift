// What the daemon needs from an OAuth provider for one audience, independent of the engine behind it.
import AuthdOAuth
import AuthdWire

/// Tokens issued by a device flow or a refresh. Plain strings only for the moment between the
/// engine's decoder and the vault; the daemon seals them at once.
public struct IssuedTokens: Sendable {
    public var accessToken: String
    public var tokenType: String
    public var expiresIn: Int64?
    /// A refresh answer without a refresh token keeps the old one: nil here means "none sent".
    public var refreshToken: String?
    /// When the refresh token expires, in wall-clock Unix seconds, as the engine computed it
    /// (`TokenGrant.refreshTokenExpiresAt`); nil when the provider did not say.
    public var refreshTokenExpiresAt: Int64?
    /// Granted scopes when the provider said; nil means "as requested".
    public var scopes: [String]?
    /// Who logged in: the verified identity's display name; nil without a verified id_token.
    public var subject: String?
    /// The OpenID Connect nonce the authorization request sent (authorization code flow with
    /// `openid`); the id_token must carry it. nil for device flows and refreshes.
    public var nonce: String? = nil
    /// The verified id_token's claims (approval evidence); nil when none came or none verified.
    public var identity: VerifiedIdentity?
    /// The id_token itself, only when verified (served by `get --id-token`).
    public var idToken: String?
    /// An id_token came but no key can be known to verify it (neither issuer nor jwks_uri): dropped.
    public var identityUnverifiable = false

    public init(accessToken: String, tokenType: String = "Bearer", expiresIn: Int64?, refreshToken: String?,
                refreshTokenExpiresAt: Int64? = nil, scopes: [String]?, subject: String? = nil) {
        self.accessToken = accessToken
        self.tokenType = tokenType
        self.expiresIn = expiresIn
        self.refreshToken = refreshToken
        self.refreshTokenExpiresAt = refreshTokenExpiresAt
        self.scopes = scopes
        self.subject = subject
    }
}

/// A provider failure classified for the daemon's decisions and the client's exit code.
public struct ProviderError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// The person denied the request.
        case denied
        /// The device code expired before approval.
        case expired
        /// The refresh token is no longer accepted (`invalid_grant`): a new device flow is needed.
        case loginNeeded
        /// Network trouble or a 5xx: worth retrying later.
        case transient
        /// Anything else the provider said; not retried.
        case provider
        case cancelled
    }

    public var kind: Kind
    public var message: String
    public var hint: String?
    /// The provider refused the device grant itself (`unauthorized_client`, `device_flow_disabled`,
    /// a Conditional Access block, no device endpoint): `flow = auto` may use the authorization code flow.
    public var refusesDeviceGrant = false

    public init(_ kind: Kind, _ message: String, hint: String? = nil) {
        self.kind = kind
        self.message = message
        self.hint = hint
    }

    public var description: String { message }

    var protocolCode: ProtocolFailure.Code {
        switch kind {
        case .denied: return .denied
        case .expired: return .expired
        case .loginNeeded: return .loginNeeded
        case .transient: return .networkError
        case .provider: return .providerError
        case .cancelled: return .cancelled
        }
    }
}

/// What revocation at the provider achieved.
public enum RevocationOutcome: Sendable, Equatable {
    case revoked
    /// Nothing was logged in, so nothing was sent to the provider (a waiting login is still cancelled).
    case notLoggedIn
    /// The provider offers no RFC 7009 endpoint; the hint says where the person can revoke.
    case unsupported(hint: String?)
    case failed(String)
}

/// One audience's provider, as the daemon drives it. Implementations throw `ProviderError`.
public protocol AudienceProvider: Sendable {
    /// The issuer, when known, for status and audit.
    var issuer: String? { get async }
    /// One whole device flow (the engine's `OAuthClient.runDeviceFlow`): `events` gets the prompt
    /// first, then progress, in order; the tokens come back on approval. Cancelling stops it.
    func runDeviceFlow(events: @escaping @Sendable (DeviceFlowEvent) -> Void) async throws -> IssuedTokens
    func refresh(refreshToken: String) async throws -> IssuedTokens
    /// A refresh-token grant asking for a narrower token (RFC 6749 §6 `scope`, RFC 8707 `resource`).
    func refresh(refreshToken: String, narrowing: TokenNarrowing) async throws -> IssuedTokens
    func revoke(refreshToken: String?, accessToken: String?) async -> RevocationOutcome
    /// Deletes the client registered for `client_id = "register"` (RFC 7592) and forgets it.
    func forgetRegisteredClient() async -> ClientForgetting
}

extension AudienceProvider {
    /// Providers that register no client have none to forget.
    public func forgetRegisteredClient() async -> ClientForgetting { .notRegistered }

    /// Providers that cannot narrow say so; `get --scope` then fails with this message.
    public func refresh(refreshToken: String, narrowing: TokenNarrowing) async throws -> IssuedTokens {
        throw ProviderError(.provider, "this provider cannot issue narrower tokens")
    }
}

/// What the agent is told about a redirect or a pasted address (the engine's `CallbackVerdict`).
public enum CallbackCheck: Sendable {
    /// This login's code: exchange it.
    case code(String)
    /// Not this login's answer; the login goes on waiting.
    case refused(String)
    /// The provider answered this login with an error; the login ends.
    case ended(ProviderError)
}

/// An authorization code login waiting for its redirect. The engine's state (PKCE verifier,
/// `state`) stays inside `check`/`checkPasted` and `handle`.
public struct AuthorizationCodeStart: Sendable {
    public var authorizationURL: String
    public var redirectURI: String
    /// The OpenID Connect nonce sent, for id_token verification.
    public var nonce: String?
    public var check: @Sendable (_ query: String) -> CallbackCheck
    public var checkPasted: @Sendable (_ text: String) -> CallbackCheck
    public var handle: any Sendable

    public init(authorizationURL: String, redirectURI: String, nonce: String?, check: @escaping @Sendable (String) -> CallbackCheck,
                checkPasted: @escaping @Sendable (String) -> CallbackCheck, handle: any Sendable) {
        self.authorizationURL = authorizationURL
        self.redirectURI = redirectURI
        self.nonce = nonce
        self.check = check
        self.checkPasted = checkPasted
        self.handle = handle
    }
}

/// The authorization code flow (CONTRACT.md Part 2, "Login methods"). Providers that do not
/// implement it refuse with a provider error.
public protocol AuthorizationCodeProvider: Sendable {
    /// Builds the authorization URL for a listener on 127.0.0.1:`port`.
    func beginAuthorizationCode(port: Int) async throws -> AuthorizationCodeStart
    /// Redeems the code with the PKCE verifier of `start`.
    func exchangeAuthorizationCode(_ code: String, for start: AuthorizationCodeStart) async throws -> IssuedTokens
}
