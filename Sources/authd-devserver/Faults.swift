// Fault injection (`--fault`): which request gets broken, and the broken answers themselves.

import NIOHTTP1
import Synchronization

final class FaultPlan: Sendable {
    private let specs: [FaultSpec]
    private let count: Int?
    /// Requests broken so far, per spec and endpoint: with `@all`, each endpoint gets its own N.
    private let used = Mutex<[String: Int]>([:])

    init(specs: [FaultSpec], count: Int?) {
        self.specs = specs
        self.count = count
    }

    /// The first spec that matches and still has budget wins, so `--fault 503 --fault html --fault-count 1`
    /// breaks one request with a 503 and the next with HTML.
    func take(for endpoint: Endpoint) -> FaultKind? {
        used.withLock { used in
            for (i, spec) in specs.enumerated() where spec.target.matches(endpoint) {
                let key = "\(i)/\(endpoint.rawValue)"
                let n = used[key, default: 0]
                if let count, n >= count { continue }
                used[key] = n + 1
                return spec.kind
            }
            return nil
        }
    }
}

enum Faults {
    static let hugeSize = 10 * 1024 * 1024

    /// The synthetic answer for every kind but `slow` (which sends the real answer slowly).
    static func response(for kind: FaultKind) -> (Response, Delivery) {
        switch kind {
        case .http500:
            return (.text("500 Internal Server Error (injected by authd-devserver --fault 500)\n",
                          status: .internalServerError), .normal)
        case .http502:
            return (proxyPage(502, "Bad Gateway"), .normal)
        case .http503:
            return (proxyPage(503, "Service Temporarily Unavailable"), .normal)
        case .html:
            // What a captive portal or an SSO proxy in front of the provider answers: 200, but a login page.
            return (.html("""
                <!DOCTYPE html>
                <html><head><title>Sign in</title></head>
                <body><h1>Sign in to continue</h1><form method="post" action="/login">
                <input name="username"><input name="password" type="password"><button>Sign in</button>
                </form><!-- injected by authd-devserver --fault html --></body></html>

                """), .normal)
        case .malformedJSON:
            return (jsonish(#"{"access_token": "x", "token_type": "Bearer", "expires_in": 36"#), .normal)
        case .huge:
            return (jsonish(padded(hugeSize)), .normal)
        case .stall:
            return (Response(status: .ok), .stall)
        case .reset:
            // The full body is announced in Content-Length, but only part of it is ever sent.
            return (jsonish(padded(4096)), .reset)
        case .slow:
            return (Response(status: .ok), .slow)
        }
    }

    private static func jsonish(_ text: String) -> Response {
        Response(status: .ok, headers: [("Content-Type", "application/json"), ("Cache-Control", "no-store")],
                 body: Array(text.utf8))
    }

    /// Valid JSON of exactly `size` bytes, so only the size (not a parse error) can stop a client.
    private static func padded(_ size: Int) -> String {
        let head = #"{"error":"server_error","error_description":"padding","padding":""#
        let tail = "\"}"
        return head + String(repeating: "x", count: max(0, size - head.utf8.count - tail.utf8.count)) + tail
    }

    private static func proxyPage(_ code: Int, _ reason: String) -> Response {
        .html("""
            <html>
            <head><title>\(code) \(reason)</title></head>
            <body>
            <center><h1>\(code) \(reason)</h1></center>
            <hr><center>nginx (injected by authd-devserver --fault \(code))</center>
            </body>
            </html>

            """, status: HTTPResponseStatus(statusCode: code))
    }
}
