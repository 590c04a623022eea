// Secret memory, AEAD, Argon2id, fingerprints and the token vault.
@testable import AuthdSystem
import Synchronization
import Testing

@Suite struct SecretBytesTests {
    @Test func memoryIsZeroedBeforeItIsFreed() {
        let observed = Mutex<[UInt8]?>(nil)
        do {
            let secret = SecretBytes(copying: "a very secret refresh token")
            secret.observeFreeForTesting { memory in observed.withLock { $0 = Array(memory) } }
            #expect(secret.count == 27)
        }
        let bytes = observed.withLock { $0 }
        #expect(bytes?.count == 27)
        #expect(bytes?.allSatisfy { $0 == 0 } == true)
    }

    @Test func sourceArrayIsZeroed() {
        var source = Array("token".utf8)
        let secret = SecretBytes(zeroing: &source)
        #expect(source == [0, 0, 0, 0, 0])
        #expect(secret.copyString() == "token")
    }

    @Test func contentsNeverPrint() {
        let secret = SecretBytes(copying: "hunter2-secret")
        var dumped = ""
        dump(secret, to: &dumped)
        let printed = [String(describing: secret), "\(secret)", String(reflecting: secret), dumped, "\([secret])",
                       "\(Optional(secret) as Any)"]
        for text in printed {
            #expect(!text.contains("hunter2"), "leaked in: \(text)")
        }
        #expect(String(describing: secret) == "SecretBytes(<redacted>, 14 bytes)")
    }

    @Test func equalityIsByContents() {
        let a = SecretBytes(copying: "same")
        #expect(a == SecretBytes(copying: "same"))
        #expect(a == a)
        #expect(a != SecretBytes(copying: "sane"))
        #expect(a != SecretBytes(copying: "same-but-longer"))
        #expect(SecretBytes(copying: "") == SecretBytes(copying: ""))
        #expect(SecretBytes.random(count: 32) != SecretBytes.random(count: 32))
    }

    @Test func scopedViewAndExtraction() {
        let secret = SecretBytes(copying: "header.payload.signature")
        let sum = secret.withBytes { span in span.indices.reduce(0) { $0 + Int(span[$1]) } }
        #expect(sum == "header.payload.signature".utf8.reduce(0) { $0 + Int($1) })
        #expect(secret.extracting(7..<14).copyString() == "payload")
        #expect(secret.copyBytes() == Array("header.payload.signature".utf8))
        var invalid: [UInt8] = [0xff, 0xfe]
        #expect(SecretBytes(zeroing: &invalid).copyString() == nil)
    }

    @Test func concurrentReadersDoNotFault() async {
        let secret = SecretBytes(copying: String(repeating: "x", count: 4096))
        await withTaskGroup(of: Int.self) { group in
            for _ in 0..<8 {
                group.addTask { (0..<200).reduce(0) { total, _ in total + secret.withBytes { $0.count } } }
            }
            for await total in group { #expect(total == 200 * 4096) }
        }
    }
}

@Suite struct CryptoTests {
    @Test func aeadRoundTripAndTampering() throws {
        let key = SecretBytes.random(count: XChaCha20Poly1305.keyByteCount)
        let nonce = XChaCha20Poly1305.randomNonce()
        let ad = Array("audience=work".utf8)
        let ciphertext = try XChaCha20Poly1305.seal(SecretBytes(copying: "plain"), key: key, nonce: nonce, associatedData: ad)
        #expect(ciphertext.count == 5 + 16)
        #expect(try XChaCha20Poly1305.open(ciphertext, key: key, nonce: nonce, associatedData: ad).copyString() == "plain")
        for index in ciphertext.indices {
            var tampered = ciphertext
            tampered[index] ^= 1
            #expect(throws: CryptoError.authenticationFailed) {
                try XChaCha20Poly1305.open(tampered, key: key, nonce: nonce, associatedData: ad)
            }
        }
        #expect(throws: CryptoError.authenticationFailed) {
            try XChaCha20Poly1305.open(ciphertext, key: key, nonce: nonce, associatedData: Array("audience=home".utf8))
        }
        #expect(throws: CryptoError.self) {
            try XChaCha20Poly1305.open(ciphertext, key: SecretBytes.random(count: 16), nonce: nonce, associatedData: ad)
        }
    }

    @Test func argon2idIsDeterministicPerSalt() throws {
        let salt = [UInt8](repeating: 9, count: PassphraseKeyDerivation.saltByteCount)
        let passphrase = SecretBytes(copying: "correct horse")
        let first = try PassphraseKeyDerivation.deriveKey(from: passphrase, salt: salt, parameters: .interactive)
        let second = try PassphraseKeyDerivation.deriveKey(from: passphrase, salt: salt, parameters: .interactive)
        let otherSalt = try PassphraseKeyDerivation.deriveKey(
            from: passphrase, salt: PassphraseKeyDerivation.randomSalt(), parameters: .interactive)
        #expect(first.count == 32)
        #expect(first == second)
        #expect(first != otherSalt)
        #expect(throws: CryptoError.self) {
            try PassphraseKeyDerivation.deriveKey(from: passphrase, salt: [1, 2], parameters: .interactive)
        }
    }

}

@Suite struct TokenVaultTests {
    @Test func sealOpenRoundTrip() throws {
        let vault = TokenVault()
        var token = Array("gho_abcdef".utf8)
        let sealed = vault.seal(zeroing: &token, context: "access:work")
        #expect(token.allSatisfy { $0 == 0 })
        #expect(sealed.byteCount == 10)
        #expect(try vault.open(sealed, context: "access:work").copyString() == "gho_abcdef")
        #expect(String(describing: sealed) == "SealedSecret(10 bytes)")
        var dumped = ""
        dump(sealed, to: &dumped)
        #expect(!dumped.contains("ciphertext"))
    }

    @Test func tamperedWrongContextOrOtherVaultFails() throws {
        let vault = TokenVault()
        let sealed = vault.seal(SecretBytes(copying: "token"), context: "access:work")
        var tampered = sealed
        tampered = SealedSecret(nonce: sealed.nonce, ciphertext: sealed.ciphertext.enumerated().map { $0.offset == 0 ? $0.element ^ 1 : $0.element })
        #expect(throws: CryptoError.authenticationFailed) { try vault.open(tampered, context: "access:work") }
        #expect(throws: CryptoError.authenticationFailed) { try vault.open(sealed, context: "access:home") }
        #expect(throws: CryptoError.authenticationFailed) { try TokenVault().open(sealed, context: "access:work") }
    }
}
