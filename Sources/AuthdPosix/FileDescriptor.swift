// A file descriptor as a typed value: reading, writing, polling and descriptor flags.
import CPosix
import Glibc

/// A libc file descriptor. A plain value that does not own the descriptor: call `close()` (or use
/// `closeAfter`) when done, or wrap it in an `OwnedFileDescriptor` to tie it to an object's life.
public struct FileDescriptor: RawRepresentable, Hashable, Sendable {
    /// The raw descriptor number.
    public let rawValue: Int32

    /// Wraps a raw descriptor number without taking any other action.
    public init(rawValue: Int32) { self.rawValue = rawValue }

    /// Standard input (fd 0).
    public static let standardInput = FileDescriptor(rawValue: 0)
    /// Standard output (fd 1).
    public static let standardOutput = FileDescriptor(rawValue: 1)
    /// Standard error (fd 2).
    public static let standardError = FileDescriptor(rawValue: 2)

    /// Closes the descriptor (`close`). Not retried on `EINTR`: Linux has closed it anyway.
    public func close() throws(Errno) {
        _ = try once { Glibc.close(rawValue) }
    }

    /// Runs `body`, then closes the descriptor whether or not `body` threw.
    public func closeAfter<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
        defer { try? close() }
        return try body()
    }

    /// Reads at most `maximumCount` bytes (`read`); an empty result means end of file.
    public func read(upToCount maximumCount: Int) throws(Errno) -> [UInt8] {
        // Uninitialised capacity: zeroing a large buffer for a short answer is measurable start-up cost.
        var failure: Errno?
        let buffer = [UInt8](unsafeUninitializedCapacity: max(maximumCount, 0)) { raw, initialized in
            switch Result(catching: { () throws(Errno) in try retryingInterrupts { Glibc.read(rawValue, raw.baseAddress, raw.count) } }) {
            case .success(let count): initialized = count
            case .failure(let error): failure = error; initialized = 0
            }
        }
        if let failure { throw failure }
        return buffer
    }

    /// Reads up to `maximumCount` bytes at `offset` without moving the file position (`pread`).
    public func read(upToCount maximumCount: Int, atOffset offset: Int64) throws(Errno) -> [UInt8] {
        var failure: Errno?
        let buffer = [UInt8](unsafeUninitializedCapacity: max(maximumCount, 0)) { raw, initialized in
            switch Result(catching: { () throws(Errno) in try retryingInterrupts { Glibc.pread(rawValue, raw.baseAddress, raw.count, off_t(offset)) } }) {
            case .success(let count): initialized = count
            case .failure(let error): failure = error; initialized = 0
            }
        }
        if let failure { throw failure }
        return buffer
    }

    /// Waits until the descriptor is readable (`poll`) for at most `timeoutMilliseconds`
    /// (negative: no limit), then reads like `read(upToCount:)`. Throws `Errno.timedOut` when
    /// nothing arrived in time.
    public func read(upToCount maximumCount: Int, timeoutMilliseconds: Int) throws(Errno) -> [UInt8] {
        guard try wait(for: .readable, timeoutMilliseconds: timeoutMilliseconds) else { throw .timedOut }
        return try read(upToCount: maximumCount)
    }

    /// Writes some of `bytes` (`write`); returns how many were written.
    public func write(_ bytes: [UInt8]) throws(Errno) -> Int {
        try bytes.withUnsafeBytes { raw in
            Result { () throws(Errno) in try retryingInterrupts { Glibc.write(rawValue, raw.baseAddress, raw.count) } }
        }.get()
    }

    /// Writes all of `bytes`, looping over short writes (and waiting on a non-blocking descriptor).
    public func writeAll(_ bytes: [UInt8]) throws(Errno) {
        var offset = 0
        while offset < bytes.count {
            do {
                offset += try bytes.withUnsafeBytes { raw in
                    Result { () throws(Errno) in
                        try retryingInterrupts { Glibc.write(rawValue, raw.baseAddress! + offset, raw.count - offset) }
                    }
                }.get()
            } catch .wouldBlock {
                _ = try wait(for: .writable, timeoutMilliseconds: -1)
            }
        }
    }

    /// Writes all of a string's UTF-8 bytes.
    public func writeAll(_ text: String) throws(Errno) {
        try writeAll(Array(text.utf8))
    }

    /// What `wait(for:timeoutMilliseconds:)` waits for.
    public enum Readiness: Sendable {
        /// `POLLIN`: data, end of file or a pending connection.
        case readable
        /// `POLLOUT`
        case writable
    }

    /// Waits with `poll` until the descriptor is ready; returns false when the time ran out.
    /// Hang-up and error conditions count as ready (the next read or write reports them).
    public func wait(for readiness: Readiness, timeoutMilliseconds: Int) throws(Errno) -> Bool {
        let events = Int16(readiness == .readable ? POLLIN : POLLOUT)
        var entry = pollfd(fd: rawValue, events: events, revents: 0)
        let clampedTimeout = Int32(clamping: timeoutMilliseconds)
        // poll is retried on EINTR with the full timeout: a signal storm could stretch the
        // wait, which callers with hard deadlines tolerate (they are interactive clients).
        let ready = try retryingInterrupts { poll(&entry, 1, clampedTimeout) }
        return ready > 0
    }

    /// Sets or clears `O_NONBLOCK` (`fcntl F_SETFL`).
    public func setNonBlocking(_ on: Bool) throws(Errno) {
        let flags = try retryingInterrupts { fcntl(rawValue, F_GETFL) }
        let updated = on ? flags | O_NONBLOCK : flags & ~O_NONBLOCK
        _ = try retryingInterrupts { fcntl(rawValue, F_SETFL, updated) }
    }

    /// Sets or clears `FD_CLOEXEC` (`fcntl F_SETFD`).
    public func setCloseOnExec(_ on: Bool) throws(Errno) {
        let flags = try retryingInterrupts { fcntl(rawValue, F_GETFD) }
        let updated = on ? flags | FD_CLOEXEC : flags & ~FD_CLOEXEC
        _ = try retryingInterrupts { fcntl(rawValue, F_SETFD, updated) }
    }

    /// Whether `FD_CLOEXEC` is set.
    public func isCloseOnExec() throws(Errno) -> Bool {
        let flags = try retryingInterrupts { fcntl(rawValue, F_GETFD) }
        return flags & FD_CLOEXEC != 0
    }

    /// Flushes the file's data and metadata to the device (`fsync`).
    public func sync() throws(Errno) {
        _ = try retryingInterrupts { fsync(rawValue) }
    }

    /// Owner, permissions and type of the open file (`fstat`).
    public func status() throws(Errno) -> FileStatus {
        var raw = stat()
        _ = try retryingInterrupts { fstat(rawValue, &raw) }
        return FileStatus(raw)
    }

    /// Whether the descriptor refers to a terminal (`isatty`).
    public var isTerminal: Bool { isatty(rawValue) == 1 }

    /// The terminal's size in character cells (`ioctl TIOCGWINSZ`); nil when it reports 0x0.
    public func windowSize() throws(Errno) -> (rows: Int, columns: Int)? {
        var rows: UInt16 = 0
        var columns: UInt16 = 0
        _ = try retryingInterrupts { authd_window_size(rawValue, &rows, &columns) }
        return rows == 0 || columns == 0 ? nil : (Int(rows), Int(columns))
    }

    /// A pipe (`pipe2` with `O_CLOEXEC`): bytes written to `writeEnd` are read from `readEnd`.
    public static func pipe() throws(Errno) -> (readEnd: FileDescriptor, writeEnd: FileDescriptor) {
        var ends: [Int32] = [-1, -1]
        _ = try retryingInterrupts { pipe2(&ends, O_CLOEXEC) }
        return (FileDescriptor(rawValue: ends[0]), FileDescriptor(rawValue: ends[1]))
    }

    /// Makes `target` refer to this open file too (`dup2`), closing what `target` was.
    public func duplicate(onto target: FileDescriptor) throws(Errno) {
        _ = try retryingInterrupts { dup2(rawValue, target.rawValue) }
    }

    /// A new descriptor for the same open file, with `FD_CLOEXEC` set (`fcntl F_DUPFD_CLOEXEC`).
    public func duplicate() throws(Errno) -> FileDescriptor {
        FileDescriptor(rawValue: try retryingInterrupts { fcntl(rawValue, F_DUPFD_CLOEXEC, 0) })
    }
}

/// A descriptor closed when this object is released; for state that must not outlive its owner
/// (a lock, a pidfd, a listening socket).
public final class OwnedFileDescriptor: Sendable {
    /// The descriptor; valid for the life of this object.
    public let descriptor: FileDescriptor

    /// Takes ownership of `descriptor`.
    public init(_ descriptor: FileDescriptor) { self.descriptor = descriptor }

    deinit { try? descriptor.close() }
}

extension FileDescriptor {
    /// Waits until `first` or `second` is readable (or hung up): which ones, or nil on timeout.
    public static func waitReadable(_ first: FileDescriptor, _ second: FileDescriptor,
                                    timeoutMilliseconds: Int) -> (first: Bool, second: Bool)? {
        var entries = [pollfd(fd: first.rawValue, events: Int16(POLLIN), revents: 0),
                       pollfd(fd: second.rawValue, events: Int16(POLLIN), revents: 0)]
        let ready = poll(&entries, 2, Int32(clamping: timeoutMilliseconds))
        guard ready > 0 else { return nil }
        return (entries[0].revents != 0, entries[1].revents != 0)
    }
}
