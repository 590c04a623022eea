// Runs blocking work (libcurl transfers, D-Bus calls, the socket front's epoll loop) on its own thread, off Swift's cooperative pool.
import AuthdPosix
import Glibc

public enum DedicatedThread {
    private final class Job {
        let name: String
        let body: @Sendable () -> Void
        init(_ name: String, _ body: @escaping @Sendable () -> Void) { self.name = name; self.body = body }
    }

    /// Runs `body` on a new detached thread and returns its result to the awaiting task.
    public static func run<T: Sendable>(name: String = "authd-blocking", _ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            start(name: name) { continuation.resume(returning: body()) }
        }
    }

    /// Starts a detached thread running `body`, named `name` (at most 15 bytes are kept; without a
    /// name a thread inherits its creator's, and `/proc/PID/task/*/comm` could not tell them apart).
    /// Failing to create a thread is treated like failing to allocate memory: the process cannot
    /// do useful work.
    public static func start(name: String, _ body: @escaping @Sendable () -> Void) {
        let job = Unmanaged.passRetained(Job(name, body)).toOpaque()
        var thread = pthread_t()
        let result = pthread_create(&thread, nil, { context in
            let job = Unmanaged<Job>.fromOpaque(context!).takeRetainedValue()
            CurrentThread.setName(job.name)
            job.body()
            return nil
        }, job)
        precondition(result == 0, "pthread_create failed: \(result)")
        pthread_detach(thread)
    }
}
