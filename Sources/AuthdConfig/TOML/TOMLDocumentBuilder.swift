// Applies TOML's table rules (no redefinition, sealed inline tables, dotted keys vs headers) while a document is parsed.

/// A syntax or structure error in a TOML document.
public struct TOMLError: Error, Sendable, Equatable, CustomStringConvertible {
    public var position: TOMLPosition
    public var message: String

    public init(_ message: String, at position: TOMLPosition) {
        self.message = message
        self.position = position
    }

    public var line: Int { position.line }
    public var column: Int { position.column }
    public var description: String { "line \(line), column \(column): \(message)" }
}

/// One segment of a dotted key, with where it was written.
struct TOMLKeyPart {
    var name: String
    var position: TOMLPosition
}

/// A value still being assembled: inline tables live in the builder's arena until the end.
enum TOMLPendingValue {
    case scalar(TOMLValue)
    case array([TOMLPendingNode])
    case inlineTable(Int)
}

struct TOMLPendingNode {
    var value: TOMLPendingValue
    var position: TOMLPosition
}

/// Tables are kept in an arena and linked by index, so that adding a key deep in the
/// tree is O(1) instead of copying every enclosing value.
struct TOMLDocumentBuilder {
    /// How a table came to exist decides what may still be added to it.
    enum Origin {
        case root
        /// Made only as the parent of a header (`[a.b]` makes `a`); a later `[a]` may define it.
        case implicit
        case header
        case dotted
        /// Closed once its `}` is read.
        case inline
        case arrayElement
    }

    enum Content {
        case value(TOMLPendingNode)
        case table(Int)
        /// An index into `tableArrays`, so that `[[x]]` appends in place.
        case tableArray(Int)
    }

    struct Entry {
        var key: String
        var keyPosition: TOMLPosition
        var content: Content
    }

    struct Table {
        var entries: [Entry] = []
        /// Only for large tables; small ones are scanned (see `TOMLTable`).
        var indexByKey: [String: Int]?
        var origin: Origin
        var position: TOMLPosition
        var depth: Int

        func find(_ key: String) -> Int? {
            if let indexByKey { return indexByKey[key] }
            return entries.firstIndex { $0.key == key }
        }
    }

    let maximumDepth: Int
    private(set) var tables: [Table]
    private var tableArrays: [[Int]] = []

    init(maximumDepth: Int) {
        self.maximumDepth = maximumDepth
        tables = [Table(origin: .root, position: TOMLPosition(line: 1, column: 1), depth: 0)]
    }

    static let rootTable = 0

    func depth(of table: Int) -> Int { tables[table].depth }

    mutating func makeInlineTable(at position: TOMLPosition, depth: Int) throws(TOMLError) -> Int {
        guard depth <= maximumDepth else { throw TOMLError("values are nested too deeply", at: position) }
        tables.append(Table(origin: .inline, position: position, depth: depth))
        return tables.count - 1
    }

    /// Opens the table a `[header]` or `[[header]]` names and returns it as the new current table.
    mutating func openTable(_ key: [TOMLKeyPart], isArrayElement: Bool, headerPosition: TOMLPosition) throws(TOMLError) -> Int {
        var current = Self.rootTable
        for (index, part) in key.dropLast().enumerated() {
            current = try descendForHeader(from: current, part, path: key[...index])
        }
        let last = key[key.count - 1]
        let fullName = Self.render(key[...])
        if let existing = tables[current].find(last.name) {
            let entry = tables[current].entries[existing]
            switch entry.content {
            case .tableArray(let arrayIndex):
                guard isArrayElement else {
                    throw TOMLError("[\(fullName)] is already an array of tables ([[\(fullName)]]) at line \(entry.keyPosition.line)", at: last.position)
                }
                let element = try newTable(origin: .arrayElement, parent: current, at: headerPosition)
                tableArrays[arrayIndex].append(element)
                return element
            case .table(let table):
                if isArrayElement {
                    throw TOMLError("[[\(fullName)]] names a table already defined at line \(tables[table].position.line), not an array of tables", at: last.position)
                }
                switch tables[table].origin {
                case .implicit:
                    tables[table].origin = .header
                    tables[table].position = headerPosition
                    return table
                case .header, .root, .arrayElement:
                    throw TOMLError("table [\(fullName)] is defined twice (first at line \(tables[table].position.line))", at: last.position)
                case .dotted:
                    throw TOMLError("table [\(fullName)] was already defined by dotted keys at line \(tables[table].position.line)", at: last.position)
                case .inline:
                    throw TOMLError("table [\(fullName)] was defined as an inline table at line \(tables[table].position.line) and cannot be extended", at: last.position)
                }
            case .value(let node):
                throw TOMLError("key \(fullName) already holds \(Self.kindDescription(node.value)) (line \(node.position.line)), not a table", at: last.position)
            }
        }
        if isArrayElement {
            let element = try newTable(origin: .arrayElement, parent: current, at: headerPosition)
            tableArrays.append([element])
            insert(Entry(key: last.name, keyPosition: last.position, content: .tableArray(tableArrays.count - 1)), into: current)
            return element
        }
        let table = try newTable(origin: .header, parent: current, at: headerPosition)
        insert(Entry(key: last.name, keyPosition: last.position, content: .table(table)), into: current)
        return table
    }

    /// Stores `key = value` in `table`, creating the tables a dotted key passes through.
    mutating func assign(_ key: [TOMLKeyPart], _ node: TOMLPendingNode, in table: Int) throws(TOMLError) {
        var current = table
        for (index, part) in key.dropLast().enumerated() {
            if let existing = tables[current].find(part.name) {
                let entry = tables[current].entries[existing]
                let name = Self.render(key[...index])
                switch entry.content {
                case .table(let child):
                    switch tables[child].origin {
                    case .dotted:
                        current = child
                    case .inline:
                        throw TOMLError("\(name) is an inline table (line \(tables[child].position.line)) and cannot be extended", at: part.position)
                    case .implicit, .header, .root, .arrayElement:
                        throw TOMLError("table \(name) was defined by a [header] at line \(tables[child].position.line); dotted keys cannot add to it from here", at: part.position)
                    }
                case .tableArray:
                    throw TOMLError("\(name) is an array of tables (line \(entry.keyPosition.line)); dotted keys cannot add to it", at: part.position)
                case .value(let value):
                    throw TOMLError("key \(name) already holds \(Self.kindDescription(value.value)) (line \(value.position.line)), not a table", at: part.position)
                }
            } else {
                let child = try newTable(origin: .dotted, parent: current, at: part.position)
                insert(Entry(key: part.name, keyPosition: part.position, content: .table(child)), into: current)
                current = child
            }
        }
        let last = key[key.count - 1]
        if let existing = tables[current].find(last.name) {
            let first = tables[current].entries[existing].keyPosition
            throw TOMLError("duplicate key \(Self.render(key[...])) (first defined at line \(first.line))", at: last.position)
        }
        let content: Content
        if case .inlineTable(let inline) = node.value {
            content = .table(inline)
        } else {
            content = .value(node)
        }
        insert(Entry(key: last.name, keyPosition: last.position, content: content), into: current)
    }

    private mutating func descendForHeader(from table: Int, _ part: TOMLKeyPart, path: ArraySlice<TOMLKeyPart>) throws(TOMLError) -> Int {
        if let existing = tables[table].find(part.name) {
            let entry = tables[table].entries[existing]
            switch entry.content {
            case .table(let child):
                if tables[child].origin == .inline {
                    throw TOMLError("\(Self.render(path)) is an inline table (line \(tables[child].position.line)) and cannot be extended", at: part.position)
                }
                return child
            case .tableArray(let arrayIndex):
                // A header below an array of tables extends its most recent element.
                return tableArrays[arrayIndex][tableArrays[arrayIndex].count - 1]
            case .value(let node):
                throw TOMLError("key \(Self.render(path)) already holds \(Self.kindDescription(node.value)) (line \(node.position.line)), not a table", at: part.position)
            }
        }
        let child = try newTable(origin: .implicit, parent: table, at: part.position)
        insert(Entry(key: part.name, keyPosition: part.position, content: .table(child)), into: table)
        return child
    }

    private mutating func newTable(origin: Origin, parent: Int, at position: TOMLPosition) throws(TOMLError) -> Int {
        let depth = tables[parent].depth + 1
        guard depth <= maximumDepth else { throw TOMLError("tables are nested too deeply", at: position) }
        tables.append(Table(origin: origin, position: position, depth: depth))
        return tables.count - 1
    }

    private mutating func insert(_ entry: Entry, into table: Int) {
        tables[table].entries.append(entry)
        let count = tables[table].entries.count
        if tables[table].indexByKey != nil {
            tables[table].indexByKey![entry.key] = count - 1
        } else if count > TOMLTable.indexThreshold {
            var index: [String: Int] = [:]
            for (offset, existing) in tables[table].entries.enumerated() { index[existing.key] = offset }
            tables[table].indexByKey = index
        }
    }

    // MARK: - Finishing

    func finish() -> TOMLTable { makeTable(Self.rootTable) }

    private func makeTable(_ index: Int) -> TOMLTable {
        var converted: [TOMLEntry] = []
        converted.reserveCapacity(tables[index].entries.count)
        for entry in tables[index].entries {
            let node: TOMLNode
            switch entry.content {
            case .value(let pending):
                node = makeNode(pending)
            case .table(let child):
                node = TOMLNode(.table(makeTable(child)), at: tables[child].position)
            case .tableArray(let arrayIndex):
                let elements = tableArrays[arrayIndex].map { TOMLNode(.table(makeTable($0)), at: tables[$0].position) }
                node = TOMLNode(.array(elements), at: entry.keyPosition)
            }
            converted.append(TOMLEntry(key: entry.key, keyPosition: entry.keyPosition, node: node))
        }
        return TOMLTable(uniqueEntries: converted)
    }

    private func makeNode(_ pending: TOMLPendingNode) -> TOMLNode {
        switch pending.value {
        case .scalar(let value):
            return TOMLNode(value, at: pending.position)
        case .array(let elements):
            return TOMLNode(.array(elements.map(makeNode)), at: pending.position)
        case .inlineTable(let index):
            return TOMLNode(.table(makeTable(index)), at: pending.position)
        }
    }

    // MARK: - Messages

    static func kindDescription(_ value: TOMLPendingValue) -> String {
        switch value {
        case .scalar(let scalar): return scalar.kindDescription
        case .array: return "an array"
        case .inlineTable: return "an inline table"
        }
    }

    /// A key as the user would write it: bare where possible, quoted otherwise.
    static func render(_ parts: ArraySlice<TOMLKeyPart>) -> String {
        // A loop, not `joined(separator:)`: that is the standard library's unspecialized generic,
        // and its associated-type lookups cost every client that reads the config at start-up.
        var rendered = ""
        for index in parts.indices {
            if index > parts.startIndex { rendered += "." }
            rendered += renderKey(parts[index].name)
        }
        return rendered
    }
}

/// Quotes a key segment unless it is a valid bare key, so messages can be pasted back.
func renderKey(_ name: String) -> String {
    if !name.isEmpty && name.utf8.allSatisfy(isBareKeyByte) { return name }
    var quoted = "\""
    for scalar in name.unicodeScalars {
        switch scalar {
        case "\"": quoted += "\\\""
        case "\\": quoted += "\\\\"
        case "\n": quoted += "\\n"
        case "\t": quoted += "\\t"
        default:
            if scalar.value < 0x20 || scalar.value == 0x7F {
                let hex = String(scalar.value, radix: 16, uppercase: true)
                quoted += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            } else {
                quoted.unicodeScalars.append(scalar)
            }
        }
    }
    return quoted + "\""
}

@inline(__always)
func isBareKeyByte(_ byte: UInt8) -> Bool {
    switch byte {
    case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
         UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "-"):
        return true
    default:
        return false
    }
}
