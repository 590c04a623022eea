// What a restricted forwarding socket may ask: the pure decision, applied to every request that arrives through one.
import AuthdWire

/// The restriction attached to one forward's listening socket; every connection accepted there carries it.
public struct ForwardGrant: Sendable, Equatable {
    public var id: String
    /// The audiences served through the forward; nil: every configured audience.
    public var audiences: [String]?
    public var allowLogin: Bool

    public init(id: String, audiences: [String]?, allowLogin: Bool) {
        self.id = id
        self.audiences = audiences
        self.allowLogin = allowLogin
    }

    public func admits(_ audience: String) -> Bool { audiences?.contains(audience) ?? true }

    /// How the audiences read in messages.
    var audienceList: String { audiences?.joined(separator: ", ") ?? "all audiences" }
}

/// The decision for one request through a forward.
public enum ForwardDecision: Sendable, Equatable {
    /// Serve this request (possibly narrowed: a `get` without `allow_login` never prompts).
    case serve(Request)
    case refuse(ProtocolFailure)
}

public enum ForwardPolicy {
    /// Only `version`, `status` (the router filters its rows to the grant's audiences), `get` of a
    /// granted audience, `erase` of a granted audience's rejected token (git's helper sends it), and
    /// `login` when the forward allows logins. Everything else, the forward operations included, is refused.
    public static func decide(_ request: Request, grant: ForwardGrant) -> ForwardDecision {
        switch request {
        case .version, .status:
            return .serve(request)
        case .gitLookup:
            // The router looks only among the forward's audiences.
            return .serve(request)
        case let .get(audience, minimumValidity, interactive):
            guard grant.admits(audience) else { return .refuse(notGranted(audience, grant)) }
            return .serve(.get(audience: audience, minimumValiditySeconds: minimumValidity,
                               interactive: interactive && grant.allowLogin))
        case let .getIDToken(audience, minimumValidity, interactive):
            guard grant.admits(audience) else { return .refuse(notGranted(audience, grant)) }
            return .serve(.getIDToken(audience: audience, minimumValiditySeconds: minimumValidity,
                                      interactive: interactive && grant.allowLogin))
        case let .getNarrowed(audience, minimumValidity, interactive, narrowing):
            guard grant.admits(audience) else { return .refuse(notGranted(audience, grant)) }
            return .serve(.getNarrowed(audience: audience, minimumValiditySeconds: minimumValidity,
                                       interactive: interactive && grant.allowLogin, narrowing: narrowing))
        case .login(let audience, _), .authorizationResponse(let audience, _):
            // A pasted address completes a login, so it goes with logins: only where they are allowed.
            guard grant.admits(audience) else { return .refuse(notGranted(audience, grant)) }
            guard grant.allowLogin else {
                return .refuse(ProtocolFailure(.refused, "login refused: forward \(grant.id) was opened without --allow-login",
                                               hint: "on the machine where authd runs: authctl login \(audience)"))
            }
            return .serve(request)
        case .erase(let audience?, _):
            guard grant.admits(audience) else { return .refuse(notGranted(audience, grant)) }
            return .serve(request)
        case .erase(nil, _):
            return .refuse(ProtocolFailure(.refused, "erase refused: through forward \(grant.id) an erase must name its audience"))
        case .logout, .logoutAll:
            return .refuse(ProtocolFailure(.refused, "logout refused: forward \(grant.id) serves tokens only",
                                           hint: "log out on the machine where authd runs: authctl logout"))
        case .reload:
            return .refuse(ProtocolFailure(.refused, "reload refused: forward \(grant.id) serves tokens only",
                                           hint: "on the machine where authd runs: authctl reload"))
        case .audit:
            // The audit trail names every audience and client of the daemon, not only the forward's.
            return .refuse(ProtocolFailure(.refused, "audit refused: forward \(grant.id) serves tokens only",
                                           hint: "on the machine where authd runs: authctl audit"))
        case .forwardOpen, .forwardList, .forwardClose:
            return .refuse(ProtocolFailure(.refused, "\(request.operation) refused: forwards are managed on the main socket only",
                                           hint: "on the machine where authd runs: authctl forward"))
        }
    }

    /// The answer when a `get` through a forward that allows no logins found no usable login:
    /// the person must log in where authd runs, not on the remote host.
    public static func loginNeeded(_ audience: String, grant: ForwardGrant) -> ProtocolFailure {
        ProtocolFailure(.loginNeeded, "\(audience): login needed, and forward \(grant.id) does not start logins",
                        hint: "on the machine where authd runs: authctl login \(audience)")
    }

    static func notGranted(_ audience: String, _ grant: ForwardGrant) -> ProtocolFailure {
        ProtocolFailure(.refused, "forward \(grant.id) does not serve \"\(audience)\" (it serves \(grant.audienceList))",
                        hint: "open a forward for it on the machine where authd runs: authctl forward --audiences \(audience)")
    }
}
