// libFuzzer target: provider answers as the OAuth engine decodes them, through the real code paths
// (OAuthClient with a ScriptedTransport): device authorization, a token poll, a refresh, a
// revocation and discovery metadata, plus ResponseFields.parse / DeviceAuthorization.decode /
// TokenGrant.decode / IDTokenClaims directly, and PollingSchedule fed with the poll's answer.
//
// Input: byte 0 picks the operation, byte 1 the HTTP status, byte 2 the Content-Type, byte 3 the
// Retry-After header; the rest is the body.
//
// Oracles besides "no crash, no sanitizer report": no OAuthError description contains a secret the
// request carried (device code, refresh token, client secret, access token) or a control character
// (SecretLeakTests' rule, on arbitrary answers); what a person sees of a device authorization or a
// grant (descriptions, user code, provider message) contains no control character.
@testable import AuthdOAuth
import AuthdTestSupport
import AuthdWire
import Dispatch

private enum Secret {
    static let deviceCode = "DEVICECODE-SECRET-4711"
    static let refreshToken = "REFRESH-SECRET-0815"
    static let clientSecret = "CLIENT-SECRET-2342"
    static let accessToken = "ACCESS-SECRET-1337"
}

private let statuses = [200, 400, 401, 403, 429, 500, 503, 302, 408, 404, 201, 204]
private let contentTypes: [String?] = [
    "application/json", "application/x-www-form-urlencoded", nil, "text/html", "application/json; charset=utf-8",
    "text/plain", "application/problem+json", "APPLICATION/JSON", "application/x-www-form-urlencoded; charset=utf-8",
]
private let retryAfters: [String?] = [nil, "120", "Wed, 21 Oct 2015 07:28:00 GMT", "-1", " 5 ", "99999999999999999999"]

private let issuer = "https://issuer.example.com"

private final class Box<T>: @unchecked Sendable { var value: T? }

/// Runs an async body to completion from libFuzzer's synchronous callback.
private func runBlocking<T: Sendable>(_ body: @escaping @Sendable () async -> T) -> T {
    let done = DispatchSemaphore(value: 0)
    let box = Box<T>()
    Task {
        box.value = await body()
        done.signal()
    }
    done.wait()
    return box.value!
}

private func settings(explicit: Bool) -> OAuthClientSettings {
    OAuthClientSettings(
        clientID: "fuzz-client", clientSecret: Secret.clientSecret, clientAuthentication: .clientSecretPost,
        scopes: ["openid", "offline_access"],
        endpoints: explicit
            ? EndpointSettings(issuer: issuer, deviceAuthorization: "https://issuer.example.com/device",
                               token: "https://issuer.example.com/token", revocation: "https://issuer.example.com/revoke")
            : EndpointSettings(issuer: issuer),
        deviceFlowSetupHint: nil)
}

private func check(_ text: String, _ what: String, secrets: [String], controls: Bool = true) {
    for secret in secrets where text.contains(secret) {
        fatalError("\(what) leaks a secret: \(text)")
    }
    guard controls else { return }
    precondition(!text.unicodeScalars.contains { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) },
                 "\(what) contains a control character: \(text.debugDescription)")
}

/// Every description is checked for the secrets the request carried and for control characters
/// (the three issues found earlier are fixed; see docs/fuzzing.md, "Found").
private func check(_ grant: TokenGrant, _ what: String) {
    check(grant.description, what, secrets: [])
}

private func check(_ error: OAuthError, sent secrets: [String]) {
    check(error.description, "OAuthError.description", secrets: secrets, controls: true)
    _ = error.isRetryable
}

private func grant() -> TokenGrant {
    TokenGrant(accessToken: Secret.accessToken, refreshToken: Secret.refreshToken, scopes: ["openid"],
               issuedAt: 1_800_000_000, expiresIn: 3600)
}

private func authorization(_ clock: ManualClock) -> DeviceAuthorization {
    DeviceAuthorization(deviceCode: Secret.deviceCode, userCode: "WDJB-MJHT", verificationURI: "https://issuer.example.com/device",
                        expiresIn: 900, interval: 5, requestedAt: clock.now, requestedAtUnixSeconds: clock.wallSeconds())
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOAuth(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    guard input.count >= 4 else { return 0 }
    let operation = input[0] % 6
    let status = statuses[Int(input[1]) % statuses.count]
    var headers: [(name: String, value: String)] = []
    if let type = contentTypes[Int(input[2]) % contentTypes.count] { headers.append(("Content-Type", type)) }
    if let retry = retryAfters[Int(input[3]) % retryAfters.count] { headers.append(("Retry-After", retry)) }
    let response = HTTPResponse(status: status, headers: headers, body: Array(input[4...]))

    // The synchronous decoders, whatever the operation.
    let endpoint = OAuthEndpoint(.token, "https://issuer.example.com/token")
    if case .success(let fields) = ResponseFields.parse(response) {
        _ = fields.error
        _ = fields.errorDescription
        do {
            let clock = ManualClock()
            let decoded = try DeviceAuthorization.decode(fields, endpoint: endpoint, requestedAt: clock.now, requestedAtUnixSeconds: 0)
            check(decoded.description, "DeviceAuthorization.description", secrets: [])
            if let message = decoded.prompt.message { check(message, "prompt message", secrets: []) }
            check(decoded.userCode, "user code", secrets: [])
            precondition(decoded.interval >= 1 && decoded.expiresIn > 0, "nonsense interval or lifetime accepted")
        } catch {
            check(error, sent: [])
        }
        do {
            let decoded = try TokenGrant.decode(fields, endpoint: endpoint, issuedAt: 1_800_000_000, requestedScopes: ["openid"])
            check(decoded, "TokenGrant.description")
            _ = decoded.isValid(at: 1_800_000_000, forAtLeast: 60)
            _ = decoded.expiresAt
        } catch {
            check(error, sent: [])
        }
        _ = ScopeList.parse(fields["scope"])
    }
    _ = RetryAfter.parse(response)
    if let body = String(validating: input[4...], as: UTF8.self) {
        _ = IDTokenClaims(jwt: body)
        let pairs = FormURLEncoding.decode(body)
        let again = FormURLEncoding.decode(FormURLEncoding.encode(pairs))
        precondition(again.count == pairs.count && zip(again, pairs).allSatisfy { $0 == $1 }, "form encoding round trip")
    }

    // The same answer through the engine, as the daemon meets it.
    // The secrets each request carries: only these can come back in an answer.
    let sent: [String] = switch operation {
    case 0: [Secret.clientSecret]
    case 1, 5: [Secret.deviceCode, Secret.clientSecret]
    case 2, 3: [Secret.refreshToken, Secret.accessToken, Secret.clientSecret]
    default: []
    }
    runBlocking {
        let clock = ManualClock()
        let transport = ScriptedTransport(clock: clock) { _ in response }
        let client = OAuthClient(settings: settings(explicit: operation != 4), transport: transport, clock: clock)
        do throws(OAuthError) {
            switch operation {
            case 0:
                let authorization = try await client.requestDeviceAuthorization(at: "https://issuer.example.com/device")
                check(authorization.description, "DeviceAuthorization.description", secrets: [])
            case 1, 5:
                let result = try await client.poll(tokenEndpoint: "https://issuer.example.com/token", deviceCode: Secret.deviceCode)
                if let error = result.transientError { check(error, sent: sent) }
                if let grant = result.grant { check(grant, "TokenGrant.description") }
                var schedule = PollingSchedule(authorization: authorization(clock), startedAt: clock.now)
                for _ in 0..<3 {
                    schedule.pollStarted(at: clock.now)
                    schedule.record(result.answer, at: clock.now)
                    _ = schedule.nextAction(now: clock.now)
                    clock.advance(by: .seconds(30))
                }
                precondition(schedule.interval >= .seconds(1), "polling interval below one second")
                switch result.answer {
                case let .denied(code, description), let .failed(code, description):
                    check(code, "provider error code", secrets: sent)
                    if let description { check(description, "provider error description", secrets: sent) }
                default: break
                }
            case 2:
                let refreshed = try await client.refresh(grant())
                check(refreshed.grant, "refreshed TokenGrant.description")
            case 3:
                try await client.revoke(grant: grant())
            default:
                let endpoints = try await client.resolveEndpoints(for: .deviceFlow)
                if let metadata = endpoints.metadata {
                    precondition(IssuerIdentifier.matches(issuer, metadata.issuer), "accepted metadata of another issuer")
                }
            }
        } catch {
            check(error, sent: sent)
        }
    }
    return 0
}
