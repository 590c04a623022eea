// An audience agent's refreshes: single-flight, installed only under the generation they started in, scheduled by RefreshPlanner.
import AuthdConfig
import AuthdOAuth
import AuthdSystem
import AuthdWire

extension AudienceAgent {
    /// No scheduled refresh (until the next `scheduleRefresh`).
    func cancelRefreshTimer() {
        // A wake-up that already fired and is on its way finds the generation changed.
        refreshTimerGeneration += 1
        refreshTimer?.cancel()
        refreshTimer = nil
        nextRefreshAt = nil
    }

    /// Stops the refresh in flight (a logout or a changed identity: its answer is of no use).
    func cancelRefresh() {
        refreshing?.cancel()
        refreshing = nil
    }

    // MARK: Refresh

    /// Runs one refresh (joining one in progress) and reports how it went.
    func refreshNow(client: ClientIdentity) async -> Result<Void, ProviderError> {
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

    func awaitRefresh(_ task: Task<Result<Void, ProviderError>, Never>) async -> Result<Void, ProviderError> {
        refreshWaiters += 1
        defer { refreshWaiters -= 1 }
        return await task.value
    }

    func performRefresh(sealed: SealedSecret, generation started: Int,
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
    func forgetRefreshToken() async {
        guard var current = login else { return }
        current.refreshToken = nil
        current.refreshExpiry = nil
        login = current
        await persist(current)
    }

    func markLoginNeeded(reason: String) {
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
    func install(_ tokens: IssuedTokens, freshLogin: Bool) async {
        let reading = ClockReading(clock)
        let now = reading.monotonic
        let wallNow = reading.wall
        var accessBytes = Array(tokens.accessToken.utf8)
        let fingerprint = AuthdWire.TokenFingerprint.of(accessBytes)
        let sealedAccess = environment.vault.seal(zeroing: &accessBytes, context: VaultContext.access(name))
        var sealedRefresh = freshLogin ? nil : login?.refreshToken
        var refreshExpiry = freshLogin ? nil : login?.refreshExpiry
        if let refresh = tokens.refreshToken {
            var refreshBytes = Array(refresh.utf8)
            sealedRefresh = environment.vault.seal(zeroing: &refreshBytes, context: VaultContext.refresh(name))
            refreshExpiry = tokens.refreshExpiry(now: reading)
        }
        var updated = Login(
            accessToken: sealedAccess, tokenType: tokens.tokenType, accessTokenFingerprint: fingerprint,
            accessExpiry: tokens.expiresIn.map { ClockMoment(after: $0, now: reading) }, accessIssuedAt: now,
            refreshToken: sealedRefresh, refreshExpiry: refreshExpiry,
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

    func persist(_ login: Login?, evenWithoutPersist: Bool = false) async {
        guard policy.persist || (evenWithoutPersist && login == nil) else { return }
        do {
            try await environment.persistence.save(audience: name, identity: policy.identity, login: login)
        } catch {
            environment.audit.record(AuditRecord(.storeError, "\(name): could not save the login: \(error); serving from memory",
                                                 audience: name, detail: "\(error)"))
        }
    }

    /// Arms the timer for the next refresh as the planner says (RefreshPlanner.swift).
    func scheduleRefresh() {
        cancelRefreshTimer()
        let now = clock.monotonicNow()
        guard let login, renewal == .possible, login.refreshTokenIsUsable(now: now) else { return }
        switch policy.refreshPlanner.plan(expiresAt: login.accessExpiresAt, issuedAt: login.accessIssuedAt,
                                          loginAt: login.loginAt, now: now) {
        case .refresh(let due): armTimer(at: due)
        case .unknownLifetime: return
        case .sessionEnded: markLoginNeeded(reason: "the session reached max_session")
        }
    }

    /// Transient failure: the planner's backoff. A network problem never ends a login: after
    /// expiry the retries simply continue (a laptop waking before its Wi-Fi does).
    func scheduleRetry() {
        let now = clock.monotonicNow()
        guard let login, login.refreshTokenIsUsable(now: now) else { return }
        armTimer(at: policy.refreshPlanner.retryAt(afterFailures: refreshFailures, now: now, expiresAt: login.accessExpiresAt,
                                                   jitter: environment.jitter()))
    }

    func armTimer(at due: Duration) {
        guard !isShutDown else { return }
        refreshTimer?.cancel()
        nextRefreshAt = due
        refreshTimerGeneration += 1
        let generation = refreshTimerGeneration
        // A callback, not a task asleep until `due`: one of these waits per logged-in audience.
        refreshTimer = clock.wake(at: due) { [weak self] in
            guard let self else { return }
            Task { await self.timerFired(generation: generation) }
        }
    }

    func timerFired(generation: Int) async {
        guard generation == refreshTimerGeneration else { return }
        refreshTimer = nil
        nextRefreshAt = nil
        guard !isShutDown else { return }
        let now = clock.monotonicNow()
        if sessionExpired(now) {
            markLoginNeeded(reason: "the session reached max_session")
            return
        }
        // Also while a device flow runs: the current login stays in use until that flow is approved.
        _ = await refreshNow(client: .daemon)
    }
}
