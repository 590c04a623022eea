// Tokens held encrypted in memory under a per-process key, decrypted only for the moment they are used.
import Synchronization

/// A secret encrypted by a `TokenVault`: nonce and ciphertext, no readable contents.
public struct SealedSecret: Sendable, Equatable, CustomStringConvertible, CustomReflectable {
    let nonce: [UInt8]
    let ciphertext: [UInt8]

    /// Length of the secret inside.
    public var byteCount: Int { ciphertext.count - XChaCha20Poly1305.tagByteCount }

    /// `SealedSecret(N bytes)`
    public var description: String { "SealedSecret(\(byteCount) bytes)" }
    /// No children: `dump` shows the description only.
    public var customMirror: Mirror { Mirror(self, children: []) }
}

/// Holds a random key, generated at start and never written anywhere, that seals tokens kept in
/// memory. A core dump or a stray copy of the daemon's heap then holds only ciphertext; the
/// plaintext exists in locked secret memory for the moment a token is sent.
public final class TokenVault: Sendable {
    // Resident (no remapping per use): opened on every answer (ResidentSecret says why).
    private let residentKey = ResidentSecret(randomCount: XChaCha20Poly1305.keyByteCount)
    private var key: SecretBytes { residentKey.bytes }

    /// A vault with a fresh random key.
    public init() {}

    /// Encrypts `secret`. `context` (e.g. "access:work-git") is authenticated too, so a sealed
    /// secret opened under another context fails instead of serving the wrong audience's token.
    public func seal(_ secret: SecretBytes, context: String = "") -> SealedSecret {
        let nonce = XChaCha20Poly1305.randomNonce()
        // The key is ours and the nonce fresh, so only programming errors could make this throw.
        let ciphertext = try! XChaCha20Poly1305.seal(secret, key: key, nonce: nonce, associatedData: Array(context.utf8))
        return SealedSecret(nonce: nonce, ciphertext: ciphertext)
    }

    /// Encrypts `bytes` and zeroes them.
    public func seal(zeroing bytes: inout [UInt8], context: String = "") -> SealedSecret {
        seal(SecretBytes(zeroing: &bytes), context: context)
    }

    /// Decrypts into secret memory (a range of `arena`, for an operation that opens many, or a
    /// guarded region of its own); throws `CryptoError.authenticationFailed` if the sealed secret
    /// was altered, comes from another vault, or `context` differs from the one it was sealed with.
    public func open(_ sealed: SealedSecret, context: String = "", in arena: SecretArena? = nil) throws(CryptoError) -> SecretBytes {
        try XChaCha20Poly1305.open(sealed.ciphertext, key: key, nonce: sealed.nonce, associatedData: Array(context.utf8), in: arena)
    }

    /// Decrypts into `output` (at least `sealed.byteCount` bytes), for `SecretScratch`; the same checks as `open`.
    func open(_ sealed: SealedSecret, context: String, into output: UnsafeMutableRawBufferPointer) throws(CryptoError) {
        try XChaCha20Poly1305.decrypt(sealed.ciphertext, key: key, nonce: sealed.nonce, associatedData: Array(context.utf8),
                                      into: output)
    }
}
