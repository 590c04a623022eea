// The claims of a verified id_token kept as approval evidence: one type from the verifier to the store.

/// The claims of a verified id_token: who approved a login, and how. One schema for the engine
/// that verifies them (`VerifiedIdentity`) and the store that keeps them (`StoredIdentity`).
public struct IdentityClaims: Sendable, Equatable {
    public var issuer: String
    public var subject: String
    public var email: String?
    public var preferredUsername: String?
    /// Authentication methods (RFC 8176), normalised to a list: a single string counts as one entry.
    public var authenticationMethods: [String]
    /// Authentication context class; also Entra's `acrs` entries in `authenticationContexts`.
    public var authenticationContext: String?
    public var authenticationContexts: [String]
    public var authTime: Int64?
    /// The id_token's own `exp` (wall seconds).
    public var expiresAt: Int64

    public init(issuer: String, subject: String, email: String? = nil, preferredUsername: String? = nil,
                authenticationMethods: [String] = [], authenticationContext: String? = nil,
                authenticationContexts: [String] = [], authTime: Int64? = nil, expiresAt: Int64) {
        self.issuer = issuer
        self.subject = subject
        self.email = email
        self.preferredUsername = preferredUsername
        self.authenticationMethods = authenticationMethods
        self.authenticationContext = authenticationContext
        self.authenticationContexts = authenticationContexts
        self.authTime = authTime
        self.expiresAt = expiresAt
    }

    /// The most human name: preferred_username, else email, else sub.
    public var displayName: String { preferredUsername ?? email ?? subject }
}
