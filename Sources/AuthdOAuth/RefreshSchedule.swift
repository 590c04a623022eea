// When to refresh an access token and how to retry a failed refresh; pure, in wall-clock seconds.

/// What to do about a grant's refresh.
public enum RefreshPlan: Sendable, Equatable {
    /// Refresh at this Unix time (refresh now when it is not in the future).
    case refresh(at: Int64)
    /// Nothing to schedule; the daemon refreshes or logs in on demand.
    case noRefresh(NoRefreshReason)
    /// A new device flow is needed now.
    case loginNeeded(reason: String)
}

public enum NoRefreshReason: Sendable, Equatable {
    /// No `expires_in`: the token is served until rejected; a refresh (if possible) follows a rejection.
    case unknownLifetime
    /// No refresh token: when the access token expires, a login is needed.
    case noRefreshToken
    /// The refresh token's own lifetime (`refresh_token_expires_in`) is over; the access token still works.
    case refreshTokenExpired
    /// `max_session` ends before the refresh would be due: no refresh, login needed at that time.
    case sessionEndsFirst(at: Int64)
}

/// The refresh rules of one audience.
///
/// - Refresh `margin` seconds before expiry; by default the larger of 60 s and 10% of the lifetime.
///   When the margin exceeds half the lifetime (short-lived tokens), refresh at half the lifetime
///   instead, so a refresh never immediately follows the previous one.
/// - A refresh token with a known expiry is used at least 60 s before it dies.
/// - A login older than `maxSession` is not refreshed: login needed.
/// - Failed refreshes that are retryable back off exponentially from `retryBase` up to `retryCap`,
///   with "equal jitter" (half fixed, half random) from an injected random source; the last retry
///   is placed `finalRetryLead` before expiry, and none is offered after that.
public struct RefreshSchedule: Sendable, Equatable {
    public static let minimumDefaultMargin: Int64 = 60

    /// Seconds before expiry; nil for the default rule.
    public var margin: Int64?
    /// Seconds a login may live; nil for no limit.
    public var maxSession: Int64?
    public var retryBase: Duration
    public var retryCap: Duration
    public var finalRetryLead: Duration

    public init(margin: Int64? = nil, maxSession: Int64? = nil, retryBase: Duration = .seconds(5),
                retryCap: Duration = .seconds(300), finalRetryLead: Duration = .seconds(5)) {
        self.margin = margin
        self.maxSession = maxSession
        self.retryBase = retryBase
        self.retryCap = retryCap
        self.finalRetryLead = finalRetryLead
    }

    /// The margin for a token of this lifetime (seconds).
    public func margin(forLifetime lifetime: Int64) -> Int64 {
        margin ?? max(Self.minimumDefaultMargin, lifetime / 10)
    }

    /// When the session that began at `loginAt` ends, if `maxSession` is set.
    public func sessionEnd(loginAt: Int64) -> Int64? {
        maxSession.map { loginAt + $0 }
    }

    public func plan(for grant: TokenGrant, loginAt: Int64, now: Int64) -> RefreshPlan {
        let sessionEnd = sessionEnd(loginAt: loginAt)
        if let sessionEnd, now >= sessionEnd {
            return .loginNeeded(reason: "the login is older than max_session (\(maxSession ?? 0) s)")
        }
        if let refreshTokenExpiresAt = grant.refreshTokenExpiresAt, grant.refreshToken != nil, now >= refreshTokenExpiresAt,
           !grant.isValid(at: now) {
            return .loginNeeded(reason: "the refresh token expired")
        }
        guard let lifetime = grant.expiresIn, let expiresAt = grant.expiresAt else { return .noRefresh(.unknownLifetime) }
        guard grant.refreshToken != nil else { return .noRefresh(.noRefreshToken) }
        if let refreshTokenExpiresAt = grant.refreshTokenExpiresAt, now >= refreshTokenExpiresAt {
            return .noRefresh(.refreshTokenExpired)
        }
        let m = margin(forLifetime: lifetime)
        var at = m * 2 > lifetime ? grant.issuedAt + lifetime / 2 : expiresAt - m
        if let refreshTokenExpiresAt = grant.refreshTokenExpiresAt { at = min(at, refreshTokenExpiresAt - 60) }
        if let sessionEnd, at >= sessionEnd { return .noRefresh(.sessionEndsFirst(at: sessionEnd)) }
        return .refresh(at: at)
    }

    /// The wait before retry number `failures` (1 for the first retry) of a refresh that failed with a
    /// retryable error at `now`; nil when no retry fits before `expiresAt`.
    public func retryDelay(afterFailures failures: Int, now: Int64, expiresAt: Int64?,
                           using random: inout some RandomNumberGenerator) -> Duration? {
        let exponent = min(max(failures, 1) - 1, 20)
        let ceiling = min(retryBase * (1 << exponent), retryCap)
        let halfMilliseconds = max(ceiling.milliseconds / 2, 0)
        // Scaled rather than rejection-sampled, so any source (even a constant one in a test) terminates.
        let jitter = Int64(random.next().multipliedFullWidth(by: UInt64(halfMilliseconds) + 1).high)
        var delay = Duration.milliseconds(halfMilliseconds + jitter)
        if let expiresAt {
            let latest = Duration.seconds(expiresAt - now) - finalRetryLead
            guard latest > .zero else { return nil }
            delay = min(delay, latest)
        }
        return delay
    }
}
