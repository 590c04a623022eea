// The daemon's bounded in-memory record of recent audit events, answered by the `audit` request.
import AuthdWire
import Synchronization

/// One audit record as kept in memory: when it happened and its place in the daemon's order.
public struct RetainedAuditRecord: Sendable {
    /// Counts every record since the daemon started, so a reader can tell how many fell out of the ring.
    public var sequence: UInt64
    /// Wall-clock Unix seconds when it was recorded.
    public var wallSeconds: Int64
    public var record: AuditRecord

    /// The same members as a stderr JSON line (`AuditRecord.jsonMembers`), for the `audit` reply.
    public func json() -> JSONValue { .object(record.jsonMembers(wallClock: wallSeconds)) }
}

/// What a reader asks of the recent records: one audience (records naming no audience, such as a refused
/// foreign client, are left out then) and not older than a wall-clock time.
public struct AuditQuery: Sendable, Equatable {
    public var audience: String?
    /// Wall-clock Unix seconds; records before it are left out.
    public var sinceWall: Int64?

    public init(audience: String? = nil, sinceWall: Int64? = nil) {
        self.audience = audience
        self.sinceWall = sinceWall
    }

    /// The filter, oldest first as recorded.
    public func select(_ records: some Sequence<RetainedAuditRecord>) -> [RetainedAuditRecord] {
        records.filter { retained in
            if let audience, retained.record.audience != audience { return false }
            if let sinceWall, retained.wallSeconds < sinceWall { return false }
            return true
        }
    }
}

/// The last `capacity` audit records, oldest first. One lock owns them; recording never blocks on a reader
/// for longer than a copy of the array.
public final class AuditRing: AuditSink {
    public static let defaultCapacity = 1000

    private struct State {
        var records: [RetainedAuditRecord] = []
        /// Index of the oldest record once the ring has wrapped.
        var start = 0
        var nextSequence: UInt64 = 1
    }

    public let capacity: Int
    let clock: any DaemonClock
    private let state = Mutex(State())

    public init(capacity: Int = AuditRing.defaultCapacity, clock: any DaemonClock) {
        precondition(capacity > 0, "an audit ring needs room for one record")
        self.capacity = capacity
        self.clock = clock
    }

    public func record(_ record: AuditRecord) {
        let wall = clock.wallSeconds()
        state.withLock { s in
            let retained = RetainedAuditRecord(sequence: s.nextSequence, wallSeconds: wall, record: record)
            s.nextSequence += 1
            if s.records.count < capacity {
                s.records.append(retained)
            } else {
                s.records[s.start] = retained
                s.start = (s.start + 1) % capacity
            }
        }
    }

    /// Every retained record, oldest first, and how many older ones were dropped to stay bounded.
    public func snapshot() -> (records: [RetainedAuditRecord], dropped: UInt64) {
        state.withLock { s in
            let ordered = Array(s.records[s.start...] + s.records[..<s.start])
            return (ordered, (s.nextSequence - 1) - UInt64(s.records.count))
        }
    }

    public func records(_ query: AuditQuery) -> [RetainedAuditRecord] {
        query.select(snapshot().records)
    }
}

/// Keeps every record in the ring and also passes it on to the chosen destination (journal or stderr).
public struct RetainingAuditSink: AuditSink {
    public let ring: AuditRing
    public let next: any AuditSink

    public init(ring: AuditRing, next: any AuditSink) {
        self.ring = ring
        self.next = next
    }

    public func record(_ record: AuditRecord) {
        ring.record(record)
        next.record(record)
    }

    public func hold(_ record: AuditRecord) {
        ring.record(record)
        next.hold(record)
    }

    public func releaseHeld() { next.releaseHeld() }
}
