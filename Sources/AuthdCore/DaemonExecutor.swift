// Where the daemon's tasks and timers (the engine's waits too) run: one NIO event loop, installed as Swift concurrency's default executor.
@_spi(ExperimentalCustomExecutors) @_spi(ExperimentalScheduling) import _Concurrency
import NIOCore
import NIOPosix

/// Where the daemon's tasks and timers run: one loop of NIO's singleton event-loop group,
/// installed as Swift concurrency's default (global) executor. Tasks on libdispatch's pool would
/// start its workqueue monitor, which wakes the process every second for the rest of its life,
/// idle or not.
///
/// Installed through the runtime's executor factory (`_createExecutors`, Swift 6.2+), not NIO's
/// `unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor`: NIO finds
/// `swift_task_enqueueGlobal_hook` with `dlsym`, and in a runtime linked statically
/// (`--static-swift-stdlib`, as `make deb` and `make bench` build authd) that symbol is local, so
/// the hook silently stays unset and tasks go to libdispatch. The factory works in both builds.
/// It is SPI marked experimental: a toolchain that changes it fails to compile here, loudly.
public enum DaemonExecutor {
    /// Call first thing in `main`, on the main thread, before any task exists; once.
    public static func install() {
        // One loop: blocking work (HTTP, the store, D-Bus, the socket front) runs on dedicated threads.
        NIOSingletons.groupLoopCountSuggestion = 1
        _createExecutors(factory: DaemonExecutorFactory.self)
    }

    /// Runs `body` as the process's first task on the daemon's executor and blocks the calling
    /// (main) thread until it returns. An `async` main would instead start on the main executor,
    /// created before `install` could run.
    public static func run(_ body: @escaping @Sendable () async -> Void) {
        let finished = timers.makePromise(of: Void.self)
        Task.detached {
            await body()
            finished.succeed(())
        }
        try? finished.futureResult.wait()
    }

    /// The loop the daemon's tasks run on and its timers are scheduled on (the group has one).
    public static var timers: any EventLoop { MultiThreadedEventLoopGroup.singleton.next() }
}

/// What the runtime asks for its executors: the daemon's event loop for every task, libdispatch's
/// main queue for the main actor (which the daemon does not use).
enum DaemonExecutorFactory: ExecutorFactory {
    static var mainExecutor: any MainExecutor { PlatformExecutorFactory.mainExecutor }
    static var defaultExecutor: any TaskExecutor { EventLoopTaskExecutor.shared }
}

/// Swift concurrency's default executor on one NIO event loop: jobs run on the loop as NIO's own
/// hook runs them, and delayed jobs (`Task.sleep`) are NIO timers, so nothing reaches libdispatch.
final class EventLoopTaskExecutor: TaskExecutor, SchedulingExecutor, @unchecked Sendable {
    static let shared = EventLoopTaskExecutor(loop: DaemonExecutor.timers)

    // Immutable after init; EventLoop is Sendable.
    private let loop: any EventLoop

    private init(loop: any EventLoop) {
        self.loop = loop
    }

    func enqueue(_ job: consuming ExecutorJob) {
        loop.enqueue(job)
    }

    func enqueue<C: Clock>(_ job: consuming ExecutorJob, after delay: C.Duration, tolerance: C.Duration?, clock: C) {
        let unowned = UnownedJob(job)
        let loop = self.loop
        loop.scheduleTask(in: Self.timeAmount(delay)) { loop.enqueue(ExecutorJob(unowned)) }
    }

    func enqueue<C: Clock>(_ job: consuming ExecutorJob, at instant: C.Instant, tolerance: C.Duration?, clock: C) {
        enqueue(job, after: clock.now.duration(to: instant), tolerance: tolerance, clock: clock)
    }

    /// A clock's duration as NIO's; the standard clocks measure in `Duration`. Another clock's
    /// duration has no conversion, so its job runs at once (an early wake-up, as a spurious
    /// wake-up would be, rather than a lost job).
    private static func timeAmount<D: DurationProtocol>(_ delay: D) -> TimeAmount {
        guard let duration = delay as? Duration else { return .zero }
        let (seconds, attoseconds) = duration.components
        // Saturating: a wait of centuries stays a wait (about 292 years of nanoseconds fit).
        guard seconds < Int64.max / 1_000_000_000 - 1 else { return .nanoseconds(Int64.max) }
        return .nanoseconds(max(0, seconds * 1_000_000_000 + attoseconds / 1_000_000_000))
    }
}
