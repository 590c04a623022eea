// JWS vocabulary shared by the checker (AuthdOAuth) and the cryptography (AuthdSystem): algorithms, key material, base64url.

/// The JWS signature algorithms authd accepts (RFC 7518 §3, RFC 8037). `none` and the HMAC family
/// have no case: a shared-secret MAC would let anyone holding the client's configuration forge tokens.
public enum SignatureAlgorithm: String, Sendable, CaseIterable {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    case rs256 = "RS256"
    /// RSASSA-PSS with SHA-256, MGF1 with SHA-256, salt length 32.
    case ps256 = "PS256"
    /// ECDSA on P-256 with SHA-256; the JWS signature is the raw 64-byte r||s.
    case es256 = "ES256"
    /// Ed25519 (the only EdDSA curve accepted; RFC 8037).
    case edDSA = "EdDSA"
}

/// A public key as a JWK carries it, decoded from base64url but not yet checked.
public enum PublicKeyMaterial: Sendable, Equatable {
    case rsa(modulus: [UInt8], exponent: [UInt8])
    /// Affine coordinates on P-256, 32 bytes each.
    case p256(x: [UInt8], y: [UInt8])
    /// A 32-byte Ed25519 public key.
    case ed25519([UInt8])

    /// The algorithms this kind of key can check.
    public var algorithms: [SignatureAlgorithm] {
        switch self {
        case .rsa: [.rs256, .ps256]
        case .p256: [.es256]
        case .ed25519: [.edDSA]
        }
    }
}

/// base64url without padding (RFC 4648 §5; RFC 7515 §2, RFC 7636 Appendix A for PKCE), strict: another alphabet, padding or stray
/// characters are an error, so one token has exactly one encoding.
public enum Base64URL {
    public static func encode(_ bytes: some Collection<UInt8>) -> String {
        var text = Base64.encode(bytes)
        while text.hasSuffix("=") { text.removeLast() }
        return String(text.map { $0 == "+" ? "-" : $0 == "/" ? "_" : $0 })
    }

    public static func decode(_ text: some StringProtocol) -> [UInt8]? {
        guard text.utf8.allSatisfy({ c in
            (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || (c >= 0x30 && c <= 0x39) || c == 0x2D || c == 0x5F
        }), text.utf8.count % 4 != 1 else { return nil }
        guard let bytes = Base64.decode(String(text)) else { return nil }
        // Unused low bits of the last character must be zero (RFC 4648 §3.5), or two texts decode alike.
        guard encode(bytes) == String(text) else { return nil }
        return bytes
    }
}
