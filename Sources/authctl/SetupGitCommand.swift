// authctl setup git: makes git use git-credential-authctl (and only it) for the audiences' git_urls, written with git config itself.
import AuthdClient
import AuthdConfig
import AuthdPosix
import AuthdWire

enum SetupGitCommand {
    static func run(_ command: ParsedCommand, _ context: ClientContext) throws(ClientFailure) -> Int32 {
        let configuration = try context.loadConfiguration()
        let path = try context.configPath()
        let audiences = try selectedAudiences(command.operands, configuration, path: path)
        let helperPath = try helperNextToAuthctl()
        guard let git = CurrentProcess.executableOnPath("git") else {
            throw .usage("git is not on PATH; install git (Debian: apt install git), then run authctl setup git again")
        }
        let global = try credentialEntries(git, scope: ["--global"])
        let changes = GitSetup.changes(for: audiences.flatMap(\.gitURLs), helperPath: helperPath, global: global)
        let selected = AuthdConfiguration(daemon: configuration.daemon, audiences: audiences)
        let names = audiences.map(\.name).joined(separator: ", ")
        let globalOrigin = global.first?.origin ?? CurrentProcess.environment("GIT_CONFIG_GLOBAL").map { "file:" + $0 } ?? "file:~/.gitconfig"
        let place = "git's global config (\(globalOrigin.hasPrefix("file:") ? String(globalOrigin.dropFirst(5)) : globalOrigin))"

        if changes.isEmpty {
            Console.out("git is already set up for \(names) in \(place); nothing to change\n")
        } else {
            Console.out("\(command.flag("--print") ? "would change" : "changing") \(place):\n" + diff(changes))
        }
        let warnings: [ConfigDiagnostic]
        if command.flag("--print") {
            if !changes.isEmpty {
                Console.out("--print: nothing was written; these commands would write it:\n"
                            + changes.flatMap(\.gitArguments).map { "  git " + $0.map(shellQuoted).joined(separator: " ") + "\n" }.joined())
            }
            let all = try credentialEntries(git, scope: [])
            let earlier = Set(try credentialEntries(git, scope: ["--system"]).map(\.origin) + global.map(\.origin))
            let simulated = GitSetup.applying(changes, to: all, earlierOrigins: earlier, globalOrigin: globalOrigin)
            warnings = selected.gitSettingsWarnings(simulated, file: path)
        } else {
            for arguments in changes.flatMap(\.gitArguments) { try runGit(git, arguments) }
            // git itself says what it now does: every scope, includes, the repository's own config.
            warnings = ConfigCheckCommand.gitWarnings(selected, file: path)
        }
        if !warnings.isEmpty {
            Console.error(warnings.map { $0.description + "\n" }.joined())
        }
        return 0
    }

    /// The named audiences (each must have git_urls), or every audience that has them.
    static func selectedAudiences(_ names: [String], _ configuration: AuthdConfiguration, path: String) throws(ClientFailure)
        -> [AudienceConfiguration] {
        if names.isEmpty {
            let withURLs = configuration.audiences.filter { !$0.gitURLs.isEmpty }
            guard !withURLs.isEmpty else {
                throw .usage("no audience in \(path) has git_urls; add git_urls = [\"https://HOST/\"] to the audience git should use (docs/configuration.md), then run authctl setup git again")
            }
            return withURLs
        }
        var selected: [AudienceConfiguration] = []
        for name in names {
            guard AudienceName.isValid(name), let audience = configuration.audiences.first(where: { $0.name == name }) else {
                let known = configuration.audiences.map(\.name)
                throw .usage("no audience \"\(TerminalText.clean(name))\" in \(path)\(Suggestion.didYouMean(name, among: known)); see: authctl status")
            }
            guard !audience.gitURLs.isEmpty else {
                throw .usage("audience \(name) has no git_urls; add git_urls = [\"https://HOST/\"] to [audience.\(name)] in \(path), then run authctl setup git again")
            }
            selected.append(audience)
        }
        return selected
    }

    /// git-credential-authctl in the directory authctl runs from: the absolute path lets git start
    /// it directly, without a second git process, and names the copy installed with this authctl.
    static func helperNextToAuthctl() throws(ClientFailure) -> String {
        let executable: String
        do {
            executable = try FileSystem.readLink("/proc/self/exe")
        } catch {
            throw .usage("cannot find where authctl runs from (/proc/self/exe: \(error)); is /proc mounted?")
        }
        let directory = executable.lastIndex(of: "/").map { String(executable[..<$0]) } ?? "."
        let helper = (directory.isEmpty ? "" : directory) + "/git-credential-authctl"
        guard (try? FileSystem.status(helper).kind) == .regular else {
            throw .usage("\(helper) is missing: git-credential-authctl must be installed next to authctl (make install or the .deb puts both in one directory)")
        }
        return helper
    }

    /// git's `credential.*` entries in `scope` (`--global`, `--system`; none for all of them).
    static func credentialEntries(_ git: String, scope: [String]) throws(ClientFailure) -> [GitConfigEntry] {
        let arguments = ["config"] + scope + ["--null", "--show-origin", "--get-regexp", #"^credential\."#]
        let result: (status: ExitStatus, output: [UInt8])
        do {
            result = try SpawnedProcess.output(executable: git, arguments: arguments, maximumOutputBytes: 1 << 20)
        } catch {
            throw ClientFailure(.providerOrNetwork, "cannot run \(git): \(error.description)")
        }
        switch result.status {
        // 1: no such entry; 3 or more: an unreadable or invalid file, which git names on stderr.
        case .exited(0), .exited(1): return GitConfigEntry.parseList(result.output)
        default:
            throw ClientFailure(.providerOrNetwork, "git \(arguments.map(shellQuoted).joined(separator: " ")) failed (\(ending(result.status))); run it to see why, fix that, and run authctl setup git again")
        }
    }

    static func runGit(_ git: String, _ arguments: [String]) throws(ClientFailure) {
        let status: ExitStatus
        do {
            status = try SpawnedProcess.output(executable: git, arguments: arguments, maximumOutputBytes: 0).status
        } catch {
            throw ClientFailure(.providerOrNetwork, "cannot run \(git): \(error.description)")
        }
        guard status == .exited(0) else {
            throw ClientFailure(.providerOrNetwork, "git \(arguments.map(shellQuoted).joined(separator: " ")) failed (\(ending(status))); the changes listed before it were written; run it to see why, then run authctl setup git again")
        }
    }

    /// `- old` and `+ new` values under each key.
    static func diff(_ changes: [GitSetupChange]) -> String {
        changes.map { change in
            "  \(change.key)\n"
                + change.oldValues.map { "  - \(describe($0))\n" }.joined()
                + change.newValues.map { "  + \(describe($0))\n" }.joined()
        }.joined()
    }

    static func describe(_ value: String) -> String {
        value.isEmpty ? "(empty: git forgets the helpers configured before it)" : TerminalText.clean(value)
    }

    static func ending(_ status: ExitStatus) -> String {
        switch status {
        case .exited(let code): return "exit status \(code)"
        case .signalled(let signal): return "signal \(signal)"
        }
    }
}
