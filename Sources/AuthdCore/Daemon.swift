// The daemon's life: config, socket, store, agents; ready, watchdog, reload on SIGHUP, clean stop on SIGTERM.
import AuthdConfig
import AuthdOAuth
import AuthdPosix
import AuthdStore
import AuthdSystem
import AuthdWire
import Logging
import UnixSignals

/// Builds the provider for one configured audience (the OAuth engine in production, fakes in tests).
public typealias ProviderFactory = @Sendable (AudienceConfiguration, DaemonSettings) -> any AudienceProvider

public struct DaemonOptions: Sendable {
    public var paths: AuthdPaths
    public var limits: ConnectionLimits
    public var providerFactory: ProviderFactory
    public var clock: any DaemonClock

    public init(paths: AuthdPaths, limits: ConnectionLimits = ConnectionLimits(), clock: any DaemonClock,
                providerFactory: @escaping ProviderFactory) {
        self.paths = paths
        self.limits = limits
        self.clock = clock
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
    private let router: RequestRouter
    private let vault = TokenVault()
    private let notifier = SystemdNotifier()

    public init(options: DaemonOptions, logger: Logger) {
        self.options = options
        self.logger = logger
        let audit = SwitchableAuditSink(StderrAuditSink(clock: options.clock))
        self.audit = audit
        self.router = RequestRouter(audit: audit)
    }

    /// Runs until SIGTERM or SIGINT; returns the process exit status.
    public func run() async -> Int32 {
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
        let signals = await UnixSignalsSequence(trapping: .sigterm, .sigint, .sighup)

        var configuration = try loadConfiguration()
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
            clock: options.clock, vault: vault, audit: audit, persistence: persistence ?? MemoryPersistence(),
            qrRows: { text in
                ((try? QRCode.matrix(for: text)) ?? []).map { row in String(row.map { $0 ? "1" : "0" }) }
            },
            notifyDesktop: { summary, body in
                Task { _ = try? await DesktopNotifier().notify(summary: summary, body: body) }
            })
        await apply(configuration, environment: environment, persistence: persistence, previous: nil)

        let server: SocketServer
        do {
            server = try await SocketServer(listeningDescriptor: socket.descriptor.rawValue, handling: router,
                                            limits: options.limits)
        } catch {
            throw DaemonStartError(description: "cannot serve the socket: \(error)", exitCode: 1)
        }
        let where_ = socket.activatedBySystemd ? "systemd's socket" : options.paths.socket
        logger.info("serving \(configuration.audiences.count) audiences on \(where_)")
        _ = try? notifier.ready(status: statusLine(configuration))

        let watchdog = startWatchdog(server: server)
        defer { watchdog?.cancel() }

        for await signal in signals {
            if signal == .sighup {
                _ = try? notifier.reloading()
                do {
                    let reloaded = try loadConfiguration()
                    chooseAuditSink(reloaded.daemon)
                    await apply(reloaded, environment: environment, persistence: persistence, previous: configuration)
                    configuration = reloaded
                    logger.info("configuration reloaded: \(reloaded.audiences.count) audiences")
                } catch {
                    logger.error("reload failed, keeping the previous configuration: \(error)")
                }
                _ = try? notifier.ready(status: statusLine(configuration))
                continue
            }
            break
        }

        _ = try? notifier.stopping()
        logger.info("stopping")
        // Before the event loops stop: a probe submitted to a stopped loop would never complete.
        watchdog?.cancel()
        await watchdog?.value
        await server.shutdown()
        for entry in router.current { await entry.agent.shutdown() }
        return 0
    }

    private func statusLine(_ configuration: AuthdConfiguration) -> String {
        "serving \(configuration.audiences.count) audience\(configuration.audiences.count == 1 ? "" : "s")"
    }

    private func loadConfiguration() throws -> AuthdConfiguration {
        let path = options.paths.configFile
        guard FileSystem.exists(path) else {
            logger.warning("no config file at \(path): serving no audiences (see docs/configuration.md)")
            return AuthdConfiguration()
        }
        let contents: RegularFileContents
        do {
            contents = try FileSystem.readRegularFile(path, .configFile)
        } catch {
            throw DaemonStartError(description: "cannot read the config \(path): \(error)", exitCode: 2)
        }
        let bytes = contents.bytes
        let home = CurrentProcess.environment("HOME")
        do {
            let (configuration, warnings) = try AuthdConfiguration.load(utf8: bytes, path: path,
                                                                        homeDirectory: home)
            let exposure = configuration.inlineSecretExposure(
                file: path, permissions: contents.status.permissions, chmodCommand: FileReadError.chmodCommand(path))
            for warning in warnings + exposure { logger.warning("\(warning.description)") }
            return configuration
        } catch {
            throw DaemonStartError(description: "invalid config:\n\(error.description)\n(check it with: authctl config check)",
                                   exitCode: 2)
        }
    }

    private func chooseAuditSink(_ settings: DaemonSettings) {
        let toJournal: Bool
        switch settings.audit {
        case .journal: toJournal = true
        case .stderr: toJournal = false
        case .auto: toJournal = Journal.isUnderJournald
        }
        audit.use(toJournal ? JournalAuditSink() : StderrAuditSink(clock: options.clock))
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
            return try StorePersistence(store: store, identities: identities(configuration))
        } catch .setAside(let movedTo, let damage) {
            logger.error("the token store could not be read (\(damage)); it was kept as \(movedTo) and authd starts with no logins")
            audit.record(AuditRecord(.storeError, "token store set aside as \(movedTo): \(damage)", detail: "\(damage)"))
            return try? StorePersistence(store: store, identities: identities(configuration))
        } catch {
            logger.error("cannot load the token store: \(error); it is left untouched and logins are kept in memory only")
            return nil
        }
    }

    /// Installs agents for `configuration`, keeping the logins of audiences whose identity is unchanged.
    private func apply(_ configuration: AuthdConfiguration, environment: AgentEnvironment,
                       persistence: StorePersistence?, previous: AuthdConfiguration?) async {
        await persistence?.setIdentities(identities(configuration))
        let restorable = await persistence?.restorable(vault: vault, clock: options.clock) ?? [:]
        var entries: [RequestRouter.Entry] = []
        for audience in configuration.audiences {
            var policy = AudiencePolicy(
                name: audience.name, requestedScopes: audience.scopes, persist: audience.persist && persistence != nil,
                requireTTY: audience.requireTTY, allowedClients: audience.allowedClients,
                refreshMargin: configuration.daemon.refreshMargin, maxSession: configuration.daemon.maxSession,
                identity: Daemon.identity(of: audience))
            policy.identityPolicy = IdentityPolicy(requireMFA: audience.requireMFA, acrValues: audience.acrValues)
            let provider = options.providerFactory(audience, configuration.daemon)
            let issuer = audience.endpoints.issuer?.description
            if let existing = router.entry(named: audience.name), let old = previous?.audience(named: audience.name) {
                let changed = Daemon.identity(of: old) != Daemon.identity(of: audience)
                await existing.agent.reconfigure(policy: policy, provider: provider, identityChanged: changed)
                entries.append(RequestRouter.Entry(agent: existing.agent, policy: policy, issuer: issuer))
                continue
            }
            let agent = AudienceAgent(policy: policy, provider: provider, environment: environment)
            if audience.persist, let login = restorable[audience.name] { await agent.restore(login) }
            entries.append(RequestRouter.Entry(agent: agent, policy: policy, issuer: issuer))
        }
        let kept = Set(entries.map(\.policy.name))
        for old in router.current where !kept.contains(old.policy.name) { await old.agent.shutdown() }
        router.install(entries)
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
