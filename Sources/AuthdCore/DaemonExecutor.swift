// Where the daemon's tasks and timers (the engine's waits too) run: one NIO event loop, also Swift concurrency's global executor.
import NIOCore
import NIOPosix

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
