// client_id = "register" against the devserver: one registration reused across restarts, a refusal's message, logout --forget-client.
import Foundation
import Testing

@Suite(.serialized) struct ClientRegistrationEndToEndTests {
    private func requireBinaries() throws {
        try #require(Binaries.available, "built programs not found in \(Binaries.directory.path); run make build or set AUTHD_BIN_DIR")
    }

    private static func config(_ baseURL: String) -> String {
        """
        [audience.demo]
        issuer    = "\(baseURL)"
        client_id = "register"
        scopes    = ["openid", "offline_access"]

        """
    }

    private func start(_ name: String, server arguments: [String]) async throws -> (DevServer, DaemonUnderTest) {
        try await offPoolValue {
            let scratch = Scratch(name)
            let server = try DevServer(scratch, arguments: arguments)
            let daemon = try DaemonUnderTest(scratch, config: Self.config(server.baseURL))
            try daemon.start()
            return (server, daemon)
        }
    }

    @Test func registersOnceReusesAfterARestartAndForgetClientDeletesIt() async throws {
        try requireBinaries()
        let (server, daemon) = try await start("register-once", server: ["--interval", "1", "--auto-approve"])
        let first = try await daemon.clientOffPool("authctl", ["login", "demo"])
        #expect(first.status == 0, "\(first.stderr)")
        let registered = server.requests(endpoint: "register").filter { $0["result"] as? String == "registered" }
        #expect(registered.count == 1, "\(server.requests(endpoint: "register"))")
        let clientID = try #require(registered.first?["client_id"] as? String)
        #expect(clientID.hasPrefix("dyn-"))
        // The login was made with the registered client id.
        #expect(server.requests(endpoint: "token").allSatisfy { $0["client_id"] as? String == clientID })

        // A restart keeps the registration (and the login): a new login uses the same client, no new registration.
        try await offPoolValue {
            daemon.stop()
            try daemon.start()
        }
        let relogin = try await daemon.clientOffPool("authctl", ["login", "demo"])
        #expect(relogin.status == 0, "\(relogin.stderr)")
        #expect(server.requests(endpoint: "register").filter { $0["result"] as? String == "registered" }.count == 1)
        let tokenRequests = server.requests(endpoint: "token")
        #expect(tokenRequests.count >= 2 && tokenRequests.allSatisfy { $0["client_id"] as? String == clientID }, "\(tokenRequests)")

        // logout --forget-client revokes, then deletes the registration at the provider.
        let logout = try await daemon.clientOffPool("authctl", ["logout", "demo", "--forget-client"])
        #expect(logout.status == 0, "\(logout.stdout)\(logout.stderr)")
        #expect(logout.stdout.contains("registered client \(clientID) deleted at the provider"), "\(logout.stdout)")
        let deleted = server.requests(endpoint: "register").filter { $0["result"] as? String == "deleted" }
        #expect(deleted.count == 1 && deleted.first?["client_id"] as? String == clientID)
        #expect(daemon.allLogs.contains("client_forgotten") || daemon.allLogs.contains("deleted at the provider"))

        // A second --forget-client has nothing to forget; the next login registers a new client.
        let again = try await daemon.clientOffPool("authctl", ["logout", "demo", "--forget-client"])
        #expect(again.status == 0 && again.stdout.contains("no registered client to forget"), "\(again.stdout)\(again.stderr)")
        let fresh = try await daemon.clientOffPool("authctl", ["login", "demo"])
        #expect(fresh.status == 0, "\(fresh.stderr)")
        let registrations = server.requests(endpoint: "register").filter { $0["result"] as? String == "registered" }
        #expect(registrations.count == 2 && registrations.last?["client_id"] as? String != clientID)

        // The devserver's registration access tokens start with "rat-": none is in authd's logs, a client's
        // output or the store file's bytes (sealed there), nor in the devserver's request log.
        let store = try Data(contentsOf: URL(fileURLWithPath: daemon.stateDirectory + "/tokens.store"))
        #expect(store.range(of: Data("rat-".utf8)) == nil)
        #expect(!daemon.allLogs.contains("rat-"))
        for output in [first, relogin, logout, again, fresh] { #expect(!output.stdout.contains("rat-") && !output.stderr.contains("rat-")) }
        #expect(!server.running.stderrText.contains("rat-"))
        #expect(!server.running.stderrText.contains("registration_access_token"))
    }

    @Test func aRefusedRegistrationNamesTheProvidersSetting() async throws {
        try requireBinaries()
        let (server, daemon) = try await start("register-refused", server: ["--interval", "1", "--auto-approve", "--registration-disabled"])
        let get = try await daemon.clientOffPool("authctl", ["login", "demo"])
        #expect(get.status == 1, "\(get.stdout)\(get.stderr)")
        #expect(get.stdout.isEmpty)
        #expect(get.stderr.contains("refused to register authd as a client (HTTP 403"), "\(get.stderr)")
        #expect(get.stderr.contains("register a public client by hand and set client_id"), "\(get.stderr)")
        #expect(server.requests(endpoint: "register").first?["result"] as? String == "refused")
        #expect(server.requests(endpoint: "token").isEmpty && server.requests(endpoint: "device_authorization").isEmpty)
    }

    @Test func keycloaksRefusalNamesItsRegistrationPolicies() async throws {
        try requireBinaries()
        let (server, daemon) = try await offPoolValue {
            let scratch = Scratch("register-keycloak")
            let server = try DevServer(scratch, arguments: ["--profile", "keycloak", "--interval", "1", "--auto-approve", "--registration-disabled"])
            let daemon = try DaemonUnderTest(scratch, config: """
                [audience.demo]
                provider  = "keycloak"
                base_url  = "\(server.baseURL)/realms/engineering"
                client_id = "register"

                """)
            try daemon.start()
            return (server, daemon)
        }
        let get = try await daemon.clientOffPool("authctl", ["login", "demo"])
        #expect(get.status == 1, "\(get.stdout)\(get.stderr)")
        #expect(get.stderr.contains("Policy 'Trusted Hosts' rejected request"), "\(get.stderr)")
        #expect(get.stderr.contains("Client Registration Policies"), "\(get.stderr)")
        #expect(server.requests(endpoint: "register").count == 1)
    }
}
