// Answers `audit` requests: authd's own records read back from the journal when it writes there, else the ring.
import AuthdPosix
import AuthdSystem
import AuthdWire
import Synchronization

/// Reads audit records back. The daemon reads the journal itself, not the client: authctl is a static
/// executable and Debian ships libsystemd only as a shared library, and the daemon already links it.
public final class AuditHistory: Sendable {
    public let ring: AuditRing
    private let writesToJournal = Mutex(false)
    private let readJournal: @Sendable (AuditQuery, Int) throws -> [JSONValue]

    /// `readJournal` is injected so that tests need no journald; the default reads this user's journal.
    public init(ring: AuditRing,
                readJournal: @escaping @Sendable (AuditQuery, Int) throws -> [JSONValue] = AuditHistory.readOwnJournalRecords) {
        self.ring = ring
        self.readJournal = readJournal
    }

    /// Said by the daemon whenever it picks its audit destination (start-up and reload).
    public func setWritesToJournal(_ value: Bool) { writesToJournal.withLock { $0 = value } }

    /// Records of `audience` (all when nil) from the last `sinceSeconds` (all when nil).
    public func answer(audience: String?, sinceSeconds: Int?) -> AuditAnswer {
        answer(AuditQuery(audience: audience, sinceWall: sinceSeconds.map { ring.clock.wallSeconds() - Int64($0) }))
    }

    public func answer(_ query: AuditQuery) -> AuditAnswer {
        let snapshot = ring.snapshot()
        let fromMemory = query.select(snapshot.records).map { $0.json() }
        guard writesToJournal.withLock({ $0 }) else {
            return AuditAnswer(source: .memory, records: fromMemory, dropped: snapshot.dropped)
        }
        do {
            return AuditAnswer(source: .journal, records: try readJournal(query, ring.capacity))
        } catch {
            return AuditAnswer(source: .memory, records: fromMemory, dropped: snapshot.dropped,
                               note: "could not read the journal (\(error)); these are the records kept in memory since authd started")
        }
    }

    /// authd's records of this user: every audit MESSAGE_ID, `SYSLOG_IDENTIFIER=authd`, `_UID` ours.
    @Sendable public static func readOwnJournalRecords(_ query: AuditQuery, limit: Int) throws -> [JSONValue] {
        try readJournalRecords(query, limit: limit, uid: CurrentProcess.userID)
    }

    /// authd's records of `uid` from the local journals, or from the journal files in `directory`.
    static func readJournalRecords(_ query: AuditQuery, limit: Int, uid: UInt32, directory: String? = nil) throws -> [JSONValue] {
        var matches = AuditEvent.allCases.map { "MESSAGE_ID=" + $0.messageID }
        matches += ["SYSLOG_IDENTIFIER=authd", "_UID=\(uid)"]
        if let audience = query.audience { matches.append("AUDIENCE=" + audience) }
        let since = query.sinceWall.map { UInt64(max(0, $0)) * 1_000_000 }
        let entries = try Journal.read(matches: matches, sinceMicroseconds: since, limit: limit, directory: directory)
        return entries.map { entry in
            // Trusted fields (`_PID`, `_UID`, ...) are the journal's, not the record's.
            let fields = entry.fields.filter { !$0.name.hasPrefix("_") }.map { ($0.name, $0.value) }
            return .object(AuditRecord.jsonMembers(wallClock: Int64(entry.realtimeMicroseconds / 1_000_000), journalFields: fields))
        }
    }
}
