// TOML syntax: every supported feature, and errors with their line and column.
import AuthdConfig
import Testing

private func parse(_ text: String) throws -> TOMLTable { try TOMLParser.parse(text) }

private func value(_ table: TOMLTable, _ path: String...) -> TOMLValue? {
    var current = table
    for key in path.dropLast() {
        guard case .table(let next)? = current[key]?.node.value else { return nil }
        current = next
    }
    return current[path.last!]?.node.value
}

private func failure(_ text: String) -> TOMLError? {
    do {
        _ = try TOMLParser.parse(text)
        return nil
    } catch {
        return error
    }
}

@Suite struct TOMLParserTests {
    @Test func commentsBareAndQuotedKeys() throws {
        let table = try parse("""
            # a comment
            bare_key-1 = 1 # trailing comment
            "quoted key" = 2
            'literal key' = 3
            "" = 4
            1234 = 5
            """)
        #expect(value(table, "bare_key-1") == .integer(1))
        #expect(value(table, "quoted key") == .integer(2))
        #expect(value(table, "literal key") == .integer(3))
        #expect(value(table, "") == .integer(4))
        #expect(value(table, "1234") == .integer(5))
        #expect(table.keys == ["bare_key-1", "quoted key", "literal key", "", "1234"])
    }

    @Test func dottedKeysAndPositions() throws {
        let table = try parse("a = 1\nsite . \"google.com\" . x = true\n")
        #expect(value(table, "site", "google.com", "x") == .boolean(true))
        let site = try #require(table["site"])
        #expect(site.keyPosition == TOMLPosition(line: 2, column: 1))
        guard case .table(let inner) = site.node.value, let google = inner["google.com"] else { Issue.record(); return }
        #expect(google.keyPosition == TOMLPosition(line: 2, column: 8))
        guard case .table(let leaf) = google.node.value, let x = leaf["x"] else { Issue.record(); return }
        #expect(x.keyPosition == TOMLPosition(line: 2, column: 23))
        #expect(x.node.position == TOMLPosition(line: 2, column: 27))
    }

    @Test func tableHeadersIncludingQuotedParts() throws {
        let table = try parse("""
            [audience."my api"]
            client_id = "x"
            [a.b.c]
            d = 1
            [ a . b ]
            e = 2
            [a]
            f = 3
            """)
        #expect(value(table, "audience", "my api", "client_id") == .string("x"))
        #expect(value(table, "a", "b", "c", "d") == .integer(1))
        #expect(value(table, "a", "b", "e") == .integer(2))
        #expect(value(table, "a", "f") == .integer(3))
        #expect(table["audience"]?.node.value.tableValue?["my api"]?.node.position == TOMLPosition(line: 1, column: 1))
    }

    @Test func basicStringEscapes() throws {
        let table = try parse(#"s = "tab\there\nnew \"q\" back\\slash \u00E9 \U0001F600 \b\f\r""#)
        #expect(value(table, "s") == .string("tab\there\nnew \"q\" back\\slash é 😀 \u{8}\u{C}\r"))
    }

    @Test func literalStrings() throws {
        let table = try parse(#"p = 'C:\Users\nobody\'"#)
        #expect(value(table, "p") == .string(#"C:\Users\nobody\"#))
    }

    @Test func multilineBasicStrings() throws {
        let table = try parse("s = \"\"\"\nRoses\r\nViolets\"\"\"\nt = \"\"\"\\\n    The quick \\\n\n    fox\"\"\"\nu = \"\"\"\"quoted\"\"\"\"\"\nafter = 1")
        #expect(value(table, "s") == .string("Roses\nViolets"))
        #expect(value(table, "t") == .string("The quick fox"))
        #expect(value(table, "u") == .string("\"quoted\"\""))
        #expect(table["after"]?.keyPosition.line == 9)
    }

    @Test func multilineLiteralStrings() throws {
        let table = try parse("s = '''\nraw \\n text\n'''\nt = ''''x'''''")
        #expect(value(table, "s") == .string("raw \\n text\n"))
        #expect(value(table, "t") == .string("'x''"))
    }

    @Test func integers() throws {
        let table = try parse("""
            a = 42
            b = +17
            c = -17
            d = 1_000_000
            e = 0
            f = 0xDEAD_beef
            g = 0o755
            h = 0b1101
            i = 9223372036854775807
            j = -9223372036854775808
            """)
        #expect(value(table, "a") == .integer(42))
        #expect(value(table, "b") == .integer(17))
        #expect(value(table, "c") == .integer(-17))
        #expect(value(table, "d") == .integer(1_000_000))
        #expect(value(table, "e") == .integer(0))
        #expect(value(table, "f") == .integer(0xDEADBEEF))
        #expect(value(table, "g") == .integer(0o755))
        #expect(value(table, "h") == .integer(13))
        #expect(value(table, "i") == .integer(Int64.max))
        #expect(value(table, "j") == .integer(Int64.min))
    }

    @Test func floatsAndBooleans() throws {
        let table = try parse("a = 3.14\nb = -0.01\nc = 5e+22\nd = 6.626e-34\ne = 1_000.5\nf = inf\ng = -inf\nh = nan\nt = true\nu = false")
        #expect(value(table, "a") == .float(3.14))
        #expect(value(table, "b") == .float(-0.01))
        #expect(value(table, "c") == .float(5e22))
        #expect(value(table, "d") == .float(6.626e-34))
        #expect(value(table, "e") == .float(1000.5))
        #expect(value(table, "f") == .float(.infinity))
        #expect(value(table, "g") == .float(-.infinity))
        if case .float(let nan)? = value(table, "h") { #expect(nan.isNaN) } else { Issue.record("nan") }
        #expect(value(table, "t") == .boolean(true))
        #expect(value(table, "u") == .boolean(false))
    }

    @Test func dateTimesAreRecognised() throws {
        let table = try parse("a = 1979-05-27T07:32:00Z\nb = 1979-05-27 07:32:00.999-07:00\nc = 1979-05-27\nd = 07:32:00")
        #expect(value(table, "a") == .dateTime("1979-05-27T07:32:00Z"))
        #expect(value(table, "b") == .dateTime("1979-05-27 07:32:00.999-07:00"))
        #expect(value(table, "c") == .dateTime("1979-05-27"))
        #expect(value(table, "d") == .dateTime("07:32:00"))
        #expect(failure("a = 1979-02-30")?.line == 1)
    }

    @Test func arraysMultilineWithCommentsAndTrailingComma() throws {
        let table = try parse("""
            a = [
              "one", # first
              # a whole comment line
              "two",
            ]
            b = [[1, 2], ["x"], []]
            c = []
            """)
        guard case .array(let a)? = value(table, "a") else { Issue.record(); return }
        #expect(a.map(\.value) == [.string("one"), .string("two")])
        #expect(a.map(\.position) == [TOMLPosition(line: 2, column: 3), TOMLPosition(line: 4, column: 3)])
        guard case .array(let b)? = value(table, "b") else { Issue.record(); return }
        #expect(b.count == 3)
        #expect(value(table, "c") == .array([]))
    }

    @Test func inlineTables() throws {
        let table = try parse(#"p = { audience = "https://api", a.b = 1, "q k" = true }"#)
        #expect(value(table, "p", "audience") == .string("https://api"))
        #expect(value(table, "p", "a", "b") == .integer(1))
        #expect(value(table, "p", "q k") == .boolean(true))
        #expect(try parse("e = {}")["e"]?.node.value == .table(TOMLTable()))
    }

    @Test func arraysOfTables() throws {
        let table = try parse("[[x]]\na = 1\n[x.sub]\nb = 2\n[[x]]\na = 3")
        guard case .array(let elements)? = value(table, "x") else { Issue.record(); return }
        #expect(elements.count == 2)
        #expect(elements[0].value.tableValue?["sub"]?.node.value.tableValue?["b"]?.node.value == .integer(2))
        #expect(elements[1].value.tableValue?["a"]?.node.value == .integer(3))
        #expect(elements[1].position.line == 5)
    }

    @Test func unicodeColumnsCountScalars() throws {
        let table = try parse("\"é\" = 1\n\"ü😀\" = \"x\"")
        #expect(table["ü😀"]?.node.position == TOMLPosition(line: 2, column: 8))
    }

    @Test func crlfLineEndings() throws {
        let table = try parse("a = 1\r\nb = 2\r\n")
        #expect(table["b"]?.keyPosition == TOMLPosition(line: 2, column: 1))
    }

    // MARK: - Errors

    @Test(arguments: [
        ("a = 1\na = 2", 2, 1, "duplicate key a"),
        ("[t]\nx = 1\n[t]", 3, 2, "defined twice"),
        ("a.b = 1\n[a]", 2, 2, "dotted keys"),
        ("[a]\nb.c = 1\n[a.b]", 3, 4, "dotted keys"),
        ("[a.b]\n[a]\nb.c = 1", 3, 1, "[header]"),
        ("p = {x = 1}\n[p]", 2, 2, "inline table"),
        ("p = {x = 1}\np.y = 2", 2, 1, "inline table"),
        ("a = 1\n[a]", 2, 2, "already holds an integer"),
        ("a = []\n[[a]]", 2, 3, "already holds an array"),
        ("[[a]]\n[a]", 2, 2, "array of tables"),
        ("a = 1 b = 2", 1, 7, "own line"),
        ("a = ", 1, 5, "expected a value"),
        ("a", 1, 2, "expected '='"),
        ("a = github", 1, 5, "strings need quotes: \"github\""),
        ("a = \"open", 1, 10, "unterminated string"),
        ("a = \"x\ny\"", 1, 7, "newline before the closing"),
        ("a = \"\\q\"", 1, 6, "invalid escape"),
        ("a = \"\\uD800\"", 1, 6, "surrogate"),
        ("a = \"\\u12\"", 1, 6, "hexadecimal digits"),
        ("a = '''x", 1, 9, "unterminated multi-line"),
        ("a = [1, 2", 1, 10, "unterminated array"),
        ("a = [1 2]", 1, 8, "expected ',' or ']'"),
        ("a = [,]", 1, 6, "before ','"),
        ("a = {x = 1,}", 1, 12, "trailing comma"),
        ("a = {x = 1\n}", 1, 11, "one line"),
        ("a = 01", 1, 5, "invalid number"),
        ("a = 1__0", 1, 5, "invalid number"),
        ("a = _1", 1, 5, "expected a value"),
        ("a = 1_", 1, 5, "invalid number"),
        ("a = 9223372036854775808", 1, 5, "integer 9223372036854775808 is out of range"),
        ("a = -9223372036854775809", 1, 5, "integer -9223372036854775809 is out of range"),
        ("a = 0xffffffffffffffff", 1, 5, "integer 0xffffffffffffffff is out of range"),
        ("a = 1.", 1, 5, "invalid number"),
        ("a = .5", 1, 5, "expected a value"),
        ("a = 1e", 1, 5, "invalid number"),
        ("a = -0x10", 1, 5, "invalid number"),
        ("a = 1e999", 1, 5, "float 1e999 is out of range"),
        ("a = -1e999", 1, 5, "float -1e999 is out of range"),
        ("a = \"\\ \"", 1, 6, "invalid escape sequence '\\' followed by byte 0x20;"),
        ("a = \"\\q\"", 1, 6, "invalid escape sequence \\q;"),
        ("\"k\\\n\" = 1", 1, 3, "invalid escape sequence '\\' followed by byte 0x0A;"),
        ("\u{FEFF}a = ", 1, 5, "expected a value"),
        ("a = 1\n\u{FEFF}b = 2", 2, 1, "expected a key, found a byte order mark (U+FEFF), which TOML allows only at the very start"),
        ("a = \u{FEFF}1", 1, 5, "found a byte order mark"),
        ("\u{FEFF}\u{FEFF}a = 1", 1, 1, "byte order mark"),
        ("[a\nb = 1", 1, 3, "missing ']'"),
        ("[[a]\n", 1, 5, "']]'"),
        ("[a.]", 1, 4, "expected a key after '.'"),
        ("x = 1\ny = 2\n  # ok\nz = \"\u{1}\"", 4, 6, "control character"),
        ("a = 1 # bad \u{7F}", 1, 13, "control character"),
        ("a = 1\rb = 2", 1, 6, "carriage return"),
        ("\"\"\"k\"\"\" = 1", 1, 1, "multi-line string cannot be a key"),
    ] as [(String, Int, Int, String)])
    func errorsCarryLineColumnAndMessage(input: String, line: Int, column: Int, fragment: String) {
        guard let error = failure(input) else {
            Issue.record("accepted: \(input)")
            return
        }
        #expect(error.line == line, "\(input): \(error)")
        #expect(error.column == column, "\(input): \(error)")
        #expect(error.message.contains(fragment), "\(input): \(error)")
    }

    @Test func invalidUTF8IsReportedWithItsPosition() {
        let bytes: [UInt8] = Array("a = 1\nb = \"".utf8) + [0xC3, 0x28] + Array("\"".utf8)
        #expect(throws: TOMLError("invalid UTF-8", at: TOMLPosition(line: 2, column: 6))) {
            try TOMLParser.parse(utf8: bytes)
        }
    }

    @Test func leadingByteOrderMarkIsSkippedOnBothEntryPoints() throws {
        let text = "\u{FEFF}a = 1\n[t]\nb = \"x\"\n"
        for table in [try TOMLParser.parse(text), try TOMLParser.parse(utf8: Array(text.utf8))] {
            #expect(table.keys == ["a", "t"])
            #expect(value(table, "a") == .integer(1))
            #expect(value(table, "t", "b") == .string("x"))
            // Positions count from the first byte after the mark.
            #expect(table["a"]?.keyPosition == TOMLPosition(line: 1, column: 1))
        }
        // Invalid UTF-8 after a mark is located without counting the mark as a column.
        let bytes: [UInt8] = [0xEF, 0xBB, 0xBF] + Array("k = \"".utf8) + [0xFF] + Array("\"".utf8)
        #expect(throws: TOMLError("invalid UTF-8", at: TOMLPosition(line: 1, column: 6))) { try TOMLParser.parse(utf8: bytes) }
    }

    @Test func numericLimitsStillParse() throws {
        let table = try parse("max = 9223372036854775807\nmin = -9223372036854775808\nhex = 0x7fffffffffffffff\nbig = 1.7976931348623157e308\ntiny = 1e-400")
        #expect(value(table, "max") == .integer(.max))
        #expect(value(table, "min") == .integer(.min))
        #expect(value(table, "hex") == .integer(.max))
        #expect(value(table, "big") == .float(.greatestFiniteMagnitude))
        #expect(value(table, "tiny") == .float(0))
    }

    @Test func absurdNestingIsRejected() {
        let deepArray = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(failure("a = " + deepArray)?.message.contains("nested too deeply") == true)
        let deepInline = String(repeating: "{a = ", count: 1_000) + "1" + String(repeating: "}", count: 1_000)
        #expect(failure("x = " + deepInline)?.message.contains("nested too deeply") == true)
        let deepHeader = "[" + Array(repeating: "a", count: 1_000).joined(separator: ".") + "]"
        #expect(failure(deepHeader) != nil)
        let deepKey = Array(repeating: "k", count: 1_000).joined(separator: ".") + " = 1"
        #expect(failure(deepKey) != nil)
        // Nesting that adds up across headers, dotted keys and arrays is limited too.
        let header = "[" + Array(repeating: "h", count: 40).joined(separator: ".") + "]\n"
        let key = Array(repeating: "k", count: 20).joined(separator: ".")
        #expect(failure(header + key + " = " + String(repeating: "[", count: 10) + String(repeating: "]", count: 10))?
            .message.contains("too deeply") == true)
    }
}
