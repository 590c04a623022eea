// git-credential-authctl end to end: git's protocol fed directly, real `git credential`, and clone/push through authd-devserver.
import Foundation
import Testing

/// The `-c` options that make git use only our helper and nothing from the user's setup.
func gitHelperOptions(useHttpPath: Bool = true) -> [String] {
    ["-c", "credential.helper=", "-c", "credential.helper=\(Binaries.path("git-credential-authctl"))",
     "-c", "credential.useHttpPath=\(useHttpPath)", "-c", "user.name=authd test", "-c", "user.email=test@example.invalid",
     "-c", "init.defaultBranch=main", "-c", "protocol.version=2"]
}

func gitEnvironment(_ base: [String: String], home: String) -> [String: String] {
    var environment = base
    environment["HOME"] = home
    environment["GIT_TERMINAL_PROMPT"] = "0"
    environment["GIT_CONFIG_NOSYSTEM"] = "1"
    environment["GIT_ASKPASS"] = ""
    return environment
}

/// The first 8 bytes of SHA-256, in hex: what the daemon names a token by.
func fingerprint(_ token: String) async throws -> String {
    let result = try await offPool("/usr/bin/sha256sum", [], stdin: token)
    return String(result.stdout.prefix(16))
}

@Suite("git-credential-authctl against a scripted daemon", .enabled(if: clientBinariesBuilt()))
struct GitHelperProtocolTests {
    @Test("a basic audience answers username, password and password_expiry_utc, even when git offers authtype")
    func basicAnswer() async throws {
        let kit = try ClientTestKit { _ in [ScriptedDaemon.token("tok-git-basic", expiresAt: 1_900_000_000)] }
        let result = try await kit.run("git-credential-authctl", ["get"],
                                 stdin: "capability[]=authtype\nprotocol=http\nhost=127.0.0.1:9\npath=git/repo.git\nwwwauth[]=Basic realm=\"x\"\n\n")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "username=oauth2\npassword=tok-git-basic\npassword_expiry_utc=1900000000\n")
        #expect(kit.daemon?.requests.first?["audience"] as? String == "demo")
        #expect(kit.daemon?.requests.first?["interactive"] as? Bool == false)
    }

    @Test("a bearer audience answers with authtype when git 2.46+ announces the capability, else Basic")
    func bearerAnswer() async throws {
        let kit = try ClientTestKit { _ in [ScriptedDaemon.token("tok-git-bearer", expiresAt: 1_900_000_000)] }
        let modern = try await kit.run("git-credential-authctl", ["get"],
                                 stdin: "capability[]=authtype\ncapability[]=state\nprotocol=http\nhost=localhost:9\n\n")
        #expect(modern.status == 0, "\(modern.stderr)")
        #expect(modern.stdout == "capability[]=authtype\nauthtype=Bearer\ncredential=tok-git-bearer\nephemeral=1\npassword_expiry_utc=1900000000\n")
        let older = try await kit.run("git-credential-authctl", ["get"], stdin: "protocol=http\nhost=localhost:9\n\n")
        #expect(older.stdout == "username=oauth2\npassword=tok-git-bearer\npassword_expiry_utc=1900000000\n")
    }

    @Test("an unmatched URL gets an empty answer and exit 0, and no token is asked for",
          arguments: ["protocol=https\nhost=example.com\n\n", "protocol=http\nhost=127.0.0.1:10\npath=git/x\n\n",
                      "protocol=http\nhost=127.0.0.1:9\npath=other/x\n\n", "protocol=ssh\nhost=127.0.0.1:9\n\n", "\n"])
    func unmatched(input: String) async throws {
        let kit = try ClientTestKit { _ in [ScriptedDaemon.token()] }
        let result = try await kit.run("git-credential-authctl", ["get"], stdin: input)
        #expect(result.status == 0)
        #expect(result.stdout.isEmpty && result.stderr.isEmpty)
        #expect(kit.daemon?.requests.isEmpty == true)
    }

    @Test("an unmatched URL never starts a daemon, even with autostart on")
    func unmatchedNeverAutostarts() async throws {
        let kit = try ClientTestKit(config: ClientTestKit.defaultConfig.replacingOccurrences(of: "autostart = false", with: "autostart = true"))
        let result = try await kit.run("git-credential-authctl", ["get"], stdin: "protocol=https\nhost=example.com\n\n")
        #expect(result.status == 0 && result.stdout.isEmpty)
        #expect(result.duration < Bounds.atOnce)
        #expect(!FileManager.default.fileExists(atPath: kit.scratch.path("state/authd.log")))
    }

    @Test("erase sends the rejected token's fingerprint for the matched audience")
    func eraseSendsFingerprint() async throws {
        let kit = try ClientTestKit { _ in [#"{"ok":true,"erased":true,"audience":"demo"}"#] }
        let result = try await kit.run("git-credential-authctl", ["erase"],
                                 stdin: "protocol=http\nhost=127.0.0.1:9\npath=git/repo.git\nusername=oauth2\npassword=tok-rejected\n\n")
        #expect(result.status == 0 && result.stdout.isEmpty, "\(result.stderr)")
        let request = try #require(kit.daemon?.requests.first)
        #expect(request["op"] as? String == "erase")
        #expect(request["audience"] as? String == "demo")
        #expect(request["fingerprint"] as? String == (try await fingerprint("tok-rejected")))
        #expect(!(String(decoding: try JSONSerialization.data(withJSONObject: request), as: UTF8.self).contains("tok-rejected")))
    }

    @Test("store and unknown actions are no-ops")
    func storeIsNoOp() async throws {
        let kit = try ClientTestKit { _ in [ScriptedDaemon.token()] }
        for action in ["store", "frobnicate"] {
            let result = try await kit.run("git-credential-authctl", [action], stdin: "protocol=http\nhost=127.0.0.1:9\npath=git/r\npassword=x\n\n")
            #expect(result.status == 0 && result.stdout.isEmpty && result.stderr.isEmpty)
        }
        #expect(kit.daemon?.requests.isEmpty == true)
    }

    @Test("input over 64 KiB or a line over 8 KiB is refused with nothing on stdout and one stderr line")
    func inputLimits() async throws {
        let kit = try ClientTestKit { _ in [ScriptedDaemon.token()] }
        let longLine = "protocol=http\nhost=127.0.0.1:9\npath=git/" + String(repeating: "a", count: 9000) + "\n\n"
        let huge = "protocol=http\nhost=127.0.0.1:9\n" + String(repeating: "wwwauth[]=Basic\n", count: 5000) + "\n"
        for input in [longLine, huge] {
            let result = try await kit.run("git-credential-authctl", ["get"], stdin: input)
            #expect(result.stdout.isEmpty)
            #expect(result.stderrLines.count == 1)
        }
        #expect(kit.daemon?.requests.isEmpty == true)
    }

    /// Security finding 2: the authority ends at `#` or `?`, so these name evil.example, not the
    /// configured 127.0.0.1:9; the old parser split at the last `@` and answered with demo's token.
    @Test("an ambiguous url= or a . or .. path segment gets no answer and the daemon is not asked",
          arguments: ["url=http://evil.example#@127.0.0.1:9/git/repo.git\n\n", "url=http://evil.example?@127.0.0.1:9/git/repo.git\n\n",
                      "url=http://a@b@127.0.0.1:9/git/repo.git\n\n", "url=http://evil.example\\@127.0.0.1:9/git/repo.git\n\n",
                      "protocol=http\nhost=127.0.0.1:9\nurl=http://evil.example/git/repo.git\n\n",
                      "url=http://127.0.0.1:9/git/repo.git\nhost=evil.example\n\n",
                      "protocol=http\nhost=127.0.0.1:9\npath=git/../other/repo.git\n\n",
                      "protocol=http\nhost=127.0.0.1:9\npath=git/%2e%2E/other/repo.git\n\n"])
    func ambiguousRequestsRefused(input: String) async throws {
        let kit = try ClientTestKit { _ in [ScriptedDaemon.token("tok-must-not-leak")] }
        let result = try await kit.run("git-credential-authctl", ["get"], stdin: input)
        #expect(result.stdout.isEmpty)
        #expect(result.stderrLines.count == 1, "\(result.stderr)")
        #expect(!result.stderr.contains("tok-must-not-leak"))
        #expect(kit.daemon?.requests.isEmpty == true)
    }

    @Test("a plain url= still answers, for the host it names")
    func plainURLAnswers() async throws {
        let kit = try ClientTestKit { _ in [ScriptedDaemon.token("tok-url", expiresAt: 1_900_000_000)] }
        let result = try await kit.run("git-credential-authctl", ["get"], stdin: "url=http://someone@127.0.0.1:9/git/repo.git\n\n")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "username=oauth2\npassword=tok-url\npassword_expiry_utc=1900000000\n")
    }

    /// UX A4: the git_urls entry has a path and git sent none (no useHttpPath): one line saying so.
    @Test("no path for a host whose entries all have one: one stderr hint naming the useHttpPath command")
    func useHttpPathHint() async throws {
        let kit = try ClientTestKit { _ in [ScriptedDaemon.token()] }
        let result = try await kit.run("git-credential-authctl", ["get"], stdin: "protocol=http\nhost=127.0.0.1:9\n\n")
        #expect(result.status == 0 && result.stdout.isEmpty)
        #expect(result.stderrLines == ["git-credential-authctl: git sent no path, so git_urls entry http://127.0.0.1:9/git does not match; to make git send it, run: git config --global credential.http://127.0.0.1:9.useHttpPath true"])
        #expect(kit.daemon?.requests.isEmpty == true)
        let erase = try await kit.run("git-credential-authctl", ["erase"], stdin: "protocol=http\nhost=127.0.0.1:9\npassword=x\n\n")
        #expect(erase.stderr.isEmpty)
    }

    @Test("login needed without a terminal: nothing on stdout, one line naming authctl login")
    func loginNeeded() async throws {
        let kit = try ClientTestKit { _ in
            [ScriptedDaemon.failure("login_needed", "demo: login needed (not logged in) and nobody can be prompted here", hint: "run: authctl login demo")]
        }
        let result = try await kit.run("git-credential-authctl", ["get"], stdin: "protocol=http\nhost=127.0.0.1:9\npath=git/r.git\n\n")
        #expect(result.stdout.isEmpty)
        #expect(result.stderrLines == ["git-credential-authctl: login needed for demo; run: authctl login demo"])
        #expect(result.duration < Bounds.atOnce)
    }

    @Test("real git: credential fill returns the token, reject erases it, unmatched hosts fall through")
    func gitCredentialFillAndReject() async throws {
        let kit = try ClientTestKit { request in
            request["op"] as? String == "erase" ? [#"{"ok":true,"erased":true,"audience":"demo"}"#] : [ScriptedDaemon.token("tok-fill")]
        }
        let environment = gitEnvironment(kit.environment, home: kit.scratch.path("home"))
        let fill = try await offPool("/usr/bin/git", gitHelperOptions() + ["credential", "fill"],
                                   stdin: "url=http://127.0.0.1:9/git/repo.git\n\n", environment: environment)
        #expect(fill.status == 0, "\(fill.stderr)")
        #expect(fill.stdout.contains("username=oauth2\n") && fill.stdout.contains("password=tok-fill\n"))

        let reject = try await offPool("/usr/bin/git", gitHelperOptions() + ["credential", "reject"],
                                     stdin: fill.stdout + "\n", environment: environment)
        #expect(reject.status == 0, "\(reject.stderr)")
        let erase = try #require(kit.daemon?.requests.last)
        #expect(erase["op"] as? String == "erase")
        #expect(erase["fingerprint"] as? String == (try await fingerprint("tok-fill")))

        // Unmatched: our helper answers nothing, so git falls through to asking, which is disabled here.
        let unmatched = try await offPool("/usr/bin/git", gitHelperOptions() + ["credential", "fill"],
                                        stdin: "url=https://unrelated.example/x.git\n\n", environment: environment)
        #expect(unmatched.status != 0)
        #expect(unmatched.stdout.isEmpty)
        #expect(kit.daemon?.requests.count == 2)
    }
}

@Suite("git through authd and authd-devserver", .enabled(if: realStackAvailable()), .serialized)
struct GitRealStackTests {
    static func git(_ arguments: [String], in directory: String? = nil, _ daemon: DaemonUnderTest) async throws -> Command.Result {
        var options = gitHelperOptions()
        if let directory { options = ["-C", directory] + options }
        return try await offPool("/usr/bin/git", options + arguments, environment: gitEnvironment(daemon.environment, home: daemon.scratch.path("home")),
                               timeout: 60)
    }

    @Test("git credential fill returns the daemon's token; reject makes the next fill return a fresh one")
    func fillAndReject() async throws {
        let scratch = Scratch("git-fill")
        let server = try await offPoolValue { try DevServer(scratch, arguments: ["--interval", "1", "--auto-approve", "0"]) }
        let daemon = try DaemonUnderTest(scratch, config: demoConfig(server.baseURL))
        try await offPoolValue { try daemon.start() }
        let login = try await daemon.clientOffPool("authctl", ["get", "demo", "--interactive"])
        #expect(login.status == 0, "\(login.stderr)")
        let token = login.stdout.trimmingCharacters(in: .newlines)

        let input = "url=\(server.baseURL)/git/repo.git\n\n"
        let first = try await offPool("/usr/bin/git", gitHelperOptions() + ["credential", "fill"], stdin: input,
                                    environment: gitEnvironment(daemon.environment, home: scratch.path("home")))
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.contains("password=\(token)\n"))

        let reject = try await offPool("/usr/bin/git", gitHelperOptions() + ["credential", "reject"], stdin: first.stdout + "\n",
                                     environment: gitEnvironment(daemon.environment, home: scratch.path("home")))
        #expect(reject.status == 0, "\(reject.stderr)")
        let second = try await offPool("/usr/bin/git", gitHelperOptions() + ["credential", "fill"], stdin: input,
                                     environment: gitEnvironment(daemon.environment, home: scratch.path("home")))
        #expect(second.status == 0, "\(second.stderr)")
        #expect(second.stdout.contains("password="))
        #expect(!second.stdout.contains("password=\(token)\n"))
    }

    @Test("the running daemon's config maps the URL: a helper with no config of its own answers, hints and declines as the daemon says")
    func daemonMapsTheURL() async throws {
        let scratch = Scratch("git-lookup")
        let server = try await offPoolValue { try DevServer(scratch, arguments: ["--interval", "1", "--auto-approve", "0"]) }
        let daemon = try DaemonUnderTest(scratch, config: demoConfig(server.baseURL))
        try await offPoolValue { try daemon.start() }
        let login = try await daemon.clientOffPool("authctl", ["get", "demo", "--interactive"])
        #expect(login.status == 0, "\(login.stderr)")
        let token = login.stdout.trimmingCharacters(in: .newlines)
        // The helper's own config does not exist: only the daemon's can map the URL.
        let noConfig = ["AUTHD_CONFIG": scratch.path("absent.toml")]
        let host = server.baseURL.replacingOccurrences(of: "http://", with: "")
        let fill = try await offPoolValue {
            try daemon.client("git-credential-authctl", ["get"], stdin: "protocol=http\nhost=\(host)\npath=git/repo.git\n\n", extraEnvironment: noConfig)
        }
        #expect(fill.status == 0 && fill.stderr.isEmpty, "\(fill.stderr)")
        #expect(fill.stdout.hasPrefix("username=oauth2\npassword=\(token)\n"))
        let unmatched = try await offPoolValue {
            try daemon.client("git-credential-authctl", ["get"], stdin: "protocol=http\nhost=\(host)\npath=other/repo.git\n\n", extraEnvironment: noConfig)
        }
        #expect(unmatched.status == 0 && unmatched.stdout.isEmpty && unmatched.stderr.isEmpty, "\(unmatched.stderr)")
        let noPath = try await offPoolValue {
            try daemon.client("git-credential-authctl", ["get"], stdin: "protocol=http\nhost=\(host)\n\n", extraEnvironment: noConfig)
        }
        #expect(noPath.status == 0 && noPath.stdout.isEmpty)
        #expect(noPath.stderr == "git-credential-authctl: git sent no path, so git_urls entry \(server.baseURL)/git does not match; to make git send it, run: git config --global credential.\(server.baseURL).useHttpPath true\n")
        // The lookup serves no token and writes no audit record; the get after it does, once.
        let served = try SocketClient.exchange(daemon.socketPath, #"{"op":"audit","audience":"demo"}"#)
        #expect(served.components(separatedBy: "token_served").count - 1 == 2, "the login's get and the helper's get: \(served)")
    }

    @Test("clone and push over smart HTTP; after the token is revoked git erases it and the retry recovers")
    func cloneRevokeRecover() async throws {
        let scratch = Scratch("git-clone")
        let root = scratch.path("repos")
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let initialise = try await offPool("/usr/bin/git", ["-c", "init.defaultBranch=main", "init", "--bare", "-q", root + "/repo.git"])
        #expect(initialise.status == 0)
        let server = try await offPoolValue { try DevServer(scratch, arguments: ["--interval", "1", "--auto-approve", "0", "--git-root", root]) }
        let daemon = try DaemonUnderTest(scratch, config: demoConfig(server.baseURL))
        try await offPoolValue { try daemon.start() }
        let login = try await daemon.clientOffPool("authctl", ["get", "demo", "--interactive"])
        #expect(login.status == 0, "\(login.stderr)")
        let token = login.stdout.trimmingCharacters(in: .newlines)

        let work = scratch.path("work")
        let clone = try await Self.git(["clone", "-q", server.baseURL + "/git/repo.git", work], daemon)
        #expect(clone.status == 0, "\(clone.stderr)")
        try "hello\n".write(toFile: work + "/README", atomically: true, encoding: .utf8)
        #expect(try await Self.git(["add", "README"], in: work, daemon).status == 0)
        #expect(try await Self.git(["commit", "-q", "-m", "first"], in: work, daemon).status == 0)
        let push = try await Self.git(["push", "-q", "origin", "HEAD:main"], in: work, daemon)
        #expect(push.status == 0, "\(push.stderr)")

        // The provider revokes the served token; the daemon does not know yet.
        let revoked = try HTTP.post(server.baseURL + "/revoke", form: ["token": token, "client_id": "authctl-test"])
        #expect(revoked.status == 200)
        #expect(try !server.isActive(token))

        try "second\n".write(toFile: work + "/README", atomically: true, encoding: .utf8)
        #expect(try await Self.git(["commit", "-q", "-am", "second"], in: work, daemon).status == 0)
        let rejected = try await Self.git(["push", "-q", "origin", "HEAD:main"], in: work, daemon)
        #expect(rejected.status != 0)
        #expect(rejected.stderr.contains("Authentication failed") || rejected.stderr.contains("401"), "\(rejected.stderr)")

        // git erased the rejected token: the helper now gets a refreshed one and the push succeeds.
        let retried = try await Self.git(["push", "-q", "origin", "HEAD:main"], in: work, daemon)
        #expect(retried.status == 0, "\(retried.stderr)\n\(daemon.allLogs)")
        let fresh = try await daemon.clientOffPool("authctl", ["get", "demo"])
        #expect(fresh.status == 0 && fresh.stdout != login.stdout)

        let fetch = try await Self.git(["ls-remote", server.baseURL + "/git/repo.git"], daemon)
        #expect(fetch.status == 0 && fetch.stdout.contains("refs/heads/main"))
    }
}

/// Security finding 11 and UX A4: `authctl config check` asks git which helpers it runs for each
/// git_urls entry and whether it sends the path, in a scratch HOME with its own ~/.gitconfig.
@Suite("authctl config check reads git's credential settings", .enabled(if: clientBinariesBuilt()))
struct ConfigCheckGitTests {
    func check(_ kit: ClientTestKit, gitconfig: String?, path: String = "/usr/bin:/bin") async throws -> Command.Result {
        if let gitconfig { try kit.scratch.write("home/.gitconfig", gitconfig) }
        var environment = kit.environment
        environment["PATH"] = path
        return try await offPool(Binaries.path("authctl"), ["config", "check"], environment: environment)
    }

    @Test("store before or after authctl is named with the file to remove it from")
    func storeIsNamed() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: "/usr/bin/git"), "git is not installed")
        let kit = try ClientTestKit()
        let home = kit.scratch.path("home")
        let result = try await check(kit, gitconfig: """
            [credential]
            \thelper = store
            \tuseHttpPath = true
            [credential "http://127.0.0.1:9"]
            \thelper = authctl
            [credential "http://localhost:9"]
            \thelper =
            \thelper = authctl
            """)
        #expect(result.status == 0)
        #expect(result.stdout == "config OK: 2 audiences\n")
        #expect(result.stderrLines == ["\(kit.configPath):8: audience.demo.git_urls: warning: git hands the token for http://127.0.0.1:9/git to every helper configured for it, including \"store\" (credential.helper in \(home)/.gitconfig), which writes it in plain text to ~/.git-credentials (or its --file); remove it with: git config --file \(home)/.gitconfig --fixed-value --unset-all credential.helper store, or keep it for other hosts as docs/clients.md describes (\"Other credential helpers\")"])
    }

    @Test("a git_urls entry with a path warns until git sends paths for its host")
    func useHttpPath() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: "/usr/bin/git"), "git is not installed")
        let kit = try ClientTestKit()
        let expected = "\(kit.configPath):8: audience.demo.git_urls: warning: git sends helpers no path for http://127.0.0.1:9 unless credential.useHttpPath is true for it, so http://127.0.0.1:9/git never matches and git asks for a user name; run: git config --global credential.http://127.0.0.1:9.useHttpPath true"
        let without = try await check(kit, gitconfig: "[credential \"http://127.0.0.1:9\"]\n\thelper = authctl\n")
        #expect(without.status == 0 && without.stderrLines == [Substring(expected)])
        let noGit = try await check(kit, gitconfig: nil, path: kit.scratch.path("empty-bin"))
        #expect(noGit.status == 0 && noGit.stderrLines == [Substring(expected)])
        let with = try await check(kit, gitconfig: "[credential \"http://127.0.0.1:9\"]\n\thelper = authctl\n\tuseHttpPath = true\n")
        #expect(with.status == 0 && with.stderr.isEmpty, "\(with.stderr)")
    }
}


@Suite("git-credential-authctl on its own", .enabled(if: clientBinariesBuilt()))
struct GitHelperHelpTests {
    @Test("--help prints what it does and how to set it up; --man is a roff page; an unknown action is ignored")
    func help() async throws {
        try await offPoolValue {
            let help = try Command.run(Binaries.path("git-credential-authctl"), ["--help"])
            #expect(help.status == 0 && help.stdout.hasPrefix("usage: git-credential-authctl get|store|erase"), "\(help.stdout)")
            #expect(help.stdout.contains("git config --global credential.https://HOST.helper"))
            let man = try Command.run(Binaries.path("git-credential-authctl"), ["--man"])
            #expect(man.status == 0 && man.stdout.hasPrefix(".TH GIT\\-CREDENTIAL\\-AUTHCTL 1"), "\(man.stdout)")
            let other = try Command.run(Binaries.path("git-credential-authctl"), ["frobnicate"])
            #expect(other.status == 0 && other.stdout.isEmpty)
        }
    }
}
