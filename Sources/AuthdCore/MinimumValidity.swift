// How long a `get` holds the current token to: its `min_valid`, unless no renewal could meet it.

/// A `min_valid` longer than the tokens the provider issues cannot be met by refreshing: asking
/// again refreshes on every call, hammers the provider and rotates single-use refresh tokens
/// (security review, finding 12). The lifetime the provider last issued (at a login or a refresh
/// in this daemon run) says what a renewal can give; a `min_valid` beyond it is held to that
/// lifetime less the refresh margin, and the answer says it falls short.
enum MinimumValidity {
    /// The validity the current token must have left to be served without renewing.
    /// - `asked`: the request's `min_valid`.
    /// - `issuedLifetime`: the lifetime of the last token the provider issued, nil when unknown
    ///   (a login restored from the store, or a provider that gives no `expires_in`).
    /// - `margin`: the refresh margin for a lifetime (`RefreshPlanner.margin(forLifetime:)`).
    static func required(asked: Duration, issuedLifetime: Duration?, margin: (Duration) -> Duration) -> Duration {
        guard let lifetime = issuedLifetime, lifetime > .zero, asked > lifetime else { return asked }
        // Within the margin of a fresh token a renewal gains little; beyond it, one renewal is worth it.
        return lifetime - margin(lifetime)
    }

    /// Whether a token with `remaining` validity falls short of what the client asked for.
    static func fallsShort(remaining: Duration?, asked: Duration) -> Bool {
        guard let remaining else { return false }
        return remaining < asked
    }
}
