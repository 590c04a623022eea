// Registry names: the parser for `registries` entries and docker's server URLs, config diagnostics, and which audience answers.
import AuthdConfig
import Testing

@Suite struct RegistryMatchingTests {
    @Test("server URLs as docker, podman and skopeo send them name the registry host (and port when written)",
          arguments: [
            ("ghcr.io", "ghcr.io"), ("GHCR.io", "ghcr.io"), ("https://ghcr.io", "ghcr.io"), ("https://ghcr.io/", "ghcr.io"),
            ("https://index.docker.io/v1/", "index.docker.io"), ("registry.gitlab.com", "registry.gitlab.com"),
            ("127.0.0.1:5000", "127.0.0.1:5000"), ("http://127.0.0.1:5000/v2/", "127.0.0.1:5000"),
            ("[::1]:5000", "[::1]:5000"), ("HTTPS://Registry.Example.COM:8443/x", "registry.example.com:8443"),
          ])
    func parses(text: String, expected: String) throws {
        #expect(try RegistryHost(parsing: text).description == expected)
    }

    @Test("text that docker would not send is refused with a reason",
          arguments: ["", "https://user:pass@ghcr.io", "user@ghcr.io", "ghcr.io:0", "ghcr.io:99999", "ghcr.io:x",
                      "ftp://ghcr.io", "ghcr .io", "ghcr.io\n", "ghcr.io?x=1", "-bad.example", "a..b", "[::1", "[zz]:1",
                      "https://", "ghcr.io/#frag", "héllo.example"])
    func refuses(text: String) {
        #expect(throws: RegistryHost.Invalid.self) { try RegistryHost(parsing: text) }
    }

    @Test("a name longer than 2048 bytes is refused before it is looked at")
    func refusesHuge() {
        #expect(throws: RegistryHost.Invalid.self) { try RegistryHost(parsing: String(repeating: "a", count: 5000)) }
    }

    static let text = """
        [audience.gh]
        provider = "github"
        client_id = "c"
        registries = ["ghcr.io", "https://127.0.0.1:5000/"]
        [audience.gl]
        client_id = "c"
        issuer = "https://gitlab.example.com"
        git_username = "gluser"
        registries = ["registry.gitlab.example.com", "ghcr.io"]
        [audience.named]
        client_id = "c"
        issuer = "https://i.example.com"
        registries = ["registry.example.com"]
        registry_username = "robot"
        """

    @Test("the first audience listing a registry answers for it; the user name falls back to git's, then oauth2")
    func matching() throws {
        let (configuration, diagnostics) = AuthdConfiguration.validate(text: Self.text, path: "c")
        let config = try #require(configuration)
        func audience(_ name: String) throws -> String? { config.audience(forRegistry: try RegistryHost(parsing: name))?.name }
        #expect(try audience("ghcr.io") == "gh")
        #expect(try audience("127.0.0.1:5000") == "gh")
        #expect(try audience("127.0.0.1") == nil)
        #expect(try audience("registry.gitlab.example.com") == "gl")
        #expect(try audience("docker.io") == nil)
        #expect(config.audiences.map(\.registryUsername) == ["x-access-token", "gluser", "robot"])
        #expect(config.registryUsernames.map { "\($0.registry)=\($0.username)" }
                == ["ghcr.io=x-access-token", "127.0.0.1:5000=x-access-token", "registry.gitlab.example.com=gluser",
                    "registry.example.com=robot"])
        let overlap = try #require(diagnostics.first { $0.keyPath == "audience.gl.registries" })
        #expect(overlap.severity == .warning)
        #expect(overlap.message.contains("ghcr.io is also in audience gh"))
        #expect(overlap.line == 9)
    }

    @Test("bad registries and registry_username values are config errors with the key and line",
          arguments: [
            ("registries = [\"https://u:secret@ghcr.io\"]", "invalid registry \"https://***@ghcr.io\""),
            ("registries = \"ghcr.io\"", "registries"),
            ("registries = [\"ghcr.io:0\"]", "the port must be a number"),
            ("registry_username = \"\"", "registry_username must be non-empty"),
            ("registry_username = \"a:b\"", "registry_username must be non-empty"),
          ])
    func diagnostics(line: String, message: String) throws {
        let text = "[audience.a]\nclient_id = \"c\"\nissuer = \"https://i.example.com\"\n\(line)\n"
        let (configuration, diagnostics) = AuthdConfiguration.validate(text: text, path: "c")
        #expect(configuration == nil)
        let error = try #require(diagnostics.first { $0.severity == .error })
        #expect(error.line == 4)
        #expect(error.description.contains(message), "\(error.description)")
        #expect(!error.description.contains("secret"))
    }
}

@Suite struct RegistryExplanationTests {
    @Test("an unwritten registry_username is explained as git_username's value, from git_username's origin")
    func registryUsernameOrigin() throws {
        let text = "[audience.gh]\nprovider = \"github\"\nclient_id = \"c\"\nregistries = [\"ghcr.io\"]\n"
        let audience = try #require(AuthdConfiguration.validate(text: text, path: "c").0?.audiences.first)
        #expect(audience.registryUsername == "x-access-token")
        #expect(audience.origin(of: .registryUsername) == .preset(.github))
        #expect(audience.origin(of: .registries) == .config(line: 4))
    }
}
