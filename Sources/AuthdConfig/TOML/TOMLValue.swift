// The parsed TOML tree, in which every key and value remembers where it was written.

/// A place in the source text. Both numbers start at 1; the column counts Unicode
/// scalars, so it matches what an editor shows for non-ASCII keys and strings.
public struct TOMLPosition: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var line: Int
    public var column: Int

    public init(line: Int, column: Int) {
        self.line = line
        self.column = column
    }

    public static func < (lhs: TOMLPosition, rhs: TOMLPosition) -> Bool {
        (lhs.line, lhs.column) < (rhs.line, rhs.column)
    }

    public var description: String { "\(line):\(column)" }
}

/// A value and where it starts. For a table made by a `[header]` the position is the
/// header's `[`; for one made by dotted keys, the first key that made it.
public struct TOMLNode: Sendable, Equatable {
    public var value: TOMLValue
    public var position: TOMLPosition

    public init(_ value: TOMLValue, at position: TOMLPosition) {
        self.value = value
        self.position = position
    }
}

public enum TOMLValue: Sendable, Equatable {
    case string(String)
    case integer(Int64)
    case float(Double)
    case boolean(Bool)
    /// Offset or local date-times, dates and times, kept as written: a configuration has
    /// no use for them beyond saying they are the wrong type.
    case dateTime(String)
    /// A static array or an array of tables (`[[name]]`), whose elements are `.table`s.
    case array([TOMLNode])
    case table(TOMLTable)

    /// The TOML name of the value's type, with an article, for "expected X, found Y".
    public var kindDescription: String {
        switch self {
        case .string: return "a string"
        case .integer: return "an integer"
        case .float: return "a float"
        case .boolean: return "a boolean"
        case .dateTime: return "a date-time"
        case .array: return "an array"
        case .table: return "a table"
        }
    }

    public var stringValue: String? {
        if case .string(let text) = self { return text }
        return nil
    }

    public var tableValue: TOMLTable? {
        if case .table(let table) = self { return table }
        return nil
    }
}

/// One key of a table with the position of the key itself (not of its value).
public struct TOMLEntry: Sendable, Equatable {
    public var key: String
    public var keyPosition: TOMLPosition
    public var node: TOMLNode

    public init(key: String, keyPosition: TOMLPosition, node: TOMLNode) {
        self.key = key
        self.keyPosition = keyPosition
        self.node = node
    }
}

/// A table whose keys keep the order in which they were first written.
public struct TOMLTable: Sendable, Equatable {
    public private(set) var entries: [TOMLEntry] = []
    /// Built only for large tables: hashing every key of a small table costs more than scanning it.
    private var indexByKey: [String: Int]?

    static let indexThreshold = 16

    public init() {}

    public init(entries: [TOMLEntry]) {
        for entry in entries { append(entry) }
    }

    /// For the parser, whose keys are already known to be distinct.
    init(uniqueEntries: [TOMLEntry]) {
        entries = uniqueEntries
        if entries.count > Self.indexThreshold {
            var index: [String: Int] = [:]
            for (offset, entry) in entries.enumerated() { index[entry.key] = offset }
            indexByKey = index
        }
    }

    public subscript(key: String) -> TOMLEntry? {
        position(of: key).map { entries[$0] }
    }

    public var count: Int { entries.count }
    public var isEmpty: Bool { entries.isEmpty }
    public var keys: [String] { entries.map(\.key) }

    /// Replaces an entry with the same key in place, so that file order stays stable.
    public mutating func append(_ entry: TOMLEntry) {
        if let index = position(of: entry.key) {
            entries[index] = entry
            return
        }
        entries.append(entry)
        if indexByKey != nil {
            indexByKey![entry.key] = entries.count - 1
        } else if entries.count > Self.indexThreshold {
            var index: [String: Int] = [:]
            for (offset, existing) in entries.enumerated() { index[existing.key] = offset }
            indexByKey = index
        }
    }

    private func position(of key: String) -> Int? {
        if let indexByKey { return indexByKey[key] }
        return entries.firstIndex { $0.key == key }
    }

    public static func == (lhs: TOMLTable, rhs: TOMLTable) -> Bool {
        lhs.entries == rhs.entries
    }
}
