// The audit queue: every record written once, in order, held records only after their release, and nothing lost at flush.
import AuthdCore
import AuthdPosix
import Testing

@Suite struct AuditQueueTests {
    static func record(_ n: Int) -> AuditRecord { AuditRecord(.tokenServed, "served \(n)", audience: "work") }

    @Test func recordsAreWrittenInOrderAndFlushWaitsForThem() {
        let sink = RecordingAuditSink()
        let queue = AuditQueue(writingTo: sink, capacity: 8)
        // More than the capacity: `record` waits for room rather than dropping.
        for n in 0..<100 { queue.record(Self.record(n)) }
        queue.flush()
        #expect(sink.all.map(\.message) == (0..<100).map { "served \($0)" })
    }

    @Test func heldRecordsWaitForTheirReleaseAndKeepTheirPlace() {
        let sink = RecordingAuditSink()
        let queue = AuditQueue(writingTo: sink, capacity: 64)
        queue.hold(Self.record(0))
        queue.hold(Self.record(1))
        // Not released: the writer must still be asleep. (A writer that took them anyway fails
        // here; a correct one can never be seen writing them, however slow the machine.)
        SystemClock.sleep(milliseconds: 100)
        #expect(sink.all.isEmpty)
        queue.releaseHeld()
        waitUntil { sink.all.count == 2 }
        // A plain record after held ones wakes the writer for all of them, in order.
        queue.hold(Self.record(2))
        queue.record(Self.record(3))
        waitUntil { sink.all.count == 4 }
        #expect(sink.all.map(\.message) == (0..<4).map { "served \($0)" })
    }

    @Test func aReleaseAfterTheWriterSawNothingStillWakesIt() {
        let sink = RecordingAuditSink()
        let queue = AuditQueue(writingTo: sink, capacity: 64)
        // Released with nothing pending, then held: the next release must wake the writer again.
        queue.releaseHeld()
        queue.record(Self.record(0))
        waitUntil { sink.all.count == 1 }
        for round in 1...20 {
            queue.hold(Self.record(round))
            queue.releaseHeld()
            waitUntil { sink.all.count == round + 1 }
        }
        #expect(sink.all.map(\.message) == (0...20).map { "served \($0)" })
    }

    @Test func flushWritesHeldRecords() {
        let sink = RecordingAuditSink()
        let queue = AuditQueue(writingTo: sink, capacity: 64)
        for n in 0..<10 { queue.hold(Self.record(n)) }
        queue.flush()
        #expect(sink.all.map(\.message) == (0..<10).map { "served \($0)" })
    }

    @Test func holdingPastHalfTheCapacityWakesTheWriter() {
        let sink = RecordingAuditSink()
        let queue = AuditQueue(writingTo: sink, capacity: 8)
        // Never released: a queue half full wakes the writer itself, so holding cannot fill it
        // and make a client wait for room that only a release would make.
        for n in 0..<40 { queue.hold(Self.record(n)) }
        waitUntil { sink.all.count >= 36 }
        #expect(sink.all.map(\.message) == (0..<sink.all.count).map { "served \($0)" })
        queue.flush()
        #expect(sink.all.count == 40)
    }

    /// Polls `condition` for up to 60 s (a ceiling against hangs, not a timing assertion).
    private func waitUntil(_ condition: () -> Bool) {
        for _ in 0..<6000 where !condition() { SystemClock.sleep(milliseconds: 10) }
        #expect(condition())
    }
}
