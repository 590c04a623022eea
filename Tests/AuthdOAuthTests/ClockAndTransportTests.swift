// AuthdTestSupport's doubles as the engine's tests rely on them: ManualClock and ScriptedTransport.

@testable import AuthdOAuth
import AuthdTestSupport
import AuthdWire
import Synchronization
import Testing

@Suite struct ManualClockTests {
    @Test func advancingResumesDueSleepersInOrder() async throws {
        let clock = ManualClock(unixSecondsAtOrigin: 1000)
        let order = EventLog()
        let a = Task { try await clock.sleep(until: .origin + .seconds(10)); order.record(.approved) }
        let b = Task { try await clock.sleep(until: .origin + .seconds(5)); order.record(.slowDown(intervalSeconds: 5)) }
        await clock.waitForSleepers(2)
        #expect(clock.sleeperDeadlines == [.origin + .seconds(5), .origin + .seconds(10)])
        clock.advance(by: .seconds(5))
        try await b.value
        #expect(clock.sleeperCount == 1)
        #expect(clock.wallSeconds() == 1005)
        clock.advance(by: .seconds(5))
        try await a.value
        #expect(order.all == [.slowDown(intervalSeconds: 5), .approved])
    }

    @Test func pastDeadlinesReturnAtOnceAndCancellationThrows() async {
        let clock = ManualClock()
        clock.advance(by: .seconds(3))
        try? await clock.sleep(until: .origin + .seconds(1))
        let task = Task { try await clock.sleep(until: .origin + .seconds(100)) }
        await clock.waitForSleepers(1)
        task.cancel()
        await #expect(throws: CancellationError.self) { try await task.value }
        #expect(clock.sleeperCount == 0)
    }

    @Test func autoAdvanceJumpsToTheDeadline() async throws {
        let clock = ManualClock(autoAdvance: true)
        try await clock.sleep(until: .origin + .seconds(42))
        #expect(clock.now == .origin + .seconds(42))
    }

    @Test func wakeUpsCountAsSleepersRunWhenDueAndNotAfterCancel() {
        let clock = ManualClock()
        let ran = Mutex<[Int]>([])
        let early = clock.wake(at: .seconds(5)) { ran.withLock { $0.append(5) } }
        let cancelled = clock.wake(at: .seconds(7)) { ran.withLock { $0.append(7) } }
        _ = clock.wake(at: .seconds(10)) { ran.withLock { $0.append(10) } }
        #expect(clock.sleeperCount == 3)
        #expect(clock.earliestDeadline == .seconds(5))
        cancelled.cancel()
        #expect(clock.sleeperCount == 2)
        clock.advance(by: .seconds(9))
        #expect(ran.withLock { $0 } == [5])
        clock.advance(by: .seconds(1))
        #expect(ran.withLock { $0 } == [5, 10])
        #expect(clock.sleeperCount == 0)
        // Cancelling after it ran changes nothing; a deadline already passed runs at once.
        early.cancel()
        _ = clock.wake(at: .seconds(1)) { ran.withLock { $0.append(1) } }
        #expect(ran.withLock { $0 } == [5, 10, 1])
    }
}

@Suite struct ScriptedTransportTests {
    @Test func repliesInOrderThenAnErrorNamingTheRequest() async throws {
        let transport = ScriptedTransport([.json("{}"), .failure(.timedOut)])
        let first = try await transport.send(HTTPRequest(method: .get, url: "https://h/a"))
        #expect(first.status == 200)
        #expect(first.header("content-type") == "application/json")
        await #expect(throws: HTTPError.timedOut) { try await transport.send(HTTPRequest(method: .get, url: "https://h/b")) }
        await #expect(throws: HTTPError.transport("ScriptedTransport: nothing scripted for POST https://h/c")) {
            try await transport.send(HTTPRequest(method: .post, url: "https://h/c"))
        }
        #expect(transport.requests.map(\.request.url) == ["https://h/a", "https://h/b", "https://h/c"])
    }
}
