// The get loop's decision as a table: serve, join or start a refresh, join or start a login, or login needed.
@testable import AuthdCore
import AuthdSystem
import Testing

@Suite struct ServeDecisionTests {
    static let vault = TokenVault()

    enum Access { case none, unknownLifetime, expires(Int64) }

    /// A login whose access token was issued at 0; `refresh`: nil for none, else when it expires (0 = unknown).
    static func login(_ access: Access, refresh: Int64? = 0, issuedLifetime: Int64? = nil) -> Login {
        func sealed(_ text: String) -> SealedSecret {
            var bytes = Array(text.utf8)
            return vault.seal(zeroing: &bytes, context: "test")
        }
        let reading = ClockReading(monotonic: .zero, wall: 1_800_000_000)
        var token: SealedSecret?
        var expiry: ClockMoment?
        switch access {
        case .none: break
        case .unknownLifetime: token = sealed("access")
        case .expires(let at):
            token = sealed("access")
            expiry = ClockMoment(after: at, now: reading)
        }
        return Login(accessToken: token, tokenType: "Bearer", accessTokenFingerprint: token == nil ? nil : "f", accessExpiry: expiry,
                     accessIssuedAt: .zero, refreshToken: refresh.map { _ in sealed("refresh") },
                     refreshExpiry: refresh.flatMap { $0 == 0 ? nil : ClockMoment(after: $0, now: reading) },
                     scopes: [], loginAtWall: reading.wall, loginAt: .zero, subject: nil,
                     issuedLifetime: issuedLifetime.map { .seconds($0) })
    }

    struct Row: Sendable, CustomTestStringConvertible {
        var why: String
        var login: Login?
        var renewalPossible = true
        var refreshInFlight = false
        var flowPending = false
        var stopping = false
        var maxSession: Int64? = nil
        var minimumValidity: Int64 = 60
        var canPrompt = true
        var renewed = false
        var now: Int64 = 0
        var step: ServeStep
        var testDescription: String { why }
    }

    static let rows: [Row] = [
        Row(why: "not logged in, a person is here: log in", login: nil, step: .startFlow),
        Row(why: "not logged in, nobody to prompt", login: nil, canPrompt: false, step: .loginNeeded),
        Row(why: "valid for long enough", login: login(.expires(3_600)), step: .serve),
        Row(why: "too close to expiry: refresh", login: login(.expires(3_600)), now: 3_550, step: .startRefresh),
        Row(why: "a refresh is in flight: join it", login: login(.expires(3_600)), refreshInFlight: true, now: 3_550, step: .joinRefresh),
        Row(why: "renewed for this request: serve however short", login: login(.expires(3_600)), renewed: true, now: 3_550, step: .serve),
        Row(why: "renewed but already expired, a person is here: serve what was issued",
            login: login(.expires(1)), canPrompt: true, renewed: true, now: 5, step: .serve),
        Row(why: "no refresh token and near expiry, a person is here: log in again now",
            login: login(.expires(3_600), refresh: nil), minimumValidity: 30, now: 3_550, step: .startFlow),
        Row(why: "no refresh token and near expiry, nobody to prompt: serve while it lasts",
            login: login(.expires(3_600), refresh: nil), minimumValidity: 30, canPrompt: false, now: 3_550, step: .serve),
        Row(why: "no refresh token, too short for the script: login needed",
            login: login(.expires(3_600), refresh: nil), canPrompt: false, now: 3_590, step: .loginNeeded),
        Row(why: "stopping: nothing new is started", login: login(.expires(3_600)), stopping: true, now: 3_590, step: .stopping),
        Row(why: "stopping: a valid token is still served", login: login(.expires(3_600)), stopping: true, step: .serve),
        Row(why: "a login is pending, but the current one can be refreshed: refresh",
            login: login(.expires(3_600)), flowPending: true, now: 3_590, step: .startRefresh),
        Row(why: "a login is pending and nothing else helps: join it",
            login: login(.expires(3_600), refresh: nil), flowPending: true, now: 3_700, step: .joinFlow),
        Row(why: "a login is pending, nobody to prompt: login needed",
            login: login(.expires(3_600), refresh: nil), flowPending: true, canPrompt: false, now: 3_700, step: .loginNeeded),
        Row(why: "a pending login joined and refreshed already: join rather than refresh twice",
            login: login(.expires(3_600)), flowPending: true, renewed: true, now: 3_700, step: .joinFlow),
        Row(why: "login needed but the token is far from expiry: serve",
            login: login(.expires(3_600)), renewalPossible: false, step: .serve),
        Row(why: "login needed and expired: log in", login: login(.expires(3_600)), renewalPossible: false, now: 3_700, step: .startFlow),
        Row(why: "unknown lifetime: served until rejected", login: login(.unknownLifetime), minimumValidity: 86_400, step: .serve),
        Row(why: "erased access token, refresh possible: refresh", login: login(.none), step: .startRefresh),
        Row(why: "max_session reached, token far from expiry: serve", login: login(.expires(3_600)), maxSession: 300, now: 400, step: .serve),
        Row(why: "max_session reached, near expiry, a person is here: log in",
            login: login(.expires(3_600)), maxSession: 300, now: 3_500, step: .startFlow),
        Row(why: "min_valid beyond what a refresh gives: held to the lifetime less the margin",
            login: login(.expires(3_600), issuedLifetime: 3_600), minimumValidity: 7_200, now: 100, step: .serve),
        Row(why: "min_valid beyond the lifetime, past the margin: one refresh",
            login: login(.expires(3_600), issuedLifetime: 3_600), minimumValidity: 7_200, now: 400, step: .startRefresh),
        Row(why: "the refresh token has expired, near expiry, a person is here: log in",
            login: login(.expires(3_600), refresh: 100), now: 3_500, step: .startFlow),
        Row(why: "the refresh token has expired, nobody to prompt: serve while it lasts as asked",
            login: login(.expires(3_600), refresh: 100), canPrompt: false, now: 3_500, step: .serve),
    ]

    @Test(arguments: rows)
    func step(_ row: Row) {
        let decision = ServeDecision(login: row.login, renewalPossible: row.renewalPossible, refreshInFlight: row.refreshInFlight,
                                     flowPending: row.flowPending, stopping: row.stopping,
                                     planner: RefreshPlanner(maxSession: row.maxSession.map { .seconds($0) }))
        #expect(decision.next(minimumValidity: .seconds(row.minimumValidity), canPrompt: row.canPrompt, renewed: row.renewed,
                              now: .seconds(row.now)) == row.step, "\(row.why)")
    }
}
