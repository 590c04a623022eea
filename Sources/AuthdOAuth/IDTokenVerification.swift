// OpenID Connect id_token verification: compact JWS parsing, key choice, and the claim checks (pure, clock-injected).

import AuthdWire

/// One signing key of a provider's JWKS (RFC 7517), as far as verification needs it.
public struct JSONWebKey: Sendable, Equatable {
    public var keyID: String?
    /// The `alg` the key is restricted to, when the JWK says.
    public var algorithm: String?
    public var material: PublicKeyMaterial

    public init(keyID: String?, algorithm: String? = nil, material: PublicKeyMaterial) {
        self.keyID = keyID
        self.algorithm = algorithm
        self.material = material
    }
}

/// A provider's published keys.
public struct JSONWebKeySet: Sendable, Equatable {
    public var keys: [JSONWebKey]

    public init(keys: [JSONWebKey]) { self.keys = keys }

    /// Reads a JWKS document. Keys of other types or curves, encryption keys (`use` other than
    /// `sig`) and keys with undecodable members are skipped, not errors: providers publish a mix.
    public static func parse(_ body: [UInt8]) -> JSONWebKeySet? {
        guard let document = try? JSONValue.parse(body, maximumDepth: 8), let entries = document["keys"]?.arrayValue else { return nil }
        var keys: [JSONWebKey] = []
        for entry in entries {
            guard entry.objectMembers != nil, let type = entry["kty"]?.stringValue else { continue }
            if let use = entry["use"]?.stringValue, use != "sig" { continue }
            func bytes(_ name: String) -> [UInt8]? { entry[name]?.stringValue.flatMap { Base64URL.decode($0) } }
            let material: PublicKeyMaterial
            switch (type, entry["crv"]?.stringValue) {
            case ("RSA", _):
                guard let n = bytes("n"), let e = bytes("e") else { continue }
                material = .rsa(modulus: n, exponent: e)
            case ("EC", "P-256"?):
                guard let x = bytes("x"), let y = bytes("y") else { continue }
                material = .p256(x: x, y: y)
            case ("OKP", "Ed25519"?):
                guard let x = bytes("x") else { continue }
                material = .ed25519(x)
            default:
                continue
            }
            keys.append(JSONWebKey(keyID: entry["kid"]?.stringValue, algorithm: entry["alg"]?.stringValue, material: material))
        }
        return JSONWebKeySet(keys: keys)
    }

    /// The JWKS document for these keys (the devserver publishes one; tests build them).
    public func serialized() -> String {
        JSONValue.object([("keys", .array(keys.map { key in
            var members: [(String, JSONValue)] = []
            switch key.material {
            case let .rsa(n, e): members = [("kty", .string("RSA")), ("n", .string(Base64URL.encode(n))), ("e", .string(Base64URL.encode(e)))]
            case let .p256(x, y):
                members = [("kty", .string("EC")), ("crv", .string("P-256")), ("x", .string(Base64URL.encode(x))), ("y", .string(Base64URL.encode(y)))]
            case let .ed25519(x): members = [("kty", .string("OKP")), ("crv", .string("Ed25519")), ("x", .string(Base64URL.encode(x)))]
            }
            members.append(("use", .string("sig")))
            if let kid = key.keyID { members.append(("kid", .string(kid))) }
            if let alg = key.algorithm { members.append(("alg", .string(alg))) }
            return .object(members)
        }))]).serialized()
    }
}

/// The parts of a compact JWS (RFC 7515 §7.1), decoded but not yet trusted.
public struct CompactJWS: Sendable {
    public var header: JSONValue
    public var claims: JSONValue
    /// `BASE64URL(header) "." BASE64URL(payload)`: the bytes the signature covers.
    public var signingInput: [UInt8]
    public var signature: [UInt8]

    /// id_tokens are a few kilobytes; a larger one is refused before decoding.
    public static let maximumBytes = 16 * 1024

    public static func parse(_ token: String) -> CompactJWS? {
        guard token.utf8.count <= maximumBytes else { return nil }
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let headerBytes = Base64URL.decode(parts[0]), let payload = Base64URL.decode(parts[1]),
              let signature = Base64URL.decode(parts[2]),
              let header = try? JSONValue.parse(headerBytes, maximumDepth: 4), header.objectMembers != nil,
              let claims = try? JSONValue.parse(payload, maximumDepth: 16), claims.objectMembers != nil
        else { return nil }
        return CompactJWS(header: header, claims: claims, signingInput: Array("\(parts[0]).\(parts[1])".utf8), signature: signature)
    }
}

/// Which check an id_token failed; `description` is the one line `authctl login` prints.
public enum IDTokenFailure: Error, Sendable, Equatable, CustomStringConvertible {
    case malformed
    case algorithmRefused(String)
    case criticalHeader
    /// No key of the issuer's JWKS has this `kid` (or fits the algorithm), even after a fresh fetch.
    case unknownKey(String?)
    case signature
    case issuer(found: String?)
    case audience
    case authorizedParty
    case expired
    case issuedInFuture
    case missingClaim(String)
    case nonceMissing
    case nonceMismatch

    public var description: String {
        let what = "the id_token failed verification"
        switch self {
        case .malformed: return "\(what): it is not a compact JWS with JSON header and claims"
        case .algorithmRefused(let alg): return "\(what): algorithm \(alg) is not accepted (RS256, PS256, ES256, EdDSA only)"
        case .criticalHeader: return "\(what): it has a critical header (crit) authd does not understand"
        case .unknownKey(let kid): return "\(what): no key of the issuer's JWKS matches " + (kid.map { "kid \($0)" } ?? "its algorithm")
        case .signature: return "\(what): the signature does not match the issuer's key"
        case .issuer(let found): return "\(what): iss is " + (found.map { "\"\($0)\"" } ?? "missing") + ", not the configured issuer"
        case .audience: return "\(what): aud does not contain this client_id"
        case .authorizedParty: return "\(what): azp is not this client_id"
        case .expired: return "\(what): it has expired (exp)"
        case .issuedInFuture: return "\(what): iat is in the future (check this machine's clock)"
        case .missingClaim(let name): return "\(what): claim \(name) is missing"
        case .nonceMissing: return "\(what): nonce is missing"
        case .nonceMismatch: return "\(what): nonce does not match the one sent"
        }
    }

    /// The check's short name, for audit records and tests.
    public var check: String {
        switch self {
        case .malformed: "format"
        case .algorithmRefused: "alg"
        case .criticalHeader: "crit"
        case .unknownKey: "kid"
        case .signature: "signature"
        case .issuer: "iss"
        case .audience: "aud"
        case .authorizedParty: "azp"
        case .expired: "exp"
        case .issuedInFuture: "iat"
        case .missingClaim(let name): name
        case .nonceMissing, .nonceMismatch: "nonce"
        }
    }
}

/// What a verified id_token says about who approved the login: `IDTokenVerifier` makes it from
/// the token's claims; the store keeps it (as `StoredIdentity`, the same type).
public typealias VerifiedIdentity = IdentityClaims

/// What the id_token must match: fixed per audience, except `now` and the optional nonce.
public struct IDTokenExpectations: Sendable, Equatable {
    /// nil only for an audience with a jwks_uri and no issuer: then `iss` must be present but
    /// cannot be compared (docs/security.md says so).
    public var issuer: String?
    public var clientID: String
    /// Wall-clock seconds.
    public var now: Int64
    /// The nonce sent on the authorization request (authorization code flow); nil when none was sent.
    public var nonce: String?
    /// Tolerated clock difference for `exp` and `iat`, in seconds.
    public var allowedSkew: Int64

    public init(issuer: String?, clientID: String, now: Int64, nonce: String? = nil, allowedSkew: Int64 = 120) {
        self.issuer = issuer
        self.clientID = clientID
        self.now = now
        self.nonce = nonce
        self.allowedSkew = allowedSkew
    }
}

public enum IDTokenVerifier {
    /// Checks a signature with real cryptography (AuthdSystem's `SignatureVerificationKey`, injected
    /// by the daemon so that this module stays pure): true only for a valid signature.
    public typealias SignatureCheck = @Sendable (SignatureAlgorithm, PublicKeyMaterial, _ message: [UInt8], _ signature: [UInt8]) -> Bool

    /// Verifies `token` against `keys` and `expected`: header, key, signature, then the claims.
    /// `.unknownKey` means the caller should fetch the JWKS once more (a rotation) and try again.
    public static func verify(_ token: String, keys: JSONWebKeySet, expected: IDTokenExpectations,
                              signatureCheck: SignatureCheck) -> Result<VerifiedIdentity, IDTokenFailure> {
        guard let jws = CompactJWS.parse(token) else { return .failure(.malformed) }
        guard let algName = jws.header["alg"]?.stringValue else { return .failure(.algorithmRefused("(missing)")) }
        // `none` and HS256/384/512 have no case here, so they can never select a key.
        guard let algorithm = SignatureAlgorithm(rawValue: algName) else {
            return .failure(.algorithmRefused(ProviderText(secrets: []).clean(algName) ?? "?"))
        }
        if jws.header["crit"] != nil { return .failure(.criticalHeader) }
        let kid = jws.header["kid"]?.stringValue
        let candidates = keys.keys.filter { key in
            key.material.algorithms.contains(algorithm) && (key.algorithm == nil || key.algorithm == algName)
                && (kid == nil || key.keyID == kid)
        }
        guard !candidates.isEmpty else { return .failure(.unknownKey(kid.flatMap { ProviderText(secrets: []).clean($0) })) }
        guard candidates.contains(where: { signatureCheck(algorithm, $0.material, jws.signingInput, jws.signature) }) else {
            return .failure(.signature)
        }
        return checkClaims(jws.claims, expected: expected)
    }

    /// The claim rules of OpenID Connect Core §3.1.3.7 that apply to a client holding its own
    /// tokens: iss, aud, azp, exp, iat, nonce, sub. Run only after the signature checked out.
    public static func checkClaims(_ claims: JSONValue, expected: IDTokenExpectations) -> Result<VerifiedIdentity, IDTokenFailure> {
        let clean = ProviderText(secrets: [])
        let issuer = claims["iss"]?.stringValue
        guard let issuer, expected.issuer.map({ IssuerIdentifier.matches($0, issuer) }) ?? true else {
            return .failure(.issuer(found: issuer.flatMap { clean.clean($0) }))
        }
        let audiences: [String]
        switch claims["aud"] {
        case .string(let one)?: audiences = [one]
        case .array(let many)?: audiences = many.compactMap(\.stringValue)
        default: return .failure(.audience)
        }
        guard audiences.contains(expected.clientID) else { return .failure(.audience) }
        let azp = claims["azp"]?.stringValue
        if let azp, azp != expected.clientID { return .failure(.authorizedParty) }
        if audiences.count > 1, azp == nil { return .failure(.authorizedParty) }
        guard let exp = claims["exp"]?.lenientInteger else { return .failure(.missingClaim("exp")) }
        guard exp + expected.allowedSkew > expected.now else { return .failure(.expired) }
        guard let iat = claims["iat"]?.lenientInteger else { return .failure(.missingClaim("iat")) }
        guard iat <= expected.now + expected.allowedSkew else { return .failure(.issuedInFuture) }
        if let nonce = expected.nonce {
            guard let found = claims["nonce"]?.stringValue else { return .failure(.nonceMissing) }
            guard found == nonce else { return .failure(.nonceMismatch) }
        }
        guard let subject = claims["sub"]?.stringValue, !subject.isEmpty else { return .failure(.missingClaim("sub")) }

        let methods: [String]
        switch claims["amr"] {
        case .array(let items)?: methods = items.compactMap { $0.stringValue.flatMap { clean.clean($0) } }
        case .string(let one)?: methods = clean.clean(one).map { [$0] } ?? []
        default: methods = []
        }
        let context: String? = switch claims["acr"] {
        case .string(let s)?: clean.clean(s)
        case .integer(let i)?: String(i)  // Keycloak's levels are "0"/"1"/"2"; tolerate a number
        default: nil
        }
        return .success(VerifiedIdentity(
            issuer: issuer, subject: clean.clean(subject) ?? subject,
            email: claims["email"]?.stringValue.flatMap { clean.clean($0) },
            preferredUsername: claims["preferred_username"]?.stringValue.flatMap { clean.clean($0) },
            authenticationMethods: methods, authenticationContext: context,
            authenticationContexts: claims["acrs"]?.arrayValue?.compactMap { $0.stringValue.flatMap { clean.clean($0) } } ?? [],
            authTime: claims["auth_time"]?.lenientInteger, expiresAt: exp))
    }
}
