// The socket loop's scratch area: it opens what the vault sealed, refuses what does not fit, and is wiped after every use.
@testable import AuthdSystem
import Testing

@Suite struct SecretScratchTests {
    @Test func opensASealedTokenAndIsWipedAfterwards() throws {
        let vault = TokenVault()
        let sealed = vault.seal(SecretBytes(copying: "an access token"), context: "access:work")
        let scratch = SecretScratch(capacity: 64)
        #expect(scratch.isWiped)
        let seen = try scratch.open(sealed, with: vault, context: "access:work") { token -> [UInt8] in
            // While the body runs the plaintext is there ...
            #expect(!scratch.isWiped)
            return token.copyBytes()
        }
        #expect(seen == Array("an access token".utf8))
        // ... and not a byte of it afterwards.
        #expect(scratch.isWiped)
    }

    @Test func aWrongContextFailsAndLeavesNothing() {
        let vault = TokenVault()
        let sealed = vault.seal(SecretBytes(copying: "an access token"), context: "access:work")
        let scratch = SecretScratch(capacity: 64)
        #expect(throws: CryptoError.self) {
            _ = try scratch.open(sealed, with: vault, context: "access:other") { _ in 0 }
        }
        #expect(scratch.isWiped)
    }

    @Test func aSecretLargerThanTheAreaIsNotOpened() throws {
        let vault = TokenVault()
        let sealed = vault.seal(SecretBytes(copying: String(repeating: "x", count: 65)), context: "c")
        let scratch = SecretScratch(capacity: 64)
        var ran = false
        let result = try scratch.open(sealed, with: vault, context: "c") { _ -> Int in
            ran = true
            return 1
        }
        #expect(result == nil)
        #expect(!ran)
        #expect(scratch.isWiped)
    }

    @Test func anAreaIsReusedForTokensOfEveryLength() throws {
        let vault = TokenVault()
        let scratch = SecretScratch(capacity: 64)
        for text in ["a long access token of forty-odd bytes....", "short", ""] {
            let sealed = vault.seal(SecretBytes(copying: text), context: "c")
            let seen = try scratch.open(sealed, with: vault, context: "c") { $0.copyBytes() }
            #expect(seen == Array(text.utf8))
            #expect(scratch.isWiped)
        }
    }
}
