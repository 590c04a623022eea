// Audit destinations: the journal under systemd, JSON lines on stderr otherwise.
import AuthdPosix
import AuthdSystem
import AuthdWire
import Synchronization

/// Sends each record to journald with its structured fields (MESSAGE_ID, AUDIENCE, ...).
public struct JournalAuditSink: AuditSink {
    public init() {}

    public func record(_ record: AuditRecord) {
        try? Journal.send(record.journalFields.map { (name: $0.0, value: $0.1) })
    }
}

/// Writes each record as one JSON line on stderr; a lock keeps lines from interleaving.
public final class StderrAuditSink: AuditSink {
    private let lock = Mutex(())
    private let clock: any DaemonClock
    /// The log file stderr points at, when the daemon keeps one itself: rotated as records add up.
    private let logFile: LogFile?

    public init(clock: any DaemonClock, logFile: LogFile? = nil) {
        self.clock = clock
        self.logFile = logFile
    }

    public func record(_ record: AuditRecord) {
        let line = record.jsonLine(wallClock: clock.wallSeconds()) + "\n"
        lock.withLock { _ in try? FileDescriptor.standardError.writeAll(line) }
        logFile?.rotateIfLarge()
    }
}

/// A sink that forwards to another chosen at start-up (and again on reload).
public final class SwitchableAuditSink: AuditSink {
    private let target: Mutex<any AuditSink>

    public init(_ initial: any AuditSink) { target = Mutex(initial) }

    public func use(_ sink: any AuditSink) { target.withLock { $0 = sink } }

    public func record(_ record: AuditRecord) {
        let sink = target.withLock { $0 }
        sink.record(record)
    }
}
