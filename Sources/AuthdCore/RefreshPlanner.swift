// The one refresh rule the agent runs: the margin, when the next refresh is due, and the retry backoff; pure, on the monotonic clock.

/// How one audience's logins are refreshed (`refresh_margin`, `max_session`). Every time is on
/// the daemon's monotonic clock (`DaemonClock.monotonicNow()`), passed in: the planner decides,
/// the agent arms the timer (AgentRefresh.swift).
///
/// - The margin is `refresh_margin`, else the larger of 60 s and 10 % of the lifetime; at most half
///   the lifetime, so a short-lived token is not refreshed the moment it arrives.
/// - The refresh is due at expiry less the margin, or when `max_session` ends if that is sooner,
///   and never sooner than 2 s after issuance (a provider answering `expires_in: 0` must not make
///   the daemon refresh in a tight loop).
/// - A transient failure is retried with jittered exponential backoff: 5 s doubling to 320 s, plus
///   up to as much again from the jitter; pulled in to half the remaining time while the token is
///   still valid. After expiry the retries go on: a network problem never ends a login.
public struct RefreshPlanner: Sendable, Equatable {
    /// `refresh_margin`; nil for the default rule.
    public var margin: Duration?
    /// `max_session`; nil for no limit.
    public var maxSession: Duration?

    static let minimumDefaultMargin: Duration = .seconds(60)
    static let earliestAfterIssuance: Duration = .seconds(2)
    static let retryBase: Duration = .seconds(5)
    static let retryDoublings = 6
    /// A retry is pulled in before expiry only while more than this is left.
    static let pullInWhileLeft: Duration = .seconds(2)

    public init(margin: Duration? = nil, maxSession: Duration? = nil) {
        self.margin = margin
        self.maxSession = maxSession
    }

    /// How long before expiry a token of this lifetime is refreshed.
    public func margin(forLifetime lifetime: Duration) -> Duration {
        min(margin ?? max(Self.minimumDefaultMargin, lifetime / 10), lifetime / 2)
    }

    /// Whether the login that began at `loginAt` has reached `max_session`.
    func sessionEnded(loginAt: Duration, now: Duration) -> Bool {
        guard let maxSession else { return false }
        return now - loginAt >= maxSession
    }

    /// Whether a token expiring at `expiresAt` is within its refresh margin (a person who can be
    /// prompted is then asked to log in again rather than handed a token about to lapse).
    func isNearExpiry(expiresAt: Duration?, lifetime: Duration?, now: Duration) -> Bool {
        guard let expiresAt, let lifetime else { return false }
        return expiresAt - now <= margin(forLifetime: lifetime)
    }

    /// What to schedule for a login that can be refreshed.
    enum Plan: Sendable, Equatable {
        /// Arm the timer for this monotonic time (at once when it is not in the future).
        case refresh(at: Duration)
        /// No lifetime is known: the token is served until rejected, no timer.
        case unknownLifetime
        /// `max_session` is over: a login is needed.
        case sessionEnded
    }

    /// The next scheduled refresh of an access token issued at `issuedAt` and expiring at
    /// `expiresAt`, for a login that began at `loginAt`.
    func plan(expiresAt: Duration?, issuedAt: Duration, loginAt: Duration, now: Duration) -> Plan {
        guard let expiresAt else { return .unknownLifetime }
        if sessionEnded(loginAt: loginAt, now: now) { return .sessionEnded }
        var due = expiresAt - margin(forLifetime: expiresAt - issuedAt)
        if let maxSession, loginAt + maxSession < due {
            // The session ends before the next refresh: wake then to ask for a login.
            due = loginAt + maxSession
        }
        return .refresh(at: max(due, now, issuedAt + Self.earliestAfterIssuance))
    }

    /// When to retry after `failures` transient failures in a row (1 for the first), with
    /// `jitter` in [0, 1) from the injected source.
    func retryAt(afterFailures failures: Int, now: Duration, expiresAt: Duration?, jitter: Double) -> Duration {
        let base = Self.retryBase * (1 << min(max(failures - 1, 0), Self.retryDoublings))
        var due = now + base + base * jitter
        if let expiresAt, expiresAt - now > Self.pullInWhileLeft, due > expiresAt {
            due = now + (expiresAt - now) / 2
        }
        return due
    }
}
