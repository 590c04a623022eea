// Routes each decoded request to the audience that owns it, after the per-audience client policy.
import AuthdConfig
import AuthdPosix
import AuthdWire
import Synchronization

/// The audiences the daemon serves, in config order, and the dispatch of requests to them.
public final class RequestRouter: RequestHandling {
    public struct Entry: Sendable {
        public var agent: AudienceAgent
        public var policy: AudiencePolicy
        /// For status rows; the configured or discovered issuer.
        public var issuer: String?

        public init(agent: AudienceAgent, policy: AudiencePolicy, issuer: String?) {
            self.agent = agent
            self.policy = policy
            self.issuer = issuer
        }
    }

    /// What is installed: the served audiences, the broken ones' kept agents (unserved until their
    /// section is fixed), and the broken ones' errors.
    private struct Installed {
        // Constants: `byName` and `anyRequiresTerminal` are derived from `entries` once, so an
        // installation is only ever replaced whole.
        let entries: [Entry]
        let suspended: [Entry]
        let broken: [BrokenAudience]
        /// `entries` by audience name: the loop looks an audience up on every request, and a
        /// config may have a thousand of them.
        let byName: [String: Entry]
        /// Whether any served audience has `require_tty`.
        let anyRequiresTerminal: Bool
        /// The served config, for `git_lookup` (its `git_urls`); nil: no lookups (tests).
        let configuration: AuthdConfiguration?

        init(entries: [Entry] = [], suspended: [Entry] = [], broken: [BrokenAudience] = [], configuration: AuthdConfiguration? = nil) {
            self.entries = entries
            self.suspended = suspended
            self.broken = broken
            self.configuration = configuration
            // The first entry of a name wins, as a search of `entries` would find it.
            byName = Dictionary(entries.map { ($0.policy.name, $0) }, uniquingKeysWith: { first, _ in first })
            anyRequiresTerminal = entries.contains { $0.policy.requireTTY }
        }
    }

    private let installed = Mutex(Installed())
    /// Set once at start: consulted before every request, so an edited config is served at once.
    let follower = Mutex<ConfigurationFollower?>(nil)
    /// Whether the config file changed, as first seen in the socket loop's current turn (nil:
    /// not looked at yet this turn): one `stat` per turn instead of one or two per request.
    private let configChangeThisTurn = Mutex<Bool?>(nil)
    let audit: any AuditSink
    private let identifyFile: @Sendable (String) -> ExecutableFile?
    /// The open forwards, for the `forward_*` operations; nil: the daemon opens none.
    private let forwards: ForwardRegistry?
    /// Answers `audit`; nil in tests that do not ask.
    private let auditHistory: AuditHistory?

    /// `identifyFile` says which file a path in `allowed_clients` names in the daemon's own mount
    /// namespace (stat, following symbolic links); tests inject a table.
    public init(audit: any AuditSink, auditHistory: AuditHistory? = nil,
                identifyFile: @escaping @Sendable (String) -> ExecutableFile? = RequestRouter.fileIdentity,
                forwards: ForwardRegistry? = nil) {
        self.audit = audit
        self.auditHistory = auditHistory
        self.forwards = forwards
        self.identifyFile = identifyFile
    }

    /// The file at `path` as the daemon sees it, nil when there is none.
    public static func fileIdentity(_ path: String) -> ExecutableFile? {
        guard let status = try? FileSystem.status(path) else { return nil }
        return ExecutableFile(device: status.device, inode: status.inode, isDeleted: status.linkCount == 0)
    }

    /// Whether the followed config file changed since it was last read, looked at once per loop
    /// turn (`loopTurnEnded` forgets the answer). Socket loop only.
    func configFileChangedThisTurn() -> Bool {
        if let known = configChangeThisTurn.withLock({ $0 }) { return known }
        let changed = follower.withLock({ $0 })?.fileChanged() ?? false
        configChangeThisTurn.withLock { $0 = changed }
        return changed
    }

    func forgetConfigCheck() {
        configChangeThisTurn.withLock { $0 = nil }
    }

    /// Replaces the served audiences (start-up and reload); `configuration` is what they came from.
    public func install(_ newEntries: [Entry], suspended: [Entry] = [], broken: [BrokenAudience] = [],
                        configuration: AuthdConfiguration? = nil) {
        installed.withLock { $0 = Installed(entries: newEntries, suspended: suspended, broken: broken, configuration: configuration) }
    }

    /// Follow this config file: reload it before answering when it changed.
    public func follow(_ follower: ConfigurationFollower) {
        self.follower.withLock { $0 = follower }
    }

    public var current: [Entry] { installed.withLock { $0.entries } }
    /// Agents of broken audiences, kept with their logins but not served.
    public var suspended: [Entry] { installed.withLock { $0.suspended } }
    public var broken: [BrokenAudience] { installed.withLock { $0.broken } }

    public func entry(named name: String) -> Entry? {
        installed.withLock { $0.byName[name] }
    }

    /// Whether the socket loop must read the sender's terminal for `request`: when an audience it
    /// may be judged by requires one (`require_tty`). A request for one audience needs it only for
    /// that audience; one for no single audience (`logout --all`, `status`, ...) whenever any does.
    public func examinesTerminal(_ request: Request) -> Bool {
        // An edited file is reloaded only when the request is handled, and the new config may
        // add require_tty: examine now rather than refuse then.
        if configFileChangedThisTurn() { return true }
        return installed.withLock { installed in
            guard let name = request.audience else { return installed.anyRequiresTerminal }
            // An unknown audience is refused whatever the terminal; a broken one is not served.
            return installed.byName[name]?.policy.requireTTY ?? false
        }
    }

    /// The served config's answer to git's credential description: the same matching the helper
    /// would do with its own copy (AuthdConfig's GitURLMatching), over the audiences this client may
    /// see (through a forward, only its own). Names and git_urls only: no token, no audit record.
    func gitLookup(_ lookup: GitLookup, client: ClientIdentity) -> GitLookupAnswer {
        guard var configuration = installed.withLock({ $0.configuration }) else { return GitLookupAnswer(matches: []) }
        if let grant = client.forward { configuration.audiences.removeAll { !grant.admits($0.name) } }
        return configuration.gitLookup(lookup)
    }

    public func refused(_ client: ClientIdentity) {
        audit.record(AuditRecord(.clientRefused, "refused a client running as uid \(client.uid) (pid \(client.pid))",
                                 client: client, detail: "peer uid differs from the daemon's"))
    }

    public func refusedSender(_ client: ClientIdentity) {
        audit.record(AuditRecord(.clientRefused, "refused a request written by uid \(client.uid) (pid \(client.pid))",
                                 client: client, detail: "the writer's uid differs from the daemon's"))
    }

    public func handle(_ request: Request, from client: ClientIdentity, events: @escaping ReplySink) async -> Reply {
        // One stat and a compare; the reload itself only when the file was written since.
        if let follower = follower.withLock({ $0 }), follower.fileChanged() { await follower.follow() }
        var request = request
        if let grant = client.forward {
            switch ForwardPolicy.decide(request, grant: grant) {
            case .serve(let allowed):
                request = allowed
            case .refuse(let failure):
                audit.record(AuditRecord(.clientRefused, "forward \(grant.id): refused \(request.operation)", audience: request.audience,
                                         client: client, detail: failure.message))
                return .line(.failure(failure))
            }
        }
        switch request {
        case .version:
            return .line(.success(VersionAnswer(version: AuthdProtocol.softwareVersion, protocolVersion: Int64(AuthdProtocol.version),
                                                pid: Int64(CurrentProcess.processID), forward: client.forward?.id).json()))
        case .forwardOpen(let opening):
            guard let forwards else { return .line(.failure(ProtocolFailure(.badRequest, "this authd opens no forwards"))) }
            return .line(await forwards.open(opening, configured: current.map(\.policy.name), client: client))
        case .forwardList:
            guard let forwards else { return .line(.success(ForwardListAnswer(forwards: []).json())) }
            return .line(await forwards.list())
        case .forwardClose(let id):
            guard let forwards else { return .line(.failure(ProtocolFailure(.badRequest, "this authd opens no forwards"))) }
            return .line(await forwards.close(id, client: client))
        case .status:
            var rows: [AudienceStatus] = []
            // Through a forward, only its audiences exist.
            for entry in current where client.forward?.admits(entry.policy.name) ?? true {
                var row = await entry.agent.status()
                row.issuer = entry.issuer
                rows.append(row)
            }
            for broken in broken {
                rows.append(AudienceStatus(audience: broken.name, state: .configError, issuer: nil, scopes: [],
                                           accessTokenExpiresAt: nil, refreshAt: nil, hasRefreshToken: false, loginAt: nil,
                                           persist: false, subject: nil, configError: broken.summary))
            }
            return .line(.success(StatusAnswer(audiences: rows, config: follower.withLock({ $0 })?.status()).json()))
        case .reload:
            guard let follower = follower.withLock({ $0 }) else {
                return .line(.failure(ProtocolFailure(.internalError, "this daemon does not follow a config file")))
            }
            switch await follower.reload(reason: "authctl reload") {
            case .success(let servable):
                return .line(.success(ReloadAnswer(audiences: servable.configuration.audiences.count,
                                                   broken: servable.brokenAudiences.map(\.summary), config: follower.status()).json()))
            case .failure(let failure):
                return .line(.failure(ProtocolFailure(.configError, "the config could not be reloaded: \(failure.description)",
                                                      hint: "fix it (authctl config check); authd keeps serving the previous config")))
            }
        case .gitLookup(let lookup):
            return .line(.success(gitLookup(lookup, client: client).json()))
        case let .get(audience, minValid, interactive):
            guard let entry = entry(named: audience) else { return unknown(audience) }
            if let refusal = check(entry.policy, client: client) { return .line(.failure(refusal)) }
            do {
                let served = try await entry.agent.get(minimumValidity: .seconds(minValid), canPrompt: interactive,
                                                       client: client, events: events)
                return .token(served)
            } catch where error.code == .loginNeeded && client.forward.map({ !$0.allowLogin }) == true {
                return .line(.failure(ForwardPolicy.loginNeeded(audience, grant: client.forward!)))
            } catch {
                return .line(.failure(error))
            }
        case let .getNarrowed(audience, minValid, interactive, narrowing):
            guard let entry = entry(named: audience) else { return unknown(audience) }
            if let refusal = check(entry.policy, client: client) { return .line(.failure(refusal)) }
            do {
                return .token(try await entry.agent.get(minimumValidity: .seconds(minValid), canPrompt: interactive,
                                                        client: client, narrowing: narrowing, events: events))
            } catch {
                return .line(.failure(error))
            }
        case let .getIDToken(audience, minValid, interactive):
            guard let entry = entry(named: audience) else { return unknown(audience) }
            if let refusal = check(entry.policy, client: client) { return .line(.failure(refusal)) }
            do {
                return .token(try await entry.agent.getIDToken(minimumValidity: .seconds(minValid), canPrompt: interactive,
                                                               client: client, events: events))
            } catch {
                return .line(.failure(error))
            }
        case let .login(audience, flow):
            guard let entry = entry(named: audience) else { return unknown(audience) }
            if let refusal = check(entry.policy, client: client) { return .line(.failure(refusal)) }
            do {
                var status = try await entry.agent.login(client: client, flow: flow, events: events)
                status.issuer = entry.issuer
                return .line(.success(LoginAnswer(status: status).json()))
            } catch {
                return .line(.failure(error))
            }
        case let .authorizationResponse(audience, url):
            guard let entry = entry(named: audience) else { return unknown(audience) }
            if let refusal = check(entry.policy, client: client) { return .line(.failure(refusal)) }
            do {
                try await entry.agent.authorizationResponse(url, client: client)
                return .line(.success(AuthorizationResponseAnswer(audience: audience).json()))
            } catch {
                return .line(.failure(error))
            }
        case let .logout(audience, forgetClient):
            guard let entry = entry(named: audience) else { return unknown(audience) }
            if let refusal = check(entry.policy, client: client) { return .line(.failure(refusal)) }
            var result = await Self.logout(entry, client: client)
            if forgetClient { result.client = await entry.agent.forgetRegisteredClient(client: client) }
            return .line(.success(LogoutAnswer(results: [result]).json()))
        case .logoutAll:
            // In parallel: each revocation may wait up to the HTTP timeout, and one slow provider must
            // not keep the others' tokens alive or the client waiting past its silence limit.
            var entries: [Entry] = []
            for entry in current {
                // An audience reserved for another program with nothing logged in has nothing to refuse:
                // leaving it out keeps `logout --all` from failing for ever because of it.
                if refusalReason(entry.policy, client: client) != nil, await entry.agent.status().state == .loggedOut { continue }
                entries.append(entry)
            }
            let results = await withTaskGroup(of: (Int, LogoutResult).self) { group in
                for (index, entry) in entries.enumerated() {
                    if let refusal = check(entry.policy, client: client) {
                        // Said, not skipped: the person asked for everything and must learn what stayed.
                        let result = LogoutResult(audience: entry.policy.name, revocation: .refused(message: refusal.message))
                        group.addTask { (index, result) }
                    } else {
                        group.addTask { (index, await Self.logout(entry, client: client)) }
                    }
                }
                var collected: [(Int, LogoutResult)] = []
                // An audience with nothing logged in had nothing revoked: it is left out of the report.
                for await result in group where result.1.revocation != .notLoggedIn { collected.append(result) }
                return collected.sorted { $0.0 < $1.0 }.map(\.1)
            }
            return .line(.success(LogoutAnswer(results: results).json()))
        case let .erase(audience, fingerprint):
            let candidates: [Entry]
            if let audience {
                guard let entry = entry(named: audience) else { return unknown(audience) }
                candidates = [entry]
            } else {
                candidates = current
            }
            for entry in candidates where check(entry.policy, client: client) == nil {
                if await entry.agent.erase(fingerprint: fingerprint, client: client) {
                    return .line(.success(EraseAnswer(erasedFrom: entry.policy.name).json()))
                }
            }
            return .line(.success(EraseAnswer(erasedFrom: nil).json()))
        case let .audit(audience, since):
            // Same-user clients only (the socket refuses others); records hold fingerprints, never a token.
            if let audience, entry(named: audience) == nil, auditHistory?.ring.records(AuditQuery(audience: audience)).isEmpty ?? true {
                return unknown(audience)
            }
            guard let auditHistory else { return .line(.failure(ProtocolFailure(.internalError, "audit: this daemon keeps no audit record"))) }
            return .line(.success(auditHistory.answer(audience: audience, sinceSeconds: since).json()))
        }
    }

    private static func logout(_ entry: Entry, client: ClientIdentity) async -> LogoutResult {
        let (outcome, _) = await entry.agent.logout(client: client)
        let revocation: LogoutResult.Revocation
        switch outcome {
        case .revoked: revocation = .revoked
        case .notLoggedIn: revocation = .notLoggedIn
        case .unsupported(let hint): revocation = .unsupported(hint: hint)
        case .failed(let why): revocation = .failed(message: why)
        }
        return LogoutResult(audience: entry.policy.name, revocation: revocation)
    }

    /// Adds what `--forget-client` did to a logout result: `client` is `deleted`, `forgotten` (the
    /// provider keeps it), `failed` (kept here too, to try again) or `not_registered`.

    /// The answer for a name that is not served: its config error when its section is broken; else
    /// "no such audience", saying so when the config could not be reloaded (the name may be in the file).
    private func unknown(_ audience: String) -> Reply {
        if let broken = broken.first(where: { $0.name == audience }) {
            return .line(.failure(ProtocolFailure(.configError, "\(audience) is not served because of its config: \(broken.summary)",
                                                  hint: "fix it (authctl config check); authd reloads the file when it changes")))
        }
        let names = current.map(\.policy.name) + broken.map(\.name)
        if let status = follower.withLock({ $0 })?.status(), let failure = status.failure {
            let first = failure.split(separator: "\n").first.map(String.init) ?? failure
            return .line(.failure(ProtocolFailure(.configError, "no audience named \"\(audience)\" is served: the config could not be reloaded (\(first))",
                                                  hint: "fix it (authctl config check); authd keeps serving the previous config")))
        }
        if names.isEmpty, let path = follower.withLock({ $0 })?.path {
            return .line(.failure(ProtocolFailure(.unknownAudience, "no audience named \"\(audience)\": authd serves no audiences (config: \(path))",
                                                  hint: "create one with: authctl config init --provider NAME; authd reads it when it changes")))
        }
        return .line(.failure(ProtocolFailure(.unknownAudience, "no audience named \"\(audience)\" in the daemon's config"
                                              + Suggestion.didYouMean(audience, among: names),
                                              hint: "check with: authctl status")))
    }

    /// The per-audience client policy. Both facts come from the kernel (the pinned process), not
    /// from anything the client said.
    func check(_ policy: AudiencePolicy, client: ClientIdentity) -> ProtocolFailure? {
        guard let reason = refusalReason(policy, client: client) else { return nil }
        audit.record(AuditRecord(.clientRefused, "\(policy.name): refused: \(reason)", audience: policy.name,
                                 client: client, detail: reason))
        return ProtocolFailure(.refused, "\(policy.name): refused by policy: \(reason)",
                               hint: "see allowed_clients and require_tty in the config")
    }

    /// Why the policy refuses this client, without recording anything.
    func refusalReason(_ policy: AudiencePolicy, client: ClientIdentity) -> String? {
        Self.refusalReason(policy, client: client, identifyFile: identifyFile)
    }

    /// The policy decision. `allowed_clients` matches by file identity: the sender's running
    /// executable (`stat /proc/PID/exe`) must be the very file an allowed path names in the
    /// daemon's namespace. A glob is expanded against the path the sender's `/proc/PID/exe` shows,
    /// and that path is then looked up here, so a program mounted over an allowed path elsewhere
    /// does not match. A deleted executable matches nothing, nor does an unknown sender.
    static func refusalReason(_ policy: AudiencePolicy, client: ClientIdentity,
                              identifyFile: (String) -> ExecutableFile?) -> String? {
        let hasPolicy = !policy.allowedClients.isEmpty || policy.requireTTY
        if hasPolicy, let why = client.unattributed {
            return "the process that sent the request could not be established (\(why))"
        }
        if !policy.allowedClients.isEmpty {
            let shown = client.executable ?? "(unknown)"
            guard let file = client.executableFile else {
                return "client executable \(shown) could not be identified, so it matches no allowed_clients entry"
            }
            if file.isDeleted { return "client executable \(shown) was deleted while it ran, so it matches no allowed_clients entry" }
            let allowed = policy.allowedClients.contains { pattern in
                let path: String
                if pattern.utf8.contains(where: { $0 == UInt8(ascii: "*") || $0 == UInt8(ascii: "?") }) {
                    guard let executable = client.executable, ExecutablePattern.matches(pattern, executable) else { return false }
                    path = executable
                } else {
                    path = pattern
                }
                guard let named = identifyFile(path), !named.isDeleted else { return false }
                return named.device == file.device && named.inode == file.inode
            }
            if !allowed { return "client executable \(shown) is not in allowed_clients" }
        }
        if policy.requireTTY {
            switch client.hasControllingTerminal {
            case true?: break
            case false?: return "require_tty is set and the client has no controlling terminal"
            // Only when require_tty was added by a reload after the request arrived.
            case nil: return "require_tty is set and the client's terminal was not examined (the config changed meanwhile); send the request again"
            }
        }
        return nil
    }
}
