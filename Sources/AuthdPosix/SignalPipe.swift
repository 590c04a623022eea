// SIGTERM, SIGINT, SIGHUP as bytes on a pipe, read by a thread that sleeps until one comes (no dispatch source, no timer).
import CPosix
import Glibc

/// The process's handler for the trapped signals writes each signal's number to a pipe; `next`
/// blocks on the read end. Unlike a libdispatch signal source, it starts no dispatch worker (and
/// with it libdispatch's once-a-second workqueue monitor), and it works whatever signal mask each
/// thread has, so nothing needs blocking before threads start.
public final class SignalPipe: Sendable {
    public struct Signal: Equatable, Sendable {
        public let number: Int32
        public static let terminate = Signal(number: SIGTERM)
        public static let interrupt = Signal(number: SIGINT)
        public static let hangUp = Signal(number: SIGHUP)
    }

    private let readEnd: FileDescriptor
    private let writeEnd: FileDescriptor

    /// Installs the handler for `signals`; from then on they no longer end the process. One per process.
    public init(trapping signals: [Signal]) throws(Errno) {
        (readEnd, writeEnd) = try FileDescriptor.pipe()
        // A full pipe (a storm of signals nobody reads) must not block the handler.
        try writeEnd.setNonBlocking(true)
        for signal in signals where authd_deliver_signal_to_pipe(signal.number, writeEnd.rawValue) != 0 { throw Errno.current }
    }

    /// Blocks until a trapped signal arrives; returns its number.
    public func next() -> Signal {
        var byte: UInt8 = 0
        while true {
            let count = Glibc.read(readEnd.rawValue, &byte, 1)
            if count == 1 { return Signal(number: Int32(byte)) }
            if count < 0 && authd_errno() == EINTR { continue }
            // The read end is ours and never closed: anything else is a programming error.
            preconditionFailure("reading the signal pipe failed: \(Errno.current)")
        }
    }
}
