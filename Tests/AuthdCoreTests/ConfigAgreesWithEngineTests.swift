// AuthdConfig cannot import the OAuth engine, so where it restates the engine's rules a test holds them equal.
import AuthdConfig
import AuthdOAuth
import Testing

@Suite struct ConfigAgreesWithEngineTests {
    @Test("config check --explain lists the discovery documents the engine reads, in its order",
          arguments: ["https://id.example.com", "https://id.example.com/", "https://sso.example.com/realms/engineering",
                      "https://login.example.com/tenant/v2.0/", "http://127.0.0.1:8765", "https://example.okta.com/oauth2/default",
                      "https://example.eu.auth0.com/"])
    func discoveryDocumentsMatch(issuer: String) {
        #expect(AudienceExplanation.discoveryDocuments(issuer: issuer) == IssuerIdentifier.discoveryURLs(issuer: issuer))
    }
}
