// authd's command line: one table of its options, read by the parser, by --help and by the authd(1) page.
import AuthdWire

/// What the daemon was asked to run with. The defaults are the ones `authd` with no options uses.
public struct DaemonCommandLine: Equatable, Sendable {
    public var config: String?
    public var socket: String?
    public var requestTimeoutSeconds = 10
    public var maximumConnections = 1024
    public var logFile: String?
    public var logFileLimit = 1 << 20

    public init() {}

    /// What one command line asks for: run the daemon, or print something and exit.
    public enum Invocation: Equatable, Sendable {
        case run(DaemonCommandLine)
        case help
        case manual
        case version
    }

    /// A command line authd does not run with; `message` names the word and what to do.
    public struct UsageError: Error, Equatable, Sendable, CustomStringConvertible {
        public let message: String
        public var description: String { message }
    }

    /// The status authd exits with for a usage error (as for a config it cannot use).
    public static let usageExitStatus: Int32 = 2

    public static func parse(_ arguments: some Collection<String>) throws(UsageError) -> Invocation {
        var line = DaemonCommandLine()
        var words = arguments.makeIterator()
        while let word = words.next() {
            switch word {
            case "--help", "-h": return .help
            case "--man": return .manual
            case "--version": return .version
            default: break
            }
            guard word.hasPrefix("--") else {
                throw UsageError(message: "authd takes no operands, and was given \(Self.quoted(word)); \(Self.seeHelp)")
            }
            let (name, inline) = Self.split(word)
            guard let option = Option.allCases.first(where: { $0.name == name }) else {
                throw UsageError(message: "unknown option \(Self.quoted(name)); \(Self.seeHelp)")
            }
            guard let value = inline ?? words.next() else {
                throw UsageError(message: "option \(name) needs a value (\(option.valueName)); \(Self.seeHelp)")
            }
            try option.apply(value, to: &line)
        }
        return .run(line)
    }

    /// The options, in the order `--help` and the man page list them.
    public enum Option: CaseIterable, Sendable {
        case config, socket, maximumConnections, logFile, logFileLimit, requestTimeout

        public var name: String {
            switch self {
            case .config: "--config"
            case .socket: "--socket"
            case .maximumConnections: "--max-connections"
            case .logFile: "--log-file"
            case .logFileLimit: "--log-file-limit"
            case .requestTimeout: "--request-timeout"
            }
        }

        public var valueName: String {
            switch self {
            case .config, .logFile: "FILE"
            case .socket: "PATH"
            case .maximumConnections: "N"
            case .logFileLimit: "BYTES"
            case .requestTimeout: "SECONDS"
            }
        }

        /// Settings for tests and benchmarks: parsed, not shown.
        public var hidden: Bool { self == .logFileLimit || self == .requestTimeout }

        public var summary: String {
            switch self {
            case .config: "Config file (default: $AUTHD_CONFIG or $XDG_CONFIG_HOME/authd/config.toml)."
            case .socket: "Socket path when not socket-activated (default: $AUTHD_SOCKET or $XDG_RUNTIME_DIR/authd/socket)."
            case .maximumConnections: "Most connections served at once (default: 1024)."
            case .logFile: "Write the log and audit records to this file (mode 0600) instead of stderr, rotating it to FILE.1 at --log-file-limit bytes (what authctl passes when it starts authd)."
            case .logFileLimit: "Bytes at which --log-file is rotated (default: 1048576; at least 4096)."
            case .requestTimeout: "Seconds a client has to send a complete request (default: 10)."
            }
        }

        func apply(_ value: String, to line: inout DaemonCommandLine) throws(UsageError) {
            switch self {
            case .config: line.config = try Self.path(value, for: name)
            case .socket: line.socket = try Self.path(value, for: name)
            case .logFile: line.logFile = try Self.path(value, for: name)
            case .maximumConnections: line.maximumConnections = try Self.count(value, for: name)
            case .logFileLimit: line.logFileLimit = try Self.count(value, for: name)
            case .requestTimeout: line.requestTimeoutSeconds = try Self.count(value, for: name)
            }
        }

        private static func path(_ value: String, for name: String) throws(UsageError) -> String {
            guard !value.isEmpty else { throw UsageError(message: "option \(name) needs a non-empty path; \(DaemonCommandLine.seeHelp)") }
            return value
        }

        private static func count(_ value: String, for name: String) throws(UsageError) -> Int {
            guard let number = Int(value), number > 0 else {
                throw UsageError(message: "option \(name) needs a whole number above 0, not \(DaemonCommandLine.quoted(value)); \(DaemonCommandLine.seeHelp)")
            }
            return number
        }
    }

    // MARK: - What authd says about itself

    public static let summary = "Hold OAuth tokens for this user and serve them over a Unix socket."

    static let paragraphs = [
        "authd runs the OAuth 2.0 Device Authorization Grant (RFC 8628) on demand, keeps the tokens encrypted in memory and on disk, refreshes them before they expire, and serves them only to processes of the same user. Start it with `systemctl --user enable --now authd.socket`, or let authctl start it. It takes its socket from systemd (LISTEN_FDS) when given one.",
        "Environment: AUTHD_CONFIG, AUTHD_SOCKET, AUTHD_STATE_DIR, XDG_CONFIG_HOME, XDG_RUNTIME_DIR, XDG_STATE_HOME, CREDENTIALS_DIRECTORY (systemd credential authd-store-key). Signals: SIGHUP reloads the config, SIGTERM stops cleanly.",
    ]

    static let files: [(path: String, what: String)] = [
        ("~/.config/authd/config.toml", "the configuration (AUTHD_CONFIG)"),
        ("$XDG_RUNTIME_DIR/authd/socket", "the socket (AUTHD_SOCKET)"),
        ("~/.local/state/authd/", "the encrypted token store and its key (AUTHD_STATE_DIR)"),
    ]

    static let seeAlso: [(name: String, section: Int)] = [("authctl", 1), ("gitcredentials", 7), ("systemd.socket", 5)]

    static let seeHelp = "see: authd --help"

    private static var shownOptions: [Option] { Option.allCases.filter { !$0.hidden } }

    public static var usage: String {
        "usage: authd " + shownOptions.map { "[\($0.name) \($0.valueName)]" }.joined(separator: " ")
    }

    public static var help: String {
        var text = usage + "\n\n" + summary + "\n\n" + paragraphs.map { TextWrap.wrap($0, width: 78) + "\n" }.joined() + "Options:\n"
        let rows = shownOptions.map { ("\($0.name) \($0.valueName)", $0.summary) }
            + [("--version", "Print the version and exit."), ("--man", "Print the authd(1) man page (roff) and exit."),
               ("-h, --help", "Print this help and exit.")]
        let width = rows.map(\.0.count).max() ?? 0
        for (label, summary) in rows {
            text += "  " + label + String(repeating: " ", count: width - label.count + 2) + summary + "\n"
        }
        return text + "\nSee also: authctl(1), docs/operations.md.\n"
    }

    public static var manPage: String {
        let roff = Roff.escape
        var page = ".TH AUTHD 1 \"\" \"authd \(AuthdProtocol.softwareVersion)\" \"User Commands\"\n"
            + ".SH NAME\nauthd \\- \(roff(String(summary.dropLast())))\n"
            + ".SH SYNOPSIS\n.B authd\n" + shownOptions.map { "[\\fB\(roff($0.name))\\fR \\fI\($0.valueName)\\fR]\n" }.joined()
            + ".SH DESCRIPTION\n" + paragraphs.map { ".PP\n" + roff($0) + "\n" }.joined()
            + ".SH OPTIONS\n"
        for option in shownOptions {
            page += ".TP\n\\fB\(roff(option.name))\\fR \\fI\(option.valueName)\\fR\n\(roff(option.summary))\n"
        }
        page += ".TP\n\\fB\\-\\-version\\fR\nPrint the version and exit.\n"
            + ".TP\n\\fB\\-h\\fR, \\fB\\-\\-help\\fR\nPrint the help and exit.\n"
            + ".SH FILES\n" + files.map { ".TP\n\\fI\(roff($0.path))\\fR\n\(roff($0.what))\n" }.joined()
            + ".SH SEE ALSO\n" + seeAlso.map { ".BR \(roff($0.name)) (\($0.section))" }.joined(separator: ",\n") + "\n"
        return page
    }

    /// `--name=value` → (`--name`, `value`).
    static func split(_ word: String) -> (String, String?) {
        guard let equals = word.firstIndex(of: "=") else { return (word, nil) }
        return (String(word[..<equals]), String(word[word.index(after: equals)...]))
    }

    /// A word from the command line, quoted and cut short, as it appears in a message.
    static func quoted(_ word: String) -> String {
        let shown = word.count > 40 ? String(word.prefix(40)) + "…" : word
        // Control characters (C0, DEL, C1) are dropped: the word may be anybody's text, and a terminal obeys them.
        return "'" + shown.filter { $0.unicodeScalars.allSatisfy { $0.value >= 0x20 && !(0x7F...0x9F).contains($0.value) } } + "'"
    }
}
