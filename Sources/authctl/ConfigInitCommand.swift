// authctl config init: writes a commented starting config (0600) for one provider preset, never over an existing file.
import AuthdClient
import AuthdConfig
import AuthdPosix

enum ConfigInitCommand {
    static func run(_ command: ParsedCommand, _ context: ClientContext) throws(ClientFailure) -> Int32 {
        let names = ProviderKind.allCases.map(\.rawValue)
        var preset: ProviderPreset?
        if let name = command.value("--provider") {
            // Provider names are compared without regard to case, as in the config.
            guard let kind = ProviderKind(rawValue: name.lowercased()) else {
                throw .usage("unknown provider \"\(name)\"\(Suggestion.didYouMean(name, among: names)); known: \(names.joined(separator: ", "))")
            }
            preset = ProviderPreset.preset(for: kind)
        }
        let path = try context.configPath()
        if FileSystem.exists(path) {
            throw .usage("\(path) already exists; edit it, or move it away and run authctl config init again")
        }
        try writeNew(template(preset), at: path)
        var next = "wrote \(path)"
        if let preset {
            next += "; put your app's client id into it (registration: \(InstalledDocs.path("providers.md")), \(preset.displayName)), then run: authctl config check"
        } else {
            next += "; uncomment and fill in an audience, then run: authctl config check"
        }
        Console.out(next + "\n")
        return 0
    }

    /// Creates the config file (mode 0600, its directory 0700); never replaces one.
    static func writeNew(_ text: String, at path: String) throws(ClientFailure) {
        do {
            if let slash = path.lastIndex(of: "/"), slash != path.startIndex {
                try FileSystem.makeDirectories(String(path[..<slash]), permissions: 0o700)
            }
            // O_EXCL: a file that appeared meanwhile is not overwritten; 0600 because a client
            // secret may be added to it later.
            let file = try FileDescriptor.open(path, .writeOnly, options: [.create, .exclusive, .noFollow], permissions: 0o600)
            try file.closeAfter { () throws(Errno) in try file.writeAll(text) }
        } catch {
            throw .usage("cannot write \(path): \(error)")
        }
    }

    /// Values `authctl setup` asked for; nil (or empty) leaves the placeholder or the comment.
    struct Answers {
        var clientID: String?
        var baseURL: String?
        var tenant: String?
        var issuer: String?
        var gitURLs: [String] = []
    }

    /// The file's text: the provider's keys, required ones set to a placeholder (or the answer
    /// given), optional ones commented out with the preset's value.
    static func template(_ preset: ProviderPreset?, answers: Answers = Answers()) -> String {
        var text = """
            # authd configuration: one [audience.NAME] per app registered at a provider.
            # Every key: \(InstalledDocs.path("configuration.md")). Check this file with: authctl config check --explain

            """
        guard let preset else {
            let names = ProviderKind.allCases.map(\.rawValue).joined(separator: ", ")
            return text + """

                # provider is one of: \(names)
                # [audience.github]
                # provider = "github"
                # client_id = "YOUR-CLIENT-ID"
                # git_urls = ["https://github.com/"]

                """
        }
        let name = audienceName(preset)
        text += "\n[audience.\(name)]\nprovider = \"\(preset.kind.rawValue)\"\n"
        if preset.usesBaseURL {
            if let base = answers.baseURL {
                text += "base_url = \"\(base)\"    # \(preset.baseURLDescription ?? "the provider's URL")\n"
            } else if let base = preset.defaultBaseURL {
                text += "# base_url = \"\(base)\"    # \(preset.baseURLDescription ?? "the provider's URL")\n"
            } else {
                text += "base_url = \"\(example(preset.baseURLDescription) ?? "https://YOUR-PROVIDER.example.com")\"    # \(preset.baseURLDescription ?? "the provider's URL")\n"
            }
        }
        if preset.kind == .oidc {
            text += "issuer = \"\(answers.issuer ?? "https://sso.example.com")\"    # your provider's issuer URL (discovery is read from it)\n"
        }
        if preset.usesTenant {
            text += "tenant = \"\(answers.tenant ?? preset.defaultTenant ?? "YOUR-TENANT-ID")\"    # your directory (tenant) id\n"
        }
        text += "client_id = \"\(answers.clientID ?? "YOUR-CLIENT-ID")\"    # from the app you registered; \(preset.deviceFlowSetupHint)\n"
        if preset.clientSecretPolicy == .expected || preset.clientSecretPolicy == .required {
            text += "client_secret_file = \"~/.config/authd/\(name).secret\"    # \(preset.displayName) needs the client secret (chmod 600 the file)\n"
        }
        text += "# scopes = [\(preset.defaultScopes.map { "\"\($0)\"" }.joined(separator: ", "))]    # the preset's default\n"
        for parameter in preset.expectedExtraParameters {
            text += "extra_params = { \(parameter) = \"YOUR-\(parameter.uppercased())\" }    # \(preset.displayName) needs it for useful tokens\n"
        }
        let host = preset.defaultBaseURL.map { $0.description.hasSuffix("/") ? $0.description : $0.description + "/" }
            ?? "https://git.example.com/"
        if answers.gitURLs.isEmpty {
            text += "# git_urls = [\"\(host)\"]    # answer git's credential requests for these URLs\n"
        } else {
            text += "git_urls = [\(answers.gitURLs.map { "\"\($0)\"" }.joined(separator: ", "))]    # answer git's credential requests for these URLs\n"
        }
        return text
    }

    /// The audience the template writes for the preset.
    static func audienceName(_ preset: ProviderPreset) -> String {
        preset.kind == .oidc ? "sso" : preset.kind.rawValue
    }

    /// `https://…` out of "the realm URL, e.g. https://sso.example.com/realms/REALM".
    private static func example(_ description: String?) -> String? {
        guard let description, let start = description.split(separator: " ").firstIndex(of: "e.g.") else { return nil }
        let words = description.split(separator: " ")
        return start + 1 < words.count ? String(words[start + 1]) : nil
    }
}
