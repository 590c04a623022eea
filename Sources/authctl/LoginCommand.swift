// authctl login: a new login now (device or authorization code flow), prompting on the terminal or stderr.
import AuthdClient
import AuthdPosix
import AuthdWire

enum LoginCommand {
    static func run(_ command: ParsedCommand, _ context: ClientContext) throws(ClientFailure) -> Int32 {
        let audience = try Authctl.audience(command)
        var flow: LoginFlowChoice?
        if let text = command.value("--flow") {
            guard let choice = LoginFlowChoice(rawValue: text) else {
                throw ClientFailure(.usageOrConfig,
                                    "--flow must be one of auto, device, authcode (not \(TerminalText.clean(text)))")
            }
            flow = choice
        }
        let terminal = try? Terminal.openControlling()
        let connection = try DaemonLauncher.connect(context)
        let prompt = InteractivePrompt(terminal: terminal)
        // Paste-back: a line typed on the terminal, or stdin when asked, goes to the daemon on a second connection.
        let pasteSource = terminal ?? (command.flag("--interactive") ? FileDescriptor.standardInput : nil)
        prompt.acceptPastedAddress(from: pasteSource, submit: PasteBack.submitter(context, audience: audience))
        let payload = try RequestExchange.run(.login(audience: audience, flow: flow), on: connection, observer: prompt)
        var line = "Logged in to \(audience)"
        if let status = LoginAnswer(json: payload).status {
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
