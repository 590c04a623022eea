// authctl end to end: exit codes, output streams, prompts, config check, completion and autostart, against real binaries.
import Foundation
import Testing

// MARK: - Kit

/// A stand-in daemon on a Unix socket that answers each request with scripted lines, so the
/// clients' side of the protocol is tested without the real daemon's timing.
final class ScriptedDaemon: @unchecked Sendable {
    /// Reply lines for a request line; `"pause:MS"` waits, `"waitfile:PATH"` waits (up to 60 s) until
    /// PATH exists, and no final line closes the connection unanswered.
    typealias Script = @Sendable (_ request: [String: Any]) -> [String]

    let path: String
    private let listener: Int32
    private let script: Script
    private let received = Locked<[[String: Any]]>([])
    private let stopped = Locked(false)
    private let finished = DispatchSemaphore(value: 0)

    init(path: String, script: @escaping Script) throws {
        brokenPipesAreErrors
        self.path = path
        self.script = script
        listener = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, b) in path.utf8.enumerated() where i < raw.count - 1 { raw[i] = b }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0, listen(listener, 64) == 0 else { throw HarnessError("scripted daemon: bind \(path): errno \(errno)") }
        let thread = Thread { [self] in serve() }
        thread.start()
    }

    var requests: [[String: Any]] { received.get() }
    /// How many `git_lookup` requests it refused.
    let lookups = Locked(0)

    private func serve() {
        defer { finished.signal() }
        while !stopped.get() {
            var entry = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            guard poll(&entry, 1, 50) > 0 else { continue }
            let connection = accept(listener, nil, nil)
            guard connection >= 0 else { continue }
            handle(connection)
            close(connection)
        }
    }

    private func handle(_ connection: Int32) {
        var line = Data()
        var byte: UInt8 = 0
        while read(connection, &byte, 1) == 1 && byte != 0x0A { line.append(byte) }
        guard let request = (try? JSONSerialization.jsonObject(with: line)) as? [String: Any] else { return }
        // Answered as an authd older than `git_lookup` answers it: git's helper then maps the URL
        // with its own config, which the tests on this daemon exercise (the real daemon's lookup is
        // GitTests' "the running daemon's config maps the URL"). Not a request the script sees.
        if request["op"] as? String == "git_lookup" {
            lookups.set(lookups.get() + 1)
            try? SocketClient.send(connection, Array((Self.failure("bad_request", "unknown op \"git_lookup\"") + "\n").utf8))
            return
        }
        received.set(received.get() + [request])
        for reply in script(request) {
            if reply.hasPrefix("pause:") {
                usleep(UInt32(reply.dropFirst(6))! * 1000)
                continue
            }
            if reply.hasPrefix("waitfile:") {
                let path = String(reply.dropFirst(9))
                let deadline = Date().addingTimeInterval(60)
                while !FileManager.default.fileExists(atPath: path) && Date() < deadline { usleep(20_000) }
                continue
            }
            try? SocketClient.send(connection, Array((reply + "\n").utf8))
        }
    }

    func stop() {
        guard !stopped.get() else { return }
        stopped.set(true)
        finished.wait()
        close(listener)
        unlink(path)
    }

    deinit { stop() }

    // Replies as the real daemon words them.
    static func token(_ token: String = "tok-scripted-1", expiresAt: Int = Int(Date().timeIntervalSince1970) + 3600) -> String {
        #"{"ok":true,"access_token":"\#(token)","token_type":"Bearer","expires_at":\#(expiresAt),"scope":"openid offline_access","fingerprint":"0123456789abcdef"}"#
    }

    static func failure(_ code: String, _ message: String, hint: String? = nil) -> String {
        var object: [String: Any] = ["ok": false, "error": code, "message": message]
        if let hint { object["hint"] = hint }
        return String(decoding: try! JSONSerialization.data(withJSONObject: object), as: UTF8.self)
    }

    static func prompt(_ audience: String) -> String {
        let now = Int(Date().timeIntervalSince1970)
        return #"{"event":"prompt","audience":"\#(audience)","verification_uri":"http://127.0.0.1:9/device","user_code":"WXYZ-1234","verification_uri_complete":"http://127.0.0.1:9/device?user_code=WXYZ-1234","expires_at":\#(now + 600),"expires_in":600,"qr":["111","101","111"]}"#
    }
}

/// A scratch directory with a config and a scripted daemon on a socket, and a way to run the clients there.
final class ClientTestKit: @unchecked Sendable {
    let scratch = Scratch("authctl")
    var daemon: ScriptedDaemon?

    var socketPath: String { scratch.path("run/authd/socket") }
    var configPath: String { scratch.path("config.toml") }

    init(config: String = ClientTestKit.defaultConfig, script: ScriptedDaemon.Script? = nil) throws {
        try scratch.write("config.toml", config)
        try FileManager.default.createDirectory(atPath: scratch.path("run/authd"), withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        if let script { daemon = try ScriptedDaemon(path: socketPath, script: script) }
    }

    static let defaultConfig = """
        [daemon]
        autostart = false

        [audience.demo]
        device_authorization_endpoint = "http://127.0.0.1:9/device_authorization"
        token_endpoint = "http://127.0.0.1:9/token"
        client_id = "authctl-test"
        git_urls = ["http://127.0.0.1:9/git/"]

        [audience.bearer-demo]
        device_authorization_endpoint = "http://127.0.0.1:9/device_authorization"
        token_endpoint = "http://127.0.0.1:9/token"
        client_id = "authctl-test"
        git_urls = ["http://localhost:9/"]
        git_auth = "bearer"

        """

    var environment: [String: String] {
        ["PATH": "/usr/bin:/bin", "HOME": scratch.path("home"), "AUTHD_SOCKET": socketPath, "AUTHD_CONFIG": configPath,
         "XDG_RUNTIME_DIR": scratch.path("run"), "AUTHD_STATE_DIR": scratch.path("state"), "NO_COLOR": "1",
         "GIT_TERMINAL_PROMPT": "0", "GIT_CONFIG_NOSYSTEM": "1"]
    }

    func run(_ program: String, _ arguments: [String], stdin: String = "", timeout: TimeInterval = 30) async throws -> Command.Result {
        try await offPool(Binaries.path(program), arguments, stdin: stdin, environment: environment, timeout: timeout)
    }

    func authctl(_ arguments: String...) async throws -> Command.Result { try await run("authctl", arguments) }

    /// Runs authctl on a pseudo-terminal of the given size (util-linux `script`), as a person at that
    /// terminal would see it: the screen's bytes come back as stdout, with CRLF line ends made LF.
    func authctlInTerminal(rows: Int, columns: Int, _ arguments: String...) async throws -> Command.Result {
        try await inTerminal(rows: rows, columns: columns, "exec \(Binaries.path("authctl")) " + arguments.joined(separator: " "))
    }

    /// Runs a shell command line on a pseudo-terminal of the given size.
    func inTerminal(rows: Int, columns: Int, _ commandLine: String, environment extra: [String: String] = [:]) async throws -> Command.Result {
        let command = "stty rows \(rows) cols \(columns); " + commandLine
        var result = try await offPool("/usr/bin/script", ["-qec", command, "/dev/null"],
                                       environment: environment.merging(extra) { $1 }, timeout: 60)
        result.stdout = result.stdout.replacingOccurrences(of: "\r\n", with: "\n")
        return result
    }
}

/// Runs blocking work on a worker thread outside the test pool and awaits it. `Command.run` and the harness's
/// start-up waits block their thread until a child exits, and Foundation learns of that exit on
/// the same dispatch pool Swift Testing runs tests on: blocking the pool's few threads (one per
/// core) with such waits deadlocks the whole run.
func offPoolValue<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        BlockingWorkers.shared.run { continuation.resume(with: Result { try body() }) }
    }
}

/// Threads for blocking work that never end. Foundation's `Process.run` registers with the run
/// loop of the thread that calls it and touches that run loop again when the child exits; a
/// thread that has ended by then leaves a freed run loop behind, and that use-after-free crashed
/// the test runner (inside `Process.run` and libdispatch) when each call had a thread of its own.
/// A job never waits for another job, so a thread is added whenever none is idle.
final class BlockingWorkers: @unchecked Sendable {
    static let shared = BlockingWorkers()
    private let condition = NSCondition()
    private var jobs: [@Sendable () -> Void] = []
    private var idle = 0

    func run(_ job: @escaping @Sendable () -> Void) {
        condition.lock()
        jobs.append(job)
        if jobs.count > idle {
            Thread { [self] in work() }.start()
        }
        condition.signal()
        condition.unlock()
    }

    private func work() {
        condition.lock()
        while true {
            while jobs.isEmpty {
                idle += 1
                condition.wait()
                idle -= 1
            }
            let job = jobs.removeFirst()
            condition.unlock()
            job()
            condition.lock()
        }
    }
}

/// `Command.run` off the test pool.
func offPool(_ executable: String, _ arguments: [String], stdin: String = "", environment: [String: String]? = nil,
             timeout: TimeInterval = 60) async throws -> Command.Result {
    try await offPoolValue { try Command.run(executable, arguments, stdin: stdin, environment: environment, timeout: timeout) }
}

extension DaemonUnderTest {
    func clientOffPool(_ program: String, _ arguments: [String], stdin: String = "") async throws -> Command.Result {
        try await offPoolValue { try self.client(program, arguments, stdin: stdin) }
    }
}

extension Command.Result {
    var stderrLines: [Substring] { stderr.split(separator: "\n") }
}

func clientBinariesBuilt() -> Bool {
    ["authctl", "git-credential-authctl"].allSatisfy { FileManager.default.isExecutableFile(atPath: Binaries.path($0)) }
}

/// The real daemon is usable: built, and not the placeholder that prints "not yet".
func realStackAvailable() -> Bool {
    guard Binaries.available, let help = try? Command.run(Binaries.path("authd"), ["--help"], timeout: 10) else { return false }
    return help.status == 0 && !help.stdout.hasPrefix("not yet")
}

// MARK: - authctl against a scripted daemon

@Suite("authctl against a scripted daemon", .enabled(if: clientBinariesBuilt()))
struct AuthctlProtocolTests {
    @Test("each failure code maps to the contract's exit code with one stderr line",
          arguments: [("login_needed", Int32(3)), ("denied", 4), ("expired", 4), ("provider_error", 1), ("network_error", 1),
                      ("refused", 6), ("unknown_audience", 2), ("config_error", 2), ("internal", 1)])
    func failureExitCodes(code: String, exit: Int32) async throws {
        let kit = try ClientTestKit { _ in [ScriptedDaemon.failure(code, "demo: it went wrong (\(code))", hint: "do something")] }
        let result = try await kit.authctl("get", "demo")
        #expect(result.status == exit)
        #expect(result.stdout.isEmpty)
        // A login_needed answer without the command in it gets it added.
        let named = code == "login_needed" ? "; run: authctl login demo" : ""
        #expect(result.stderrLines == ["authctl: demo: it went wrong (\(code)); do something\(named)"])
    }

    @Test("login_needed always names authctl login AUD, and returns at once without a terminal")
    func loginNeededNamesTheCommand() async throws {
        let kit = try ClientTestKit { request in
            #expect(request["interactive"] as? Bool == false)
            return [ScriptedDaemon.failure("login_needed", "demo: login needed (not logged in) and nobody can be prompted here")]
        }
        let result = try await kit.authctl("get", "demo")
        #expect(result.status == 3)
        #expect(result.stderrLines.count == 1)
        #expect(result.stderr.contains("run: authctl login demo"))
        #expect(result.duration < Bounds.atOnce)
    }

    @Test("get prints the token and a newline, nothing else; the request carries min_valid")
    func getPrintsOnlyTheToken() async throws {
        let kit = try ClientTestKit { _ in [ScriptedDaemon.token("tok-abc")] }
        let result = try await kit.authctl("get", "demo", "--min-valid", "5m")
        #expect(result.status == 0)
        #expect(result.stdout == "tok-abc\n")
        #expect(result.stderr.isEmpty)
        let request = try #require(kit.daemon?.requests.first)
        #expect(request["op"] as? String == "get")
        #expect(request["audience"] as? String == "demo")
        #expect(request["min_valid"] as? Int == 300)
        #expect(request["interactive"] as? Bool == false)
    }

    @Test("get --json is one JSON object with an ISO 8601 expiry and no fingerprint")
    func getJSON() async throws {
        let kit = try ClientTestKit { _ in [ScriptedDaemon.token("tok-json", expiresAt: 1_900_000_000)] }
        let result = try await kit.authctl("get", "demo", "--json")
        #expect(result.status == 0)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(object["access_token"] as? String == "tok-json")
        #expect(object["token_type"] as? String == "Bearer")
        #expect(object["expires_at"] as? String == "2030-03-17T17:46:40Z")
        #expect(object["scopes"] as? [String] == ["openid", "offline_access"])
        #expect(object["json_version"] as? Int == 2)
        #expect(object["fingerprint"] == nil)
    }

    @Test("with --json a failure is a JSON object on stdout, with the same exit code")
    func jsonErrors() async throws {
        let kit = try ClientTestKit { _ in [#"{"ok":false,"error":"login_needed","message":"demo: login needed (not logged in)"}"#] }
        let result = try await kit.authctl("get", "demo", "--json")
        #expect(result.status == 3 && result.stderr.isEmpty, "\(result.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let error = try #require(object["error"] as? [String: Any])
        #expect(error["code"] as? String == "login_needed")
        #expect(error["exit_code"] as? Int == 3)
        #expect((error["message"] as? String)?.contains("authctl login demo") == true)
    }

    @Test("get --header prints one Authorization line, usable by curl -H @-; with --json it is a usage error")
    func getHeader() async throws {
        let kit = try ClientTestKit { _ in [ScriptedDaemon.token("tok-header")] }
        let result = try await kit.authctl("get", "demo", "--header")
        #expect(result.status == 0 && result.stderr.isEmpty, "\(result.stderr)")
        #expect(result.stdout == "Authorization: Bearer tok-header\n")
        let both = try await kit.authctl("get", "demo", "--header", "--json")
        // With --json even a usage error is the JSON error object.
        #expect(both.status == 2 && both.stdout.contains(#""exit_code":2"#) && both.stdout.contains("not both"), "\(both.stdout)")
        #expect(kit.daemon?.requests.count == 1, "a usage error sends nothing")
    }

    @Test("at 80x24 the code stays on screen, typed keys are not echoed, and the result replaces the countdown")
    func promptOnASmallTerminal() async throws {
        let now = Int(Date().timeIntervalSince1970)
        let qr = Array(repeating: #""\#(String(repeating: "10", count: 16))1""#, count: 33).joined(separator: ",")
        let prompt = #"{"event":"prompt","audience":"demo","verification_uri":"http://127.0.0.1:9/device","user_code":"SGDF-CCPB","verification_uri_complete":"http://127.0.0.1:9/device?user_code=SGDF-CCPB","expires_at":\#(now + 600),"expires_in":600,"qr":[\#(qr)]}"#
        let scratch = Scratch("authctl-pty")
        let go = scratch.path("go")
        let kit = try ClientTestKit { _ in
            [prompt, #"{"event":"progress","stage":"polling"}"#, "waitfile:\(go)",
             #"{"event":"progress","stage":"approved"}"#, ScriptedDaemon.token("tok-pty")]
        }
        // While authctl waits, the shell beside it reads the terminal's echo setting, then lets the flow end.
        let during = scratch.path("echo-during"), after = scratch.path("echo-after")
        let line = """
            \(Binaries.path("authctl")) get demo > \(scratch.path("token")) & client=$!
            for i in $(seq 1200); do stty -a | grep -q -- ' -echo ' && break; sleep 0.05; done
            stty -a | grep -o -- ' -\\?echo ' | head -n 1 > \(during); touch \(go); wait $client; echo "exit $?"
            stty -a | grep -o -- ' -\\?echo ' | head -n 1 > \(after)
            """
        let result = try await kit.inTerminal(rows: 24, columns: 80, line, environment: ["NO_COLOR": "", "TERM": "xterm-256color"])
        #expect(result.stdout.contains("exit 0"), "\(result.stdout)")
        #expect(try String(contentsOfFile: scratch.path("token"), encoding: .utf8) == "tok-pty\n")
        #expect(try String(contentsOfFile: during, encoding: .utf8) == " -echo \n", "echo was on during the wait")
        #expect(try String(contentsOfFile: after, encoding: .utf8) == " echo \n", "echo was not restored")
        let screen = result.stdout
        #expect(screen.contains("and enter the code \u{1B}[1mSGDF-CCPB"), "\(screen)")
        #expect(!screen.contains("\u{1B}[30;107m"), "a 33-module QR code does not fit 24 rows with the text: \(screen)")
        #expect(screen.contains("\rWaiting for approval... the code SGDF-CCPB expires in "), "the code repeats on the countdown")
        #expect(screen.contains("\r✓ Approved\u{1B}[K\n"), "the result replaces the countdown line: \(screen)")
    }

    @Test("--interactive without a terminal: the prompt goes to stderr, the token to stdout")
    func interactivePromptOnStderr() async throws {
        let kit = try ClientTestKit { request in
            #expect(request["interactive"] as? Bool == true)
            return [ScriptedDaemon.prompt("demo"), #"{"event":"progress","stage":"polling"}"#, "pause:100",
                    #"{"event":"progress","stage":"approved"}"#, ScriptedDaemon.token("tok-after-flow")]
        }
        let result = try await kit.authctl("get", "demo", "--interactive")
        #expect(result.status == 0)
        #expect(result.stdout == "tok-after-flow\n")
        #expect(result.stderr.contains("http://127.0.0.1:9/device\n"))
        #expect(result.stderr.contains("WXYZ-1234"))
        #expect(result.stderr.contains("http://127.0.0.1:9/device?user_code=WXYZ-1234"))
        #expect(result.stderr.contains("Approved"))
        // Not a terminal: no QR code, no escape sequences, no carriage-return countdown.
        #expect(!result.stderr.contains("▀") && !result.stderr.contains("\u{1B}") && !result.stderr.contains("\r"))
    }

    @Test("a daemon that closes without a final line is exit 5 with a clear line")
    func closedWithoutAnswer() async throws {
        let kit = try ClientTestKit { _ in [ScriptedDaemon.prompt("demo")] }
        let result = try await kit.authctl("get", "demo", "--interactive")
        #expect(result.status == 5)
        #expect(result.stdout.isEmpty)
        #expect(result.stderr.split(separator: "\n").last?.hasPrefix("authctl: authd closed the connection without an answer") == true)
    }

    @Test("nothing listening and autostart = false: exit 5 naming systemctl, no daemon started")
    func noDaemonNoAutostart() async throws {
        let kit = try ClientTestKit()
        let result = try await kit.authctl("get", "demo")
        #expect(result.status == 5)
        #expect(result.stderrLines == ["authctl: authd is not running and [daemon] autostart is false; start it with: systemctl --user start authd.socket (with systemd), or: authd &"])
    }

    @Test("status and status --json never contain a token, even one a daemon sent by mistake")
    func statusHidesTokens() async throws {
        let now = Int(Date().timeIntervalSince1970)
        let row = #"{"audience":"demo","state":"valid","issuer":"http://127.0.0.1:9","scopes":["openid"],"expires_at":\#(now + 3720),"refresh_at":\#(now + 3300),"has_refresh_token":true,"login_at":\#(now - 7260),"persist":true,"subject":null,"access_token":"SECRET-TOKEN-1"}"#
        let kit = try ClientTestKit { _ in [#"{"ok":true,"audiences":[\#(row)]}"#] }
        let table = try await kit.authctl("status")
        #expect(table.status == 0)
        #expect(!table.stdout.contains("SECRET-TOKEN-1"))
        let lines = table.stdout.split(separator: "\n")
        #expect(lines.first?.hasPrefix("AUDIENCE") == true)
        #expect(lines.count == 2 && lines[1].hasPrefix("demo"))
        #expect(lines[1].contains("logged in") && lines[1].contains("1h02m") && lines[1].contains("2h01m"))
        let json = try await kit.authctl("status", "--json")
        #expect(json.status == 0)
        #expect(!json.stdout.contains("SECRET-TOKEN-1"))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        let audiences = try #require(object["audiences"] as? [[String: Any]])
        #expect(audiences.first?["audience"] as? String == "demo")
        #expect(audiences.first?["state"] as? String == "valid")
        // The same shape as get --json: times as ISO 8601 strings, scopes as an array.
        #expect(object["json_version"] as? Int == 2)
        #expect((audiences.first?["expires_at"] as? String)?.hasSuffix("Z") == true)
        #expect((audiences.first?["login_at"] as? String)?.hasSuffix("Z") == true)
        #expect(audiences.first?["scopes"] as? [String] == ["openid"])
    }

    @Test("status at 80 columns fits without wrapping and names the account; a wider terminal gets every column")
    func statusLayout() async throws {
        let now = Int(Date().timeIntervalSince1970)
        func row(_ name: String, _ state: String, expires: Int?, subject: String?, verified: Bool = false) -> String {
            let expiry = expires.map { "\(now + $0)" } ?? "null"
            let who = subject.map { "\"\($0)\"" } ?? "null"
            // Without "identity" (an older daemon) a subject is unverified; a verified one carries its evidence.
            let evidence = verified ? #","identity":"verified","amr":["pwd","otp"],"mfa":true"# : ""
            return #"{"audience":"\#(name)","state":"\#(state)","issuer":"https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000/v2.0","scopes":["openid","offline_access","api://my-api/access"],"expires_at":\#(expiry),"refresh_at":null,"has_refresh_token":true,"login_at":\#(now - 60),"persist":true,"subject":\#(who)\#(evidence)}"#
        }
        let rows = [row("work", "valid", expires: 3500, subject: "first.last@corp.example.com"),
                    row("github", "valid", expires: nil, subject: nil),
                    row("gone", "logged_out", expires: nil, subject: nil),
                    row("okta", "valid", expires: 600, subject: "alice", verified: true)]
        let kit = try ClientTestKit { _ in [#"{"ok":true,"audiences":[\#(rows.joined(separator: ","))]}"#] }
        let narrow = try await kit.authctlInTerminal(rows: 24, columns: 80, "status")
        #expect(narrow.status == 0, "\(narrow.stdout)\(narrow.stderr)")
        let lines = narrow.stdout.split(separator: "\n")
        #expect(lines.count == 5, "\(narrow.stdout)")
        #expect(lines.allSatisfy { $0.count <= 80 }, "\(narrow.stdout)")
        #expect(lines.first?.hasPrefix("AUDIENCE") == true && lines.first?.contains("WHO") == true)
        #expect(lines.first?.contains("ISSUER") == false)
        #expect(lines[1].contains("first.last@corp") && lines[1].contains("unverified"), "\(lines[1])")
        #expect(lines[2].contains("never"), "a token without expiry: \(lines[2])")
        #expect(lines[3].contains("logged out") && !lines[3].contains("never"), "\(lines[3])")
        #expect(lines[4].contains("alice") && !lines[4].contains("unverified"), "\(lines[4])")

        let wide = try await kit.authctlInTerminal(rows: 40, columns: 250, "status")
        let wideLines = wide.stdout.split(separator: "\n")
        #expect(wideLines.first?.contains("ISSUER") == true && wideLines.first?.contains("SESSION AGE") == true, "\(wide.stdout)")
        #expect(wideLines.count == 5 && wideLines[1].contains("first.last@corp.example.com (unverified)"))
        #expect(wideLines.first?.contains("MFA") == true && wideLines[4].contains("yes (pwd,otp)"), "\(wide.stdout)")
    }

    @Test("logout reports each audience's revocation")
    func logoutReport() async throws {
        let kit = try ClientTestKit { request in
            #expect(request["all"] as? Bool == true)
            return [#"{"ok":true,"results":[{"audience":"demo","revocation":"revoked"},{"audience":"gh","revocation":"unsupported","hint":"revoke it at https://github.com/settings/applications"},{"audience":"x","revocation":"failed","message":"HTTP 503"}]}"#]
        }
        let result = try await kit.authctl("logout", "--all")
        #expect(result.status == 0)
        let lines = result.stdout.split(separator: "\n")
        #expect(lines.count == 3)
        #expect(lines[0].contains("demo") && lines[0].contains("revoked"))
        #expect(lines[1].contains("no revocation endpoint") && lines[1].contains("github.com/settings/applications"))
        #expect(lines[2].contains("revocation at the provider failed") && lines[2].contains("HTTP 503"))
    }

    @Test("version reports the client, and the daemon when it runs")
    func version() async throws {
        let kit = try ClientTestKit { _ in [#"{"ok":true,"version":"9.9.9","protocol":1}"#] }
        let result = try await kit.authctl("version")
        #expect(result.status == 0)
        #expect(result.stdout.hasPrefix("authctl "))
        #expect(result.stdout.contains("authd 9.9.9 (protocol 1)"))
        kit.daemon?.stop()
        let alone = try await kit.authctl("version")
        #expect(alone.status == 0)
        #expect(alone.stdout.contains("authd: not running"))
    }
}

// MARK: - authctl on its own

@Suite("authctl command line", .enabled(if: clientBinariesBuilt()))
struct AuthctlCommandLineTests {
    @Test("unknown commands and options are usage errors (exit 2) with a usage line",
          arguments: [["frobnicate"], ["get"], ["get", "demo", "--bogus"], ["get", "demo", "extra"], ["config"],
                      ["get", "demo", "--min-valid", "soon"], ["logout"], ["get", "bad/name"]])
    func usageErrors(arguments: [String]) async throws {
        let kit = try ClientTestKit()
        let result = try await kit.run("authctl", arguments)
        #expect(result.status == 2)
        #expect(result.stdout.isEmpty)
        #expect(result.stderrLines.count == 1)
        #expect(result.stderr.hasPrefix("authctl: "))
    }

    @Test("a misspelt command or option gets a did-you-mean", arguments: [
        (["stauts"], #"unknown command stauts (did you mean "status"?)"#),
        (["confgi", "check"], #"(did you mean "config"?)"#),
        (["get", "demo", "--min-vaild", "5m"], #"unknown option --min-vaild for get (did you mean "--min-valid"?)"#),
    ])
    func didYouMean(arguments: [String], expected: String) async throws {
        let kit = try ClientTestKit()
        let result = try await kit.run("authctl", arguments)
        #expect(result.status == 2 && result.stderr.contains(expected), "\(result.stderr)")
    }

    @Test("config init writes a 0600 template that config check accepts, and never overwrites", arguments: ProviderNames.all)
    func configInit(provider: String) async throws {
        let kit = try ClientTestKit()
        try FileManager.default.removeItem(atPath: kit.configPath)
        let missing = try await kit.authctl("config", "check")
        #expect(missing.status == 2 && missing.stderr.contains("authctl config init --provider NAME"), "\(missing.stderr)")
        let written = try await kit.authctl("config", "init", "--provider", provider.uppercased())
        #expect(written.status == 0 && written.stdout.hasPrefix("wrote \(kit.configPath)"), "\(written.stdout)\(written.stderr)")
        let mode = try FileManager.default.attributesOfItem(atPath: kit.configPath)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        let check = try await kit.authctl("config", "check")
        #expect(check.status == 0 && check.stdout == "config OK: 1 audience\n", "\(check.stderr)")
        let before = try String(contentsOfFile: kit.configPath, encoding: .utf8)
        let again = try await kit.authctl("config", "init", "--provider", provider)
        #expect(again.status == 2 && again.stderr.contains("already exists"))
        #expect(try String(contentsOfFile: kit.configPath, encoding: .utf8) == before)
    }

    @Test("setup docker adds credHelpers and keeps every other key and the file's mode; a second run changes nothing")
    func setupDocker() async throws {
        let kit = try ClientTestKit(config: ClientTestKit.defaultConfig.replacingOccurrences(
            of: "git_urls = [\"http://127.0.0.1:9/git/\"]", with: "git_urls = [\"http://127.0.0.1:9/git/\"]\nregistries = [\"ghcr.io\", \"127.0.0.1:5000\"]"))
        let dockerDirectory = kit.scratch.path("docker")
        try kit.scratch.write("docker/config.json", #"{"auths":{"quay.io":{}},"credHelpers":{"ghcr.io":"desktop"},"currentContext":"x"}"#, mode: 0o640)
        func setup(_ arguments: String...) async throws -> Command.Result {
            try await offPool(Binaries.path("authctl"), ["setup", "docker"] + arguments,
                              environment: kit.environment.merging(["DOCKER_CONFIG": dockerDirectory]) { $1 })
        }
        let printed = try await setup("--print")
        #expect(printed.status == 0 && printed.stdout.contains("would change") && printed.stdout.contains("- ghcr.io: desktop"), "\(printed.stdout)\(printed.stderr)")
        #expect(try String(contentsOfFile: dockerDirectory + "/config.json", encoding: .utf8).contains(#""ghcr.io":"desktop""#), "--print wrote")

        let changed = try await setup()
        #expect(changed.status == 0 && changed.stdout.contains("+ 127.0.0.1:5000: authctl"), "\(changed.stdout)\(changed.stderr)")
        let data = try Data(contentsOf: URL(fileURLWithPath: dockerDirectory + "/config.json"))
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(object["credHelpers"] as? [String: String] == ["ghcr.io": "authctl", "127.0.0.1:5000": "authctl"])
        #expect(object["auths"] != nil && object["currentContext"] as? String == "x", "other keys are kept")
        let mode = try FileManager.default.attributesOfItem(atPath: dockerDirectory + "/config.json")[.posixPermissions] as? Int
        #expect(mode == 0o640)
        let again = try await setup()
        #expect(again.status == 0 && again.stdout.contains("nothing to change"), "\(again.stdout)")

        try kit.scratch.write("docker/config.json", "{not json", mode: 0o600)
        let broken = try await setup()
        #expect(broken.status == 2 && broken.stderr.contains("is not valid JSON"), "\(broken.stderr)")
        #expect(try String(contentsOfFile: dockerDirectory + "/config.json", encoding: .utf8) == "{not json", "a broken file is left alone")
    }

    @Test("config check warns about a ca_file that holds no PEM certificate")
    func caFileWithoutPEM() async throws {
        let kit = try ClientTestKit(config: ClientTestKit.defaultConfig.replacingOccurrences(
            of: "git_urls = [\"http://127.0.0.1:9/git/\"]", with: "git_urls = [\"http://127.0.0.1:9/git/\"]\nca_file = \"/etc/hostname\""))
        let result = try await kit.authctl("config", "check")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("audience.demo.ca_file: warning: /etc/hostname holds no PEM certificate"), "\(result.stderr)")
    }

    @Test("config init without a provider comments the audience out; a misspelt provider gets a suggestion")
    func configInitWithoutProvider() async throws {
        let kit = try ClientTestKit()
        try FileManager.default.removeItem(atPath: kit.configPath)
        let typo = try await kit.authctl("config", "init", "--provider", "githib")
        #expect(typo.status == 2 && typo.stderr.contains(#"(did you mean "github"?)"#), "\(typo.stderr)")
        #expect(!FileManager.default.fileExists(atPath: kit.configPath))
        let written = try await kit.authctl("config", "init")
        #expect(written.status == 0)
        let check = try await kit.authctl("config", "check")
        #expect(check.status == 0 && check.stdout == "config OK: 0 audiences\n", "\(check.stderr)")
    }

    @Test("config check finds a misspelt key with its line and suggests the right one")
    func configCheckMisspelling() async throws {
        let kit = try ClientTestKit(config: """
            [audience.demo]
            issuer = "http://127.0.0.1:8765"
            client_id = "authctl-test"
            scpoes = ["openid"]

            """)
        let result = try await kit.authctl("config", "check")
        #expect(result.status == 2)
        #expect(result.stderr.contains("\(kit.configPath):4: audience.demo.scpoes: unknown key (did you mean \"scopes\"?)"))
        #expect(result.stdout.isEmpty)
    }

    @Test("config check accepts a good config and counts its audiences; --config overrides")
    func configCheckOK() async throws {
        let kit = try ClientTestKit()
        let result = try await kit.authctl("config", "check")
        #expect(result.status == 0)
        #expect(result.stdout == "config OK: 2 audiences\n")
        let missing = try await kit.authctl("config", "check", "--config", kit.scratch.path("nope.toml"))
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("nope.toml"))
    }

    @Test("config check reports a byte that is not UTF-8 with its line and column instead of repairing it")
    func configCheckInvalidUTF8() async throws {
        let kit = try ClientTestKit()
        // A client_id saved as Latin-1: "clié" with é as the single byte 0xE9.
        let bytes = Array("[daemon]\nautostart = false\n\n[audience.demo]\nclient_id = \"cli".utf8) + [0xE9]
            + Array("\"\ndevice_authorization_endpoint = \"http://127.0.0.1:9/d\"\ntoken_endpoint = \"http://127.0.0.1:9/t\"\n".utf8)
        #expect(FileManager.default.createFile(atPath: kit.configPath, contents: Data(bytes)))
        let result = try await kit.authctl("config", "check")
        #expect(result.status == 2)
        #expect(result.stderr.contains("\(kit.configPath):5:17: invalid UTF-8\n"), "\(result.stderr)")
        #expect(result.stdout.isEmpty)
    }

    @Test("help, the man page and completion scripts come from the same command table")
    func helpManAndCompletion() async throws {
        let kit = try ClientTestKit()
        let help = try await kit.authctl("--help")
        #expect(help.status == 0)
        for command in ["get", "login", "logout", "status", "config check", "version", "completion"] {
            #expect(help.stdout.contains("  \(command) "))
        }
        #expect(!help.stdout.contains("__audiences"))
        let getHelp = try await kit.authctl("get", "--help")
        #expect(getHelp.status == 0 && getHelp.stdout.hasPrefix("usage: authctl get AUD [--min-valid DUR] [--interactive] [--json]"))
        #expect(try await kit.authctl("help", "get").stdout == getHelp.stdout)

        let man = try await kit.authctl("help", "--man")
        #expect(man.status == 0 && man.stdout.hasPrefix(".TH AUTHCTL 1"))
        #expect(man.stdout.contains(".SH EXIT STATUS") && man.stdout.contains("\\-\\-min\\-valid"))

        let bash = try await kit.authctl("completion", "bash")
        #expect(bash.status == 0 && bash.stdout.contains("complete -F _authctl authctl"))
        #expect(bash.stdout.contains("--min-valid") && bash.stdout.contains("authctl __audiences"))
        try kit.scratch.write("authctl.bash", bash.stdout)
        let syntax = try await offPool("/bin/bash", ["-n", kit.scratch.path("authctl.bash")])
        #expect(syntax.status == 0, "\(syntax.stderr)")
        #expect(try await kit.authctl("completion", "zsh").stdout.hasPrefix("#compdef authctl"))
        #expect(try await kit.authctl("completion", "fish").stdout.contains("complete -c authctl -n __fish_use_subcommand -a get"))
        #expect(try await kit.authctl("completion", "tcsh").status == 2)

        let audiences = try await kit.authctl("__audiences")
        #expect(audiences.stdout == "demo\nbearer-demo\n")
    }
}

// MARK: - Autostart

/// Starts `count` copies of a command at once from one shell and returns each one's exit status
/// and output. One shell, not ten `Process`es: Foundation missed child exits when ten started
/// together, and the test then waited for a process that was long gone.
func inParallel(_ count: Int, _ command: [String], environment: [String: String], scratch: Scratch) async throws -> [(status: Int32, stdout: String, stderr: String)] {
    let quoted = command.map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }.joined(separator: " ")
    let directory = scratch.path("parallel")
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    let script = "for i in $(seq \(count)); do (setsid -w \(quoted) >\(directory)/out.$i 2>\(directory)/err.$i; echo $? >\(directory)/rc.$i) & done; wait"
    // Children of the test's threads inherit a mask that blocks SIGCHLD, and a shell with SIGCHLD
    // blocked never returns from `wait`: clear the mask before the shell starts.
    let unblocked = "import os, signal, sys; signal.pthread_sigmask(signal.SIG_SETMASK, []); os.execv('/bin/sh', ['sh', '-c', sys.argv[1]])"
    _ = try await offPool("/usr/bin/python3", ["-c", unblocked, script], environment: environment, timeout: 60)
    return (1...count).map { i in
        func read(_ name: String) -> String { (try? String(contentsOfFile: "\(directory)/\(name).\(i)", encoding: .utf8)) ?? "" }
        return (Int32(read("rc").trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1, read("out"), read("err"))
    }
}

@Suite("autostart", .enabled(if: clientBinariesBuilt()))
struct AutostartTests {
    /// A stand-in `authd` that binds late (to widen the race), records its start and answers `get`.
    static let fakeDaemon = """
        #!/usr/bin/python3
        import json, os, socket, sys, time
        path = sys.argv[sys.argv.index("--socket") + 1]
        with open(os.path.join(os.path.dirname(path), "starts"), "a") as f:
            f.write("%d\\n" % os.getpid())
        time.sleep(0.3)
        s = socket.socket(socket.AF_UNIX)
        s.bind(path)
        s.listen(64)
        while True:
            c, _ = s.accept()
            f = c.makefile("rwb")
            f.readline()
            f.write(b'{"ok":true,"access_token":"tok-autostarted","token_type":"Bearer","expires_at":null,"scope":"","fingerprint":"0123456789abcdef"}\\n')
            f.flush()
            c.close()

        """

    @Test("ten parallel authctl get with no daemon start exactly one")
    func tenClientsOneDaemon() async throws {
        let kit = try ClientTestKit(config: "[daemon]\nautostart = true\n")
        // authctl prefers the authd next to it: give it a directory of its own with the stand-in.
        let bin = kit.scratch.path("bin")
        try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Binaries.path("authctl"), toPath: bin + "/authctl")
        try kit.scratch.write("bin/authd", Self.fakeDaemon, mode: 0o755)
        let socket = kit.scratch.path("run/fresh/socket")
        var clientEnvironment = kit.environment
        clientEnvironment["AUTHD_SOCKET"] = nil
        let environment = clientEnvironment
        let results = try await inParallel(10, [bin + "/authctl", "--socket", socket, "get", "demo"], environment: environment, scratch: kit.scratch)
        let starts = (try? String(contentsOfFile: kit.scratch.path("run/fresh/starts"), encoding: .utf8)) ?? ""
        let pids = starts.split(separator: "\n").compactMap { Int32($0) }
        defer { pids.forEach { kill($0, SIGKILL) } }
        #expect(results.count == 10)
        for result in results {
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout == "tok-autostarted\n")
        }
        #expect(pids.count == 1)
        let mode = try FileManager.default.attributesOfItem(atPath: kit.scratch.path("run/fresh"))[.posixPermissions] as? Int
        #expect(mode == 0o700)
        // The daemon's output goes to the state directory's log, never to the client's terminal.
        #expect(FileManager.default.fileExists(atPath: kit.scratch.path("state/authd.log")))
    }

    @Test("ten parallel authctl get start exactly one real authd", .enabled(if: realStackAvailable()))
    func tenClientsOneRealDaemon() async throws {
        let scratch = Scratch("autostart")
        let daemon = try DaemonUnderTest(scratch, config: "[audience.demo]\ndevice_authorization_endpoint = \"http://127.0.0.1:9/d\"\ntoken_endpoint = \"http://127.0.0.1:9/t\"\nclient_id = \"x\"\n")
        let socket = scratch.path("run/auto/socket")
        var clientEnvironment = daemon.environment
        clientEnvironment["AUTHD_SOCKET"] = nil
        let environment = clientEnvironment
        let results = try await inParallel(10, [Binaries.path("authctl"), "--socket", socket, "get", "demo"], environment: environment, scratch: scratch)
        let pgrep = try await offPool("/usr/bin/pgrep", ["-f", "--", "[-]-socket \(socket)"])
        let pids = pgrep.stdout.split(separator: "\n").compactMap { Int32($0) }
        defer { pids.forEach { kill($0, SIGTERM) } }
        #expect(pids.count == 1)
        for result in results {
            // Not logged in and no terminal: every client gets "login needed", none "unreachable".
            #expect(result.status == 3, "\(result.stderr)")
        }
    }
}

// MARK: - With the real daemon and authd-devserver

@Suite("authctl with authd and authd-devserver", .enabled(if: realStackAvailable()), .serialized)
struct AuthctlRealStackTests {
    static let fastFlow = ["--interval", "1", "--auto-approve", "0"]

    @Test("exit 0: a device flow with --interactive, then the cached token without one; status hides it")
    func loginThenCached() async throws {
        let scratch = Scratch("rs-ok")
        let server = try await offPoolValue { try DevServer(scratch, arguments: Self.fastFlow) }
        let daemon = try DaemonUnderTest(scratch, config: demoConfig(server.baseURL))
        try await offPoolValue { try daemon.start() }
        let first = try await daemon.clientOffPool("authctl", ["get", "demo", "--interactive"])
        #expect(first.status == 0, "\(first.stderr)")
        let token = first.stdout.trimmingCharacters(in: .newlines)
        #expect(!token.isEmpty && first.stdout == token + "\n")
        #expect(first.stderr.contains(server.baseURL) && first.stderr.contains("Approved"))
        #expect(try server.isActive(token))

        let cached = try await daemon.clientOffPool("authctl", ["get", "demo"])
        #expect(cached.status == 0 && cached.stdout == first.stdout && cached.stderr.isEmpty)
        let json = try await daemon.clientOffPool("authctl", ["get", "demo", "--json"])
        let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        #expect(object?["access_token"] as? String == token)

        for arguments in [["status"], ["status", "--json"]] {
            let status = try await daemon.clientOffPool("authctl", arguments)
            #expect(status.status == 0)
            #expect(status.stdout.contains("demo"))
            #expect(!status.stdout.contains(token) && !status.stderr.contains(token))
        }
        let logout = try await daemon.clientOffPool("authctl", ["logout", "demo"])
        #expect(logout.status == 0 && logout.stdout.contains("revoked"), "\(logout.stdout)\(logout.stderr)")
        #expect(try !server.isActive(token))

        // Nothing is logged in any more: the report says so and nothing reaches the provider.
        let revocations = server.requests(endpoint: "revoke").count
        let again = try await daemon.clientOffPool("authctl", ["logout", "demo"])
        #expect(again.status == 0 && again.stdout == "demo: not logged in; nothing to revoke\n", "\(again.stdout)\(again.stderr)")
        let all = try await daemon.clientOffPool("authctl", ["logout", "--all"])
        #expect(all.status == 0 && all.stdout == "No audience was logged in; nothing to revoke.\n", "\(all.stdout)\(all.stderr)")
        #expect(server.requests(endpoint: "revoke").count == revocations)
    }

    @Test("exit 3 at once without a terminal, naming authctl login")
    func loginNeeded() async throws {
        let scratch = Scratch("rs-3")
        let server = try await offPoolValue { try DevServer(scratch, arguments: Self.fastFlow) }
        let daemon = try DaemonUnderTest(scratch, config: demoConfig(server.baseURL))
        try await offPoolValue { try daemon.start() }
        let result = try await daemon.clientOffPool("authctl", ["get", "demo"])
        #expect(result.status == 3)
        #expect(result.stdout.isEmpty)
        #expect(result.stderrLines.count == 1 && result.stderr.contains("authctl login demo"))
        #expect(result.duration < Bounds.atOnce)
        #expect(server.requests(endpoint: "device_authorization").isEmpty)
    }

    @Test("exit 4 when the person denies")
    func denied() async throws {
        let scratch = Scratch("rs-4")
        let server = try await offPoolValue { try DevServer(scratch, arguments: ["--interval", "1", "--deny"]) }
        let daemon = try DaemonUnderTest(scratch, config: demoConfig(server.baseURL))
        try await offPoolValue { try daemon.start() }
        let result = try await daemon.clientOffPool("authctl", ["get", "demo", "--interactive"])
        #expect(result.status == 4, "\(result.stderr)")
        #expect(result.stdout.isEmpty)
    }

    @Test("exit 1 when the provider is down")
    func providerDown() async throws {
        let scratch = Scratch("rs-1")
        let daemon = try DaemonUnderTest(scratch, config: """
            [audience.demo]
            device_authorization_endpoint = "http://127.0.0.1:1/device_authorization"
            token_endpoint = "http://127.0.0.1:1/token"
            client_id = "authctl-test"

            """)
        try await offPoolValue { try daemon.start() }
        let result = try await daemon.clientOffPool("authctl", ["get", "demo", "--interactive"])
        #expect(result.status == 1, "\(result.stderr)")
        #expect(result.stdout.isEmpty)
        #expect(result.stderr.split(separator: "\n").last?.hasPrefix("authctl: ") == true)
    }

    @Test("exit 1 when the provider answers 503")
    func providerFault() async throws {
        let scratch = Scratch("rs-503")
        let server = try await offPoolValue { try DevServer(scratch, arguments: Self.fastFlow + ["--fault", "503@device_authorization"]) }
        let daemon = try DaemonUnderTest(scratch, config: demoConfig(server.baseURL))
        try await offPoolValue { try daemon.start() }
        let result = try await daemon.clientOffPool("authctl", ["get", "demo", "--interactive"])
        #expect(result.status == 1, "\(result.stderr)")
    }

    @Test("exit 6 when allowed_clients refuses authctl")
    func refusedByPolicy() async throws {
        let scratch = Scratch("rs-6")
        let server = try await offPoolValue { try DevServer(scratch, arguments: Self.fastFlow) }
        let daemon = try DaemonUnderTest(scratch, config: demoConfig(server.baseURL, extra: #"allowed_clients = ["/nonexistent/*"]"#))
        try await offPoolValue { try daemon.start() }
        let result = try await daemon.clientOffPool("authctl", ["get", "demo", "--interactive"])
        #expect(result.status == 6, "\(result.stderr)")
        #expect(result.stderrLines.count == 1)
    }

    @Test("logout --all logs out what it may, names what policy refused, and exits 6")
    func logoutAllReportsRefusals() async throws {
        let scratch = Scratch("rs-6-all")
        let server = try await offPoolValue { try DevServer(scratch, arguments: Self.fastFlow) }
        let locked = #"allowed_clients = ["/nonexistent/*"]"#
        // "unused" is reserved for another program and nobody logged in there: nothing to refuse.
        let open = demoConfig(server.baseURL) + demoConfig(server.baseURL, audience: "locked")
            + demoConfig(server.baseURL, audience: "unused", extra: locked)
        let daemon = try DaemonUnderTest(scratch, config: open)
        try await offPoolValue { try daemon.start() }
        for audience in ["demo", "locked"] {
            let login = try await daemon.clientOffPool("authctl", ["get", audience, "--interactive"])
            #expect(login.status == 0, "\(login.stderr)")
        }
        // The policy changes under a live login (same provider identity, so the login is kept).
        try scratch.write("config/authd/config.toml", demoConfig(server.baseURL) + demoConfig(server.baseURL, audience: "locked", extra: locked)
            + demoConfig(server.baseURL, audience: "unused", extra: locked))
        daemon.running?.signal(SIGHUP)
        var refusedNow = false
        for _ in 0..<100 where !refusedNow {
            refusedNow = try await daemon.clientOffPool("authctl", ["get", "locked"]).status == 6
            if !refusedNow { try await Task.sleep(for: .milliseconds(50)) }
        }
        #expect(refusedNow, "the reload did not apply allowed_clients")

        let result = try await daemon.clientOffPool("authctl", ["logout", "--all"])
        #expect(result.status == 6, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n")
        #expect(lines.count == 2, "\(result.stdout)")
        #expect(lines.first?.hasPrefix("demo: logged out") == true)
        #expect(lines.last?.hasPrefix("locked: not logged out: refused") == true)
        #expect(result.stderrLines.count == 1)
        #expect(result.stderr.contains("locked") && !result.stderr.contains("unused"))
        let after = try await daemon.clientOffPool("authctl", ["get", "demo"])
        #expect(after.status == 3, "demo was logged out")
        let status = try await daemon.clientOffPool("authctl", ["status", "--json"])
        #expect(status.stdout.contains(#""audience":"locked","state":"valid""#), "locked stays logged in: \(status.stdout)")
    }

    @Test("exit 2 for an audience the daemon does not know")
    func unknownAudience() async throws {
        let scratch = Scratch("rs-2")
        let server = try await offPoolValue { try DevServer(scratch, arguments: Self.fastFlow) }
        let daemon = try DaemonUnderTest(scratch, config: demoConfig(server.baseURL))
        try await offPoolValue { try daemon.start() }
        let result = try await daemon.clientOffPool("authctl", ["get", "nosuch"])
        #expect(result.status == 2, "\(result.stderr)")
        let typo = try await daemon.clientOffPool("authctl", ["get", "dmeo"])
        #expect(typo.status == 2 && typo.stderr.contains(#"(did you mean "demo"?)"#), "\(typo.stderr)")
        let version = try await daemon.clientOffPool("authctl", ["version"])
        let pid = try #require(daemon.running?.pid)
        #expect(version.stdout.contains("pid \(pid) at "), "\(version.stdout)")
    }
}

/// The provider presets `authctl config init --provider` knows (ProviderKind's raw values).
enum ProviderNames {
    static let all = ["github", "gitlab", "google", "entra", "azure-devops", "keycloak", "okta", "auth0", "oidc",
                      "gitea", "forgejo", "codeberg", "bitbucket"]
}
