// Dynamic client registration (RFC 7591) and its deletion (RFC 7592): the request and every kind of answer, by table.

@testable import AuthdOAuth
import AuthdTestSupport
import AuthdWire
import Testing

@Suite struct ClientRegistrationTests {
    static let endpoint = OAuthEndpoint(.registration, "https://idp.example/register")
    static let request = ClientRegistrationRequest.nativeClient(hostName: "box", redirectPort: nil)
    static let registrationToken = "rat-0123456789abcdef"

    static func answer(_ status: Int, _ body: String) -> HTTPResponse {
        HTTPResponse(status: status, headers: [("Content-Type", "application/json")], body: Array(body.utf8))
    }

    static func decode(_ status: Int, _ body: String, hint: String? = nil) -> Result<RegisteredClient, OAuthError> {
        ClientRegistrationAnswer.decode(answer(status, body), endpoint: endpoint, request: request, refusalHint: hint)
    }

    @Test func requestIsAPublicNativeClientForTheGrantsAuthdUses() throws {
        let body = try JSONValue.parse(Self.request.body)
        #expect(body["client_name"]?.stringValue == "authd on box")
        #expect(body["redirect_uris"]?.arrayValue?.compactMap(\.stringValue) == ["http://127.0.0.1/callback"])
        #expect(body["grant_types"]?.arrayValue?.compactMap(\.stringValue)
                == ["urn:ietf:params:oauth:grant-type:device_code", "authorization_code", "refresh_token"])
        #expect(body["token_endpoint_auth_method"]?.stringValue == "none")
        #expect(body["application_type"]?.stringValue == "native")
        #expect(body["response_types"]?.arrayValue?.compactMap(\.stringValue) == ["code"])
        let fixed = ClientRegistrationRequest.nativeClient(hostName: nil, redirectPort: 8400)
        #expect(fixed.redirectURIs == ["http://127.0.0.1/callback", "http://127.0.0.1:8400/callback"])
        #expect(fixed.clientName == "authd")
        let http = try Self.request.httpRequest(to: "https://idp.example/register", userAgent: "authd/x", limits: HTTPLimits(), caFile: nil)
        #expect(http.method == .post)
        #expect(http.headers.contains { $0.name == "Content-Type" && $0.value == "application/json" })
        #expect(!http.headers.contains { $0.name == "Authorization" })
        #expect(throws: OAuthError.self) {
            try Self.request.httpRequest(to: "http://idp.example/register", userAgent: "authd", limits: HTTPLimits(), caFile: nil)
        }
    }

    @Test func acceptedRegistrations() throws {
        let full = try Self.decode(201, #"{"client_id":"c-1","registration_access_token":"\#(Self.registrationToken)","registration_client_uri":"https://idp.example/register/c-1","token_endpoint_auth_method":"none","client_id_issued_at":1800000000}"#).get()
        #expect(full == RegisteredClient(clientID: "c-1", registrationAccessToken: Self.registrationToken,
                                         registrationClientURI: "https://idp.example/register/c-1"))
        #expect(full.isDeletable)
        // 200 is what some servers send; no management fields means nothing to delete later.
        let bare = try Self.decode(200, #"{"client_id":"c-2"}"#).get()
        #expect(bare == RegisteredClient(clientID: "c-2"))
        #expect(!bare.isDeletable)
        // A secret the provider adds for a client registered with method none is not used.
        let withSecret = try Self.decode(201, #"{"client_id":"c-3","client_secret":"s3cr3t-value","token_endpoint_auth_method":"none"}"#).get()
        #expect(withSecret.clientID == "c-3")
    }

    @Test(arguments: [
        (201, #"{"client_name":"authd"}"#, "has no client_id"),
        (201, #"{"client_id":""}"#, "has no client_id"),
        (201, #"{"client_id":"a b"}"#, "not printable ASCII"),
        (201, #"{"client_id":"c","token_endpoint_auth_method":"client_secret_basic"}"#, "token_endpoint_auth_method client_secret_basic instead of none"),
        (201, #"{"client_id":"c","registration_client_uri":"http://idp.example/register/c"}"#, "registration_client_uri is not a usable https URL"),
        (201, "[1]", "not an object"),
    ])
    func unusableAnswers(status: Int, body: String, reason: String) {
        guard case .failure(.invalidResponse(_, let why)) = Self.decode(status, body) else {
            Issue.record("\(body) was accepted")
            return
        }
        #expect(why.contains(reason), "\(why)")
    }

    @Test(arguments: [
        ("invalid_redirect_uri", "loopback redirect URIs (http://127.0.0.1/callback)"),
        ("invalid_client_metadata", "refused authd's client metadata"),
        ("invalid_software_statement", "register a client by hand and set client_id"),
    ])
    func errorResponsesOfSection322(code: String, hint: String) {
        let result = Self.decode(400, #"{"error":"\#(code)","error_description":"no"}"#)
        guard case .failure(.provider(let endpoint, let error, let description, let givenHint?)) = result else {
            Issue.record("\(result)")
            return
        }
        #expect(endpoint == Self.endpoint)
        #expect(error == code)
        #expect(description == "no")
        #expect(givenHint.contains(hint), "\(givenHint)")
    }

    @Test func anonymousRegistrationDisabledNamesTheSetting() {
        let keycloak = "Keycloak: Clients → Client registration → Anonymous access policies"
        let refused = Self.decode(403, #"{"error":"insufficient_scope","error_description":"Policy 'Trusted Hosts' rejected request"}"#, hint: keycloak)
        guard case .failure(let error) = refused, case let .registrationRefused(_, status, code, description, hint) = error else {
            Issue.record("\(refused)")
            return
        }
        #expect(status == 403)
        #expect(code == "insufficient_scope")
        #expect(description == "Policy 'Trusted Hosts' rejected request")
        #expect(hint == keycloak)
        #expect(error.description.hasSuffix("(hint: \(keycloak))"))
        #expect(error.description.contains("refused to register authd as a client (HTTP 403, insufficient_scope"))
        #expect(!error.isRetryable)
        // Without a body and without a preset's hint: the generic advice, which says what to do.
        guard case .failure(let bare) = ClientRegistrationAnswer.decode(HTTPResponse(status: 401), endpoint: Self.endpoint,
                                                                        request: Self.request, refusalHint: nil) else {
            Issue.record("401 accepted")
            return
        }
        #expect(bare.description.contains("(HTTP 401)"))
        #expect(bare.description.contains("register a public client by hand and set client_id"))
    }

    @Test(arguments: [(500, true), (503, true), (429, true), (404, false), (400, false)])
    func statusWithoutOAuthError(status: Int, retryable: Bool) {
        guard case .failure(let error) = ClientRegistrationAnswer.decode(HTTPResponse(status: status), endpoint: Self.endpoint,
                                                                         request: Self.request, refusalHint: nil) else {
            Issue.record("accepted")
            return
        }
        #expect(error == .httpStatus(endpoint: Self.endpoint, status: status))
        #expect(error.isRetryable == retryable)
    }

    @Test func theRegistrationAccessTokenNeverAppearsInAnError() {
        let result = Self.decode(403, #"{"error":"access_denied","error_description":"token \#(Self.registrationToken) is not allowed","registration_access_token":"\#(Self.registrationToken)"}"#)
        guard case .failure(let error) = result else {
            Issue.record("accepted")
            return
        }
        #expect(!error.description.contains(Self.registrationToken))
    }

    @Test func deletion() throws {
        let client = RegisteredClient(clientID: "c", registrationAccessToken: Self.registrationToken,
                                      registrationClientURI: "https://idp.example/register/c")
        let request = try #require(try ClientRegistrationAnswer.deletionRequest(client, userAgent: "authd", limits: HTTPLimits(), caFile: nil))
        #expect(request.method == .delete)
        #expect(request.url == "https://idp.example/register/c")
        #expect(request.headers.contains { $0.name == "Authorization" && $0.value == "Bearer \(Self.registrationToken)" })
        #expect(try ClientRegistrationAnswer.deletionRequest(RegisteredClient(clientID: "c"), userAgent: "authd", limits: HTTPLimits(), caFile: nil) == nil)
        let endpoint = OAuthEndpoint(.registration, "https://idp.example/register/c")
        for (status, outcome) in [(204, ClientDeletion.deleted), (200, .deleted), (401, .alreadyGone(status: 401)), (404, .alreadyGone(status: 404)),
                                  (405, .failed("client registration endpoint https://idp.example/register/c: HTTP 405"))] {
            #expect(ClientRegistrationAnswer.deletion(HTTPResponse(status: status), endpoint: endpoint) == outcome, "HTTP \(status)")
        }
    }

    @Test func registrationEndpointComesFromTheConfigOrDiscovery() async throws {
        let transport = ScriptedTransport([
            .json(#"{"issuer":"https://idp.example","token_endpoint":"https://idp.example/token","registration_endpoint":"https://idp.example/reg"}"#),
            .json(#"{"issuer":"https://other.example","token_endpoint":"https://other.example/token"}"#),
        ])
        let clock = ManualClock()
        let registrar = ClientRegistrar(transport: transport, discovery: MetadataDiscovery(transport: transport, clock: clock))
        #expect(try await registrar.registrationEndpoint(configured: "https://x.example/r", issuer: "https://idp.example") == "https://x.example/r")
        #expect(try await registrar.registrationEndpoint(configured: nil, issuer: "https://idp.example") == "https://idp.example/reg")
        await #expect(throws: OAuthError.self) { try await registrar.registrationEndpoint(configured: nil, issuer: "https://other.example") }
        await #expect(throws: OAuthError.self) { try await registrar.registrationEndpoint(configured: nil, issuer: nil) }
    }
}
