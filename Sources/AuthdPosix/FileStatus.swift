// What stat(2) says about a file: owner, permission bits, type, identity.
import Glibc

/// The parts of `struct stat` the daemon and clients check.
public struct FileStatus: Sendable, Equatable {
    /// What kind of file it is (`S_IFMT` bits).
    public enum Kind: Sendable, Equatable, CustomStringConvertible {
        case regular, directory, symbolicLink, socket, fifo, characterDevice, blockDevice, unknown

        /// The kind with an article, for messages: "a FIFO", "a directory".
        public var description: String {
            switch self {
            case .regular: "a regular file"
            case .directory: "a directory"
            case .symbolicLink: "a symbolic link"
            case .socket: "a socket"
            case .fifo: "a FIFO (named pipe)"
            case .characterDevice: "a character device"
            case .blockDevice: "a block device"
            case .unknown: "a special file"
            }
        }
    }

    /// The owner's uid (`st_uid`).
    public var ownerUserID: UInt32
    /// The permission bits (`st_mode & 0o7777`).
    public var permissions: UInt32
    /// The file type.
    public var kind: Kind
    /// Size in bytes (`st_size`).
    public var size: Int64
    /// Device number of the file system holding it (`st_dev`).
    public var device: UInt64
    /// Inode number (`st_ino`).
    public var inode: UInt64
    /// Number of hard links (`st_nlink`); 0 for a file that was deleted while open or running.
    public var linkCount: UInt64
    /// Last modification (`st_mtim`) and status change (`st_ctim`), in nanoseconds since the epoch.
    public var modifiedNanoseconds: Int64
    public var changedNanoseconds: Int64

    init(_ raw: stat) {
        ownerUserID = raw.st_uid
        permissions = raw.st_mode & 0o7777
        size = Int64(raw.st_size)
        device = UInt64(raw.st_dev)
        inode = UInt64(raw.st_ino)
        linkCount = UInt64(raw.st_nlink)
        modifiedNanoseconds = Int64(raw.st_mtim.tv_sec) * 1_000_000_000 + Int64(raw.st_mtim.tv_nsec)
        changedNanoseconds = Int64(raw.st_ctim.tv_sec) * 1_000_000_000 + Int64(raw.st_ctim.tv_nsec)
        switch raw.st_mode & S_IFMT {
        case S_IFREG: kind = .regular
        case S_IFDIR: kind = .directory
        case S_IFLNK: kind = .symbolicLink
        case S_IFSOCK: kind = .socket
        case S_IFIFO: kind = .fifo
        case S_IFCHR: kind = .characterDevice
        case S_IFBLK: kind = .blockDevice
        default: kind = .unknown
        }
    }

    /// Whether group or others have any permission bit (`0o077`).
    public var isAccessibleByOthers: Bool { permissions & 0o077 != 0 }

    /// Whether group or others may read it (`0o044`).
    public var isReadableByOthers: Bool { permissions & 0o044 != 0 }

    /// The permission bits as `chmod` writes them: `0644`.
    public var octalPermissions: String { Self.octal(permissions) }

    /// Permission bits as `chmod` writes them: `0644`.
    public static func octal(_ permissions: UInt32) -> String {
        let digits = String(permissions, radix: 8)
        return "0" + String(repeating: "0", count: max(0, 3 - digits.count)) + digits
    }
}
