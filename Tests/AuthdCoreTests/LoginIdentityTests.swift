// Which config changes make a stored login someone else's: issuer, client, and the origins its tokens are sent to.
import AuthdConfig
@testable import AuthdCore
import Testing

@Suite struct LoginIdentityTests {
    func identity(_ keys: String) throws -> LoginIdentity {
        let text = "[audience.demo]\nclient_id = \"cli\"\n" + keys + "\n"
        let audience = try #require(try AuthdConfiguration.load(text: text, path: "config.toml", homeDirectory: "/home/x").0.audiences.first)
        return Daemon.identity(of: audience)
    }

    @Test func anIssuerOnlyAudienceKeepsTheIdentityOlderStoresHold() throws {
        #expect(try identity(#"issuer = "https://id.example.com/realm""#) == LoginIdentity(issuer: "https://id.example.com/realm", clientID: "cli"))
    }

    @Test func endpointsAtTheIssuersOriginChangeNothing() throws {
        let plain = try identity(#"issuer = "https://id.example.com""#)
        let explicit = try identity("""
            issuer = "https://id.example.com"
            token_endpoint = "https://id.example.com:443/oauth/token"
            revocation_endpoint = "https://ID.example.com/oauth/revoke"
            """)
        #expect(plain == explicit)
    }

    /// Security review, finding 8: a token endpoint moved elsewhere under the same issuer.
    @Test func aTokenOrRevocationEndpointElsewhereIsANewIdentity() throws {
        let plain = try identity(#"issuer = "https://id.example.com""#)
        let movedToken = try identity("issuer = \"https://id.example.com\"\ntoken_endpoint = \"https://other.example/token\"")
        let movedRevocation = try identity("issuer = \"https://id.example.com\"\nrevocation_endpoint = \"http://127.0.0.1:9/revoke\"")
        #expect(movedToken != plain)
        #expect(movedRevocation != plain)
        #expect(movedToken != movedRevocation)
        #expect(movedToken.issuer == "https://id.example.com https://other.example:443")
        // Another port is another origin.
        #expect(try identity("issuer = \"https://id.example.com\"\ntoken_endpoint = \"https://id.example.com:8443/token\"") != plain)
    }
}
