// The tokens a provider granted, decoded from a token response under the tolerance rules.

import AuthdWire

/// An access token with what is known about it. Times are wall-clock Unix seconds because a grant
/// outlives the process (it is persisted). `description` never shows a token.
public struct TokenGrant: Sendable, Equatable, CustomStringConvertible {
    public var accessToken: String
    /// Always "Bearer": other types are refused when decoding.
    public var tokenType: String
    public var refreshToken: String?
    /// Granted scopes; when the provider does not say, the requested ones (RFC 6749 §5.1).
    public var scopes: [String]
    /// When the request that produced this grant was sent; lifetimes count from here, erring early.
    public var issuedAt: Int64
    /// Access-token lifetime in seconds; nil when the provider sent no `expires_in` (lifetime unknown).
    public var expiresIn: Int64?
    public var refreshTokenExpiresAt: Int64?
    /// The raw OpenID Connect id_token, kept for the record.
    public var idToken: String?
    /// Who signed in, decoded from the id_token for display only.
    public var identity: IDTokenClaims?
    /// The OpenID Connect `nonce` this login's authorization request sent (authorization code flow
    /// with `openid`): the id_token must carry the same value. nil for device flows and refreshes.
    public var nonce: String? = nil

    public init(accessToken: String, tokenType: String = "Bearer", refreshToken: String? = nil, scopes: [String] = [],
                issuedAt: Int64, expiresIn: Int64? = nil, refreshTokenExpiresAt: Int64? = nil,
                idToken: String? = nil, identity: IDTokenClaims? = nil) {
        self.accessToken = accessToken
        self.tokenType = tokenType
        self.refreshToken = refreshToken
        self.scopes = scopes
        self.issuedAt = issuedAt
        self.expiresIn = expiresIn
        self.refreshTokenExpiresAt = refreshTokenExpiresAt
        self.idToken = idToken
        self.identity = identity
    }

    /// Wall-clock expiry of the access token; nil when unknown (then it is served until rejected).
    public var expiresAt: Int64? { expiresIn.map { issuedAt + $0 } }

    /// Whether the access token is still valid for at least `minimumValidity` seconds at `now`.
    /// A token of unknown lifetime is taken as valid: only a rejection (git `erase`, HTTP 401) ends it.
    public func isValid(at now: Int64, forAtLeast minimumValidity: Int64 = 0) -> Bool {
        guard let expiresAt else { return true }
        return expiresAt - now >= minimumValidity && expiresAt > now
    }

    public var description: String {
        var parts = ["token_type: \(tokenType)", "scopes: \(scopes.joined(separator: " "))", "issued_at: \(issuedAt)"]
        parts.append("expires_in: \(expiresIn.map(String.init) ?? "unknown")")
        parts.append("refresh_token: \(refreshToken == nil ? "none" : "present")")
        if let identity { parts.append("subject: \(identity.displayName)") }
        return "TokenGrant(\(parts.joined(separator: ", ")))"
    }

    /// Decodes a successful token response. `access_token` is required; `token_type` must be
    /// Bearer in any case, and may be absent (then Bearer is assumed: the token is only ever used
    /// as a bearer credential); `expires_in`, `refresh_token`, `scope`, `refresh_token_expires_in`
    /// and `id_token` are optional; unknown fields are ignored.
    static func decode(_ fields: ResponseFields, endpoint: OAuthEndpoint, issuedAt: Int64,
                       requestedScopes: [String], secrets: [String] = []) throws(OAuthError) -> TokenGrant {
        func invalid(_ reason: String) -> OAuthError { .invalidResponse(endpoint: endpoint, reason: reason) }
        guard let accessToken = fields.string("access_token") else { throw invalid("access_token is missing") }
        if let type = fields.string("token_type"), type.lowercased() != "bearer" {
            throw invalid("token_type \"\(ProviderText(secrets: [accessToken] + secrets).clean(type) ?? "")\" is not supported (only Bearer)")
        }
        // A lifetime that is not a number is treated like an absent one; a negative one as already expired.
        let expiresIn = fields.integer("expires_in").map { max(0, min($0, Int64(Int32.max))) }
        let refreshTokenLifetime = fields.integer("refresh_token_expires_in").map { max(0, min($0, Int64(Int32.max))) }
        let idToken = fields.string("id_token")
        return TokenGrant(
            accessToken: accessToken, tokenType: "Bearer", refreshToken: fields.string("refresh_token"),
            scopes: ScopeList.parse(fields["scope"]) ?? requestedScopes, issuedAt: issuedAt, expiresIn: expiresIn,
            refreshTokenExpiresAt: refreshTokenLifetime.map { issuedAt + $0 },
            idToken: idToken, identity: idToken.flatMap(IDTokenClaims.init(jwt:)))
    }
}

/// Claims read from an OpenID Connect id_token **without verifying its signature**: they label the
/// login in `status` and are never used for an access decision.
public struct IDTokenClaims: Sendable, Equatable {
    public var subject: String?
    public var preferredUsername: String?
    public var email: String?
    public var issuer: String?

    public init(subject: String? = nil, preferredUsername: String? = nil, email: String? = nil, issuer: String? = nil) {
        self.subject = subject
        self.preferredUsername = preferredUsername
        self.email = email
        self.issuer = issuer
    }

    /// Decodes the payload segment of a compact JWS; nil when it is not one.
    public init?(jwt: String) {
        let segments = jwt.split(separator: ".", omittingEmptySubsequences: false)
        guard segments.count == 3, let payload = Base64.decode(String(segments[1])),
              let claims = try? JSONValue.parse(payload, maximumDepth: 16), claims.objectMembers != nil else { return nil }
        let clean = ProviderText(secrets: [])
        self.init(subject: clean.clean(claims["sub"]?.stringValue), preferredUsername: clean.clean(claims["preferred_username"]?.stringValue),
                  email: clean.clean(claims["email"]?.stringValue), issuer: clean.clean(claims["iss"]?.stringValue))
    }

    /// The most human name available: preferred_username, else email, else sub.
    public var displayName: String {
        preferredUsername ?? email ?? subject ?? "unknown"
    }
}
