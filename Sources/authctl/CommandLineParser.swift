// Turns argv into a command, its operands and options, using the command table.
import AuthdClient
import AuthdConfig

struct ParsedCommand {
    let spec: CommandSpec
    var operands: [String] = []
    /// Options given with a value, in command-line order (a later one replaces an earlier one).
    /// Arrays, not a dictionary and a set: a handful of options is scanned faster than it is
    /// hashed, and `authctl get` then instantiates no hashed collection's metadata at start-up.
    var values: [OptionValue] = []
    var flags: [String] = []
    var wantsHelp = false

    func flag(_ name: String) -> Bool { flags.contains(name) }

    /// The value given for option `name`, if it was given.
    func value(_ name: String) -> String? { values.last { $0.name == name }?.value }
}

/// An option as written on the command line: `--min-valid 5m` or a flag (`value` nil).
struct OptionValue {
    let name: String
    var value: String?
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
        var options: [OptionValue] = []
        var index = arguments.startIndex
        var onlyOperands = false
        // The spec of the command the words so far name, built once per command, not per argument.
        var memo = SpecMemo()

        func value(for name: String, inline: String?) throws(ClientFailure) -> String {
            if let inline { return inline }
            index += 1
            guard index < arguments.endIndex else { throw .usage("option \(name) needs a value; see: authctl --help") }
            return arguments[index]
        }

        while index < arguments.endIndex {
            let argument = arguments[index]
            if !onlyOperands, let spec = memo.spec(for: words), spec.passesRestThrough, words.count > spec.words.count {
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
                case "--socket" where !takesValue(name, memo.spec(for: words)):
                    invocation.context.socketOverride = try value(for: name, inline: inline)
                case "--help", "-h": options.append(OptionValue(name: "--help"))
                case "--version": words = ["version"] + words
                default:
                    // Whether it takes a value depends on the command, known only once the words are in.
                    options.append(OptionValue(name: name, value: inline))
                    if inline == nil, let next = arguments.index(index, offsetBy: 1, limitedBy: arguments.endIndex),
                       next < arguments.endIndex, takesValue(name, memo.spec(for: words)) {
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
        guard let spec = memo.spec(for: words) else {
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
        for given in options {
            let name = given.name, value = given.value
            if name == "--help" { parsed.wantsHelp = true; continue }
            guard let option = spec.options.first(where: { $0.isNamed(name) }) else {
                let known = spec.options.flatMap { [$0.name] + $0.aliases }
                throw .usage("unknown option \(name) for \(spec.name)\(Suggestion.didYouMean(name, among: known)); usage: \(spec.synopsis)")
            }
            if option.valueName != nil {
                guard let value else { throw .usage("option \(name) needs a value; usage: \(spec.synopsis)") }
                parsed.values.append(OptionValue(name: option.name, value: value))
            } else {
                guard value == nil else { throw .usage("option \(name) takes no value; usage: \(spec.synopsis)") }
                if !parsed.flag(option.name) { parsed.flags.append(option.name) }
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
        CommandID.named(by: words)?.spec
    }

    static func takesValue(_ name: String, _ spec: CommandSpec?) -> Bool {
        guard let spec else { return false }
        return spec.options.contains { $0.isNamed(name) && $0.valueName != nil }
    }
}

/// The last command spec looked up, kept while the words still name that command.
struct SpecMemo {
    private var id: CommandID?
    private var spec: CommandSpec?

    mutating func spec(for words: [String]) -> CommandSpec? {
        guard let named = CommandID.named(by: words) else { return nil }
        if named != id {
            id = named
            spec = named.spec
        }
        return spec
    }
}
