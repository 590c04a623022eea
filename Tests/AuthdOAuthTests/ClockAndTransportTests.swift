// AuthdTestSupport's doubles as the engine's tests rely on them: ManualClock and ScriptedTransport.

@testable import AuthdOAuth
import AuthdTestSupport
import AuthdWire
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
