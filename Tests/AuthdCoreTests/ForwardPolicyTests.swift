// Which requests a forward may make: ForwardPolicy's decision as a table, and the FORWARD audit field.
@testable import AuthdCore
import AuthdWire
import Testing

@Suite struct ForwardPolicyTests {
    static let github = ForwardGrant(id: "0123456789ab", audiences: ["github"], allowLogin: false)
    static let withLogin = ForwardGrant(id: "0123456789ab", audiences: ["github"], allowLogin: true)
    static let everything = ForwardGrant(id: "0123456789ab", audiences: nil, allowLogin: false)
    static let fingerprint = "00112233aabbccdd"

    enum Expected: Equatable, CustomStringConvertible {
        case serve(Request)
        case refuse(ProtocolFailure.Code, containing: String)
        var description: String {
            switch self {
            case .serve(let r): return "serve \(r.operation)"
            case .refuse(let code, let text): return "refuse \(code.rawValue) \(text)"
            }
        }
    }

    @Test(arguments: [
        (Request.version, github, Expected.serve(.version)),
        (.status, github, .serve(.status)),
        // A get never prompts through a forward without allow_login, whatever the client says.
        (.get(audience: "github", minimumValiditySeconds: 60, interactive: true), github,
         .serve(.get(audience: "github", minimumValiditySeconds: 60, interactive: false))),
        (.get(audience: "github", minimumValiditySeconds: 60, interactive: true), withLogin,
         .serve(.get(audience: "github", minimumValiditySeconds: 60, interactive: true))),
        (.get(audience: "gitlab", minimumValiditySeconds: 60, interactive: false), github,
         .refuse(.refused, containing: "does not serve \"gitlab\"")),
        (.get(audience: "gitlab", minimumValiditySeconds: 60, interactive: false), everything,
         .serve(.get(audience: "gitlab", minimumValiditySeconds: 60, interactive: false))),
        (.login(audience: "github", flow: nil), github, .refuse(.refused, containing: "without --allow-login")),
        (.login(audience: "github", flow: nil), withLogin, .serve(.login(audience: "github", flow: nil))),
        (.login(audience: "gitlab", flow: nil), withLogin, .refuse(.refused, containing: "does not serve \"gitlab\"")),
        (.logout(audience: "github"), github, .refuse(.refused, containing: "logout refused")),
        (.logoutAll, everything, .refuse(.refused, containing: "logout refused")),
        (.reload, everything, .refuse(.refused, containing: "reload refused")),
        (.authorizationResponse(audience: "github", url: "http://127.0.0.1:1/callback?code=x&state=y"), github, .refuse(.refused, containing: "--allow-login")),
        (.authorizationResponse(audience: "github", url: "http://127.0.0.1:1/callback?code=x&state=y"), withLogin, .serve(.authorizationResponse(audience: "github", url: "http://127.0.0.1:1/callback?code=x&state=y"))),
        (.audit(audience: "github", sinceSeconds: nil), everything, .refuse(.refused, containing: "audit refused")),
        (.erase(audience: "github", fingerprint: fingerprint), github, .serve(.erase(audience: "github", fingerprint: fingerprint))),
        (.erase(audience: "gitlab", fingerprint: fingerprint), github, .refuse(.refused, containing: "does not serve")),
        (.erase(audience: nil, fingerprint: fingerprint), everything, .refuse(.refused, containing: "must name its audience")),
        (.forwardOpen(ForwardOpening()), everything, .refuse(.refused, containing: "main socket only")),
        (.forwardList, everything, .refuse(.refused, containing: "main socket only")),
        (.forwardClose(id: "0123456789ab"), everything, .refuse(.refused, containing: "main socket only")),
    ])
    func decision(request: Request, grant: ForwardGrant, expected: Expected) {
        switch (ForwardPolicy.decide(request, grant: grant), expected) {
        case let (.serve(served), .serve(wanted)):
            #expect(served == wanted)
        case let (.refuse(failure), .refuse(code, text)):
            #expect(failure.code == code)
            #expect(failure.message.contains(text), "\(failure.message)")
            // Every refusal says what to do next or why, and never opens a path to the main socket.
            #expect(failure.hint != nil || failure.message.contains("must name"))
        case let (got, _):
            Issue.record("got \(got), expected \(expected)")
        }
    }

    @Test func loginNeededNamesTheLocalCommand() {
        let failure = ForwardPolicy.loginNeeded("github", grant: Self.github)
        #expect(failure.code == .loginNeeded)
        #expect(failure.hint == "on the machine where authd runs: authctl login github")
    }

    @Test func recordsThroughAForwardCarryItsID() {
        let client = ClientIdentity(uid: 1000, pid: 42, executable: "/usr/bin/git", hasControllingTerminal: false, forward: Self.github)
        let record = AuditRecord(.tokenServed, "served", audience: "github", client: client)
        #expect(record.journalFields.contains { $0 == ("FORWARD", "0123456789ab") })
        #expect(record.jsonLine(wallClock: 0).contains(#""forward":"0123456789ab""#))
        let opened = AuditRecord(.forwardOpened, "opened", forwardID: "0123456789ab")
        #expect(opened.journalFields.contains { $0 == ("FORWARD", "0123456789ab") })
        let plain = AuditRecord(.tokenServed, "served", client: ClientIdentity(uid: 1, pid: 2, executable: nil, hasControllingTerminal: false))
        #expect(!plain.journalFields.contains { $0.0 == "FORWARD" })
    }

    @Test func forwardEventsHaveTheirOwnMessageIDs() {
        let ids = AuditEvent.allCases.map(\.messageID)
        #expect(Set(ids).count == ids.count)
        #expect(AuditEvent.forwardOpened.messageID.utf8.count == 32)
    }
}
