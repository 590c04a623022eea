// The typed final answers: each round-trips, the get line written around token bytes is the line JSON would write, and the documented examples are the bytes.
import Testing
@testable import AuthdWire

@Suite struct AnswersTests {
    static func line(_ answer: TokenAnswer, token: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        answer.writeLine(token: token.span, into: &out)
        return out
    }

    static let answer = TokenAnswer(tokenType: "Bearer", expiresAt: 1_795_720_000, scopes: ["openid", "offline_access"],
                                    fingerprint: "9f86d081884c7d65")

    @Test func getLineIsTheDocumentedLine() {
        let line = Self.line(Self.answer, token: Array("tok-123".utf8))
        #expect(String(decoding: line, as: UTF8.self)
                == #"{"ok":true,"access_token":"tok-123","token_type":"Bearer","expires_at":1795720000,"scope":"openid offline_access","fingerprint":"9f86d081884c7d65"}"# + "\n")
    }

    /// Written from bytes, the line is exactly what JSONValue would write for the token as a string:
    /// one escaper, whatever the token holds.
    @Test(arguments: ["plain.jwt.part", "quote\"back\\slash", "ctl\u{1}\u{1f}\n\r\t", "", "ünï😀", "\u{7f}/</"])
    func getLineMatchesTheJSONEncoder(_ token: String) {
        for kind in [TokenAnswer.Kind.access, .id] {
            for short in [false, true] {
                var answer = Self.answer
                answer.kind = kind
                answer.shortOfMinimumValidity = short
                answer.expiresAt = short ? nil : 42
                let expected = ReplyLine.success(.object([(kind.rawValue, .string(token))] + answer.members())).line()
                #expect(Self.line(answer, token: Array(token.utf8)) == expected, "\(token.debugDescription) \(kind)")
            }
        }
    }

    @Test func getLineDecodesBack() throws {
        var answer = Self.answer
        answer.shortOfMinimumValidity = true
        let line = Self.line(answer, token: Array("a\"b".utf8))
        guard case .success(let payload) = try ReplyLine.decode(line.dropLast()) else { Issue.record("not a success"); return }
        #expect(TokenAnswer(json: payload) == answer)
        #expect(TokenAnswer.token(.access, in: payload) == "a\"b")
        #expect(TokenAnswer.token(.id, in: payload) == nil)

        answer.kind = .id
        guard case .success(let idPayload) = try ReplyLine.decode(Self.line(answer, token: Array("h.p.s".utf8)).dropLast()) else { return }
        #expect(TokenAnswer(json: idPayload).kind == .id)
        #expect(TokenAnswer.token(.id, in: idPayload) == "h.p.s")
    }

    @Test func aTokenAnswerWithoutOptionalMembersReadsAsTheirDefaults() throws {
        let answer = TokenAnswer(json: try JSONValue.parse(Array(#"{"ok":true,"access_token":"t"}"#.utf8)))
        #expect(answer == TokenAnswer(tokenType: "Bearer", expiresAt: nil, scopes: [], fingerprint: ""))
    }

    static func text(_ value: JSONValue) -> String { value.serialized() }

    @Test func documentedAnswers() {
        #expect(Self.text(VersionAnswer(version: "0.1.0", protocolVersion: 1, pid: 4242).json()) == #"{"version":"0.1.0","protocol":1,"pid":4242}"#)
        #expect(Self.text(EraseAnswer(erasedFrom: "demo").json()) == #"{"erased":true,"audience":"demo"}"#)
        #expect(Self.text(EraseAnswer(erasedFrom: nil).json()) == #"{"erased":false}"#)
        #expect(Self.text(AuthorizationResponseAnswer(audience: "demo").json()) == #"{"audience":"demo","accepted":true}"#)
        #expect(Self.text(LogoutAnswer(results: [LogoutResult(audience: "demo", revocation: .revoked)]).json())
                == #"{"results":[{"audience":"demo","revocation":"revoked"}]}"#)
        #expect(Self.text(ReloadAnswer(audiences: 2, broken: ["f:1: k: m"], config: nil).json()) == #"{"audiences":2,"broken":["f:1: k: m"]}"#)
    }

    @Test(arguments: [
        LogoutResult.Revocation.revoked, .notLoggedIn, .unsupported(hint: nil), .unsupported(hint: "revoke at https://x"),
        .failed(message: "HTTP 500"), .refused(message: "demo: refused by policy"), .other("newer"),
    ])
    func logoutResultsRoundTrip(_ revocation: LogoutResult.Revocation) {
        let result = LogoutResult(audience: "demo", revocation: revocation)
        #expect(LogoutResult(json: result.json()) == result)
        #expect(LogoutAnswer(json: LogoutAnswer(results: [result, result]).json()).results == [result, result])
    }

    @Test func otherAnswersRoundTrip() throws {
        let row = AudienceStatus(audience: "demo", state: .valid, issuer: "https://i", scopes: ["a"], accessTokenExpiresAt: 5,
                                 refreshAt: 4, hasRefreshToken: true, loginAt: 1, persist: true, subject: "alice")
        let config = ConfigFileStatus(path: "/c.toml", loadedAt: 3, changedSinceLoad: false)
        let status = StatusAnswer(audiences: [row], config: config)
        #expect(StatusAnswer(json: status.json()) == status)
        #expect(StatusAnswer(json: StatusAnswer(audiences: [], config: nil).json()) == StatusAnswer(audiences: [], config: nil))
        let reload = ReloadAnswer(audiences: 3, broken: ["x"], config: config)
        #expect(ReloadAnswer(json: reload.json()) == reload)
        #expect(LoginAnswer(json: LoginAnswer(status: row).json()) == LoginAnswer(status: row))
        let version = VersionAnswer(version: "0.1.0", protocolVersion: 1, pid: 7, forward: "3f9c2a71d0be")
        #expect(VersionAnswer(json: version.json()) == version)
        #expect(VersionAnswer(json: .object([])) == nil)
        for erase in [EraseAnswer(erasedFrom: "demo"), EraseAnswer(erasedFrom: nil)] { #expect(EraseAnswer(json: erase.json()) == erase) }
        #expect(AuthorizationResponseAnswer(json: AuthorizationResponseAnswer(audience: "a").json()) == AuthorizationResponseAnswer(audience: "a"))
        #expect(AuthorizationResponseAnswer(json: .object([("audience", .string("a"))])) == nil)
    }

    /// A success line carries the answer's members after `"ok":true`, so what a client decodes is what the router encoded.
    @Test func answersSurviveTheReplyLine() throws {
        let answer = LogoutAnswer(results: [LogoutResult(audience: "a", revocation: .failed(message: "m"))])
        guard case .success(let payload) = try ReplyLine.decode(ReplyLine.success(answer.json()).line().dropLast()) else {
            Issue.record("not a success")
            return
        }
        #expect(LogoutAnswer(json: payload) == answer)
    }
}

@Suite struct ForwardAnswersTests {
    static let forward = ForwardAnswer(id: "3f9c2a71d0be", socket: "/run/user/1000/authd/forward-3f9c2a71d0be.sock", audiences: ["github"],
                                       allowLogin: false, expiresAt: 1_795_720_000, expiresIn: 28_800)

    @Test func theDocumentedOpenAnswer() {
        var opened = Self.forward
        opened.survivesRestart = false
        #expect(opened.json().serialized()
                == #"{"id":"3f9c2a71d0be","socket":"/run/user/1000/authd/forward-3f9c2a71d0be.sock","audiences":["github"],"allow_login":false,"expires_at":1795720000,"expires_in":28800,"survives_restart":false}"#)
        #expect(ForwardAnswer(json: opened.json()) == opened)
    }

    @Test func listAndCloseRoundTrip() {
        var all = Self.forward
        all.audiences = nil
        let list = ForwardListAnswer(forwards: [Self.forward, all])
        #expect(ForwardListAnswer(json: list.json()) == list)
        #expect(ForwardListAnswer(forwards: []).json().serialized() == #"{"forwards":[]}"#)
        #expect(ForwardCloseAnswer(json: ForwardCloseAnswer(closed: "3f9c2a71d0be").json()) == ForwardCloseAnswer(closed: "3f9c2a71d0be"))
        #expect(ForwardAnswer(json: .object([("id", .string("x"))])) == nil)
    }
}

@Suite struct AuditAnswerTests {
    @Test func roundTripsAndReadsTheDocumentedShape() throws {
        let record = JSONValue.object([("time", .string("2026-12-04T01:02:03Z")), ("audit", .string("token_served"))])
        let answer = AuditAnswer(source: .memory, records: [record], dropped: 0)
        #expect(answer.json().serialized() == #"{"source":"memory","records":[{"time":"2026-12-04T01:02:03Z","audit":"token_served"}],"dropped":0}"#)
        #expect(AuditAnswer(json: answer.json()) == answer)
        let journal = AuditAnswer(source: .journal, records: [], note: nil)
        #expect(AuditAnswer(json: journal.json()) == journal)
        let fallback = AuditAnswer(source: .memory, records: [], dropped: 3, note: "the journal could not be read")
        #expect(AuditAnswer(json: fallback.json()) == fallback)
        #expect(AuditAnswer(json: try JSONValue.parse(Array(#"{"source":"tape","records":[],"dropped":-1}"#.utf8)))
                == AuditAnswer(source: nil, records: []))
    }
}
