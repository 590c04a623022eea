// Help screens, generated from the command table (and the exit table, ClientExitStatus).
import AuthdWire

enum HelpText {
    static func optionLines(_ options: [OptionSpec]) -> String {
        let labels = options.map { $0.spellings + ($0.valueName.map { " " + $0 } ?? "") }
        let width = labels.map(\.count).max() ?? 0
        return zip(labels, options).map { label, option in
            "  " + label + String(repeating: " ", count: width - label.count + 3) + option.summary + "\n"
        }.joined()
    }

    static func overview() -> String {
        let commands = CommandTable.visibleCommands
        let width = commands.map(\.name.count).max() ?? 0
        var text = "usage: authctl [--config PATH] [--socket PATH] COMMAND [OPTIONS]\n\n"
        text += "Client of authd, the OAuth 2.0 device-flow token agent.\n\ncommands:\n"
        for command in commands {
            text += "  " + command.name + String(repeating: " ", count: width - command.name.count + 3) + command.summary + "\n"
        }
        text += "\nglobal options:\n" + optionLines(CommandTable.globalOptions)
        text += "\nexit status:\n"
        for status in ClientExitStatus.all { text += "  \(status.code)" + String(repeating: " ", count: 5 - String(status.code).count) + status.meaning + "\n" }
        text += "\nRun authctl COMMAND --help for a command's options, or authctl help --man for the manual.\n"
        return text
    }

    static func command(_ spec: CommandSpec) -> String {
        var text = "usage: \(spec.synopsis)\n\n\(spec.summary.prefix(1).uppercased() + spec.summary.dropFirst()).\n"
        if !spec.details.isEmpty { text += "\n" + wrap(spec.details, width: 78) }
        if !spec.options.isEmpty { text += "\noptions:\n" + optionLines(spec.options) }
        text += "\nglobal options:\n" + optionLines(CommandTable.globalOptions)
        return text
    }

    static func wrap(_ paragraph: String, width: Int) -> String { TextWrap.wrap(paragraph, width: width) }
}
