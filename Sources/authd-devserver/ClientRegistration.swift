// Dynamic client registration (RFC 7591) with read and delete (RFC 7592), and the switch that refuses it as a locked-down provider does.

import Foundation
import NIOHTTP1
import Synchronization

/// The clients registered at this server, behind one lock. A registered client is a public client
/// the token endpoint accepts even when `--client` lists the others.
final class DynamicClients: Sendable {
    struct Client: Sendable {
        let id: String
        /// The RFC 7592 bearer token ("rat-…", so tests can look for it); compared in constant time, never logged.
        let accessToken: String
        let metadata: [(String, JSON)]
        let issuedAt: Int
    }

    private let clients = Mutex([String: Client]())

    func isRegistered(_ id: String) -> Bool { clients.withLock { $0[id] != nil } }

    /// `POST /register`, `GET` and `DELETE /register/ID`.
    func handle(_ req: Request, config: Config) -> Outcome {
        var log = LogFields(endpoint: "register", result: "")
        let suffix = req.path.dropFirst("/register".count)
        if suffix.isEmpty || suffix == "/" {
            guard req.method == .POST else { return methodNotAllowed("POST", log) }
            return register(req, config: config, log: &log)
        }
        let id = String(suffix.dropFirst())
        log.clientId = id
        guard req.method == .GET || req.method == .DELETE else { return methodNotAllowed("GET, DELETE", log) }
        let presented = req.headers.first(name: "Authorization").flatMap { header -> String? in
            header.lowercased().hasPrefix("bearer ") ? String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces) : nil
        }
        // RFC 7592 §2: an unknown client and a wrong token get the same 401, so ids cannot be probed.
        let client: Client? = clients.withLock { all in
            guard let client = all[id], let presented, Router.constantTimeEqual(client.accessToken, presented) else { return nil }
            if req.method == .DELETE { all[id] = nil }
            return client
        }
        guard let client else {
            log.result = "invalid_token"
            var response = Response.json(.object([("error", .string("invalid_token")),
                                                  ("error_description", .string("unknown client or wrong registration access token"))]),
                                         status: .unauthorized)
            response.headers.append(("WWW-Authenticate", "Bearer error=\"invalid_token\""))
            return Outcome(response: response, log: log)
        }
        if req.method == .DELETE {
            log.result = "deleted"
            return Outcome(response: Response(status: .noContent, headers: [("Cache-Control", "no-store")]), log: log)
        }
        log.result = "read"
        return Outcome(response: .json(Self.answer(client, base: req.base), status: .ok), log: log)
    }

    private func register(_ req: Request, config: Config, log: inout LogFields) -> Outcome {
        if config.registrationDisabled {
            log.result = "refused"
            // Keycloak's words when its anonymous-access policies refuse the request; others say it plainly.
            let (code, description) = config.profile.name == .keycloak
                ? ("insufficient_scope", "Policy 'Trusted Hosts' rejected request to client-registration service. Details: Host not trusted.")
                : ("access_denied", "anonymous client registration is disabled; an initial access token is required")
            return Outcome(response: .json(.object([("error", .string(code)), ("error_description", .string(description))]), status: .forbidden),
                           log: log)
        }
        guard let object = try? JSONSerialization.jsonObject(with: Data(req.body)) as? [String: Any] else {
            return failure("invalid_client_metadata", "the body must be a JSON object of client metadata", &log)
        }
        let redirects = object["redirect_uris"] as? [String] ?? []
        if let bad = redirects.first(where: { !($0.hasPrefix("https://") || $0.hasPrefix("http://127.0.0.1") || $0.hasPrefix("http://[::1]")) }) {
            return failure("invalid_redirect_uri", "redirect URI \(bad) is neither https nor loopback", &log)
        }
        let method = object["token_endpoint_auth_method"] as? String ?? "client_secret_basic"
        guard method == "none" else {
            return failure("invalid_client_metadata", "this server registers public clients only (token_endpoint_auth_method none)", &log)
        }
        let grantTypes = object["grant_types"] as? [String] ?? ["authorization_code"]
        let metadata: [(String, JSON)] = [
            ("client_name", .string(object["client_name"] as? String ?? "")),
            ("redirect_uris", .array(redirects.map(JSON.string))),
            ("grant_types", .array(grantTypes.map(JSON.string))),
            ("response_types", .array((object["response_types"] as? [String] ?? ["code"]).map(JSON.string))),
            ("token_endpoint_auth_method", .string(method)),
        ]
        let client = Client(id: "dyn-" + Random.token(bytes: 8), accessToken: "rat-" + Random.token(), metadata: metadata,
                            issuedAt: Int(Date().timeIntervalSince1970))
        clients.withLock { $0[client.id] = client }
        log.clientId = client.id
        log.result = "registered"
        return Outcome(response: .json(Self.answer(client, base: req.base), status: .created), log: log)
    }

    /// RFC 7591 §3.2.1 / RFC 7592 §3: the client's id, its management URL and token, and its metadata.
    private static func answer(_ client: Client, base: String) -> JSON {
        .object([("client_id", .string(client.id)), ("client_id_issued_at", .int(client.issuedAt)),
                 ("registration_access_token", .string(client.accessToken)),
                 ("registration_client_uri", .string(base + "/register/" + client.id))] + client.metadata)
    }

    private func failure(_ code: String, _ description: String, _ log: inout LogFields) -> Outcome {
        log.result = code
        return Outcome(response: .json(.object([("error", .string(code)), ("error_description", .string(description))]), status: .badRequest),
                       log: log)
    }

    private func methodNotAllowed(_ allowed: String, _ log: LogFields) -> Outcome {
        var log = log
        log.result = "method_not_allowed"
        var response = Response.text("method not allowed\n", status: .methodNotAllowed)
        response.headers.append(("Allow", allowed))
        return Outcome(response: response, log: log)
    }
}
