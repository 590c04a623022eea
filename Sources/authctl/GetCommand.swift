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
        var minimumValidity = 60
        if let text = command.values["--min-valid"] {
            do {
                minimumValidity = Int(try ConfigDuration.parse(text, allowBareSeconds: true).components.seconds)
            } catch {
                throw .usage("--min-valid \(text): \(error.message)")
            }
            guard minimumValidity <= 31_536_000 else { throw .usage("--min-valid \(text): at most 365d") }
        }
        // A device flow is started only when a person can see the prompt.
        let terminal = try? Terminal.openControlling()
        let interactive = terminal != nil || command.flag("--interactive")
        let connection = try DaemonLauncher.connect(context)
        let observer = interactive ? InteractivePrompt(terminal: terminal) : nil
        let wantsIDToken = command.flag("--id-token")
        if wantsIDToken && command.flag("--header") { throw .usage("--header sends an access token; give --id-token or --header, not both") }
        let payload = try RequestExchange.run(
            wantsIDToken ? .getIDToken(audience: audience, minimumValiditySeconds: minimumValidity, interactive: interactive)
                : .get(audience: audience, minimumValiditySeconds: minimumValidity, interactive: interactive),
            on: connection, observer: observer)
        if wantsIDToken {
            let token = try TokenAnswer.idToken(payload, audience: audience)
            if command.flag("--json") {
                let expiresAt: JSONValue = payload["expires_at"]?.integerValue.map { .string(UTCTimestamp.iso8601($0)) } ?? .null
                Console.out(JSONValue.object([("id_token", .string(token)), ("expires_at", expiresAt)]).serialized() + "\n")
            } else {
                Console.out(token + "\n")
            }
            return 0
        }
        let token = try TokenAnswer.accessToken(payload, audience: audience)
        if command.flag("--header") {
            // The scheme is the token type the daemon served; authd accepts only Bearer tokens.
            Console.out("Authorization: \(payload["token_type"]?.stringValue ?? "Bearer") \(token)\n")
        } else if command.flag("--json") {
            let expiresAt: JSONValue = payload["expires_at"]?.integerValue.map { .string(UTCTimestamp.iso8601($0)) } ?? .null
            let json = JSONValue.object([
                ("access_token", .string(token)),
                ("token_type", .string(payload["token_type"]?.stringValue ?? "Bearer")),
                ("expires_at", expiresAt),
                ("scope", .string(payload["scope"]?.stringValue ?? "")),
            ])
            Console.out(json.serialized() + "\n")
        } else {
            Console.out(token + "\n")
        }
        return 0
    }
}
