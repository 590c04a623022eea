// authd: the per-user OAuth device-flow agent. Runs in the foreground, systemd style.
import AuthdConfig
import AuthdCore
import AuthdPosix
import AuthdSystem
import AuthdWire
import Logging
import NIOPosix

/// The entry point: the command line first (printing needs no executor), then the daemon's
/// executor, then the daemon on it.
@main
enum AuthdMain {
    static func main() {
        let commandLine: DaemonCommandLine
        do {
            switch try DaemonCommandLine.parse(CommandLine.arguments.dropFirst()) {
            case .run(let parsed): commandLine = parsed
            case .help: try? FileDescriptor.standardOutput.writeAll(DaemonCommandLine.help); return
            case .manual: try? FileDescriptor.standardOutput.writeAll(DaemonCommandLine.manPage); return
            case .version: try? FileDescriptor.standardOutput.writeAll(AuthdProtocol.softwareVersion + "\n"); return
            }
        } catch {
            try? FileDescriptor.standardError.writeAll("authd: \(error.message)\n")
            CurrentProcess.exit(DaemonCommandLine.usageExitStatus)
        }
        DaemonExecutor.install()
        DaemonExecutor.run {
            let status = await run(commandLine)
            if status != 0 { CurrentProcess.exit(status) }
        }
    }

    static func run(_ commandLine: DaemonCommandLine) async -> Int32 {
        // A launcher that blocked signals (a thread pool, a test runner) must not leave us
        // unable to receive SIGTERM or SIGHUP.
        CurrentProcess.unblockAllSignals()
        // Before anything holds a secret: restart with glibc's heap cache off so freed buffers are
        // scrubbed (see Hardening.heapTunable). AUTHD_KEEP_HEAP_CACHE=1 skips it (benchmarks).
        if CurrentProcess.environment("AUTHD_KEEP_HEAP_CACHE") == nil {
            try? Hardening.reexecuteWithHeapScrubbing(arguments: CommandLine.arguments)
        }
        let fileLimit = Hardening.raiseOpenFileLimit()
        let log = commandLine.logFile.map { LogFile(path: $0, limit: Int64(max(commandLine.logFileLimit, 4096))) }
        if let log {
            do {
                try log.open()
            } catch {
                try? FileDescriptor.standardError.writeAll("authd: cannot open the log file \(log.path): \(error)\n")
                return 1
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
            paths = try AuthdPaths.resolve(environment: CurrentProcess.environment,
                                           configOverride: commandLine.config, socketOverride: commandLine.socket)
        } catch {
            logger.critical("\(error.description)")
            return 2
        }
        // The daemon's timers (refresh schedules, the watchdog) and the OAuth engine's waits (polling,
        // backoff) run on the event loop that also runs its tasks (`main` below): one clock, and
        // each timer sleeps until its deadline.
        let clock = SystemDaemonClock(timers: DaemonExecutor.timers)
        let options = DaemonOptions(
            paths: paths,
            limits: ConnectionLimits(requestTimeout: .seconds(Int64(commandLine.requestTimeoutSeconds)),
                                     maximumConnections: min(commandLine.maximumConnections, max(64, fileLimit - 64))),
            clock: clock, logFile: log,
            providerFactory: { audience, daemon, registrations in
                OAuthAudienceProvider(audience: audience, daemon: daemon, registrations: registrations, clock: clock)
            })
        return await Daemon(options: options, logger: logger).run()
    }
}
