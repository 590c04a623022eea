// RFC 8628 §3.4–3.5 polling rules as a pure state machine: fed answers and instants, it says when to poll next.

/// What the token endpoint said to one poll, reduced to what the rules need.
public enum PollAnswer: Sendable, Equatable {
    /// `authorization_pending`: keep the interval.
    case pending
    /// `slow_down`, with the provider's new `interval` when it sends one (GitHub does).
    case slowDown(serverInterval: Duration?)
    /// HTTP 429: treated like `slow_down`, and the next poll also waits for `Retry-After`.
    case rateLimited(retryAfter: Duration?)
    /// No answer, HTTP 5xx, or `temporarily_unavailable`/`server_error`: retried with backoff.
    case transientFailure
    case approved
    /// `access_denied` or `authorization_declined`.
    case denied(code: String, description: String?)
    /// `expired_token`.
    case expired
    /// Any other OAuth error: ends the flow with the provider's words.
    case failed(error: String, description: String?)
}

public enum PollingOutcome: Sendable, Equatable {
    case approved
    case denied(code: String, description: String?)
    case expired
    case failed(error: String, description: String?)
}

public enum PollingAction: Sendable, Equatable {
    /// Sleep until this instant, then ask again.
    case wait(until: MonotonicInstant)
    /// Send a poll now (and report it with `pollStarted(at:)`).
    case poll
    case finish(PollingOutcome)
}

/// The polling state of one device flow.
///
/// - Polls are never closer together than the current interval plus `safetyMargin`, measured from
///   when the previous poll was sent; the first poll waits one interval after the codes arrive.
/// - `slow_down` raises the interval by 5 s for this and every later poll, or to the provider's
///   new `interval` when that is larger. 429 does the same and also honours `Retry-After`.
/// - Transient failures back off exponentially from the failure (interval × 2ⁿ⁻¹, at most
///   `maximumBackoff`), never faster than the interval; a backoff that would run past the deadline
///   is shortened to one last poll at the deadline.
/// - When no poll fits before the deadline the flow ends as expired at once, rather than idling
///   while the code is already useless.
public struct PollingSchedule: Sendable, Equatable {
    public static let defaultSafetyMargin: Duration = .milliseconds(200)
    public static let slowDownIncrement: Duration = .seconds(5)
    public static let maximumBackoff: Duration = .seconds(60)

    public private(set) var interval: Duration
    public let deadline: MonotonicInstant
    public let safetyMargin: Duration
    /// Earliest instant of the next poll.
    public private(set) var nextPollAt: MonotonicInstant
    public private(set) var lastPollAt: MonotonicInstant?
    public private(set) var pollCount = 0
    public private(set) var consecutiveTransientFailures = 0
    public private(set) var outcome: PollingOutcome?

    /// - Parameters:
    ///   - startedAt: when the device authorization answer arrived.
    public init(interval: Duration, deadline: MonotonicInstant, startedAt: MonotonicInstant,
                safetyMargin: Duration = PollingSchedule.defaultSafetyMargin) {
        self.interval = interval
        self.deadline = deadline
        self.safetyMargin = safetyMargin
        nextPollAt = startedAt + interval + safetyMargin
    }

    public init(authorization: DeviceAuthorization, startedAt: MonotonicInstant,
                safetyMargin: Duration = PollingSchedule.defaultSafetyMargin) {
        self.init(interval: .seconds(authorization.interval), deadline: authorization.deadline,
                  startedAt: startedAt, safetyMargin: safetyMargin)
    }

    /// The interval in whole seconds, as progress events show it.
    public var intervalSeconds: Int64 { interval.wholeSecondsRoundedUp }

    public func nextAction(now: MonotonicInstant) -> PollingAction {
        if let outcome { return .finish(outcome) }
        if nextPollAt > deadline || now > deadline { return .finish(.expired) }
        return now < nextPollAt ? .wait(until: nextPollAt) : .poll
    }

    public mutating func pollStarted(at now: MonotonicInstant) {
        lastPollAt = now
        pollCount += 1
    }

    /// Applies the answer to the poll started last, received at `now`.
    public mutating func record(_ answer: PollAnswer, at now: MonotonicInstant) {
        let base = lastPollAt ?? now
        switch answer {
        case .pending:
            consecutiveTransientFailures = 0
            schedule(floor: base + interval + safetyMargin)
        case .slowDown(let serverInterval):
            consecutiveTransientFailures = 0
            interval = max(interval + Self.slowDownIncrement, serverInterval ?? .zero)
            schedule(floor: base + interval + safetyMargin)
        case .rateLimited(let retryAfter):
            consecutiveTransientFailures = 0
            interval = interval + Self.slowDownIncrement
            schedule(floor: max(base + interval, now + (retryAfter ?? .zero)) + safetyMargin)
        case .transientFailure:
            consecutiveTransientFailures += 1
            let exponent = min(consecutiveTransientFailures - 1, 16)
            let backoff = min(interval * (1 << exponent), max(Self.maximumBackoff, interval))
            schedule(floor: base + interval + safetyMargin, desired: max(base + interval, now + backoff) + safetyMargin)
        case .approved:
            outcome = .approved
        case let .denied(code, description):
            outcome = .denied(code: code, description: description)
        case .expired:
            outcome = .expired
        case let .failed(error, description):
            // Auth0 says expired_token once and invalid_grant afterwards: when that one answer was lost
            // (a timeout, a retried poll), invalid_grant within an interval of the code's end still
            // means the code expired, not that something is broken.
            if error == "invalid_grant" && now + interval >= deadline {
                outcome = .expired
            } else {
                outcome = .failed(error: error, description: description)
            }
        }
    }

    /// `floor` is the earliest the rules allow; `desired` is later when backing off. A desired
    /// instant past the deadline is pulled back to the deadline as long as the floor allows.
    mutating func schedule(floor: MonotonicInstant, desired: MonotonicInstant? = nil) {
        let wanted = max(floor, desired ?? floor)
        nextPollAt = wanted > deadline && floor <= deadline ? deadline : wanted
    }
}
