// authctl logout: revoke at the provider and erase locally, reported per audience.
import AuthdClient
import AuthdWire

enum LogoutCommand {
    static func run(_ command: ParsedCommand, _ context: ClientContext) throws(ClientFailure) -> Int32 {
        let all = command.flag("--all")
        let forgetClient = command.flag("--forget-client")
        let request: Request
        switch (all, command.operands.isEmpty) {
        case (true, true) where forgetClient:
            throw .usage("--forget-client deletes one audience's registered client; usage: authctl logout AUD --forget-client")
        case (true, true): request = .logoutAll
        case (false, false): request = .logout(audience: try Authctl.audience(command), forgetClient: forgetClient)
        case (true, false): throw .usage("give an audience or --all, not both; usage: authctl logout AUD | authctl logout --all")
        case (false, true): throw .usage("missing AUD; usage: authctl logout AUD | authctl logout --all")
        }
        let connection = try DaemonLauncher.connect(context)
        let payload = try RequestExchange.run(request, on: connection)
        let results = LogoutAnswer(json: payload).results
        if results.isEmpty {
            Console.out("No audience was logged in; nothing to revoke.\n")
            return 0
        }
        var report = ""
        var refused: [String] = []
        for result in results {
            // Daemon-supplied text, and the message quotes the provider: cleaned before printing.
            let audience = TerminalText.clean(result.audience)
            switch result.revocation {
            case .revoked:
                report += "\(audience): logged out; the provider revoked the tokens\n"
            case .notLoggedIn:
                report += "\(audience): not logged in; nothing to revoke\n"
            case .unsupported(let hint):
                report += "\(audience): logged out here; the provider has no revocation endpoint, so the tokens stay valid there until they expire or you revoke them there"
                if let hint { report += " (\(TerminalText.clean(hint)))" }
                report += "\n"
            case .refused(let message):
                refused.append(audience)
                report += "\(audience): not logged out: refused by the daemon's policy"
                if let message { report += " (\(TerminalText.clean(message)))" }
                report += "\n"
            case .failed(let message):
                report += "\(audience): logged out here, but revocation at the provider failed"
                if let message { report += " (\(TerminalText.clean(message)))" }
                report += "; the tokens stay valid there until they expire or you revoke them there\n"
            case .other:
                report += "\(audience): logged out\n"
            }
            report += forgottenClientLine(result, audience: audience)
        }
        Console.out(report)
        if results.contains(where: { if case .failed? = $0.client { return true } else { return false } }) {
            throw ClientFailure(exitCode: ClientExitStatus.providerOrNetwork.code, "the registered client was not deleted at the provider (the reason is on its line above); "
                                + "it is kept, so run the same command again, or delete it in the provider's admin console", protocolCode: .providerError)
        }
        if !refused.isEmpty {
            throw ClientFailure(exitCode: ClientExitStatus.refusedByPolicy.code, "not logged out of \(refused.joined(separator: ", ")): "
                           + "the daemon's policy refuses this program there (the reason is on its line above); "
                           + "log out from a program the audience allows, or change its allowed_clients or require_tty",
                           protocolCode: .refused)
        }
        return 0
    }

    /// `--forget-client`'s line: what happened to the client authd registered for the audience.
    static func forgottenClientLine(_ result: LogoutResult, audience: String) -> String {
        switch result.client {
        case .deleted(let clientID)?:
            return "\(audience): registered client \(TerminalText.clean(clientID)) deleted at the provider; the next login registers a new one\n"
        case let .forgottenOnly(clientID, why)?:
            return "\(audience): registered client \(TerminalText.clean(clientID)) forgotten here; \(TerminalText.clean(why))\n"
        case let .failed(clientID, why)?:
            return "\(audience): registered client \(TerminalText.clean(clientID)) not deleted: \(TerminalText.clean(why))\n"
        case .notRegistered?:
            return "\(audience): no registered client to forget (client_id names a client, or none was registered yet)\n"
        case nil:
            return ""
        }
    }
}
