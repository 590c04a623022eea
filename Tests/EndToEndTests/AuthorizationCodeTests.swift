// The authorization code login with the real binaries: the test plays the browser against authd-devserver's /authorize.
import AuthdPosix
import Foundation
import Testing

/// A login's secrets as the test learns them, to prove none reached a log, and to cut from failure messages.
struct LoginSecrets {
    var values: [String] = []
    var code: String?

    /// Takes `state` and `code` out of an address's query.
    mutating func learn(from url: String) {
        guard let query = url.split(separator: "?", maxSplits: 1).last else { return }
        for pair in query.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            if parts.count == 2, ["state", "code", "code_challenge", "nonce"].contains(String(parts[0])) {
                let value = String(parts[1]).removingPercentEncoding ?? String(parts[1])
                values.append(value)
                if parts[0] == "code" { code = value }
            }
        }
    }

    func redacted(_ text: String) -> String {
        values.reduce(text) { $0.replacingOccurrences(of: $1, with: "[redacted]") }
    }

    func leaked(into text: String) -> [String] { values.filter { $0.count >= 8 && text.contains($0) } }
}

@Suite("authorization code login end to end", .enabled(if: realStackAvailable()), .serialized)
struct AuthorizationCodeEndToEndTests {
    struct Rig {
        let scratch: Scratch
        let server: DevServer
        let daemon: DaemonUnderTest

        static func start(_ name: String, serverArguments: [String], extra: String = "") async throws -> Rig {
            let scratch = Scratch(name)
            let server = try await offPoolValue { try DevServer(scratch, arguments: serverArguments) }
            let daemon = try DaemonUnderTest(scratch, config: demoConfig(server.baseURL, extra: extra))
            daemon.extraEnvironment["AUTHD_NO_BROWSER"] = "1"
            try await offPoolValue { try daemon.start() }
            return Rig(scratch: scratch, server: server, daemon: daemon)
        }

        /// Runs authctl in the background (no terminal: the prompt goes to stderr).
        func background(_ arguments: [String], log: String) throws -> RunningProcess {
            try RunningProcess(executable: Binaries.path("authctl"), arguments: arguments, environment: daemon.environment,
                               stderrPath: scratch.path(log), captureStdout: false)
        }
    }

    /// The authorization URL from a prompt: the line that asks for `response_type=code`.
    static func authorizationURL(in text: String) -> String? {
        text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            .first { $0.hasPrefix("http://127.0.0.1:") && $0.contains("response_type=code") }
    }

    /// Waits (off the test pool) until `text` shows the authorization URL.
    static func waitForURL(_ text: @escaping @Sendable () -> String) async throws -> String? {
        try await offPoolValue {
            _ = Bounds.waitUntil { authorizationURL(in: text()) != nil }
            return authorizationURL(in: text())
        }
    }

    /// The browser: follows the devserver's redirect to authd's loopback listener; the final status and URL.
    static func browse(_ url: String, follow: Bool) async throws -> (status: Int, finalURL: String) {
        let arguments = ["-s", "-o", "/dev/null", "-w", follow ? "%{http_code} %{url_effective}" : "%{http_code} %{redirect_url}"]
            + (follow ? ["-L"] : []) + [url]
        let result = try await offPool("/usr/bin/curl", arguments)
        let parts = result.stdout.split(separator: " ", maxSplits: 1)
        return (Int(parts.first ?? "") ?? 0, parts.count > 1 ? String(parts[1]) : "")
    }

    @Test("login --flow authcode: the browser's redirect reaches the loopback listener, one callback, port closed after")
    func loginThroughTheLoopbackRedirect() async throws {
        let rig = try await Rig.start("authd-authcode", serverArguments: ["--auto-approve"])
        defer { rig.daemon.stop() }
        let login = try await offPoolValue { try rig.background(["login", "demo", "--flow", "authcode"], log: "login.log") }
        let url = try await Self.waitForURL { login.stderrText }
        var secrets = LoginSecrets()
        let authorizationURL = try #require(url, "no authorization URL in: \(login.stderrText)")
        secrets.learn(from: authorizationURL)
        #expect(authorizationURL.contains("code_challenge_method=S256"))
        #expect(login.stderrText.contains("open this address in your browser"), "\(secrets.redacted(login.stderrText))")

        let browser = try await Self.browse(authorizationURL, follow: true)
        #expect(browser.status == 200, "\(secrets.redacted(browser.finalURL))")
        secrets.learn(from: browser.finalURL)
        #expect(browser.finalURL.hasPrefix("http://127.0.0.1:") && browser.finalURL.contains("/callback?"))
        let status = try await offPoolValue { login.waitForExit(timeout: 60) }
        #expect(status == 0, "\(secrets.redacted(login.stderrText))")
        #expect(login.stderrText.contains("Logged in to demo"))

        // The listener is gone with its login: the same callback finds nothing listening.
        let again = try await offPool("/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", browser.finalURL])
        #expect(again.stdout == "000", "a second callback must find the port closed")

        let token = try await offPoolValue { try rig.daemon.client("authctl", ["get", "demo"]) }
        #expect(token.status == 0 && !token.stdout.isEmpty)
        #expect(secrets.values.count >= 4, "state, challenge, nonce and code were all seen")
        #expect(secrets.leaked(into: rig.daemon.allLogs).isEmpty, "the daemon's log names a code, state or challenge")
        // The prompt shows the URL (state and challenge are in it by necessity); the code appears nowhere.
        let code = try #require(secrets.code)
        #expect(!login.stderrText.contains(code) && !rig.server.running.stderrText.contains(code))
    }

    @Test("paste-back on a terminal: a wrong state is refused, the address the browser ended on completes the login")
    func pasteBackThroughAPseudoTerminal() async throws {
        let rig = try await Rig.start("authd-authcode-paste", serverArguments: ["--auto-approve"])
        defer { rig.daemon.stop() }
        let command = "stty rows 40 cols 200; exec \(Binaries.path("authctl")) login demo --flow authcode"
        let terminal = try RunningProcess(executable: "/usr/bin/script", arguments: ["-qec", command, "/dev/null"],
                                          environment: rig.daemon.environment, stderrPath: rig.scratch.path("script.log"),
                                          captureStdout: true, feedStdin: true)
        defer { close(terminal.stdinDescriptor) }
        let screen = Locked("")
        let reader = Thread {
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let n = read(terminal.stdoutDescriptor, &buffer, buffer.count)
                if n <= 0 { break }
                let text = String(decoding: buffer[..<n], as: UTF8.self)
                screen.mutate { $0 += text }
            }
        }
        reader.start()
        let url = try await Self.waitForURL { screen.get() }
        var secrets = LoginSecrets()
        let authorizationURL = try #require(url, "no authorization URL on the terminal")
        secrets.learn(from: authorizationURL)
        #expect(screen.get().contains("or paste the address your browser ends on") || screen.get().contains("Or paste the address your browser ends on"))

        // The browser is elsewhere: it does not follow the redirect; the person copies the address it shows.
        let browser = try await Self.browse(authorizationURL, follow: false)
        let redirect = browser.finalURL
        secrets.learn(from: redirect)
        #expect(redirect.contains("/callback?") && redirect.contains("code="), "\(secrets.redacted(redirect))")

        let forged = redirect.replacingOccurrences(of: "state=", with: "state=x")
        Spawn.writeAll(Array((forged + "\n").utf8), toKeepingOpen: terminal.stdinDescriptor)
        _ = try await offPoolValue { Bounds.waitUntil { screen.get().contains("state does not match") } }
        #expect(screen.get().contains("state does not match"), "\(secrets.redacted(screen.get()))")
        #expect(terminal.isRunning, "a wrong state must not end the login")

        Spawn.writeAll(Array((redirect + "\n").utf8), toKeepingOpen: terminal.stdinDescriptor)
        let status = try await offPoolValue { terminal.waitForExit(timeout: 60) }
        #expect(status == 0, "\(secrets.redacted(screen.get()))")
        _ = try await offPoolValue { Bounds.waitUntil { screen.get().contains("Logged in to demo") } }
        #expect(screen.get().contains("Logged in to demo"), "\(secrets.redacted(screen.get()))")
        #expect(secrets.leaked(into: rig.daemon.allLogs).isEmpty, "the daemon's log names a code, state or challenge")
        let token = try await offPoolValue { try rig.daemon.client("authctl", ["get", "demo"]) }
        #expect(token.status == 0)
    }

    @Test("flow = auto: a provider that refuses the device grant gets the authorization code flow in the same prompt")
    func autoFallsBackWhenTheDeviceGrantIsRefused() async throws {
        let rig = try await Rig.start("authd-authcode-auto", serverArguments: ["--auto-approve", "--device-flow-disabled"])
        defer { rig.daemon.stop() }
        let login = try await offPoolValue { try rig.background(["login", "demo"], log: "login.log") }
        let url = try await Self.waitForURL { login.stderrText }
        var secrets = LoginSecrets()
        let authorizationURL = try #require(url, "no authorization URL in: \(login.stderrText)")
        secrets.learn(from: authorizationURL)
        #expect(login.stderrText.contains("refused the device flow"), "\(secrets.redacted(login.stderrText))")
        // The provider's words and the setup hint are still said, in the same prompt.
        #expect(login.stderrText.contains("unauthorized_client") && login.stderrText.contains("enable"), "\(secrets.redacted(login.stderrText))")
        #expect(rig.server.requests(endpoint: "device_authorization").count == 1)
        let browser = try await Self.browse(authorizationURL, follow: true)
        #expect(browser.status == 200)
        let status = try await offPoolValue { login.waitForExit(timeout: 60) }
        #expect(status == 0, "\(secrets.redacted(login.stderrText))")
    }

    @Test("a denial at /authorize exits 4 with one line")
    func deniedAtTheProviderExitsFour() async throws {
        let rig = try await Rig.start("authd-authcode-deny", serverArguments: ["--deny"])
        defer { rig.daemon.stop() }
        let login = try await offPoolValue { try rig.background(["login", "demo", "--flow", "authcode"], log: "login.log") }
        let url = try await Self.waitForURL { login.stderrText }
        let authorizationURL = try #require(url)
        _ = try await Self.browse(authorizationURL, follow: true)
        let status = try await offPoolValue { login.waitForExit(timeout: 60) }
        #expect(status == 4)
        #expect(login.stderrText.contains("denied"))
    }
}
