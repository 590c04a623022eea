// The validated configuration: daemon settings and audiences, with preset defaults already applied.
import AuthdWire

public struct AuthdConfiguration: Sendable, Equatable {
    public var daemon: DaemonSettings
    /// In file order, which is also the tie-break order for git URL matching.
    public var audiences: [AudienceConfiguration]

    /// The configuration of a missing config file: defaults and no audiences.
    public init(daemon: DaemonSettings = DaemonSettings(), audiences: [AudienceConfiguration] = []) {
        self.daemon = daemon
        self.audiences = audiences
    }

    public func audience(named name: String) -> AudienceConfiguration? {
        audiences.first { $0.name == name }
    }
}

public enum AuditDestination: String, Sendable, Hashable, CaseIterable {
    /// The journal when running under systemd (`JOURNAL_STREAM` set), else stderr.
    case auto
    case journal
    case stderr
}

public struct DaemonSettings: Sendable, Equatable {
    /// Explicit `refresh_margin`; nil means the default rule (the daemon's `RefreshPlanner`).
    public var refreshMargin: Duration?
    /// A login older than this needs a new device flow even when refresh still works.
    public var maxSession: Duration?
    public var autostart: Bool
    /// Derive the store key with Argon2id from the passphrase in this file instead of the key file.
    public var storePassphraseFile: String?
    /// The config line that set `store_passphrase_file`, for diagnostics about the file it names.
    public var storePassphraseFileLine: Int?
    public var audit: AuditDestination

    public init(refreshMargin: Duration? = nil, maxSession: Duration? = nil, autostart: Bool = true,
                storePassphraseFile: String? = nil, audit: AuditDestination = .auto) {
        self.refreshMargin = refreshMargin
        self.maxSession = maxSession
        self.autostart = autostart
        self.storePassphraseFile = storePassphraseFile
        self.audit = audit
    }
}

/// Where the client secret comes from. Printing it never shows the secret.
public enum ClientSecretSource: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible {
    case inline(String)
    /// An absolute path; the caller reads it (the first line, without the newline).
    case file(String)

    public var description: String {
        switch self {
        case .inline: return "client_secret (redacted)"
        case .file(let path): return "client_secret_file \(path)"
        }
    }

    public var debugDescription: String { description }
}

public enum GitAuthScheme: String, Sendable, Hashable, CaseIterable {
    /// The token as the password of HTTP Basic (GitHub and GitLab accept only this).
    case basic
    /// `Authorization: Bearer` through git's `authtype` capability (git 2.46+).
    case bearer
}

/// A vendor parameter added to the device authorization and token requests.
public struct ExtraParameter: Sendable, Hashable {
    public var name: String
    public var value: String

    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}

/// The endpoints an audience uses, explicit keys first, then the preset's.
public struct ResolvedEndpoints: Sendable, Equatable {
    public var issuer: EndpointURL?
    public var deviceAuthorization: EndpointURL?
    public var token: EndpointURL?
    public var revocation: EndpointURL?
    public var introspection: EndpointURL?
    /// RFC 6749 §3.1, for the authorization code flow.
    public var authorization: EndpointURL?
    /// Whether RFC 8414 / OpenID discovery at `issuer` is needed to fill a missing
    /// device or token endpoint, or a revocation endpoint the provider may offer.
    /// Values found by discovery never replace the ones set here.
    public var needsDiscovery: Bool

    public init(issuer: EndpointURL? = nil, deviceAuthorization: EndpointURL? = nil, token: EndpointURL? = nil,
                revocation: EndpointURL? = nil, introspection: EndpointURL? = nil, needsDiscovery: Bool = false,
                authorization: EndpointURL? = nil) {
        self.issuer = issuer
        self.authorization = authorization
        self.deviceAuthorization = deviceAuthorization
        self.token = token
        self.revocation = revocation
        self.introspection = introspection
        self.needsDiscovery = needsDiscovery
    }
}

/// One `[audience.NAME]` table with every default resolved.
public struct AudienceConfiguration: Sendable, Equatable {
    public var name: String
    /// Where the audience's table starts, for messages about it.
    public var position: TOMLPosition
    public var provider: ProviderKind?
    public var clientID: String
    public var clientSecret: ClientSecretSource?
    /// `base_url`, or the preset's default (github.com, gitlab.com, login.microsoftonline.com).
    public var baseURL: EndpointURL?
    /// `tenant`, or the preset's default; only for entra and azure-devops.
    public var tenant: String?
    public var endpoints: ResolvedEndpoints
    /// `scopes`, or the preset's defaults; empty means no `scope` parameter is sent.
    public var scopes: [String]
    /// RFC 8707 resource indicators.
    public var resources: [String]
    public var extraParameters: [ExtraParameter]
    public var gitURLs: [GitURLPrefix]
    /// `git_username`, else the preset's, else `oauth2`.
    public var gitUsername: String
    /// `git_usernames`: the user names in remote URLs (`https://work@host/…`) this audience
    /// answers for; empty means any, including none.
    public var gitUsernames: [String]
    public var gitAuth: GitAuthScheme
    /// Container registries docker-credential-authctl answers for with this audience's access token.
    public var registries: [RegistryHost]
    /// `registry_username`, else `gitUsername`.
    public var registryUsername: String
    public var persist: Bool
    public var requireTTY: Bool
    /// Absolute paths or globs of client executables; empty means any client of this user.
    public var allowedClients: [String]
    /// Extra PEM trust anchors for this audience's endpoints.
    public var caFile: String?
    public var tokenAuthMethod: TokenEndpointAuthMethod
    /// Where to revoke by hand when the provider has no revocation endpoint.
    public var revocationHint: String?
    /// What to change at the provider when it says device flow is not enabled.
    public var deviceFlowSetupHint: String?
    /// Where the issuer's id_token signing keys are, when not (only) in its discovery metadata.
    public var jwksURI: EndpointURL? = nil
    /// `registration_endpoint`: where `client_id = "register"` registers (RFC 7591), instead of discovery's.
    public var registrationEndpoint: EndpointURL? = nil
    /// Keep a login only when its verified id_token reports a multi-factor sign-in (docs/configuration.md).
    public var requireMFA: Bool = false
    /// `acr` values to ask for (sent as `acr_values`) and, with `require_mfa` or alone, to accept.
    public var acrValues: [String] = []
    /// Where each setting came from (config line, preset, default, discovery), recorded by
    /// validation as it picks the values; for `config check --explain`.
    public var origins: [AudienceKey: SettingOrigin]
    /// `flow`; default `auto`.
    public var flow: LoginFlowChoice = .auto
    /// `redirect_port`: a fixed loopback port for the authorization code redirect; nil = ephemeral.
    public var redirectPort: Int? = nil

    public init(name: String, position: TOMLPosition = TOMLPosition(line: 1, column: 1), provider: ProviderKind? = nil,
                clientID: String, clientSecret: ClientSecretSource? = nil, baseURL: EndpointURL? = nil, tenant: String? = nil,
                endpoints: ResolvedEndpoints, scopes: [String] = [], resources: [String] = [],
                extraParameters: [ExtraParameter] = [], gitURLs: [GitURLPrefix] = [], gitUsername: String = "oauth2", gitUsernames: [String] = [],
                gitAuth: GitAuthScheme = .basic, registries: [RegistryHost] = [], registryUsername: String? = nil,
                persist: Bool = true, requireTTY: Bool = false,
                allowedClients: [String] = [], caFile: String? = nil, tokenAuthMethod: TokenEndpointAuthMethod = .none,
                revocationHint: String? = nil, deviceFlowSetupHint: String? = nil,
                origins: [AudienceKey: SettingOrigin] = [:], flow: LoginFlowChoice = .auto, redirectPort: Int? = nil) {
        self.flow = flow
        self.redirectPort = redirectPort
        self.name = name
        self.position = position
        self.provider = provider
        self.clientID = clientID
        self.clientSecret = clientSecret
        self.baseURL = baseURL
        self.tenant = tenant
        self.endpoints = endpoints
        self.scopes = scopes
        self.resources = resources
        self.extraParameters = extraParameters
        self.gitURLs = gitURLs
        self.gitUsername = gitUsername
        self.gitUsernames = gitUsernames
        self.gitAuth = gitAuth
        self.registries = registries
        self.registryUsername = registryUsername ?? gitUsername
        self.persist = persist
        self.requireTTY = requireTTY
        self.allowedClients = allowedClients
        self.caFile = caFile
        self.tokenAuthMethod = tokenAuthMethod
        self.revocationHint = revocationHint
        self.deviceFlowSetupHint = deviceFlowSetupHint
        self.origins = origins
    }

    public var preset: ProviderPreset? { provider.map(ProviderPreset.preset(for:)) }
}
