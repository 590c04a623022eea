// Which audience answers a git credential request.
import AuthdConfig
import Testing

@Suite struct GitMatchingTests {
    static let config: AuthdConfiguration = {
        let text = """
            [audience.host]
            client_id = "c"
            issuer = "https://i"
            git_urls = ["https://git.example.com/"]
            [audience.org]
            client_id = "c"
            issuer = "https://i"
            git_urls = ["https://git.example.com/org/"]
            [audience.team]
            client_id = "c"
            issuer = "https://i"
            git_urls = ["https://git.example.com/org/team"]
            [audience.port]
            client_id = "c"
            issuer = "https://i"
            git_urls = ["https://git.example.com:8443/", "http://127.0.0.1:3000/"]
            [audience.tie]
            client_id = "c"
            issuer = "https://i"
            git_urls = ["https://git.example.com/org"]
            [audience.v6]
            client_id = "c"
            issuer = "https://i"
            git_urls = ["http://[::1]:8080/x%20y/"]
            """
        return AuthdConfiguration.validate(text: text, path: "c").0!
    }()

    func match(_ scheme: String, _ host: String, _ path: String?) -> String? {
        Self.config.audience(forGitProtocol: scheme, host: host, path: path)?.name
    }

    @Test func hostCaseAndDefaultPorts() {
        #expect(match("https", "git.example.com", nil) == "host")
        #expect(match("https", "GIT.Example.COM", nil) == "host")
        #expect(match("https", "git.example.com:443", nil) == "host")
        #expect(match("HTTPS", "git.example.com", nil) == "host")
    }

    @Test func pathPrefixesOnSegmentBoundaries() {
        #expect(match("https", "git.example.com", "org/repo.git") == "org")
        #expect(match("https", "git.example.com", "org") == "org")
        #expect(match("https", "git.example.com", "organisation/repo.git") == "host")
        #expect(match("https", "git.example.com", "org/team/repo.git") == "team")
        #expect(match("https", "git.example.com", "org/teams/repo.git") == "org")
        #expect(match("https", "git.example.com", "/org//team/") == "team")
    }

    @Test func longestMatchThenFileOrder() {
        // "org/" in audience org and "org" in audience tie normalise to the same prefix: first wins.
        #expect(match("https", "git.example.com", "org/x") == "org")
    }

    @Test func portsAndSchemesMustMatch() {
        #expect(match("https", "git.example.com:8443", "any") == "port")
        #expect(match("https", "git.example.com:8444", "any") == nil)
        #expect(match("http", "git.example.com", "org/x") == nil)
        #expect(match("http", "127.0.0.1:3000", "r") == "port")
        #expect(match("http", "127.0.0.1", "r") == nil)
        #expect(match("ssh", "git.example.com", nil) == nil)
    }

    @Test func ipv6AndPercentEncoding() {
        #expect(match("http", "[::1]:8080", "x y/repo") == "v6")
        #expect(match("http", "[0:0::1]:8080", "x%20y") == "v6")
        #expect(match("http", "[::1]", "x y") == nil)
    }

    @Test func unmatchedAndMalformedRequests() {
        #expect(match("https", "other.example.com", nil) == nil)
        #expect(match("https", "", nil) == nil)
        #expect(match("https", "git.example.com/evil", nil) == nil)
        #expect(match("https", "user@git.example.com", nil) == nil)
    }

    @Test func noPathOnlyMatchesHostWidePrefixes() throws {
        let text = "[audience.o]\nclient_id = \"c\"\nissuer = \"https://i\"\ngit_urls = [\"https://github.com/org/\"]"
        let config = try #require(AuthdConfiguration.validate(text: text, path: "c").0)
        #expect(config.audience(forGitProtocol: "https", host: "github.com", path: nil) == nil)
        #expect(config.audience(forGitProtocol: "https", host: "github.com", path: "org/r.git")?.name == "o")
    }

    /// Finding 18: `.`/`..` segments, plain or percent-encoded, are refused outright, never matched
    /// as written (`org/../other` would match `org`) nor resolved.
    @Test("dot segments in the request path are refused", arguments: [
        "org/../other/repo", "org/./repo", "./org/repo", "org/..", "..", ".", "org/%2e%2e/other",
        "org/%2E%2E/other", "org/.%2e/other", "org/%2e/repo", "org//..//other",
    ])
    func dotSegmentsRefused(path: String) {
        #expect(match("https", "git.example.com", path) == nil)
        #expect(GitPath.hasDotSegment(path))
    }

    @Test("names that merely contain dots are ordinary segments", arguments: [
        ("org/.hidden/repo", "org"), ("org/repo..git", "org"), ("org/...", "org"), ("org/.git", "org"), ("org/team/x.y", "team"),
    ])
    func dotsInsideNamesMatch(path: String, audience: String) {
        #expect(match("https", "git.example.com", path) == audience)
    }

    @Test func prefixesWithDotSegmentsAreConfigErrors() {
        for text in ["https://h/org/../x", "https://h/./org", "https://h/org/%2e%2e"] {
            #expect(throws: EndpointURLError.self) { try GitURLPrefix(parsing: text) }
        }
    }

    /// Finding 2: the authority ends at the first `/`, `?` or `#`; an `@` after that is not userinfo.
    @Test("url= that could name two hosts is refused", arguments: [
        "https://evil.example#@git.example.com/org/repo", "https://evil.example?@git.example.com/org/repo",
        "https://a@b@git.example.com/org/repo", "https://git.example.com/org/repo#frag", "https://git.example.com/org/repo?x=1",
        "https://git.example.com\\@evil.example/org", "git.example.com/org", "ssh://git.example.com/org",
        "https:///org/repo", "https://git.example.com:99999/org", "https://git example.com/org",
    ])
    func ambiguousCredentialURLsRefused(text: String) {
        #expect(throws: EndpointURLError.self) { try GitCredentialURL(parsing: text) }
    }

    @Test("url= splits into the parts git would send", arguments: [
        ("https://git.example.com/org/repo.git", "https", "git.example.com", "org/repo.git", nil),
        ("HTTPS://Git.Example.com", "https", "git.example.com", nil, nil),
        ("http://127.0.0.1:9/git/x%20y", "http", "127.0.0.1:9", "git/x%20y", nil),
        ("https://oauth2:secret@git.example.com/org", "https", "git.example.com", "org", "oauth2"),
        ("https://me%40corp@git.example.com/", "https", "git.example.com", nil, "me@corp"),
        ("http://[::1]:8080/r", "http", "[::1]:8080", "r", nil),
    ] as [(String, String, String, String?, String?)])
    func credentialURLParts(text: String, scheme: String, host: String, path: String?, user: String?) throws {
        let url = try GitCredentialURL(parsing: text)
        #expect(url == GitCredentialURL(testScheme: scheme, host: host, path: path, username: user))
    }

    /// A.4: git sends no path without useHttpPath; entries with a path on that host are named.
    @Test func prefixesNeedingPathWhenGitSentNone() throws {
        let text = """
            [audience.o]
            client_id = "c"
            issuer = "https://i"
            git_urls = ["https://github.com/org/", "https://github.com/other/x"]
            [audience.g]
            client_id = "c"
            issuer = "https://i"
            git_urls = ["https://gitlab.com/"]
            """
        let config = try #require(AuthdConfiguration.validate(text: text, path: "c").0)
        #expect(config.gitPrefixesNeedingPath(forGitProtocol: "https", host: "github.com", path: nil).map(\.description)
                == ["https://github.com/org", "https://github.com/other/x"])
        #expect(config.gitPrefixesNeedingPath(forGitProtocol: "https", host: "github.com", path: "org/r").isEmpty)
        #expect(config.gitPrefixesNeedingPath(forGitProtocol: "https", host: "gitlab.com", path: nil).isEmpty)
        #expect(config.gitPrefixesNeedingPath(forGitProtocol: "http", host: "github.com", path: nil).isEmpty)
        #expect(config.gitPrefixesNeedingPath(forGitProtocol: "https", host: "github.com:8443", path: nil).isEmpty)
        #expect(try GitURLPrefix(parsing: "https://GitHub.com:8443/org").useHttpPathCommand
                == "git config --global credential.https://github.com:8443.useHttpPath true")
    }
}

extension GitCredentialURL {
    init(testScheme: String, host: String, path: String?, username: String?) {
        self = try! GitCredentialURL(parsing: "https://x/")
        self.scheme = testScheme
        self.host = host
        self.path = path
        self.username = username
    }
}

/// Issue 20, item 4: two logins at one host, told apart by the user name in the remote URL.
@Suite struct GitUsernameSelectionTests {
    static let text = """
        [audience.work]
        client_id = "c"
        issuer = "https://i"
        git_urls = ["https://github.com/"]
        git_usernames = ["work", "w"]
        [audience.personal]
        client_id = "c"
        issuer = "https://i"
        git_urls = ["https://github.com/"]
        git_usernames = ["me"]
        [audience.default]
        client_id = "c"
        issuer = "https://i"
        git_urls = ["https://github.com/"]
        """
    static let config = AuthdConfiguration.validate(text: text, path: "c").0!

    @Test("the user name git sends picks the audience; no name or another name gets the one that takes any",
          arguments: [("work", "work"), ("w", "work"), ("me", "personal"), (nil, "default"), ("other", "default")] as [(String?, String)])
    func picksByUsername(username: String?, expected: String) {
        #expect(Self.config.audience(forGitProtocol: "https", host: "github.com", path: nil, username: username)?.name == expected)
        // With a path too (useHttpPath is not needed for this, but does not change it).
        #expect(Self.config.audience(forGitProtocol: "https", host: "github.com", path: "org/r.git", username: username)?.name == expected)
    }

    @Test("without an audience that takes any name, an unknown or missing user name gets no answer")
    func noDefault() throws {
        let text = String(Self.text[..<Self.text.firstRange(of: "[audience.default]")!.lowerBound])
        let config = try #require(AuthdConfiguration.validate(text: text, path: "c").0)
        #expect(config.audience(forGitProtocol: "https", host: "github.com", path: nil, username: nil) == nil)
        #expect(config.audience(forGitProtocol: "https", host: "github.com", path: nil, username: "Work") == nil)
    }

    @Test("a longer path prefix still wins over a user name match")
    func longerPrefixFirst() throws {
        let config = try #require(AuthdConfiguration.validate(
            text: Self.text + "\n[audience.org]\nclient_id = \"c\"\nissuer = \"https://i\"\ngit_urls = [\"https://github.com/org\"]", path: "c").0)
        #expect(config.audience(forGitProtocol: "https", host: "github.com", path: "org/r", username: "work")?.name == "org")
    }

    @Test("audiences told apart by git_usernames get no overlap warning; two that take one name do")
    func overlapWarnings() throws {
        let (config, all) = AuthdConfiguration.validate(text: Self.text, path: "c")
        // Only the git warnings are this test's business (issuer-only audiences without scopes are warned too).
        let diagnostics = all.filter { $0.keyPath?.hasSuffix(".git_urls") == true }
        #expect(config != nil)
        #expect(diagnostics.isEmpty, "\(diagnostics)")
        let clash = Self.text + "\n[audience.again]\nclient_id = \"c\"\nissuer = \"https://i\"\ngit_urls = [\"https://github.com/\"]\ngit_usernames = [\"me\"]"
        let warnings = AuthdConfiguration.validate(text: clash, path: "c").1.filter { $0.keyPath?.hasSuffix(".git_urls") == true }
        #expect(warnings.count == 1 && warnings[0].message.contains("also in audience personal"), "\(warnings)")
    }

    @Test("erase is offered to the audience git names, and to per-user audiences by their answered git_username")
    func eraseCandidates() {
        // git erases with username=oauth2 (what the helper answered): both per-user audiences may hold the token.
        let names = Self.config.audiencesForGitErase(forGitProtocol: "https", host: "github.com", path: nil, username: "oauth2").map(\.name)
        #expect(names == ["default", "work", "personal"])
        #expect(Self.config.audiencesForGitErase(forGitProtocol: "https", host: "github.com", path: nil, username: "me").map(\.name) == ["personal"])
        #expect(Self.config.audiencesForGitErase(forGitProtocol: "https", host: "gitlab.com", path: nil, username: "oauth2").isEmpty)
    }

    @Test("user names git cannot send are refused with the key named", arguments: ["", "a b", "a:b", "a@b", "a/b", "a\u{1}"])
    func badNames(name: String) {
        let escaped = name.replacing("\u{1}", with: "\\u0001")
        let text = "[audience.a]\nclient_id = \"c\"\nissuer = \"https://i\"\ngit_usernames = [\"\(escaped)\"]"
        let (config, diagnostics) = AuthdConfiguration.validate(text: text, path: "c")
        #expect(config == nil)
        #expect(diagnostics.contains { $0.keyPath == "audience.a.git_usernames" && $0.message.contains("not a user name git can send") })
    }
}
