// RequestRouter without a socket: each op's typed answer, unknown and broken audiences, the client policy, logout --all and erase.
@testable import AuthdCore
import AuthdConfig
import AuthdWire
import AuthdTestSupport
import Foundation
import Logging
import Testing

@Suite(.timeLimit(.minutes(8))) struct RequestRouterTests {
    static let git = ExecutableFile(device: 8, inode: 1001)
    static let gitClient = ClientIdentity(uid: 1000, pid: 77, executable: "/usr/bin/git", executableFile: git, hasControllingTerminal: false)

    /// A router over audiences named `names` (one scripted provider each); `gitOnly` ones allow /usr/bin/git only.
    static func router(_ names: [String], gitOnly: Set<String> = [], broken: [BrokenAudience] = [],
                       audit: RecordingAuditSink = RecordingAuditSink()) -> (RequestRouter, [String: (AudienceAgent, ScriptedProvider)]) {
        let router = RequestRouter(audit: audit, identifyFile: { $0 == "/usr/bin/git" ? git : nil })
        var agents: [String: (AudienceAgent, ScriptedProvider)] = [:]
        var entries: [RequestRouter.Entry] = []
        for name in names {
            let provider = ScriptedProvider()
            let policy = AudiencePolicy(name: name, requestedScopes: ["read"], allowedClients: gitOnly.contains(name) ? ["/usr/bin/git"] : [])
            let agent = makeAgent(provider, audit: audit, policy: policy)
            agents[name] = (agent, provider)
            entries.append(RequestRouter.Entry(agent: agent, policy: policy, issuer: "https://issuer.example/\(name)"))
        }
        router.install(entries, broken: broken)
        return (router, agents)
    }

    /// Logs the agent in with one approved device flow, as a person at a terminal would.
    static func logIn(_ agent: AudienceAgent, _ provider: ScriptedProvider) async throws {
        let get = Task { try await agent.get(minimumValidity: .seconds(60), canPrompt: true, client: alice) { _ in }.text }
        try await eventually("the flow waits") { await provider.pollWaiters == 1 }
        await provider.approve()
        _ = try await get.value
    }

    enum Answer {
        case success(JSONValue)
        case failure(ProtocolFailure)
        case token(ServedToken)
    }

    static func ask(_ router: RequestRouter, _ request: Request, from client: ClientIdentity = alice) async -> Answer {
        switch await router.handle(request, from: client, events: { _ in }) {
        case .token(let served): return .token(served)
        case .line(.success(let payload)): return .success(payload)
        case .line(.failure(let failure)): return .failure(failure)
        case .line(let other): Issue.record("an event as the final answer: \(other)"); return .failure(ProtocolFailure(.internalError, "event"))
        }
    }

    static func payload(_ answer: Answer) -> JSONValue? {
        if case .success(let payload) = answer { return payload }
        Issue.record("not a success: \(answer)")
        return nil
    }

    static func failure(_ answer: Answer) -> ProtocolFailure? {
        if case .failure(let failure) = answer { return failure }
        Issue.record("not a failure: \(answer)")
        return nil
    }

    @Test func versionNamesThisDaemon() async throws {
        let (router, _) = Self.router(["demo"])
        let answer = try #require(Self.payload(await Self.ask(router, .version)).flatMap(VersionAnswer.init(json:)))
        #expect(answer == VersionAnswer(version: AuthdProtocol.softwareVersion, protocolVersion: Int64(AuthdProtocol.version),
                                        pid: answer.pid, forward: nil))
        #expect((answer.pid ?? 0) > 0)
    }

    @Test func anUnknownAudienceIsNamedWithASuggestion() async throws {
        let (router, _) = Self.router(["work", "home"])
        let failure = try #require(Self.failure(await Self.ask(router, .get(audience: "wrok", minimumValiditySeconds: 60, interactive: false))))
        #expect(failure.code == .unknownAudience)
        #expect(failure.message.contains("\"wrok\"") && failure.message.contains("work"), "\(failure.message)")
        #expect(failure.hint == "check with: authctl status")
    }

    @Test func aBrokenAudienceAnswersWithItsConfigErrorAndAStatusRow() async throws {
        let diagnostic = ConfigDiagnostic(severity: .error, file: "/c.toml", line: 3, column: 1, keyPath: "audience.bad.issuer",
                                          message: "not a URL")
        let (router, _) = Self.router(["demo"], broken: [BrokenAudience(name: "bad", line: 2, diagnostics: [diagnostic])])
        let failure = try #require(Self.failure(await Self.ask(router, .logout(audience: "bad"))))
        #expect(failure.code == .configError)
        #expect(failure.message.contains("not a URL"))

        let status = StatusAnswer(json: try #require(Self.payload(await Self.ask(router, .status))))
        #expect(status.audiences.map(\.audience) == ["demo", "bad"])
        #expect(status.audiences.map(\.state) == [.loggedOut, .configError])
        #expect(status.audiences[0].issuer == "https://issuer.example/demo")
        #expect(status.audiences[1].configError?.contains("not a URL") == true)
        #expect(status.config == nil)
    }

    @Test func getServesTheTokenAsItsTypedLine() async throws {
        let (router, agents) = Self.router(["demo"])
        let (agent, provider) = try #require(agents["demo"])
        try await Self.logIn(agent, provider)
        guard case .token(let served) = await Self.ask(router, .get(audience: "demo", minimumValiditySeconds: 60, interactive: false)) else {
            Issue.record("no token")
            return
        }
        guard case .success(let payload) = try ReplyLine.decode(served.replyLine().dropLast()) else {
            Issue.record("not a success line")
            return
        }
        #expect(TokenAnswer.token(.access, in: payload) == "access-token-secret-1")
        let answer = TokenAnswer(json: payload)
        #expect(answer.fingerprint == TokenFingerprint.of(Array("access-token-secret-1".utf8)))
        #expect(answer.scopes == ["read", "write"])
        #expect(answer.tokenType == "Bearer")
    }

    @Test func nobodyToPromptIsLoginNeeded() async throws {
        let (router, _) = Self.router(["demo"])
        let failure = try #require(Self.failure(await Self.ask(router, .get(audience: "demo", minimumValiditySeconds: 60, interactive: false))))
        #expect(failure.code == .loginNeeded)
        #expect(failure.code.exitStatus == .loginNeeded)
    }

    @Test func thePolicyRefusesAnotherProgramAndRecordsIt() async throws {
        let audit = RecordingAuditSink()
        let (router, agents) = Self.router(["git"], gitOnly: ["git"], audit: audit)
        let failure = try #require(Self.failure(await Self.ask(router, .get(audience: "git", minimumValiditySeconds: 60, interactive: true))))
        #expect(failure.code == .refused)
        #expect(failure.message.hasPrefix("git: refused by policy: "))
        #expect(audit.count(.clientRefused) == 1)
        #expect(await agents["git"]!.1.deviceCodeRequests == 0)
        // The allowed program is served (here: told to log in, as nobody can be prompted).
        let allowed = try #require(Self.failure(await Self.ask(router, .get(audience: "git", minimumValiditySeconds: 60, interactive: false),
                                                               from: Self.gitClient)))
        #expect(allowed.code == .loginNeeded)
    }

    @Test func logoutAllReportsEachAudienceInConfigOrder() async throws {
        let (router, agents) = Self.router(["a", "idle", "gitonly", "gitidle"], gitOnly: ["gitonly", "gitidle"])
        for name in ["a", "gitonly"] {
            let (agent, provider) = try #require(agents[name])
            try await Self.logIn(agent, provider)
        }
        let answer = LogoutAnswer(json: try #require(Self.payload(await Self.ask(router, .logoutAll))))
        // "idle" had nothing to revoke and "gitidle" nothing to refuse: both left out.
        #expect(answer.results.map(\.audience) == ["a", "gitonly"])
        #expect(answer.results[0].revocation == .revoked)
        guard case .refused(let message?) = answer.results[1].revocation else {
            Issue.record("\(answer.results[1].revocation)")
            return
        }
        #expect(message.contains("refused by policy"))
        #expect(await agents["gitonly"]!.0.status().state == .valid)
        #expect(await agents["a"]!.0.status().state == .loggedOut)

        let again = LogoutAnswer(json: try #require(Self.payload(await Self.ask(router, .logout(audience: "a")))))
        #expect(again.results == [LogoutResult(audience: "a", revocation: .notLoggedIn)])
    }

    @Test func eraseNamesTheAudienceThatServedTheToken() async throws {
        let (router, agents) = Self.router(["one", "two"])
        let (agent, provider) = try #require(agents["two"])
        try await Self.logIn(agent, provider)
        let other = EraseAnswer(json: try #require(Self.payload(await Self.ask(router, .erase(audience: nil, fingerprint: "0123456789abcdef")))))
        #expect(other == EraseAnswer(erasedFrom: nil))
        let fingerprint = TokenFingerprint.of(Array("access-token-secret-1".utf8))
        let erased = EraseAnswer(json: try #require(Self.payload(await Self.ask(router, .erase(audience: nil, fingerprint: fingerprint)))))
        #expect(erased == EraseAnswer(erasedFrom: "two"))
    }

    @Test func withoutAFollowerReloadSaysSo() async throws {
        let (router, _) = Self.router(["demo"])
        let failure = try #require(Self.failure(await Self.ask(router, .reload)))
        #expect(failure.code == .internalError)
        #expect(failure.message == "this daemon does not follow a config file")
    }

    /// The socket loop reads a sender's terminal only when a `require_tty` audience may judge the request.
    @Test(arguments: [
        (Request.get(audience: "tty", minimumValiditySeconds: 60, interactive: false), true),
        (Request.get(audience: "plain", minimumValiditySeconds: 60, interactive: false), false),
        (Request.login(audience: "tty", flow: nil), true),
        (Request.get(audience: "unknown", minimumValiditySeconds: 60, interactive: false), false),
        (Request.logoutAll, true),
        (Request.status, true),
    ])
    func theTerminalIsExaminedOnlyWhereRequireTTYMayJudge(_ request: Request, _ examined: Bool) {
        let router = RequestRouter(audit: RecordingAuditSink())
        let entries = [("tty", true), ("plain", false)].map { name, tty in
            let policy = AudiencePolicy(name: name, requestedScopes: [], requireTTY: tty)
            return RequestRouter.Entry(agent: makeAgent(ScriptedProvider(), policy: policy), policy: policy, issuer: nil)
        }
        router.install(entries)
        #expect(router.examinesTerminal(request) == examined)
        // Without any require_tty audience, nothing needs it.
        let plain = RequestRouter(audit: RecordingAuditSink())
        plain.install([entries[1]])
        #expect(!plain.examinesTerminal(request))
    }

    /// After an edit the file is reloaded only when the request is handled, and the new config
    /// may add require_tty: until then every request's terminal is examined. The file is looked
    /// at once per socket-loop turn.
    @Test func anEditedConfigIsExaminedForAsIfItRequiredATerminal() async throws {
        let directory = TemporaryDirectory()
        let path = directory.path + "/config.toml"
        #expect(FileManager.default.createFile(atPath: path, contents: Data("[audience.plain]\nissuer = \"https://issuer.example\"\nclient_id = \"c\"\n".utf8),
                                               attributes: [.posixPermissions: 0o600]))
        let policy = AudiencePolicy(name: "plain", requestedScopes: [])
        let router = RequestRouter(audit: RecordingAuditSink())
        router.install([RequestRouter.Entry(agent: makeAgent(ScriptedProvider(), policy: policy), policy: policy, issuer: nil)])
        let get = Request.get(audience: "plain", minimumValiditySeconds: 60, interactive: false)
        #expect(!router.examinesTerminal(get), "no follower: nothing to reload")
        router.loopTurnEnded()
        let follower = ConfigurationFollower(path: path, homeDirectory: nil, logger: Logger(label: "test"), wallSeconds: { 0 })
        router.follow(follower)
        // Never read: it counts as changed.
        #expect(router.examinesTerminal(get))
        _ = try await follower.loadAtStart()
        // Still this turn: the first look stands.
        #expect(router.examinesTerminal(get))
        router.loopTurnEnded()
        #expect(!router.examinesTerminal(get))
    }
}

/// `git_lookup`: the served config maps git's description; a forward sees only its audiences.
@Suite struct GitLookupRouterTests {
    static let config = """
        [audience.work]
        device_authorization_endpoint = "https://idp.example/device"
        token_endpoint = "https://idp.example/token"
        client_id = "c"
        git_urls = ["https://git.example/org/"]

        [audience.bot]
        device_authorization_endpoint = "https://idp.example/device"
        token_endpoint = "https://idp.example/token"
        client_id = "c"
        git_urls = ["https://git.example/org/"]
        git_usernames = ["bot"]
        git_auth = "bearer"
        """

    static func router() throws -> RequestRouter {
        let (configuration, _) = try AuthdConfiguration.load(text: config, path: "config.toml")
        let router = RequestRouter(audit: RecordingAuditSink())
        router.install([], configuration: configuration)
        return router
    }

    static func ask(_ router: RequestRouter, _ lookup: GitLookup, client: ClientIdentity = alice) async -> GitLookupAnswer? {
        guard case .line(.success(let payload)) = await router.handle(.gitLookup(lookup), from: client, events: { _ in }) else { return nil }
        return GitLookupAnswer(json: payload)
    }

    @Test(arguments: [
        (GitLookup(scheme: "https", host: "git.example", path: "org/repo.git"), ["work"]),
        // A user name named by git_usernames picks that audience, with its own auth.
        (GitLookup(scheme: "https", host: "git.example", path: "org/repo.git", username: "bot"), ["bot"]),
        (GitLookup(scheme: "https", host: "git.example", path: "elsewhere/repo.git"), []),
        (GitLookup(scheme: "http", host: "git.example", path: "org/repo.git"), []),
        (GitLookup(scheme: "https", host: "git.example", path: "org/repo.git", username: "bot", forErase: true), ["bot"]),
    ] as [(GitLookup, [String])])
    func mapsWithTheServedConfig(lookup: GitLookup, audiences: [String]) async throws {
        let answer = try #require(await Self.ask(try Self.router(), lookup))
        #expect(answer.matches.map(\.audience) == audiences)
        #expect(answer.pathHint == nil)
        if audiences == ["bot"] { #expect(answer.matches.first?.bearer == true) }
        if audiences == ["work"] { #expect(answer.matches.first == .init(audience: "work", username: "oauth2", bearer: false)) }
    }

    @Test func noPathNamesTheEntryAndTheCommand() async throws {
        let answer = try #require(await Self.ask(try Self.router(), GitLookup(scheme: "https", host: "git.example")))
        #expect(answer.matches.isEmpty)
        #expect(answer.pathHint?.command == "git config --global credential.https://git.example.useHttpPath true")
    }

    @Test func aForwardSeesOnlyItsAudiences() async throws {
        let grant = ForwardGrant(id: "0123456789ab", audiences: ["bot"], allowLogin: false)
        let remote = ClientIdentity(uid: 1000, pid: 9, executable: nil, hasControllingTerminal: false, forward: grant)
        let lookup = GitLookup(scheme: "https", host: "git.example", path: "org/repo.git")
        #expect(try #require(await Self.ask(try Self.router(), lookup, client: remote)).matches.isEmpty)
        let asBot = GitLookup(scheme: "https", host: "git.example", path: "org/repo.git", username: "bot")
        #expect(try #require(await Self.ask(try Self.router(), asBot, client: remote)).matches.map(\.audience) == ["bot"])
    }

    @Test func withoutAnInstalledConfigNothingMatches() async throws {
        let router = RequestRouter(audit: RecordingAuditSink())
        let answer = try #require(await Self.ask(router, GitLookup(scheme: "https", host: "git.example", path: "org/repo.git")))
        #expect(answer.matches.isEmpty)
    }
}
