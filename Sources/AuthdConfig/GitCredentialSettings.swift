// What git's own configuration does with a `git_urls` entry: which credential helpers git runs for it, and whether it sends the path.

/// One `credential.*` setting, as `git config --null --show-origin --get-regexp '^credential\.'` lists it.
public struct GitConfigEntry: Sendable, Equatable {
    /// Where git read it: `file:/home/u/.gitconfig`, `command line:`, …
    public var origin: String
    /// The `<url>` of `credential.<url>.<variable>`; nil for `credential.<variable>`.
    public var urlPattern: String?
    /// Lower-cased, as git prints it: `helper`, `usehttppath`.
    public var variable: String
    /// nil for a key written without `=` (a boolean true).
    public var value: String?

    public init(origin: String, urlPattern: String?, variable: String, value: String?) {
        self.origin = origin
        self.urlPattern = urlPattern
        self.variable = variable
        self.value = value
    }

    /// The full key, as a person would pass it to `git config`.
    public var key: String {
        "credential." + (urlPattern.map { $0 + "." } ?? "") + variable
    }

    /// The file it came from, or nil for `-c`, `GIT_CONFIG_PARAMETERS` and the like.
    public var file: String? {
        origin.hasPrefix("file:") ? String(origin.dropFirst(5)) : nil
    }

    /// Parses `--null --show-origin` output: `origin NUL key LF value NUL` (no `LF value` for a
    /// key without `=`). Records that are not `credential.*` are skipped.
    public static func parseList(_ bytes: [UInt8]) -> [GitConfigEntry] {
        let fields = bytes.split(separator: 0, omittingEmptySubsequences: false)
        var entries: [GitConfigEntry] = []
        var index = 0
        while index + 1 < fields.count {
            let origin = String(decoding: fields[index], as: UTF8.self)
            let record = fields[index + 1]
            index += 2
            let keyBytes: ArraySlice<UInt8>
            var value: String?
            if let newline = record.firstIndex(of: 0x0A) {
                keyBytes = record[..<newline]
                value = String(decoding: record[(newline + 1)...], as: UTF8.self)
            } else {
                keyBytes = record
            }
            let key = String(decoding: keyBytes, as: UTF8.self)
            guard key.hasPrefix("credential."), let lastDot = key.lastIndex(of: ".") else { continue }
            let afterSection = key.index(key.startIndex, offsetBy: "credential.".count)
            let variable = String(key[key.index(after: lastDot)...])
            let pattern = lastDot > afterSection ? String(key[afterSection..<lastDot]) : nil
            entries.append(GitConfigEntry(origin: origin, urlPattern: pattern, variable: variable, value: value))
        }
        return entries
    }
}

/// What a credential helper does with a token git hands it after a successful request.
public enum GitHelperKind: Sendable, Equatable {
    /// git-credential-authctl: keeps nothing (the daemon has the token).
    case authctl
    /// `cache`: keeps credentials in memory only, for a timeout (15 minutes by default).
    case memoryOnly
    /// `store`: writes them in plain text to `~/.git-credentials` (or its `--file`).
    case plaintextFile
    /// Anything else (a keyring, a shell snippet, …): it may keep a copy.
    case unknown

    /// git runs `!cmd` with the shell, an absolute path as is, and `name args` as `git credential-name args`.
    public init(helper value: String) {
        let command = value.drop(while: { $0 == " " || $0 == "\t" })
        guard !command.hasPrefix("!") else { self = .unknown; return }
        let program = command.split(whereSeparator: { $0 == " " || $0 == "\t" }).first.map(String.init) ?? ""
        let name: String
        if program.contains("/") {
            let base = program.split(separator: "/").last.map(String.init) ?? ""
            guard base.hasPrefix("git-credential-") else { self = .unknown; return }
            name = String(base.dropFirst("git-credential-".count))
        } else {
            name = program
        }
        switch name {
        case "authctl": self = .authctl
        case "cache": self = .memoryOnly
        case "store": self = .plaintextFile
        default: self = .unknown
        }
    }
}

/// git's `credential.*` settings as they apply to one URL, by git's rules: every matching entry
/// counts, in the order git read them (not only the best match, as `git config --get-urlmatch`
/// would give), and an empty `helper` clears the helpers listed before it.
public struct GitCredentialSettings: Sendable, Equatable {
    /// The helpers git runs for the URL, in order.
    public var helpers: [GitConfigEntry] = []
    /// Whether git sends the path to helpers (`credential.useHttpPath`, the last matching one).
    public var useHttpPath = false

    public init(_ entries: [GitConfigEntry], for url: GitURLPrefix) {
        for entry in entries where Self.pattern(entry.urlPattern, matches: url) {
            switch entry.variable {
            case "helper":
                if let value = entry.value, !value.allSatisfy({ $0 == " " || $0 == "\t" }) {
                    helpers.append(entry)
                } else {
                    helpers.removeAll()
                }
            case "usehttppath":
                useHttpPath = Self.boolean(entry.value)
            default:
                break
            }
        }
    }

    /// git's boolean spellings; a key without `=` is true.
    static func boolean(_ value: String?) -> Bool {
        guard let value else { return true }
        switch value.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off", "": return false
        default: return Int(value).map { $0 != 0 } ?? false
        }
    }

    /// git's URL matching for `credential.<url>.*` (urlmatch.c): same scheme, host (a `*` stands
    /// for any text within one label), port and no user name in the pattern, and the pattern's
    /// path a whole-segment prefix of the URL's. A pattern without `scheme://` is git's partial
    /// form: the host alone (any scheme); with a path it names one repository and is not matched here.
    static func pattern(_ pattern: String?, matches url: GitURLPrefix) -> Bool {
        guard let pattern else { return true }
        guard let separator = pattern.firstRange(of: "://") else {
            return !pattern.contains("/") && !pattern.contains("@") && pattern.lowercased() == url.url.authority
        }
        guard pattern[..<separator.lowerBound].lowercased() == url.url.scheme.rawValue else { return false }
        let rest = pattern[separator.upperBound...]
        let authorityEnd = rest.firstIndex(of: "/") ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        // A user name in the pattern matches only requests for that user: not the helper's case.
        guard !authority.contains("@") else { return false }
        let patternSegments = GitPath.segments(rest[authorityEnd...])
        guard patternSegments.count <= url.pathSegments.count,
              zip(patternSegments, url.pathSegments).allSatisfy({ $0 == $1 }) else { return false }
        if authority.contains("*") {
            return wildcardHost(authority.lowercased(), matches: url.url)
        }
        guard let parsed = try? EndpointURL(parsing: url.url.scheme.rawValue + "://" + authority + "/") else { return false }
        return parsed.hostKind == url.url.hostKind && parsed.effectivePort == url.url.effectivePort
    }

    static func wildcardHost(_ authority: String, matches url: EndpointURL) -> Bool {
        guard case .name(let name) = url.hostKind else { return false }
        var host = Substring(authority)
        var port = url.scheme.defaultPort
        if let colon = host.lastIndex(of: ":") {
            guard let written = Int(host[host.index(after: colon)...]) else { return false }
            port = written
            host = host[..<colon]
        }
        guard port == url.effectivePort else { return false }
        let patternLabels = host.split(separator: ".", omittingEmptySubsequences: false)
        let labels = name.split(separator: ".", omittingEmptySubsequences: false)
        return patternLabels.count == labels.count && zip(patternLabels, labels).allSatisfy { glob($0, matches: $1) }
    }

    /// `*` matches any run of characters (within the label it is in).
    static func glob(_ pattern: Substring, matches text: Substring) -> Bool {
        guard let star = pattern.firstIndex(of: "*") else { return pattern == text }
        let head = pattern[..<star]
        let tail = pattern[pattern.index(after: star)...]
        guard text.hasPrefix(head) else { return false }
        var rest = text.dropFirst(head.count)
        while true {
            if glob(tail, matches: rest) { return true }
            guard !rest.isEmpty else { return false }
            rest = rest.dropFirst()
        }
    }
}

extension AuthdConfiguration {
    /// Warnings about how git's configuration (`entries`, nil when git is not installed) treats
    /// each audience's `git_urls`: helpers other than authctl that git hands the token to (git
    /// passes a credential that worked to *every* helper in the list for storing, before or after
    /// authctl), and entries with a path for which git sends no path.
    public func gitSettingsWarnings(_ entries: [GitConfigEntry]?, file: String) -> [ConfigDiagnostic] {
        var warnings: [ConfigDiagnostic] = []
        for audience in audiences {
            var line = audience.position.line
            if case .config(let keyLine) = audience.origin(of: .gitURLs) { line = keyLine }
            func warn(_ message: String) {
                warnings.append(ConfigDiagnostic(severity: .warning, file: file, line: line, column: 1,
                                                 keyPath: "audience.\(audience.name).git_urls", message: message))
            }
            for prefix in audience.gitURLs {
                let settings = entries.map { GitCredentialSettings($0, for: prefix) }
                if !prefix.pathSegments.isEmpty && settings?.useHttpPath != true {
                    warn("git sends helpers no path for \(prefix.url.scheme.rawValue)://\(prefix.url.authority) unless "
                         + "credential.useHttpPath is true for it, so \(prefix) never matches and git asks for a user name; "
                         + "run: \(prefix.useHttpPathCommand)")
                }
                guard let settings, settings.helpers.contains(where: { GitHelperKind(helper: $0.value ?? "") == .authctl }) else { continue }
                let bearerNote = audience.gitAuth == .bearer
                    ? " when authctl answers Basic (git before 2.46; later git gets a Bearer answer marked ephemeral, which tells helpers not to save it)"
                    : ""
                for helper in settings.helpers {
                    let value = helper.value ?? ""
                    let what: String
                    switch GitHelperKind(helper: value) {
                    case .authctl, .memoryOnly: continue
                    case .plaintextFile: what = "which writes it in plain text to ~/.git-credentials (or its --file)"
                    case .unknown: what = "which authd does not know; if it saves credentials, it keeps a copy of the token"
                    }
                    let place: String
                    let removal: String
                    if let helperFile = helper.file {
                        place = "\(helper.key) in \(helperFile)"
                        removal = "remove it with: git config --file \(shellQuoted(helperFile)) --fixed-value --unset-all "
                            + "\(shellQuoted(helper.key)) \(shellQuoted(value))"
                    } else if helper.origin.hasPrefix("command line") {
                        place = "\(helper.key), set with git -c or GIT_CONFIG_COUNT/GIT_CONFIG_PARAMETERS"
                        removal = "drop it from there"
                    } else {
                        place = "\(helper.key) from \(helper.origin)"
                        removal = "drop it from there"
                    }
                    warn("git hands the token for \(prefix) to every helper configured for it\(bearerNote), including "
                         + "\"\(value)\" (\(place)), \(what); \(removal), "
                         + "or keep it for other hosts as docs/clients.md describes (\"Other credential helpers\")")
                }
            }
        }
        return warnings
    }
}

/// `text` as one shell word.
public func shellQuoted(_ text: String) -> String {
    let plain = !text.isEmpty && text.unicodeScalars.allSatisfy {
        ($0 >= "a" && $0 <= "z") || ($0 >= "A" && $0 <= "Z") || ($0 >= "0" && $0 <= "9") || "-_./:=@%+,".unicodeScalars.contains($0)
    }
    return plain ? text : "'" + text.replacing("'", with: "'\\''") + "'"
}
