// The refresh rule the agent runs, as tables: the margin, the scheduled refresh and the retry backoff.
@testable import AuthdCore
import Testing

@Suite struct RefreshPlannerTests {
    @Test(arguments: [
        // configured margin, lifetime, margin
        (nil, 3_600, 360),       // 10 % of the lifetime
        (nil, 300, 60),          // the 60 s floor
        (nil, 28_800, 2_880),
        (nil, 60, 30),           // never more than half the lifetime, or a short token is refreshed at once
        (nil, 0, 0),
        (300, 7_200, 300),       // refresh_margin
        (300, 400, 200),         // refresh_margin, still at most half
    ] as [(Int64?, Int64, Int64)])
    func margin(configured: Int64?, lifetime: Int64, expected: Int64) {
        let planner = RefreshPlanner(margin: configured.map { .seconds($0) })
        #expect(planner.margin(forLifetime: .seconds(lifetime)) == .seconds(expected))
    }

    @Test(arguments: [
        // max_session, expires at, issued at, login at, now, plan (nil = unknown lifetime, -1 = session ended)
        (nil, 600, 0, 0, 0, 540),             // 60 s before expiry
        (nil, 3_600, 0, 0, 0, 3_240),         // 10 % of an hour
        (nil, 1_000, 400, 0, 500, 940),       // the lifetime counts from issuance
        (nil, 600, 0, 0, 560, 560),           // already due: at once
        (nil, 0, 0, 0, 0, 2),                 // expires_in 0: not before 2 s after issuance
        (nil, nil, 0, 0, 0, nil),             // no lifetime: no timer
        (300, 3_600, 0, 0, 0, 300),           // max_session ends first: wake then
        (300, 3_600, 0, 0, 300, -1),          // max_session reached
        (300, nil, 0, 0, 300, nil),           // no lifetime wins over the session (nothing to schedule)
    ] as [(Int64?, Int64?, Int64, Int64, Int64, Int64?)])
    func plan(maxSession: Int64?, expiresAt: Int64?, issuedAt: Int64, loginAt: Int64, now: Int64, expected: Int64?) {
        let planner = RefreshPlanner(maxSession: maxSession.map { .seconds($0) })
        let plan = planner.plan(expiresAt: expiresAt.map { .seconds($0) }, issuedAt: .seconds(issuedAt),
                                loginAt: .seconds(loginAt), now: .seconds(now))
        switch expected {
        case nil: #expect(plan == .unknownLifetime)
        case -1: #expect(plan == .sessionEnded)
        case let at?: #expect(plan == .refresh(at: .seconds(at)))
        }
    }

    @Test(arguments: [
        // failures, jitter, expires at (relative to now = 1000), retry after
        (1, 0.0, nil, 5.0),           // 5 s
        (1, 0.5, nil, 7.5),           // plus up to as much again from the jitter
        (2, 0.0, nil, 10.0),
        (7, 0.0, nil, 320.0),         // doubling stops at 320 s
        (30, 0.75, nil, 560.0),
        (0, 0.0, nil, 5.0),           // the first retry, however counted
        (4, 0.0, 30, 15.0),           // 40 s wanted, the token expires in 30 s: halfway there
        (4, 0.0, 2, 40.0),            // too little left to pull in: the backoff as is
        (4, 0.0, -10, 40.0),          // after expiry the retries go on
    ] as [(Int, Double, Int64?, Double)])
    func retry(failures: Int, jitter: Double, expiresIn: Int64?, after: Double) {
        let now = Duration.seconds(1_000)
        let due = RefreshPlanner().retryAt(afterFailures: failures, now: now, expiresAt: expiresIn.map { now + .seconds($0) },
                                           jitter: jitter)
        #expect(due == now + .milliseconds(Int64((after * 1000).rounded())))
    }

    @Test(arguments: [
        // expires at, lifetime, now, near
        (600, 600, 539, false), (600, 600, 540, true), (600, nil, 599, false), (nil, 600, 0, false),
    ] as [(Int64?, Int64?, Int64, Bool)])
    func nearExpiry(expiresAt: Int64?, lifetime: Int64?, now: Int64, expected: Bool) {
        #expect(RefreshPlanner().isNearExpiry(expiresAt: expiresAt.map { .seconds($0) }, lifetime: lifetime.map { .seconds($0) },
                                              now: .seconds(now)) == expected)
    }

    @Test func sessionEnds() {
        let planner = RefreshPlanner(maxSession: .seconds(300))
        #expect(!planner.sessionEnded(loginAt: .seconds(100), now: .seconds(399)))
        #expect(planner.sessionEnded(loginAt: .seconds(100), now: .seconds(400)))
        #expect(!RefreshPlanner().sessionEnded(loginAt: .zero, now: .seconds(1_000_000)))
    }
}
