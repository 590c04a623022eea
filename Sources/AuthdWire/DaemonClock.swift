// The one clock protocol: monotonic time for lifetimes, schedules and waits; wall seconds for what is shown or stored.

/// The clock the daemon and its OAuth engine run on. Lifetimes and schedules run on the monotonic
/// clock (a wall-clock jump must not expire or extend a token, nor make a device flow poll early);
/// wall-clock seconds are used only for what is shown or persisted. Production uses AuthdCore's
/// `SystemDaemonClock`; tests use AuthdTestSupport's `ManualClock`.
public protocol DaemonClock: Sendable {
    /// Time since an arbitrary fixed origin; never goes backwards.
    func monotonicNow() -> Duration
    /// Seconds since the Unix epoch.
    func wallSeconds() -> Int64
    /// Suspends until the monotonic clock reaches `deadline`; throws `CancellationError` when cancelled.
    func sleep(until deadline: Duration) async throws
    /// Runs `action` once the monotonic clock reaches `deadline` (at once if it has), unless the
    /// wake-up is cancelled first. For long waits that many hold at once (an agent's refresh
    /// timer, one per logged-in audience): a task suspended in `sleep` costs about 3 KiB each.
    func wake(at deadline: Duration, _ action: @escaping @Sendable () -> Void) -> any ScheduledWake
}

/// A wake-up from `DaemonClock.wake(at:_:)`.
public protocol ScheduledWake: Sendable {
    /// Stops the wake-up if its action has not started; harmless afterwards.
    func cancel()
}
