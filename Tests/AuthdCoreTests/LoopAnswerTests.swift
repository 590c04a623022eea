// When the socket loop may serve a cached get from an agent's snapshot, and why it hops otherwise: a table.
@testable import AuthdCore
import AuthdSystem
import Testing

@Suite struct LoopAnswerTests {
    static let vault = TokenVault()
    static let now = Duration.seconds(10_000)

    /// A login whose access token has `remaining` seconds left of a 3,600 s lifetime (margin 360 s).
    static func login(remaining: Int64?, token: Bool = true, refresh: Bool = true, issuedLifetime: Int64? = 3600,
                      loginAgo: Int64 = 600) -> Login {
        Login(accessToken: token ? vault.seal(SecretBytes(copying: "access"), context: "access:a") : nil, tokenType: "Bearer",
              accessTokenFingerprint: token ? "fp" : nil,
              accessExpiry: remaining.map { ClockMoment(after: $0, now: ClockReading(monotonic: now, wall: 1_700_000_000)) },
              accessIssuedAt: now + .seconds((remaining ?? 3600) - 3600),
              refreshToken: refresh ? vault.seal(SecretBytes(copying: "refresh"), context: "refresh:a") : nil,
              refreshExpiry: nil, scopes: ["read"], loginAtWall: 1_700_000_000,
              loginAt: now - .seconds(loginAgo), subject: nil, issuedLifetime: issuedLifetime.map { .seconds($0) })
    }

    struct Row: CustomTestStringConvertible, Sendable {
        var why: String
        var login: Login?
        var renewalPossible = true
        var allowedClients: [String] = []
        var requireTTY = false
        var maxSession: Int64?
        var asked: Int64 = 60
        var canPrompt = false
        var forward = false
        var expected: LoopAnswer
        var testDescription: String { why }
    }

    static let rows: [Row] = [
        Row(why: "fresh token", login: login(remaining: 3000), expected: .serve(shortOfMinimumValidity: false)),
        Row(why: "fresh token, a person could be prompted", login: login(remaining: 3000), canPrompt: true,
            expected: .serve(shortOfMinimumValidity: false)),
        Row(why: "no lifetime known: served until the provider rejects it", login: login(remaining: nil),
            expected: .serve(shortOfMinimumValidity: false)),
        Row(why: "valid for less than min_valid: refresh", login: login(remaining: 30), expected: .hop(.renewalDue)),
        Row(why: "min_valid beyond the lifetime, held to lifetime less margin (3,240 s), 3,000 s left: refresh",
            login: login(remaining: 3000), asked: 7200, expected: .hop(.renewalDue)),
        Row(why: "min_valid beyond the lifetime, 3,300 s left: served, short of min_valid",
            login: login(remaining: 3300), asked: 7200, expected: .serve(shortOfMinimumValidity: true)),
        Row(why: "near expiry, renewable: served (the schedule renews it)", login: login(remaining: 300), asked: 0, canPrompt: true,
            expected: .serve(shortOfMinimumValidity: false)),
        Row(why: "near expiry, no refresh token, a person can be prompted: log in now", login: login(remaining: 300, refresh: false),
            asked: 0, canPrompt: true, expected: .hop(.renewalDue)),
        Row(why: "near expiry, no refresh token, nobody to prompt: served", login: login(remaining: 300, refresh: false),
            asked: 0, expected: .serve(shortOfMinimumValidity: false)),
        Row(why: "near expiry, renewal refused earlier, a person can be prompted", login: login(remaining: 300), renewalPossible: false,
            asked: 0, canPrompt: true, expected: .hop(.renewalDue)),
        Row(why: "near expiry, max_session reached, a person can be prompted", login: login(remaining: 300, loginAgo: 7200),
            maxSession: 3600, asked: 0, canPrompt: true, expected: .hop(.renewalDue)),
        Row(why: "near expiry, within max_session", login: login(remaining: 300, loginAgo: 600),
            maxSession: 3600, asked: 0, canPrompt: true, expected: .serve(shortOfMinimumValidity: false)),
        Row(why: "expired", login: login(remaining: -1), asked: 0, expected: .hop(.renewalDue)),
        Row(why: "not logged in", login: nil, expected: .hop(.noSnapshot)),
        Row(why: "logged in without an access token", login: login(remaining: 3000, token: false), expected: .hop(.noAccessToken)),
        Row(why: "through a forward", login: login(remaining: 3000), forward: true, expected: .hop(.forward)),
        Row(why: "allowed_clients", login: login(remaining: 3000), allowedClients: ["/usr/bin/git"], expected: .hop(.clientPolicy)),
        Row(why: "require_tty", login: login(remaining: 3000), requireTTY: true, expected: .hop(.clientPolicy)),
    ]

    @Test(arguments: rows)
    func decision(_ row: Row) {
        let policy = AudiencePolicy(name: "a", requestedScopes: ["read"], requireTTY: row.requireTTY, allowedClients: row.allowedClients,
                                    maxSession: row.maxSession.map { .seconds($0) })
        let snapshot = row.login.map { ServingSnapshot(login: $0, renewalPossible: row.renewalPossible, policy: policy) }
        let request = LoopRequest(minimumValidity: .seconds(row.asked), canPrompt: row.canPrompt, throughForward: row.forward)
        #expect(LoopAnswer.decide(snapshot, request, now: Self.now) == row.expected)
    }
}
