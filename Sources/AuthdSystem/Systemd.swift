// The daemon's side of systemd: readiness and watchdog notifications, socket activation, the journal.
import AuthdPosix
import CSystemd
import Glibc

/// Sends service state to systemd (the `sd_notify` protocol: one datagram to `$NOTIFY_SOCKET`).
/// Without systemd (no `NOTIFY_SOCKET`) every call is a no-op that returns false.
public struct SystemdNotifier: Sendable {
    /// Where `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID` are read: the process environment,
    /// or a test's own table (a test that called `setenv` would race every thread reading the
    /// environment in a parallel test run).
    private let environment: @Sendable (String) -> String?

    /// A notifier for this process, or one that reads `environment` instead of the process's.
    public init(environment: (@Sendable (String) -> String?)? = nil) {
        self.environment = environment ?? { CurrentProcess.environment($0) }
    }

    /// Sends raw `KEY=value` lines; returns whether a notification socket received them.
    /// The datagram goes where `sd_notify` would send it: a path, or `@name` in the abstract namespace.
    @discardableResult
    public func notify(_ state: String) throws(Errno) -> Bool {
        guard let target = environment("NOTIFY_SOCKET"), !target.isEmpty else { return false }
        var path = Array(target.utf8)
        guard path.first == UInt8(ascii: "/") || path.first == UInt8(ascii: "@") else { throw Errno(rawValue: EAFNOSUPPORT) }
        if path[0] == UInt8(ascii: "@") { path[0] = 0 }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        guard path.count < MemoryLayout.size(ofValue: address.sun_path) else { throw Errno(rawValue: ENAMETOOLONG) }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: path) }
        // An abstract name's length is exact; a path's includes its terminating NUL.
        let length = socklen_t(MemoryLayout<sa_family_t>.size + path.count + (path[0] == 0 ? 0 : 1))
        let socket = Glibc.socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard socket >= 0 else { throw Errno(rawValue: errno) }
        defer { close(socket) }
        let bytes = Array(state.utf8)
        let sent = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { target in
                bytes.withUnsafeBytes { sendto(socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL), target, length) }
            }
        }
        guard sent >= 0 else { throw Errno(rawValue: errno) }
        return true
    }

    /// `READY=1` with an optional `STATUS=` line: start-up is complete.
    @discardableResult
    public func ready(status: String? = nil) throws(Errno) -> Bool {
        try notify("READY=1" + (status.map { "\nSTATUS=" + Self.oneLine($0) } ?? ""))
    }

    /// `STATUS=`: a one-line, human-readable state shown by `systemctl status`.
    @discardableResult
    public func status(_ text: String) throws(Errno) -> Bool {
        try notify("STATUS=" + Self.oneLine(text))
    }

    /// `WATCHDOG=1`: still alive. Send at half of `watchdogInterval` or more often.
    @discardableResult
    public func watchdog() throws(Errno) -> Bool {
        try notify("WATCHDOG=1")
    }

    /// `RELOADING=1` with `MONOTONIC_USEC=` (required by `Type=notify-reload`): a reload has begun;
    /// send `ready()` when it is done.
    @discardableResult
    public func reloading() throws(Errno) -> Bool {
        try notify("RELOADING=1\nMONOTONIC_USEC=\(SystemClock.monotonicNanoseconds() / 1000)")
    }

    /// `STOPPING=1`: shutdown has begun.
    @discardableResult
    public func stopping() throws(Errno) -> Bool {
        try notify("STOPPING=1")
    }

    /// The watchdog timeout systemd set for this process, or nil when none: `sd_watchdog_enabled`'s
    /// rule (`WATCHDOG_USEC` above zero, and `WATCHDOG_PID`, when set, naming this process).
    public var watchdogInterval: Duration? {
        guard let text = environment("WATCHDOG_USEC"), let microseconds = UInt64(text), microseconds > 0 else { return nil }
        if let pid = environment("WATCHDOG_PID"), Int32(pid) != CurrentProcess.processID { return nil }
        return .microseconds(Int64(clamping: microseconds))
    }

    // A newline would start another KEY=value assignment.
    private static func oneLine(_ text: String) -> String {
        String(text.map { $0.isNewline ? " " : $0 })
    }
}

/// One socket passed by systemd socket activation.
public struct ListenedSocket: Sendable, Equatable {
    /// The descriptor, owned by the caller from now on (close-on-exec is set).
    public var descriptor: FileDescriptor
    /// Its `FileDescriptorName=` (`LISTEN_FDNAMES`), "unknown" when systemd gave none.
    public var name: String
}

/// Sockets handed over by systemd (`LISTEN_FDS`, `LISTEN_FDNAMES`).
public enum ListenedSockets {
    /// Takes the sockets passed to this process (`sd_listen_fds_with_names`, which ignores them
    /// unless `LISTEN_PID` is our pid) and removes the `LISTEN_*` variables so that children do
    /// not think the sockets are theirs. Empty when not socket-activated.
    public static func take() throws(Errno) -> [ListenedSocket] {
        var names: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
        let count = sd_listen_fds_with_names(1, &names)
        if count < 0 { throw Errno(rawValue: -count) }
        defer {
            if let names {
                for index in 0..<Int(count) { free(names[index]) }
                free(names)
            }
        }
        var sockets: [ListenedSocket] = []
        for index in 0..<Int(count) {
            let descriptor = FileDescriptor(rawValue: SD_LISTEN_FDS_START + Int32(index))
            // systemd passes them inheritable; a daemon that spawns nothing still should not leak them.
            try descriptor.setCloseOnExec(true)
            let name = names?[index].map { String(cString: $0) } ?? "unknown"
            sockets.append(ListenedSocket(descriptor: descriptor, name: name))
        }
        return sockets
    }
}

/// Structured records to the systemd journal (`sd_journal_sendv`).
public enum Journal {
    /// Sends one record of `FIELD=value` pairs; field names are upper-case letters, digits and
    /// underscores, not starting with `_` (the journal drops others), e.g. `MESSAGE`, `PRIORITY`.
    /// Without a journald socket the record is silently dropped: check `isUnderJournald` first.
    public static func send(_ fields: [(name: String, value: String)]) throws(Errno) {
        var entries = fields.map { Array(($0.name + "=" + $0.value).utf8) }
        defer { for index in entries.indices { SecretBytes.zero(&entries[index]) } }
        let result = withIOVectors(entries) { sd_journal_sendv($0.baseAddress, Int32($0.count)) }
        if result < 0 { throw Errno(rawValue: -result) }
    }

    /// Whether stderr is connected to journald (`JOURNAL_STREAM` names stderr's device and inode),
    /// i.e. we run under systemd and should log to the journal rather than to stderr.
    public static var isUnderJournald: Bool {
        guard let stream = CurrentProcess.environment("JOURNAL_STREAM") else { return false }
        let parts = stream.split(separator: ":")
        guard parts.count == 2, let device = UInt64(parts[0]), let inode = UInt64(parts[1]),
              let status = try? FileDescriptor.standardError.status() else { return false }
        return status.device == device && status.inode == inode
    }

    private static func withIOVectors<R>(_ entries: [[UInt8]], _ body: (UnsafeBufferPointer<iovec>) -> R) -> R {
        // Each entry's buffer must stay pinned while the iovecs point at it: recurse through the
        // arrays so every withUnsafeBytes scope is still open at the call.
        func collect(_ index: Int, _ vectors: inout [iovec]) -> R {
            if index == entries.count { return vectors.withUnsafeBufferPointer(body) }
            return entries[index].withUnsafeBytes { bytes in
                vectors.append(iovec(iov_base: UnsafeMutableRawPointer(mutating: bytes.baseAddress), iov_len: bytes.count))
                return collect(index + 1, &vectors)
            }
        }
        var vectors: [iovec] = []
        vectors.reserveCapacity(entries.count)
        return collect(0, &vectors)
    }
}

/// Why a desktop notification could not be shown.
public struct DesktopNotificationError: Error, Sendable, CustomStringConvertible {
    /// What failed, from sd-bus.
    public var description: String
}

/// Shows desktop notifications (`org.freedesktop.Notifications.Notify` on the user's session bus).
public struct DesktopNotifier: Sendable {
    /// The application name shown with each notification.
    public var applicationName: String

    /// A notifier that names itself `applicationName`.
    public init(applicationName: String = "authd") { self.applicationName = applicationName }

    /// Shows `summary` and `body` and returns the notification id. Throws when there is no user bus
    /// or no notification service; callers treat that as "nobody to tell". Runs off the task pool.
    public func notify(summary: String, body: String, timeoutMilliseconds: Int32 = -1) async throws -> UInt32 {
        let applicationName = applicationName
        return try await DedicatedThread.run {
            Result { try Self.call(applicationName, summary, body, timeoutMilliseconds) }
        }.get()
    }

    private static func call(_ application: String, _ summary: String, _ body: String, _ timeout: Int32) throws -> UInt32 {
        func check(_ result: Int32, _ what: String) throws {
            if result < 0 { throw DesktopNotificationError(description: "\(what): \(Errno(rawValue: -result))") }
        }
        var bus: OpaquePointer?
        try check(sd_bus_open_user(&bus), "cannot open the user bus")
        defer { sd_bus_flush_close_unref(bus) }
        var message: OpaquePointer?
        try check(sd_bus_message_new_method_call(
            bus, &message, "org.freedesktop.Notifications", "/org/freedesktop/Notifications",
            "org.freedesktop.Notifications", "Notify"), "cannot build the call")
        defer { sd_bus_message_unref(message) }

        func type(_ code: Character) -> CChar { CChar(bitPattern: code.asciiValue!) }
        func append(_ text: String) throws { try check(sd_bus_message_append_basic(message, type("s"), text), "append") }
        var replacesID: UInt32 = 0
        var expiry = timeout
        // Notify(app_name s, replaces_id u, app_icon s, summary s, body s, actions as, hints a{sv}, expire_timeout i)
        try append(application)
        try check(sd_bus_message_append_basic(message, type("u"), &replacesID), "append")
        try append("dialog-password")
        try append(summary)
        try append(body)
        try check(sd_bus_message_open_container(message, type("a"), "s"), "append")
        try check(sd_bus_message_close_container(message), "append")
        try check(sd_bus_message_open_container(message, type("a"), "{sv}"), "append")
        try check(sd_bus_message_close_container(message), "append")
        try check(sd_bus_message_append_basic(message, type("i"), &expiry), "append")

        var error = sd_bus_error()
        defer { sd_bus_error_free(&error) }
        var reply: OpaquePointer?
        let result = sd_bus_call(bus, message, 5_000_000, &error, &reply)
        defer { sd_bus_message_unref(reply) }
        if result < 0 {
            let name = error.name.map { String(cString: $0) } ?? "\(Errno(rawValue: -result))"
            throw DesktopNotificationError(description: "notification service: \(name)")
        }
        var identifier: UInt32 = 0
        _ = sd_bus_message_read_basic(reply, type("u"), &identifier)
        return identifier
    }
}

/// One journal entry read back: its wall-clock time and its fields, in the journal's order.
public struct JournalEntry: Sendable {
    /// `__REALTIME_TIMESTAMP`: microseconds since the Unix epoch.
    public var realtimeMicroseconds: UInt64
    public var fields: [(name: String, value: String)]

    public func value(_ name: String) -> String? { fields.first { $0.name == name }?.value }
}

extension Journal {
    /// The newest `limit` entries (oldest first) of the journals this process may read on this
    /// machine that carry every `FIELD=value` in `matches`, none older than `sinceMicroseconds`.
    /// Fields whose value is not UTF-8 text are skipped. `directory`: the journal files there instead
    /// (tests write one with systemd-journal-remote).
    public static func read(matches: [String], sinceMicroseconds: UInt64?, limit: Int,
                            directory: String? = nil) throws(Errno) -> [JournalEntry] {
        var handle: OpaquePointer?
        let opened = directory.map { sd_journal_open_directory(&handle, $0, 0) } ?? sd_journal_open(&handle, Int32(SD_JOURNAL_LOCAL_ONLY))
        guard opened >= 0, let journal = handle else { throw Errno(rawValue: -opened) }
        defer { sd_journal_close(journal) }
        for match in matches {
            let added = Array(match.utf8).withUnsafeBytes { sd_journal_add_match(journal, $0.baseAddress, $0.count) }
            if added < 0 { throw Errno(rawValue: -added) }
        }
        let sought = sd_journal_seek_tail(journal)
        if sought < 0 { throw Errno(rawValue: -sought) }
        var newestFirst: [JournalEntry] = []
        while newestFirst.count < limit {
            let stepped = sd_journal_previous(journal)
            if stepped < 0 { throw Errno(rawValue: -stepped) }
            if stepped == 0 { break }
            var realtime: UInt64 = 0
            if sd_journal_get_realtime_usec(journal, &realtime) < 0 { continue }
            if let sinceMicroseconds, realtime < sinceMicroseconds { break }
            var fields: [(name: String, value: String)] = []
            sd_journal_restart_data(journal)
            var data: UnsafeRawPointer?
            var length = 0
            while sd_journal_enumerate_data(journal, &data, &length) > 0 {
                guard let data else { continue }
                let bytes = UnsafeRawBufferPointer(start: data, count: length)
                guard let equals = bytes.firstIndex(of: UInt8(ascii: "=")),
                      let name = String(validating: bytes[..<equals], as: UTF8.self),
                      let value = String(validating: bytes[(equals + 1)...], as: UTF8.self) else { continue }
                fields.append((name, value))
            }
            newestFirst.append(JournalEntry(realtimeMicroseconds: realtime, fields: fields))
        }
        return newestFirst.reversed()
    }
}
