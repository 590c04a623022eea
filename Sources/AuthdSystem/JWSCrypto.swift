// JWS signature checks and signing over OpenSSL's libcrypto (RSA, ECDSA P-256) and libsodium (Ed25519).
import AuthdWire
import CLibcrypto
import CSodium

/// Why a key could not be used. Names no key bytes.
public enum SignatureKeyError: Error, Sendable, Equatable, CustomStringConvertible {
    case rsaModulusTooShort(bits: Int)
    case invalidKey(String)
    case signingFailed

    public var description: String {
        switch self {
        case .rsaModulusTooShort(let bits): "RSA key of \(bits) bits is too short (2048 at least)"
        case .invalidKey(let why): "unusable key: \(why)"
        case .signingFailed: "signing failed"
        }
    }
}

/// Owns one `EVP_PKEY`. libcrypto keys are reference-counted and safe to use from several threads
/// for verification and signing once built, and this class never mutates the key after init.
final class OpenSSLKey: @unchecked Sendable {
    let pointer: OpaquePointer

    init(_ pointer: OpaquePointer) { self.pointer = pointer }
    deinit { EVP_PKEY_free(pointer) }

    /// Memory that must outlive a parameter builder: `OSSL_PARAM_BLD_push_*` keep the pointers
    /// they are given (names and octet strings) until `OSSL_PARAM_BLD_to_param`, so Swift's
    /// temporary C strings would dangle. Everything here is freed after the key is built.
    final class PinnedMemory {
        private var blocks: [UnsafeMutableRawPointer] = []
        func cString(_ text: String) -> UnsafePointer<CChar> {
            let bytes = Array(text.utf8CString)
            let block = UnsafeMutableRawPointer.allocate(byteCount: bytes.count, alignment: 1)
            bytes.withUnsafeBytes { block.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
            blocks.append(block)
            return UnsafePointer(block.assumingMemoryBound(to: CChar.self))
        }
        func bytes(_ value: [UInt8]) -> UnsafeMutableRawPointer {
            let block = UnsafeMutableRawPointer.allocate(byteCount: max(value.count, 1), alignment: 1)
            value.withUnsafeBytes { if let base = $0.baseAddress { block.copyMemory(from: base, byteCount: $0.count) } }
            blocks.append(block)
            return block
        }
        deinit { for block in blocks { block.deallocate() } }
    }

    /// Builds a public key from parameters (`EVP_PKEY_fromdata`); `push` adds them to the builder.
    static func fromPublicParameters(type: String, _ push: (OpaquePointer, PinnedMemory) -> Bool) throws(SignatureKeyError) -> OpenSSLKey {
        guard let builder = OSSL_PARAM_BLD_new() else { throw .invalidKey("out of memory") }
        defer { OSSL_PARAM_BLD_free(builder) }
        let pinned = PinnedMemory()
        guard push(builder, pinned), let parameters = OSSL_PARAM_BLD_to_param(builder) else { throw .invalidKey("bad parameters") }
        defer { OSSL_PARAM_free(parameters) }
        guard let context = EVP_PKEY_CTX_new_from_name(nil, type, nil) else { throw .invalidKey("no \(type) support") }
        defer { EVP_PKEY_CTX_free(context) }
        var key: OpaquePointer?
        // EVP_PKEY_PUBLIC_KEY: OSSL_KEYMGMT_SELECT_PUBLIC_KEY | OSSL_KEYMGMT_SELECT_ALL_PARAMETERS (a macro Swift cannot import).
        let publicKeySelection: Int32 = 0x02 | 0x04 | 0x80
        guard EVP_PKEY_fromdata_init(context) == 1, EVP_PKEY_fromdata(context, &key, publicKeySelection, parameters) == 1,
              let key else {
            ERR_clear_error()
            throw .invalidKey("libcrypto refused the \(type) parameters")
        }
        return OpenSSLKey(key)
    }

    /// Generates a key pair: "RSA" with `bits`, or "EC" on P-256.
    static func generate(type: String, rsaBits: UInt32 = 2048) throws(SignatureKeyError) -> OpenSSLKey {
        guard let context = EVP_PKEY_CTX_new_from_name(nil, type, nil) else { throw .invalidKey("no \(type) support") }
        defer { EVP_PKEY_CTX_free(context) }
        guard EVP_PKEY_keygen_init(context) == 1 else { throw .signingFailed }
        if type == "RSA" {
            guard EVP_PKEY_CTX_set_rsa_keygen_bits(context, Int32(rsaBits)) == 1 else { throw .signingFailed }
        } else {
            guard EVP_PKEY_CTX_set_group_name(context, "P-256") == 1 else { throw .signingFailed }
        }
        var key: OpaquePointer?
        guard EVP_PKEY_generate(context, &key) == 1, let key else { ERR_clear_error(); throw .signingFailed }
        return OpenSSLKey(key)
    }

    func bigNumberParameter(_ name: String) -> [UInt8]? {
        var number: OpaquePointer?
        guard EVP_PKEY_get_bn_param(pointer, name, &number) == 1, let number else { return nil }
        defer { BN_free(number) }
        var bytes = [UInt8](repeating: 0, count: Int((BN_num_bits(number) + 7) / 8))
        _ = BN_bn2bin(number, &bytes)
        return bytes
    }

    func octetParameter(_ name: String) -> [UInt8]? {
        var length = 0
        guard EVP_PKEY_get_octet_string_param(pointer, name, nil, 0, &length) == 1 else { return nil }
        var bytes = [UInt8](repeating: 0, count: length)
        guard EVP_PKEY_get_octet_string_param(pointer, name, &bytes, length, &length) == 1 else { return nil }
        return Array(bytes.prefix(length))
    }

    /// Sets PSS padding (salt = digest length, MGF1 = the digest) on a digest-sign/verify context.
    static func usePSS(_ context: OpaquePointer?) -> Bool {
        guard let context else { return false }
        return EVP_PKEY_CTX_set_rsa_padding(context, RSA_PKCS1_PSS_PADDING) == 1
            && EVP_PKEY_CTX_set_rsa_pss_saltlen(context, RSA_PSS_SALTLEN_DIGEST) == 1
    }
}

/// A public key that checks JWS signatures. Built only from material libcrypto (or libsodium) accepts.
public final class SignatureVerificationKey: Sendable {
    private enum Backing: Sendable {
        case openSSL(OpenSSLKey)
        case ed25519([UInt8])
    }

    private let backing: Backing
    public let material: PublicKeyMaterial

    /// Checks the material and builds the key: RSA of 2048 bits or more, a P-256 point on the
    /// curve, an Ed25519 key of 32 bytes.
    public init(_ material: PublicKeyMaterial) throws(SignatureKeyError) {
        self.material = material
        switch material {
        case let .rsa(modulus, exponent):
            let significant = modulus.drop { $0 == 0 }
            let bits = significant.isEmpty ? 0 : (significant.count - 1) * 8 + (8 - significant.first!.leadingZeroBitCount)
            guard bits >= 2048 else { throw .rsaModulusTooShort(bits: bits) }
            guard !exponent.isEmpty, exponent.count <= 8 else { throw .invalidKey("RSA exponent length") }
            // The builder refers to the numbers until `to_param`: they are freed after the key is built.
            guard let n = BN_bin2bn(modulus, Int32(modulus.count), nil) else { throw .invalidKey("out of memory") }
            defer { BN_free(n) }
            guard let e = BN_bin2bn(exponent, Int32(exponent.count), nil) else { throw .invalidKey("out of memory") }
            defer { BN_free(e) }
            backing = .openSSL(try OpenSSLKey.fromPublicParameters(type: "RSA") { builder, pinned in
                OSSL_PARAM_BLD_push_BN(builder, pinned.cString("n"), n) == 1 && OSSL_PARAM_BLD_push_BN(builder, pinned.cString("e"), e) == 1
            })
        case let .p256(x, y):
            guard x.count == 32, y.count == 32 else { throw .invalidKey("P-256 coordinates must be 32 bytes each") }
            let point = [0x04] + x + y  // SEC 1 uncompressed point
            let key = try OpenSSLKey.fromPublicParameters(type: "EC") { builder, pinned in
                OSSL_PARAM_BLD_push_utf8_string(builder, pinned.cString("group"), pinned.cString("prime256v1"), 0) == 1
                    && OSSL_PARAM_BLD_push_octet_string(builder, pinned.cString("pub"), pinned.bytes(point), point.count) == 1
            }
            // fromdata decodes the point; the public check also refuses a point off the curve or at infinity.
            guard let check = EVP_PKEY_CTX_new_from_pkey(nil, key.pointer, nil) else { throw .invalidKey("out of memory") }
            defer { EVP_PKEY_CTX_free(check) }
            guard EVP_PKEY_public_check(check) == 1 else { ERR_clear_error(); throw .invalidKey("the point is not on P-256") }
            backing = .openSSL(key)
        case let .ed25519(publicKey):
            guard publicKey.count == Int(crypto_sign_ed25519_publickeybytes()) else {
                throw .invalidKey("an Ed25519 key is 32 bytes")
            }
            backing = .ed25519(publicKey)
        }
    }

    /// Whether `signature` is a valid `algorithm` signature of `message` under this key. An algorithm
    /// the key cannot do is simply false (the caller chose the key by `kid`/`kty`, the token the algorithm).
    /// Builds the key from `material` and checks one signature: false for unusable material too.
    /// The shape of AuthdOAuth's `IDTokenVerifier.SignatureCheck`, shared by the daemon and the devserver.
    public static func verifies(_ algorithm: SignatureAlgorithm, _ material: PublicKeyMaterial,
                                message: [UInt8], signature: [UInt8]) -> Bool {
        guard let key = try? SignatureVerificationKey(material) else { return false }
        return key.verify(algorithm, message: message, signature: signature)
    }

    public func verify(_ algorithm: SignatureAlgorithm, message: [UInt8], signature: [UInt8]) -> Bool {
        guard material.algorithms.contains(algorithm) else { return false }
        switch backing {
        case .ed25519(let publicKey):
            Sodium.ensureInitialized()
            guard signature.count == Int(crypto_sign_ed25519_bytes()) else { return false }
            return crypto_sign_ed25519_verify_detached(signature, message, UInt64(message.count), publicKey) == 0
        case .openSSL(let key):
            var encodedSignature = signature
            if algorithm == .es256 {
                guard signature.count == 64, let der = Self.derECDSASignature(rawRS: signature) else { return false }
                encodedSignature = der
            }
            guard let context = EVP_MD_CTX_new() else { return false }
            defer { EVP_MD_CTX_free(context) }
            var keyContext: OpaquePointer?
            guard EVP_DigestVerifyInit(context, &keyContext, EVP_sha256(), nil, key.pointer) == 1 else { ERR_clear_error(); return false }
            if algorithm == .ps256, !OpenSSLKey.usePSS(keyContext) { ERR_clear_error(); return false }
            let result = EVP_DigestVerify(context, encodedSignature, encodedSignature.count, message, message.count)
            ERR_clear_error()
            return result == 1
        }
    }

    /// JWS ES256 signatures are r||s (RFC 7518 §3.4); libcrypto wants DER `ECDSA-Sig-Value`.
    static func derECDSASignature(rawRS: [UInt8]) -> [UInt8]? {
        guard let signature = ECDSA_SIG_new() else { return nil }
        defer { ECDSA_SIG_free(signature) }
        guard let r = BN_bin2bn(rawRS, 32, nil) else { return nil }
        guard let s = rawRS.withUnsafeBufferPointer({ BN_bin2bn($0.baseAddress! + 32, 32, nil) }) else { BN_free(r); return nil }
        guard ECDSA_SIG_set0(signature, r, s) == 1 else { BN_free(r); BN_free(s); return nil }  // owns r, s on success
        let length = i2d_ECDSA_SIG(signature, nil)
        guard length > 0 else { return nil }
        var der = [UInt8](repeating: 0, count: Int(length))
        let written = der.withUnsafeMutableBufferPointer { buffer -> Int32 in
            var cursor: UnsafeMutablePointer<UInt8>? = buffer.baseAddress
            return i2d_ECDSA_SIG(signature, &cursor)
        }
        return written == length ? der : nil
    }
}

/// A private key that signs JWS: the devserver's id_tokens, and tokens made in tests.
public final class JWSSigningKey: Sendable {
    private enum Backing: Sendable {
        case openSSL(OpenSSLKey)
        case ed25519(secret: SecretBytes)
    }

    private let backing: Backing
    public let algorithm: SignatureAlgorithm
    public let publicKey: PublicKeyMaterial

    /// A fresh key pair for `algorithm` (RSA keys are 2048 bits).
    public init(generating algorithm: SignatureAlgorithm) throws(SignatureKeyError) {
        self.algorithm = algorithm
        switch algorithm {
        case .rs256, .ps256:
            let key = try OpenSSLKey.generate(type: "RSA")
            guard let n = key.bigNumberParameter("n"), let e = key.bigNumberParameter("e") else { throw .signingFailed }
            backing = .openSSL(key)
            publicKey = .rsa(modulus: n, exponent: e)
        case .es256:
            let key = try OpenSSLKey.generate(type: "EC")
            guard let point = key.octetParameter("encoded-pub-key"), point.count == 65, point[0] == 0x04 else { throw .signingFailed }
            backing = .openSSL(key)
            publicKey = .p256(x: Array(point[1...32]), y: Array(point[33...64]))
        case .edDSA:
            Sodium.ensureInitialized()
            var publicBytes = [UInt8](repeating: 0, count: Int(crypto_sign_ed25519_publickeybytes()))
            var secretBytes = [UInt8](repeating: 0, count: Int(crypto_sign_ed25519_secretkeybytes()))
            guard crypto_sign_ed25519_keypair(&publicBytes, &secretBytes) == 0 else { throw .signingFailed }
            backing = .ed25519(secret: SecretBytes(zeroing: &secretBytes))
            publicKey = .ed25519(publicBytes)
        }
    }

    /// The JWS signature of `message` (for ES256 the raw r||s).
    public func sign(_ message: [UInt8]) throws(SignatureKeyError) -> [UInt8] {
        switch backing {
        case .ed25519(let secret):
            var signature = [UInt8](repeating: 0, count: Int(crypto_sign_ed25519_bytes()))
            let result = secret.withUnsafeBytes { secretKey in
                crypto_sign_ed25519_detached(&signature, nil, message, UInt64(message.count),
                                             secretKey.baseAddress!.assumingMemoryBound(to: UInt8.self))
            }
            guard result == 0 else { throw .signingFailed }
            return signature
        case .openSSL(let key):
            guard let context = EVP_MD_CTX_new() else { throw .signingFailed }
            defer { EVP_MD_CTX_free(context) }
            var keyContext: OpaquePointer?
            guard EVP_DigestSignInit(context, &keyContext, EVP_sha256(), nil, key.pointer) == 1 else { throw .signingFailed }
            if algorithm == .ps256, !OpenSSLKey.usePSS(keyContext) { throw .signingFailed }
            var length = 0
            guard EVP_DigestSign(context, nil, &length, message, message.count) == 1 else { throw .signingFailed }
            var signature = [UInt8](repeating: 0, count: length)
            guard EVP_DigestSign(context, &signature, &length, message, message.count) == 1 else { throw .signingFailed }
            signature = Array(signature.prefix(length))
            return algorithm == .es256 ? try Self.rawECDSASignature(der: signature) : signature
        }
    }

    private static func rawECDSASignature(der: [UInt8]) throws(SignatureKeyError) -> [UInt8] {
        let parsed = der.withUnsafeBufferPointer { buffer -> OpaquePointer? in
            var cursor: UnsafePointer<UInt8>? = buffer.baseAddress
            return d2i_ECDSA_SIG(nil, &cursor, buffer.count)
        }
        guard let parsed else { throw .signingFailed }
        defer { ECDSA_SIG_free(parsed) }
        var raw = [UInt8](repeating: 0, count: 64)
        guard let r = ECDSA_SIG_get0_r(parsed), let s = ECDSA_SIG_get0_s(parsed),
              raw.withUnsafeMutableBufferPointer({ BN_bn2binpad(r, $0.baseAddress, 32) == 32 && BN_bn2binpad(s, $0.baseAddress! + 32, 32) == 32 })
        else { throw .signingFailed }
        return raw
    }
}
