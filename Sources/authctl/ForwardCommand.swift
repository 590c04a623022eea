// authctl forward: open, list and close restricted forwarding sockets for remote hosts and containers (docs/remote.md).
import AuthdClient
import AuthdConfig
import AuthdPosix
import AuthdWire

enum ForwardCommand {
    static func run(_ command: ParsedCommand, _ context: ClientContext) throws(ClientFailure) -> Int32 {
        let openingOptions = ["--audiences", "--ttl", "--socket"].filter { command.value($0) != nil } + (command.flag("--allow-login") ? ["--allow-login"] : [])
        if command.flag("--list") || command.value("--close") != nil {
            if command.flag("--list") && command.value("--close") != nil { throw .usage("give --list or --close ID, not both") }
            if let first = openingOptions.first { throw .usage("\(first) is for opening a forward; it does not go with --list or --close") }
        }
        // Forwards are managed where authd runs: never start a daemon that would serve nothing.
        guard let connection = try DaemonLauncher.connectIfRunning(context) else {
            throw .daemonUnreachable("authd is not running, so there is nothing to forward; start it with: systemctl --user start authd.socket")
        }
        if command.flag("--list") { return try list(command, connection) }
        if let id = command.value("--close") {
            guard ForwardOpening.isValidID(id) else { throw .usage("\(id) is not a forward id; see: authctl forward --list") }
            _ = try RequestExchange.run(.forwardClose(id: id), on: connection)
            Console.error("forward \(id) closed: its socket is removed and its connections are closed\n")
            return 0
        }
        let request = try opening(command)
        let payload = try RequestExchange.run(.forwardOpen(request), on: connection)
        guard let forward = ForwardAnswer(json: payload) else {
            throw ClientFailure(.providerOrNetwork, "authd's answer names no forward; are authctl and authd the same version?")
        }
        let (id, socket, expiresAt) = (forward.id, forward.socket, forward.expiresAt)
        if command.flag("--json") {
            Console.out(JSONValue.object([("id", .string(id)), ("socket", .string(socket)), ("expires_at", .integer(expiresAt))]).serialized() + "\n")
        } else {
            // stdout is the path alone, for ssh -R REMOTE:$(authctl forward).
            Console.out(socket + "\n")
        }
        let audiences = request.audiences?.joined(separator: ", ") ?? "all audiences"
        Console.error("forward \(id) serves \(audiences) until \(UTCTimestamp.iso8601(expiresAt))"
                      + (request.allowLogin ? " (logins allowed)" : "")
                      + "; it also ends when authd stops or restarts; close it with: authctl forward --close \(id)\n")
        return 0
    }

    /// The forward asked for by --audiences, --ttl, --allow-login and --socket (shared with authctl ssh).
    static func opening(_ command: ParsedCommand) throws(ClientFailure) -> ForwardOpening {
        var request = ForwardOpening()
        if let text = command.value("--audiences") {
            let names = text.split(separator: ",").map { String($0).trimmingSpaces }.filter { !$0.isEmpty }
            guard !names.isEmpty else { throw .usage("--audiences needs at least one audience name, e.g. --audiences github,gitlab") }
            for name in names where !AudienceName.isValid(name) {
                throw .usage("\"\(name)\" is not an audience name (letters, digits, '.', '_' and '-'); see: authctl status")
            }
            request.audiences = names
        }
        if let text = command.value("--ttl") {
            let seconds: Int64
            do {
                seconds = try ConfigDuration.parse(text, allowBareSeconds: true).components.seconds
            } catch {
                throw .usage("--ttl \(text): \(error.message)")
            }
            guard seconds >= 1, seconds <= Int64(ForwardOpening.maximumTTLSeconds) else { throw .usage("--ttl \(text): between 1s and 7d") }
            request.ttlSeconds = Int(seconds)
        }
        request.allowLogin = command.flag("--allow-login")
        if let path = command.value("--socket") {
            guard path.hasPrefix("/") else { throw .usage("--socket \(path): give an absolute path") }
            guard path.utf8.count < 108 else { throw .usage("--socket \(path): longer than 107 bytes, the limit of a Unix socket address") }
            request.socket = path
        }
        return request
    }

    static func list(_ command: ParsedCommand, _ connection: DaemonConnection) throws(ClientFailure) -> Int32 {
        let payload = try RequestExchange.run(.forwardList, on: connection)
        let rows = ForwardListAnswer(json: payload).forwards
        if command.flag("--json") {
            Console.out(ForwardListAnswer(forwards: rows).json().serialized() + "\n")
            return 0
        }
        if rows.isEmpty {
            Console.out("No forwards are open; open one with: authctl forward --audiences AUD\n")
            return 0
        }
        var cells = [["ID", "ENDS IN", "AUDIENCES", "LOGIN", "SOCKET"]]
        for row in rows {
            // Daemon-supplied text: cleaned before it reaches the terminal.
            let audiences = row.audiences?.joined(separator: ",") ?? "all"
            cells.append([row.id, HumanDuration.format(seconds: row.expiresIn), audiences, row.allowLogin ? "allowed" : "no",
                          row.socket].map(TerminalText.clean))
        }
        Console.out(TextTable.render(cells))
        return 0
    }
}

