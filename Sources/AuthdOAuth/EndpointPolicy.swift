// Which URLs the engine may send to (https anywhere, http only to loopback) and how each request is dressed.

import AuthdConfig
import AuthdWire

/// The parts of an absolute http(s) URL the policy needs. Internal: AuthdConfig has the public URL type.
struct ParsedEndpointURL: Equatable {
    var scheme: String
    var host: String
    /// Everything after the authority, "" when absent.
    var pathAndQuery: String

    init(_ text: String) throws(OAuthError) {
        guard let schemeEnd = text.firstRange(of: "://") else {
            throw .invalidEndpoint(url: text, reason: "not an absolute URL")
        }
        scheme = text[..<schemeEnd.lowerBound].lowercased()
        guard scheme == "https" || scheme == "http" else {
            throw .invalidEndpoint(url: text, reason: "the scheme must be https (or http on loopback)")
        }
        guard !text.unicodeScalars.contains(where: { $0.value <= 0x20 || $0.value == 0x7F }) else {
            throw .invalidEndpoint(url: text, reason: "contains spaces or control characters")
        }
        // URL parsers disagree on "\" (WHATWG reads it as "/"): the host checked here could differ
        // from the host connected to, so it is refused outright.
        guard !text.contains("\\") else { throw .invalidEndpoint(url: text, reason: "contains a backslash") }
        let rest = text[schemeEnd.upperBound...]
        let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? rest.endIndex
        var authority = rest[..<authorityEnd]
        pathAndQuery = String(rest[authorityEnd...])
        if let at = authority.lastIndex(of: "@") { authority = authority[authority.index(after: at)...] }
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { throw .invalidEndpoint(url: text, reason: "unterminated IPv6 address") }
            host = String(authority[authority.index(after: authority.startIndex)..<close]).lowercased()
        } else {
            host = String(authority.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)[0]).lowercased()
        }
        guard !host.isEmpty else { throw .invalidEndpoint(url: text, reason: "no host") }
    }

    /// 127.0.0.0/8, ::1 and `localhost`: the only hosts where plain http cannot be read or altered on the way.
    var isLoopback: Bool {
        if host == "localhost" || host == "localhost." { return true }
        let octets = host.split(separator: ".", omittingEmptySubsequences: false)
        if octets.count == 4, octets.allSatisfy({ $0.count <= 3 && UInt8($0) != nil }), octets[0] == "127" { return true }
        if let bytes = Self.ipv6Bytes(host) { return bytes == [UInt8](repeating: 0, count: 15) + [1] }
        return false
    }

    static func ipv6Bytes(_ text: String) -> [UInt8]? {
        guard text.contains(":") else { return nil }
        func groups(_ part: Substring) -> [UInt16]? {
            if part.isEmpty { return [] }
            var out: [UInt16] = []
            for g in part.split(separator: ":", omittingEmptySubsequences: false) {
                guard g.count <= 4, let v = UInt16(g, radix: 16) else { return nil }
                out.append(v)
            }
            return out
        }
        let halves = text.components(separatedByDoubleColon: ())
        var all: [UInt16]
        if halves.count == 1 {
            guard let g = groups(halves[0]), g.count == 8 else { return nil }
            all = g
        } else if halves.count == 2 {
            guard let head = groups(halves[0]), let tail = groups(halves[1]), head.count + tail.count < 8 else { return nil }
            all = head + [UInt16](repeating: 0, count: 8 - head.count - tail.count) + tail
        } else {
            return nil
        }
        return all.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] }
    }

    /// Refuses what the policy forbids before anything is sent.
    static func checkSendable(_ url: String) throws(OAuthError) {
        let parsed = try ParsedEndpointURL(url)
        if parsed.scheme == "http", !parsed.isLoopback { throw .insecureEndpoint(url: url) }
    }

    /// The URL for messages: userinfo hidden (`URLRedaction`, the one rule for every message),
    /// and without control characters (a URL from discovery metadata is provider text).
    static func withoutUserinfo(_ url: String) -> String {
        ProviderText(secrets: []).clean(URLRedaction.redactingUserinfo(url)) ?? ""
    }
}

extension String {
    fileprivate func components(separatedByDoubleColon: ()) -> [Substring] {
        var parts: [Substring] = []
        var start = startIndex
        var i = startIndex
        while i < endIndex {
            let next = index(after: i)
            if self[i] == ":", next < endIndex, self[next] == ":" {
                parts.append(self[start..<i])
                start = index(after: next)
                i = start
            } else {
                i = next
            }
        }
        parts.append(self[start...])
        return parts
    }
}

/// Builds the HTTP requests of one client: form bodies, client authentication, JSON accepted, limits set.
struct RequestFactory: Sendable {
    var settings: OAuthClientSettings

    func form(to endpoint: OAuthEndpoint, _ parameters: [(String, String)], authenticate: Bool = true) throws(OAuthError) -> HTTPRequest {
        try ParsedEndpointURL.checkSendable(endpoint.url)
        var pairs: [(String, String)] = []
        var headers: [(name: String, value: String)] = [
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Accept", "application/json"),
            ("User-Agent", settings.userAgent),
        ]
        if authenticate {
            switch settings.clientAuthentication {
            case .none:
                pairs.append(("client_id", settings.clientID))
            case .clientSecretPost:
                pairs.append(("client_id", settings.clientID))
                pairs.append(("client_secret", settings.clientSecret ?? ""))
            case .clientSecretBasic:
                // RFC 6749 §2.3.1: id and secret are form-urlencoded before Base64.
                let credentials = FormURLEncoding.percentEncode(settings.clientID) + ":" + FormURLEncoding.percentEncode(settings.clientSecret ?? "")
                headers.append(("Authorization", "Basic " + Base64.encode(Array(credentials.utf8))))
            }
        }
        pairs.append(contentsOf: parameters)
        return request(.post, endpoint.url, headers: headers, body: Array(FormURLEncoding.encode(pairs).utf8))
    }

    func get(_ endpoint: OAuthEndpoint) throws(OAuthError) -> HTTPRequest {
        try ParsedEndpointURL.checkSendable(endpoint.url)
        return request(.get, endpoint.url, headers: [("Accept", "application/json"), ("User-Agent", settings.userAgent)], body: [])
    }

    func request(_ method: HTTPRequest.Method, _ url: String, headers: [(name: String, value: String)], body: [UInt8]) -> HTTPRequest {
        HTTPRequest(method: method, url: url, headers: headers, body: body,
                    connectTimeoutMilliseconds: settings.limits.connectTimeoutMilliseconds,
                    totalTimeoutMilliseconds: settings.limits.totalTimeoutMilliseconds,
                    maximumResponseBytes: settings.limits.maximumResponseBytes, caFile: settings.caFile)
    }

    /// Secrets that may appear in what a provider echoes back; cut from every message.
    var secrets: [String] { [settings.clientSecret].compactMap { $0 } }
}

/// Sends one request and turns every failure into an `OAuthError` naming the endpoint.
struct Exchange: Sendable {
    var transport: any HTTPTransport
    var limits: HTTPLimits

    func send(_ request: HTTPRequest, to endpoint: OAuthEndpoint) async throws(OAuthError) -> HTTPResponse {
        if Task.isCancelled { throw .cancelled }
        let response: HTTPResponse
        do {
            response = try await transport.send(request)
        } catch let error as HTTPError {
            throw error == .cancelled || Task.isCancelled ? .cancelled : .network(endpoint: endpoint, error)
        } catch is CancellationError {
            throw .cancelled
        } catch {
            throw Task.isCancelled ? .cancelled : .network(endpoint: endpoint, .transport("transport failure"))
        }
        if Task.isCancelled { throw .cancelled }
        if response.body.count > limits.maximumResponseBytes {
            throw .network(endpoint: endpoint, .responseTooLarge(limit: limits.maximumResponseBytes))
        }
        return response
    }
}
