// authctl setup: the first run on a terminal — provider, client id, config file, config check, login, then setup git.
import AuthdClient
import AuthdConfig
import AuthdPosix
import AuthdWire

enum SetupCommand {
    /// The questions, in order; printed as they are when nobody can answer them.
    static let questions = [
        "provider (\(ProviderKind.allCases.map(\.rawValue).joined(separator: ", "))) [github]",
        "the provider's URL, tenant or issuer, when the provider needs one",
        "the client id of the app you registered (the registration page for the provider is shown)",
        "the git URLs the audience answers for [the provider's host]",
        "log in now? [Y/n]",
        "set up git for those URLs now (authctl setup git)? [Y/n]",
    ]

    static func run(_ command: ParsedCommand, _ context: ClientContext) throws(ClientFailure) -> Int32 {
        let path = try context.configPath()
        guard FileDescriptor.standardInput.isTerminal else {
            Console.out("authctl setup asks, on a terminal:\n" + questions.enumerated().map { "  \($0.offset + 1). \($0.element)\n" }.joined()
                        + "Run it in a terminal, or write \(path) with: authctl config init --provider NAME\n")
            return 2
        }
        var prompt = Prompt()
        if FileSystem.exists(path) {
            Console.out("\(path) exists; authctl setup uses it as it is (to start over, move it away).\n")
        } else {
            let (text, name) = try askForAudience(&prompt, path: path)
            try ConfigInitCommand.writeNew(text, at: path)
            Console.out("wrote \(path) with [audience.\(name)] (mode 0600)\n")
        }
        Console.out("\n$ authctl config check\n")
        _ = try ConfigCheckCommand.run(ParsedCommand(spec: spec(["config", "check"])), context)
        let configuration = try context.loadConfiguration()
        for audience in configuration.audiences {
            guard try prompt.yes("log in to \(audience.name) now? [Y/n] ") else { continue }
            var login = ParsedCommand(spec: spec(["login"]))
            login.operands = [audience.name]
            do {
                _ = try LoginCommand.run(login, context)
            } catch {
                // The rest of setup does not need the login; say what failed and how to retry.
                Console.error("authctl: \(error.message)\nlog in later with: authctl login \(audience.name)\n")
            }
        }
        if configuration.audiences.contains(where: { !$0.gitURLs.isEmpty }),
           try prompt.yes("set up git for the git_urls now (authctl setup git)? [Y/n] ") {
            _ = try SetupGitCommand.run(ParsedCommand(spec: spec(["setup", "git"])), context)
        }
        Console.out("done; get a token with: authctl get NAME (see: authctl status)\n")
        return 0
    }

    /// Asks for the provider and its settings, and returns the config text (config init's
    /// template with the answers filled in, validated by the one config parser) and the audience name.
    static func askForAudience(_ prompt: inout Prompt, path: String) throws(ClientFailure) -> (String, String) {
        let names = ProviderKind.allCases.map(\.rawValue)
        var preset: ProviderPreset?
        while preset == nil {
            let answer = try prompt.line("provider (\(names.joined(separator: ", "))) [github]: ")
            let name = answer.isEmpty ? "github" : answer.lowercased()
            if let kind = ProviderKind(rawValue: name) {
                preset = ProviderPreset.preset(for: kind)
            } else {
                Console.out("unknown provider \"\(TerminalText.clean(answer))\"\(Suggestion.didYouMean(name, among: names))\n")
            }
        }
        guard let preset else { throw .usage("no provider chosen") }
        var answers = ConfigInitCommand.Answers()
        if preset.usesBaseURL && preset.defaultBaseURL == nil {
            answers.baseURL = try prompt.value("\(preset.baseURLDescription ?? "the provider's URL"): ")
        }
        if preset.kind == .oidc { answers.issuer = try prompt.value("the issuer URL (discovery is read from it): ") }
        if preset.usesTenant {
            let tenant = try prompt.value("the directory (tenant) id [\(preset.defaultTenant ?? "organizations")]: ", allowEmpty: true)
            answers.tenant = tenant.isEmpty ? nil : tenant
        }
        let baseURL = answers.baseURL.flatMap { try? EndpointURL(parsing: $0) }
        Console.out("register an app at \(preset.registrationPage(baseURL: baseURL))\n  \(preset.deviceFlowSetupHint)\n")
        answers.clientID = try prompt.value("client id: ")
        let host = (baseURL ?? preset.defaultBaseURL).map { "\($0.scheme.rawValue)://\($0.authority)/" }
        let gitURLs = try prompt.value("git URLs, separated by spaces (- for none)\(host.map { " [\($0)]" } ?? ""): ", allowEmpty: host != nil)
        answers.gitURLs = gitURLs == "-" ? [] : gitURLs.isEmpty ? [host!] : gitURLs.split(separator: " ").map(String.init)
        let text = ConfigInitCommand.template(preset, answers: answers)
        let (configuration, diagnostics) = AuthdConfiguration.validate(text: text, path: path)
        guard configuration != nil else {
            // Nothing is written: the answers are shown with what is wrong with them.
            Console.error(diagnostics.filter { $0.severity == .error }.map { $0.description + "\n" }.joined())
            throw .usage("these answers do not make a valid config (above); run authctl setup again, or write it with: authctl config init --provider \(preset.kind.rawValue)")
        }
        return (text, ConfigInitCommand.audienceName(preset))
    }

    static func spec(_ words: [String]) -> CommandSpec {
        CommandLineParser.lookUp(words)!
    }

    /// Plain line prompts on the terminal: stdout for the question, stdin for the answer.
    struct Prompt {
        mutating func line(_ question: String) throws(ClientFailure) -> String {
            _ = Console.out(question)
            guard let answer = readLine(strippingNewline: true) else {
                throw ClientFailure(.usageOrConfig, "no answer (end of input); nothing more was done; run authctl setup again")
            }
            return answer.trimmingSpaces
        }

        /// A value for the config file: no quotes, backslashes or control characters (asked again).
        mutating func value(_ question: String, allowEmpty: Bool = false) throws(ClientFailure) -> String {
            while true {
                let answer = try line(question)
                if answer.isEmpty && !allowEmpty { Console.out("an answer is needed\n"); continue }
                if answer.unicodeScalars.contains(where: { $0 == "\"" || $0 == "\\" || !TerminalText.isShowable($0) }) {
                    Console.out("that has a quote, a backslash or a control character; type it without\n")
                    continue
                }
                return answer
            }
        }

        mutating func yes(_ question: String) throws(ClientFailure) -> Bool {
            while true {
                switch try line(question).lowercased() {
                case "", "y", "yes": return true
                case "n", "no": return false
                default: Console.out("answer y or n\n")
                }
            }
        }
    }
}

