// The daemon follows its config file: edits are served at once, a broken audience stays alone, a failed reload is visible.
import Foundation
import Testing

@Suite("the daemon follows its config", .enabled(if: realStackAvailable()), .serialized)
struct ConfigFollowTests {
    static let fastFlow = ["--interval", "1", "--auto-approve", "0"]

    @Test("a config written after the daemon started is served by the next request, without SIGHUP")
    func configWrittenLaterIsServed() async throws {
        let scratch = Scratch("follow-new")
        let server = try await offPoolValue { try DevServer(scratch, arguments: Self.fastFlow) }
        let daemon = try DaemonUnderTest(scratch, config: "")
        try FileManager.default.removeItem(atPath: daemon.configPath)
        try await offPoolValue { try daemon.start() }

        let before = try await daemon.clientOffPool("authctl", ["status"])
        #expect(before.status == 0 && before.stdout.contains("No audiences configured in \(daemon.configPath)"), "\(before.stdout)")
        #expect(before.stdout.contains("authctl config init"))
        let unknown = try await daemon.clientOffPool("authctl", ["get", "dev"])
        #expect(unknown.status == 2 && unknown.stderr.contains("no audience named \"dev\": authd serves no audiences (config: \(daemon.configPath))"), "\(unknown.stderr)")
        #expect(unknown.stderr.contains("authctl config init"))
        let other = try await daemon.clientOffPool("authctl", ["--config", "/nonexistent.toml", "status"])
        #expect(other.stderr.contains("--config /nonexistent.toml is not what the running authd serves"), "\(other.stderr)")

        try scratch.write("config/authd/config.toml", demoConfig(server.baseURL, audience: "dev"))
        let get = try await daemon.clientOffPool("authctl", ["get", "dev", "--interactive"])
        #expect(get.status == 0, "the new audience is served at once: \(get.stderr)")
        let status = try await daemon.clientOffPool("authctl", ["status"])
        #expect(status.stdout.contains("dev") && status.stdout.contains("config: \(daemon.configPath), loaded "), "\(status.stdout)")
        #expect(!status.stdout.contains("changed since"), "\(status.stdout)")

        // An edit adds a second audience; config check names the daemon and what it serves.
        try scratch.write("config/authd/config.toml", demoConfig(server.baseURL, audience: "dev") + demoConfig(server.baseURL, audience: "two"))
        let check = try await daemon.clientOffPool("authctl", ["config", "check"])
        let pid = try #require(daemon.running?.pid)
        #expect(check.status == 0 && check.stdout.contains("the running authd (pid \(pid)) serves this file, loaded "), "\(check.stdout)")
        let second = try await daemon.clientOffPool("authctl", ["status", "--json"])
        #expect(second.stdout.contains(#""audience":"two""#), "\(second.stdout)")
        #expect(!daemon.allLogs.contains("SIGHUP"))
    }

    @Test("one broken audience at start: the others are served, it answers its own error and shows in status")
    func brokenAudienceStaysAlone() async throws {
        let scratch = Scratch("follow-broken")
        let server = try await offPoolValue { try DevServer(scratch, arguments: Self.fastFlow) }
        let broken = """
            [audience.broken]
            provider = "githib"
            client_id = "x"

            """
        let daemon = try DaemonUnderTest(scratch, config: demoConfig(server.baseURL) + broken)
        try await offPoolValue { try daemon.start() }

        let good = try await daemon.clientOffPool("authctl", ["get", "demo", "--interactive"])
        #expect(good.status == 0, "\(good.stderr)")
        let bad = try await daemon.clientOffPool("authctl", ["get", "broken"])
        #expect(bad.status == 2, "\(bad.stderr)")
        #expect(bad.stderr.contains("config.toml:8: audience.broken.provider: unknown provider \"githib\""), "\(bad.stderr)")
        #expect(bad.stderrLines.count == 1)
        let status = try await daemon.clientOffPool("authctl", ["status"])
        #expect(status.status == 0)
        #expect(status.stdout.contains("broken") && status.stdout.contains("config error"), "\(status.stdout)")
        #expect(status.stdout.contains("broken: not served: ") && status.stdout.contains("githib"), "\(status.stdout)")
        let json = try await daemon.clientOffPool("authctl", ["status", "--json"])
        #expect(json.stdout.contains(#""state":"config_error""#) && json.stdout.contains(#""config_error":""#), "\(json.stdout)")

        // The fix is served without a restart, and demo's login was never touched.
        try scratch.write("config/authd/config.toml", demoConfig(server.baseURL) + broken.replacingOccurrences(of: "githib", with: "github"))
        let fixed = try await daemon.clientOffPool("authctl", ["get", "broken"])
        #expect(fixed.status == 3, "now a real audience that needs a login: \(fixed.stderr)")
        let cached = try await daemon.clientOffPool("authctl", ["get", "demo"])
        #expect(cached.status == 0 && cached.stdout == good.stdout)
    }

    @Test("an audience broken by an edit keeps its login aside and gets it back when fixed")
    func editThatBreaksAnAudienceKeepsItsLogin() async throws {
        let scratch = Scratch("follow-edit-broken")
        let server = try await offPoolValue { try DevServer(scratch, arguments: Self.fastFlow) }
        let daemon = try DaemonUnderTest(scratch, config: demoConfig(server.baseURL))
        try await offPoolValue { try daemon.start() }
        let login = try await daemon.clientOffPool("authctl", ["get", "demo", "--interactive"])
        #expect(login.status == 0, "\(login.stderr)")

        try scratch.write("config/authd/config.toml", demoConfig(server.baseURL, extra: "scpoes = [\"x\"]"))
        let refused = try await daemon.clientOffPool("authctl", ["get", "demo"])
        #expect(refused.status == 2 && refused.stderr.contains("audience.demo.scpoes: unknown key"), "\(refused.stderr)")
        try scratch.write("config/authd/config.toml", demoConfig(server.baseURL))
        let back = try await daemon.clientOffPool("authctl", ["get", "demo"])
        #expect(back.status == 0 && back.stdout == login.stdout, "the login was kept: \(back.stderr)")
    }

    @Test("a reload that fails keeps the previous config and says so in status, get and reload")
    func failedReloadIsVisible() async throws {
        let scratch = Scratch("follow-failed")
        let server = try await offPoolValue { try DevServer(scratch, arguments: Self.fastFlow) }
        let daemon = try DaemonUnderTest(scratch, config: demoConfig(server.baseURL))
        try await offPoolValue { try daemon.start() }
        let login = try await daemon.clientOffPool("authctl", ["get", "demo", "--interactive"])
        #expect(login.status == 0, "\(login.stderr)")

        try scratch.write("config/authd/config.toml", demoConfig(server.baseURL) + "[audience.new]\nclient_id = \"x\nissuer = 1\n")
        let status = try await daemon.clientOffPool("authctl", ["status"])
        #expect(status.status == 0)
        #expect(status.stdout.contains("config reload failed") && status.stdout.contains("config.toml:8:15: unterminated string"), "\(status.stdout)")
        #expect(status.stdout.contains("authd serves the previous config"))
        let new = try await daemon.clientOffPool("authctl", ["get", "new"])
        #expect(new.status == 2 && new.stderr.contains("the config could not be reloaded"), "\(new.stderr)")
        let cached = try await daemon.clientOffPool("authctl", ["get", "demo"])
        #expect(cached.status == 0 && cached.stdout == login.stdout, "the previous config is still served")
        let reload = try await daemon.clientOffPool("authctl", ["reload"])
        #expect(reload.status == 2 && reload.stderr.contains("could not be reloaded"), "\(reload.stderr)")

        try scratch.write("config/authd/config.toml", demoConfig(server.baseURL) + demoConfig(server.baseURL, audience: "new"))
        let ok = try await daemon.clientOffPool("authctl", ["reload"])
        #expect(ok.status == 0 && ok.stdout == "reloaded \(daemon.configPath): serving 2 audiences\n", "\(ok.stdout)\(ok.stderr)")
        let after = try await daemon.clientOffPool("authctl", ["status"])
        #expect(!after.stdout.contains("reload failed"), "\(after.stdout)")
    }

    @Test("a broken [daemon] section stops an autostart, and the client prints the reason itself")
    func brokenDaemonSectionIsShownByTheClient() async throws {
        let scratch = Scratch("follow-daemon")
        let daemon = try DaemonUnderTest(scratch, config: "[daemon]\nrefresh_margin = \"5 minutes\"\n")
        let result = try await daemon.clientOffPool("authctl", ["status"])
        #expect(result.status == 5, "\(result.stderr)")
        #expect(result.stderr.contains("daemon.refresh_margin: invalid duration \"5 minutes\""), "\(result.stderr)")
        #expect(result.stderr.contains("authd exited with status 2 while starting, saying the above"), "\(result.stderr)")
    }

    @Test("while the provider is unreachable an expired login is 'refresh failing', not 'login needed'")
    func refreshFailingIsNotLoginNeeded() async throws {
        let scratch = Scratch("follow-refresh-failing")
        let server = try await offPoolValue { try DevServer(scratch, arguments: Self.fastFlow + ["--access-token-ttl", "3"]) }
        let daemon = try DaemonUnderTest(scratch, config: demoConfig(server.baseURL))
        try await offPoolValue { try daemon.start() }
        let login = try await daemon.clientOffPool("authctl", ["get", "demo", "--interactive"])
        #expect(login.status == 0, "\(login.stderr)")
        server.running.stop()
        let status = try await offPoolValue { () throws -> Command.Result in
            var last = try daemon.client("authctl", ["status"])
            _ = try Bounds.waitUntil {
                last = try daemon.client("authctl", ["status"])
                return last.stdout.contains("refresh failing")
            }
            return last
        }
        #expect(status.stdout.contains("refresh failing"), "\(status.stdout)")
        #expect(!status.stdout.contains("login needed"), "\(status.stdout)")
        #expect(status.stdout.contains("demo: refresh failing (") && status.stdout.contains("no login is needed"), "\(status.stdout)")
    }
}
