// The authorization code grant with PKCE (RFC 6749 §4.1, RFC 7636) and a loopback redirect (RFC 8252): request, callback check, code exchange.

import AuthdWire

/// A PKCE `S256` pair (RFC 7636 §4.1–4.2): the verifier stays in the daemon, the challenge goes
/// in the authorization URL, and only the holder of the verifier can redeem the code.
public struct PKCEPair: Sendable, Equatable {
    public static let method = "S256"
    public let verifier: String
    public let challenge: String

    /// 32 to 96 random octets, base64url-encoded: a verifier of 43 to 128 characters.
    public init?(randomOctets: [UInt8]) {
        guard (32...96).contains(randomOctets.count) else { return nil }
        verifier = Base64URL.encode(randomOctets)
        challenge = Self.challenge(for: verifier)
    }

    /// `BASE64URL(SHA256(ASCII(code_verifier)))`.
    public static func challenge(for verifier: String) -> String {
        Base64URL.encode(SHA256.hash(Array(verifier.utf8)))
    }
}

/// What the loopback listener or a pasted address brought back, judged against the login waiting.
public enum CallbackVerdict: Sendable, Equatable {
    /// The right `state` and a code: exchange it.
    case code(String)
    /// Not this login's answer (no or wrong `state`, no code, a repeated parameter): refused, and
    /// the login goes on waiting, so a stray or forged request cannot end it.
    case refused(reason: String)
    /// The provider answered this login (right `state`) with an error: the login ends.
    case ended(OAuthError)
}

/// One authorization code login between the authorization URL and the code exchange. It holds the
/// PKCE verifier and the `state`; `description` shows neither.
public struct PendingAuthorization: Sendable, CustomStringConvertible {
    /// Show this to the person (or open it in their browser).
    public let authorizationURL: String
    /// `http://127.0.0.1:PORT/callback`, the redirect URI sent and to be sent again with the code.
    public let redirectURI: String
    /// The OpenID Connect `nonce` sent (when `openid` was asked); the id_token must carry it.
    public let nonce: String?
    let state: String
    let pkce: PKCEPair
    let tokenEndpoint: String
    let issuer: String?

    public var description: String { "PendingAuthorization(redirect_uri: \(redirectURI), nonce: \(nonce == nil ? "none" : "sent"))" }

    /// RFC 6749 §4.1.2: checks a redirect's query string (without `?`).
    public func check(query: String) -> CallbackVerdict {
        let pairs = FormURLEncoding.decode(query)
        func values(_ name: String) -> [String] { pairs.filter { $0.0 == name }.map(\.1) }
        // §3.1: a parameter sent twice is an error; here it is someone's attempt, not the provider's answer.
        for name in ["state", "code", "error", "iss"] where values(name).count > 1 {
            return .refused(reason: "the parameter \(name) appears more than once")
        }
        guard let received = values("state").first else { return .refused(reason: "the answer has no state") }
        guard ConstantTime.equal(Array(received.utf8), Array(state.utf8)) else {
            return .refused(reason: "the state does not match this login")
        }
        // RFC 9207: an `iss` naming another issuer is a mix-up attempt.
        if let iss = values("iss").first, let issuer, !IssuerIdentifier.matches(issuer, iss) {
            return .refused(reason: "the answer names another issuer")
        }
        let text = ProviderText(secrets: [state, pkce.verifier])
        if let error = values("error").first {
            let code = text.clean(error) ?? "error"
            let description = text.clean(values("error_description").first)
            if OAuthErrorCode.isDenial(code) { return .ended(.denied(code: code, description: description)) }
            return .ended(.provider(endpoint: OAuthEndpoint(.authorization, Self.withoutQuery(authorizationURL)), error: code,
                                    description: description, hint: nil))
        }
        guard let code = values("code").first, !code.isEmpty else { return .refused(reason: "the answer has no code") }
        return .code(code)
    }

    /// Paste-back: the whole address the browser ended on, or just its query (`code=…&state=…`).
    public func check(pasted text: String) -> CallbackVerdict {
        var line = Substring(text)
        while let c = line.first, c == " " || c == "\t" || c == "\r" || c == "\n" { line.removeFirst() }
        while let c = line.last, c == " " || c == "\t" || c == "\r" || c == "\n" { line.removeLast() }
        guard line.utf8.count <= Self.maximumPastedBytes else { return .refused(reason: "the pasted text is too long") }
        if let hash = line.firstIndex(of: "#") { line = line[..<hash] }
        let query: Substring
        if line.contains("://") {
            let question = line.firstIndex(of: "?") ?? line.endIndex
            guard line[..<question] == redirectURI[...] else {
                return .refused(reason: "that is not the address this login redirects to (\(redirectURI)?…)")
            }
            query = question == line.endIndex ? "" : line[line.index(after: question)...]
        } else {
            query = line.first == "?" ? line.dropFirst() : line
        }
        return check(query: String(query))
    }

    public static let maximumPastedBytes = 8192

    static func withoutQuery(_ url: String) -> String {
        String(url[..<(url.firstIndex(of: "?") ?? url.endIndex)])
    }
}

extension OAuthClient {
    /// The loopback redirect URI of RFC 8252 §7.3 for a listener on `port`.
    public static func loopbackRedirectURI(port: Int) -> String { "http://127.0.0.1:\(port)/callback" }

    /// Starts a login: resolves the authorization and token endpoints (discovery when needed) and
    /// builds the authorization URL. `randomOctets(n)` must be a CSPRNG (the daemon passes
    /// libsodium's); the verifier, `state` and `nonce` each take 32 octets.
    public func beginAuthorization(redirectURI: String,
                                   randomOctets: @Sendable (Int) -> [UInt8]) async throws(OAuthError) -> PendingAuthorization {
        let endpoints = try await resolveEndpoints(for: .authorizationCode)
        guard let authorizationURL = endpoints.authorization, let tokenURL = endpoints.token else {
            throw .noEndpoint(.authorization, reason: "not resolved")
        }
        return try authorizationRequest(authorizationEndpoint: authorizationURL, tokenEndpoint: tokenURL, issuer: endpoints.issuer,
                                        redirectURI: redirectURI, randomOctets: randomOctets)
    }

    /// RFC 6749 §4.1.1 with RFC 7636 §4.3: the URL for the person's browser. Pure.
    func authorizationRequest(authorizationEndpoint: String, tokenEndpoint: String, issuer: String?, redirectURI: String,
                              randomOctets: (Int) -> [UInt8]) throws(OAuthError) -> PendingAuthorization {
        _ = try EndpointPolicy.sendable(authorizationEndpoint)
        guard let pkce = PKCEPair(randomOctets: randomOctets(32)) else {
            throw .invalidEndpoint(url: authorizationEndpoint, reason: "no random octets for PKCE")
        }
        let state = Base64URL.encode(randomOctets(32))
        let nonce = settings.scopes.contains("openid") ? Base64URL.encode(randomOctets(32)) : nil
        var parameters: [(String, String)] = [
            ("response_type", "code"), ("client_id", settings.clientID), ("redirect_uri", redirectURI),
        ]
        if !settings.scopes.isEmpty { parameters.append(("scope", settings.scopes.joined(separator: " "))) }
        parameters += [("state", state), ("code_challenge", pkce.challenge), ("code_challenge_method", PKCEPair.method)]
        if let nonce { parameters.append(("nonce", nonce)) }
        for resource in settings.resources { parameters.append(("resource", resource)) }
        for extra in settings.extraParameters { parameters.append((extra.name, extra.value)) }
        let separator = authorizationEndpoint.contains("?") ? "&" : "?"
        return PendingAuthorization(authorizationURL: authorizationEndpoint + separator + FormURLEncoding.encode(parameters),
                                    redirectURI: redirectURI, nonce: nonce, state: state, pkce: pkce,
                                    tokenEndpoint: tokenEndpoint, issuer: issuer)
    }

    /// RFC 6749 §4.1.3 with RFC 7636 §4.5: redeems the code with the verifier, authenticating the
    /// client as configured (none, secret in the body, or HTTP Basic). The grant carries the nonce sent.
    public func exchange(code: String, for pending: PendingAuthorization) async throws(OAuthError) -> TokenGrant {
        let endpoint = OAuthEndpoint(.token, pending.tokenEndpoint)
        let request = try factory.form(to: endpoint, [
            ("grant_type", "authorization_code"), ("code", code), ("redirect_uri", pending.redirectURI),
            ("code_verifier", pending.pkce.verifier),
        ])
        let issuedAt = clock.wallSeconds()
        let response = try await exchange.send(request, to: endpoint)
        let secrets = [code, pending.pkce.verifier, pending.state]
        let fields = try fieldsOrStatusError(response, endpoint: endpoint)
        if let error = fields.error {
            if OAuthErrorCode.isDenial(error) {
                throw .denied(code: error, description: ProviderText(secrets: secrets + factory.secrets).clean(fields.errorDescription))
            }
            throw providerError(endpoint, error, fields.errorDescription, secrets: secrets, duringDeviceFlow: false)
        }
        guard (200..<300).contains(response.status) else { throw .httpStatus(endpoint: endpoint, status: response.status) }
        var grant = try TokenGrant.decode(fields, endpoint: endpoint, issuedAt: issuedAt, requestedScopes: settings.scopes,
                                          secrets: secrets + factory.secrets)
        grant.nonce = pending.nonce
        return grant
    }
}

extension OAuthError {
    /// The provider refuses the device grant itself (not a network or server problem): the
    /// authorization code flow may still work (`flow = "auto"` offers it).
    public var refusesDeviceGrant: Bool {
        switch self {
        case let .provider(endpoint, error, description, _):
            guard endpoint.role == .deviceAuthorization || endpoint.role == .token else { return false }
            if error == "unauthorized_client" || error == "device_flow_disabled" || error == "unsupported_grant_type" { return true }
            // Entra: a Conditional Access block (AADSTS53003) and "Allow public client flows" off (AADSTS7000218).
            let text = description ?? ""
            return text.contains("AADSTS7000218") || text.contains("AADSTS53003")
        case .noEndpoint(.deviceAuthorization, _):
            return true
        case let .httpStatus(endpoint, 404):
            return endpoint.role == .deviceAuthorization
        default:
            return false
        }
    }
}
