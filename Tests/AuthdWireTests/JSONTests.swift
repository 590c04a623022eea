// JSON parsing and serialization: exactness, limits and hostile input.
import Testing
@testable import AuthdWire

@Suite struct JSONTests {
    @Test func parsesEveryKind() throws {
        let v = try JSONValue.parse(#" {"a": [1, -2, 3.5, 1e3, true, false, null, "x\ny\u00e9\ud83d\ude00"], "b": {}} "#)
        #expect(v["a"]?.arrayValue?.count == 8)
        #expect(v["a"]?.arrayValue?[0] == .integer(1))
        #expect(v["a"]?.arrayValue?[1] == .integer(-2))
        #expect(v["a"]?.arrayValue?[2] == .double(3.5))
        #expect(v["a"]?.arrayValue?[3] == .double(1000))
        #expect(v["a"]?.arrayValue?[7] == .string("x\nyé😀"))
        #expect(v["b"] == .object([]))
    }

    @Test func roundTripsThroughSerialization() throws {
        let original: JSONValue = .object([("k", .string("quote\" back\\ ctl\u{01} tab\t")), ("n", .integer(Int64.min)),
                                           ("a", .array([.null, .bool(true), .double(0.25)]))])
        #expect(try JSONValue.parse(original.serialized()) == original)
        #expect(original.serialized().contains("\\u0001"))
    }

    @Test(arguments: ["", "{", "[1,]", "{\"a\":}", "01", "-", "1.", "\"\\x\"", "\"\u{01}\"", "tru", "nul", "{\"a\" 1}",
                      "[1 2]", "\"\\ud800\"", "1e", "{}x", "\"abc", "[", "\"\\u12\""])
    func rejectsMalformedDocuments(_ text: String) {
        #expect(throws: JSONParseError.self) { try JSONValue.parse(text) }
    }

    @Test func refusesDeepNesting() {
        let deep = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        #expect(throws: JSONParseError.self) { try JSONValue.parse(deep, maximumDepth: 64) }
        #expect((try? JSONValue.parse(deep, maximumDepth: 128)) != nil)
    }

    @Test func lenientIntegersAcceptProviderQuirks() throws {
        let v = try JSONValue.parse(#"{"a": "900", "b": 900.0, "c": 12, "d": "x", "e": 1.5}"#)
        #expect(v["a"]?.lenientInteger == 900)
        #expect(v["b"]?.lenientInteger == 900)
        #expect(v["c"]?.lenientInteger == 12)
        #expect(v["d"]?.lenientInteger == nil)
        #expect(v["e"]?.lenientInteger == nil)
    }

    @Test func neverCrashesOnMutatedInput() {
        var rng = SplitMix(seed: 42)
        let seeds = [#"{"op":"get","audience":"demo","min_valid":60}"#, #"[1,2,{"a":"\u0041"}]"#]
        for _ in 0..<20_000 {
            var bytes = Array(seeds[Int(rng.next() % 2)].utf8)
            for _ in 0..<(1 + rng.next() % 4) {
                let i = Int(rng.next() % UInt64(bytes.count))
                switch rng.next() % 3 {
                case 0: bytes[i] = UInt8(truncatingIfNeeded: rng.next())
                case 1: bytes.remove(at: i)
                default: bytes.insert(UInt8(truncatingIfNeeded: rng.next()), at: i)
                }
                if bytes.isEmpty { break }
            }
            _ = try? JSONValue.parse(bytes)
            _ = try? Request.decode(bytes)
        }
    }
}

struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
