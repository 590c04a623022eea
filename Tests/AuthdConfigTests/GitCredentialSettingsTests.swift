// Which credential helpers git runs for a git_urls entry, and the config check warnings about them.
import AuthdConfig
import Testing

@Suite struct GitCredentialSettingsTests {
    static func entry(_ key: String, _ value: String?, file: String = "/h/.gitconfig") -> GitConfigEntry {
        var record = Array(key.utf8)
        if let value { record += [0x0A] + Array(value.utf8) }
        return GitConfigEntry.parseList(Array("file:\(file)".utf8) + [0] + record + [0])[0]
    }

    static func helpers(_ entries: [GitConfigEntry], _ url: String) throws -> [String] {
        GitCredentialSettings(entries, for: try GitURLPrefix(parsing: url)).helpers.map { $0.value ?? "" }
    }

    @Test func parsesGitsNullSeparatedListing() {
        let bytes = Array("file:/h/.gitconfig\u{0}credential.helper\nstore\u{0}command line:\u{0}credential.https://Git.Example.com/o.rg.helper\nauthctl\u{0}file:/h/.gitconfig\u{0}credential.https://h.usehttppath\u{0}".utf8)
        #expect(GitConfigEntry.parseList(bytes) == [
            GitConfigEntry(origin: "file:/h/.gitconfig", urlPattern: nil, variable: "helper", value: "store"),
            GitConfigEntry(origin: "command line:", urlPattern: "https://Git.Example.com/o.rg", variable: "helper", value: "authctl"),
            GitConfigEntry(origin: "file:/h/.gitconfig", urlPattern: "https://h", variable: "usehttppath", value: nil),
        ])
        #expect(GitConfigEntry.parseList([]).isEmpty)
    }

    /// git runs every matching helper in config order (not only the best match), and an empty
    /// value clears the ones before it: checked against git 2.39's GIT_TRACE.
    @Test func helperListFollowsGitsRules() throws {
        let generic = Self.entry("credential.helper", "store")
        let host = Self.entry("credential.https://git.example.com.helper", "authctl")
        let reset = Self.entry("credential.https://git.example.com.helper", "")
        #expect(try Self.helpers([generic, host], "https://git.example.com/org") == ["store", "authctl"])
        #expect(try Self.helpers([generic, reset, host], "https://git.example.com/org") == ["authctl"])
        #expect(try Self.helpers([host, generic], "https://git.example.com/org") == ["authctl", "store"])
        #expect(try Self.helpers([reset, generic], "https://git.example.com/") == ["store"])
        #expect(try Self.helpers([generic, host], "https://other.example.com/") == ["store"])
    }

    @Test("URL patterns match as git's urlmatch does", arguments: [
        ("https://git.example.com", "https://git.example.com/org", true),
        ("HTTPS://GIT.example.com:443/", "https://git.example.com/org", true),
        ("https://git.example.com/org", "https://git.example.com/org/team", true),
        ("https://git.example.com/org/", "https://git.example.com/org", true),
        ("https://git.example.com/org/team", "https://git.example.com/org", false),
        ("https://git.example.com/organisation", "https://git.example.com/org", false),
        ("http://git.example.com", "https://git.example.com/", false),
        ("https://git.example.com:8443", "https://git.example.com/", false),
        ("https://*.example.com", "https://git.example.com/", true),
        ("https://*.example.com", "https://example.com/", false),
        ("https://g*t.example.com", "https://git.example.com/", true),
        ("https://*.example.com:8443", "https://git.example.com:8443/", true),
        ("https://user@git.example.com", "https://git.example.com/", false),
        ("git.example.com", "https://git.example.com/org", true),
        ("git.example.com/org", "https://git.example.com/org", false),
        ("http://[::1]:8080", "http://[0::1]:8080/x", true),
    ])
    func urlPatterns(pattern: String, url: String, matches: Bool) throws {
        let entries = [GitConfigEntry(origin: "file:/h", urlPattern: pattern, variable: "helper", value: "x")]
        #expect(try Self.helpers(entries, url) == (matches ? ["x"] : []))
    }

    @Test("helper kinds", arguments: [
        ("authctl", GitHelperKind.authctl), ("/usr/local/bin/git-credential-authctl", .authctl), (" authctl --x", .authctl),
        ("cache", .memoryOnly), ("cache --timeout=3600", .memoryOnly), ("store", .plaintextFile),
        ("store --file ~/.creds", .plaintextFile), ("/usr/lib/git-core/git-credential-store", .plaintextFile),
        ("libsecret", .unknown), ("!f() { echo password=x; }; f", .unknown), ("!git-credential-authctl", .unknown),
        ("/opt/bin/authctl", .unknown),
    ])
    func helperKinds(value: String, kind: GitHelperKind) {
        #expect(GitHelperKind(helper: value) == kind)
    }

    @Test func useHttpPathIsTheLastMatchingBoolean() throws {
        let prefix = try GitURLPrefix(parsing: "https://h/org")
        #expect(!GitCredentialSettings([], for: prefix).useHttpPath)
        #expect(GitCredentialSettings([Self.entry("credential.https://h.usehttppath", nil)], for: prefix).useHttpPath)
        #expect(GitCredentialSettings([Self.entry("credential.usehttppath", "yes")], for: prefix).useHttpPath)
        #expect(!GitCredentialSettings([Self.entry("credential.https://h.usehttppath", "true"),
                                        Self.entry("credential.usehttppath", "false")], for: prefix).useHttpPath)
        #expect(!GitCredentialSettings([Self.entry("credential.https://other.usehttppath", "true")], for: prefix).useHttpPath)
    }

    static let config = AuthdConfiguration.validate(text: """
        [audience.a]
        client_id = "c"
        issuer = "https://i"
        git_urls = ["https://git.example.com/"]
        [audience.b]
        client_id = "c"
        issuer = "https://i"

        git_urls = ["https://gh.example.com/org"]
        git_auth = "bearer"
        """, path: "c.toml").0!

    func warnings(_ entries: [GitConfigEntry]?) -> [String] {
        Self.config.gitSettingsWarnings(entries, file: "c.toml").map(\.description)
    }

    /// Finding 11: `store` anywhere in the list git runs with authctl is named with where to remove it.
    @Test func storingHelpersNextToAuthctlAreNamed() {
        let entries = [Self.entry("credential.helper", "store"),
                       Self.entry("credential.https://git.example.com.helper", "authctl"),
                       Self.entry("credential.https://git.example.com.helper", "osxkeychain", file: "/h/it's"),
                       Self.entry("credential.https://git.example.com.helper", "cache --timeout=60"),
                       Self.entry("credential.https://gh.example.com.usehttppath", "true")]
        let lines = warnings(entries)
        #expect(lines.count == 2, "\(lines)")
        #expect(lines.first == "c.toml:4: audience.a.git_urls: warning: git hands the token for https://git.example.com/ to every helper configured for it, including \"store\" (credential.helper in /h/.gitconfig), which writes it in plain text to ~/.git-credentials (or its --file); remove it with: git config --file /h/.gitconfig --fixed-value --unset-all credential.helper store, or keep it for other hosts as docs/clients.md describes (\"Other credential helpers\")")
        #expect(lines.last?.contains("\"osxkeychain\" (credential.https://git.example.com.helper in /h/it's), which authd does not know") == true)
        #expect(lines.last?.contains("git config --file '/h/it'\\''s' --fixed-value --unset-all credential.https://git.example.com.helper osxkeychain") == true)
    }

    @Test func helpersFromTheCommandLineSaySo() {
        let entries = [GitConfigEntry(origin: "command line:", urlPattern: nil, variable: "helper", value: "store"),
                       Self.entry("credential.helper", "authctl"), Self.entry("credential.usehttppath", "true")]
        #expect(warnings(entries).first?.contains("(credential.helper, set with git -c or GIT_CONFIG_COUNT/GIT_CONFIG_PARAMETERS), which writes it in plain text to ~/.git-credentials (or its --file); drop it from there,") == true)
    }

    @Test func noWarningWithoutAuthctlOrWithOnlyAuthctl() {
        #expect(warnings([Self.entry("credential.helper", "store"), Self.entry("credential.usehttppath", "1")]).isEmpty)
        #expect(warnings([Self.entry("credential.helper", "store"), Self.entry("credential.helper", ""),
                          Self.entry("credential.helper", "authctl"), Self.entry("credential.usehttppath", "1")]).isEmpty)
    }

    @Test func bearerAudiencesSayWhenTheWarningApplies() {
        let lines = warnings([Self.entry("credential.helper", "authctl"), Self.entry("credential.helper", "store"),
                              Self.entry("credential.usehttppath", "true")])
        #expect(lines.count == 2)
        #expect(lines.last?.hasPrefix("c.toml:9: audience.b.git_urls: warning: git hands the token for https://gh.example.com/org to every helper configured for it when authctl answers Basic (git before 2.46") == true)
    }

    /// UX A4: an entry with a path needs useHttpPath, with the exact command to set it.
    @Test func entriesWithAPathNeedUseHttpPath() {
        let expected = ["c.toml:9: audience.b.git_urls: warning: git sends helpers no path for https://gh.example.com unless credential.useHttpPath is true for it, so https://gh.example.com/org never matches and git asks for a user name; run: git config --global credential.https://gh.example.com.useHttpPath true"]
        #expect(warnings(nil) == expected)
        #expect(warnings([]) == expected)
        #expect(warnings([Self.entry("credential.https://gh.example.com/org.usehttppath", "false")]) == expected)
        #expect(warnings([Self.entry("credential.https://gh.example.com.usehttppath", "true")]).isEmpty)
    }
}
