// Adapts the OAuth engine (AuthdOAuth over libcurl) to what an audience agent asks of its provider.
import AuthdConfig
import AuthdOAuth
import AuthdPosix
import AuthdSystem
import AuthdWire

/// One configured audience's provider: discovery, device flow, authorization code flow, refresh and revocation.
public struct OAuthAudienceProvider: AudienceProvider, AuthorizationCodeProvider {
    private let client: OAuthClient?
    /// For `client_id = "register"`: the client is built from the registered id instead.
    private let registering: RegisteringClient?
    /// Why no client could be built (an unreadable client_secret_file): every call reports it.
    private let setupProblem: String?
    private let configuredIssuer: String?
    private let revocationHint: String?

    public init(audience: AudienceConfiguration, daemon: DaemonSettings, registrations: ClientRegistrations? = nil,
                transport: any HTTPTransport = CurlHTTPTransport(userAgent: "authd/\(AuthdProtocol.softwareVersion)"),
                clock: any DaemonClock) {
        configuredIssuer = audience.endpoints.issuer?.description
        revocationHint = audience.revocationHint
        var secret: String?
        var problem: String?
        switch audience.clientSecret {
        case .inline(let value): secret = value
        case .file(let path):
            do {
                // Refused unless it is ours and mode 0600 or tighter; never blocks (a FIFO is refused).
                // A refusal breaks this audience only: every call reports it.
                var bytes = try FileSystem.readRegularFile(path, .secretFile).bytes
                defer { SecretBytes.zero(&bytes) }
                let firstLine = bytes.split(separator: 0x0A, maxSplits: 1, omittingEmptySubsequences: false).first ?? []
                secret = String(decoding: firstLine.filter { $0 != 0x0D }, as: UTF8.self)
            } catch {
                problem = "\(audience.name): cannot use client_secret_file \(path): \(error)"
            }
        case nil: break
        }
        let authentication: ClientAuthentication
        switch audience.tokenAuthMethod {
        case .none: authentication = .none
        case .clientSecretBasic: authentication = .clientSecretBasic
        case .clientSecretPost: authentication = .clientSecretPost
        }
        var settings = OAuthClientSettings(
            clientID: audience.clientID, clientSecret: secret, clientAuthentication: secret == nil ? ClientAuthentication.none : authentication,
            scopes: audience.scopes, resources: audience.resources,
            extraParameters: audience.extraParameters.map { (name: $0.name, value: $0.value) }
                + (audience.acrValues.isEmpty ? [] : [(name: "acr_values", value: audience.acrValues.joined(separator: " "))]),
            // The issuer goes to the engine only when the config says discovery is usable: Entra and GitHub have
            // no revocation endpoint to find, and GitLab's metadata lacks the device endpoint.
            endpoints: EndpointSettings(issuer: audience.endpoints.needsDiscovery ? audience.endpoints.issuer?.description : nil,
                                        deviceAuthorization: audience.endpoints.deviceAuthorization?.description,
                                        token: audience.endpoints.token?.description,
                                        revocation: audience.endpoints.revocation?.description,
                                        authorization: audience.endpoints.authorization?.description),
            deviceFlowSetupHint: audience.deviceFlowSetupHint, limits: Self.httpLimits(), caFile: audience.caFile,
            userAgent: "authd/\(AuthdProtocol.softwareVersion)")
        setupProblem = problem
        var withIdentity = settings
        withIdentity.idTokens = IDTokenSettings(issuer: audience.endpoints.issuer?.description, jwksURI: audience.jwksURI?.description)
        settings = withIdentity
        let discovery = MetadataDiscovery(transport: transport, clock: clock, limits: settings.limits)
        if audience.registersClient, let registrations, problem == nil {
            client = nil
            registering = RegisteringClient(
                audience: audience.name, identity: Daemon.identity(of: audience), persist: audience.persist,
                request: .nativeClient(hostName: CurrentProcess.hostName, redirectPort: audience.redirectPort),
                configuredEndpoint: audience.registrationEndpoint?.description, issuer: audience.endpoints.issuer?.description,
                registrar: ClientRegistrar(transport: transport, discovery: discovery, limits: settings.limits, caFile: audience.caFile,
                                           userAgent: settings.userAgent, refusalHint: audience.preset?.registrationRefusedHint),
                registrations: registrations, template: settings, transport: transport, clock: clock, discovery: discovery)
        } else {
            client = problem == nil ? OAuthClient(settings: settings, transport: transport, clock: clock, discovery: discovery) : nil
            registering = nil
        }
    }

    public var issuer: String? { get async { configuredIssuer } }

    /// Provider requests give up after 30 s unless `AUTHD_HTTP_TIMEOUT` (seconds, 1–300) says otherwise.
    static func httpLimits() -> HTTPLimits {
        guard let text = CurrentProcess.environment("AUTHD_HTTP_TIMEOUT"), let seconds = Int(text), (1...300).contains(seconds) else {
            return HTTPLimits()
        }
        return HTTPLimits(connectTimeoutMilliseconds: min(10_000, seconds * 1000), totalTimeoutMilliseconds: seconds * 1000)
    }

    /// The engine's client; for `client_id = "register"` registered first when need be.
    private func requireClient() async throws(ProviderError) -> OAuthClient {
        if let registering {
            do throws(OAuthError) {
                if let registered = try await registering.client(registering: true) { return registered }
            } catch {
                throw Self.classify(error, refreshing: false)
            }
        }
        guard let client else { throw ProviderError(.provider, setupProblem ?? "provider not configured") }
        return client
    }

    /// Deletes the registered client at the provider (RFC 7592) and forgets it (`logout --forget-client`).
    public func forgetRegisteredClient() async -> ClientForgetting {
        await registering?.forget() ?? .notRegistered
    }

    /// The engine's whole device flow; the device code stays inside it.
    public func runDeviceFlow(events: @escaping @Sendable (DeviceFlowEvent) -> Void) async throws -> IssuedTokens {
        let client = try await requireClient()
        do {
            let grant = try await client.runDeviceFlow { events($0) }
            return try await verified(Self.issued(grant), idToken: grant.idToken, using: client, refusing: true)
        } catch {
            throw Self.classify(error, refreshing: false)
        }
    }

    /// Real signature checks for the engine's pure verifier (libcrypto, libsodium).
    static let signatureCheck: IDTokenVerifier.SignatureCheck = { algorithm, material, message, signature in
        SignatureVerificationKey.verifies(algorithm, material, message: message, signature: signature)
    }

    /// Verifies the id_token that came with `issued`, if any. At a login (`refusing`) a token that
    /// fails refuses the login: its tokens are revoked where the provider allows and nothing is
    /// kept. On a refresh the new id_token is dropped instead (the login stays, without it).
    /// A token that cannot be verified (no issuer, no jwks_uri) is always dropped.
    private func verified(_ issued: IssuedTokens, idToken: String?, using client: OAuthClient, refusing: Bool,
                          nonce: String? = nil) async throws -> IssuedTokens {
        var result = issued
        result.subject = nil
        guard let idToken else { return result }
        do {
            // The authorization code flow's nonce must come back in its id_token (replay of another login's token).
            guard let identity = try await client.verifyIDToken(idToken, nonce: nonce, signatureCheck: Self.signatureCheck) else {
                result.identityUnverifiable = true
                return result
            }
            result.identity = identity
            result.idToken = idToken
            result.subject = identity.displayName
            return result
        } catch {
            guard refusing else { return result }
            _ = await revoke(refreshToken: issued.refreshToken, accessToken: issued.accessToken)
            throw ProviderError(.provider, "login refused: \(error.description)",
                                hint: "nothing was kept; check the audience's issuer and client_id, and this machine's clock")
        }
    }

    public func refresh(refreshToken: String) async throws -> IssuedTokens {
        try await refresh(refreshToken: refreshToken, scopes: nil, resources: nil)
    }

    public func refresh(refreshToken: String, narrowing: TokenNarrowing) async throws -> IssuedTokens {
        try await refresh(refreshToken: refreshToken, scopes: narrowing.scopes, resources: narrowing.resources)
    }

    private func refresh(refreshToken: String, scopes: [String]?, resources: [String]?) async throws -> IssuedTokens {
        let client = try await requireClient()
        do {
            let refreshed = try await client.refresh(TokenGrant(accessToken: "", refreshToken: refreshToken, issuedAt: client.clock.wallSeconds()),
                                                     scopes: scopes, resources: resources)
            var issued = try await verified(Self.issued(refreshed.grant), idToken: refreshed.grant.idToken,
                                            using: client, refusing: false)
            // The engine fills in the old refresh token when none came back; the agent keeps its own.
            if refreshed.refreshToken == .keptPrevious { issued.refreshToken = nil }
            return issued
        } catch {
            throw Self.classify(error, refreshing: true)
        }
    }

    public func revoke(refreshToken: String?, accessToken: String?) async -> RevocationOutcome {
        // A registered client is not registered again to revoke: without one nothing was issued.
        let registered = try? await registering?.client(registering: false)
        guard let client = registered ?? client else {
            return registering != nil ? .notLoggedIn : .failed(setupProblem ?? "provider not configured")
        }
        do {
            let failures = try await client.revoke(refreshToken: refreshToken, accessToken: accessToken)
            return failures.isEmpty ? .revoked : .failed(failures.map(\.description).joined(separator: "; "))
        } catch {
            if case .noEndpoint = error { return .unsupported(hint: revocationHint) }
            return .failed(error.description)
        }
    }

    static func issued(_ grant: TokenGrant) -> IssuedTokens {
        var issued = IssuedTokens(accessToken: grant.accessToken, tokenType: grant.tokenType, expiresIn: grant.expiresIn,
                                  refreshToken: grant.refreshToken,
                                  refreshTokenExpiresAt: grant.refreshTokenExpiresAt,
                                  scopes: grant.scopes.isEmpty ? nil : grant.scopes)
        issued.nonce = grant.nonce
        return issued
    }

    // MARK: Authorization code

    public func beginAuthorizationCode(port: Int) async throws -> AuthorizationCodeStart {
        let redirectURI = OAuthClient.loopbackRedirectURI(port: port)
        let client = try await requireClient()
        do {
            // libsodium's CSPRNG: the verifier, state and nonce are unguessable.
            let pending = try await client.beginAuthorization(redirectURI: redirectURI) { SecureRandom.bytes(count: $0) }
            return AuthorizationCodeStart(
                authorizationURL: pending.authorizationURL, redirectURI: pending.redirectURI, nonce: pending.nonce,
                check: { Self.callbackCheck(pending.check(query: $0)) },
                checkPasted: { Self.callbackCheck(pending.check(pasted: $0)) }, handle: pending)
        } catch {
            throw Self.classify(error, refreshing: false)
        }
    }

    public func exchangeAuthorizationCode(_ code: String, for start: AuthorizationCodeStart) async throws -> IssuedTokens {
        let client = try await requireClient()
        guard let pending = start.handle as? AuthdOAuth.PendingAuthorization else { throw ProviderError(.provider, "authorization from another provider") }
        do {
            let grant = try await client.exchange(code: code, for: pending)
            return try await verified(Self.issued(grant), idToken: grant.idToken, using: client, refusing: true, nonce: pending.nonce)
        } catch {
            throw Self.classify(error, refreshing: false)
        }
    }

    static func callbackCheck(_ verdict: CallbackVerdict) -> CallbackCheck {
        switch verdict {
        case .code(let code): return .code(code)
        case .refused(let reason): return .refused(reason)
        case .ended(let error): return .ended(classify(error, refreshing: false))
        }
    }

    /// Sorts engine errors into what the agent decides on: retry later, ask for a login, or give up.
    static func classify(_ error: any Error, refreshing: Bool) -> ProviderError {
        if let error = error as? ProviderError { return error }
        guard let error = error as? OAuthError else {
            return error is CancellationError ? ProviderError(.cancelled, "cancelled") : ProviderError(.transient, "\(error)")
        }
        var classified = classifyOAuth(error, refreshing: refreshing)
        classified.refusesDeviceGrant = !refreshing && error.refusesDeviceGrant
        return classified
    }

    private static func classifyOAuth(_ error: OAuthError, refreshing: Bool) -> ProviderError {
        switch error {
        case .denied: return ProviderError(.denied, error.description)
        case .expired: return ProviderError(.expired, error.description, hint: "run the login again and approve within the time shown")
        case .loginNeeded: return ProviderError(.loginNeeded, error.description)
        case .cancelled: return ProviderError(.cancelled, error.description)
        case let .provider(endpoint, code, description, hint):
            // The hint travels once, as the hint: the message is the provider's answer alone.
            let answer = OAuthError.provider(endpoint: endpoint, error: code, description: description, hint: nil).description
            return ProviderError(error.isRetryable ? .transient : .provider, answer, hint: hint)
        case let .registrationRefused(endpoint, status, code, description, hint):
            // As for `.provider`: the hint travels once, as the hint.
            let answer = OAuthError.registrationRefused(endpoint: endpoint, status: status, error: code, description: description, hint: nil)
            return ProviderError(.provider, answer.description, hint: hint)
        case .invalidResponse:
            // A proxy's HTML page or a half-sent answer: worth another try when refreshing.
            return ProviderError(refreshing ? .transient : .provider, error.description)
        default:
            return ProviderError(error.isRetryable ? .transient : .provider, error.description)
        }
    }
}
