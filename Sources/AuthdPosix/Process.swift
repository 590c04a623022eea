// This process (ids, environment), signals, spawning detached children, waiting for children.
import CPosix
import Glibc
import Synchronization

/// Facts about the running process.
public enum CurrentProcess {
    /// The real uid (`getuid`).
    public static var userID: UInt32 { getuid() }
    /// The pid (`getpid`).
    public static var processID: Int32 { getpid() }

    /// This machine's host name (`gethostname`), e.g. for the client name authd registers with; nil when unset.
    public static var hostName: String? {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return nil }
        let name = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return name.isEmpty ? nil : name
    }

    /// The command line, `argv[0]` first, read from the C `argv` when asked. `CommandLine.arguments`
    /// gives the same strings through a lazily built global whose first use costs a client's
    /// start-up measurably more (docs/performance.md).
    public static func arguments() -> [String] {
        let count = Int(CommandLine.argc)
        let vector = CommandLine.unsafeArgv
        var arguments: [String] = []
        arguments.reserveCapacity(count)
        for index in 0..<count {
            guard let argument = vector[index] else { break }
            arguments.append(String(cString: argument))
        }
        return arguments
    }

    /// An environment variable's value (`getenv`); nil when unset.
    public static func environment(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }

    /// Sets (`setenv`) or, for nil, removes (`unsetenv`) an environment variable. Not thread-safe
    /// against concurrent `getenv`: call it before starting threads.
    public static func setEnvironment(_ name: String, _ value: String?) throws(Errno) {
        try EnvironmentLock.withLock { () throws(Errno) in
            if let value {
                _ = try once { setenv(name, value, 1) }
            } else {
                _ = try once { unsetenv(name) }
            }
        }
    }
}

extension CurrentProcess {
    /// Ends the process with `status` (`exit`). Callers write with `write(2)`, so no stdio buffer is lost.
    public static func exit(_ status: Int32) -> Never {
        Glibc.exit(status)
    }

    /// Ignores SIGPIPE, so a closed socket or `| head` is an `EPIPE` error to report, not a silent death.
    public static func ignoreBrokenPipe() {
        _ = signal(SIGPIPE, SIG_IGN)
    }

    /// Unblocks every signal in the calling thread. A process started by a parent that blocked
    /// signals (a test runner, a thread pool) inherits the mask and could not be stopped with SIGTERM.
    public static func unblockAllSignals() {
        var empty = sigset_t()
        sigemptyset(&empty)
        _ = pthread_sigmask(SIG_SETMASK, &empty, nil)
    }
}

/// The process environment is one table shared by every thread: `setenv` may move it while
/// another thread copies it to start a child. Changes and whole-table copies take this lock
/// (a process-wide lock, because the table it guards is process-wide).
public enum EnvironmentLock {
    private static let mutex = Mutex(())

    public static func withLock<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
        try mutex.withLock { _ throws(E) -> R in try body() }
    }
}

/// A signal number.
public struct Signal: RawRepresentable, Hashable, Sendable {
    /// The raw signal number.
    public let rawValue: Int32
    /// Wraps a raw signal number.
    public init(rawValue: Int32) { self.rawValue = rawValue }

    /// Signal 0: delivers nothing, only checks that the target exists and may be signalled.
    public static let probe = Signal(rawValue: 0)
    /// `SIGHUP`
    public static let hangUp = Signal(rawValue: SIGHUP)
    /// `SIGINT`
    public static let interrupt = Signal(rawValue: SIGINT)
    /// `SIGKILL`
    public static let kill = Signal(rawValue: SIGKILL)
    /// `SIGTERM`
    public static let terminate = Signal(rawValue: SIGTERM)

    /// Sends this signal to process `pid` (`kill`).
    public func send(to pid: Int32) throws(Errno) {
        _ = try once { Glibc.kill(pid, rawValue) }
    }
}

/// How a child process ended.
public enum ExitStatus: Sendable, Equatable {
    /// It called `exit` with this code.
    case exited(Int32)
    /// A signal with this number ended it.
    case signalled(Int32)
}

/// A child process started with `posix_spawn`.
public struct SpawnedProcess: Sendable, Hashable {
    /// Where a child's standard stream goes.
    public enum Stream: Sendable, Hashable {
        /// `/dev/null`
        case null
        /// The parent's own stream, unchanged.
        case inherit
        /// This descriptor of the parent (duplicated into place in the child).
        case descriptor(FileDescriptor)
    }

    /// The child's pid.
    public let processID: Int32

    /// Wraps an existing child pid.
    public init(processID: Int32) { self.processID = processID }

    /// Starts `executable` (an absolute path, no `PATH` search) with `arguments` (argv[1...]).
    /// `environment` is `NAME=value` entries; nil passes this process's environment.
    /// `newSession` runs it in its own session (`setsid`), detached from our terminal and process
    /// group, as a daemon started on a client's behalf should be. Descriptors other than 0-2 are
    /// never inherited.
    public static func spawn(
        executable: String, arguments: [String] = [], environment: [String]? = nil,
        standardInput: Stream = .null, standardOutput: Stream = .null, standardError: Stream = .null,
        newSession: Bool = false
    ) throws(Errno) -> SpawnedProcess {
        var actions = posix_spawn_file_actions_t()
        var attributes = posix_spawnattr_t()
        guard posix_spawn_file_actions_init(&actions) == 0 else { throw .current }
        defer { posix_spawn_file_actions_destroy(&actions) }
        guard posix_spawnattr_init(&attributes) == 0 else { throw .current }
        defer { posix_spawnattr_destroy(&attributes) }

        for (target, stream) in [(Int32(0), standardInput), (1, standardOutput), (2, standardError)] {
            let code: Int32
            switch stream {
            case .inherit: code = 0
            case .null: code = posix_spawn_file_actions_addopen(&actions, target, "/dev/null", target == 0 ? O_RDONLY : O_WRONLY, 0)
            case .descriptor(let source): code = posix_spawn_file_actions_adddup2(&actions, source.rawValue, target)
            }
            if code != 0 { throw Errno(rawValue: code) }
        }
        // Nothing but 0-2 reaches the child, even descriptors someone else opened without
        // close-on-exec (a caller's pipe): a long-lived daemon holding one would keep whoever
        // waits for its end of file waiting.
        let closeCode = authd_spawn_closefrom(&actions, 3)
        if closeCode != 0 { throw Errno(rawValue: closeCode) }
        // The child starts with no blocked signals and default handlers: the spawning thread may
        // be a runtime worker that blocks signals, and a daemon that ignores SIGTERM cannot be stopped.
        var emptySet = sigset_t()
        var defaultSet = sigset_t()
        sigemptyset(&emptySet)
        sigemptyset(&defaultSet)
        for signal in [SIGHUP, SIGINT, SIGTERM, SIGPIPE, SIGCHLD] { sigaddset(&defaultSet, signal) }
        var flags = Int32(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF)
        if newSession { flags |= AUTHD_POSIX_SPAWN_SETSID }
        for code in [
            posix_spawnattr_setsigmask(&attributes, &emptySet),
            posix_spawnattr_setsigdefault(&attributes, &defaultSet),
            posix_spawnattr_setflags(&attributes, Int16(flags)),
        ] where code != 0 {
            throw Errno(rawValue: code)
        }

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        let envp = environment.map { $0.map { strdup($0) } + [nil] }
        defer { envp?.forEach { free($0) } }

        var pid: pid_t = 0
        let code = argv.withUnsafeBufferPointer { argvBuffer in
            if let envp {
                return envp.withUnsafeBufferPointer { envpBuffer in
                    posix_spawn(&pid, executable, &actions, &attributes, argvBuffer.baseAddress!, envpBuffer.baseAddress!)
                }
            }
            return EnvironmentLock.withLock {
                posix_spawn(&pid, executable, &actions, &attributes, argvBuffer.baseAddress!, authd_environ())
            }
        }
        if code != 0 { throw Errno(rawValue: code) }
        return SpawnedProcess(processID: pid)
    }

    /// Waits for the child to end (`waitpid`) and reaps it.
    public func wait() throws(Errno) -> ExitStatus {
        var status: Int32 = 0
        _ = try retryingInterrupts { waitpid(processID, &status, 0) }
        return Self.decode(status)
    }

    /// Reaps the child if it has ended (`waitpid` with `WNOHANG`); nil while it still runs.
    public func poll() throws(Errno) -> ExitStatus? {
        var status: Int32 = 0
        let pid = try retryingInterrupts { waitpid(processID, &status, WNOHANG) }
        return pid == 0 ? nil : Self.decode(status)
    }

    /// Sends `signal` to the child.
    public func send(_ signal: Signal) throws(Errno) {
        try signal.send(to: processID)
    }

    // WIFEXITED and friends are function-like macros that do not import; this is their glibc definition.
    private static func decode(_ status: Int32) -> ExitStatus {
        let signal = status & 0x7f
        return signal == 0 ? .exited((status >> 8) & 0xff) : .signalled(signal)
    }
}

extension CurrentProcess {
    /// The first `name` in `$PATH` that is an executable regular file, as a shell finds it; nil
    /// when there is none (the program is not installed).
    public static func executableOnPath(_ name: String) -> String? {
        for directory in (environment("PATH") ?? "/usr/bin:/bin").split(separator: ":") where directory.hasPrefix("/") {
            let candidate = directory + "/" + name
            if (try? FileSystem.status(candidate).kind) == .regular, access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }
}

extension SpawnedProcess {
    /// Runs `executable` to its end with standard input and error on /dev/null, and returns how
    /// it ended with the first `maximumOutputBytes` of its standard output (the rest is read and
    /// dropped, so a chatty child never blocks on a full pipe).
    public static func output(executable: String, arguments: [String], maximumOutputBytes: Int) throws(Errno)
        -> (status: ExitStatus, output: [UInt8]) {
        let pipe = try FileDescriptor.pipe()
        let child: SpawnedProcess
        do {
            child = try spawn(executable: executable, arguments: arguments, standardOutput: .descriptor(pipe.writeEnd))
        } catch {
            try? pipe.readEnd.close()
            try? pipe.writeEnd.close()
            throw error
        }
        try? pipe.writeEnd.close()
        var output: [UInt8] = []
        while let chunk = try? pipe.readEnd.read(upToCount: 65536), !chunk.isEmpty {
            output += chunk.prefix(max(0, maximumOutputBytes - output.count))
        }
        try? pipe.readEnd.close()
        return (try child.wait(), output)
    }
}


/// The calling thread.
public enum CurrentThread {
    /// Names the calling thread (`/proc/PID/task/TID/comm`; the kernel keeps the first 15 bytes),
    /// so that a thread started from another does not carry its creator's name.
    public static func setName(_ name: String) {
        _ = authd_set_thread_name(name)
    }
}
