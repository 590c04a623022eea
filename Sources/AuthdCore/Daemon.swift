// The daemon's life: config, socket, store, agents; ready, watchdog, reload on SIGHUP, clean stop on SIGTERM.
import AuthdConfig
import AuthdOAuth
import AuthdPosix
import AuthdStore
import AuthdSystem
import AuthdWire
import Logging

/// Builds the provider for one configured audience (the OAuth engine in production, fakes in tests);
/// `ClientRegistrations` keeps the clients registered for `client_id = "register"` audiences.
public typealias ProviderFactory = @Sendable (AudienceConfiguration, DaemonSettings, ClientRegistrations) -> any AudienceProvider

public struct DaemonOptions: Sendable {
    public var paths: AuthdPaths
    public var limits: ConnectionLimits
    public var providerFactory: ProviderFactory
    public var clock: any DaemonClock
    /// The log file the daemon keeps itself (`--log-file`), rotated by size; nil when stderr is
    /// someone else's (the journal, a terminal).
    public var logFile: LogFile?

    public init(paths: AuthdPaths, limits: ConnectionLimits = ConnectionLimits(), clock: any DaemonClock,
                logFile: LogFile? = nil, providerFactory: @escaping ProviderFactory) {
        self.paths = paths
        self.limits = limits
        self.clock = clock
        self.logFile = logFile
        self.providerFactory = providerFactory
    }
}

/// Why the daemon stopped before serving, with the exit status it maps to.
public struct DaemonStartError: Error, CustomStringConvertible {
    public var description: String
    public var exitCode: Int32
}

public final class Daemon: Sendable {
    private let options: DaemonOptions
    private let logger: Logger
    private let audit: SwitchableAuditSink
    /// What agents and the router record into: the ring for `authctl audit`, then `audit`'s destination.
    private let retained: RetainingAuditSink
    private let auditHistory: AuditHistory
    /// Writes `audit`'s records off the reply path; flushed before `run` returns.
    private let auditQueue: AuditQueue
    private let router: RequestRouter
    private let forwards: ForwardRegistry
    private let vault = TokenVault()
    private let notifier = SystemdNotifier()

    public init(options: DaemonOptions, logger: Logger) {
        self.options = options
        self.logger = logger
        let audit = SwitchableAuditSink(StderrAuditSink(clock: options.clock, logFile: options.logFile))
        self.audit = audit
        let history = AuditHistory(ring: AuditRing(clock: options.clock))
        self.auditHistory = history
        let auditQueue = AuditQueue(writingTo: audit)
        self.auditQueue = auditQueue
        let retained = RetainingAuditSink(ring: history.ring, next: auditQueue)
        self.retained = retained
        let forwards = ForwardRegistry(runtimeDirectory: ListeningSocket.parent(of: options.paths.socket),
                                       clock: options.clock, audit: retained)
        self.forwards = forwards
        self.router = RequestRouter(audit: retained, auditHistory: history, forwards: forwards)
    }

    /// Runs until SIGTERM or SIGINT; returns the process exit status.
    public func run() async -> Int32 {
        // Every record made, also on the way out after SIGTERM, is written before the process exits.
        defer { auditQueue.flush() }
        do {
            return try await serve()
        } catch let error as DaemonStartError {
            logger.critical("\(error.description)")
            return error.exitCode
        } catch {
            logger.critical("\(error)")
            return 1
        }
    }

    private func serve() async throws -> Int32 {
        do {
            try Hardening.apply()
        } catch {
            logger.warning("hardening step failed: \(error.description)")
        }
        // Trap the signals before anything can be slow, so an early SIGTERM is not lost.
        let signals = try Self.trapSignals()

        let clock = options.clock
        let follower = ConfigurationFollower(path: options.paths.configFile, homeDirectory: CurrentProcess.environment("HOME"),
                                             logger: logger, wallSeconds: { clock.wallSeconds() })
        let initial: ServableConfiguration
        do {
            initial = try await follower.loadAtStart()
        } catch {
            throw DaemonStartError(description: error.isInvalidConfig
                                   ? "invalid config:\n\(error.description)\n(check it with: authctl config check)" : error.description,
                                   exitCode: 2)
        }
        let configuration = initial.configuration
        chooseAuditSink(configuration.daemon)

        let socket: ListeningSocket
        do {
            socket = try ListeningSocket.obtain(path: options.paths.socket)
        } catch {
            throw DaemonStartError(description: "\(error)", exitCode: 1)
        }
        defer { socket.removeBoundPath() }

        let persistence = try openStore(configuration)
        let environment = AgentEnvironment(
            clock: options.clock, vault: vault, audit: retained, persistence: persistence ?? MemoryPersistence(),
            qrRows: { text in
                ((try? QRCode.matrix(for: text)) ?? []).map { row in String(row.map { $0 ? "1" : "0" }) }
            },
            notifyDesktop: { summary, body in
                Task { _ = try? await DesktopNotifier().notify(summary: summary, body: body) }
            })
        let logger = self.logger
        let registrations = ClientRegistrations(persistence: persistence, wallSeconds: { clock.wallSeconds() }, audit: retained,
                                                warn: { message in logger.warning("\(message)") })
        await apply(initial, environment: environment, persistence: persistence, registrations: registrations)
        await follower.setApply { [self] servable in
            chooseAuditSink(servable.configuration.daemon)
            await apply(servable, environment: environment, persistence: persistence, registrations: registrations)
            _ = try? notifier.ready(status: statusLine(servable))
        }
        router.follow(follower)

        let server: SocketServer
        do {
            server = try await SocketServer(listeningDescriptor: socket.descriptor.rawValue, handling: router,
                                            limits: options.limits)
        } catch {
            throw DaemonStartError(description: "cannot serve the socket: \(error)", exitCode: 1)
        }
        await forwards.attach(server)
        let where_ = socket.activatedBySystemd ? "systemd's socket" : options.paths.socket
        logger.info("serving \(configuration.audiences.count) audiences on \(where_)")
        _ = try? notifier.ready(status: statusLine(initial))

        let watchdog = startWatchdog(server: server)
        defer { watchdog?.cancel() }

        for await signal in signals {
            if signal == .hangUp {
                _ = try? notifier.reloading()
                if case .failure = await follower.reload(reason: "SIGHUP") {
                    _ = try? notifier.ready(status: "reload failed; serving the previous configuration")
                }
                continue
            }
            break
        }

        _ = try? notifier.stopping()
        logger.info("stopping")
        // Before the event loops stop: a probe submitted to a stopped loop would never complete.
        watchdog?.cancel()
        await watchdog?.value
        // Forwards end with the daemon: their sockets are removed and their connections closed.
        await forwards.endAll()
        await server.shutdown()
        for entry in router.current + router.suspended { await entry.agent.shutdown() }
        return 0
    }

    /// SIGTERM, SIGINT and SIGHUP as they arrive, from a thread that sleeps in `read` until one does.
    private static func trapSignals() throws -> AsyncStream<SignalPipe.Signal> {
        let pipe: SignalPipe
        do {
            pipe = try SignalPipe(trapping: [.terminate, .interrupt, .hangUp])
        } catch {
            throw DaemonStartError(description: "cannot trap SIGTERM, SIGINT and SIGHUP: \(error)", exitCode: 1)
        }
        return AsyncStream { continuation in
            DedicatedThread.start(name: "authd-signals") { while true { continuation.yield(pipe.next()) } }
        }
    }

    private func statusLine(_ servable: ServableConfiguration) -> String {
        let count = servable.configuration.audiences.count
        let broken = servable.brokenAudiences.count
        return "serving \(count) audience\(count == 1 ? "" : "s")" + (broken == 0 ? "" : "; \(broken) with config errors")
    }

    private func chooseAuditSink(_ settings: DaemonSettings) {
        let toJournal: Bool
        switch settings.audit {
        case .journal: toJournal = true
        case .stderr: toJournal = false
        case .auto: toJournal = Journal.isUnderJournald
        }
        audit.use(toJournal ? JournalAuditSink() : StderrAuditSink(clock: options.clock, logFile: options.logFile))
        auditHistory.setWritesToJournal(toJournal)
    }

    private func identities(_ configuration: AuthdConfiguration) -> [String: LoginIdentity] {
        var result: [String: LoginIdentity] = [:]
        for audience in configuration.audiences where audience.persist {
            result[audience.name] = Daemon.identity(of: audience)
        }
        return result
    }

    /// The issuer (or the token endpoint when there is none) and the client id, plus the origin of
    /// every configured endpoint the login's tokens are sent to (token, revocation) that is not the
    /// issuer's own origin. A reload or restart that points one of them at another origin is then a new
    /// identity: the stored login is not used and not sent there (security review, finding 8).
    /// Endpoints found by discovery are not part of it: the issuer vouches for those.
    static func identity(of audience: AudienceConfiguration) -> LoginIdentity {
        let endpoints = audience.endpoints
        let primary = endpoints.issuer ?? endpoints.token
        var issuer = primary?.description ?? audience.name
        let primaryOrigin = primary.map(origin)
        var sendsTo: [String] = []
        for url in [endpoints.token, endpoints.revocation].compactMap({ $0 }) {
            let other = origin(url)
            if other != primaryOrigin, !sendsTo.contains(other) { sendsTo.append(other) }
        }
        // Spaces cannot occur in an EndpointURL, so the stored text splits back unambiguously; an
        // audience whose endpoints all share the issuer's origin keeps the identity older stores hold.
        for other in sendsTo.sorted() { issuer += " " + other }
        return LoginIdentity(issuer: issuer, clientID: audience.clientID)
    }

    /// `scheme://host:port`, with the port always written, so `https://h` and `https://h:443` agree.
    static func origin(_ url: EndpointURL) -> String {
        "\(url.scheme.rawValue)://\(url.host):\(url.effectivePort)"
    }

    /// Opens the encrypted store. A damaged store is set aside and the daemon starts empty; a store
    /// that cannot be opened at all leaves the daemon serving from memory, never overwriting it.
    private func openStore(_ configuration: AuthdConfiguration) throws -> StorePersistence? {
        let keySource: StoreKeySource
        switch StoreKeySource.fromEnvironment() {
        case .keyFile:
            if let passphraseFile = configuration.daemon.storePassphraseFile {
                do {
                    // Refused unless it is ours and mode 0600 or tighter, as ssh treats a private key.
                    var bytes = try FileSystem.readRegularFile(passphraseFile, .secretFile).bytes
                    while let last = bytes.last, last == 0x0A || last == 0x0D { bytes.removeLast() }
                    keySource = .passphrase(SecretBytes(zeroing: &bytes))
                } catch {
                    throw DaemonStartError(description: "cannot use store_passphrase_file \(passphraseFile): \(error)", exitCode: 2)
                }
            } else {
                keySource = .keyFile
            }
        case let other:
            keySource = other
        }
        let store: TokenStore
        do {
            let logger = self.logger
            store = try TokenStore.open(directory: options.paths.stateDirectory, keySource: keySource,
                                        warn: { message in logger.warning("\(message)") })
        } catch .locked(let lockFile) {
            throw DaemonStartError(description: "another authd is using the state directory (lock \(lockFile) is held)", exitCode: 1)
        } catch {
            logger.error("cannot open the token store: \(error); logins will be kept in memory only")
            return nil
        }
        do {
            return try StorePersistence(store: store, identities: identities(configuration), vault: vault, clock: options.clock)
        } catch .setAside(let movedTo, let damage) {
            logger.error("the token store could not be read (\(damage)); it was kept as \(movedTo) and authd starts with no logins")
            retained.record(AuditRecord(.storeError, "token store set aside as \(movedTo): \(damage)", detail: "\(damage)"))
            return try? StorePersistence(store: store, identities: identities(configuration), vault: vault, clock: options.clock)
        } catch {
            logger.error("cannot load the token store: \(error); it is left untouched and logins are kept in memory only")
            return nil
        }
    }

    /// Installs agents for the valid audiences, keeping the logins of those whose identity is
    /// unchanged. A broken audience that was served keeps its agent (and login) aside, unserved,
    /// until its section is fixed; a new broken one only answers its error.
    private func apply(_ servable: ServableConfiguration, environment: AgentEnvironment,
                       persistence: StorePersistence?, registrations: ClientRegistrations) async {
        let configuration = servable.configuration
        await persistence?.setIdentities(identities(configuration))
        let restorable = await persistence?.restorable() ?? [:]
        var existing: [String: RequestRouter.Entry] = [:]
        for entry in router.current + router.suspended { existing[entry.policy.name] = entry }
        var entries: [RequestRouter.Entry] = []
        for audience in configuration.audiences {
            var policy = AudiencePolicy(
                name: audience.name, requestedScopes: audience.scopes, persist: audience.persist && persistence != nil,
                requireTTY: audience.requireTTY, allowedClients: audience.allowedClients, resources: audience.resources,
                refreshMargin: configuration.daemon.refreshMargin, maxSession: configuration.daemon.maxSession,
                identity: Daemon.identity(of: audience), redirectPort: audience.redirectPort,
                loginPlan: { audience.loginMethodPlan(override: $0) })
            policy.identityPolicy = IdentityPolicy(requireMFA: audience.requireMFA, acrValues: audience.acrValues)
            let provider = options.providerFactory(audience, configuration.daemon, registrations)
            let issuer = audience.endpoints.issuer?.description
            if let old = existing[audience.name] {
                let changed = old.policy.identity != policy.identity
                await old.agent.reconfigure(policy: policy, provider: provider, identityChanged: changed)
                entries.append(RequestRouter.Entry(agent: old.agent, policy: policy, issuer: issuer))
                continue
            }
            let agent = AudienceAgent(policy: policy, provider: provider, environment: environment)
            if audience.persist, let login = restorable[audience.name] { await agent.restore(login) }
            entries.append(RequestRouter.Entry(agent: agent, policy: policy, issuer: issuer))
        }
        let suspended = servable.brokenAudiences.compactMap { existing[$0.name] }
        let kept = Set((entries + suspended).map(\.policy.name))
        for old in existing.values where !kept.contains(old.policy.name) { await old.agent.shutdown() }
        router.install(entries, suspended: suspended, broken: servable.brokenAudiences, configuration: configuration)
    }

    /// Feeds the watchdog at half its interval, but only after a round trip through what serves
    /// clients: every socket event loop runs a task and every audience agent answers. A wedged loop
    /// or actor stops the feeding, and systemd restarts the daemon, which is the watchdog's point.
    private func startWatchdog(server: SocketServer) -> Task<Void, Never>? {
        guard let interval = notifier.watchdogInterval else { return nil }
        let notifier = self.notifier
        let clock = options.clock
        let router = self.router
        return Task {
            while !Task.isCancelled {
                do { try await server.probe() } catch { return }
                for entry in router.current { _ = await entry.agent.status() }
                guard !Task.isCancelled else { return }
                _ = try? notifier.watchdog()
                do { try await clock.sleep(until: clock.monotonicNow() + interval / 2) } catch { return }
            }
        }
    }
}
