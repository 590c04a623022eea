// The authorization endpoint (RFC 6749 §4.1.1–4.1.2, RFC 7636, RFC 8252 §7.3): approve or deny, then redirect to loopback.

import AuthdWire
import Foundation
import NIOHTTP1

/// RFC 8252 §7.3 loopback redirects only: `http`, host `127.0.0.1`, `[::1]` or `localhost`, an explicit port.
/// Anything else is refused without a redirect, since sending a code to an unchecked address is the attack
/// RFC 6749 §4.1.2.1 forbids.
enum LoopbackRedirect {
    /// nil when allowed; otherwise why not, for the error page.
    static func problem(_ uri: String) -> String? {
        guard uri.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f && $0 != UInt8(ascii: "\\") }) else {
            return "redirect_uri contains spaces, control or non-ASCII characters"
        }
        guard uri.hasPrefix("http://") else { return "redirect_uri must start with http:// (a loopback address)" }
        guard !uri.contains("#") else { return "redirect_uri must not contain a fragment" }
        let rest = uri.dropFirst("http://".count)
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" } ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        guard !authority.contains("@") else { return "redirect_uri must not contain a user name" }
        let host: Substring, port: Substring
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { return "redirect_uri has an unclosed IPv6 address" }
            host = authority[...close]
            let after = authority[authority.index(after: close)...]
            guard after.hasPrefix(":") else { return "redirect_uri must name a port" }
            port = after.dropFirst()
        } else {
            guard let colon = authority.lastIndex(of: ":") else { return "redirect_uri must name a port" }
            host = authority[..<colon]
            port = authority[authority.index(after: colon)...]
        }
        guard host == "127.0.0.1" || host == "[::1]" || host.lowercased() == "localhost" else {
            return "redirect_uri must be a loopback address (http://127.0.0.1:PORT/, http://[::1]:PORT/ or http://localhost:PORT/)"
        }
        guard !port.isEmpty, port.count <= 5, port.allSatisfy(\.isASCII), port.allSatisfy(\.isNumber),
              let n = Int(port), (1...65535).contains(n) else {
            return "redirect_uri must name a port of 1 to 65535"
        }
        return nil
    }

    /// `uri` with the answer's parameters added to its query.
    static func adding(_ params: [(String, String)], to uri: String) -> String {
        let query = params.map { Form.encode($0.0) + "=" + Form.encode($0.1) }.joined(separator: "&")
        return uri + (uri.contains("?") ? "&" : "?") + query
    }
}

struct AuthorizePage: Sendable {
    let config: Config
    let provider: Provider

    /// The parameters the approval form carries back; everything is checked again on POST.
    private static let carried = ["response_type", "client_id", "redirect_uri", "scope", "state",
                                  "code_challenge", "code_challenge_method", "nonce"]

    func handle(_ req: Request) -> Outcome {
        var log = LogFields(endpoint: "authorize", result: "")
        let params = req.method == .POST ? req.form : req.queryForm
        log.clientId = params["client_id"]

        // §4.1.2.1: a bad client or redirect_uri is shown to the person, never redirected to.
        if let key = params.repeatedKey(allowedRepeats: ["resource"]) {
            return refused("parameter '\(key)' is repeated", "invalid_request", log)
        }
        guard let clientId = params["client_id"], !clientId.isEmpty else {
            return refused("client_id is required", "invalid_request", log)
        }
        if !config.clients.isEmpty && config.clients[clientId] == nil && !provider.dynamicClients.isRegistered(clientId) {
            return refused("unknown client '\(clientId)'", "invalid_client", log)
        }
        guard let redirect = params["redirect_uri"], !redirect.isEmpty else {
            return refused("redirect_uri is required", "invalid_request", log)
        }
        if let problem = LoopbackRedirect.problem(redirect) {
            return refused(problem, "invalid_redirect_uri", log)
        }

        // From here on errors go back to the client on the redirect, with its state.
        let state = params["state"]
        func back(_ code: String, _ description: String) -> Outcome {
            var log = log
            log.result = code
            var answer = [("error", code), ("error_description", description)]
            if let state { answer.append(("state", state)) }
            return redirecting(LoopbackRedirect.adding(answer, to: redirect), log)
        }
        guard params["response_type"] == "code" else {
            return back("unsupported_response_type", "response_type must be code")
        }
        guard let challenge = params["code_challenge"], !challenge.isEmpty else {
            return back("invalid_request", "code_challenge is required (PKCE S256)")
        }
        guard params["code_challenge_method"] == "S256" else {
            return back("invalid_request", "code_challenge_method must be S256")
        }
        guard PKCE.isWellFormedChallenge(challenge) else {
            return back("invalid_request", "code_challenge must be 43 base64url characters (SHA-256 of the verifier)")
        }

        let approve: Bool
        if req.method == .POST {
            switch params["action"]?.lowercased() {
            case "approve": approve = true
            case "deny": approve = false
            default: return refused("press Approve or Deny", "invalid_request", log)
            }
        } else if config.hasAutomaticDecision {
            approve = !config.deny
        } else {
            log.result = "page"
            return Outcome(response: .html(Self.confirm(params, clientId: clientId, redirect: redirect)), log: log)
        }
        guard approve else { return back("access_denied", "the user denied the request") }

        let code = provider.issueAuthorizationCode(AuthorizationRequest(
            clientId: clientId, scopes: Scope.parse(params["scope"]), resources: params.all("resource"),
            redirectURI: redirect, codeChallenge: challenge, nonce: params["nonce"]))
        log.result = "approved"
        log.codeFp = fingerprint(code)
        var answer = [("code", code)]
        if let state { answer.append(("state", state)) }
        return redirecting(LoopbackRedirect.adding(answer, to: redirect), log)
    }

    private func refused(_ why: String, _ result: String, _ log: LogFields) -> Outcome {
        var log = log
        log.result = result
        let page = Pages.layout("Sign-in refused", """
            <p class="msg">\(HTMLText.escape(why)).</p>
            <p>Nothing was sent to the application. Fix the request it made and start the sign-in again.</p>
            """)
        return Outcome(response: .html(page, status: .badRequest), log: log)
    }

    private func redirecting(_ location: String, _ log: LogFields) -> Outcome {
        let body = Pages.layout("Returning to the application", "<p><a href=\"\(HTMLText.escape(location))\">Continue</a></p>")
        var r = Response.html(body, status: .found)
        r.headers.append(("Location", location))
        return Outcome(response: r, log: log)
    }

    private static func confirm(_ params: Form, clientId: String, redirect: String) -> String {
        let scopes = Scope.parse(params["scope"])
        let scopeText = scopes.isEmpty ? "<em>none</em>" : scopes.map { "<code>\(HTMLText.escape($0))</code>" }.joined(separator: " ")
        var hidden = carried.compactMap { key in
            params[key].map { "<input type=\"hidden\" name=\"\(key)\" value=\"\(HTMLText.escape($0))\">" }
        }
        hidden += params.all("resource").map { "<input type=\"hidden\" name=\"resource\" value=\"\(HTMLText.escape($0))\">" }
        return Pages.layout("Allow this application?", """
            <table>
            <tr><th align="left">Client</th><td>\(HTMLText.escape(clientId))</td></tr>
            <tr><th align="left">Scopes</th><td>\(scopeText)</td></tr>
            <tr><th align="left">Returns to</th><td><code>\(HTMLText.escape(redirect))</code></td></tr>
            </table>
            <p>Only allow if you started this sign-in yourself.</p>
            <form method="post">
            \(hidden.joined(separator: "\n"))
            <button type="submit" name="action" value="approve">Approve</button>
            <button type="submit" name="action" value="deny">Deny</button>
            </form>
            """)
    }
}
