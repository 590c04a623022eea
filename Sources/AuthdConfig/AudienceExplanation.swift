// Where each effective audience setting came from, rendered for `authctl config check --explain`.

/// The keys of an `[audience.NAME]` table.
public enum AudienceKey: String, Sendable, Hashable, CaseIterable {
    case provider
    case clientID = "client_id"
    case clientSecret = "client_secret"
    case clientSecretFile = "client_secret_file"
    case baseURL = "base_url"
    case tenant
    case issuer
    case deviceAuthorizationEndpoint = "device_authorization_endpoint"
    case tokenEndpoint = "token_endpoint"
    case revocationEndpoint = "revocation_endpoint"
    case introspectionEndpoint = "introspection_endpoint"
    case scopes
    case resource
    case extraParams = "extra_params"
    case gitURLs = "git_urls"
    case gitUsername = "git_username"
    case gitUsernames = "git_usernames"
    case gitAuth = "git_auth"
    case registries
    case registryUsername = "registry_username"
    case persist
    case requireTTY = "require_tty"
    case allowedClients = "allowed_clients"
    case caFile = "ca_file"
    case tokenAuthMethod = "token_auth_method"
    case authorizationEndpoint = "authorization_endpoint"
    case flow
    case redirectPort = "redirect_port"
    case jwksURI = "jwks_uri"
    case registrationEndpoint = "registration_endpoint"
    case register
    case requireMFA = "require_mfa"
    case acrValues = "acr_values"
}

/// Where an audience setting's effective value came from. The validator records it in the
/// same step that picks the value, so the two cannot disagree.
public enum SettingOrigin: Sendable, Hashable, CustomStringConvertible {
    /// Written in the config file; the line of its key.
    case config(line: Int)
    /// Filled in by the provider preset (or, for an endpoint it leaves empty, decided by it).
    case preset(ProviderKind)
    /// authd's default, used when neither the file nor a preset says anything.
    case builtInDefault
    /// Left open until run time, when the daemon reads the issuer's metadata.
    case discovery(issuer: EndpointURL)

    public var description: String {
        switch self {
        case .config(let line): return "config line \(line)"
        case .preset(let kind): return "preset \(kind.rawValue)"
        case .builtInDefault: return "default"
        case .discovery: return "discovery"
        }
    }
}

extension AudienceConfiguration {
    /// Where `key`'s effective value came from; `.builtInDefault` for a configuration built in code.
    public func origin(of key: AudienceKey) -> SettingOrigin {
        origins[key] ?? .builtInDefault
    }

    public var explanation: AudienceExplanation { AudienceExplanation(self) }
}

/// One line of an explanation: a setting, its effective value in words, and its origin.
public struct ExplainedSetting: Sendable, Equatable {
    public var key: String
    public var value: String
    public var origin: SettingOrigin

    public init(key: String, value: String, origin: SettingOrigin) {
        self.key = key
        self.value = value
        self.origin = origin
    }
}

/// Every effective setting of one audience with its origin, the documents discovery will
/// read, and the preset's quirks. Built only from the validated configuration: it shows
/// what the daemon is given, and never a client secret.
public struct AudienceExplanation: Sendable, Equatable {
    public var name: String
    /// The line of the audience's table header.
    public var line: Int
    public var settings: [ExplainedSetting]
    /// The metadata documents the daemon tries, in order, when an endpoint is left to
    /// discovery; empty when none is.
    public var discoveryDocuments: [String]
    /// When only the revocation endpoint is left to discovery, the metadata is read at logout only.
    public var discoveryOnlyAtLogout: Bool
    public var presetName: String?
    public var quirks: [String]
    public var setupHint: String?

    public init(_ audience: AudienceConfiguration) {
        name = audience.name
        line = audience.position.line
        let preset = audience.preset
        presetName = preset?.displayName
        quirks = preset?.quirks ?? []
        setupHint = audience.deviceFlowSetupHint

        var settings: [ExplainedSetting] = []
        func add(_ key: AudienceKey, _ value: String, origin: SettingOrigin? = nil) {
            settings.append(ExplainedSetting(key: key.rawValue, value: Self.printable(value),
                                             origin: origin ?? audience.origin(of: key)))
        }
        func endpoint(_ key: AudienceKey, _ url: EndpointURL?, none: String) {
            if let url {
                add(key, url.description)
            } else if case .discovery = audience.origin(of: key) {
                add(key, "discovered at run time from the issuer's metadata")
            } else {
                add(key, none)
            }
        }
        func list(_ items: [String], none: String, separator: String = ", ") -> String {
            items.isEmpty ? none : items.joined(separator: separator)
        }

        add(.provider, audience.provider?.rawValue ?? "none")
        add(.clientID, audience.clientID)
        if audience.baseURL != nil || preset?.usesBaseURL == true {
            add(.baseURL, audience.baseURL?.description ?? "none")
        }
        if audience.tenant != nil || preset?.usesTenant == true {
            add(.tenant, audience.tenant ?? "none")
        }
        if let issuer = audience.endpoints.issuer, !audience.endpoints.needsDiscovery {
            // The daemon never reads this issuer's metadata; saying so keeps a reader from expecting it.
            add(.issuer, issuer.description + " (names the provider; every endpoint is known, nothing is discovered)")
        } else {
            endpoint(.issuer, audience.endpoints.issuer, none: "none: nothing is discovered")
        }
        endpoint(.deviceAuthorizationEndpoint, audience.endpoints.deviceAuthorization, none: "none")
        endpoint(.authorizationEndpoint, audience.endpoints.authorization, none: "none")
        endpoint(.tokenEndpoint, audience.endpoints.token, none: "none")
        endpoint(.revocationEndpoint, audience.endpoints.revocation,
                 none: "none: " + (audience.revocationHint ?? "logout erases the login here only"))
        endpoint(.introspectionEndpoint, audience.endpoints.introspection, none: "none")

        add(.flow, audience.loginMethodPlan().reason)
        add(.redirectPort, audience.redirectPort.map { "\($0): the redirect is http://127.0.0.1:\($0)/callback" }
            ?? "none: an ephemeral loopback port per login (http://127.0.0.1:PORT/callback)")
        switch audience.tokenAuthMethod {
        case .none: add(.tokenAuthMethod, audience.clientSecret == nil ? "none: a public client, no secret is sent" : "none: the secret is never sent")
        case .clientSecretBasic: add(.tokenAuthMethod, "client_secret_basic: the secret in HTTP Basic")
        case .clientSecretPost: add(.tokenAuthMethod, "client_secret_post: the secret in the request body")
        }
        switch audience.clientSecret {
        case .inline: add(.clientSecret, "inline (not shown)")
        case .file(let path): add(.clientSecret, "file \(path)", origin: audience.origin(of: .clientSecretFile))
        case nil: add(.clientSecret, "none")
        }

        add(.scopes, list(audience.scopes, none: "none: no scope parameter is sent", separator: " "))
        add(.resource, list(audience.resources, none: "none"))
        add(.extraParams, list(audience.extraParameters.map { "\($0.name)=\($0.value)" }, none: "none"))
        add(.gitURLs, list(audience.gitURLs.map(\.description), none: "none: not used by the git helper"))
        add(.gitUsername, audience.gitUsername)
        add(.gitUsernames, list(audience.gitUsernames, none: "any: answers whatever user name the remote URL has"))
        switch audience.gitAuth {
        case .basic: add(.gitAuth, "basic: the token as the password")
        case .bearer: add(.gitAuth, "bearer: Authorization: Bearer, when git announces authtype (2.46+)")
        }
        add(.registries, list(audience.registries.map(\.description), none: "none: not used by docker-credential-authctl"))
        add(.registryUsername, audience.registryUsername)
        add(.persist, audience.persist ? "true: the login is kept on disk, encrypted" : "false: the login is kept in memory only")
        add(.requireTTY, audience.requireTTY ? "true: only clients with a controlling terminal are served" : "false")
        add(.allowedClients, list(audience.allowedClients, none: "any program of this user"))
        add(.caFile, audience.caFile ?? "none: the system's trust anchors")
        add(.jwksURI, audience.jwksURI?.description ?? (audience.endpoints.issuer == nil
            ? "none: with neither issuer nor jwks_uri an id_token cannot be verified and is discarded"
            : "from the issuer's discovery metadata; id_tokens are verified against it"))
        add(.registrationEndpoint, audience.registrationEndpoint?.description ?? (audience.registersClient
            ? "from the issuer's discovery metadata: authd registers its client there once (client_id = \"register\")"
            : "not used: client_id names the client"))
        add(.register, audience.registersClient
            ? "true: authd registers itself as a public client once and keeps it (client_id = \"register\")"
            : "false: client_id names a client registered by hand")
        add(.requireMFA, audience.requireMFA
            ? "true: a login is kept only when its verified id_token reports a multi-factor sign-in (amr) or an acr of acr_values"
            : "false")
        add(.acrValues, list(audience.acrValues, none: "none"))
        self.settings = settings

        discoveryOnlyAtLogout = audience.endpoints.deviceAuthorization != nil && audience.endpoints.token != nil
        discoveryDocuments = audience.endpoints.needsDiscovery
            ? audience.endpoints.issuer.map { Self.discoveryDocuments(issuer: $0.description) } ?? []
            : []
    }

    /// The documents, in the order the OAuth engine tries them (AuthdOAuth's
    /// `IssuerIdentifier.discoveryURLs`; this module cannot call it, as it sits below):
    /// RFC 8414's path-inserted form, OpenID Connect's, then RFC 8414's suffix appended.
    public static func discoveryDocuments(issuer: String) -> [String] {
        var base = issuer
        if base.hasSuffix("/") { base.removeLast() }
        var urls: [String] = []
        if let schemeEnd = base.firstRange(of: "://") {
            let rest = base[schemeEnd.upperBound...]
            let pathStart = rest.firstIndex(of: "/") ?? rest.endIndex
            urls.append("\(base[..<pathStart])/.well-known/oauth-authorization-server\(rest[pathStart...])")
        }
        urls.append("\(base)/.well-known/openid-configuration")
        let appended = "\(base)/.well-known/oauth-authorization-server"
        if !urls.contains(appended) { urls.append(appended) }
        return urls
    }

    /// The explanation as `config check --explain` prints it: one line per setting with its
    /// origin in brackets, then discovery, quirks and the setup hint.
    public var text: String {
        let width = settings.map(\.key.count).max() ?? 0
        // Written as the header would be: a dotted name is quoted, or TOML would read nested tables.
        let header = name.contains(".") ? "\"\(name)\"" : name
        var text = "[audience.\(Self.printable(header))] line \(line)\n"
        for setting in settings {
            text += "  " + setting.key + String(repeating: " ", count: width - setting.key.count + 2)
                + setting.value + "  [\(setting.origin)]\n"
        }
        if !discoveryDocuments.isEmpty {
            let when = discoveryOnlyAtLogout ? " at logout, for the revocation endpoint only" : ""
            text += "  discovery: the daemon reads the first of these that answers with the issuer's metadata\(when) (config check connects to nothing):\n"
            for document in discoveryDocuments { text += "    \(document)\n" }
        }
        if let presetName, !quirks.isEmpty {
            text += "  what authd does differently for \(presetName):\n"
            for quirk in quirks { text += "    - \(quirk)\n" }
        }
        if let setupHint {
            text += "  if the provider says device flow is not enabled: \(setupHint)\n"
        }
        return text
    }

    /// Values from the file are shown as written, but never with control characters that
    /// would move the cursor or recolour the terminal.
    static func printable(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else { return text }
        return String(String.UnicodeScalarView(text.unicodeScalars.map {
            $0.value < 0x20 || $0.value == 0x7F ? "\u{FFFD}" : $0
        }))
    }
}
