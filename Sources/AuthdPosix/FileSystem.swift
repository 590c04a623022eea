// Paths: open and create files, directories, modes, renames, directory fsync, bounded reads, links.
import CPosix
import Glibc

/// How a file is opened for reading and writing (`O_RDONLY`, `O_WRONLY`, `O_RDWR`).
public enum FileAccess: Sendable {
    case readOnly, writeOnly, readWrite

    var flag: Int32 {
        switch self {
        case .readOnly: O_RDONLY
        case .writeOnly: O_WRONLY
        case .readWrite: O_RDWR
        }
    }
}

/// Extra `open` flags. `O_CLOEXEC` is always set.
public struct FileOpenOptions: OptionSet, Sendable {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    /// `O_CREAT`
    public static let create = FileOpenOptions(rawValue: O_CREAT)
    /// `O_EXCL`: with `create`, fail with `Errno.fileExists` if the path exists.
    public static let exclusive = FileOpenOptions(rawValue: O_EXCL)
    /// `O_TRUNC`
    public static let truncate = FileOpenOptions(rawValue: O_TRUNC)
    /// `O_APPEND`
    public static let append = FileOpenOptions(rawValue: O_APPEND)
    /// `O_NOFOLLOW`: fail if the last path component is a symbolic link.
    public static let noFollow = FileOpenOptions(rawValue: O_NOFOLLOW)
    /// `O_DIRECTORY`
    public static let directory = FileOpenOptions(rawValue: O_DIRECTORY)
    /// `O_NOCTTY`
    public static let noControllingTerminal = FileOpenOptions(rawValue: O_NOCTTY)
}

extension FileDescriptor {
    /// Opens `path` (`open` with `O_CLOEXEC`); `permissions` applies when a file is created
    /// (still masked by the umask).
    public static func open(
        _ path: String, _ access: FileAccess, options: FileOpenOptions = [], permissions: UInt32 = 0o600
    ) throws(Errno) -> FileDescriptor {
        let flags = access.flag | options.rawValue | O_CLOEXEC
        return FileDescriptor(rawValue: try retryingInterrupts { Glibc.open(path, flags, mode_t(permissions)) })
    }
}

/// Operations on paths.
public enum FileSystem {
    /// Renames `source` to `destination`, atomically replacing it (`rename`).
    public static func rename(_ source: String, to destination: String) throws(Errno) {
        _ = try retryingInterrupts { Glibc.rename(source, destination) }
    }

    /// Flushes a directory's entries (a rename or create in it) to the device (`open` + `fsync`).
    public static func syncDirectory(_ path: String) throws(Errno) {
        let directory = try FileDescriptor.open(path, .readOnly, options: .directory)
        try directory.closeAfter { () throws(Errno) in try directory.sync() }
    }

    /// Creates a directory with `permissions` (`mkdir`, masked by the umask).
    public static func makeDirectory(_ path: String, permissions: UInt32 = 0o700) throws(Errno) {
        _ = try retryingInterrupts { mkdir(path, mode_t(permissions)) }
    }

    /// Creates `path` and any missing parents, each new one with `permissions`; existing ones are left as they are.
    public static func makeDirectories(_ path: String, permissions: UInt32 = 0o700) throws(Errno) {
        var prefix = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            prefix += "/" + component
            do { try makeDirectory(prefix, permissions: permissions) } catch .fileExists {}
        }
    }

    /// Sets the permission bits (`chmod`).
    public static func setPermissions(_ path: String, _ permissions: UInt32) throws(Errno) {
        _ = try retryingInterrupts { chmod(path, mode_t(permissions)) }
    }

    /// Owner, permissions and type (`stat`, or `lstat` when `followSymbolicLinks` is false).
    public static func status(_ path: String, followSymbolicLinks: Bool = true) throws(Errno) -> FileStatus {
        var raw = stat()
        _ = try retryingInterrupts { followSymbolicLinks ? stat(path, &raw) : lstat(path, &raw) }
        return FileStatus(raw)
    }

    /// Whether anything exists at `path` (without following a final symbolic link).
    public static func exists(_ path: String) -> Bool {
        (try? status(path, followSymbolicLinks: false)) != nil
    }

    /// Removes a file, socket or link (`unlink`).
    public static func remove(_ path: String) throws(Errno) {
        _ = try retryingInterrupts { unlink(path) }
    }

    /// Reads a whole file; throws `Errno.fileTooLarge` when it has more than `maximumBytes`.
    public static func readFile(_ path: String, maximumBytes: Int) throws(Errno) -> [UInt8] {
        let file = try FileDescriptor.open(path, .readOnly)
        return try file.closeAfter { () throws(Errno) -> [UInt8] in
            var contents: [UInt8] = []
            while true {
                let chunk = try file.read(upToCount: min(65_536, maximumBytes + 1 - contents.count))
                if chunk.isEmpty { return contents }
                contents += chunk
                if contents.count > maximumBytes { throw .fileTooLarge }
            }
        }
    }

    /// The target of a symbolic link (`readlink`), e.g. `/proc/PID/exe`.
    public static func readLink(_ path: String) throws(Errno) -> String {
        var buffer = [UInt8](repeating: 0, count: Int(PATH_MAX) + 1)
        let length = try buffer.withUnsafeMutableBytes { raw in
            Result { () throws(Errno) in
                try retryingInterrupts { readlink(path, raw.baseAddress!.assumingMemoryBound(to: CChar.self), raw.count) }
            }
        }.get()
        guard length < buffer.count else { throw .nameTooLong }
        return String(decoding: buffer[..<length], as: UTF8.self)
    }
}

/// An exclusive `flock` on a file, held for the life of this object: two processes (or two
/// objects in one process) cannot hold it at once.
public final class ExclusiveFileLock: Sendable {
    private let file: OwnedFileDescriptor

    /// The locked file's path.
    public let path: String

    /// Creates `path` (mode 0600) if needed and takes the lock without waiting; throws
    /// `Errno.wouldBlock` when someone else holds it.
    public init(path: String) throws(Errno) {
        let descriptor = try FileDescriptor.open(path, .readWrite, options: [.create, .noFollow], permissions: 0o600)
        do throws(Errno) {
            _ = try retryingInterrupts { flock(descriptor.rawValue, LOCK_EX | LOCK_NB) }
        } catch {
            try? descriptor.close()
            throw error
        }
        self.file = OwnedFileDescriptor(descriptor)
        self.path = path
    }
}
