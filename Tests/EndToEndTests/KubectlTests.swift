// authctl kube-credential end to end: the exec plugin protocol against a scripted daemon, and real kubectl over TLS against authd-devserver.
import Foundation
import Testing

@Suite("authctl kube-credential against a scripted daemon", .enabled(if: clientBinariesBuilt()))
struct KubeCredentialProtocolTests {
    /// `demo` asks for openid; `bearer-demo` does not.
    static let openidConfig = ClientTestKit.defaultConfig.replacingOccurrences(
        of: "git_urls = [\"http://127.0.0.1:9/git/\"]", with: "git_urls = [\"http://127.0.0.1:9/git/\"]\nscopes = [\"openid\"]")

    static func run(_ kit: ClientTestKit, _ arguments: [String], info: String?) async throws -> Command.Result {
        var environment = kit.environment
        if let info { environment["KUBERNETES_EXEC_INFO"] = info }
        return try await offPool(Binaries.path("authctl"), ["kube-credential"] + arguments, environment: environment, timeout: 30)
    }

    static func info(_ version: String, interactive: Bool) -> String {
        #"{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/\#(version)","spec":{"interactive":\#(interactive)}}"#
    }

    @Test("--token access answers an ExecCredential in the version kubectl asked, with the token's own expiry",
          arguments: [("v1", "v1"), ("v1beta1", "v1beta1"), (nil, "v1")] as [(String?, String)])
    func access(asked: String?, answered: String) async throws {
        let kit = try ClientTestKit { _ in [ScriptedDaemon.token("tok-kube", expiresAt: 1_900_000_000)] }
        let result = try await Self.run(kit, ["demo", "--token", "access"], info: asked.map { Self.info($0, interactive: false) })
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == #"{"apiVersion":"client.authentication.k8s.io/\#(answered)","kind":"ExecCredential","status":{"token":"tok-kube","expirationTimestamp":"2030-03-17T17:46:40Z"}}"# + "\n")
        let request = try #require(kit.daemon?.requests.first)
        #expect(request["op"] as? String == "get" && request["token"] == nil)
        #expect(request["interactive"] as? Bool == false)
    }

    @Test("spec.interactive false: never a device flow; login needed exits 3 with one line naming authctl login")
    func nonInteractive() async throws {
        let kit = try ClientTestKit { _ in [ScriptedDaemon.failure("login_needed", "demo: login needed (not logged in) and nobody can be prompted here")] }
        let result = try await Self.run(kit, ["demo", "--token", "access"], info: Self.info("v1", interactive: false))
        #expect(result.status == 3)
        #expect(result.stdout.isEmpty)
        #expect(result.stderrLines.count == 1 && result.stderr.contains("run: authctl login demo"), "\(result.stderr)")
        #expect(kit.daemon?.requests.first?["interactive"] as? Bool == false)
    }

    @Test("spec.interactive true lets the daemon prompt (on stderr without a terminal)")
    func interactive() async throws {
        let kit = try ClientTestKit { _ in [ScriptedDaemon.token("tok-i")] }
        let result = try await Self.run(kit, ["demo", "--token", "access"], info: Self.info("v1", interactive: true))
        #expect(result.status == 0)
        #expect(kit.daemon?.requests.first?["interactive"] as? Bool == true)
    }

    @Test("--token id asks for the verified id_token (the default for an openid audience) and serves it with its expiry")
    func idToken() async throws {
        let kit = try ClientTestKit(config: Self.openidConfig) { request in
            request["token"] as? String == "id" ? [#"{"ok":true,"id_token":"eyJh.eyJz.c2ln","expires_at":1900000000}"#]
                : [ScriptedDaemon.token("tok-access-not-wanted")]
        }
        for arguments in [["demo", "--token", "id"], ["demo"]] {
            let result = try await Self.run(kit, arguments, info: Self.info("v1", interactive: false))
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout.contains(#""token":"eyJh.eyJz.c2ln","expirationTimestamp":"2030-03-17T17:46:40Z""#))
        }
        #expect(kit.daemon?.requests.allSatisfy { $0["token"] as? String == "id" } == true)
    }

    @Test("a daemon that answers --token id with an access token is refused: an access token is never served as an id_token")
    func idTokenFromOlderDaemon() async throws {
        let kit = try ClientTestKit { _ in [ScriptedDaemon.token("tok-access")] }
        let result = try await Self.run(kit, ["demo", "--token", "id"], info: nil)
        #expect(result.status == 1)
        #expect(result.stdout.isEmpty && !result.stderr.contains("tok-access"))
        #expect(result.stderr.contains("without an id_token, with an access token instead")
                && result.stderr.contains("older than this authctl") && result.stderr.contains("--token access"), "\(result.stderr)")
    }

    @Test("an ok answer with no token at all is refused and says to try again or log in, not to blame the daemon's age")
    func idTokenAnswerWithoutToken() async throws {
        let kit = try ClientTestKit { _ in [#"{"ok":true,"expires_at":1900000000}"#] }
        let result = try await Self.run(kit, ["demo", "--token", "id"], info: nil)
        #expect(result.status == 1)
        #expect(result.stdout.isEmpty && result.stderrLines.count == 1)
        #expect(result.stderr.contains("without an id_token, with no token at all") && result.stderr.contains("authctl login demo")
                && !result.stderr.contains("older"), "\(result.stderr)")
    }

    @Test("a bad KUBERNETES_EXEC_INFO or --token value is a usage error (exit 2) before the daemon is asked",
          arguments: [(["demo", "--token", "access"], #"{"apiVersion":"client.authentication.k8s.io/v1alpha1"}"#),
                      (["demo", "--token", "access"], "{"), (["demo", "--token", "refresh"], nil)] as [([String], String?)])
    func usage(arguments: [String], info: String?) async throws {
        let kit = try ClientTestKit { _ in [ScriptedDaemon.token()] }
        let result = try await Self.run(kit, arguments, info: info)
        #expect(result.status == 2)
        #expect(result.stdout.isEmpty && result.stderrLines.count == 1)
        #expect(kit.daemon?.requests.isEmpty == true)
    }

    @Test("--print-kubeconfig writes the users: entry with the token kind resolved from the config")
    func printKubeconfig() async throws {
        let kit = try ClientTestKit(config: Self.openidConfig)
        let result = try await Self.run(kit, ["demo", "--print-kubeconfig", "dev"], info: nil)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("- name: \"dev\"\n"))
        #expect(result.stdout.contains("      - kube-credential\n      - demo\n      - --token\n      - id\n"))
        #expect(result.stdout.contains("interactiveMode: IfAvailable") && result.stdout.contains("installHint: |"))
        let access = try await Self.run(kit, ["bearer-demo", "--print-kubeconfig", "dev"], info: nil)
        #expect(access.stdout.contains("      - --token\n      - access\n"))
    }
}

/// A TLS front for the devserver's plain-HTTP Kubernetes stand-in (kubectl runs exec plugins only
/// for https:// servers): a self-signed certificate for 127.0.0.1 made with openssl, served by socat.
final class TLSFront: @unchecked Sendable {
    let running: RunningProcess
    let url: String
    let certificate: String

    init(_ scratch: Scratch, backendPort: String) throws {
        certificate = scratch.path("tls/cert.pem")
        let key = scratch.path("tls/key.pem")
        try FileManager.default.createDirectory(atPath: scratch.path("tls"), withIntermediateDirectories: true)
        let made = try Command.run("/usr/bin/openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                                                         "-nodes", "-keyout", key, "-out", certificate, "-days", "1",
                                                         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"])
        guard made.status == 0 else { throw HarnessError("openssl req: \(made.stderr)") }
        let port = try Self.freeLoopbackPort()
        running = try RunningProcess(
            executable: "/usr/bin/socat",
            arguments: ["OPENSSL-LISTEN:\(port),bind=127.0.0.1,reuseaddr,fork,cert=\(certificate),key=\(key),verify=0",
                        "TCP:127.0.0.1:\(backendPort)"],
            environment: ["PATH": "/usr/bin:/bin"], stderrPath: scratch.path("socat.log"), captureStdout: false)
        url = "https://127.0.0.1:\(port)"
        let listening = Bounds.waitUntil(timeout: 20) {
            (try? Command.run("/usr/bin/curl", ["-s", "-o", "/dev/null", "--cacert", certificate, url + "/version"], timeout: 5).status) == 0
        }
        guard listening else { throw HarnessError("socat did not start: \(running.stderrText)") }
    }

    /// A port nothing listens on now; socat binds it a moment later (reuseaddr).
    static func freeLoopbackPort() throws -> UInt16 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        guard bound else { throw HarnessError("bind: errno \(errno)") }
        return UInt16(bigEndian: address.sin_port)
    }

    deinit { running.stop() }
}

@Suite("kubectl through authctl kube-credential against authd-devserver over TLS", .enabled(if: clientBinariesBuilt()))
struct KubectlTests {
    struct Cluster {
        let scratch: Scratch
        let server: DevServer
        let daemon: DaemonUnderTest
        let front: TLSFront
        let environment: [String: String]
    }

    /// `token`: the `--token` written into the users: entry; nil leaves it to authctl (`id` for demo, which asks for openid).
    static func cluster(_ name: String, serverArguments: [String] = [], token: String? = "access") async throws -> Cluster? {
        guard realStackAvailable() else { print("skipping: the daemon is not built"); return nil }
        guard commandOnPath("kubectl") != nil else { print("skipping: kubectl is not on PATH"); return nil }
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/socat") else { print("skipping: socat is not installed (make deps)"); return nil }
        let scratch = Scratch(name)
        let server = try await offPoolValue { try DevServer(scratch, arguments: ["--interval", "1", "--auto-approve", "0"] + serverArguments) }
        let daemon = try DaemonUnderTest(scratch, config: demoConfig(server.baseURL))
        try await offPoolValue { try daemon.start() }
        let backendPort = String(try #require(server.baseURL.split(separator: ":").last))
        let front = try await offPoolValue { try TLSFront(scratch, backendPort: backendPort) }
        // The users: entry is authctl's own, so the test also covers what a person pastes.
        let users = try await daemon.clientOffPool("authctl", ["kube-credential", "demo"] + (token.map { ["--token", $0] } ?? [])
                                                        + ["--print-kubeconfig", "dev"])
        guard users.status == 0 else { throw HarnessError("--print-kubeconfig: \(users.stderr)") }
        try scratch.write("kubeconfig", """
            apiVersion: v1
            kind: Config
            clusters:
            - name: dev
              cluster:
                server: \(front.url)
                certificate-authority: \(front.certificate)
            contexts:
            - name: dev
              context:
                cluster: dev
                user: dev
            current-context: dev
            \(users.stdout)
            """)
        var environment = daemon.environment
        environment["KUBECONFIG"] = scratch.path("kubeconfig")
        return Cluster(scratch: scratch, server: server, daemon: daemon, front: front, environment: environment)
    }

    static func kubectl(_ cluster: Cluster, _ arguments: [String]) async throws -> Command.Result {
        try await offPool(try #require(commandOnPath("kubectl")), arguments, environment: cluster.environment, timeout: 60)
    }

    static func kubeRequests(_ cluster: Cluster, result: String, credential: String? = nil) -> Int {
        cluster.server.requests(endpoint: "kube").filter {
            $0["result"] as? String == result && (credential == nil || $0["credential"] as? String == credential)
        }.count
    }

    /// The HTTP status the stand-in (through the TLS front) answers `token` with; the header goes
    /// to curl on stdin, so no token is in an argument list.
    static func status(_ cluster: Cluster, presenting token: String) throws -> Int {
        let result = try Command.run("/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", cluster.front.certificate,
                                                        "-H", "@-", cluster.front.url + "/api/v1/namespaces"],
                                     stdin: "Authorization: Bearer \(token)\n", timeout: 20)
        guard let code = Int(result.stdout) else { throw HarnessError("curl: \(result.stderr)") }
        return code
    }

    /// What kubectl would be handed now (non-interactive), as kube-credential answers it.
    static func pluginToken(_ cluster: Cluster) async throws -> String {
        var environment = cluster.environment
        environment["KUBERNETES_EXEC_INFO"] = #"{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{"interactive":false}}"#
        let plugin = try await offPool(Binaries.path("authctl"), ["kube-credential", "demo"], environment: environment)
        guard plugin.status == 0 else { throw HarnessError("kube-credential: \(plugin.stderr)") }
        let credential = try JSONSerialization.jsonObject(with: Data(plugin.stdout.utf8)) as? [String: Any]
        return try #require((credential?["status"] as? [String: Any])?["token"] as? String)
    }

    static func base64URL(_ text: Substring) -> Data? {
        var standard = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while standard.count % 4 != 0 { standard += "=" }
        return Data(base64Encoded: standard)
    }

    static func base64URL(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    @Test("after a fresh login kubectl lists namespaces with the access token authctl serves")
    func freshLogin() async throws {
        guard let cluster = try await Self.cluster("kube-login") else { return }
        let login = try await cluster.daemon.clientOffPool("authctl", ["login", "demo"])
        #expect(login.status == 0, "\(login.stderr)")
        let raw = try await Self.kubectl(cluster, ["get", "--raw", "/api/v1/namespaces"])
        #expect(raw.status == 0, "\(raw.stderr)\n\(cluster.server.running.stderrText)")
        #expect(raw.stdout.contains("\"kube-system\""))
        let names = try await Self.kubectl(cluster, ["get", "namespaces", "-o", "name"])
        #expect(names.status == 0, "\(names.stderr)")
        #expect(names.stdout == "namespace/default\nnamespace/kube-system\n")
        #expect(Self.kubeRequests(cluster, result: "ok") >= 2)
        #expect(Self.kubeRequests(cluster, result: "invalid_token") == 0)
        #expect(cluster.server.requests(endpoint: "device_authorization").count == 1)
    }

    @Test("an expired token is replaced without a prompt")
    func expiredReplaced() async throws {
        guard let cluster = try await Self.cluster("kube-expiry", serverArguments: ["--access-token-ttl", "3"]) else { return }
        let login = try await cluster.daemon.clientOffPool("authctl", ["login", "demo"])
        #expect(login.status == 0, "\(login.stderr)")
        // What kubectl would be handed now; then wait until the provider no longer accepts it.
        var environment = cluster.environment
        environment["KUBERNETES_EXEC_INFO"] = #"{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{"interactive":false}}"#
        let plugin = try await offPool(Binaries.path("authctl"), ["kube-credential", "demo", "--token", "access"], environment: environment)
        #expect(plugin.status == 0, "\(plugin.stderr)")
        let credential = try JSONSerialization.jsonObject(with: Data(plugin.stdout.utf8)) as? [String: Any]
        let old = try #require((credential?["status"] as? [String: Any])?["token"] as? String)
        #expect(Bounds.waitUntil { (try? cluster.server.isActive(old)) == false }, "the token never expired")

        let after = try await Self.kubectl(cluster, ["get", "--raw", "/api/v1/namespaces"])
        #expect(after.status == 0, "\(after.stderr)")
        #expect(!after.stderr.contains("user code") && !after.stderr.contains("/device"))
        #expect(cluster.server.requests(endpoint: "device_authorization").count == 1)
        #expect(cluster.server.requests.contains { $0["grant_type"] as? String == "refresh_token" && $0["result"] as? String == "issued" })
    }

    @Test("non-interactive without a login: kubectl fails and shows authctl's one line naming authctl login")
    func noLogin() async throws {
        guard let cluster = try await Self.cluster("kube-nologin") else { return }
        let result = try await Self.kubectl(cluster, ["get", "--raw", "/api/v1/namespaces"])
        #expect(result.status != 0)
        let lines = result.stderr.split(separator: "\n").filter { $0.hasPrefix("authctl: ") }
        #expect(lines.count >= 1 && lines.allSatisfy { $0.contains("run: authctl login demo") }, "\(result.stderr)")
        #expect(cluster.server.requests(endpoint: "device_authorization").isEmpty)
        #expect(Self.kubeRequests(cluster, result: "ok") == 0)
    }

    @Test("an audience asking for openid: --token id is the default and kubectl succeeds with the verified id_token")
    func idTokenDefault() async throws {
        guard let cluster = try await Self.cluster("kube-id", token: nil) else { return }
        #expect(try String(contentsOfFile: cluster.scratch.path("kubeconfig"), encoding: .utf8).contains("      - --token\n      - id\n"))
        let login = try await cluster.daemon.clientOffPool("authctl", ["login", "demo"])
        #expect(login.status == 0, "\(login.stderr)")
        let names = try await Self.kubectl(cluster, ["get", "namespaces", "-o", "name"])
        #expect(names.status == 0, "\(names.stderr)\n\(cluster.server.running.stderrText)")
        #expect(names.stdout == "namespace/default\nnamespace/kube-system\n")
        #expect(Self.kubeRequests(cluster, result: "ok", credential: "id_token") >= 1)
        #expect(Self.kubeRequests(cluster, result: "ok", credential: "access_token") == 0)
        #expect(Self.kubeRequests(cluster, result: "invalid_token") == 0)
        // The token kubectl was handed is the one `authctl get --id-token` prints: three parts, a JWS.
        let served = try await cluster.daemon.clientOffPool("authctl", ["get", "demo", "--id-token"])
        #expect(served.status == 0, "\(served.stderr)")
        #expect(try await Self.pluginToken(cluster) == served.stdout.trimmingCharacters(in: .newlines))
        #expect(served.stdout.split(separator: ".").count == 3)
    }

    @Test("an expired id_token is refused by the stand-in, and kubectl gets a fresh one without a prompt")
    func expiredIDTokenReplaced() async throws {
        // id_tokens live as long as access tokens on the devserver (docs/devserver.md). Whether the
        // stand-in still takes `old` right after it was served depends on load, so it is not asserted
        // (foreignIDTokenRefused has that control); that it is refused after its exp is.
        guard let cluster = try await Self.cluster("kube-id-expiry", serverArguments: ["--access-token-ttl", "10"], token: nil) else { return }
        let login = try await cluster.daemon.clientOffPool("authctl", ["login", "demo"])
        #expect(login.status == 0, "\(login.stderr)")
        let old = try await Self.pluginToken(cluster)
        #expect(Bounds.waitUntil { (try? Self.status(cluster, presenting: old)) == 401 }, "the id_token was never refused")

        let after = try await Self.kubectl(cluster, ["get", "--raw", "/api/v1/namespaces"])
        #expect(after.status == 0, "\(after.stderr)")
        #expect(!after.stderr.contains("user code") && !after.stderr.contains("/device"))
        #expect(cluster.server.requests(endpoint: "device_authorization").count == 1)
        #expect(cluster.server.requests.contains { $0["grant_type"] as? String == "refresh_token" && $0["result"] as? String == "issued" })
        #expect(Self.kubeRequests(cluster, result: "ok", credential: "id_token") >= 2)
    }

    @Test("an id_token the stand-in did not issue is refused with 401: a changed claim, a flipped signature, alg none")
    func foreignIDTokenRefused() async throws {
        guard let cluster = try await Self.cluster("kube-id-forged", token: nil) else { return }
        let login = try await cluster.daemon.clientOffPool("authctl", ["login", "demo"])
        #expect(login.status == 0, "\(login.stderr)")
        let real = try await Self.pluginToken(cluster)
        #expect(try Self.status(cluster, presenting: real) == 200)

        let parts = real.split(separator: ".", omittingEmptySubsequences: false)
        try #require(parts.count == 3)
        let payload = try #require(Self.base64URL(parts[1]))
        var claims = try #require(try JSONSerialization.jsonObject(with: payload) as? [String: Any])
        claims["exp"] = (claims["exp"] as? Int ?? 0) + 86400
        let longer = Self.base64URL(try JSONSerialization.data(withJSONObject: claims))
        claims["aud"] = "another-client"
        let otherClient = Self.base64URL(try JSONSerialization.data(withJSONObject: claims))
        var signature = try #require(Self.base64URL(parts[2]))
        signature[signature.count / 2] ^= 0x01
        let none = Self.base64URL(Data(#"{"alg":"none","typ":"JWT"}"#.utf8))
        let forged = [
            "\(parts[0]).\(longer).\(parts[2])",
            "\(parts[0]).\(otherClient).\(parts[2])",
            "\(parts[0]).\(parts[1]).\(Self.base64URL(signature))",
            "\(none).\(parts[1]).",
        ]
        for token in forged {
            #expect(try Self.status(cluster, presenting: token) == 401, "\(token.prefix(12))…")
        }
        #expect(Self.kubeRequests(cluster, result: "invalid_token") == forged.count)
    }
}
