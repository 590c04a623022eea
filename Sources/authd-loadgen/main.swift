// authd-loadgen: the load generator and store timer behind `make bench` (bench/run.sh).
//
// Not a product: an internal tool. It speaks to any Unix-socket agent whose requests are one
// message and whose answers are one message: authd (JSON lines on a stream socket) and, as the
// peer in the same run, oidc-agent (one JSON object per message, stream or seqpacket socket; the
// socket type is found by trying). Plain Glibc sockets and one OS thread per client, so the
// generator's own overhead is a blocking write and read per request.
//
//   authd-loadgen load --socket PATH --request JSON [--clients N] [--seconds S] [--mode new|persistent]
//                      [--expect TEXT] [--warmup S]
//       prints one JSON object: requests, errors, rps, p50/p90/p99/max in microseconds.
//   authd-loadgen store --dir DIR [--records N] [--iterations K]
//       times TokenStore.save and TokenStore.load of N records (encrypted, fsynced), K times each.
//   authd-loadgen exec [--runs N] [--warmup N] [--stdin FILE] -- PROGRAM ARGS...
//       runs a whole process N times (posix_spawn, stdin from FILE, stdout to /dev/null) and times
//       each from spawn to exit: for commands that need standard input (git credential fill),
//       which hyperfine 1.15 cannot give.
import AuthdStore
import AuthdSystem
import Foundation
@preconcurrency import Glibc

// MARK: Command line

struct Arguments {
    var values: [String: String] = [:]
    var command = ""

    var rest: [String] = []

    init(_ argv: [String]) {
        var iterator = argv.dropFirst().makeIterator()
        command = iterator.next() ?? ""
        while let key = iterator.next() {
            if key == "--" {
                while let word = iterator.next() { rest.append(word) }
                break
            }
            guard key.hasPrefix("--") else { fail("unexpected argument \(key)") }
            values[String(key.dropFirst(2))] = iterator.next() ?? ""
        }
    }

    func string(_ name: String, _ fallback: String? = nil) -> String {
        if let value = values[name] ?? fallback { return value }
        fail("--\(name) is required")
    }

    func int(_ name: String, _ fallback: Int) -> Int {
        guard let text = values[name] else { return fallback }
        guard let value = Int(text) else { fail("--\(name) wants an integer, not \(text)") }
        return value
    }

    func double(_ name: String, _ fallback: Double) -> Double {
        guard let text = values[name] else { return fallback }
        guard let value = Double(text) else { fail("--\(name) wants a number, not \(text)") }
        return value
    }
}

func fail(_ message: String) -> Never {
    let line = Array("authd-loadgen: \(message)\n".utf8)
    _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    exit(2)
}

@inline(__always) func nowNanoseconds() -> UInt64 {
    var spec = timespec()
    clock_gettime(CLOCK_MONOTONIC, &spec)
    return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
}

// MARK: Sockets

/// Connects to `path` with the given socket type; returns the descriptor or -errno.
func connectUnix(_ path: String, type: Int32) -> Int32 {
    let fd = socket(AF_UNIX, type | Int32(SOCK_CLOEXEC.rawValue), 0)
    if fd < 0 { return -errno }
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    let bytes = Array(path.utf8)
    withUnsafeMutableBytes(of: &address.sun_path) { raw in
        for (i, b) in bytes.enumerated() where i < raw.count - 1 { raw[i] = b }
    }
    let result = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
        }
    }
    if result != 0 {
        let error = errno
        close(fd)
        return -error
    }
    return fd
}

/// The socket type the server at `path` listens with: stream (authd) or seqpacket (some oidc-agents).
func detectSocketType(_ path: String) -> Int32 {
    let stream = Int32(SOCK_STREAM.rawValue)
    let fd = connectUnix(path, type: stream)
    if fd >= 0 { close(fd); return stream }
    if -fd == EPROTOTYPE { return Int32(SOCK_SEQPACKET.rawValue) }
    fail("cannot connect to \(path): \(String(cString: strerror(-fd)))")
}

/// One client's connection and buffer.
struct Exchange {
    let path: String
    let type: Int32
    let request: [UInt8]
    let expect: [UInt8]
    /// authd answers end with a newline; oidc-agent sends one message with no newline.
    let newlineFramed: Bool
    var buffer = [UInt8](repeating: 0, count: 1 << 16)

    /// Sends the request and reads one answer. Returns false on any failure or unexpected answer.
    mutating func roundTrip(_ fd: Int32) -> Bool {
        let sent = request.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        if sent != request.count { return false }
        var filled = 0
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress! + filled, $0.count - filled) }
            if n <= 0 { return false }
            filled += n
            if newlineFramed {
                if buffer[filled - 1] == 0x0A { break }
            } else if type == Int32(SOCK_SEQPACKET.rawValue) || isBalancedJSON(filled) {
                break
            }
            if filled == buffer.count { return false }
        }
        return expect.isEmpty || contains(filled)
    }

    private func isBalancedJSON(_ count: Int) -> Bool {
        var depth = 0, inString = false, escaped = false
        for i in 0..<count {
            let c = buffer[i]
            if inString {
                if escaped { escaped = false } else if c == 0x5C { escaped = true } else if c == 0x22 { inString = false }
            } else if c == 0x22 { inString = true } else if c == 0x7B { depth += 1 } else if c == 0x7D {
                depth -= 1
                if depth == 0 { return true }
            }
        }
        return false
    }

    private func contains(_ count: Int) -> Bool {
        guard expect.count <= count else { return false }
        outer: for start in 0...(count - expect.count) {
            for j in 0..<expect.count where buffer[start + j] != expect[j] { continue outer }
            return true
        }
        return false
    }
}

// MARK: load

final class ClientResult: @unchecked Sendable {
    var latencies: [UInt64] = []
    var errors = 0
    var firstError = ""
}

func percentile(_ sorted: [UInt64], _ p: Double) -> Double {
    guard !sorted.isEmpty else { return 0 }
    let rank = Int((p / 100 * Double(sorted.count)).rounded(.up)) - 1
    return Double(sorted[min(max(rank, 0), sorted.count - 1)]) / 1000
}

func runLoad(_ arguments: Arguments) {
    let path = arguments.string("socket")
    var requestText = arguments.string("request")
    let clients = arguments.int("clients", 1)
    let seconds = arguments.double("seconds", 3)
    let warmup = arguments.double("warmup", 0.3)
    let persistent = arguments.string("mode", "new") == "persistent"
    let newlineFramed = arguments.string("framing", "line") == "line"
    if newlineFramed && !requestText.hasSuffix("\n") { requestText += "\n" }
    let type = detectSocketType(path)
    let template = Exchange(path: path, type: type, request: Array(requestText.utf8),
                            expect: Array(arguments.string("expect", "").utf8), newlineFramed: newlineFramed)

    let results = (0..<clients).map { _ in ClientResult() }
    let ready = DispatchSemaphore(value: 0)
    let go = DispatchSemaphore(value: 0)
    let done = DispatchGroup()
    let startBox = Locked<UInt64>(0)
    for index in 0..<clients {
        done.enter()
        let thread = Thread {
            var exchange = template
            let result = results[index]
            result.latencies.reserveCapacity(4096)
            var fd: Int32 = -1
            if persistent {
                fd = connectUnix(path, type: type)
            }
            ready.signal()
            go.wait()
            let start = startBox.value
            let measureFrom = start + UInt64(warmup * 1e9)
            let end = measureFrom + UInt64(seconds * 1e9)
            while true {
                let t0 = nowNanoseconds()
                if t0 >= end { break }
                var ok: Bool
                if persistent {
                    if fd < 0 { fd = connectUnix(path, type: type) }
                    ok = fd >= 0 && exchange.roundTrip(fd)
                    if !ok, fd >= 0 { close(fd); fd = -1 }
                } else {
                    let c = connectUnix(path, type: type)
                    ok = c >= 0 && exchange.roundTrip(c)
                    if c >= 0 { close(c) }
                    if c < 0, result.firstError.isEmpty { result.firstError = "connect: \(String(cString: strerror(-c)))" }
                }
                let t1 = nowNanoseconds()
                if t0 < measureFrom { continue }
                if ok {
                    result.latencies.append(t1 - t0)
                } else {
                    result.errors += 1
                    if result.firstError.isEmpty {
                        result.firstError = String(decoding: exchange.buffer.prefix(200).prefix { $0 != 0 }, as: UTF8.self)
                    }
                    usleep(1000)
                }
            }
            if fd >= 0 { close(fd) }
            done.leave()
        }
        thread.stackSize = 256 << 10
        thread.start()
    }
    for _ in 0..<clients { ready.wait() }
    startBox.value = nowNanoseconds()
    for _ in 0..<clients { go.signal() }
    done.wait()

    var all: [UInt64] = []
    var errors = 0
    var firstError = ""
    for result in results {
        all.append(contentsOf: result.latencies)
        errors += result.errors
        if firstError.isEmpty { firstError = result.firstError }
    }
    all.sort()
    let rps = Double(all.count) / seconds
    let mean = all.isEmpty ? 0 : Double(all.reduce(0, +)) / Double(all.count) / 1000
    let errorText = firstError.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
        .replacingOccurrences(of: "\n", with: " ")
    print(String(format: #"{"clients":%d,"mode":"%@","requests":%d,"errors":%d,"seconds":%.2f,"rps":%.1f,"#
                 + #""mean_us":%.1f,"p50_us":%.1f,"p90_us":%.1f,"p99_us":%.1f,"max_us":%.1f,"first_error":"%@"}"#,
                 clients, persistent ? "persistent" : "new", all.count, errors, seconds, rps, mean,
                 percentile(all, 50), percentile(all, 90), percentile(all, 99), percentile(all, 100), errorText))
}

final class Locked<T>: @unchecked Sendable {
    private var stored: T
    private let lock = NSLock()
    init(_ value: T) { stored = value }
    var value: T {
        get { lock.lock(); defer { lock.unlock() }; return stored }
        set { lock.lock(); stored = newValue; lock.unlock() }
    }
}

// MARK: store

func runStore(_ arguments: Arguments) {
    let directory = arguments.string("dir")
    let records = arguments.int("records", 10)
    let iterations = arguments.int("iterations", 20)
    let now = Int64(time(nil))
    func token(_ i: Int, _ kind: String) -> SecretBytes {
        // Tokens of realistic size: ~43 characters (GitHub, devserver) to ~1,000 (JWTs).
        SecretBytes(copying: "\(kind)-\(i)-" + String(repeating: "x", count: 40 + (i % 8) * 120))
    }
    let logins = (0..<records).map { i in
        StoredLogin(audience: "aud\(i)", issuer: "https://issuer\(i % 10).example.com", clientID: "client-\(i)",
                    refreshToken: token(i, "rt"), accessToken: token(i, "at"), accessTokenExpiry: now + 3600,
                    refreshTokenExpiry: now + 86_400, scopes: ["openid", "offline_access", "repo"], loginTime: now,
                    subject: "user\(i)")
    }
    var saveTimes: [UInt64] = [], loadTimes: [UInt64] = []
    do {
        let store = try TokenStore.open(directory: directory, keySource: .keyFile)
        _ = try store.load().logins
        try store.save(StoreContents(logins: logins))  // creates the key file once
        for _ in 0..<iterations {
            let t0 = nowNanoseconds()
            try store.save(StoreContents(logins: logins))
            saveTimes.append(nowNanoseconds() - t0)
        }
        // load() as the daemon does at start-up: open, read, decrypt, decode. A fresh TokenStore
        // each time would also re-take the lock; reading twice from one is the same work.
        for _ in 0..<iterations {
            let t0 = nowNanoseconds()
            let loaded = try store.load().logins
            loadTimes.append(nowNanoseconds() - t0)
            if loaded.count != records { fail("loaded \(loaded.count) records, expected \(records)") }
        }
    } catch {
        fail("store: \(error)")
    }
    saveTimes.sort()
    loadTimes.sort()
    var status = stat()
    let bytes = stat(directory + "/" + TokenStore.fileName, &status) == 0 ? Int(status.st_size) : -1
    print(String(format: #"{"records":%d,"iterations":%d,"file_bytes":%d,"save_p50_ms":%.3f,"save_p99_ms":%.3f,"#
                 + #""load_p50_ms":%.3f,"load_p99_ms":%.3f}"#,
                 records, iterations, bytes, percentile(saveTimes, 50) / 1000, percentile(saveTimes, 99) / 1000,
                 percentile(loadTimes, 50) / 1000, percentile(loadTimes, 99) / 1000))
}

// MARK: exec

func runExec(_ arguments: Arguments) {
    let runs = arguments.int("runs", 500)
    let warmup = arguments.int("warmup", 20)
    let input = arguments.string("stdin", "/dev/null")
    guard let program = arguments.rest.first else { fail("exec needs -- PROGRAM ARGS") }
    let argv: [UnsafeMutablePointer<CChar>?] = arguments.rest.map { strdup($0) } + [nil]
    var times: [UInt64] = []
    var failures = 0
    for run in 0..<(warmup + runs) {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        posix_spawn_file_actions_addopen(&actions, 0, input, O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        var pid: pid_t = 0
        let t0 = nowNanoseconds()
        let spawned = posix_spawnp(&pid, program, &actions, nil, argv, environ)
        var status: Int32 = 0
        if spawned == 0 { waitpid(pid, &status, 0) }
        let t1 = nowNanoseconds()
        posix_spawn_file_actions_destroy(&actions)
        if spawned != 0 { fail("cannot run \(program): \(String(cString: strerror(spawned)))") }
        if status != 0 { failures += 1 }
        if run >= warmup { times.append(t1 - t0) }
    }
    times.sort()
    let mean = Double(times.reduce(0, +)) / Double(max(times.count, 1)) / 1000
    print(String(format: #"{"command":"%@","runs":%d,"failures":%d,"mean_us":%.1f,"p50_us":%.1f,"p99_us":%.1f,"min_us":%.1f}"#,
                 arguments.rest.joined(separator: " ").replacingOccurrences(of: "\"", with: "'"), runs, failures, mean,
                 percentile(times, 50), percentile(times, 99), percentile(times, 0.0001)))
}

// MARK: main

func main() {
    let arguments = Arguments(CommandLine.arguments)
    signal(SIGPIPE, SIG_IGN)
    switch arguments.command {
    case "load": runLoad(arguments)
    case "store": runStore(arguments)
    case "exec": runExec(arguments)
    default: fail("usage: authd-loadgen load|store|exec [options] (see Sources/authd-loadgen/main.swift)")
    }
}

main()
