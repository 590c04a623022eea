// authctl status: every audience's login as a table for people or JSON for scripts; never a token.
import AuthdClient
import AuthdPosix
import AuthdWire

enum StatusCommand {
    static func run(_ command: ParsedCommand, _ context: ClientContext) throws(ClientFailure) -> Int32 {
        let connection = try DaemonLauncher.connect(context)
        let payload = try RequestExchange.run(.status, on: connection)
        // Re-encoded from the known fields only: whatever else a daemon sends is not echoed.
        let answer = StatusAnswer(json: payload)
        let rows = answer.audiences
        let config = answer.config
        let now = SystemClock.wallClockSeconds()
        // --config names the file a daemon that authctl starts reads; a running one keeps its own.
        if let override = context.configOverride, let config, config.path != override {
            Console.error("authctl: note: --config \(override) is not what the running authd serves (\(TerminalText.clean(config.path))); it applies only when authctl starts the daemon\n")
        }
        if command.flag("--json") {
            var members: [(String, JSONValue)] = [("audiences", .array(rows.map { CommandJSON.withISOTimes($0.json()) }))]
            if let config { members.append(("config", CommandJSON.withISOTimes(config.json()))) }
            Console.out(CommandJSON.document(members))
            return 0
        }
        var text: String
        if rows.isEmpty {
            let file = config.map { " in \(TerminalText.clean($0.path))" } ?? ""
            text = "No audiences configured\(file); create one with: authctl config init --provider NAME, then authctl config check\n"
        } else {
            let columns = (try? FileDescriptor.standardOutput.windowSize())??.columns
            text = table(rows, now: now, columns: columns) + notes(rows, now: now)
        }
        if let config { text += describe(config, now: now) }
        Console.out(text)
        return 0
    }

    /// What the table has no room for: why a refresh keeps failing, which config error breaks an audience.
    static func notes(_ rows: [AudienceStatus], now: Int64) -> String {
        var text = ""
        for row in rows {
            let name = TerminalText.clean(row.audience)
            switch row.state {
            case .refreshFailing:
                let retry = row.refreshAt.map { $0 > now ? "; retrying in \(HumanDuration.format(seconds: $0 - now))" : "; retrying now" } ?? ""
                text += "\(name): refresh failing (\(TerminalText.clean(row.refreshError ?? "the provider did not answer")))\(retry); no login is needed\n"
            case .configError:
                text += "\(name): not served: \(TerminalText.clean(row.configError ?? "config error")); fix it, and authd reloads the file\n"
            default:
                break
            }
        }
        return text.isEmpty ? "" : "\n" + text
    }

    /// Which config the daemon serves, since when, and whether the file on disk differs.
    static func describe(_ config: ConfigFileStatus, now: Int64) -> String {
        let path = TerminalText.clean(config.path)
        var text = "\nconfig: \(path)"
        if let loadedAt = config.loadedAt {
            text += ", loaded \(HumanDuration.format(seconds: max(now - loadedAt, 0))) ago"
        } else {
            text += " (no such file when last loaded)"
        }
        text += "\n"
        if let failure = config.failure {
            let when = config.failedAt.map { " \(HumanDuration.format(seconds: max(now - $0, 0))) ago" } ?? ""
            let lines = failure.split(separator: "\n").map { TerminalText.clean(String($0)) }
            text += "config reload failed\(when); authd serves the previous config:\n" + lines.map { "  \($0)\n" }.joined()
        } else if config.changedSinceLoad {
            text += "the file changed since; authd reloads it with the next request (or: authctl reload)\n"
        }
        for error in config.otherErrors { text += "ignored: \(TerminalText.clean(error))\n" }
        return text
    }

    static func stateText(_ state: AudienceStatus.State) -> String {
        switch state {
        case .loggedOut: return "logged out"
        case .pending: return "waiting for approval"
        case .valid: return "logged in"
        case .refreshing: return "refreshing"
        case .loginNeeded: return "login needed"
        case .refreshFailing: return "refresh failing"
        case .configError: return "config error"
        }
    }

    /// The table for people. Every column when it fits in `columns` (or when the width is unknown,
    /// e.g. a pipe); otherwise the five a person needs first (MFA is not among them: `status --json`
    /// or a wider terminal shows it), so that 80 columns never wrap.
    static func table(_ rows: [AudienceStatus], now: Int64, columns: Int? = nil) -> String {
        let wide = ["AUDIENCE", "STATE", "WHO", "MFA", "EXPIRES IN", "REFRESH IN", "SCOPES", "ISSUER", "SESSION AGE"]
        var cells: [[String]] = [wide]
        for row in rows {
            let expires: String
            if let at = row.accessTokenExpiresAt {
                expires = at > now ? HumanDuration.format(seconds: at - now) : "expired"
            } else {
                // A live login whose token has no expiry (GitHub OAuth apps) never expires by itself.
                expires = row.state == .valid ? "never" : "-"
            }
            let refresh = row.refreshAt.map { $0 > now ? HumanDuration.format(seconds: $0 - now) : "now" } ?? "-"
            let age = row.loginAt.map { HumanDuration.format(seconds: now - $0) } ?? "-"
            let state = stateText(row.state) + (row.loginPending && row.state != .pending ? " (new login waiting for approval)" : "")
            // Daemon-supplied text (the issuer and scopes come from the config and the provider).
            cells.append([TerminalText.clean(row.audience), state, account(row, width: nil), mfa(row), expires, refresh,
                          row.scopes.isEmpty ? "-" : TerminalText.clean(row.scopes.joined(separator: " ")),
                          TerminalText.clean(row.issuer ?? "-"), age])
        }
        let full = render(cells)
        guard let columns, full.split(separator: "\n").contains(where: { $0.count > columns }) else { return full }
        // Narrow: AUDIENCE, STATE, WHO, EXPIRES IN, REFRESH IN (MFA only when there is room); WHO is shortened last.
        var narrow = cells.map { line in [0, 1, 2, 4, 5].map { line[$0] } }
        let others = (0..<5).filter { $0 != 2 }.map { column in narrow.map { $0[column].count }.max() ?? 0 }
        let room = columns - others.reduce(0, +) - 2 * 4
        for (i, row) in rows.enumerated() { narrow[i + 1][2] = account(row, width: max(room, 20)) }
        return render(narrow)
    }

    /// Who approved the login: the verified id_token's name. "(unverified)" only where that is the
    /// truth: an id_token came that no key could check (discarded), or an older daemon's subject.
    /// Shortened to fit `width`, the mark never.
    static func account(_ row: AudienceStatus, width: Int?) -> String {
        let verified = row.identity == "verified"
        guard let raw = row.subject, !raw.isEmpty else { return row.identity == "unverified" ? "(unverified)" : "-" }
        let subject = TerminalText.clean(raw)
        let mark = verified ? "" : " (unverified)"
        guard let width, subject.count + mark.count > width else { return subject + mark }
        return String(subject.prefix(max(width - mark.count - 1, 3))) + "…" + mark
    }

    /// Whether the verified sign-in used a second factor (the daemon's amr rule), with the methods.
    static func mfa(_ row: AudienceStatus) -> String {
        guard row.identity == "verified", let mfa = row.mfa else { return "-" }
        let methods = row.amr.isEmpty ? "" : " (" + TerminalText.clean(row.amr.joined(separator: ",")) + ")"
        return (mfa ? "yes" : "no") + methods
    }

    private static func render(_ cells: [[String]]) -> String { TextTable.render(cells) }
}
