// The socket protocol's requests and replies: encoding, decoding and refusal of bad input.
import Testing
@testable import AuthdWire

@Suite struct ProtocolTests {
    @Test(arguments: [
        Request.version, .status, .logoutAll,
        .get(audience: "demo", minimumValiditySeconds: 300, interactive: true),
        .login(audience: "a.b-c_d", flow: nil), .login(audience: "x", flow: .authcode),
        .authorizationResponse(audience: "x", url: "http://127.0.0.1:1/callback?code=c&state=s"), .logout(audience: "x"),
        .logout(audience: "x", forgetClient: true),
        .erase(audience: nil, fingerprint: "0123456789abcdef"), .erase(audience: "gh", fingerprint: "0123456789abcdef"),
        .gitLookup(GitLookup(scheme: "https", host: "github.com")),
        .gitLookup(GitLookup(scheme: "http", host: "127.0.0.1:9", path: "org/repo.git", username: "me", forErase: true)),
    ])
    func requestsRoundTrip(_ request: Request) throws {
        let line = request.line()
        #expect(line.last == 0x0A)
        #expect(try Request.decode(line.dropLast()) == request)
    }

    @Test func logoutForgetsTheRegisteredClientOnlyWhenAsked() throws {
        #expect(Request.logout(audience: "x").json()["forget_client"] == nil)
        #expect(try Request.decode(Array(#"{"op":"logout","audience":"x","forget_client":true}"#.utf8)) == .logout(audience: "x", forgetClient: true))
        #expect(try Request.decode(Array(#"{"op":"logout","audience":"x","forget_client":false}"#.utf8)) == .logout(audience: "x"))
    }

    @Test func getDefaults() throws {
        #expect(try Request.decode(Array(#"{"op":"get","audience":"demo"}"#.utf8))
                == .get(audience: "demo", minimumValiditySeconds: 60, interactive: false))
    }

    @Test(arguments: [
        (#"nope"#, ProtocolFailure.Code.badRequest), (#"[]"#, .badRequest), (#"{"v":2,"op":"status"}"#, .unsupportedVersion),
        (#"{"op":"fly"}"#, .badRequest), (#"{"op":"get"}"#, .badRequest), (#"{"op":"get","audience":"../x"}"#, .badRequest),
        (#"{"op":"get","audience":"a","min_valid":-1}"#, .badRequest), (#"{"op":"get","audience":"a","interactive":"yes"}"#, .badRequest),
        (#"{"op":"erase","fingerprint":"xyz"}"#, .badRequest), (#"{"op":"logout","all":true,"audience":"a"}"#, .badRequest),
        (#"{"v":"1","op":"status"}"#, .badRequest), (#"{"op":"status","op":"logout","all":true}"#, .badRequest),
        (#"{"op":"git_lookup","host":"h"}"#, .badRequest), (#"{"op":"git_lookup","protocol":"https"}"#, .badRequest),
        (#"{"op":"git_lookup","protocol":"","host":"h"}"#, .badRequest), (#"{"op":"git_lookup","protocol":"https","host":7}"#, .badRequest),
        (#"{"op":"git_lookup","protocol":"https","host":"h","path":["a"]}"#, .badRequest),
        (#"{"op":"git_lookup","protocol":"https","host":"h","erase":"yes"}"#, .badRequest),
    ])
    func malformedRequestsAreRefused(_ text: String, _ code: ProtocolFailure.Code) {
        #expect(throws: ProtocolFailure.self) { try Request.decode(Array(text.utf8)) }
        do { _ = try Request.decode(Array(text.utf8)) } catch { #expect(error.code == code) }
    }

    @Test func aRepeatedMemberIsRefusedByName() {
        // First-wins would read "status" here and another reader "logout": neither may guess.
        do {
            _ = try Request.decode(Array(#"{"op":"status","audience":"a","op":"logout"}"#.utf8))
            Issue.record("accepted a request that repeats \"op\"")
        } catch {
            #expect(error.code == .badRequest)
            #expect(error.message == #"cannot read the request as JSON: member name "op" appears twice in one object at byte 30"#)
        }
    }

    @Test func gitLookupAnswersRoundTripAndRefuseWhatIsNotOne() throws {
        let answer = GitLookupAnswer(matches: [.init(audience: "gh", username: "oauth2", bearer: false),
                                               .init(audience: "gh-app", username: "x-access-token", bearer: true)],
                                     pathHint: .init(entry: "https://h/org", command: "git config --global credential.https://h.useHttpPath true"))
        #expect(GitLookupAnswer(json: answer.json()) == answer)
        #expect(GitLookupAnswer(json: GitLookupAnswer(matches: []).json()) == GitLookupAnswer(matches: []))
        for text in [#"{"ok":true,"access_token":"t"}"#, #"{"audiences":[{"audience":"../x","username":"u","auth":"basic"}]}"#,
                     #"{"audiences":[{"audience":"a","username":"u","auth":"digest"}]}"#, #"{"audiences":[],"use_http_path":{"entry":"e"}}"#] {
            #expect(GitLookupAnswer(json: try JSONValue.parse(Array(text.utf8), maximumDepth: 8)) == nil, "\(text)")
        }
    }

    @Test func repliesRoundTrip() throws {
        let prompt = DevicePrompt(audience: "demo", verificationURI: "http://127.0.0.1/device", userCode: "BCDF-GHJK",
                                  verificationURIComplete: "http://127.0.0.1/device?user_code=BCDFGHJK",
                                  expiresAt: 1000, expiresIn: 600, qrRows: ["101", "010"])
        guard case .prompt(let back) = try ReplyLine.decode(ReplyLine.prompt(prompt).line().dropLast()) else {
            Issue.record("not a prompt"); return
        }
        #expect(back == prompt)
        let failure = ProtocolFailure(.loginNeeded, "login needed for demo", hint: "run: authctl login demo")
        guard case .failure(let f) = try ReplyLine.decode(ReplyLine.failure(failure).line().dropLast()) else {
            Issue.record("not a failure"); return
        }
        #expect(f == failure)
        #expect(f.code.exitCode == 3)
        guard case .success(let v) = try ReplyLine.decode(ReplyLine.success(.object([("x", .integer(1))])).line().dropLast()) else {
            Issue.record("not a success"); return
        }
        #expect(v["x"] == .integer(1))
    }

    @Test func exitCodesFollowTheContract() {
        #expect(ProtocolFailure.Code.providerError.exitCode == 1)
        #expect(ProtocolFailure.Code.unknownAudience.exitCode == 2)
        #expect(ProtocolFailure.Code.denied.exitCode == 4)
        #expect(ProtocolFailure.Code.expired.exitCode == 4)
        #expect(ProtocolFailure.Code.refused.exitCode == 6)
    }
}
