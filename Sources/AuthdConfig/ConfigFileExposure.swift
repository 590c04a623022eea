// Which secrets a config file exposes when other users can read it: the one rule the daemon and authctl apply.

extension AuthdConfiguration {
    /// One warning per audience whose `client_secret` is written inline in `file`, when the
    /// file's `permissions` let group or others read it. `chmodCommand` is the exact command
    /// that fixes it (the caller knows how to quote the path for a shell). The daemon logs these at
    /// start and reload; `authctl config check` prints them.
    public func inlineSecretExposure(file: String, permissions: UInt32, chmodCommand: String) -> [ConfigDiagnostic] {
        guard permissions & 0o044 != 0 else { return [] }
        let digits = String(permissions & 0o7777, radix: 8)
        let mode = "0" + String(repeating: "0", count: max(0, 3 - digits.count)) + digits
        var warnings: [ConfigDiagnostic] = []
        for audience in audiences {
            guard case .inline = audience.clientSecret else { continue }
            var line = audience.position.line
            if case .config(let keyLine) = audience.origin(of: .clientSecret) { line = keyLine }
            warnings.append(ConfigDiagnostic(
                severity: .warning, file: file, line: line, column: 1,
                keyPath: "audience.\(renderKey(audience.name)).client_secret",
                message: "other users can read this client secret: the config file has mode \(mode); "
                    + "run: \(chmodCommand) (or move the secret into a client_secret_file of mode 0600)"))
        }
        return warnings
    }
}
