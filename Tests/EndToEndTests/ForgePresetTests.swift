// The forge presets (no device flow) end to end against their emulations: browser login, git clone, refresh, logout.
import Foundation
import Testing

/// One forge preset and what its emulation and a person should see. Every one logs in with the authorization
/// code flow, rotates its refresh tokens and has no revocation endpoint (PROVIDERS.md, docs/providers.md).
struct ForgeCase: Sendable, CustomTestStringConvertible {
    var name: String
    var profile: String
    var serverArguments: [String] = []
    /// The lines of the `[audience.p]` table; `BASE` stands for the server's URL.
    var config: String
    var authorizePath: String
    var tokenPath: String
    /// The Basic user name the preset gives git.
    var gitUsername: String
    /// Where logout sends the person, since there is nothing to revoke at.
    var revocationPlace: String

    var testDescription: String { name }

    static let all: [ForgeCase] = [
        ForgeCase(name: "gitea", profile: "gitea", config: """
            provider  = "gitea"
            base_url  = "BASE"
            client_id = "0a1b2c3d-0000-4000-8000-00000000617e"
            git_urls  = ["BASE/git/"]
            """,
            authorizePath: "/login/oauth/authorize", tokenPath: "/login/oauth/access_token",
            gitUsername: "oauth2", revocationPlace: "BASE/user/settings/applications"),
        ForgeCase(name: "forgejo", profile: "forgejo", config: """
            provider  = "forgejo"
            base_url  = "BASE"
            client_id = "0a1b2c3d-0000-4000-8000-0000000f0e90"
            git_urls  = ["BASE/git/"]
            """,
            authorizePath: "/login/oauth/authorize", tokenPath: "/login/oauth/access_token",
            gitUsername: "oauth2", revocationPlace: "BASE/user/settings/applications"),
        // Codeberg's address is fixed: explicit endpoints override the preset's, the rest of it stays
        // (so logout still names codeberg.org, which is where a real Codeberg login is revoked).
        ForgeCase(name: "codeberg", profile: "codeberg", config: """
            provider  = "codeberg"
            client_id = "0a1b2c3d-0000-4000-8000-0000000c0deb"
            authorization_endpoint = "BASE/login/oauth/authorize"
            token_endpoint         = "BASE/login/oauth/access_token"
            git_urls  = ["BASE/git/"]
            """,
            authorizePath: "/login/oauth/authorize", tokenPath: "/login/oauth/access_token",
            gitUsername: "oauth2", revocationPlace: "https://codeberg.org/user/settings/applications"),
        // Bitbucket's endpoints are fixed too, and its consumers are confidential: the emulation knows only this
        // consumer and wants its secret in HTTP Basic at the token endpoint.
        ForgeCase(name: "bitbucket", profile: "bitbucket", serverArguments: ["--client", "bbconsumer:bb-dev-secret"], config: """
            provider      = "bitbucket"
            client_id     = "bbconsumer"
            client_secret = "bb-dev-secret"
            authorization_endpoint = "BASE/site/oauth2/authorize"
            token_endpoint         = "BASE/site/oauth2/access_token"
            git_urls      = ["BASE/git/"]
            """,
            authorizePath: "/site/oauth2/authorize", tokenPath: "/site/oauth2/access_token",
            gitUsername: "x-token-auth", revocationPlace: "https://bitbucket.org/account/settings/app-authorizations/"),
    ]
}

@Suite("forge presets against their emulations", .enabled(if: realStackAvailable()), .serialized)
struct ForgePresetEndToEndTests {
    /// A bare repository with one commit, for the emulation's git to serve (filled without any credentials).
    static func seededRepository(_ scratch: Scratch) async throws -> String {
        let root = scratch.path("repos")
        let seed = scratch.path("seed")
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: seed, withIntermediateDirectories: true)
        try "hello from the forge\n".write(toFile: seed + "/README", atomically: true, encoding: .utf8)
        let identity = ["-c", "user.name=seed", "-c", "user.email=seed@example.com", "-c", "init.defaultBranch=main"]
        for step in [["init", "--bare", "-q", root + "/repo.git"], ["-C", seed, "init", "-q"], ["-C", seed, "add", "README"],
                     ["-C", seed, "commit", "-q", "-m", "first"], ["-C", seed, "push", "-q", root + "/repo.git", "HEAD:main"]] {
            let result = try await offPool("/usr/bin/git", identity + step)
            try #require(result.status == 0, "git \(step): \(result.stderr)")
        }
        return root
    }

    @Test("authorization code login in the browser, git clone through the helper, refresh, logout", arguments: ForgeCase.all)
    func forgeEndToEnd(_ forge: ForgeCase) async throws {
        let repos = Scratch("forge-repos-" + forge.name)
        let root = try await Self.seededRepository(repos)
        let rig = try await PresetRig.start("forge-" + forge.name, profile: forge.profile,
                                            serverArguments: ["--git-root", root, "--access-token-ttl", "600"] + forge.serverArguments,
                                            config: forge.config, environment: ["AUTHD_NO_BROWSER": "1"])
        defer { rig.daemon.stop() }
        let base = rig.server.baseURL

        // Login: the preset has no device flow, so plain `login` goes straight to the browser; the test is the browser.
        let login = try await offPoolValue {
            try RunningProcess(executable: Binaries.path("authctl"), arguments: ["login", "p"], environment: rig.daemon.environment,
                               stderrPath: rig.scratch.path("login.log"), captureStdout: false)
        }
        let url = try await AuthorizationCodeEndToEndTests.waitForURL { login.stderrText }
        var secrets = LoginSecrets()
        let authorizationURL = try #require(url, "\(forge.name): no authorization URL in: \(login.stderrText)")
        secrets.learn(from: authorizationURL)
        #expect(authorizationURL.hasPrefix(base + forge.authorizePath + "?"), "\(secrets.redacted(authorizationURL))")
        #expect(authorizationURL.contains("code_challenge_method=S256"))
        let browser = try await AuthorizationCodeEndToEndTests.browse(authorizationURL, follow: true)
        secrets.learn(from: browser.finalURL)
        #expect(browser.status == 200, "\(secrets.redacted(browser.finalURL))")
        #expect(browser.finalURL.hasPrefix("http://127.0.0.1:") && browser.finalURL.contains("/callback?"),
                "\(secrets.redacted(browser.finalURL))")
        let loginStatus = try await offPoolValue { login.waitForExit(timeout: 60) }
        #expect(loginStatus == 0, "\(forge.name): \(secrets.redacted(login.stderrText))")
        #expect(login.stderrText.contains("Logged in to p"), "\(secrets.redacted(login.stderrText))")
        #expect(secrets.code != nil, "the redirect carried a code")
        #expect(rig.server.requests(endpoint: "device_authorization").isEmpty, "no device flow was tried")
        let exchanges = { rig.requests(path: forge.tokenPath).filter { $0["grant_type"] as? String == "authorization_code" } }
        #expect(exchanges().count == 1 && exchanges().first?["result"] as? String == "issued", "\(exchanges())")

        let get = try await rig.authctl(["get", "p"])
        #expect(get.status == 0, "\(get.stderr)")
        let first = get.stdout.trimmingCharacters(in: .newlines)
        let firstLive = try await rig.isLive(first)
        #expect(firstLive, "the login stored a token the provider honours")

        // git: real git through git-credential-authctl, Basic with the forge's user rule. The emulation's git refuses
        // a user name other than the one Bitbucket insists on; the forges take any.
        let host = base.dropFirst("http://".count)
        let fill = try await rig.daemon.clientOffPool("git-credential-authctl", ["get"],
                                                      stdin: "protocol=http\nhost=\(host)\npath=git/repo.git\n\n")
        #expect(fill.status == 0, "\(fill.stderr)")
        // Only the user name line is compared, so a failure never prints the password line.
        let usernames = fill.stdout.split(separator: "\n").filter { $0.hasPrefix("username=") }
        #expect(usernames == ["username=\(forge.gitUsername)"], "\(usernames)")
        let work = rig.scratch.path("work")
        let clone = try await GitRealStackTests.git(["clone", "-q", base + "/git/repo.git", work], rig.daemon)
        #expect(clone.status == 0, "\(forge.name): \(clone.stderr)")
        let readme = try? String(contentsOfFile: work + "/README", encoding: .utf8)
        #expect(readme == "hello from the forge\n", "the clone has the repository's commit")
        var gitResults = rig.server.requests(endpoint: "git").compactMap { $0["result"] as? String }
        #expect(gitResults.contains("ok"), "\(gitResults)")
        #expect(!gitResults.contains("wrong_username") && !gitResults.contains("invalid_token"), "\(gitResults)")

        // Refresh: asking for all of a 600 s token's lifetime forces one (more than the lifetime would not: the
        // freshest token is served with a short_of_min_valid note); the second refresh uses the rotated refresh
        // token, so it fails unless the daemon stored the new one.
        var served: [String] = []
        for _ in 0..<2 {
            let renewed = try await rig.authctl(["get", "p", "--min-valid", "600"])
            #expect(renewed.status == 0, "\(renewed.stderr)")
            served.append(renewed.stdout.trimmingCharacters(in: .newlines))
        }
        #expect(rig.refreshes.count == 2, "\(forge.name): expected two refreshes, saw \(rig.refreshes.count)")
        let distinct = Set(served + [first]).count == 3
        #expect(distinct, "each refresh serves a new token")
        let failedRefreshes = rig.server.requests.filter {
            $0["grant_type"] as? String == "refresh_token" && $0["result"] as? String != "issued"
        }
        #expect(failedRefreshes.isEmpty, "\(failedRefreshes)")
        let current = served.last ?? first
        let currentLive = try await rig.isLive(current)
        #expect(currentLive)
        #expect(exchanges().count == 1, "a refresh must not need a new login")

        // git after the refresh: the helper hands over the refreshed token and the forge takes it.
        let gitRequestsBefore = rig.server.requests(endpoint: "git").count
        let fetch = try await GitRealStackTests.git(["fetch", "-q", "origin"], in: work, rig.daemon)
        #expect(fetch.status == 0, "\(forge.name): \(fetch.stderr)")
        gitResults = rig.server.requests(endpoint: "git").dropFirst(gitRequestsBefore).compactMap { $0["result"] as? String }
        #expect(gitResults.contains("ok"), "\(gitResults)")

        // Logout: no revocation endpoint, so nothing reaches the provider and the person is told where to revoke.
        let requestsBeforeLogout = rig.server.requests.count
        let logout = try await rig.authctl(["logout", "p"])
        #expect(logout.status == 0, "\(logout.stderr)")
        #expect(logout.stdout.contains(forge.revocationPlace.replacing("BASE", with: base)), "\(logout.stdout)")
        #expect(rig.server.requests.count == requestsBeforeLogout, "no revocation and no discovery looking for one")
        let after = try await rig.authctl(["get", "p"])
        #expect(after.status == 3, "logged out: a new login is needed")

        // Nothing of the login or its tokens reaches a log; the code is not even in the prompt.
        rig.daemon.stop()
        #expect(secrets.leaked(into: rig.daemon.allLogs).isEmpty, "the daemon's log names a code, state or challenge")
        let tokenLeaked = ([first] + served).contains { rig.daemon.allLogs.contains($0) || rig.server.running.stderrText.contains($0) }
        #expect(!tokenLeaked, "a token is in the daemon's or the devserver's log")
        if let code = secrets.code {
            let codeShown = login.stderrText.contains(code) || rig.server.running.stderrText.contains(code)
            #expect(!codeShown, "the authorization code is in the prompt or the devserver's log")
        }
    }
}
