// Secret memory that stays readable: the area the socket loop opens every served token into, and the vault's key.
import CSodium

/// A `sodium_malloc` area (guard pages around it, a canary, locked so it never reaches swap),
/// allocated once and kept readable: opening a token into it costs no system call, where a
/// `SecretBytes` per token costs about ten (mmap, mprotect, mlock, munmap, ...) and, in a
/// threaded process, TLB shootdowns. Every use wipes it before returning.
///
/// Owned by one thread (the socket loop), so it is not `Sendable`.
public final class SecretScratch {
    private let memory: UnsafeMutableRawPointer
    /// The largest secret it can hold.
    public let capacity: Int

    public init(capacity: Int) {
        Sodium.ensureInitialized()
        guard let memory = sodium_malloc(max(capacity, 1)) else { fatalError("sodium_malloc failed: out of memory") }
        sodium_memzero(memory, max(capacity, 1))
        self.memory = memory
        self.capacity = capacity
    }

    deinit {
        sodium_memzero(memory, max(capacity, 1))
        sodium_free(memory)
    }

    /// Opens `sealed` (as `TokenVault.open` does) into the area and runs `body` with a view of the
    /// plaintext that must not outlive the call; then wipes the area. nil when the secret is larger
    /// than the area (the caller opens it the ordinary way).
    public func open<R>(_ sealed: SealedSecret, with vault: TokenVault, context: String,
                        _ body: (SecretBytes) -> R) throws(CryptoError) -> R? {
        let count = sealed.byteCount
        guard count >= 0, count <= capacity else { return nil }
        // Decryption writes exactly `count` bytes, and the area is all zeros between uses, so
        // wiping those bytes wipes everything (wiping all 16 KiB per answer showed in profiles).
        defer { sodium_memzero(memory, max(count, 1)) }
        try vault.open(sealed, context: context, into: UnsafeMutableRawBufferPointer(start: memory, count: count))
        var view = SecretBytes(viewing: memory, count: count)
        let result = body(view)
        // The view points into memory that is wiped and reused: it must not have been kept.
        precondition(isKnownUniquelyReferenced(&view), "a SecretScratch view outlived its call")
        return result
    }

    /// Whether every byte of the area is zero (tests: wiped after each use).
    public var isWiped: Bool {
        sodium_is_zero(memory.assumingMemoryBound(to: UInt8.self), max(capacity, 1)) == 1
    }
}

/// A secret kept in memory like a `SecretScratch` area's (guard pages, a canary, locked, not in
/// core dumps) and readable for its whole life: for the vault's key, which opens a token on every
/// answer. A `SecretBytes` of its own would be mapped readable and back for each use, two
/// `mprotect` calls whose TLB shootdowns reach every thread of the daemon. What that mapping
/// protects against, a stray read of ordinary memory, the guard pages already stop.
final class ResidentSecret: Sendable {
    // Owned by this object alone; read only through `bytes`, whose accessors do not remap it.
    private nonisolated(unsafe) let memory: UnsafeMutableRawPointer
    private let count: Int
    /// The secret, as the crypto calls take it; valid only while this object lives, so it is not
    /// handed outside the module (a view does not keep its memory alive).
    let bytes: SecretBytes

    /// `count` random bytes (`randombytes_buf`): a fresh key.
    init(randomCount count: Int) {
        Sodium.ensureInitialized()
        guard let memory = sodium_malloc(max(count, 1)) else { fatalError("sodium_malloc failed: out of memory") }
        randombytes_buf(memory, count)
        self.memory = memory
        self.count = count
        self.bytes = SecretBytes(viewing: memory, count: count)
    }

    deinit {
        sodium_memzero(memory, max(count, 1))
        sodium_free(memory)
    }
}
