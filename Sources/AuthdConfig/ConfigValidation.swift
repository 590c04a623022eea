// Turns a parsed config file into AuthdConfiguration, reporting every problem it finds in one pass.
import AuthdWire

extension AuthdConfiguration {
    /// Validates a whole config file, read as bytes: invalid UTF-8 is an error with its line
    /// and column, never silently repaired. The configuration is returned only when there is
    /// no error; warnings alone do not stop it. Diagnostics come sorted by line.
    ///
    /// - Parameters:
    ///   - path: the file name used in diagnostics.
    ///   - homeDirectory: when given, paths written as `~/...` are expanded with it;
    ///     otherwise they are reported as not absolute.
    public static func validate(utf8 bytes: [UInt8], path: String, homeDirectory: String? = nil) -> (AuthdConfiguration?, [ConfigDiagnostic]) {
        let root: TOMLTable
        do {
            root = try TOMLParser.parse(utf8: bytes)
        } catch {
            let diagnostic = ConfigDiagnostic(severity: .error, file: path, line: error.line, column: error.column,
                                              keyPath: nil, message: error.message)
            return (nil, [diagnostic])
        }
        var validator = ConfigValidator(file: path, homeDirectory: homeDirectory)
        let configuration = validator.validate(root)
        return (validator.hasErrors ? nil : configuration, validator.sortedDiagnostics)
    }

    /// The config as a running daemon serves it: an error inside one `[audience.NAME]` breaks
    /// that audience alone, which then answers its own diagnostics, and the valid ones are
    /// served. Only what the whole daemon depends on stops it: a file that does not parse, or an
    /// error in `[daemon]`; those are thrown.
    public static func loadServable(utf8 bytes: [UInt8], path: String, homeDirectory: String? = nil) throws(ConfigError) -> ServableConfiguration {
        let root: TOMLTable
        do {
            root = try TOMLParser.parse(utf8: bytes)
        } catch {
            throw ConfigError(diagnostics: [ConfigDiagnostic(severity: .error, file: path, line: error.line, column: error.column,
                                                             keyPath: nil, message: error.message)])
        }
        var validator = ConfigValidator(file: path, homeDirectory: homeDirectory)
        let configuration = validator.validate(root)
        let diagnostics = validator.sortedDiagnostics
        let inBroken = Set(validator.brokenAudiences.flatMap(\.diagnostics))
        let fatal = diagnostics.filter { $0.severity == .error && !inBroken.contains($0) && ServableConfiguration.stopsTheDaemon($0) }
        guard fatal.isEmpty else { throw ConfigError(diagnostics: fatal) }
        return ServableConfiguration(
            configuration: configuration, brokenAudiences: validator.brokenAudiences,
            otherErrors: diagnostics.filter { $0.severity == .error && !inBroken.contains($0) },
            warnings: diagnostics.filter { $0.severity == .warning })
    }

    /// `validate(utf8:)` for text already in memory (tests, examples).
    public static func validate(text: String, path: String, homeDirectory: String? = nil) -> (AuthdConfiguration?, [ConfigDiagnostic]) {
        validate(utf8: Array(text.utf8), path: path, homeDirectory: homeDirectory)
    }

    /// `validate` for callers that only need the result: throws every diagnostic when
    /// there is an error, and returns the warnings alongside the configuration.
    public static func load(utf8 bytes: [UInt8], path: String, homeDirectory: String? = nil) throws(ConfigError) -> (AuthdConfiguration, warnings: [ConfigDiagnostic]) {
        let (configuration, diagnostics) = validate(utf8: bytes, path: path, homeDirectory: homeDirectory)
        guard let configuration else { throw ConfigError(diagnostics: diagnostics) }
        return (configuration, diagnostics)
    }

    public static func load(text: String, path: String, homeDirectory: String? = nil) throws(ConfigError) -> (AuthdConfiguration, warnings: [ConfigDiagnostic]) {
        try load(utf8: Array(text.utf8), path: path, homeDirectory: homeDirectory)
    }

    /// `[daemon] autostart` without validating anything else, for clients deciding whether
    /// to start the daemon. A file that does not parse gives the default (true): the
    /// daemon then reports the problem properly.
    public static func autostart(configBytes bytes: [UInt8]) -> Bool {
        guard let root = try? TOMLParser.parse(utf8: bytes),
              case .table(let daemon)? = root["daemon"]?.node.value,
              case .boolean(let autostart)? = daemon["autostart"]?.node.value else { return true }
        return autostart
    }

    public static func autostart(configText text: String) -> Bool {
        autostart(configBytes: Array(text.utf8))
    }

    public static let daemonKeys = ["refresh_margin", "max_session", "autostart", "store_passphrase_file", "audit"]

    public static let audienceKeys = AudienceKey.allCases.map(\.rawValue)
}

/// Parameters authd sets itself; `extra_params` may not override them.
private let reservedParameters: [String: String] = [
    "client_id": "client_id", "client_secret": "client_secret or client_secret_file", "scope": "scopes",
    "resource": "resource", "grant_type": "", "device_code": "", "refresh_token": "", "code": "", "token": "",
    "token_type_hint": "", "acr_values": "acr_values",
    // The authorization code flow's own (its URL carries extra_params too).
    "response_type": "", "redirect_uri": "redirect_port", "state": "", "nonce": "", "code_challenge": "",
    "code_challenge_method": "", "code_verifier": "",
]

/// Reads, resolves and judges a config file (see `AudienceResolution.swift`, `AudienceRules.swift`).
struct ConfigValidator {
    let file: String
    let homeDirectory: String?
    var diagnostics: [ConfigDiagnostic] = []
    /// Audiences left out because of their own errors, with those errors.
    var brokenAudiences: [BrokenAudience] = []

    init(file: String, homeDirectory: String?) {
        self.file = file
        self.homeDirectory = homeDirectory
    }

    var hasErrors: Bool { diagnostics.contains { $0.severity == .error } }

    var sortedDiagnostics: [ConfigDiagnostic] {
        diagnostics.enumerated().sorted { lhs, rhs in
            (lhs.element.line, lhs.element.column, lhs.offset) < (rhs.element.line, rhs.element.column, rhs.offset)
        }.map(\.element)
    }

    mutating func error(_ position: TOMLPosition, _ keyPath: String?, _ message: String) {
        diagnostics.append(ConfigDiagnostic(severity: .error, file: file, line: position.line, column: position.column,
                                            keyPath: keyPath, message: message))
    }

    mutating func warning(_ position: TOMLPosition, _ keyPath: String?, _ message: String) {
        diagnostics.append(ConfigDiagnostic(severity: .warning, file: file, line: position.line, column: position.column,
                                            keyPath: keyPath, message: message))
    }

    // MARK: - Document

    /// Every valid audience; the broken ones are in `brokenAudiences` and `diagnostics`.
    mutating func validate(_ root: TOMLTable) -> AuthdConfiguration {
        var configuration = AuthdConfiguration()
        for entry in root.entries {
            switch entry.key {
            case "daemon":
                if let table = table(entry, "daemon") { configuration.daemon = daemonSettings(table) }
            case "audience":
                guard let audiences = table(entry, "audience", hint: "write each audience as a [audience.NAME] table") else { continue }
                for audienceEntry in audiences.entries {
                    let before = diagnostics.count
                    let audience = audience(audienceEntry)
                    let errors = diagnostics[before...].filter { $0.severity == .error }
                    if let audience, errors.isEmpty {
                        configuration.audiences.append(audience)
                    } else {
                        brokenAudiences.append(BrokenAudience(name: audienceEntry.key, line: audienceEntry.keyPosition.line,
                                                              diagnostics: Array(errors)))
                    }
                }
            default:
                if case .table(let table) = entry.node.value, table["client_id"] != nil || table["provider"] != nil || table["issuer"] != nil {
                    error(entry.keyPosition, renderKey(entry.key), "unknown table; an audience is written [audience.\(renderKey(entry.key))]")
                } else {
                    unknownKey(entry, keyPath: renderKey(entry.key), known: ["daemon", "audience"])
                }
            }
        }
        checkGitURLOverlaps(configuration.audiences)
        checkRegistryOverlaps(configuration.audiences)
        return configuration
    }

    mutating func unknownKey(_ entry: TOMLEntry, keyPath: String, known: [String]) {
        if let suggestion = Suggestion.closest(to: entry.key, among: known) {
            error(entry.keyPosition, keyPath, "unknown key (did you mean \"\(suggestion)\"?)")
        } else {
            error(entry.keyPosition, keyPath, "unknown key (known keys: \(known.joined(separator: ", ")))")
        }
    }

    // MARK: - [daemon]

    mutating func daemonSettings(_ table: TOMLTable) -> DaemonSettings {
        var settings = DaemonSettings()
        for entry in table.entries {
            let keyPath = "daemon." + renderKey(entry.key)
            switch entry.key {
            case "refresh_margin":
                settings.refreshMargin = duration(entry, keyPath)
            case "max_session":
                settings.maxSession = duration(entry, keyPath)
            case "autostart":
                if let value = bool(entry, keyPath) { settings.autostart = value }
            case "store_passphrase_file":
                settings.storePassphraseFile = absolutePath(entry, keyPath)
                settings.storePassphraseFileLine = entry.keyPosition.line
            case "audit":
                if let value = choice(entry, keyPath, AuditDestination.self) { settings.audit = value }
            default:
                unknownKey(entry, keyPath: keyPath, known: AuthdConfiguration.daemonKeys)
            }
        }
        return settings
    }

    // MARK: - [audience.NAME]

    /// The audience's keys as written, before defaults and cross-checks.
    struct WrittenAudience {
        var provider: (ProviderKind, TOMLEntry)?
        var providerInvalid = false
        var clientID: String?
        var clientSecret: (String, TOMLEntry)?
        var clientSecretFile: (String, TOMLEntry)?
        var baseURL: (EndpointURL, TOMLEntry)?
        var tenant: (String, TOMLEntry)?
        var issuer: EndpointURL?
        var deviceAuthorization: EndpointURL?
        var token: EndpointURL?
        var revocation: EndpointURL?
        var introspection: EndpointURL?
        var authorization: EndpointURL?
        var flow: LoginFlowChoice?
        var redirectPort: Int?
        var endpointInvalid = false
        var scopes: [String]?
        var resources: [String]?
        var extraParameters: [ExtraParameter]?
        var gitURLs: [(GitURLPrefix, TOMLPosition)] = []
        var gitUsername: String?
        var gitUsernames: [String]?
        var gitAuth: (GitAuthScheme, TOMLEntry)?
        var registries: [RegistryHost] = []
        var registryUsername: String?
        var persist: Bool?
        var requireTTY: Bool?
        var allowedClients: [String]?
        var caFile: String?
        var tokenAuthMethod: (TokenEndpointAuthMethod, TOMLEntry)?
        var jwksURI: EndpointURL?
        var registrationEndpoint: EndpointURL?
        var register: Bool?
        var requireMFA: Bool?
        var acrValues: [String]?
        /// The line of each key as written, whether or not its value was valid.
        var lines: [String: Int] = [:]
    }

    /// Picks each setting's effective value and notes where it came from in the same step, so
    /// that `config check --explain` shows exactly what the daemon is given.
    struct SettingResolver {
        let lines: [String: Int]
        let provider: ProviderKind?
        var origins: [AudienceKey: SettingOrigin] = [:]

        init(lines: [String: Int], provider: ProviderKind?) {
            self.lines = lines
            self.provider = provider
            // Every key gets an origin: room for all at once instead of growing (and rehashing) five times.
            origins.reserveCapacity(AudienceKey.allCases.count)
        }

        /// The written value, else the preset's, else the default.
        mutating func resolve<Value>(_ key: AudienceKey, written: Value?, preset: Value?, default fallback: Value) -> Value {
            resolve(key, written: written, preset: preset) ?? fallback
        }

        /// `resolve` for settings that may stay unset (endpoints, base_url, tenant).
        mutating func resolve<Value>(_ key: AudienceKey, written: Value?, preset: Value?) -> Value? {
            if let written {
                origins[key] = .config(line: lines[key.rawValue] ?? 0)
                return written
            }
            if let preset, let provider {
                origins[key] = .preset(provider)
                return preset
            }
            origins[key] = .builtInDefault
            return nil
        }

        /// A setting no preset fills: `WrittenAudience` already holds the written value or the default.
        mutating func keep<Value>(_ key: AudienceKey, _ value: Value) -> Value {
            origins[key] = lines[key.rawValue].map { .config(line: $0) } ?? .builtInDefault
            return value
        }

        /// An endpoint left unset that the daemon looks up in the issuer's metadata.
        mutating func leaveToDiscovery(_ key: AudienceKey, issuer: EndpointURL) {
            origins[key] = .discovery(issuer: issuer)
        }

        /// An endpoint the preset knows the provider does not have.
        mutating func presetHasNone(_ key: AudienceKey) {
            if let provider { origins[key] = .preset(provider) }
        }
    }

    mutating func audience(_ entry: TOMLEntry) -> AudienceConfiguration? {
        let name = entry.key
        let audiencePath = "audience." + renderKey(name)
        let errorsBefore = diagnostics.filter { $0.severity == .error }.count
        if !AudienceName.isValid(name) {
            error(entry.keyPosition, audiencePath, name.utf8.count > AudienceName.maximumLength
                  ? "audience name is longer than \(AudienceName.maximumLength) characters"
                  : "audience name may contain only \(AudienceName.allowedCharacters)")
        }
        guard let table = table(entry, audiencePath, hint: "write the audience as a [\(audiencePath)] table") else { return nil }
        let position = entry.node.position
        // `[audience.api.v2]` is an audience "api" holding a table "v2": say that first, instead of
        // the missing keys of an audience "api" nobody meant.
        if !table.entries.isEmpty, table.entries.allSatisfy({ field in
            if case .table = field.node.value { return !AuthdConfiguration.audienceKeys.contains(field.key) }
            return false
        }) {
            let inner = table.entries.map { name + "." + $0.key }
            error(entry.keyPosition, audiencePath, "this is an audience \"\(name)\" holding only tables (\(table.entries.map(\.key).joined(separator: ", ")));"
                  + " if \"\(inner[0])\" is meant as one audience name, quote it: [audience.\"\(inner[0])\"]")
            return nil
        }

        // Read and resolve every setting, then judge the result rule by rule.
        var facts = readAndResolve(table, audiencePath: audiencePath, position: position)
        let preset = facts.preset, resolved = facts.resolved
        for rule in AudienceRules.all {
            facts.hasEarlierErrors = diagnostics.filter { $0.severity == .error }.count != errorsBefore
            diagnostics += rule(facts)
        }

        let errorsAfter = diagnostics.filter { $0.severity == .error }.count
        guard errorsAfter == errorsBefore, let clientID = resolved.clientID else { return nil }
        var audience = AudienceConfiguration(
            name: name, position: position, provider: preset?.kind, clientID: clientID, clientSecret: resolved.clientSecret,
            baseURL: resolved.baseURL, tenant: resolved.tenant, endpoints: resolved.endpoints,
            scopes: resolved.scopes, resources: resolved.resources, extraParameters: resolved.extraParameters, gitURLs: resolved.gitURLs,
            gitUsername: resolved.gitUsername, gitUsernames: resolved.gitUsernames, gitAuth: resolved.gitAuth, registries: resolved.registries,
            registryUsername: resolved.registryUsername, persist: resolved.persist, requireTTY: resolved.requireTTY,
            allowedClients: resolved.allowedClients, caFile: resolved.caFile, tokenAuthMethod: resolved.tokenAuthMethod,
            revocationHint: resolved.endpoints.revocation == nil ? preset?.revocationHint(baseURL: resolved.baseURL) : nil,
            deviceFlowSetupHint: preset?.deviceFlowSetupHint, origins: resolved.origins, flow: resolved.flow, redirectPort: resolved.redirectPort)
        audience.jwksURI = resolved.jwksURI
        audience.registrationEndpoint = resolved.registrationEndpoint
        audience.requireMFA = resolved.requireMFA
        audience.acrValues = resolved.acrValues
        return audience
    }

    /// An audience table read (reporting what cannot be read) and resolved: what the rules judge.
    mutating func readAndResolve(_ table: TOMLTable, audiencePath: String, position: TOMLPosition) -> AudienceFacts {
        var written = WrittenAudience()
        for field in table.entries {
            read(field, into: &written, audiencePath: audiencePath)
        }
        let preset = written.provider.map { ProviderPreset.preset(for: $0.0) }
        return AudienceFacts(file: file, audiencePath: audiencePath, position: position, written: written,
                             preset: preset, resolved: ResolvedAudience(written, preset: preset))
    }

    mutating func read(_ field: TOMLEntry, into written: inout WrittenAudience, audiencePath: String) {
        let keyPath = audiencePath + "." + renderKey(field.key)
        written.lines[field.key] = field.keyPosition.line
        switch field.key {
        case "provider":
            guard let name = string(field, keyPath) else { written.providerInvalid = true; return }
            // Compared without regard to case: `provider = "GitHub"` means github.
            if let kind = ProviderKind(rawValue: name.lowercased()) {
                written.provider = (kind, field)
            } else if let unsupported = ProviderWithoutDeviceFlow.named(name) {
                written.providerInvalid = true
                error(field.node.position, keyPath, "provider \"\(name)\": \(unsupported.explanation)")
            } else {
                written.providerInvalid = true
                let names = ProviderKind.allCases.map(\.rawValue)
                let suggestion = Suggestion.closest(to: name, among: names).map { " (did you mean \"\($0)\"?)" } ?? ""
                error(field.node.position, keyPath, "unknown provider \"\(name)\"\(suggestion); known: \(names.joined(separator: ", "))")
            }
        case "client_id":
            written.clientID = token(field, keyPath, what: "client_id")
        case "client_secret":
            if let secret = token(field, keyPath, what: "client_secret") { written.clientSecret = (secret, field) }
        case "client_secret_file":
            if let path = absolutePath(field, keyPath) { written.clientSecretFile = (path, field) }
        case "base_url":
            guard let url = endpoint(field, keyPath) else { return }
            if url.query != nil {
                error(field.node.position, keyPath, "base_url cannot have a ?query")
            } else {
                written.baseURL = (url, field)
            }
        case "tenant":
            guard let tenant = string(field, keyPath) else { return }
            if tenant.isEmpty || tenant.utf8.count > 128 || !tenant.utf8.allSatisfy({ isBareKeyByte($0) || $0 == UInt8(ascii: ".") }) {
                error(field.node.position, keyPath, "tenant must be a tenant ID, a domain name, \"organizations\", \"consumers\" or \"common\"")
            } else {
                written.tenant = (tenant, field)
            }
        case "issuer":
            written.issuer = endpoint(field, keyPath)
            if written.issuer == nil { written.endpointInvalid = true }
            if written.issuer?.query != nil {
                error(field.node.position, keyPath, "an issuer identifier has no ?query (RFC 8414)")
                written.issuer = nil
            }
        case "authorization_endpoint":
            written.authorization = endpoint(field, keyPath)
            if written.authorization == nil { written.endpointInvalid = true }
        case "flow":
            written.flow = choice(field, keyPath, LoginFlowChoice.self)
        case "redirect_port":
            guard case .integer(let port) = field.node.value, (1024...65535).contains(port) else {
                error(field.node.position, keyPath, "redirect_port must be an integer from 1024 to 65535 (a loopback port this user can bind)")
                return
            }
            written.redirectPort = Int(port)
        case "device_authorization_endpoint":
            written.deviceAuthorization = endpoint(field, keyPath)
            if written.deviceAuthorization == nil { written.endpointInvalid = true }
        case "token_endpoint":
            written.token = endpoint(field, keyPath)
            if written.token == nil { written.endpointInvalid = true }
        case "revocation_endpoint":
            written.revocation = endpoint(field, keyPath)
        case "introspection_endpoint":
            written.introspection = endpoint(field, keyPath)
        case "scopes":
            guard let scopes = stringArray(field, keyPath, hint: "scopes = [\"openid\", \"offline_access\"]") else { return }
            var valid: [String] = []
            for (scope, position) in scopes {
                // RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
                if !scope.isEmpty && scope.utf8.allSatisfy({ $0 == 0x21 || (0x23...0x5B).contains($0) || (0x5D...0x7E).contains($0) }) {
                    valid.append(scope)
                } else if scope.utf8.contains(UInt8(ascii: " ")) {
                    error(position, keyPath, "a scope cannot contain spaces; write each scope as its own string: [\(scope.split(separator: " ").map { "\"\($0)\"" }.joined(separator: ", "))]")
                } else {
                    error(position, keyPath, "\"\(scope)\" is not a valid scope (printable ASCII without spaces, '\"' or '\\')")
                }
            }
            written.scopes = valid
        case "resource":
            guard let resources = stringArray(field, keyPath, hint: "resource = [\"https://api.example.com\"]") else { return }
            written.resources = []
            for (resource, position) in resources {
                if isAbsoluteURIWithoutFragment(resource) {
                    written.resources?.append(resource)
                } else {
                    error(position, keyPath, "a resource indicator must be an absolute URI without #fragment (RFC 8707)")
                }
            }
        case "extra_params":
            guard let table = table(field, keyPath, hint: "e.g. extra_params = { audience = \"https://api.example.com\" }") else { return }
            written.extraParameters = []
            for parameter in table.entries {
                let parameterPath = keyPath + "." + renderKey(parameter.key)
                if let replacement = reservedParameters[parameter.key] {
                    error(parameter.keyPosition, parameterPath, replacement.isEmpty
                          ? "\(parameter.key) is set by authd and cannot be overridden"
                          : "\(parameter.key) is set by authd; use the \(replacement) key instead")
                    continue
                }
                if parameter.key.isEmpty {
                    error(parameter.keyPosition, parameterPath, "a parameter name cannot be empty")
                    continue
                }
                if let value = string(parameter, parameterPath) {
                    written.extraParameters?.append(ExtraParameter(name: parameter.key, value: value))
                }
            }
        case "git_urls":
            guard let urls = stringArray(field, keyPath, hint: "git_urls = [\"https://git.example.com/\"]") else { return }
            for (text, position) in urls {
                do {
                    let prefix = try GitURLPrefix(parsing: text)
                    if !prefix.url.isSecureOrLoopback {
                        warning(position, keyPath, "git would send the token unencrypted to \(prefix.url.host) over http://")
                    }
                    written.gitURLs.append((prefix, position))
                } catch {
                    self.error(position, keyPath, "invalid git URL \"\(URLRedaction.redactingUserinfo(text))\": \(error.message)")
                }
            }
        case "git_username":
            guard let username = string(field, keyPath) else { return }
            if username.isEmpty || username.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F || $0 == UInt8(ascii: ":") }) {
                error(field.node.position, keyPath, "git_username must be non-empty, without ':' or control characters")
            } else {
                written.gitUsername = username
            }
        case "registries":
            guard let names = stringArray(field, keyPath, hint: "registries = [\"ghcr.io\", \"registry.gitlab.com\"]") else { return }
            for (text, position) in names {
                do {
                    let registry = try RegistryHost(parsing: text)
                    if written.registries.contains(registry) {
                        warning(position, keyPath, "\(registry) is listed twice")
                    } else {
                        written.registries.append(registry)
                    }
                } catch {
                    self.error(position, keyPath, "invalid registry \"\(URLRedaction.redactingUserinfo(text))\": \(error.message); write the host as docker names it, e.g. \"ghcr.io\" or \"127.0.0.1:5000\"")
                }
            }
        case "registry_username":
            guard let username = string(field, keyPath) else { return }
            if username.isEmpty || username.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F || $0 == UInt8(ascii: ":") }) {
                error(field.node.position, keyPath, "registry_username must be non-empty, without ':' or control characters")
            } else {
                written.registryUsername = username
            }
        case "git_usernames":
            guard let names = stringArray(field, keyPath, hint: "git_usernames = [\"work\"]") else { return }
            written.gitUsernames = []
            for (name, position) in names {
                // What git sends as username= from the URL's user information: no ':', '@' or '/'.
                if name.isEmpty || name.utf8.contains(where: { $0 < 0x21 || $0 == 0x7F || $0 == UInt8(ascii: ":") || $0 == UInt8(ascii: "@") || $0 == UInt8(ascii: "/") }) {
                    error(position, keyPath, "\"\(name)\" is not a user name git can send (non-empty, without spaces, ':', '@', '/' or control characters)")
                } else {
                    written.gitUsernames?.append(name)
                }
            }
        case "git_auth":
            if let scheme = choice(field, keyPath, GitAuthScheme.self) { written.gitAuth = (scheme, field) }
        case "persist":
            if let value = bool(field, keyPath) { written.persist = value }
        case "require_tty":
            if let value = bool(field, keyPath) { written.requireTTY = value }
        case "allowed_clients":
            guard let clients = stringArray(field, keyPath, hint: "allowed_clients = [\"/usr/bin/git\"]") else { return }
            written.allowedClients = []
            for (client, position) in clients {
                if client.hasPrefix("/") && !client.utf8.contains(where: { $0 < 0x20 }) {
                    written.allowedClients?.append(client)
                } else {
                    error(position, keyPath, "\"\(client)\" is not an absolute path or glob (e.g. \"/usr/bin/git\", \"/usr/lib/git-core/*\")")
                }
            }
        case "ca_file":
            written.caFile = absolutePath(field, keyPath)
        case "jwks_uri":
            written.jwksURI = endpoint(field, keyPath)
        case "registration_endpoint":
            written.registrationEndpoint = endpoint(field, keyPath)
        case "register":
            if let value = bool(field, keyPath) { written.register = value }
        case "require_mfa":
            if let value = bool(field, keyPath) { written.requireMFA = value }
        case "acr_values":
            guard let values = stringArray(field, keyPath, hint: "acr_values = [\"urn:okta:loa:2fa:any\"]") else { return }
            written.acrValues = []
            for (value, position) in values {
                if !value.isEmpty && value.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) {
                    written.acrValues?.append(value)
                } else {
                    error(position, keyPath, "an acr value is printable ASCII without spaces")
                }
            }
        case "token_auth_method":
            if let method = choice(field, keyPath, TokenEndpointAuthMethod.self) { written.tokenAuthMethod = (method, field) }
        default:
            if case .table = field.node.value {
                let hint = "; if \"\(audiencePath.dropFirst("audience.".count)).\(field.key)\" is meant as one audience name, quote it: [audience.\"\(audiencePath.dropFirst("audience.".count)).\(field.key)\"]"
                if let suggestion = Suggestion.closest(to: field.key, among: AuthdConfiguration.audienceKeys) {
                    error(field.keyPosition, keyPath, "unknown key (did you mean \"\(suggestion)\"?)")
                } else {
                    error(field.keyPosition, keyPath, "unknown key\(hint)")
                }
            } else {
                unknownKey(field, keyPath: keyPath, known: AuthdConfiguration.audienceKeys)
            }
        }
    }

    mutating func checkRegistryOverlaps(_ audiences: [AudienceConfiguration]) {
        var seen: [RegistryHost: String] = [:]
        for audience in audiences {
            for registry in audience.registries {
                if let first = seen[registry], first != audience.name {
                    var position = audience.position
                    if case .config(let line) = audience.origin(of: .registries) { position = TOMLPosition(line: line, column: 1) }
                    warning(position, "audience." + renderKey(audience.name) + ".registries",
                            "\(registry) is also in audience \(first), which comes first and answers for it")
                } else if seen[registry] == nil {
                    seen[registry] = audience.name
                }
            }
        }
    }

    mutating func checkGitURLOverlaps(_ audiences: [AudienceConfiguration]) {
        var seen: [GitURLPrefix: [AudienceConfiguration]] = [:]
        for audience in audiences {
            var ownPrefixes: Set<GitURLPrefix> = []
            for prefix in audience.gitURLs where ownPrefixes.insert(prefix).inserted {
                // Audiences told apart by git_usernames do not overlap (GitURLMatching's rule).
                if let first = seen[prefix]?.first(where: { $0.gitUsernamesOverlap(audience) }) {
                    warning(audience.position, "audience." + renderKey(audience.name) + ".git_urls",
                            "\(prefix) is also in audience \(first.name), which comes first and answers for it")
                }
                seen[prefix, default: []].append(audience)
            }
        }
    }

    // MARK: - Typed readers

    mutating func wrongType(_ entry: TOMLEntry, _ keyPath: String, expected: String, hint: String? = nil) {
        var message = "expected \(expected), found \(entry.node.value.kindDescription)"
        if let hint { message += "; e.g. \(hint)" }
        error(entry.node.position, keyPath, message)
    }

    mutating func table(_ entry: TOMLEntry, _ keyPath: String, hint: String? = nil) -> TOMLTable? {
        guard case .table(let table) = entry.node.value else {
            let message = "expected a table, found \(entry.node.value.kindDescription)"
            error(entry.node.position, keyPath, hint.map { message + "; " + $0 } ?? message)
            return nil
        }
        return table
    }

    mutating func string(_ entry: TOMLEntry, _ keyPath: String) -> String? {
        guard case .string(let text) = entry.node.value else {
            wrongType(entry, keyPath, expected: "a string")
            return nil
        }
        return text
    }

    /// A non-empty string without control characters (identifiers and secrets).
    mutating func token(_ entry: TOMLEntry, _ keyPath: String, what: String) -> String? {
        guard let text = string(entry, keyPath) else { return nil }
        if text.isEmpty {
            error(entry.node.position, keyPath, "\(what) cannot be empty")
            return nil
        }
        if text.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) {
            error(entry.node.position, keyPath, "\(what) contains a control character")
            return nil
        }
        return text
    }

    mutating func bool(_ entry: TOMLEntry, _ keyPath: String) -> Bool? {
        guard case .boolean(let value) = entry.node.value else {
            var hint: String?
            if case .string(let text) = entry.node.value, text == "true" || text == "false" { hint = "\(text) without quotes" }
            wrongType(entry, keyPath, expected: "a boolean (true or false)", hint: hint)
            return nil
        }
        return value
    }

    mutating func stringArray(_ entry: TOMLEntry, _ keyPath: String, hint: String) -> [(String, TOMLPosition)]? {
        guard case .array(let elements) = entry.node.value else {
            wrongType(entry, keyPath, expected: "an array of strings", hint: hint)
            return nil
        }
        var strings: [(String, TOMLPosition)] = []
        for element in elements {
            guard case .string(let text) = element.value else {
                error(element.position, keyPath, "expected a string in the array, found \(element.value.kindDescription)")
                continue
            }
            strings.append((text, element.position))
        }
        return strings
    }

    mutating func choice<Choice: RawRepresentable & CaseIterable>(_ entry: TOMLEntry, _ keyPath: String, _ type: Choice.Type) -> Choice? where Choice.RawValue == String {
        guard let text = string(entry, keyPath) else { return nil }
        if let value = Choice(rawValue: text) { return value }
        let names = Choice.allCases.map(\.rawValue)
        let suggestion = Suggestion.closest(to: text, among: names).map { " (did you mean \"\($0)\"?)" } ?? ""
        error(entry.node.position, keyPath, "\"\(text)\" is not one of \(names.map { "\"\($0)\"" }.joined(separator: ", "))\(suggestion)")
        return nil
    }

    /// A positive duration: integer seconds or a string such as "5m" or "1h30m".
    mutating func duration(_ entry: TOMLEntry, _ keyPath: String) -> Duration? {
        let parsed: Duration
        do {
            switch entry.node.value {
            case .integer(let seconds):
                parsed = try ConfigDuration.seconds(seconds)
            case .string(let text):
                parsed = try ConfigDuration.parse(text)
            default:
                wrongType(entry, keyPath, expected: "a duration (whole seconds, or a string such as \"90s\", \"5m\", \"12h\")")
                return nil
            }
        } catch {
            self.error(entry.node.position, keyPath, error.message)
            return nil
        }
        guard parsed > .zero else {
            error(entry.node.position, keyPath, "a duration of zero has no meaning here; use a positive duration")
            return nil
        }
        return parsed
    }

    /// An http(s) endpoint; plain http only on loopback.
    mutating func endpoint(_ entry: TOMLEntry, _ keyPath: String) -> EndpointURL? {
        guard let text = string(entry, keyPath) else { return nil }
        let url: EndpointURL
        do {
            url = try EndpointURL(parsing: text)
        } catch {
            self.error(entry.node.position, keyPath, "invalid URL \"\(URLRedaction.redactingUserinfo(text))\": \(error.message)")
            return nil
        }
        guard url.isSecureOrLoopback else {
            error(entry.node.position, keyPath, "plain http:// is allowed only on loopback (127.0.0.0/8, ::1, localhost); use https://\(url.authority)\(url.path)")
            return nil
        }
        return url
    }

    mutating func absolutePath(_ entry: TOMLEntry, _ keyPath: String) -> String? {
        guard let text = string(entry, keyPath) else { return nil }
        if text.hasPrefix("~/"), let homeDirectory, homeDirectory.hasPrefix("/") {
            return homeDirectory + text.dropFirst()
        }
        guard text.hasPrefix("/") else {
            error(entry.node.position, keyPath, text.hasPrefix("~")
                  ? "\"\(text)\": ~ is not expanded here; write the absolute path"
                  : "\"\(text)\" is not an absolute path (the daemon does not run in your working directory)")
            return nil
        }
        if text.utf8.contains(where: { $0 < 0x20 }) {
            error(entry.node.position, keyPath, "the path contains a control character")
            return nil
        }
        return text
    }

    func isAbsoluteURIWithoutFragment(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard let colon = bytes.firstIndex(of: UInt8(ascii: ":")), colon > 0,
              (bytes[0] | 0x20) >= UInt8(ascii: "a") && (bytes[0] | 0x20) <= UInt8(ascii: "z"),
              bytes[..<colon].allSatisfy({ isBareKeyByte($0) && $0 != UInt8(ascii: "_") || $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: ".") }),
              colon + 1 < bytes.count else { return false }
        return !bytes.contains(where: { $0 == UInt8(ascii: "#") || $0 <= 0x20 || $0 == 0x7F })
    }
}
