// Config diagnostics never repeat URL credentials; an inline client secret in a readable config is warned about.
import AuthdConfig
import Testing

@Suite struct SecretExposureTests {
    @Test("userinfo is replaced by ***", arguments: [
        ("https://user:SECRET@host.example/path", "https://***@host.example/path"),
        ("https://oauth2:glpat-SECRET@gitlab.example.com", "https://***@gitlab.example.com"),
        ("https://a:b@c@host.example/", "https://***@host.example/"),
        ("user:SECRET@host.example/x", "***@host.example/x"),
        ("https://host.example/p@th", "https://host.example/p@th"),
        ("https://evil.example#@good.example", "https://evil.example#@good.example"),
        ("https://host.example", "https://host.example"),
    ])
    func redaction(input: String, expected: String) {
        #expect(URLRedaction.redactingUserinfo(input) == expected)
    }

    @Test func invalidURLDiagnosticsHideCredentials() {
        let text = """
            [audience.demo]
            issuer = "https://user:SECRETPW@sso.example.com/x#frag"
            client_id = "c"
            git_urls = ["https://oauth2:glpat-SECRETSECRET@gitlab.example.com"]

            """
        let (configuration, diagnostics) = AuthdConfiguration.validate(text: text, path: "/c.toml", homeDirectory: nil)
        #expect(configuration == nil)
        let all = diagnostics.map(\.description).joined(separator: "\n")
        #expect(!all.contains("SECRETPW"), "\(all)")
        #expect(!all.contains("glpat-SECRETSECRET"), "\(all)")
        #expect(all.contains("https://***@sso.example.com"), "\(all)")
        #expect(all.contains("https://***@gitlab.example.com"), "\(all)")
    }

    private let inlineSecretConfig = """
        [audience.demo]
        device_authorization_endpoint = "https://sso.example.com/device"
        token_endpoint = "https://sso.example.com/token"
        client_id = "c"
        client_secret = "SUPERSECRET"

        [audience.public]
        device_authorization_endpoint = "https://sso.example.com/device"
        token_endpoint = "https://sso.example.com/token"
        client_id = "p"

        """

    @Test func anInlineSecretInAReadableConfigIsWarnedAboutOnItsLine() throws {
        let (configuration, _) = AuthdConfiguration.validate(text: inlineSecretConfig, path: "/c.toml", homeDirectory: nil)
        let config = try #require(configuration)
        let warnings = config.inlineSecretExposure(file: "/c.toml", permissions: 0o644, chmodCommand: "chmod 600 /c.toml")
        #expect(warnings.map(\.description) == [
            "/c.toml:5: audience.demo.client_secret: warning: other users can read this client secret: the config file has mode 0644; "
                + "run: chmod 600 /c.toml (or move the secret into a client_secret_file of mode 0600)",
        ])
        #expect(config.inlineSecretExposure(file: "/c.toml", permissions: 0o600, chmodCommand: "x").isEmpty)
        #expect(config.inlineSecretExposure(file: "/c.toml", permissions: 0o640, chmodCommand: "x").count == 1)
        // Write access for others is not a read exposure of the secret.
        #expect(config.inlineSecretExposure(file: "/c.toml", permissions: 0o622, chmodCommand: "x").isEmpty)
    }
}
