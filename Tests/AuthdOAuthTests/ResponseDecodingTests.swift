// Device authorization and token answers: required fields, aliases, numbers as strings, encodings, token types.

@testable import AuthdOAuth
import AuthdTestSupport
import AuthdWire
import Testing

@Suite struct DeviceAuthorizationDecodingTests {
    func authorize(_ reply: ScriptedTransport.Reply) async -> Result<DeviceAuthorization, OAuthError> {
        let (client, _, _) = Fixture.client([reply])
        do { return .success(try await client.requestDeviceAuthorization(at: Fixture.deviceURL)) } catch { return .failure(error) }
    }

    func reason(_ result: Result<DeviceAuthorization, OAuthError>) -> String? {
        if case .failure(.invalidResponse(_, let reason)) = result { return reason }
        return nil
    }

    @Test func numbersAsStringsAndTheVerificationURLAlias() async throws {
        // Entra v1 / Google style.
        let result = await authorize(.json(#"{"device_code":"d","user_code":"ABCD","verification_url":"https://microsoft.com/devicelogin","expires_in":"900","interval":"5","message":"To sign in, use a web browser\u001b[31m"}"#))
        let auth = try result.get()
        #expect(auth.verificationURI == "https://microsoft.com/devicelogin")
        #expect(auth.expiresIn == 900)
        #expect(auth.interval == 5)
        #expect(auth.message == "To sign in, use a web browser [31m")
        #expect(auth.verificationURIComplete == nil)
        #expect(auth.expiresAtUnixSeconds == 1_800_000_900)
    }

    @Test func intervalDefaultsToFiveAndCompleteURIIsKept() async throws {
        let auth = try await authorize(.json(#"{"device_code":"d","user_code":"ABCD","verification_uri":"https://e/d","verification_uri_complete":"https://e/d?user_code=ABCD","expires_in":300,"created_at":12345}"#)).get()
        #expect(auth.interval == 5)
        #expect(auth.verificationURIComplete == "https://e/d?user_code=ABCD")
    }

    @Test func formEncodedAnswer() async throws {
        let auth = try await authorize(.form("device_code=d&user_code=AB-CD&verification_uri=https%3A%2F%2Fgithub.com%2Flogin%2Fdevice&expires_in=899&interval=5")).get()
        #expect(auth.userCode == "AB-CD")
        #expect(auth.verificationURI == "https://github.com/login/device")
        #expect(auth.expiresIn == 899)
    }

    @Test(arguments: [
        ("device_code", "device_code is missing"),
        ("user_code", "user_code is missing"),
        ("verification_uri", "verification_uri is missing"),
        ("expires_in", "expires_in is missing"),
    ])
    func eachRequiredFieldIsRequired(field: String, expected: String) async {
        var members = [("device_code", "\"d\""), ("user_code", "\"U\""), ("verification_uri", "\"https://e/d\""), ("expires_in", "600")]
        members.removeAll { $0.0 == field }
        let body = "{" + members.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}"
        #expect(reason(await authorize(.json(body))) == expected)
    }

    @Test func malformedAndUnusableAnswers() async {
        #expect(reason(await authorize(.json("{\"device_code\":"))).map { $0.contains("malformed JSON") } == true)
        #expect(reason(await authorize(.json("[1,2]"))).map { $0.contains("not an object") } == true)
        #expect(reason(await authorize(.json(#"{"device_code":"d","user_code":"U","verification_uri":"https://e/d","expires_in":"soon"}"#))) == "expires_in is not a number")
        #expect(reason(await authorize(.json(#"{"device_code":"d","user_code":"U\u001b[2J","verification_uri":"https://e/d","expires_in":60}"#))) == "user_code contains control or format characters")
        #expect(reason(await authorize(.json(#"{"device_code":"d","user_code":"U","verification_uri":"javascript:alert(1)","expires_in":60}"#))) == "verification_uri is not an http(s) URL")
        #expect(reason(await authorize(.status(200, headers: [("Content-Type", "text/html")], body: "<html>"))).map { $0.contains("neither JSON nor form") } == true)
    }

    /// Security review, finding 17: a bidi override makes `https://good.example/\u{202E}gpj.moc.live//:sptth`
    /// read as another site; zero-width and other format characters hide what a code really is.
    @Test(arguments: [
        ("user_code", #""AB\u200BCD""#), ("verification_uri", #""https://good.example/\u202Egpj.moc.live//:sptth""#),
        ("verification_uri", #""https://e/d\u0085""#), ("verification_uri_complete", #""https://e/d?c=\u2066U\u2069""#),
        ("user_code", #""U\u009b2J""#), ("verification_uri_complete", #""https://e/d\uFEFF""#),
    ])
    func formatAndC1CharactersInWhatAPersonReadsAreRefused(field: String, value: String) async {
        var members = [("device_code", "\"d\""), ("user_code", "\"U\""), ("verification_uri", "\"https://e/d\""), ("expires_in", "600")]
        members.removeAll { $0.0 == field }
        members.append((field, value))
        let body = "{" + members.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}"
        #expect(reason(await authorize(.json(body))) == "\(field) contains control or format characters")
    }

    /// Security review, finding 7: the raw Content-Type reached `authctl logout` with its escapes.
    @Test func aHostileContentTypeIsCleanedInTheReason() async {
        let result = await authorize(.status(201, headers: [("Content-Type", "text/plain\u{1B}]0;PWNED\u{07}\u{9B}41m\u{202E}")], body: "x"))
        let text = reason(result) ?? ""
        #expect(text.contains("Content-Type text/plain"))
        #expect(TerminalText.isClean(text))
        if case .failure(let error) = result { #expect(TerminalText.isClean(error.description)) }
    }

    @Test func providerDescriptionsLoseC1AndFormCharacters() async {
        let result = await authorize(.json(#"{"error":"invalid_scope","error_description":"bad\u009b31m scope \u202Eevil"}"#, status: 400))
        guard case .failure(.provider(_, _, let description?, _)) = result else {
            Issue.record("expected a provider error, got \(result)")
            return
        }
        #expect(TerminalText.isClean(description))
        #expect(description.hasPrefix("bad"))
    }

    @Test func badIntervalsFallBackToTheDefault() async throws {
        for (interval, expected) in [("-3", 5), ("\"x\"", 5), ("null", 5), ("0", 1), ("\"0\"", 1), ("7200", 3600)] as [(String, Int64)] {
            let auth = try await authorize(.json(#"{"device_code":"d","user_code":"U","verification_uri":"https://e/d","expires_in":60,"interval":\#(interval)}"#)).get()
            #expect(auth.interval == expected, "interval \(interval)")
        }
    }

    @Test func errorsFromTheDeviceEndpoint() async {
        #expect(await authorize(.json(#"{"error":"invalid_scope"}"#, status: 400)) == .failure(.provider(
            endpoint: OAuthEndpoint(.deviceAuthorization, Fixture.deviceURL), error: "invalid_scope", description: nil, hint: nil)))
        #expect(await authorize(.status(503)) == .failure(.httpStatus(endpoint: OAuthEndpoint(.deviceAuthorization, Fixture.deviceURL), status: 503)))
        #expect(await authorize(.failure(.timedOut)) == .failure(.network(endpoint: OAuthEndpoint(.deviceAuthorization, Fixture.deviceURL), .timedOut)))
    }

    @Test func descriptionHidesTheDeviceCode() async throws {
        let auth = try await authorize(Fixture.deviceAuthorization()).get()
        #expect(!"\(auth)".contains(Secret.deviceCode))
        #expect(!String(reflecting: auth.prompt).contains(Secret.deviceCode))
    }
}

@Suite struct TokenResponseDecodingTests {
    let endpoint = OAuthEndpoint(.token, Fixture.tokenURL)

    func decode(_ reply: ScriptedTransport.Reply, requested: [String] = ["repo"]) -> Result<TokenGrant, OAuthError> {
        guard case .response(let response) = reply else { return .failure(.cancelled) }
        switch ResponseFields.parse(response) {
        case .success(let fields):
            do { return .success(try TokenGrant.decode(fields, endpoint: endpoint, issuedAt: 1000, requestedScopes: requested)) } catch { return .failure(error) }
        case .failure(let problem):
            return .failure(.invalidResponse(endpoint: endpoint, reason: problem.reason))
        }
    }

    @Test func aRepeatedMemberIsRefusedWithoutQuotingAValue() {
        let result = decode(.json(#"{"access_token":"first-\#(Secret.accessToken)","token_type":"Bearer","access_token":"second-\#(Secret.accessToken)"}"#))
        guard case .failure(.invalidResponse(_, let reason)) = result else {
            Issue.record("accepted a token response with two access_token members: \(result)")
            return
        }
        #expect(reason.contains(#"member name "access_token" appears twice"#), "\(reason)")
        #expect(!reason.contains(Secret.accessToken))
    }

    @Test func formEncodedGitHubTokenWithCommaScopesAndNoExpiry() throws {
        let grant = try decode(.form("access_token=\(Secret.accessToken)&scope=repo%2Cgist%2Cread%3Aorg&token_type=bearer")).get()
        #expect(grant.accessToken == Secret.accessToken)
        #expect(grant.scopes == ["repo", "gist", "read:org"])
        #expect(grant.tokenType == "Bearer")
        #expect(grant.expiresIn == nil)
        #expect(grant.expiresAt == nil)
        #expect(grant.isValid(at: 1_000_000_000_000, forAtLeast: 3600))
        #expect(grant.refreshToken == nil)
    }

    @Test func gitHubAppTokenWithRefreshTokenLifetime() throws {
        let grant = try decode(.json(#"{"access_token":"a","expires_in":"28800","refresh_token":"r","refresh_token_expires_in":15811200,"token_type":"bearer","scope":""}"#)).get()
        #expect(grant.expiresAt == 29_800)
        #expect(grant.refreshTokenExpiresAt == 15_812_200)
        #expect(grant.scopes == [])
        #expect(!grant.isValid(at: 29_800))
        #expect(grant.isValid(at: 29_700, forAtLeast: 60))
    }

    @Test func spaceSeparatedScopesAndAbsentScopeMeansRequested() throws {
        #expect(try decode(.json(#"{"access_token":"a","token_type":"Bearer","scope":"openid  email"}"#)).get().scopes == ["openid", "email"])
        #expect(try decode(.json(#"{"access_token":"a","token_type":"Bearer"}"#), requested: ["x", "y"]).get().scopes == ["x", "y"])
    }

    @Test func tokenTypes() throws {
        #expect(try decode(.json(#"{"access_token":"a","token_type":"bearer"}"#)).get().tokenType == "Bearer")
        #expect(try decode(.json(#"{"access_token":"a","token_type":"BEARER"}"#)).get().tokenType == "Bearer")
        #expect(try decode(.json(#"{"access_token":"a"}"#)).get().tokenType == "Bearer")
        let mac = decode(.json(#"{"access_token":"\#(Secret.accessToken)","token_type":"mac"}"#))
        guard case .failure(.invalidResponse(_, let reason)) = mac else { Issue.record("mac accepted"); return }
        #expect(reason.contains("\"mac\" is not supported"))
        #expect(!reason.contains(Secret.accessToken))
    }

    @Test func missingAccessTokenAndExtraFields() throws {
        #expect(decode(.json(#"{"token_type":"Bearer"}"#)) == .failure(.invalidResponse(endpoint: endpoint, reason: "access_token is missing")))
        let grant = try decode(.json(#"{"access_token":"a","token_type":"Bearer","expires_in":3599.0,"ext_expires_in":3599,"created_at":1,"foo":{"bar":[1]}}"#)).get()
        #expect(grant.expiresIn == 3599)
    }

    @Test func idTokenClaimsAreDecodedForDisplay() throws {
        let payload = Base64.encode(Array(#"{"sub":"248289761001","preferred_username":"jane","email":"jane@example.com","iss":"https://id.example.com"}"#.utf8))
            .replacing("=", with: "").replacing("+", with: "-").replacing("/", with: "_")
        let jwt = "eyJhbGciOiJSUzI1NiJ9.\(payload).c2lnbmF0dXJl"
        let grant = try decode(.json(#"{"access_token":"a","token_type":"Bearer","id_token":"\#(jwt)"}"#)).get()
        #expect(grant.idToken == jwt)
        #expect(grant.identity == IDTokenClaims(subject: "248289761001", preferredUsername: "jane", email: "jane@example.com", issuer: "https://id.example.com"))
        #expect(grant.identity?.displayName == "jane")
        #expect(IDTokenClaims(jwt: "not-a-jwt") == nil)
    }

    @Test func grantDescriptionHidesTokens() {
        let grant = Fixture.grant()
        #expect(!"\(grant)".contains(Secret.accessToken))
        #expect(!"\(grant)".contains(Secret.refreshToken))
    }

    @Test func contentTypeSniffing() {
        func format(_ type: String?, _ body: String) -> ResponseFields.BodyFormat {
            ResponseFields.format(of: HTTPResponse(status: 200, headers: type.map { [("Content-Type", $0)] } ?? [], body: Array(body.utf8)))
        }
        #expect(format("application/json; charset=utf-8", "{}") == .json)
        #expect(format("application/problem+json", "{}") == .json)
        #expect(format("application/x-www-form-urlencoded; charset=utf-8", "a=b") == .form)
        #expect(format("text/plain", " {\"a\":1}") == .json)
        #expect(format(nil, "access_token=x") == .form)
        #expect(format("text/html", "<a href=x>") == .unknown)
        #expect(format(nil, "") == .unknown)
    }
}
