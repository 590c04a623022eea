// What the engine needs to know about one audience, as plain values the daemon fills from the config.

/// How the client proves its identity at the token, device and revocation endpoints (RFC 6749 §2.3.1).
public enum ClientAuthentication: String, Sendable, Equatable {
    /// Public client: `client_id` in the body, no secret (GitHub, GitLab, Entra public clients).
    case none
    /// HTTP Basic with the form-urlencoded id and secret; `client_id` is then not repeated in the body.
    case clientSecretBasic = "client_secret_basic"
    /// `client_id` and `client_secret` in the body (Google's "TVs and limited input" clients).
    case clientSecretPost = "client_secret_post"
}

/// Endpoints as configured. Explicit ones always win over discovery.
public struct EndpointSettings: Sendable, Equatable {
    public var issuer: String?
    public var deviceAuthorization: String?
    public var token: String?
    public var revocation: String?
    /// RFC 6749 §3.1, for the authorization code flow.
    public var authorization: String?

    public init(issuer: String? = nil, deviceAuthorization: String? = nil, token: String? = nil, revocation: String? = nil,
                authorization: String? = nil) {
        self.issuer = issuer
        self.authorization = authorization
        self.deviceAuthorization = deviceAuthorization
        self.token = token
        self.revocation = revocation
    }
}

/// Limits put on every HTTP request the engine sends.
public struct HTTPLimits: Sendable, Equatable {
    public var connectTimeoutMilliseconds: Int
    public var totalTimeoutMilliseconds: Int
    public var maximumResponseBytes: Int

    public init(connectTimeoutMilliseconds: Int = 10_000, totalTimeoutMilliseconds: Int = 30_000,
                maximumResponseBytes: Int = 1 << 20) {
        self.connectTimeoutMilliseconds = connectTimeoutMilliseconds
        self.totalTimeoutMilliseconds = totalTimeoutMilliseconds
        self.maximumResponseBytes = maximumResponseBytes
    }
}

/// One audience's OAuth client, as the engine needs it.
public struct OAuthClientSettings: Sendable {
    public var clientID: String
    public var clientSecret: String?
    public var clientAuthentication: ClientAuthentication
    public var scopes: [String]
    /// RFC 8707 resource indicators, sent repeated in the device authorization request.
    public var resources: [String]
    /// Vendor parameters (Auth0 `audience`, …) added to the device authorization request.
    public var extraParameters: [(name: String, value: String)]
    public var endpoints: EndpointSettings
    /// Shown with `device_flow_disabled` / `unauthorized_client`, naming the provider's setting
    /// (e.g. "enable Device Flow in the GitHub App's settings"). A generic hint is used when nil.
    public var deviceFlowSetupHint: String?
    public var limits: HTTPLimits
    /// Extra PEM trust anchors for this provider.
    public var caFile: String?
    /// Added to every polling wait, because servers enforce the interval with their own clocks.
    public var pollingSafetyMargin: Duration
    /// Sent as `User-Agent`.
    public var userAgent: String
    /// Where id_tokens are verified from; empty means none can be (docs/security.md).
    public var idTokens = IDTokenSettings()

    public init(
        clientID: String, clientSecret: String? = nil, clientAuthentication: ClientAuthentication? = nil,
        scopes: [String] = [], resources: [String] = [], extraParameters: [(name: String, value: String)] = [],
        endpoints: EndpointSettings, deviceFlowSetupHint: String? = nil, limits: HTTPLimits = HTTPLimits(),
        caFile: String? = nil, pollingSafetyMargin: Duration = PollingSchedule.defaultSafetyMargin,
        userAgent: String = "authd"
    ) {
        self.clientID = clientID
        self.clientSecret = clientSecret
        // RFC 6749 §2.3.1: servers must support Basic, so it is the default for a confidential client.
        self.clientAuthentication = clientAuthentication ?? (clientSecret == nil ? .none : .clientSecretBasic)
        self.scopes = scopes
        self.resources = resources
        self.extraParameters = extraParameters
        self.endpoints = endpoints
        self.deviceFlowSetupHint = deviceFlowSetupHint
        self.limits = limits
        self.caFile = caFile
        self.pollingSafetyMargin = pollingSafetyMargin
        self.userAgent = userAgent
    }
}
