// The forward operations on the wire: round trips and refusals of malformed fields.
import AuthdWire
import Testing

@Suite struct ForwardProtocolTests {
    @Test(arguments: [
        Request.forwardOpen(ForwardOpening()),
        .forwardOpen(ForwardOpening(audiences: ["github", "gitlab"], ttlSeconds: 2, allowLogin: true, socket: "/tmp/authd-forward.sock")),
        .forwardList,
        .forwardClose(id: "0123456789ab"),
    ])
    func roundTrip(request: Request) throws {
        let line = request.line()
        #expect(try Request.decode(line.dropLast()) == request)
    }

    @Test(arguments: [
        (#"{"op":"forward_open","ttl":0}"#, "\"ttl\""),
        (#"{"op":"forward_open","ttl":604801}"#, "\"ttl\""),
        (#"{"op":"forward_open","ttl":"8h"}"#, "\"ttl\""),
        (#"{"op":"forward_open","audiences":[]}"#, "\"audiences\""),
        (#"{"op":"forward_open","audiences":["a b"]}"#, "invalid audience"),
        (#"{"op":"forward_open","audiences":"github"}"#, "\"audiences\""),
        (#"{"op":"forward_open","allow_login":"yes"}"#, "\"allow_login\""),
        (#"{"op":"forward_open","socket":"relative.sock"}"#, "\"socket\""),
        (#"{"op":"forward_close"}"#, "\"id\""),
        (#"{"op":"forward_close","id":"../../etc"}"#, "\"id\""),
        (#"{"op":"forward_close","id":"0123456789AB"}"#, "\"id\""),
    ])
    func malformedIsABadRequest(line: String, mentions: String) {
        #expect(throws: ProtocolFailure.self) { try Request.decode(Array(line.utf8)) }
        do {
            _ = try Request.decode(Array(line.utf8))
        } catch {
            #expect(error.code == .badRequest)
            #expect(error.message.contains(mentions), "\(error.message)")
        }
    }

    @Test func defaultsAreEightHoursWithoutLogin() throws {
        guard case .forwardOpen(let opening) = try Request.decode(Array(#"{"op":"forward_open","audiences":["a","a"]}"#.utf8)) else {
            Issue.record("not a forward_open")
            return
        }
        #expect(opening.ttlSeconds == 8 * 3600)
        #expect(!opening.allowLogin)
        #expect(opening.audiences == ["a"])
        #expect(opening.socket == nil)
    }
}
