// authctl setup docker: credHelpers entries for the audiences' registries in docker's config.json, every other key kept, written atomically.
import AuthdClient
import AuthdConfig
import AuthdPosix
import AuthdWire

enum SetupDockerCommand {
    static func run(_ command: ParsedCommand, _ context: ClientContext) throws(ClientFailure) -> Int32 {
        let configuration = try context.loadConfiguration()
        let configPath = try context.configPath()
        let registries = configuration.audiences.flatMap(\.dockerRegistries)
        guard !registries.isEmpty else {
            throw .usage("no audience in \(configPath) has registries; add registries = [\"ghcr.io\"] to the audience whose token the registry takes (docs/configuration.md), then run authctl setup docker again")
        }
        let path = try dockerConfigPath()
        let existing: RegularFileContents?
        do {
            existing = try FileSystem.readRegularFile(path, RegularFileRequirements(maximumBytes: 4 << 20))
        } catch where error.isMissing {
            existing = nil
        } catch {
            throw .usage("cannot read \(path): \(error)")
        }
        var document: JSONValue?
        if let existing {
            do {
                document = try JSONValue.parse(existing.bytes, maximumDepth: 64)
            } catch {
                throw .usage("\(path) is not valid JSON (\(error.reason) at byte \(error.offset)); fix it, then run authctl setup docker again")
            }
        }
        let merged: (document: JSONValue, changes: [DockerSetupChange])
        do {
            merged = try DockerSetup.merged(document, registries: registries)
        } catch {
            throw .usage("cannot add credHelpers to \(path): \(error.message)")
        }
        if merged.changes.isEmpty {
            Console.out("docker already asks docker-credential-authctl for \(registries.joined(separator: ", ")) in \(path); nothing to change\n")
            return 0
        }
        var report = "\(command.flag("--print") ? "would change" : "changing") credHelpers in \(path):\n"
        for change in merged.changes {
            report += change.oldHelper.map { "  - \(change.registry): \(TerminalText.clean($0))\n" } ?? ""
            report += "  + \(change.registry): \(DockerSetup.helperName)\n"
        }
        if command.flag("--print") {
            Console.out(report + "--print: nothing was written\n")
            return 0
        }
        // The file may hold other registries' credentials: it keeps its mode (0600 when new).
        try writeReplacing(path, merged.document.serializedBytes() + [0x0A], permissions: existing?.status.permissions ?? 0o600)
        Console.out(report)
        if CurrentProcess.executableOnPath("docker-credential-authctl") == nil {
            Console.error("authctl: note: docker-credential-authctl is not on PATH; docker runs it from there (make install puts it next to authctl)\n")
        }
        return 0
    }

    /// `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`, as docker and podman read it.
    static func dockerConfigPath() throws(ClientFailure) -> String {
        if let directory = CurrentProcess.environment("DOCKER_CONFIG"), directory.hasPrefix("/") { return directory + "/config.json" }
        guard let home = CurrentProcess.environment("HOME"), home.hasPrefix("/") else {
            throw .usage("HOME is not set; set DOCKER_CONFIG to docker's config directory")
        }
        return home + "/.docker/config.json"
    }

    /// A temporary file next to `path`, synced, then renamed over it: a crash leaves the old
    /// file or the new one, never half of either.
    static func writeReplacing(_ path: String, _ bytes: [UInt8], permissions: UInt32) throws(ClientFailure) {
        guard let slash = path.lastIndex(of: "/") else { throw .usage("\(path) is not an absolute path") }
        let directory = String(path[..<slash])
        let temporary = path + ".authctl-\(CurrentProcess.processID).tmp"
        do {
            try FileSystem.makeDirectories(directory, permissions: 0o700)
            let file = try FileDescriptor.open(temporary, .writeOnly, options: [.create, .exclusive, .noFollow], permissions: permissions)
            do {
                try file.closeAfter { () throws(Errno) in
                    try file.writeAll(bytes)
                    try file.sync()
                }
                try FileSystem.setPermissions(temporary, permissions)
                try FileSystem.rename(temporary, to: path)
            } catch {
                try? FileSystem.remove(temporary)
                throw error
            }
            try? FileSystem.syncDirectory(directory)
        } catch {
            throw .usage("cannot write \(path): \(error)")
        }
    }
}
