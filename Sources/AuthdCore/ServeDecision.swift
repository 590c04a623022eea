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
        let canRefresh = login.map {
            renewalPossible && $0.refreshTokenIsUsable(now: now) && !planner.sessionEnded(loginAt: $0.loginAt, now: now)
        } ?? false
        if let login {
            let needed = renewed ? Duration.zero
                : MinimumValidity.required(asked: minimumValidity, issuedLifetime: login.issuedLifetime, margin: planner.margin(forLifetime:))
            // A login that cannot be refreshed and is about to lapse: a person who is here logs in again now.
            let promptInstead = !canRefresh && canPrompt && !renewed
                && planner.isNearExpiry(expiresAt: login.accessExpiresAt, lifetime: login.accessLifetime, now: now)
            if login.accessTokenIsValid(now: now, minimumValidity: needed), !promptInstead { return .serve }
        }
        if stopping { return .stopping }
        if refreshInFlight { return .joinRefresh }
        // Someone's new login may be waiting for approval: the current login is still refreshed and
        // served when it can be; only a request that needs the new login joins (or is refused).
        let refreshWanted = canRefresh && !renewed
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
}
