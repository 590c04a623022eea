// Verified id_tokens end to end: bad tokens refused with nothing kept, require_mfa, status evidence, get --id-token.
import AuthdPosix
import Foundation
import Testing

@Suite(.serialized) struct IdentityTests {
    private func requireBinaries() throws {
        try #require(Binaries.available, "built programs not found in \(Binaries.directory.path); run make build or set AUTHD_BIN_DIR")
    }

    private func statusRow(_ daemon: DaemonUnderTest) throws -> [String: Any] {
        let status = finalAnswer(try SocketClient.exchange(daemon.socketPath, #"{"op":"status"}"#))
        return try #require((status["audiences"] as? [[String: Any]])?.first)
    }

    private func login(_ daemon: DaemonUnderTest) throws -> [String: Any] {
        finalAnswer(try SocketClient.exchange(daemon.socketPath, #"{"op":"get","audience":"demo","interactive":true}"#))
    }

    @Test(arguments: [("bad-signature", "signature"), ("wrong-aud", "aud"), ("wrong-iss", "iss"), ("expired", "exp"),
                      ("alg-none", "algorithm none")])
    func aBadIDTokenRefusesTheLoginAndKeepsNothing(fault: String, check: String) throws {
        try requireBinaries()
        let scratch = Scratch("idtoken-\(fault)")
        let server = try DevServer(scratch, arguments: ["--interval", "1", "--auto-approve", "--id-token-fault", fault])
        let daemon = try DaemonUnderTest(scratch, config: demoConfig(server.baseURL))
        try daemon.start()
        let answer = try login(daemon)
        #expect(answer["ok"] as? Bool == false)
        #expect(answer["access_token"] == nil && answer["id_token"] == nil)
        #expect(answer["error"] as? String == "provider_error", "\(answer)")
        let message = answer["message"] as? String ?? ""
        #expect(message.contains("id_token failed verification") && message.contains(check), "\(message)")
        // Nothing kept: logged out, and the next non-interactive get has nothing to serve.
        #expect(try statusRow(daemon)["state"] as? String == "logged_out")
        #expect(try getToken(daemon, interactive: false) == nil)
        // The tokens the provider issued were revoked there.
        #expect(server.requests(endpoint: "revoke").count >= 1)
        // authctl prints no token for it either.
        let get = try daemon.client("authctl", ["get", "demo"])
        #expect(get.status == 3 && get.stdout.isEmpty, "\(get.stdout)\(get.stderr)")
    }

    @Test func requireMFARefusesAPasswordOnlySignInAndAcceptsMFA() throws {
        try requireBinaries()
        let scratch = Scratch("require-mfa")
        let server = try DevServer(scratch, arguments: ["--interval", "1", "--auto-approve", "--amr", "pwd"])
        let daemon = try DaemonUnderTest(scratch, config: demoConfig(server.baseURL, extra: "require_mfa = true"))
        try daemon.start()
        let refused = try daemon.client("authctl", ["login", "demo"])
        #expect(refused.status == 6, "\(refused.stdout)\(refused.stderr)")
        #expect(refused.stderr.contains("require_mfa") && refused.stderr.contains("amr pwd"), "\(refused.stderr)")
        #expect(refused.stdout.isEmpty, "no token printed: \(refused.stdout)")
        #expect(try statusRow(daemon)["state"] as? String == "logged_out")
        #expect(server.requests(endpoint: "revoke").count >= 1, "revoked at the provider")
        #expect(daemon.allLogs.contains("login_refused_policy"))
        daemon.stop()

        let scratch2 = Scratch("require-mfa-ok")
        let server2 = try DevServer(scratch2, arguments: ["--interval", "1", "--auto-approve", "--amr", "pwd,mfa"])
        let daemon2 = try DaemonUnderTest(scratch2, config: demoConfig(server2.baseURL, extra: "require_mfa = true"))
        try daemon2.start()
        let accepted = try login(daemon2)
        #expect(accepted["access_token"] is String, "\(accepted)")
        let row = try statusRow(daemon2)
        #expect(row["identity"] as? String == "verified")
        #expect(row["subject"] as? String == "devuser")
        #expect(row["email"] as? String == "devuser@example.invalid")
        #expect(row["amr"] as? [String] == ["pwd", "mfa"])
        #expect(row["mfa"] as? Bool == true)
        #expect(row["auth_time"] is Int)
        let table = try daemon2.client("authctl", ["status"])
        #expect(table.stdout.contains("WHO") && table.stdout.contains("devuser") && table.stdout.contains("yes (pwd,mfa)"), "\(table.stdout)")
        #expect(!table.stdout.contains("unverified"), "\(table.stdout)")
        // The approval audit record carries the evidence.
        #expect(daemon2.allLogs.contains("sub=devuser"))
    }

    @Test(arguments: ["RS256", "ES256", "EdDSA"])
    func idTokenIsServedAndRefreshedAndSurvivesKeyRotation(algorithm: String) throws {
        try requireBinaries()
        let scratch = Scratch("get-id-token-\(algorithm)")
        // The devserver's id_tokens live as long as its access tokens: 30 s is less than the default min_valid.
        let server = try DevServer(scratch, arguments: ["--interval", "1", "--auto-approve", "--id-token-alg", algorithm,
                                                        "--access-token-ttl", "30s"])
        let daemon = try DaemonUnderTest(scratch, config: demoConfig(server.baseURL))
        try daemon.start()
        #expect(try login(daemon)["access_token"] is String)
        let first = try daemon.client("authctl", ["get", "demo", "--id-token"])
        #expect(first.status == 0, "\(first.stderr)")
        let idToken = first.stdout.trimmingCharacters(in: .newlines)
        #expect(idToken.split(separator: ".").count == 3)
        let header = try #require(Data(base64Encoded: String(idToken.split(separator: ".")[0]).padding(toLength: ((idToken.split(separator: ".")[0].count + 3) / 4) * 4, withPad: "=", startingAt: 0)))
        #expect(String(decoding: header, as: UTF8.self).contains(algorithm))
        // Too short-lived for min_valid: one refresh, which brought a new (verified) id_token.
        let refreshesBefore = server.requests.filter { ($0["grant_type"] as? String) == "refresh_token" }.count
        let second = try daemon.client("authctl", ["get", "demo", "--id-token", "--json"])
        #expect(second.status == 0, "\(second.stderr)")
        #expect(second.stdout.contains("\"id_token\"") && !second.stdout.contains(idToken))
        #expect(server.requests.filter { ($0["grant_type"] as? String) == "refresh_token" }.count > refreshesBefore)

        // A rotation at the provider: the next login's kid is unknown to the cache, so the JWKS is fetched again.
        let jwksBefore = server.requests(endpoint: "jwks").count
        _ = try HTTP.post(server.baseURL + "/jwks/rotate", form: [:])
        let relogin = finalAnswer(try SocketClient.exchange(daemon.socketPath, #"{"op":"login","audience":"demo"}"#))
        #expect(relogin["ok"] as? Bool == true, "\(relogin)")
        #expect(server.requests(endpoint: "jwks").count == jwksBefore + 1)
        daemon.stop()
        #expect(!daemon.allLogs.contains(idToken), "the id_token is never logged")
    }

    @Test func explicitEndpointsWithoutIssuerOrJWKSCannotVerify() throws {
        try requireBinaries()
        let scratch = Scratch("unverifiable")
        let server = try DevServer(scratch, arguments: ["--interval", "1", "--auto-approve"])
        let config = """
        [audience.demo]
        device_authorization_endpoint = "\(server.baseURL)/device_authorization"
        token_endpoint = "\(server.baseURL)/token"
        client_id = "authctl-test"
        scopes = ["openid", "offline_access"]

        """
        let daemon = try DaemonUnderTest(scratch, config: config)
        try daemon.start()
        #expect(try login(daemon)["access_token"] is String)
        let row = try statusRow(daemon)
        #expect(row["identity"] as? String == "unverified")
        #expect(row["subject"] == nil || row["subject"] is NSNull)
        let get = try daemon.client("authctl", ["get", "demo", "--id-token"])
        #expect(get.status == 2 && get.stdout.isEmpty, "\(get.stdout)\(get.stderr)")
        #expect(get.stderr.contains("issuer") && get.stderr.contains("jwks_uri"), "\(get.stderr)")
        let table = try daemon.client("authctl", ["status"])
        #expect(table.stdout.contains("(unverified)"), "\(table.stdout)")
    }
}
