// authd's command line as tables: what each word sequence runs, and the usage error for each bad one.
@testable import AuthdCore
import AuthdWire
import Testing

@Suite struct DaemonCommandLineTests {
    static func line(_ change: (inout DaemonCommandLine) -> Void) -> DaemonCommandLine.Invocation {
        var line = DaemonCommandLine()
        change(&line)
        return .run(line)
    }

    @Test(arguments: [
        ([], line { _ in }),
        (["--config", "/c.toml"], line { $0.config = "/c.toml" }),
        (["--config=/c.toml"], line { $0.config = "/c.toml" }),
        (["--socket", "/run/s", "--max-connections", "2048"], line { $0.socket = "/run/s"; $0.maximumConnections = 2048 }),
        (["--log-file", "/l", "--log-file-limit", "4096"], line { $0.logFile = "/l"; $0.logFileLimit = 4096 }),
        (["--request-timeout", "2"], line { $0.requestTimeoutSeconds = 2 }),
        // A later option replaces an earlier one, as the shell's last word wins elsewhere.
        (["--config", "/a", "--config", "/b"], line { $0.config = "/b" }),
        // A value may start with dashes: it is the option's, not another option.
        (["--config", "--help"], line { $0.config = "--help" }),
        (["--help"], .help),
        (["-h"], .help),
        (["--socket", "/s", "--help"], .help),
        (["--version"], .version),
        (["--man"], .manual),
    ] as [([String], DaemonCommandLine.Invocation)])
    func runs(arguments: [String], expected: DaemonCommandLine.Invocation) throws {
        #expect(try DaemonCommandLine.parse(arguments) == expected)
    }

    @Test(arguments: [
        (["--bogus"], "unknown option '--bogus'; see: authd --help"),
        (["--bogus=1"], "unknown option '--bogus'; see: authd --help"),
        (["-c", "x"], "authd takes no operands, and was given '-c'; see: authd --help"),
        (["serve"], "authd takes no operands, and was given 'serve'; see: authd --help"),
        (["--config"], "option --config needs a value (FILE); see: authd --help"),
        (["--config="], "option --config needs a non-empty path; see: authd --help"),
        (["--max-connections", "lots"], "option --max-connections needs a whole number above 0, not 'lots'; see: authd --help"),
        (["--max-connections", "0"], "option --max-connections needs a whole number above 0, not '0'; see: authd --help"),
        (["--request-timeout", "-5"], "option --request-timeout needs a whole number above 0, not '-5'; see: authd --help"),
        // A terminal escape in a word is not echoed.
        (["\u{1B}[2Jx"], "authd takes no operands, and was given '[2Jx'; see: authd --help"),
    ] as [([String], String)])
    func refuses(arguments: [String], message: String) {
        #expect(throws: DaemonCommandLine.UsageError(message: message)) { try DaemonCommandLine.parse(arguments) }
    }

    /// Every option the parser takes is in the table `--help` and the page are made from, and the
    /// shown ones are in both.
    @Test func helpAndManPageListTheShownOptions() {
        for option in DaemonCommandLine.Option.allCases {
            let row = "  \(option.name) \(option.valueName)"
            let entry = ".TP\n\\fB\(option.name.replacingAll("-", with: "\\-"))\\fR"
            #expect(DaemonCommandLine.help.contains(row) != option.hidden, "\(option.name) in --help")
            #expect(DaemonCommandLine.manPage.contains(entry) != option.hidden, "\(option.name) in the man page")
        }
        #expect(DaemonCommandLine.manPage.hasPrefix(".TH AUTHD 1 "))
        #expect(DaemonCommandLine.help.hasPrefix(DaemonCommandLine.usage + "\n"))
    }
}
