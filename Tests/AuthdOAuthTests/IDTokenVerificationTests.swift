// id_token verification: each rule and algorithm with keys and tokens made here, and the MFA / acr policy table.
import AuthdOAuth
import AuthdSystem
import AuthdWire
import Testing

/// Signs id_tokens in tests with real keys (AuthdSystem), as the devserver does.
struct TestIssuer {
    let signer: JWSSigningKey
    let kid: String

    init(_ algorithm: SignatureAlgorithm, kid: String = "k1") throws {
        signer = try JWSSigningKey(generating: algorithm)
        self.kid = kid
    }

    var jwk: JSONWebKey { JSONWebKey(keyID: kid, algorithm: signer.algorithm.rawValue, material: signer.publicKey) }

    func token(_ claims: [(String, JSONValue)], header: [(String, JSONValue)]? = nil) throws -> String {
        let head = JSONValue.object(header ?? [("alg", .string(signer.algorithm.rawValue)), ("kid", .string(kid)), ("typ", .string("JWT"))])
        let input = Base64URL.encode(Array(head.serialized().utf8)) + "." + Base64URL.encode(Array(JSONValue.object(claims).serialized().utf8))
        return input + "." + Base64URL.encode(try signer.sign(Array(input.utf8)))
    }
}

let realSignatureCheck: IDTokenVerifier.SignatureCheck = { algorithm, material, message, signature in
    guard let key = try? SignatureVerificationKey(material) else { return false }
    return key.verify(algorithm, message: message, signature: signature)
}

struct IDTokenVerificationTests {
    static let now: Int64 = 1_800_000_000
    static let expected = IDTokenExpectations(issuer: "https://idp.example", clientID: "cli", now: now)

    static func claims(_ changes: [(String, JSONValue?)] = []) -> [(String, JSONValue)] {
        var claims: [(String, JSONValue)] = [
            ("iss", .string("https://idp.example")), ("sub", .string("u-1")), ("aud", .string("cli")),
            ("iat", .integer(now - 10)), ("exp", .integer(now + 300)), ("email", .string("a@example.com")),
            ("amr", .array([.string("pwd"), .string("mfa")])), ("acr", .string("urn:okta:loa:2fa:any")), ("auth_time", .integer(now - 20)),
        ]
        for (name, value) in changes {
            claims.removeAll { $0.0 == name }
            if let value { claims.append((name, value)) }
        }
        return claims
    }

    @Test(arguments: SignatureAlgorithm.allCases)
    func eachAlgorithmVerifiesAndKeepsTheEvidence(_ algorithm: SignatureAlgorithm) throws {
        let issuer = try TestIssuer(algorithm)
        let token = try issuer.token(Self.claims())
        let result = IDTokenVerifier.verify(token, keys: JSONWebKeySet(keys: [issuer.jwk]), expected: Self.expected, signatureCheck: realSignatureCheck)
        let identity = try result.get()
        #expect(identity.subject == "u-1")
        #expect(identity.email == "a@example.com")
        #expect(identity.authenticationMethods == ["pwd", "mfa"])
        #expect(identity.authenticationContext == "urn:okta:loa:2fa:any")
        #expect(identity.authTime == Self.now - 20)
        #expect(identity.expiresAt == Self.now + 300)
    }

    @Test func jwksRoundTripsThroughItsDocument() throws {
        let keys = JSONWebKeySet(keys: try [TestIssuer(.rs256, kid: "r").jwk, TestIssuer(.es256, kid: "e").jwk, TestIssuer(.edDSA, kid: "o").jwk])
        #expect(JSONWebKeySet.parse(Array(keys.serialized().utf8)) == keys)
        // Encryption keys and unknown types are skipped, not errors.
        let mixed = #"{"keys":[{"kty":"RSA","use":"enc","n":"AQAB","e":"AQAB"},{"kty":"oct","k":"c2VjcmV0"},{"kty":"EC","crv":"P-384","x":"AA","y":"AA"}]}"#
        #expect(JSONWebKeySet.parse(Array(mixed.utf8)) == JSONWebKeySet(keys: []))
        #expect(JSONWebKeySet.parse(Array("not json".utf8)) == nil)
    }

    @Test func signatureAndHeaderRules() throws {
        let issuer = try TestIssuer(.rs256)
        let keys = JSONWebKeySet(keys: [issuer.jwk])
        func verify(_ token: String, _ keys: JSONWebKeySet = keys) -> IDTokenFailure? {
            if case .failure(let f) = IDTokenVerifier.verify(token, keys: keys, expected: Self.expected, signatureCheck: realSignatureCheck) { return f }
            return nil
        }
        let good = try issuer.token(Self.claims())
        #expect(verify(good) == nil)

        // A changed payload keeps the old signature: refused.
        let parts = good.split(separator: ".").map(String.init)
        let forgedPayload = Base64URL.encode(Array(JSONValue.object(Self.claims([("sub", .string("admin"))])).serialized().utf8))
        #expect(verify(parts[0] + "." + forgedPayload + "." + parts[2]) == .signature)

        // Another key with the same kid: refused by signature.
        let impostor = try TestIssuer(.rs256)
        #expect(verify(try impostor.token(Self.claims())) == .signature)

        // alg=none and HMAC are refused whatever the keys.
        let noneHeader = Base64URL.encode(Array(#"{"alg":"none"}"#.utf8))
        #expect(verify(noneHeader + "." + parts[1] + ".") == .algorithmRefused("none"))
        let hs = try issuer.token(Self.claims(), header: [("alg", .string("HS256")), ("kid", .string("k1"))])
        #expect(verify(hs) == .algorithmRefused("HS256"))

        // An RSA token claiming ES256 finds no EC key.
        let confused = try issuer.token(Self.claims(), header: [("alg", .string("ES256")), ("kid", .string("k1"))])
        #expect(verify(confused) == .unknownKey("k1"))
        // An unknown kid: the caller re-fetches the JWKS once on this answer.
        let rotated = try TestIssuer(.rs256, kid: "k2")
        #expect(verify(try rotated.token(Self.claims())) == .unknownKey("k2"))
        #expect(verify(try rotated.token(Self.claims()), JSONWebKeySet(keys: [issuer.jwk, rotated.jwk])) == nil)

        #expect(verify(try issuer.token(Self.claims(), header: [("alg", .string("RS256")), ("crit", .array([.string("b64")]))])) == .criticalHeader)
        #expect(verify("a.b") == .malformed)
        #expect(verify(good + "=") == .malformed)
        #expect(verify(String(repeating: "A", count: 20_000) + ".e30.") == .malformed)
    }

    /// The claim rules as a table: (change to a good token's claims, nonce expected, failure or nil).
    @Test func claimRules() {
        let cases: [([(String, JSONValue?)], String?, IDTokenFailure?)] = [
            ([], nil, nil),
            ([("iss", .string("https://idp.example/"))], nil, nil),  // one trailing slash, as for discovery
            ([("iss", .string("https://evil.example"))], nil, .issuer(found: "https://evil.example")),
            ([("iss", nil)], nil, .issuer(found: nil)),
            ([("aud", .string("other"))], nil, .audience),
            ([("aud", nil)], nil, .audience),
            ([("aud", .array([.string("cli"), .string("other")]))], nil, .authorizedParty),
            ([("aud", .array([.string("cli"), .string("other")])), ("azp", .string("cli"))], nil, nil),
            ([("azp", .string("other"))], nil, .authorizedParty),
            ([("exp", .integer(Self.now - 121))], nil, .expired),
            ([("exp", .integer(Self.now - 60))], nil, nil),  // within the skew
            ([("exp", nil)], nil, .missingClaim("exp")),
            ([("iat", .integer(Self.now + 121))], nil, .issuedInFuture),
            ([("iat", nil)], nil, .missingClaim("iat")),
            ([("sub", nil)], nil, .missingClaim("sub")),
            ([("sub", .string(""))], nil, .missingClaim("sub")),
            ([], "n-1", .nonceMissing),
            ([("nonce", .string("n-2"))], "n-1", .nonceMismatch),
            ([("nonce", .string("n-1"))], "n-1", nil),
            ([("nonce", .string("anything"))], nil, nil),  // device flow: no nonce was sent
        ]
        for (changes, nonce, failure) in cases {
            var expected = Self.expected
            expected.nonce = nonce
            let result = IDTokenVerifier.checkClaims(.object(Self.claims(changes)), expected: expected)
            switch result {
            case .success: #expect(failure == nil, "\(changes)")
            case .failure(let found): #expect(found == failure, "\(changes)")
            }
        }
    }

    @Test func amrAndAcrShapes() throws {
        func identity(_ changes: [(String, JSONValue?)]) throws -> VerifiedIdentity {
            try IDTokenVerifier.checkClaims(.object(Self.claims(changes)), expected: Self.expected).get()
        }
        #expect(try identity([("amr", .string("mfa"))]).authenticationMethods == ["mfa"])
        #expect(try identity([("amr", nil)]).authenticationMethods == [])
        #expect(try identity([("acr", .integer(2))]).authenticationContext == "2")  // Keycloak level as a number
        #expect(try identity([("acrs", .array([.string("c1")]))]).authenticationContexts == ["c1"])  // Entra auth contexts
        // Provider text is cleaned before it can reach a terminal.
        #expect(try identity([("sub", .string("u\u{1B}[2J"))]).subject.contains("\u{1B}") == false)
    }

    @Test func failureLinesNameTheCheck() {
        #expect(IDTokenFailure.audience.description.contains("aud"))
        #expect(IDTokenFailure.signature.check == "signature")
        #expect(IDTokenFailure.expired.description.contains("exp"))
    }
}

struct IdentityPolicyTests {
    static func identity(amr: [String] = [], acr: String? = nil, acrs: [String] = []) -> VerifiedIdentity {
        VerifiedIdentity(issuer: "i", subject: "s", authenticationMethods: amr, authenticationContext: acr, authenticationContexts: acrs, expiresAt: 0)
    }

    @Test func decisions() {
        let mfa = IdentityPolicy(requireMFA: true)
        let mfaOrAcr = IdentityPolicy(requireMFA: true, acrValues: ["urn:okta:loa:2fa:any"])
        let acrOnly = IdentityPolicy(acrValues: ["2", "c1"])
        let cases: [(IdentityPolicy, VerifiedIdentity?, Bool)] = [
            (IdentityPolicy(), nil, true),
            (IdentityPolicy(), Self.identity(amr: ["pwd"]), true),
            (mfa, Self.identity(amr: ["pwd"]), false),
            (mfa, Self.identity(amr: ["pwd", "mfa"]), true),
            (mfa, Self.identity(amr: ["otp"]), true),
            (mfa, Self.identity(amr: ["hwk"]), true),
            (mfa, Self.identity(amr: ["face"]), true),
            (mfa, Self.identity(amr: []), false),
            (mfa, Self.identity(amr: ["kba", "pin"]), false),
            (mfa, nil, false),  // no verified id_token
            (mfaOrAcr, Self.identity(amr: ["pwd"], acr: "urn:okta:loa:2fa:any"), true),
            (mfaOrAcr, Self.identity(amr: ["pwd"], acr: "urn:okta:loa:1fa:any"), false),
            (acrOnly, Self.identity(acr: "2"), true),
            (acrOnly, Self.identity(acr: "1"), false),
            (acrOnly, Self.identity(acrs: ["c1"]), true),
            (acrOnly, Self.identity(amr: ["mfa"]), false),  // acr_values alone asks for the acr
            (acrOnly, nil, false),
        ]
        for (policy, identity, accepted) in cases {
            let decision = policy.decide(identity)
            #expect((decision == .accept) == accepted, "\(policy) \(String(describing: identity))")
        }
        guard case .refuse(let rule) = mfa.decide(Self.identity(amr: ["pwd"])) else { Issue.record("accepted"); return }
        #expect(rule.hasPrefix("require_mfa"))
        #expect(rule.contains("amr pwd"))
    }
}
