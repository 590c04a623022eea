// The one description of authctl's command line: parsing, help, the man page and shell completion read it.
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

enum CommandID {
    case get, login, logout, status, configCheck, configInit, setupGit, setup, version, help, completion, listAudiences
}

struct CommandSpec {
    let id: CommandID
    /// The words that name it: `["get"]`, `["config", "check"]`.
    let words: [String]
    let operands: [OperandSpec]
    let options: [OptionSpec]
    let summary: String
    /// A paragraph for `--help` and the man page.
    let details: String
    var hidden = false

    var name: String { words.joined(separator: " ") }

    var synopsis: String {
        var parts = ["authctl", name]
        for operand in operands {
            let name = operand.name + (operand.variadic ? "…" : "")
            parts.append(operand.optional ? "[\(name)]" : name)
        }
        for option in options { parts.append("[\(option.name)\(option.valueName.map { " " + $0 } ?? "")]") }
        return parts.joined(separator: " ")
    }
}

enum CommandTable {
    static let globalOptions: [OptionSpec] = [
        OptionSpec(name: "--config", valueName: "PATH", summary: "the config file (default: $AUTHD_CONFIG, else $XDG_CONFIG_HOME/authd/config.toml)", completion: .files),
        OptionSpec(name: "--socket", valueName: "PATH", summary: "the daemon's socket (default: $AUTHD_SOCKET, else $XDG_RUNTIME_DIR/authd/socket)", completion: .files),
        OptionSpec(name: "--help", valueName: nil, summary: "show help for the command (also -h)"),
    ]

    static let commands: [CommandSpec] = [
        CommandSpec(
            id: .get, words: ["get"],
            operands: [OperandSpec(name: "AUD", optional: false, completion: .audiences)],
            options: [
                OptionSpec(name: "--min-valid", valueName: "DUR", summary: "serve a token valid for at least this long (default 60s; e.g. 90, 5m, 1h)"),
                OptionSpec(name: "--interactive", valueName: nil, summary: "prompt on stderr for a device flow even without a terminal"),
                OptionSpec(name: "--json", valueName: nil, summary: "print {\"access_token\",\"token_type\",\"expires_at\",\"scope\"} as JSON"),
                OptionSpec(name: "--header", valueName: nil, summary: "print an HTTP header line, Authorization: Bearer TOKEN (for curl -H @- or -H @<(...))"),
            ],
            summary: "print a valid access token for an audience",
            details: "Prints the access token and a newline on stdout, nothing else, so $(authctl get AUD) works; with --header it prints the whole header line instead, so the token can reach curl through a pipe rather than through curl's argv, which every local user can read (curl -H @- URL, or curl -H @<(authctl get AUD --header) URL). The daemon serves its cached token when it is valid long enough, refreshes it when it can, and otherwise runs a device flow: only when a person can see the prompt (a controlling terminal, or --interactive). Without one, it fails at once with exit status 3."),
        CommandSpec(
            id: .login, words: ["login"],
            operands: [OperandSpec(name: "AUD", optional: false, completion: .audiences)], options: [],
            summary: "run a new device flow now, replacing the stored login",
            details: "Always prompts: on the terminal, else on stderr. Prints one line about the new login on stderr; stdout stays empty."),
        CommandSpec(
            id: .logout, words: ["logout"],
            operands: [OperandSpec(name: "AUD", optional: true, completion: .audiences)],
            options: [OptionSpec(name: "--all", valueName: nil, summary: "log out of every audience")],
            summary: "revoke the tokens at the provider and erase them locally",
            details: "Revokes the refresh and access tokens at the provider (RFC 7009) when it has a revocation endpoint, and erases them from the daemon's memory and disk. Reports per audience whether the provider revoked them."),
        CommandSpec(
            id: .status, words: ["status"], operands: [],
            options: [OptionSpec(name: "--json", valueName: nil, summary: "print {\"audiences\":[...]} as JSON, for scripts")],
            summary: "show every configured audience's login",
            details: "One row per audience: state, access-token expiry, when the next refresh is scheduled, scopes, issuer and session age. Never prints a token."),
        CommandSpec(
            id: .configCheck, words: ["config", "check"], operands: [],
            options: [OptionSpec(name: "--explain", valueName: nil,
                                 summary: "also show each audience's effective settings and where each came from",
                                 aliases: ["-v", "--verbose"])],
            summary: "validate the config file",
            details: "Prints every problem as FILE:LINE: KEY: MESSAGE on stderr and exits with status 2 when there is an error; otherwise prints the number of audiences. With --explain it then prints, per audience, every effective setting and its origin: config (with the line), the provider preset, authd's default, or discovery at run time (the URLs are named; config check itself connects to nothing), followed by what authd does differently for the provider. Client secrets are never printed, only whether they are inline or read from a file."),
        CommandSpec(
            id: .configInit, words: ["config", "init"], operands: [],
            options: [OptionSpec(name: "--provider", valueName: "NAME",
                                 summary: "the provider preset to start from (github, gitlab, google, entra, azure-devops, keycloak, okta, auth0, oidc)",
                                 completion: .words(ProviderKind.allCases.map(\.rawValue)))],
            summary: "write a commented starting config file",
            details: "Writes the config file (mode 0600, its directory 0700) with one audience for the provider: the keys it needs, with placeholders to fill in, and the preset's optional ones commented out. Without --provider the audience is commented out. Never overwrites an existing file."),
        CommandSpec(
            id: .setupGit, words: ["setup", "git"],
            operands: [OperandSpec(name: "AUD", optional: true, completion: .audiences, variadic: true)],
            options: [OptionSpec(name: "--print", valueName: nil, summary: "only print what would change, and the git config commands that would write it")],
            summary: "make git use git-credential-authctl for the audiences' git_urls",
            details: "For each git_urls entry of the named audiences (default: every audience that has git_urls), sets credential.URL.helper in git's global config (git config --global: $GIT_CONFIG_GLOBAL, else ~/.gitconfig) to an empty value, which makes git forget the helpers configured before it (a system-wide store, say), followed by the absolute path of the git-credential-authctl next to authctl; and credential.URL.useHttpPath true for an entry with a path. Writes with git config itself, shows each change as - old and + new values, and changes nothing on a second run or for other URLs. Then warns about helpers git still runs after it (a repository's own config, git -c) that could store the token."),
        // After `setup git`: the parser takes the first spec whose words begin the command line.
        CommandSpec(
            id: .setup, words: ["setup"], operands: [], options: [],
            summary: "first run: write a config for a provider, check it, log in and set up git",
            details: "On a terminal, asks for a provider, shows where to register an app for it, asks for the client id (and the provider's URL, tenant or issuer where it needs one) and the git URLs, writes the config file with config init's template (mode 0600; an existing file is used as it is), runs config check, offers to log in to each audience and then to run setup git. Without a terminal on stdin it prints the questions and exits with status 2."),
        CommandSpec(
            id: .version, words: ["version"], operands: [], options: [],
            summary: "print the versions of authctl and of the running daemon",
            details: "Does not start the daemon."),
        CommandSpec(
            id: .help, words: ["help"],
            operands: [OperandSpec(name: "COMMAND", optional: true, completion: .words(["get", "login", "logout", "status", "config", "setup", "version", "completion"]))],
            options: [OptionSpec(name: "--man", valueName: nil, summary: "print the authctl(1) man page in roff")],
            summary: "show help for a command, or the man page",
            details: "authctl help COMMAND is the same as authctl COMMAND --help."),
        CommandSpec(
            id: .completion, words: ["completion"],
            operands: [OperandSpec(name: "SHELL", optional: false, completion: .words(["bash", "zsh", "fish"]))], options: [],
            summary: "print a completion script for bash, zsh or fish",
            details: "For example: authctl completion bash > ~/.local/share/bash-completion/completions/authctl"),
        CommandSpec(
            id: .listAudiences, words: ["__audiences"], operands: [], options: [],
            summary: "list the configured audience names (for completion scripts)", details: "", hidden: true),
    ]

    static var visibleCommands: [CommandSpec] { commands.filter { !$0.hidden } }

    static let exitStatuses: [(Int32, String)] = [
        (0, "success"),
        (1, "provider or network error"),
        (2, "usage or config error"),
        (3, "login needed but nobody can be prompted (run authctl login AUD)"),
        (4, "the person denied the request or the code expired"),
        (5, "the daemon cannot be reached and could not be started"),
        (6, "refused by the daemon's policy (allowed_clients, require_tty)"),
        (130, "interrupted with Ctrl-C"),
    ]
}
