// What one turn of a `get` does, decided purely from the agent's state, the request and the clock; the agent performs it.

/// The next step of a `get` (AudienceAgent.get performs it, then asks again).
enum ServeStep: Sendable, Equatable {
    /// Serve the current access token.
    case serve
    /// The daemon is stopping: nothing new is started (a valid token is still served).
    case stopping
    /// Wait for the refresh in flight.
    case joinRefresh
    /// Start a refresh and wait for it.
    case startRefresh
    /// Wait for the login someone started (its prompt is shown to this client too).
    case joinFlow
    /// Start a login (device flow or authorization code) and wait for it.
    case startFlow
    /// A person must log in, and this client cannot prompt one.
    case loginNeeded
}

/// The agent's state as one turn of `get` sees it, and the rule that picks the step.
struct ServeDecision {
    var login: Login?
    /// The login can still be renewed without a person (not marked login-needed).
    var renewalPossible: Bool
    var refreshInFlight: Bool
    var flowPending: Bool
    var stopping: Bool
    var planner: RefreshPlanner

    /// - `minimumValidity`: the request's `min_valid`.
    /// - `canPrompt`: a person can be shown a prompt for this request.
    /// - `renewed`: this request already waited for a refresh or a login that succeeded; what it
    ///   brought is served even if shorter-lived than asked, since nothing better can be had.
    func next(minimumValidity: Duration, canPrompt: Bool, renewed: Bool, now: Duration) -> ServeStep {
        if servesCurrentToken(minimumValidity: minimumValidity, canPrompt: canPrompt, renewed: renewed, now: now) { return .serve }
        let refreshable = canRefresh(now: now)
        if stopping { return .stopping }
        if refreshInFlight { return .joinRefresh }
        // Someone's new login may be waiting for approval: the current login is still refreshed and
        // served when it can be; only a request that needs the new login joins (or is refused).
        let refreshWanted = refreshable && !renewed
        if flowPending, !refreshWanted { return canPrompt ? .joinFlow : .loginNeeded }
        if refreshWanted { return .startRefresh }
        guard canPrompt else {
            // Nobody to prompt: what is left of the current token is better than nothing, if it lasts as asked.
            if let login, login.accessTokenIsValid(now: now, minimumValidity: minimumValidity) { return .serve }
            return .loginNeeded
        }
        // Issued for this very request: served rather than prompting again, however short it is.
        if renewed, login?.accessToken != nil { return .serve }
        return .startFlow
    }

    /// The login can be renewed with no person: renewal still possible, a usable refresh token,
    /// and `max_session` not reached.
    func canRefresh(now: Duration) -> Bool {
        guard let login else { return false }
        return renewalPossible && login.refreshTokenIsUsable(now: now) && !planner.sessionEnded(loginAt: login.loginAt, now: now)
    }

    /// The first question of every turn, and the socket loop's (`LoopAnswer`): is the current access
    /// token served as it is? Valid for what is asked (held to what a renewal could give,
    /// `MinimumValidity`), and, for a client that can prompt, not about to lapse with no way to renew it.
    func servesCurrentToken(minimumValidity: Duration, canPrompt: Bool, renewed: Bool, now: Duration) -> Bool {
        guard let login else { return false }
        let needed = renewed ? Duration.zero
            : MinimumValidity.required(asked: minimumValidity, issuedLifetime: login.issuedLifetime, margin: planner.margin(forLifetime:))
        // A login that cannot be refreshed and is about to lapse: a person who is here logs in again now.
        let promptInstead = !canRefresh(now: now) && canPrompt && !renewed
            && planner.isNearExpiry(expiresAt: login.accessExpiresAt, lifetime: login.accessLifetime, now: now)
        return login.accessTokenIsValid(now: now, minimumValidity: needed) && !promptInstead
    }
}
