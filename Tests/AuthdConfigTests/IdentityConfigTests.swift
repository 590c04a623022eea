// jwks_uri, require_mfa and acr_values: parsed, explained, and their mistakes named.
import AuthdConfig
import Testing

@Suite struct IdentityConfigTests {
    static let base = """
    [audience.a]
    issuer = "https://idp.example"
    client_id = "cli"
    """

    @Test func keysParse() throws {
        let a = try audience(Self.base + """

        scopes = ["openid"]
        jwks_uri = "https://idp.example/keys"
        require_mfa = true
        acr_values = ["urn:okta:loa:2fa:any", "2"]
        """)
        #expect(a.jwksURI?.description == "https://idp.example/keys")
        #expect(a.requireMFA)
        #expect(a.acrValues == ["urn:okta:loa:2fa:any", "2"])
        let explained = AudienceExplanation(a).settings.map(\.key)
        #expect(explained.contains("jwks_uri") && explained.contains("require_mfa") && explained.contains("acr_values"))
    }

    @Test func defaultsAreOff() throws {
        let a = try audience(Self.base)
        #expect(a.jwksURI == nil && !a.requireMFA && a.acrValues.isEmpty)
    }

    @Test func mistakesAreNamed() {
        // Without openid no id_token comes, so every login would be refused: said at once.
        #expect(diagnostics(Self.base + "\nrequire_mfa = true").contains { $0.severity == .warning && $0.message.contains("openid") })
        #expect(errors(Self.base + "\nacr_values = [\"two words\"]").contains { $0.message.contains("acr value") })
        #expect(errors(Self.base + "\nrequire_mfa = \"yes\"").count == 1)
        #expect(errors(Self.base + "\njwks_uri = \"ftp://x\"").count == 1)
        // acr_values has its own key; extra_params may not smuggle another.
        #expect(errors(Self.base + "\nextra_params = { acr_values = \"x\" }").contains { $0.message.contains("acr_values") })
    }
}
