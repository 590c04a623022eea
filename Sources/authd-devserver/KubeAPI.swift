// A Kubernetes API server stand-in (/version, /api, /apis, /api/v1/namespaces) that accepts a live access token or an id_token of this server.

import Foundation
import NIOHTTP1

/// Enough of the API for `kubectl get namespaces`, `kubectl get --raw /api/v1/namespaces` and
/// `kubectl version`: every request needs `Authorization: Bearer` with a live access token, or
/// (as an API server with `--oidc-issuer-url` does) an unexpired id_token this server signed.
/// kubectl runs exec credential plugins only for https:// servers; this server speaks plain
/// HTTP on loopback, so a TLS front (socat, as the tests start it) goes in between (docs/devserver.md).
enum KubeAPI {
    static let namespaces = ["default", "kube-system"]

    static func handle(_ req: Request, provider: Provider) -> Outcome {
        var log = LogFields(endpoint: "kube", result: "")
        let presented = PresentedCredentials(req.headers)
        if let presented { log.fp = fingerprint(presented.token) }
        let accepted: (owner: TokenOwner, credential: String)? = presented.flatMap { p in
            guard p.bearer else { return nil }
            if let owner = provider.activeAccessToken(p.token) { return (owner, "access_token") }
            return provider.activeIDToken(p.token).map { ($0, "id_token") }
        }
        guard let accepted else {
            log.result = presented == nil ? "unauthorized" : "invalid_token"
            return Outcome(response: status(401, reason: "Unauthorized", "Unauthorized"), log: log)
        }
        log.clientId = accepted.owner.clientId
        log.credential = accepted.credential
        let body: JSON
        switch req.path {
        case "/version":
            body = .object([("major", .string("1")), ("minor", .string("32")), ("gitVersion", .string("v1.32.0-authd-devserver")),
                            ("platform", .string("linux/amd64"))])
        case "/api":
            body = .object([("kind", .string("APIVersions")), ("versions", .array([.string("v1")])),
                            ("serverAddressByClientCIDRs", .array([.object([("clientCIDR", .string("0.0.0.0/0")),
                                                                            ("serverAddress", .string("127.0.0.1"))])]))])
        case "/apis":
            body = .object([("kind", .string("APIGroupList")), ("apiVersion", .string("v1")), ("groups", .array([]))])
        case "/api/v1":
            body = .object([("kind", .string("APIResourceList")), ("groupVersion", .string("v1")), ("resources", .array([
                .object([("name", .string("namespaces")), ("singularName", .string("namespace")), ("namespaced", .bool(false)),
                         ("kind", .string("Namespace")), ("verbs", .array([.string("get"), .string("list")])),
                         ("shortNames", .array([.string("ns")]))]),
            ]))])
        case "/api/v1/namespaces":
            body = .object([("kind", .string("NamespaceList")), ("apiVersion", .string("v1")),
                            ("metadata", .object([("resourceVersion", .string("1"))])),
                            ("items", .array(namespaces.map(namespace)))])
        case _ where req.path.hasPrefix("/api/v1/namespaces/"):
            let name = String(req.path.dropFirst("/api/v1/namespaces/".count))
            guard namespaces.contains(name) else {
                log.result = "not_found"
                return Outcome(response: status(404, reason: "NotFound", "namespaces \"\(name)\" not found"), log: log)
            }
            body = namespace(name).withKind
        default:
            log.result = "not_found"
            return Outcome(response: status(404, reason: "NotFound", "the server could not find the requested resource"), log: log)
        }
        log.result = "ok"
        return Outcome(response: .json(body, noStore: false), log: log)
    }

    static func namespace(_ name: String) -> JSON {
        .object([
            ("metadata", .object([("name", .string(name)), ("uid", .string("00000000-0000-0000-0000-00000000000\(name.count % 10)")),
                                  ("resourceVersion", .string("1")), ("creationTimestamp", .string("2026-01-01T00:00:00Z"))])),
            ("spec", .object([("finalizers", .array([.string("kubernetes")]))])),
            ("status", .object([("phase", .string("Active"))])),
        ])
    }

    /// A `Status` object, as the API server answers errors.
    static func status(_ code: Int, reason: String, _ message: String) -> Response {
        .json(.object([("kind", .string("Status")), ("apiVersion", .string("v1")), ("metadata", .object([])),
                       ("status", .string("Failure")), ("message", .string(message)), ("reason", .string(reason)),
                       ("code", .int(code))]),
              status: HTTPResponseStatus(statusCode: code), noStore: false)
    }
}

private extension JSON {
    /// A single object carries its kind and apiVersion; list items do not.
    var withKind: JSON {
        guard case .object(let members) = self else { return self }
        return .object([("kind", .string("Namespace")), ("apiVersion", .string("v1"))] + members)
    }
}
