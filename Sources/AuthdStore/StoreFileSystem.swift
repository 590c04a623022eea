// The few file operations the store's load and save use, behind a protocol so tests can make them fail.
import AuthdPosix

/// File operations used to read and replace the store file. Tests substitute one that fails.
public protocol StoreFileSystem: Sendable {
    /// The whole file, or nil when it does not exist; `Errno.fileTooLarge` past `maximumBytes`.
    func readFile(_ path: String, maximumBytes: Int) throws(Errno) -> [UInt8]?
    /// Creates `path` (which must not exist) with mode 0600, writes `bytes`, fsyncs and closes it.
    func writeNewFile(_ path: String, _ bytes: [UInt8]) throws(Errno)
    /// Atomically replaces `destination` with `source`.
    func rename(_ source: String, to destination: String) throws(Errno)
    /// Makes renames and creations in `directory` durable.
    func syncDirectory(_ directory: String) throws(Errno)
    /// Removes a file; a missing file is not an error.
    func removeIfPresent(_ path: String) throws(Errno)
    /// Whether anything exists at `path`.
    func exists(_ path: String) -> Bool
}

/// The real file system.
public struct PosixStoreFileSystem: StoreFileSystem {
    /// The real file system.
    public init() {}

    public func readFile(_ path: String, maximumBytes: Int) throws(Errno) -> [UInt8]? {
        do {
            return try FileSystem.readFile(path, maximumBytes: maximumBytes)
        } catch .noSuchFileOrDirectory {
            return nil
        }
    }

    public func writeNewFile(_ path: String, _ bytes: [UInt8]) throws(Errno) {
        let file = try FileDescriptor.open(path, .writeOnly, options: [.create, .exclusive, .noFollow], permissions: 0o600)
        try file.closeAfter { () throws(Errno) in
            try file.writeAll(bytes)
            try file.sync()
        }
    }

    public func rename(_ source: String, to destination: String) throws(Errno) {
        try FileSystem.rename(source, to: destination)
    }

    public func syncDirectory(_ directory: String) throws(Errno) {
        try FileSystem.syncDirectory(directory)
    }

    public func removeIfPresent(_ path: String) throws(Errno) {
        do { try FileSystem.remove(path) } catch .noSuchFileOrDirectory {}
    }

    public func exists(_ path: String) -> Bool {
        FileSystem.exists(path)
    }
}
