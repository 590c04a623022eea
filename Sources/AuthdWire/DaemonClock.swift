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
}
