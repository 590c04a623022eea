// The issuer's id_token signing keys (JWKS): where they are, fetched and cached, re-fetched once on an unknown kid.

import AuthdWire

/// How an audience's id_tokens are verified. With neither an issuer nor a `jwks_uri` no key can
/// be known: an id_token is then discarded, never served or shown as verified.
public struct IDTokenSettings: Sendable, Equatable {
    /// The expected `iss`, and where `jwks_uri` is discovered when not configured.
    public var issuer: String?
    public var jwksURI: String?

    public init(issuer: String? = nil, jwksURI: String? = nil) {
        self.issuer = issuer
        self.jwksURI = jwksURI
    }

    public var canVerify: Bool { issuer != nil || jwksURI != nil }
}

/// Fetches and caches JWKS documents per URL (one instance per client). Failures are not cached.
public actor KeySetCache {
    struct Entry {
        var keys: JSONWebKeySet
        var fetchedAt: MonotonicInstant
    }

    let transport: any HTTPTransport
    let clock: any DaemonClock
    let limits: HTTPLimits
    public let timeToLive: Duration
    var cache: [String: Entry] = [:]
    /// A JWKS is a few kilobytes; a provider answering megabytes is refused early.
    public static let maximumBytes = 256 * 1024

    public init(transport: any HTTPTransport, clock: any DaemonClock, limits: HTTPLimits = HTTPLimits(),
                timeToLive: Duration = .seconds(3600)) {
        self.transport = transport
        self.clock = clock
        var capped = limits
        capped.maximumResponseBytes = min(limits.maximumResponseBytes, Self.maximumBytes)
        self.limits = capped
        self.timeToLive = timeToLive
    }

    /// The keys at `url`: from the cache while younger than the TTL unless `fresh`.
    public func keys(at url: String, fresh: Bool, caFile: String?, userAgent: String) async throws(OAuthError) -> JSONWebKeySet {
        if !fresh, let entry = cache[url], clock.now - entry.fetchedAt < timeToLive { return entry.keys }
        let endpoint = OAuthEndpoint(.keySet, url)
        let request = HTTPRequest(method: .get, to: try EndpointPolicy.sendable(url),
                                  headers: [("Accept", "application/json"), ("User-Agent", userAgent)], body: [],
                                  limits: limits, caFile: caFile)
        let response = try await Exchange(transport: transport, limits: limits).send(request, to: endpoint)
        guard response.status == 200 else { throw .httpStatus(endpoint: endpoint, status: response.status) }
        guard let keys = JSONWebKeySet.parse(response.body) else {
            throw .invalidResponse(endpoint: endpoint, reason: "not a JWKS document (a JSON object with a keys array)")
        }
        cache[url] = Entry(keys: keys, fetchedAt: clock.now)
        return keys
    }
}

/// Why an id_token could not be accepted: a failed check, or no keys to check it with.
public enum IDTokenRejection: Error, Sendable, CustomStringConvertible {
    case failed(IDTokenFailure)
    case keysUnavailable(OAuthError)

    public var description: String {
        switch self {
        case .failed(let failure): failure.description
        case .keysUnavailable(let error): "the id_token cannot be verified: the issuer's signing keys are unavailable (\(error.description))"
        }
    }
}

extension OAuthClient {
    /// Verifies `token` as this audience's id_token. Returns nil when no key can be known (neither
    /// issuer nor jwks_uri): the caller then discards the token. `nonce` is the one sent on an
    /// authorization request, nil for the device flow.
    public func verifyIDToken(_ token: String, nonce: String? = nil,
                              signatureCheck: IDTokenVerifier.SignatureCheck) async throws(IDTokenRejection) -> VerifiedIdentity? {
        let identity = settings.idTokens
        guard identity.canVerify else { return nil }
        let jwksURI: String
        do throws(OAuthError) {
            if let configured = identity.jwksURI {
                jwksURI = configured
            } else {
                let metadata = try await discovery.metadata(issuer: identity.issuer!, caFile: settings.caFile, userAgent: settings.userAgent)
                guard let published = metadata.jwksURI else {
                    throw .noEndpoint(.keySet, reason: "the discovery metadata of \(EndpointPolicy.withoutUserinfo(identity.issuer!)) names no jwks_uri; set jwks_uri in the config")
                }
                jwksURI = published
            }
        } catch {
            throw .keysUnavailable(error)
        }
        let expected = IDTokenExpectations(issuer: identity.issuer, clientID: settings.clientID, now: clock.wallSeconds(), nonce: nonce)
        // A kid not in the cached set may be a key the issuer rotated in since: fetch once more.
        for fresh in [false, true] {
            let keys: JSONWebKeySet
            do throws(OAuthError) {
                keys = try await keySets.keys(at: jwksURI, fresh: fresh, caFile: settings.caFile, userAgent: settings.userAgent)
            } catch {
                throw .keysUnavailable(error)
            }
            switch IDTokenVerifier.verify(token, keys: keys, expected: expected, signatureCheck: signatureCheck) {
            case .success(let verified): return verified
            case .failure(.unknownKey) where !fresh: continue
            case .failure(let failure): throw .failed(failure)
            }
        }
        throw .failed(.unknownKey(nil))
    }
}
