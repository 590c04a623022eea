// get --scope/--resource and authctl audit end to end: real authd, authctl and authd-devserver over loopback.
import Foundation
import Testing

private func requireBinaries() throws {
    try #require(Binaries.available, "built programs not found in \(Binaries.directory.path); run make build or set AUTHD_BIN_DIR")
}

private let resourceURI = "https://api.example.test/"

private func scopedConfig(_ baseURL: String) -> String {
    """
    [audience.demo]
    issuer    = "\(baseURL)"
    client_id = "authctl-test"
    scopes    = ["openid", "offline_access", "profile", "email"]
    resource  = ["\(resourceURI)"]

    """
}

/// RFC 7662 introspection of a token at the devserver.
private func introspect(_ server: DevServer, _ token: String) throws -> [String: Any] {
    let result = try HTTP.post(server.baseURL + "/introspect", form: ["token": token])
    return try #require(try JSONSerialization.jsonObject(with: result.body) as? [String: Any])
}

private func refreshGrants(_ server: DevServer) -> Int {
    server.requests(endpoint: "token").filter { ($0["grant_type"] as? String) == "refresh_token" }.count
}

@Suite(.serialized) struct ScopeAndAuditTests {
    @Test func aNarrowerScopeIsServedAndIntrospectedAsNarrower() async throws {
        try await offPoolValue {
            try requireBinaries()
            let scratch = Scratch("scope-narrow")
            let server = try DevServer(scratch, arguments: ["--interval", "1", "--auto-approve"])
            let daemon = try DaemonUnderTest(scratch, config: scopedConfig(server.baseURL))
            try daemon.start()
            let full = try #require(try getToken(daemon))
            #expect(try introspect(server, full)["scope"] as? String == "openid offline_access profile email")

            let narrow = try daemon.client("authctl", ["get", "demo", "--scope", "profile openid", "--json"])
            #expect(narrow.status == 0, "\(narrow.stderr)")
            let answer = try #require(try JSONSerialization.jsonObject(with: Data(narrow.stdout.utf8)) as? [String: Any])
            let token = try #require(answer["access_token"] as? String)
            #expect(token != full)
            // `scope` (a string) before json_version 2, `scopes` (an array) after: either names just the two.
            let servedScopes = (answer["scopes"] as? [String]) ?? (answer["scope"] as? String)?.split(separator: " ").map(String.init)
            #expect(servedScopes == ["openid", "profile"])
            #expect(try introspect(server, token)["scope"] as? String == "openid profile")
            #expect(refreshGrants(server) == 1)
            // Cached per scope set: asked again (spelled differently), served without a request.
            let again = try daemon.client("authctl", ["get", "demo", "--scope", "openid profile openid"])
            #expect(again.stdout == token + "\n")
            #expect(refreshGrants(server) == 1)

            // RFC 8707: a token for the one configured resource, whose audience the provider sets to it.
            let forAPI = try daemon.client("authctl", ["get", "demo", "--resource", resourceURI])
            #expect(forAPI.status == 0, "\(forAPI.stderr)")
            let apiToken = forAPI.stdout.trimmingCharacters(in: .newlines)
            #expect(try introspect(server, apiToken)["aud"] as? [String] == [resourceURI])
            #expect(refreshGrants(server) == 2)
            // The login's own token is untouched.
            #expect(try getToken(daemon, interactive: false) == full)
            daemon.stop()
            #expect(!daemon.allLogs.contains(token))
        }
    }

    @Test func aWiderScopeOrUnknownResourceIsRefusedWithoutARequest() async throws {
        try await offPoolValue {
            try requireBinaries()
            let scratch = Scratch("scope-wider")
            let server = try DevServer(scratch, arguments: ["--interval", "1", "--auto-approve"])
            let daemon = try DaemonUnderTest(scratch, config: scopedConfig(server.baseURL))
            try daemon.start()
            _ = try #require(try getToken(daemon))
            let before = server.requests.count
            let wider = try daemon.client("authctl", ["get", "demo", "--scope", "openid admin"])
            #expect(wider.status == 2)
            #expect(wider.stdout.isEmpty)
            #expect(wider.stderr.contains("\"admin\" was not granted"), "\(wider.stderr)")
            let elsewhere = try daemon.client("authctl", ["get", "demo", "--resource", "https://other.example.test/"])
            #expect(elsewhere.status == 2)
            #expect(elsewhere.stderr.contains("https://other.example.test/"), "\(elsewhere.stderr)")
            // Bad input is refused by authctl itself.
            let malformed = try daemon.client("authctl", ["get", "demo", "--resource", "https://x.test/#frag"])
            #expect(malformed.status == 2)
            #expect(malformed.stderr.contains("fragment"), "\(malformed.stderr)")
            #expect(server.requests.count == before, "the provider was asked: \(server.requests.suffix(2))")
        }
    }

    @Test func aProviderIgnoringTheNarrowerScopeIsReported() async throws {
        try await offPoolValue {
            try requireBinaries()
            let scratch = Scratch("scope-ignored")
            let server = try DevServer(scratch, arguments: ["--interval", "1", "--auto-approve", "--ignore-narrower-scope"])
            let daemon = try DaemonUnderTest(scratch, config: scopedConfig(server.baseURL))
            try daemon.start()
            let full = try #require(try getToken(daemon))
            for _ in 0..<2 {
                // Twice: the refresh token the provider rotated on the first attempt must have been kept.
                let result = try daemon.client("authctl", ["get", "demo", "--scope", "openid"])
                #expect(result.status == 1)
                #expect(result.stdout.isEmpty)
                #expect(result.stderr.contains("the provider ignored the narrower scope"), "\(result.stderr)")
                #expect(result.stderr.contains("without --scope"))
            }
            #expect(refreshGrants(server) == 2)
            let audit = try daemon.client("authctl", ["audit", "demo", "--json"])
            #expect(audit.stdout.contains("scope_not_narrowed"))
            #expect(try getToken(daemon, interactive: false) == full)
        }
    }

    @Test func auditListsAWholeLoginInOrder() async throws {
        try await offPoolValue {
            try requireBinaries()
            let scratch = Scratch("audit-login")
            let server = try DevServer(scratch, arguments: ["--interval", "1", "--auto-approve", "--access-token-ttl", "3"])
            let daemon = try DaemonUnderTest(scratch, config: scopedConfig(server.baseURL))
            try daemon.start()
            let empty = try daemon.client("authctl", ["audit"])
            #expect(empty.status == 0)
            #expect(empty.stdout.hasPrefix("No audit records"))
            let token = try #require(try getToken(daemon))

            func events() throws -> [String] {
                let result = try daemon.client("authctl", ["audit", "demo", "--json"])
                let document = (try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8))) as? [String: Any]
                return ((document?["records"] as? [[String: Any]]) ?? []).compactMap { $0["audit"] as? String }
            }
            // The scheduled refresh of a 3 s token.
            #expect(try Bounds.waitUntil { try events().contains("refresh_succeeded") })
            #expect(try daemon.client("authctl", ["logout", "demo"]).status == 0)

            let json = try daemon.client("authctl", ["audit", "demo", "--json"])
            #expect(json.status == 0, "\(json.stderr)")
            let document = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
            #expect(document["json_version"] as? Int == 2)
            let records = try #require(document["records"] as? [[String: Any]])
            let order = records.compactMap { $0["audit"] as? String }
            var expected = ["device_flow_started", "device_flow_approved", "token_served", "refresh_succeeded", "revoked", "logged_out"][...]
            for event in order where event == expected.first { expected.removeFirst() }
            #expect(expected.isEmpty, "missing or out of order: \(expected) in \(order)")
            #expect(order.last == "logged_out")
            let served = try #require(records.first { $0["audit"] as? String == "token_served" })
            #expect(served["audience"] as? String == "demo")
            #expect((served["token_fingerprint"] as? String)?.count == 16)
            #expect(served["client_pid"] != nil)
            #expect(served["message_id"] as? String == "ceeb310913c04bc0b0ed416856eb59bb")
            #expect(served["scopes"] as? [String] != nil, "scopes as an array, as in get and status --json")

            let human = try daemon.client("authctl", ["audit", "demo"])
            #expect(human.status == 0)
            #expect(human.stdout.split(separator: "\n").count == records.count)
            #expect(human.stdout.contains("token_served"))
            #expect(!human.stdout.contains(token) && !json.stdout.contains(token), "an audit listing shows a token")
            // Another audience's filter and a recent window.
            #expect(try daemon.client("authctl", ["audit", "nosuch"]).status == 2)
            let recent = try daemon.client("authctl", ["audit", "--since", "1h", "--json"])
            let recentRecords = (try JSONSerialization.jsonObject(with: Data(recent.stdout.utf8)) as? [String: Any])?["records"] as? [Any]
            #expect((recentRecords?.count ?? 0) >= records.count)
        }
    }
}
