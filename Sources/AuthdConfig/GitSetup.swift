// What `authctl setup git` changes in git's global config for the audiences' git_urls, decided from what is there.

/// One key `authctl setup git` sets: all of its values in the global file become `newValues`.
public struct GitSetupChange: Sendable, Equatable {
    /// `credential.https://github.com.helper`, as git config takes it.
    public var key: String
    /// The key's values in the global file now, in order (empty: not set there).
    public var oldValues: [String]
    public var newValues: [String]

    public init(key: String, oldValues: [String], newValues: [String]) {
        self.key = key
        self.oldValues = oldValues
        self.newValues = newValues
    }

    /// The `git config --global …` arguments that make it so, in order.
    public var gitArguments: [[String]] {
        if newValues.count == 1 {
            // --replace-all: also when the key has several values now.
            return [["config", "--global", "--replace-all", key, newValues[0]]]
        }
        var commands: [[String]] = oldValues.isEmpty ? [] : [["config", "--global", "--unset-all", key]]
        for value in newValues { commands.append(["config", "--global", "--add", key, value]) }
        return commands
    }

    /// The entries git would list for the key afterwards.
    public func entries(origin: String) -> [GitConfigEntry] {
        let variable = String(key[key.index(after: key.lastIndex(of: ".")!)...]).lowercased()
        let pattern = String(key.dropFirst("credential.".count).dropLast(variable.count + 1))
        return newValues.map { GitConfigEntry(origin: origin, urlPattern: pattern, variable: variable, value: $0) }
    }
}

extension GitURLPrefix {
    /// The `<url>` of `credential.<url>.*` for this prefix: git matches it against the same URLs
    /// (scheme, host, port, and the path on whole segments), and it holds no user name.
    public var credentialURL: String {
        var path = Substring(url.path)
        while path.hasSuffix("/") { path = path.dropLast() }
        let port = url.effectivePort == url.scheme.defaultPort ? "" : ":\(url.effectivePort)"
        return url.scheme.rawValue + "://" + url.host + port + path
    }
}

public enum GitSetup {
    /// The changes that make git run only git-credential-authctl (`helperPath`) for each prefix's
    /// URLs: `helper` set to an empty value, which clears the helpers configured before it (so a
    /// system-wide `store` never sees the token), then the helper; and `useHttpPath` for a prefix
    /// with a path, which git otherwise never sends. `global` is what the global file has now (its
    /// `credential.*` entries); keys already as wanted give no change, so a second run changes nothing.
    public static func changes(for prefixes: [GitURLPrefix], helperPath: String, global: [GitConfigEntry]) -> [GitSetupChange] {
        var changes: [GitSetupChange] = []
        var done: Set<String> = []
        for prefix in prefixes where done.insert(prefix.credentialURL).inserted {
            let url = prefix.credentialURL
            let existing = global.filter { $0.urlPattern == url }
            let helpers = existing.filter { $0.variable == "helper" }.map { $0.value ?? "" }
            if helpers != ["", helperPath] {
                changes.append(GitSetupChange(key: "credential.\(url).helper", oldValues: helpers, newValues: ["", helperPath]))
            }
            if !prefix.pathSegments.isEmpty {
                let values = existing.filter { $0.variable == "usehttppath" }.map { $0.value ?? "true" }
                if values != ["true"] {
                    changes.append(GitSetupChange(key: "credential.\(url).useHttpPath", oldValues: values, newValues: ["true"]))
                }
            }
        }
        return changes
    }

    /// git's entries (all scopes, in git's order) as they would be once `changes` are written to
    /// the global file: the changed keys' global entries dropped and the new ones placed after
    /// the last system or global entry, where git reads them. For `--print`'s warnings; after a
    /// real write, git is asked again instead.
    public static func applying(_ changes: [GitSetupChange], to entries: [GitConfigEntry],
                                earlierOrigins: Set<String>, globalOrigin: String) -> [GitConfigEntry] {
        let keys = Set(changes.map { $0.key.lowercased() })
        var result = entries.filter { !($0.origin == globalOrigin && keys.contains($0.key.lowercased())) }
        let insertion = (result.lastIndex { earlierOrigins.contains($0.origin) }).map { $0 + 1 } ?? 0
        result.insert(contentsOf: changes.flatMap { $0.entries(origin: globalOrigin) }, at: insertion)
        return result
    }
}
