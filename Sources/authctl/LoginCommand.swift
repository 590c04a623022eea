// authctl login: a new device flow now, prompting on the terminal or stderr.
import AuthdClient
import AuthdPosix
import AuthdWire

enum LoginCommand {
    static func run(_ command: ParsedCommand, _ context: ClientContext) throws(ClientFailure) -> Int32 {
        let audience = try Authctl.audience(command)
        let terminal = try? Terminal.openControlling()
        let connection = try DaemonLauncher.connect(context)
        let payload = try RequestExchange.run(.login(audience: audience, flow: nil), on: connection,
                                              observer: InteractivePrompt(terminal: terminal))
        var line = "Logged in to \(audience)"
        if let status = payload["status"].flatMap(AudienceStatus.init(json:)) {
            var facts: [String] = []
            if !status.scopes.isEmpty { facts.append("scopes " + status.scopes.joined(separator: " ")) }
            if let expiresAt = status.accessTokenExpiresAt {
                facts.append("expires in " + HumanDuration.format(seconds: expiresAt - SystemClock.wallClockSeconds()))
            }
            if let subject = status.subject { facts.append("as " + subject) }
            if !facts.isEmpty { line += " (" + facts.joined(separator: ", ") + ")" }
        }
        // The subject and scopes come from the provider.
        Console.error(TerminalText.clean(line) + "\n")
        return 0
    }
}
