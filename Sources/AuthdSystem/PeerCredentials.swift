// Who is on the other end of a Unix socket: kernel-recorded credentials and a pidfd-pinned process.
import AuthdPosix
import CPosix
import Glibc

/// `struct ucred` as the kernel fills it for `SO_PEERCRED`, for reading the option through a
/// generic socket-option API such as SwiftNIO's `SocketOptionProvider.unsafeGetSocketOption`.
public struct RawPeerCredentials: Sendable, Equatable {
    /// The peer's pid at connect time.
    public var pid: Int32
    /// The peer's effective uid at connect time.
    public var uid: UInt32
    /// The peer's effective gid at connect time.
    public var gid: UInt32

    /// Zeroed credentials, to be filled by `getsockopt`.
    public init(pid: Int32 = 0, uid: UInt32 = 0, gid: UInt32 = 0) {
        self.pid = pid
        self.uid = uid
        self.gid = gid
    }
}

/// Socket option numbers for peer identity; `SO_PEERPIDFD` is missing from the installed headers.
public enum PeerCredentials {
    /// `SOL_SOCKET`
    public static let socketOptionLevel: Int32 = SOL_SOCKET
    /// `SO_PEERCRED` (17): value is a `RawPeerCredentials`.
    public static let peerCredentialsOption: Int32 = AUTHD_SO_PEERCRED
    /// `SO_PEERPIDFD` (77, Linux 6.5+): value is an `Int32` pidfd the reader then owns.
    public static let peerProcessDescriptorOption: Int32 = AUTHD_SO_PEERPIDFD

    /// Reads `SO_PEERCRED` from a connected Unix socket.
    public static func read(socket: FileDescriptor) throws(Errno) -> RawPeerCredentials {
        let peer = try UnixSocket.peerCredentials(socket)
        return RawPeerCredentials(pid: peer.pid, uid: peer.uid, gid: peer.gid)
    }
}

/// A peer process pinned by a pidfd, so that questions about it (its executable, its terminal)
/// are answered about that process and not about a later one that reused its pid.
///
/// Without a pidfd (kernel before 6.5: `SO_PEERPIDFD` gives `ENOPROTOOPT`) answers come from the
/// pid alone: if the peer exits and its pid is reused between connect and the check, they describe
/// the newcomer. The window is small, the newcomer must also run as our uid to matter, and
/// `isPinned` says which case applies.
public final class PinnedProcess: Sendable {
    /// The process's pid (from `SO_PEERCRED`).
    public let processID: Int32
    /// The process's uid at connect time (from `SO_PEERCRED`).
    public let userID: UInt32
    private let processDescriptor: OwnedFileDescriptor?

    /// Whether a pidfd backs this object (see the type's note on the unpinned fallback).
    public var isPinned: Bool { processDescriptor != nil }

    /// Adopts `processDescriptor` (a pidfd, e.g. from `SO_PEERPIDFD` read through NIO; closed when
    /// this object goes) for the process `credentials` describe; nil means pid-only.
    public init(credentials: RawPeerCredentials, adoptingProcessDescriptor processDescriptor: Int32?) {
        self.processID = credentials.pid
        self.userID = credentials.uid
        self.processDescriptor = processDescriptor.map { OwnedFileDescriptor(FileDescriptor(rawValue: $0)) }
    }

    /// Pins the peer of a connected Unix socket: `SO_PEERCRED`, then `SO_PEERPIDFD` when the kernel has it.
    public static func peer(of socket: FileDescriptor) throws(Errno) -> PinnedProcess {
        let credentials = try PeerCredentials.read(socket: socket)
        do {
            let descriptor = try UnixSocket.peerProcessDescriptor(socket)
            return PinnedProcess(credentials: credentials, adoptingProcessDescriptor: descriptor.rawValue)
        } catch let error where error == .protocolOptionUnavailable || error == .operationNotSupported {
            // Only a kernel without SO_PEERPIDFD falls back to the pid. Any other failure (the
            // peer already exited: EINVAL on 6.5-6.15) must not lead to the reuse-prone path.
            return PinnedProcess(credentials: credentials, adoptingProcessDescriptor: nil)
        }
    }

    /// Pins the process `processID` now (`pidfd_open`), e.g. the writer of a message as
    /// `SCM_CREDENTIALS` named it. Throws `Errno.noSuchProcess` when it has already exited.
    /// The pid names the writer only while the writer lives: if it exited and the pid was reused
    /// between the write and this call, this pins the newcomer (see docs/security.md).
    public static func open(processID: Int32, userID: UInt32) throws(Errno) -> PinnedProcess {
        guard processID > 0 else { throw .noSuchProcess }
        let descriptor = authd_pidfd_open(processID)
        guard descriptor >= 0 else { throw Errno.current }
        return PinnedProcess(credentials: RawPeerCredentials(pid: processID, uid: userID), adoptingProcessDescriptor: descriptor)
    }

    /// The process's executable file as `stat("/proc/PID/exe")` sees it (the magic link leads to
    /// the very inode the process runs, in any mount namespace), with the path `readlink` gives
    /// (in the process's own mount namespace; for display only). Throws `Errno.noSuchProcess` if
    /// the process ended.
    public func executableFile() throws(Errno) -> (path: String?, status: FileStatus) {
        let status = try FileSystem.status("/proc/\(processID)/exe")
        let path = try? FileSystem.readLink("/proc/\(processID)/exe")
        try confirmAlive()
        return (path, status)
    }

    /// Whether the pinned process still runs (`pidfd_send_signal` with signal 0; `kill(pid, 0)` unpinned).
    public var isAlive: Bool {
        if let processDescriptor {
            return authd_pidfd_send_signal(processDescriptor.descriptor.rawValue, 0) == 0
        }
        return (try? Signal.probe.send(to: processID)) != nil
    }

    /// The absolute path of the process's executable (`/proc/PID/exe`). Throws `Errno.noSuchProcess`
    /// if the process ended, since the answer might then be about another process.
    public func executablePath() throws(Errno) -> String {
        let path = try FileSystem.readLink("/proc/\(processID)/exe")
        try confirmAlive()
        return path
    }

    /// Whether the process has a controlling terminal (`tty_nr`, field 7 of `/proc/PID/stat`).
    /// Throws `Errno.noSuchProcess` if the process ended.
    public func hasControllingTerminal() throws(Errno) -> Bool {
        let stat = try FileSystem.readFile("/proc/\(processID)/stat", maximumBytes: 4096)
        try confirmAlive()
        // Field 2 (comm) is in parentheses and may itself contain ") ", so parse after the last ')'.
        guard let close = stat.lastIndex(of: UInt8(ascii: ")")) else { throw .invalidArgument }
        let fields = stat[(close + 1)...].split(separator: UInt8(ascii: " "))
        // After comm: state(3) ppid(4) pgrp(5) session(6) tty_nr(7).
        guard fields.count > 4, let terminal = Int64(String(decoding: fields[4], as: UTF8.self)) else {
            throw .invalidArgument
        }
        return terminal != 0
    }

    // Checked after reading /proc: a pid cannot be reused while the process it named is alive, so
    // if it is alive now, what we read was about it.
    private func confirmAlive() throws(Errno) {
        guard isAlive else { throw .noSuchProcess }
    }
}
