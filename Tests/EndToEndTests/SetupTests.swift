// authctl setup git against a scratch GIT_CONFIG_GLOBAL, a real clone through what it wrote, and git_usernames in real clones.
import Foundation
import Testing

/// git's global and system config files under the kit's scratch directory.
private func setupEnvironment(_ base: [String: String], scratch: Scratch, system: String? = nil) -> [String: String] {
    var environment = base
    environment["GIT_CONFIG_GLOBAL"] = scratch.path("global.gitconfig")
    if let system {
        environment["GIT_CONFIG_SYSTEM"] = system
        environment.removeValue(forKey: "GIT_CONFIG_NOSYSTEM")
    }
    return environment
}

private func gitConfig(_ arguments: [String], _ environment: [String: String]) async throws -> Command.Result {
    try await offPool("/usr/bin/git", ["config"] + arguments, environment: environment)
}

@Suite("authctl setup git", .enabled(if: clientBinariesBuilt() && FileManager.default.isExecutableFile(atPath: "/usr/bin/git")))
struct SetupGitTests {
    @Test("writes an empty helper then the absolute helper path, useHttpPath for a path; a second run changes nothing")
    func writesAndIsIdempotent() async throws {
        let kit = try ClientTestKit()
        let environment = setupEnvironment(kit.environment, scratch: kit.scratch)
        let before = "[user]\n\tname = someone\n[credential \"https://other.example\"]\n\thelper = store\n"
        try kit.scratch.write("global.gitconfig", before, mode: 0o644)
        let helper = Binaries.path("git-credential-authctl")

        let printed = try await offPool(Binaries.path("authctl"), ["setup", "git", "--print"], environment: environment)
        #expect(printed.status == 0, "\(printed.stderr)")
        #expect(printed.stdout.contains("would change"))
        #expect(printed.stdout.contains("  git config --global --add credential.http://127.0.0.1:9/git.helper ''\n"), "\(printed.stdout)")
        #expect(try String(contentsOfFile: kit.scratch.path("global.gitconfig"), encoding: .utf8) == before)

        let first = try await offPool(Binaries.path("authctl"), ["setup", "git"], environment: environment)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.contains("  credential.http://127.0.0.1:9/git.helper\n  + (empty: git forgets the helpers configured before it)\n  + \(helper)\n"),
                "\(first.stdout)")
        #expect(first.stderr.isEmpty, "\(first.stderr)")
        let helpers = try await gitConfig(["--global", "--get-all", "credential.http://127.0.0.1:9/git.helper"], environment)
        #expect(helpers.stdout == "\n\(helper)\n")
        #expect(try await gitConfig(["--global", "--get", "credential.http://127.0.0.1:9/git.usehttppath"], environment).stdout == "true\n")
        #expect(try await gitConfig(["--global", "--get-all", "credential.http://localhost:9.helper"], environment).stdout == "\n\(helper)\n")
        // A prefix without a path needs no useHttpPath; other URLs' settings are untouched.
        #expect(try await gitConfig(["--global", "--get", "credential.http://localhost:9.usehttppath"], environment).status == 1)
        #expect(try await gitConfig(["--global", "--get-all", "credential.https://other.example.helper"], environment).stdout == "store\n")
        #expect(try await gitConfig(["--global", "--get", "user.name"], environment).stdout == "someone\n")

        let written = try String(contentsOfFile: kit.scratch.path("global.gitconfig"), encoding: .utf8)
        let second = try await offPool(Binaries.path("authctl"), ["setup", "git"], environment: environment)
        #expect(second.status == 0, "\(second.stderr)")
        #expect(second.stdout.contains("already set up for demo, bearer-demo"), "\(second.stdout)")
        #expect(try String(contentsOfFile: kit.scratch.path("global.gitconfig"), encoding: .utf8) == written)
    }

    @Test("one audience by name; an old helper for its URL is shown as removed")
    func namedAudienceReplacesOldHelper() async throws {
        let kit = try ClientTestKit()
        let environment = setupEnvironment(kit.environment, scratch: kit.scratch)
        try kit.scratch.write("global.gitconfig", "[credential \"http://localhost:9\"]\n\thelper = /old/git-credential-authctl\n", mode: 0o644)
        let result = try await offPool(Binaries.path("authctl"), ["setup", "git", "bearer-demo"], environment: environment)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("  credential.http://localhost:9.helper\n  - /old/git-credential-authctl\n  + (empty"), "\(result.stdout)")
        #expect(try await gitConfig(["--global", "--get-all", "credential.http://localhost:9.helper"], environment).stdout
                == "\n\(Binaries.path("git-credential-authctl"))\n")
        // demo was not named: nothing written for it.
        #expect(try await gitConfig(["--global", "--get-all", "credential.http://127.0.0.1:9/git.helper"], environment).status == 1)
    }

    @Test("a storing helper configured after it, in the repository's config, is warned about with its file")
    func warnsAboutLaterHelpers() async throws {
        let kit = try ClientTestKit()
        var environment = setupEnvironment(kit.environment, scratch: kit.scratch)
        let repository = kit.scratch.path("repo")
        #expect(try await offPool("/usr/bin/git", ["init", "-q", repository], environment: environment).status == 0)
        #expect(try await offPool("/usr/bin/git", ["-C", repository, "config", "credential.helper", "store"], environment: environment).status == 0)
        environment["GIT_DIR"] = repository + "/.git"
        for arguments in [["setup", "git", "demo", "--print"], ["setup", "git", "demo"]] {
            let result = try await offPool(Binaries.path("authctl"), arguments, environment: environment)
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stderrLines.count == 1, "\(arguments): \(result.stderr)")
            #expect(result.stderr.contains("including \"store\" (credential.helper in \(repository)/.git/config)"), "\(arguments): \(result.stderr)")
        }
    }

    @Test("unhappy paths: unknown audience, audience without git_urls, no git on PATH; nothing written")
    func refusals() async throws {
        let kit = try ClientTestKit(config: ClientTestKit.defaultConfig + "\n[audience.plain]\ntoken_endpoint = \"http://127.0.0.1:9/t\"\ndevice_authorization_endpoint = \"http://127.0.0.1:9/d\"\nclient_id = \"c\"\n")
        var environment = setupEnvironment(kit.environment, scratch: kit.scratch)
        let unknown = try await offPool(Binaries.path("authctl"), ["setup", "git", "dmeo"], environment: environment)
        #expect(unknown.status == 2 && unknown.stderr.contains("no audience \"dmeo\"") && unknown.stderr.contains("did you mean"), "\(unknown.stderr)")
        let plain = try await offPool(Binaries.path("authctl"), ["setup", "git", "plain"], environment: environment)
        #expect(plain.status == 2 && plain.stderr.contains("audience plain has no git_urls; add git_urls"), "\(plain.stderr)")
        environment["PATH"] = kit.scratch.path("empty-bin")
        let noGit = try await offPool(Binaries.path("authctl"), ["setup", "git"], environment: environment)
        #expect(noGit.status == 2 && noGit.stderr.contains("git is not on PATH"), "\(noGit.stderr)")
        #expect(!FileManager.default.fileExists(atPath: kit.scratch.path("global.gitconfig")))
        let other = try await offPool(Binaries.path("authctl"), ["setup", "dokcer"], environment: environment)
        #expect(other.status == 2 && other.stderr.contains("unknown command setup dokcer (did you mean \"docker\"?); usage: authctl setup | authctl setup git [AUD…] | authctl setup docker"), "\(other.stderr)")
    }
}

@Suite("setup git and git_usernames with real git, authd and authd-devserver", .enabled(if: realStackAvailable()), .serialized)
struct SetupRealStackTests {
    static func bareRepository(_ scratch: Scratch) async throws -> String {
        let root = scratch.path("repos")
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let initialise = try await offPool("/usr/bin/git", ["-c", "init.defaultBranch=main", "init", "--bare", "-q", root + "/repo.git"])
        #expect(initialise.status == 0)
        return root
    }

    @Test("a clone through what setup git wrote, with store in the system config: no token on disk afterwards")
    func cloneLeavesNoTokenOnDisk() async throws {
        let scratch = Scratch("setup-clone")
        let root = try await Self.bareRepository(scratch)
        let server = try await offPoolValue { try DevServer(scratch, arguments: ["--interval", "1", "--auto-approve", "0", "--git-root", root]) }
        let daemon = try DaemonUnderTest(scratch, config: demoConfig(server.baseURL))
        try await offPoolValue { try daemon.start() }
        let login = try await daemon.clientOffPool("authctl", ["get", "demo", "--interactive"])
        #expect(login.status == 0, "\(login.stderr)")
        let token = login.stdout.trimmingCharacters(in: .newlines)
        #expect(!token.isEmpty)

        // A machine-wide `store` helper: without the empty helper entry git would hand it the token.
        try scratch.write("system.gitconfig", "[credential]\n\thelper = store\n", mode: 0o644)
        var environment = setupEnvironment(daemon.environment, scratch: scratch, system: scratch.path("system.gitconfig"))
        environment["GIT_TERMINAL_PROMPT"] = "0"
        let setup = try await offPool(Binaries.path("authctl"), ["setup", "git"], environment: environment)
        #expect(setup.status == 0, "\(setup.stderr)")
        #expect(setup.stderr.isEmpty, "\(setup.stderr)")

        let work = scratch.path("work")
        let clone = try await offPool("/usr/bin/git", ["-c", "protocol.version=2", "clone", "-q", server.baseURL + "/git/repo.git", work],
                                      environment: environment, timeout: 60)
        #expect(clone.status == 0, "\(clone.stderr)\n\(daemon.allLogs)")
        // store would have written $HOME/.git-credentials (or $XDG_CONFIG_HOME/git/credentials).
        let home = scratch.path("home")
        #expect(!FileManager.default.fileExists(atPath: home + "/.git-credentials"))
        #expect(!FileManager.default.fileExists(atPath: scratch.path("config/git/credentials")))
        // Nor anywhere git writes: HOME, XDG_CONFIG_HOME, the clone, the config files (the daemon's
        // encrypted store and the devserver's files are elsewhere).
        var files = [scratch.path("global.gitconfig"), scratch.path("system.gitconfig")]
        for directory in [home, scratch.path("config"), work] {
            files += ((try? FileManager.default.subpathsOfDirectory(atPath: directory)) ?? []).map { directory + "/" + $0 }
        }
        #expect(files.count > 3)
        for path in files {
            guard let data = FileManager.default.contents(atPath: path) else { continue }
            #expect(data.range(of: Data(token.utf8)) == nil, "the token is in \(path)")
        }
    }

    @Test("two logins at one host: the user name in the remote URL picks the audience, without useHttpPath")
    func usernamesPickTheAudience() async throws {
        let scratch = Scratch("setup-usernames")
        let root = try await Self.bareRepository(scratch)
        let server = try await offPoolValue { try DevServer(scratch, arguments: ["--interval", "1", "--auto-approve", "0", "--git-root", root]) }
        let config = """
            [audience.work]
            issuer = "\(server.baseURL)"
            client_id = "authctl-test"
            scopes = ["openid", "offline_access"]
            git_urls = ["\(server.baseURL)/"]
            git_usernames = ["work"]

            [audience.personal]
            issuer = "\(server.baseURL)"
            client_id = "authctl-test"
            scopes = ["openid", "offline_access"]
            git_urls = ["\(server.baseURL)/"]
            git_usernames = ["me"]

            """
        let daemon = try DaemonUnderTest(scratch, config: config)
        try await offPoolValue { try daemon.start() }
        var tokens: [String: String] = [:]
        for audience in ["work", "personal"] {
            let login = try await daemon.clientOffPool("authctl", ["get", audience, "--interactive"])
            #expect(login.status == 0, "\(login.stderr)")
            tokens[audience] = login.stdout.trimmingCharacters(in: .newlines)
        }
        #expect(tokens["work"] != tokens["personal"])
        let check = try await daemon.clientOffPool("authctl", ["config", "check"])
        #expect(check.status == 0 && check.stderr.isEmpty, "\(check.stderr)")

        let environment = gitEnvironment(daemon.environment, home: scratch.path("home"))
        let options = gitHelperOptions(useHttpPath: false)
        let authority = server.baseURL.replacingOccurrences(of: "http://", with: "")
        for (user, audience) in [("work", "work"), ("me", "personal")] {
            let fill = try await offPool("/usr/bin/git", options + ["credential", "fill"], stdin: "url=http://\(user)@\(authority)/git/repo.git\n\n",
                                         environment: environment)
            #expect(fill.status == 0, "\(fill.stderr)")
            #expect(fill.stdout.contains("password=\(tokens[audience]!)\n"), "\(user): \(fill.stdout)")
            let clone = try await offPool("/usr/bin/git", options + ["clone", "-q", "http://\(user)@\(authority)/git/repo.git", scratch.path("clone-\(user)")],
                                          environment: environment, timeout: 60)
            #expect(clone.status == 0, "\(user): \(clone.stderr)")
        }
        // No user name in the URL: neither audience answers, so git (with prompts off) fails.
        let anonymous = try await offPool("/usr/bin/git", options + ["clone", "-q", server.baseURL + "/git/repo.git", scratch.path("clone-none")],
                                          environment: environment, timeout: 60)
        #expect(anonymous.status != 0)
        // Logging out of personal leaves work's remote working and personal's failing.
        #expect(try await daemon.clientOffPool("authctl", ["logout", "personal"]).status == 0)
        let workFetch = try await offPool("/usr/bin/git", options + ["ls-remote", "http://work@\(authority)/git/repo.git"], environment: environment, timeout: 60)
        #expect(workFetch.status == 0, "\(workFetch.stderr)")
        let personalFetch = try await offPool("/usr/bin/git", options + ["ls-remote", "http://me@\(authority)/git/repo.git"], environment: environment, timeout: 60)
        #expect(personalFetch.status != 0)
    }
}

@Suite("authctl setup, the interactive first run", .enabled(if: clientBinariesBuilt() && FileManager.default.isExecutableFile(atPath: "/usr/bin/script")))
struct SetupInteractiveTests {
    /// A kit without a config file, with git's global config in the scratch directory.
    func kitWithoutConfig() throws -> (ClientTestKit, [String: String]) {
        let kit = try ClientTestKit()
        try FileManager.default.removeItem(atPath: kit.configPath)
        try FileManager.default.createDirectory(atPath: kit.scratch.path("home"), withIntermediateDirectories: true)
        return (kit, setupEnvironment(kit.environment, scratch: kit.scratch))
    }

    @Test("without a terminal: prints the questions, exits 2, writes nothing")
    func noTerminal() async throws {
        let (kit, environment) = try kitWithoutConfig()
        let result = try await offPool(Binaries.path("authctl"), ["setup"], stdin: "github\n", environment: environment)
        #expect(result.status == 2)
        #expect(result.stdout.hasPrefix("authctl setup asks, on a terminal:\n  1. provider ("), "\(result.stdout)")
        #expect(result.stdout.contains("authctl config init --provider NAME"))
        #expect(!FileManager.default.fileExists(atPath: kit.configPath))
    }

    @Test("on a terminal: provider (a typo is caught), client id, git URLs; writes the config 0600, checks it, sets up git")
    func firstRun() async throws {
        let (kit, environment) = try kitWithoutConfig()
        // Answers typed at the terminal: a misspelt provider, gitlab, the client id, the default
        // git URL, no login (no daemon here), yes to setup git.
        let answers = "gitlba\ngitlab\nCLIENT-123\n\nn\ny\n"
        let result = try await offPool("/usr/bin/script", ["-qec", "\(Binaries.path("authctl")) setup", "/dev/null"],
                                       stdin: answers, environment: environment, timeout: 60)
        let screen = result.stdout.replacingOccurrences(of: "\r\n", with: "\n")
        #expect(result.status == 0, "\(screen)")
        #expect(screen.contains("unknown provider \"gitlba\" (did you mean \"gitlab\"?)"), "\(screen)")
        #expect(screen.contains("register an app at https://gitlab.com/-/user_settings/applications"), "\(screen)")
        #expect(screen.contains("config OK: 1 audience"), "\(screen)")
        #expect(screen.contains("credential.https://gitlab.com.helper"), "\(screen)")
        let text = try String(contentsOfFile: kit.configPath, encoding: .utf8)
        #expect(text.contains("client_id = \"CLIENT-123\""))
        #expect(text.contains("git_urls = [\"https://gitlab.com/\"]"))
        let mode = try FileManager.default.attributesOfItem(atPath: kit.configPath)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        #expect(try await gitConfig(["--global", "--get-all", "credential.https://gitlab.com.helper"], environment).stdout
                == "\n\(Binaries.path("git-credential-authctl"))\n")
    }

    @Test("answers that do not make a valid config write nothing and say so")
    func invalidAnswers() async throws {
        let (kit, environment) = try kitWithoutConfig()
        // keycloak needs its realm URL: "not a url" is refused by the config parser.
        let answers = "keycloak\nnot-a-url\nclient\n-\n"
        let result = try await offPool("/usr/bin/script", ["-qec", "\(Binaries.path("authctl")) setup", "/dev/null"],
                                       stdin: answers, environment: environment, timeout: 60)
        let screen = result.stdout.replacingOccurrences(of: "\r\n", with: "\n")
        #expect(result.status == 2, "\(screen)")
        #expect(screen.contains("these answers do not make a valid config"), "\(screen)")
        #expect(!FileManager.default.fileExists(atPath: kit.configPath))
    }
}
