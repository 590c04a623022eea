// JWS signatures over libcrypto and libsodium: RFC 7515 / RFC 8037 example vectors, generated keys, refusals.
import AuthdSystem
import AuthdWire
import Testing

struct JWSCryptoTests {
    static func bytes(_ text: String) -> [UInt8] { Base64URL.decode(text)! }

    // RFC 7515 Appendix A.2 (RS256) with the RFC 7517 A.1 public key.
    static let rsaModulus = bytes("ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ")
    static let rsaInput = Array("eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ".utf8)
    static let rsaSignature = bytes("cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw")

    // RFC 7515 Appendix A.3 (ES256).
    static let ecKey = PublicKeyMaterial.p256(x: bytes("f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU"), y: bytes("x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"))
    static let ecInput = Array("eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ".utf8)
    static let ecSignature = bytes("DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q")

    // RFC 8037 Appendix A.4 (Ed25519).
    static let edKey = PublicKeyMaterial.ed25519(bytes("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"))
    static let edInput = Array("eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc".utf8)
    static let edSignature = bytes("hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg")

    static func flipped(_ bytes: [UInt8], at index: Int) -> [UInt8] {
        var copy = bytes
        copy[index] ^= 0x01
        return copy
    }

    @Test func rfcVectorsVerifyAndAnyChangedByteFails() throws {
        let rsa = try SignatureVerificationKey(.rsa(modulus: Self.rsaModulus, exponent: [1, 0, 1]))
        #expect(rsa.verify(.rs256, message: Self.rsaInput, signature: Self.rsaSignature))
        #expect(!rsa.verify(.rs256, message: Self.flipped(Self.rsaInput, at: 3), signature: Self.rsaSignature))
        #expect(!rsa.verify(.rs256, message: Self.rsaInput, signature: Self.flipped(Self.rsaSignature, at: 100)))
        // The same key and signature do not pass as PSS, nor as another key type's algorithm.
        #expect(!rsa.verify(.ps256, message: Self.rsaInput, signature: Self.rsaSignature))
        #expect(!rsa.verify(.es256, message: Self.rsaInput, signature: Self.rsaSignature))

        let ec = try SignatureVerificationKey(Self.ecKey)
        #expect(ec.verify(.es256, message: Self.ecInput, signature: Self.ecSignature))
        #expect(!ec.verify(.es256, message: Self.flipped(Self.ecInput, at: 0), signature: Self.ecSignature))
        #expect(!ec.verify(.es256, message: Self.ecInput, signature: Self.flipped(Self.ecSignature, at: 40)))
        #expect(!ec.verify(.es256, message: Self.ecInput, signature: Array(Self.ecSignature.prefix(63))))

        let ed = try SignatureVerificationKey(Self.edKey)
        #expect(ed.verify(.edDSA, message: Self.edInput, signature: Self.edSignature))
        #expect(!ed.verify(.edDSA, message: Self.flipped(Self.edInput, at: 5), signature: Self.edSignature))
        #expect(!ed.verify(.edDSA, message: Self.edInput, signature: Self.flipped(Self.edSignature, at: 0)))
    }

    @Test(arguments: SignatureAlgorithm.allCases)
    func generatedKeysSignAndVerify(_ algorithm: SignatureAlgorithm) throws {
        let signer = try JWSSigningKey(generating: algorithm)
        let message = Array("header.payload".utf8)
        let signature = try signer.sign(message)
        let key = try SignatureVerificationKey(signer.publicKey)
        #expect(key.verify(algorithm, message: message, signature: signature))
        #expect(!key.verify(algorithm, message: message + [0x2E], signature: signature))
        // Another key of the same kind does not verify it.
        let other = try SignatureVerificationKey(try JWSSigningKey(generating: algorithm).publicKey)
        #expect(!other.verify(algorithm, message: message, signature: signature))
    }

    @Test func unusableKeysAreRefused() {
        // 1024-bit RSA is too weak to trust.
        #expect(throws: SignatureKeyError.rsaModulusTooShort(bits: 1024)) {
            try SignatureVerificationKey(.rsa(modulus: [0x80] + [UInt8](repeating: 1, count: 127), exponent: [1, 0, 1]))
        }
        // A point not on P-256 (x changed by one bit).
        guard case let .p256(x, y) = Self.ecKey else { return }
        #expect(throws: SignatureKeyError.self) { try SignatureVerificationKey(.p256(x: Self.flipped(x, at: 31), y: y)) }
        #expect(throws: SignatureKeyError.self) { try SignatureVerificationKey(.p256(x: Array(x.prefix(31)), y: y)) }
        #expect(throws: SignatureKeyError.self) { try SignatureVerificationKey(.ed25519([1, 2, 3])) }
    }

    @Test func base64URLIsStrict() {
        #expect(Base64URL.decode("AQAB") == [1, 0, 1])
        #expect(Base64URL.encode([1, 0, 1]) == "AQAB")
        #expect(Base64URL.decode("AQ==") == nil)  // padding
        #expect(Base64URL.decode("+/8") == nil)   // the other alphabet
        #expect(Base64URL.decode("AR") == nil)    // non-zero unused bits: a second spelling of "AQ"
        #expect(Base64URL.decode("AQ") == [1])
    }
}
