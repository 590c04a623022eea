// Time as the OAuth engine sees it: the one DaemonClock (AuthdWire) read as monotonic instants for waiting.
import AuthdWire

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

extension DaemonClock {
    /// The monotonic clock's reading as the engine's instant.
    public var now: MonotonicInstant { MonotonicInstant(sinceOrigin: monotonicNow()) }

    /// Suspends until `deadline`; throws `CancellationError` as soon as the task is cancelled.
    public func sleep(until deadline: MonotonicInstant) async throws {
        try await sleep(until: deadline.sinceOrigin)
    }
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
