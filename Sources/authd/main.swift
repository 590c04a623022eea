// authd: the per-user OAuth device-flow agent. Runs in the foreground, systemd style.
import ArgumentParser
import AuthdConfig
import AuthdCore
import AuthdPosix
import AuthdSystem
import AuthdWire
import Logging
import NIOPosix

/// The entry point: the daemon's executor first, then the command on it.
@main
enum AuthdMain {
    static func main() {
        DaemonExecutor.install()
        DaemonExecutor.run { await AuthdCommand.main(nil) }
    }
}

struct AuthdCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "authd",
        abstract: "Hold OAuth tokens for this user and serve them over a Unix socket.",
        discussion: """
            authd runs the OAuth 2.0 Device Authorization Grant (RFC 8628) on demand, keeps the tokens \
            encrypted in memory and on disk, refreshes them before they expire, and serves them only to \
            processes of the same user. Start it with `systemctl --user enable --now authd.socket`, or let \
            authctl start it. It takes its socket from systemd (LISTEN_FDS) when given one.

            Environment: AUTHD_CONFIG, AUTHD_SOCKET, AUTHD_STATE_DIR, XDG_CONFIG_HOME, XDG_RUNTIME_DIR, \
            XDG_STATE_HOME, CREDENTIALS_DIRECTORY (systemd credential authd-store-key). \
            Signals: SIGHUP reloads the config, SIGTERM stops cleanly.
            """,
        version: AuthdProtocol.softwareVersion)

    @Option(name: .long, help: "Config file (default: $AUTHD_CONFIG or $XDG_CONFIG_HOME/authd/config.toml).")
    var config: String?

    @Option(name: .long, help: "Socket path when not socket-activated (default: $AUTHD_SOCKET or $XDG_RUNTIME_DIR/authd/socket).")
    var socket: String?

    @Option(name: .long, help: ArgumentHelp("Seconds a client has to send a complete request.", visibility: .hidden))
    var requestTimeout: Int = 10

    @Option(name: .long, help: "Most connections served at once.")
    var maxConnections: Int = 1024

    @Option(name: .long, help: "Write the log and audit records to this file (mode 0600) instead of stderr, rotating it to FILE.1 at --log-file-limit bytes (what authctl passes when it starts authd).")
    var logFile: String?

    @Option(name: .long, help: ArgumentHelp("Bytes at which --log-file is rotated.", visibility: .hidden))
    var logFileLimit: Int = 1 << 20

    func run() async throws {
        // A launcher that blocked signals (a thread pool, a test runner) must not leave us
        // unable to receive SIGTERM or SIGHUP.
        CurrentProcess.unblockAllSignals()
        // Before anything holds a secret: restart with glibc's heap cache off so freed buffers are
        // scrubbed (see Hardening.heapTunable). AUTHD_KEEP_HEAP_CACHE=1 skips it (benchmarks).
        if CurrentProcess.environment("AUTHD_KEEP_HEAP_CACHE") == nil {
            try? Hardening.reexecuteWithHeapScrubbing(arguments: CommandLine.arguments)
        }
        let fileLimit = Hardening.raiseOpenFileLimit()
        let log = logFile.map { LogFile(path: $0, limit: Int64(max(logFileLimit, 4096))) }
        if let log {
            do {
                try log.open()
            } catch {
                try? FileDescriptor.standardError.writeAll("authd: cannot open the log file \(log.path): \(error)\n")
                throw ExitCode(1)
            }
        }
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = CurrentProcess.environment("AUTHD_DEBUG") == nil ? .info : .debug
            return handler
        }
        let logger = Logger(label: "authd")
        let paths: AuthdPaths
        do {
            paths = try AuthdPaths.resolve(environment: CurrentProcess.environment, configOverride: config, socketOverride: socket)
        } catch {
            logger.critical("\(error.description)")
            throw ExitCode(2)
        }
        // The daemon's timers (refresh schedules, the watchdog) and the OAuth engine's waits (polling,
        // backoff) run on the event loop that also runs its tasks (`main` below): one clock, and
        // each timer sleeps until its deadline.
        let clock = SystemDaemonClock(timers: DaemonExecutor.timers)
        let options = DaemonOptions(
            paths: paths,
            limits: ConnectionLimits(requestTimeout: .seconds(Int64(max(1, requestTimeout))), maximumConnections: min(maxConnections, max(64, fileLimit - 64))),
            clock: clock, logFile: log,
            providerFactory: { audience, daemon, registrations in
                OAuthAudienceProvider(audience: audience, daemon: daemon, registrations: registrations, clock: clock)
            })
        let status = await Daemon(options: options, logger: logger).run()
        if status != 0 { throw ExitCode(status) }
    }
}
