// authctl config check: every problem in the config file, located by line and key; --explain shows where each setting came from.
import AuthdClient
import AuthdConfig
import AuthdPosix
import AuthdWire

enum ConfigCheckCommand {
    static func run(_ command: ParsedCommand, _ context: ClientContext) throws(ClientFailure) -> Int32 {
        let (path, bytes) = try context.configBytes()
        guard let bytes else {
            throw .usage("there is no config file at \(path); create one with: authctl config init --provider NAME (keys: \(InstalledDocs.path("configuration.md"))), or pass --config PATH")
        }
        var (configuration, diagnostics) = AuthdConfiguration.validate(
            utf8: bytes, path: path, homeDirectory: CurrentProcess.environment("HOME"))
        if let configuration {
            diagnostics = sortedByLine(diagnostics + unreadableFiles(configuration, file: path)
                                       + exposedSecrets(configuration, file: path)
                                       + gitWarnings(configuration, file: path))
        }
        if !diagnostics.isEmpty {
            Console.error(diagnostics.map { $0.description + "\n" }.joined())
        }
        let daemon = daemonNote(checked: path, context)
        guard let configuration else {
            let errors = diagnostics.filter { $0.severity == .error }.count
            if !daemon.isEmpty { Console.error(daemon) }
            throw .usage("\(path): \(errors) error\(errors == 1 ? "" : "s"); fix \(errors == 1 ? "it" : "them") and run authctl config check again")
        }
        let count = configuration.audiences.count
        var output = "config OK: \(count) audience\(count == 1 ? "" : "s")\n"
        if command.flag("--explain") {
            for audience in configuration.audiences { output += "\n" + audience.explanation.text }
        }
        Console.out(output + daemon)
        return 0
    }

    /// Which config the running daemon serves, when it loaded it, and whether that is this file;
    /// empty when no daemon runs (it reads the file when it starts). Asking it is also what makes
    /// it notice an edit: it compares the file with what it loaded before answering.
    static func daemonNote(checked path: String, _ context: ClientContext) -> String {
        guard let connection = try? DaemonLauncher.connectIfRunning(context),
              let payload = try? RequestExchange.run(.status, on: connection),
              let config = StatusAnswer(json: payload).config else { return "" }
        let pid = (try? DaemonLauncher.connectIfRunning(context)).flatMap { $0 }
            .flatMap { try? RequestExchange.run(.version, on: $0) }.flatMap(VersionAnswer.init(json:))?.pid.map { " (pid \($0))" } ?? ""
        let served = TerminalText.clean(config.path)
        guard config.path == path else {
            return "the running authd\(pid) serves \(served), not this file; its --config or AUTHD_CONFIG differs\n"
        }
        let now = SystemClock.wallClockSeconds()
        var note = "the running authd\(pid) serves this file"
        if let loadedAt = config.loadedAt { note += ", loaded \(HumanDuration.format(seconds: max(now - loadedAt, 0))) ago" }
        if let failure = config.failure {
            let first = failure.split(separator: "\n").first.map { TerminalText.clean(String($0)) } ?? ""
            note += "; its last reload failed (\(first)), so it serves the previous version"
        } else if config.changedSinceLoad {
            note += "; the file changed since, and authd reloads it with its next request"
        }
        return note + "\n"
    }

    /// An inline client secret in a config file that others can read (the daemon logs the same).
    /// The mode comes from a second `stat`: a warning, so a file changed in between costs nothing.
    static func exposedSecrets(_ configuration: AuthdConfiguration, file: String) -> [ConfigDiagnostic] {
        guard let status = try? FileSystem.status(file) else { return [] }
        return configuration.inlineSecretExposure(file: file, permissions: status.permissions,
                                                  chmodCommand: FileReadError.chmodCommand(file))
    }

    /// The daemon reads these files only when it first talks to the provider, so a missing one
    /// would otherwise surface at the first login. A warning, not an error: the file may be
    /// put in place (by a secrets manager, say) before that. Secret files are checked as the
    /// daemon checks them (ours, mode 0600 or tighter, a regular file).
    static func unreadableFiles(_ configuration: AuthdConfiguration, file: String) -> [ConfigDiagnostic] {
        var warnings: [ConfigDiagnostic] = []
        if let passphraseFile = configuration.daemon.storePassphraseFile,
           let problem = readProblem(passphraseFile, .secretFile) {
            warnings.append(ConfigDiagnostic(
                severity: .warning, file: file, line: configuration.daemon.storePassphraseFileLine ?? 1, column: 1,
                keyPath: "daemon.store_passphrase_file",
                message: "cannot use \(passphraseFile): \(problem); authd will not start until it can"))
        }
        for audience in configuration.audiences {
            var files: [(AudienceKey, String, RegularFileRequirements)] = []
            if case .file(let secretPath) = audience.clientSecret { files.append((.clientSecretFile, secretPath, .secretFile)) }
            if let caFile = audience.caFile { files.append((.caFile, caFile, RegularFileRequirements(maximumBytes: 1 << 30))) }
            for (key, filePath, requirements) in files {
                guard let problem = readProblem(filePath, requirements) else { continue }
                var line = audience.position.line
                if case .config(let keyLine) = audience.origin(of: key) { line = keyLine }
                warnings.append(ConfigDiagnostic(
                    severity: .warning, file: file, line: line, column: 1,
                    keyPath: "audience.\(audience.name).\(key.rawValue)",
                    message: "cannot read \(filePath): \(problem); logins of this audience will fail until it can be read"))
            }
            // libcurl reads ca_file as PEM; anything else fails every TLS connection of the audience.
            if let caFile = audience.caFile,
               let bytes = try? FileSystem.readRegularFile(caFile, RegularFileRequirements(maximumBytes: 1 << 30)).bytes,
               !containsPEMCertificate(bytes) {
                var line = audience.position.line
                if case .config(let keyLine) = audience.origin(of: .caFile) { line = keyLine }
                warnings.append(ConfigDiagnostic(
                    severity: .warning, file: file, line: line, column: 1, keyPath: "audience.\(audience.name).ca_file",
                    message: "\(caFile) holds no PEM certificate (no \"-----BEGIN CERTIFICATE-----\" line); TLS connections of this audience will fail; give a PEM bundle"))
            }
        }
        return warnings
    }

    /// What git's configuration does with the audiences' `git_urls`. git is asked, not its files
    /// read, so includes, `-c` and every scope count; without git on PATH (or with no git_urls)
    /// nothing is asked and only the static useHttpPath advice is given.
    static func gitWarnings(_ configuration: AuthdConfiguration, file: String) -> [ConfigDiagnostic] {
        guard configuration.audiences.contains(where: { !$0.gitURLs.isEmpty }) else { return [] }
        var entries: [GitConfigEntry]?
        var failure: [ConfigDiagnostic] = []
        if let git = CurrentProcess.executableOnPath("git") {
            do {
                let result = try SpawnedProcess.output(
                    executable: git, arguments: ["config", "--null", "--show-origin", "--get-regexp", #"^credential\."#],
                    maximumOutputBytes: 1 << 20)
                switch result.status {
                // 1: no credential.* setting at all.
                case .exited(0), .exited(1): entries = GitConfigEntry.parseList(result.output)
                case .exited(let code), .signalled(let code):
                    let ending = result.status == .exited(code) ? "exit status \(code)" : "signal \(code)"
                    failure.append(ConfigDiagnostic(
                        severity: .warning, file: file, line: 1, column: 1, keyPath: nil,
                        message: "\(git) config --get-regexp failed (\(ending)), so git's credential helpers were not checked; run it to see why"))
                }
            } catch {
                failure.append(ConfigDiagnostic(
                    severity: .warning, file: file, line: 1, column: 1, keyPath: nil,
                    message: "cannot run \(git): \(error.description), so git's credential helpers were not checked"))
            }
        }
        return failure + configuration.gitSettingsWarnings(entries, file: file)
    }

    /// Why the daemon could not use `path`, or nil when it could: the daemon's own read
    /// (`FileSystem.readRegularFile`), which never waits on a FIFO. The bytes are wiped at once.
    static func readProblem(_ path: String, _ requirements: RegularFileRequirements) -> String? {
        do {
            var bytes = try FileSystem.readRegularFile(path, requirements).bytes
            Wipe.bytes(&bytes)
            return nil
        } catch {
            return error.description
        }
    }

    static func containsPEMCertificate(_ bytes: [UInt8]) -> Bool {
        let marker = Array("-----BEGIN CERTIFICATE-----".utf8)
        guard bytes.count >= marker.count else { return false }
        return (0...(bytes.count - marker.count)).contains { start in bytes[start..<start + marker.count].elementsEqual(marker) }
    }

    static func sortedByLine(_ diagnostics: [ConfigDiagnostic]) -> [ConfigDiagnostic] {
        diagnostics.enumerated().sorted { lhs, rhs in
            (lhs.element.line, lhs.offset) < (rhs.element.line, rhs.offset)
        }.map(\.element)
    }
}
