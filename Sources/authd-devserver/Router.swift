// Maps each HTTP request to an endpoint and answers the OAuth ones (discovery, device authorization, token, revoke, introspect).

import Foundation
import NIOHTTP1

struct Request: Sendable {
    let method: HTTPMethod
    let path: String
    let query: String
    let headers: HTTPHeaders
    let body: [UInt8]
    /// Monotonic arrival time (end of the request), the log's `t`.
    let t: Double
    /// `http://127.0.0.1:PORT`, from the listening socket, so it is right even with `--port 0`.
    let base: String

    var form: Form { Form(encoded: String(decoding: body, as: UTF8.self)) }
    var queryForm: Form { Form(encoded: query) }
}

struct Response: Sendable {
    var status: HTTPResponseStatus
    var headers: [(String, String)] = []
    var body: [UInt8] = []

    static func json(_ value: JSON, status: HTTPResponseStatus = .ok, noStore: Bool = true) -> Response {
        var r = Response(status: status, headers: [("Content-Type", "application/json")], body: Array(value.text.utf8))
        // RFC 6749 §5.1: token answers must not be cached by anything in between.
        if noStore { r.headers += [("Cache-Control", "no-store"), ("Pragma", "no-cache")] }
        return r
    }

    static func html(_ page: String, status: HTTPResponseStatus = .ok) -> Response {
        Response(status: status, headers: [("Content-Type", "text/html; charset=utf-8"), ("Cache-Control", "no-store")],
                 body: Array(page.utf8))
    }

    static func text(_ text: String, status: HTTPResponseStatus) -> Response {
        Response(status: status, headers: [("Content-Type", "text/plain; charset=utf-8")], body: Array(text.utf8))
    }
}

/// How the bytes of a response leave: normally, or broken on purpose by `--fault`.
enum Delivery: Sendable { case normal, slow, stall, reset }

struct Outcome: Sendable {
    var response: Response
    var delivery: Delivery = .normal
    var log: LogFields
}

enum Reply: Sendable {
    case now(Outcome)
    /// Work that must not block an event loop (git's CGI); the closure is given the completion to call.
    case later(@Sendable (@escaping @Sendable (Outcome) -> Void) -> Void)
}

enum Endpoint: String, Sendable {
    case discovery, deviceAuthorization = "device_authorization", token, revoke, introspect, jwks
    /// The browser-facing authorization endpoint; not a fault target: a person, not a client, reads it.
    case authorize
    case rotateKeys = "rotate_keys"
    case devicePage = "device", git, index, notFound = "not_found"
    /// Registry.swift and KubeAPI.swift: consumers of access tokens, like git.
    case registry, kube
    /// RFC 7591 registration (`POST /register`) and RFC 7592 management (`/register/ID`): ClientRegistration.swift.
    case registration = "register"

    var isOAuth: Bool { [.discovery, .deviceAuthorization, .token, .revoke, .introspect].contains(self) }

    init(path: String) {
        switch path {
        case "/introspect": self = .introspect
        case _ where path == "/register" || path.hasPrefix("/register/"): self = .registration
        case "/jwks": self = .jwks
        case "/jwks/rotate": self = .rotateKeys
        case "/device", "/device/": self = .devicePage
        case "/", "": self = .index
        case _ where path == "/git" || path.hasPrefix("/git/"): self = .git
        case _ where path == "/v2" || path.hasPrefix("/v2/") || path == "/registry/token": self = .registry
        case "/version", "/api", "/apis": self = .kube
        case _ where path.hasPrefix("/api/"): self = .kube
        default: self = .notFound
        }
    }

    var methods: [HTTPMethod] {
        switch self {
        case .discovery, .jwks, .index: return [.GET]
        case .deviceAuthorization, .token, .revoke, .introspect, .rotateKeys: return [.POST]
        case .devicePage, .git, .authorize: return [.GET, .POST]
        case .registry, .kube: return [.GET, .HEAD]
        case .registration: return [.GET, .POST, .DELETE]
        case .notFound: return []
        }
    }
}

final class Router: Sendable {
    private let config: Config
    private let provider: Provider
    private let faults: FaultPlan
    private let page: DevicePage
    private let authorizePage: AuthorizePage
    private let git: GitBackend?
    private let registry = Registry()

    static let deviceGrant = "urn:ietf:params:oauth:grant-type:device_code"

    init(config: Config, provider: Provider, git: GitBackend?) {
        self.config = config
        self.provider = provider
        self.faults = FaultPlan(specs: config.faults, count: config.faultCount)
        self.page = DevicePage(provider: provider)
        self.authorizePage = AuthorizePage(config: config, provider: provider)
        self.git = git
    }

    /// OAuth paths come from the profile's layout; introspection, the page and git are common to all.
    func endpoint(path: String) -> Endpoint {
        config.profile.route(path: path)?.endpoint ?? Endpoint(path: path)
    }

    func route(_ req: Request) -> Reply {
        let route = config.profile.route(path: req.path)
        let endpoint = route?.endpoint ?? Endpoint(path: req.path)
        if endpoint == .notFound {
            return .now(Outcome(
                response: .json(.object([("error", .string("not_found")), ("error_description", .string("no such endpoint"))]),
                                status: .notFound, noStore: false),
                log: LogFields(endpoint: nil, result: "not_found")))
        }
        guard endpoint.methods.contains(req.method) else {
            var r = Response.text("method not allowed\n", status: .methodNotAllowed)
            r.headers.append(("Allow", endpoint.methods.map(\.rawValue).joined(separator: ", ")))
            return .now(Outcome(response: r, log: LogFields(endpoint: endpoint.rawValue, result: "method_not_allowed")))
        }

        var delivery = Delivery.normal
        var injected: String?
        if endpoint.isOAuth, let kind = faults.take(for: endpoint) {
            // `slow` still does the real work, so a patient client gets a real answer; every other
            // fault replaces the answer and leaves the state untouched, so a retry behaves as a first try.
            guard kind == .slow else {
                let (response, delivery) = Faults.response(for: kind)
                var log = LogFields(endpoint: endpoint.rawValue, result: "fault:\(kind.rawValue)")
                log.fault = kind.rawValue
                if req.method == .POST {
                    let form = req.form
                    log.grantType = form["grant_type"]
                    log.clientId = form["client_id"]
                }
                return .now(Outcome(response: response, delivery: delivery, log: log))
            }
            delivery = .slow
            injected = kind.rawValue
        }

        var outcome: Outcome
        switch endpoint {
        case .discovery: outcome = discovery(req, segment: route?.segment)
        case .deviceAuthorization: outcome = deviceAuthorization(req)
        case .token: outcome = token(req, issuer: config.profile.issuer(base: req.base, segment: route?.segment))
        case .revoke: outcome = revoke(req)
        case .introspect: outcome = introspect(req)
        case .jwks:
            outcome = Outcome(response: .json(provider.idTokens.jwks(), noStore: false),
                              log: LogFields(endpoint: "jwks", result: "ok"))
        case .rotateKeys:
            // Tests ask for a rotation: new kids sign from now on, the previous keys stay published.
            if let generation = try? provider.idTokens.rotate() {
                outcome = Outcome(response: .json(.object([("generation", .int(generation))])), log: LogFields(endpoint: "rotate_keys", result: "ok"))
            } else {
                outcome = Outcome(response: .text("key generation failed\n", status: .internalServerError), log: LogFields(endpoint: "rotate_keys", result: "error"))
            }
        case .devicePage: outcome = page.handle(req)
        case .authorize: outcome = authorizePage.handle(req)
        case .index: outcome = Outcome(response: .html(Pages.index(base: req.base, git: git != nil)),
                                       log: LogFields(endpoint: "index", result: "ok"))
        case .git:
            guard let git else {
                return .now(Outcome(response: .text("git is not served; start with --git-root DIR\n", status: .notFound),
                                    log: LogFields(endpoint: "git", result: "not_found")))
            }
            return git.handle(req, provider: provider)
        case .registry: return .now(registry.handle(req, provider: provider))
        case .kube: return .now(KubeAPI.handle(req, provider: provider))
        case .registration: outcome = provider.dynamicClients.handle(req, config: config)
        case .notFound: fatalError("handled above")
        }
        outcome.delivery = delivery
        outcome.log.fault = injected
        return .now(outcome)
    }

    // MARK: discovery

    private func discovery(_ req: Request, segment: String?) -> Outcome {
        let metadata = config.profile.discovery(base: req.base, segment: segment)
        return Outcome(response: .json(metadata, noStore: false), log: LogFields(endpoint: "discovery", result: "ok"))
    }

    // MARK: request checks shared by the POST endpoints

    private func checkedForm(_ req: Request) -> Result<Form, OAuthError> {
        if let type = req.headers.first(name: "Content-Type"),
           !type.lowercased().hasPrefix("application/x-www-form-urlencoded") {
            return .failure(OAuthError("invalid_request", "expected Content-Type application/x-www-form-urlencoded"))
        }
        let form = req.form
        // RFC 6749 §3.1: parameters must not repeat; RFC 8707 makes `resource` the exception.
        if let key = form.repeatedKey(allowedRepeats: ["resource"]) {
            return .failure(OAuthError("invalid_request", "parameter '\(key)' is repeated"))
        }
        return .success(form)
    }

    /// RFC 6749 §2.3: HTTP Basic (each part form-encoded) or client_secret in the body, never both.
    /// With no `--client`, any client_id is a public client and secrets are ignored.
    private func authenticateClient(_ form: Form, _ req: Request) -> Result<String, OAuthError> {
        var basic: (String, String)?
        if let header = req.headers.first(name: "Authorization"), header.lowercased().hasPrefix("basic ") {
            guard let data = Data(base64Encoded: String(header.dropFirst(6)).trimmingCharacters(in: .whitespaces)),
                  let text = String(data: data, encoding: .utf8), let colon = text.firstIndex(of: ":")
            else { return .failure(OAuthError("invalid_client", "malformed Basic authorization header")) }
            basic = (Form.decode(String(text[..<colon])), Form.decode(String(text[text.index(after: colon)...])))
        }
        if basic != nil && form["client_secret"] != nil {
            return .failure(OAuthError("invalid_request", "client authenticated both with Basic and client_secret"))
        }
        if let basic, let bodyId = form["client_id"], bodyId != basic.0 {
            return .failure(OAuthError("invalid_client", "client_id in the body differs from the Basic user"))
        }
        guard let id = basic?.0 ?? form["client_id"], !id.isEmpty else {
            return .failure(OAuthError("invalid_request", "client_id is required"))
        }
        if config.profile.rejectsClientSecret && (basic != nil || form["client_secret"] != nil) {
            return .failure(Profile.entraSecretFromPublicClient)
        }
        guard !config.clients.isEmpty else { return .success(id) }
        let bad = config.profile.badClientError
        guard let client = config.clients[id] else {
            // A client registered here (RFC 7591) is public.
            if provider.dynamicClients.isRegistered(id) {
                return basic == nil && form["client_secret"] == nil ? .success(id) : .failure(OAuthError(bad, "public client must not send a client secret"))
            }
            return .failure(OAuthError(bad, "unknown client"))
        }
        let presented = basic?.1 ?? form["client_secret"]
        switch (client.secret, presented) {
        case (nil, nil): return .success(id)
        case (nil, _?): return .failure(OAuthError(bad, "public client must not send a client secret"))
        case (_?, nil): return .failure(OAuthError(bad, "client authentication required"))
        case (let want?, let got?):
            return Router.constantTimeEqual(want, got) ? .success(id) : .failure(OAuthError(bad, "wrong client secret"))
        }
    }

    static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        return zip(x, y).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
    }

    private func failure(_ e: OAuthError, _ log: LogFields, _ req: Request) -> Outcome {
        var log = log
        log.result = e.code
        return Outcome(response: config.profile.error(e, interval: log.interval, req), log: log)
    }

    // MARK: device authorization (RFC 8628 §3.1–3.2)

    private func deviceAuthorization(_ req: Request) -> Outcome {
        var log = LogFields(endpoint: "device_authorization", result: "")
        let form: Form
        switch checkedForm(req) {
        case .success(let f): form = f
        case .failure(let e): return failure(e, log, req)
        }
        log.clientId = form["client_id"]
        let clientId: String
        switch authenticateClient(form, req) {
        case .success(let id): clientId = id
        case .failure(let e): return failure(e, log, req)
        }
        log.clientId = clientId
        if config.deviceFlowDisabled != nil, let refusal = config.profile.deviceFlowDisabledAtDeviceEndpoint {
            return failure(refusal, log, req)
        }
        let scopes = Scope.parse(form["scope"])
        if let scope = config.profile.disallowedScope(scopes) {
            return failure(OAuthError("invalid_scope", "Some requested scopes were invalid: {invalid=[\(scope)]}"), log, req)
        }
        let known: Set = ["client_id", "client_secret", "scope", "resource"]
        var resources = form.all("resource")
        if config.profile.audienceSelectsResource {
            // Auth0: `audience` names the API the token is for; without it, only its own /userinfo.
            resources.append(form["audience"] ?? req.base + "/userinfo")
        }
        let auth = provider.startDeviceAuthorization(
            clientId: clientId, scopes: scopes, resources: resources,
            extras: form.pairs.filter { !known.contains($0.0) })
        log.userCode = auth.userCode
        log.result = "issued"
        let display = UserCode.display(auth.userCode)
        return Outcome(response: config.profile.deviceAuthorization(auth, displayCode: display, base: req.base, req), log: log)
    }

    // MARK: token endpoint

    /// `issuer` is the profile's (a tenant's or realm's), so ID tokens name what discovery names.
    private func token(_ req: Request, issuer: String) -> Outcome {
        var log = LogFields(endpoint: "token", result: "")
        let form: Form
        switch checkedForm(req) {
        case .success(let f): form = f
        case .failure(let e): return failure(e, log, req)
        }
        log.grantType = form["grant_type"]
        log.clientId = form["client_id"]
        guard let grantType = form["grant_type"], !grantType.isEmpty else {
            return failure(OAuthError("invalid_request", "grant_type is required"), log, req)
        }
        let clientId: String
        switch authenticateClient(form, req) {
        case .success(let id): clientId = id
        case .failure(let e): return failure(e, log, req)
        }
        log.clientId = clientId
        if config.profile.tokenEndpointNeedsBasic && req.headers.first(name: "Authorization")?.lowercased().hasPrefix("basic ") != true {
            return failure(OAuthError("invalid_client", "this consumer is confidential: authenticate with HTTP Basic (client_id:client_secret)"), log, req)
        }
        if config.profile.tokenEndpointNeedsSecretInBody && form["client_secret"] == nil {
            return failure(OAuthError("invalid_request", "client_secret is missing."), log, req)
        }

        switch grantType {
        case Router.deviceGrant where !config.profile.offersDeviceFlow:
            return failure(OAuthError("unsupported_grant_type", "this provider has no device flow"), log, req)
        case Router.deviceGrant:
            if let why = config.deviceFlowDisabled, config.profile.deviceFlowDisabledAtDeviceEndpoint == nil {
                return failure(why == .policy ? Profile.entraConditionalAccessBlocked : Profile.entraPublicFlowsDisabled, log, req)
            }
            guard let deviceCode = form["device_code"], !deviceCode.isEmpty else {
                return failure(OAuthError("invalid_request", "device_code is required"), log, req)
            }
            let outcome = provider.poll(deviceCode: deviceCode, clientId: clientId, issuer: issuer)
            log.userCode = outcome.userCode
            log.poll = outcome.poll
            log.interval = outcome.interval
            return finish(outcome.result, log, req)
        case "authorization_code":
            guard let code = form["code"], !code.isEmpty else {
                return failure(OAuthError("invalid_request", "code is required"), log, req)
            }
            log.codeFp = fingerprint(code)
            let result = provider.exchange(
                code: code, clientId: clientId, redirectURI: form["redirect_uri"], codeVerifier: form["code_verifier"],
                issuer: issuer)
            return finish(result, log, req)
        case "refresh_token":
            guard let refreshToken = form["refresh_token"], !refreshToken.isEmpty else {
                return failure(OAuthError("invalid_request", "refresh_token is required"), log, req)
            }
            log.fp = fingerprint(refreshToken)
            let scope = form["scope"].map(Scope.parse).flatMap { $0.isEmpty ? nil : $0 }
            let result = provider.refresh(
                refreshToken: refreshToken, clientId: clientId, scopes: scope, resources: form.all("resource"),
                issuer: issuer)
            return finish(result, log, req)
        default:
            return failure(OAuthError("unsupported_grant_type", "grant_type '\(grantType)' is not supported"), log, req)
        }
    }

    private func finish(_ result: Result<TokenSet, OAuthError>, _ log: LogFields, _ req: Request) -> Outcome {
        switch result {
        case .failure(let e):
            return failure(e, log, req)
        case .success(let t):
            var log = log
            log.result = "issued"
            // The access token's fingerprint ties this line to later revoke/introspect/git lines.
            log.fp = fingerprint(t.accessToken)
            return Outcome(response: config.profile.tokens(t, req), log: log)
        }
    }

    // MARK: revocation (RFC 7009) and introspection (RFC 7662)

    private func revoke(_ req: Request) -> Outcome {
        var log = LogFields(endpoint: "revoke", result: "")
        let form: Form
        switch checkedForm(req) {
        case .success(let f): form = f
        case .failure(let e): return failure(e, log, req)
        }
        log.clientId = form["client_id"]
        var clientId = form["client_id"]
        // A confidential client must prove itself before it can revoke; with no registry, client_id is optional.
        if !config.clients.isEmpty || req.headers.first(name: "Authorization") != nil {
            switch authenticateClient(form, req) {
            case .success(let id): clientId = id
            case .failure(let e): return failure(e, log, req)
            }
        }
        log.clientId = clientId
        guard let token = form["token"], !token.isEmpty else {
            return failure(OAuthError("invalid_request", "token is required"), log, req)
        }
        log.fp = fingerprint(token)
        // RFC 7009 §2.2: unknown tokens are answered 200 too; the hint is only a hint and is ignored.
        log.result = provider.revoke(token: token, clientId: clientId).rawValue
        return Outcome(response: Response(status: .ok, headers: [("Cache-Control", "no-store")]), log: log)
    }

    private func introspect(_ req: Request) -> Outcome {
        var log = LogFields(endpoint: "introspect", result: "")
        let form: Form
        switch checkedForm(req) {
        case .success(let f): form = f
        case .failure(let e): return failure(e, log, req)
        }
        log.clientId = form["client_id"]
        guard let token = form["token"], !token.isEmpty else {
            return failure(OAuthError("invalid_request", "token is required"), log, req)
        }
        log.fp = fingerprint(token)
        let answer = provider.introspect(token: token, issuer: req.base)
        if case .object(let members) = answer, case .bool(true)? = members.first?.1 {
            log.result = "active"
        } else {
            log.result = "inactive"
        }
        return Outcome(response: .json(answer), log: log)
    }
}
