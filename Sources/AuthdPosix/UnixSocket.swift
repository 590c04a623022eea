// Unix-domain stream sockets: connect with a deadline, bind and listen with a mode, accept, peer identity.
import CPosix
import Glibc

/// Stream sockets in the file system namespace (`AF_UNIX`, `SOCK_STREAM`), all close-on-exec.
public enum UnixSocket {
    /// The kernel's limit on a socket path, in bytes, not counting the terminating NUL.
    public static let maximumPathLength = 107

    /// Connects to the socket at `path`, giving up after `timeoutMilliseconds` with
    /// `Errno.timedOut`. The returned descriptor is blocking and close-on-exec; the caller closes it.
    public static func connect(path: String, timeoutMilliseconds: Int) throws(Errno) -> FileDescriptor {
        var address = try socketAddress(path)
        let socket = try makeSocket()
        do throws(Errno) {
            try socket.setNonBlocking(true)
            let deadline = SystemClock.monotonicNanoseconds() + UInt64(max(timeoutMilliseconds, 0)) * 1_000_000
            while true {
                let result = withUnsafePointer(to: &address) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        Glibc.connect(socket.rawValue, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
                    }
                }
                if result == 0 { break }
                let error = Errno.current
                let remaining = Int((deadline &- SystemClock.monotonicNanoseconds()) / 1_000_000)
                if SystemClock.monotonicNanoseconds() >= deadline { throw Errno.timedOut }
                switch error {
                case .inProgress, .interrupted:
                    // The kernel finishes the connect in the background; its outcome is SO_ERROR.
                    guard try socket.wait(for: .writable, timeoutMilliseconds: remaining) else { throw Errno.timedOut }
                    let pending = try integerOption(socket, SOL_SOCKET, SO_ERROR)
                    if pending != 0 { throw Errno(rawValue: pending) }
                    try socket.setNonBlocking(false)
                    return socket
                case .wouldBlock:
                    // A full listen backlog: Unix sockets do not queue connects, so retry shortly.
                    usleep(UInt32(min(remaining, 5) * 1000))
                default:
                    throw error
                }
            }
            try socket.setNonBlocking(false)
            return socket
        } catch {
            try? socket.close()
            throw error
        }
    }

    /// Creates a socket at `path`, sets its file mode to `permissions` and listens on it.
    /// Fails with `Errno.fileExists` when something is already at `path` (the caller decides whether
    /// a stale socket may be removed). The mode is set after `bind`; keep the socket in a 0700
    /// directory so the moment between the two is not observable by others.
    public static func listen(path: String, permissions: UInt32 = 0o600, backlog: Int32 = 64) throws(Errno) -> FileDescriptor {
        var address = try socketAddress(path)
        let socket = try makeSocket()
        do throws(Errno) {
            _ = try retryingInterrupts {
                withUnsafePointer(to: &address) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        bind(socket.rawValue, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
                    }
                }
            }
            _ = try retryingInterrupts { chmod(path, mode_t(permissions)) }
            _ = try retryingInterrupts { Glibc.listen(socket.rawValue, backlog) }
            return socket
        } catch {
            try? socket.close()
            throw error
        }
    }

    /// Accepts one connection (`accept4` with `SOCK_CLOEXEC`); blocks unless the listener is non-blocking.
    public static func accept(_ listener: FileDescriptor) throws(Errno) -> FileDescriptor {
        FileDescriptor(rawValue: try retryingInterrupts {
            accept4(listener.rawValue, nil, nil, Int32(SOCK_CLOEXEC.rawValue))
        })
    }

    /// The connected peer's pid, uid and gid as the kernel recorded them at connect time (`SO_PEERCRED`).
    public static func peerCredentials(_ socket: FileDescriptor) throws(Errno) -> (pid: Int32, uid: UInt32, gid: UInt32) {
        var credentials = authd_ucred()
        var length = socklen_t(MemoryLayout<authd_ucred>.size)
        _ = try retryingInterrupts { getsockopt(socket.rawValue, SOL_SOCKET, AUTHD_SO_PEERCRED, &credentials, &length) }
        return (credentials.pid, credentials.uid, credentials.gid)
    }

    /// A pidfd for the connected peer's process (`SO_PEERPIDFD`, Linux 6.5+); the caller owns it.
    /// Throws `Errno.protocolOptionUnavailable` on older kernels.
    public static func peerProcessDescriptor(_ socket: FileDescriptor) throws(Errno) -> FileDescriptor {
        FileDescriptor(rawValue: try integerOption(socket, SOL_SOCKET, AUTHD_SO_PEERPIDFD))
    }

    /// Accepts one connection without blocking (`accept4` with `SOCK_CLOEXEC | SOCK_NONBLOCK`);
    /// nil when none is waiting. The new socket is non-blocking.
    public static func acceptNonBlocking(_ listener: FileDescriptor) throws(Errno) -> FileDescriptor? {
        do throws(Errno) {
            return FileDescriptor(rawValue: try retryingInterrupts {
                accept4(listener.rawValue, nil, nil, Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue))
            })
        } catch .wouldBlock {
            return nil
        }
    }

    /// Asks the kernel to attach the writer's credentials to every message read from `socket`
    /// (`SO_PASSCRED`). Set on a listening socket, accepted sockets inherit it, so even bytes
    /// written before the accept carry their writer.
    public static func setPassCredentials(_ socket: FileDescriptor) throws(Errno) {
        var on: Int32 = 1
        _ = try retryingInterrupts {
            setsockopt(socket.rawValue, SOL_SOCKET, AUTHD_SO_PASSCRED, &on, socklen_t(MemoryLayout<Int32>.size))
        }
    }

    /// What one `receive` gave.
    public enum Received: Sendable {
        /// Bytes of one writer; `sender` is nil when the kernel attached no credentials.
        case bytes([UInt8], sender: (pid: Int32, uid: UInt32, gid: UInt32)?)
        /// Nothing to read now (non-blocking).
        case wouldBlock
        /// The peer shut down its writing side and everything was read.
        case endOfFile
    }

    /// One non-blocking `recvmsg` of at most `maximumCount` bytes with the writer's credentials
    /// (`SCM_CREDENTIALS`; needs `setPassCredentials`). With credentials passing on, the kernel never
    /// joins bytes of two writers in one call, so `sender` wrote every byte returned.
    /// Descriptors the peer passed (`SCM_RIGHTS`) are closed unread.
    public static func receive(_ socket: FileDescriptor, upToCount maximumCount: Int) throws(Errno) -> Received {
        var credentials = authd_ucred()
        var hasCredentials: Int32 = 0
        var failure: Errno?
        var endOfFile = false
        let buffer = [UInt8](unsafeUninitializedCapacity: max(maximumCount, 1)) { raw, initialized in
            initialized = 0
            switch Result(catching: { () throws(Errno) in
                try retryingInterrupts {
                    authd_receive_with_credentials(socket.rawValue, raw.baseAddress, raw.count, &credentials, &hasCredentials)
                }
            }) {
            case .success(let count):
                initialized = Int(count)
                endOfFile = count == 0
            case .failure(let error):
                failure = error
            }
        }
        if let failure {
            if failure == .wouldBlock { return .wouldBlock }
            throw failure
        }
        if endOfFile { return .endOfFile }
        return .bytes(buffer, sender: hasCredentials != 0 ? (credentials.pid, credentials.uid, credentials.gid) : nil)
    }

    /// Writes what the socket takes now of `bytes` (non-blocking `send` with `MSG_NOSIGNAL`, so a
    /// closed peer is `Errno.brokenPipe`, not a signal); 0 when its buffer is full.
    public static func sendAvailable(_ socket: FileDescriptor, _ bytes: ArraySlice<UInt8>) throws(Errno) -> Int {
        do throws(Errno) {
            return try bytes.withUnsafeBytes { raw in
                Result { () throws(Errno) in
                    try retryingInterrupts {
                        Glibc.send(socket.rawValue, raw.baseAddress, raw.count, Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT))
                    }
                }
            }.get()
        } catch .wouldBlock {
            return 0
        }
    }

    private static func makeSocket() throws(Errno) -> FileDescriptor {
        FileDescriptor(rawValue: try retryingInterrupts {
            socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        })
    }

    private static func integerOption(_ socket: FileDescriptor, _ level: Int32, _ name: Int32) throws(Errno) -> Int32 {
        var value: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        _ = try retryingInterrupts { getsockopt(socket.rawValue, level, name, &value, &length) }
        return value
    }

    private static func socketAddress(_ path: String) throws(Errno) -> sockaddr_un {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard !bytes.isEmpty, !bytes.contains(0) else { throw .invalidArgument }
        guard bytes.count <= maximumPathLength else { throw .nameTooLong }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        return address
    }
}
