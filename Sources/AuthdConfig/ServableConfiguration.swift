// The config as a running daemon serves it: the valid audiences, the broken ones with their errors, and the rule for what stops a start.

/// An `[audience.NAME]` left out because of its own errors: it answers them instead of tokens.
public struct BrokenAudience: Sendable, Equatable {
    public var name: String
    /// The line of its `[audience.NAME]` header.
    public var line: Int
    /// Its errors, as `config check` prints them.
    public var diagnostics: [ConfigDiagnostic]

    public init(name: String, line: Int, diagnostics: [ConfigDiagnostic]) {
        self.name = name
        self.line = line
        self.diagnostics = diagnostics
    }

    /// The first error, and how many more: one line for `status` and `get`.
    public var summary: String {
        guard let first = diagnostics.first else { return "audience \(name) has a config error" }
        let more = diagnostics.count - 1
        return first.description + (more > 0 ? " (and \(more) more; see: authctl config check)" : "")
    }
}

public struct ServableConfiguration: Sendable {
    /// The `[daemon]` settings and every valid audience.
    public var configuration: AuthdConfiguration
    public var brokenAudiences: [BrokenAudience]
    /// Errors outside any audience that do not stop serving (a misspelt top-level table, say).
    public var otherErrors: [ConfigDiagnostic]
    public var warnings: [ConfigDiagnostic]

    public init(configuration: AuthdConfiguration, brokenAudiences: [BrokenAudience] = [],
                otherErrors: [ConfigDiagnostic] = [], warnings: [ConfigDiagnostic] = []) {
        self.configuration = configuration
        self.brokenAudiences = brokenAudiences
        self.otherErrors = otherErrors
        self.warnings = warnings
    }

    /// Whether an error outside the audiences keeps the daemon from serving at all: a syntax
    /// error (no key) or one in `[daemon]`, whose settings every audience depends on.
    static func stopsTheDaemon(_ diagnostic: ConfigDiagnostic) -> Bool {
        guard let keyPath = diagnostic.keyPath else { return true }
        return keyPath == "daemon" || keyPath.hasPrefix("daemon.")
    }
}
