// The daemon's own log file when no journal takes its output: stdout and stderr point at it, and it is rotated at a size bound.
import AuthdPosix
import Synchronization

/// `authd --log-file PATH` (what an autostarting client passes): the daemon writes its log and
/// audit records to PATH, and when PATH reaches `limit` bytes it becomes `PATH.1` (replacing the
/// previous one) and a new PATH is begun, so the log never takes more than about twice the limit.
public final class LogFile: Sendable {
    public let path: String
    public let limit: Int64
    private let lock = Mutex(())

    public init(path: String, limit: Int64 = 1 << 20) {
        self.path = path
        self.limit = limit
    }

    /// Points stdout and stderr at the file (rotating first when it is already at the limit).
    public func open() throws(Errno) {
        try lock.withLock { _ throws(Errno) in
            if let size = try? FileSystem.status(path, followSymbolicLinks: false).size, size >= limit { try shift() }
            try reopen()
        }
    }

    /// Called after each record is written: rotates when the file reached the limit.
    public func rotateIfLarge() {
        lock.withLock { _ in
            guard let size = try? FileDescriptor.standardError.status().size, size >= limit else { return }
            try? shift()
            try? reopen()
        }
    }

    private func shift() throws(Errno) {
        try FileSystem.rename(path, to: path + ".1")
    }

    private func reopen() throws(Errno) {
        let file = try FileDescriptor.open(path, .writeOnly, options: [.create, .append, .noFollow], permissions: 0o600)
        defer { try? file.close() }
        try file.duplicate(onto: .standardOutput)
        try file.duplicate(onto: .standardError)
    }
}
