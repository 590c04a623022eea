// The in-memory audit record: bounded, oldest first, filtered by audience and time; and where `audit` reads.
@testable import AuthdCore
import AuthdTestSupport
import AuthdWire
import Foundation
import Testing

@Suite struct AuditRingTests {
    static func record(_ n: Int, audience: String? = "work") -> AuditRecord {
        AuditRecord(.tokenServed, "served \(n)", audience: audience, tokenFingerprint: String(repeating: "a", count: 16))
    }

    @Test(arguments: [(3, 5), (5, 5), (12, 5), (1, 1), (7, 1)])
    func boundedAndOrdered(written: Int, capacity: Int) {
        let ring = AuditRing(capacity: capacity, clock: ManualClock())
        for n in 1...written { ring.record(Self.record(n)) }
        let (records, dropped) = ring.snapshot()
        let kept = min(written, capacity)
        #expect(records.count == kept)
        #expect(dropped == UInt64(written - kept))
        // Oldest first, the newest last, and nothing skipped between them.
        #expect(records.map(\.record.message) == ((written - kept + 1)...written).map { "served \($0)" })
        #expect(records.map(\.sequence) == ((written - kept + 1)...written).map { UInt64($0) })
    }

    @Test(arguments: [
        // since (seconds after the base), audience, messages expected
        (nil, nil, ["served 0", "served 10", "served 20", "refused"]),
        (10, nil, ["served 10", "served 20", "refused"]),   // a record exactly at `since` is kept
        (11, nil, ["served 20", "refused"]),
        (31, nil, []),
        (nil, "work", ["served 0", "served 20"]),
        (5, "home", ["served 10"]),
        (nil, "nobody", []),
    ] as [(Int64?, String?, [String])])
    func filtered(since: Int64?, audience: String?, expected: [String]) {
        let clock = ManualClock()
        let ring = AuditRing(capacity: 10, clock: clock)
        ring.record(AuditRecord(.tokenServed, "served 0", audience: "work"))
        clock.advance(by: .seconds(10))
        ring.record(AuditRecord(.tokenServed, "served 10", audience: "home"))
        clock.advance(by: .seconds(10))
        ring.record(AuditRecord(.tokenServed, "served 20", audience: "work"))
        clock.advance(by: .seconds(10))
        // A refusal of a foreign client names no audience: only an unfiltered listing shows it.
        ring.record(AuditRecord(.clientRefused, "refused"))
        let query = AuditQuery(audience: audience, sinceWall: since.map { clock.unixSecondsAtOrigin + $0 })
        #expect(ring.records(query).map(\.record.message) == expected)
    }

    @Test func sinceSecondsCountsBackFromNow() {
        let clock = ManualClock()
        let history = AuditHistory(ring: AuditRing(capacity: 10, clock: clock), readJournal: { _, _ in [] })
        history.ring.record(Self.record(1))
        clock.advance(by: .seconds(600))
        history.ring.record(Self.record(2))
        #expect(history.answer(audience: nil, sinceSeconds: 60).records.count == 1)
        #expect(history.answer(audience: nil, sinceSeconds: 600).records.count == 2)
        #expect(history.answer(audience: nil, sinceSeconds: nil).records.count == 2)
    }

    @Test func theReplyCarriesTheStderrFieldsAndNoToken() {
        let clock = ManualClock()
        let ring = AuditRing(capacity: 4, clock: clock)
        let record = AuditRecord(.tokenServed, "work: token served", audience: "work", client: alice,
                                 scopes: ["read"], tokenFingerprint: "0123456789abcdef")
        ring.record(record)
        let json = ring.snapshot().records[0].json()
        #expect(json.serialized() == record.jsonLine(wallClock: clock.unixSecondsAtOrigin))
        #expect(json["message_id"]?.stringValue == AuditEvent.tokenServed.messageID)
        #expect(json["audit"]?.stringValue == "token_served")
        #expect(json["client_exe"]?.stringValue == "/usr/bin/authctl")
    }

    @Test func theJournalIsReadOnlyWhenAuthdWritesThere() {
        let ring = AuditRing(capacity: 4, clock: ManualClock())
        ring.record(Self.record(1))
        let fromJournal = JSONValue.object([("audit", .string("token_served")), ("message", .string("from the journal"))])
        let history = AuditHistory(ring: ring, readJournal: { _, _ in [fromJournal] })
        #expect(history.answer(AuditQuery()).source == .memory)
        history.setWritesToJournal(true)
        let answer = history.answer(AuditQuery())
        #expect(answer.source == .journal)
        #expect(answer.records.map { $0["message"]?.stringValue } == ["from the journal"])
    }

    @Test func anUnreadableJournalFallsBackToMemoryAndSaysSo() {
        struct Unreadable: Error, CustomStringConvertible { var description: String { "no journal files" } }
        let ring = AuditRing(capacity: 4, clock: ManualClock())
        ring.record(Self.record(1))
        let history = AuditHistory(ring: ring, readJournal: { _, _ in throw Unreadable() })
        history.setWritesToJournal(true)
        let answer = history.answer(AuditQuery())
        #expect(answer.source == .memory)
        #expect(answer.records.count == 1)
        #expect(answer.note?.contains("no journal files") == true)
    }

    @Test func theRetainingSinkKeepsAndForwards() {
        let ring = AuditRing(capacity: 4, clock: ManualClock())
        let next = RecordingAuditSink()
        let sink = RetainingAuditSink(ring: ring, next: next)
        sink.record(Self.record(1))
        #expect(ring.snapshot().records.count == 1)
        #expect(next.all.count == 1)
    }

    @Test func auditRequestsRoundTrip() throws {
        for request in [Request.audit(audience: nil, sinceSeconds: nil), .audit(audience: "work", sinceSeconds: 600)] {
            #expect(try Request.decode(request.line().dropLast()) == request)
        }
        #expect(throws: ProtocolFailure.self) { try Request.decode(Array(#"{"op":"audit","since":-1}"#.utf8)) }
        #expect(throws: ProtocolFailure.self) { try Request.decode(Array(#"{"op":"audit","audience":"a b"}"#.utf8)) }
    }

    /// docs/operations.md lists every event with the MESSAGE_ID that runs.
    @Test func everyEventIsDocumentedWithItsMessageID() throws {
        let docs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("docs/operations.md")
        let text = try String(contentsOf: docs, encoding: .utf8)
        for event in AuditEvent.allCases {
            #expect(text.contains("| `\(event.rawValue)` | `\(event.messageID)` |"), "\(event.rawValue) is not in docs/operations.md")
        }
    }
}
