// --profile: the paths, field names, encodings and error habits of a real provider (facts in PROVIDERS.md).

import NIOHTTP1

/// Which provider the server imitates. `standard` is plain RFC 8628/6749/7009/8414.
enum ProfileName: String, Sendable, CaseIterable {
    case standard, github, gitlab, google, entra, entraV1 = "entra-v1", keycloak, okta, auth0
    /// No device flow; Gitea, its fork Forgejo and Codeberg (which runs Forgejo) behave alike on the wire.
    case gitea, forgejo, codeberg, bitbucket
}

/// An OAuth endpoint found under a profile's layout, with the path segment its `{t}` matched
/// (Entra tenant, Keycloak realm, Okta authorization server), which names the issuer.
struct ProfileRoute: Sendable, Equatable {
    let endpoint: Endpoint
    let segment: String?
}

/// Everything that differs between providers on the wire. Each property says whose habit it is, so a
/// reader can check it against PROVIDERS.md; the emulation follows those facts, not authd's needs.
struct Profile: Sendable {
    let name: ProfileName

    // MARK: layout

    /// Path patterns; `{t}` matches one segment.
    private struct Layout {
        var issuer: String
        var discovery: [String]
        /// nil: the provider has no device flow at all (the forges), so the path is simply not found.
        var device: String?
        var token: String
        var revoke: String?
        /// The browser-facing authorization endpoint (RFC 6749 §3.1).
        var authorize: String
    }

    private var layout: Layout {
        switch name {
        case .standard:
            return Layout(issuer: "", discovery: ["/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"],
                          device: "/device_authorization", token: "/token", revoke: "/revoke", authorize: "/authorize")
        case .github:
            // No discovery and no RFC 7009 endpoint at all.
            return Layout(issuer: "", discovery: [], device: "/login/device/code", token: "/login/oauth/access_token", revoke: nil,
                          authorize: "/login/oauth/authorize")
        case .gitlab:
            return Layout(issuer: "", discovery: ["/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"],
                          device: "/oauth/authorize_device", token: "/oauth/token", revoke: "/oauth/revoke",
                          authorize: "/oauth/authorize")
        case .google:
            return Layout(issuer: "", discovery: ["/.well-known/openid-configuration"],
                          device: "/device/code", token: "/token", revoke: "/revoke",
                          // accounts.google.com's path; this one server plays both of Google's hosts.
                          authorize: "/o/oauth2/v2/auth")
        case .entra:
            return Layout(issuer: "/{t}/v2.0", discovery: ["/{t}/v2.0/.well-known/openid-configuration"],
                          device: "/{t}/oauth2/v2.0/devicecode", token: "/{t}/oauth2/v2.0/token", revoke: nil,
                          authorize: "/{t}/oauth2/v2.0/authorize")
        case .entraV1:
            return Layout(issuer: "/{t}", discovery: ["/{t}/.well-known/openid-configuration"],
                          device: "/{t}/oauth2/devicecode", token: "/{t}/oauth2/token", revoke: nil,
                          authorize: "/{t}/oauth2/authorize")
        case .keycloak:
            let oidc = "/realms/{t}/protocol/openid-connect"
            return Layout(issuer: "/realms/{t}", discovery: ["/realms/{t}/.well-known/openid-configuration"],
                          device: oidc + "/auth/device", token: oidc + "/token", revoke: oidc + "/revoke",
                          authorize: oidc + "/auth")
        case .okta:
            return Layout(issuer: "/oauth2/{t}",
                          discovery: ["/oauth2/{t}/.well-known/openid-configuration", "/oauth2/{t}/.well-known/oauth-authorization-server"],
                          device: "/oauth2/{t}/v1/device/authorize", token: "/oauth2/{t}/v1/token", revoke: "/oauth2/{t}/v1/revoke",
                          authorize: "/oauth2/{t}/v1/authorize")
        case .auth0:
            // Auth0's issuer identifier ends with a slash.
            return Layout(issuer: "/", discovery: ["/.well-known/openid-configuration"],
                          device: "/oauth/device/code", token: "/oauth/token", revoke: "/oauth/revoke",
                          authorize: "/authorize")
        case .gitea, .forgejo, .codeberg:
            // No device flow and no RFC 7009 endpoint; OpenID discovery at the root.
            // Gitea's issuer is its ROOT_URL, which ends with a slash.
            return Layout(issuer: "/", discovery: ["/.well-known/openid-configuration"], device: nil,
                          token: "/login/oauth/access_token", revoke: nil, authorize: "/login/oauth/authorize")
        case .bitbucket:
            // bitbucket.org/site/oauth2/…: no discovery, no device flow, no revocation endpoint.
            return Layout(issuer: "", discovery: [], device: nil,
                          token: "/site/oauth2/access_token", revoke: nil, authorize: "/site/oauth2/authorize")
        }
    }

    /// False for the forges: no device endpoint, and the token endpoint does not know the grant.
    var offersDeviceFlow: Bool { layout.device != nil }

    /// The OAuth endpoint a path names under this profile, or nil (then only the common paths apply).
    func route(path: String) -> ProfileRoute? {
        let l = layout
        var candidates: [(String, Endpoint)] = l.discovery.map { ($0, .discovery) }
        if let device = l.device { candidates.append((device, .deviceAuthorization)) }
        candidates += [(l.token, .token), (l.authorize, .authorize)]
        if let revoke = l.revoke { candidates.append((revoke, .revoke)) }
        for (pattern, endpoint) in candidates {
            if let segment = Self.match(pattern, path) { return ProfileRoute(endpoint: endpoint, segment: segment) }
        }
        return nil
    }

    /// nil when the path does not match; "" when it matched a pattern without `{t}`.
    private static func match(_ pattern: String, _ path: String) -> String?? {
        let p = pattern.split(separator: "/", omittingEmptySubsequences: false)
        let s = path.split(separator: "/", omittingEmptySubsequences: false)
        guard p.count == s.count else { return nil }
        var captured: String?
        for (a, b) in zip(p, s) {
            if a == "{t}" {
                guard !b.isEmpty else { return nil }
                captured = String(b)
            } else if a != b {
                return nil
            }
        }
        return .some(captured)
    }

    private func expand(_ pattern: String, _ segment: String?) -> String {
        pattern.replacing("{t}", with: segment ?? "common")
    }

    func issuer(base: String, segment: String?) -> String { base + expand(layout.issuer, segment) }

    /// RFC 8414 / OpenID metadata naming this profile's paths. GitLab's omits the device endpoint.
    func discovery(base: String, segment: String?) -> JSON {
        let l = layout
        var members: [(String, JSON)] = [("issuer", .string(issuer(base: base, segment: segment)))]
        members.append(("authorization_endpoint", .string(base + expand(l.authorize, segment))))
        if name != .gitlab, let device = l.device {
            members.append(("device_authorization_endpoint", .string(base + expand(device, segment))))
        }
        members.append(("token_endpoint", .string(base + expand(l.token, segment))))
        if let revoke = l.revoke { members.append(("revocation_endpoint", .string(base + expand(revoke, segment)))) }
        if name == .standard { members.append(("introspection_endpoint", .string(base + "/introspect"))) }
        // RFC 7591 dynamic client registration (refused with --registration-disabled, but still advertised, as Keycloak does).
        members.append(("registration_endpoint", .string(base + "/register")))
        members += [
            ("jwks_uri", .string(base + "/jwks")),
            ("grant_types_supported", .array((l.device == nil ? [] : [Router.deviceGrant])
                                                .map(JSON.string) + [.string("authorization_code"), .string("refresh_token")])),
            ("response_types_supported", .array([.string("code")])),
            ("code_challenge_methods_supported", .array([.string("S256")])),
            ("token_endpoint_auth_methods_supported",
             .array(["none", "client_secret_basic", "client_secret_post"].map(JSON.string))),
        ]
        if l.revoke != nil {
            members.append(("revocation_endpoint_auth_methods_supported",
                            .array(["none", "client_secret_basic", "client_secret_post"].map(JSON.string))))
        }
        if name == .standard { members.append(("introspection_endpoint_auth_methods_supported", .array([.string("none")]))) }
        members += [
            ("scopes_supported", .array(["openid", "profile", "email", "offline_access"].map(JSON.string))),
            ("subject_types_supported", .array([.string("public")])),
            ("id_token_signing_alg_values_supported", .array(["RS256", "ES256", "EdDSA"].map(JSON.string))),
        ]
        return .object(members)
    }

    // MARK: behaviour

    /// GitHub OAuth-app tokens never expire: no `expires_in`, no refresh token.
    var tokensNeverExpire: Bool { name == .github }

    /// Entra and Auth0 issue a refresh token only when `offline_access` was granted.
    /// Where the provider puts how the person signed in (docs/providers.md says which sends what):
    /// `methods` are RFC 8176 `amr` values, `context` an `acr`.
    func identityClaims(methods: [String], context: String?) -> [(String, JSON)] {
        let multiFactor: Set<String> = ["mfa", "otp", "hwk", "swk", "sc", "fpt", "face", "pop"]
        let amr = JSON.array(methods.map { .string($0) })
        switch name {
        case .standard, .okta, .entraV1:
            // Okta: amr ["pwd","mfa","otp",...] and, on Identity Engine, acr urn:okta:loa:*; Entra v1 tokens carry amr.
            return [("amr", amr)] + (context.map { [("acr", .string($0))] } ?? (name == .entraV1 ? [("acr", .string("1"))] : []))
        case .entra:
            // Entra v2 id_tokens have no amr; an authentication context comes as the optional acrs claim.
            return context.map { [("acrs", .array([.string($0)]))] } ?? []
        case .keycloak:
            // acr is the step-up level ("1" password, "2" with a second factor); amr only from its AMR mapper.
            let level = context ?? (methods.contains(where: multiFactor.contains) ? "2" : "1")
            return [("acr", .string(level)), ("amr", amr)]
        case .auth0:
            // amr ["mfa"] only after a second factor; acr only when acr_values asked for one.
            return (methods.contains(where: multiFactor.contains) ? [("amr", .array([.string("mfa")]))] : [])
                + (context.map { [("acr", .string($0))] } ?? [])
        case .github, .gitlab, .google, .gitea, .forgejo, .codeberg, .bitbucket:
            // The forges' OpenID Connect id_tokens name no authentication methods.
            return []
        }
    }

    var refreshNeedsOfflineAccess: Bool { name == .entra || name == .entraV1 || name == .auth0 }

    /// GitLab: a refresh kills the old access token too, not just the old refresh token.
    var refreshRevokesOldAccessTokens: Bool { name == .gitlab }

    /// Google keeps its refresh tokens: a refresh answer has none.
    var rotatesRefreshTokens: Bool { name != .google }

    /// Auth0 answers `expired_token` once for an expired code, then `invalid_grant`.
    var reportsExpiryOnce: Bool { name == .auth0 }

    /// Auth0's `audience` parameter selects the API the access token is for.
    var audienceSelectsResource: Bool { name == .auth0 }

    /// Entra rejects any secret from a public client (AADSTS700025); every client here is public.
    var rejectsClientSecret: Bool { name == .entra || name == .entraV1 }

    /// Google's "TVs and Limited Input devices" clients must send client_secret in the body at the token endpoint.
    var tokenEndpointNeedsSecretInBody: Bool { name == .google }

    /// Bitbucket consumers are confidential and authenticate with HTTP Basic at the token endpoint.
    var tokenEndpointNeedsBasic: Bool { name == .bitbucket }

    /// GitHub and GitLab take tokens for git only as the Basic password.
    var gitAcceptsBearer: Bool { name != .github && name != .gitlab }

    /// GitLab wants `oauth2` as the user name with an OAuth token; GitHub takes any.
    /// Bitbucket wants `x-token-auth` with an OAuth token.
    var gitUsername: String? {
        switch name {
        case .gitlab: return "oauth2"
        case .bitbucket: return "x-token-auth"
        default: return nil
        }
    }

    /// Google allows only a short list of scopes for the device flow.
    func disallowedScope(_ scopes: [String]) -> String? {
        guard name == .google else { return nil }
        let allowed: Set = ["openid", "email", "profile",
                            "https://www.googleapis.com/auth/userinfo.email", "https://www.googleapis.com/auth/userinfo.profile",
                            "https://www.googleapis.com/auth/drive.file", "https://www.googleapis.com/auth/drive.appdata",
                            "https://www.googleapis.com/auth/youtube", "https://www.googleapis.com/auth/youtube.readonly"]
        return scopes.first { !allowed.contains($0) }
    }

    // MARK: error words

    var deniedError: String { name == .entra || name == .entraV1 ? "authorization_declined" : "access_denied" }

    var unknownDeviceCodeError: String {
        switch name {
        case .github: return "incorrect_device_code"
        case .entra, .entraV1: return "bad_verification_code"
        default: return "invalid_grant"
        }
    }

    /// GitHub calls a wrong, expired or used authorization code `bad_verification_code`.
    var unknownAuthorizationCodeError: String { name == .github ? "bad_verification_code" : "invalid_grant" }

    /// GitHub names a redirect_uri mismatch at the token endpoint; RFC 6749 says invalid_grant.
    var redirectMismatchError: String { name == .github ? "redirect_uri_mismatch" : "invalid_grant" }

    var badClientError: String { name == .github ? "incorrect_client_credentials" : "invalid_client" }

    /// What the device authorization endpoint says when the client may not use device flow (`--device-flow-disabled`).
    /// nil for Entra, which accepts the request and refuses at the token endpoint.
    var deviceFlowDisabledAtDeviceEndpoint: OAuthError? {
        switch name {
        case .github:
            return OAuthError("device_flow_disabled", "Device Flow must be explicitly enabled for this App")
        case .google:
            return OAuthError("invalid_client", "Invalid client type.")
        case .keycloak:
            return OAuthError("unauthorized_client", "Client is not allowed to initiate OAuth 2.0 Device Authorization Grant. The flow is disabled for the client.")
        case .entra, .entraV1:
            return nil
        default:
            return OAuthError("unauthorized_client", "the client is not allowed to use the device authorization grant")
        }
    }

    /// Entra: "Allow public client flows" off, so polling the token endpoint fails.
    static let entraPublicFlowsDisabled = OAuthError(
        "invalid_client", "AADSTS7000218: The request body must contain the following parameter: 'client_assertion' or 'client_secret'.")

    /// Entra: a Conditional Access policy ("Authentication flows: device code flow") blocks the sign-in;
    /// the code is issued and polling fails. The authorization code flow is not blocked by it.
    static let entraConditionalAccessBlocked = OAuthError(
        "invalid_grant", "AADSTS53003: Access has been blocked by Conditional Access policies. The access policy does not allow token issuance.")

    static let entraSecretFromPublicClient = OAuthError(
        "invalid_client", "AADSTS700025: Client is public so neither 'client_assertion' nor 'client_secret' should be presented.")

    // MARK: rendering

    /// GitHub answers form-encoded unless the client asks for JSON.
    private func wantsForm(_ req: Request) -> Bool {
        guard name == .github else { return false }
        let accept = req.headers[canonicalForm: "Accept"].map { $0.lowercased() }
        return !accept.contains { $0.hasPrefix("application/json") }
    }

    /// Entra v1 sends its numbers as strings.
    private func number(_ n: Int) -> JSON { name == .entraV1 ? .string(String(n)) : .int(n) }

    private func render(_ members: [(String, JSON)], status: HTTPResponseStatus, _ req: Request) -> Response {
        guard wantsForm(req) else { return .json(.object(members), status: status) }
        let pairs = members.map { key, value -> String in
            let text: String
            switch value {
            case .string(let s): text = s
            case .int(let i): text = String(i)
            default: text = value.text
            }
            return Form.encode(key) + "=" + Form.encode(text)
        }
        return Response(status: status,
                        headers: [("Content-Type", "application/x-www-form-urlencoded; charset=utf-8"),
                                  ("Cache-Control", "no-store")],
                        body: Array(pairs.joined(separator: "&").utf8))
    }

    func deviceAuthorization(_ auth: DeviceAuthorization, displayCode: String, base: String, _ req: Request) -> Response {
        let page = base + "/device"
        let complete = page + "?user_code=" + displayCode
        var members: [(String, JSON)] = [("device_code", .string(auth.deviceCode)), ("user_code", .string(displayCode))]
        switch name {
        case .google, .entraV1:
            members.append(("verification_url", .string(page)))
        case .github, .entra:
            members.append(("verification_uri", .string(page)))
        case .standard, .gitlab, .keycloak, .okta, .auth0, .gitea, .forgejo, .codeberg, .bitbucket:
            members += [("verification_uri", .string(page)), ("verification_uri_complete", .string(complete))]
        }
        members += [("expires_in", number(auth.expiresIn)), ("interval", number(auth.interval))]
        if name == .entra || name == .entraV1 {
            members.append(("message", .string(
                "To sign in, use a web browser to open the page \(page) and enter the code \(displayCode) to authenticate.")))
        }
        return render(members, status: .ok, req)
    }

    func tokens(_ t: TokenSet, _ req: Request) -> Response {
        var members: [(String, JSON)] = [("access_token", .string(t.accessToken))]
        switch name {
        case .github:
            members.append(("token_type", .string("bearer")))
            // OAuth-app tokens never expire and say nothing about it; GitHub-App user tokens do expire.
            if t.refreshToken != nil { members.append(("expires_in", .int(t.expiresIn))) }
            if let r = t.refreshToken {
                members.append(("refresh_token", .string(r)))
                if let e = t.refreshExpiresIn { members.append(("refresh_token_expires_in", .int(e))) }
            }
            // GitHub joins scopes with commas, and sends no ID token: it is not an OpenID provider.
            members.append(("scope", .string(t.scopes.joined(separator: ","))))
            return render(members, status: .ok, req)
        case .entra, .entraV1:
            members += [("token_type", .string("Bearer")), ("scope", .string(Scope.string(t.scopes))),
                        ("expires_in", number(t.expiresIn)), ("ext_expires_in", number(t.expiresIn))]
            if name == .entraV1 { members.append(("expires_on", .string(String(t.issuedAt + t.expiresIn)))) }
        case .keycloak:
            members += [("expires_in", .int(t.expiresIn)), ("token_type", .string("Bearer"))]
            // Keycloak's own name for the refresh token's lifetime.
            if let e = t.refreshExpiresIn { members.append(("refresh_expires_in", .int(e))) }
            members += [("not-before-policy", .int(0)), ("session_state", .string("devserver-session"))]
        case .gitlab:
            members += [("token_type", .string("Bearer")), ("expires_in", .int(t.expiresIn)), ("created_at", .int(t.issuedAt))]
        case .standard, .google, .okta, .auth0:
            members += [("token_type", .string("Bearer")), ("expires_in", .int(t.expiresIn))]
        case .gitea, .forgejo, .codeberg:
            members += [("token_type", .string("bearer")), ("expires_in", .int(t.expiresIn))]
        case .bitbucket:
            // Bitbucket names the granted scopes `scopes`, not `scope`.
            members += [("scopes", .string(t.scopes.joined(separator: " "))), ("expires_in", .int(t.expiresIn)),
                        ("token_type", .string("bearer"))]
            if let r = t.refreshToken { members.append(("refresh_token", .string(r))) }
            return render(members, status: .ok, req)
        }
        if let r = t.refreshToken {
            members.append(("refresh_token", .string(r)))
            if name == .standard, let e = t.refreshExpiresIn { members.append(("refresh_token_expires_in", .int(e))) }
        }
        if name != .entra && name != .entraV1 && !t.scopes.isEmpty { members.append(("scope", .string(Scope.string(t.scopes)))) }
        if let id = t.idToken { members.append(("id_token", .string(id))) }
        return render(members, status: .ok, req)
    }

    /// An OAuth error as this provider sends it: status, encoding and extra fields.
    func error(_ e: OAuthError, interval: Int?, _ req: Request) -> Response {
        var e = e
        if (name == .entra || name == .entraV1) && e.code == "authorization_pending" {
            // Entra words every answer with an AADSTS number, even "keep polling".
            e = OAuthError(e.code, "AADSTS70016: OAuth 2.0 device flow error. Authorization is pending. Continue polling.")
        }
        var members: [(String, JSON)] = [("error", .string(e.code)), ("error_description", .string(e.description))]
        var status = HTTPResponseStatus(statusCode: e.status)
        switch name {
        case .github:
            // Pending, slow_down and every other error come with HTTP 200; slow_down names the new interval.
            status = .ok
            if e.code == "slow_down", let interval { members.append(("interval", .int(interval))) }
            members.append(("error_uri", .string("https://docs.github.com/developers/apps/authorizing-oauth-apps#error-codes-for-the-device-flow")))
        case .google:
            // Google's documented statuses for the device-flow errors.
            switch e.code {
            case "authorization_pending": status = HTTPResponseStatus(statusCode: 428)
            case "slow_down", "access_denied": status = .forbidden
            default: break
            }
        case .entra, .entraV1:
            let code = e.description.hasPrefix("AADSTS") ? Int(e.description.dropFirst(6).prefix { $0.isNumber }) : nil
            members += [("error_codes", .array(code.map { [.int($0)] } ?? [])),
                        ("timestamp", .string("2026-01-01 00:00:00Z")),
                        ("trace_id", .string("00000000-0000-0000-0000-000000000000")),
                        ("correlation_id", .string("00000000-0000-0000-0000-000000000000"))]
        default:
            break
        }
        var r = render(members, status: status, req)
        if e.status == 401 && status == .unauthorized { r.headers.append(("WWW-Authenticate", "Basic realm=\"authd-devserver\"")) }
        return r
    }
}
