// The device-flow driver: device authorization, prompt, polling under PollingSchedule, until a grant or an end.

/// Progress of a running device flow, for the person waiting.
public enum DeviceFlowEvent: Sendable, Equatable {
    /// Show this to the person (never contains the device code).
    case prompt(DeviceFlowPrompt)
    /// The provider asked to slow down (or answered 429); polls are now this many seconds apart.
    case slowDown(intervalSeconds: Int64)
    /// A poll failed for a passing reason; the next one is in `retryIn`.
    case retrying(reason: String, retryIn: Duration)
    /// The person approved; the tokens are in hand.
    case approved
}

extension OAuthClient {
    /// Runs a whole device flow: resolves endpoints, requests codes, reports the prompt and polls
    /// by the RFC 8628 rules until approval, denial, expiry or another error. Cancelling the task
    /// stops it at once, also mid-wait, with `.cancelled`.
    ///
    /// When the deadline passes while polls were failing transiently, the last transient error is
    /// thrown rather than `.expired`: "cannot connect" says more than "expired".
    public func runDeviceFlow(progress: @escaping @Sendable (DeviceFlowEvent) async -> Void = { _ in }) async throws(OAuthError) -> TokenGrant {
        let endpoints = try await resolveEndpoints(for: .deviceFlow)
        guard let deviceURL = endpoints.deviceAuthorization, let tokenURL = endpoints.token else {
            throw .noEndpoint(.deviceAuthorization, reason: "not resolved")
        }
        let authorization = try await requestDeviceAuthorization(at: deviceURL)
        await progress(.prompt(authorization.prompt))
        return try await poll(authorization, tokenEndpoint: tokenURL, progress: progress)
    }

    /// Polls for an authorization already obtained: the second half of `runDeviceFlow` (which the
    /// daemon calls), public for tests and the fuzzer.
    public func poll(_ authorization: DeviceAuthorization, tokenEndpoint: String,
                     progress: @escaping @Sendable (DeviceFlowEvent) async -> Void = { _ in }) async throws(OAuthError) -> TokenGrant {
        var schedule = PollingSchedule(authorization: authorization, startedAt: clock.now, safetyMargin: settings.pollingSafetyMargin)
        var lastTransientError: OAuthError?
        let tokenEndpoint = OAuthEndpoint(.token, tokenEndpoint)
        while true {
            if Task.isCancelled { throw .cancelled }
            switch schedule.nextAction(now: clock.now) {
            case .wait(let until):
                do { try await clock.sleep(until: until) } catch { throw .cancelled }
            case .poll:
                schedule.pollStarted(at: clock.now)
                let result = try await poll(tokenEndpoint: tokenEndpoint.url, deviceCode: authorization.deviceCode)
                let intervalBefore = schedule.interval
                schedule.record(result.answer, at: clock.now)
                lastTransientError = result.answer == .transientFailure ? result.transientError : nil
                switch result.answer {
                case .approved:
                    guard let grant = result.grant else { throw .invalidResponse(endpoint: tokenEndpoint, reason: "no token") }
                    await progress(.approved)
                    return grant
                case .slowDown, .rateLimited:
                    if schedule.interval != intervalBefore { await progress(.slowDown(intervalSeconds: schedule.intervalSeconds)) }
                case .transientFailure:
                    if schedule.nextPollAt <= schedule.deadline {
                        await progress(.retrying(reason: result.transientError?.description ?? "transient failure",
                                                 retryIn: max(schedule.nextPollAt - clock.now, .zero)))
                    }
                default:
                    break
                }
            case .finish(let outcome):
                switch outcome {
                case .approved:
                    throw .invalidResponse(endpoint: tokenEndpoint, reason: "approved without a token")
                case let .denied(code, description):
                    throw .denied(code: code, description: description)
                case .expired:
                    throw lastTransientError ?? .expired
                case let .failed(error, description):
                    throw .provider(endpoint: tokenEndpoint, error: error, description: description,
                                    hint: SetupHint.forError(error, description: description, configured: settings.deviceFlowSetupHint,
                                                             duringDeviceFlow: true))
                }
            }
        }
    }
}
