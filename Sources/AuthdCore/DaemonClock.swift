// The daemon's view of time: a monotonic clock for lifetimes and schedules, wall time for display and disk.
import AuthdPosix

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

/// The real clocks: `ContinuousClock` (CLOCK_BOOTTIME, so suspend counts as elapsed) and CLOCK_REALTIME.
public struct SystemDaemonClock: DaemonClock {
    private let origin = ContinuousClock.now

    public init() {}

    public func monotonicNow() -> Duration { ContinuousClock.now - origin }

    public func wallSeconds() -> Int64 { SystemClock.wallClockSeconds() }

    public func sleep(until deadline: Duration) async throws {
        try await ContinuousClock().sleep(until: origin + deadline, tolerance: .milliseconds(50))
    }
}
