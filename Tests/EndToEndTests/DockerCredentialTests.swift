// docker-credential-authctl end to end: the helper protocol fed directly against a scripted daemon, and skopeo against authd-devserver's registry.
import Foundation
import Testing

func dockerHelperBuilt() -> Bool {
    clientBinariesBuilt() && FileManager.default.isExecutableFile(atPath: Binaries.path("docker-credential-authctl"))
}

/// The first executable called `name` on the system PATH, as `command -v` finds it.
func commandOnPath(_ name: String) -> String? {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
    for directory in path.split(separator: ":") + ["/usr/bin", "/usr/sbin", "/usr/local/bin"] {
        let candidate = "\(directory)/\(name)"
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
    }
    return nil
}

@Suite("docker-credential-authctl against a scripted daemon", .enabled(if: dockerHelperBuilt()))
struct DockerHelperProtocolTests {
    static let config = """
        [daemon]
        autostart = false
        [audience.demo]
        device_authorization_endpoint = "http://127.0.0.1:9/device_authorization"
        token_endpoint = "http://127.0.0.1:9/token"
        client_id = "authctl-test"
        registries = ["127.0.0.1:5000", "ghcr.io"]
        [audience.gl]
        device_authorization_endpoint = "http://127.0.0.1:9/device_authorization"
        token_endpoint = "http://127.0.0.1:9/token"
        client_id = "authctl-test"
        git_username = "gl-user"
        registries = ["registry.gitlab.example.com"]
        """

    @Test("get answers ServerURL, Username and Secret for a mapped registry, with or without scheme and path, asking for 10 minutes",
          arguments: ["127.0.0.1:5000", "127.0.0.1:5000\n", "https://127.0.0.1:5000", "http://127.0.0.1:5000/v2/"])
    func get(input: String) async throws {
        let kit = try ClientTestKit(config: Self.config) { _ in [ScriptedDaemon.token("tok-registry")] }
        let result = try await kit.run("docker-credential-authctl", ["get"], stdin: input)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == #"{"ServerURL":"127.0.0.1:5000","Username":"oauth2","Secret":"tok-registry"}"# + "\n")
        #expect(result.stderr.isEmpty)
        let request = try #require(kit.daemon?.requests.first)
        #expect(request["op"] as? String == "get")
        #expect(request["audience"] as? String == "demo")
        #expect(request["min_valid"] as? Int == 600)
        #expect(request["interactive"] as? Bool == false)
    }

    @Test("the user name is registry_username, else the audience's git user name")
    func username() async throws {
        let kit = try ClientTestKit(config: Self.config) { _ in [ScriptedDaemon.token("tok-gl")] }
        let result = try await kit.run("docker-credential-authctl", ["get"], stdin: "registry.gitlab.example.com")
        #expect(result.stdout == #"{"ServerURL":"registry.gitlab.example.com","Username":"gl-user","Secret":"tok-gl"}"# + "\n")
    }

    @Test("an unmapped registry gets docker's not-found text and exit 1, and the daemon is never asked",
          arguments: ["docker.io", "127.0.0.1:5001", "127.0.0.1", "https://index.docker.io/v1/"])
    func unmapped(input: String) async throws {
        let kit = try ClientTestKit(config: Self.config) { _ in [ScriptedDaemon.token()] }
        for verb in ["get", "erase"] {
            let result = try await kit.run("docker-credential-authctl", [verb], stdin: input)
            #expect(result.status == 1)
            #expect(result.stdout == "credentials not found in native keychain\n")
            #expect(result.stderr.isEmpty)
        }
        #expect(kit.daemon?.requests.isEmpty == true)
    }

    @Test("no config file: every registry is unmapped")
    func noConfig() async throws {
        let kit = try ClientTestKit(config: "") { _ in [ScriptedDaemon.token()] }
        try FileManager.default.removeItem(atPath: kit.configPath)
        let result = try await kit.run("docker-credential-authctl", ["get"], stdin: "ghcr.io")
        #expect(result.status == 1 && result.stdout == "credentials not found in native keychain\n")
        #expect(kit.daemon?.requests.isEmpty == true)
    }

    @Test("malformed input is refused with one line on stdout and stderr, exit 1, nothing sent",
          arguments: [("", "no server URL on stdin"), ("\n", "no server URL on stdin"),
                      ("https://user:pw@127.0.0.1:5000", "no user name or password"),
                      ("127.0.0.1:5000 extra", "no spaces"), ("ftp://127.0.0.1:5000", "not ftp://"),
                      (String(repeating: "a", count: 20_000), "more than 16 KiB"),
                      (String(repeating: "a", count: 3000) + ".example", "longer than 2048 bytes")])
    func malformed(input: String, message: String) async throws {
        let kit = try ClientTestKit(config: Self.config) { _ in [ScriptedDaemon.token()] }
        let result = try await kit.run("docker-credential-authctl", ["get"], stdin: input)
        #expect(result.status == 1)
        #expect(result.stdout.contains(message), "\(result.stdout)")
        #expect(result.stderrLines.count == 1 && result.stderr.contains(message), "\(result.stderr)")
        #expect(!result.stdout.contains("pw") && !result.stderr.contains("pw"))
        #expect(kit.daemon?.requests.isEmpty == true)
    }

    @Test("without a terminal no device flow starts: exit 1 naming authctl login AUD")
    func loginNeeded() async throws {
        let kit = try ClientTestKit(config: Self.config) { _ in
            [ScriptedDaemon.failure("login_needed", "demo: login needed (not logged in) and nobody can be prompted here")]
        }
        let result = try await kit.run("docker-credential-authctl", ["get"], stdin: "ghcr.io")
        #expect(result.status == 1)
        #expect(result.stderrLines.count == 1)
        #expect(result.stderr.contains("run: authctl login demo"), "\(result.stderr)")
        #expect(!result.stdout.contains("Secret"))
    }

    @Test("erase makes the daemon stop serving the audience's current token, by its fingerprint")
    func erase() async throws {
        let kit = try ClientTestKit(config: Self.config) { request in
            request["op"] as? String == "get" ? [ScriptedDaemon.token("tok-current")]
                : [#"{"ok":true,"erased":true,"audience":"demo"}"#]
        }
        let result = try await kit.run("docker-credential-authctl", ["erase"], stdin: "ghcr.io")
        #expect(result.status == 0 && result.stdout.isEmpty, "\(result.stdout) \(result.stderr)")
        let requests = try #require(kit.daemon?.requests)
        #expect(requests.map { $0["op"] as? String } == ["get", "erase"])
        #expect(requests.first?["min_valid"] as? Int == 0)
        #expect(requests.first?["interactive"] as? Bool == false)
        #expect(requests.last?["audience"] as? String == "demo")
        // The fingerprint the daemon reported for the token it serves (ScriptedDaemon.token's).
        #expect(requests.last?["fingerprint"] as? String == "0123456789abcdef")
    }

    @Test("erase with nobody logged in, or no daemon running, has nothing to stop and succeeds")
    func eraseNothing() async throws {
        let loggedOut = try ClientTestKit(config: Self.config) { _ in [ScriptedDaemon.failure("login_needed", "demo: login needed")] }
        let first = try await loggedOut.run("docker-credential-authctl", ["erase"], stdin: "ghcr.io")
        #expect(first.status == 0 && first.stdout.isEmpty && first.stderr.isEmpty)
        #expect(loggedOut.daemon?.requests.count == 1)
        let noDaemon = try ClientTestKit(config: Self.config)
        let second = try await noDaemon.run("docker-credential-authctl", ["erase"], stdin: "ghcr.io")
        #expect(second.status == 0 && second.stdout.isEmpty && second.stderr.isEmpty, "\(second.stderr)")
    }

    @Test("store reads docker's JSON and does nothing; list names every registry and its user name")
    func storeAndList() async throws {
        let kit = try ClientTestKit(config: Self.config) { _ in [ScriptedDaemon.token()] }
        let store = try await kit.run("docker-credential-authctl", ["store"],
                                      stdin: #"{"ServerURL":"ghcr.io","Username":"u","Secret":"s"}"#)
        #expect(store.status == 0 && store.stdout.isEmpty && store.stderr.isEmpty)
        let list = try await kit.run("docker-credential-authctl", ["list"])
        #expect(list.status == 0)
        #expect(list.stdout == #"{"127.0.0.1:5000":"oauth2","ghcr.io":"oauth2","registry.gitlab.example.com":"gl-user"}"# + "\n")
        #expect(kit.daemon?.requests.isEmpty == true)
    }

    @Test("an unknown verb prints the usage on stderr and exits 1")
    func unknownVerb() async throws {
        let kit = try ClientTestKit(config: Self.config) { _ in [ScriptedDaemon.token()] }
        for arguments in [[], ["frobnicate"]] {
            let result = try await kit.run("docker-credential-authctl", arguments)
            #expect(result.status == 1 && result.stdout.isEmpty)
            #expect(result.stderr.contains("usage: docker-credential-authctl get|store|erase|list"))
        }
    }
}

@Suite("skopeo through docker-credential-authctl against authd-devserver's registry", .enabled(if: dockerHelperBuilt()))
struct SkopeoTests {
    @Test("skopeo inspect succeeds through the helper; an unmapped registry is anonymous; erase stops the token")
    func inspectAnonymousErase() async throws {
        guard realStackAvailable() else { print("skipping: the daemon is not built"); return }
        guard let skopeo = commandOnPath("skopeo") else {
            print("skipping: skopeo is not installed (make deps installs it: apt-get install skopeo)")
            return
        }
        let scratch = Scratch("skopeo")
        let server = try await offPoolValue { try DevServer(scratch, arguments: ["--interval", "1", "--auto-approve", "0"]) }
        let port = try #require(server.baseURL.split(separator: ":").last)
        let registry = "127.0.0.1:\(port)"
        // The same registry under another name, which no audience lists: the helper says not found.
        let unmapped = "localhost:\(port)"
        let daemon = try DaemonUnderTest(scratch, config: demoConfig(server.baseURL, extra: "registries = [\"\(registry)\"]"))
        try await offPoolValue { try daemon.start() }
        let login = try await daemon.clientOffPool("authctl", ["login", "demo"])
        #expect(login.status == 0, "\(login.stderr)")
        try scratch.write("auth.json", #"{"credHelpers":{"\#(registry)":"authctl","\#(unmapped)":"authctl"}}"#)

        func inspect(_ host: String) async throws -> Command.Result {
            // The registry is plain HTTP on loopback: --tls-verify=false lets skopeo use it.
            try await offPool(skopeo, ["inspect", "--tls-verify=false", "--authfile", scratch.path("auth.json"),
                                       "docker://\(host)/demo/hello:latest"], environment: daemon.environment, timeout: 60)
        }
        func issued() -> [String] {
            server.requests(endpoint: "registry_token").filter { $0["result"] as? String == "issued" }.compactMap { $0["fp"] as? String }
        }

        let first = try await inspect(registry)
        #expect(first.status == 0, "\(first.stderr)\n\(server.running.stderrText)")
        let manifest = try JSONSerialization.jsonObject(with: Data(first.stdout.utf8)) as? [String: Any]
        #expect((manifest?["Digest"] as? String)?.hasPrefix("sha256:") == true)
        #expect(manifest?["Architecture"] as? String == "amd64")
        #expect((manifest?["RepoTags"] as? [String]) == ["latest"])
        let firstTokens = issued()
        #expect(firstTokens.count >= 1 && Set(firstTokens).count == 1)

        let anonymous = try await inspect(unmapped)
        #expect(anonymous.status != 0)
        #expect(!server.requests(endpoint: "registry_token").filter { $0["result"] as? String == "anonymous_refused" }.isEmpty)
        #expect(issued() == firstTokens)

        let erase = try await daemon.clientOffPool("docker-credential-authctl", ["erase"], stdin: registry)
        #expect(erase.status == 0 && erase.stdout.isEmpty, "\(erase.stdout) \(erase.stderr)")
        let again = try await inspect(registry)
        #expect(again.status == 0, "\(again.stderr)")
        let after = issued().dropFirst(firstTokens.count)
        #expect(!after.isEmpty && !after.contains(firstTokens[0]), "the erased token was served again")
        #expect(server.requests(endpoint: "device_authorization").count == 1)
        for text in [first.stderr, again.stderr, anonymous.stderr, daemon.allLogs] {
            #expect(!text.contains("\"Secret\""))
        }
    }
}

@Suite("authd-devserver's registry and Kubernetes stand-ins take only live access tokens", .enabled(if: Binaries.available))
struct DevServerStandInTests {
    static func curl(_ arguments: [String]) async throws -> (status: Int, body: String, headers: String) {
        let result = try await offPool("/usr/bin/curl", ["-s", "-D", "/dev/stderr", "-o", "-", "-w", "\n%{http_code}"] + arguments)
        let text = result.stdout
        guard let newline = text.lastIndex(of: "\n"), let status = Int(text[text.index(after: newline)...]) else {
            throw HarnessError("curl failed: \(result.stderr)")
        }
        return (status, String(text[..<newline]), result.stderr)
    }

    /// An access token from the devserver by a device flow it approves at once.
    static func accessToken(_ server: DevServer) throws -> String {
        let authorization = try HTTP.post(server.baseURL + "/device_authorization", form: ["client_id": "c"])
        let code = try #require(try JSONSerialization.jsonObject(with: authorization.body) as? [String: Any])["device_code"] as? String
        let deviceCode = try #require(code)
        var token: String?
        // --auto-approve approves at the first poll or soon after: poll (interval 0) until it has.
        _ = try Bounds.waitUntil {
            let grant = try HTTP.post(server.baseURL + "/token", form: ["client_id": "c", "device_code": deviceCode,
                                                                        "grant_type": "urn:ietf:params:oauth:grant-type:device_code"])
            token = (try? JSONSerialization.jsonObject(with: grant.body) as? [String: Any])?["access_token"] as? String
            return token != nil
        }
        return try #require(token)
    }

    @Test("the token flow, a manifest whose digest is right, and 401 once the access token is revoked")
    func registry() async throws {
        let scratch = Scratch("standin")
        let server = try await offPoolValue { try DevServer(scratch, arguments: ["--interval", "0", "--auto-approve"]) }
        let challenge = try await Self.curl([server.baseURL + "/v2/"])
        #expect(challenge.status == 401)
        #expect(challenge.headers.contains("WWW-Authenticate: Bearer realm=\"\(server.baseURL)/registry/token\",service=\"authd-devserver\""))
        #expect(try await Self.curl([server.baseURL + "/registry/token?service=authd-devserver"]).status == 401)
        #expect(try await Self.curl(["-u", "oauth2:not-a-token", server.baseURL + "/registry/token"]).status == 401)

        let access = try await offPoolValue { try Self.accessToken(server) }
        // The password goes to curl on stdin (a netrc-style -K config), not in its argv.
        let basic = try await offPool("/usr/bin/curl", ["-s", "-K", "-", server.baseURL + "/registry/token?scope=repository:demo/hello:pull"],
                                      stdin: "user = \"oauth2:\(access)\"\n")
        let registryToken = try #require((try JSONSerialization.jsonObject(with: Data(basic.stdout.utf8)) as? [String: Any])?["token"] as? String)
        let manifestURL = server.baseURL + "/v2/demo/hello/manifests/latest"
        let manifest = try await offPool("/usr/bin/curl", ["-s", "-K", "-", manifestURL], stdin: "header = \"Authorization: Bearer \(registryToken)\"\n")
        let digest = try await offPool("/usr/bin/sha256sum", [], stdin: manifest.stdout)
        let headers = try await offPool("/usr/bin/curl", ["-s", "-o", "/dev/null", "-D", "-", "-K", "-", manifestURL],
                                        stdin: "header = \"Authorization: Bearer \(registryToken)\"\n")
        #expect(headers.stdout.contains("Docker-Content-Digest: sha256:\(digest.stdout.prefix(64))"))
        #expect(headers.stdout.contains("Content-Type: application/vnd.oci.image.manifest.v1+json"))

        let revoked = try HTTP.post(server.baseURL + "/revoke", form: ["token": access])
        #expect(revoked.status == 200)
        let after = try await offPool("/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "-K", "-", manifestURL],
                                      stdin: "header = \"Authorization: Bearer \(registryToken)\"\n")
        #expect(after.stdout == "401", "a registry token outlived the access token it was issued for")
    }

    @Test("the Kubernetes stand-in answers a live access token and refuses a revoked one, with a Status object")
    func kube() async throws {
        let scratch = Scratch("standin")
        let server = try await offPoolValue { try DevServer(scratch, arguments: ["--interval", "0", "--auto-approve"]) }
        let access = try await offPoolValue { try Self.accessToken(server) }
        func get(_ path: String) async throws -> Command.Result {
            try await offPool("/usr/bin/curl", ["-s", "-w", "\n%{http_code}", "-K", "-", server.baseURL + path],
                              stdin: "header = \"Authorization: Bearer \(access)\"\n")
        }
        let namespaces = try await get("/api/v1/namespaces")
        #expect(namespaces.stdout.hasSuffix("\n200") && namespaces.stdout.contains("\"NamespaceList\""))
        #expect(try await get("/api/v1/namespaces/nope").stdout.hasSuffix("\n404"))
        #expect(try await Self.curl([server.baseURL + "/version"]).status == 401)
        _ = try HTTP.post(server.baseURL + "/revoke", form: ["token": access])
        let refused = try await get("/version")
        #expect(refused.stdout.hasSuffix("\n401") && refused.stdout.contains("\"kind\":\"Status\""))
    }
}

@Suite("docker-credential-authctl on its own", .enabled(if: dockerHelperBuilt()))
struct DockerHelperHelpTests {
    @Test("--help says what it does and how to set it up; --man is a roff page")
    func help() async throws {
        try await offPoolValue {
            let help = try Command.run(Binaries.path("docker-credential-authctl"), ["--help"])
            #expect(help.status == 0 && help.stdout.hasPrefix("usage: docker-credential-authctl get|store|erase|list|version"), "\(help.stdout)")
            #expect(help.stdout.contains("authctl setup docker"))
            let man = try Command.run(Binaries.path("docker-credential-authctl"), ["--man"])
            #expect(man.status == 0 && man.stdout.hasPrefix(".TH DOCKER\\-CREDENTIAL\\-AUTHCTL 1"), "\(man.stdout)")
            #expect(man.stdout.contains(".SH DESCRIPTION\n.PP\n") && man.stdout.contains("credHelpers"), "\(man.stdout)")
        }
    }
}
