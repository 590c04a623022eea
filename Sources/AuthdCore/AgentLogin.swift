// An audience agent's logins: the device flow and the authorization code flow, run once and joined by every waiting client.
import AuthdConfig
import AuthdOAuth
import AuthdSystem
import AuthdWire
import Synchronization

extension AudienceAgent {
    // MARK: Device flow

    func startDeviceFlow(client: ClientIdentity, method: LoginFlowChoice? = nil) -> DeviceFlowRun {
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
    func performLogin(_ run: DeviceFlowRun, client: ClientIdentity, plan: LoginMethodPlan) async {
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
    func startHeartbeat(_ run: DeviceFlowRun) -> Task<Void, Never> {
        let clock = self.clock
        return Task {
            while !Task.isCancelled {
                do { try await clock.sleep(until: clock.monotonicNow() + AudienceAgent.heartbeatInterval) } catch { return }
                self.broadcast(run, .progress(stage: "polling", intervalSeconds: nil))
            }
        }
    }

    /// The provider's device flow. Its events reach the agent in order through one stream: the
    /// prompt first (kept for clients that join later), then progress.
    func deviceFlowTokens(_ run: DeviceFlowRun) async throws -> IssuedTokens {
        let (stream, sink) = AsyncStream<DeviceFlowEvent>.makeStream()
        let relay = Task {
            for await event in stream { self.relay(event, to: run) }
        }
        let heartbeat = startHeartbeat(run)
        let result: Result<IssuedTokens, any Error>
        do { result = .success(try await provider.runDeviceFlow { sink.yield($0) }) } catch { result = .failure(error) }
        // Every event the provider sent is relayed before the outcome (an instant approval's prompt too).
        sink.finish()
        await relay.value
        heartbeat.cancel()
        return try result.get()
    }

    /// RFC 8252 §7.3: a listener on 127.0.0.1 for exactly this login, the prompt, then one
    /// answer (redirect, paste-back, deadline or cancellation), then the code exchange. The
    /// listener is closed before the exchange, whatever the answer.
    func authorizationCodeTokens(_ run: DeviceFlowRun, client: ClientIdentity, reason: String?) async throws -> IssuedTokens? {
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

    func isCurrent(_ run: DeviceFlowRun) -> Bool {
        flow === run
    }

    func relay(_ event: DeviceFlowEvent, to run: DeviceFlowRun) {
        guard isCurrent(run) else { return }
        switch event {
        case .prompt(let flowPrompt):
            let prompt = DevicePrompt(
                audience: name, verificationURI: flowPrompt.verificationURI, userCode: flowPrompt.userCode,
                verificationURIComplete: flowPrompt.verificationURIComplete, expiresAt: flowPrompt.expiresAtUnixSeconds,
                expiresIn: flowPrompt.expiresIn,
                qrRows: environment.qrRows(flowPrompt.verificationURIComplete ?? flowPrompt.verificationURI),
                providerMessage: flowPrompt.message)
            run.prompt = prompt
            broadcast(run, .prompt(prompt))
        case .slowDown(let interval): broadcast(run, .progress(stage: "slow_down", intervalSeconds: interval))
        case .retrying: broadcast(run, .progress(stage: "retrying", intervalSeconds: nil))
        // Announced once the login is installed (`performLogin`), not when the provider answers.
        case .approved: break
        }
    }

    func broadcast(_ run: DeviceFlowRun, _ line: ReplyLine) {
        for waiter in run.waiters.values { waiter.events(line) }
    }

    func finish(_ run: DeviceFlowRun, _ outcome: Result<Void, ProtocolFailure>) {
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
    func join(_ run: DeviceFlowRun, client: ClientIdentity, events: @escaping ReplySink) async throws(ProtocolFailure) {
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

    func leave(runID: Int, waiterID: Int) {
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

    func cancelFlow() {
        guard let run = flow else { return }
        run.task?.cancel()
        finish(run, .failure(ProtocolFailure(.cancelled, "\(name): device flow cancelled")))
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
    let start = Mutex<AuthorizationCodeStart?>(nil)

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
