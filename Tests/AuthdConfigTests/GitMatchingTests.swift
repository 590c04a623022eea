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
}
