// libsodium's one-time initialisation, and the random bytes every other part draws on.
import CSodium

/// libsodium, initialised once per process before its first use.
enum Sodium {
    /// `sodium_init` picks the fastest implementations and seeds the RNG; it must run before any
    /// other libsodium call. A `static let` makes that once-only and thread-safe.
    private static let initialized: Bool = sodium_init() >= 0

    /// Call before any libsodium function.
    @inline(__always)
    static func ensureInitialized() {
        precondition(initialized, "libsodium failed to initialise")
    }
}

/// Cryptographically secure random bytes (`randombytes_buf`).
public enum SecureRandom {
    /// `count` random bytes, for nonces and salts (not for keys: use `SecretBytes.random`).
    public static func bytes(count: Int) -> [UInt8] {
        Sodium.ensureInitialized()
        var bytes = [UInt8](repeating: 0, count: count)
        bytes.withUnsafeMutableBytes { randombytes_buf($0.baseAddress!, $0.count) }
        return bytes
    }
}
