// TEMPORARY: four libc calls AuthdPosix does not offer yet; to move there (see the clients' report).
// Everything else in the clients goes through AuthdPosix.
import AuthdPosix
import Glibc

/// Process-wide calls the clients need that belong in AuthdPosix (`CurrentProcess.exit`,
/// `Signal.ignore`, a sleep, and `poll` over two descriptors).
public enum PosixGaps {
    /// Ends the process with `status` (`exit`). The clients write with `write(2)`, so there is no
    /// stdio buffer to lose.
    public static func exit(_ status: Int32) -> Never {
        Glibc.exit(status)
    }

    /// A daemon that closes the socket (or `| head` closing stdout) must be an `EPIPE` error
    /// we report, not a silent death by `SIGPIPE`.
    public static func ignoreBrokenPipe() {
        _ = signal(SIGPIPE, SIG_IGN)
    }

    /// Sleeps on the monotonic clock.
    public static func sleep(milliseconds: Int) {
        var request = timespec(tv_sec: milliseconds / 1000, tv_nsec: (milliseconds % 1000) * 1_000_000)
        var remaining = timespec()
        while nanosleep(&request, &remaining) == -1 && errno == EINTR { request = remaining }
    }

    /// Waits until `first` or `second` is readable (or hung up); returns which, or nil on timeout.
    public static func waitReadable(_ first: FileDescriptor, _ second: FileDescriptor,
                                    timeoutMilliseconds: Int) -> (first: Bool, second: Bool)? {
        var entries = [pollfd(fd: first.rawValue, events: Int16(POLLIN), revents: 0),
                       pollfd(fd: second.rawValue, events: Int16(POLLIN), revents: 0)]
        let ready = poll(&entries, 2, Int32(clamping: timeoutMilliseconds))
        guard ready > 0 else { return nil }
        return (entries[0].revents != 0, entries[1].revents != 0)
    }
}
