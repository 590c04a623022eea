// Reaching authd: connect to its socket, and start it on demand when the config allows.
import AuthdConfig
import AuthdPosix
import AuthdWire

/// Connects to the daemon, starting it first when nothing listens and `[daemon] autostart` allows.
public enum DaemonLauncher {
    /// A live daemon answers a connect at once; a few seconds covers a loaded machine.
    static let connectTimeoutMilliseconds = 3_000
    /// How long a started daemon may take before its socket answers.
    static let startTimeoutMilliseconds = 5_000
    /// How often the socket is tried while the daemon starts.
    static let retryIntervalMilliseconds = 15

    /// - Parameter autostart: nil reads `[daemon] autostart` from the config, and only when the
    ///   daemon is not running, so a running daemon costs no config parse.
    public static func connect(_ context: ClientContext, autostart: Bool? = nil) throws(ClientFailure) -> DaemonConnection {
        let path = try context.socketPath()
        switch try attempt(path, timeoutMilliseconds: connectTimeoutMilliseconds) {
        case .connected(let connection):
            return connection
        case .failed(let error):
            throw unreachable(path, error)
        case .nobodyListening:
            // A forward is opened by authd elsewhere; starting a daemon here would serve nothing.
            if AuthdPaths.namesForward(path) { throw forwardEnded(path) }
        }
        let allowed: Bool
        if let autostart {
            allowed = autostart
        } else if let bytes = try? context.configBytes().bytes {
            allowed = AuthdConfiguration.autostart(configBytes: bytes)
        } else {
            allowed = true
        }
        guard allowed else {
            throw .daemonUnreachable("authd is not running and [daemon] autostart is false; start it with: systemctl --user start authd.socket (with systemd), or: authd &")
        }
        return try start(context, socketPath: path)
    }

    /// Connects without starting anything; nil when the daemon is not running.
    public static func connectIfRunning(_ context: ClientContext) throws(ClientFailure) -> DaemonConnection? {
        let path = try context.socketPath()
        switch try attempt(path, timeoutMilliseconds: connectTimeoutMilliseconds) {
        case .connected(let connection): return connection
        case .nobodyListening:
            if AuthdPaths.namesForward(path) { throw forwardEnded(path) }
            return nil
        case .failed(let error): throw unreachable(path, error)
        }
    }

    enum Attempt {
        case connected(DaemonConnection)
        /// No socket file, or a stale one nobody accepts on: a daemon may be started.
        case nobodyListening
        case failed(Errno)
    }

    /// Throws when something listens at `path` that runs as another uid: nothing is sent to it
    /// and no prompt it might send is shown (it could be a phishing listener in a shared directory).
    static func attempt(_ path: String, timeoutMilliseconds: Int) throws(ClientFailure) -> Attempt {
        let socket: FileDescriptor
        do {
            socket = try UnixSocket.connect(path: path, timeoutMilliseconds: timeoutMilliseconds)
        } catch .noSuchFileOrDirectory, .connectionRefused {
            return .nobodyListening
        } catch {
            return .failed(error)
        }
        let connection = DaemonConnection(socket: socket, path: path)
        let listener: UInt32
        do {
            listener = try UnixSocket.peerCredentials(socket).uid
        } catch {
            return .failed(error)
        }
        guard listener == CurrentProcess.userID else { throw foreignListener(path, uid: listener) }
        return .connected(connection)
    }

    /// Nothing answers at a forward's path: it ended (TTL, --close, authd stopped) or the ssh session
    /// that carried it closed. Exit 5, with what to do.
    public static func forwardEnded(_ path: String) -> ClientFailure {
        .daemonUnreachable("the authd forward at \(path) has ended (its TTL passed, it was closed, authd stopped, "
                           + "or the ssh session carrying it closed); on the machine where authd runs, open a new one: authctl forward")
    }

    static func foreignListener(_ path: String, uid: UInt32) -> ClientFailure {
        ClientFailure(.refusedByPolicy,
                      "refused: \(path) is served by uid \(uid), not by you (uid \(CurrentProcess.userID)); nothing was sent to it. "
                      + "Point --socket or AUTHD_SOCKET at your own authd (default: $XDG_RUNTIME_DIR/authd/socket)")
    }

    static func unreachable(_ path: String, _ error: Errno) -> ClientFailure {
        switch error {
        case .timedOut:
            return .daemonUnreachable("authd at \(path) did not accept the connection within \(connectTimeoutMilliseconds / 1000) s; is it stuck? check its log (\(whereItLogs))")
        case .permissionDenied:
            return .daemonUnreachable("cannot connect to \(path): permission denied; the socket belongs to another user or has the wrong mode")
        default:
            return .daemonUnreachable("cannot connect to authd at \(path): \(error)")
        }
    }

    /// Starts one daemon however many clients arrive at once: an exclusive lock next to the
    /// socket elects the one that spawns it; the others wait for the socket to answer.
    static func start(_ context: ClientContext, socketPath: String) throws(ClientFailure) -> DaemonConnection {
        let directory = AuthdPaths(configFile: "", socket: socketPath, stateDirectory: "").socketDirectory
        do {
            try FileSystem.makeDirectories(directory, permissions: 0o700)
        } catch {
            throw .daemonUnreachable("cannot create the socket directory \(directory) to start authd: \(error)")
        }
        let lockPath = directory + "/autostart.lock"
        let deadline = SystemClock.monotonicNanoseconds() + UInt64(startTimeoutMilliseconds + connectTimeoutMilliseconds) * 1_000_000
        while true {
            let lock: ExclusiveFileLock
            do {
                lock = try ExclusiveFileLock(path: lockPath)
            } catch .wouldBlock {
                // Another client is starting the daemon: wait for its socket instead.
                if case .connected(let connection) = try attempt(socketPath, timeoutMilliseconds: connectTimeoutMilliseconds) { return connection }
                guard SystemClock.monotonicNanoseconds() < deadline else {
                    throw .daemonUnreachable("authd did not start within \(startTimeoutMilliseconds / 1000) s (another client was starting it); check \(logPath(context) ?? "its log")")
                }
                SystemClock.sleep(milliseconds: retryIntervalMilliseconds)
                continue
            } catch {
                throw .daemonUnreachable("cannot lock \(lockPath) to start authd: \(error)")
            }
            return try withExtendedLifetime(lock) { () throws(ClientFailure) -> DaemonConnection in
                // The client that held the lock before us may have started it already.
                switch try attempt(socketPath, timeoutMilliseconds: connectTimeoutMilliseconds) {
                case .connected(let connection): return connection
                case .failed(let error): throw unreachable(socketPath, error)
                case .nobodyListening: break
                }
                // Where this start's lines begin in the log, to show them if it fails.
                let logStart = logPath(context).flatMap { try? FileSystem.status($0).size } ?? 0
                let daemon = try spawnDaemon(context)
                return try waitForSocket(socketPath, daemon: daemon, context: context, logStart: logStart)
            }
        }
    }

    static func waitForSocket(_ path: String, daemon: SpawnedProcess, context: ClientContext,
                              logStart: Int64 = 0) throws(ClientFailure) -> DaemonConnection {
        let deadline = SystemClock.monotonicNanoseconds() + UInt64(startTimeoutMilliseconds) * 1_000_000
        let log = logPath(context) ?? "its output"
        while true {
            switch try attempt(path, timeoutMilliseconds: connectTimeoutMilliseconds) {
            case .connected(let connection): return connection
            case .failed(let error): throw unreachable(path, error)
            case .nobodyListening: break
            }
            if let status = try? daemon.poll() {
                let how: String
                switch status {
                case .exited(let code): how = "exited with status \(code)"
                case .signalled(let signal): how = "was killed by signal \(signal)"
                }
                // The reason is in what it logged (an invalid [daemon] section, a taken state
                // directory): shown here, so nobody has to go and find the log.
                if let lines = logLines(context, from: logStart), !lines.isEmpty {
                    Console.error(lines.map { "  " + $0 + "\n" }.joined())
                    throw .daemonUnreachable("authd \(how) while starting, saying the above (also in \(log)); fix that, then run the command again")
                }
                throw .daemonUnreachable("authd \(how) while starting; see \(log)")
            }
            guard SystemClock.monotonicNanoseconds() < deadline else {
                throw .daemonUnreachable("authd did not answer on \(path) within \(startTimeoutMilliseconds / 1000) s of starting; see \(log)")
            }
            SystemClock.sleep(milliseconds: retryIntervalMilliseconds)
        }
    }

    /// Where a daemon's log is, whichever way it was started.
    public static let whereItLogs = "journalctl --user -u authd when systemd runs it, else authd.log in its state directory ($AUTHD_STATE_DIR, default ~/.local/state/authd)"

    static func logPath(_ context: ClientContext) -> String? {
        context.stateDirectory().map { $0 + "/authd.log" }
    }

    /// The daemon's log lines written since `offset`: at most the last 20 of 8 KiB, cleaned for
    /// the terminal (the log quotes config text).
    static func logLines(_ context: ClientContext, from offset: Int64) -> [String]? {
        guard let path = logPath(context),
              let file = try? FileDescriptor.open(path, .readOnly, options: [.noFollow, .noControllingTerminal]) else { return nil }
        defer { try? file.close() }
        // A log that was rotated meanwhile starts again at 0.
        let start = (try? file.status().size).map { $0 < offset ? 0 : offset } ?? offset
        guard let bytes = try? file.read(upToCount: 8192, atOffset: start) else { return nil }
        let lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n").map { TerminalText.clean(String($0)) }
        return Array(lines.suffix(20))
    }

    /// `authd` next to this client (an install puts all programs in one directory), else from PATH.
    public static func daemonExecutable() -> String? {
        if let me = try? FileSystem.readLink("/proc/self/exe"), let slash = me.lastIndex(of: "/") {
            let sibling = String(me[..<slash]) + "/authd"
            if isExecutable(sibling) { return sibling }
        }
        return CurrentProcess.executableOnPath("authd")
    }

    static func isExecutable(_ path: String) -> Bool {
        guard let status = try? FileSystem.status(path) else { return false }
        return status.kind == .regular && status.permissions & 0o111 != 0
    }

    static func spawnDaemon(_ context: ClientContext) throws(ClientFailure) -> SpawnedProcess {
        guard let executable = daemonExecutable() else {
            throw .daemonUnreachable("authd is not running and no authd program was found next to this one or on PATH; install it (make install), or start it yourself: systemctl --user start authd.socket, or: authd &")
        }
        var arguments: [String] = []
        if let config = context.configOverride { arguments += ["--config", config] }
        if let socket = context.socketOverride { arguments += ["--socket", socket] }
        // The daemon outlives this client: its output goes to a log, never to our terminal.
        var logDescriptor: FileDescriptor?
        if let state = context.stateDirectory() {
            try? FileSystem.makeDirectories(state, permissions: 0o700)
            logDescriptor = try? FileDescriptor.open(state + "/authd.log", .writeOnly, options: [.create, .append, .noFollow], permissions: 0o600)
            // The daemon keeps writing there itself, rotating the file by size (authd --log-file).
            if logDescriptor != nil { arguments += ["--log-file", state + "/authd.log"] }
        }
        defer { try? logDescriptor?.close() }
        let output: SpawnedProcess.Stream = logDescriptor.map { .descriptor($0) } ?? .null
        do {
            return try SpawnedProcess.spawn(executable: executable, arguments: arguments,
                                            standardInput: .null, standardOutput: output, standardError: output,
                                            newSession: true)
        } catch {
            throw .daemonUnreachable("cannot start \(executable): \(error)")
        }
    }
}
