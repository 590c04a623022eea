// What `authctl setup git` decides to write into git's global config, from what is there.
import AuthdConfig
import Testing

@Suite struct GitSetupTests {
    static let helper = "/usr/bin/git-credential-authctl"
    static let origin = "file:/home/u/.gitconfig"

    func prefix(_ text: String) throws -> GitURLPrefix { try GitURLPrefix(parsing: text) }

    func entry(_ pattern: String?, _ variable: String, _ value: String?, origin: String = GitSetupTests.origin) -> GitConfigEntry {
        GitConfigEntry(origin: origin, urlPattern: pattern, variable: variable, value: value)
    }

    @Test("the credential URL is the prefix without a trailing slash, default port dropped, no user name")
    func credentialURL() throws {
        #expect(try prefix("https://GitHub.com/").credentialURL == "https://github.com")
        #expect(try prefix("https://github.com:443/org/").credentialURL == "https://github.com/org")
        #expect(try prefix("http://127.0.0.1:3000/git/").credentialURL == "http://127.0.0.1:3000/git")
    }

    @Test("nothing set: an empty helper, then authctl; useHttpPath only for a prefix with a path")
    func freshSetup() throws {
        let changes = GitSetup.changes(for: [try prefix("https://github.com/"), try prefix("https://gitlab.example.com/org/")],
                                       helperPath: Self.helper, global: [])
        #expect(changes == [
            GitSetupChange(key: "credential.https://github.com.helper", oldValues: [], newValues: ["", Self.helper]),
            GitSetupChange(key: "credential.https://gitlab.example.com/org.helper", oldValues: [], newValues: ["", Self.helper]),
            GitSetupChange(key: "credential.https://gitlab.example.com/org.useHttpPath", oldValues: [], newValues: ["true"]),
        ])
        #expect(changes[0].gitArguments == [
            ["config", "--global", "--add", "credential.https://github.com.helper", ""],
            ["config", "--global", "--add", "credential.https://github.com.helper", Self.helper],
        ])
        #expect(changes[2].gitArguments == [["config", "--global", "--replace-all", "credential.https://gitlab.example.com/org.useHttpPath", "true"]])
    }

    @Test("already set up: no change (a second run changes nothing)")
    func idempotent() throws {
        let global = [entry(nil, "helper", "store"),
                      entry("https://gitlab.example.com/org", "helper", ""), entry("https://gitlab.example.com/org", "helper", Self.helper),
                      entry("https://gitlab.example.com/org", "usehttppath", "true")]
        #expect(GitSetup.changes(for: [try prefix("https://gitlab.example.com/org")], helperPath: Self.helper, global: global).isEmpty)
    }

    @Test("a stale helper path or another helper for the same URL is replaced, and shown as the old values")
    func replacesOwnKeyOnly() throws {
        let global = [entry("https://github.com", "helper", "/old/git-credential-authctl"),
                      entry("https://github.com/other", "helper", "store"), entry(nil, "helper", "cache")]
        let changes = GitSetup.changes(for: [try prefix("https://github.com/")], helperPath: Self.helper, global: global)
        #expect(changes == [GitSetupChange(key: "credential.https://github.com.helper",
                                           oldValues: ["/old/git-credential-authctl"], newValues: ["", Self.helper])])
        #expect(changes[0].gitArguments.first == ["config", "--global", "--unset-all", "credential.https://github.com.helper"])
    }

    @Test("a useHttpPath set to false is turned on")
    func useHttpPathFalse() throws {
        let global = [entry("https://h/org", "helper", ""), entry("https://h/org", "helper", Self.helper),
                      entry("https://h/org", "usehttppath", "false")]
        let changes = GitSetup.changes(for: [try prefix("https://h/org/")], helperPath: Self.helper, global: global)
        #expect(changes == [GitSetupChange(key: "credential.https://h/org.useHttpPath", oldValues: ["false"], newValues: ["true"])])
    }

    @Test("--print's simulation: a system store is cleared, a repository's store after it still stores")
    func simulatedWarnings() throws {
        let system = "file:/etc/gitconfig"
        let local = "file:.git/config"
        let entries = [entry(nil, "helper", "store", origin: system), entry(nil, "helper", "cache"),
                       entry(nil, "helper", "store --file /tmp/x", origin: local)]
        let text = "[audience.gh]\nclient_id = \"c\"\nissuer = \"https://i\"\ngit_urls = [\"https://github.com/\"]"
        let configuration = try #require(AuthdConfiguration.validate(text: text, path: "c").0)
        let changes = GitSetup.changes(for: configuration.audiences[0].gitURLs, helperPath: Self.helper, global: [])
        let simulated = GitSetup.applying(changes, to: entries, earlierOrigins: [system, Self.origin], globalOrigin: Self.origin)
        #expect(simulated.map(\.value) == ["store", "cache", "", Self.helper, "store --file /tmp/x"])
        let settings = GitCredentialSettings(simulated, for: configuration.audiences[0].gitURLs[0])
        #expect(settings.helpers.map(\.value) == [Self.helper, "store --file /tmp/x"])
        let warnings = configuration.gitSettingsWarnings(simulated, file: "c")
        #expect(warnings.count == 1 && warnings[0].message.contains("store --file /tmp/x") && warnings[0].message.contains(".git/config"),
                "\(warnings)")
    }
}
