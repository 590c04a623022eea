// git-credential-authctl: git's credential helper, answering from authd for URLs in an audience's git_urls.
import AuthdClient
import AuthdConfig
import AuthdPosix
import AuthdWire

@main
enum GitCredentialHelper {
    static func main() {
        CurrentProcess.ignoreBrokenPipe()
        let arguments = CurrentProcess.arguments()
        let status: Int32
        switch arguments.count > 1 ? arguments[1] : "" {
        case "get": status = run(action: .get)
        case "erase": status = run(action: .erase)
        case "--help", "-h", "help":
            Console.out(manual.help)
            status = 0
        case "--man":
            Console.out(manual.manPage)
            status = 0
        // `store` is a no-op: the daemon keeps the tokens. Unknown actions are ignored, as git asks.
        default: status = 0
        }
        CurrentProcess.exit(status)
    }

    enum Action { case get, erase }

    /// What the program does, in the words `--help` and the man page share.
    static let manual = HelperManual(
        program: "git-credential-authctl", actions: ["get", "store", "erase"], caller: "git",
        summary: "git's credential helper for authd: answers git with an audience's access token",
        paragraphs: paragraphs,
        seeAlso: [("authctl", 1), ("authd", 1), ("gitcredentials", 7)], helpSeeAlso: "authctl(1), gitcredentials(7)")
    private static let paragraphs = [
        "git runs it as a credential helper (see gitcredentials(7)). For `get`, when the URL git asks about matches an audience's `git_urls` in the authd config, it asks authd for that audience's access token and answers git with the user name and the token (or, for `git_auth = \"bearer\"` with git 2.46 and later, an ephemeral Bearer credential). An unmatched URL gets an empty answer, so git asks its other helpers. `erase` (git saw the token rejected) makes authd stop serving that token. `store` does nothing: authd keeps the tokens.",
        "A device-flow login is started only when a person can see the prompt (a controlling terminal, and not GIT_TERMINAL_PROMPT=0); otherwise a missing login is one line on stderr naming `authctl login AUD`.",
        "Set it up with: git config --global credential.https://HOST.helper \"\" followed by git config --global --add credential.https://HOST.helper /ABSOLUTE/PATH/git-credential-authctl (the empty entry keeps storing helpers configured before it from writing the token to disk).",
    ]

    /// git ignores a helper's exit status and reads whatever it printed, then asks the next
    /// helper; failures therefore exit 1 with nothing on stdout and one line on stderr.
    static func run(action: Action) -> Int32 {
        let input: GitCredentialInput
        do {
            input = try GitCredentialInput.read(from: .standardInput)
        } catch {
            Console.error("git-credential-authctl: \(error.message); ignoring this request\n")
            return 1
        }
        guard let scheme = input.scheme, let host = input.host else { return 0 }
        if let path = input.path, GitPath.hasDotSegment(path) {
            // The path is not echoed: it is the remote's text, and may carry terminal escapes.
            Console.error("git-credential-authctl: the repository path git sent has a . or .. segment; not answering for it (use the path without them)\n")
            return 1
        }
        // git erases what it saw rejected; with nothing named there is nothing to stop serving.
        if action == .erase, (input.credential ?? input.password ?? "").isEmpty { return 0 }
        let lookup = GitLookup(scheme: scheme, host: host, path: input.path, username: input.username, forErase: action == .erase)
        let context = ClientContext()
        do {
            // A running daemon maps the URL with the config it serves: the helper reads no config.
            // Anything short of its answer (no daemon, one too old to look up, a broken socket)
            // leaves the decision to the helper's own config below, which reports what matters.
            if let connection = (try? DaemonLauncher.connectIfRunning(context)) ?? nil, let answer = ask(lookup, on: connection) {
                try respond(action, input, answer, connection: connection)
                return 0
            }
            // No daemon: the helper's own config decides, so that a URL no audience claims never starts one.
            let configuration = try context.loadConfiguration()
            let answer = configuration.gitLookup(lookup)
            if answer.matches.isEmpty {
                try respond(action, input, answer, connection: nil)
                return 0
            }
            try respond(action, input, answer, connection: DaemonLauncher.connect(context, autostart: configuration.daemon.autostart))
            return 0
        } catch {
            Console.error("git-credential-authctl: \(error.message)\n")
            return error.exitCode == ClientExitStatus.interrupted.code ? error.exitCode : 1
        }
    }

    /// The daemon's `git_lookup` answer; nil when there is none to use (an older daemon refuses the
    /// operation as a bad request).
    static func ask(_ lookup: GitLookup, on connection: DaemonConnection) -> GitLookupAnswer? {
        guard let payload = try? RequestExchange.run(.gitLookup(lookup), on: connection) else { return nil }
        return GitLookupAnswer(json: payload)
    }

    static func respond(_ action: Action, _ input: GitCredentialInput, _ answer: GitLookupAnswer,
                        connection: DaemonConnection?) throws(ClientFailure) {
        guard let connection, let best = answer.matches.first else {
            hintUseHttpPath(answer.pathHint)
            return
        }
        switch action {
        case .get: try self.answer(input, best, connection: connection)
        case .erase: for match in answer.matches { try erase(input, audience: match.audience, connection: connection) }
        }
    }

    /// git sent no path, and only entries with a path name this host: without this line the
    /// person is left at git's bare `Username:` prompt with no idea why.
    static func hintUseHttpPath(_ hint: GitLookupAnswer.PathHint?) {
        guard let hint else { return }
        Console.error("git-credential-authctl: git sent no path, so git_urls entry \(hint.entry) does not match; to make git send it, run: \(hint.command)\n")
    }

    static func answer(_ input: GitCredentialInput, _ match: GitLookupAnswer.Match,
                       connection: DaemonConnection) throws(ClientFailure) {
        let context = ClientContext()
        // GIT_TERMINAL_PROMPT=0 is git's way of saying nobody is at the terminal: no device flow then.
        let promptsAllowed = CurrentProcess.environment("GIT_TERMINAL_PROMPT") != "0"
        let terminal = promptsAllowed ? try? Terminal.openControlling() : nil
        let payload: JSONValue
        let observer = terminal.map { InteractivePrompt(terminal: $0) }
        // Paste-back from the terminal only: stdin is git's.
        observer?.acceptPastedAddress(from: terminal, submit: PasteBack.submitter(context, audience: match.audience))
        do {
            payload = try RequestExchange.run(
                .get(audience: match.audience, minimumValiditySeconds: 60, interactive: terminal != nil),
                on: connection, observer: observer)
        } catch where error.protocolCode == .loginNeeded {
            // Through a forward the login happens where authd runs, not on this (remote) host.
            let where_ = AuthdPaths.namesForward(connection.path) ? "on the machine where authd runs" : "run"
            throw ClientFailure(exitCode: error.exitCode, "login needed for \(match.audience); \(where_): authctl login \(match.audience)")
        }
        let token = try TokenAnswer.accessToken(payload, audience: match.audience)
        let expiry = TokenAnswer(json: payload).expiresAt.map { "password_expiry_utc=\($0)\n" } ?? ""
        let answer: String
        if match.bearer && input.announcesAuthtype {
            // ephemeral: no other helper may store a token that expires within the hour.
            answer = "capability[]=authtype\nauthtype=Bearer\ncredential=\(token)\nephemeral=1\n" + expiry
        } else {
            answer = "username=\(match.username)\npassword=\(token)\n" + expiry
        }
        Console.out(answer)
    }

    /// git erases the credential the server rejected: the daemon stops serving that token, so
    /// the next `get` refreshes or starts a new login instead of handing it out again.
    static func erase(_ input: GitCredentialInput, audience: String, connection: DaemonConnection) throws(ClientFailure) {
        guard let rejected = input.credential ?? input.password, !rejected.isEmpty else { return }
        _ = try RequestExchange.run(.erase(audience: audience, fingerprint: TokenFingerprint.of(Array(rejected.utf8))),
                                    on: connection)
    }
}
