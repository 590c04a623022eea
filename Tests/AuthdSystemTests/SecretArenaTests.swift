// SecretArena: secrets carved from one region round-trip, are wiped when released, and keep their arena alive.
@testable import AuthdSystem
import Synchronization
import Testing

@Suite struct SecretArenaTests {
    @Test func valuesRoundTrip() throws {
        let arena = SecretArena()
        var bytes = Array("refresh-token-1".utf8)
        let copied = SecretBytes(zeroing: &bytes, in: arena)
        #expect(bytes.allSatisfy { $0 == 0 })
        #expect(copied.copyString() == "refresh-token-1")
        let joined = SecretBytes(joining: [0, 0, 0, 2, 7, 8], [copied, SecretBytes(copying: "-access")], in: arena)
        #expect(joined.copyBytes() == [0, 0, 0, 2, 7, 8] + Array("refresh-token-1-access".utf8))
        #expect(joined.extracting(6..<21, in: arena) == copied)
        #expect(SecretBytes(joining: [], [], in: arena).count == 0)
        // Through the AEAD, as the store does.
        let key = SecretBytes.random(count: XChaCha20Poly1305.keyByteCount).extracting(0..<32, in: arena)
        let nonce = XChaCha20Poly1305.randomNonce()
        let sealed = try XChaCha20Poly1305.seal(joined, key: key, nonce: nonce, associatedData: [1])
        #expect(try XChaCha20Poly1305.open(sealed, key: key, nonce: nonce, associatedData: [1], in: arena) == joined)
        #expect(throws: CryptoError.authenticationFailed) {
            try XChaCha20Poly1305.open(sealed, key: key, nonce: nonce, associatedData: [2], in: arena)
        }
        let vault = TokenVault()
        let inVault = vault.seal(copied, context: "refresh:work")
        #expect(try vault.open(inVault, context: "refresh:work", in: arena) == copied)
        #expect(arena.chunkCount == 1)
    }

    @Test func aReleasedRangeIsWipedAtOnceAndItsNeighboursAreNot() {
        let arena = SecretArena()
        let before = SecretBytes(copying: "before", in: arena)
        let observed = Mutex<[UInt8]?>(nil)
        do {
            let secret = SecretBytes(copying: "a very secret refresh token", in: arena)
            secret.observeFreeForTesting { memory in observed.withLock { $0 = Array(memory) } }
        }
        let after = SecretBytes(copying: "after", in: arena)
        let bytes = observed.withLock { $0 }
        #expect(bytes?.count == 27)
        #expect(bytes?.allSatisfy { $0 == 0 } == true)
        #expect(before.copyString() == "before" && after.copyString() == "after")
    }

    @Test func chunksAreWipedWhenTheArenaAndItsLastSecretGo() {
        let chunks = Mutex<[[UInt8]]>([])
        do {
            let arena = SecretArena(firstChunkByteCount: 64)
            arena.observeChunkFreeForTesting { memory in chunks.withLock { $0.append(Array(memory)) } }
            _ = SecretBytes(copying: "dropped at once", in: arena)
            let kept = SecretBytes(copying: "kept", in: arena)
            #expect(kept.count == 4)
        }
        let freed = chunks.withLock { $0 }
        #expect(freed.count == 1)
        #expect(freed.first?.count == 64)
        #expect(freed.allSatisfy { $0.allSatisfy { $0 == 0 } })
    }

    @Test func growsBeyondOneChunkAndKeepsEverySecret() {
        let arena = SecretArena(firstChunkByteCount: 100)
        let secrets = (0..<1_000).map { SecretBytes(copying: "token-\($0)-" + String(repeating: "x", count: $0 % 50), in: arena) }
        for (index, secret) in secrets.enumerated() {
            #expect(secret.copyString() == "token-\(index)-" + String(repeating: "x", count: index % 50))
        }
        // About 38 KB in chunks of 100, 200, 400, ... bytes: a handful, not one per secret.
        #expect(arena.chunkCount > 1 && arena.chunkCount < 12)
    }

    @Test func aSecretLargerThanAChunkGetsOneOfItsOwn() {
        let arena = SecretArena(firstChunkByteCount: 64)
        let small = SecretBytes(copying: "small", in: arena)
        let large = SecretBytes(copying: String(repeating: "L", count: 3 * SecretArena.maximumChunkByteCount / 2), in: arena)
        let next = SecretBytes(copying: "next", in: arena)
        #expect(large.count == 3 * SecretArena.maximumChunkByteCount / 2)
        #expect(large.withBytes { span in span.indices.allSatisfy { span[$0] == UInt8(ascii: "L") } })
        #expect(small.copyString() == "small" && next.copyString() == "next")
        // The first chunk still had room for `next`.
        #expect(arena.chunkCount == 2)
    }

    @Test func theArenaOutlivesItsCreatorThroughASecret() {
        let freed = Mutex(false)
        var secret: SecretBytes?
        do {
            let arena = SecretArena()
            arena.observeChunkFreeForTesting { _ in freed.withLock { $0 = true } }
            secret = SecretBytes(copying: "outlives the operation", in: arena)
        }
        #expect(!freed.withLock { $0 })
        #expect(secret?.copyString() == "outlives the operation")
        #expect(secret?.extracting(0..<8).copyString() == "outlives")
        secret = nil
        #expect(freed.withLock { $0 })
    }

    @Test func secretsAreReleasedFromOtherThreads() async {
        let arena = SecretArena(firstChunkByteCount: 256)
        await withTaskGroup(of: Bool.self) { group in
            for index in 0..<64 {
                group.addTask {
                    let secret = SecretBytes(copying: "concurrent-\(index)", in: arena)
                    return secret.copyString() == "concurrent-\(index)"
                }
            }
            for await matched in group { #expect(matched) }
        }
    }
}
