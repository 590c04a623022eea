// The real DaemonClock: monotonic time moves forward across a sleep on its event loop, and a cancelled sleep throws.
import AuthdCore
import AuthdPosix
import NIOPosix
import Testing

@Suite struct SystemDaemonClockTests {
    @Test func movesForwardAndSleeps() async throws {
        let clock = SystemDaemonClock(timers: MultiThreadedEventLoopGroup.singleton.next())
        let start = clock.monotonicNow()
        try await clock.sleep(until: start + .milliseconds(5))
        #expect(clock.monotonicNow() - start >= .milliseconds(5))
        let wall = SystemClock.wallClockSeconds()
        #expect(abs(clock.wallSeconds() - wall) <= 1)
    }

    @Test func cancellationEndsASleep() async {
        let clock = SystemDaemonClock(timers: MultiThreadedEventLoopGroup.singleton.next())
        let sleeper = Task { try await clock.sleep(until: clock.monotonicNow() + .seconds(3600)) }
        sleeper.cancel()
        await #expect(throws: CancellationError.self) { try await sleeper.value }
    }
}
