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
        let context = ClientContext()
        do {
            // No config, or a URL no audience claims: git goes on to other helpers and the
            // daemon is never contacted (so unrelated hosts never start it).
            let configuration = try context.loadConfiguration()
            guard let scheme = input.scheme, let host = input.host else { return 0 }
            if let path = input.path, GitPath.hasDotSegment(path) {
                // The path is not echoed: it is the remote's text, and may carry terminal escapes.
                Console.error("git-credential-authctl: the repository path git sent has a . or .. segment; not answering for it (use the path without them)\n")
                return 1
            }
            if action == .erase {
                for audience in configuration.audiencesForGitErase(forGitProtocol: scheme, host: host, path: input.path,
                                                                   username: input.username) {
                    try erase(input, audience: audience, context: context, autostart: configuration.daemon.autostart)
                }
                return 0
            }
            guard let audience = configuration.audience(forGitProtocol: scheme, host: host, path: input.path,
                                                                    username: input.username) else {
                hintUseHttpPath(configuration.gitPrefixesNeedingPath(forGitProtocol: scheme, host: host, path: input.path,
                                                                     username: input.username))
                return 0
            }
            try answer(input, audience: audience, context: context, autostart: configuration.daemon.autostart)
            return 0
        } catch {
            Console.error("git-credential-authctl: \(error.message)\n")
            return error.exitCode == ClientExitStatus.interrupted.code ? error.exitCode : 1
        }
    }

    /// git sent no path, and only entries with a path name this host: without this line the
    /// person is left at git's bare `Username:` prompt with no idea why.
    static func hintUseHttpPath(_ prefixes: [GitURLPrefix]) {
        guard let first = prefixes.first else { return }
        Console.error("git-credential-authctl: git sent no path, so git_urls entry \(first) does not match; to make git send it, run: \(first.useHttpPathCommand)\n")
    }

    static func answer(_ input: GitCredentialInput, audience: AudienceConfiguration,
                       context: ClientContext, autostart: Bool) throws(ClientFailure) {
        // GIT_TERMINAL_PROMPT=0 is git's way of saying nobody is at the terminal: no device flow then.
        let promptsAllowed = CurrentProcess.environment("GIT_TERMINAL_PROMPT") != "0"
        let terminal = promptsAllowed ? try? Terminal.openControlling() : nil
        let connection = try DaemonLauncher.connect(context, autostart: autostart)
        let payload: JSONValue
        let observer = terminal.map { InteractivePrompt(terminal: $0) }
        // Paste-back from the terminal only: stdin is git's.
        observer?.acceptPastedAddress(from: terminal, submit: PasteBack.submitter(context, audience: audience.name))
        do {
            payload = try RequestExchange.run(
                .get(audience: audience.name, minimumValiditySeconds: 60, interactive: terminal != nil),
                on: connection, observer: observer)
        } catch where error.protocolCode == .loginNeeded {
            // Through a forward the login happens where authd runs, not on this (remote) host.
            let where_ = AuthdPaths.namesForward(connection.path) ? "on the machine where authd runs" : "run"
            throw ClientFailure(exitCode: error.exitCode, "login needed for \(audience.name); \(where_): authctl login \(audience.name)")
        }
        let token = try TokenAnswer.accessToken(payload, audience: audience.name)
        let expiry = TokenAnswer(json: payload).expiresAt.map { "password_expiry_utc=\($0)\n" } ?? ""
        let answer: String
        if audience.gitAuth == .bearer && input.announcesAuthtype {
            // ephemeral: no other helper may store a token that expires within the hour.
            answer = "capability[]=authtype\nauthtype=Bearer\ncredential=\(token)\nephemeral=1\n" + expiry
        } else {
            answer = "username=\(audience.gitUsername)\npassword=\(token)\n" + expiry
        }
        Console.out(answer)
    }

    /// git erases the credential the server rejected: the daemon stops serving that token, so
    /// the next `get` refreshes or starts a new login instead of handing it out again.
    static func erase(_ input: GitCredentialInput, audience: AudienceConfiguration,
                      context: ClientContext, autostart: Bool) throws(ClientFailure) {
        guard let rejected = input.credential ?? input.password, !rejected.isEmpty else { return }
        let connection = try DaemonLauncher.connect(context, autostart: autostart)
        _ = try RequestExchange.run(.erase(audience: audience.name, fingerprint: TokenFingerprint.of(Array(rejected.utf8))),
                                    on: connection)
    }
}
