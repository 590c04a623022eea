// The system clocks (monotonic and wall), read with clock_gettime, and a blocking sleep.
import Glibc

/// The system clocks, read with `clock_gettime`.
public enum SystemClock {
    /// Nanoseconds on `CLOCK_MONOTONIC`: for deadlines and lifetimes (never jumps with the wall clock).
    public static func monotonicNanoseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
    }

    /// Seconds since the Unix epoch on `CLOCK_REALTIME`: for timestamps shown to people or stored.
    public static func wallClockSeconds() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec)
    }

    /// Nanoseconds since the Unix epoch on `CLOCK_REALTIME`.
    public static func wallClockNanoseconds() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
    }

    /// Blocks the calling thread for `milliseconds` (`nanosleep`, resumed after signals).
    public static func sleep(milliseconds: Int) {
        var request = timespec(tv_sec: milliseconds / 1000, tv_nsec: (milliseconds % 1000) * 1_000_000)
        var remaining = timespec()
        while nanosleep(&request, &remaining) == -1 && Errno.current == .interrupted { request = remaining }
    }
}
