// The authorization code login in the agent with the real loopback listener: one valid callback, strays refused, port closed after, paste-back, auto fallback, limits.
@testable import AuthdCore
import AuthdConfig
import AuthdOAuth
import AuthdSystem
import AuthdTestSupport
import AuthdWire
import Foundation
import Glibc
import Synchronization
import Testing

/// A provider with an authorization code flow whose `state` is fixed and whose device grant can be refused.
actor ScriptedCodeProvider: AudienceProvider, AuthorizationCodeProvider {
    static let state = "state-secret-0123456789abcdef"
    static let code = "code-secret-abcdef0123456789"
    var refuseDeviceGrant = true
    var exchanged: [String] = []
    var ports: [Int] = []

    nonisolated var issuer: String? { get async { nil } }

    func runDeviceFlow(events: @escaping @Sendable (DeviceFlowEvent) -> Void) async throws -> IssuedTokens {
        var error = ProviderError(.provider, "device authorization endpoint: the provider answered unauthorized_client")
        error.refusesDeviceGrant = refuseDeviceGrant
        throw error
    }

    func refresh(refreshToken: String) async throws -> IssuedTokens { throw ProviderError(.loginNeeded, "no") }
    func revoke(refreshToken: String?, accessToken: String?) async -> RevocationOutcome { .revoked }

    func beginAuthorizationCode(port: Int) async throws -> AuthorizationCodeStart {
        ports.append(port)
        let redirect = "http://127.0.0.1:\(port)/callback"
        @Sendable func check(_ query: String) -> CallbackCheck {
            let pairs = FormURLEncoding.decode(query)
            guard pairs.first(where: { $0.0 == "state" })?.1 == Self.state else { return .refused("the state does not match this login") }
            if pairs.contains(where: { $0.0 == "error" }) { return .ended(ProviderError(.denied, "the sign-in request was denied")) }
            guard let code = pairs.first(where: { $0.0 == "code" })?.1 else { return .refused("the answer has no code") }
            return .code(code)
        }
        return AuthorizationCodeStart(
            authorizationURL: "http://127.0.0.1:1/authorize?state=\(Self.state)&redirect_uri=\(redirect)", redirectURI: redirect,
            nonce: "nonce-1", check: check,
            checkPasted: { text in check(String(text.split(separator: "?", maxSplits: 1).last ?? "")) }, handle: 0)
    }

    func exchangeAuthorizationCode(_ code: String, for start: AuthorizationCodeStart) async throws -> IssuedTokens {
        exchanged.append(code)
        var tokens = IssuedTokens(accessToken: "access-from-code", expiresIn: 3600, refreshToken: "refresh-from-code", scopes: ["read"])
        tokens.nonce = start.nonce
        return tokens
    }
}

/// A browser stand-in: raw HTTP/1.1 over a loopback TCP socket.
enum RawHTTP {
    enum Outcome: Equatable {
        case refused
        case answered(status: Int, body: String)
        /// The server closed without an answer (read deadline).
        case closed
    }

    /// Blocking socket calls run on a thread of their own: the cooperative pool (one thread per
    /// core) must stay free for the agents and tests running in parallel.
    static func send(port: Int, host: String = "127.0.0.1", _ request: String) async -> Outcome {
        await withCheckedContinuation { continuation in
            Thread { continuation.resume(returning: blockingSend(port: port, host: host, request)) }.start()
        }
    }

    static func get(port: Int, _ target: String) async -> Outcome {
        await send(port: port, "GET \(target) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\n\r\n")
    }

    static func blockingSend(port: Int, host: String, _ request: String) -> Outcome {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return .refused }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr(host)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { return .refused }
        let bytes = Array(request.utf8)
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { break }
            sent += n
        }
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            received += buffer[..<n]
        }
        let text = String(decoding: received, as: UTF8.self)
        guard text.hasPrefix("HTTP/1.1 "), let status = Int(text.dropFirst(9).prefix(3)) else { return .closed }
        let body = text.firstRange(of: "\r\n\r\n").map { String(text[$0.upperBound...]) } ?? ""
        return .answered(status: status, body: body)
    }

}

final class PromptBox: Sendable {
    private let prompts = Mutex<[AuthorizationPrompt]>([])
    func record(_ line: ReplyLine) { if case .authorizationPrompt(let p) = line { prompts.withLock { $0.append(p) } } }
    var last: AuthorizationPrompt? { prompts.withLock { $0.last } }
}

// A hang limit (see AudienceAgentTests): generous, because a starved pool under --parallel is not a hang.
@Suite(.timeLimit(.minutes(8))) struct AuthorizationCodeLoginTests {
    static let autoWithFallback: @Sendable (LoginFlowChoice?) -> LoginMethodPlan = { flow in
        flow == .authcode
            ? LoginMethodPlan(first: .authorizationCode, fallsBackToAuthorizationCode: false, reason: "authcode")
            : LoginMethodPlan(first: .deviceFlow, fallsBackToAuthorizationCode: true, reason: "auto")
    }

    static func agent(_ provider: ScriptedCodeProvider, clock: ManualClock = ManualClock(),
                      audit: RecordingAuditSink = RecordingAuditSink(), redirectPort: Int? = nil) -> AudienceAgent {
        var environment = AgentEnvironment(clock: clock, vault: TokenVault(), audit: audit, persistence: MemoryPersistence(), jitter: { 0.5 })
        environment.loopbackListener = { port, answer in
            try await NIOLoopbackListener.start(port: port, readDeadline: .milliseconds(300), answer: answer)
        }
        return AudienceAgent(policy: AudiencePolicy(name: "forge", requestedScopes: ["read"], redirectPort: redirectPort,
                                                    loginPlan: autoWithFallback),
                             provider: provider, environment: environment)
    }

    static func port(of prompt: AuthorizationPrompt) -> Int {
        Int(prompt.redirectURI.dropFirst("http://127.0.0.1:".count).prefix { $0.isNumber })!
    }

    @Test func strayRequestsAreRefusedWithoutEndingTheWaitAndExactlyOneCallbackIsAccepted() async throws {
        let provider = ScriptedCodeProvider()
        let audit = RecordingAuditSink()
        let agent = Self.agent(provider, audit: audit)
        let prompts = PromptBox()
        let login = Task { try await agent.login(client: alice, flow: .authcode) { prompts.record($0) } }
        try await eventually("the prompt") { prompts.last != nil }
        let prompt = try #require(prompts.last)
        let port = Self.port(of: prompt)
        #expect(prompt.redirectURI == "http://127.0.0.1:\(port)/callback")

        // Each of these is answered 400, and the login goes on waiting.
        let strays: [String] = [
            "/callback?code=\(ScriptedCodeProvider.code)&state=forged",
            "/callback?code=x",
            "/other?code=x&state=\(ScriptedCodeProvider.state)",
            "/callback?state=\(ScriptedCodeProvider.state)",
        ]
        for target in strays {
            guard case .answered(400, _) = await RawHTTP.get(port: port, target) else { Issue.record("\(target) not refused"); continue }
        }
        guard case .answered(400, _) = await RawHTTP.send(port: port, "POST /callback HTTP/1.1\r\n\r\n") else { Issue.record("POST not refused"); return }
        #expect(await agent.status().loginPending)

        let good = await RawHTTP.get(port: port, "/callback?code=\(ScriptedCodeProvider.code)&state=\(ScriptedCodeProvider.state)")
        guard case .answered(200, let page) = good else { Issue.record("valid callback: \(good)"); return }
        #expect(page.contains("return to the terminal"))
        #expect(!page.contains(ScriptedCodeProvider.code) && !page.contains(ScriptedCodeProvider.state))
        _ = try await login.value
        #expect(await provider.exchanged == [ScriptedCodeProvider.code])
        // The listener is gone: a second callback finds the port closed.
        #expect(await RawHTTP.get(port: port, "/callback?code=\(ScriptedCodeProvider.code)&state=\(ScriptedCodeProvider.state)") == .refused)
        let token = try await agent.get(minimumValidity: .seconds(60), canPrompt: false, client: alice) { _ in }
        #expect(token.text == "access-from-code")
        // The three /callback requests reached the login's check and are audited; the wrong path
        // and method were refused by the request reader before that.
        #expect(audit.count(.authorizationCallbackRefused) == 3)
        #expect(audit.count(.authorizationCodeApproved) == 1)
        let text = audit.renderedText
        #expect(!text.contains(ScriptedCodeProvider.code) && !text.contains(ScriptedCodeProvider.state))
    }

    @Test func severalClientsShareOneAuthorizationCodeLogin() async throws {
        let provider = ScriptedCodeProvider()
        let agent = Self.agent(provider)
        let first = PromptBox(), second = PromptBox()
        let a = Task { try await agent.login(client: alice, flow: .authcode) { first.record($0) } }
        try await eventually("the first prompt") { first.last != nil }
        let b = Task { try await agent.get(minimumValidity: .seconds(60), canPrompt: true, client: alice) { second.record($0) }.text }
        try await eventually("the second prompt") { second.last != nil }
        #expect(first.last == second.last)
        #expect(await provider.ports.count == 1)
        try await agent.authorizationResponse("code=\(ScriptedCodeProvider.code)&state=\(ScriptedCodeProvider.state)", client: alice)
        _ = try await a.value
        #expect(try await b.value == "access-from-code")
        #expect(await provider.exchanged.count == 1)
    }

    @Test func theListenerIsBoundTo127001Only() async throws {
        let provider = ScriptedCodeProvider()
        let agent = Self.agent(provider)
        let prompts = PromptBox()
        let login = Task { try await agent.login(client: alice, flow: .authcode) { prompts.record($0) } }
        try await eventually("the prompt") { prompts.last != nil }
        let port = Self.port(of: try #require(prompts.last))
        // Another loopback address (and so any other interface) finds nothing listening.
        #expect(await RawHTTP.get(port: port, "/callback") != .refused)
        #expect(await RawHTTP.send(port: port, host: "127.0.0.2", "GET /callback HTTP/1.1\r\n\r\n") == .refused)
        try await agent.authorizationResponse("code=c&state=\(ScriptedCodeProvider.state)", client: alice)
        _ = try await login.value
    }

    @Test func aFixedRedirectPortIsUsedAndATakenOneIsAClearError() async throws {
        // A port someone else holds: the login fails at once and names it; no URL is shown.
        let holder = try await NIOLoopbackListener.start(port: 0) { _ in .badRequest("not yours") }
        let taken = holder.port
        let agent = Self.agent(ScriptedCodeProvider(), redirectPort: taken)
        let prompts = PromptBox()
        do {
            _ = try await agent.login(client: alice, flow: .authcode) { prompts.record($0) }
            Issue.record("logged in on a taken port")
        } catch {
            #expect(error.message.contains("cannot listen on 127.0.0.1 port \(taken)"), "\(error)")
            #expect(error.hint?.contains("redirect_port") == true)
        }
        #expect(prompts.last == nil)
        await holder.close()

        // Once free, the same fixed port is the redirect URI's.
        let fixed = Self.agent(ScriptedCodeProvider(), redirectPort: taken)
        let login = Task { try await fixed.login(client: alice, flow: .authcode) { prompts.record($0) } }
        try await eventually("the prompt") { prompts.last != nil }
        #expect(prompts.last?.redirectURI == "http://127.0.0.1:\(taken)/callback")
        try await fixed.authorizationResponse("code=c&state=\(ScriptedCodeProvider.state)", client: alice)
        _ = try await login.value
    }

    @Test func aSecondValidCallbackWhileTheFirstIsBeingExchangedIsRefused() async throws {
        let provider = ScriptedCodeProvider()
        let agent = Self.agent(provider)
        let prompts = PromptBox()
        let login = Task { try await agent.login(client: alice, flow: .authcode) { prompts.record($0) } }
        try await eventually("the prompt") { prompts.last != nil }
        let prompt = try #require(prompts.last)
        // The listener's own decision, made twice: the first valid answer wins, the second is a 400.
        let waiting = AuthorizationWait()
        waiting.arm(try await provider.beginAuthorizationCode(port: 1))
        let query = "code=c&state=\(ScriptedCodeProvider.state)"
        #expect(waiting.answer(query) { _ in }.status == 200)
        #expect(waiting.answer(query) { _ in }.status == 400)
        _ = await RawHTTP.get(port: Self.port(of: prompt), "/callback?\(query)")
        _ = try await login.value
    }

    @Test func oversizedAndSilentRequestsAreRefusedAndTheWaitGoesOn() async throws {
        let provider = ScriptedCodeProvider()
        let agent = Self.agent(provider)
        let prompts = PromptBox()
        let login = Task { try await agent.login(client: alice, flow: .authcode) { prompts.record($0) } }
        try await eventually("the prompt") { prompts.last != nil }
        let port = Self.port(of: try #require(prompts.last))
        let huge = "GET /callback?" + String(repeating: "a", count: 9000) + " HTTP/1.1\r\n\r\n"
        guard case .answered(400, let body) = await RawHTTP.send(port: port, huge) else { Issue.record("oversized not refused"); return }
        #expect(body.contains("too large"))
        // A connection that sends nothing is closed by the read deadline, with no answer.
        #expect(await RawHTTP.send(port: port, "") == .closed)
        #expect(await agent.status().loginPending)
        let good = await RawHTTP.get(port: port, "/callback?code=\(ScriptedCodeProvider.code)&state=\(ScriptedCodeProvider.state)")
        guard case .answered(200, _) = good else { Issue.record("valid callback: \(good)"); return }
        _ = try await login.value
    }

    @Test func pasteBackRefusesAWrongStateAndCompletesWithTheRightOne() async throws {
        let provider = ScriptedCodeProvider()
        let audit = RecordingAuditSink()
        let agent = Self.agent(provider, audit: audit)
        let prompts = PromptBox()
        await #expect(throws: ProtocolFailure.self) { try await agent.authorizationResponse("code=c&state=\(ScriptedCodeProvider.state)", client: alice) }
        let login = Task { try await agent.login(client: alice, flow: .authcode) { prompts.record($0) } }
        try await eventually("the prompt") { prompts.last != nil }
        let port = Self.port(of: try #require(prompts.last))
        do {
            try await agent.authorizationResponse("http://127.0.0.1:\(port)/callback?code=c&state=guess", client: alice)
            Issue.record("a wrong state was accepted")
        } catch {
            #expect(error.code == .badRequest)
            #expect(error.message.contains("state does not match"))
        }
        #expect(await agent.status().loginPending)
        try await agent.authorizationResponse("http://127.0.0.1:\(port)/callback?code=\(ScriptedCodeProvider.code)&state=\(ScriptedCodeProvider.state)",
                                              client: alice)
        _ = try await login.value
        #expect(await provider.exchanged == [ScriptedCodeProvider.code])
        #expect(await RawHTTP.get(port: port, "/callback") == .refused)
        #expect(!audit.renderedText.contains(ScriptedCodeProvider.code))
    }

    @Test func autoOffersTheAuthorizationCodeFlowWhenTheDeviceGrantIsRefused() async throws {
        let provider = ScriptedCodeProvider()
        let agent = Self.agent(provider)
        let prompts = PromptBox()
        let login = Task { try await agent.login(client: alice) { prompts.record($0) } }
        try await eventually("the prompt") { prompts.last != nil }
        let prompt = try #require(prompts.last)
        #expect(prompt.reason?.contains("refused the device flow") == true)
        try await agent.authorizationResponse("code=\(ScriptedCodeProvider.code)&state=\(ScriptedCodeProvider.state)", client: alice)
        _ = try await login.value
        #expect(await agent.status().state == .valid)
    }

    @Test func otherDeviceFlowFailuresDoNotSwitch() async throws {
        let provider = ScriptedCodeProvider()
        await provider.setRefuse(false)
        let agent = Self.agent(provider)
        await #expect(throws: ProtocolFailure.self) { _ = try await agent.login(client: alice) { _ in } }
        #expect(await provider.ports.isEmpty)
    }

    @Test func theDeadlineEndsTheWaitAsExpiredAndClosesThePort() async throws {
        let provider = ScriptedCodeProvider()
        let clock = ManualClock()
        let agent = Self.agent(provider, clock: clock)
        let prompts = PromptBox()
        let login = Task { try await agent.login(client: alice, flow: .authcode) { prompts.record($0) } }
        try await eventually("the prompt") { prompts.last != nil }
        let prompt = try #require(prompts.last)
        #expect(prompt.expiresIn == 600)
        try await eventually("the deadline timer") { clock.earliestDeadline != nil }
        clock.advance(by: .seconds(601))
        do {
            _ = try await login.value
            Issue.record("the login succeeded")
        } catch let error as ProtocolFailure {
            #expect(error.code == .expired)
            #expect(error.code.exitCode == 4)
        }
        #expect(await RawHTTP.get(port: Self.port(of: prompt), "/callback") == .refused)
    }

    @Test func aRedirectErrorEndsTheLoginAsDenied() async throws {
        let provider = ScriptedCodeProvider()
        let agent = Self.agent(provider)
        let prompts = PromptBox()
        let login = Task { try await agent.login(client: alice, flow: .authcode) { prompts.record($0) } }
        try await eventually("the prompt") { prompts.last != nil }
        let port = Self.port(of: try #require(prompts.last))
        guard case .answered(200, _) = await RawHTTP.get(port: port, "/callback?error=access_denied&state=\(ScriptedCodeProvider.state)") else {
            Issue.record("error redirect not answered"); return
        }
        do {
            _ = try await login.value
            Issue.record("the login succeeded")
        } catch let error as ProtocolFailure {
            #expect(error.code == .denied)
        }
        #expect(await provider.exchanged.isEmpty)
    }

    @Test(arguments: [
        ("GET /callback?code=a&state=b HTTP/1.1\r\nHost: x\r\n\r\n", CallbackRequestHead.Parsed.callback(query: "code=a&state=b")),
        ("GET /callback HTTP/1.1\r\n\r\n", .callback(query: "")),
        ("GET /callback?code=a HTTP/1.1\r\nHost: x\r\n", .incomplete),
        ("POST /callback HTTP/1.1\r\n\r\n", .rejected("only GET is answered here")),
        ("GET /callbackx?code=a HTTP/1.1\r\n\r\n", .rejected("only /callback is answered here")),
        ("GET /callback?code=a\r\n\r\n", .rejected("malformed request line")),
        ("GET  /callback HTTP/1.1\r\n\r\n", .rejected("malformed request line")),
    ])
    func requestHeadsAreReadStrictly(text: String, expected: CallbackRequestHead.Parsed) {
        #expect(CallbackRequestHead.parse(Array(text.utf8)) == expected)
    }

    @Test func aHeadLargerThanTheLimitIsRejectedBeforeItEnds() {
        #expect(CallbackRequestHead.parse(Array(String(repeating: "a", count: 8193).utf8)) == .rejected("the request is too large"))
    }
}

extension ScriptedCodeProvider {
    func setRefuse(_ refuse: Bool) { refuseDeviceGrant = refuse }
}
