// A value behind a pthread mutex and condition variable: threads wait until it reaches a state another thread sets.
import Glibc

/// `Synchronization.Mutex` cannot wait; this can. Every change wakes the waiters (a broadcast
/// with nobody waiting costs no system call), and each waiter re-checks its condition.
public final class WaitableState<Value>: @unchecked Sendable {
    // Allocated once and never moved, as pthread objects require.
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    // Touched only with `mutex` held.
    private var value: Value

    public init(_ value: Value) {
        self.value = value
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(condition, nil)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
        condition.deallocate()
    }

    /// Waits until `ready` holds, then runs `body` with the lock held and wakes the other waiters.
    public func wait<R>(until ready: (Value) -> Bool, then body: (inout Value) -> R) -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        while !ready(value) { pthread_cond_wait(condition, mutex) }
        let result = body(&value)
        pthread_cond_broadcast(condition)
        return result
    }

    /// Runs `body` with the lock held and wakes the waiters.
    public func withLock<R>(_ body: (inout Value) -> R) -> R {
        wait(until: { _ in true }, then: body)
    }

    /// Runs `body` with the lock held and wakes nobody: for a change no waiter needs to see yet.
    public func withLockQuietly<R>(_ body: (inout Value) -> R) -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return body(&value)
    }
}
