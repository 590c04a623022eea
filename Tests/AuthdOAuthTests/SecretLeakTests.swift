// No error description, progress event or value description may contain a token, device code or client secret.

@testable import AuthdOAuth
import AuthdTestSupport
import AuthdWire
import Testing

@Suite struct SecretLeakTests {
    /// Every provider text below echoes the secrets its request carried, as a careless server might.
    static func echo(_ secrets: String...) -> String {
        "echo: " + secrets.map { "<\($0)>" }.joined(separator: " ")
    }

    func errors() async -> [OAuthError] {
        let secretSettings = Fixture.settings(clientSecret: Secret.clientSecret, authentication: .clientSecretPost)
        var errors: [OAuthError] = []
        let poll = Self.echo(Secret.deviceCode, Secret.clientSecret)
        let flowReplies: [[ScriptedTransport.Reply]] = [
            [Fixture.deviceAuthorization(), .json(#"{"error":"access_denied","error_description":"\#(poll)"}"#, status: 400)],
            [Fixture.deviceAuthorization(), .json(#"{"error":"weird_error","error_description":"\#(poll)"}"#, status: 400)],
            [Fixture.deviceAuthorization(), .json(#"{"error":"device_flow_disabled","error_description":"\#(poll)"}"#)],
            [Fixture.deviceAuthorization(), .json(#"{"error":"expired_token"}"#, status: 400)],
            [Fixture.deviceAuthorization(expiresIn: "10")] + Array(repeating: .failure(.connectFailed("refused")), count: 5),
            [Fixture.deviceAuthorization(), .json(#"{"access_token":"\#(Secret.accessToken)","token_type":"\#(Secret.accessToken)"}"#)],
            [Fixture.deviceAuthorization(), .json(#"{"error":"temporarily_unavailable","error_description":"\#(poll)"}"#, status: 503),
             .status(404, body: poll)],
            [.json(#"{"error":"invalid_client","error_description":"\#(Self.echo(Secret.clientSecret))"}"#, status: 401)],
        ]
        for replies in flowReplies {
            let (client, _, _) = Fixture.client(replies, settings: secretSettings)
            if let e = await expectFailure({ try await client.runDeviceFlow() }) { errors.append(e) }
        }
        let refresh = Self.echo(Secret.refreshToken, Secret.accessToken, Secret.clientSecret)
        let refreshReplies: [ScriptedTransport.Reply] = [
            .json(#"{"error":"invalid_grant","error_description":"\#(refresh)"}"#, status: 400),
            .json(#"{"error":"invalid_scope","error_description":"\#(refresh)"}"#, status: 400),
            .status(500, body: refresh),
            .form("access_token=\(Secret.accessToken)&token_type=mac"),
            .json("{\"access_token\":\"\(Secret.accessToken)\"", status: 200),
        ]
        for reply in refreshReplies {
            let (client, _, _) = Fixture.client([reply], settings: secretSettings)
            if let e = await expectFailure({ try await client.refresh(Fixture.grant()) }) { errors.append(e) }
        }
        let revoke = Self.echo(Secret.refreshToken, Secret.clientSecret)
        let (revoker, _, _) = Fixture.client([.json(#"{"error":"unsupported_token_type","error_description":"\#(revoke)"}"#, status: 400)],
                                             settings: secretSettings)
        if let e = await expectFailure({ try await revoker.revoke(Secret.refreshToken, hint: .refreshToken) }) { errors.append(e) }
        let (revoker2, _, _) = Fixture.client([.json(#"{"error":"invalid_request","error_description":"\#(revoke)"}"#, status: 400),
                                               .json(#"{"error":"invalid_request","error_description":"\#(Self.echo(Secret.accessToken))"}"#, status: 400)],
                                              settings: secretSettings)
        if let e = await expectFailure({ try await revoker2.revoke(grant: Fixture.grant()) }) { errors.append(e) }
        return errors
    }

    @Test func noErrorDescriptionContainsASecret() async {
        let errors = await errors()
        #expect(errors.count == 15)
        for error in errors {
            #expect(error.leakedSecrets == [], "\(error)")
            #expect(!String(reflecting: error).contains(Secret.clientSecret))
        }
        // The descriptions were not silenced: the provider's words are still there, minus the secrets.
        #expect(errors.contains { $0.description.contains("echo: <[redacted]> <[redacted]>") })
    }

    @Test func progressEventsAndValuesContainNoSecret() async throws {
        let (client, _, _) = Fixture.client([Fixture.deviceAuthorization(), .failure(.connectFailed("refused")), Fixture.slowDown(), Fixture.token],
                                            settings: Fixture.settings(clientSecret: Secret.clientSecret))
        let log = EventLog()
        let grant = try await client.runDeviceFlow { log.record($0) }
        #expect(log.all.count == 4)
        for event in log.all {
            let text = String(describing: event)
            #expect(Secret.all.allSatisfy { !text.contains($0) }, "\(text)")
        }
        #expect(Secret.all.allSatisfy { !"\(grant)".contains($0) })
    }
}
