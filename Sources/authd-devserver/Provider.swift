// The OAuth state machine: device codes, grants, access and refresh tokens, behind one lock.

import Foundation
import Synchronization

struct OAuthError: Error, Sendable {
    let code: String
    let description: String

    init(_ code: String, _ description: String) {
        self.code = code
        self.description = description
    }

    /// RFC 6749 §5.2: only a failed client authentication is 401; every other error is 400.
    var status: Int { code == "invalid_client" ? 401 : 400 }
}

struct DeviceAuthorization: Sendable {
    let deviceCode: String
    let userCode: String
    let expiresIn: Int
    let interval: Int
}

struct TokenSet: Sendable {
    let accessToken: String
    let expiresIn: Int
    let refreshToken: String?
    let refreshExpiresIn: Int?
    let scopes: [String]
    let idToken: String?
    /// Epoch seconds of issue (GitLab's `created_at`, Entra v1's `expires_on`).
    let issuedAt: Int
}

/// What one poll of the token endpoint did, with the facts the request log needs either way.
struct PollOutcome: Sendable {
    var result: Result<TokenSet, OAuthError>
    var userCode: String?
    var poll: Int?
    var interval: Int?
}

/// What the verification page shows about a code.
struct DeviceView: Sendable {
    enum Status: Sendable { case pending, approved, denied, used, expired }
    let userCode: String
    let clientId: String
    let scopes: [String]
    let resources: [String]
    let extras: [(String, String)]
    let status: Status
}

/// What the verification page did with a person's decision.
enum Decision: Sendable {
    case unknown
    case done(DeviceView)
    case unchanged(DeviceView)
}

/// What a person approved at /authorize, kept with the authorization code it produced.
struct AuthorizationRequest: Sendable {
    let clientId: String
    let scopes: [String]
    let resources: [String]
    let redirectURI: String
    /// RFC 7636 S256 challenge: base64url(SHA-256(code_verifier)).
    let codeChallenge: String
    let nonce: String?
}

struct TokenOwner: Sendable {
    let clientId: String
    let scopes: [String]
}

final class Provider: Sendable {
    private let config: Config
    private let clock: MonotonicClock
    private let state = Mutex(State())
    /// Signs id_tokens and publishes their keys.
    let idTokens: IDTokenIssuer
    /// Clients registered through `/register` (RFC 7591).
    let dynamicClients = DynamicClients()

    /// The person every token is issued for; there is no login, only approve or deny.
    static let subject = "devuser"

    init(config: Config, clock: MonotonicClock) throws {
        self.config = config
        self.clock = clock
        idTokens = try IDTokenIssuer(settings: config.idTokens)
    }

    private struct DeviceRecord {
        enum Status { case pending, approved, denied, used }
        let userCode: String
        let clientId: String
        let scopes: [String]
        let resources: [String]
        let extras: [(String, String)]
        let created: Double
        let expires: Double
        var interval: Int
        var polls = 0
        var lastPoll: Double?
        var status = Status.pending
        /// Auth0 says `expired_token` once per code.
        var expiryReported = false
    }

    private struct GrantRecord {
        let clientId: String
        let scopes: [String]
        let resources: [String]
        let nonce: String?
    }

    private struct AccessRecord {
        let clientId: String
        let scopes: [String]
        let resources: [String]
        let issued: Double
        let expires: Double
        let grant: Int
    }

    private struct RefreshRecord {
        let grant: Int
        let issued: Double
        let expires: Double
    }

    private struct CodeRecord {
        let request: AuthorizationRequest
        let expires: Double
        var used = false
        /// The grant its exchange created, revoked if the code is presented again (RFC 6749 §4.1.2).
        var grant: Int?
    }

    private struct State {
        var devices: [String: DeviceRecord] = [:]
        var codes: [String: CodeRecord] = [:]
        var userCodes: [String: String] = [:]
        var grants: [Int: GrantRecord] = [:]
        var nextGrant = 1
        var access: [String: AccessRecord] = [:]
        var refresh: [String: RefreshRecord] = [:]
    }

    // MARK: device authorization

    func startDeviceAuthorization(
        clientId: String, scopes requested: [String], resources: [String], extras: [(String, String)]
    ) -> DeviceAuthorization {
        let granted = grantedScopes(clientId: clientId, requested: requested)
        let deviceCode = Random.token()
        let now = clock.now()
        return state.withLock { s in
            var userCode = Random.userCode()
            while s.userCodes[userCode] != nil { userCode = Random.userCode() }
            s.devices[deviceCode] = DeviceRecord(
                userCode: userCode, clientId: clientId, scopes: granted, resources: resources, extras: extras,
                created: now, expires: now + Double(config.deviceCodeTTL), interval: config.interval)
            s.userCodes[userCode] = deviceCode
            return DeviceAuthorization(
                deviceCode: deviceCode, userCode: userCode, expiresIn: config.deviceCodeTTL, interval: config.interval)
        }
    }

    /// A restricted client gets what it asked for within its allowed set, or the whole set when it asked for nothing,
    /// so tests see a granted scope that differs from the requested one.
    private func grantedScopes(clientId: String, requested: [String]) -> [String] {
        guard let allowed = config.clientScopes[clientId] else { return requested }
        return requested.isEmpty ? allowed : requested.filter(allowed.contains)
    }

    // MARK: token endpoint, device_code grant

    func poll(deviceCode: String, clientId: String, issuer: String) -> PollOutcome {
        let now = clock.now()
        return state.withLock { s in
            guard var record = s.devices[deviceCode] else {
                return PollOutcome(result: .failure(OAuthError(config.profile.unknownDeviceCodeError, "unknown device_code")))
            }
            var outcome = PollOutcome(result: .failure(OAuthError("invalid_grant", "")), userCode: record.userCode)
            guard record.clientId == clientId else {
                outcome.result = .failure(OAuthError("invalid_grant", "device_code was issued to another client"))
                return outcome
            }
            if record.status == .used {
                outcome.result = .failure(OAuthError("invalid_grant", "device_code has already been exchanged"))
                return outcome
            }
            guard now < record.expires else {
                if config.profile.reportsExpiryOnce && record.expiryReported {
                    outcome.result = .failure(OAuthError("invalid_grant", "Invalid or expired device code."))
                } else {
                    record.expiryReported = true
                    s.devices[deviceCode] = record
                    outcome.result = .failure(OAuthError("expired_token", "device_code has expired"))
                }
                return outcome
            }

            record.polls += 1
            outcome.poll = record.polls
            applyAutomaticDecision(&record, now: now)

            // RFC 8628 §3.5: slow_down, and the client adds 5 s to its interval for all later polls;
            // the server holds it to that, so a client that ignores slow_down keeps getting it.
            let tooFast = record.lastPoll.map { now - $0 < Double(record.interval) - Config.pollTolerance } ?? false
            let forced = config.slowDownEvery.map { record.polls % $0 == 0 } ?? false
            record.lastPoll = now
            if tooFast || forced {
                record.interval += 5
                outcome.interval = record.interval
                s.devices[deviceCode] = record
                let why = tooFast ? "polled faster than the interval" : "slow_down injected by --slow-down"
                outcome.result = .failure(OAuthError("slow_down", "\(why); interval is now \(record.interval) s"))
                return outcome
            }
            outcome.interval = record.interval

            switch record.status {
            case .pending:
                s.devices[deviceCode] = record
                outcome.result = .failure(OAuthError("authorization_pending", "the user has not yet approved the request"))
            case .denied:
                s.devices[deviceCode] = record
                outcome.result = .failure(OAuthError(config.profile.deniedError, "the user denied the request"))
            case .approved, .used:
                record.status = .used
                s.devices[deviceCode] = record
                let grant = s.nextGrant
                s.nextGrant += 1
                let nonce = record.extras.first { $0.0 == "nonce" }?.1
                s.grants[grant] = GrantRecord(
                    clientId: clientId, scopes: record.scopes, resources: record.resources, nonce: nonce)
                outcome.result = .success(issue(
                    &s, grant: grant, scopes: record.scopes, resources: record.resources,
                    withRefresh: config.issueRefreshToken, now: now, issuer: issuer))
            }
            return outcome
        }
    }

    private func applyAutomaticDecision(_ record: inout DeviceRecord, now: Double) {
        guard record.status == .pending, config.hasAutomaticDecision else { return }
        var due = false
        if let n = config.autoApproveAfterPolls, record.polls > n { due = true }
        if let seconds = config.autoApproveAfterSeconds, now - record.created >= Double(seconds) { due = true }
        if config.autoApproveAfterPolls == nil && config.autoApproveAfterSeconds == nil { due = true }
        if due { record.status = config.deny ? .denied : .approved }
    }

    private func issue(
        _ s: inout State, grant: Int, scopes: [String], resources: [String], withRefresh: Bool,
        now: Double, issuer: String
    ) -> TokenSet {
        let g = s.grants[grant]!
        let accessToken = Random.token()
        s.access[accessToken] = AccessRecord(
            clientId: g.clientId, scopes: scopes, resources: resources, issued: now,
            expires: now + Double(config.accessTokenTTL), grant: grant)
        var refreshToken: String?
        // Entra and Auth0 give a refresh token only for offline_access.
        if withRefresh && (!config.profile.refreshNeedsOfflineAccess || scopes.contains("offline_access")) {
            let token = Random.token()
            s.refresh[token] = RefreshRecord(grant: grant, issued: now, expires: now + Double(config.refreshTokenTTL))
            refreshToken = token
        }
        let idToken = scopes.contains("openid") ? makeIDToken(grant: g, now: now, issuer: issuer) : nil
        return TokenSet(
            accessToken: accessToken, expiresIn: config.accessTokenTTL, refreshToken: refreshToken,
            refreshExpiresIn: refreshToken == nil ? nil : config.refreshTokenTTL, scopes: scopes, idToken: idToken,
            issuedAt: clock.epoch(at: now))
    }

    /// Signed with the configured algorithm's current key (docs/devserver.md), and spoilt as `--id-token-fault` asks.
    private func makeIDToken(grant: GrantRecord, now: Double, issuer: String) -> String {
        let iat = clock.epoch(at: now)
        var claims: [(String, JSON)] = [
            ("iss", .string(issuer)), ("sub", .string(Provider.subject)), ("aud", .string(grant.clientId)),
            ("iat", .int(iat)), ("exp", .int(iat + config.accessTokenTTL)), ("auth_time", .int(iat)),
            ("name", .string("Dev User")), ("preferred_username", .string(Provider.subject)),
            ("email", .string("devuser@example.invalid")),
            // A unique token id, as Okta (jti) and Entra (uti) send: two tokens of one second differ.
            ("jti", .string(Random.token(bytes: 16))),
        ]
        if let nonce = grant.nonce { claims.append(("nonce", .string(nonce))) }
        claims += config.profile.identityClaims(methods: config.idTokens.methods, context: config.idTokens.context)
        return idTokens.sign(claims)
    }

    // MARK: authorization code grant (RFC 6749 §4.1, RFC 7636)

    /// The person approved: a fresh single-use code bound to the request.
    func issueAuthorizationCode(_ request: AuthorizationRequest) -> String {
        let code = Random.token()
        let now = clock.now()
        let granted = AuthorizationRequest(
            clientId: request.clientId, scopes: grantedScopes(clientId: request.clientId, requested: request.scopes),
            resources: request.resources, redirectURI: request.redirectURI, codeChallenge: request.codeChallenge,
            nonce: request.nonce)
        state.withLock { s in
            s.codes[code] = CodeRecord(request: granted, expires: now + Double(config.authorizationCodeTTL))
        }
        return code
    }

    /// Every failure is `invalid_grant` (RFC 6749 §5.2) with a description saying which check failed.
    /// A known code is spent by any attempt, right or wrong, so a verifier cannot be guessed in retries;
    /// a second use also revokes what the first one issued.
    func exchange(
        code: String, clientId: String, redirectURI: String?, codeVerifier: String?, issuer: String
    ) -> Result<TokenSet, OAuthError> {
        let now = clock.now()
        let unknown = config.profile.unknownAuthorizationCodeError
        return state.withLock { s in
            guard var record = s.codes[code] else {
                return .failure(OAuthError(unknown, "unknown authorization code"))
            }
            if record.used {
                if let grant = record.grant {
                    s.refresh = s.refresh.filter { $0.value.grant != grant }
                    s.access = s.access.filter { $0.value.grant != grant }
                    s.grants[grant] = nil
                }
                return .failure(OAuthError(unknown, "authorization code has already been used; the tokens it gave are revoked"))
            }
            record.used = true
            s.codes[code] = record
            let r = record.request
            guard now < record.expires else {
                return .failure(OAuthError(unknown, "authorization code has expired"))
            }
            guard r.clientId == clientId else {
                return .failure(OAuthError("invalid_grant", "authorization code was issued to another client"))
            }
            guard let redirectURI, redirectURI == r.redirectURI else {
                return .failure(OAuthError(config.profile.redirectMismatchError,
                                           "redirect_uri differs from the one sent to the authorization endpoint"))
            }
            guard let codeVerifier, !codeVerifier.isEmpty else {
                return .failure(OAuthError("invalid_grant", "code_verifier is required (PKCE)"))
            }
            guard PKCE.isWellFormedVerifier(codeVerifier) else {
                return .failure(OAuthError("invalid_grant", "code_verifier must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~"))
            }
            guard PKCE.challenge(for: codeVerifier) == r.codeChallenge else {
                return .failure(OAuthError("invalid_grant", "code_verifier does not match the code_challenge"))
            }
            let grant = s.nextGrant
            s.nextGrant += 1
            s.grants[grant] = GrantRecord(clientId: clientId, scopes: r.scopes, resources: r.resources, nonce: r.nonce)
            record.grant = grant
            s.codes[code] = record
            return .success(issue(
                &s, grant: grant, scopes: r.scopes, resources: r.resources,
                withRefresh: config.issueRefreshToken, now: now, issuer: issuer))
        }
    }

    // MARK: token endpoint, refresh_token grant

    func refresh(
        refreshToken: String, clientId: String, scopes requested: [String]?, resources: [String], issuer: String
    ) -> Result<TokenSet, OAuthError> {
        let now = clock.now()
        return state.withLock { s in
            guard let record = s.refresh[refreshToken], let grant = s.grants[record.grant] else {
                return .failure(OAuthError("invalid_grant", "unknown, revoked or already used refresh_token"))
            }
            guard now < record.expires else {
                s.refresh[refreshToken] = nil
                return .failure(OAuthError("invalid_grant", "refresh_token has expired"))
            }
            guard grant.clientId == clientId else {
                return .failure(OAuthError("invalid_grant", "refresh_token was issued to another client"))
            }
            let scopes = requested ?? grant.scopes
            if let extra = scopes.first(where: { !grant.scopes.contains($0) }) {
                return .failure(OAuthError("invalid_scope", "scope '\(extra)' was not granted originally"))
            }
            if let extra = resources.first(where: { !grant.resources.contains($0) }) {
                return .failure(OAuthError("invalid_target", "resource '\(extra)' was not granted originally"))
            }
            let rotate = config.rotateRefreshTokens
            if rotate { s.refresh[refreshToken] = nil }
            if config.profile.refreshRevokesOldAccessTokens {
                s.access = s.access.filter { $0.value.grant != record.grant }
            }
            let tokens = issue(
                &s, grant: record.grant, scopes: config.ignoreNarrowerScope ? grant.scopes : scopes, resources: resources.isEmpty ? grant.resources : resources,
                withRefresh: rotate, now: now, issuer: issuer)
            return .success(tokens)
        }
    }

    // MARK: revocation and introspection

    enum Revocation: String, Sendable {
        case accessToken = "revoked_access_token"
        case refreshToken = "revoked_refresh_token"
        case unknown = "unknown_token"
        case otherClient = "not_owner"
    }

    /// RFC 7009: a refresh token takes its whole grant with it, access tokens included.
    func revoke(token: String, clientId: String?) -> Revocation {
        state.withLock { s in
            if let a = s.access[token] {
                if let clientId, clientId != a.clientId { return .otherClient }
                s.access[token] = nil
                return .accessToken
            }
            if let r = s.refresh[token] {
                if let clientId, clientId != s.grants[r.grant]?.clientId { return .otherClient }
                s.refresh = s.refresh.filter { $0.value.grant != r.grant }
                s.access = s.access.filter { $0.value.grant != r.grant }
                s.grants[r.grant] = nil
                return .refreshToken
            }
            return .unknown
        }
    }

    func introspect(token: String, issuer: String) -> JSON {
        let now = clock.now()
        return state.withLock { s in
            if let a = s.access[token], now < a.expires {
                var members: [(String, JSON)] = [
                    ("active", .bool(true)), ("scope", .string(Scope.string(a.scopes))),
                    ("client_id", .string(a.clientId)), ("username", .string(Provider.subject)),
                    ("token_type", .string("Bearer")), ("exp", .int(clock.epoch(at: a.expires))),
                    ("iat", .int(clock.epoch(at: a.issued))), ("sub", .string(Provider.subject)),
                    ("iss", .string(issuer)),
                ]
                if !a.resources.isEmpty { members.append(("aud", .array(a.resources.map { .string($0) }))) }
                return .object(members)
            }
            if let r = s.refresh[token], now < r.expires, let g = s.grants[r.grant] {
                return .object([
                    ("active", .bool(true)), ("scope", .string(Scope.string(g.scopes))),
                    ("client_id", .string(g.clientId)), ("username", .string(Provider.subject)),
                    ("token_type", .string("refresh_token")), ("exp", .int(clock.epoch(at: r.expires))),
                    ("iat", .int(clock.epoch(at: r.issued))), ("sub", .string(Provider.subject)),
                    ("iss", .string(issuer)),
                ])
            }
            return .object([("active", .bool(false))])
        }
    }

    /// For the Kubernetes stand-in: the client of an id_token this server signed that has not expired, or nil.
    func activeIDToken(_ token: String) -> TokenOwner? {
        let client = idTokens.acceptedClient(token, registeredClients: Set(config.clients.keys), now: clock.epoch(at: clock.now()))
        return client.map { TokenOwner(clientId: $0, scopes: ["openid"]) }
    }

    /// For git: the owner of an access token that is live right now, or nil.
    func activeAccessToken(_ token: String) -> TokenOwner? {
        let now = clock.now()
        return state.withLock { s in
            guard let a = s.access[token], now < a.expires else { return nil }
            return TokenOwner(clientId: a.clientId, scopes: a.scopes)
        }
    }

    // MARK: verification page

    func view(userCode input: String) -> DeviceView? {
        let now = clock.now()
        return state.withLock { s in
            guard let (code, record) = lookup(&s, userCode: input, now: now) else { return nil }
            return makeView(code: code, record, now: now)
        }
    }

    func decide(userCode input: String, approve: Bool) -> Decision {
        let now = clock.now()
        return state.withLock { s in
            guard let (code, record) = lookup(&s, userCode: input, now: now) else { return .unknown }
            guard record.status == .pending, now < record.expires else {
                return .unchanged(makeView(code: code, record, now: now))
            }
            var updated = record
            updated.status = approve ? .approved : .denied
            s.devices[code] = updated
            return .done(makeView(code: code, updated, now: now))
        }
    }

    private func lookup(_ s: inout State, userCode input: String, now: Double) -> (String, DeviceRecord)? {
        guard let code = s.userCodes[UserCode.normalize(input)], var record = s.devices[code] else { return nil }
        // A time-based automatic decision is visible on the page even before the next poll applies it.
        if now < record.expires { applyAutomaticDecisionByTime(&record, now: now) }
        s.devices[code] = record
        return (code, record)
    }

    private func applyAutomaticDecisionByTime(_ record: inout DeviceRecord, now: Double) {
        guard record.status == .pending, config.hasAutomaticDecision else { return }
        let byTime = config.autoApproveAfterSeconds.map { now - record.created >= Double($0) } ?? false
        let immediateDeny = config.autoApproveAfterPolls == nil && config.autoApproveAfterSeconds == nil
        if byTime || immediateDeny { record.status = config.deny ? .denied : .approved }
    }

    private func makeView(code: String, _ r: DeviceRecord, now: Double) -> DeviceView {
        let status: DeviceView.Status
        switch r.status {
        case .used: status = .used
        case _ where now >= r.expires: status = .expired
        case .pending: status = .pending
        case .approved: status = .approved
        case .denied: status = .denied
        }
        return DeviceView(
            userCode: r.userCode, clientId: r.clientId, scopes: r.scopes, resources: r.resources,
            extras: r.extras, status: status)
    }
}
