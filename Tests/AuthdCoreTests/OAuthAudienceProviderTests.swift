// The daemon's provider adapter over the real engine (scripted HTTP): the device flow the agent runs is the engine's runDeviceFlow, and logout is its revoke.
@testable import AuthdCore
import AuthdConfig
import AuthdOAuth
import AuthdTestSupport
import AuthdWire
import Synchronization
import Testing

@Suite struct OAuthAudienceProviderTests {
    static let config = """
        [audience.demo]
        device_authorization_endpoint = "http://127.0.0.1:1/device"
        token_endpoint                = "http://127.0.0.1:1/token"
        revocation_endpoint           = "http://127.0.0.1:1/revoke"
        client_id = "cli"
        scopes    = ["read"]
        """

    static func provider(_ replies: [ScriptedTransport.Reply], config: String = config) throws -> (OAuthAudienceProvider, ScriptedTransport) {
        let (configuration, _) = try AuthdConfiguration.load(text: config, path: "config.toml")
        let clock = ManualClock(autoAdvance: true)
        let transport = ScriptedTransport(replies, clock: clock)
        let audience = try #require(configuration.audience(named: "demo"))
        return (OAuthAudienceProvider(audience: audience, daemon: configuration.daemon, transport: transport, clock: clock), transport)
    }

    static let deviceAnswer = ScriptedTransport.Reply.json(
        #"{"device_code":"device-code-secret","user_code":"WDJB-MJHT","verification_uri":"http://127.0.0.1:1/activate","expires_in":900,"interval":5,"message":"Enter the code"}"#)
    static let pending = ScriptedTransport.Reply.json(#"{"error":"authorization_pending"}"#, status: 400)
    static let slowDown = ScriptedTransport.Reply.json(#"{"error":"slow_down"}"#, status: 400)
    static let token = ScriptedTransport.Reply.json(
        #"{"access_token":"access-secret","token_type":"Bearer","expires_in":3600,"refresh_token":"refresh-secret","refresh_token_expires_in":86400}"#)

    @Test func aDeviceFlowIsTheEnginesPromptFirstThenProgressThenTokens() async throws {
        let (provider, transport) = try Self.provider([Self.deviceAnswer, Self.pending, Self.slowDown, Self.token])
        let events = Mutex<[DeviceFlowEvent]>([])
        let tokens = try await provider.runDeviceFlow { event in events.withLock { $0.append(event) } }
        let seen = events.withLock { $0 }
        guard case .prompt(let prompt)? = seen.first else { Issue.record("no prompt first: \(seen)"); return }
        #expect(prompt == DeviceFlowPrompt(userCode: "WDJB-MJHT", verificationURI: "http://127.0.0.1:1/activate", verificationURIComplete: nil,
                                           expiresIn: 900, expiresAtUnixSeconds: 1_800_000_900, interval: 5, message: "Enter the code"))
        #expect(seen.dropFirst() == [.slowDown(intervalSeconds: 10), .approved])
        #expect(tokens.accessToken == "access-secret")
        #expect(tokens.refreshToken == "refresh-secret")
        // The engine's wall time, counted from when the token request was sent, passed on unchanged.
        let tokenRequestSent = try #require(transport.requests.last?.sentAt)
        #expect(tokens.refreshTokenExpiresAt == 1_800_000_000 + tokenRequestSent.sinceOrigin.components.seconds + 86_400)
        #expect(transport.requests.map(\.request.url) == ["http://127.0.0.1:1/device"] + Array(repeating: "http://127.0.0.1:1/token", count: 3))
    }

    @Test func aDeviceGrantRefusalIsMarkedForTheAuthorizationCodeFallback() async throws {
        let (provider, _) = try Self.provider([.json(#"{"error":"unauthorized_client"}"#, status: 400)])
        let error = await #expect(throws: ProviderError.self) { try await provider.runDeviceFlow { _ in } }
        #expect(error?.refusesDeviceGrant == true)
    }

    @Test(arguments: [
        // the revocation endpoint's two answers, the outcome
        ([200, 200], RevocationOutcome.revoked),
        ([503, 200], .failed("revocation endpoint http://127.0.0.1:1/revoke: HTTP 503")),
        ([503, 503], .failed("revocation endpoint http://127.0.0.1:1/revoke: HTTP 503; revocation endpoint http://127.0.0.1:1/revoke: HTTP 503")),
    ] as [([Int], RevocationOutcome)])
    func logoutRevokesBothTokensThroughTheEngine(statuses: [Int], outcome: RevocationOutcome) async throws {
        let (provider, transport) = try Self.provider(statuses.map { .status($0) })
        #expect(await provider.revoke(refreshToken: "refresh-secret", accessToken: "access-secret") == outcome)
        #expect(transport.requests.map { $0.formValue("token_type_hint") } == ["refresh_token", "access_token"])
    }

    @Test func withoutARevocationEndpointNothingIsSent() async throws {
        let config = Self.config.replacingOccurrences(of: "revocation_endpoint           = \"http://127.0.0.1:1/revoke\"\n", with: "")
        let (provider, transport) = try Self.provider([], config: config)
        guard case .unsupported = await provider.revoke(refreshToken: "refresh-secret", accessToken: nil) else {
            Issue.record("not unsupported"); return
        }
        #expect(transport.requests.isEmpty)
    }
}
