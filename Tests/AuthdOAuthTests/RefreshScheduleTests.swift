// Refresh timing and retry backoff, computed purely from lifetimes, margins and an injected random source.

@testable import AuthdOAuth
import Testing

@Suite struct RefreshScheduleTests {
    let now: Int64 = 1_800_000_000

    func grant(lifetime: Int64?, refresh: Bool = true) -> TokenGrant {
        Fixture.grant(refreshToken: refresh ? Secret.refreshToken : nil, issuedAt: now, expiresIn: lifetime)
    }

    @Test func defaultMarginIsTheLargerOf60sAndTenPercent() {
        let s = RefreshSchedule()
        #expect(s.margin(forLifetime: 3600) == 360)
        #expect(s.margin(forLifetime: 28_800) == 2880)
        #expect(s.margin(forLifetime: 300) == 60)
        #expect(s.plan(for: grant(lifetime: 3600), loginAt: now, now: now) == .refresh(at: now + 3240))
        #expect(s.plan(for: grant(lifetime: 300), loginAt: now, now: now) == .refresh(at: now + 240))
        // Margin larger than half the lifetime: refresh at half-life instead.
        #expect(s.plan(for: grant(lifetime: 90), loginAt: now, now: now) == .refresh(at: now + 45))
    }

    @Test func explicitMargin() {
        let s = RefreshSchedule(margin: 300)
        #expect(s.margin(forLifetime: 3600) == 300)
        #expect(s.plan(for: grant(lifetime: 7200), loginAt: now, now: now) == .refresh(at: now + 6900))
        #expect(s.plan(for: grant(lifetime: 120), loginAt: now, now: now) == .refresh(at: now + 60))
    }

    @Test func unknownLifetimeAndNoRefreshToken() {
        let s = RefreshSchedule()
        #expect(s.plan(for: grant(lifetime: nil), loginAt: now, now: now) == .noRefresh(.unknownLifetime))
        #expect(s.plan(for: grant(lifetime: 3600, refresh: false), loginAt: now, now: now) == .noRefresh(.noRefreshToken))
    }

    @Test func refreshTokenLifetimeIsHonoured() {
        let s = RefreshSchedule()
        var g = grant(lifetime: 3600)
        g.refreshTokenExpiresAt = now + 600
        #expect(s.plan(for: g, loginAt: now, now: now) == .refresh(at: now + 540))
        #expect(s.plan(for: g, loginAt: now, now: now + 700) == .noRefresh(.refreshTokenExpired))
        #expect(s.plan(for: g, loginAt: now, now: now + 4000) == .loginNeeded(reason: "the refresh token expired"))
    }

    @Test func maxSession() {
        let s = RefreshSchedule(maxSession: 12 * 3600)
        let login = now - 11 * 3600
        #expect(s.plan(for: grant(lifetime: 3600), loginAt: login, now: now) == .refresh(at: now + 3240))
        // The refresh would fall after the session's end.
        let late = now - 12 * 3600 + 1800
        #expect(s.plan(for: grant(lifetime: 3600), loginAt: late, now: now) == .noRefresh(.sessionEndsFirst(at: late + 12 * 3600)))
        guard case .loginNeeded(let reason) = s.plan(for: grant(lifetime: 3600), loginAt: now - 12 * 3600, now: now) else {
            Issue.record("session not over"); return
        }
        #expect(reason.contains("max_session"))
    }

    @Test func retryBackoffGrowsWithinJitterBounds() {
        let s = RefreshSchedule(retryBase: .seconds(5), retryCap: .seconds(300))
        var low = FixedRandom(value: 0)
        var high = FixedRandom(value: .max)
        for (failures, ceiling) in [(1, 5), (2, 10), (3, 20), (4, 40), (7, 300), (30, 300)] {
            let minimum = s.retryDelay(afterFailures: failures, now: now, expiresAt: nil, using: &low)
            let maximum = s.retryDelay(afterFailures: failures, now: now, expiresAt: nil, using: &high)
            #expect(minimum == .milliseconds(Int64(ceiling) * 500))
            #expect(maximum == .seconds(ceiling))
        }
        var random = SeededRandom(state: 42)
        for failures in 1...12 {
            let delay = s.retryDelay(afterFailures: failures, now: now, expiresAt: nil, using: &random)!
            let ceiling = min(Duration.seconds(5) * (1 << (failures - 1)), .seconds(300))
            #expect(delay >= ceiling / 2 && delay <= ceiling)
        }
    }

    @Test func lastRetryHappensBeforeExpiry() {
        let s = RefreshSchedule(retryBase: .seconds(5), retryCap: .seconds(300), finalRetryLead: .seconds(5))
        var high = FixedRandom(value: .max)
        // 40 s wanted, but the token expires in 30 s: retry at expiry − 5 s.
        #expect(s.retryDelay(afterFailures: 4, now: now, expiresAt: now + 30, using: &high) == .seconds(25))
        // No time left for another attempt.
        #expect(s.retryDelay(afterFailures: 1, now: now, expiresAt: now + 5, using: &high) == nil)
        #expect(s.retryDelay(afterFailures: 1, now: now, expiresAt: now - 10, using: &high) == nil)
        var random = SeededRandom(state: 7)
        var t = now
        let expiry = now + 120
        var attempts = 0
        while let delay = s.retryDelay(afterFailures: attempts + 1, now: t, expiresAt: expiry, using: &random) {
            t += delay.components.seconds + (delay.components.attoseconds > 0 ? 1 : 0)
            attempts += 1
            #expect(t <= expiry - 5 + 1)
            if attempts > 50 { break }
        }
        #expect(attempts > 3 && attempts < 50)
    }
}
