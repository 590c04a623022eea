// libFuzzer target: the store file decoder (StoreFormat.readHeader and StoreFormat.decode).
//
// Byte 0 of the input picks the mode:
// - even: the rest is a whole store file, read with the key of Tests/AuthdStoreTests/Fixtures
//   (so the fixture store.store seeds reach every record). Header, record framing and the
//   unauthenticated identity fields are fuzzed; AEAD stops the rest, as it should.
// - odd: the rest is the *plaintext* of one record, sealed here with that key into an otherwise
//   valid file, so that the record parser behind the AEAD (lengths, flags, scopes, tokens) is
//   fuzzed too; a real attacker cannot get there without the key, but a bug there is still a bug.
//
// Oracles besides "no crash, no sanitizer report": Argon2id headers are never derived here (too
// slow) but their limits must hold; whatever decodes re-encodes and decodes to the same logins.
@testable import AuthdStore
import AuthdSystem

private let fixtureKeyBytes: [UInt8] = [
    0xf8, 0xcc, 0x5a, 0xb8, 0xae, 0xe4, 0x15, 0x00, 0xba, 0xeb, 0xbd, 0x9e, 0xfc, 0x9c, 0xc5, 0x54,
    0x45, 0x57, 0xfb, 0x9c, 0x4e, 0xe8, 0xc5, 0xf5, 0xe4, 0x4d, 0x87, 0xce, 0x78, 0x6d, 0x34, 0x49,
]
private let key: SecretBytes = {
    var bytes = fixtureKeyBytes
    return SecretBytes(zeroing: &bytes)
}()

/// A valid file around one record whose plaintext is `plaintext`.
private func sealedFile(plaintext: [UInt8]) -> [UInt8] {
    var header = StoreFormat.magic + [StoreFormat.version, StoreFormat.algorithmXChaCha20Poly1305, 1, 0]
    header += [UInt8](repeating: 0x42, count: StoreFormat.fileIDByteCount)
    header.appendBigEndian(UInt32(1))
    var file = header
    let checkNonce = [UInt8](repeating: 1, count: XChaCha20Poly1305.nonceByteCount)
    file += checkNonce
    file += try! XChaCha20Poly1305.seal(SecretBytes(joining: [], []), key: key, nonce: checkNonce, associatedData: header)
    var identity: [UInt8] = []
    for field in ["fuzz", "https://issuer.example.com", "fuzz-client"] { try! identity.appendShortString(field, field: field) }
    var associatedData = header
    associatedData.appendBigEndian(UInt32(0))
    associatedData += identity
    let nonce = [UInt8](repeating: 2, count: XChaCha20Poly1305.nonceByteCount)
    var secret = plaintext
    let ciphertext = try! XChaCha20Poly1305.seal(SecretBytes(zeroing: &secret), key: key, nonce: nonce, associatedData: associatedData)
    file.appendBigEndian(UInt32(identity.count + nonce.count + ciphertext.count))
    file += identity + nonce + ciphertext
    return file
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzStore(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    guard let mode = input.first else { return 0 }
    let file = mode & 1 == 0 ? Array(input.dropFirst()) : sealedFile(plaintext: Array(input.dropFirst()))

    let header: StoreFormat.Header
    do {
        header = try StoreFormat.readHeader(file)
    } catch {
        _ = error.description
        return 0
    }
    precondition(header.recordsOffset <= file.count && header.encoded.count <= header.recordsOffset, "header offsets outside the file")
    guard case .rawKey = header.keyDerivation else {
        if case .argon2id(let parameters, let salt) = header.keyDerivation {
            precondition(parameters.operationsLimit <= StoreFormat.maximumArgon2Operations
                         && parameters.memoryLimitBytes <= StoreFormat.maximumArgon2MemoryBytes, "Argon2id limits not enforced")
            precondition(salt.count == PassphraseKeyDerivation.saltByteCount, "salt of the wrong length")
        }
        return 0
    }
    let logins: StoreContents
    do {
        logins = try StoreFormat.decode(file, header: header, key: key)
    } catch {
        _ = error.description
        return 0
    }
    precondition(logins.logins.count + logins.registrations.count == Int(header.recordCount), "decoded a different number of records than the header says")
    let encoded: [UInt8]
    do {
        encoded = try StoreFormat.encode(logins, key: key, keyDerivation: .rawKey)
    } catch {
        fatalError("decoded logins do not encode again: \(error)")
    }
    do {
        let again = try StoreFormat.decode(encoded, header: try StoreFormat.readHeader(encoded), key: key)
        precondition(again == logins, "store round trip changed the logins")
    } catch {
        fatalError("re-encoded store does not decode: \(error)")
    }
    return 0
}
