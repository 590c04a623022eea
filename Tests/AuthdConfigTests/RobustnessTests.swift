// The parser and validator never crash or hang, whatever the input.
import AuthdConfig
import Testing

/// A small deterministic generator (SplitMix64), so failures reproduce.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite struct RobustnessTests {
    static let corpus: [String] = [
        exampleConfig,
        "[a.b]\nc = [1, {d = \"e\\u00e9\"}, '''x\n''']\n[[f]]\ng = 0x1F\nh = 1979-05-27T07:32:00Z\n",
        "s = \"\"\"\n a \\\n b\"\"\"\nt = { u.v = 1.5e3, w = [true, -inf] }\n",
    ]

    static let fragments = ["[", "]", "[[", "]]", "{", "}", "=", ",", ".", "\"", "'", "\"\"\"", "'''", "\\", "\\u",
                            "\n", "\r\n", "\r", "#", " ", "\t", "a", "1", "_", "-", "+", "e", "0x", "inf", "nan",
                            "true", "1979-05-27", "07:32:00", "é", "😀", "\u{0}", "\u{7F}", "[audience.x]", "client_id",
                            "http://", "https://[::1]", "\"5m\"", "-1"]

    @Test func randomAndMutatedInputsNeverCrash() {
        var generator = SeededGenerator(state: 0xA17D)
        var parsed = 0
        for round in 0..<6_000 {
            var bytes: [UInt8]
            if round % 3 == 0 {
                // Random fragments glued together: reaches deep into the grammar.
                var text = ""
                for _ in 0..<Int.random(in: 1...40, using: &generator) {
                    text += Self.fragments.randomElement(using: &generator)!
                }
                bytes = Array(text.utf8)
            } else {
                bytes = Array(Self.corpus.randomElement(using: &generator)!.utf8)
                for _ in 0..<Int.random(in: 1...8, using: &generator) {
                    mutate(&bytes, using: &generator)
                }
            }
            if (try? TOMLParser.parse(utf8: bytes)) != nil { parsed += 1 }
            let text = String(decoding: bytes, as: UTF8.self)
            let (configuration, diagnostics) = AuthdConfiguration.validate(text: text, path: "fuzz.toml")
            #expect(configuration != nil || !diagnostics.isEmpty)
            for audience in configuration?.audiences ?? [] {
                #expect(!audience.explanation.text.isEmpty)
            }
            _ = AuthdConfiguration.autostart(configText: text)
        }
        #expect(parsed > 0)
    }

    private func mutate(_ bytes: inout [UInt8], using generator: inout SeededGenerator) {
        let position = bytes.isEmpty ? 0 : Int.random(in: 0..<bytes.count, using: &generator)
        switch Int.random(in: 0..<5, using: &generator) {
        case 0 where !bytes.isEmpty:
            bytes.remove(at: position)
        case 1:
            bytes.insert(UInt8.random(in: 0...255, using: &generator), at: position)
        case 2 where !bytes.isEmpty:
            bytes[position] = UInt8.random(in: 0...255, using: &generator)
        case 3:
            bytes.insert(contentsOf: Self.fragments.randomElement(using: &generator)!.utf8, at: position)
        default:
            if !bytes.isEmpty {
                let end = min(bytes.count, position + Int.random(in: 1...32, using: &generator))
                bytes.insert(contentsOf: bytes[position..<end], at: position)
            }
        }
    }

    @Test func largeFlatInputsStayLinear() throws {
        // Quadratic behaviour would make these take minutes.
        var text = "a = [" + String(repeating: "1,", count: 200_000) + "]\n"
        text += String((0..<20_000).map { "k\($0) = \"v\"\n" }.joined())
        text += String((0..<5_000).map { _ in "[[t]]\nx = 1\n" }.joined())
        let line = "b = [" + String(repeating: "\"é\", ", count: 50_000) + "]"
        _ = try TOMLParser.parse(text + line)
    }
}
