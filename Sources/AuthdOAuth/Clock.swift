// Time as the OAuth engine sees it: monotonic instants for waiting, Unix seconds for what is stored.

/// An instant on a monotonic clock, as the time elapsed since that clock's origin. Polling and
/// backoff are computed with these, so that a wall-clock step (NTP, suspend) cannot make the
/// client poll early or wait for ever.
public struct MonotonicInstant: Comparable, Hashable, Sendable, CustomStringConvertible {
    public var sinceOrigin: Duration

    public init(sinceOrigin: Duration) { self.sinceOrigin = sinceOrigin }

    public static let origin = MonotonicInstant(sinceOrigin: .zero)

    public static func < (a: MonotonicInstant, b: MonotonicInstant) -> Bool { a.sinceOrigin < b.sinceOrigin }
    public static func + (a: MonotonicInstant, d: Duration) -> MonotonicInstant { MonotonicInstant(sinceOrigin: a.sinceOrigin + d) }
    public static func - (a: MonotonicInstant, d: Duration) -> MonotonicInstant { MonotonicInstant(sinceOrigin: a.sinceOrigin - d) }
    public static func - (a: MonotonicInstant, b: MonotonicInstant) -> Duration { a.sinceOrigin - b.sinceOrigin }

    public var description: String { "t+\(sinceOrigin)" }
}

/// The clock the engine runs on. Production uses `SystemOAuthClock`; tests use `ManualClock`.
public protocol OAuthClock: Sendable {
    /// The current monotonic instant.
    var now: MonotonicInstant { get }
    /// Suspends until `deadline`; throws `CancellationError` as soon as the task is cancelled.
    func sleep(until deadline: MonotonicInstant) async throws
    /// Wall-clock time in seconds since the Unix epoch, for expiry times that outlive the process.
    var unixSeconds: Int64 { get }
}

/// `ContinuousClock` for waiting (it keeps counting through suspend, so a device code's deadline
/// stays honest), and a wall-clock source supplied by the caller because the standard library
/// has none without Foundation or libc.
public struct SystemOAuthClock: OAuthClock {
    let origin: ContinuousClock.Instant
    let wallClock: @Sendable () -> Int64

    /// - Parameter unixSeconds: returns the current wall-clock time (e.g. from `clock_gettime(CLOCK_REALTIME)`).
    public init(unixSeconds: @escaping @Sendable () -> Int64) {
        origin = ContinuousClock.now
        wallClock = unixSeconds
    }

    public var now: MonotonicInstant { MonotonicInstant(sinceOrigin: origin.duration(to: ContinuousClock.now)) }

    public func sleep(until deadline: MonotonicInstant) async throws {
        try await ContinuousClock().sleep(until: origin.advanced(by: deadline.sinceOrigin), tolerance: .milliseconds(20))
    }

    public var unixSeconds: Int64 { wallClock() }
}

extension Duration {
    /// Whole seconds, rounded up: what a person or an `interval` field means by "N seconds".
    var wholeSecondsRoundedUp: Int64 {
        let (seconds, attoseconds) = components
        return attoseconds > 0 ? seconds + 1 : seconds
    }

    /// Milliseconds, for backoff arithmetic that must not overflow on silly server values.
    var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        let (ms, overflow) = seconds.multipliedReportingOverflow(by: 1000)
        return overflow ? Int64.max / 2 : ms + attoseconds / 1_000_000_000_000_000
    }
}
