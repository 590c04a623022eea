// What an audience agent is given and gives: its policy (from the config), the daemon's effects, the token it serves.
import AuthdConfig
import AuthdOAuth
import AuthdSystem
import AuthdWire

/// What a client receives for `get`: the token opened from the vault only for this answer.
public struct ServedToken: Sendable {
    public var token: SecretBytes
    public var tokenType: String
    public var expiresAtWall: Int64?
    public var scopes: [String]
    public var fingerprint: String
    /// The token is valid for less than the `min_valid` asked: nothing better could be had
    /// (renewed for this request, or the provider issues shorter lifetimes; `MinimumValidity`).
    public var shortOfMinimumValidity: Bool = false
    /// Which token this is: the access token, or the verified id_token (`get --id-token`).
    public enum Kind: Sendable { case access, id }
    public var kind: Kind = .access
}

/// Where streamed events (prompt, progress) for one waiting client go.
public typealias ReplySink = @Sendable (ReplyLine) -> Void

/// The per-audience settings the agent acts on (from the config; replaced on reload).
public struct AudiencePolicy: Sendable {
    public var name: String
    public var requestedScopes: [String]
    public var persist: Bool
    public var requireTTY: Bool
    public var allowedClients: [String]
    /// The configured RFC 8707 resources the login was asked for: the only ones `get --resource` may name.
    public var resources: [String]
    /// `refresh_margin`; nil = the default rule (`RefreshPlanner.margin(forLifetime:)`).
    public var refreshMargin: Duration?
    public var maxSession: Duration?
    /// The issuer and client a login of this audience belongs to (stored with it).
    public var identity: LoginIdentity?
    /// `require_mfa` / `acr_values`: what a login's verified id_token must show to be kept.
    public var identityPolicy = IdentityPolicy()
    /// Shown when a login is needed and nobody can be prompted.
    public var loginHint: String { "run: authctl login \(name)" }
    /// `redirect_port`; nil = an ephemeral loopback port per authorization code login.
    public var redirectPort: Int?
    /// Which login method to use, for the audience's `flow` or a `login --flow` override
    /// (AuthdConfig's `loginMethodPlan`, the one rule).
    public var loginPlan: @Sendable (LoginFlowChoice?) -> LoginMethodPlan

    public init(name: String, requestedScopes: [String], persist: Bool = true, requireTTY: Bool = false,
                allowedClients: [String] = [], resources: [String] = [], refreshMargin: Duration? = nil,
                maxSession: Duration? = nil, identity: LoginIdentity? = nil, redirectPort: Int? = nil,
                loginPlan: @escaping @Sendable (LoginFlowChoice?) -> LoginMethodPlan = AudiencePolicy.deviceFlowOnly) {
        self.redirectPort = redirectPort
        self.loginPlan = loginPlan
        self.name = name
        self.requestedScopes = requestedScopes
        self.persist = persist
        self.requireTTY = requireTTY
        self.allowedClients = allowedClients
        self.resources = resources
        self.refreshMargin = refreshMargin
        self.maxSession = maxSession
        self.identity = identity
    }

    public static let deviceFlowOnly: @Sendable (LoginFlowChoice?) -> LoginMethodPlan = { flow in
        flow == .authcode
            ? LoginMethodPlan(first: .authorizationCode, fallsBackToAuthorizationCode: false, reason: "flow = \"authcode\"")
            : LoginMethodPlan(first: .deviceFlow, fallsBackToAuthorizationCode: false, reason: "the device flow")
    }

    /// The refresh rule for these settings (RefreshPlanner.swift).
    var refreshPlanner: RefreshPlanner { RefreshPlanner(margin: refreshMargin, maxSession: maxSession) }
}

/// Side effects the agent needs from the daemon, injected so the agent is tested without one.
public struct AgentEnvironment: Sendable {
    public var clock: any DaemonClock
    public var vault: TokenVault
    public var audit: any AuditSink
    public var persistence: any LoginPersistence
    /// Rows of a QR code for a URI (`1` = dark), or [] when none can be made.
    public var qrRows: @Sendable (String) -> [String]
    /// A desktop notification (title, body), best effort.
    public var notifyDesktop: @Sendable (String, String) -> Void
    /// Jitter in [0, 1) for retry backoff; injected so tests are deterministic.
    public var jitter: @Sendable () -> Double
    /// Starts the authorization code flow's loopback listener (127.0.0.1 only).
    public var loopbackListener: LoopbackListenerFactory = { port, answer in try await NIOLoopbackListener.start(port: port, answer: answer) }
    /// How long an authorization code login waits for the browser's redirect (or a paste).
    public var authorizationDeadline: Duration = .seconds(600)

    public init(clock: any DaemonClock, vault: TokenVault, audit: any AuditSink, persistence: any LoginPersistence,
                qrRows: @escaping @Sendable (String) -> [String] = { _ in [] },
                notifyDesktop: @escaping @Sendable (String, String) -> Void = { _, _ in },
                jitter: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) }) {
        self.clock = clock
        self.vault = vault
        self.audit = audit
        self.persistence = persistence
        self.qrRows = qrRows
        self.notifyDesktop = notifyDesktop
        self.jitter = jitter
    }
}
