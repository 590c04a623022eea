// Secret bytes in guarded, locked memory: unreadable between accessors, or a range of an operation's arena.
import CSodium
import Synchronization

/// Bytes of a secret (a token, a key) held in `sodium_malloc` memory: guard pages before and after,
/// a canary, locked so it never reaches swap, and mapped no-access except while an accessor runs.
/// Zeroed and freed on release. Compares in constant time. Never prints its contents.
///
/// Accessors hand out a `Span<UInt8>` that cannot escape the closure; `copyBytes()` and
/// `copyString()` exist for the few places that must hand a token to ordinary memory (a socket
/// write, an HTTP header), and say so.
///
/// A secret made `in:` a `SecretArena` is a range of the arena's locked, guarded chunk instead of
/// a region of its own, and stays **readable while it lives**: its pages are shared with the
/// operation's other secrets, so they cannot be mapped no-access per secret. That costs no system
/// call per secret or per access, and is acceptable because arenas are for one short operation
/// (a store load or save, milliseconds), after which every secret carved from one is sealed or
/// dropped; a secret that lives as long as the daemon (a configured passphrase, the store key) is
/// made without an arena (the vault key is a `ResidentSecret`). It keeps its arena alive; its range is zeroed when it is released, the
/// arena's chunks when the arena and its last secret are gone.
public final class SecretBytes: Sendable {
    /// Where the bytes live, which decides how they are protected and freed.
    private enum Backing: Sendable {
        /// A `sodium_malloc` region of its own, mapped no-access between accessors.
        case guarded
        /// A view of memory another object owns and keeps readable (a `SecretScratch` area, a
        /// `ResidentSecret`), which wipes and frees it itself.
        case borrowed
        /// A range of an arena's chunk, readable while the secret lives, zeroed when it is released.
        case arena(SecretArena)
    }

    private struct State {
        // Readers currently inside an accessor: the first one maps the pages readable, the last
        // one maps them no-access again.
        var readers = 0
        var freeObserver: (@Sendable (UnsafeRawBufferPointer) -> Void)?
    }

    // Owned by this object alone (or, for an arena range, a range no other secret is given);
    // every access goes through `withUnsafeBytes`, whose mapping changes are serialised by `state`.
    private nonisolated(unsafe) let memory: UnsafeMutableRawPointer
    private let state = Mutex(State())
    private let backing: Backing

    /// Number of bytes.
    public let count: Int

    /// Allocates `count` bytes (in `arena`, or a guarded region of their own) and lets `fill`
    /// write them; for this module's decrypt and derive calls.
    init<E: Error>(count: Int, in arena: SecretArena? = nil, fill: (UnsafeMutableRawBufferPointer) throws(E) -> Void) throws(E) {
        if let arena {
            let region = arena.allocate(count)
            self.memory = region.baseAddress!
            self.count = count
            self.backing = .arena(arena)
            // If `fill` throws, deinit zeroes the range.
            try fill(region)
            return
        }
        Sodium.ensureInitialized()
        // sodium_malloc(0) would still need a valid region for the mprotect calls.
        guard let memory = sodium_malloc(max(count, 1)) else { fatalError("sodium_malloc failed: out of memory") }
        self.memory = memory
        self.count = count
        self.backing = .guarded
        // If `fill` throws, the object is already complete, so deinit wipes and frees the memory.
        try fill(UnsafeMutableRawBufferPointer(start: memory, count: count))
        sodium_mprotect_noaccess(memory)
    }

    /// Copies `bytes` into secret memory (a range of `arena`, or a guarded region of its own), then
    /// zeroes `bytes` (the array's buffer; copies of it made elsewhere earlier are out of reach).
    public convenience init(zeroing bytes: inout [UInt8], in arena: SecretArena? = nil) {
        self.init(count: bytes.count, in: arena) { destination in
            bytes.withUnsafeBytes { destination.copyMemory(from: $0) }
        }
        SecretBytes.zero(&bytes)
    }

    /// Copies a string's UTF-8 bytes into secret memory. The string itself cannot be wiped:
    /// prefer `init(zeroing:)` where the bytes arrive as an array.
    public convenience init(copying string: String, in arena: SecretArena? = nil) {
        var bytes = Array(string.utf8)
        self.init(zeroing: &bytes, in: arena)
    }

    /// `prefix` (not secret: a record's lengths and metadata) followed by the bytes of each of
    /// `secrets`, assembled directly in secret memory with no copy in ordinary memory.
    public convenience init(joining prefix: [UInt8], _ secrets: [SecretBytes], in arena: SecretArena? = nil) {
        self.init(count: prefix.count + secrets.reduce(0) { $0 + $1.count }, in: arena) { destination in
            prefix.withUnsafeBytes { destination.copyMemory(from: $0) }
            var offset = prefix.count
            for secret in secrets {
                secret.withUnsafeBytes { UnsafeMutableRawBufferPointer(rebasing: destination[offset...]).copyMemory(from: $0) }
                offset += secret.count
            }
        }
    }

    /// `count` random bytes generated directly in secret memory (`randombytes_buf`): a fresh key.
    public static func random(count: Int) -> SecretBytes {
        SecretBytes(count: count) { randombytes_buf($0.baseAddress!, $0.count) }
    }

    /// A view of `count` bytes of a scratch area's memory, valid only while the scratch lends it.
    init(viewing memory: UnsafeMutableRawPointer, count: Int) {
        self.memory = memory
        self.count = count
        self.backing = .borrowed
    }

    deinit {
        switch backing {
        case .borrowed:
            return
        case .arena:
            // The arena's chunk is freed with the arena; this range is never handed out again.
            sodium_memzero(memory, count)
            if let observer = state.withLock({ $0.freeObserver }) {
                observer(UnsafeRawBufferPointer(start: memory, count: count))
            }
            return
        case .guarded:
            break
        }
        sodium_mprotect_readwrite(memory)
        sodium_memzero(memory, max(count, 1))
        if let observer = state.withLock({ $0.freeObserver }) {
            observer(UnsafeRawBufferPointer(start: memory, count: count))
        }
        sodium_free(memory)
    }

    /// Runs `body` with the bytes readable; this module's C calls read keys and plaintext this way.
    func withUnsafeBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        guard case .guarded = backing else { return try body(UnsafeRawBufferPointer(start: memory, count: count)) }
        state.withLock {
            if $0.readers == 0 { sodium_mprotect_readonly(memory) }
            $0.readers += 1
        }
        defer {
            state.withLock {
                $0.readers -= 1
                if $0.readers == 0 { sodium_mprotect_noaccess(memory) }
            }
        }
        return try body(UnsafeRawBufferPointer(start: memory, count: count))
    }

    /// Runs `body` with a read-only view of the bytes that cannot outlive the call.
    public func withBytes<R, E: Error>(_ body: (Span<UInt8>) throws(E) -> R) throws(E) -> R {
        try withUnsafeBytes { (raw) throws(E) -> R in
            try body(Span(_unsafeElements: raw.assumingMemoryBound(to: UInt8.self)))
        }
    }

    /// A new secret holding the bytes in `range` (e.g. one field of a decrypted record), in
    /// `arena` or in a guarded region of its own.
    public func extracting(_ range: Range<Int>, in arena: SecretArena? = nil) -> SecretBytes {
        precondition(range.lowerBound >= 0 && range.upperBound <= count, "range out of bounds")
        return withUnsafeBytes { source in
            SecretBytes(count: range.count, in: arena) { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: source[range])) }
        }
    }

    /// A copy in ordinary memory, for handing the secret to an API that needs an array (a socket
    /// write). The caller should `SecretBytes.zero` it when done.
    public func copyBytes() -> [UInt8] {
        withUnsafeBytes { Array($0) }
    }

    /// A copy as a `String` (nil if not valid UTF-8), for APIs that need one (an HTTP form field).
    /// Strings cannot be wiped: use only where unavoidable.
    public func copyString() -> String? {
        withUnsafeBytes { String(validating: $0.assumingMemoryBound(to: UInt8.self), as: UTF8.self) }
    }

    /// Overwrites an array's bytes with zeros in a way the optimiser keeps (`sodium_memzero`).
    public static func zero(_ bytes: inout [UInt8]) {
        bytes.withUnsafeMutableBytes { if let base = $0.baseAddress { sodium_memzero(base, $0.count) } }
    }

    /// Test hook: called from `deinit` with the memory after it was zeroed, before it is freed
    /// (for an arena range: before the range is left to the arena).
    func observeFreeForTesting(_ observer: @escaping @Sendable (UnsafeRawBufferPointer) -> Void) {
        state.withLock { $0.freeObserver = observer }
    }
}

extension SecretBytes: Equatable {
    /// Constant-time comparison of the contents (`sodium_memcmp`); lengths are not secret.
    public static func == (lhs: SecretBytes, rhs: SecretBytes) -> Bool {
        if lhs === rhs { return true }
        guard lhs.count == rhs.count else { return false }
        guard lhs.count > 0 else { return true }
        return lhs.withUnsafeBytes { left in
            rhs.withUnsafeBytes { right in sodium_memcmp(left.baseAddress!, right.baseAddress!, left.count) == 0 }
        }
    }
}

extension SecretBytes: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// `SecretBytes(<redacted>, N bytes)`
    public var description: String { "SecretBytes(<redacted>, \(count) bytes)" }
    /// Same as `description`.
    public var debugDescription: String { description }
    /// No children, so `dump` and debuggers show only the redaction.
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .class) }
}
