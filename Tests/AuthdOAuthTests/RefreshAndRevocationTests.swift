// The refresh grant (rotation, invalid_grant, transient failures) and RFC 7009 revocation.

@testable import AuthdOAuth
import AuthdTestSupport
import AuthdWire
import Testing

@Suite struct RefreshTests {
    let tokenEndpoint = OAuthEndpoint(.token, Fixture.tokenURL)

    @Test func rotatedRefreshTokenReplacesTheOldOne() async throws {
        let (client, transport, _) = Fixture.client([
            .json(#"{"access_token":"new-access","token_type":"Bearer","expires_in":7200,"refresh_token":"\#(Secret.rotatedRefreshToken)"}"#),
        ])
        let result = try await client.refresh(Fixture.grant())
        #expect(result.refreshToken == .rotated)
        #expect(result.grant.refreshToken == Secret.rotatedRefreshToken)
        #expect(result.grant.accessToken == "new-access")
        #expect(result.grant.expiresAt == Int64(1_800_007_200))
        #expect(result.grant.scopes == ["openid", "offline_access"])
        let r = transport.requests[0]
        #expect(r.request.url == Fixture.tokenURL)
        #expect(r.formValue("grant_type") == "refresh_token")
        #expect(r.formValue("refresh_token") == Secret.refreshToken)
        #expect(r.formValue("client_id") == "authctl-test")
        #expect(r.formValue("scope") == nil)
        #expect(r.formValue("resource") == nil)
    }

    @Test func answerWithoutRefreshTokenKeepsTheOldOne() async throws {
        var old = Fixture.grant()
        old.refreshTokenExpiresAt = 1_900_000_000
        old.identity = IDTokenClaims(subject: "s")
        let (client, _, _) = Fixture.client([.json(#"{"access_token":"new-access","token_type":"Bearer","expires_in":3600}"#)])
        let result = try await client.refresh(old)
        #expect(result.refreshToken == .keptPrevious)
        #expect(result.grant.refreshToken == Secret.refreshToken)
        #expect(result.grant.refreshTokenExpiresAt == 1_900_000_000)
        #expect(result.grant.identity == IDTokenClaims(subject: "s"))
    }

    @Test func narrowerScopeAndResourceOnRefresh() async throws {
        let (client, transport, _) = Fixture.client([.json(#"{"access_token":"n","token_type":"Bearer"}"#)])
        let result = try await client.refresh(Fixture.grant(), scopes: ["openid"], resources: ["https://api.example.com"])
        #expect(transport.requests[0].formValue("scope") == "openid")
        #expect(transport.requests[0].formValues("resource") == ["https://api.example.com"])
        #expect(result.grant.scopes == ["openid"])
    }

    @Test func invalidGrantMeansLoginNeeded() async {
        let (client, _, _) = Fixture.client([.json(#"{"error":"invalid_grant","error_description":"Token \#(Secret.refreshToken) is not active"}"#, status: 400)])
        let error = await expectFailure { try await client.refresh(Fixture.grant()) }
        guard case .loginNeeded(let reason)? = error else { Issue.record("\(String(describing: error))"); return }
        #expect(reason.contains("invalid_grant"))
        #expect(error?.leakedSecrets == [])
        #expect(error?.isRetryable == false)
    }

    @Test func noRefreshTokenOrAnExpiredOneMeansLoginNeededWithoutARequest() async {
        let (client, transport, _) = Fixture.client([])
        #expect(await expectFailure { try await client.refresh(Fixture.grant(refreshToken: nil)) } == .loginNeeded(reason: "there is no refresh token"))
        var expired = Fixture.grant()
        expired.refreshTokenExpiresAt = 1_700_000_000
        #expect(await expectFailure { try await client.refresh(expired) } == .loginNeeded(reason: "the refresh token expired"))
        #expect(transport.requests.isEmpty)
    }

    @Test func transientFailuresAreRetryable() async {
        let cases: [(ScriptedTransport.Reply, OAuthError)] = [
            (.failure(.connectFailed("refused")), .network(endpoint: tokenEndpoint, .connectFailed("refused"))),
            (.status(502, body: "<html>"), .httpStatus(endpoint: tokenEndpoint, status: 502)),
            (.status(503), .httpStatus(endpoint: tokenEndpoint, status: 503)),
            (.status(429, headers: [("Retry-After", "5")]), .httpStatus(endpoint: tokenEndpoint, status: 429)),
            (.json(#"{"error":"temporarily_unavailable"}"#, status: 503),
             .provider(endpoint: tokenEndpoint, error: "temporarily_unavailable", description: nil, hint: nil)),
        ]
        for (reply, expected) in cases {
            let (client, _, _) = Fixture.client([reply])
            let error = await expectFailure { try await client.refresh(Fixture.grant()) }
            #expect(error == expected)
            #expect(error?.isRetryable == true)
        }
    }

    @Test func otherErrorsAreNotRetryable() async {
        let (client, _, _) = Fixture.client([.json(#"{"error":"invalid_client"}"#, status: 401)])
        let error = await expectFailure { try await client.refresh(Fixture.grant()) }
        guard case .provider(_, "invalid_client", _, let hint?)? = error else { Issue.record("\(String(describing: error))"); return }
        #expect(hint.contains("client_id"))
        #expect(error?.isRetryable == false)
    }
}

@Suite struct RevocationTests {
    let endpoint = OAuthEndpoint(.revocation, Fixture.revokeURL)

    @Test func requestShapeAndHints() async throws {
        let settings = Fixture.settings(clientSecret: Secret.clientSecret, authentication: .clientSecretPost)
        let (client, transport, _) = Fixture.client([.status(200), .status(200)], settings: settings)
        try await client.revoke(grant: Fixture.grant())
        #expect(transport.requests.count == 2)
        #expect(transport.requests.map { $0.request.url } == [Fixture.revokeURL, Fixture.revokeURL])
        #expect(transport.requests[0].formValue("token") == Secret.refreshToken)
        #expect(transport.requests[0].formValue("token_type_hint") == "refresh_token")
        #expect(transport.requests[1].formValue("token") == Secret.accessToken)
        #expect(transport.requests[1].formValue("token_type_hint") == "access_token")
        #expect(transport.requests[1].formValue("client_secret") == Secret.clientSecret)
    }

    @Test func unknownTokensAreSuccessToo() async throws {
        let (client, _, _) = Fixture.client([.json("{}", status: 200)])
        try await client.revoke("whatever", hint: .accessToken)
    }

    @Test func serviceUnavailableIsRetryable() async {
        let (client, _, _) = Fixture.client([.status(503, headers: [("Retry-After", "10")])])
        let error = await expectFailure { try await client.revoke(Secret.accessToken, hint: .accessToken) }
        #expect(error == .httpStatus(endpoint: endpoint, status: 503))
        #expect(error?.isRetryable == true)
    }

    @Test func unsupportedTokenTypeIsReported() async {
        let (client, _, _) = Fixture.client([.json(#"{"error":"unsupported_token_type","error_description":"cannot revoke \#(Secret.accessToken)"}"#, status: 400)])
        let error = await expectFailure { try await client.revoke(Secret.accessToken, hint: .accessToken) }
        #expect(error == .provider(endpoint: endpoint, error: "unsupported_token_type", description: "cannot revoke [redacted]", hint: nil))
    }

    @Test func bothTokensAreAttemptedEvenWhenTheFirstFails() async {
        let (client, transport, _) = Fixture.client([.status(503), .status(200)])
        let error = await expectFailure { try await client.revoke(grant: Fixture.grant()) }
        #expect(error == .httpStatus(endpoint: endpoint, status: 503))
        #expect(transport.requests.count == 2)
    }

    @Test func noRevocationEndpointIsSaidClearly() async {
        let settings = Fixture.settings(endpoints: EndpointSettings(deviceAuthorization: Fixture.deviceURL, token: Fixture.tokenURL))
        let (client, transport, _) = Fixture.client([], settings: settings)
        let error = await expectFailure { try await client.revoke(grant: Fixture.grant()) }
        guard case .noEndpoint(.revocation, _)? = error else { Issue.record("\(String(describing: error))"); return }
        #expect(transport.requests.isEmpty)
    }
}
