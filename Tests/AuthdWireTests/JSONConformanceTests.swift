// JSONValue.parse accept/reject, case by case, over every category JSONTestSuite exercises (docs/conformance.md).
import Foundation
import Testing
@testable import AuthdWire

/// One document and whether RFC 8259 (plus authd's one stricter rule: no repeated member
/// names) accepts it. Cases are bytes, so invalid UTF-8 can be written down.
struct JSONCase: CustomTestStringConvertible, Sendable {
    var name: String
    var bytes: [UInt8]
    var accepted: Bool

    var testDescription: String { "\(accepted ? "y" : "n")_\(name)" }

    static func y(_ name: String, _ text: String) -> JSONCase { JSONCase(name: name, bytes: Array(text.utf8), accepted: true) }
    static func n(_ name: String, _ text: String) -> JSONCase { JSONCase(name: name, bytes: Array(text.utf8), accepted: false) }
    static func n(_ name: String, bytes: [UInt8]) -> JSONCase { JSONCase(name: name, bytes: bytes, accepted: false) }
    static func y(_ name: String, bytes: [UInt8]) -> JSONCase { JSONCase(name: name, bytes: bytes, accepted: true) }
}

enum JSONCases {
    static let structure: [JSONCase] = [
        .y("structure_lonely_null", "null"), .y("structure_lonely_true", "true"), .y("structure_lonely_int", "42"),
        .y("structure_lonely_string", #""asd""#), .y("structure_whitespace_around", " \t\r\n[1]\n\t "),
        .y("structure_empty_array", "[]"), .y("structure_empty_object", "{}"), .y("array_heterogeneous", #"[null, 1, "1", {}]"#),
        .y("array_empty_string", #"[""]"#), .y("object_basic", #"{"asd":"sdf", "dfg":"fgh"}"#),
        .y("object_empty_key", #"{"":0}"#), .y("object_same_key_in_sibling_objects", #"[{"a":1},{"a":2}]"#),
        .y("object_same_key_nested", #"{"a":{"a":1}}"#), .y("object_long_strings", #"{"x":[{"id": "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}], "id": "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}"#),
        .n("structure_empty", ""), .n("structure_only_whitespace", " \n"), .n("structure_two_values", "[] []"),
        .n("structure_trailing_garbage", "{}x"), .n("structure_trailing_hash", "{}#"), .n("structure_nul_after", "[]\u{0}"),
        .n("structure_single_quote_string", "['a']"), .n("structure_unclosed_array", "[1"), .n("structure_unclosed_object", #"{"a":1"#),
        .n("structure_close_mismatch", "[}"), .n("structure_lone_close", "]"), .n("structure_comment", "[1] // c"),
        .n("structure_block_comment", "/* c */ []"), .n("structure_angle_bracket", "<.>"), .n("structure_form_feed_whitespace", "[\u{0C}]"),
        .n("structure_nbsp_whitespace", "[\u{A0}1]"), .n("structure_bom", bytes: [0xEF, 0xBB, 0xBF, 0x7B, 0x7D]),
        .n("array_trailing_comma", "[1,]"), .n("array_leading_comma", "[,1]"), .n("array_double_comma", "[1,,2]"),
        .n("array_missing_comma", "[1 2]"), .n("array_colon", #"["a": 1]"#), .n("array_unclosed_with_comma", "[1,"),
        .n("object_trailing_comma", #"{"a":1,}"#), .n("object_missing_colon", #"{"a" 1}"#), .n("object_missing_value", #"{"a":}"#),
        .n("object_unquoted_key", "{a:1}"), .n("object_number_key", "{1:1}"), .n("object_single_quoted_key", "{'a':1}"),
        .n("object_double_colon", #"{"a"::1}"#), .n("object_comma_instead_of_colon", #"{"a",1}"#), .n("object_missing_key", "{:1}"),
        .n("literal_capital_true", "[True]"), .n("literal_truncated_true", "[tru]"), .n("literal_nan", "[NaN]"),
        .n("literal_infinity", "[Infinity]"), .n("literal_undefined", "[undefined]"), .n("literal_null_suffix", "[nullx]"),
    ]

    static let numbers: [JSONCase] = [
        .y("number_zero", "[0]"), .y("number_negative_zero", "[-0]"), .y("number_int", "[123]"), .y("number_negative_int", "[-123]"),
        .y("number_fraction", "[1.5]"), .y("number_exponent", "[1e3]"), .y("number_capital_E", "[1E3]"),
        .y("number_exponent_plus", "[1e+3]"), .y("number_exponent_minus", "[1e-3]"), .y("number_fraction_exponent", "[-1.25e-2]"),
        .y("number_int64_max", "[9223372036854775807]"), .y("number_int64_min", "[-9223372036854775808]"),
        .y("number_beyond_int64_becomes_double", "[100000000000000000000]"), .y("number_underflow_to_zero", "[1e-400]"),
        .y("number_exponent_leading_zeros", "[1e0003]"),
        .n("number_leading_zero", "[01]"), .n("number_negative_leading_zero", "[-01]"), .n("number_plus_sign", "[+1]"),
        .n("number_lone_minus", "[-]"), .n("number_trailing_dot", "[1.]"), .n("number_leading_dot", "[.5]"),
        .n("number_empty_exponent", "[1e]"), .n("number_exponent_sign_only", "[1e+]"), .n("number_hex", "[0x1F]"),
        .n("number_minus_space", "[- 1]"), .n("number_double_minus", "[--1]"), .n("number_overflow_to_infinity", "[1e400]"),
        .n("number_negative_overflow", "[-1e400]"), .n("number_fullwidth_digit", "[\u{FF11}]"), .n("number_dot_exponent", "[1.e3]"),
        .n("number_underscore", "[1_000]"),
    ]

    static let strings: [JSONCase] = [
        .y("string_simple_escapes", #"["\"\\\/\b\f\n\r\t"]"#), .y("string_unicode_escape", #"["\u0041\u00e9\u4e2d"]"#),
        .y("string_surrogate_pair", #"["\ud83d\ude00"]"#), .y("string_escaped_nul", #"["\u0000"]"#),
        .y("string_uppercase_hex", #"["\u00E9"]"#), .y("string_del_raw", "[\"\u{7F}\"]"), .y("string_raw_u2028", "[\"\u{2028}\"]"),
        .n("string_unknown_escape", #"["\x41"]"#), .n("string_escaped_single_quote", #"["\'"]"#), .n("string_short_unicode_escape", #"["\u12"]"#),
        .n("string_non_hex_unicode_escape", #"["\u00G0"]"#), .n("string_lone_high_surrogate", #"["\ud800"]"#),
        .n("string_lone_low_surrogate", #"["\udc00"]"#), .n("string_reversed_surrogates", #"["\udc00\ud800"]"#),
        .n("string_high_then_non_surrogate", #"["\ud800\u0041"]"#), .n("string_high_then_text", #"["\ud800abc"]"#),
        .n("string_raw_newline", "[\"a\nb\"]"), .n("string_raw_tab", "[\"a\tb\"]"), .n("string_raw_nul", "[\"a\u{0}b\"]"),
        .n("string_unterminated", #"["abc"#), .n("string_backslash_at_end", #"["\"#), .n("string_escape_outside_string", #"[\n]"#),
    ]

    static let utf8: [JSONCase] = [
        .y("utf8_two_byte", "[\"é\"]"), .y("utf8_three_byte", "[\"中\"]"), .y("utf8_four_byte", "[\"😀\"]"),
        .y("utf8_largest_scalar", bytes: Array("[\"".utf8) + [0xF4, 0x8F, 0xBF, 0xBF] + Array("\"]".utf8)),
        .n("utf8_latin1_byte", bytes: Array("[\"".utf8) + [0xE9] + Array("\"]".utf8)),
        .n("utf8_lone_continuation", bytes: Array("[\"".utf8) + [0x81] + Array("\"]".utf8)),
        .n("utf8_truncated_sequence", bytes: Array("[\"".utf8) + [0xE6, 0x97] + Array("\"]".utf8)),
        .n("utf8_overlong_two_byte", bytes: Array("[\"".utf8) + [0xC0, 0xAF] + Array("\"]".utf8)),
        .n("utf8_overlong_six_byte", bytes: Array("[\"".utf8) + [0xFC, 0x83, 0xBF, 0xBF, 0xBF, 0xBF] + Array("\"]".utf8)),
        .n("utf8_encoded_surrogate", bytes: Array("[\"".utf8) + [0xED, 0xA0, 0x80] + Array("\"]".utf8)),
        .n("utf8_beyond_u10ffff", bytes: Array("[\"".utf8) + [0xF4, 0xBF, 0xBF, 0xBF] + Array("\"]".utf8)),
        .n("utf8_ff_byte", bytes: Array("[\"".utf8) + [0xFF] + Array("\"]".utf8)),
        .n("utf8_invalid_in_key", bytes: Array("{\"".utf8) + [0xE9] + Array("\":1}".utf8)),
        .n("utf8_invalid_outside_string", bytes: [0x5B, 0xE9, 0x5D]),
        .n("utf16le_with_bom", bytes: [0xFF, 0xFE, 0x5B, 0x00, 0x5D, 0x00]),
        .n("utf16be_no_bom", bytes: [0x00, 0x5B, 0x00, 0x5D]),
    ]

    static let nesting: [JSONCase] = [
        // Depth counts from 0 at the outermost value: 65 arrays reach depth 64, the default limit.
        .y("nesting_at_the_limit", String(repeating: "[", count: 65) + String(repeating: "]", count: 65)),
        .y("nesting_mixed", #"{"a":[{"b":[{"c":[]}]}]}"#),
        .n("nesting_one_past_the_limit", String(repeating: "[", count: 66) + String(repeating: "]", count: 66)),
        .n("nesting_100000_arrays", String(repeating: "[", count: 100_000)),
        .n("nesting_100000_objects", String(repeating: #"{"a":"#, count: 100_000)),
        .n("nesting_unbalanced", String(repeating: "[", count: 10) + String(repeating: "]", count: 9)),
    ]

    static let duplicates: [JSONCase] = [
        .n("object_duplicated_key", #"{"a":"b","a":"c"}"#), .n("object_duplicated_key_and_value", #"{"a":"b","a":"b"}"#),
        .n("object_duplicated_key_not_adjacent", #"{"a":1,"b":2,"a":3}"#), .n("object_duplicated_key_nested", #"[{"x":{"a":1,"a":2}}]"#),
        .n("object_duplicated_key_by_escape", #"{"a":1,"\u0061":2}"#), .n("object_duplicated_empty_key", #"{"":1,"":2}"#),
        // NFC and NFD spellings of é: the same key to `subscript(key)`, so refused as a repeat.
        .n("object_duplicated_key_canonically_equivalent", "{\"\u{E9}\":1,\"e\u{301}\":2}"),
        .y("object_keys_differing_in_case", #"{"a":1,"A":2}"#),
        // Past the first 16 members the parser hashes the names instead of scanning them: repeats
        // are refused on both sides of that line, and across it.
        .y("object_20_distinct_keys", wide(20)),
        .n("object_duplicated_key_across_the_scan_limit", wide(20, then: "k0")),
        .n("object_duplicated_key_past_the_scan_limit", wide(20, then: "k18")),
        .n("object_duplicated_key_at_the_scan_limit", wide(16, then: "k15")),
        .n("object_duplicated_key_canonically_equivalent_past_the_scan_limit", wide(20, then: "\u{E9}", "e\u{301}")),
    ]

    /// An object of `count` members `k0`…, then one member for each of `more`.
    static func wide(_ count: Int, then more: String...) -> String {
        let names = (0..<count).map { "k\($0)" } + more
        return "{" + names.enumerated().map { "\"\($1)\":\($0)" }.joined(separator: ",") + "}"
    }

    static let all = structure + numbers + strings + utf8 + nesting + duplicates
}

@Suite struct JSONConformanceTests {
    @Test(arguments: JSONCases.all)
    func acceptsExactlyWhatItShould(_ testCase: JSONCase) {
        let result = Result { () throws(JSONParseError) in try JSONValue.parse(testCase.bytes) }
        switch (result, testCase.accepted) {
        case (.success, true), (.failure, false): break
        case (.failure(let error), true): Issue.record("refused: \(error)")
        case (.success(let value), false): Issue.record("accepted as \(value.serialized())")
        }
    }

    @Test func everyCategoryHasBothVerdicts() {
        for category in [JSONCases.structure, JSONCases.numbers, JSONCases.strings, JSONCases.utf8, JSONCases.nesting, JSONCases.duplicates] {
            #expect(category.contains { $0.accepted } && category.contains { !$0.accepted })
        }
        #expect(Set(JSONCases.all.map(\.testDescription)).count == JSONCases.all.count, "case names are unique")
    }

    @Test func aRepeatedMemberNameIsNamedWithItsOffset() {
        // The second name's opening quote is byte 21.
        #expect(throws: JSONParseError(offset: 21, reason: #"member name "access_token" appears twice in one object"#)) {
            try JSONValue.parse(#"{"access_token":"t1","access_token":"t2"}"#)
        }
        // Control characters in the name are escaped, and a long name is cut.
        let long = String(repeating: "k", count: 100)
        do {
            _ = try JSONValue.parse("{\"\\u001b[2J\(long)\":1,\"\\u001b[2J\(long)\":2}")
            Issue.record("accepted")
        } catch {
            #expect(error.reason.hasPrefix(#"member name "\u001b[2J"#))
            #expect(error.reason.contains("…\" appears twice"))
            #expect(!error.reason.unicodeScalars.contains { $0.value < 0x20 })
        }
    }

    @Test func numbersKeepTheirKind() throws {
        #expect(try JSONValue.parse("9223372036854775807") == .integer(.max))
        #expect(try JSONValue.parse("-9223372036854775808") == .integer(.min))
        #expect(try JSONValue.parse("9223372036854775808") == .double(9223372036854775808))
        #expect(try JSONValue.parse("1e-400") == .double(0))
        #expect(try JSONValue.parse("-0") == .integer(0))
    }
}

/// JSONTestSuite itself, when a checkout is given (it is not packaged for Debian, so CI skips this).
enum JSONTestSuiteCheckout {
    static var directory: String? { ProcessInfo.processInfo.environment["AUTHD_JSONTESTSUITE_DIR"] }

    /// y_ cases authd refuses on purpose: repeated member names (docs/conformance.md).
    static let deliberatelyRefused: Set<String> = ["y_object_duplicated_key.json", "y_object_duplicated_key_and_value.json"]
}

@Suite(.enabled(if: JSONTestSuiteCheckout.directory != nil,
                "set AUTHD_JSONTESTSUITE_DIR to a JSONTestSuite checkout's test_parsing/ to run it"))
struct JSONTestSuiteTests {
    @Test func testParsing() throws {
        let directory = try #require(JSONTestSuiteCheckout.directory)
        let names = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".json") }.sorted()
        try #require(names.count > 100, "only \(names.count) cases in \(directory)")
        var tally: [String: (accepted: Int, refused: Int)] = [:]
        for name in names {
            let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: directory + "/" + name)))
            let accepted = (try? JSONValue.parse(bytes)) != nil
            let prefix = String(name.prefix(2))
            tally[prefix, default: (0, 0)].accepted += accepted ? 1 : 0
            tally[prefix, default: (0, 0)].refused += accepted ? 0 : 1
            if prefix == "y_" && !accepted && !JSONTestSuiteCheckout.deliberatelyRefused.contains(name) { Issue.record("\(name): refused") }
            if prefix == "y_" && accepted && JSONTestSuiteCheckout.deliberatelyRefused.contains(name) { Issue.record("\(name): accepted") }
            if prefix == "n_" && accepted { Issue.record("\(name): accepted") }
        }
        for prefix in ["y_", "n_", "i_"] {
            let (accepted, refused) = tally[prefix] ?? (0, 0)
            print("JSONTestSuite \(prefix): \(accepted) accepted, \(refused) refused")
        }
    }
}
