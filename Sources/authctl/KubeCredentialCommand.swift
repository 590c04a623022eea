// authctl kube-credential: kubectl's exec credential plugin, answering with an access token or a verified id_token.
import AuthdClient
import AuthdConfig
import AuthdPosix
import AuthdWire

enum KubeCredentialCommand {
    enum TokenKind: String { case id, access }

    static func run(_ command: ParsedCommand, _ context: ClientContext) throws(ClientFailure) -> Int32 {
        let audience = try Authctl.audience(command)
        var kind: TokenKind?
        if let text = command.value("--token") {
            guard let given = TokenKind(rawValue: text) else { throw .usage("--token \(TerminalText.clean(String(text.prefix(40)))): give id or access") }
            kind = given
        }
        if let user = command.value("--print-kubeconfig") {
            guard !user.isEmpty, user.utf8.allSatisfy({ $0 >= 0x20 && $0 != 0x7F }) else {
                throw .usage("--print-kubeconfig needs a user name without control characters")
            }
            let resolved = try resolvedKind(kind, audience, context)
            Console.out(KubeExecCredential.kubeconfigUser(name: user, audience: audience, tokenKind: resolved.rawValue))
            return 0
        }
        let request = try KubeExecCredential.request(fromEnvironment: CurrentProcess.environment("KUBERNETES_EXEC_INFO"))
        // Without --token the config says (one small file read); the entry --print-kubeconfig
        // writes always names the kind, so kubectl's calls skip it.
        let tokenKind = try resolvedKind(kind, audience, context)
        // kubectl says whether a person can answer (spec.interactive); false means never a device flow.
        // Without that word from kubectl, authctl get's rule: a controlling terminal.
        let terminal: FileDescriptor? = request.interactive == false ? nil : try? Terminal.openControlling()
        let interactive = request.interactive ?? (terminal != nil)
        let connection = try DaemonLauncher.connect(context)
        let observer = interactive ? InteractivePrompt(terminal: terminal) : nil
        let token: String
        let expiresAt: Int64?
        switch tokenKind {
        case .access:
            let payload = try RequestExchange.run(
                .get(audience: audience, minimumValiditySeconds: 60, interactive: interactive), on: connection, observer: observer)
            token = try TokenAnswer.accessToken(payload, audience: audience)
            expiresAt = TokenAnswer(json: payload).expiresAt
        case .id:
            let payload = try RequestExchange.run(
                .getIDToken(audience: audience, minimumValiditySeconds: 60, interactive: interactive), on: connection, observer: observer)
            token = try TokenAnswer.idToken(payload, audience: audience)
            expiresAt = TokenAnswer(json: payload).expiresAt
        }
        Console.out(request.answer(token: token, expiresAt: expiresAt))
        return 0
    }

    static func resolvedKind(_ given: TokenKind?, _ audience: String, _ context: ClientContext) throws(ClientFailure) -> TokenKind {
        if let given { return given }
        return try defaultKind(audience, context)
    }

    /// `id` when the audience asks for the `openid` scope, else `access`.
    static func defaultKind(_ audience: String, _ context: ClientContext) throws(ClientFailure) -> TokenKind {
        let configuration = try context.loadConfiguration()
        guard let entry = configuration.audiences.first(where: { $0.name == audience }) else {
            throw .usage("no audience \(audience) in \(try context.configPath()); see: authctl status")
        }
        return entry.scopes.contains("openid") ? .id : .access
    }
}
