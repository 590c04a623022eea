// The one description of authctl's command line: parsing, help, the man page and shell completion read it.
import AuthdWire
import AuthdConfig

/// What a shell should offer for an operand or an option's value.
enum CompletionKind {
    case none
    case audiences
    case files
    case words([String])
}

struct OptionSpec {
    /// `--min-valid`
    let name: String
    /// `DUR` for options that take a value; nil for flags.
    let valueName: String?
    let summary: String
    var completion: CompletionKind = .none
    /// Other spellings that mean the same option (`-v`, `--verbose`); parsed as `name`.
    var aliases: [String] = []

    func isNamed(_ spelling: String) -> Bool { spelling == name || aliases.contains(spelling) }

    /// `--explain, -v, --verbose` for help and the man page.
    var spellings: String { ([name] + aliases).joined(separator: ", ") }
}

struct OperandSpec {
    let name: String
    let optional: Bool
    let completion: CompletionKind
    /// Takes any number of values (`AUD…`); only the last operand may.
    var variadic = false
}

/// Declared in the order of help and the man page, which is also the order the parser tries them.
enum CommandID: UInt8, CaseIterable {
    case get, login, logout, status, reload, forward, ssh, audit, configCheck, configInit, kubeCredential, setupGit, setupDocker, setup, version, help, completion, listAudiences
}

/// A class, not a struct: the parser and the command pass one spec around, and copying (or
/// destroying) a struct of this many fields goes through its runtime type metadata, which costs
/// `authctl get` more at start-up than the whole lookup.
final class CommandSpec {
    let id: CommandID
    let operands: [OperandSpec]
    let options: [OptionSpec]
    let summary: String
    /// A paragraph for `--help` and the man page.
    let details: String
    let hidden: Bool
    /// After the first operand every argument is an operand, passed on unparsed (`authctl ssh HOST -p 2222`).
    let passesRestThrough: Bool

    init(id: CommandID, operands: [OperandSpec], options: [OptionSpec], summary: String, details: String,
         hidden: Bool = false, passesRestThrough: Bool = false) {
        self.id = id
        self.operands = operands
        self.options = options
        self.summary = summary
        self.details = details
        self.hidden = hidden
        self.passesRestThrough = passesRestThrough
    }

    /// The words that name it: `["get"]`, `["config", "check"]`.
    var words: [String] { id.words }

    var name: String { words.joined(separator: " ") }

    var synopsis: String {
        let operandParts = operands.map { operand in
            let name = operand.name + (operand.variadic ? "…" : "")
            return operand.optional ? "[\(name)]" : name
        }
        let optionParts = options.map { "[\($0.name)\($0.valueName.map { " " + $0 } ?? "")]" }
        // Options after the first operand would be passed on, so they are shown before it.
        return (["authctl", name] + (passesRestThrough ? optionParts + operandParts : operandParts + optionParts)).joined(separator: " ")
    }
}

enum CommandTable {
    static let globalOptions: [OptionSpec] = [
        OptionSpec(name: "--config", valueName: "PATH", summary: "the config file (default: $AUTHD_CONFIG, else $XDG_CONFIG_HOME/authd/config.toml)", completion: .files),
        OptionSpec(name: "--socket", valueName: "PATH", summary: "the daemon's socket (default: $AUTHD_SOCKET, else $XDG_RUNTIME_DIR/authd/socket)", completion: .files),
        OptionSpec(name: "--help", valueName: nil, summary: "show help for the command (also -h)"),
    ]

    /// Every command's spec, for help, the man page and completion (not for running one).
    static var commands: [CommandSpec] { CommandID.allCases.map(\.spec) }

    static var visibleCommands: [CommandSpec] { commands.filter { !$0.hidden } }
}

extension CommandID {
    /// The words that name it: `["get"]`, `["config", "check"]`. The parser takes the first command,
    /// in declaration order, whose words begin the command line (so `setup git` before `setup`).
    var words: [String] {
        switch self {
        case .get: ["get"]
        case .login: ["login"]
        case .logout: ["logout"]
        case .status: ["status"]
        case .reload: ["reload"]
        case .forward: ["forward"]
        case .ssh: ["ssh"]
        case .audit: ["audit"]
        case .configCheck: ["config", "check"]
        case .configInit: ["config", "init"]
        case .kubeCredential: ["kube-credential"]
        case .setupGit: ["setup", "git"]
        case .setupDocker: ["setup", "docker"]
        case .setup: ["setup"]
        case .version: ["version"]
        case .help: ["help"]
        case .completion: ["completion"]
        case .listAudiences: ["__audiences"]
        }
    }

    /// The command that `words` begin with; only the words are compared, no spec is built.
    static func named(by words: [String]) -> CommandID? {
        var raw: UInt8 = 0
        while let id = CommandID(rawValue: raw) {
            let own = id.words
            if words.count >= own.count && words[..<own.count].elementsEqual(own) { return id }
            raw += 1
        }
        return nil
    }

    /// Its description, built when asked: `authctl get` builds the one spec it runs, not the table.
    var spec: CommandSpec {
        switch self {
        case .get: CommandSpec(
            id: .get, operands: [OperandSpec(name: "AUD", optional: false, completion: .audiences)],
            options: [
                OptionSpec(name: "--min-valid", valueName: "DUR", summary: "serve a token valid for at least this long (default 60s; e.g. 90, 5m, 1h)"),
                OptionSpec(name: "--interactive", valueName: nil, summary: "prompt on stderr for a device flow even without a terminal"),
                OptionSpec(name: "--json", valueName: nil, summary: "print {\"json_version\",\"access_token\",\"token_type\",\"expires_at\",\"scopes\"} as JSON (times ISO 8601, errors as {\"error\":…})"),
                OptionSpec(name: "--header", valueName: nil, summary: "print an HTTP header line, Authorization: Bearer TOKEN (for curl -H @- or -H @<(...))"),
                OptionSpec(name: "--scope", valueName: "SCOPES", summary: "a token for just these of the granted scopes (space-separated, e.g. \"read:user repo\")"),
                OptionSpec(name: "--resource", valueName: "URI", summary: "a token for this one of the audience's configured resources (RFC 8707)"),
                OptionSpec(name: "--id-token", valueName: nil, summary: "print the login's verified, unexpired OpenID Connect id_token instead (--json: {\"id_token\",\"expires_at\"})"),
            ],
            summary: "print a valid access token for an audience",
            details: "Prints the access token and a newline on stdout, nothing else, so $(authctl get AUD) works; with --header it prints the whole header line instead, so the token can reach curl through a pipe rather than through curl's argv, which every local user can read (curl -H @- URL, or curl -H @<(authctl get AUD --header) URL). The daemon serves its cached token when it is valid long enough, refreshes it when it can, and otherwise runs a device flow: only when a person can see the prompt (a controlling terminal, or --interactive). Without one, it fails at once with exit status 3. With --scope or --resource it serves a narrower token cut from the login (a refresh-token grant asking for just those scopes or that resource, cached per scope set); a scope the login was not granted, or a resource the audience does not configure, is exit 2 with nothing sent to the provider.")
        case .login: CommandSpec(
            id: .login, operands: [OperandSpec(name: "AUD", optional: false, completion: .audiences)],
            options: [
                OptionSpec(name: "--flow", valueName: "METHOD", summary: "log in this once with auto, device or authcode (default: the audience's flow)",
                           completion: .words(LoginFlowChoice.allCases.map(\.rawValue))),
                OptionSpec(name: "--interactive", valueName: nil, summary: "without a terminal, read a pasted address (authorization code flow) from stdin"),
            ],
            summary: "log in now (device flow or authorization code flow), replacing the stored login",
            details: "Always prompts: on the terminal, else on stderr. With the authorization code flow the prompt shows the address to open (authctl opens it with xdg-open at once in a graphical session unless AUTHD_NO_BROWSER is set) and accepts the address the browser ends on, pasted on the terminal (or stdin with --interactive), for a browser that cannot reach this machine's loopback. Prints one line about the new login on stderr; stdout stays empty.")
        case .logout: CommandSpec(
            id: .logout, operands: [OperandSpec(name: "AUD", optional: true, completion: .audiences)],
            options: [OptionSpec(name: "--all", valueName: nil, summary: "log out of every audience"),
                      OptionSpec(name: "--forget-client", valueName: nil,
                                 summary: "also delete the client authd registered for AUD (client_id = \"register\"); the next login registers a new one")],
            summary: "revoke the tokens at the provider and erase them locally",
            details: "Revokes the refresh and access tokens at the provider (RFC 7009) when it has a revocation endpoint, and erases them from the daemon's memory and disk. Reports per audience whether the provider revoked them. A client authd registered itself (client_id = \"register\") is kept for the next login; --forget-client deletes it at the provider (RFC 7592, with its registration access token) where the provider allows that, and erases it from the store.")
        case .status: CommandSpec(
            id: .status, operands: [],
            options: [OptionSpec(name: "--json", valueName: nil, summary: "print {\"json_version\",\"audiences\":[...],\"config\"} as JSON, for scripts (times ISO 8601)")],
            summary: "show every configured audience's login",
            details: "One row per audience: state, access-token expiry, when the next refresh is scheduled, scopes, issuer and session age. Never prints a token.")
        case .reload: CommandSpec(
            id: .reload, operands: [], options: [],
            summary: "make the running daemon read its config file again now",
            details: "The daemon also notices on its own when the file changes (it compares the file with what it loaded before each request); this is for being sure. Prints what is served; an audience whose section has an error is named with its error and makes the exit status 2, while the rest is served. A file that cannot be read or parsed, or an error in [daemon], leaves the previous config in service (exit 2). Does not start the daemon.")
        case .forward: CommandSpec(
            id: .forward, operands: [],
            options: [
                OptionSpec(name: "--audiences", valueName: "A,B", summary: "serve only these audiences (default: all)", completion: .audiences),
                OptionSpec(name: "--ttl", valueName: "DUR", summary: "end the forward after this long (default 8h, at most 7d; e.g. 30m, 8h)"),
                OptionSpec(name: "--allow-login", valueName: nil, summary: "let a device or authorization-code login start through the forward (its prompt shows on the remote terminal)"),
                OptionSpec(name: "--socket", valueName: "PATH", summary: "bind the forward's socket at PATH (default: forward-ID.sock in authd's runtime directory)", completion: .files),
                OptionSpec(name: "--json", valueName: nil, summary: "print {\"id\",\"socket\",\"expires_at\"} (with --list: {\"forwards\":[...]})"),
                OptionSpec(name: "--list", valueName: nil, summary: "show the open forwards"),
                OptionSpec(name: "--close", valueName: "ID", summary: "end a forward now: its socket is removed and its connections closed"),
            ],
            summary: "open a restricted socket for a remote host or container (ssh -R, bind mount)",
            details: "Asks the running authd for a new socket that serves only get (access tokens of the forward's audiences), status filtered to them, and version; logout, config, refresh tokens and other audiences are not reachable through it, and a login starts through it only with --allow-login (otherwise the remote side is told to run authctl login AUD here). Prints the socket's path on stdout, so ssh -R /tmp/authd-forward.sock:$(authctl forward --audiences github) HOST works; see docs/remote.md. The forward ends at its TTL, on --close, or when authd stops or restarts (forwards are not kept across restarts); its socket is then removed and its connections closed. Never starts authd.")
        case .ssh: CommandSpec(
            id: .ssh, operands: [OperandSpec(name: "HOST", optional: false, completion: .none),
                       OperandSpec(name: "SSH-ARGS...", optional: true, completion: .none)],
            options: [
                OptionSpec(name: "--audiences", valueName: "A,B", summary: "serve only these audiences (default: all)", completion: .audiences),
                OptionSpec(name: "--ttl", valueName: "DUR", summary: "end the forward after this long even if ssh still runs (default 8h, at most 7d)"),
                OptionSpec(name: "--allow-login", valueName: nil, summary: "let a login start through the forward (its prompt shows on the remote terminal)"),
            ],
            summary: "open a forward and ssh to HOST with it as AUTHD_SOCKET; the forward is closed when ssh exits",
            details: "Opens a forward (as authctl forward), runs ssh -R /tmp/authd-forward-ID.sock:FORWARD -o SetEnv=AUTHD_SOCKET=/tmp/authd-forward-ID.sock HOST with the rest of the arguments passed to ssh unchanged, and closes the forward when ssh exits; exits with ssh's status. authctl's own options go before HOST. The remote sshd must accept the variable (AcceptEnv AUTHD_SOCKET) for SetEnv to set it, and should have StreamLocalBindUnlink yes. If authctl itself is killed, the forward ends at its TTL. See docs/remote.md.",
            passesRestThrough: true)
        case .audit: CommandSpec(
            id: .audit, operands: [OperandSpec(name: "AUD", optional: true, completion: .audiences)],
            options: [
                OptionSpec(name: "--since", valueName: "DUR", summary: "only records from the last DUR (e.g. 90, 10m, 2h, 1d)"),
                OptionSpec(name: "--json", valueName: nil, summary: "print {\"json_version\",\"records\":[...],\"source\"} as JSON (scopes as arrays)"),
            ],
            summary: "show authd's audit records, newest last",
            details: "Lists what the daemon did: device flows started and approved, tokens served (with the client's pid and executable), refreshes, erasures, logouts and revocations, refusals. When authd writes its audit records to the journal they are read back from there (authd's records of this user); otherwise they come from the daemon's in-memory record of its most recent 1000 events, which starts empty when the daemon starts. Records name tokens by fingerprint only; never a token. docs/operations.md lists the fields.")
        case .configCheck: CommandSpec(
            id: .configCheck, operands: [],
            options: [OptionSpec(name: "--explain", valueName: nil,
                                 summary: "also show each audience's effective settings and where each came from",
                                 aliases: ["-v", "--verbose"])],
            summary: "validate the config file",
            details: "Prints every problem as FILE:LINE: KEY: MESSAGE on stderr and exits with status 2 when there is an error; otherwise prints the number of audiences. With --explain it then prints, per audience, every effective setting and its origin: config (with the line), the provider preset, authd's default, or discovery at run time (the URLs are named; config check itself connects to nothing), followed by what authd does differently for the provider. Client secrets are never printed, only whether they are inline or read from a file.")
        case .configInit: CommandSpec(
            id: .configInit, operands: [],
            options: [OptionSpec(name: "--provider", valueName: "NAME",
                                 summary: "the provider preset to start from (github, gitlab, google, entra, azure-devops, keycloak, okta, auth0, oidc)",
                                 completion: .words(ProviderKind.allCases.map(\.rawValue)))],
            summary: "write a commented starting config file",
            details: "Writes the config file (mode 0600, its directory 0700) with one audience for the provider: the keys it needs, with placeholders to fill in, and the preset's optional ones commented out. Without --provider the audience is commented out. Never overwrites an existing file.")
        case .kubeCredential: CommandSpec(
            id: .kubeCredential, operands: [OperandSpec(name: "AUD", optional: false, completion: .audiences)],
            options: [
                OptionSpec(name: "--token", valueName: "KIND", summary: "id (the verified id_token; the default when the audience asks for openid) or access",
                           completion: .words(["id", "access"])),
                OptionSpec(name: "--print-kubeconfig", valueName: "USER", summary: "print the kubeconfig users: entry that runs this command, and exit"),
            ],
            summary: "the exec credential plugin for kubectl (client.authentication.k8s.io v1 and v1beta1)",
            details: "Run by kubectl, not by hand: reads KUBERNETES_EXEC_INFO and prints an ExecCredential in the apiVersion kubectl asked for (v1 when it names none), with status.token and status.expirationTimestamp (the token's own expiry, RFC 3339 UTC). When kubectl says spec.interactive is false no device flow starts: it fails with exit status 3 and one line naming authctl login AUD, which kubectl shows. --print-kubeconfig USER prints the users: entry to paste into a kubeconfig (docs/clients.md, \"kubectl\").")
        case .setupGit: CommandSpec(
            id: .setupGit, operands: [OperandSpec(name: "AUD", optional: true, completion: .audiences, variadic: true)],
            options: [OptionSpec(name: "--print", valueName: nil, summary: "only print what would change, and the git config commands that would write it")],
            summary: "make git use git-credential-authctl for the audiences' git_urls",
            details: "For each git_urls entry of the named audiences (default: every audience that has git_urls), sets credential.URL.helper in git's global config (git config --global: $GIT_CONFIG_GLOBAL, else ~/.gitconfig) to an empty value, which makes git forget the helpers configured before it (a system-wide store, say), followed by the absolute path of the git-credential-authctl next to authctl; and credential.URL.useHttpPath true for an entry with a path. Writes with git config itself, shows each change as - old and + new values, and changes nothing on a second run or for other URLs. Then warns about helpers git still runs after it (a repository's own config, git -c) that could store the token.")
        case .setupDocker: CommandSpec(
            id: .setupDocker, operands: [],
            options: [OptionSpec(name: "--print", valueName: nil, summary: "only print what would change")],
            summary: "make docker and podman ask docker-credential-authctl for the audiences' registries",
            details: "Adds credHelpers entries (registry: \"authctl\") to docker's config.json ($DOCKER_CONFIG/config.json, else ~/.docker/config.json) for every registry in the audiences' registries, keeping every other key, their order and the file's mode (0600 for a new file); written to a temporary file and renamed over the old one. Shows each change; a second run changes nothing.")
        // After `setup git` and `setup docker`: the parser takes the first spec whose words begin the command line.
        case .setup: CommandSpec(
            id: .setup, operands: [], options: [],
            summary: "first run: write a config for a provider, check it, log in and set up git",
            details: "On a terminal, asks for a provider, shows where to register an app for it, asks for the client id (and the provider's URL, tenant or issuer where it needs one) and the git URLs, writes the config file with config init's template (mode 0600; an existing file is used as it is), runs config check, offers to log in to each audience and then to run setup git. Without a terminal on stdin it prints the questions and exits with status 2.")
        case .version: CommandSpec(
            id: .version, operands: [], options: [],
            summary: "print the versions of authctl and of the running daemon",
            details: "Does not start the daemon.")
        case .help: CommandSpec(
            id: .help, operands: [OperandSpec(name: "COMMAND", optional: true, completion: .words(["get", "login", "logout", "status", "reload", "audit", "forward", "config", "setup", "kube-credential", "version", "completion"]))],
            options: [OptionSpec(name: "--man", valueName: nil, summary: "print the authctl(1) man page in roff")],
            summary: "show help for a command, or the man page",
            details: "authctl help COMMAND is the same as authctl COMMAND --help.")
        case .completion: CommandSpec(
            id: .completion, operands: [OperandSpec(name: "SHELL", optional: false, completion: .words(["bash", "zsh", "fish"]))], options: [],
            summary: "print a completion script for bash, zsh or fish",
            details: "For example: authctl completion bash > ~/.local/share/bash-completion/completions/authctl")
        case .listAudiences: CommandSpec(
            id: .listAudiences, operands: [], options: [],
            summary: "list the configured audience names (for completion scripts)", details: "", hidden: true)
        }
    }
}
