// The RFC 8628 polling rules, checked on the pure state machine without any I/O.

@testable import AuthdOAuth
import Testing

@Suite struct PollingScheduleTests {
    let t0 = MonotonicInstant.origin
    func at(_ seconds: Double) -> MonotonicInstant { t0 + .milliseconds(Int64(seconds * 1000)) }

    func schedule(interval: Int64 = 5, expiresIn: Int64 = 900, margin: Duration = .milliseconds(200)) -> PollingSchedule {
        PollingSchedule(interval: .seconds(interval), deadline: t0 + .seconds(expiresIn), startedAt: t0, safetyMargin: margin)
    }

    @Test func invalidGrantAtTheCodesEndMeansExpiredButEarlierItIsAFailure() {
        // Auth0: expired_token once, invalid_grant after; the first answer may have been lost.
        var late = schedule(interval: 5, expiresIn: 12)
        late.pollStarted(at: at(10.4))
        late.record(.failed(error: "invalid_grant", description: nil), at: at(10.5))
        #expect(late.nextAction(now: at(10.5)) == .finish(.expired))
        var early = schedule(interval: 5, expiresIn: 900)
        early.pollStarted(at: at(5.2))
        early.record(.failed(error: "invalid_grant", description: nil), at: at(5.3))
        #expect(early.nextAction(now: at(5.3)) == .finish(.failed(error: "invalid_grant", description: nil)))
    }

    @Test func firstPollWaitsOneIntervalPlusMargin() {
        let s = schedule()
        #expect(s.nextAction(now: t0) == .wait(until: at(5.2)))
        #expect(s.nextAction(now: at(5.1)) == .wait(until: at(5.2)))
        #expect(s.nextAction(now: at(5.2)) == .poll)
    }

    @Test func pendingKeepsTheIntervalMeasuredFromThePollStart() {
        var s = schedule()
        s.pollStarted(at: at(5.2))
        s.record(.pending, at: at(6.0))
        #expect(s.interval == .seconds(5))
        #expect(s.nextAction(now: at(6.0)) == .wait(until: at(10.4)))
        #expect(s.nextAction(now: at(10.3)) == .wait(until: at(10.4)))
    }

    @Test func slowDownAddsFiveSecondsEachTime() {
        var s = schedule()
        s.pollStarted(at: at(5.2))
        s.record(.slowDown(serverInterval: nil), at: at(5.3))
        #expect(s.interval == .seconds(10))
        #expect(s.nextPollAt == at(15.4))
        s.pollStarted(at: at(15.4))
        s.record(.slowDown(serverInterval: nil), at: at(15.5))
        #expect(s.interval == .seconds(15))
        #expect(s.nextPollAt == at(30.6))
        // Later pending answers keep the raised interval.
        s.pollStarted(at: at(30.6))
        s.record(.pending, at: at(30.7))
        #expect(s.interval == .seconds(15))
        #expect(s.nextPollAt == at(45.8))
    }

    @Test func slowDownHonoursALargerServerInterval() {
        var s = schedule()
        s.pollStarted(at: at(5.2))
        s.record(.slowDown(serverInterval: .seconds(30)), at: at(5.3))
        #expect(s.interval == .seconds(30))
        // A server interval below current+5 does not lower the increase.
        s.pollStarted(at: at(35.4))
        s.record(.slowDown(serverInterval: .seconds(7)), at: at(35.5))
        #expect(s.interval == .seconds(35))
    }

    @Test func rateLimitIsLikeSlowDownAndHonoursRetryAfter() {
        var s = schedule()
        s.pollStarted(at: at(5.2))
        s.record(.rateLimited(retryAfter: .seconds(30)), at: at(5.4))
        #expect(s.interval == .seconds(10))
        #expect(s.nextPollAt == at(35.6))
        s.pollStarted(at: at(35.6))
        s.record(.rateLimited(retryAfter: nil), at: at(35.7))
        #expect(s.interval == .seconds(15))
        #expect(s.nextPollAt == at(50.8))
    }

    @Test func deniedAndExpiredAndOtherErrorsEnd() {
        for (answer, outcome) in [
            (PollAnswer.denied(code: "access_denied", description: nil), PollingOutcome.denied(code: "access_denied", description: nil)),
            (.denied(code: "authorization_declined", description: "no"), .denied(code: "authorization_declined", description: "no")),
            (.expired, .expired),
            (.failed(error: "incorrect_device_code", description: nil), .failed(error: "incorrect_device_code", description: nil)),
            (.approved, .approved),
        ] {
            var s = schedule()
            s.pollStarted(at: at(5.2))
            s.record(answer, at: at(5.3))
            #expect(s.nextAction(now: at(5.3)) == .finish(outcome))
            #expect(s.nextAction(now: at(100)) == .finish(outcome))
        }
    }

    @Test func localDeadlineEndsAsExpired() {
        var s = schedule(interval: 5, expiresIn: 12)
        s.pollStarted(at: at(5.2))
        s.record(.pending, at: at(5.3))
        #expect(s.nextAction(now: at(5.3)) == .wait(until: at(10.4)))
        s.pollStarted(at: at(10.4))
        s.record(.pending, at: at(10.5))
        // 15.6 is past the 12 s deadline: no poll fits, so the flow ends now.
        #expect(s.nextAction(now: at(10.5)) == .finish(.expired))
    }

    @Test func transientFailuresBackOffButNeverFasterThanTheInterval() {
        var s = schedule()
        s.pollStarted(at: at(5.2))
        s.record(.transientFailure, at: at(5.3))
        #expect(s.nextPollAt == at(10.5))      // first retry: one interval after the failure
        s.pollStarted(at: at(10.5))
        s.record(.transientFailure, at: at(10.6))
        #expect(s.nextPollAt == at(20.8))      // 2 × interval
        s.pollStarted(at: at(20.8))
        s.record(.transientFailure, at: at(20.9))
        #expect(s.nextPollAt == at(41.1))      // 4 × interval
        for _ in 0..<10 {
            let start = s.nextPollAt
            s.pollStarted(at: start)
            s.record(.transientFailure, at: start + .milliseconds(100))
            #expect(s.nextPollAt - start <= .seconds(60) + .milliseconds(300))
            #expect(s.nextPollAt - start >= .seconds(5))
        }
        // Success resets the backoff.
        let start = s.nextPollAt
        s.pollStarted(at: start)
        s.record(.pending, at: start + .milliseconds(100))
        #expect(s.consecutiveTransientFailures == 0)
        #expect(s.nextPollAt == start + .milliseconds(5200))
    }

    @Test func aSlowTransientFailureStillWaitsAnInterval() {
        var s = schedule()
        s.pollStarted(at: at(5.2))
        s.record(.transientFailure, at: at(35.2))  // a 30 s timeout
        #expect(s.nextPollAt == at(40.4))
    }

    @Test func backoffIsPulledBackToTheDeadline() {
        var s = schedule(interval: 5, expiresIn: 30)
        s.pollStarted(at: at(5.2)); s.record(.transientFailure, at: at(5.3))
        s.pollStarted(at: at(10.5)); s.record(.transientFailure, at: at(10.6))
        s.pollStarted(at: at(20.8)); s.record(.transientFailure, at: at(20.9))
        // 4 × 5 s would be 41.1, past the 30 s deadline; one last poll at the deadline instead.
        #expect(s.nextPollAt == at(30))
        #expect(s.nextAction(now: at(21)) == .wait(until: at(30)))
        s.pollStarted(at: at(30)); s.record(.transientFailure, at: at(30.1))
        #expect(s.nextAction(now: at(30.1)) == .finish(.expired))
    }

    @Test func defaultIntervalAndDeadlineFromAuthorization() {
        let auth = DeviceAuthorization(deviceCode: "x", userCode: "U", verificationURI: "https://e/d", expiresIn: 600,
                                       requestedAt: at(1), requestedAtUnixSeconds: 100)
        let s = PollingSchedule(authorization: auth, startedAt: at(2))
        #expect(auth.interval == 5)
        #expect(s.interval == .seconds(5))
        #expect(s.deadline == at(601))
        #expect(s.nextPollAt == at(7.2))
        #expect(s.intervalSeconds == 5)
    }
}
