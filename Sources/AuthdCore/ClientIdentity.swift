// Who sent a request, as the kernel says: uid, pid, executable (by path and by file identity), terminal.

/// An executable by file identity (`st_dev`, `st_ino`), which a path cannot fake: another mount
/// namespace can put a different program at an allowed path, never at an allowed inode.
public struct ExecutableFile: Sendable, Equatable {
    public var device: UInt64
    public var inode: UInt64
    /// The file was deleted while the process ran it (no links left): it matches no allowed path.
    public var isDeleted: Bool

    public init(device: UInt64, inode: UInt64, isDeleted: Bool = false) {
        self.device = device
        self.inode = inode
        self.isDeleted = isDeleted
    }
}

/// Who sent a request, from the kernel's view (never from what the client says): the process
/// that wrote the request line (`SCM_CREDENTIALS` on each message), pinned with a pidfd while
/// its executable and terminal were read.
public final class ClientIdentity: Sendable {
    public let uid: UInt32
    public let pid: Int32
    /// The sender's executable path (`readlink /proc/PID/exe`, in the sender's mount namespace),
    /// for people to read; nil when unknown. Policy uses `executableFile`.
    public let executable: String?
    /// The sender's executable by identity (`stat /proc/PID/exe`); nil when unknown.
    public let executableFile: ExecutableFile?
    /// Whether the sender has a controlling terminal, in the kernel's view; nil when it was not
    /// examined because no audience the request names requires one (`require_tty`), which the
    /// policy then treats as no terminal.
    public let hasControllingTerminal: Bool?
    /// Why the sender of the request could not be established (bytes from more than one writer,
    /// no credentials, the writer exited before it was pinned); nil when it was.
    public let unattributed: String?
    public let isDaemon: Bool
    /// The forward the request came through; nil on the main socket.
    public let forward: ForwardGrant?

    public init(uid: UInt32, pid: Int32, executable: String?, executableFile: ExecutableFile? = nil,
                hasControllingTerminal: Bool?, unattributed: String? = nil, isDaemon: Bool = false,
                forward: ForwardGrant? = nil) {
        self.forward = forward
        self.uid = uid
        self.pid = pid
        self.executable = executable
        self.executableFile = executableFile
        self.hasControllingTerminal = hasControllingTerminal
        self.unattributed = unattributed
        self.isDaemon = isDaemon
    }

    /// The daemon itself, for events no client caused (scheduled refresh).
    public static let daemon = ClientIdentity(uid: 0, pid: 0, executable: nil, hasControllingTerminal: false, isDaemon: true)
}
