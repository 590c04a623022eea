// The libc error number as a Swift error, and the one helper every syscall goes through.
import CPosix
import Glibc

/// A libc `errno` value thrown by a failed call; `description` is the `strerror` text.
public struct Errno: Error, Hashable, Sendable, CustomStringConvertible {
    /// The raw `errno` value.
    public let rawValue: Int32

    /// Wraps a raw `errno` value.
    public init(rawValue: Int32) { self.rawValue = rawValue }

    /// The calling thread's current `errno`.
    public static var current: Errno { Errno(rawValue: authd_errno()) }

    /// The `strerror` text, e.g. "No such file or directory".
    public var description: String {
        var buffer = [CChar](repeating: 0, count: 256)
        // Without _GNU_SOURCE glibc gives the XSI strerror_r: 0 on success, text in our buffer.
        guard strerror_r(rawValue, &buffer, buffer.count) == 0 else { return "errno \(rawValue)" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// `EINTR`
    public static let interrupted = Errno(rawValue: EINTR)
    /// `EAGAIN` (same value as `EWOULDBLOCK`)
    public static let wouldBlock = Errno(rawValue: EAGAIN)
    /// `ENOENT`
    public static let noSuchFileOrDirectory = Errno(rawValue: ENOENT)
    /// `EEXIST`
    public static let fileExists = Errno(rawValue: EEXIST)
    /// `EADDRINUSE`: what `bind` says when a file is already at a Unix socket's path.
    public static let addressInUse = Errno(rawValue: EADDRINUSE)
    /// `EACCES`
    public static let permissionDenied = Errno(rawValue: EACCES)
    /// `EPERM`
    public static let notPermitted = Errno(rawValue: EPERM)
    /// `ECONNREFUSED`
    public static let connectionRefused = Errno(rawValue: ECONNREFUSED)
    /// `ETIMEDOUT`; also thrown by the timed reads and connects here when the time is up.
    public static let timedOut = Errno(rawValue: ETIMEDOUT)
    /// `EINPROGRESS`
    public static let inProgress = Errno(rawValue: EINPROGRESS)
    /// `ENOPROTOOPT`: a socket option the kernel does not know (e.g. `SO_PEERPIDFD` before 6.5).
    public static let protocolOptionUnavailable = Errno(rawValue: ENOPROTOOPT)
    /// `ESRCH`
    public static let noSuchProcess = Errno(rawValue: ESRCH)
    /// `ENAMETOOLONG`; also thrown when a socket path does not fit `sun_path`.
    public static let nameTooLong = Errno(rawValue: ENAMETOOLONG)
    /// `EFBIG`; also thrown when a file is larger than the caller's cap.
    public static let fileTooLarge = Errno(rawValue: EFBIG)
    /// `ENOSPC`
    public static let noSpace = Errno(rawValue: ENOSPC)
    /// `EIO`
    public static let ioError = Errno(rawValue: EIO)
    /// `EPIPE`
    public static let brokenPipe = Errno(rawValue: EPIPE)
    /// `EINVAL`
    public static let invalidArgument = Errno(rawValue: EINVAL)
    /// `ENOTTY`
    public static let notATerminal = Errno(rawValue: ENOTTY)
    /// `ECHILD`
    public static let noChildProcess = Errno(rawValue: ECHILD)
    /// `EOPNOTSUPP`
    public static let operationNotSupported = Errno(rawValue: EOPNOTSUPP)
    /// `ENOSYS`
    public static let notImplemented = Errno(rawValue: ENOSYS)
}

/// Runs a call that returns -1 and sets `errno` on failure, retrying on `EINTR`.
@inline(__always)
internal func retryingInterrupts<I: FixedWidthInteger>(_ call: () -> I) throws(Errno) -> I {
    while true {
        let result = call()
        if result != -1 { return result }
        let error = Errno.current
        if error != .interrupted { throw error }
    }
}

/// Runs a call that returns -1 and sets `errno` on failure, once (for `close`, where a retry
/// after `EINTR` could close a descriptor another thread just got).
@inline(__always)
internal func once<I: FixedWidthInteger>(_ call: () -> I) throws(Errno) -> I {
    let result = call()
    if result == -1 { throw Errno.current }
    return result
}
