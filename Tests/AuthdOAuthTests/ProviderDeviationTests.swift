// PROVIDERS.md "Deviations a robust client tolerates", items 1–13, each against wire answers shaped as the named provider sends them.

@testable import AuthdOAuth
import AuthdTestSupport
import AuthdWire
import Testing

/// Endpoints and answers as the providers of PROVIDERS.md send them. Tokens and codes are the
/// shared test secrets, so that every error can also be checked for leaks.
enum Providers {
    enum GitHub {
        static let device = "https://github.com/login/device/code"
        static let token = "https://github.com/login/oauth/access_token"
        static func settings(scopes: [String] = ["repo"], hint: String? = nil) -> OAuthClientSettings {
            Fixture.settings(scopes: scopes, endpoints: EndpointSettings(deviceAuthorization: device, token: token), hint: hint)
        }
        static let deviceAnswer = ScriptedTransport.Reply.json(
            #"{"device_code":"\#(Secret.deviceCode)","user_code":"WDJB-MJHT","verification_uri":"https://github.com/login/device","expires_in":899,"interval":5}"#)
        static let errorURI = "error_uri=https%3A%2F%2Fdocs.github.com%2Fdevelopers%2Fapps%2Fauthorizing-oauth-apps%23error-codes-for-the-device-flow"
        /// GitHub's errors: form-encoded, HTTP 200.
        static func error(_ code: String, _ description: String, extra: String = "") -> ScriptedTransport.Reply {
            .form(FormURLEncoding.encode([("error", code), ("error_description", description)]) + "&\(errorURI)\(extra)")
        }
        static let pending = error("authorization_pending", "The authorization request is still pending.")
    }

    enum Google {
        static let device = "https://oauth2.googleapis.com/device/code"
        static let token = "https://oauth2.googleapis.com/token"
        static let revoke = "https://oauth2.googleapis.com/revoke"
        /// A "TVs and limited input" client: the secret goes in the body.
        static let settings = Fixture.settings(clientSecret: Secret.clientSecret, authentication: .clientSecretPost, scopes: ["openid", "email"],
                                               endpoints: EndpointSettings(deviceAuthorization: device, token: token, revocation: revoke))
        /// Google says "pending" with HTTP 428.
        static let pending = ScriptedTransport.Reply.json(#"{"error":"authorization_pending","error_description":"Precondition Required"}"#, status: 428)
    }

    enum Entra {
        static let tenant = "9188040d-6c67-4c5b-b112-36a304b66dad"
        static let issuer = "https://login.microsoftonline.com/\(tenant)/v2.0"
        static let device = "https://login.microsoftonline.com/\(tenant)/oauth2/v2.0/devicecode"
        static let token = "https://login.microsoftonline.com/\(tenant)/oauth2/v2.0/token"
        static let v1Device = "https://login.microsoftonline.com/common/oauth2/devicecode"
        static let v1Token = "https://login.microsoftonline.com/common/oauth2/token"
        static func settings(clientSecret: String? = nil, authentication: ClientAuthentication? = nil, issuer: String? = nil,
                             device: String = Entra.device, token: String = Entra.token) -> OAuthClientSettings {
            Fixture.settings(clientSecret: clientSecret, authentication: authentication, scopes: ["openid", "offline_access"],
                             endpoints: EndpointSettings(issuer: issuer, deviceAuthorization: device, token: token))
        }
        static let message = "To sign in, use a web browser to open the page https://microsoft.com/devicelogin and enter the code DJ7RGSUYA to authenticate."
        static let deviceAnswer = ScriptedTransport.Reply.json(
            #"{"user_code":"DJ7RGSUYA","device_code":"\#(Secret.deviceCode)","verification_uri":"https://microsoft.com/devicelogin","expires_in":900,"interval":5,"message":"\#(message)"}"#)
        /// Entra's errors carry the AADSTS code in error_description, with CR LF before the trace lines.
        static func error(_ code: String, _ description: String, status: Int = 400) -> ScriptedTransport.Reply {
            let number = description.hasPrefix("AADSTS") ? String(description.dropFirst(6).prefix { $0.isNumber }) : "0"
            return .json(#"{"error":"\#(code)","error_description":"\#(description)\r\nTrace ID: 0b2b6b3c-0000-4000-8000-000000000000\r\nCorrelation ID: 1c3c7c4d-0000-4000-8000-000000000000\r\nTimestamp: 2026-01-01 00:00:00Z","error_codes":[\#(number)],"timestamp":"2026-01-01 00:00:00Z","trace_id":"0b2b6b3c-0000-4000-8000-000000000000","correlation_id":"1c3c7c4d-0000-4000-8000-000000000000"}"#,
                         status: status)
        }
        static let pending = error("authorization_pending", "AADSTS70016: OAuth 2.0 device flow error. Authorization is pending. Continue polling.")
    }

    enum GitLab {
        static let issuer = "https://gitlab.example.com"
        static let device = "https://gitlab.example.com/oauth/authorize_device"
        static let token = "https://gitlab.example.com/oauth/token"
        /// GitLab's OpenID configuration: complete but for device_authorization_endpoint.
        static let metadata = ScriptedTransport.Reply.json(
            #"{"issuer":"https://gitlab.example.com","authorization_endpoint":"https://gitlab.example.com/oauth/authorize","token_endpoint":"https://gitlab.example.com/oauth/token","revocation_endpoint":"https://gitlab.example.com/oauth/revoke","introspection_endpoint":"https://gitlab.example.com/oauth/introspect","userinfo_endpoint":"https://gitlab.example.com/oauth/userinfo","jwks_uri":"https://gitlab.example.com/oauth/discovery/keys","scopes_supported":["api","read_repository","write_repository","openid"],"response_types_supported":["code"],"grant_types_supported":["authorization_code","password","client_credentials","device_code","refresh_token"],"token_endpoint_auth_methods_supported":["client_secret_basic","client_secret_post"]}"#)
        static let deviceAnswer = ScriptedTransport.Reply.json(
            #"{"device_code":"\#(Secret.deviceCode)","user_code":"0A44L90H","verification_uri":"https://gitlab.example.com/oauth/device","verification_uri_complete":"https://gitlab.example.com/oauth/device?user_code=0A44L90H","expires_in":300,"interval":5}"#)
    }

    enum Keycloak {
        static let device = "https://sso.example.com/realms/dev/protocol/openid-connect/auth/device"
        static let token = "https://sso.example.com/realms/dev/protocol/openid-connect/token"
        static func deviceAnswer(expiresIn: Int = 600) -> ScriptedTransport.Reply {
            .json(#"{"device_code":"\#(Secret.deviceCode)","user_code":"LKVX-QBWD","verification_uri":"https://sso.example.com/realms/dev/device","verification_uri_complete":"https://sso.example.com/realms/dev/device?user_code=LKVX-QBWD","expires_in":\#(expiresIn),"interval":5}"#)
        }
        static let pending = ScriptedTransport.Reply.json(#"{"error":"authorization_pending","error_description":"The authorization request is still pending"}"#, status: 400)
    }

    enum Auth0 {
        static let device = "https://tenant.eu.auth0.com/oauth/device/code"
        static let token = "https://tenant.eu.auth0.com/oauth/token"
        static let deviceAnswer = ScriptedTransport.Reply.json(
            #"{"device_code":"\#(Secret.deviceCode)","user_code":"FBQG-RHKN","verification_uri":"https://tenant.eu.auth0.com/activate","expires_in":900,"interval":5,"verification_uri_complete":"https://tenant.eu.auth0.com/activate?user_code=FBQG-RHKN"}"#)
    }

    /// Instants (in seconds) of the requests sent to `url`.
    static func times(_ transport: ScriptedTransport, to url: String) -> [Double] {
        transport.requests.filter { $0.request.url == url }.map { Fixture.seconds($0.sentAt) }
    }

    /// The prompt a flow reported.
    static func prompt(_ log: EventLog) -> DeviceFlowPrompt? {
        for event in log.all { if case .prompt(let prompt) = event { return prompt } }
        return nil
    }
}

@Suite struct ProviderDeviationTests {
    typealias GitHub = Providers.GitHub
    typealias Google = Providers.Google
    typealias Entra = Providers.Entra
    typealias GitLab = Providers.GitLab
    typealias Keycloak = Providers.Keycloak
    typealias Auth0 = Providers.Auth0

    @Test("Deviation 1: form-encoded answer decoded by Content-Type")
    func formEncodedAnswerDecodedByContentType() async throws {
        // GitHub answers form-encoded wherever the Accept header does not reach it (older GHES, proxies).
        func form(_ body: String) -> ScriptedTransport.Reply {
            .response(HTTPResponse(status: 200, headers: [("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")], body: Array(body.utf8)))
        }
        let (client, transport, _) = Fixture.client([
            form("device_code=\(Secret.deviceCode)&expires_in=899&interval=5&user_code=WDJB-MJHT&verification_uri=https%3A%2F%2Fgithub.com%2Flogin%2Fdevice"),
            form("error=authorization_pending&error_description=The+authorization+request+is+still+pending.&\(GitHub.errorURI)"),
            form("access_token=\(Secret.accessToken)&scope=repo&token_type=bearer"),
        ], settings: GitHub.settings())
        let log = EventLog()
        let grant = try await client.runDeviceFlow { log.record($0) }
        #expect(Providers.prompt(log)?.verificationURI == "https://github.com/login/device")
        #expect(Providers.prompt(log)?.expiresIn == 899)
        // The form-encoded pending answer was read as pending: one more poll, one interval later.
        #expect(Providers.times(transport, to: GitHub.token) == [5.2, 10.4])
        #expect(grant.accessToken == Secret.accessToken)
        #expect(grant.tokenType == "Bearer")
        #expect(grant.scopes == ["repo"])
        #expect(transport.requests.count == 3)
        for request in transport.requests { #expect(request.header("Accept") == "application/json") }
    }

    @Test("Deviation 2: error read whatever the HTTP status; 429 with Retry-After slows polling")
    func errorReadWhateverTheStatusAnd429SlowsDown() async throws {
        let (client, transport, _) = Fixture.client([
            GitHub.deviceAnswer,
            GitHub.pending,
            .json(#"{"message":"You have exceeded a secondary rate limit. Please wait a few minutes before you try again."}"#,
                  status: 429, headers: [("Retry-After", "20")]),
            .json(#"{"error":"authorization_pending","error_description":"The authorization request is still pending."}"#, status: 200),
            .json(#"{"access_token":"\#(Secret.accessToken)","token_type":"bearer","scope":"repo"}"#),
        ], settings: GitHub.settings())
        let log = EventLog()
        let grant = try await client.runDeviceFlow { log.record($0) }
        #expect(grant.accessToken == Secret.accessToken)
        // 429 at 10.4: the interval grows to 10 s as for slow_down, and the next poll waits out Retry-After (20 s).
        #expect(Providers.times(transport, to: GitHub.token) == [5.2, 10.4, 30.6, 40.8])
        #expect(log.all.contains(.slowDown(intervalSeconds: 10)))

        // GitHub's "the person cancelled" is HTTP 200 too, and ends the flow as a denial, not as a token answer.
        let (denied, deniedTransport, _) = Fixture.client([
            GitHub.deviceAnswer, GitHub.error("access_denied", "The authorization request was denied."), GitHub.pending,
        ], settings: GitHub.settings())
        let error = await expectFailure { try await denied.runDeviceFlow() }
        #expect(error == .denied(code: "access_denied", description: "The authorization request was denied."))
        #expect(deniedTransport.pendingReplyCount == 1)
    }

    @Test("Deviation 3: Google's verification_url is the verification URI")
    func googleVerificationURLAlias() async throws {
        let (client, transport, _) = Fixture.client([
            .json(#"{"device_code":"\#(Secret.deviceCode)","user_code":"GQVQ-JKEC","verification_url":"https://www.google.com/device","expires_in":1800,"interval":5}"#),
            Google.pending,
            .json(#"{"access_token":"\#(Secret.accessToken)","expires_in":3599,"refresh_token":"\#(Secret.refreshToken)","scope":"openid https://www.googleapis.com/auth/userinfo.email","token_type":"Bearer"}"#),
        ], settings: Google.settings)
        let log = EventLog()
        let grant = try await client.runDeviceFlow { log.record($0) }
        let prompt = try #require(Providers.prompt(log))
        #expect(prompt.verificationURI == "https://www.google.com/device")
        #expect(prompt.verificationURIComplete == nil)
        #expect(prompt.userCode == "GQVQ-JKEC")
        // HTTP 428 with authorization_pending kept the flow polling.
        #expect(Providers.times(transport, to: Google.token) == [5.2, 10.4])
        #expect(grant.scopes == ["openid", "https://www.googleapis.com/auth/userinfo.email"])
    }

    @Test("Deviation 4: Entra v1 numbers sent as strings drive the schedule and the lifetimes")
    func entraV1NumbersAsStrings() async throws {
        func deviceAnswer(expiresIn: String) -> ScriptedTransport.Reply {
            .json(#"{"user_code":"DJ7RGSUYA","device_code":"\#(Secret.deviceCode)","verification_url":"https://microsoft.com/devicelogin","expires_in":"\#(expiresIn)","interval":"5","message":"\#(Entra.message)"}"#)
        }
        let settings = Entra.settings(device: Entra.v1Device, token: Entra.v1Token)
        let (client, transport, _) = Fixture.client([
            deviceAnswer(expiresIn: "900"), Entra.pending,
            .json(#"{"token_type":"Bearer","scope":"user_impersonation","expires_in":"3599","ext_expires_in":"3599","expires_on":"1800003609","not_before":"1800000010","resource":"499b84ac-1321-427f-aa17-267ca6975798","access_token":"\#(Secret.accessToken)","refresh_token":"\#(Secret.refreshToken)","foci":"1"}"#),
        ], settings: settings)
        let log = EventLog()
        let grant = try await client.runDeviceFlow { log.record($0) }
        let prompt = try #require(Providers.prompt(log))
        #expect(prompt.expiresIn == 900)
        #expect(prompt.expiresAtUnixSeconds == 1_800_000_900)
        #expect(prompt.interval == 5)
        #expect(Providers.times(transport, to: Entra.v1Token) == [5.2, 10.4])
        #expect(grant.expiresIn == 3599)
        #expect(grant.expiresAt == Int64(1_800_000_010 + 3599))

        // The string lifetime is also the local deadline: 12 s leaves room for two polls only.
        let (short, shortTransport, _) = Fixture.client([deviceAnswer(expiresIn: "12"), Entra.pending, Entra.pending, Entra.pending], settings: settings)
        #expect(await expectFailure { try await short.runDeviceFlow() } == .expired)
        #expect(Providers.times(shortTransport, to: Entra.v1Token) == [5.2, 10.4])
    }

    @Test("Deviation 5: optional fields absent and extra fields present are no error")
    func optionalAndExtraFields() async throws {
        // Entra v2: a human message, no verification_uri_complete, ext_expires_in in the token answer.
        let (entra, _, _) = Fixture.client([
            Entra.deviceAnswer,
            .json(#"{"token_type":"Bearer","scope":"openid profile offline_access","expires_in":4778,"ext_expires_in":4778,"access_token":"\#(Secret.accessToken)","refresh_token":"\#(Secret.refreshToken)"}"#),
        ], settings: Entra.settings())
        let entraLog = EventLog()
        let entraGrant = try await entra.runDeviceFlow { entraLog.record($0) }
        #expect(Providers.prompt(entraLog)?.message == Entra.message)
        #expect(Providers.prompt(entraLog)?.verificationURIComplete == nil)
        #expect(entraGrant.expiresIn == 4778)

        // A GitHub OAuth app's token never expires: no expires_in, no refresh token, served until rejected.
        let (github, _, _) = Fixture.client([GitHub.deviceAnswer, .form("access_token=\(Secret.accessToken)&scope=repo&token_type=bearer")],
                                            settings: GitHub.settings())
        let githubGrant = try await github.runDeviceFlow()
        #expect(githubGrant.expiresIn == nil)
        #expect(githubGrant.refreshToken == nil)
        #expect(githubGrant.isValid(at: githubGrant.issuedAt + 10 * 365 * 86_400, forAtLeast: 3600))

        // GitLab: verification_uri_complete is kept, created_at in the token answer is ignored.
        let (gitlab, _, _) = Fixture.client([
            GitLab.deviceAnswer,
            .json(#"{"access_token":"\#(Secret.accessToken)","token_type":"Bearer","expires_in":7200,"refresh_token":"\#(Secret.refreshToken)","scope":"read_repository write_repository","created_at":1800000005}"#),
        ], settings: Fixture.settings(scopes: ["read_repository", "write_repository"],
                                      endpoints: EndpointSettings(deviceAuthorization: GitLab.device, token: GitLab.token)))
        let gitlabLog = EventLog()
        let gitlabGrant = try await gitlab.runDeviceFlow { gitlabLog.record($0) }
        #expect(Providers.prompt(gitlabLog)?.verificationURIComplete == "https://gitlab.example.com/oauth/device?user_code=0A44L90H")
        #expect(gitlabGrant.expiresIn == 7200)
        #expect(gitlabGrant.scopes == ["read_repository", "write_repository"])
    }

    @Test("Deviation 6: slow_down sets the interval to max(current + 5 s, the server's interval)")
    func slowDownTakesTheLargerInterval() async throws {
        // GitHub sends a new interval with slow_down: 30 beats 5 + 5; a later 10 loses to 30 + 5.
        let slowDown = "Too many requests have been made in the same timeframe."
        let (github, githubTransport, _) = Fixture.client([
            GitHub.deviceAnswer,
            GitHub.error("slow_down", slowDown, extra: "&interval=30"),
            GitHub.error("slow_down", slowDown, extra: "&interval=10"),
            .form("access_token=\(Secret.accessToken)&scope=repo&token_type=bearer"),
        ], settings: GitHub.settings())
        let log = EventLog()
        _ = try await github.runDeviceFlow { log.record($0) }
        #expect(Providers.times(githubTransport, to: GitHub.token) == [5.2, 35.4, 70.6])
        #expect(log.all.filter { if case .slowDown = $0 { true } else { false } } == [.slowDown(intervalSeconds: 30), .slowDown(intervalSeconds: 35)])

        // Keycloak and GitLab send slow_down without an interval: 5 s more, for every later poll too.
        let (keycloak, keycloakTransport, _) = Fixture.client([
            Keycloak.deviceAnswer(),
            .json(#"{"error":"slow_down","error_description":"Slow down"}"#, status: 400),
            Keycloak.pending,
            .json(#"{"access_token":"\#(Secret.accessToken)","token_type":"Bearer","expires_in":300}"#),
        ], settings: Fixture.settings(endpoints: EndpointSettings(deviceAuthorization: Keycloak.device, token: Keycloak.token)))
        _ = try await keycloak.runDeviceFlow()
        // Every gap is the interval plus the 0.2 s margin for the server's own clock.
        #expect(Providers.times(keycloakTransport, to: Keycloak.token) == [5.2, 15.4, 25.6])
    }

    @Test("Deviation 7: only pending and slow_down keep polling; other errors end with the provider's words; expires_in enforced locally")
    func otherErrorsEndTheFlowAndExpiryIsLocal() async {
        let githubSettings = GitHub.settings()
        let entraSettings = Entra.settings()
        let auth0Settings = Fixture.settings(endpoints: EndpointSettings(deviceAuthorization: Auth0.device, token: Auth0.token))
        let cases: [(name: String, settings: OAuthClientSettings, replies: [ScriptedTransport.Reply], expected: OAuthError)] = [
            ("GitHub incorrect_device_code", githubSettings,
             [GitHub.deviceAnswer, GitHub.error("incorrect_device_code", "The device_code provided is not valid.")],
             .provider(endpoint: OAuthEndpoint(.token, GitHub.token), error: "incorrect_device_code",
                       description: "The device_code provided is not valid.", hint: nil)),
            ("GitHub device_flow_disabled", githubSettings,
             [GitHub.deviceAnswer, GitHub.error("device_flow_disabled", "Device Flow must be explicitly enabled for this App")],
             .provider(endpoint: OAuthEndpoint(.token, GitHub.token), error: "device_flow_disabled",
                       description: "Device Flow must be explicitly enabled for this App", hint: SetupHint.genericDeviceFlow)),
            ("GitHub incorrect_client_credentials", githubSettings,
             [GitHub.deviceAnswer, GitHub.error("incorrect_client_credentials", "The client_id and/or client_secret passed are incorrect.")],
             .provider(endpoint: OAuthEndpoint(.token, GitHub.token), error: "incorrect_client_credentials",
                       description: "The client_id and/or client_secret passed are incorrect.",
                       hint: "check client_id (and client_secret) in the config against the provider's application")),
            ("Entra bad_verification_code", entraSettings,
             [Entra.deviceAnswer, .json(#"{"error":"bad_verification_code","error_description":"The device_code sent to the /token endpoint wasn't recognized."}"#, status: 400)],
             .provider(endpoint: OAuthEndpoint(.token, Entra.token), error: "bad_verification_code",
                       description: "The device_code sent to the /token endpoint wasn't recognized.", hint: nil)),
            ("Entra authorization_declined", entraSettings,
             [Entra.deviceAnswer, .json(#"{"error":"authorization_declined","error_description":"The end user denied the authorization request."}"#, status: 400)],
             .denied(code: "authorization_declined", description: "The end user denied the authorization request.")),
            // Auth0 says expired_token once and invalid_grant after; here the expired_token answer was lost to a timeout.
            ("Auth0 invalid_grant after expiry", auth0Settings,
             [Auth0.deviceAnswer, .failure(.timedOut), .json(#"{"error":"invalid_grant","error_description":"Invalid or expired device code."}"#, status: 403)],
             .provider(endpoint: OAuthEndpoint(.token, Auth0.token), error: "invalid_grant", description: "Invalid or expired device code.", hint: nil)),
        ]
        for c in cases {
            // A pending answer queued after the terminal one must never be asked for.
            let (client, transport, _) = Fixture.client(c.replies + [Keycloak.pending], settings: c.settings)
            let error = await expectFailure { try await client.runDeviceFlow() }
            #expect(error == c.expected, "\(c.name)")
            #expect(transport.pendingReplyCount == 1, "\(c.name)")
            #expect(error?.leakedSecrets == [], "\(c.name)")
        }

        // A provider that never says expired_token: the engine stops at expires_in by itself.
        let clock = ManualClock(autoAdvance: true)
        let transport = ScriptedTransport(clock: clock) { request in
            let reply = request.url == Keycloak.device ? Keycloak.deviceAnswer(expiresIn: 30) : Keycloak.pending
            guard case .response(let response) = reply else { throw HTTPError.transport("unscripted") }
            return response
        }
        let client = OAuthClient(settings: Fixture.settings(endpoints: EndpointSettings(deviceAuthorization: Keycloak.device, token: Keycloak.token)),
                                 transport: transport, clock: clock)
        #expect(await expectFailure { try await client.runDeviceFlow() } == .expired)
        #expect(Providers.times(transport, to: Keycloak.token) == [5.2, 10.4, 15.6, 20.8, 26.0])
        #expect(clock.now <= .origin + .seconds(30))
    }

    @Test("Deviation 8: client authentication none, secret in the body, or HTTP Basic, on every endpoint; a public client sends no secret")
    func clientAuthenticationModes() async throws {
        let basic = "Basic " + Base64.encode(Array("authctl-test:cs-SECRET-p%40ss+w%3Ard%26%3D%2F".utf8))
        let cases: [(name: String, settings: OAuthClientSettings, secretInBody: Bool, basic: Bool)] = [
            ("public client (GitHub, GitLab, Entra)", Fixture.settings(), false, false),
            // Entra rejects a public client that presents a secret (AADSTS700025): a configured one stays home.
            ("public client with a secret configured", Fixture.settings(clientSecret: Secret.clientSecret, authentication: ClientAuthentication.none), false, false),
            ("secret in the body (Google)", Fixture.settings(clientSecret: Secret.clientSecret, authentication: .clientSecretPost), true, false),
            ("HTTP Basic (confidential Keycloak, Okta)", Fixture.settings(clientSecret: Secret.clientSecret), false, true),
        ]
        for c in cases {
            let (client, transport, _) = Fixture.client([
                Fixture.deviceAuthorization(), Fixture.token,
                .json(#"{"access_token":"new-access","token_type":"Bearer","expires_in":3600}"#), .status(200), .status(200),
            ], settings: c.settings)
            let grant = try await client.runDeviceFlow()
            let refreshed = try await client.refresh(grant)
            try await client.revoke(grant: refreshed.grant)
            #expect(transport.requests.map(\.request.url) == [Fixture.deviceURL, Fixture.tokenURL, Fixture.tokenURL, Fixture.revokeURL, Fixture.revokeURL],
                    "\(c.name)")
            for request in transport.requests {
                let body = String(decoding: request.request.body, as: UTF8.self)
                #expect(request.formValue("client_id") == (c.basic ? nil : "authctl-test"), "\(c.name)")
                #expect(request.formValue("client_secret") == (c.secretInBody ? Secret.clientSecret : nil), "\(c.name)")
                #expect(request.header("Authorization") == (c.basic ? basic : nil), "\(c.name)")
                if !c.secretInBody { #expect(!body.contains("cs-SECRET"), "\(c.name)") }
            }
        }
    }

    @Test("Deviation 9: GitHub's comma-separated scope and space-separated ones are both read")
    func commaAndSpaceSeparatedScopes() async throws {
        let (github, transport, _) = Fixture.client([
            GitHub.deviceAnswer, .form("access_token=\(Secret.accessToken)&scope=gist%2Crepo%2Cread%3Aorg&token_type=bearer"),
        ], settings: GitHub.settings(scopes: ["repo", "read:org", "gist"]))
        let grant = try await github.runDeviceFlow()
        // Requested the RFC 6749 way (spaces), granted the GitHub way (commas).
        #expect(transport.requests[0].formValue("scope") == "repo read:org gist")
        #expect(grant.scopes == ["gist", "repo", "read:org"])

        // Okta and Entra answer with spaces, and a refresh token only because offline_access was asked for.
        let (okta, _, _) = Fixture.client([
            .json(#"{"token_type":"Bearer","expires_in":3600,"access_token":"\#(Secret.accessToken)","scope":"openid offline_access","refresh_token":"\#(Secret.rotatedRefreshToken)"}"#),
        ])
        let refreshed = try await okta.refresh(Fixture.grant())
        #expect(refreshed.grant.scopes == ["openid", "offline_access"])
    }

    @Test("Deviation 10: refresh without refresh_token keeps the old one; refresh_token_expires_in is honoured")
    func refreshTokenKeptAndItsLifetimeHonoured() async throws {
        // A GitHub App: 8 h access tokens, single-use refresh tokens that live about 6 months.
        let (github, transport, clock) = Fixture.client([
            GitHub.deviceAnswer,
            .form("access_token=\(Secret.accessToken)&expires_in=28800&refresh_token=\(Secret.refreshToken)&refresh_token_expires_in=15897600&scope=&token_type=bearer"),
            .form("access_token=ghu-new&expires_in=28800&refresh_token=\(Secret.rotatedRefreshToken)&refresh_token_expires_in=15897600&scope=&token_type=bearer"),
        ], settings: GitHub.settings())
        let grant = try await github.runDeviceFlow()
        #expect(grant.issuedAt == 1_800_000_005)
        #expect(grant.refreshTokenExpiresAt == Int64(1_800_000_005 + 15_897_600))
        clock.advance(by: .seconds(28_000))
        let rotated = try await github.refresh(grant)
        #expect(rotated.refreshToken == .rotated)
        #expect(transport.requests.last?.formValue("refresh_token") == Secret.refreshToken)
        #expect(rotated.grant.refreshToken == Secret.rotatedRefreshToken)
        #expect(rotated.grant.refreshTokenExpiresAt == Int64(1_800_028_005 + 15_897_600))
        // Once the refresh token's own lifetime is over, no request is sent: only a new login helps.
        clock.advance(by: .seconds(15_897_600))
        let requestsBefore = transport.requests.count
        #expect(await expectFailure { try await github.refresh(rotated.grant) } == .loginNeeded(reason: "the refresh token expired"))
        #expect(transport.requests.count == requestsBefore)

        // Google's refresh answer has no refresh_token: the old one (and its expiry) stays.
        var googleGrant = Fixture.grant()
        googleGrant.refreshTokenExpiresAt = 1_900_000_000
        let (google, _, _) = Fixture.client([
            .json(#"{"access_token":"ya29-new","expires_in":3599,"scope":"openid https://www.googleapis.com/auth/userinfo.email","token_type":"Bearer"}"#),
        ], settings: Google.settings)
        let kept = try await google.refresh(googleGrant)
        #expect(kept.refreshToken == .keptPrevious)
        #expect(kept.grant.refreshToken == Secret.refreshToken)
        #expect(kept.grant.refreshTokenExpiresAt == 1_900_000_000)
        #expect(kept.grant.accessToken == "ya29-new")
    }

    @Test("Deviation 11: GitLab's discovery lacks device_authorization_endpoint; the explicit one wins, discovery fills the rest")
    func incompleteDiscoveryAndExplicitEndpoints() async throws {
        let settings = Fixture.settings(scopes: ["read_repository"],
                                        endpoints: EndpointSettings(issuer: GitLab.issuer, deviceAuthorization: GitLab.device))
        let (client, transport, _) = Fixture.client([
            .status(404, headers: [("Content-Type", "text/html")], body: "<html>Not Found</html>"),
            GitLab.metadata,
            GitLab.deviceAnswer,
            .json(#"{"error":"authorization_pending","error_description":"The authorization request is still pending."}"#, status: 400),
            .json(#"{"access_token":"\#(Secret.accessToken)","token_type":"Bearer","expires_in":7200,"refresh_token":"\#(Secret.refreshToken)","scope":"read_repository","created_at":1800000010}"#),
        ], settings: settings)
        let grant = try await client.runDeviceFlow()
        #expect(grant.accessToken == Secret.accessToken)
        #expect(transport.requests.map(\.request.url) == [
            "https://gitlab.example.com/.well-known/oauth-authorization-server",
            "https://gitlab.example.com/.well-known/openid-configuration",
            GitLab.device, GitLab.token, GitLab.token,
        ])
    }

    @Test("Deviation 12: RFC 7009 where offered (Google); none offered (Entra) means no request and a clear noEndpoint")
    func revocationWhereOffered() async throws {
        let (google, googleTransport, _) = Fixture.client([.status(200), .status(200)], settings: Google.settings)
        try await google.revoke(grant: Fixture.grant())
        #expect(googleTransport.requests.map(\.request.url) == [Google.revoke, Google.revoke])
        #expect(googleTransport.requests.map { $0.formValue("token_type_hint") } == ["refresh_token", "access_token"])

        // Entra publishes metadata without revocation_endpoint: nothing is posted anywhere.
        let entraMetadata = ScriptedTransport.Reply.json(
            #"{"issuer":"\#(Entra.issuer)","token_endpoint":"\#(Entra.token)","device_authorization_endpoint":"\#(Entra.device)","authorization_endpoint":"https://login.microsoftonline.com/\#(Entra.tenant)/oauth2/v2.0/authorize","end_session_endpoint":"https://login.microsoftonline.com/\#(Entra.tenant)/oauth2/v2.0/logout","token_endpoint_auth_methods_supported":["client_secret_post","private_key_jwt","client_secret_basic"]}"#)
        let (entra, entraTransport, _) = Fixture.client([.status(404), entraMetadata], settings: Entra.settings(issuer: Entra.issuer))
        let error = await expectFailure { try await entra.revoke(grant: Fixture.grant()) }
        guard case .noEndpoint(.revocation, let reason)? = error else { Issue.record("\(String(describing: error))"); return }
        #expect(reason.contains("does not seem to offer token revocation (RFC 7009)"))
        #expect(entraTransport.requests.allSatisfy { $0.request.method == .get })
        #expect(entraTransport.requests.count == 2)
    }

    @Test("Deviation 13: device-flow-not-enabled answers carry a setup hint naming the provider's setting")
    func setupHints() async {
        let publicClient = "enable \"Allow public client flows\" in the Entra app registration (Authentication page)"
        let keycloakHint = "enable \"OAuth 2.0 Device Authorization Grant\" in the client's Capability config in the Keycloak admin console"
        let githubHint = "enable Device Flow in the app's settings on GitHub"
        let cases: [(name: String, settings: OAuthClientSettings, replies: [ScriptedTransport.Reply], role: OAuthEndpoint.Role, code: String, hint: String)] = [
            ("Entra AADSTS7000218, invalid_client at the token endpoint", Entra.settings(),
             [Entra.deviceAnswer, Entra.error("invalid_client", "AADSTS7000218: The request body must contain the following parameter: 'client_assertion' or 'client_secret'.", status: 401)],
             .token, "invalid_client", publicClient),
            ("Entra AADSTS7000218 with unauthorized_client", Entra.settings(),
             [Entra.error("unauthorized_client", "AADSTS7000218: The request body must contain the following parameter: 'client_assertion' or 'client_secret'.")],
             .deviceAuthorization, "unauthorized_client", publicClient),
            ("Entra AADSTS700025, a public client that sent a secret",
             Entra.settings(clientSecret: Secret.clientSecret, authentication: .clientSecretPost),
             [Entra.deviceAnswer, Entra.error("invalid_client", "AADSTS700025: Client is public so neither 'client_assertion' nor 'client_secret' should be presented.", status: 401)],
             .token, "invalid_client", "this Entra app is a public client: remove client_secret from the config"),
            ("GitHub device_flow_disabled at the device endpoint", GitHub.settings(hint: githubHint),
             [GitHub.error("device_flow_disabled", "Device Flow must be explicitly enabled for this App")],
             .deviceAuthorization, "device_flow_disabled", githubHint),
            ("Keycloak unauthorized_client", Fixture.settings(endpoints: EndpointSettings(deviceAuthorization: Keycloak.device, token: Keycloak.token), hint: keycloakHint),
             [.json(#"{"error":"unauthorized_client","error_description":"Client is not allowed to initiate OAuth 2.0 Device Authorization Grant. The flow is disabled for the client."}"#, status: 400)],
             .deviceAuthorization, "unauthorized_client", keycloakHint),
        ]
        for c in cases {
            let (client, _, _) = Fixture.client(c.replies, settings: c.settings)
            let error = await expectFailure { try await client.runDeviceFlow() }
            guard case let .provider(endpoint, code, description, hint)? = error else { Issue.record("\(c.name): \(String(describing: error))"); continue }
            #expect(endpoint.role == c.role, "\(c.name)")
            #expect(code == c.code, "\(c.name)")
            #expect(hint == c.hint, "\(c.name)")
            #expect(error?.description.contains("(hint: \(c.hint))") == true, "\(c.name)")
            // The provider's words stay, on one line (Entra's CR LF become spaces).
            #expect(description.map { !$0.isEmpty && !$0.contains("\r") && !$0.contains("\n") } == true, "\(c.name)")
            #expect(error?.leakedSecrets == [], "\(c.name)")
            #expect(error?.isRetryable == false, "\(c.name)")
        }
    }
}

/// The engine changes these deviations called for, each pinned by a test that failed before.
@Suite struct ProviderDeviationFixTests {
    typealias GitHub = Providers.GitHub

    @Test("Fix (deviation 2): 429 is rate limiting, retryable, even with an OAuth error in its body")
    func tooManyRequestsWithAnErrorBodyIsRetryable() async {
        let body = ScriptedTransport.Reply.json(#"{"error":"slow_down","error_description":"Too many requests"}"#, status: 429, headers: [("Retry-After", "30")])
        let (device, _, _) = Fixture.client([body])
        let deviceError = await expectFailure { try await device.requestDeviceAuthorization(at: Fixture.deviceURL) }
        #expect(deviceError == .httpStatus(endpoint: OAuthEndpoint(.deviceAuthorization, Fixture.deviceURL), status: 429))
        #expect(deviceError?.isRetryable == true)
        let (refresh, _, _) = Fixture.client([body])
        let refreshError = await expectFailure { try await refresh.refresh(Fixture.grant()) }
        #expect(refreshError == .httpStatus(endpoint: OAuthEndpoint(.token, Fixture.tokenURL), status: 429))
        #expect(refreshError?.isRetryable == true)
        let (revoke, _, _) = Fixture.client([body])
        let revokeError = await expectFailure { try await revoke.revoke(Secret.accessToken, hint: .accessToken) }
        #expect(revokeError?.isRetryable == true)
    }

    @Test("Fix (deviation 2): revocation answered HTTP 200 with an error is no success; invalid_token is")
    func revocationErrorInHTTP200() async throws {
        let (client, _, _) = Fixture.client([
            .json(#"{"error":"invalid_client","error_description":"client authentication failed for \#(Secret.accessToken)"}"#, status: 200),
        ])
        let error = await expectFailure { try await client.revoke(Secret.accessToken, hint: .accessToken) }
        #expect(error == .provider(endpoint: OAuthEndpoint(.revocation, Fixture.revokeURL), error: "invalid_client",
                                   description: "client authentication failed for [redacted]", hint: SetupHint.forError("invalid_client", description: nil, configured: nil, duringDeviceFlow: false)))
        // RFC 7009 §2.2: a token the provider does not know is already as good as revoked.
        let (gone, _, _) = Fixture.client([.json(#"{"error":"invalid_token"}"#, status: 200), .status(200, body: "")])
        try await gone.revoke(Secret.accessToken, hint: .accessToken)
        try await gone.revoke(Secret.accessToken, hint: .accessToken)
    }

    @Test("Fix (deviation 13): unauthorized_client on a refresh names the refresh grant, not the device grant")
    func unauthorizedClientOnRefresh() async {
        let (client, _, _) = Fixture.client([
            .json(#"{"error":"unauthorized_client","error_description":"Client not allowed the refresh_token grant"}"#, status: 400),
        ], settings: Fixture.settings(hint: "enable the device grant in the admin console"))
        let error = await expectFailure { try await client.refresh(Fixture.grant()) }
        guard case .provider(_, "unauthorized_client", _, let hint?)? = error else { Issue.record("\(String(describing: error))"); return }
        #expect(hint == SetupHint.refreshGrant)
    }

    @Test("Fix (deviation 10): GitHub's bad_refresh_token means a new login, like invalid_grant")
    func gitHubBadRefreshToken() async {
        let (client, _, _) = Fixture.client([
            GitHub.error("bad_refresh_token", "The refresh token passed is incorrect or expired."),
        ], settings: GitHub.settings())
        let error = await expectFailure { try await client.refresh(Fixture.grant()) }
        #expect(error == .loginNeeded(reason: "the provider no longer accepts the refresh token (bad_refresh_token: The refresh token passed is incorrect or expired.)"))
        #expect(error?.isRetryable == false)
    }

    @Test("Fix: discovery without device_authorization_endpoint (Gitea, Forgejo, GitLab without the preset) says RFC 8628 and what to set")
    func discoveryWithoutDeviceEndpoint() async {
        // Gitea's and Forgejo's OpenID configuration: no device endpoint, and no device_code grant listed.
        let gitea = ScriptedTransport.Reply.json(
            #"{"issuer":"https://gitea.example.com/","authorization_endpoint":"https://gitea.example.com/login/oauth/authorize","token_endpoint":"https://gitea.example.com/login/oauth/access_token","jwks_uri":"https://gitea.example.com/login/oauth/keys","userinfo_endpoint":"https://gitea.example.com/login/oauth/userinfo","introspection_endpoint":"https://gitea.example.com/login/oauth/introspect","response_types_supported":["code","id_token"],"grant_types_supported":["authorization_code","refresh_token"],"scopes_supported":["openid","profile","email","groups"]}"#)
        let settings = Fixture.settings(endpoints: EndpointSettings(issuer: "https://gitea.example.com/"))
        let (client, transport, _) = Fixture.client([.status(404), gitea], settings: settings)
        let error = await expectFailure { try await client.runDeviceFlow() }
        guard case .noEndpoint(.deviceAuthorization, let reason)? = error else { Issue.record("\(String(describing: error))"); return }
        #expect(reason.contains("does not seem to offer the device authorization grant (RFC 8628)"))
        #expect(reason.contains("grant_types_supported lacks urn:ietf:params:oauth:grant-type:device_code"))
        #expect(reason.contains("device_authorization_endpoint"))
        #expect(transport.requests.allSatisfy { $0.request.method == .get })

        // GitLab lists device_code yet publishes no endpoint: no claim about the grant list, the same advice.
        let (gitlab, _, _) = Fixture.client([Providers.GitLab.metadata], settings: Fixture.settings(endpoints: EndpointSettings(issuer: Providers.GitLab.issuer)))
        let gitlabError = await expectFailure { try await gitlab.runDeviceFlow() }
        guard case .noEndpoint(.deviceAuthorization, let gitlabReason)? = gitlabError else { Issue.record("\(String(describing: gitlabError))"); return }
        #expect(!gitlabReason.contains("grant_types_supported"))
        #expect(gitlabReason.contains("(RFC 8628); if it does, set it explicitly in the config (device_authorization_endpoint)"))
    }

    @Test("Fix: an issuer without any discovery document (Bitbucket) says the same, not just HTTP 404")
    func noDiscoveryDocumentAtAll() async {
        let settings = Fixture.settings(endpoints: EndpointSettings(issuer: "https://bitbucket.org"))
        let (client, transport, _) = Fixture.client([.status(404), .status(404)], settings: settings)
        let error = await expectFailure { try await client.runDeviceFlow() }
        guard case .noEndpoint(.deviceAuthorization, let reason)? = error else { Issue.record("\(String(describing: error))"); return }
        #expect(reason.hasPrefix("https://bitbucket.org publishes no discovery metadata (https://bitbucket.org/.well-known/oauth-authorization-server answered HTTP 404)"))
        #expect(reason.contains("device authorization grant (RFC 8628)"))
        #expect(transport.requests.count == 2)
        // Refresh keeps the plain discovery error: the advice is about device flow only.
        let (refresher, _, _) = Fixture.client([.status(404), .status(404)], settings: settings)
        let refreshError = await expectFailure { try await refresher.refresh(Fixture.grant()) }
        #expect(refreshError == .httpStatus(endpoint: OAuthEndpoint(.discovery, "https://bitbucket.org/.well-known/oauth-authorization-server"), status: 404))
    }

    @Test("Fix: a device authorization endpoint answering HTTP 404 says device flow may not be supported there")
    func deviceEndpointNotFound() async {
        let url = "https://git.example.com/login/device/code"
        let settings = Fixture.settings(endpoints: EndpointSettings(deviceAuthorization: url, token: "https://git.example.com/token"))
        let replies: [ScriptedTransport.Reply] = [
            .status(404, headers: [("Content-Type", "text/html; charset=utf-8")], body: "<!DOCTYPE html><title>Page not found</title>"),
            .json(#"{"message":"Not Found","documentation_url":"https://docs.github.com/rest"}"#, status: 404),
            // A web framework's default error page, whose "error" is no OAuth error code.
            .json(#"{"timestamp":"2026-01-01T00:00:00Z","status":404,"error":"Not Found","path":"/login/device/code"}"#, status: 404),
        ]
        for reply in replies {
            let (client, _, _) = Fixture.client([reply], settings: settings)
            let error = await expectFailure { try await client.runDeviceFlow() }
            #expect(error == .httpStatus(endpoint: OAuthEndpoint(.deviceAuthorization, url), status: 404))
            #expect(error?.description == "device authorization endpoint \(url): HTTP 404: the provider may not support device flow (RFC 8628 device authorization) at this URL; check device_authorization_endpoint")
            #expect(error?.isRetryable == false)
        }
        // Other endpoints' 404s stay plain.
        #expect(OAuthError.httpStatus(endpoint: OAuthEndpoint(.token, url), status: 404).description == "token endpoint \(url): HTTP 404")
    }
}
