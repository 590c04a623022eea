// Parses TOML 1.0 text into a TOMLTable whose keys and values keep their line and column.

/// A TOML 1.0 parser that stops at the first error and reports where it is.
///
/// It reads UTF-8 bytes once, left to right, with no backtracking beyond a few bytes
/// of look-ahead, so its time is linear in the input; nesting (tables, arrays and
/// inline tables together) is limited to `maximumNesting` so hostile input cannot
/// exhaust the stack.
public enum TOMLParser {
    public static let maximumNesting = 64

    public static func parse(_ text: String) throws(TOMLError) -> TOMLTable {
        // A String is valid UTF-8 by construction: no need to check it again.
        var parser = Parser(bytes: Array(text.utf8))
        try parser.parseDocument()
        return parser.document.finish()
    }

    /// Parses raw bytes, rejecting invalid UTF-8 with its position instead of repairing it.
    public static func parse(utf8 bytes: [UInt8]) throws(TOMLError) -> TOMLTable {
        var parser = Parser(bytes: bytes)
        try parser.checkEncoding()
        try parser.parseDocument()
        return parser.document.finish()
    }
}

private let lineFeed = UInt8(ascii: "\n")
private let carriageReturn = UInt8(ascii: "\r")
private let tab = UInt8(ascii: "\t")
private let space = UInt8(ascii: " ")
private let hash = UInt8(ascii: "#")
private let quote = UInt8(ascii: "\"")
private let apostrophe = UInt8(ascii: "'")
private let backslash = UInt8(ascii: "\\")
private let openBracket = UInt8(ascii: "[")
private let closeBracket = UInt8(ascii: "]")
private let openBrace = UInt8(ascii: "{")
private let closeBrace = UInt8(ascii: "}")
private let equals = UInt8(ascii: "=")
private let comma = UInt8(ascii: ",")
private let dot = UInt8(ascii: ".")
private let underscore = UInt8(ascii: "_")
private let plus = UInt8(ascii: "+")
private let minus = UInt8(ascii: "-")
private let colon = UInt8(ascii: ":")

@inline(__always) private func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }

@inline(__always) private func isLetter(_ byte: UInt8) -> Bool {
    (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
}

/// Control characters TOML forbids in comments and strings (tab is allowed).
@inline(__always) private func isForbiddenControl(_ byte: UInt8) -> Bool {
    (byte < 0x20 && byte != tab) || byte == 0x7F
}

/// U+FEFF in UTF-8. TOML allows it only as the first thing in a file (editors on Windows write it).
private let byteOrderMark: [UInt8] = [0xEF, 0xBB, 0xBF]

private func describeByte(_ byte: UInt8) -> String {
    if byte >= 0x21 && byte < 0x7F { return "'\(Character(Unicode.Scalar(byte)))'" }
    let hex = String(byte, radix: 16, uppercase: true)
    return "byte 0x" + (hex.count == 1 ? "0" : "") + hex
}

private struct Parser {
    let bytes: [UInt8]
    var offset = 0
    var line = 1
    var lineStart = 0
    // Columns count scalars, so they are computed incrementally from the last position
    // asked for on the same line: positions are only ever asked for at `offset`, which never goes back.
    var columnCacheOffset = 0
    var columnCacheValue = 1
    var document = TOMLDocumentBuilder(maximumDepth: TOMLParser.maximumNesting)

    init(bytes: [UInt8]) {
        self.bytes = bytes
        // A leading byte order mark is not content: line 1, column 1 is the byte after it.
        if bytes.starts(with: byteOrderMark) {
            offset = byteOrderMark.count
            lineStart = offset
        }
    }

    // MARK: - Positions and errors

    var atEnd: Bool { offset >= bytes.count }

    @inline(__always) func peek(_ ahead: Int = 0) -> UInt8? {
        let index = offset + ahead
        return index < bytes.count ? bytes[index] : nil
    }

    mutating func here() -> TOMLPosition {
        if columnCacheOffset < lineStart {
            columnCacheOffset = lineStart
            columnCacheValue = 1
        }
        while columnCacheOffset < offset {
            if bytes[columnCacheOffset] & 0xC0 != 0x80 { columnCacheValue += 1 }
            columnCacheOffset += 1
        }
        return TOMLPosition(line: line, column: columnCacheValue)
    }

    mutating func failure(_ message: String) -> TOMLError {
        TOMLError(message, at: here())
    }

    /// The unexpected thing at `offset`, for "found ..." messages: a misplaced byte order
    /// mark is named as one, since it is invisible in an editor.
    func describeNext() -> String {
        if bytes[offset...].starts(with: byteOrderMark) {
            return "a byte order mark (U+FEFF), which TOML allows only at the very start of the file"
        }
        return describeByte(bytes[offset])
    }

    /// Validates UTF-8 up front so that every later `String(decoding:)` is lossless.
    mutating func checkEncoding() throws(TOMLError) {
        var index = offset
        var lineNumber = 1
        var lineBegin = offset
        while index < bytes.count {
            let lead = bytes[index]
            if lead < 0x80 {
                if lead == lineFeed {
                    lineNumber += 1
                    lineBegin = index + 1
                }
                index += 1
                continue
            }
            let length: Int
            var scalar: UInt32
            switch lead {
            case 0xC2...0xDF: length = 2; scalar = UInt32(lead & 0x1F)
            case 0xE0...0xEF: length = 3; scalar = UInt32(lead & 0x0F)
            case 0xF0...0xF4: length = 4; scalar = UInt32(lead & 0x07)
            default: length = 0; scalar = 0
            }
            var valid = length > 0 && index + length <= bytes.count
            if valid {
                for continuation in bytes[(index + 1)..<(index + length)] {
                    guard continuation & 0xC0 == 0x80 else { valid = false; break }
                    scalar = scalar << 6 | UInt32(continuation & 0x3F)
                }
            }
            if valid {
                let minimum: UInt32 = length == 2 ? 0x80 : length == 3 ? 0x800 : 0x10000
                valid = scalar >= minimum && scalar <= 0x10FFFF && !(0xD800...0xDFFF).contains(scalar)
            }
            guard valid else {
                var column = 1
                for byte in bytes[lineBegin..<index] where byte & 0xC0 != 0x80 { column += 1 }
                throw TOMLError("invalid UTF-8", at: TOMLPosition(line: lineNumber, column: column))
            }
            index += length
        }
    }

    // MARK: - Layout

    mutating func skipWhitespace() {
        while let byte = peek(), byte == space || byte == tab { offset += 1 }
    }

    mutating func consumeNewline() throws(TOMLError) {
        if peek() == lineFeed {
            offset += 1
        } else if peek() == carriageReturn && peek(1) == lineFeed {
            offset += 2
        } else {
            throw failure("carriage return without a line feed")
        }
        line += 1
        lineStart = offset
    }

    var atNewline: Bool {
        peek() == lineFeed || (peek() == carriageReturn && peek(1) == lineFeed)
    }

    mutating func skipComment() throws(TOMLError) {
        offset += 1
        while let byte = peek(), byte != lineFeed {
            if byte == carriageReturn && peek(1) == lineFeed { return }
            if isForbiddenControl(byte) { throw failure("control character \(describeByte(byte)) in a comment") }
            offset += 1
        }
    }

    /// Skips blank space, comments and newlines between array elements.
    mutating func skipWhitespaceCommentsAndNewlines() throws(TOMLError) {
        while let byte = peek() {
            switch byte {
            case space, tab: offset += 1
            case hash: try skipComment()
            case lineFeed, carriageReturn: try consumeNewline()
            default: return
            }
        }
    }

    mutating func expectEndOfLine(after what: String) throws(TOMLError) {
        skipWhitespace()
        if atEnd { return }
        if peek() == hash { try skipComment() }
        if atEnd { return }
        guard atNewline else {
            if peek() == carriageReturn { throw failure("carriage return without a line feed") }
            throw failure("unexpected \(describeNext()) after \(what); put each key = value on its own line")
        }
        try consumeNewline()
    }

    // MARK: - Document

    mutating func parseDocument() throws(TOMLError) {
        var current = TOMLDocumentBuilder.rootTable
        while true {
            skipWhitespace()
            guard let byte = peek() else { return }
            switch byte {
            case hash:
                try skipComment()
            case lineFeed, carriageReturn:
                try consumeNewline()
            case openBracket:
                current = try parseHeader()
                try expectEndOfLine(after: "the table header")
            default:
                try parseKeyValue(into: current)
                try expectEndOfLine(after: "the value")
            }
        }
    }

    mutating func parseHeader() throws(TOMLError) -> Int {
        let headerPosition = here()
        offset += 1
        let isArrayElement = peek() == openBracket
        if isArrayElement { offset += 1 }
        skipWhitespace()
        let key = try parseKey()
        guard peek() == closeBracket else {
            throw failure(atEnd || atNewline ? "missing ']' at the end of the table header" : "expected '.' or ']' in the table header, found \(describeNext())")
        }
        offset += 1
        if isArrayElement {
            guard peek() == closeBracket else { throw failure("expected ']]' to close the array-of-tables header") }
            offset += 1
        }
        return try document.openTable(key, isArrayElement: isArrayElement, headerPosition: headerPosition)
    }

    mutating func parseKeyValue(into table: Int) throws(TOMLError) {
        let key = try parseKey()
        guard peek() == equals else {
            if atEnd || atNewline || peek() == hash {
                throw failure("expected '=' and a value after the key \(TOMLDocumentBuilder.render(key[...]))")
            }
            throw failure("expected '=' after the key \(TOMLDocumentBuilder.render(key[...])), found \(describeNext())")
        }
        offset += 1
        skipWhitespace()
        let value = try parseValue(depth: document.depth(of: table) + key.count)
        try document.assign(key, value, in: table)
    }

    // MARK: - Keys

    mutating func parseKey() throws(TOMLError) -> [TOMLKeyPart] {
        var parts: [TOMLKeyPart] = []
        while true {
            let position = here()
            let name: String
            switch peek() {
            case quote:
                if peek(1) == quote && peek(2) == quote { throw failure("a multi-line string cannot be a key") }
                name = try parseBasicString()
            case apostrophe:
                if peek(1) == apostrophe && peek(2) == apostrophe { throw failure("a multi-line string cannot be a key") }
                name = try parseLiteralString()
            case let byte? where isBareKeyByte(byte):
                let start = offset
                while let next = peek(), isBareKeyByte(next) { offset += 1 }
                name = String(decoding: bytes[start..<offset], as: UTF8.self)
            case _?:
                throw failure(parts.isEmpty ? "expected a key, found \(describeNext())" : "expected a key after '.', found \(describeNext())")
            case nil:
                throw failure("expected a key at the end of the file")
            }
            parts.append(TOMLKeyPart(name: name, position: position))
            if parts.count > TOMLParser.maximumNesting { throw TOMLError("key has too many dotted parts", at: position) }
            skipWhitespace()
            guard peek() == dot else { return parts }
            offset += 1
            skipWhitespace()
        }
    }

    // MARK: - Values

    mutating func parseValue(depth: Int) throws(TOMLError) -> TOMLPendingNode {
        let position = here()
        guard depth <= TOMLParser.maximumNesting else { throw failure("values are nested too deeply") }
        guard let byte = peek() else { throw failure("expected a value after '='") }
        let value: TOMLPendingValue
        switch byte {
        case quote:
            if peek(1) == quote && peek(2) == quote {
                value = .scalar(.string(try parseMultilineBasicString()))
            } else {
                value = .scalar(.string(try parseBasicString()))
            }
        case apostrophe:
            if peek(1) == apostrophe && peek(2) == apostrophe {
                value = .scalar(.string(try parseMultilineLiteralString()))
            } else {
                value = .scalar(.string(try parseLiteralString()))
            }
        case openBracket:
            value = try parseArray(depth: depth)
        case openBrace:
            value = try parseInlineTable(at: position, depth: depth)
        case UInt8(ascii: "t") where matchesWord("true"):
            offset += 4
            value = .scalar(.boolean(true))
        case UInt8(ascii: "f") where matchesWord("false"):
            offset += 5
            value = .scalar(.boolean(false))
        case plus, minus, UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "i"), UInt8(ascii: "n"):
            value = .scalar(try parseNumberOrDateTime())
        case lineFeed, carriageReturn, hash:
            throw failure("missing value after '='")
        default:
            if isLetter(byte) {
                let start = offset
                while let next = peek(), isBareKeyByte(next) || next == dot, offset - start < 64 { offset += 1 }
                let word = String(decoding: bytes[start..<offset], as: UTF8.self)
                throw TOMLError("expected a value; strings need quotes: \"\(word)\"", at: position)
            }
            throw failure("expected a value (string, number, boolean, array or inline table), found \(describeNext())")
        }
        return TOMLPendingNode(value: value, position: position)
    }

    func matchesWord(_ word: StaticString) -> Bool {
        let count = word.utf8CodeUnitCount
        guard offset + count <= bytes.count else { return false }
        let pointer = word.utf8Start
        for index in 0..<count where bytes[offset + index] != pointer[index] { return false }
        if let next = peek(count), isBareKeyByte(next) { return false }
        return true
    }

    mutating func parseArray(depth: Int) throws(TOMLError) -> TOMLPendingValue {
        offset += 1
        var elements: [TOMLPendingNode] = []
        while true {
            try skipWhitespaceCommentsAndNewlines()
            if peek() == closeBracket {
                offset += 1
                return .array(elements)
            }
            if atEnd { throw failure("unterminated array: missing ']'") }
            if peek() == comma { throw failure(elements.isEmpty ? "expected a value before ','" : "two commas in a row in the array") }
            elements.append(try parseValue(depth: depth + 1))
            try skipWhitespaceCommentsAndNewlines()
            switch peek() {
            case comma:
                offset += 1
            case closeBracket:
                offset += 1
                return .array(elements)
            case nil:
                throw failure("unterminated array: missing ']'")
            case _?:
                throw failure("expected ',' or ']' in the array, found \(describeNext())")
            }
        }
    }

    mutating func parseInlineTable(at position: TOMLPosition, depth: Int) throws(TOMLError) -> TOMLPendingValue {
        offset += 1
        let table = try document.makeInlineTable(at: position, depth: depth)
        skipWhitespace()
        if peek() == closeBrace {
            offset += 1
            return .inlineTable(table)
        }
        while true {
            skipWhitespace()
            if atEnd || atNewline || peek() == hash {
                throw failure("an inline table must be on one line and closed with '}' (TOML 1.0)")
            }
            if peek() == closeBrace { throw failure("trailing comma in an inline table (not allowed in TOML 1.0)") }
            try parseKeyValue(into: table)
            skipWhitespace()
            switch peek() {
            case comma:
                offset += 1
            case closeBrace:
                offset += 1
                return .inlineTable(table)
            case nil, lineFeed, carriageReturn, hash:
                throw failure("an inline table must be on one line and closed with '}' (TOML 1.0)")
            case _?:
                throw failure("expected ',' or '}' in the inline table, found \(describeNext())")
            }
        }
    }

    // MARK: - Strings

    mutating func parseBasicString() throws(TOMLError) -> String {
        offset += 1
        let start = offset
        // Most strings have no escapes: slice them without copying byte by byte.
        while let byte = peek(), byte != quote, byte != backslash, !isForbiddenControl(byte) { offset += 1 }
        if peek() == quote {
            offset += 1
            return String(decoding: bytes[start..<(offset - 1)], as: UTF8.self)
        }
        var buffer = Array(bytes[start..<offset])
        while true {
            guard let byte = peek() else { throw failure("unterminated string: missing '\"'") }
            switch byte {
            case quote:
                offset += 1
                return String(decoding: buffer, as: UTF8.self)
            case backslash:
                try parseEscape(into: &buffer)
            case lineFeed, carriageReturn:
                throw failure("unterminated string: a newline before the closing '\"' (use \"\"\" for multi-line strings)")
            default:
                if isForbiddenControl(byte) { throw failure("control character \(describeByte(byte)) in a string; write it as an escape") }
                buffer.append(byte)
                offset += 1
            }
        }
    }

    mutating func parseMultilineBasicString() throws(TOMLError) -> String {
        offset += 3
        if atNewline { try consumeNewline() }
        var buffer: [UInt8] = []
        while true {
            guard let byte = peek() else { throw failure("unterminated multi-line string: missing '\"\"\"'") }
            switch byte {
            case quote:
                if peek(1) == quote && peek(2) == quote {
                    var run = 3
                    while peek(run) == quote { run += 1 }
                    guard run <= 5 else { throw failure("too many quotes at the end of a multi-line string") }
                    buffer.append(contentsOf: repeatElement(quote, count: run - 3))
                    offset += run
                    return String(decoding: buffer, as: UTF8.self)
                }
                buffer.append(quote)
                offset += 1
            case backslash:
                if try skipLineEndingBackslash() { continue }
                try parseEscape(into: &buffer)
            case lineFeed, carriageReturn:
                try consumeNewline()
                buffer.append(lineFeed)
            default:
                if isForbiddenControl(byte) { throw failure("control character \(describeByte(byte)) in a string; write it as an escape") }
                buffer.append(byte)
                offset += 1
            }
        }
    }

    /// A backslash that ends a line in a `"""` string joins the lines, eating the indentation.
    mutating func skipLineEndingBackslash() throws(TOMLError) -> Bool {
        var ahead = 1
        while let byte = peek(ahead), byte == space || byte == tab { ahead += 1 }
        let next = peek(ahead)
        guard next == lineFeed || (next == carriageReturn && peek(ahead + 1) == lineFeed) else { return false }
        offset += ahead
        while let byte = peek() {
            switch byte {
            case space, tab: offset += 1
            case lineFeed, carriageReturn: try consumeNewline()
            default: return true
            }
        }
        return true
    }

    mutating func parseEscape(into buffer: inout [UInt8]) throws(TOMLError) {
        guard let code = peek(1) else { throw failure("unterminated escape at the end of the file") }
        switch code {
        case UInt8(ascii: "b"): buffer.append(0x08)
        case UInt8(ascii: "t"): buffer.append(tab)
        case UInt8(ascii: "n"): buffer.append(lineFeed)
        case UInt8(ascii: "f"): buffer.append(0x0C)
        case UInt8(ascii: "r"): buffer.append(carriageReturn)
        case quote: buffer.append(quote)
        case backslash: buffer.append(backslash)
        case UInt8(ascii: "u"), UInt8(ascii: "U"):
            let digits = code == UInt8(ascii: "u") ? 4 : 8
            var value: UInt32 = 0
            for index in 0..<digits {
                guard let hex = peek(2 + index), let digit = hexValue(hex) else {
                    throw failure("\\\(Character(Unicode.Scalar(code))) needs exactly \(digits) hexadecimal digits")
                }
                value = value << 4 | UInt32(digit)
            }
            guard let scalar = Unicode.Scalar(value) else {
                throw failure("\\\(Character(Unicode.Scalar(code))) escape is not a Unicode scalar value (surrogate or above U+10FFFF)")
            }
            buffer.append(contentsOf: Array(String(Character(scalar)).utf8))
            offset += 2 + digits
            return
        default:
            let sequence = code >= 0x21 && code < 0x7F ? "\\\(Character(Unicode.Scalar(code)))" : "'\\' followed by \(describeByte(code))"
            throw failure("invalid escape sequence \(sequence); valid: \\b \\t \\n \\f \\r \\\" \\\\ \\uXXXX \\UXXXXXXXX")
        }
        offset += 2
    }

    func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - 0x30
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - 0x61 + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - 0x41 + 10
        default: return nil
        }
    }

    mutating func parseLiteralString() throws(TOMLError) -> String {
        offset += 1
        let start = offset
        while true {
            guard let byte = peek() else { throw failure("unterminated string: missing \"'\"") }
            if byte == apostrophe {
                offset += 1
                return String(decoding: bytes[start..<(offset - 1)], as: UTF8.self)
            }
            if byte == lineFeed || byte == carriageReturn {
                throw failure("unterminated string: a newline before the closing \"'\" (use ''' for multi-line strings)")
            }
            if isForbiddenControl(byte) { throw failure("control character \(describeByte(byte)) in a literal string") }
            offset += 1
        }
    }

    mutating func parseMultilineLiteralString() throws(TOMLError) -> String {
        offset += 3
        if atNewline { try consumeNewline() }
        var buffer: [UInt8] = []
        while true {
            guard let byte = peek() else { throw failure("unterminated multi-line string: missing \"'''\"") }
            switch byte {
            case apostrophe:
                if peek(1) == apostrophe && peek(2) == apostrophe {
                    var run = 3
                    while peek(run) == apostrophe { run += 1 }
                    guard run <= 5 else { throw failure("too many apostrophes at the end of a multi-line literal string") }
                    buffer.append(contentsOf: repeatElement(apostrophe, count: run - 3))
                    offset += run
                    return String(decoding: buffer, as: UTF8.self)
                }
                buffer.append(apostrophe)
                offset += 1
            case lineFeed, carriageReturn:
                try consumeNewline()
                buffer.append(lineFeed)
            default:
                if isForbiddenControl(byte) { throw failure("control character \(describeByte(byte)) in a literal string") }
                buffer.append(byte)
                offset += 1
            }
        }
    }

    // MARK: - Numbers and date-times

    mutating func parseNumberOrDateTime() throws(TOMLError) -> TOMLValue {
        let position = here()
        let start = offset
        while let byte = peek(), isNumberTokenByte(byte) { offset += 1 }
        // A date and a time may be separated by a space (RFC 3339 allows it; TOML does too).
        if offset - start == 10, isFullDate(bytes[start..<offset]), peek() == space,
           let h1 = peek(1), let h2 = peek(2), isDigit(h1), isDigit(h2), peek(3) == colon {
            offset += 1
            while let byte = peek(), isNumberTokenByte(byte) { offset += 1 }
        }
        let token = bytes[start..<offset]
        switch NumberSyntax.parse(token) {
        case .value(let value): return value
        case .outOfRange(let kind):
            throw TOMLError("\(kind) \(String(decoding: token.prefix(40), as: UTF8.self)) is out of range (\(kind.range))", at: position)
        case .notANumber: break
        }
        if isLetter(token[start]) {
            throw TOMLError("expected a value; strings need quotes: \"\(String(decoding: token.prefix(64), as: UTF8.self))\"", at: position)
        }
        if DateTimeSyntax.isValid(token) {
            return .dateTime(String(decoding: token, as: UTF8.self))
        }
        throw TOMLError("invalid number or date-time \(String(decoding: token.prefix(40), as: UTF8.self))", at: position)
    }

    func isNumberTokenByte(_ byte: UInt8) -> Bool {
        isBareKeyByte(byte) || byte == plus || byte == dot || byte == colon
    }

    func isFullDate(_ token: ArraySlice<UInt8>) -> Bool {
        DateTimeSyntax.isFullDate(token)
    }
}

/// What a number token turned out to be.
private enum NumberReading {
    enum Kind: CustomStringConvertible {
        case integer, float
        var description: String { self == .integer ? "integer" : "float" }
        var range: String {
            self == .integer ? "TOML integers are 64-bit: -9223372036854775808 to 9223372036854775807"
                             : "beyond the largest 64-bit float, about 1.8e308"
        }
    }

    case value(TOMLValue)
    /// Well-formed, but not representable.
    case outOfRange(Kind)
    /// Not TOML number syntax (it may still be a date-time).
    case notANumber
}

/// TOML's integer and float grammar, checked exactly before any conversion.
private enum NumberSyntax {
    static func parse(_ token: ArraySlice<UInt8>) -> NumberReading {
        guard let first = token.first else { return .notANumber }
        var body = token
        var negative = false
        if first == plus || first == minus {
            negative = first == minus
            body = token.dropFirst()
        }
        switch Array(body) {
        case Array("inf".utf8): return .value(.float(negative ? -.infinity : .infinity))
        case Array("nan".utf8): return .value(.float(.nan))
        default: break
        }
        if body.count > 2, body.first == UInt8(ascii: "0") {
            let radixMark = body[body.startIndex + 1]
            let radix: Int64
            switch radixMark {
            case UInt8(ascii: "x"): radix = 16
            case UInt8(ascii: "o"): radix = 8
            case UInt8(ascii: "b"): radix = 2
            default: radix = 0
            }
            if radix != 0 {
                // Prefixed integers take no sign.
                guard body.count == token.count else { return .notANumber }
                return integer(body.dropFirst(2), radix: radix, negative: false)
            }
        }
        if body.contains(where: { $0 == dot || $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E") }) {
            return float(token, body: body)
        }
        guard isDecimalIntegerPart(body) else { return .notANumber }
        return integer(body, radix: 10, negative: negative)
    }

    /// `0` or a non-zero digit followed by digits, with single underscores between digits.
    static func isDecimalIntegerPart(_ digits: ArraySlice<UInt8>) -> Bool {
        guard isDigitRun(digits, radix: 10) else { return false }
        return digits.count == 1 || digits.first != UInt8(ascii: "0")
    }

    static func isDigitRun(_ digits: ArraySlice<UInt8>, radix: Int64) -> Bool {
        guard let first = digits.first, let last = digits.last, first != underscore, last != underscore else { return false }
        var previousWasUnderscore = false
        for byte in digits {
            if byte == underscore {
                if previousWasUnderscore { return false }
                previousWasUnderscore = true
            } else {
                guard digitValue(byte, radix: radix) != nil else { return false }
                previousWasUnderscore = false
            }
        }
        return true
    }

    static func digitValue(_ byte: UInt8, radix: Int64) -> Int64? {
        let value: Int64
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): value = Int64(byte - 0x30)
        case UInt8(ascii: "a")...UInt8(ascii: "f"): value = Int64(byte - 0x61 + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): value = Int64(byte - 0x41 + 10)
        default: return nil
        }
        return value < radix ? value : nil
    }

    static func integer(_ digits: ArraySlice<UInt8>, radix: Int64, negative: Bool) -> NumberReading {
        guard isDigitRun(digits, radix: radix) else { return .notANumber }
        var result: Int64 = 0
        for byte in digits where byte != underscore {
            let digit = digitValue(byte, radix: radix)!
            // Accumulating towards the sign keeps Int64.min representable.
            let (shifted, overflow1) = result.multipliedReportingOverflow(by: radix)
            let (next, overflow2) = negative ? shifted.subtractingReportingOverflow(digit) : shifted.addingReportingOverflow(digit)
            guard !overflow1 && !overflow2 else { return .outOfRange(.integer) }
            result = next
        }
        return .value(.integer(result))
    }

    static func float(_ token: ArraySlice<UInt8>, body: ArraySlice<UInt8>) -> NumberReading {
        var integerEnd = body.startIndex
        while integerEnd < body.endIndex, body[integerEnd] != dot, body[integerEnd] != UInt8(ascii: "e"), body[integerEnd] != UInt8(ascii: "E") {
            integerEnd += 1
        }
        guard isDecimalIntegerPart(body[body.startIndex..<integerEnd]) else { return .notANumber }
        var rest = body[integerEnd...]
        if rest.first == dot {
            rest = rest.dropFirst()
            var fractionEnd = rest.startIndex
            while fractionEnd < rest.endIndex, rest[fractionEnd] != UInt8(ascii: "e"), rest[fractionEnd] != UInt8(ascii: "E") { fractionEnd += 1 }
            guard isDigitRun(rest[rest.startIndex..<fractionEnd], radix: 10) else { return .notANumber }
            rest = rest[fractionEnd...]
        }
        if let marker = rest.first {
            guard marker == UInt8(ascii: "e") || marker == UInt8(ascii: "E") else { return .notANumber }
            rest = rest.dropFirst()
            if rest.first == plus || rest.first == minus { rest = rest.dropFirst() }
            guard isDigitRun(rest, radix: 10) else { return .notANumber }
        }
        let text = String(decoding: token.filter { $0 != underscore }, as: UTF8.self)
        guard let value = Double(text) else { return .notANumber }
        // The syntax is checked above, so a non-finite result means the exponent overflowed.
        guard value.isFinite else { return .outOfRange(.float) }
        return .value(.float(value))
    }
}

/// RFC 3339 date-times as TOML allows them: offset and local date-times, dates, times.
private enum DateTimeSyntax {
    static func isValid(_ token: ArraySlice<UInt8>) -> Bool {
        let bytes = Array(token)
        if bytes.count >= 10, isFullDate(token.prefix(10)) {
            if bytes.count == 10 { return true }
            let separator = bytes[10]
            guard separator == UInt8(ascii: "T") || separator == UInt8(ascii: "t") || separator == space else { return false }
            return isTimeWithOptionalOffset(bytes[11...])
        }
        return isPartialTime(bytes[...]) != nil && isPartialTime(bytes[...]) == bytes.count
    }

    static func isFullDate(_ token: ArraySlice<UInt8>) -> Bool {
        let bytes = Array(token)
        guard bytes.count == 10, bytes[4] == minus, bytes[7] == minus,
              let year = number(bytes[0..<4]), let month = number(bytes[5..<7]), let day = number(bytes[8..<10]) else { return false }
        guard (1...12).contains(month), day >= 1 else { return false }
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
        let lengths = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        return day <= lengths[month - 1]
    }

    static func isTimeWithOptionalOffset(_ bytes: ArraySlice<UInt8>) -> Bool {
        guard let timeLength = isPartialTime(bytes) else { return false }
        let offset = bytes.dropFirst(timeLength)
        if offset.isEmpty { return true }
        if offset.count == 1 { return offset.first == UInt8(ascii: "Z") || offset.first == UInt8(ascii: "z") }
        let parts = Array(offset)
        guard parts.count == 6, parts[0] == plus || parts[0] == minus, parts[3] == colon,
              let hour = number(parts[1..<3]), let minute = number(parts[4..<6]) else { return false }
        return hour <= 23 && minute <= 59
    }

    /// The length of `HH:MM:SS[.fraction]` at the start of `bytes`, if it is one.
    static func isPartialTime(_ bytes: ArraySlice<UInt8>) -> Int? {
        let time = Array(bytes)
        guard time.count >= 8, time[2] == colon, time[5] == colon,
              let hour = number(time[0..<2]), let minute = number(time[3..<5]), let second = number(time[6..<8]),
              hour <= 23, minute <= 59, second <= 60 else { return nil }
        var length = 8
        if time.count > 8, time[8] == dot {
            length = 9
            while length < time.count, isDigit(time[length]) { length += 1 }
            guard length > 9 else { return nil }
        }
        return length
    }

    static func number(_ digits: ArraySlice<UInt8>) -> Int? {
        var value = 0
        for byte in digits {
            guard isDigit(byte) else { return nil }
            value = value * 10 + Int(byte - 0x30)
        }
        return value
    }
}
