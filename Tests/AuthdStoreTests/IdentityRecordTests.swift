// Record layout 2: the verified identity and the id_token survive a save and load; layout 1 still loads (fixture test).
@testable import AuthdStore
import AuthdSystem
import AuthdTestSupport
import Testing

@Suite struct IdentityRecordTests {
    @Test func identityAndIDTokenRoundTrip() throws {
        var verified = StoredLogin(audience: "okta", issuer: "https://idp.example", clientID: "cli",
                                   refreshToken: secret("refresh-1"), accessToken: secret("access-1"),
                                   scopes: ["openid"], loginTime: 1_800_000_000, subject: "alice")
        verified.identity = StoredIdentity(issuer: "https://idp.example", subject: "00u1", email: "alice@example.com",
                                           preferredUsername: "alice", authenticationMethods: ["pwd", "mfa"],
                                           authenticationContext: "urn:okta:loa:2fa:any", authenticationContexts: ["c1"],
                                           authTime: 1_799_999_990, expiresAt: 1_800_003_600)
        verified.idToken = secret("eyJhbGciOiJSUzI1NiJ9.e30.c2ln")
        var unverifiable = StoredLogin(audience: "plain", issuer: "", clientID: "cli", accessToken: secret("access-2"), loginTime: 1)
        unverifiable.identityUnverifiable = true
        var partial = StoredLogin(audience: "min", issuer: "i", clientID: "c", loginTime: 2)
        partial.identity = StoredIdentity(issuer: "i", subject: "s", expiresAt: 3)

        let directory = TemporaryDirectory()
        do {
            // One store per directory at a time (it holds a lock): this one is closed at the end of the block.
            let store = try TokenStore.open(directory: directory.path)
            _ = try store.load().logins
            try store.save(StoreContents(logins: [verified, unverifiable, partial]))
        }
        let loaded = try TokenStore.open(directory: directory.path).load().logins
        #expect(loaded.count == 3)
        let byName = Dictionary(uniqueKeysWithValues: loaded.map { ($0.audience, $0) })
        #expect(byName["okta"]?.identity == verified.identity)
        #expect(byName["okta"]?.idToken?.copyString() == "eyJhbGciOiJSUzI1NiJ9.e30.c2ln")
        #expect(byName["okta"]?.accessToken?.copyString() == "access-1")
        #expect(byName["okta"]?.refreshToken?.copyString() == "refresh-1")
        #expect(byName["plain"]?.identityUnverifiable == true && byName["plain"]?.identity == nil && byName["plain"]?.idToken == nil)
        #expect(byName["min"]?.identity == partial.identity)
        #expect(byName["min"]?.identity?.email == nil && byName["min"]?.identity?.authTime == nil)
    }
}
