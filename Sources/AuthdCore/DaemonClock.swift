// The daemon's view of time: a monotonic clock for lifetimes and schedules, wall time for display and disk.
import AuthdOAuth
import AuthdPosix
import NIOCore
import NIOPosix
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

/// The daemon's clock as the OAuth engine's: its waits (device-flow polling, backoff) become NIO
/// timers too, where `ContinuousClock.sleep` would start libdispatch's timer machinery and, with
/// it, a once-a-second monitor for the rest of the process's life.
public struct DaemonOAuthClock: OAuthClock {
    private let clock: any DaemonClock

    public init(_ clock: any DaemonClock) { self.clock = clock }

    public var now: MonotonicInstant { MonotonicInstant(sinceOrigin: clock.monotonicNow()) }

    public func sleep(until deadline: MonotonicInstant) async throws { try await clock.sleep(until: deadline.sinceOrigin) }

    public var unixSeconds: Int64 { clock.wallSeconds() }
}

/// Where the daemon's tasks and timers run: NIO's singleton event-loop group, installed as Swift
/// concurrency's global executor. Tasks on libdispatch's pool would start its workqueue monitor,
/// which wakes the process every second for the rest of its life, idle or not.
public enum DaemonExecutor {
    /// Call first thing in `main`, on the main thread, before any task runs; once.
    public static func install() {
        // One loop: blocking work (HTTP, the store, D-Bus, the socket front) runs on dedicated threads.
        NIOSingletons.groupLoopCountSuggestion = 1
        _ = NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
    }

    /// The loop the daemon's timers are scheduled on.
    public static var timers: any EventLoop { MultiThreadedEventLoopGroup.singleton.next() }
}
