// The verification page a person opens (RFC 8628 §3.3): enter the code, see the request, approve or deny.

import AuthdWire
import Foundation
import NIOHTTP1

struct DevicePage: Sendable {
    let provider: Provider

    func handle(_ req: Request) -> Outcome {
        req.method == .POST ? decide(req) : show(req)
    }

    private func show(_ req: Request) -> Outcome {
        var log = LogFields(endpoint: "device", result: "page")
        guard let input = req.queryForm["user_code"], !input.trimmingCharacters(in: .whitespaces).isEmpty else {
            return Outcome(response: .html(Pages.enterCode(prefill: "", message: nil)), log: log)
        }
        guard let view = provider.view(userCode: input) else {
            log.result = "unknown_code"
            return Outcome(response: .html(Pages.enterCode(prefill: input, message: Pages.unknownCode), status: .notFound),
                           log: log)
        }
        log.userCode = view.userCode
        log.clientId = view.clientId
        switch view.status {
        case .pending:
            return Outcome(response: .html(Pages.confirm(view)), log: log)
        default:
            log.result = Pages.statusWord(view.status)
            return Outcome(response: .html(Pages.final(view), status: Pages.httpStatus(view.status)), log: log)
        }
    }

    private func decide(_ req: Request) -> Outcome {
        var log = LogFields(endpoint: "device", result: "")
        let form = req.form
        let input = form["user_code"] ?? ""
        let approve: Bool
        switch form["action"]?.lowercased() {
        case "approve": approve = true
        case "deny": approve = false
        default:
            log.result = "invalid_request"
            return Outcome(response: .html(Pages.enterCode(prefill: input, message: "Press Approve or Deny."),
                                           status: .badRequest), log: log)
        }
        switch provider.decide(userCode: input, approve: approve) {
        case .unknown:
            log.result = "unknown_code"
            return Outcome(response: .html(Pages.enterCode(prefill: input, message: Pages.unknownCode), status: .notFound),
                           log: log)
        case .done(let view):
            log.userCode = view.userCode
            log.clientId = view.clientId
            log.result = approve ? "approved" : "denied"
            return Outcome(response: .html(Pages.final(view)), log: log)
        case .unchanged(let view):
            log.userCode = view.userCode
            log.clientId = view.clientId
            log.result = "already_" + Pages.statusWord(view.status)
            return Outcome(response: .html(Pages.final(view), status: Pages.httpStatus(view.status)), log: log)
        }
    }
}

/// The HTML itself: plain forms, no JavaScript, every dynamic value escaped.
enum Pages {
    static let unknownCode = "That code is not known here. Check it and try again."

    static func statusWord(_ s: DeviceView.Status) -> String {
        switch s {
        case .pending: return "pending"
        case .approved: return "approved"
        case .denied: return "denied"
        case .used: return "used"
        case .expired: return "expired"
        }
    }

    static func httpStatus(_ s: DeviceView.Status) -> HTTPResponseStatus {
        switch s {
        case .expired: return .gone
        case .pending, .approved, .denied, .used: return .ok
        }
    }

    /// Shared by the authorization page, so both look alike.
    static func layout(_ title: String, _ body: String) -> String {
        """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(HTMLText.escape(title)) — authd-devserver</title>
        <style>
        body{font-family:system-ui,sans-serif;max-width:36em;margin:3em auto;padding:0 1em;line-height:1.5}
        .code{font-family:monospace;font-size:1.6em;letter-spacing:.1em}
        input[name=user_code]{font-family:monospace;font-size:1.4em;width:10em;text-transform:uppercase}
        button{font-size:1.1em;padding:.3em 1.2em;margin-right:.6em}
        .note{color:#666;font-size:.9em} .msg{color:#a00}
        </style></head><body>
        <h1>\(HTMLText.escape(title))</h1>
        \(body)
        <p class="note">authd-devserver: a local test provider. Not for production.</p>
        </body></html>

        """
    }

    static func enterCode(prefill: String, message: String?) -> String {
        let msg = message.map { "<p class=\"msg\">\(HTMLText.escape($0))</p>\n" } ?? ""
        return layout("Connect a device", """
            \(msg)<form method="get" action="/device">
            <p><label>Enter the code shown on your device:<br>
            <input name="user_code" value="\(HTMLText.escape(prefill))" autocomplete="off" autofocus></label></p>
            <p><button type="submit">Continue</button></p>
            </form>
            """)
    }

    static func confirm(_ v: DeviceView) -> String {
        let code = HTMLText.escape(UserCode.display(v.userCode))
        return layout("Approve this device?", """
            <p>Code <span class="code">\(code)</span></p>
            \(details(v))
            <p>Only approve if this code is the one on your own screen.</p>
            <form method="post" action="/device">
            <input type="hidden" name="user_code" value="\(code)">
            <button type="submit" name="action" value="approve">Approve</button>
            <button type="submit" name="action" value="deny">Deny</button>
            </form>
            """)
    }

    static func final(_ v: DeviceView) -> String {
        let code = "<p>Code <span class=\"code\">\(HTMLText.escape(UserCode.display(v.userCode)))</span></p>\n"
        switch v.status {
        case .approved:
            return layout("Approved", code + details(v) + "<p><strong>Approved — you can return to your terminal.</strong></p>")
        case .denied:
            return layout("Denied", code + details(v) + "<p><strong>Denied — the device will not get access. You can close this page.</strong></p>")
        case .used:
            return layout("Already used", code + "<p>This code was approved and its tokens have been collected. You can close this page.</p>")
        case .expired:
            return layout("Code expired", code + "<p>This code has expired. Start the sign-in again on your device.</p>")
        case .pending:
            return confirm(v)
        }
    }

    private static func details(_ v: DeviceView) -> String {
        var rows = "<tr><th align=\"left\">Client</th><td>\(HTMLText.escape(v.clientId))</td></tr>\n"
        let scopes = v.scopes.isEmpty ? "<em>none</em>" : v.scopes.map { "<code>\(HTMLText.escape($0))</code>" }.joined(separator: " ")
        rows += "<tr><th align=\"left\">Scopes</th><td>\(scopes)</td></tr>\n"
        if !v.resources.isEmpty {
            rows += "<tr><th align=\"left\">Resources</th><td>"
                + v.resources.map { "<code>\(HTMLText.escape($0))</code>" }.joined(separator: "<br>") + "</td></tr>\n"
        }
        for (k, value) in v.extras {
            rows += "<tr><th align=\"left\">\(HTMLText.escape(k))</th><td>\(HTMLText.escape(value))</td></tr>\n"
        }
        return "<table>\n\(rows)</table>\n"
    }

    static func index(base: String, git: Bool) -> String {
        let b = HTMLText.escape(base)
        let gitLine = git ? "<li><code>\(b)/git/</code> — git over HTTP, token required</li>\n" : ""
        return layout("authd-devserver", """
            <p>A self-contained OAuth 2.0 device-flow provider for tests and demos.</p>
            <ul>
            <li><a href="/device">\(b)/device</a> — enter a code</li>
            <li>the authorization endpoint (the profile's path, <code>/authorize</code> by default) — redirects to loopback only</li>
            <li><a href="/.well-known/oauth-authorization-server">metadata</a></li>
            \(gitLine)</ul>
            """)
    }
}
