// Authorization server metadata from the issuer: RFC 8414, then OpenID Connect discovery, cached with a TTL.

import AuthdWire

/// The endpoints and capabilities a provider publishes.
public struct AuthorizationServerMetadata: Sendable, Equatable {
    public var issuer: String
    public var deviceAuthorizationEndpoint: String?
    /// RFC 6749 §3.1, for the authorization code flow.
    public var authorizationEndpoint: String?
    public var tokenEndpoint: String?
    public var revocationEndpoint: String?
    public var introspectionEndpoint: String?
    /// Where the issuer publishes its id_token signing keys (OpenID Connect Discovery).
    public var jwksURI: String? = nil
    /// RFC 7591 dynamic client registration (RFC 8414 `registration_endpoint`).
    public var registrationEndpoint: String? = nil
    public var tokenEndpointAuthMethods: [String]
    public var grantTypes: [String]
    /// The document it came from.
    public var source: String

    public init(issuer: String, deviceAuthorizationEndpoint: String? = nil, tokenEndpoint: String? = nil,
                revocationEndpoint: String? = nil, introspectionEndpoint: String? = nil,
                tokenEndpointAuthMethods: [String] = [], grantTypes: [String] = [], source: String,
                authorizationEndpoint: String? = nil) {
        self.issuer = issuer
        self.authorizationEndpoint = authorizationEndpoint
        self.deviceAuthorizationEndpoint = deviceAuthorizationEndpoint
        self.tokenEndpoint = tokenEndpoint
        self.revocationEndpoint = revocationEndpoint
        self.introspectionEndpoint = introspectionEndpoint
        self.tokenEndpointAuthMethods = tokenEndpointAuthMethods
        self.grantTypes = grantTypes
        self.source = source
    }
}

public enum IssuerIdentifier {
    /// Issuers are compared as exact strings after removing one trailing "/" from each side:
    /// Auth0's issuers end with "/" and people type them without, and nothing else is normalised
    /// (no case folding, no default ports), as RFC 8414 §3.3 asks for identical strings.
    public static func matches(_ configured: String, _ published: String) -> Bool {
        withoutTrailingSlash(configured) == withoutTrailingSlash(published)
    }

    static func withoutTrailingSlash(_ s: String) -> Substring {
        s.hasSuffix("/") ? s.dropLast() : Substring(s)
    }

    /// The documents tried, in order:
    /// 1. RFC 8414 §3.1: `https://h/.well-known/oauth-authorization-server/p` for issuer `https://h/p`;
    /// 2. OpenID Connect Discovery: `{issuer}/.well-known/openid-configuration`;
    /// 3. the RFC 8414 suffix appended to the issuer, `{issuer}/.well-known/oauth-authorization-server`,
    ///    which Okta's custom authorization servers and some others publish (omitted when equal to 1).
    public static func discoveryURLs(issuer: String) -> [String] {
        let base = String(withoutTrailingSlash(issuer))
        var urls: [String] = []
        if let schemeEnd = base.firstRange(of: "://") {
            let rest = base[schemeEnd.upperBound...]
            let pathStart = rest.firstIndex(of: "/") ?? rest.endIndex
            let origin = base[..<pathStart]
            let path = rest[pathStart...]
            urls.append("\(origin)/.well-known/oauth-authorization-server\(path)")
        }
        urls.append("\(base)/.well-known/openid-configuration")
        let appended = "\(base)/.well-known/oauth-authorization-server"
        if !urls.contains(appended) { urls.append(appended) }
        return urls
    }
}

/// Fetches and caches metadata per issuer. One instance is meant to be shared by all audiences,
/// so that several audiences on one provider fetch its metadata once per TTL. Failures are not
/// cached; concurrent requests for one issuer share one fetch.
public actor MetadataDiscovery {
    struct Entry {
        var metadata: AuthorizationServerMetadata
        var fetchedAt: MonotonicInstant
    }

    let transport: any HTTPTransport
    let clock: any DaemonClock
    public let timeToLive: Duration
    let limits: HTTPLimits
    var cache: [String: Entry] = [:]
    var inFlight: [String: Task<Result<AuthorizationServerMetadata, OAuthError>, Never>] = [:]

    public init(transport: any HTTPTransport, clock: any DaemonClock, timeToLive: Duration = .seconds(3600),
                limits: HTTPLimits = HTTPLimits()) {
        self.transport = transport
        self.clock = clock
        self.timeToLive = timeToLive
        self.limits = limits
    }

    /// The metadata of `issuer`, from the cache while younger than the TTL.
    public func metadata(issuer: String, caFile: String? = nil, userAgent: String = "authd") async throws(OAuthError) -> AuthorizationServerMetadata {
        let key = String(IssuerIdentifier.withoutTrailingSlash(issuer))
        if let entry = cache[key], clock.now - entry.fetchedAt < timeToLive { return entry.metadata }
        // A shared fetch cancelled by another waiter is started again for a waiter still interested.
        for _ in 0..<2 {
            let task: Task<Result<AuthorizationServerMetadata, OAuthError>, Never>
            if let running = inFlight[key] {
                task = running
            } else {
                let fetcher = MetadataFetcher(exchange: Exchange(transport: transport, limits: limits), limits: limits,
                                              caFile: caFile, userAgent: userAgent)
                task = Task { await fetcher.fetch(issuer: issuer) }
                inFlight[key] = task
            }
            let result = await withTaskCancellationHandler { await task.value } onCancel: { task.cancel() }
            if inFlight[key] == task { inFlight[key] = nil }
            switch result {
            case .success(let metadata):
                cache[key] = Entry(metadata: metadata, fetchedAt: clock.now)
                return metadata
            case .failure(.cancelled) where !Task.isCancelled:
                continue
            case .failure(let error):
                throw error
            }
        }
        throw .cancelled
    }

    /// Forgets an issuer's metadata (e.g. after its endpoints failed in a way that suggests a move).
    public func invalidate(issuer: String) {
        cache[String(IssuerIdentifier.withoutTrailingSlash(issuer))] = nil
    }
}

struct MetadataFetcher: Sendable {
    var exchange: Exchange
    var limits: HTTPLimits
    var caFile: String?
    var userAgent: String

    func fetch(issuer: String) async -> Result<AuthorizationServerMetadata, OAuthError> {
        do throws(OAuthError) {
            _ = try EndpointPolicy.sendable(issuer)
            var firstFailure: OAuthError?
            for url in IssuerIdentifier.discoveryURLs(issuer: issuer) {
                do throws(OAuthError) {
                    return .success(try await fetchDocument(url, issuer: issuer))
                } catch {
                    switch error {
                    // A document for another issuer is an attack or a misconfiguration, not a reason to look elsewhere.
                    case .issuerMismatch, .cancelled, .insecureEndpoint, .invalidEndpoint: throw error
                    default: if firstFailure == nil { firstFailure = error }
                    }
                }
            }
            throw firstFailure ?? .noEndpoint(.discovery, reason: "no discovery document for \(issuer)")
        } catch {
            return .failure(error)
        }
    }

    func fetchDocument(_ url: String, issuer: String) async throws(OAuthError) -> AuthorizationServerMetadata {
        let endpoint = OAuthEndpoint(.discovery, url)
        let request = HTTPRequest(method: .get, to: try EndpointPolicy.sendable(url),
                                  headers: [("Accept", "application/json"), ("User-Agent", userAgent)], body: [],
                                  limits: limits, caFile: caFile)
        let response = try await exchange.send(request, to: endpoint)
        guard response.status == 200 else { throw .httpStatus(endpoint: endpoint, status: response.status) }
        let value: JSONValue
        do {
            value = try JSONValue.parse(response.body, maximumDepth: 32)
        } catch {
            throw .invalidResponse(endpoint: endpoint, reason: "malformed JSON (\(error.description))")
        }
        guard value.objectMembers != nil else { throw .invalidResponse(endpoint: endpoint, reason: "not a JSON object") }
        guard let published = value["issuer"]?.stringValue else {
            throw .invalidResponse(endpoint: endpoint, reason: "issuer is missing")
        }
        guard IssuerIdentifier.matches(issuer, published) else { throw .issuerMismatch(expected: issuer, found: ProviderText(secrets: []).clean(published) ?? "") }
        func strings(_ name: String) -> [String] { value[name]?.arrayValue?.compactMap(\.stringValue) ?? [] }
        var metadata = AuthorizationServerMetadata(
            issuer: published,
            deviceAuthorizationEndpoint: value["device_authorization_endpoint"]?.stringValue,
            tokenEndpoint: value["token_endpoint"]?.stringValue,
            revocationEndpoint: value["revocation_endpoint"]?.stringValue,
            introspectionEndpoint: value["introspection_endpoint"]?.stringValue,
            tokenEndpointAuthMethods: strings("token_endpoint_auth_methods_supported"),
            grantTypes: strings("grant_types_supported"),
            source: url,
            authorizationEndpoint: value["authorization_endpoint"]?.stringValue)
        metadata.jwksURI = value["jwks_uri"]?.stringValue
        metadata.registrationEndpoint = value["registration_endpoint"]?.stringValue
        return metadata
    }
}
