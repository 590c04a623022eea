// The device-flow driver against a scripted provider on a manual clock: every polling rule end to end, no sleeping.

@testable import AuthdOAuth
import AuthdTestSupport
import AuthdWire
import Synchronization
import Testing

final class EventLog: Sendable {
    let events = Mutex<[DeviceFlowEvent]>([])
    func record(_ e: DeviceFlowEvent) { events.withLock { $0.append(e) } }
    var all: [DeviceFlowEvent] { events.withLock { $0 } }
}

@Suite struct DeviceFlowTests {
    @Test func approvedAfterPendingWithTheDefaultInterval() async throws {
        let (client, transport, _) = Fixture.client([
            Fixture.deviceAuthorization(interval: nil), Fixture.pending, Fixture.pending, Fixture.token,
        ])
        let log = EventLog()
        let grant = try await client.runDeviceFlow { log.record($0) }
        #expect(grant.accessToken == Secret.accessToken)
        #expect(grant.refreshToken == Secret.refreshToken)
        #expect(grant.expiresIn == 3600)
        #expect(grant.issuedAt == 1_800_000_015)
        #expect(Fixture.pollTimes(transport) == [5.2, 10.4, 15.6])
        guard case .prompt(let prompt) = log.all.first else { Issue.record("no prompt"); return }
        #expect(prompt.userCode == "WDJB-MJHT")
        #expect(prompt.verificationURI == "https://example.com/device")
        #expect(prompt.interval == 5)
        #expect(log.all.last == .approved)
        let poll = transport.requests[1]
        #expect(poll.formValue("grant_type") == "urn:ietf:params:oauth:grant-type:device_code")
        #expect(poll.formValue("device_code") == Secret.deviceCode)
        #expect(poll.formValue("client_id") == "authctl-test")
        #expect(poll.header("Accept") == "application/json")
    }

    @Test func slowDownAccumulatesAndIsReported() async throws {
        let (client, transport, _) = Fixture.client([
            Fixture.deviceAuthorization(interval: "1"), Fixture.slowDown(), Fixture.slowDown(), Fixture.pending, Fixture.token,
        ])
        let log = EventLog()
        _ = try await client.runDeviceFlow { log.record($0) }
        #expect(Fixture.pollTimes(transport) == [1.2, 7.4, 18.6, 29.8])
        #expect(log.all.contains(.slowDown(intervalSeconds: 6)))
        #expect(log.all.contains(.slowDown(intervalSeconds: 11)))
    }

    @Test func slowDownWithALargerServerInterval() async throws {
        // GitHub sends the new interval with slow_down.
        let (client, transport, _) = Fixture.client([
            Fixture.deviceAuthorization(interval: "5"),
            .form("error=slow_down&error_description=Too+many+requests&interval=20", status: 200),
            Fixture.token,
        ])
        let log = EventLog()
        _ = try await client.runDeviceFlow { log.record($0) }
        #expect(Fixture.pollTimes(transport) == [5.2, 25.4])
        #expect(log.all.contains(.slowDown(intervalSeconds: 20)))
    }

    @Test(arguments: ["access_denied", "authorization_declined"])
    func deniedEnds(code: String) async {
        let (client, transport, _) = Fixture.client([
            Fixture.deviceAuthorization(), Fixture.pending, .json(#"{"error":"\#(code)","error_description":"The user said no"}"#, status: 400),
        ])
        let error = await expectFailure { try await client.runDeviceFlow() }
        #expect(error == .denied(code: code, description: "The user said no"))
        #expect(transport.pendingReplyCount == 0)
        #expect(error?.description.contains("denied") == true)
    }

    @Test func expiredByTheProvider() async {
        let (client, _, _) = Fixture.client([Fixture.deviceAuthorization(), Fixture.pending,
                                             .json(#"{"error":"expired_token"}"#, status: 400)])
        #expect(await expectFailure { try await client.runDeviceFlow() } == .expired)
    }

    @Test func expiredByTheLocalDeadline() async {
        // expires_in 12, interval 5: polls at 5.2 and 10.4, then no poll fits before 12 s.
        let (client, transport, clock) = Fixture.client([Fixture.deviceAuthorization(interval: "5", expiresIn: "12"),
                                                         Fixture.pending, Fixture.pending, Fixture.token])
        #expect(await expectFailure { try await client.runDeviceFlow() } == .expired)
        #expect(Fixture.pollTimes(transport) == [5.2, 10.4])
        #expect(transport.pendingReplyCount == 1)
        #expect(clock.now <= .origin + .seconds(12))
    }

    @Test func serverErrorsAndNetworkFailuresAreRetriedWithoutEarlyPolls() async throws {
        let (client, transport, _) = Fixture.client([
            Fixture.deviceAuthorization(interval: "5"),
            .status(502, headers: [("Content-Type", "text/html")], body: "<html>bad gateway</html>"),
            .failure(.connectFailed("connection refused")),
            .json(#"{"error":"temporarily_unavailable"}"#, status: 503),
            Fixture.pending,
            Fixture.token,
        ])
        let log = EventLog()
        _ = try await client.runDeviceFlow { log.record($0) }
        let times = Fixture.pollTimes(transport)
        #expect(times == [5.2, 10.4, 20.6, 40.8, 46.0])
        for (a, b) in zip(times, times.dropFirst()) { #expect(b - a >= 5.2) }
        let retries = log.all.compactMap { if case .retrying(let reason, _) = $0 { return reason } else { return nil } }
        #expect(retries.count == 3)
        #expect(retries[0] == "token endpoint http://127.0.0.1:8765/token: HTTP 502")
        #expect(retries[1].contains("cannot connect"))
    }

    @Test func retriesNeverRunPastTheDeadline() async {
        let replies: [ScriptedTransport.Reply] = [Fixture.deviceAuthorization(interval: "5", expiresIn: "30")]
            + Array(repeating: .status(500), count: 10)
        let (client, transport, _) = Fixture.client(replies)
        let error = await expectFailure { try await client.runDeviceFlow() }
        let times = Fixture.pollTimes(transport)
        #expect(times == [5.2, 10.4, 20.6, 30.0])
        #expect(times.allSatisfy { $0 <= 30 })
        // The deadline passed while the server failed: the failure is more useful than "expired".
        #expect(error == .httpStatus(endpoint: OAuthEndpoint(.token, Fixture.tokenURL), status: 500))
    }

    @Test func rateLimitWithRetryAfter() async throws {
        let (client, transport, _) = Fixture.client([
            Fixture.deviceAuthorization(interval: "5"),
            .status(429, headers: [("Retry-After", "30")]),
            Fixture.token,
        ])
        let log = EventLog()
        _ = try await client.runDeviceFlow { log.record($0) }
        #expect(Fixture.pollTimes(transport) == [5.2, 35.4])
        #expect(log.all.contains(.slowDown(intervalSeconds: 10)))
    }

    @Test func errorWithHTTP200EndsTheFlowWithTheProvidersWords() async {
        let (client, _, _) = Fixture.client([
            Fixture.deviceAuthorization(),
            .form("error=incorrect_device_code&error_description=The+device_code+provided+is+not+valid.", status: 200),
        ])
        let error = await expectFailure { try await client.runDeviceFlow() }
        #expect(error == .provider(endpoint: OAuthEndpoint(.token, Fixture.tokenURL), error: "incorrect_device_code",
                                   description: "The device_code provided is not valid.", hint: nil))
    }

    @Test func deviceFlowDisabledCarriesTheSetupHint() async {
        let settings = Fixture.settings(hint: "enable Device Flow in the GitHub App's settings")
        let (client, _, _) = Fixture.client([Fixture.deviceAuthorization(), .form("error=device_flow_disabled")], settings: settings)
        let error = await expectFailure { try await client.runDeviceFlow() }
        guard case .provider(_, "device_flow_disabled", _, let hint)? = error else { Issue.record("\(String(describing: error))"); return }
        #expect(hint == "enable Device Flow in the GitHub App's settings")
        #expect(error?.description.contains("enable Device Flow") == true)
    }

    @Test func unauthorizedClientAtTheDeviceEndpointGetsTheGenericHint() async {
        let (client, _, _) = Fixture.client([.json(#"{"error":"unauthorized_client","error_description":"Client is not allowed to initiate OAuth 2.0 Device Authorization Grant"}"#, status: 400)])
        let error = await expectFailure { try await client.runDeviceFlow() }
        guard case .provider(let endpoint, "unauthorized_client", _, let hint?)? = error else { Issue.record("\(String(describing: error))"); return }
        #expect(endpoint.role == .deviceAuthorization)
        #expect(hint.contains("device authorization grant"))
    }

    @Test func cancellationStopsAWaitingFlowPromptly() async throws {
        let (client, transport, clock) = Fixture.client([Fixture.deviceAuthorization(), Fixture.pending, Fixture.token], autoAdvance: false)
        let task = Task { try await client.runDeviceFlow() }
        await clock.waitForSleepers(1)
        #expect(clock.sleeperDeadlines == [.origin + .milliseconds(5200)])
        clock.advance(by: .milliseconds(5200))
        await clock.waitForSleepers(1)  // waiting for the second poll
        task.cancel()
        let result = await task.result
        guard case .failure(let error) = result else { Issue.record("flow finished"); return }
        #expect(error as? OAuthError == .cancelled)
        #expect(Fixture.pollTimes(transport) == [5.2])
        #expect(clock.sleeperCount == 0)
    }

    @Test func cancellationDuringARequestEndsAsCancelled() async {
        let clock = ManualClock(autoAdvance: true)
        let transport = ScriptedTransport(clock: clock) { request in
            if request.url == Fixture.deviceURL {
                return HTTPResponse(status: 200, headers: [("content-type", "application/json")], body: Array(#"{"device_code":"d","user_code":"u","verification_uri":"https://e/d","expires_in":60}"#.utf8))
            }
            throw HTTPError.cancelled
        }
        let client = OAuthClient(settings: Fixture.settings(), transport: transport, clock: clock)
        #expect(await expectFailure { try await client.runDeviceFlow() } == .cancelled)
    }

    @Test func aMalformedTokenAnswerEndsTheFlow() async {
        let (client, _, _) = Fixture.client([Fixture.deviceAuthorization(), .json("{not json", status: 200)])
        let error = await expectFailure { try await client.runDeviceFlow() }
        guard case .invalidResponse(let endpoint, let reason)? = error else { Issue.record("\(String(describing: error))"); return }
        #expect(endpoint.role == .token)
        #expect(reason.contains("malformed JSON"))
    }
}
