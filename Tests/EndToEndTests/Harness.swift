// End-to-end harness: real binaries (authd-devserver, authd, the clients) in a private temp directory.
import AuthdPosix
import Foundation
import Testing

/// Tests write to daemons that may close first (that is often the point): a broken pipe must be
/// an error, not the death of the whole test process by SIGPIPE.
let brokenPipesAreErrors: Void = CurrentProcess.ignoreBrokenPipe()

/// Where the built programs are: `AUTHD_BIN_DIR` (set by the Makefile), else next to this test bundle.
enum Binaries {
    static let directory: URL = {
        brokenPipesAreErrors
        if let dir = ProcessInfo.processInfo.environment["AUTHD_BIN_DIR"], !dir.isEmpty {
            return URL(fileURLWithPath: dir)
        }
        var url = Bundle.main.bundleURL
        for _ in 0..<4 where !FileManager.default.fileExists(atPath: url.appendingPathComponent("authd").path) {
            url = url.deletingLastPathComponent()
        }
        return url
    }()

    static func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    static var available: Bool {
        ["authd", "authctl", "git-credential-authctl", "authd-devserver"].allSatisfy {
            FileManager.default.isExecutableFile(atPath: path($0))
        }
    }
}

/// A private directory tree for one test; removed at the end.
final class Scratch: @unchecked Sendable {
    let root: URL

    init(_ name: String = "authd-e2e") {
        // Short paths: Unix socket paths are limited to 107 bytes.
        root = URL(fileURLWithPath: "/tmp").appendingPathComponent("\(name.prefix(12))-\(UUID().uuidString.prefix(8))")
        try! FileManager.default.createDirectory(at: root, withIntermediateDirectories: true,
                                                 attributes: [.posixPermissions: 0o700])
    }

    func path(_ component: String) -> String { root.appendingPathComponent(component).path }

    func write(_ component: String, _ text: String, mode: Int = 0o600) throws {
        let url = root.appendingPathComponent(component)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        try text.write(to: url, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: url.path)
    }

    deinit { try? FileManager.default.removeItem(at: root) }
}

/// Children are started with the project's own `posix_spawn` wrapper, not Foundation's `Process`:
/// on Linux `Process.run` copies whole fixed-size `d_name` fields while scanning `/proc/self/fd`,
/// which reads past the end of the directory buffer and crashed the test runner now and then.
enum Spawn {
    /// A close-on-exec pipe: (read end, write end).
    static func pipe() throws -> (Int32, Int32) {
        // Close-on-exec matters only to children started elsewhere; ours close every descriptor above 2.
        var fds: [Int32] = [0, 0]
        guard Foundation.pipe(&fds) == 0 else { throw HarnessError("pipe: errno \(errno)") }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        return (fds[0], fds[1])
    }

    static func environment(_ dictionary: [String: String]?) -> [String]? {
        dictionary.map { $0.map { "\($0.key)=\($0.value)" } }
    }

    /// Foundation's numbers: the exit code, or the signal that ended the child.
    static func code(_ status: AuthdPosix.ExitStatus) -> Int32 {
        switch status {
        case .exited(let code): return code
        case .signalled(let signal): return signal
        }
    }

    /// Reads `fd` to end of file and closes it.
    static func readAll(_ fd: Int32) -> Data {
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 16_384)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n > 0 { data.append(contentsOf: buffer[0..<n]); continue }
            if n < 0 && errno == EINTR { continue }
            break
        }
        close(fd)
        return data
    }

    /// Writes all of `bytes` to `fd` and closes it; a reader that went away (EPIPE) ends it quietly.
    /// Writes everything to `fd` and leaves it open (a child's stdin fed in several steps).
    static func writeAll(_ bytes: [UInt8], toKeepingOpen fd: Int32) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n > 0 { offset += n; continue }
            if n < 0 && errno == EINTR { continue }
            break
        }
    }

    static func writeAll(_ bytes: [UInt8], to fd: Int32) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n > 0 { offset += n; continue }
            if n < 0 && errno == EINTR { continue }
            break
        }
        close(fd)
    }
}

/// A running child process whose stderr goes to a file the test can read while it runs.
final class RunningProcess: @unchecked Sendable {
    let child: AuthdPosix.SpawnedProcess
    let stderrPath: String
    /// The read end of the child's stdout when captured, else -1.
    let stdoutDescriptor: Int32
    /// The write end of the child's stdin when `feedStdin`, else -1 (the child reads /dev/null).
    let stdinDescriptor: Int32
    private let ended = Locked<AuthdPosix.ExitStatus?>(nil)
    private let stdoutClosed = Locked(false)

    init(executable: String, arguments: [String], environment: [String: String], stderrPath: String,
         captureStdout: Bool = true, feedStdin: Bool = false) throws {
        self.stderrPath = stderrPath
        let errFD = open(stderrPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard errFD >= 0 else { throw HarnessError("open \(stderrPath): errno \(errno)") }
        defer { close(errFD) }
        var stdoutRead: Int32 = -1, stdoutWrite: Int32 = -1
        if captureStdout { (stdoutRead, stdoutWrite) = try Spawn.pipe() }
        defer { if stdoutWrite >= 0 { close(stdoutWrite) } }
        var stdinRead: Int32 = -1, stdinWrite: Int32 = -1
        if feedStdin { (stdinRead, stdinWrite) = try Spawn.pipe() }
        defer { if stdinRead >= 0 { close(stdinRead) } }
        do {
            child = try AuthdPosix.SpawnedProcess.spawn(
                executable: executable, arguments: arguments, environment: Spawn.environment(environment),
                standardInput: feedStdin ? .descriptor(AuthdPosix.FileDescriptor(rawValue: stdinRead)) : .null,
                standardOutput: captureStdout ? .descriptor(AuthdPosix.FileDescriptor(rawValue: stdoutWrite)) : .null,
                standardError: .descriptor(AuthdPosix.FileDescriptor(rawValue: errFD)))
        } catch {
            if stdoutRead >= 0 { close(stdoutRead) }
            if stdinWrite >= 0 { close(stdinWrite) }
            throw HarnessError("spawn \(executable): \(error)")
        }
        stdoutDescriptor = stdoutRead
        stdinDescriptor = stdinWrite
    }

    var pid: Int32 { child.processID }

    /// Reaps the child once it has ended; the status is kept for later questions.
    private func status() -> AuthdPosix.ExitStatus? {
        if let done = ended.get() { return done }
        guard let now = try? child.poll() else { return nil }
        ended.set(now)
        return now
    }

    var isRunning: Bool { status() == nil }
    var terminationStatus: Int32 { status().map(Spawn.code) ?? -1 }
    var stderrText: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    func signal(_ signal: Int32) {
        guard isRunning else { return }
        kill(child.processID, signal)
    }

    /// Waits for exit up to `timeout`; returns the status or nil.
    func waitForExit(timeout: TimeInterval = 10) -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        while isRunning && Date() < deadline { usleep(10_000) }
        return status().map(Spawn.code)
    }

    func stop() {
        if isRunning {
            signal(SIGTERM)
            if waitForExit(timeout: 5) == nil {
                signal(SIGKILL)
                _ = waitForExit(timeout: 5)
            }
        }
        // Once only: stop() runs again from deinit, and a descriptor number closed twice may by then
        // belong to someone else.
        if stdoutDescriptor >= 0 && !stdoutClosed.get() {
            stdoutClosed.set(true)
            close(stdoutDescriptor)
        }
    }

    deinit { stop() }
}

/// `authd-devserver` on a free loopback port.
final class DevServer: @unchecked Sendable {
    let running: RunningProcess
    let baseURL: String

    init(_ scratch: Scratch, arguments: [String] = []) throws {
        running = try RunningProcess(executable: Binaries.path("authd-devserver"), arguments: ["--port", "0"] + arguments,
                                     environment: ["PATH": "/usr/bin:/bin"], stderrPath: scratch.path("devserver.log"))
        // The base URL is the first line of stdout.
        var line = Data()
        var byte: UInt8 = 0
        while read(running.stdoutDescriptor, &byte, 1) == 1 && byte != 0x0A { line.append(byte) }
        baseURL = String(decoding: line, as: UTF8.self)
        guard baseURL.hasPrefix("http://127.0.0.1:") else {
            throw HarnessError("devserver did not print its URL: \(baseURL) \(running.stderrText)")
        }
    }

    /// The request log: one JSON object per request.
    var requests: [[String: Any]] {
        running.stderrText.split(separator: "\n").compactMap {
            (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any]
        }
    }

    func requests(endpoint: String) -> [[String: Any]] {
        requests.filter { ($0["endpoint"] as? String) == endpoint || ($0["path"] as? String) == "/" + endpoint }
    }

    /// RFC 7662 introspection, to see what the provider thinks of a token.
    func isActive(_ token: String) throws -> Bool {
        let result = try HTTP.post(baseURL + "/introspect", form: ["token": token])
        let json = try JSONSerialization.jsonObject(with: result.body) as? [String: Any]
        return json?["active"] as? Bool ?? false
    }
}

struct HarnessError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Minimal blocking HTTP for talking to the devserver from tests (loopback only).
enum HTTP {
    static func post(_ url: String, form: [String: String]) throws -> (status: Int, body: Data) {
        let body = form.map { "\($0.key)=\($0.value.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")" }
            .joined(separator: "&")
        let result = try Command.run("/usr/bin/curl", ["-s", "-o", "-", "-w", "\n%{http_code}", "-X", "POST",
                                                        "-H", "Content-Type: application/x-www-form-urlencoded",
                                                        "--data-binary", "@-", url], stdin: body)
        let text = result.stdout
        guard let newline = text.lastIndex(of: "\n"), let status = Int(text[text.index(after: newline)...]) else {
            throw HarnessError("curl failed: \(result.stderr)")
        }
        return (status, Data(text[..<newline].utf8))
    }
}

/// authd with its own config, socket and state under a scratch directory.
final class DaemonUnderTest: @unchecked Sendable {
    let scratch: Scratch
    var running: RunningProcess?
    var extraEnvironment: [String: String] = [:]
    var arguments: [String] = []
    var logIndex = 0

    var configPath: String { scratch.path("config/authd/config.toml") }
    var socketPath: String { scratch.path("run/authd/socket") }
    var stateDirectory: String { scratch.path("state/authd") }

    init(_ scratch: Scratch, config: String) throws {
        self.scratch = scratch
        try scratch.write("config/authd/config.toml", config)
    }

    /// The environment a client or daemon of this test runs with: nothing from the real user.
    var environment: [String: String] {
        var env = [
            "PATH": "\(Binaries.directory.path):/usr/bin:/bin",
            "HOME": scratch.path("home"),
            "XDG_CONFIG_HOME": scratch.path("config"),
            "XDG_RUNTIME_DIR": scratch.path("run"),
            "XDG_STATE_HOME": scratch.path("state"),
            "AUTHD_CONFIG": configPath,
            "AUTHD_SOCKET": socketPath,
            "AUTHD_STATE_DIR": stateDirectory,
            "NO_COLOR": "1",
        ]
        for (k, v) in extraEnvironment { env[k] = v }
        return env
    }

    /// All daemon stderr output so far, across restarts.
    var allLogs: String {
        (0...logIndex).map { (try? String(contentsOfFile: scratch.path("authd-\($0).log"), encoding: .utf8)) ?? "" }
            .joined()
    }

    func start() throws {
        logIndex += 1
        running = try RunningProcess(executable: Binaries.path("authd"), arguments: arguments, environment: environment,
                                     stderrPath: scratch.path("authd-\(logIndex).log"), captureStdout: false)
        try waitUntilServing()
    }

    func waitUntilServing(timeout: TimeInterval = 20) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let reply = try? SocketClient.exchange(socketPath, #"{"op":"version"}"#, timeout: 1), reply.contains("\"ok\":true") {
                return
            }
            if let running, !running.isRunning {
                throw HarnessError("authd exited with \(running.terminationStatus): \(running.stderrText)")
            }
            usleep(20_000)
        }
        throw HarnessError("authd did not start serving: \(running?.stderrText ?? "")")
    }

    func stop() { running?.stop() }

    func kill9() {
        running?.signal(SIGKILL)
        _ = running?.waitForExit()
    }

    /// Runs a client program with this daemon's environment.
    func client(_ program: String, _ arguments: [String], stdin: String = "", timeout: TimeInterval = 60,
                extraEnvironment: [String: String] = [:]) throws -> Command.Result {
        var env = environment
        for (k, v) in extraEnvironment { env[k] = v }
        return try Command.run(Binaries.path(program), arguments, stdin: stdin, environment: env, timeout: timeout)
    }

    deinit { stop() }
}

/// Runs a command to completion (no controlling terminal: setsid) and captures its output.
enum Command {
    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
        var duration: TimeInterval
    }

    static func run(_ executable: String, _ arguments: [String], stdin: String = "", environment: [String: String]? = nil,
                    timeout: TimeInterval = 60, newSession: Bool = true) throws -> Result {
        brokenPipesAreErrors
        // setsid detaches from the test runner's terminal, so "no controlling terminal" is real.
        let (path, argv) = newSession ? ("/usr/bin/setsid", ["-w", executable] + arguments) : (executable, arguments)
        let (inRead, inWrite) = try Spawn.pipe()
        let (outRead, outWrite) = try Spawn.pipe()
        let (errRead, errWrite) = try Spawn.pipe()
        let started = Date()
        let child: AuthdPosix.SpawnedProcess
        do {
            child = try AuthdPosix.SpawnedProcess.spawn(
                executable: path, arguments: argv, environment: Spawn.environment(environment),
                standardInput: .descriptor(AuthdPosix.FileDescriptor(rawValue: inRead)),
                standardOutput: .descriptor(AuthdPosix.FileDescriptor(rawValue: outWrite)),
                standardError: .descriptor(AuthdPosix.FileDescriptor(rawValue: errWrite)))
        } catch {
            [inRead, inWrite, outRead, outWrite, errRead, errWrite].forEach { close($0) }
            throw HarnessError("spawn \(path): \(error)")
        }
        [inRead, outWrite, errWrite].forEach { close($0) }
        let outData = Locked(Data()), errData = Locked(Data())
        // Each pipe is drained on a thread of its own: blocking reads on the shared dispatch pool
        // could wait behind other tests' blocking work (2 cores, parallel suites) while the child
        // blocks on a full pipe, and a timed-out run would then be reported as the child's fault.
        let group = DispatchGroup()
        for (fd, sink) in [(outRead, outData), (errRead, errData)] {
            group.enter()
            Thread { sink.set(Spawn.readAll(fd)); group.leave() }.start()
        }
        Spawn.writeAll(Array(stdin.utf8), to: inWrite)
        let deadline = Date().addingTimeInterval(timeout)
        var ended = try? child.poll()
        while ended == nil && Date() < deadline {
            usleep(2_000)
            ended = try? child.poll()
        }
        if ended == nil {
            // The whole process group: with setsid the child leads its own group, and a grandchild
            // (a shell's curl, an autostarted helper) that still holds the output pipes would keep
            // the readers below, and so the test, waiting forever.
            if !newSession || kill(-child.processID, SIGKILL) != 0 { kill(child.processID, SIGKILL) }
            ended = try? child.wait()
        }
        // A descendant in a session of its own could still hold a pipe: what was read by then is the output.
        _ = group.wait(timeout: .now() + 30)
        return Result(status: ended.map(Spawn.code) ?? -1, stdout: String(decoding: outData.get(), as: UTF8.self),
                      stderr: String(decoding: errData.get(), as: UTF8.self), duration: Date().timeIntervalSince(started))
    }
}

/// Bounds for "at once" in end-to-end tests: far below any wait a regression would add (a device
/// flow's minutes, the clients' 60 s ceiling, a provider's 30 s timeout), and far above what a
/// loaded 2-core CI machine running the suites in parallel needs. `make bench` measures the real latency.
enum Bounds {
    /// A reply that must not wait for anything (a cached token, a refused request, a local error).
    static let atOnce: TimeInterval = 20
    /// How long a test waits for a condition before it gives up (the ceiling of a poll loop).
    static let condition: TimeInterval = 120

    /// Polls `condition` every 20 ms until it holds or `timeout` passes; returns whether it held.
    static func waitUntil(timeout: TimeInterval = condition, _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            if try condition() { return true }
            if Date() >= deadline { return false }
            usleep(20_000)
        }
    }
}

final class Locked<T>: @unchecked Sendable {
    private var value: T
    private let lock = NSLock()
    init(_ value: T) { self.value = value }
    func get() -> T { lock.lock(); defer { lock.unlock() }; return value }
    func set(_ v: T) { lock.lock(); value = v; lock.unlock() }
    func mutate(_ body: (inout T) -> Void) { lock.lock(); body(&value); lock.unlock() }
}

/// Raw protocol access to the daemon's socket, as `socat` would do it.
enum SocketClient {
    /// Connects, sends `line` (a newline is added), and reads reply lines until a final one
    /// (`"ok"`) or EOF. Returns all lines read.
    static func exchange(_ path: String, _ line: String, timeout: TimeInterval = 30) throws -> String {
        let fd = try connect(path)
        defer { close(fd) }
        try send(fd, Array((line + "\n").utf8))
        return try readUntilFinal(fd, timeout: timeout)
    }

    static func connect(_ path: String) throws -> Int32 {
        brokenPipesAreErrors
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw HarnessError("socket: \(errno)") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, b) in bytes.enumerated() where i < raw.count - 1 { raw[i] = b }
        }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Foundation.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard result == 0 else {
            close(fd)
            throw HarnessError("connect \(path): errno \(errno)")
        }
        return fd
    }

    static func send(_ fd: Int32, _ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Foundation.write(fd, $0.baseAddress, $0.count) }
            guard n > 0 else { throw HarnessError("write: errno \(errno)") }
            offset += n
        }
    }

    static func readUntilFinal(_ fd: Int32, timeout: TimeInterval) throws -> String {
        var collected = Data()
        let deadline = Date().addingTimeInterval(timeout)
        var buffer = [UInt8](repeating: 0, count: 65536)
        while Date() < deadline {
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&pfd, 1, 100)
            if ready <= 0 { continue }
            let n = read(fd, &buffer, buffer.count)
            if n <= 0 { break }
            collected.append(contentsOf: buffer[0..<n])
            let text = String(decoding: collected, as: UTF8.self)
            if text.split(separator: "\n").contains(where: { $0.contains("\"ok\":") }) && text.hasSuffix("\n") { break }
        }
        return String(decoding: collected, as: UTF8.self)
    }
}

/// Config for one devserver-backed audience (discovery through the issuer).
func demoConfig(_ baseURL: String, audience: String = "demo", extra: String = "") -> String {
    """
    [audience.\(audience)]
    issuer    = "\(baseURL)"
    client_id = "authctl-test"
    scopes    = ["openid", "offline_access"]
    git_urls  = ["\(baseURL)/git/"]
    \(extra)

    """
}
