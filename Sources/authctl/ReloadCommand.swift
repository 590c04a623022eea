// authctl reload: the running daemon reads its config file again now and says how that went.
import AuthdClient
import AuthdWire

enum ReloadCommand {
    static func run(_ command: ParsedCommand, _ context: ClientContext) throws(ClientFailure) -> Int32 {
        guard let connection = try DaemonLauncher.connectIfRunning(context) else {
            Console.out("authd is not running; it reads the config when it starts\n")
            return 0
        }
        let payload = try RequestExchange.run(.reload, on: connection)
        let answer = ReloadAnswer(json: payload)
        let count = answer.audiences
        let path = answer.config.map { TerminalText.clean($0.path) } ?? "the config"
        var text = "reloaded \(path): serving \(count) audience\(count == 1 ? "" : "s")\n"
        let broken = answer.broken
        for summary in broken { text += "not served: \(TerminalText.clean(summary))\n" }
        Console.out(text)
        // Served, but not all of it: a script learns that something in the file is wrong.
        return broken.isEmpty ? 0 : ClientExitStatus.usageOrConfig.code
    }
}
