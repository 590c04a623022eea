// A token's expiry on both of the daemon's clocks, made from a wall time or a lifetime, as a table.
@testable import AuthdCore
import Testing

@Suite struct ClockMomentTests {
    static let now = ClockReading(monotonic: .seconds(500), wall: 1_800_000_000)

    @Test(arguments: [
        // wall time, monotonic
        (1_800_000_600, 1_100),   // ahead: placed ahead on the monotonic clock
        (1_800_000_000, 500),     // now
        (1_799_999_900, 400),     // already past (a stored expiry from before a restart)
    ] as [(Int64, Int64)])
    func fromAWallTime(wall: Int64, monotonic: Int64) {
        let moment = ClockMoment(wall: wall, now: Self.now)
        #expect(moment.wall == wall)
        #expect(moment.monotonic == .seconds(monotonic))
    }

    @Test(arguments: [(3_600, 4_100, 1_800_003_600), (0, 500, 1_800_000_000)] as [(Int64, Int64, Int64)])
    func fromALifetime(seconds: Int64, monotonic: Int64, wall: Int64) {
        let moment = ClockMoment(after: seconds, now: Self.now)
        #expect(moment == ClockMoment(wall: wall, now: Self.now))
        #expect(moment.monotonic == .seconds(monotonic))
    }
}
