// XChaCha20-Poly1305 authenticated encryption and Argon2id key derivation.
import CSodium

/// Why a cryptographic operation failed. Messages name no secret.
public enum CryptoError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The ciphertext, nonce, associated data or key do not match: tampered, truncated, moved, or the wrong key.
    case authenticationFailed
    /// A key or nonce had the wrong length.
    case invalidLength(what: String, expected: Int, actual: Int)
    /// Argon2id could not get the memory its parameters ask for.
    case keyDerivationFailed

    public var description: String {
        switch self {
        case .authenticationFailed: return "authentication failed (wrong key, or the data was changed)"
        case .invalidLength(let what, let expected, let actual): return "\(what) must be \(expected) bytes, not \(actual)"
        case .keyDerivationFailed: return "key derivation failed (not enough memory for its parameters)"
        }
    }
}

/// XChaCha20-Poly1305 (IETF) AEAD (`crypto_aead_xchacha20poly1305_ietf_*`): 256-bit keys, 192-bit
/// nonces large enough to be chosen at random, a 128-bit tag over ciphertext and associated data.
public enum XChaCha20Poly1305 {
    /// Key length: 32.
    public static let keyByteCount = Int(crypto_aead_xchacha20poly1305_ietf_keybytes())
    /// Nonce length: 24.
    public static let nonceByteCount = Int(crypto_aead_xchacha20poly1305_ietf_npubbytes())
    /// Tag length added to every ciphertext: 16.
    public static let tagByteCount = Int(crypto_aead_xchacha20poly1305_ietf_abytes())

    /// A fresh random nonce.
    public static func randomNonce() -> [UInt8] { SecureRandom.bytes(count: nonceByteCount) }

    /// Encrypts and authenticates `plaintext`, authenticating `associatedData` too; returns ciphertext followed by the tag.
    public static func seal(
        _ plaintext: SecretBytes, key: SecretBytes, nonce: [UInt8], associatedData: [UInt8]
    ) throws(CryptoError) -> [UInt8] {
        try check(key: key, nonce: nonce)
        var ciphertext = [UInt8](repeating: 0, count: plaintext.count + tagByteCount)
        var length: UInt64 = 0
        plaintext.withUnsafeBytes { message in
            key.withUnsafeBytes { keyBytes in
                ciphertext.withUnsafeMutableBytes { output in
                    _ = crypto_aead_xchacha20poly1305_ietf_encrypt(
                        output.baseAddress!.assumingMemoryBound(to: UInt8.self), &length,
                        message.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(message.count),
                        associatedData, UInt64(associatedData.count), nil,
                        nonce, keyBytes.baseAddress!.assumingMemoryBound(to: UInt8.self))
                }
            }
        }
        return ciphertext
    }

    /// Checks the tag and decrypts straight into secret memory (a range of `arena`, or a guarded
    /// region of its own); throws `authenticationFailed` on any mismatch.
    public static func open(
        _ ciphertext: [UInt8], key: SecretBytes, nonce: [UInt8], associatedData: [UInt8], in arena: SecretArena? = nil
    ) throws(CryptoError) -> SecretBytes {
        try check(key: key, nonce: nonce)
        guard ciphertext.count >= tagByteCount else { throw .authenticationFailed }
        return try SecretBytes(count: ciphertext.count - tagByteCount, in: arena) { (output) throws(CryptoError) in
            try decrypt(ciphertext, key: key, nonce: nonce, associatedData: associatedData, into: output)
        }
    }

    /// Checks the tag and decrypts into `output`, which holds at least the plaintext's length
    /// (`ciphertext.count - tagByteCount`); for `open` and for `SecretScratch`.
    static func decrypt(_ ciphertext: [UInt8], key: SecretBytes, nonce: [UInt8], associatedData: [UInt8],
                        into output: UnsafeMutableRawBufferPointer) throws(CryptoError) {
        try check(key: key, nonce: nonce)
        guard ciphertext.count >= tagByteCount, output.count >= ciphertext.count - tagByteCount else {
            throw .authenticationFailed
        }
        var length: UInt64 = 0
        let result = key.withUnsafeBytes { keyBytes in
            crypto_aead_xchacha20poly1305_ietf_decrypt(
                output.baseAddress!.assumingMemoryBound(to: UInt8.self), &length, nil,
                ciphertext, UInt64(ciphertext.count),
                associatedData, UInt64(associatedData.count),
                nonce, keyBytes.baseAddress!.assumingMemoryBound(to: UInt8.self))
        }
        guard result == 0 else { throw .authenticationFailed }
    }

    private static func check(key: SecretBytes, nonce: [UInt8]) throws(CryptoError) {
        guard key.count == keyByteCount else { throw .invalidLength(what: "key", expected: keyByteCount, actual: key.count) }
        guard nonce.count == nonceByteCount else {
            throw .invalidLength(what: "nonce", expected: nonceByteCount, actual: nonce.count)
        }
    }
}

/// Argon2id cost parameters (`crypto_pwhash` with `ALG_ARGON2ID13`).
public struct Argon2idParameters: Sendable, Equatable {
    /// Passes over memory (`opslimit`).
    public var operationsLimit: UInt64
    /// Memory used, in bytes (`memlimit`).
    public var memoryLimitBytes: UInt64

    /// Explicit parameters (e.g. read back from a store header).
    public init(operationsLimit: UInt64, memoryLimitBytes: UInt64) {
        self.operationsLimit = operationsLimit
        self.memoryLimitBytes = memoryLimitBytes
    }

    /// libsodium's MODERATE limits (3 passes, 256 MiB; about half a second here): for at-rest keys.
    public static var moderate: Argon2idParameters {
        Argon2idParameters(
            operationsLimit: UInt64(crypto_pwhash_opslimit_moderate()),
            memoryLimitBytes: UInt64(crypto_pwhash_memlimit_moderate()))
    }

    /// libsodium's INTERACTIVE limits (2 passes, 64 MiB): for tests.
    public static var interactive: Argon2idParameters {
        Argon2idParameters(
            operationsLimit: UInt64(crypto_pwhash_opslimit_interactive()),
            memoryLimitBytes: UInt64(crypto_pwhash_memlimit_interactive()))
    }

    /// Whether libsodium accepts these limits (a header read from disk may carry anything).
    public var isWithinLibraryLimits: Bool {
        operationsLimit >= UInt64(crypto_pwhash_opslimit_min()) && operationsLimit <= UInt64(crypto_pwhash_opslimit_max())
            && memoryLimitBytes >= UInt64(crypto_pwhash_memlimit_min())
            && memoryLimitBytes <= UInt64(min(crypto_pwhash_memlimit_max(), 1 << 32))
    }
}

/// Stretches a passphrase into a key with Argon2id.
public enum PassphraseKeyDerivation {
    /// Salt length: 16.
    public static let saltByteCount = Int(crypto_pwhash_saltbytes())

    /// A fresh random salt.
    public static func randomSalt() -> [UInt8] { SecureRandom.bytes(count: saltByteCount) }

    /// Derives a `keyByteCount`-byte key from `passphrase` and `salt`; slow by design.
    public static func deriveKey(
        from passphrase: SecretBytes, salt: [UInt8], parameters: Argon2idParameters, keyByteCount: Int = 32
    ) throws(CryptoError) -> SecretBytes {
        guard salt.count == saltByteCount else {
            throw .invalidLength(what: "salt", expected: saltByteCount, actual: salt.count)
        }
        guard parameters.isWithinLibraryLimits else { throw .keyDerivationFailed }
        return try SecretBytes(count: keyByteCount) { (output) throws(CryptoError) in
            func derive(_ password: UnsafePointer<CChar>, _ length: Int) -> Int32 {
                crypto_pwhash(
                    output.baseAddress!.assumingMemoryBound(to: UInt8.self), UInt64(output.count),
                    password, UInt64(length), salt, parameters.operationsLimit, Int(parameters.memoryLimitBytes),
                    crypto_pwhash_alg_argon2id13())
            }
            let result = passphrase.withUnsafeBytes { password in
                // crypto_pwhash wants a non-null pointer even for an empty passphrase.
                guard let base = password.baseAddress, password.count > 0 else { return derive("", 0) }
                return derive(base.assumingMemoryBound(to: CChar.self), password.count)
            }
            guard result == 0 else { throw .keyDerivationFailed }
        }
    }
}
