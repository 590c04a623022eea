// Runs toml-test's TOML 1.0.0 cases (from Debian's golang-github-burntsushi-toml-dev) through TOMLParser.parse(utf8:).
import AuthdConfig
import AuthdWire
import Foundation
import Testing

/// The installed suite: `make deps` installs the package; AUTHD_TOML_TEST_DIR points elsewhere.
enum TOMLTestSuite {
    static let packagedDirectory = "/usr/share/gocode/src/github.com/BurntSushi/toml/internal/toml-test/tests"
    static let version = "1.0.0"

    static var directory: String {
        ProcessInfo.processInfo.environment["AUTHD_TOML_TEST_DIR"] ?? packagedDirectory
    }

    static var isInstalled: Bool { FileManager.default.fileExists(atPath: directory + "/valid") }

    /// The case names (paths without `.toml`) of the TOML 1.0.0 run, and the ones left out of it.
    ///
    /// Newer toml-test releases list them in `files-toml-1.0.0`; older ones (Debian's) list
    /// exclusions per version in `../version.go` and run every other file.
    static func cases() throws -> (run: [String], excluded: [String]) {
        let listFile = directory + "/files-toml-\(version)"
        if let list = try? String(contentsOfFile: listFile, encoding: .utf8) {
            let run = list.split(separator: "\n").map(String.init).filter { $0.hasSuffix(".toml") }.map { String($0.dropLast(5)) }
            return (run.sorted(), [])
        }
        var all: [String] = []
        for top in ["valid", "invalid"] {
            guard let walker = FileManager.default.enumerator(atPath: directory + "/" + top) else { continue }
            for case let path as String in walker where path.hasSuffix(".toml") {
                all.append(top + "/" + path.dropLast(5))
            }
        }
        let versionFile = (directory as NSString).deletingLastPathComponent + "/version.go"
        let exclusions = (try? String(contentsOfFile: versionFile, encoding: .utf8)).map { excludePatterns(version, in: $0) } ?? []
        let excluded = all.filter { name in exclusions.contains { glob($0, matches: name) } }
        return (all.filter { !excluded.contains($0) }.sorted(), excluded.sorted())
    }

    /// The quoted patterns in `"VERSION": versionSpec{ exclude: []string{ ... } }` of toml-test's version.go.
    static func excludePatterns(_ version: String, in source: String) -> [String] {
        guard let start = source.range(of: "\"\(version)\": versionSpec{") else { return [] }
        var depth = 1
        var patterns: [String] = []
        var index = start.upperBound
        while index < source.endIndex, depth > 0 {
            let character = source[index]
            if character == "{" { depth += 1 }
            if character == "}" { depth -= 1 }
            if character == "/", source[index...].hasPrefix("//") {
                index = source[index...].firstIndex(of: "\n") ?? source.endIndex
                continue
            }
            if character == "\"" {
                let after = source.index(after: index)
                guard let close = source[after...].firstIndex(of: "\"") else { break }
                patterns.append(String(source[after..<close]))
                index = source.index(after: close)
                continue
            }
            index = source.index(after: index)
        }
        return patterns
    }

    /// Go's filepath.Match for the patterns toml-test uses: `*` matches within one path part.
    static func glob(_ pattern: String, matches name: String) -> Bool {
        func match(_ p: Substring, _ n: Substring) -> Bool {
            guard let first = p.first else { return n.isEmpty }
            if first == "*" {
                var rest = n
                while true {
                    if match(p.dropFirst(), rest) { return true }
                    guard let c = rest.first, c != "/" else { return false }
                    rest = rest.dropFirst()
                }
            }
            guard let c = n.first, c == first else { return false }
            return match(p.dropFirst(), n.dropFirst())
        }
        return match(Substring(pattern), Substring(name))
    }

    static func bytes(_ name: String, _ suffix: String) throws -> [UInt8] {
        Array(try Data(contentsOf: URL(fileURLWithPath: directory + "/" + name + suffix)))
    }
}

/// toml-test's comparison (its json.go): typed values, floats numerically (NaN matches NaN),
/// date-times of the same kind as instants or fields, and exactly the expected keys.
enum TOMLTestComparison {
    /// Nil when `have` is what `want` (toml-test's tagged JSON) describes; else the first difference.
    static func difference(want: JSONValue, have: TOMLValue, at key: String = "") -> String? {
        switch want {
        case .object(let members) where isTaggedValue(members):
            guard case .string(let type)? = want["type"] else { return "\(key): bad expectation" }
            if type == "array", case .array(let elements)? = want["value"] { return arrayDifference(elements, have, key) }
            guard case .string(let text)? = want["value"] else { return "\(key): bad expectation" }
            return scalarDifference(type: type, text: text, have: have, key: key)
        case .object(let members):
            guard case .table(let table) = have else { return "\(key): expected a table, parsed \(have)" }
            let wanted = Set(members.map(\.0))
            let parsed = table.keys
            if let missing = members.map(\.0).first(where: { !parsed.contains($0) }) { return "\(join(key, missing)): missing" }
            if let extra = parsed.first(where: { !wanted.contains($0) }) { return "\(join(key, extra)): not expected" }
            if parsed.count != members.count { return "\(key): \(parsed.count) keys, expected \(members.count)" }
            for (name, value) in members {
                guard let entry = table[name] else { return "\(join(key, name)): missing" }
                if let difference = difference(want: value, have: entry.node.value, at: join(key, name)) { return difference }
            }
            return nil
        case .array(let elements):
            return arrayDifference(elements, have, key)
        default:
            return "\(key): bad expectation \(want.serialized())"
        }
    }

    static func isTaggedValue(_ members: [(String, JSONValue)]) -> Bool {
        members.count == 2 && Set(members.map(\.0)) == ["type", "value"]
    }

    static func join(_ key: String, _ part: String) -> String { key.isEmpty ? part : key + "." + part }

    static func arrayDifference(_ elements: [JSONValue], _ have: TOMLValue, _ key: String) -> String? {
        guard case .array(let nodes) = have else { return "\(key): expected an array, parsed \(have)" }
        guard nodes.count == elements.count else { return "\(key): \(nodes.count) elements, expected \(elements.count)" }
        for (index, (want, node)) in zip(elements, nodes).enumerated() {
            if let difference = difference(want: want, have: node.value, at: "\(key)[\(index)]") { return difference }
        }
        return nil
    }

    static func scalarDifference(type: String, text: String, have: TOMLValue, key: String) -> String? {
        let matches: Bool
        switch (type, have) {
        case ("string", .string(let s)): matches = Array(s.utf8) == Array(text.utf8)  // exact scalars, not canonical equivalence
        case ("integer", .integer(let i)): matches = Int64(text) == i
        case ("bool", .boolean(let b)): matches = text == (b ? "true" : "false")
        case ("float", .float(let d)): matches = floatMatches(text, d)
        case (_, .dateTime(let written)):
            guard let wanted = DateTimeValue(text), let parsed = DateTimeValue(written) else { return "\(key): unreadable date-time \(written)" }
            matches = wanted.kind == type && parsed.kind == type && wanted.comparable == parsed.comparable
        default: matches = false
        }
        return matches ? nil : "\(key): expected \(type) \(text), parsed \(have)"
    }

    static func floatMatches(_ text: String, _ value: Double) -> Bool {
        let lower = text.lowercased()
        if lower.hasSuffix("nan") { return value.isNaN }
        if lower.hasSuffix("inf") { return value.isInfinite && (value < 0) == lower.hasPrefix("-") }
        guard let wanted = Double(lower) else { return false }
        // Numeric equality, as toml-test's json.go: 0 and -0 are equal (its own expectations differ there).
        return wanted == value
    }
}

/// A TOML date-time reduced to what toml-test compares: offset date-times as instants,
/// local ones field by field, fractions to nanoseconds.
struct DateTimeValue {
    var kind: String
    var comparable: [Int]

    init?(_ text: String) {
        let bytes = Array(text.utf8)
        func number(_ range: Range<Int>) -> Int? {
            guard range.upperBound <= bytes.count else { return nil }
            var value = 0
            for byte in bytes[range] {
                guard byte >= 0x30 && byte <= 0x39 else { return nil }
                value = value * 10 + Int(byte - 0x30)
            }
            return value
        }
        var date: [Int]?
        var rest = 0
        if bytes.count >= 10, bytes[4] == UInt8(ascii: "-") {
            guard let y = number(0..<4), let m = number(5..<7), let d = number(8..<10) else { return nil }
            date = [y, m, d]
            rest = 10
            if bytes.count == 10 { kind = "date-local"; comparable = [y, m, d]; return }
            rest = 11  // T, t or space
        }
        guard let h = number(rest..<(rest + 2)), let mi = number((rest + 3)..<(rest + 5)), let s = number((rest + 6)..<(rest + 8)) else { return nil }
        var index = rest + 8
        var nanoseconds = 0
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            var digits = 0
            while index < bytes.count, bytes[index] >= 0x30 && bytes[index] <= 0x39 {
                if digits < 9 { nanoseconds = nanoseconds * 10 + Int(bytes[index] - 0x30) }
                digits += 1
                index += 1
            }
            for _ in digits..<max(digits, 9) { nanoseconds *= 10 }
        }
        guard let date else {
            guard index == bytes.count else { return nil }
            kind = "time-local"; comparable = [h, mi, s, nanoseconds]; return
        }
        if index == bytes.count { kind = "datetime-local"; comparable = date + [h, mi, s, nanoseconds]; return }
        var offsetMinutes = 0
        if bytes[index] == UInt8(ascii: "Z") || bytes[index] == UInt8(ascii: "z") {
            guard index + 1 == bytes.count else { return nil }
        } else {
            guard bytes.count == index + 6, let oh = number((index + 1)..<(index + 3)), let om = number((index + 4)..<(index + 6)) else { return nil }
            offsetMinutes = (bytes[index] == UInt8(ascii: "-") ? -1 : 1) * (oh * 60 + om)
        }
        // Days since 1970-01-01 (Howard Hinnant's days_from_civil).
        let (y, m, d) = (date[0] - (date[1] <= 2 ? 1 : 0), date[1], date[2])
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        let days = era * 146_097 + dayOfEra - 719_468
        kind = "datetime"
        comparable = [days * 86_400 + h * 3_600 + mi * 60 + s - offsetMinutes * 60, nanoseconds]
    }
}

@Suite(.enabled(if: TOMLTestSuite.isInstalled,
                "toml-test is not installed at \(TOMLTestSuite.directory): run make deps (package golang-github-burntsushi-toml-dev) or set AUTHD_TOML_TEST_DIR"))
struct TOMLTestSuiteTests {
    @Test("toml-test 1.0.0: every valid case parses to the expected value, every invalid case is refused")
    func tomlTestOneZeroZero() throws {
        let (run, excluded) = try TOMLTestSuite.cases()
        let valid = run.filter { $0.hasPrefix("valid/") }
        let invalid = run.filter { $0.hasPrefix("invalid/") }
        // An empty walk must not pass as "all cases passed".
        try #require(valid.count >= 50 && invalid.count >= 100, "found only \(valid.count) valid and \(invalid.count) invalid cases")

        var validPassed = 0
        for name in valid {
            let expected = try JSONValue.parse(try TOMLTestSuite.bytes(name, ".json"))
            do {
                let table = try TOMLParser.parse(utf8: try TOMLTestSuite.bytes(name, ".toml"))
                if let difference = TOMLTestComparison.difference(want: expected, have: .table(table)) {
                    Issue.record("\(name): wrong value: \(difference)")
                } else {
                    validPassed += 1
                }
            } catch let error as TOMLError {
                Issue.record("\(name): refused: \(error)")
            }
        }
        var invalidRefused = 0
        for name in invalid {
            do {
                _ = try TOMLParser.parse(utf8: try TOMLTestSuite.bytes(name, ".toml"))
                Issue.record("\(name): accepted an invalid document")
            } catch let error as TOMLError {
                #expect(error.line >= 1 && error.column >= 1, "\(name): \(error)")
                invalidRefused += 1
            }
        }
        print("toml-test \(TOMLTestSuite.version) (\(TOMLTestSuite.directory)): valid \(validPassed)/\(valid.count) parsed to the expected value, "
              + "invalid \(invalidRefused)/\(invalid.count) refused; not in the \(TOMLTestSuite.version) run: \(excluded.isEmpty ? "none" : excluded.joined(separator: ", "))")
    }

}

/// The runner's own parts, which need no installed suite.
@Suite struct TOMLTestRunnerTests {
    @Test func theComparatorCatchesWrongValues() throws {
        let want = try JSONValue.parse(#"{"a":{"type":"integer","value":"1"},"f":{"type":"float","value":"0.5"},"d":{"type":"datetime","value":"1979-05-27T07:32:00Z"},"t":{"x":[{"type":"string","value":"\u00e9"}]}}"#)
        func check(_ toml: String) throws -> String? { TOMLTestComparison.difference(want: want, have: .table(try TOMLParser.parse(toml))) }
        #expect(try check("a = 1\nf = 0.5\nd = 1979-05-27T00:32:00-07:00\nt.x = [\"\u{E9}\"]") == nil)
        #expect(try check("a = 2\nf = 0.5\nd = 1979-05-27T07:32:00Z\nt.x = [\"\u{E9}\"]") != nil)
        #expect(try check("a = 1.0\nf = 0.5\nd = 1979-05-27T07:32:00Z\nt.x = [\"\u{E9}\"]") != nil)
        #expect(try check("a = 1\nf = 0.25\nd = 1979-05-27T07:32:00Z\nt.x = [\"\u{E9}\"]") != nil)
        #expect(try check("a = 1\nf = 0.5\nd = 1979-05-27T07:32:01Z\nt.x = [\"\u{E9}\"]") != nil)
        #expect(try check("a = 1\nf = 0.5\nd = 1979-05-27T07:32:00\nt.x = [\"\u{E9}\"]") != nil)
        #expect(try check("a = 1\nf = 0.5\nd = 1979-05-27T07:32:00Z\nt.x = [\"e\u{301}\"]") != nil)
        #expect(try check("a = 1\nf = 0.5\nd = 1979-05-27T07:32:00Z\nt.x = [\"\u{E9}\", \"\u{E9}\"]") != nil)
        #expect(try check("a = 1\nf = 0.5\nd = 1979-05-27T07:32:00Z\nt.x = [\"\u{E9}\"]\nextra = 1") != nil)
        #expect(try check("a = 1\nf = 0.5\nd = 1979-05-27T07:32:00Z") != nil)
    }

    @Test func versionExclusionsAreRead() {
        let source = """
            var versions = map[string]versionSpec{
            \t"next": versionSpec{},
            \t"1.0.0": versionSpec{
            \t\texclude: []string{
            \t\t\t"valid/string/escape-esc", // \\e
            \t\t\t"valid/x/*",
            \t\t},
            \t},
            \t"0.5.0": versionSpec{ inherit: "1.0.0", exclude: []string{"valid/other"} },
            }
            """
        #expect(TOMLTestSuite.excludePatterns("1.0.0", in: source) == ["valid/string/escape-esc", "valid/x/*"])
        #expect(TOMLTestSuite.glob("valid/x/*", matches: "valid/x/y"))
        #expect(!TOMLTestSuite.glob("valid/x/*", matches: "valid/x/y/z"))
        #expect(!TOMLTestSuite.glob("valid/string/escape-esc", matches: "valid/string/escape-esc-2"))
    }
}
