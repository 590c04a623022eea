// authctl status: every audience's login as a table for people or JSON for scripts; never a token.
import AuthdClient
import AuthdPosix
import AuthdWire

enum StatusCommand {
    static func run(_ command: ParsedCommand, _ context: ClientContext) throws(ClientFailure) -> Int32 {
        let connection = try DaemonLauncher.connect(context)
        let payload = try RequestExchange.run(.status, on: connection)
        // Re-encoded from the known fields only: whatever else a daemon sends is not echoed.
        let rows = (payload["audiences"]?.arrayValue ?? []).compactMap(AudienceStatus.init(json:))
        if command.flag("--json") {
            Console.out(JSONValue.object([("audiences", .array(rows.map { $0.json() }))]).serialized() + "\n")
        } else if rows.isEmpty {
            Console.out("No audiences configured; add one to the config (see: authctl config check).\n")
        } else {
            Console.out(table(rows, now: SystemClock.wallClockSeconds()))
        }
        return 0
    }

    static func stateText(_ state: AudienceStatus.State) -> String {
        switch state {
        case .loggedOut: return "logged out"
        case .pending: return "waiting for approval"
        case .valid: return "logged in"
        case .refreshing: return "refreshing"
        case .loginNeeded: return "login needed"
        }
    }

    static func table(_ rows: [AudienceStatus], now: Int64) -> String {
        let header = ["AUDIENCE", "STATE", "EXPIRES IN", "REFRESH IN", "SCOPES", "ISSUER", "SESSION AGE"]
        var cells: [[String]] = [header]
        for row in rows {
            let expires = row.accessTokenExpiresAt.map { $0 > now ? HumanDuration.format(seconds: $0 - now) : "expired" } ?? "-"
            let refresh = row.refreshAt.map { $0 > now ? HumanDuration.format(seconds: $0 - now) : "now" } ?? "-"
            let age = row.loginAt.map { HumanDuration.format(seconds: now - $0) } ?? "-"
            let state = stateText(row.state) + (row.loginPending && row.state != .pending ? " (new login waiting for approval)" : "")
            // Daemon-supplied text (the issuer and scopes come from the config and the provider).
            cells.append([TerminalText.clean(row.audience), state, expires, refresh,
                          row.scopes.isEmpty ? "-" : TerminalText.clean(row.scopes.joined(separator: " ")),
                          TerminalText.clean(row.issuer ?? "-"), age])
        }
        var widths = [Int](repeating: 0, count: header.count)
        for line in cells { for (i, cell) in line.enumerated() { widths[i] = max(widths[i], cell.count) } }
        var text = ""
        for line in cells {
            var rendered = ""
            for (i, cell) in line.enumerated() {
                rendered += i == line.count - 1 ? cell : cell + String(repeating: " ", count: widths[i] - cell.count + 2)
            }
            text += rendered + "\n"
        }
        return text
    }
}
