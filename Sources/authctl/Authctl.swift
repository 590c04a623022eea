// authctl: the command-line client of authd. Entry point and dispatch.
import AuthdClient
import AuthdPosix
import AuthdWire

@main
enum Authctl {
    static func main() {
        CurrentProcess.ignoreBrokenPipe()
        let status: Int32
        do {
            status = try run(CurrentProcess.arguments().dropFirst())
        } catch {
            Console.error("authctl: \(error.message)\n")
            status = error.exitCode
        }
        CurrentProcess.exit(status)
    }

    static func run(_ arguments: ArraySlice<String>) throws(ClientFailure) -> Int32 {
        let invocation = try CommandLineParser.parse(arguments)
        guard let command = invocation.command else {
            Console.out(HelpText.overview())
            return 0
        }
        if command.wantsHelp {
            Console.out(HelpText.command(command.spec))
            return 0
        }
        let context = invocation.context
        guard command.flag("--json") else { return try dispatch(command, context) }
        do {
            return try dispatch(command, context)
        } catch {
            Console.out(CommandJSON.failure(error))
            return error.exitCode
        }
    }

    static func dispatch(_ command: ParsedCommand, _ context: ClientContext) throws(ClientFailure) -> Int32 {
        switch command.spec.id {
        case .get: return try GetCommand.run(command, context)
        case .login: return try LoginCommand.run(command, context)
        case .logout: return try LogoutCommand.run(command, context)
        case .status: return try StatusCommand.run(command, context)
        case .reload: return try ReloadCommand.run(command, context)
        case .audit: return try AuditCommand.run(command, context)
        case .configCheck: return try ConfigCheckCommand.run(command, context)
        case .configInit: return try ConfigInitCommand.run(command, context)
        case .setupGit: return try SetupGitCommand.run(command, context)
        case .setupDocker: return try SetupDockerCommand.run(command, context)
        case .setup: return try SetupCommand.run(command, context)
        case .version: return try VersionCommand.run(command, context)
        case .help: return try HelpCommand.run(command)
        case .completion: return try CompletionCommand.run(command)
        case .listAudiences: return AudienceListCommand.run(context)
        case .forward: return try ForwardCommand.run(command, context)
        case .ssh: return try SshCommand.run(command, context)
        case .kubeCredential: return try KubeCredentialCommand.run(command, context)
        }
    }

    /// An audience operand, checked before anything is sent.
    static func audience(_ command: ParsedCommand, _ index: Int = 0) throws(ClientFailure) -> String {
        let name = command.operands[index]
        guard AudienceName.isValid(name) else {
            throw .usage("\"\(name)\" is not an audience name (\(AudienceName.allowedCharacters)); see: authctl status")
        }
        return name
    }
}
