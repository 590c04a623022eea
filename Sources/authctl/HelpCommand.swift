// authctl help: a command's help, or the authctl(1) man page in roff.
import AuthdClient
import AuthdWire

enum HelpCommand {
    static func run(_ command: ParsedCommand) throws(ClientFailure) -> Int32 {
        if command.flag("--man") {
            Console.out(manual())
            return 0
        }
        guard !command.operands.isEmpty else {
            Console.out(HelpText.overview())
            return 0
        }
        let groups = ["config": ["config", command.operands.count > 1 ? command.operands[1] : "check"], "setup": ["setup"]]
        let words = groups[command.operands[0]] ?? [command.operands[0]]
        guard let spec = CommandLineParser.lookUp(words), !spec.hidden else {
            throw .usage("no command named \(command.operands[0]); see: authctl --help")
        }
        Console.out(HelpText.command(spec))
        return 0
    }

    static func roff(_ text: String) -> String { Roff.escape(text) }

    static func manual() -> String {
        var man = ".TH AUTHCTL 1 \"\" \"authd \(AuthdProtocol.softwareVersion)\" \"User Commands\"\n"
        man += ".SH NAME\nauthctl \\- get OAuth 2.0 access tokens from authd, the device\\-flow token agent\n"
        man += ".SH SYNOPSIS\n"
        for spec in CommandTable.visibleCommands { man += ".B \(roff(spec.synopsis))\n.br\n" }
        man += ".SH DESCRIPTION\n"
        man += roff("authctl talks to authd, a per-user daemon that runs the OAuth 2.0 Device Authorization Grant (RFC 8628) on demand and keeps the tokens. The device-flow prompt (verification URI, user code, a QR code on terminals) goes to the controlling terminal, or to stderr with --interactive; never to stdout. When nothing listens on the socket and [daemon] autostart is true (the default), authctl starts authd.") + "\n"
        man += ".SH COMMANDS\n"
        for spec in CommandTable.visibleCommands {
            man += ".TP\n.B \(roff(spec.synopsis))\n\(roff(spec.summary.prefix(1).uppercased() + spec.summary.dropFirst())).\n"
            if !spec.details.isEmpty { man += roff(spec.details) + "\n" }
            for option in spec.options {
                man += ".RS\n.TP\n.B \(roff(option.spellings))\(option.valueName.map { " \\fI\($0)\\fR" } ?? "")\n\(roff(option.summary))\n.RE\n"
            }
        }
        man += ".SH GLOBAL OPTIONS\n"
        for option in CommandTable.globalOptions {
            man += ".TP\n.B \(roff(option.name))\(option.valueName.map { " \\fI\($0)\\fR" } ?? "")\n\(roff(option.summary))\n"
        }
        man += ".SH EXIT STATUS\n"
        for status in ClientExitStatus.all { man += ".TP\n.B \(status.code)\n\(roff(status.meaning))\n" }
        man += ".SH ENVIRONMENT\n"
        for (name, meaning) in [("AUTHD_CONFIG", "the config file"), ("AUTHD_SOCKET", "the daemon's socket"),
                                ("AUTHD_STATE_DIR", "the daemon's encrypted state (an autostarted daemon logs to authd.log there)"),
                                ("XDG_CONFIG_HOME, XDG_RUNTIME_DIR, XDG_STATE_HOME", "base directories of the defaults"),
                                ("NO_COLOR", "no bold text or colours in the prompt (the QR code is drawn in the terminal's own colours)"),
                                ("DISPLAY, WAYLAND_DISPLAY", "with xdg-open on PATH, offer to open the browser")] {
            man += ".TP\n.B \(roff(name))\n\(roff(meaning))\n"
        }
        man += ".SH FILES\n.TP\n.I ~/.config/authd/config.toml\nthe configuration\n.TP\n.I $XDG_RUNTIME_DIR/authd/socket\nthe daemon's socket\n"
        man += ".SH SEE ALSO\n.BR authd (1),\n.BR git\\-credential\\-authctl (1),\n.BR gitcredentials (7)\n"
        return man
    }
}

