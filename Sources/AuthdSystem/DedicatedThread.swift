// Runs blocking work (libcurl transfers, D-Bus calls, the socket front's epoll loop) on its own thread, off Swift's cooperative pool.
import Glibc

public enum DedicatedThread {
    private final class Job {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }

    /// Runs `body` on a new detached thread and returns its result to the awaiting task.
    public static func run<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            start { continuation.resume(returning: body()) }
        }
    }

    /// Starts a detached thread running `body`. Failing to create a thread is treated like
    /// failing to allocate memory: the process cannot do useful work.
    public static func start(_ body: @escaping @Sendable () -> Void) {
        let job = Unmanaged.passRetained(Job(body)).toOpaque()
        var thread = pthread_t()
        let result = pthread_create(&thread, nil, { context in
            Unmanaged<Job>.fromOpaque(context!).takeRetainedValue().body()
            return nil
        }, job)
        precondition(result == 0, "pthread_create failed: \(result)")
        pthread_detach(thread)
    }
}
