// The single owner of one audience's login: serving, single-flight logins (device or authorization code) and refreshes, schedules.
import AuthdConfig
import AuthdOAuth
import AuthdSystem
import AuthdWire
import Synchronization

/// What a client receives for `get`: the token opened from the vault only for this answer.
public struct ServedToken: Sendable {
    public var token: SecretBytes
    public var tokenType: String
    public var expiresAtWall: Int64?
    public var scopes: [String]
    public var fingerprint: String
    /// The token is valid for less than the `min_valid` asked: nothing better could be had
    /// (renewed for this request, or the provider issues shorter lifetimes; `MinimumValidity`).
    public var shortOfMinimumValidity: Bool = false
    /// Which token this is: the access token, or the verified id_token (`get --id-token`).
    public enum Kind: Sendable { case access, id }
    public var kind: Kind = .access
}

/// Where streamed events (prompt, progress) for one waiting client go.
public typealias ReplySink = @Sendable (ReplyLine) -> Void

/// The per-audience settings the agent acts on (from the config; replaced on reload).
public struct AudiencePolicy: Sendable {
    public var name: String
    public var requestedScopes: [String]
    public var persist: Bool
    public var requireTTY: Bool
    public var allowedClients: [String]
    /// The configured RFC 8707 resources the login was asked for: the only ones `get --resource` may name.
    public var resources: [String]
    /// nil = the default rule (the larger of 60 s and 10 % of the lifetime).
    public var refreshMargin: Duration?
    public var maxSession: Duration?
    /// The issuer and client a login of this audience belongs to (stored with it).
    public var identity: LoginIdentity?
    /// `require_mfa` / `acr_values`: what a login's verified id_token must show to be kept.
    public var identityPolicy = IdentityPolicy()
    /// Shown when a login is needed and nobody can be prompted.
    public var loginHint: String { "run: authctl login \(name)" }
    /// `redirect_port`; nil = an ephemeral loopback port per authorization code login.
    public var redirectPort: Int?
    /// Which login method to use, for the audience's `flow` or a `login --flow` override
    /// (AuthdConfig's `loginMethodPlan`, the one rule).
    public var loginPlan: @Sendable (LoginFlowChoice?) -> LoginMethodPlan

    public init(name: String, requestedScopes: [String], persist: Bool = true, requireTTY: Bool = false,
                allowedClients: [String] = [], resources: [String] = [], refreshMargin: Duration? = nil,
                maxSession: Duration? = nil, identity: LoginIdentity? = nil, redirectPort: Int? = nil,
                loginPlan: @escaping @Sendable (LoginFlowChoice?) -> LoginMethodPlan = AudiencePolicy.deviceFlowOnly) {
        self.redirectPort = redirectPort
        self.loginPlan = loginPlan
        self.name = name
        self.requestedScopes = requestedScopes
        self.persist = persist
        self.requireTTY = requireTTY
        self.allowedClients = allowedClients
        self.resources = resources
        self.refreshMargin = refreshMargin
        self.maxSession = maxSession
        self.identity = identity
    }

    public static let deviceFlowOnly: @Sendable (LoginFlowChoice?) -> LoginMethodPlan = { flow in
        flow == .authcode
            ? LoginMethodPlan(first: .authorizationCode, fallsBackToAuthorizationCode: false, reason: "flow = \"authcode\"")
            : LoginMethodPlan(first: .deviceFlow, fallsBackToAuthorizationCode: false, reason: "the device flow")
    }

    /// Capped at half the lifetime, so a short-lived token is not refreshed the moment it arrives.
    func margin(forLifetime lifetime: Duration) -> Duration {
        min(refreshMargin ?? max(.seconds(60), lifetime / 10), lifetime / 2)
    }
}

/// Side effects the agent needs from the daemon, injected so the agent is tested without one.
public struct AgentEnvironment: Sendable {
    public var clock: any DaemonClock
    public var vault: TokenVault
    public var audit: any AuditSink
    public var persistence: any LoginPersistence
    /// Rows of a QR code for a URI (`1` = dark), or [] when none can be made.
    public var qrRows: @Sendable (String) -> [String]
    /// A desktop notification (title, body), best effort.
    public var notifyDesktop: @Sendable (String, String) -> Void
    /// Jitter in [0, 1) for retry backoff; injected so tests are deterministic.
    public var jitter: @Sendable () -> Double
    /// Starts the authorization code flow's loopback listener (127.0.0.1 only).
    public var loopbackListener: LoopbackListenerFactory = { port, answer in try await NIOLoopbackListener.start(port: port, answer: answer) }
    /// How long an authorization code login waits for the browser's redirect (or a paste).
    public var authorizationDeadline: Duration = .seconds(600)

    public init(clock: any DaemonClock, vault: TokenVault, audit: any AuditSink, persistence: any LoginPersistence,
                qrRows: @escaping @Sendable (String) -> [String] = { _ in [] },
                notifyDesktop: @escaping @Sendable (String, String) -> Void = { _, _ in },
                jitter: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) }) {
        self.clock = clock
        self.vault = vault
        self.audit = audit
        self.persistence = persistence
        self.qrRows = qrRows
        self.notifyDesktop = notifyDesktop
        self.jitter = jitter
    }
}

public actor AudienceAgent {
    public nonisolated let name: String
    private var policy: AudiencePolicy { didSet { publishServing() } }
    /// What the socket loop serves cached `get`s from without a hop (ServingSnapshot.swift).
    public nonisolated let serving: ServingSlot
    private var provider: any AudienceProvider
    private let environment: AgentEnvironment
    private var clock: any DaemonClock { environment.clock }


    /// Whether the current login can still be renewed without a person.
    private enum Renewal: Equatable {
        case possible
        case loginNeeded(reason: String)
    }

    private var login: Login? { didSet { publishServing() } }
    /// The device flow in progress, if any. Every `await` below re-checks it and `refreshing`
    /// afterwards: other requests run while this one is suspended.
    private var flow: DeviceFlowRun?
    /// The refresh in progress, if any. It is independent of `flow`: while someone's new login waits
    /// for approval, the current login keeps being refreshed and served to clients that cannot prompt.
    private var refreshing: Task<Result<Void, ProviderError>, Never>?
    private var renewal: Renewal = .possible { didSet { publishServing() } }
    private var refreshTimer: Task<Void, Never>?
    private var nextRefreshAt: Duration?
    private var refreshFailures = 0
    /// Why the last refresh failed transiently, for status while the retries go on.
    private var lastRefreshError: String?
    private var notifiedLoginNeeded = false
    private var nextRunID = 0
    /// Bumped whenever the login is replaced or dropped (login, logout, identity change, shutdown):
    /// a refresh that started under an older generation must not install its answer.
    private var generation = 0
    private var isShutDown = false
    /// Narrower tokens cut from this login for `get --scope/--resource` (ScopedTokens.swift).
    private var scopedTokens = ScopedTokenCache()
    static let heartbeatInterval: Duration = .seconds(3)

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

    /// A token valid for `minimumValidity`, refreshing or running a device flow as needed.
    public func get(minimumValidity: Duration, canPrompt: Bool, client: ClientIdentity,
                    events: @escaping ReplySink) async throws(ProtocolFailure) -> ServedToken {
        var renewedInThisRequest = false
        while true {
            try checkCancelled()
            let now = clock.monotonicNow()
            let canRefresh = login.map { renewal == .possible && $0.refreshTokenIsUsable(now: now) && !sessionExpired(now) } ?? false
            // The same rule the socket loop applies to the published snapshot (ServingSnapshot.swift).
            if let login, login.servesAsIs(asked: minimumValidity, canPrompt: canPrompt, renewedInThisRequest: renewedInThisRequest,
                                           renewable: canRefresh, margin: policy.margin(forLifetime:), now: now) {
                return try serve(login, to: client, asked: minimumValidity)
            }
            // Stopping: a valid token is still served above, but nothing new is started.
            if isShutDown { throw ProtocolFailure(.cancelled, "\(name): authd is stopping") }
            if let task = refreshing {
                let outcome = await awaitRefresh(task)
                // Whoever sees the refresh finished first clears it; otherwise this loop would find
                // the same finished task again without ever suspending.
                if refreshing == task { refreshing = nil }
                switch outcome {
                case .success:
                    renewedInThisRequest = true
                case .failure(let error) where error.kind == .transient:
                    throw ProtocolFailure(.networkError, "\(name): refresh failed: \(error.message)",
                                          hint: "the provider may be unreachable; try again shortly")
                case .failure:
                    break  // re-examine: now login-needed, or superseded
                }
                continue
            }
            // Someone's new login may be waiting for approval: the current login is still refreshed and
            // served when it can be; only a request that needs the new login joins (or is refused).
            if let run = flow, !(canRefresh && !renewedInThisRequest) {
                guard canPrompt else { throw loginNeededFailure(for: client) }
                try await join(run, client: client, events: events)
                renewedInThisRequest = true
                continue
            }
            if canRefresh, !renewedInThisRequest {
                switch await refreshNow(reason: "requested", client: client) {
                case .success:
                    renewedInThisRequest = true
                    continue
                case .failure(let error) where error.kind == .transient:
                    throw ProtocolFailure(.networkError, "\(name): refresh failed: \(error.message)",
                                          hint: "the provider may be unreachable; try again shortly")
                case .failure:
                    continue  // now login-needed; fall through to the device flow on the next turn
                }
            }
            guard canPrompt else {
                if let login, login.accessTokenIsValid(now: now, minimumValidity: minimumValidity) {
                    return try serve(login, to: client, asked: minimumValidity)
                }
                throw loginNeededFailure(for: client)
            }
            if renewedInThisRequest, let login, login.accessToken != nil {
                // Issued for this very request: serve it rather than prompt again, however short it is.
                return try serve(login, to: client, asked: minimumValidity)
            }
            let run = startDeviceFlow(client: client)
            try await join(run, client: client, events: events)
            renewedInThisRequest = true
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
                if case .failure(let error) = await refreshNow(reason: "id_token requested", client: client), error.kind == .transient {
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
        generation += 1
        cancelFlow()
        cancelRefresh()
        refreshTimer?.cancel()
        refreshTimer = nil
        nextRefreshAt = nil
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
        current.accessExpiresAt = nil
        current.accessExpiresAtWall = nil
        login = current
        environment.audit.record(AuditRecord(.tokenErased, "\(name): token erased on request", audience: name, client: client,
                                             scopes: current.scopes, tokenFingerprint: fingerprint))
        refreshTimer?.cancel()
        refreshTimer = nil
        nextRefreshAt = nil
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
            accessTokenExpiresAt: login?.accessToken == nil ? nil : login?.accessExpiresAtWall,
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
            generation += 1
            cancelFlow()
            cancelRefresh()
            refreshTimer?.cancel()
            refreshTimer = nil
            nextRefreshAt = nil
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
        refreshTimer?.cancel()
        refreshTimer = nil
        nextRefreshAt = nil
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

    private func serve(_ login: Login, to client: ClientIdentity, asked: Duration) throws(ProtocolFailure) -> ServedToken {
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
        return ServedToken(token: token, tokenType: login.tokenType, expiresAtWall: login.accessExpiresAtWall,
                           scopes: login.scopes, fingerprint: fingerprint,
                           shortOfMinimumValidity: MinimumValidity.fallsShort(
                               remaining: login.accessExpiresAt.map { $0 - clock.monotonicNow() }, asked: asked))
    }

    private func loginNeededFailure(for client: ClientIdentity) -> ProtocolFailure {
        let reason: String
        if case .loginNeeded(let why) = renewal { reason = why } else { reason = login == nil ? "not logged in" : "the login has expired" }
        environment.audit.record(AuditRecord(.loginNeeded, "\(name): login needed and the client cannot be prompted (\(reason))",
                                             audience: name, client: client, scopes: policy.requestedScopes, detail: reason))
        return ProtocolFailure(.loginNeeded, "\(name): login needed (\(reason)) and nobody can be prompted here",
                               hint: policy.loginHint)
    }

    private func checkCancelled() throws(ProtocolFailure) {
        if Task.isCancelled { throw ProtocolFailure(.cancelled, "\(name): request cancelled") }
    }

    private func sessionExpired(_ now: Duration) -> Bool {
        guard let maxSession = policy.maxSession, let login else { return false }
        return now - login.loginAt >= maxSession
    }

    // MARK: Narrower tokens (get --scope / --resource; the decision and cache are in ScopedTokens.swift)

    /// A token narrower than the login's own, cut from it with a refresh-token grant and cached per scope
    /// set. Narrowing refreshes share `refreshing` with the login's: one refresh token, one refresh at a time
    /// (a provider that rotates it would otherwise see it reused). Not refreshed ahead of time: on demand.
    public func get(minimumValidity: Duration, canPrompt: Bool, client: ClientIdentity, narrowing: TokenNarrowing,
                    events: @escaping ReplySink) async throws(ProtocolFailure) -> ServedToken {
        var refreshedInThisRequest = false
        var promptedInThisRequest = false
        while true {
            try checkCancelled()
            // Checked against what was asked for until a login says what was granted: refused before any prompt.
            let key: TokenNarrowing
            switch NarrowingDecision.decide(narrowing, audience: name, granted: login?.scopes ?? policy.requestedScopes,
                                            loggedIn: login != nil, allowedResources: policy.resources) {
            case .refuse(let why): throw ProtocolFailure(.badRequest, why)
            case .serveLogin: return try await get(minimumValidity: minimumValidity, canPrompt: canPrompt, client: client, events: events)
            case .narrow(let narrower): key = narrower
            }
            let now = clock.monotonicNow()
            if let entry = scopedTokens.entry(key, generation: generation) {
                let needed = refreshedInThisRequest ? Duration.zero
                    : MinimumValidity.required(asked: minimumValidity, issuedLifetime: entry.issuedLifetime, margin: policy.margin(forLifetime:))
                if entry.expiresAt.map({ $0 - now >= needed }) ?? true { return try serveScoped(entry, key, to: client, asked: minimumValidity) }
            }
            if isShutDown { throw ProtocolFailure(.cancelled, "\(name): authd is stopping") }
            if let task = refreshing {
                _ = await awaitRefresh(task)
                if refreshing == task { refreshing = nil }
                continue
            }
            guard let current = login, renewal == .possible, !sessionExpired(now), let sealed = current.refreshToken,
                  current.refreshTokenIsUsable(now: now) else {
                if let current = login, current.refreshToken == nil, renewal == .possible, !sessionExpired(now) {
                    throw ProtocolFailure(.providerError, "\(name): this login has no refresh token, so no narrower token can be obtained",
                                          hint: "the provider issues none; use: authctl get \(name) without --scope or --resource")
                }
                guard canPrompt, !promptedInThisRequest else { throw loginNeededFailure(for: client) }
                let run = flow ?? startDeviceFlow(client: client)
                try await join(run, client: client, events: events)
                promptedInThisRequest = true
                refreshedInThisRequest = false
                continue
            }
            if refreshedInThisRequest {
                throw scopedTokens.takeFailure(for: key) ?? ProtocolFailure(.internalError, "\(name): the narrower token could not be kept")
            }
            let started = generation
            let task = Task { () -> Result<Void, ProviderError> in
                await self.performNarrowingRefresh(sealed: sealed, key: key, generation: started, client: client)
            }
            refreshing = task
            _ = await awaitRefresh(task)
            if refreshing == task { refreshing = nil }
            // A scheduled refresh that fired meanwhile joined this one and did not renew the login: re-arm it.
            if refreshTimer == nil { scheduleRefresh() }
            if let failure = scopedTokens.takeFailure(for: key) { throw failure }
            refreshedInThisRequest = true
        }
    }

    private func serveScoped(_ entry: ScopedTokenCache.Entry, _ key: TokenNarrowing, to client: ClientIdentity,
                             asked: Duration) throws(ProtocolFailure) -> ServedToken {
        let token: SecretBytes
        do {
            token = try environment.vault.open(entry.token, context: VaultContext.scoped(name, key))
        } catch {
            throw ProtocolFailure(.internalError, "\(name): the in-memory vault failed to open a token")
        }
        environment.audit.record(AuditRecord(.tokenServed, "\(name): narrower token served", audience: name, client: client,
                                             scopes: entry.scopes, tokenFingerprint: entry.fingerprint, detail: "narrower token: \(key)"))
        return ServedToken(token: token, tokenType: entry.tokenType, expiresAtWall: entry.expiresAtWall, scopes: entry.scopes,
                           fingerprint: entry.fingerprint,
                           shortOfMinimumValidity: MinimumValidity.fallsShort(
                               remaining: entry.expiresAt.map { $0 - clock.monotonicNow() }, asked: asked))
    }

    /// One narrowing refresh. Its outcome for the requester goes into the cache (a token or a failure);
    /// what it returns tells other waiters on `refreshing` only to look again (`.cancelled`), since the
    /// login's own access token did not change.
    private func performNarrowingRefresh(sealed: SealedSecret, key: TokenNarrowing, generation started: Int,
                                         client: ClientIdentity) async -> Result<Void, ProviderError> {
        let lookAgain = ProviderError(.cancelled, "a narrower-token refresh finished")
        func fail(_ failure: ProtocolFailure) -> Result<Void, ProviderError> {
            scopedTokens.recordFailure(failure, for: key)
            return .failure(lookAgain)
        }
        let superseded = ProtocolFailure(.cancelled, "\(name): superseded by a newer login or logout")
        guard generation == started else { return fail(superseded) }
        guard let refreshToken = try? environment.vault.open(sealed, context: VaultContext.refresh(name)).copyString() else {
            return fail(ProtocolFailure(.internalError, "\(name): the in-memory vault failed to open the refresh token"))
        }
        do {
            let tokens = try await provider.refresh(refreshToken: refreshToken, narrowing: key)
            guard generation == started else { return fail(superseded) }
            // Whatever the answer, a rotated refresh token is the login's from now on.
            await adoptRefreshToken(from: tokens)
            let asked = key.scopes?.joined(separator: " ") ?? ""
            guard NarrowingDecision.providerHonoured(key, issuedScopes: tokens.scopes) else {
                let issued = (tokens.scopes ?? []).joined(separator: " ")
                environment.audit.record(AuditRecord(.scopeNotNarrowed, "\(name): the provider ignored a narrower scope on refresh",
                                                     audience: name, client: client, scopes: tokens.scopes ?? [],
                                                     detail: "asked for \"\(asked)\", issued \"\(issued)\"; not served"))
                return fail(ProtocolFailure(.providerError,
                                            "\(name): the provider ignored the narrower scope: asked for \"\(asked)\", it issued \"\(issued)\"; that token was not served",
                                            hint: "this provider does not narrow scopes on refresh; use authctl get \(name) without --scope, or configure an audience with just these scopes"))
            }
            let now = clock.monotonicNow()
            let wallNow = clock.wallSeconds()
            var accessBytes = Array(tokens.accessToken.utf8)
            let fingerprint = AuthdWire.TokenFingerprint.of(accessBytes)
            let entry = ScopedTokenCache.Entry(
                token: environment.vault.seal(zeroing: &accessBytes, context: VaultContext.scoped(name, key)),
                tokenType: tokens.tokenType, fingerprint: fingerprint, expiresAt: tokens.expiresIn.map { now + .seconds($0) },
                expiresAtWall: tokens.expiresIn.map { wallNow + $0 }, issuedLifetime: tokens.expiresIn.map { .seconds($0) },
                scopes: tokens.scopes ?? key.scopes ?? login?.scopes ?? [], generation: started)
            scopedTokens.store(entry, for: key)
            environment.audit.record(AuditRecord(.refreshSucceeded, "\(name): narrower token refreshed", audience: name, client: client,
                                                 scopes: entry.scopes, tokenFingerprint: fingerprint, detail: "narrower token: \(key)"))
            return .failure(lookAgain)
        } catch let error as ProviderError {
            guard generation == started else { return fail(superseded) }
            environment.audit.record(AuditRecord(.refreshFailed, "\(name): narrower-token refresh failed: \(error.message)", audience: name,
                                                 client: client, scopes: key.scopes ?? [], detail: "narrower token: \(key): \(error.message)"))
            if error.kind == .loginNeeded {
                // The refresh token is dead for the login too; the next turn prompts or reports it.
                markLoginNeeded(reason: "the provider no longer accepts the refresh token (\(error.message))")
                await forgetRefreshToken()
                return .failure(lookAgain)
            }
            // invalid_scope, invalid_target, a network problem: this scope set failed, the login is untouched.
            return fail(ProtocolFailure(error.protocolCode, "\(name): narrower token (\(key)): \(error.message)", hint: error.hint))
        } catch {
            guard generation == started else { return fail(superseded) }
            return fail(ProtocolFailure(.networkError, "\(name): narrower token (\(key)): \(error)"))
        }
    }

    /// Keeps a refresh token rotated by a narrowing refresh as the login's own.
    private func adoptRefreshToken(from tokens: IssuedTokens) async {
        guard let refresh = tokens.refreshToken, var current = login else { return }
        let now = clock.monotonicNow()
        let wallNow = clock.wallSeconds()
        var refreshBytes = Array(refresh.utf8)
        current.refreshToken = environment.vault.seal(zeroing: &refreshBytes, context: VaultContext.refresh(name))
        current.refreshExpiresAt = tokens.refreshTokenExpiresIn.map { now + .seconds($0) }
        current.refreshExpiresAtWall = tokens.refreshTokenExpiresIn.map { wallNow + $0 }
        login = current
        await persist(current)
    }

    // MARK: Device flow

    private func startDeviceFlow(client: ClientIdentity, method: LoginFlowChoice? = nil) -> DeviceFlowRun {
        nextRunID += 1
        let run = DeviceFlowRun(id: nextRunID)
        if isShutDown {
            run.outcome = .failure(ProtocolFailure(.cancelled, "\(name): authd is stopping"))
            return run
        }
        flow = run
        let plan = policy.loginPlan(method)
        if plan.first == .deviceFlow {
            environment.audit.record(AuditRecord(.deviceFlowStarted, "\(name): device flow started", audience: name, client: client,
                                                 scopes: policy.requestedScopes))
        }
        run.task = Task { await self.performLogin(run, client: client, plan: plan) }
        return run
    }

    /// One login: the plan's first method, and the authorization code flow when the plan allows
    /// it and the provider refused the device grant itself. Effects only; the plan decides.
    private func performLogin(_ run: DeviceFlowRun, client: ClientIdentity, plan: LoginMethodPlan) async {
        let outcome: Result<Void, ProtocolFailure>
        var method = plan.first
        do {
            var tokens: IssuedTokens?
            var switchReason: String?
            if method == .deviceFlow {
                do {
                    tokens = try await deviceFlowTokens(run)
                } catch let error as ProviderError where plan.fallsBackToAuthorizationCode && error.refusesDeviceGrant
                    && provider is any AuthorizationCodeProvider && isCurrent(run) {
                    environment.audit.record(AuditRecord(.deviceFlowFailed, "\(name): device flow refused by the provider; "
                        + "offering the authorization code flow: \(error.message)", audience: name, client: client,
                        scopes: policy.requestedScopes, detail: error.message))
                    switchReason = "the provider refused the device flow (\(error.message)\(error.hint.map { "; \($0)" } ?? "")); sign in with the browser instead"
                    method = .authorizationCode
                    // A client joining from now on gets the authorization prompt only.
                    run.prompt = nil
                }
            }
            if method == .authorizationCode {
                tokens = try await authorizationCodeTokens(run, client: client, reason: switchReason)
            }
            guard isCurrent(run), let tokens else { return }
            if case .refuse(let rule) = policy.identityPolicy.decide(tokens.identity) {
                // Nothing is installed; the provider is asked to forget the tokens it just issued.
                let revocation = await provider.revoke(refreshToken: tokens.refreshToken, accessToken: tokens.accessToken)
                let revoked = revocation == .revoked ? "revoked at the provider" : "not revoked at the provider (\(revocation))"
                environment.audit.record(AuditRecord(.loginRefusedPolicy, "\(name): login refused by policy: \(rule); \(revoked)",
                                                     audience: name, client: client, scopes: tokens.scopes ?? policy.requestedScopes,
                                                     detail: ([rule] + Self.evidence(tokens.identity)).joined(separator: "; ")))
                outcome = .failure(ProtocolFailure(.refused, "\(name): login refused: \(rule)"))
                finish(run, outcome)
                return
            }
            await install(tokens, freshLogin: true)
            let fingerprint = login?.accessTokenFingerprint
            let evidence = Self.evidence(tokens.identity).joined(separator: "; ")
            if method == .deviceFlow {
                environment.audit.record(AuditRecord(.deviceFlowApproved, "\(name): device flow approved", audience: name,
                                                     client: client, scopes: login?.scopes ?? [], tokenFingerprint: fingerprint,
                                                     detail: evidence))
            } else {
                environment.audit.record(AuditRecord(.authorizationCodeApproved, "\(name): authorization code login approved", audience: name,
                                                     client: client, scopes: login?.scopes ?? [], tokenFingerprint: fingerprint,
                                                     detail: evidence))
            }
            broadcast(run, .progress(stage: "approved", intervalSeconds: nil))
            outcome = .success(())
        } catch let error as ProviderError {
            outcome = .failure(ProtocolFailure(error.protocolCode, "\(name): \(error.message)", hint: error.hint))
            let event: AuditEvent
            switch error.kind {
            case .denied: event = .deviceFlowDenied
            case .expired: event = .deviceFlowExpired
            case .cancelled: event = .deviceFlowCancelled
            default: event = .deviceFlowFailed
            }
            let what = method == .deviceFlow ? "device flow" : "authorization code login"
            environment.audit.record(AuditRecord(event, "\(name): \(what) ended: \(error.message)", audience: name,
                                                 client: client, scopes: policy.requestedScopes, detail: error.message))
        } catch {
            let cancelled = error is CancellationError || Task.isCancelled
            outcome = .failure(ProtocolFailure(cancelled ? .cancelled : .internalError, "\(name): login ended: \(error)"))
            environment.audit.record(AuditRecord(cancelled ? .deviceFlowCancelled : .deviceFlowFailed,
                                                 "\(name): login ended", audience: name, client: client,
                                                 scopes: policy.requestedScopes, detail: cancelled ? "cancelled" : "\(error)"))
        }
        finish(run, outcome)
    }

    /// A progress line every few seconds: writing to a client that has gone away fails, which
    /// is how the daemon notices that nobody waits any more and cancels the login.
    private func startHeartbeat(_ run: DeviceFlowRun) -> Task<Void, Never> {
        let clock = self.clock
        return Task {
            while !Task.isCancelled {
                do { try await clock.sleep(until: clock.monotonicNow() + AudienceAgent.heartbeatInterval) } catch { return }
                self.relay(.polling, to: run)
            }
        }
    }

    private func deviceFlowTokens(_ run: DeviceFlowRun) async throws -> IssuedTokens? {
        let code = try await provider.requestDeviceCode()
        guard isCurrent(run) else { return nil }
        let expiresAtWall = clock.wallSeconds() + code.expiresIn
        let prompt = DevicePrompt(
            audience: name, verificationURI: code.verificationURI, userCode: code.userCode,
            verificationURIComplete: code.verificationURIComplete, expiresAt: expiresAtWall, expiresIn: code.expiresIn,
            qrRows: environment.qrRows(code.verificationURIComplete ?? code.verificationURI), providerMessage: code.message)
        run.prompt = prompt
        broadcast(run, .prompt(prompt))
        let (progressStream, progressSink) = AsyncStream<FlowProgress>.makeStream()
        let relay = Task {
            for await progress in progressStream { self.relay(progress, to: run) }
        }
        let heartbeat = startHeartbeat(run)
        defer {
            relay.cancel()
            heartbeat.cancel()
        }
        let tokens = try await provider.pollForTokens(code) { progressSink.yield($0) }
        progressSink.finish()
        return tokens
    }

    /// RFC 8252 §7.3: a listener on 127.0.0.1 for exactly this login, the prompt, then one
    /// answer (redirect, paste-back, deadline or cancellation), then the code exchange. The
    /// listener is closed before the exchange, whatever the answer.
    private func authorizationCodeTokens(_ run: DeviceFlowRun, client: ClientIdentity, reason: String?) async throws -> IssuedTokens? {
        guard let codeProvider = provider as? any AuthorizationCodeProvider else {
            throw ProviderError(.provider, "this audience's provider cannot run the authorization code flow")
        }
        environment.audit.record(AuditRecord(.authorizationCodeStarted, "\(name): authorization code login started", audience: name,
                                             client: client, scopes: policy.requestedScopes))
        let waiting = AuthorizationWait()
        let audit = environment.audit, name = self.name
        let listener: any LoopbackListener
        do {
            listener = try await environment.loopbackListener(policy.redirectPort ?? 0) { query in
                waiting.answer(query) { why in
                    audit.record(AuditRecord(.authorizationCallbackRefused, "\(name): a request at the loopback listener was refused: \(why)",
                                             audience: name, detail: why))
                }
            }
        } catch {
            let port = policy.redirectPort.map { " port \($0)" } ?? " an ephemeral port"
            throw ProviderError(.provider, "cannot listen on 127.0.0.1\(port) for the browser's redirect: \(error)",
                                hint: policy.redirectPort == nil ? nil : "another program uses redirect_port \(policy.redirectPort!); free it or change redirect_port")
        }
        let deadline = clock.monotonicNow() + environment.authorizationDeadline
        let clock = self.clock
        let timer = Task {
            do { try await clock.sleep(until: deadline) } catch { return }
            waiting.rendezvous.deliver(.failed(ProviderError(.expired, "no answer from the browser within "
                + "\(environment.authorizationDeadline.components.seconds / 60) minutes", hint: "run the login again and approve within the time shown")))
        }
        var heartbeat: Task<Void, Never>?
        defer {
            timer.cancel()
            heartbeat?.cancel()
            run.authorization = nil
        }
        let start: AuthorizationCodeStart
        do {
            start = try await codeProvider.beginAuthorizationCode(port: listener.port)
        } catch {
            await listener.close()
            throw error
        }
        guard isCurrent(run) else {
            await listener.close()
            return nil
        }
        waiting.arm(start)
        run.authorization = waiting
        let expiresIn = environment.authorizationDeadline.components.seconds
        let prompt = AuthorizationPrompt(audience: name, authorizationURL: start.authorizationURL, redirectURI: start.redirectURI,
                                         expiresAt: clock.wallSeconds() + expiresIn, expiresIn: expiresIn, reason: reason)
        run.authorizationPrompt = prompt
        broadcast(run, .authorizationPrompt(prompt))
        heartbeat = startHeartbeat(run)
        let rendezvous = waiting.rendezvous
        let outcome = await withTaskCancellationHandler {
            await rendezvous.wait()
        } onCancel: {
            rendezvous.deliver(.failed(ProviderError(.cancelled, "login cancelled")))
        }
        // Exactly one answer: the port closes before anything else happens.
        await listener.close()
        switch outcome {
        case .code(let code):
            broadcast(run, .progress(stage: "exchanging_code", intervalSeconds: nil))
            return try await codeProvider.exchangeAuthorizationCode(code, for: start)
        case .failed(let error):
            throw error
        }
    }

    /// Paste-back: the address the person's browser ended on, for the authorization code login
    /// waiting here. A wrong `state` is refused and the login goes on waiting.
    public func authorizationResponse(_ text: String, client: ClientIdentity) throws(ProtocolFailure) {
        guard let run = flow, let waiting = run.authorization else {
            throw ProtocolFailure(.badRequest, "\(name): no authorization code login is waiting for an answer",
                                  hint: "start one with: authctl login \(name) --flow authcode")
        }
        switch waiting.paste(text) {
        case .accepted:
            return
        case .refused(let why):
            environment.audit.record(AuditRecord(.authorizationCallbackRefused, "\(name): a pasted address was refused: \(why)",
                                                 audience: name, client: client, detail: why))
            throw ProtocolFailure(.badRequest, "\(name): the pasted address was refused: \(why)",
                                  hint: "paste the whole address your browser shows after you approve")
        }
    }

    /// The approval evidence for audit records: verified claims only, never the token.
    static func evidence(_ identity: VerifiedIdentity?) -> [String] {
        guard let identity else { return ["identity: none verified"] }
        var facts = ["sub=\(identity.subject)"]
        if let email = identity.email { facts.append("email=\(email)") }
        if let username = identity.preferredUsername { facts.append("preferred_username=\(username)") }
        facts.append("amr=" + identity.authenticationMethods.joined(separator: ","))
        if let acr = identity.authenticationContext { facts.append("acr=\(acr)") }
        if let authTime = identity.authTime { facts.append("auth_time=\(authTime)") }
        return facts
    }

    private func isCurrent(_ run: DeviceFlowRun) -> Bool {
        flow === run
    }

    private func relay(_ progress: FlowProgress, to run: DeviceFlowRun) {
        switch progress {
        case .polling: broadcast(run, .progress(stage: "polling", intervalSeconds: nil))
        case .slowDown(let interval): broadcast(run, .progress(stage: "slow_down", intervalSeconds: interval))
        case .retrying: broadcast(run, .progress(stage: "retrying", intervalSeconds: nil))
        }
    }

    private func broadcast(_ run: DeviceFlowRun, _ line: ReplyLine) {
        for waiter in run.waiters.values { waiter.events(line) }
    }

    private func finish(_ run: DeviceFlowRun, _ outcome: Result<Void, ProtocolFailure>) {
        if isCurrent(run) { flow = nil }
        run.outcome = outcome
        let waiters = run.waiters
        run.waiters = [:]
        for waiter in waiters.values {
            waiter.continuation.resume(with: outcome)
        }
    }

    /// Waits for `run` to finish. A waiter that goes away (its task is cancelled when the client
    /// disconnects) leaves; the flow is cancelled when nobody waits any more.
    private func join(_ run: DeviceFlowRun, client: ClientIdentity, events: @escaping ReplySink) async throws(ProtocolFailure) {
        if let outcome = run.outcome { return try outcome.get() }
        let waiterID = run.nextWaiterID
        run.nextWaiterID += 1
        if let prompt = run.prompt { events(.prompt(prompt)) }
        if let prompt = run.authorizationPrompt { events(.authorizationPrompt(prompt)) }
        let result: Result<Void, ProtocolFailure> = await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Result<Void, ProtocolFailure>, Never>) in
                if Task.isCancelled {
                    continuation.resume(returning: .failure(ProtocolFailure(.cancelled, "\(name): request cancelled")))
                    return
                }
                run.waiters[waiterID] = DeviceFlowRun.Waiter(events: events, continuation: ResultContinuation(continuation))
            }
        } onCancel: { [runID = run.id] in
            Task { await self.leave(runID: runID, waiterID: waiterID) }
        }
        try result.get()
    }

    private func leave(runID: Int, waiterID: Int) {
        guard let run = flow, run.id == runID,
              let waiter = run.waiters.removeValue(forKey: waiterID) else { return }
        waiter.continuation.resume(with: .failure(ProtocolFailure(.cancelled, "\(name): request cancelled")))
        if run.waiters.isEmpty, run.outcome == nil {
            // Nobody waits: cancel, and let the next request start a fresh flow at once rather
            // than join this one while it winds down.
            run.task?.cancel()
            finish(run, .failure(ProtocolFailure(.cancelled, "\(name): device flow cancelled: nobody is waiting")))
        }
    }

    private func cancelFlow() {
        guard let run = flow else { return }
        run.task?.cancel()
        finish(run, .failure(ProtocolFailure(.cancelled, "\(name): device flow cancelled")))
    }

    private func cancelRefresh() {
        refreshing?.cancel()
        refreshing = nil
    }

    // MARK: Refresh

    /// Runs one refresh (joining one in progress) and reports how it went.
    private func refreshNow(reason: String, client: ClientIdentity) async -> Result<Void, ProviderError> {
        if let task = refreshing { return await awaitRefresh(task) }
        // A stopping daemon must not rotate a refresh token it may never get to save.
        guard !isShutDown else { return .failure(ProviderError(.cancelled, "authd is stopping")) }
        guard let current = login, let sealed = current.refreshToken else {
            return .failure(ProviderError(.loginNeeded, "no refresh token"))
        }
        // The generation goes with the token it belongs to: a device flow approved before the task
        // first runs must make this refresh's answer stale, not the other way round.
        let started = generation
        let task = Task { () -> Result<Void, ProviderError> in
            await self.performRefresh(sealed: sealed, generation: started, client: client)
        }
        refreshing = task
        let result = await awaitRefresh(task)
        if refreshing == task { refreshing = nil }
        return result
    }

    /// Requests (and a shutdown) waiting for the refresh in flight: tests wait for a count
    /// instead of sleeping and hoping every request has joined.
    private(set) var refreshWaiters = 0

    private func awaitRefresh(_ task: Task<Result<Void, ProviderError>, Never>) async -> Result<Void, ProviderError> {
        refreshWaiters += 1
        defer { refreshWaiters -= 1 }
        return await task.value
    }

    private func performRefresh(sealed: SealedSecret, generation started: Int,
                                client: ClientIdentity) async -> Result<Void, ProviderError> {
        let superseded = ProviderError(.cancelled, "superseded by a newer login or logout")
        guard generation == started else { return .failure(superseded) }
        let refreshToken: String
        do {
            guard let text = try environment.vault.open(sealed, context: VaultContext.refresh(name)).copyString() else {
                // Marked, so the next turn of `get` prompts or reports instead of trying again forever.
                markLoginNeeded(reason: "the stored refresh token is not text")
                return .failure(ProviderError(.loginNeeded, "stored refresh token is not text"))
            }
            refreshToken = text
        } catch {
            markLoginNeeded(reason: "the in-memory vault failed to open the refresh token")
            return .failure(ProviderError(.loginNeeded, "the in-memory vault failed to open the refresh token"))
        }
        do {
            let tokens = try await provider.refresh(refreshToken: refreshToken)
            guard generation == started else { return .failure(superseded) }
            await install(tokens, freshLogin: false)
            refreshFailures = 0
            lastRefreshError = nil
            environment.audit.record(AuditRecord(.refreshSucceeded, "\(name): token refreshed", audience: name, client: client,
                                                 scopes: login?.scopes ?? [], tokenFingerprint: login?.accessTokenFingerprint))
            return .success(())
        } catch let error as ProviderError {
            guard generation == started else { return .failure(superseded) }
            if error.kind == .cancelled { return .failure(error) }
            environment.audit.record(AuditRecord(.refreshFailed, "\(name): refresh failed: \(error.message)", audience: name,
                                                 client: client, scopes: login?.scopes ?? [], detail: error.message))
            switch error.kind {
            case .loginNeeded:
                markLoginNeeded(reason: "the provider no longer accepts the refresh token (\(error.message))")
                // The dead refresh token is of no further use; keep the access token while it lasts.
                await forgetRefreshToken()
            case .transient:
                refreshFailures += 1
                lastRefreshError = error.message
                scheduleRetry()
            default:
                // A setup problem (invalid_client, a proxy's 403, a wrong endpoint): a person must act,
                // but the refresh token may still be good once the config is fixed, so it is kept.
                markLoginNeeded(reason: "refresh failed: \(error.message)")
            }
            return .failure(error)
        } catch {
            guard generation == started, !(error is CancellationError) else { return .failure(superseded) }
            refreshFailures += 1
            lastRefreshError = "\(error)"
            scheduleRetry()
            return .failure(ProviderError(.transient, "\(error)"))
        }
    }

    /// The provider no longer accepts the refresh token: it is of no further use, while the
    /// access token is kept as long as it lasts.
    private func forgetRefreshToken() async {
        guard var current = login else { return }
        current.refreshToken = nil
        current.refreshExpiresAt = nil
        current.refreshExpiresAtWall = nil
        login = current
        await persist(current)
    }

    private func markLoginNeeded(reason: String) {
        renewal = .loginNeeded(reason: reason)
        environment.audit.record(AuditRecord(.loginNeeded, "\(name): login needed: \(reason)", audience: name,
                                             scopes: login?.scopes ?? [], detail: reason))
        // Someone is already logging in when a flow is pending: no nagging notification then.
        if !notifiedLoginNeeded && flow == nil {
            notifiedLoginNeeded = true
            environment.notifyDesktop("authd: login needed for \(name)", "Run `authctl login \(name)` to keep access.")
        }
    }

    /// Seals new tokens into the login, persists it, and schedules the next refresh.
    private func install(_ tokens: IssuedTokens, freshLogin: Bool) async {
        let now = clock.monotonicNow()
        let wallNow = clock.wallSeconds()
        var accessBytes = Array(tokens.accessToken.utf8)
        let fingerprint = AuthdWire.TokenFingerprint.of(accessBytes)
        let sealedAccess = environment.vault.seal(zeroing: &accessBytes, context: VaultContext.access(name))
        var sealedRefresh = login?.refreshToken
        var refreshExpiresAt = login?.refreshExpiresAt
        var refreshExpiresAtWall = login?.refreshExpiresAtWall
        if freshLogin {
            sealedRefresh = nil
            refreshExpiresAt = nil
            refreshExpiresAtWall = nil
        }
        if let refresh = tokens.refreshToken {
            var refreshBytes = Array(refresh.utf8)
            sealedRefresh = environment.vault.seal(zeroing: &refreshBytes, context: VaultContext.refresh(name))
            refreshExpiresAt = tokens.refreshTokenExpiresIn.map { now + .seconds($0) }
            refreshExpiresAtWall = tokens.refreshTokenExpiresIn.map { wallNow + $0 }
        }
        var updated = Login(
            accessToken: sealedAccess, tokenType: tokens.tokenType, accessTokenFingerprint: fingerprint,
            accessExpiresAt: tokens.expiresIn.map { now + .seconds($0) },
            accessExpiresAtWall: tokens.expiresIn.map { wallNow + $0 }, accessIssuedAt: now,
            refreshToken: sealedRefresh, refreshExpiresAt: refreshExpiresAt, refreshExpiresAtWall: refreshExpiresAtWall,
            scopes: tokens.scopes ?? (freshLogin ? policy.requestedScopes : (login?.scopes ?? policy.requestedScopes)),
            loginAtWall: freshLogin ? wallNow : (login?.loginAtWall ?? wallNow),
            loginAt: freshLogin ? now : (login?.loginAt ?? now),
            subject: tokens.subject ?? (freshLogin ? nil : login?.subject),
            issuedLifetime: tokens.expiresIn.map { .seconds($0) })
        // A refresh without a (verified) new id_token keeps the login's evidence; its old id_token
        // stays servable only until its own exp (`get --id-token`).
        var tokens = tokens
        // OpenID Connect Core §12.2: a refreshed id_token names the same iss and sub. One that does
        // not is not this login's evidence: it is dropped, and the earlier one stays.
        if !freshLogin, let new = tokens.identity, let old = login?.identity, new.subject != old.subject || new.issuer != old.issuer {
            tokens.identity = nil
            tokens.idToken = nil
            tokens.subject = nil
            updated.subject = login?.subject
        }
        updated.identity = tokens.identity ?? (freshLogin ? nil : login?.identity)
        updated.identityUnverifiable = freshLogin ? tokens.identityUnverifiable : (login?.identityUnverifiable ?? false)
        if var idBytes = tokens.idToken.map({ Array($0.utf8) }) {
            updated.idToken = environment.vault.seal(zeroing: &idBytes, context: VaultContext.idToken(name))
        } else {
            updated.idToken = freshLogin ? nil : login?.idToken
        }
        login = updated
        if freshLogin {
            generation += 1
            renewal = .possible
            notifiedLoginNeeded = false
        }
        scheduleRefresh()
        // Acknowledged only after it is on disk: a reply means the login survives a crash.
        await persist(updated)
    }

    private func persist(_ login: Login?, evenWithoutPersist: Bool = false) async {
        guard policy.persist || (evenWithoutPersist && login == nil) else { return }
        do {
            try await environment.persistence.save(audience: name, identity: policy.identity, login: login,
                                                   vault: environment.vault)
        } catch {
            environment.audit.record(AuditRecord(.storeError, "\(name): could not save the login: \(error); serving from memory",
                                                 audience: name, detail: "\(error)"))
        }
    }

    /// Plans the next refresh on the monotonic clock: margin before expiry, never in a busy loop.
    private func scheduleRefresh() {
        refreshTimer?.cancel()
        refreshTimer = nil
        nextRefreshAt = nil
        let now = clock.monotonicNow()
        guard let login, renewal == .possible, login.refreshTokenIsUsable(now: now),
              let expiresAt = login.accessExpiresAt, let lifetime = login.accessLifetime else { return }
        if sessionExpired(now) {
            markLoginNeeded(reason: "the session reached max_session")
            return
        }
        var due = expiresAt - policy.margin(forLifetime: lifetime)
        if let maxSession = policy.maxSession, login.loginAt + maxSession < due {
            // The session ends before the next refresh: wake then to ask for a login.
            due = login.loginAt + maxSession
        }
        // Never sooner than 2 s after issuance: a provider answering `expires_in: 0` must not
        // make the daemon refresh in a tight loop.
        armTimer(at: max(due, now, login.accessIssuedAt + .seconds(2)))
    }

    /// Transient failure: retry with jittered exponential backoff (5 s doubling to about 5 min),
    /// pulled in before expiry while the token is still valid. A network problem never ends a
    /// login: after expiry the retries simply continue (a laptop waking before its Wi-Fi does).
    private func scheduleRetry() {
        let now = clock.monotonicNow()
        guard let login, login.refreshTokenIsUsable(now: now) else { return }
        let base = Duration.seconds(5) * (1 << min(max(refreshFailures - 1, 0), 6))
        var due = now + base + base * environment.jitter()
        if let expiresAt = login.accessExpiresAt, expiresAt - now > .seconds(2), due > expiresAt {
            due = now + (expiresAt - now) / 2
        }
        armTimer(at: due)
    }

    private func armTimer(at due: Duration) {
        guard !isShutDown else { return }
        refreshTimer?.cancel()
        nextRefreshAt = due
        let clock = self.clock
        refreshTimer = Task {
            do { try await clock.sleep(until: due) } catch { return }
            await self.timerFired()
        }
    }

    private func timerFired() async {
        refreshTimer = nil
        nextRefreshAt = nil
        guard !isShutDown else { return }
        let now = clock.monotonicNow()
        if sessionExpired(now) {
            markLoginNeeded(reason: "the session reached max_session")
            return
        }
        // Also while a device flow runs: the current login stays in use until that flow is approved.
        _ = await refreshNow(reason: "scheduled", client: .daemon)
    }
}

/// A device flow in progress and the clients waiting for it. Only touched inside its agent.
final class DeviceFlowRun {
    struct Waiter {
        var events: ReplySink
        var continuation: ResultContinuation
    }

    let id: Int
    var task: Task<Void, Never>?
    var prompt: DevicePrompt?
    var authorizationPrompt: AuthorizationPrompt?
    /// The authorization code login's wait, for paste-back.
    var authorization: AuthorizationWait?
    var waiters: [Int: Waiter] = [:]
    var nextWaiterID = 0
    var outcome: Result<Void, ProtocolFailure>?

    init(id: Int) { self.id = id }
}

/// Resumes a waiter exactly once.
struct ResultContinuation {
    let continuation: CheckedContinuation<Result<Void, ProtocolFailure>, Never>
    init(_ continuation: CheckedContinuation<Result<Void, ProtocolFailure>, Never>) { self.continuation = continuation }
    func resume(with result: Result<Void, ProtocolFailure>) { continuation.resume(returning: result) }
}

/// An authorization code login's wait: the engine's check (armed once the URL exists) and the
/// one answer it accepts, from the listener (any thread) or a paste-back (the agent).
final class AuthorizationWait: Sendable {
    enum PasteResult { case accepted, refused(String) }

    let rendezvous = CallbackRendezvous()
    private let start = Mutex<AuthorizationCodeStart?>(nil)

    func arm(_ start: AuthorizationCodeStart) { self.start.withLock { $0 = start } }

    /// The listener's decision for one `GET /callback?query`.
    func answer(_ query: String, refused: (String) -> Void) -> CallbackAnswer {
        guard let start = start.withLock({ $0 }) else {
            refused("the login was not ready")
            return .badRequest("this login is not ready yet; try again in a moment")
        }
        if rendezvous.isSettled {
            refused("the login already has its answer")
            return .badRequest("this login already has its answer")
        }
        switch start.check(query) {
        case .code(let code):
            guard rendezvous.deliver(.code(code)) else {
                refused("the login already has its answer")
                return .badRequest("this login already has its answer")
            }
            return .done("authd: signed in")
        case .refused(let why):
            refused(why)
            return .badRequest(why)
        case .ended(let error):
            rendezvous.deliver(.failed(error))
            return .done("authd: the sign-in did not complete")
        }
    }

    func paste(_ text: String) -> PasteResult {
        guard let start = start.withLock({ $0 }) else { return .refused("the login is not ready yet") }
        switch start.checkPasted(text) {
        case .code(let code):
            return rendezvous.deliver(.code(code)) ? .accepted : .refused("the login already has its answer")
        case .refused(let why):
            return .refused(why)
        case .ended(let error):
            return rendezvous.deliver(.failed(error)) ? .accepted : .refused("the login already has its answer")
        }
    }
}
