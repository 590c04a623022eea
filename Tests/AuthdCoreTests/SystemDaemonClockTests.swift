// The real DaemonClock: monotonic time moves forward across a sleep on its event loop, a cancelled sleep throws, wake-ups run once unless cancelled.
import AuthdCore
import AuthdPosix
import NIOPosix
import Synchronization
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

    @Test func aWakeUpRunsAtItsDeadlineAndACancelledOneNever() async throws {
        let clock = SystemDaemonClock(timers: MultiThreadedEventLoopGroup.singleton.next())
        let start = clock.monotonicNow()
        let ranAt = Mutex<Duration?>(nil)
        let cancelledRan = Mutex(false)
        let cancelled = clock.wake(at: start + .milliseconds(5)) { cancelledRan.withLock { $0 = true } }
        cancelled.cancel()
        _ = clock.wake(at: start + .milliseconds(5)) { ranAt.withLock { $0 = clock.monotonicNow() } }
        // Past both deadlines (a ceiling for slow machines, not a timing assertion).
        for _ in 0..<600 where ranAt.withLock({ $0 }) == nil { try await clock.sleep(until: clock.monotonicNow() + .milliseconds(100)) }
        let ran = try #require(ranAt.withLock { $0 })
        #expect(ran - start >= .milliseconds(5))
        #expect(!cancelledRan.withLock { $0 })
    }
}
