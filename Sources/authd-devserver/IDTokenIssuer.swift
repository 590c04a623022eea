// Signs the devserver's id_tokens for real (RS256, ES256, EdDSA keys made at start), publishes the JWKS, rotates on request.

import AuthdSystem
import AuthdWire
import Synchronization

/// How the next id_tokens should be wrong, for clients' tests (`--id-token-fault`).
enum IDTokenFault: String, Sendable, CaseIterable {
    case badSignature = "bad-signature", wrongAudience = "wrong-aud", wrongIssuer = "wrong-iss"
    case expired, missingNonce = "missing-nonce", algNone = "alg-none"
}

/// What the person "did" at sign-in (`--amr`, `--acr`), and the key the tokens are signed with.
struct IDTokenSettings: Sendable {
    var algorithm: SignatureAlgorithm = .rs256
    var faults: Set<IDTokenFault> = []
    /// RFC 8176 methods; each profile puts them where its provider does (`Profile.identityClaims`).
    var methods: [String] = ["pwd"]
    var context: String?
}

final class IDTokenIssuer: Sendable {
    private struct Generation {
        var number: Int
        var keys: [SignatureAlgorithm: JWSSigningKey]
    }

    let settings: IDTokenSettings
    /// The current keys and the previous generation (still published, as real issuers do while rotating).
    private let state: Mutex<(current: Generation, previous: Generation?)>
    private let signedIssuers = Mutex<Set<String>>([])

    init(settings: IDTokenSettings) throws {
        self.settings = settings
        state = Mutex((current: try Self.generation(1), previous: nil))
    }

    private static func generation(_ number: Int) throws -> Generation {
        var keys: [SignatureAlgorithm: JWSSigningKey] = [:]
        for algorithm in [SignatureAlgorithm.rs256, .es256, .edDSA] { keys[algorithm] = try JWSSigningKey(generating: algorithm) }
        return Generation(number: number, keys: keys)
    }

    private static func kid(_ algorithm: SignatureAlgorithm, _ generation: Int) -> String { "\(algorithm.rawValue.lowercased())-\(generation)" }

    /// New keys with new kids sign from now on (POST /jwks/rotate).
    func rotate() throws -> Int {
        let next = try Self.generation(state.withLock { $0.current.number } + 1)
        return state.withLock { s in
            s.previous = s.current
            s.current = next
            return next.number
        }
    }

    /// A published public key: what the JWKS lists and what the Kubernetes stand-in checks with.
    struct PublishedKey {
        let kid: String
        let algorithm: SignatureAlgorithm
        let material: PublicKeyMaterial
    }

    /// The current keys and the previous generation's, in JWKS order.
    func publishedKeys() -> [PublishedKey] {
        let generations = state.withLock { s in [s.current] + (s.previous.map { [$0] } ?? []) }
        return generations.flatMap { generation in
            [SignatureAlgorithm.rs256, .es256, .edDSA].compactMap { algorithm in
                generation.keys[algorithm].map { PublishedKey(kid: Self.kid(algorithm, generation.number), algorithm: algorithm, material: $0.publicKey) }
            }
        }
    }

    /// The issuers named in the tokens signed so far (before any fault spoilt them): a profile's
    /// tenant or realm makes its own, so the stand-in accepts exactly those this server used.
    func hasSigned(issuer: String) -> Bool { signedIssuers.withLock { $0.contains(issuer) } }

    /// The JWKS document: current and previous keys.
    func jwks() -> JSON {
        .object([("keys", .array(publishedKeys().map { key in
            var members: [(String, JSON)]
            switch key.material {
            case let .rsa(n, e): members = [("kty", .string("RSA")), ("n", .string(AuthdWire.Base64URL.encode(n))), ("e", .string(AuthdWire.Base64URL.encode(e)))]
            case let .p256(x, y):
                members = [("kty", .string("EC")), ("crv", .string("P-256")),
                           ("x", .string(AuthdWire.Base64URL.encode(x))), ("y", .string(AuthdWire.Base64URL.encode(y)))]
            case let .ed25519(x): members = [("kty", .string("OKP")), ("crv", .string("Ed25519")), ("x", .string(AuthdWire.Base64URL.encode(x)))]
            }
            members += [("use", .string("sig")), ("alg", .string(key.algorithm.rawValue)), ("kid", .string(key.kid))]
            return JSON.object(members)
        }))])
    }

    /// A signed id_token with `claims`, after the configured faults have spoilt it.
    func sign(_ claims: [(String, JSON)]) -> String {
        var claims = claims
        if let issuer = claims.first(where: { $0.0 == "iss" }), case .string(let name) = issuer.1 {
            signedIssuers.withLock { _ = $0.insert(name) }
        }
        func replace(_ name: String, _ value: JSON?) {
            claims.removeAll { $0.0 == name }
            if let value { claims.append((name, value)) }
        }
        if settings.faults.contains(.wrongAudience) { replace("aud", .string("someone-else")) }
        if settings.faults.contains(.wrongIssuer) { replace("iss", .string("https://issuer.invalid")) }
        if settings.faults.contains(.missingNonce) { replace("nonce", nil) }
        if settings.faults.contains(.expired) {
            let iat = claims.first { $0.0 == "iat" }.flatMap { if case .int(let i) = $0.1 { i } else { nil } } ?? 0
            replace("iat", .int(iat - 7200))
            replace("exp", .int(iat - 3600))
        }
        let payload = AuthdWire.Base64URL.encode(Array(JSON.object(claims).text.utf8))
        if settings.faults.contains(.algNone) {
            return AuthdWire.Base64URL.encode(Array(#"{"alg":"none","typ":"JWT"}"#.utf8)) + "." + payload + "."
        }
        let (key, number) = state.withLock { s in (s.current.keys[settings.algorithm]!, s.current.number) }
        let header = JSON.object([("alg", .string(settings.algorithm.rawValue)), ("kid", .string(Self.kid(settings.algorithm, number))),
                                  ("typ", .string("JWT"))])
        let input = AuthdWire.Base64URL.encode(Array(header.text.utf8)) + "." + payload
        var signature = (try? key.sign(Array(input.utf8))) ?? []
        if settings.faults.contains(.badSignature), !signature.isEmpty { signature[signature.count / 2] ^= 0x01 }
        return input + "." + AuthdWire.Base64URL.encode(signature)
    }
}
