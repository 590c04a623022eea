// Where the keys come from: jwks_uri from discovery or config, cached, fetched again once on an unknown kid.
@testable import AuthdOAuth
import AuthdTestSupport
import AuthdSystem
import AuthdWire
import Testing

struct IDTokenKeySetTests {
    static let issuer = Fixture.base

    static func metadata() -> ScriptedTransport.Reply {
        .json(#"{"issuer":"\#(issuer)","token_endpoint":"\#(Fixture.tokenURL)","jwks_uri":"\#(issuer)/jwks"}"#)
    }

    static func settings(issuer: String? = Self.issuer, jwksURI: String? = nil) -> OAuthClientSettings {
        var settings = Fixture.settings()
        settings.idTokens = IDTokenSettings(issuer: issuer, jwksURI: jwksURI)
        return settings
    }

    static func token(_ signer: TestIssuer, now: Int64) throws -> String {
        try signer.token([("iss", .string(issuer)), ("sub", .string("u")), ("aud", .string("authctl-test")),
                          ("iat", .integer(now)), ("exp", .integer(now + 600))])
    }

    @Test func aRotatedKeyIsFetchedOnceMoreAndThenCached() async throws {
        let old = try TestIssuer(.es256, kid: "old")
        let new = try TestIssuer(.rs256, kid: "new")
        let (client, transport, clock) = Fixture.client([
            Self.metadata(), .json(JSONWebKeySet(keys: [old.jwk]).serialized()),
            .json(JSONWebKeySet(keys: [old.jwk, new.jwk]).serialized()),
        ], settings: Self.settings())
        let identity = try await client.verifyIDToken(try Self.token(new, now: clock.wallSeconds()), signatureCheck: realSignatureCheck)
        #expect(identity?.subject == "u")
        #expect(transport.requests.map(\.request.url) == ["\(Self.issuer)/.well-known/oauth-authorization-server",
                                                           "\(Self.issuer)/jwks", "\(Self.issuer)/jwks"])
        // Both keys are now cached: no request for either.
        _ = try await client.verifyIDToken(try Self.token(old, now: clock.wallSeconds()), signatureCheck: realSignatureCheck)
        _ = try await client.verifyIDToken(try Self.token(new, now: clock.wallSeconds()), signatureCheck: realSignatureCheck)
        #expect(transport.requests.count == 3)
    }

    @Test func aKidStillUnknownAfterTheRefetchIsRefused() async throws {
        let stranger = try TestIssuer(.rs256, kid: "stranger")
        let known = try TestIssuer(.rs256, kid: "known")
        let (client, transport, clock) = Fixture.client([
            .json(JSONWebKeySet(keys: [known.jwk]).serialized()), .json(JSONWebKeySet(keys: [known.jwk]).serialized()),
        ], settings: Self.settings(jwksURI: "\(Self.issuer)/keys"))
        await #expect(throws: IDTokenRejection.self) {
            _ = try await client.verifyIDToken(try Self.token(stranger, now: clock.wallSeconds()), signatureCheck: realSignatureCheck)
        }
        // The configured jwks_uri is used as is (no discovery), and fetched exactly twice.
        #expect(transport.requests.map(\.request.url) == ["\(Self.issuer)/keys", "\(Self.issuer)/keys"])
    }

    @Test func unavailableOrInsecureKeysRefuseAndNoKeysAtAllMeansUnverifiable() async throws {
        let signer = try TestIssuer(.edDSA)
        let (failing, _, clock) = Fixture.client([.status(500), .status(500), .status(500)], settings: Self.settings(jwksURI: "\(Self.issuer)/keys"))
        let token = try Self.token(signer, now: clock.wallSeconds())
        do throws(IDTokenRejection) {
            _ = try await failing.verifyIDToken(token, signatureCheck: realSignatureCheck)
            Issue.record("verified without keys")
        } catch {
            guard case .keysUnavailable = error else { Issue.record("\(error)"); return }
        }
        let (insecure, transport, _) = Fixture.client([], settings: Self.settings(jwksURI: "http://keys.example.com/jwks"))
        do throws(IDTokenRejection) {
            _ = try await insecure.verifyIDToken(token, signatureCheck: realSignatureCheck)
            Issue.record("fetched keys over plain http")
        } catch {
            guard case .keysUnavailable(.insecureEndpoint) = error else { Issue.record("\(error)"); return }
        }
        #expect(transport.requests.isEmpty)
        let (none, quiet, _) = Fixture.client([], settings: Self.settings(issuer: nil))
        let unverifiable = try await none.verifyIDToken(token, signatureCheck: realSignatureCheck)
        #expect(unverifiable == nil)
        #expect(quiet.requests.isEmpty)
    }

    @Test func metadataWithoutJWKSURISaysWhatToSet() async throws {
        let signer = try TestIssuer(.rs256)
        let (client, _, clock) = Fixture.client([.json(#"{"issuer":"\#(Self.issuer)"}"#)], settings: Self.settings())
        let token = try Self.token(signer, now: clock.wallSeconds())
        do throws(IDTokenRejection) {
            _ = try await client.verifyIDToken(token, signatureCheck: realSignatureCheck)
            Issue.record("verified")
        } catch {
            #expect(error.description.contains("jwks_uri"), "\(error)")
        }
    }
}
