// The daemon's view of time: a monotonic clock for lifetimes and schedules, wall time for display and disk.
import AuthdPosix
import NIOCore
import Synchronization

/// Lifetimes and schedules run on the monotonic clock (a wall-clock jump must not expire or
/// extend a token); wall-clock seconds are used only for what is shown or persisted.
public protocol DaemonClock: Sendable {
    /// Time since an arbitrary fixed origin; never goes backwards.
    func monotonicNow() -> Duration
    /// Seconds since the Unix epoch.
    func wallSeconds() -> Int64
    /// Suspends until the monotonic clock reaches `deadline`; throws `CancellationError` when cancelled.
    func sleep(until deadline: Duration) async throws
}

/// The real clocks. Sleeps are timers on a NIO event loop, which sleeps until the deadline:
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

    public func sleep(until deadline: Duration) async throws {
        let delay = deadline - monotonicNow()
        guard delay > .zero else {
            try Task.checkCancellation()
            return
        }
        let (seconds, attoseconds) = delay.components
        let nanoseconds = seconds * 1_000_000_000 + attoseconds / 1_000_000_000
        let pending = Mutex<Scheduled<Void>?>(nil)
        let cancelled = Mutex(false)
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, Error>) in
                let task = timers.scheduleTask(in: .nanoseconds(nanoseconds)) {}
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
