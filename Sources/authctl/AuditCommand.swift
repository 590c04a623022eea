// authctl audit: authd's audit records, newest last, for people or as JSON lines; never a token.
import AuthdClient
import AuthdConfig
import AuthdWire

enum AuditCommand {
    static func run(_ command: ParsedCommand, _ context: ClientContext) throws(ClientFailure) -> Int32 {
        let audience: String? = command.operands.isEmpty ? nil : try Authctl.audience(command)
        var since: Int?
        if let text = command.value("--since") {
            do {
                since = Int(try ConfigDuration.parse(text, allowBareSeconds: true).components.seconds)
            } catch {
                throw .usage("--since \(text): \(error.message)")
            }
        }
        let connection = try DaemonLauncher.connect(context)
        let answer = AuditAnswer(json: try RequestExchange.run(.audit(audience: audience, sinceSeconds: since), on: connection))
        // Only string members are passed on: every audit field is text (docs/operations.md).
        let records: [[(String, String)]] = answer.records.map { record in
            (record.objectMembers ?? []).compactMap { name, value in value.stringValue.map { (name, $0) } }
        }
        if let note = answer.note { Console.error("authctl: \(TerminalText.clean(note))\n") }
        if let dropped = answer.dropped, dropped > 0 {
            Console.error("authctl: \(dropped) older record\(dropped == 1 ? "" : "s") fell out of the daemon's in-memory record; "
                          + "run authd under systemd to keep every record in the journal\n")
        }
        if command.flag("--json") {
            // The one --json shape (CommandJSON): a document, scope lists as arrays.
            let objects = records.map { record in
                JSONValue.object(record.map { name, value in
                    name == "scopes" ? (name, .array(value.split(separator: " ").map { .string(String($0)) })) : (name, .string(value))
                })
            }
            var members: [(String, JSONValue)] = [("records", .array(objects))]
            if let source = answer.source { members.append(("source", .string(source.rawValue))) }
            Console.out(CommandJSON.document(members))
        } else if records.isEmpty {
            Console.out("No audit records\(audience.map { " for \($0)" } ?? "")\(since == nil ? "" : " in that time").\n")
        } else {
            for record in records { Console.out(line(record) + "\n") }
        }
        return 0
    }

    /// `TIME EVENT MESSAGE` and then what the record names: scopes, token fingerprint, client, detail.
    static func line(_ record: [(String, String)]) -> String {
        func field(_ name: String) -> String? { record.first { $0.0 == name }?.1 }
        var parts = [field("time") ?? "-", field("audit") ?? "-", field("message") ?? ""]
        var extras: [String] = []
        if let scopes = field("scopes") { extras.append("scopes: \(scopes)") }
        if let fingerprint = field("token_fingerprint") { extras.append("token \(fingerprint)") }
        if let pid = field("client_pid") {
            extras.append("client pid \(pid)" + (field("client_exe").map { " \($0)" } ?? ""))
        }
        if let unattributed = field("client_unattributed") { extras.append("sender unknown: \(unattributed)") }
        if let detail = field("detail"), !(field("message") ?? "").contains(detail) { extras.append(detail) }
        if !extras.isEmpty { parts.append("(" + extras.joined(separator: "; ") + ")") }
        // Daemon-supplied text, some of it from a provider or a client: never raw to a terminal.
        return TerminalText.clean(parts.joined(separator: "  "))
    }
}
