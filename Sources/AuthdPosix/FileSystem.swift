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
    /// `O_NONBLOCK`: opening a FIFO does not wait for a writer.
    public static let nonBlocking = FileOpenOptions(rawValue: O_NONBLOCK)
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
    /// Blocks on a FIFO: for config and secret files use `readRegularFile`.
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

/// What `FileSystem.readRegularFile` demands of a file before it reads it.
public struct RegularFileRequirements: Sendable {
    /// Files larger than this are refused (`FileReadError.Reason.tooLarge`).
    public var maximumBytes: Int
    /// False: a symbolic link as the last component is refused (`O_NOFOLLOW`).
    public var followSymbolicLinks: Bool
    /// True: the file must be owned by the current user and give group and others no
    /// permission at all (what ssh demands of a private key).
    public var privateToOwner: Bool

    public init(maximumBytes: Int, followSymbolicLinks: Bool = true, privateToOwner: Bool = false) {
        self.maximumBytes = maximumBytes
        self.followSymbolicLinks = followSymbolicLinks
        self.privateToOwner = privateToOwner
    }

    /// A config file: at most 1 MiB, links followed, any owner and mode (the caller may warn).
    public static let configFile = RegularFileRequirements(maximumBytes: 1 << 20)
    /// A file holding a secret (client secret, passphrase): at most 64 KiB, ours, mode 0600 or tighter.
    public static let secretFile = RegularFileRequirements(maximumBytes: 64 * 1024, privateToOwner: true)
}

/// A file's bytes and what `fstat` said about the descriptor they were read from.
public struct RegularFileContents: Sendable {
    /// The whole file. For a secret, move it into `SecretBytes(zeroing:)`.
    public var bytes: [UInt8]
    /// The open file's status (not the path's, which may have changed since).
    public var status: FileStatus
}

/// Why `FileSystem.readRegularFile` refused or failed; `description` says what to do.
public struct FileReadError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Reason: Sendable, Equatable {
        /// `open`, `fstat` or `read` failed.
        case system(Errno)
        /// The last component is a symbolic link and the caller asked for `O_NOFOLLOW`.
        case symbolicLink
        /// A FIFO, device, directory or socket: reading it could block or never end.
        case notRegularFile(FileStatus.Kind)
        /// More than the caller's bound.
        case tooLarge(maximumBytes: Int)
        /// Owned by another user (`privateToOwner`).
        case notOwnedByUser(ownerUserID: UInt32, userID: UInt32)
        /// Group or others have a permission bit (`privateToOwner`).
        case accessibleByOthers(permissions: UInt32)
    }

    /// The path as the caller gave it.
    public var path: String
    public var reason: Reason

    public init(path: String, reason: Reason) {
        self.path = path
        self.reason = reason
    }

    /// Whether the file simply is not there (`ENOENT`).
    public var isMissing: Bool { reason == .system(.noSuchFileOrDirectory) }

    public var description: String {
        switch reason {
        case .system(let errno):
            return errno.description
        case .symbolicLink:
            return "it is a symbolic link, which is not followed here; replace it with the file itself"
        case .notRegularFile(let kind):
            return "it is \(kind), not a regular file (reading it could block or never end); use a regular file"
        case .tooLarge(let maximumBytes):
            return "it is larger than \(maximumBytes) bytes; is it the right file?"
        case .notOwnedByUser(let owner, let user):
            return "it is owned by uid \(owner), not by uid \(user) that authd runs as, so uid \(owner) could change or read it; "
                + "use a file of your own (or, as root: chown \(user) \(FileReadError.shellQuoted(path)))"
        case .accessibleByOthers(let permissions):
            let mode = FileStatus.octal(permissions)
            let who = permissions & 0o044 != 0 ? "lets other users read it" : "gives other users access to it"
            return "its mode \(mode) \(who); run: \(FileReadError.chmodCommand(path))"
        }
    }

    /// The command that makes `path` private to its owner: `chmod 600 PATH`, quoted for a shell.
    public static func chmodCommand(_ path: String) -> String { "chmod 600 " + shellQuoted(path) }

    /// `path` as a shell word: bare when it has only safe characters, else in single quotes.
    public static func shellQuoted(_ path: String) -> String {
        let safe = path.utf8.allSatisfy { byte in
            (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
                || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || "/._-+:@%,=".utf8.contains(byte)
        }
        if safe && !path.isEmpty { return path }
        return "'" + path.replacing("'", with: "'\\''") + "'"
    }
}

extension FileSystem {
    /// Reads a config or secret file without ever blocking on it: opens it
    /// `O_RDONLY|O_NONBLOCK|O_NOCTTY|O_CLOEXEC` (plus `O_NOFOLLOW` when asked), checks the open
    /// descriptor with `fstat` (a regular file; owner and mode when `privateToOwner`), and reads
    /// at most `maximumBytes`. Checking the descriptor, not the path, leaves no window in which
    /// the file could be swapped. Growing buffers are wiped before they are freed, so a secret
    /// leaves no stray copies behind.
    public static func readRegularFile(_ path: String, _ requirements: RegularFileRequirements) throws(FileReadError) -> RegularFileContents {
        var options: FileOpenOptions = [.nonBlocking, .noControllingTerminal]
        if !requirements.followSymbolicLinks { options.insert(.noFollow) }
        let file: FileDescriptor
        do throws(Errno) {
            file = try FileDescriptor.open(path, .readOnly, options: options)
        } catch {
            throw FileReadError(path: path, reason: error.rawValue == ELOOP && !requirements.followSymbolicLinks ? .symbolicLink : .system(error))
        }
        return try file.closeAfter { () throws(FileReadError) -> RegularFileContents in
            let status: FileStatus
            do throws(Errno) { status = try file.status() } catch { throw FileReadError(path: path, reason: .system(error)) }
            guard status.kind == .regular else { throw FileReadError(path: path, reason: .notRegularFile(status.kind)) }
            if requirements.privateToOwner {
                let user = CurrentProcess.userID
                guard status.ownerUserID == user else {
                    throw FileReadError(path: path, reason: .notOwnedByUser(ownerUserID: status.ownerUserID, userID: user))
                }
                guard !status.isAccessibleByOthers else {
                    throw FileReadError(path: path, reason: .accessibleByOthers(permissions: status.permissions))
                }
            }
            guard status.size <= Int64(requirements.maximumBytes) else {
                throw FileReadError(path: path, reason: .tooLarge(maximumBytes: requirements.maximumBytes))
            }
            let bytes: [UInt8]
            do throws(Errno) {
                bytes = try file.readToEnd(expectedCount: Int(status.size), maximumBytes: requirements.maximumBytes)
            } catch .fileTooLarge {
                throw FileReadError(path: path, reason: .tooLarge(maximumBytes: requirements.maximumBytes))
            } catch {
                throw FileReadError(path: path, reason: .system(error))
            }
            return RegularFileContents(bytes: bytes, status: status)
        }
    }
}

extension FileDescriptor {
    /// Reads until end of file into one buffer sized for `expectedCount`; a buffer outgrown (the
    /// file grew) is wiped before it is freed. Throws `Errno.fileTooLarge` past `maximumBytes`.
    fileprivate func readToEnd(expectedCount: Int, maximumBytes: Int) throws(Errno) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: min(max(expectedCount, 0), maximumBytes) + 1)
        var filled = 0
        while true {
            if filled == buffer.count {
                guard buffer.count <= maximumBytes else {
                    Self.wipe(&buffer)
                    throw .fileTooLarge
                }
                var larger = [UInt8](repeating: 0, count: min(maximumBytes + 1, max(buffer.count * 2, 4096)))
                larger.withUnsafeMutableBytes { destination in
                    buffer.withUnsafeBytes { source in destination.copyMemory(from: source) }
                }
                Self.wipe(&buffer)
                buffer = larger
            }
            let start = filled
            let count = try buffer.withUnsafeMutableBytes { raw in
                Result { () throws(Errno) in
                    try retryingInterrupts { Glibc.read(rawValue, raw.baseAddress! + start, raw.count - start) }
                }
            }.get()
            if count == 0 { break }
            filled += count
        }
        // The unread tail is still zero; dropping it keeps the storage, so nothing is copied.
        buffer.removeLast(buffer.count - filled)
        return buffer
    }

    fileprivate static func wipe(_ bytes: inout [UInt8]) { Wipe.bytes(&bytes) }
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
