// The single owner of one audience's login: its state and requests; logins, refreshes and narrower tokens are in the Agent*.swift files.
import AuthdConfig
import AuthdOAuth
import AuthdSystem
import AuthdWire
import Synchronization

public actor AudienceAgent {
    public nonisolated let name: String
    var policy: AudiencePolicy { didSet { publishServing() } }
    /// What the socket loop serves cached `get`s from without a hop (ServingSnapshot.swift).
    public nonisolated let serving: ServingSlot
    var provider: any AudienceProvider
    let environment: AgentEnvironment
    var clock: any DaemonClock { environment.clock }

    /// Whether the current login can still be renewed without a person.
    enum Renewal: Equatable {
        case possible
        case loginNeeded(reason: String)
    }

    var login: Login? { didSet { publishServing() } }
    /// The login (device flow or authorization code) in progress, if any. Every `await` in the agent
    /// (here, AgentLogin.swift, AgentRefresh.swift, AgentNarrowing.swift) re-checks it and `refreshing`
    /// afterwards: other requests run while this one is suspended.
    var flow: DeviceFlowRun?
    /// The refresh in progress, if any. It is independent of `flow`: while someone's new login waits
    /// for approval, the current login keeps being refreshed and served to clients that cannot prompt.
    var refreshing: Task<Result<Void, ProviderError>, Never>?
    var renewal: Renewal = .possible { didSet { publishServing() } }
    var refreshTimer: (any ScheduledWake)?
    /// Which arming of the refresh timer is current: a wake-up that had already fired when it was
    /// replaced finds its number changed and does nothing.
    var refreshTimerGeneration = 0
    var nextRefreshAt: Duration?
    var refreshFailures = 0
    /// Why the last refresh failed transiently, for status while the retries go on.
    var lastRefreshError: String?
    var notifiedLoginNeeded = false
    var nextRunID = 0
    /// Bumped whenever the login is replaced or dropped (login, logout, identity change, shutdown):
    /// a refresh that started under an older generation must not install its answer.
    var generation = 0
    var isShutDown = false
    /// Narrower tokens cut from this login for `get --scope/--resource` (ScopedTokens.swift).
    var scopedTokens = ScopedTokenCache()
    static let heartbeatInterval: Duration = .seconds(3)
    /// Requests (and a shutdown) waiting for the refresh in flight: tests wait for a count
    /// instead of sleeping and hoping every request has joined.
    var refreshWaiters = 0

    public init(policy: AudiencePolicy, provider: any AudienceProvider, environment: AgentEnvironment) {
        self.name = policy.name
        self.policy = policy
        self.provider = provider
        self.environment = environment
        self.serving = ServingSlot(vault: environment.vault, clock: environment.clock)
    }

    private func publishServing() {
        serving.publish(login.map { ServingSnapshot(login: $0, renewalPossible: renewal == .possible, policy: policy) })
    }

    // MARK: Requests

    /// A token valid for `minimumValidity`, refreshing or running a device flow as needed: each
    /// turn performs the step `ServeDecision` picks, then asks again (other requests run meanwhile).
    public func get(minimumValidity: Duration, canPrompt: Bool, client: ClientIdentity,
                    events: @escaping ReplySink) async throws(ProtocolFailure) -> ServedToken {
        var renewed = false
        while true {
            try checkCancelled()
            let now = clock.monotonicNow()
            let decision = ServeDecision(login: login, renewalPossible: renewal == .possible, refreshInFlight: refreshing != nil,
                                         flowPending: flow != nil, stopping: isShutDown, planner: policy.refreshPlanner)
            switch decision.next(minimumValidity: minimumValidity, canPrompt: canPrompt, renewed: renewed, now: now) {
            case .serve:
                guard let login else { throw ProtocolFailure(.internalError, "\(name): no access token to serve") }
                return try serve(login, to: client, asked: minimumValidity)
            case .stopping:
                throw ProtocolFailure(.cancelled, "\(name): authd is stopping")
            case .joinRefresh:
                guard let task = refreshing else { continue }
                let outcome = await awaitRefresh(task)
                // Whoever sees the refresh finished first clears it; otherwise the next turn would find
                // the same finished task again without ever suspending.
                if refreshing == task { refreshing = nil }
                renewed = try renewedBy(outcome) || renewed
            case .startRefresh:
                renewed = try renewedBy(await refreshNow(client: client))
            case .joinFlow:
                guard let run = flow else { continue }
                try await join(run, client: client, events: events)
                renewed = true
            case .startFlow:
                try await join(startDeviceFlow(client: client), client: client, events: events)
                renewed = true
            case .loginNeeded:
                throw loginNeededFailure(for: client)
            }
        }
    }

    /// A refresh this request waited for: true when it renewed the login; a transient failure ends
    /// the request; any other failure means the next turn looks again (now login-needed, or superseded).
    func renewedBy(_ outcome: Result<Void, ProviderError>) throws(ProtocolFailure) -> Bool {
        switch outcome {
        case .success:
            return true
        case .failure(let error) where error.kind == .transient:
            throw ProtocolFailure(.networkError, "\(name): refresh failed: \(error.message)",
                                  hint: "the provider may be unreachable; try again shortly")
        case .failure:
            return false
        }
    }

    /// The login's verified id_token, valid for `minimumValidity` when it can be: a login first if
    /// there is none (and a person can be prompted), then one refresh when the id_token is too
    /// close to its `exp` (providers often send a new one). Otherwise `login_needed`.
    public func getIDToken(minimumValidity: Duration, canPrompt: Bool, client: ClientIdentity,
                           events: @escaping ReplySink) async throws(ProtocolFailure) -> ServedToken {
        if login == nil || login?.accessToken == nil {
            // Logs in (or refreshes) as `get` would; the access token it returns is not used.
            _ = try await get(minimumValidity: .zero, canPrompt: canPrompt, client: client, events: events)
        }
        var refreshed = false
        while true {
            try checkCancelled()
            guard let current = login else { throw loginNeededFailure(for: client) }
            if current.identityUnverifiable {
                throw ProtocolFailure(.configError, "\(name): the provider's id_token cannot be verified (the audience has neither issuer nor jwks_uri), so it was discarded",
                                      hint: "set issuer or jwks_uri for the audience, then log in again")
            }
            let wallNow = clock.wallSeconds()
            if let sealed = current.idToken, let identity = current.identity, identity.expiresAt > wallNow {
                let remaining = identity.expiresAt - wallNow
                let asked = Int64(minimumValidity.components.seconds)
                let canRefresh = renewal == .possible && current.refreshTokenIsUsable(now: clock.monotonicNow()) && !sessionExpired(clock.monotonicNow())
                if remaining >= asked || refreshed || !canRefresh {
                    let token: SecretBytes
                    do {
                        token = try environment.vault.open(sealed, context: VaultContext.idToken(name))
                    } catch {
                        throw ProtocolFailure(.internalError, "\(name): the in-memory vault failed to open the id_token")
                    }
                    let fingerprint = token.withBytes { span in AuthdWire.TokenFingerprint.of((0..<span.count).map { span[$0] }) }
                    environment.audit.record(AuditRecord(.tokenServed, "\(name): id_token served", audience: name, client: client,
                                                         scopes: current.scopes, tokenFingerprint: fingerprint, detail: "id_token"))
                    var served = ServedToken(token: token, tokenType: "Bearer", expiresAtWall: identity.expiresAt, scopes: current.scopes,
                                             fingerprint: fingerprint, shortOfMinimumValidity: remaining < asked)
                    served.kind = .id
                    return served
                }
            }
            let canRefresh = renewal == .possible && current.refreshTokenIsUsable(now: clock.monotonicNow())
            if !refreshed, canRefresh {
                refreshed = true
                if case .failure(let error) = await refreshNow(client: client), error.kind == .transient {
                    throw ProtocolFailure(.networkError, "\(name): refresh failed: \(error.message)", hint: "the provider may be unreachable; try again shortly")
                }
                continue
            }
            let why = current.idToken == nil
                ? (policy.requestedScopes.contains("openid") ? "the login has no verified id_token" : "the audience does not ask for the openid scope, so no id_token is issued")
                : "its id_token has expired and the provider sent no new one on refresh"
            environment.audit.record(AuditRecord(.loginNeeded, "\(name): id_token requested: \(why)", audience: name, client: client,
                                                 scopes: current.scopes, detail: why))
            throw ProtocolFailure(.loginNeeded, "\(name): no id_token to serve: \(why)", hint: policy.loginHint)
        }
    }

    /// A new device flow now (the person asked), replacing the stored login when it succeeds.
    /// A flow already running is joined rather than duplicated.
    public func login(client: ClientIdentity, flow method: LoginFlowChoice? = nil,
                      events: @escaping ReplySink) async throws(ProtocolFailure) -> AudienceStatus {
        try checkCancelled()
        let run = flow ?? startDeviceFlow(client: client, method: method)
        try await join(run, client: client, events: events)
        return status()
    }

    /// Revokes at the provider and erases the login from memory and disk.
    public func logout(client: ClientIdentity) async -> (RevocationOutcome, AudienceStatus) {
        stopRenewing()
        scopedTokens.removeAll()
        guard let current = login else {
            return (.notLoggedIn, status())
        }
        login = nil
        renewal = .possible
        let refresh = current.refreshToken.flatMap { try? environment.vault.open($0, context: VaultContext.refresh(name)).copyString() }
        let access = current.accessToken.flatMap { try? environment.vault.open($0, context: VaultContext.access(name)).copyString() }
        let outcome = await provider.revoke(refreshToken: refresh, accessToken: access)
        // Erased from disk even when this audience no longer persists (an older login may be stored).
        await persist(nil, evenWithoutPersist: true)
        let detail: String
        switch outcome {
        case .revoked: detail = "revoked at the provider"
        case .notLoggedIn: detail = "nothing to revoke"
        case .unsupported(let hint): detail = "provider has no revocation endpoint" + (hint.map { "; \($0)" } ?? "")
        case .failed(let why): detail = "revocation failed: \(why)"
        }
        if outcome == .revoked {
            environment.audit.record(AuditRecord(.revoked, "\(name): tokens revoked at the provider", audience: name, client: client,
                                                 scopes: current.scopes, tokenFingerprint: current.accessTokenFingerprint))
        }
        environment.audit.record(AuditRecord(.loggedOut, "\(name): logged out, \(detail)", audience: name, client: client,
                                             scopes: current.scopes, tokenFingerprint: current.accessTokenFingerprint, detail: detail))
        return (outcome, status())
    }

    /// Deletes the client authd registered for this audience (after `logout`), and audits it.
    public func forgetRegisteredClient(client: ClientIdentity) async -> ClientForgetting {
        let outcome = await provider.forgetRegisteredClient()
        environment.audit.record(AuditRecord(.clientForgotten, "\(name): \(outcome.auditText)", audience: name, client: client))
        return outcome
    }

    /// Stops serving the access token with this fingerprint; the next request refreshes or prompts.
    public func erase(fingerprint: String, client: ClientIdentity) async -> Bool {
        if scopedTokens.remove(fingerprint: fingerprint) {
            environment.audit.record(AuditRecord(.tokenErased, "\(name): narrower token erased on request", audience: name,
                                                 client: client, tokenFingerprint: fingerprint))
            return true
        }
        guard var current = login, current.accessTokenFingerprint == fingerprint else { return false }
        current.accessToken = nil
        current.accessTokenFingerprint = nil
        current.accessExpiry = nil
        login = current
        environment.audit.record(AuditRecord(.tokenErased, "\(name): token erased on request", audience: name, client: client,
                                             scopes: current.scopes, tokenFingerprint: fingerprint))
        cancelRefreshTimer()
        await persist(login)
        return true
    }

    public func status() -> AudienceStatus {
        let now = clock.monotonicNow()
        // The login in use comes first: while someone's new login waits for approval, the current
        // one may still be valid and served, and status must say so (`loginPending` says the rest).
        let state: AudienceStatus.State
        if refreshing != nil {
            state = .refreshing
        } else if let login, login.accessTokenIsUnexpired(now: now) {
            state = .valid
        } else if flow != nil {
            state = .pending
        } else if let login, renewal == .possible, refreshFailures > 0, login.refreshTokenIsUsable(now: now) {
            // Expired, but a person cannot help: the retries continue until the provider answers.
            state = .refreshFailing
        } else if login != nil || renewal != .possible {
            state = .loginNeeded
        } else {
            state = .loggedOut
        }
        let wallNow = clock.wallSeconds()
        var status = AudienceStatus(
            audience: name, state: state, issuer: nil, scopes: login?.scopes ?? [],
            accessTokenExpiresAt: login?.accessToken == nil ? nil : login?.accessExpiry?.wall,
            refreshAt: nextRefreshAt.map { wallNow + Int64(($0 - now).components.seconds) },
            hasRefreshToken: login?.refreshToken != nil, loginAt: login?.loginAtWall, persist: policy.persist,
            subject: login?.identity?.displayName ?? login?.subject, loginPending: flow != nil,
            refreshError: state == .refreshFailing ? lastRefreshError : nil)
        if let identity = login?.identity {
            status.identity = "verified"
            status.email = identity.email
            status.amr = identity.authenticationMethods
            status.acr = identity.authenticationContext
            status.authTime = identity.authTime
            status.mfa = identity.authenticationMethods.contains(where: IdentityPolicy.multiFactorMethods.contains)
        } else if login?.identityUnverifiable == true || login?.subject != nil {
            // Discarded for want of keys, or a subject from a store written before verification.
            status.identity = "unverified"
        }
        return status
    }

    /// Applies a reloaded config. A changed provider identity drops the login (it belongs to the old one).
    public func reconfigure(policy: AudiencePolicy, provider: any AudienceProvider, identityChanged: Bool) async {
        self.policy = policy
        self.provider = provider
        if identityChanged {
            stopRenewing()
            login = nil
            renewal = .possible
        } else if let login {
            // A config fix (a new client secret, an endpoint) may make renewal possible again.
            if login.refreshToken != nil, case .loginNeeded = renewal {
                renewal = .possible
                notifiedLoginNeeded = false
            }
            scheduleRefresh()
        }
    }

    /// Stops timers and flows; the login stays as persisted. A refresh in flight is waited for,
    /// not cancelled: the provider may already have rotated the refresh token, and the new one
    /// must reach the store.
    public func shutdown() async {
        isShutDown = true
        cancelRefreshTimer()
        cancelFlow()
        if let task = refreshing { _ = await awaitRefresh(task) }
        generation += 1
    }

    /// Installs a login read from the store at start-up.
    func restore(_ restored: Login) {
        login = restored
        renewal = .possible
        scheduleRefresh()
    }

    // MARK: Serving

    func serve(_ login: Login, to client: ClientIdentity, asked: Duration) throws(ProtocolFailure) -> ServedToken {
        guard let sealed = login.accessToken, let fingerprint = login.accessTokenFingerprint else {
            throw ProtocolFailure(.internalError, "\(name): no access token to serve")
        }
        let token: SecretBytes
        do {
            token = try environment.vault.open(sealed, context: VaultContext.access(name))
        } catch {
            throw ProtocolFailure(.internalError, "\(name): the in-memory vault failed to open a token")
        }
        environment.audit.record(.tokenServed(name, client: client, scopes: login.scopes, fingerprint: fingerprint))
        return ServedToken(token: token, tokenType: login.tokenType, expiresAtWall: login.accessExpiry?.wall,
                           scopes: login.scopes, fingerprint: fingerprint,
                           shortOfMinimumValidity: MinimumValidity.fallsShort(
                               remaining: login.accessExpiresAt.map { $0 - clock.monotonicNow() }, asked: asked))
    }

    func loginNeededFailure(for client: ClientIdentity) -> ProtocolFailure {
        let reason: String
        if case .loginNeeded(let why) = renewal { reason = why } else { reason = login == nil ? "not logged in" : "the login has expired" }
        environment.audit.record(AuditRecord(.loginNeeded, "\(name): login needed and the client cannot be prompted (\(reason))",
                                             audience: name, client: client, scopes: policy.requestedScopes, detail: reason))
        return ProtocolFailure(.loginNeeded, "\(name): login needed (\(reason)) and nobody can be prompted here",
                               hint: policy.loginHint)
    }

    func checkCancelled() throws(ProtocolFailure) {
        if Task.isCancelled { throw ProtocolFailure(.cancelled, "\(name): request cancelled") }
    }

    /// The current login is being replaced or dropped: a new generation, and no flow, refresh or
    /// timer of the old one goes on.
    func stopRenewing() {
        generation += 1
        cancelFlow()
        cancelRefresh()
        cancelRefreshTimer()
    }

    func sessionExpired(_ now: Duration) -> Bool {
        guard let login else { return false }
        return policy.refreshPlanner.sessionEnded(loginAt: login.loginAt, now: now)
    }
}
