// One locked, guarded region that a store operation's secrets are carved from: O(chunks) system calls, not O(secrets).
import CSodium
import Synchronization

/// Secret memory for one short operation (a store load or save): `sodium_malloc` chunks (guard
/// pages around each, a canary, locked so they never reach swap), handed out as `SecretBytes`
/// without a system call per secret. A `SecretBytes` per record and token the ordinary way costs
/// about ten system calls each (mmap, mprotect, mlock, munlock, munmap) and more mprotect calls per
/// access; decoding 1,000 records made about 110,000 of them.
///
/// Ranges are never reused: a released secret's bytes are zeroed at once, and the chunks are
/// zeroed and freed when the arena and every secret carved from it are gone (each secret keeps
/// its arena alive). So an arena is for one operation, not for memory that lives as long as the
/// daemon. Chunks stay readable while the arena lives (see `SecretBytes`).
public final class SecretArena: Sendable {
    private struct Chunk {
        let memory: UnsafeMutableRawPointer
        let capacity: Int
    }

    private struct State {
        var chunks: [Chunk] = []
        /// Bytes used in the last chunk.
        var used = 0
        var chunkObserver: (@Sendable (UnsafeRawBufferPointer) -> Void)?
    }

    // The chunks are this object's alone: handed out only as disjoint ranges inside `SecretBytes`,
    // which keep the arena alive while they point into it.
    private let state = Mutex(State())
    /// The size of the first chunk; each further chunk is twice the last, up to `maximumChunkByteCount`.
    private let firstChunkByteCount: Int

    /// Chunks stop doubling here; a secret larger than the current chunk size gets a chunk of its own size.
    public static let maximumChunkByteCount = 1 << 20

    /// An empty arena; its first chunk (`firstChunkByteCount`, 16 KiB by default) is allocated at the first secret.
    public init(firstChunkByteCount: Int = 16 << 10) {
        precondition(firstChunkByteCount > 0, "an arena's chunks hold at least one byte")
        Sodium.ensureInitialized()
        self.firstChunkByteCount = firstChunkByteCount
    }

    deinit {
        let (chunks, observer) = state.withLock { ($0.chunks, $0.chunkObserver) }
        for chunk in chunks {
            // sodium_free zeroes too; zeroed here as well so that the test hook sees it and the
            // rule does not depend on that detail of the library.
            sodium_memzero(chunk.memory, chunk.capacity)
            observer?(UnsafeRawBufferPointer(start: chunk.memory, count: chunk.capacity))
            sodium_free(chunk.memory)
        }
    }

    /// Number of `sodium_malloc` chunks so far (tests; the system calls an operation costs).
    public var chunkCount: Int { state.withLock { $0.chunks.count } }

    /// `count` zeroed bytes of a chunk, for `SecretBytes` and this module's decrypt calls.
    func allocate(_ count: Int) -> UnsafeMutableRawBufferPointer {
        state.withLock { state in
            if let last = state.chunks.last, last.capacity - state.used >= count {
                defer { state.used += count }
                return UnsafeMutableRawBufferPointer(start: last.memory + state.used, count: count)
            }
            let next = state.chunks.last.map { min($0.capacity * 2, Self.maximumChunkByteCount) } ?? firstChunkByteCount
            let capacity = max(next, count, 1)
            guard let memory = sodium_malloc(capacity) else { fatalError("sodium_malloc failed: out of memory") }
            // sodium_malloc fills new memory with 0xdb (to find reads of uninitialised bytes).
            sodium_memzero(memory, capacity)
            let chunk = Chunk(memory: memory, capacity: capacity)
            if count > next, !state.chunks.isEmpty {
                // A chunk of its own for an oversized secret; the current chunk stays the one to fill.
                state.chunks.insert(chunk, at: state.chunks.count - 1)
            } else {
                state.chunks.append(chunk)
                state.used = count
            }
            return UnsafeMutableRawBufferPointer(start: memory, count: count)
        }
    }

    /// Test hook: called from `deinit` with each chunk after it was zeroed, before it is freed.
    func observeChunkFreeForTesting(_ observer: @escaping @Sendable (UnsafeRawBufferPointer) -> Void) {
        state.withLock { $0.chunkObserver = observer }
    }
}
