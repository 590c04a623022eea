// Where the daemon's tasks, timers and the engine's waits run: one NIO event loop, also Swift concurrency's global executor.
import AuthdOAuth
import NIOCore
import NIOPosix

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
