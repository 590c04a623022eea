// Durations as a config file and a command line write them: whole seconds or "1h30m"-style strings.

/// Why a duration text was refused.
public struct DurationSyntaxError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) { self.message = message }

    public var description: String { message }
}

public enum ConfigDuration {
    /// Seconds per unit, largest first: units must appear in this order, each at most once.
    static let units: [(symbol: String, seconds: Int64)] = [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)]

    /// Longer than any token or session lifetime; also keeps arithmetic far from overflow.
    public static let maximumSeconds: Int64 = 10 * 365 * 86_400

    /// Parses `90s`, `5m`, `12h`, `1d`, `1h30m`. With `allowBareSeconds` (command-line
    /// options), `90` also means 90 seconds; in the config a number is written as a TOML
    /// integer instead. Zero is accepted here; whether it makes sense is the caller's call.
    public static func parse(_ text: String, allowBareSeconds: Bool = false) throws(DurationSyntaxError) -> Duration {
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty else { throw DurationSyntaxError("empty duration") }
        if bytes.first == UInt8(ascii: "-") { throw DurationSyntaxError("a duration cannot be negative") }
        if bytes.allSatisfy(isDigit) {
            guard allowBareSeconds else {
                throw DurationSyntaxError("\"\(text)\" has no unit: write \(text) as an integer or \"\(text)s\"")
            }
            return try seconds(number(bytes[...]))
        }
        var total: Int64 = 0
        var index = 0
        var nextUnit = 0
        while index < bytes.count {
            let start = index
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
            guard index > start else {
                throw DurationSyntaxError("invalid duration \"\(text)\": expected a number before each unit (e.g. \"90s\", \"5m\", \"1h30m\")")
            }
            let amount = try number(bytes[start..<index])
            let unitStart = index
            while index < bytes.count, !isDigit(bytes[index]) { index += 1 }
            let symbol = String(decoding: bytes[unitStart..<index], as: UTF8.self)
            guard !symbol.isEmpty else {
                throw DurationSyntaxError("invalid duration \"\(text)\": the last number has no unit (s, m, h or d)")
            }
            if symbol.hasPrefix(".") || symbol.hasPrefix(",") {
                throw DurationSyntaxError("invalid duration \"\(text)\": fractions are not allowed; use a smaller unit (e.g. \"90s\" for 1.5m, \"1h30m\" for 1.5h)")
            }
            guard let unitIndex = units.firstIndex(where: { $0.symbol == symbol }) else {
                throw DurationSyntaxError("invalid duration \"\(text)\": unknown unit \"\(symbol)\" (use s, m, h or d)")
            }
            guard unitIndex >= nextUnit else {
                throw DurationSyntaxError("invalid duration \"\(text)\": write units from largest to smallest, each once (e.g. \"1h30m\")")
            }
            nextUnit = unitIndex + 1
            let (part, overflow) = amount.multipliedReportingOverflow(by: units[unitIndex].seconds)
            guard !overflow, part <= maximumSeconds else { throw tooLong(text) }
            total += part
            guard total <= maximumSeconds else { throw tooLong(text) }
        }
        return .seconds(total)
    }

    /// A duration from a TOML integer of seconds.
    public static func seconds(_ value: Int64) throws(DurationSyntaxError) -> Duration {
        guard value >= 0 else { throw DurationSyntaxError("a duration cannot be negative") }
        guard value <= maximumSeconds else { throw tooLong(String(value)) }
        return .seconds(value)
    }

    /// The shortest text `parse` reads back as the same whole seconds, e.g. `1h30m`.
    public static func format(_ duration: Duration) -> String {
        var remaining = duration.components.seconds
        if remaining <= 0 { return "0s" }
        var text = ""
        for unit in units where remaining >= unit.seconds {
            text += "\(remaining / unit.seconds)\(unit.symbol)"
            remaining %= unit.seconds
        }
        return text
    }

    private static func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }

    private static func number(_ digits: ArraySlice<UInt8>) throws(DurationSyntaxError) -> Int64 {
        var value: Int64 = 0
        for digit in digits {
            value = value * 10 + Int64(digit - 0x30)
            guard value <= maximumSeconds else { throw DurationSyntaxError("duration is too long (at most 10 years)") }
        }
        return value
    }

    private static func tooLong(_ text: String) -> DurationSyntaxError {
        DurationSyntaxError("duration \"\(text)\" is too long (at most 10 years)")
    }
}
