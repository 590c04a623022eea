// Audit destinations: the journal under systemd, JSON lines on stderr otherwise, and the queue that writes to them off the reply path.
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

/// Hands records to one writer thread, in order, so that a reply never waits for the journal or
/// stderr. Bounded: when `capacity` records wait, `record` waits for room (a flood slows its
/// clients; no record is dropped). `flush` returns once everything recorded before it is written;
/// the daemon calls it before it exits. Held records (`hold`) are queued in order with the rest
/// but wake the writer only at `releaseHeld`, another `record`, a half-full queue or `flush`.
public final class AuditQueue: AuditSink {
    private struct State {
        var pending: [AuditRecord] = []
        /// Records taken by the writer and not yet written.
        var writing = 0
        /// The writer may take `pending` (false while only held records wait).
        var released = false
    }

    private let state = WaitableState(State())
    private let capacity: Int
    private let destination: any AuditSink

    public init(writingTo destination: any AuditSink, capacity: Int = 1024) {
        self.destination = destination
        self.capacity = max(capacity, 1)
        DedicatedThread.start(name: "authd-audit") { [self] in writeForever() }
    }

    public func record(_ record: AuditRecord) {
        let capacity = self.capacity
        state.wait(until: { $0.pending.count + $0.writing < capacity }) {
            $0.pending.append(record)
            $0.released = true
        }
    }

    public func hold(_ record: AuditRecord) {
        let capacity = self.capacity
        let room = state.withLockQuietly { (state) -> Bool in
            guard state.pending.count + state.writing < capacity / 2 else { return false }
            state.pending.append(record)
            return true
        }
        // Half full: wake the writer now, so that holding never makes a client wait for room.
        if !room { self.record(record) }
    }

    public func releaseHeld() {
        // Quietly first: a turn that held nothing costs a lock, not a wake-up. Anything pending
        // is released with a wake-up, even if `released` is set already: a writer that saw it
        // set with nothing pending went back to sleep.
        let anyPending = state.withLockQuietly { !$0.pending.isEmpty }
        if anyPending { state.withLock { $0.released = true } }
    }

    /// Waits until every record handed in before this call has been written.
    public func flush() {
        state.withLock { $0.released = true }
        state.wait(until: { $0.pending.isEmpty && $0.writing == 0 }) { _ in }
    }

    private func writeForever() {
        while true {
            let batch = state.wait(until: { $0.released && !$0.pending.isEmpty }) { state -> [AuditRecord] in
                let batch = state.pending
                state.pending.removeAll(keepingCapacity: true)
                state.writing = batch.count
                state.released = false
                return batch
            }
            for record in batch { destination.record(record) }
            state.withLock { $0.writing = 0 }
        }
    }
}
