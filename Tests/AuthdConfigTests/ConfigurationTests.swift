// The contract's example config, validation diagnostics, durations and the refresh margin.
import AuthdConfig
import Testing

/// The example from CONTRACT.md, verbatim.
let exampleConfig = """
[daemon]
refresh_margin = "5m"     # refresh this long before expiry (default: the larger of 60 s and 10% of the lifetime)
max_session   = "12h"     # a login older than this needs a new device flow even if refresh still works
autostart     = true      # authctl starts authd when nothing listens on the socket

[audience.work-git]
provider  = "github"                  # a preset (github, gitlab, google, entra, azure-devops, keycloak,
client_id = "Iv1.0123456789abcdef"    #  okta, auth0, oidc): endpoints, defaults and the provider's quirks
base_url  = "https://github.example.com"   # for self-hosted or tenant-specific presets (GHES, GitLab,
                                      #  Keycloak realm, Okta/Auth0 domain); `tenant` for entra
git_urls  = ["https://github.example.com/"]

[audience.demo]
issuer    = "http://127.0.0.1:8765"   # endpoints found by RFC 8414 / OpenID discovery ...
# ... or given explicitly (these win over discovery):
device_authorization_endpoint = "http://127.0.0.1:8765/device_authorization"
token_endpoint                = "http://127.0.0.1:8765/token"
revocation_endpoint           = "http://127.0.0.1:8765/revoke"
client_id     = "authctl-test"
client_secret = "..."                 # optional (confidential clients); client_secret_file also accepted
scopes        = ["openid", "offline_access"]
resource      = ["https://api.example.com"]     # RFC 8707, optional
extra_params  = { audience = "https://api.example.com" }   # vendor parameters, optional
git_urls      = ["https://git.example.com/"]    # URL prefixes this audience answers for as a git helper
git_username  = "oauth2"
git_auth      = "basic"               # "basic" (token as password; GitHub and GitLab accept only this)
                                      #  or "bearer" (for servers that accept it, e.g. Bitbucket, Gitea)
persist       = true                  # keep the login (refresh token) on disk, encrypted; false = memory only
require_tty   = false                 # serve only to client processes that have a controlling terminal
allowed_clients = []                  # optional allow-list of client executables (absolute paths or globs)
"""

func url(_ text: String) -> EndpointURL { try! EndpointURL(parsing: text) }

func diagnostics(_ text: String, file: String = "config.toml") -> [ConfigDiagnostic] {
    AuthdConfiguration.validate(text: text, path: file).1
}

func errors(_ text: String) -> [ConfigDiagnostic] { diagnostics(text).filter { $0.severity == .error } }

func audience(_ text: String, _ name: String = "a") throws -> AudienceConfiguration {
    let (configuration, found) = AuthdConfiguration.validate(text: text, path: "config.toml")
    let config = try #require(configuration, "\(found)")
    return try #require(config.audience(named: name))
}

@Suite struct ConfigurationTests {
    @Test func contractExampleParsesIntoTheExpectedModel() throws {
        let (configuration, found) = AuthdConfiguration.validate(text: exampleConfig, path: "config.toml")
        #expect(found.isEmpty, "\(found)")
        let config = try #require(configuration)
        #expect(config.daemon == DaemonSettings(refreshMargin: .seconds(300), maxSession: .seconds(43_200), autostart: true))
        #expect(config.audiences.map(\.name) == ["work-git", "demo"])

        let work = config.audiences[0]
        #expect(work.provider == .github)
        #expect(work.clientID == "Iv1.0123456789abcdef")
        #expect(work.baseURL == url("https://github.example.com"))
        #expect(work.endpoints == ResolvedEndpoints(
            deviceAuthorization: url("https://github.example.com/login/device/code"),
            token: url("https://github.example.com/login/oauth/access_token"),
            needsDiscovery: false, authorization: url("https://github.example.com/login/oauth/authorize")))
        #expect(work.gitUsername == "x-access-token")
        #expect(work.gitAuth == .basic)
        #expect(work.tokenAuthMethod == .none)
        #expect(work.revocationHint?.contains("https://github.example.com/settings/applications") == true)
        #expect(work.deviceFlowSetupHint?.contains("Enable Device Flow") == true)
        #expect(work.position == TOMLPosition(line: 6, column: 1))

        let demo = config.audiences[1]
        #expect(demo.provider == nil)
        #expect(demo.clientID == "authctl-test")
        #expect(demo.clientSecret == .inline("..."))
        #expect(demo.endpoints == ResolvedEndpoints(
            issuer: url("http://127.0.0.1:8765"),
            deviceAuthorization: url("http://127.0.0.1:8765/device_authorization"),
            token: url("http://127.0.0.1:8765/token"),
            revocation: url("http://127.0.0.1:8765/revoke"),
            needsDiscovery: false))
        #expect(demo.scopes == ["openid", "offline_access"])
        #expect(demo.resources == ["https://api.example.com"])
        #expect(demo.extraParameters == [ExtraParameter(name: "audience", value: "https://api.example.com")])
        #expect(demo.gitURLs.map(\.description) == ["https://git.example.com/"])
        #expect(demo.gitUsername == "oauth2")
        #expect(demo.gitAuth == .basic)
        #expect(demo.persist)
        #expect(!demo.requireTTY)
        #expect(demo.allowedClients.isEmpty)
        #expect(demo.tokenAuthMethod == .clientSecretBasic)
        #expect(demo.revocationHint == nil)
    }

    @Test func secretsAreNotPrinted() throws {
        let demo = try #require(AuthdConfiguration.validate(text: exampleConfig, path: "c").0?.audience(named: "demo"))
        #expect(!String(describing: demo).contains("\"...\""))
        #expect(!String(reflecting: demo.clientSecret!).contains("..."))
    }

    @Test func configCheckReportsEveryProblemInOneRun() {
        let text = """
            [daemon]
            refresh_margin = "5 minutes"

            [audience.demo]
            client_id = "authctl"
            issuer = "https://id.example.com"
            scpoes = ["openid"]
            persist = "yes"
            token_endpoint = "http://id.example.com/token"

            [audience.other]
            provider = "github"
            """
        let found = diagnostics(text)
        #expect(found.map(\.description) == [
            "config.toml:2: daemon.refresh_margin: invalid duration \"5 minutes\": unknown unit \" minutes\" (use s, m, h or d)",
            "config.toml:7: audience.demo.scpoes: unknown key (did you mean \"scopes\"?)",
            "config.toml:8: audience.demo.persist: expected a boolean (true or false), found a string",
            "config.toml:9: audience.demo.token_endpoint: plain http:// is allowed only on loopback (127.0.0.0/8, ::1, localhost); use https://id.example.com/token",
            "config.toml:11: audience.other: missing required key client_id",
        ])
        #expect(found.map(\.column) == [18, 1, 11, 18, 1])
        #expect(found.allSatisfy { $0.severity == .error })
        #expect(AuthdConfiguration.validate(text: text, path: "config.toml").0 == nil)
    }

    @Test func invalidUTF8IsAnErrorWithLineAndColumnNotARepair() {
        // A Latin-1 ö (0xF6): decoding it as UTF-8 would have turned it into U+FFFD and passed.
        let bytes = Array("[daemon]\nautostart = true\nstore_passphrase_file = \"/home/j".utf8) + [0xF6] + Array("rg/pass\"\n".utf8)
        let (configuration, found) = AuthdConfiguration.validate(utf8: bytes, path: "config.toml")
        #expect(configuration == nil)
        #expect(found.map(\.description) == ["config.toml:3:33: invalid UTF-8"])
        #expect(throws: ConfigError.self) { try AuthdConfiguration.load(utf8: bytes, path: "config.toml") }
    }

    @Test func aLeadingByteOrderMarkIsNotAnError() throws {
        let (configuration, warnings) = try AuthdConfiguration.load(utf8: [0xEF, 0xBB, 0xBF] + Array("[daemon]\nautostart = false\n".utf8), path: "c")
        #expect(warnings.isEmpty)
        #expect(configuration.daemon.autostart == false)
        #expect(!AuthdConfiguration.autostart(configBytes: [0xEF, 0xBB, 0xBF] + Array("[daemon]\nautostart = false\n".utf8)))
    }

    @Test func syntaxErrorsBecomeOneDiagnostic() {
        let found = diagnostics("[daemon]\nautostart = yes\n", file: "/home/u/.config/authd/config.toml")
        #expect(found.map(\.description) == ["/home/u/.config/authd/config.toml:2:13: expected a value; strings need quotes: \"yes\""])
        #expect(found.first?.column == 13)
    }

    @Test func loadThrowsAllErrorsAndReturnsWarnings() throws {
        #expect(throws: ConfigError.self) { try AuthdConfiguration.load(text: "x = 1\ny = 2", path: "c") }
        do {
            _ = try AuthdConfiguration.load(text: "x = 1\ny = 2", path: "c")
        } catch {
            #expect(error.diagnostics.count == 2)
        }
        let (config, warnings) = try AuthdConfiguration.load(
            text: "[audience.a]\nprovider = \"auth0\"\nbase_url = \"https://t.auth0.com\"\nclient_id = \"c\"", path: "c")
        #expect(config.audiences.count == 1)
        #expect(warnings.map(\.severity) == [.warning])
    }

    @Test func emptyFileIsTheDefaultConfiguration() throws {
        let (config, found) = AuthdConfiguration.validate(text: "# nothing yet\n", path: "c")
        #expect(config == AuthdConfiguration())
        #expect(found.isEmpty)
    }

    @Test(arguments: [
        ("[audience.a]\nclient_id = \"c\"\nissuer = \"https://i\"\ngit_atuh = \"basic\"", "git_auth"),
        ("[audience.a]\nclient_id = \"c\"\nissuer = \"https://i\"\nclientid = \"x\"", "client_id"),
        ("[audience.a]\nclient_id = \"c\"\nissuer = \"https://i\"\nrequire_tty_ = true", "require_tty"),
        ("[deamon]\nautostart = true", "daemon"),
        ("[daemon]\nauto_start = true", "autostart"),
        ("[audiences.a]\nclient_id = \"c\"", "audience"),
    ])
    func didYouMean(text: String, suggestion: String) {
        let messages = errors(text).map(\.message)
        #expect(messages.contains("unknown key (did you mean \"\(suggestion)\"?)"), "\(messages)")
    }

    @Test func unknownKeyWithoutCloseMatchListsKnownKeys() {
        #expect(errors("[daemon]\nfrobnicate = 1").first?.message.hasPrefix("unknown key (known keys: refresh_margin") == true)
    }

    @Test func unquotedDottedAudienceNameGetsAHint() throws {
        let found = errors("[audience.my.api]\nclient_id = \"c\"\nissuer = \"https://i\"")
        #expect(found.contains { $0.message.contains("[audience.\"my.api\"]") }, "\(found)")
        #expect(try audience("[audience.\"my.api\"]\nclient_id = \"c\"\nissuer = \"https://i\"", "my.api").name == "my.api")
    }

    @Test func audienceNames() throws {
        // The rule itself is AuthdWire's AudienceName (AudienceNameTests); here, that the config applies it.
        #expect(try audience("[audience.work-git]\nclient_id = \"c\"\nissuer = \"https://i\"", "work-git").name == "work-git")
        #expect(errors("[audience.\"\(String(repeating: "a", count: 65))\"]\nclient_id = \"c\"\nissuer = \"https://i\"").map(\.message)
            == ["audience name is longer than 64 characters"])
        #expect(errors("[audience.\"my api\"]\nclient_id = \"c\"\nissuer = \"https://i\"").map(\.message)
            == ["audience name may contain only letters, digits, '.', '_' and '-'"])
    }

    @Test(arguments: [
        ("provider = \"gitbub\"", "unknown provider \"gitbub\" (did you mean \"github\"?)"),
        ("provider = \"github\"\nclient_secret = \"s\"\nclient_secret_file = \"/s\"", "both set"),
        ("provider = \"github\"\ngit_auth = \"token\"", "is not one of \"basic\", \"bearer\""),
        ("provider = \"github\"\ngit_auth = \"bearer\"", "GitHub rejects Bearer"),
        ("issuer = \"https://i\"\ngit_urls = [\"ssh://git@h/\"]", "unsupported scheme \"ssh\""),
        ("issuer = \"https://i\"\ngit_urls = \"https://h/\"", "expected an array of strings"),
        ("provider = \"github\"\ntenant = \"t\"", "tenant is only used with provider"),
        ("provider = \"keycloak\"", "needs base_url: the realm URL"),
        ("provider = \"okta\"", "needs base_url"),
        ("provider = \"auth0\"", "needs base_url"),
        ("issuer = \"https://i\"\nca_file = \"certs/ca.pem\"", "not an absolute path"),
        ("issuer = \"https://i\"\nclient_secret_file = \"~/secret\"", "~ is not expanded"),
        ("issuer = \"https://i\"\nscopes = \"openid email\"", "expected an array of strings, found a string"),
        ("issuer = \"https://i\"\nscopes = [\"openid email\"]", "[\"openid\", \"email\"]"),
        ("issuer = \"https://i\"\nscopes = [\"openid\", 3]", "expected a string in the array, found an integer"),
        ("issuer = \"https://i\"\nresource = [\"api\"]", "absolute URI"),
        ("issuer = \"https://i\"\nextra_params = { scope = \"x\" }", "use the scopes key"),
        ("issuer = \"https://i\"\nextra_params = { n = 1 }", "expected a string, found an integer"),
        ("issuer = \"https://i\"\nextra_params = \"audience=x\"", "expected a table, found a string"),
        ("issuer = \"https://i\"\nallowed_clients = [\"git\"]", "not an absolute path or glob"),
        ("issuer = \"https://i\"\ntoken_auth_method = \"client_secret_basic\"", "needs client_secret"),
        ("issuer = \"https://i\"\ntoken_auth_method = \"private_key_jwt\"", "is not one of"),
        ("issuer = \"https://i\"\ngit_username = \"a:b\"", "without ':'"),
        ("base_url = \"https://i\"\nissuer = \"https://i\"", "only used with a provider preset"),
        ("provider = \"google\"\nbase_url = \"https://i\"\nclient_secret = \"s\"", "fixed endpoints"),
        ("provider = \"oidc\"", "provider \"oidc\" needs issuer"),
        ("provider = \"oidc\"\nbase_url = \"https://i\"\nissuer = \"https://i\"", "set issuer"),
        ("device_authorization_endpoint = \"https://i/d\"", "token_endpoint is missing"),
        ("scopes = []", "needs issuer (discovery), provider (a preset), or device_authorization_endpoint and token_endpoint"),
        ("issuer = \"https://i?x=1\"", "no ?query"),
        ("issuer = \"https://user:pw@i\"", "user name or password"),
        ("issuer = 42", "expected a string, found an integer"),
        ("persist = \"true\"\nissuer = \"https://i\"", "e.g. true without quotes"),
        ("issuer = \"https://i\"\nclient_secret = \"\"", "client_secret cannot be empty"),
    ])
    func audienceErrors(body: String, fragment: String) {
        var text = "[audience.a]\n" + body
        if !body.contains("client_id") { text += "\nclient_id = \"c\"" }
        let found = errors(text)
        #expect(found.contains { $0.message.contains(fragment) }, "\(found)")
        #expect(AuthdConfiguration.validate(text: text, path: "c").0 == nil)
    }

    @Test(arguments: [
        ("provider = \"auth0\"\nbase_url = \"https://t.auth0.com\"", "needs extra_params.audience"),
        ("provider = \"google\"", "TVs and Limited Input"),
        ("provider = \"entra\"\nclient_secret = \"s\"", "AADSTS700025"),
        ("provider = \"keycloak\"\nbase_url = \"https://sso.example.com\"", "realm URL"),
        ("issuer = \"https://i\"\nclient_secret = \"s\"\ntoken_auth_method = \"none\"", "never sent"),
        ("issuer = \"https://i\"\ngit_urls = [\"http://git.example.com/\"]", "unencrypted"),
    ])
    func audienceWarningsKeepTheConfiguration(body: String, fragment: String) {
        let text = "[audience.a]\nclient_id = \"c\"\n" + body
        let (configuration, found) = AuthdConfiguration.validate(text: text, path: "c")
        #expect(configuration != nil, "\(found)")
        #expect(found.contains { $0.severity == .warning && $0.message.contains(fragment) }, "\(found)")
        #expect(found.first.map { $0.description.contains(": warning: ") } == true)
    }

    @Test func duplicateGitPrefixesAcrossAudiencesWarn() {
        let text = """
            [audience.a]
            client_id = "c"
            issuer = "https://i"
            git_urls = ["https://h/org"]
            scopes = ["openid"]
            [audience.b]
            client_id = "c"
            issuer = "https://i"
            git_urls = ["https://H/org/"]
            scopes = ["openid"]
            [audience.a2]
            client_id = "c"
            issuer = "https://i"
            scopes = ["openid"]
            """
        let found = diagnostics(text)
        #expect(found.map(\.severity) == [.warning])
        #expect(found.first?.line == 6)
    }

    @Test func daemonSettings() throws {
        let text = """
            [daemon]
            refresh_margin = 90
            max_session = "1d12h"
            autostart = false
            store_passphrase_file = "~/.config/authd/passphrase"
            audit = "journal"
            """
        let (configuration, found) = AuthdConfiguration.validate(text: text, path: "c", homeDirectory: "/home/u")
        #expect(found.isEmpty, "\(found)")
        var expected = DaemonSettings(refreshMargin: .seconds(90), maxSession: .seconds(129_600), autostart: false,
                                      storePassphraseFile: "/home/u/.config/authd/passphrase", audit: .journal)
        expected.storePassphraseFileLine = 5
        #expect(configuration?.daemon == expected)
        #expect(errors("[daemon]\naudit = \"syslog\"").first?.message.contains("\"auto\", \"journal\", \"stderr\"") == true)
        #expect(errors("[daemon]\nmax_session = 0").first?.message.contains("zero") == true)
        #expect(errors("[daemon]\nmax_session = -5").first?.message.contains("negative") == true)
        #expect(errors("[daemon]\nrefresh_margin = 1.5").first?.message.contains("expected a duration") == true)
        #expect(errors("[daemon]\nrefresh_margin = \"90\"").first?.message.contains("has no unit") == true)
    }

    @Test func autostartFastPath() {
        #expect(AuthdConfiguration.autostart(configText: exampleConfig))
        #expect(!AuthdConfiguration.autostart(configText: "[daemon]\nautostart = false\n[audience.x]\nbad = 1"))
        #expect(AuthdConfiguration.autostart(configText: "[daemon\nautostart = false"))
        #expect(AuthdConfiguration.autostart(configText: ""))
    }

    @Test func parsingAHundredLineConfigIsFast() {
        var text = exampleConfig + "\n"
        var index = 0
        while text.split(separator: "\n", omittingEmptySubsequences: false).count < 100 {
            text += "[audience.extra\(index)]\nprovider = \"gitlab\"\nclient_id = \"id\(index)\"\ngit_urls = [\"https://gitlab.com/group\(index)/\"]\n"
            index += 1
        }
        let clock = ContinuousClock()
        let rounds = 200
        _ = AuthdConfiguration.validate(text: text, path: "c")
        let parse = clock.measure { for _ in 0..<rounds { _ = try? TOMLParser.parse(text) } }
        let validate = clock.measure { for _ in 0..<rounds { _ = AuthdConfiguration.validate(text: text, path: "c") } }
        let autostart = clock.measure { for _ in 0..<rounds { _ = AuthdConfiguration.autostart(configText: text) } }
        print("100-line config: parse \(parse / rounds), validate \(validate / rounds), autostart \(autostart / rounds) per run")
    }
}

@Suite struct DurationTests {
    @Test(arguments: [("90s", 90), ("5m", 300), ("12h", 43_200), ("1d", 86_400), ("1h30m", 5_400), ("1d2h3m4s", 93_784), ("0s", 0)])
    func parses(text: String, seconds: Int64) throws {
        #expect(try ConfigDuration.parse(text) == .seconds(seconds))
    }

    @Test(arguments: ["", "5", "-5m", "5x", "m", "1m1h", "1h1h", "5 m", "1.5h", "99999999999999999999s", "4000d"])
    func rejects(text: String) {
        #expect(throws: DurationSyntaxError.self) { try ConfigDuration.parse(text) }
    }

    @Test func bareSecondsOnRequest() throws {
        #expect(try ConfigDuration.parse("60", allowBareSeconds: true) == .seconds(60))
        #expect(ConfigDuration.format(.seconds(5_400)) == "1h30m")
        #expect(ConfigDuration.format(.seconds(0)) == "0s")
    }

}

@Suite struct EverydayConfigMessagesTests {
    func diagnostics(_ text: String) -> [String] {
        AuthdConfiguration.validate(text: text, path: "config.toml").1.map(\.description)
    }

    @Test func providerNamesAreCaseInsensitive() throws {
        let (configuration, found) = AuthdConfiguration.validate(text: "[audience.gh]\nprovider = \"GitHub\"\nclient_id = \"x\"\n", path: "c")
        #expect(found.filter { $0.severity == .error }.isEmpty, "\(found)")
        #expect(configuration?.audience(named: "gh")?.gitUsername == "x-access-token")
    }

    @Test func aDottedAudienceNameGetsTheQuotingHintAlone() {
        let found = diagnostics("[audience.api.v2]\nissuer = \"https://id.example.com\"\nclient_id = \"c\"\n")
        #expect(found == ["config.toml:1: audience.api: this is an audience \"api\" holding only tables (v2); if \"api.v2\" is meant as one audience name, quote it: [audience.\"api.v2\"]"])
    }

    @Test func anIssuerOnlyAudienceWithoutScopesIsWarned() {
        let warned = diagnostics("[audience.o]\nissuer = \"https://id.example.com\"\nclient_id = \"c\"\n")
        #expect(warned.count == 1 && warned[0].contains("audience.o.scopes: warning: no scopes") && warned[0].contains("offline_access"))
        #expect(diagnostics("[audience.o]\nissuer = \"https://id.example.com\"\nclient_id = \"c\"\nscopes = [\"openid\"]\n").isEmpty)
        #expect(diagnostics("[audience.gh]\nprovider = \"github\"\nclient_id = \"c\"\n").isEmpty, "a preset chooses scopes")
    }

    @Test func fractionsInDurationsSayWhatToWrite() {
        #expect(throws: DurationSyntaxError.self) { try ConfigDuration.parse("1.5m", allowBareSeconds: true) }
        do {
            _ = try ConfigDuration.parse("1.5m", allowBareSeconds: true)
        } catch {
            #expect(error.message.contains("fractions are not allowed") && error.message.contains("90s"))
        }
    }
}
