// One audience's OAuth client: endpoint resolution, device authorization, token polls, refresh and revocation.

import AuthdWire

/// The endpoints an operation will use, after explicit settings and discovery are merged.
public struct ResolvedEndpoints: Sendable, Equatable {
    public var issuer: String?
    public var deviceAuthorization: String?
    public var token: String?
    public var revocation: String?
    public var authorization: String?
    /// The discovery document used, when one was needed.
    public var metadata: AuthorizationServerMetadata?
}

/// `RFC 7009` token type hints.
public enum TokenTypeHint: String, Sendable, Equatable {
    case accessToken = "access_token"
    case refreshToken = "refresh_token"
}

/// A refresh's result, saying plainly what happened to the refresh token.
public struct RefreshedGrant: Sendable, Equatable {
    public enum RefreshTokenChange: Sendable, Equatable {
        /// The provider issued a new refresh token; the old one must be forgotten (it may be single-use).
        case rotated
        /// The answer had no `refresh_token`: the old one is kept in `grant`.
        case keptPrevious
    }

    public var grant: TokenGrant
    public var refreshToken: RefreshTokenChange
}

/// Everything the daemon asks of a provider for one audience. Cheap to create; share one
/// `MetadataDiscovery` between clients to share its cache.
public struct OAuthClient: Sendable {
    public let settings: OAuthClientSettings
    let transport: any HTTPTransport
    public let clock: any DaemonClock
    public let discovery: MetadataDiscovery
    /// The issuer's id_token signing keys, cached per client.
    public let keySets: KeySetCache
    let factory: RequestFactory
    let exchange: Exchange

    public init(settings: OAuthClientSettings, transport: any HTTPTransport, clock: any DaemonClock,
                discovery: MetadataDiscovery? = nil) {
        self.settings = settings
        self.transport = transport
        self.clock = clock
        self.discovery = discovery ?? MetadataDiscovery(transport: transport, clock: clock, limits: settings.limits)
        keySets = KeySetCache(transport: transport, clock: clock, limits: settings.limits)
        factory = RequestFactory(settings: settings)
        exchange = Exchange(transport: transport, limits: settings.limits)
    }

    // MARK: Endpoints

    public enum Operation: Sendable { case deviceFlow, authorizationCode, refresh, revocation }

    /// Explicit endpoints win; discovery runs only when an endpoint the operation needs is not
    /// configured and an issuer is. Every endpoint is checked against the http policy here.
    public func resolveEndpoints(for operation: Operation) async throws(OAuthError) -> ResolvedEndpoints {
        let explicit = settings.endpoints
        var resolved = ResolvedEndpoints(issuer: explicit.issuer, deviceAuthorization: explicit.deviceAuthorization,
                                         token: explicit.token, revocation: explicit.revocation,
                                         authorization: explicit.authorization)
        let needed: [OAuthEndpoint.Role] = switch operation {
        case .deviceFlow: [.deviceAuthorization, .token]
        case .authorizationCode: [.authorization, .token]
        case .refresh: [.token]
        case .revocation: [.revocation]
        }
        func value(_ role: OAuthEndpoint.Role) -> String? {
            switch role {
            case .deviceAuthorization: resolved.deviceAuthorization
            case .token: resolved.token
            case .revocation: resolved.revocation
            case .authorization: resolved.authorization
            case .discovery, .keySet, .registration: nil
            }
        }
        if needed.contains(where: { value($0) == nil }), let issuer = explicit.issuer {
            let metadata: AuthorizationServerMetadata
            do throws(OAuthError) {
                metadata = try await discovery.metadata(issuer: issuer, caFile: settings.caFile, userAgent: settings.userAgent)
            } catch {
                // Bitbucket-like providers publish no metadata at all: for a device flow "HTTP 404" at a
                // well-known URL hides the real news, that there may be no device flow to be had.
                if operation == .deviceFlow, resolved.deviceAuthorization == nil, case let .httpStatus(document, 404) = error {
                    throw .noEndpoint(.deviceAuthorization, reason: "\(EndpointPolicy.withoutUserinfo(issuer)) publishes no discovery metadata "
                        + "(\(document.displayURL) answered HTTP 404) and none is configured; " + Self.noDeviceFlowAdvice)
                }
                throw error
            }
            resolved.metadata = metadata
            resolved.deviceAuthorization = resolved.deviceAuthorization ?? metadata.deviceAuthorizationEndpoint
            resolved.token = resolved.token ?? metadata.tokenEndpoint
            resolved.revocation = resolved.revocation ?? metadata.revocationEndpoint
            resolved.authorization = resolved.authorization ?? metadata.authorizationEndpoint
        }
        for role in needed {
            guard let url = value(role) else {
                throw .noEndpoint(role, reason: Self.missingEndpointReason(role, issuer: explicit.issuer, metadata: resolved.metadata))
            }
            _ = try EndpointPolicy.sendable(url)
        }
        return resolved
    }

    static let deviceCodeGrantType = "urn:ietf:params:oauth:grant-type:device_code"

    /// Gitea, Forgejo, Bitbucket and GitLab (whose metadata omits the endpoint) look alike here: the
    /// person needs to hear that device flow may not exist there, not only that a URL is missing.
    static let noDeviceFlowAdvice = "the provider does not seem to offer the device authorization grant (RFC 8628); "
        + "if it does, set it explicitly in the config (device_authorization_endpoint)"

    static func missingEndpointReason(_ role: OAuthEndpoint.Role, issuer: String?, metadata: AuthorizationServerMetadata?) -> String {
        guard let issuer else { return "none is configured and there is no issuer to discover it from" }
        let names = "the discovery metadata of \(EndpointPolicy.withoutUserinfo(issuer)) names none"
        switch role {
        case .deviceAuthorization:
            let grantTypes = metadata?.grantTypes ?? []
            // Some servers list the short name "device_code"; only a list without either is evidence.
            let unlisted = !grantTypes.isEmpty && !grantTypes.contains { $0 == deviceCodeGrantType || $0 == "device_code" }
            return names + (unlisted ? " and its grant_types_supported lacks \(deviceCodeGrantType)" : "") + ", so " + noDeviceFlowAdvice
        case .revocation:
            return names + ": the provider does not seem to offer token revocation (RFC 7009); if it does, set it explicitly in the config (revocation_endpoint)"
        case .authorization:
            return names + ", so the authorization code flow cannot start; set authorization_endpoint in the config"
        case .token, .discovery, .keySet, .registration:
            return names + "; set it explicitly in the config"
        }
    }

    // MARK: Device authorization

    /// RFC 8628 §3.1: asks for a device code and user code.
    public func requestDeviceAuthorization(at url: String) async throws(OAuthError) -> DeviceAuthorization {
        let endpoint = OAuthEndpoint(.deviceAuthorization, url)
        var parameters: [(String, String)] = []
        if !settings.scopes.isEmpty { parameters.append(("scope", settings.scopes.joined(separator: " "))) }
        for resource in settings.resources { parameters.append(("resource", resource)) }
        for extra in settings.extraParameters { parameters.append((extra.name, extra.value)) }
        let request = try factory.form(to: endpoint, parameters)
        let requestedAt = clock.now
        let requestedAtUnix = clock.wallSeconds()
        let response = try await exchange.send(request, to: endpoint)
        // Whatever the body: RFC 8628 errors come with 400/401, so a 404 says the URL serves no device
        // flow (the description says so), and a 429 is rate limiting to retry later, not a verdict.
        if response.status == 404 || response.status == 429 { throw .httpStatus(endpoint: endpoint, status: response.status) }
        let fields: ResponseFields
        switch ResponseFields.parse(response) {
        case .success(let f): fields = f
        case .failure(let problem):
            if response.status >= 500 || response.status == 429 { throw .httpStatus(endpoint: endpoint, status: response.status) }
            throw .invalidResponse(endpoint: endpoint, reason: "HTTP \(response.status), \(problem.reason)")
        }
        if let error = fields.error { throw providerError(endpoint, error, fields.errorDescription, secrets: [], duringDeviceFlow: true) }
        guard (200..<300).contains(response.status) else { throw .httpStatus(endpoint: endpoint, status: response.status) }
        return try DeviceAuthorization.decode(fields, endpoint: endpoint, requestedAt: requestedAt, requestedAtUnixSeconds: requestedAtUnix)
    }

    // MARK: Token polls

    /// The result of one poll: the answer for the schedule, and the grant when approved.
    struct PollResult: Sendable {
        var answer: PollAnswer
        var grant: TokenGrant?
        /// What went wrong on a transient failure, for progress events and the final error.
        var transientError: OAuthError?
    }

    /// RFC 8628 §3.4–3.5: one access token request with the device code, classified.
    func poll(tokenEndpoint url: String, deviceCode: String) async throws(OAuthError) -> PollResult {
        let endpoint = OAuthEndpoint(.token, url)
        let request = try factory.form(to: endpoint, [
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"), ("device_code", deviceCode),
        ])
        let issuedAt = clock.wallSeconds()
        let response: HTTPResponse
        do {
            response = try await exchange.send(request, to: endpoint)
        } catch {
            if case .network = error { return PollResult(answer: .transientFailure, transientError: error) }
            throw error
        }
        if response.status == 429 {
            return PollResult(answer: .rateLimited(retryAfter: RetryAfter.parse(response)))
        }
        let fields: ResponseFields
        switch ResponseFields.parse(response) {
        case .success(let f): fields = f
        case .failure(let problem):
            if response.status >= 500 || response.status == 408 {
                return PollResult(answer: .transientFailure, transientError: .httpStatus(endpoint: endpoint, status: response.status))
            }
            throw .invalidResponse(endpoint: endpoint, reason: "HTTP \(response.status), \(problem.reason)")
        }
        let secrets = [deviceCode]
        if let error = fields.error {
            let description = ProviderText(secrets: secrets + factory.secrets).clean(fields.errorDescription)
            switch error {
            case OAuthErrorCode.authorizationPending:
                return PollResult(answer: .pending)
            case OAuthErrorCode.slowDown:
                return PollResult(answer: .slowDown(serverInterval: fields.integer("interval").flatMap { $0 > 0 ? .seconds(min($0, 3600)) : nil }))
            case _ where OAuthErrorCode.isDenial(error):
                return PollResult(answer: .denied(code: error, description: description))
            case OAuthErrorCode.expiredToken:
                return PollResult(answer: .expired)
            case _ where OAuthErrorCode.isTransient(error):
                return PollResult(answer: .transientFailure, transientError: providerError(endpoint, error, fields.errorDescription, secrets: secrets, duringDeviceFlow: true))
            default:
                return PollResult(answer: .failed(error: ProviderText(secrets: secrets + factory.secrets).clean(error) ?? "error", description: description))
            }
        }
        if response.status >= 500 || response.status == 408 {
            return PollResult(answer: .transientFailure, transientError: .httpStatus(endpoint: endpoint, status: response.status))
        }
        guard (200..<300).contains(response.status) else {
            throw .invalidResponse(endpoint: endpoint, reason: "HTTP \(response.status) without an OAuth error")
        }
        let grant = try TokenGrant.decode(fields, endpoint: endpoint, issuedAt: issuedAt, requestedScopes: settings.scopes,
                                          secrets: [deviceCode] + factory.secrets)
        return PollResult(answer: .approved, grant: grant)
    }

    // MARK: Refresh

    /// RFC 6749 §6. `scopes` (narrower than granted) and `resources` are sent only when given.
    /// `invalid_grant` (GitHub: `bad_refresh_token`) means the login is gone: `.loginNeeded`.
    /// Network failures, 5xx, 429 and `temporarily_unavailable` are `isRetryable`.
    public func refresh(_ grant: TokenGrant, scopes: [String]? = nil, resources: [String]? = nil) async throws(OAuthError) -> RefreshedGrant {
        guard let refreshToken = grant.refreshToken else { throw .loginNeeded(reason: "there is no refresh token") }
        if let expiry = grant.refreshTokenExpiresAt, clock.wallSeconds() >= expiry {
            throw .loginNeeded(reason: "the refresh token expired")
        }
        let endpoints = try await resolveEndpoints(for: .refresh)
        let endpoint = OAuthEndpoint(.token, endpoints.token ?? "")
        var parameters: [(String, String)] = [("grant_type", "refresh_token"), ("refresh_token", refreshToken)]
        if let scopes, !scopes.isEmpty { parameters.append(("scope", scopes.joined(separator: " "))) }
        for resource in resources ?? [] { parameters.append(("resource", resource)) }
        let request = try factory.form(to: endpoint, parameters)
        let issuedAt = clock.wallSeconds()
        let response = try await exchange.send(request, to: endpoint)
        let secrets = [refreshToken, grant.accessToken]
        let fields = try fieldsOrStatusError(response, endpoint: endpoint)
        if let error = fields.error {
            if OAuthErrorCode.rejectsRefreshToken(error) {
                let text = ProviderText(secrets: secrets + factory.secrets)
                let description = text.clean(fields.errorDescription)
                throw .loginNeeded(reason: "the provider no longer accepts the refresh token (\(text.clean(error) ?? "")\(description.map { ": \($0)" } ?? ""))")
            }
            throw providerError(endpoint, error, fields.errorDescription, secrets: secrets, duringDeviceFlow: false)
        }
        guard (200..<300).contains(response.status) else { throw .httpStatus(endpoint: endpoint, status: response.status) }
        var fresh = try TokenGrant.decode(fields, endpoint: endpoint, issuedAt: issuedAt, requestedScopes: scopes ?? grant.scopes,
                                          secrets: secrets + factory.secrets)
        let change: RefreshedGrant.RefreshTokenChange
        if fresh.refreshToken == nil {
            change = .keptPrevious
            fresh.refreshToken = refreshToken
            fresh.refreshTokenExpiresAt = fresh.refreshTokenExpiresAt ?? grant.refreshTokenExpiresAt
        } else {
            change = .rotated
        }
        if fresh.idToken == nil {
            fresh.idToken = grant.idToken
            fresh.identity = grant.identity
        }
        return RefreshedGrant(grant: fresh, refreshToken: change)
    }

    // MARK: Revocation

    /// RFC 7009. HTTP 200 is success, also for a token the provider does not know. 503 and other
    /// 5xx are retryable `httpStatus` errors; `unsupported_token_type` is reported as a provider error.
    /// `alsoRedacting`: other secrets of the same login (the provider knows them too) that must not
    /// appear in an error either.
    public func revoke(_ token: String, hint: TokenTypeHint, alsoRedacting others: [String] = []) async throws(OAuthError) {
        let endpoints = try await resolveEndpoints(for: .revocation)
        let endpoint = OAuthEndpoint(.revocation, endpoints.revocation ?? "")
        let request = try factory.form(to: endpoint, [("token", token), ("token_type_hint", hint.rawValue)])
        let response = try await exchange.send(request, to: endpoint)
        if response.status == 200 {
            // Some providers put errors in HTTP 200 answers (PROVIDERS.md, deviation 2). RFC 7009 §2.2:
            // an invalid token is no error, since what revocation wants is already so.
            if case .success(let fields) = ResponseFields.parse(response), let error = fields.error, error != "invalid_token" {
                throw providerError(endpoint, error, fields.errorDescription, secrets: [token] + others, duringDeviceFlow: false)
            }
            return
        }
        let fields = try fieldsOrStatusError(response, endpoint: endpoint)
        if let error = fields.error { throw providerError(endpoint, error, fields.errorDescription, secrets: [token] + others, duringDeviceFlow: false) }
        throw .httpStatus(endpoint: endpoint, status: response.status)
    }

    /// Revokes the refresh token, then the access token (both are attempted; the first error is thrown).
    /// Revoking the refresh token first matters: at most providers it also ends the access tokens issued from it.
    public func revoke(grant: TokenGrant) async throws(OAuthError) {
        if let firstError = try await revoke(refreshToken: grant.refreshToken, accessToken: grant.accessToken).first {
            throw firstError
        }
    }

    /// Revokes whichever of the two tokens is given, the refresh token first, and returns every
    /// failure in order (empty: all revoked). Without a revocation endpoint it throws `.noEndpoint`
    /// before sending anything; a cancellation throws `.cancelled` at once.
    public func revoke(refreshToken: String?, accessToken: String?) async throws(OAuthError) -> [OAuthError] {
        _ = try await resolveEndpoints(for: .revocation)
        var failures: [OAuthError] = []
        for (token, hint, other) in [(refreshToken, TokenTypeHint.refreshToken, accessToken), (accessToken, .accessToken, refreshToken)] {
            guard let token else { continue }
            do throws(OAuthError) { try await revoke(token, hint: hint, alsoRedacting: other.map { [$0] } ?? []) } catch {
                if error == .cancelled { throw error }
                failures.append(error)
            }
        }
        return failures
    }

    // MARK: Helpers

    func fieldsOrStatusError(_ response: HTTPResponse, endpoint: OAuthEndpoint) throws(OAuthError) -> ResponseFields {
        // 429 is rate limiting, to be retried, even when its body carries an OAuth error code.
        if response.status == 429 { throw .httpStatus(endpoint: endpoint, status: 429) }
        switch ResponseFields.parse(response) {
        case .success(let fields):
            return fields
        case .failure(let problem):
            if !(200..<300).contains(response.status) { throw .httpStatus(endpoint: endpoint, status: response.status) }
            throw .invalidResponse(endpoint: endpoint, reason: problem.reason)
        }
    }

    /// A provider error with its description cleaned and, for "device flow not enabled" errors, a setup hint.
    func providerError(_ endpoint: OAuthEndpoint, _ error: String, _ description: String?, secrets: [String],
                       duringDeviceFlow: Bool) -> OAuthError {
        let text = ProviderText(secrets: secrets + factory.secrets)
        let code = text.clean(error) ?? "error"
        let description = text.clean(description)
        return .provider(endpoint: endpoint, error: code, description: description,
                         hint: SetupHint.forError(code, description: description, configured: settings.deviceFlowSetupHint,
                                                  duringDeviceFlow: duringDeviceFlow))
    }
}

/// Known "this app is not set up for that" answers, turned into what to change and where.
enum SetupHint {
    static let genericDeviceFlow = "the OAuth application may not allow the device authorization grant; enable it in the application's settings at the provider"

    static let refreshGrant = "the OAuth application may not be allowed the refresh_token grant; enable refresh tokens for it at the provider"

    /// A device-flow refusal and a refresh refusal both say `unauthorized_client`; only the first is
    /// about the device grant.
    static func forError(_ code: String, description: String?, configured: String?, duringDeviceFlow: Bool) -> String? {
        let description = description ?? ""
        if description.contains("AADSTS7000218") {
            return "enable \"Allow public client flows\" in the Entra app registration (Authentication page)"
        }
        if description.contains("AADSTS700025") {
            return "this Entra app is a public client: remove client_secret from the config"
        }
        switch code {
        case "device_flow_disabled":
            return configured ?? genericDeviceFlow
        case "unauthorized_client":
            return duringDeviceFlow ? configured ?? genericDeviceFlow : refreshGrant
        case "incorrect_client_credentials", "invalid_client":
            return "check client_id (and client_secret) in the config against the provider's application"
        default:
            return nil
        }
    }
}
