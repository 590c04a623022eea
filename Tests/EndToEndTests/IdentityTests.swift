// Verified id_tokens end to end: bad tokens refused with nothing kept, require_mfa, status evidence, get --id-token.
import AuthdPosix
import Foundation
import Testing

@Suite(.serialized) struct IdentityTests {
    private func requireBinaries() throws {
        try #require(Binaries.available, "built programs not found in \(Binaries.directory.path); run make build or set AUTHD_BIN_DIR")
    }

    // Everything that blocks (processes, socket waits) runs off the test pool, as in ProviderTests,
    // so these tests never starve the async tests that share the process.
    private func exchange(_ daemon: DaemonUnderTest, _ line: String) async throws -> String {
        let path = daemon.socketPath
        return try await offPoolValue { try SocketClient.exchange(path, line) }
    }

    private func statusRow(_ daemon: DaemonUnderTest) async throws -> [String: Any] {
        let status = finalAnswer(try await exchange(daemon, #"{"op":"status"}"#))
        return try #require((status["audiences"] as? [[String: Any]])?.first)
    }

    private func login(_ daemon: DaemonUnderTest) async throws -> [String: Any] {
        finalAnswer(try await exchange(daemon, #"{"op":"get","audience":"demo","interactive":true}"#))
    }

    private func start(_ name: String, server arguments: [String], config: @escaping @Sendable (String) -> String) async throws -> (DevServer, DaemonUnderTest) {
        try await offPoolValue {
            let scratch = Scratch(name)
            let server = try DevServer(scratch, arguments: arguments)
            let daemon = try DaemonUnderTest(scratch, config: config(server.baseURL))
            try daemon.start()
            return (server, daemon)
        }
    }

    @Test(arguments: [("bad-signature", "signature"), ("wrong-aud", "aud"), ("wrong-iss", "iss"), ("expired", "exp"),
                      ("alg-none", "algorithm none")])
    func aBadIDTokenRefusesTheLoginAndKeepsNothing(fault: String, check: String) async throws {
        try requireBinaries()
        let (server, daemon) = try await start("idtoken-\(fault)", server: ["--interval", "1", "--auto-approve", "--id-token-fault", fault]) { demoConfig($0) }
        let answer = try await login(daemon)
        #expect(answer["ok"] as? Bool == false)
        #expect(answer["access_token"] == nil && answer["id_token"] == nil)
        #expect(answer["error"] as? String == "provider_error", "\(answer)")
        let message = answer["message"] as? String ?? ""
        #expect(message.contains("id_token failed verification") && message.contains(check), "\(message)")
        // Nothing kept: logged out, and the next non-interactive get has nothing to serve.
        #expect(try await statusRow(daemon)["state"] as? String == "logged_out")
        #expect(try await offPoolValue { try getToken(daemon, interactive: false) } == nil)
        // The tokens the provider issued were revoked there.
        #expect(server.requests(endpoint: "revoke").count >= 1)
        // authctl prints no token for it either.
        let get = try await daemon.clientOffPool("authctl", ["get", "demo"])
        #expect(get.status == 3 && get.stdout.isEmpty, "\(get.stdout)\(get.stderr)")
        // `authctl login`: exit 1, one line naming the check, nothing on stdout.
        let login = try await daemon.clientOffPool("authctl", ["login", "demo"])
        #expect(login.status == 1 && login.stdout.isEmpty, "\(login.stdout)\(login.stderr)")
        let last = login.stderr.split(separator: "\n").last.map(String.init) ?? ""
        #expect(last.hasPrefix("authctl: demo: login refused: the id_token failed verification") && last.contains(check), "\(login.stderr)")
    }

    @Test func requireMFARefusesAPasswordOnlySignInAndAcceptsMFA() async throws {
        try requireBinaries()
        let (server, daemon) = try await start("require-mfa", server: ["--interval", "1", "--auto-approve", "--amr", "pwd"]) {
            demoConfig($0, extra: "require_mfa = true")
        }
        let refused = try await daemon.clientOffPool("authctl", ["login", "demo"])
        #expect(refused.status == 6, "\(refused.stdout)\(refused.stderr)")
        #expect(refused.stderr.contains("require_mfa") && refused.stderr.contains("amr pwd"), "\(refused.stderr)")
        #expect(refused.stdout.isEmpty, "no token printed: \(refused.stdout)")
        #expect(try await statusRow(daemon)["state"] as? String == "logged_out")
        #expect(server.requests(endpoint: "revoke").count >= 1, "revoked at the provider")
        #expect(daemon.allLogs.contains("login_refused_policy"))
        try await offPoolValue { daemon.stop() }

        let (server2, daemon2) = try await start("require-mfa-ok", server: ["--interval", "1", "--auto-approve", "--amr", "pwd,mfa"]) {
            demoConfig($0, extra: "require_mfa = true")
        }
        let accepted = try await login(daemon2)
        #expect(accepted["access_token"] is String, "\(accepted)")
        let row = try await statusRow(daemon2)
        #expect(row["identity"] as? String == "verified")
        #expect(row["subject"] as? String == "devuser")
        #expect(row["email"] as? String == "devuser@example.invalid")
        #expect(row["amr"] as? [String] == ["pwd", "mfa"])
        #expect(row["mfa"] as? Bool == true)
        #expect(row["auth_time"] is Int)
        let table = try await daemon2.clientOffPool("authctl", ["status"])
        #expect(table.stdout.contains("WHO") && table.stdout.contains("devuser") && table.stdout.contains("yes (pwd,mfa)"), "\(table.stdout)")
        #expect(!table.stdout.contains("unverified"), "\(table.stdout)")
        // The approval audit record carries the evidence.
        #expect(daemon2.allLogs.contains("sub=devuser"))
        withExtendedLifetime(server2) {}  // the devserver stops when its object goes
    }

    @Test(arguments: ["RS256", "ES256", "EdDSA"])
    func idTokenIsServedAndRefreshedAndSurvivesKeyRotation(algorithm: String) async throws {
        try requireBinaries()
        // The devserver's id_tokens live as long as its access tokens: 30 s is less than the default min_valid.
        let (server, daemon) = try await start("get-id-token-\(algorithm)", server: ["--interval", "1", "--auto-approve", "--id-token-alg", algorithm,
                                                                                     "--access-token-ttl", "30s"]) { demoConfig($0) }
        #expect(try await login(daemon)["access_token"] is String)
        let first = try await daemon.clientOffPool("authctl", ["get", "demo", "--id-token"])
        #expect(first.status == 0, "\(first.stderr)")
        let idToken = first.stdout.trimmingCharacters(in: .newlines)
        #expect(idToken.split(separator: ".").count == 3)
        let header = try #require(Data(base64Encoded: String(idToken.split(separator: ".")[0]).padding(toLength: ((idToken.split(separator: ".")[0].count + 3) / 4) * 4, withPad: "=", startingAt: 0)))
        #expect(String(decoding: header, as: UTF8.self).contains(algorithm))
        // Too short-lived for min_valid: one refresh, which brought a new (verified) id_token.
        let refreshesBefore = server.requests.filter { ($0["grant_type"] as? String) == "refresh_token" }.count
        let second = try await daemon.clientOffPool("authctl", ["get", "demo", "--id-token", "--json"])
        #expect(second.status == 0, "\(second.stderr)")
        #expect(second.stdout.contains("\"id_token\"") && !second.stdout.contains(idToken))
        #expect(server.requests.filter { ($0["grant_type"] as? String) == "refresh_token" }.count > refreshesBefore)

        // A rotation at the provider: the next login's kid is unknown to the cache, so the JWKS is fetched again.
        let jwksBefore = server.requests(endpoint: "jwks").count
        let base = server.baseURL
        _ = try await offPoolValue { try HTTP.post(base + "/jwks/rotate", form: [:]).status }
        let relogin = finalAnswer(try await exchange(daemon, #"{"op":"login","audience":"demo"}"#))
        #expect(relogin["ok"] as? Bool == true, "\(relogin)")
        #expect(server.requests(endpoint: "jwks").count == jwksBefore + 1)
        try await offPoolValue { daemon.stop() }
        #expect(!daemon.allLogs.contains(idToken), "the id_token is never logged")
    }

    @Test func explicitEndpointsWithoutIssuerOrJWKSCannotVerify() async throws {
        try requireBinaries()
        let (server, daemon) = try await start("unverifiable", server: ["--interval", "1", "--auto-approve"]) { base in
            """
            [audience.demo]
            device_authorization_endpoint = "\(base)/device_authorization"
            token_endpoint = "\(base)/token"
            client_id = "authctl-test"
            scopes = ["openid", "offline_access"]

            """
        }
        #expect(try await login(daemon)["access_token"] is String)
        let row = try await statusRow(daemon)
        #expect(row["identity"] as? String == "unverified")
        #expect(row["subject"] == nil || row["subject"] is NSNull)
        let get = try await daemon.clientOffPool("authctl", ["get", "demo", "--id-token"])
        #expect(get.status == 2 && get.stdout.isEmpty, "\(get.stdout)\(get.stderr)")
        #expect(get.stderr.contains("issuer") && get.stderr.contains("jwks_uri"), "\(get.stderr)")
        // kubectl's plugin (--token id is the default: the audience asks for openid) passes on the daemon's words.
        let kube = try await daemon.clientOffPool("authctl", ["kube-credential", "demo"])
        #expect(kube.status == 2 && kube.stdout.isEmpty, "\(kube.stdout)\(kube.stderr)")
        #expect(kube.stderr.contains("issuer") && kube.stderr.contains("jwks_uri") && !kube.stderr.contains("older"), "\(kube.stderr)")
        let table = try await daemon.clientOffPool("authctl", ["status"])
        #expect(table.stdout.contains("(unverified)"), "\(table.stdout)")
        withExtendedLifetime(server) {}  // the devserver stops when its object goes
    }
}
