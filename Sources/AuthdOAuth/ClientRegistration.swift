// Dynamic client registration (RFC 7591) and deleting it again (RFC 7592): the request authd sends and what its answers mean.

import AuthdWire

/// The metadata authd registers itself with: a public native client (RFC 8252) for the grants it
/// uses, with loopback redirect URIs for the authorization code flow and no client secret.
public struct ClientRegistrationRequest: Sendable, Equatable {
    public var clientName: String
    public var redirectURIs: [String]
    public var grantTypes: [String]
    public var responseTypes: [String]
    public var tokenEndpointAuthMethod: String
    public var applicationType: String

    public static let grantTypes = [OAuthClient.deviceCodeGrantType, "authorization_code", "refresh_token"]

    /// "authd on HOST"; the redirect URI without a port (RFC 8252 §7.3: any loopback port matches),
    /// and with `redirectPort` as well, for providers that compare ports.
    public static func nativeClient(hostName: String?, redirectPort: Int?) -> ClientRegistrationRequest {
        var redirects = ["http://127.0.0.1/callback"]
        if let redirectPort { redirects.append(OAuthClient.loopbackRedirectURI(port: redirectPort)) }
        return ClientRegistrationRequest(
            clientName: hostName.map { "authd on \($0)" } ?? "authd", redirectURIs: redirects, grantTypes: grantTypes,
            responseTypes: ["code"], tokenEndpointAuthMethod: "none", applicationType: "native")
    }

    /// The JSON body of RFC 7591 §3.1.
    public var body: [UInt8] {
        JSONValue.object([
            ("client_name", .string(clientName)),
            ("redirect_uris", .array(redirectURIs.map { .string($0) })),
            ("grant_types", .array(grantTypes.map { .string($0) })),
            ("response_types", .array(responseTypes.map { .string($0) })),
            ("token_endpoint_auth_method", .string(tokenEndpointAuthMethod)),
            ("application_type", .string(applicationType)),
        ]).serializedBytes()
    }

    /// The POST to the registration endpoint (no initial access token: anonymous registration).
    public func httpRequest(to url: String, userAgent: String, limits: HTTPLimits, caFile: String?) throws(OAuthError) -> HTTPRequest {
        HTTPRequest(method: .post, to: try EndpointPolicy.sendable(url),
                    headers: [("Content-Type", "application/json"), ("Accept", "application/json"), ("User-Agent", userAgent)],
                    body: body, limits: limits, caFile: caFile)
    }
}

/// What a registration gave authd. The registration access token is a secret: the daemon keeps it
/// only sealed (in its store), and only for deleting the registration again.
public struct RegisteredClient: Sendable, Equatable {
    public var clientID: String
    /// RFC 7592's bearer token for the client configuration endpoint; nil when the provider sent none.
    public var registrationAccessToken: String?
    /// RFC 7592's client configuration endpoint; nil when the provider offers no management.
    public var registrationClientURI: String?

    public init(clientID: String, registrationAccessToken: String? = nil, registrationClientURI: String? = nil) {
        self.clientID = clientID
        self.registrationAccessToken = registrationAccessToken
        self.registrationClientURI = registrationClientURI
    }

    /// RFC 7592 §2.3 needs both the URL and its token.
    public var isDeletable: Bool { registrationAccessToken != nil && registrationClientURI != nil }
}

/// The answers of a registration endpoint, decided without I/O (tested by tables).
public enum ClientRegistrationAnswer {
    /// Generic advice when the provider refuses: the same that `refusalHint` of a preset refines.
    public static let genericRefusalHint = "the provider does not allow anonymous dynamic client registration for this client: "
        + "allow it in the provider's client registration settings, or register a public client by hand and set client_id to its id"

    /// RFC 7591 §3.2.1 (201 with `client_id`) and §3.2.2 (400 with `invalid_redirect_uri`,
    /// `invalid_client_metadata`, …). 401 and 403 mean anonymous registration is refused;
    /// `refusalHint` names the provider's setting.
    public static func decode(_ response: HTTPResponse, endpoint: OAuthEndpoint, request: ClientRegistrationRequest,
                              refusalHint: String?) -> Result<RegisteredClient, OAuthError> {
        let parsed = ResponseFields.parse(response)
        let fields = try? parsed.get()
        // The answer may carry the registration access token; it is cut from anything shown.
        let text = ProviderText(secrets: [fields?.string("registration_access_token")].compactMap { $0 })
        let code = text.clean(fields?.error), description = text.clean(fields?.errorDescription)
        switch response.status {
        case 200, 201:
            guard let fields else {
                if case .failure(let problem) = parsed {
                    return .failure(.invalidResponse(endpoint: endpoint, reason: "HTTP \(response.status), \(problem.reason)"))
                }
                return .failure(.invalidResponse(endpoint: endpoint, reason: "HTTP \(response.status) without a body"))
            }
            if code != nil { break }
            guard let clientID = fields.string("client_id") else {
                return .failure(.invalidResponse(endpoint: endpoint, reason: "the registration answer has no client_id"))
            }
            guard clientID.utf8.count <= 1024, clientID.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F }) else {
                return .failure(.invalidResponse(endpoint: endpoint, reason: "the registered client_id is not printable ASCII (at most 1024 bytes)"))
            }
            // A provider may override metadata (RFC 7591 §3.2.1); a secret-based method would make
            // authd a confidential client it has no secret storage for.
            if let method = fields.string("token_endpoint_auth_method"), method != request.tokenEndpointAuthMethod {
                return .failure(.invalidResponse(
                    endpoint: endpoint,
                    reason: "the provider registered a client with token_endpoint_auth_method \(text.clean(method) ?? "") instead of none; "
                        + "allow public clients in its registration policy, or register a public client by hand and set client_id"))
            }
            var client = RegisteredClient(clientID: clientID, registrationAccessToken: fields.string("registration_access_token"))
            if let uri = fields.string("registration_client_uri") {
                guard (try? EndpointPolicy.sendable(uri)) != nil else {
                    return .failure(.invalidResponse(endpoint: endpoint, reason: "registration_client_uri is not a usable https URL"))
                }
                client.registrationClientURI = uri
            }
            return .success(client)
        case 401, 403:
            return .failure(.registrationRefused(endpoint: endpoint, status: response.status, error: code, description: description,
                                                 hint: refusalHint ?? genericRefusalHint))
        default:
            break
        }
        if response.status >= 500 || response.status == 429 || response.status == 408 {
            return .failure(.httpStatus(endpoint: endpoint, status: response.status))
        }
        guard let code else {
            return .failure((200..<300).contains(response.status)
                ? .invalidResponse(endpoint: endpoint, reason: "HTTP \(response.status) is not a registration answer")
                : .httpStatus(endpoint: endpoint, status: response.status))
        }
        return .failure(.provider(endpoint: endpoint, error: code, description: description, hint: hint(for: code, request: request)))
    }

    /// What to change for RFC 7591 §3.2.2's error codes.
    static func hint(for code: String, request: ClientRegistrationRequest) -> String {
        switch code {
        case "invalid_redirect_uri":
            return "the provider refused the loopback redirect URIs (\(request.redirectURIs.joined(separator: ", "))): allow loopback (127.0.0.1) "
                + "redirects in its registration policy, or register a client by hand and set client_id"
        case "invalid_client_metadata":
            return "the provider refused authd's client metadata (grant types \(request.grantTypes.joined(separator: ", ")), "
                + "token_endpoint_auth_method none): allow them in its registration policy, or register a client by hand and set client_id"
        default:
            return "register a client by hand and set client_id"
        }
    }

    /// The RFC 7592 §2.3 DELETE of a registration, with its registration access token.
    public static func deletionRequest(_ client: RegisteredClient, userAgent: String, limits: HTTPLimits,
                                       caFile: String?) throws(OAuthError) -> HTTPRequest? {
        guard let uri = client.registrationClientURI, let token = client.registrationAccessToken else { return nil }
        return HTTPRequest(method: .delete, to: try EndpointPolicy.sendable(uri),
                           headers: [("Authorization", "Bearer " + token), ("Accept", "application/json"), ("User-Agent", userAgent)],
                           body: [], limits: limits, caFile: caFile)
    }

    /// What a DELETE's answer means (RFC 7592 §2.3: 204; 401 when the registration or its token is
    /// already gone, which also leaves nothing to delete).
    public static func deletion(_ response: HTTPResponse, endpoint: OAuthEndpoint) -> ClientDeletion {
        switch response.status {
        case 200, 204: return .deleted
        case 401, 404, 410: return .alreadyGone(status: response.status)
        default: return .failed(OAuthError.httpStatus(endpoint: endpoint, status: response.status).description)
        }
    }
}

/// What deleting a registration at the provider achieved.
public enum ClientDeletion: Sendable, Equatable {
    case deleted
    /// The provider no longer knows the registration (or its token): nothing is left there.
    case alreadyGone(status: Int)
    /// The provider offers no RFC 7592 management for it (no registration_client_uri or token).
    case unsupported
    case failed(String)
}

/// Registers clients and deletes registrations. Shares discovery with the audience's other clients.
public struct ClientRegistrar: Sendable {
    let exchange: Exchange
    let discovery: MetadataDiscovery
    let limits: HTTPLimits
    let caFile: String?
    let userAgent: String
    /// Shown with a 401/403 refusal: the provider's setting (Keycloak: Client Registration Policies).
    let refusalHint: String?

    public init(transport: any HTTPTransport, discovery: MetadataDiscovery, limits: HTTPLimits = HTTPLimits(), caFile: String? = nil,
                userAgent: String = "authd", refusalHint: String? = nil) {
        exchange = Exchange(transport: transport, limits: limits)
        self.discovery = discovery
        self.limits = limits
        self.caFile = caFile
        self.userAgent = userAgent
        self.refusalHint = refusalHint
    }

    /// The registration endpoint: the configured one, else the issuer's `registration_endpoint`.
    public func registrationEndpoint(configured: String?, issuer: String?) async throws(OAuthError) -> String {
        if let configured { return configured }
        guard let issuer else {
            throw .noEndpoint(.registration, reason: "client_id = \"register\" needs an issuer whose discovery metadata names registration_endpoint, or registration_endpoint in the config")
        }
        let metadata = try await discovery.metadata(issuer: issuer, caFile: caFile, userAgent: userAgent)
        guard let endpoint = metadata.registrationEndpoint else {
            throw .noEndpoint(.registration, reason: "the discovery metadata of \(EndpointPolicy.withoutUserinfo(issuer)) names no registration_endpoint, "
                + "so the provider does not offer dynamic client registration (RFC 7591) there; register a client by hand and set client_id to its id")
        }
        return endpoint
    }

    public func register(_ request: ClientRegistrationRequest, at url: String) async throws(OAuthError) -> RegisteredClient {
        let endpoint = OAuthEndpoint(.registration, url)
        let response = try await exchange.send(try request.httpRequest(to: url, userAgent: userAgent, limits: limits, caFile: caFile), to: endpoint)
        return try ClientRegistrationAnswer.decode(response, endpoint: endpoint, request: request, refusalHint: refusalHint).get()
    }

    public func delete(_ client: RegisteredClient) async -> ClientDeletion {
        do throws(OAuthError) {
            guard let request = try ClientRegistrationAnswer.deletionRequest(client, userAgent: userAgent, limits: limits, caFile: caFile) else {
                return .unsupported
            }
            let endpoint = OAuthEndpoint(.registration, request.url)
            return ClientRegistrationAnswer.deletion(try await exchange.send(request, to: endpoint), endpoint: endpoint)
        } catch {
            return .failed(error.description)
        }
    }
}
