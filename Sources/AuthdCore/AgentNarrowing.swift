// Narrower tokens for `get --scope/--resource`: cut from the login with a refresh-token grant and cached (the decision and cache are in ScopedTokens.swift).
import AuthdConfig
import AuthdOAuth
import AuthdSystem
import AuthdWire

extension AudienceAgent {
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
                    : MinimumValidity.required(asked: minimumValidity, issuedLifetime: entry.issuedLifetime, margin: policy.refreshPlanner.margin(forLifetime:))
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

    func serveScoped(_ entry: ScopedTokenCache.Entry, _ key: TokenNarrowing, to client: ClientIdentity,
                     asked: Duration) throws(ProtocolFailure) -> ServedToken {
        let token: SecretBytes
        do {
            token = try environment.vault.open(entry.token, context: VaultContext.scoped(name, key))
        } catch {
            throw ProtocolFailure(.internalError, "\(name): the in-memory vault failed to open a token")
        }
        environment.audit.record(AuditRecord(.tokenServed, "\(name): narrower token served", audience: name, client: client,
                                             scopes: entry.scopes, tokenFingerprint: entry.fingerprint, detail: "narrower token: \(key)"))
        return ServedToken(token: token, tokenType: entry.tokenType, expiresAtWall: entry.expiry?.wall, scopes: entry.scopes,
                           fingerprint: entry.fingerprint,
                           shortOfMinimumValidity: MinimumValidity.fallsShort(
                               remaining: entry.expiresAt.map { $0 - clock.monotonicNow() }, asked: asked))
    }

    /// One narrowing refresh. Its outcome for the requester goes into the cache (a token or a failure);
    /// what it returns tells other waiters on `refreshing` only to look again (`.cancelled`), since the
    /// login's own access token did not change.
    func performNarrowingRefresh(sealed: SealedSecret, key: TokenNarrowing, generation started: Int,
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
            let reading = ClockReading(clock)
            var accessBytes = Array(tokens.accessToken.utf8)
            let fingerprint = AuthdWire.TokenFingerprint.of(accessBytes)
            let entry = ScopedTokenCache.Entry(
                token: environment.vault.seal(zeroing: &accessBytes, context: VaultContext.scoped(name, key)),
                tokenType: tokens.tokenType, fingerprint: fingerprint,
                expiry: tokens.expiresIn.map { ClockMoment(after: $0, now: reading) }, issuedLifetime: tokens.expiresIn.map { .seconds($0) },
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
    func adoptRefreshToken(from tokens: IssuedTokens) async {
        guard let refresh = tokens.refreshToken, var current = login else { return }
        var refreshBytes = Array(refresh.utf8)
        current.refreshToken = environment.vault.seal(zeroing: &refreshBytes, context: VaultContext.refresh(name))
        current.refreshExpiry = tokens.refreshExpiry(now: ClockReading(clock))
        login = current
        await persist(current)
    }
}
