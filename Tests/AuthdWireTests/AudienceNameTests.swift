// The one audience name rule, by table: what the config, the protocol and the clients accept.
import Testing
@testable import AuthdWire

@Suite struct AudienceNameTests {
    @Test(arguments: [
        ("work", true), ("work-git.v2_x", true), ("A.b-C_9", true), ("x", true), (".", true), ("-", true),
        (String(repeating: "a", count: 64), true),
        ("", false), (String(repeating: "a", count: 65), false), ("my api", false), ("a/b", false), ("../x", false),
        ("a:b", false), ("a\"b", false), ("a\nb", false), ("tab\t", false), ("é", false), ("a+b", false), ("a@b", false),
        ("[x]", false), ("a\u{0}", false),
    ])
    func rule(_ name: String, _ valid: Bool) {
        #expect(AudienceName.isValid(name) == valid, "\(name.debugDescription)")
    }

    /// Every byte, once: exactly the 65 characters the docs name pass.
    @Test func byteByByte() {
        let allowed = Set(Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-".utf8))
        for byte in UInt8(0)...UInt8(0x7F) {
            let name = String(decoding: [byte], as: UTF8.self)
            #expect(AudienceName.isValid(name) == allowed.contains(byte), "byte \(byte)")
        }
    }

    /// The decoder asks the same rule: a name it refuses is refused on the wire too.
    @Test(arguments: ["my api", String(repeating: "a", count: 65), ""])
    func decoderRefusesWhatTheRuleRefuses(_ name: String) {
        let line = Request.get(audience: name, minimumValiditySeconds: 60, interactive: false).line().dropLast()
        #expect(throws: ProtocolFailure.self) { try Request.decode(line) }
    }
}
