// The real DaemonClock (AuthdWire): the system clocks, with sleeps on a NIO event loop's timers.
import AuthdPosix
import AuthdWire
import NIOCore
import Synchronization

/// The real clocks, for the daemon and the OAuth engine it runs. Sleeps are timers on a NIO event loop, which sleeps until the deadline:
/// libdispatch, behind `Task.sleep`, wakes every second while any sleep is pending, and an idle
/// daemon should not wake at all.
public struct SystemDaemonClock: DaemonClock {
    private let origin = ContinuousClock.now
    private let timers: any EventLoop

    public init(timers: any EventLoop) {
        self.timers = timers
    }

    public func monotonicNow() -> Duration { ContinuousClock.now - origin }

    public func wallSeconds() -> Int64 { SystemClock.wallClockSeconds() }

    public func wake(at deadline: Duration, _ action: @escaping @Sendable () -> Void) -> any ScheduledWake {
        EventLoopWake(task: timers.scheduleTask(in: Self.timeAmount(until: deadline, now: monotonicNow())) { action() })
    }

    private static func timeAmount(until deadline: Duration, now: Duration) -> TimeAmount {
        let (seconds, attoseconds) = max(deadline - now, .zero).components
        // Saturating: a deadline centuries away must not trap.
        guard seconds < Int64.max / 1_000_000_000 - 1 else { return .nanoseconds(Int64.max) }
        return .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }

    public func sleep(until deadline: Duration) async throws {
        let delay = deadline - monotonicNow()
        guard delay > .zero else {
            try Task.checkCancellation()
            return
        }
        let amount = Self.timeAmount(until: deadline, now: deadline - delay)
        let pending = Mutex<Scheduled<Void>?>(nil)
        let cancelled = Mutex(false)
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, Error>) in
                let task = timers.scheduleTask(in: amount) {}
                task.futureResult.whenComplete { result in
                    switch result {
                    case .success: continuation.resume()
                    case .failure: continuation.resume(throwing: CancellationError())
                    }
                }
                pending.withLock { $0 = task }
                if cancelled.withLock({ $0 }) { task.cancel() }
            }
        } onCancel: {
            cancelled.withLock { $0 = true }
            pending.withLock { $0 }?.cancel()
        }
    }
}

/// A NIO timer as a `ScheduledWake`.
private struct EventLoopWake: ScheduledWake {
    let task: Scheduled<Void>
    func cancel() { task.cancel() }
}
