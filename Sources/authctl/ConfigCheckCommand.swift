// authctl config check: every problem in the config file, located by line and key.
import AuthdClient
import AuthdConfig
import AuthdPosix

enum ConfigCheckCommand {
    static func run(_ command: ParsedCommand, _ context: ClientContext) throws(ClientFailure) -> Int32 {
        let (path, text) = try context.configText()
        guard let text else {
            throw .usage("there is no config file at \(path); create it (see docs/clients.md) or pass --config PATH")
        }
        let (configuration, diagnostics) = AuthdConfiguration.validate(
            text: text, path: path, homeDirectory: CurrentProcess.environment("HOME"))
        if !diagnostics.isEmpty {
            Console.error(diagnostics.map { $0.description + "\n" }.joined())
        }
        guard let configuration else {
            let errors = diagnostics.filter { $0.severity == .error }.count
            throw .usage("\(path): \(errors) error\(errors == 1 ? "" : "s"); fix \(errors == 1 ? "it" : "them") and run authctl config check again")
        }
        let count = configuration.audiences.count
        Console.out("config OK: \(count) audience\(count == 1 ? "" : "s")\n")
        return 0
    }
}
