// Form encoding, Base64, SHA-256 and timestamps against known answers.
import Testing
@testable import AuthdWire

@Suite struct EncodingTests {
    @Test func formEncodingRoundTrips() {
        let pairs = [("client_id", "a b+c&d=é"), ("resource", "https://x/y?z=1"), ("resource", "two")]
        let text = FormURLEncoding.encode(pairs)
        #expect(text == "client_id=a+b%2Bc%26d%3D%C3%A9&resource=https%3A%2F%2Fx%2Fy%3Fz%3D1&resource=two")
        let back = FormURLEncoding.decode(text)
        #expect(back.map(\.0) == pairs.map(\.0))
        #expect(back.map(\.1) == pairs.map(\.1))
        #expect(FormURLEncoding.decode("a=%zz&b=%4").map(\.1) == ["%zz", "%4"])
    }

    @Test func base64KnownAnswers() {
        #expect(Base64.encode(Array("".utf8)) == "")
        #expect(Base64.encode(Array("f".utf8)) == "Zg==")
        #expect(Base64.encode(Array("fo".utf8)) == "Zm8=")
        #expect(Base64.encode(Array("foobar".utf8)) == "Zm9vYmFy")
        #expect(Base64.decode("Zm9vYg") == Array("foob".utf8))
        #expect(Base64.decode("-_8") == [0xFB, 0xFF])
        #expect(Base64.decode("Z") == nil)
        #expect(Base64.decode("Zm9v!") == nil)
    }

    @Test func sha256KnownAnswers() {
        #expect(SHA256.hex(SHA256.hash(Array("".utf8))) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex(SHA256.hash(Array("abc".utf8))) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        let long = Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)
        #expect(SHA256.hex(SHA256.hash(long)) == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(TokenFingerprint.of(Array("abc".utf8)) == "ba7816bf8f01cfea")
    }

    @Test func iso8601() {
        #expect(UTCTimestamp.iso8601(0) == "1970-01-01T00:00:00Z")
        #expect(UTCTimestamp.iso8601(951_782_400) == "2000-02-29T00:00:00Z")
        #expect(UTCTimestamp.iso8601(1_795_719_689) == "2026-11-26T19:01:29Z")
        #expect(UTCTimestamp.iso8601(-1) == "1969-12-31T23:59:59Z")
    }
}
