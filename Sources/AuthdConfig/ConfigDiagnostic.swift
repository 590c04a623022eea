// One problem found in a config file, located by file, line, column and key path.

public struct ConfigDiagnostic: Sendable, Hashable, CustomStringConvertible {
    public enum Severity: String, Sendable, Hashable {
        case error
        case warning
    }

    public var severity: Severity
    public var file: String
    public var line: Int
    public var column: Int
    /// The dotted key the problem is about, e.g. `audience.demo.scopes`; nil for syntax errors.
    public var keyPath: String?
    public var message: String

    public init(severity: Severity, file: String, line: Int, column: Int, keyPath: String?, message: String) {
        self.severity = severity
        self.file = file
        self.line = line
        self.column = column
        self.keyPath = keyPath
        self.message = message
    }

    /// `config.toml:12: audience.demo.scpoes: unknown key (did you mean "scopes"?)`;
    /// warnings say so before the message. A syntax error has no key to name, so it gives
    /// its column instead: `config.toml:3:26: invalid UTF-8`.
    public var description: String {
        var text = keyPath == nil ? "\(file):\(line):\(column): " : "\(file):\(line): "
        if let keyPath { text += keyPath + ": " }
        if severity == .warning { text += "warning: " }
        return text + message
    }
}

/// A config that failed validation, with everything that is wrong in it.
public struct ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    public var diagnostics: [ConfigDiagnostic]

    public init(diagnostics: [ConfigDiagnostic]) { self.diagnostics = diagnostics }

    public var description: String { diagnostics.map(\.description).joined(separator: "\n") }
}
