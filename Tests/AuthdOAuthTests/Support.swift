// Shared fixtures: a client wired to a scripted transport and a manual clock, and the secrets tests search for.

@testable import AuthdOAuth
import AuthdTestSupport
import AuthdWire
import Testing

/// Secrets used by the tests; no error description may contain any of them.
enum Secret {
    static let deviceCode = "dc-SECRET-4711-devicecode"
    static let accessToken = "at-SECRET-0815-accesstoken"
    static let refreshToken = "rt-SECRET-1234-refreshtoken"
    static let rotatedRefreshToken = "rt-SECRET-9999-rotated"
    static let clientSecret = "cs-SECRET-p@ss w:rd&=/"
    static let all = [deviceCode, accessToken, refreshToken, rotatedRefreshToken, clientSecret]
}

enum Fixture {
    static let base = "http://127.0.0.1:8765"
    static let deviceURL = "\(base)/device_authorization"
    static let tokenURL = "\(base)/token"
    static let revokeURL = "\(base)/revoke"

    static func settings(
        clientSecret: String? = nil, authentication: ClientAuthentication? = nil, scopes: [String] = ["openid", "offline_access"],
        resources: [String] = [], extra: [(name: String, value: String)] = [], endpoints: EndpointSettings? = nil,
        hint: String? = nil
    ) -> OAuthClientSettings {
        OAuthClientSettings(
            clientID: "authctl-test", clientSecret: clientSecret, clientAuthentication: authentication, scopes: scopes,
            resources: resources, extraParameters: extra,
            endpoints: endpoints ?? EndpointSettings(deviceAuthorization: deviceURL, token: tokenURL, revocation: revokeURL),
            deviceFlowSetupHint: hint)
    }

    static func client(_ replies: [ScriptedTransport.Reply], settings: OAuthClientSettings = Fixture.settings(),
                       autoAdvance: Bool = true) -> (OAuthClient, ScriptedTransport, ManualClock) {
        let clock = ManualClock(autoAdvance: autoAdvance)
        let transport = ScriptedTransport(replies, clock: clock)
        return (OAuthClient(settings: settings, transport: transport, clock: clock), transport, clock)
    }

    static func deviceAuthorization(interval: String? = "5", expiresIn: String = "900", extra: String = "") -> ScriptedTransport.Reply {
        var members = [
            "\"device_code\":\"\(Secret.deviceCode)\"", "\"user_code\":\"WDJB-MJHT\"",
            "\"verification_uri\":\"https://example.com/device\"", "\"expires_in\":\(expiresIn)",
        ]
        if let interval { members.append("\"interval\":\(interval)") }
        if !extra.isEmpty { members.append(extra) }
        return .json("{" + members.joined(separator: ",") + "}")
    }

    static let pending = ScriptedTransport.Reply.json(#"{"error":"authorization_pending"}"#, status: 400)
    static func slowDown(interval: Int? = nil) -> ScriptedTransport.Reply {
        .json(interval.map { #"{"error":"slow_down","interval":\#($0)}"# } ?? #"{"error":"slow_down"}"#, status: 400)
    }
    static let token = ScriptedTransport.Reply.json(
        #"{"access_token":"\#(Secret.accessToken)","token_type":"Bearer","expires_in":3600,"refresh_token":"\#(Secret.refreshToken)","scope":"openid offline_access"}"#)

    /// Seconds since the clock's origin, rounded to milliseconds, for readable expectations.
    static func seconds(_ instant: MonotonicInstant?) -> Double {
        guard let instant else { return -1 }
        return Double(instant.sinceOrigin.milliseconds) / 1000
    }

    /// The instants (in seconds) of the requests to the token endpoint.
    static func pollTimes(_ transport: ScriptedTransport) -> [Double] {
        transport.requests.filter { $0.request.url == tokenURL }.map { seconds($0.sentAt) }
    }

    static func grant(refreshToken: String? = Secret.refreshToken, issuedAt: Int64 = 1_800_000_000, expiresIn: Int64? = 3600) -> TokenGrant {
        TokenGrant(accessToken: Secret.accessToken, refreshToken: refreshToken, scopes: ["openid", "offline_access"],
                   issuedAt: issuedAt, expiresIn: expiresIn)
    }
}

extension OAuthError {
    /// Asserts (by returning) that the description names no test secret.
    var leakedSecrets: [String] { Secret.all.filter { description.contains($0) } }
}

/// Runs an operation expected to fail and returns its error, which must be an `OAuthError`.
func expectFailure<T>(_ body: () async throws -> T) async -> OAuthError? {
    do {
        _ = try await body()
        return nil
    } catch let error as OAuthError {
        return error
    } catch {
        Issue.record("not an OAuthError: \(error)")
        return nil
    }
}
