// Every provider preset end to end against authd-devserver's emulation of that provider (--profile).
import Foundation
import Testing

/// One preset, the emulation it runs against, and what a person and git should see.
struct PresetCase: Sendable, CustomTestStringConvertible {
    enum Refresh: Sendable {
        /// The provider issues no refresh token (GitHub OAuth apps: the token never expires).
        case never
        /// Each refresh returns a new refresh token and the old one dies.
        case rotating
        /// Refresh answers carry no refresh token: the first one is used again (Google).
        case reused
    }

    enum Logout: Sendable {
        /// RFC 7009 at this path.
        case revokedAt(String)
        /// No revocation endpoint: logout points the person to this place.
        case hint(String)
    }

    var name: String
    var profile: String
    var serverArguments: [String] = []
    /// The lines of the `[audience.NAME]` table; `BASE` stands for the server's URL.
    var config: String
    var devicePath: String
    var tokenPath: String
    var refresh: Refresh
    var logout: Logout
    var gitUsername: String
    var gitBearer = false

    var testDescription: String { name }

    static func named(_ name: String) -> PresetCase { all.first { $0.name == name }! }

    static let all: [PresetCase] = [
        PresetCase(name: "github", profile: "github", config: """
            provider  = "github"
            base_url  = "BASE"
            client_id = "Ov23liTESTCLIENT0000"
            git_urls  = ["https://git.example.com/"]
            """,
            devicePath: "/login/device/code", tokenPath: "/login/oauth/access_token", refresh: .never,
            logout: .hint("BASE/settings/applications"), gitUsername: "x-access-token"),
        PresetCase(name: "github (GitHub App, expiring tokens)", profile: "github",
            serverArguments: ["--github-app", "--access-token-ttl", "600"], config: """
            provider  = "github"
            base_url  = "BASE"
            client_id = "Iv1.0123456789abcdef"
            git_urls  = ["https://git.example.com/"]
            """,
            devicePath: "/login/device/code", tokenPath: "/login/oauth/access_token", refresh: .rotating,
            logout: .hint("BASE/settings/applications"), gitUsername: "x-access-token"),
        PresetCase(name: "gitlab", profile: "gitlab", serverArguments: ["--access-token-ttl", "600"], config: """
            provider  = "gitlab"
            base_url  = "BASE"
            client_id = "0123456789abcdef0123456789abcdef"
            git_urls  = ["https://git.example.com/"]
            """,
            devicePath: "/oauth/authorize_device", tokenPath: "/oauth/token", refresh: .rotating,
            logout: .revokedAt("/oauth/revoke"), gitUsername: "oauth2"),
        // Google's endpoints are fixed hosts: explicit endpoints override the preset's, the rest of it stays.
        PresetCase(name: "google", profile: "google",
            serverArguments: ["--access-token-ttl", "600", "--client", "123-test.apps.googleusercontent.com:GOCSPX-devsecret"],
            config: """
            provider  = "google"
            client_id = "123-test.apps.googleusercontent.com"
            client_secret = "GOCSPX-devsecret"
            # The emulation stands in for the issuer too: its id_tokens are verified against its keys.
            issuer = "BASE"
            device_authorization_endpoint = "BASE/device/code"
            token_endpoint                = "BASE/token"
            revocation_endpoint           = "BASE/revoke"
            git_urls  = ["https://git.example.com/"]
            """,
            devicePath: "/device/code", tokenPath: "/token", refresh: .reused,
            logout: .revokedAt("/revoke"), gitUsername: "oauth2"),
        PresetCase(name: "entra", profile: "entra", serverArguments: ["--access-token-ttl", "600"], config: """
            provider  = "entra"
            base_url  = "BASE"
            tenant    = "contoso.onmicrosoft.com"
            client_id = "00000000-0000-0000-0000-00000000c11e"
            git_urls  = ["https://git.example.com/"]
            """,
            devicePath: "/contoso.onmicrosoft.com/oauth2/v2.0/devicecode",
            tokenPath: "/contoso.onmicrosoft.com/oauth2/v2.0/token", refresh: .rotating,
            logout: .hint("https://myaccount.microsoft.com/"), gitUsername: "oauth2"),
        // The v1 endpoint has no preset of its own: the entra preset with explicit v1 endpoints.
        PresetCase(name: "entra (v1 endpoint)", profile: "entra-v1", serverArguments: ["--access-token-ttl", "600"], config: """
            provider  = "entra"
            tenant    = "contoso"
            client_id = "00000000-0000-0000-0000-00000000c11e"
            # The emulation stands in for the issuer too: its id_tokens are verified against its keys.
            issuer    = "BASE/contoso"
            device_authorization_endpoint = "BASE/contoso/oauth2/devicecode"
            token_endpoint                = "BASE/contoso/oauth2/token"
            git_urls  = ["https://git.example.com/"]
            """,
            devicePath: "/contoso/oauth2/devicecode", tokenPath: "/contoso/oauth2/token", refresh: .rotating,
            logout: .hint("https://myaccount.microsoft.com/"), gitUsername: "oauth2"),
        PresetCase(name: "azure-devops", profile: "entra", serverArguments: ["--access-token-ttl", "600"], config: """
            provider  = "azure-devops"
            base_url  = "BASE"
            tenant    = "00000000-0000-0000-0000-0000000000aa"
            client_id = "00000000-0000-0000-0000-00000000c11e"
            git_urls  = ["https://git.example.com/"]
            """,
            devicePath: "/00000000-0000-0000-0000-0000000000aa/oauth2/v2.0/devicecode",
            tokenPath: "/00000000-0000-0000-0000-0000000000aa/oauth2/v2.0/token", refresh: .rotating,
            logout: .hint("https://myaccount.microsoft.com/"), gitUsername: "oauth2"),
        PresetCase(name: "keycloak", profile: "keycloak", serverArguments: ["--access-token-ttl", "600"], config: """
            provider  = "keycloak"
            base_url  = "BASE/realms/engineering"
            client_id = "authd"
            scopes    = ["openid", "offline_access"]
            git_urls  = ["https://git.example.com/"]
            git_auth  = "bearer"
            """,
            devicePath: "/realms/engineering/protocol/openid-connect/auth/device",
            tokenPath: "/realms/engineering/protocol/openid-connect/token", refresh: .rotating,
            logout: .revokedAt("/realms/engineering/protocol/openid-connect/revoke"), gitUsername: "oauth2", gitBearer: true),
        PresetCase(name: "okta", profile: "okta", serverArguments: ["--access-token-ttl", "600"], config: """
            provider  = "okta"
            base_url  = "BASE"
            client_id = "0oa1b2c3d4e5f6g7h8i9"
            git_urls  = ["https://git.example.com/"]
            """,
            devicePath: "/oauth2/default/v1/device/authorize", tokenPath: "/oauth2/default/v1/token", refresh: .rotating,
            logout: .revokedAt("/oauth2/default/v1/revoke"), gitUsername: "oauth2"),
        PresetCase(name: "auth0", profile: "auth0", serverArguments: ["--access-token-ttl", "600"], config: """
            provider     = "auth0"
            base_url     = "BASE"
            client_id    = "AbCdEfGhIjKlMnOpQrStUvWxYz012345"
            extra_params = { audience = "https://api.example.com" }
            git_urls     = ["https://git.example.com/"]
            """,
            devicePath: "/oauth/device/code", tokenPath: "/oauth/token", refresh: .rotating,
            logout: .revokedAt("/oauth/revoke"), gitUsername: "oauth2"),
        PresetCase(name: "oidc", profile: "standard", serverArguments: ["--access-token-ttl", "600"], config: """
            provider  = "oidc"
            issuer    = "BASE"
            client_id = "authd"
            git_urls  = ["https://git.example.com/"]
            """,
            devicePath: "/device_authorization", tokenPath: "/token", refresh: .rotating,
            logout: .revokedAt("/revoke"), gitUsername: "oauth2"),
    ]
}

/// A preset audience named `p` in front of a devserver with the preset's profile (ForgePresetTests uses it too).
struct PresetRig {
    let scratch: Scratch
    let server: DevServer
    let daemon: DaemonUnderTest

    /// Everything that blocks (processes, waits) runs off the test pool, so this long suite never starves
    /// the async tests that share the process.
    static func start(_ name: String, profile: String, serverArguments: [String], config: String,
                      autoApprove: Bool = true, environment: [String: String] = [:]) async throws -> PresetRig {
        try #require(Binaries.available, "built programs not found in \(Binaries.directory.path); run make build or set AUTHD_BIN_DIR")
        return try await offPoolValue {
            let scratch = Scratch("preset-" + name.filter { $0.isLetter || $0.isNumber })
            let server = try DevServer(scratch, arguments: ["--profile", profile, "--interval", "1"]
                                       + (autoApprove ? ["--auto-approve"] : []) + serverArguments)
            let daemon = try DaemonUnderTest(scratch, config: "[audience.p]\n" + config.replacing("BASE", with: server.baseURL) + "\n")
            daemon.extraEnvironment = environment
            try daemon.start()
            return PresetRig(scratch: scratch, server: server, daemon: daemon)
        }
    }

    func authctl(_ arguments: [String]) async throws -> Command.Result {
        try await daemon.clientOffPool("authctl", arguments)
    }

    func requests(path: String) -> [[String: Any]] {
        server.requests.filter { $0["path"] as? String == path }
    }

    var refreshes: [[String: Any]] {
        server.requests.filter { $0["grant_type"] as? String == "refresh_token" && $0["result"] as? String == "issued" }
    }

    /// Whether the provider considers the token live; a Bool, so a failing expectation never prints the token.
    func isLive(_ token: String) async throws -> Bool {
        try await introspect(token)["active"] as? Bool == true
    }

    /// RFC 7662 at the devserver's own introspection endpoint, common to every profile.
    func introspect(_ token: String) async throws -> [String: Any] {
        let url = server.baseURL + "/introspect"
        let result = try await offPoolValue { try HTTP.post(url, form: ["token": token]) }
        return try #require(try JSONSerialization.jsonObject(with: result.body) as? [String: Any])
    }

    func gitFill(capabilities: Bool) async throws -> Command.Result {
        let input = (capabilities ? "capability[]=authtype\n" : "") + "protocol=https\nhost=git.example.com\npath=team/repo.git\n\n"
        return try await daemon.clientOffPool("git-credential-authctl", ["get"], stdin: input)
    }
}

@Suite("provider presets against their emulations", .serialized)
struct ProviderPresetEndToEndTests {
    @Test("device flow, refresh, git answer and logout", arguments: PresetCase.all)
    func presetEndToEnd(_ preset: PresetCase) async throws {
        let rig = try await PresetRig.start(preset.name, profile: preset.profile, serverArguments: preset.serverArguments, config: preset.config)
        defer { rig.daemon.stop() }

        // The device flow, on the provider's own paths and in its own wire dialect.
        let login = try await rig.authctl(["get", "p", "--interactive"])
        #expect(login.status == 0, "\(preset.name): \(login.stderr)")
        let first = login.stdout.trimmingCharacters(in: .newlines)
        let oneLine = !first.isEmpty && !first.contains("\n")
        #expect(oneLine, "stdout is the token and a newline")
        #expect(login.stderr.contains(rig.server.baseURL + "/device"), "the prompt names the verification page")
        #expect(rig.requests(path: preset.devicePath).count == 1)
        #expect(rig.requests(path: preset.tokenPath).contains { $0["result"] as? String == "issued" })
        let firstLive = try await rig.isLive(first)
        #expect(firstLive)

        var current = first
        switch preset.refresh {
        case .never:
            let status = try await rig.authctl(["status", "--json"])
            #expect(status.status == 0)
            #expect(status.stdout.contains(#""has_refresh_token":false"#), "\(status.stdout)")
        case .rotating, .reused:
            // Asking for all of a 600 s token's lifetime forces a refresh, with no timing involved (more than the
            // lifetime would not: MinimumValidity serves the best token then); the
            // second proves the stored refresh token is the right one (the new one after rotation, the old
            // one when the provider keeps it). Timer-driven refreshes are DaemonTests' business.
            var served: [String] = []
            for _ in 0..<2 {
                let renewed = try await rig.authctl(["get", "p", "--min-valid", "600"])
                #expect(renewed.status == 0, "\(renewed.stderr)")
                served.append(renewed.stdout.trimmingCharacters(in: .newlines))
            }
            #expect(rig.refreshes.count == 2, "\(preset.name): expected two refreshes, saw \(rig.refreshes.count)")
            let distinct = Set(served + [first]).count == 3
            #expect(distinct, "each refresh serves a new token")
            current = served.last ?? first
            let currentLive = try await rig.isLive(current)
            #expect(currentLive)
            if preset.profile == "gitlab" {
                // GitLab: a refresh kills the old access token too; the daemon must not serve it any more.
                let firstStillLive = try await rig.isLive(first)
                #expect(!firstStillLive)
            }
            #expect(rig.requests(path: preset.devicePath).count == 1, "a refresh must not need a new device flow")
            let failedRefreshes = rig.server.requests.filter {
                $0["grant_type"] as? String == "refresh_token" && $0["result"] as? String != "issued"
            }
            #expect(failedRefreshes.isEmpty, "\(failedRefreshes)")
        }

        // git: the preset's user name, and Basic unless the audience asks for Bearer. The token may have been
        // refreshed meanwhile, so it is checked at the provider rather than compared; its text never reaches
        // a failure message.
        let git = try await rig.gitFill(capabilities: true)
        #expect(git.status == 0, "\(git.stderr)")
        let answer = Dictionary(git.stdout.split(separator: "\n").compactMap { line -> (String, String)? in
            guard let eq = line.firstIndex(of: "=") else { return nil }
            return (String(line[..<eq]), String(line[line.index(after: eq)...]))
        }, uniquingKeysWith: { first, _ in first })
        let keys = answer.keys.sorted()
        let served: String?
        if preset.gitBearer {
            #expect(keys == ["authtype", "capability[]", "credential", "ephemeral", "password_expiry_utc"])
            #expect(answer["authtype"] == "Bearer")
            served = answer["credential"]
        } else {
            #expect(keys == ["password", "password_expiry_utc", "username"] || (preset.refresh == .never && keys == ["password", "username"]))
            #expect(answer["username"] == preset.gitUsername)
            served = answer["password"]
        }
        var servedIsLive = false
        if let served { servedIsLive = try await rig.isLive(served) }
        #expect(servedIsLive, "git was not given a live token")
        if let served { current = served }

        let requestsBeforeLogout = rig.server.requests.count
        let logout = try await rig.authctl(["logout", "p"])
        #expect(logout.status == 0, "\(logout.stderr)")
        switch preset.logout {
        case .revokedAt(let path):
            #expect(!rig.requests(path: path).isEmpty)
            #expect(logout.stdout.contains("the provider revoked the tokens"), "\(logout.stdout)")
            let stillLive = try await rig.isLive(current)
            #expect(!stillLive)
        case .hint(let place):
            #expect(logout.stdout.contains(place.replacing("BASE", with: rig.server.baseURL)), "\(logout.stdout)")
            // Nothing at all reaches the provider: no revocation, and no discovery looking for one.
            #expect(rig.server.requests.count == requestsBeforeLogout)
        }
        let after = try await rig.authctl(["get", "p"])
        #expect(after.status == 3, "logged out: a new login is needed")

        // Nothing the provider issued reaches the daemon's log.
        rig.daemon.stop()
        let leaked = rig.daemon.allLogs.contains(first) || rig.daemon.allLogs.contains(current)
        #expect(!leaked, "a token is in the daemon's log")
    }

    @Test("GitHub: form-encoded answers unless JSON is asked for; comma-separated scopes are read as a list")
    func githubWire() async throws {
        let rig = try await PresetRig.start("github-wire", profile: "github", serverArguments: [],
                                config: PresetCase.named("github").config + "\nscopes = [\"repo\", \"gist\"]")
        defer { rig.daemon.stop() }
        let form = try await offPool("/usr/bin/curl", ["-s", "-i", "-d", "client_id=x", "-d", "scope=repo gist",
                                                     rig.server.baseURL + "/login/device/code"])
        // Bools, so a failure never prints the device code the answer carries.
        let formEncoded = form.stdout.contains("Content-Type: application/x-www-form-urlencoded")
        let githubFields = form.stdout.contains("device_code=") && !form.stdout.contains("verification_uri_complete")
        #expect(formEncoded)
        #expect(githubFields)
        let login = try await rig.authctl(["get", "p", "--interactive"])
        #expect(login.status == 0, "\(login.stderr)")
        // The engine asked for JSON and got it; the scope came back as "repo,gist" and is two scopes.
        let issued = rig.requests(path: "/login/oauth/access_token").filter { $0["result"] as? String == "issued" }
        #expect(issued.count == 1)
        let status = try await rig.authctl(["status", "--json"])
        let rows = (try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any])?["audiences"] as? [[String: Any]]
        #expect(rows?.first?["scopes"] as? [String] == ["repo", "gist"], "\(status.stdout)")
    }

    /// Each profile puts amr/acr where its provider does (docs/providers.md "Sign-in evidence"), and
    /// require_mfa reads them there: Auth0's amr ["mfa"], Keycloak's acr level, Okta's acr with
    /// acr_values; Entra v2 sends no amr, so require_mfa alone can never be met there.
    @Test("require_mfa against each provider's shape of amr/acr", arguments: [
        ("auth0", ["--amr", "pwd"], "", Int32(6)), ("auth0", ["--amr", "pwd,otp"], "", Int32(0)),
        ("keycloak", ["--amr", "pwd,otp"], "", Int32(0)), ("keycloak", ["--amr", "pwd"], "", Int32(6)),
        ("okta", ["--amr", "pwd", "--acr", "urn:okta:loa:2fa:any"], "acr_values = [\"urn:okta:loa:2fa:any\"]", Int32(0)),
        ("entra", ["--amr", "pwd,mfa"], "", Int32(6)),
    ])
    func requireMFAPerProvider(preset name: String, server arguments: [String], extra: String, expected: Int32) async throws {
        let preset = PresetCase.named(name)
        let rig = try await PresetRig.start("mfa-\(name)", profile: preset.profile, serverArguments: arguments,
                                            config: preset.config + "\nrequire_mfa = true\n" + extra)
        defer { rig.daemon.stop() }
        let login = try await rig.authctl(["login", "p"])
        #expect(login.status == expected, "\(name) \(arguments): \(login.stderr)")
        if expected == 6 { #expect(login.stderr.contains("require_mfa"), "\(login.stderr)") }
    }

    @Test("Auth0: extra_params.audience selects the API the token is for")
    func auth0Audience() async throws {
        let preset = PresetCase.named("auth0")
        let rig = try await PresetRig.start("auth0-aud", profile: "auth0", serverArguments: [], config: preset.config)
        defer { rig.daemon.stop() }
        let login = try await rig.authctl(["get", "p", "--interactive"])
        #expect(login.status == 0, "\(login.stderr)")
        let answer = try await rig.introspect(login.stdout.trimmingCharacters(in: .newlines))
        #expect(answer["aud"] as? [String] == ["https://api.example.com"])
    }

    @Test("Entra: a denial (authorization_declined) exits 4")
    func entraDenial() async throws {
        let preset = PresetCase.named("entra")
        let rig = try await PresetRig.start("entra-deny", profile: "entra", serverArguments: ["--deny"], config: preset.config)
        defer { rig.daemon.stop() }
        let login = try await rig.authctl(["get", "p", "--interactive"])
        #expect(login.status == 4, "\(login.stderr)")
        #expect(login.stderr.contains("authorization_declined"))
        #expect(login.stdout.isEmpty)
    }

    // The emulation's expired_token-then-invalid_grant answers are checked on the wire by devserver-smoke.sh
    // and in the engine by ProviderDeviationTests; here the local deadline ends the flow first.
    @Test("Auth0: a code that expires unapproved exits 4")
    func auth0Expiry() async throws {
        let preset = PresetCase.named("auth0")
        let rig = try await PresetRig.start("auth0-expiry", profile: "auth0", serverArguments: ["--device-code-ttl", "2"],
                                            config: preset.config, autoApprove: false)
        defer { rig.daemon.stop() }
        let login = try await rig.authctl(["get", "p", "--interactive"])
        #expect(login.status == 4, "\(login.stderr)")
        #expect(login.stderr.contains("expired"))
        #expect(!login.stderr.contains("start a new login; run the login again"), "said once: \(login.stderr)")
    }

    /// Setup errors become one line naming the setting to change at the provider.
    struct SetupCase: Sendable, CustomTestStringConvertible {
        var preset: String
        var profile: String
        var serverArguments: [String]
        var config: String
        var expectedHint: String
        var providerWords: String
        var testDescription: String { "\(preset): \(providerWords)" }
    }

    static let setupCases: [SetupCase] = [
        SetupCase(preset: "github", profile: "github", serverArguments: ["--device-flow-disabled"],
                  config: PresetCase.named("github").config, expectedHint: "Enable Device Flow", providerWords: "device_flow_disabled"),
        SetupCase(preset: "entra", profile: "entra", serverArguments: ["--device-flow-disabled"],
                  config: PresetCase.named("entra").config, expectedHint: "Allow public client flows", providerWords: "AADSTS7000218"),
        SetupCase(preset: "entra", profile: "entra", serverArguments: [],
                  config: PresetCase.named("entra").config + "\nclient_secret = \"not-for-public-clients\"",
                  expectedHint: "public", providerWords: "AADSTS700025"),
        SetupCase(preset: "keycloak", profile: "keycloak", serverArguments: ["--device-flow-disabled"],
                  config: PresetCase.named("keycloak").config, expectedHint: "Device Authorization Grant", providerWords: "unauthorized_client"),
    ]

    /// `flow = "device"`: these are the device flow's own errors. With the default `auto`, a refused device
    /// grant goes on with the authorization code flow instead (AuthorizationCodeEndToEndTests).
    @Test("setup errors come with a hint naming the provider's setting", arguments: setupCases)
    func setupHints(_ setup: SetupCase) async throws {
        let rig = try await PresetRig.start("setup-" + setup.preset, profile: setup.profile, serverArguments: setup.serverArguments,
                                config: setup.config + "\nflow = \"device\"")
        defer { rig.daemon.stop() }
        let login = try await rig.authctl(["get", "p", "--interactive"])
        #expect(login.status == 1, "\(login.stderr)")
        #expect(login.stdout.isEmpty)
        let lines = login.stderr.split(separator: "\n").filter { !$0.isEmpty }
        let last = String(lines.last ?? "")
        #expect(last.contains(setup.providerWords), "\(login.stderr)")
        #expect(last.contains(setup.expectedHint), "\(login.stderr)")
        #expect(!last.contains("(hint: "), "the hint is said once, after the provider's answer: \(login.stderr)")
    }

    @Test("GitLab without the preset: discovery lacks the device endpoint, and the error says so")
    func gitlabDiscoveryWithoutPreset() async throws {
        let rig = try await PresetRig.start("gitlab-discovery", profile: "gitlab", serverArguments: [], config: """
            issuer    = "BASE"
            client_id = "0123456789abcdef"
            flow      = "device"
            """)
        defer { rig.daemon.stop() }
        let login = try await rig.authctl(["get", "p", "--interactive"])
        #expect(login.status == 1, "\(login.stderr)")
        #expect(login.stderr.contains("device_authorization_endpoint"), "\(login.stderr)")
        #expect(rig.requests(path: "/oauth/authorize_device").isEmpty)
    }
}

/// Real git through `git-credential-authctl`, against emulations whose git refuses what the real
/// provider refuses (Bearer at GitHub and GitLab; any user name but `oauth2` at GitLab).
@Suite("git with provider presets", .enabled(if: realStackAvailable()), .serialized)
struct ProviderGitTests {
    @Test("clone and push with the preset's git answer", arguments: [
        ("github", "", true), ("gitlab", "", true), ("gitlab", "git_username = \"x-access-token\"", false),
    ])
    func cloneAndPush(profile: String, extra: String, succeeds: Bool) async throws {
        let scratch = Scratch("preset-git-" + profile)
        let root = scratch.path("repos")
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let initialise = try await offPool("/usr/bin/git", ["-c", "init.defaultBranch=main", "init", "--bare", "-q", root + "/repo.git"])
        #expect(initialise.status == 0)
        let rig = try await PresetRig.start("git-" + profile + (succeeds ? "" : "-wrong"), profile: profile,
                                            serverArguments: ["--git-root", root],
                                            config: """
                                                provider  = "\(profile)"
                                                base_url  = "BASE"
                                                client_id = "Ov23liTESTCLIENT0000"
                                                git_urls  = ["BASE/git/"]
                                                \(extra)
                                                """)
        defer { rig.daemon.stop() }
        let login = try await rig.authctl(["get", "p", "--interactive"])
        #expect(login.status == 0, "\(login.stderr)")

        let work = scratch.path("work")
        let clone = try await GitRealStackTests.git(["clone", "-q", rig.server.baseURL + "/git/repo.git", work], rig.daemon)
        #expect((clone.status == 0) == succeeds, "\(clone.stderr)")
        guard succeeds else {
            // The provider's refusal is git's 401, not a hang or a prompt.
            #expect(clone.stderr.contains("Authentication failed") || clone.stderr.contains("401"), "\(clone.stderr)")
            #expect(rig.server.requests.contains { $0["endpoint"] as? String == "git" && $0["result"] as? String == "wrong_username" })
            return
        }
        try "hello\n".write(toFile: work + "/README", atomically: true, encoding: .utf8)
        #expect(try await GitRealStackTests.git(["add", "README"], in: work, rig.daemon).status == 0)
        #expect(try await GitRealStackTests.git(["commit", "-q", "-m", "first"], in: work, rig.daemon).status == 0)
        let push = try await GitRealStackTests.git(["push", "-q", "origin", "HEAD:main"], in: work, rig.daemon)
        #expect(push.status == 0, "\(push.stderr)")
        let gitRequests = rig.server.requests.filter { $0["endpoint"] as? String == "git" }
        #expect(gitRequests.contains { $0["result"] as? String == "ok" })
        #expect(!gitRequests.contains { $0["result"] as? String == "bearer_refused" })
    }
}
