// A `client_id = "register"` audience's OAuth client: its id comes from a registration (ClientRegistrations), made on first use.
import AuthdOAuth
import AuthdStore
import AuthdWire
import Synchronization

extension ClientForgetting {
    /// The audit record's words for it.
    var auditText: String {
        switch self {
        case .notRegistered: return "no registered client to forget"
        case .deleted(let clientID): return "registered client \(clientID) deleted at the provider and forgotten"
        case let .forgottenOnly(clientID, why): return "registered client \(clientID) forgotten here: \(why)"
        case let .failed(clientID, why): return "registered client \(clientID) kept: \(why)"
        }
    }
}

/// Registers the audience's client when first needed and builds the engine's client for its id.
final class RegisteringClient: Sendable {
    let audience: String
    let identity: LoginIdentity
    let persist: Bool
    let request: ClientRegistrationRequest
    let configuredEndpoint: String?
    let issuer: String?
    let registrar: ClientRegistrar
    let registrations: ClientRegistrations
    /// The audience's settings but for the client id.
    let template: OAuthClientSettings
    let transport: any HTTPTransport
    let clock: any DaemonClock
    let discovery: MetadataDiscovery
    /// Built once the id is known; kept so the issuer's keys stay cached between calls.
    private let built = Mutex<OAuthClient?>(nil)

    init(audience: String, identity: LoginIdentity, persist: Bool, request: ClientRegistrationRequest, configuredEndpoint: String?,
         issuer: String?, registrar: ClientRegistrar, registrations: ClientRegistrations, template: OAuthClientSettings,
         transport: any HTTPTransport, clock: any DaemonClock, discovery: MetadataDiscovery) {
        self.audience = audience
        self.identity = identity
        self.persist = persist
        self.request = request
        self.configuredEndpoint = configuredEndpoint
        self.issuer = issuer
        self.registrar = registrar
        self.registrations = registrations
        self.template = template
        self.transport = transport
        self.clock = clock
        self.discovery = discovery
    }

    /// The client under the registered id; with `registering`, a registration is made when none
    /// exists, else nil is returned (revoking needs no new registration: nothing was issued to one).
    func client(registering: Bool) async throws(OAuthError) -> OAuthClient? {
        let clientID: String
        if registering {
            let (registrar, request, configuredEndpoint, issuer) = (registrar, request, configuredEndpoint, issuer)
            clientID = try await registrations.clientID(audience: audience, identity: identity, persist: persist) { () async throws(OAuthError) in
                let url = try await registrar.registrationEndpoint(configured: configuredEndpoint, issuer: issuer)
                return try await registrar.register(request, at: url)
            }
        } else {
            guard let existing = await registrations.existing(audience: audience, identity: identity) else { return nil }
            clientID = existing.clientID
        }
        return built.withLock { cached in
            if let cached, cached.settings.clientID == clientID { return cached }
            var settings = template
            settings.clientID = clientID
            let client = OAuthClient(settings: settings, transport: transport, clock: clock, discovery: discovery)
            cached = client
            return client
        }
    }

    /// Deletes the registration at the provider (RFC 7592, with its registration access token),
    /// then forgets it here. A failed deletion keeps it, so that the same command can be tried again.
    func forget() async -> ClientForgetting {
        guard let registration = await registrations.existing(audience: audience, identity: identity) else { return .notRegistered }
        let client = RegisteredClient(clientID: registration.clientID, registrationAccessToken: registration.registrationAccessToken?.copyString(),
                                      registrationClientURI: registration.registrationClientURI)
        let outcome: ClientForgetting
        switch await registrar.delete(client) {
        case .deleted, .alreadyGone:
            outcome = .deleted(clientID: registration.clientID)
        case .unsupported:
            outcome = .forgottenOnly(clientID: registration.clientID,
                                     why: "the provider gave no registration_client_uri and registration access token (RFC 7592), so authd cannot delete it; "
                                         + "delete client \(registration.clientID) in the provider's admin console if it should go")
        case .failed(let why):
            return .failed(clientID: registration.clientID,
                           why: "deleting it at the provider failed (\(why)); it is kept: try again, or delete client \(registration.clientID) in the provider's admin console")
        }
        _ = await registrations.forget(audience: audience, identity: identity)
        built.withLock { $0 = nil }
        return outcome
    }
}
