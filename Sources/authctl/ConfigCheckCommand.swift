// authctl config check: every problem in the config file, located by line and key; --explain shows where each setting came from.
import AuthdClient
import AuthdConfig
import AuthdPosix

enum ConfigCheckCommand {
    static func run(_ command: ParsedCommand, _ context: ClientContext) throws(ClientFailure) -> Int32 {
        let (path, bytes) = try context.configBytes()
        guard let bytes else {
            throw .usage("there is no config file at \(path); create it (see docs/clients.md) or pass --config PATH")
        }
        var (configuration, diagnostics) = AuthdConfiguration.validate(
            utf8: bytes, path: path, homeDirectory: CurrentProcess.environment("HOME"))
        if let configuration {
            diagnostics = sortedByLine(diagnostics + unreadableFiles(configuration, file: path))
        }
        if !diagnostics.isEmpty {
            Console.error(diagnostics.map { $0.description + "\n" }.joined())
        }
        guard let configuration else {
            let errors = diagnostics.filter { $0.severity == .error }.count
            throw .usage("\(path): \(errors) error\(errors == 1 ? "" : "s"); fix \(errors == 1 ? "it" : "them") and run authctl config check again")
        }
        let count = configuration.audiences.count
        var output = "config OK: \(count) audience\(count == 1 ? "" : "s")\n"
        if command.flag("--explain") {
            for audience in configuration.audiences { output += "\n" + audience.explanation.text }
        }
        Console.out(output)
        return 0
    }

    /// The daemon reads these files only when it first talks to the provider, so a missing one
    /// would otherwise surface at the first login. A warning, not an error: the file may be
    /// put in place (by a secrets manager, say) before that.
    static func unreadableFiles(_ configuration: AuthdConfiguration, file: String) -> [ConfigDiagnostic] {
        var warnings: [ConfigDiagnostic] = []
        for audience in configuration.audiences {
            var files: [(AudienceKey, String)] = []
            if case .file(let secretPath) = audience.clientSecret { files.append((.clientSecretFile, secretPath)) }
            if let caFile = audience.caFile { files.append((.caFile, caFile)) }
            for (key, filePath) in files {
                guard let problem = readProblem(filePath) else { continue }
                var line = audience.position.line
                if case .config(let keyLine) = audience.origin(of: key) { line = keyLine }
                warnings.append(ConfigDiagnostic(
                    severity: .warning, file: file, line: line, column: 1,
                    keyPath: "audience.\(audience.name).\(key.rawValue)",
                    message: "cannot read \(filePath): \(problem); logins of this audience will fail until it can be read"))
            }
        }
        return warnings
    }

    /// Why `path` cannot be read, or nil when it can. Only regular files are opened: opening
    /// a FIFO would wait for a writer.
    static func readProblem(_ path: String) -> String? {
        do {
            guard try FileSystem.status(path).kind == .regular else { return "not a regular file" }
            try FileDescriptor.open(path, .readOnly).close()
            return nil
        } catch {
            return error.description
        }
    }

    static func sortedByLine(_ diagnostics: [ConfigDiagnostic]) -> [ConfigDiagnostic] {
        diagnostics.enumerated().sorted { lhs, rhs in
            (lhs.element.line, lhs.offset) < (rhs.element.line, rhs.offset)
        }.map(\.element)
    }
}
