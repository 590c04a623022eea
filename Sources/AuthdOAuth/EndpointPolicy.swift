// Which URLs the engine may send to (https anywhere, http only to loopback) and how each request is dressed.

import AuthdConfig
import AuthdWire

/// The one check before anything is sent: the URL is parsed by `EndpointURL`, the config's strict
/// parser (so the host judged here is the host libcurl connects to: `localhost.` or `127.0.0.08`
/// are refused, not handed to DNS), and plain http is refused unless the host is loopback.
/// Configured and discovered endpoints alike go through here.
enum EndpointPolicy {
    static func sendable(_ text: String) throws(OAuthError) -> EndpointURL {
        let url: EndpointURL
        do {
            url = try EndpointURL(parsing: text)
        } catch {
            throw .invalidEndpoint(url: text, reason: error.message)
        }
        guard url.isSecureOrLoopback else { throw .insecureEndpoint(url: text) }
        return url
    }

    /// The URL for messages: userinfo hidden (`URLRedaction`, the one rule for every message),
    /// and without control characters (a URL from discovery metadata is provider text).
    static func withoutUserinfo(_ url: String) -> String {
        ProviderText(secrets: []).clean(URLRedaction.redactingUserinfo(url)) ?? ""
    }
}

extension HTTPRequest {
    /// A request to `url` as the policy parsed it: the canonical text is what is sent.
    init(method: Method, to url: EndpointURL, headers: [(name: String, value: String)], body: [UInt8], limits: HTTPLimits, caFile: String?) {
        self.init(method: method, url: url.description, headers: headers, body: body,
                  connectTimeoutMilliseconds: limits.connectTimeoutMilliseconds,
                  totalTimeoutMilliseconds: limits.totalTimeoutMilliseconds,
                  maximumResponseBytes: limits.maximumResponseBytes, caFile: caFile, loopbackOnly: url.isLoopback)
    }
}

/// Builds the HTTP requests of one client: form bodies, client authentication, JSON accepted, limits set.
struct RequestFactory: Sendable {
    var settings: OAuthClientSettings

    func form(to endpoint: OAuthEndpoint, _ parameters: [(String, String)], authenticate: Bool = true) throws(OAuthError) -> HTTPRequest {
        let url = try EndpointPolicy.sendable(endpoint.url)
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
        return HTTPRequest(method: .post, to: url, headers: headers, body: Array(FormURLEncoding.encode(pairs).utf8),
                           limits: settings.limits, caFile: settings.caFile)
    }

    func get(_ endpoint: OAuthEndpoint) throws(OAuthError) -> HTTPRequest {
        let url = try EndpointPolicy.sendable(endpoint.url)
        return HTTPRequest(method: .get, to: url, headers: [("Accept", "application/json"), ("User-Agent", settings.userAgent)], body: [],
                           limits: settings.limits, caFile: settings.caFile)
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
