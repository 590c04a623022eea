// What an agent publishes so the socket loop can answer a cached `get` itself, and the pure rule for when it may.
import AuthdSystem
import AuthdWire
import Synchronization

extension AuditRecord {
    /// The record of every access token served, by the agent or by the socket loop.
    static func tokenServed(_ audience: String, client: ClientIdentity, scopes: [String], fingerprint: String) -> AuditRecord {
        AuditRecord(.tokenServed, "\(audience): token served", audience: audience, client: client,
                    scopes: scopes, tokenFingerprint: fingerprint)
    }
}

/// An immutable copy of what one agent's `get` decides on, published after every change to the
/// login, its renewal state or the audience's policy: the login (sealed tokens, expiry, scopes,
/// fingerprint) and the policy. nil in the slot: nothing to serve from it.
struct ServingSnapshot: Sendable {
    var login: Login
    var renewalPossible: Bool
    var policy: AudiencePolicy
}

/// The facts of one request that the snapshot decision looks at.
struct LoopRequest: Equatable {
    var minimumValidity: Duration
    var canPrompt: Bool
    /// Through a forward: its policy (ForwardPolicy) runs in the router.
    var throughForward: Bool
}

/// What the socket loop does with a cached `get`.
enum LoopAnswer: Equatable {
    /// Serve the snapshot's access token now.
    case serve(shortOfMinimumValidity: Bool)
    /// Hand the request to the agent (the hop to the concurrency pool), for this reason.
    case hop(HopReason)

    enum HopReason: Equatable {
        case noSnapshot, noAccessToken, forward, clientPolicy, renewalDue
    }

    /// Whether `snapshot` answers `request` at `now` exactly as the agent would on its first turn
    /// (`ServeDecision.servesCurrentToken`, the first question of the agent's own `get`). Anything else hops: no token, a token
    /// due for renewal or a login (device flow, refresh), a forward, and `allowed_clients` /
    /// `require_tty`, whose checks stay in one place (RequestRouter) off the loop.
    static func decide(_ snapshot: ServingSnapshot?, _ request: LoopRequest, now: Duration) -> LoopAnswer {
        guard let snapshot else { return .hop(.noSnapshot) }
        let login = snapshot.login, policy = snapshot.policy
        guard login.accessToken != nil, login.accessTokenFingerprint != nil else { return .hop(.noAccessToken) }
        if request.throughForward { return .hop(.forward) }
        if !policy.allowedClients.isEmpty || policy.requireTTY { return .hop(.clientPolicy) }
        let decision = ServeDecision(login: login, renewalPossible: snapshot.renewalPossible, refreshInFlight: false,
                                     flowPending: false, stopping: false, planner: policy.refreshPlanner)
        guard decision.servesCurrentToken(minimumValidity: request.minimumValidity, canPrompt: request.canPrompt,
                                          renewed: false, now: now) else {
            return .hop(.renewalDue)
        }
        return .serve(shortOfMinimumValidity: MinimumValidity.fallsShort(
            remaining: login.accessExpiresAt.map { $0 - now }, asked: request.minimumValidity))
    }
}

/// One agent's published snapshot, and what opening its token needs (the vault, the clock).
/// The agent is the only writer; the socket loop reads it.
public final class ServingSlot: Sendable {
    let vault: TokenVault
    let clock: any DaemonClock
    private let current = Mutex<ServingSnapshot?>(nil)

    init(vault: TokenVault, clock: any DaemonClock) {
        self.vault = vault
        self.clock = clock
    }

    func publish(_ snapshot: ServingSnapshot?) { current.withLock { $0 = snapshot } }

    var snapshot: ServingSnapshot? { current.withLock { $0 } }
}
