// Turns argv into a command, its operands and options, using the command table.
import AuthdClient
import AuthdConfig

struct ParsedCommand {
    let spec: CommandSpec
    var operands: [String] = []
    /// Options given with a value, by name.
    var values: [String: String] = [:]
    var flags: Set<String> = []
    var wantsHelp = false

    func flag(_ name: String) -> Bool { flags.contains(name) }
}

struct Invocation {
    var context = ClientContext()
    var command: ParsedCommand?
    /// `authctl`, `authctl --help`: the overview.
    var wantsOverview = false
}

enum CommandLineParser {
    static func parse(_ arguments: ArraySlice<String>) throws(ClientFailure) -> Invocation {
        var invocation = Invocation()
        var words: [String] = []
        var options: [(name: String, value: String?)] = []
        var index = arguments.startIndex
        var onlyOperands = false

        func value(for name: String, inline: String?) throws(ClientFailure) -> String {
            if let inline { return inline }
            index += 1
            guard index < arguments.endIndex else { throw .usage("option \(name) needs a value; see: authctl --help") }
            return arguments[index]
        }

        while index < arguments.endIndex {
            let argument = arguments[index]
            if !onlyOperands, let spec = lookUp(words), spec.passesRestThrough, words.count > spec.words.count {
                onlyOperands = true
            }
            if onlyOperands || !argument.hasPrefix("-") || argument == "-" {
                words.append(argument)
            } else if argument == "--" {
                onlyOperands = true
            } else {
                let (name, inline) = split(argument)
                switch name {
                case "--config": invocation.context.configOverride = try value(for: name, inline: inline)
                // `authctl forward --socket PATH` is the forward's own path; before the command, the daemon's.
                case "--socket" where !takesValue(name, words: words):
                    invocation.context.socketOverride = try value(for: name, inline: inline)
                case "--help", "-h": options.append(("--help", nil))
                case "--version": words = ["version"] + words
                default:
                    // Whether it takes a value depends on the command, known only once the words are in.
                    options.append((name, inline))
                    if inline == nil, let next = arguments.index(index, offsetBy: 1, limitedBy: arguments.endIndex),
                       next < arguments.endIndex, takesValue(name, words: words) {
                        index = next
                        options[options.count - 1].value = arguments[next]
                    }
                }
            }
            index += 1
        }

        guard let first = words.first else {
            if !options.isEmpty && !options.allSatisfy({ $0.name == "--help" }) {
                throw .usage("unknown option \(options.first { $0.name != "--help" }!.name); usage: authctl COMMAND [OPTIONS]; see: authctl --help")
            }
            invocation.wantsOverview = true
            return invocation
        }
        guard let spec = lookUp(words) else {
            if first == "config" {
                throw .usage(words.count == 1 ? "config: missing subcommand; usage: authctl config check | authctl config init"
                                              : "unknown command config \(words[1])\(Suggestion.didYouMean(words[1], among: ["check", "init"])); usage: authctl config check | authctl config init")
            }
            let names = CommandTable.visibleCommands.map(\.name).filter { !$0.contains(" ") } + ["config"]
            throw .usage("unknown command \(first)\(Suggestion.didYouMean(first, among: names)); usage: authctl COMMAND [OPTIONS]; see: authctl --help")
        }
        var parsed = ParsedCommand(spec: spec)
        parsed.operands = Array(words.dropFirst(spec.words.count))
        if spec.id == .setup, let word = parsed.operands.first {
            throw .usage("unknown command setup \(word)\(Suggestion.didYouMean(word, among: ["git", "docker"])); usage: authctl setup | authctl setup git [AUD…] | authctl setup docker")
        }
        for (name, value) in options {
            if name == "--help" { parsed.wantsHelp = true; continue }
            guard let option = spec.options.first(where: { $0.isNamed(name) }) else {
                let known = spec.options.flatMap { [$0.name] + $0.aliases }
                throw .usage("unknown option \(name) for \(spec.name)\(Suggestion.didYouMean(name, among: known)); usage: \(spec.synopsis)")
            }
            if option.valueName != nil {
                guard let value else { throw .usage("option \(name) needs a value; usage: \(spec.synopsis)") }
                parsed.values[option.name] = value
            } else {
                guard value == nil else { throw .usage("option \(name) takes no value; usage: \(spec.synopsis)") }
                parsed.flags.insert(option.name)
            }
        }
        if !parsed.wantsHelp {
            let required = spec.operands.filter { !$0.optional }.count
            if parsed.operands.count > spec.operands.count && !spec.passesRestThrough && spec.operands.last?.variadic != true {
                throw .usage("too many arguments for \(spec.name); usage: \(spec.synopsis)")
            }
            if parsed.operands.count < required {
                throw .usage("missing \(spec.operands[parsed.operands.count].name); usage: \(spec.synopsis)")
            }
        }
        invocation.command = parsed
        return invocation
    }

    static func split(_ argument: String) -> (String, String?) {
        guard argument.hasPrefix("--"), let equals = argument.firstIndex(of: "=") else { return (argument, nil) }
        return (String(argument[..<equals]), String(argument[argument.index(after: equals)...]))
    }

    static func lookUp(_ words: [String]) -> CommandSpec? {
        CommandTable.commands.first { spec in
            words.count >= spec.words.count && Array(words.prefix(spec.words.count)) == spec.words
        }
    }

    static func takesValue(_ name: String, words: [String]) -> Bool {
        guard let spec = lookUp(words) else { return false }
        return spec.options.contains { $0.isNamed(name) && $0.valueName != nil }
    }
}
