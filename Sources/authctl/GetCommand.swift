// authctl get: a valid access token on stdout, and nothing else.
import AuthdClient
import AuthdConfig
import AuthdPosix
import AuthdWire

enum GetCommand {
    static func run(_ command: ParsedCommand, _ context: ClientContext) throws(ClientFailure) -> Int32 {
        let audience = try Authctl.audience(command)
        if command.flag("--json") && command.flag("--header") {
            throw .usage("give --json or --header, not both")
        }
        if command.flag("--id-token") && (command.flag("--header") || command.value("--scope") != nil || command.value("--resource") != nil) {
            throw .usage("--id-token prints the id_token of the login; it takes no --header, --scope or --resource")
        }
        var minimumValidity = 60
        if let text = command.value("--min-valid") {
            do {
                minimumValidity = Int(try ConfigDuration.parse(text, allowBareSeconds: true).components.seconds)
            } catch {
                throw .usage("--min-valid \(text): \(error.message)")
            }
            guard minimumValidity <= Request.maximumMinimumValiditySeconds else { throw .usage("--min-valid \(text): at most 365d") }
        }
        // A device flow is started only when a person can see the prompt.
        let terminal = try? Terminal.openControlling()
        let interactive = terminal != nil || command.flag("--interactive")
        let connection = try DaemonLauncher.connect(context)
        let observer = interactive ? InteractivePrompt(terminal: terminal) : nil
        let wantsIDToken = command.flag("--id-token")
        let request: Request
        if wantsIDToken {
            request = .getIDToken(audience: audience, minimumValiditySeconds: minimumValidity, interactive: interactive)
        } else if let narrowing = try narrowing(command) {
            request = .getNarrowed(audience: audience, minimumValiditySeconds: minimumValidity, interactive: interactive, narrowing: narrowing)
        } else {
            request = .get(audience: audience, minimumValiditySeconds: minimumValidity, interactive: interactive)
        }
        // Paste-back only from a terminal here: a script's stdin is not the person's.
        observer?.acceptPastedAddress(from: terminal, submit: PasteBack.submitter(context, audience: audience))
        let payload = try RequestExchange.run(request, on: connection, observer: observer)
        if wantsIDToken {
            let token = try TokenAnswer.idToken(payload, audience: audience)
            if command.flag("--json") {
                let expiresAt: JSONValue = TokenAnswer(json: payload).expiresAt.map { .string(UTCTimestamp.iso8601($0)) } ?? .null
                Console.out(CommandJSON.document([("id_token", .string(token)), ("expires_at", expiresAt)]))
            } else {
                Console.out(token + "\n")
            }
            return 0
        }
        let token = try TokenAnswer.accessToken(payload, audience: audience)
        let answer = TokenAnswer(json: payload)
        if answer.shortOfMinimumValidity {
            // Served anyway (it is the best there is), but the script should know its assumption fails.
            let left = answer.expiresAt.map { " (it is valid for \(HumanDuration.format(seconds: max($0 - SystemClock.wallClockSeconds(), 0))))" } ?? ""
            Console.error("authctl: note: \(audience): the provider's tokens do not last --min-valid \(command.value("--min-valid") ?? ""); serving the freshest one\(left)\n")
        }
        if command.flag("--header") {
            // The scheme is the token type the daemon served; authd accepts only Bearer tokens.
            Console.out("Authorization: \(answer.tokenType) \(token)\n")
        } else if command.flag("--json") {
            let expiresAt: JSONValue = answer.expiresAt.map { .string(UTCTimestamp.iso8601($0)) } ?? .null
            Console.out(CommandJSON.document([
                ("access_token", .string(token)),
                ("token_type", .string(answer.tokenType)),
                ("expires_at", expiresAt),
                ("scopes", .array(answer.scopes.map { .string($0) })),
            ]))
        } else {
            Console.out(token + "\n")
        }
        return 0
    }

    /// `--scope "a b"` and `--resource URI`, checked before anything is sent; nil when neither is given.
    static func narrowing(_ command: ParsedCommand) throws(ClientFailure) -> TokenNarrowing? {
        let scope = command.value("--scope")
        let resource = command.value("--resource")
        guard scope != nil || resource != nil else { return nil }
        do {
            return try TokenNarrowing.parse(scope: scope, resources: resource.map { [$0] } ?? [])
        } catch {
            throw .usage((scope != nil ? "--scope" : "--resource") + ": " + error.message)
        }
    }
}
