// Obtains the listening socket: systemd's (socket activation) or our own, bound safely at the contract path.
import AuthdPosix
import AuthdSystem

public struct ListeningSocketError: Error, Sendable, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}

/// A listening Unix stream socket and, when we bound it ourselves, what must be cleaned up.
public final class ListeningSocket: Sendable {
    public let descriptor: FileDescriptor
    /// The path we bound and will remove on shutdown; nil for systemd's socket (systemd owns it).
    public let boundPath: String?
    public let activatedBySystemd: Bool
    private let lock: ExclusiveFileLock?

    init(descriptor: FileDescriptor, boundPath: String?, activatedBySystemd: Bool, lock: ExclusiveFileLock?) {
        self.descriptor = descriptor
        self.boundPath = boundPath
        self.activatedBySystemd = activatedBySystemd
        self.lock = lock
    }

    /// systemd's socket when `LISTEN_FDS` names one for us (`LISTEN_PID` checked by libsystemd;
    /// with `LISTEN_FDNAMES`, the one named `authd`, else the only one), otherwise a socket bound at `path`.
    public static func obtain(path: String) throws -> ListeningSocket {
        let passed = try ListenedSockets.take()
        if !passed.isEmpty {
            let chosen = passed.first { $0.name == "authd" } ?? (passed.count == 1 ? passed[0] : nil)
            guard let chosen else {
                throw ListeningSocketError("systemd passed \(passed.count) sockets and none is named \"authd\" (FileDescriptorName=authd)")
            }
            for other in passed where other.descriptor != chosen.descriptor { try? other.descriptor.close() }
            return ListeningSocket(descriptor: chosen.descriptor, boundPath: nil, activatedBySystemd: true, lock: nil)
        }
        return try bind(path: path)
    }

    /// Binds at `path`: the directory must be ours and closed to others, the socket 0600; a stale
    /// socket is removed only when nothing answers on it, and a lock keeps two daemons apart.
    static func bind(path: String) throws -> ListeningSocket {
        let directory = parent(of: path)
        if !FileSystem.exists(directory) {
            do {
                try FileSystem.makeDirectories(directory, permissions: 0o700)
            } catch {
                throw ListeningSocketError("cannot create the socket directory \(directory): \(error)")
            }
        }
        let status: FileStatus
        do {
            status = try FileSystem.status(directory, followSymbolicLinks: false)
        } catch {
            throw ListeningSocketError("cannot inspect the socket directory \(directory): \(error)")
        }
        guard status.kind == .directory else {
            throw ListeningSocketError("\(directory) is not a directory")
        }
        guard status.ownerUserID == CurrentProcess.userID else {
            throw ListeningSocketError("socket directory \(directory) belongs to uid \(status.ownerUserID), not to us; refusing to serve there")
        }
        guard !status.isAccessibleByOthers else {
            throw ListeningSocketError("socket directory \(directory) is open to other users (mode \(String(status.permissions, radix: 8))); run: chmod 700 \(directory)")
        }
        let lock: ExclusiveFileLock
        do {
            lock = try ExclusiveFileLock(path: path + ".lock")
        } catch {
            throw ListeningSocketError("another authd is already serving \(path) (lock \(path).lock is held)")
        }
        if FileSystem.exists(path) {
            if let probe = try? UnixSocket.connect(path: path, timeoutMilliseconds: 500) {
                try? probe.close()
                throw ListeningSocketError("something already answers on \(path); not replacing it")
            }
            do {
                try FileSystem.remove(path)
            } catch {
                throw ListeningSocketError("cannot remove the stale socket \(path): \(error)")
            }
        }
        do {
            let descriptor = try UnixSocket.listen(path: path, permissions: 0o600, backlog: 512)
            return ListeningSocket(descriptor: descriptor, boundPath: path, activatedBySystemd: false, lock: lock)
        } catch {
            throw ListeningSocketError("cannot listen on \(path): \(error)")
        }
    }

    /// Removes the socket file we created (never systemd's).
    public func removeBoundPath() {
        if let boundPath { try? FileSystem.remove(boundPath) }
    }

    static func parent(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }
}
