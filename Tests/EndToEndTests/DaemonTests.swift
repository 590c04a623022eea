// The daemon end to end: real authd and authd-devserver over loopback, raw protocol and authctl.
import Foundation
import Testing

private func requireBinaries() throws {
    try #require(Binaries.available, "built programs not found in \(Binaries.directory.path); run make build or set AUTHD_BIN_DIR")
}

/// Parses the final JSON line of a reply.
func finalAnswer(_ reply: String) -> [String: Any] {
    for line in reply.split(separator: "\n").reversed() {
        if let object = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any], object["ok"] != nil {
            return object
        }
    }
    return [:]
}

func getToken(_ daemon: DaemonUnderTest, _ audience: String = "demo", minValid: Int = 60,
                      interactive: Bool = true, timeout: TimeInterval = 60) throws -> String? {
    let reply = try SocketClient.exchange(daemon.socketPath,
        #"{"op":"get","audience":"\#(audience)","min_valid":\#(minValid),"interactive":\#(interactive)}"#, timeout: timeout)
    return finalAnswer(reply)["access_token"] as? String
}

@Suite(.serialized) struct DaemonTests {
    /// The command line is read before anything starts: a bad one is one line on stderr and
    /// status 2, with no socket bound and no state written.
    @Test func badCommandLineStopsBeforeStarting() throws {
        try requireBinaries()
        let dir = Scratch("authd-cli")
        let environment = ["HOME": dir.path("home"), "XDG_RUNTIME_DIR": dir.path("run"), "AUTHD_STATE_DIR": dir.path("state"),
                           "AUTHD_CONFIG": dir.path("none.toml"), "PATH": "/usr/bin:/bin"]
        for (arguments, message) in [(["--max-connections", "many"], "authd: option --max-connections needs a whole number above 0, not 'many'; see: authd --help\n"),
                                     (["--sokcet", "/x"], "authd: unknown option '--sokcet'; see: authd --help\n")] {
            let result = try Command.run(Binaries.path("authd"), arguments, environment: environment, timeout: 20)
            #expect(result.status == 2)
            #expect(result.stderr == message)
            #expect(result.stdout.isEmpty)
        }
        #expect(!FileManager.default.fileExists(atPath: dir.path("run")))
        #expect(!FileManager.default.fileExists(atPath: dir.path("state")))
        let version = try Command.run(Binaries.path("authd"), ["--version"], environment: environment, timeout: 20)
        #expect(version.status == 0 && version.stdout.hasPrefix("0.") && version.stdout.hasSuffix("\n"))
        let help = try Command.run(Binaries.path("authd"), ["--help"], environment: environment, timeout: 20)
        #expect(help.status == 0 && help.stdout.hasPrefix("usage: authd "))
    }

    @Test func deviceFlowThenCacheThenNoTokenInLogs() async throws {
        try await offPoolValue {
            try requireBinaries()
            let scratch = Scratch("flow")
            let server = try DevServer(scratch, arguments: ["--interval", "1", "--auto-approve"])
            let daemon = try DaemonUnderTest(scratch, config: demoConfig(server.baseURL))
            try daemon.start()
            let reply = try SocketClient.exchange(daemon.socketPath, #"{"op":"get","audience":"demo","interactive":true}"#)
            #expect(reply.contains(#""event":"prompt""#))
            let token = try #require(finalAnswer(reply)["access_token"] as? String)
            #expect(try server.isActive(token))
            // Served again from cache: no new device authorization.
            #expect(try getToken(daemon, interactive: false) == token)
            #expect(server.requests(endpoint: "device_authorization").count == 1)
            // Nobody to prompt for an unknown login: answered at once.
            let status = finalAnswer(try SocketClient.exchange(daemon.socketPath, #"{"op":"status"}"#))
            let rows = try #require(status["audiences"] as? [[String: Any]])
            #expect(rows.first?["state"] as? String == "valid")
            daemon.stop()
            #expect(!daemon.allLogs.contains(token), "daemon log contains the access token")
            #expect(daemon.allLogs.contains("token_served"))
        }
    }

    @Test func fiftyConcurrentGetsCauseOneDeviceAuthorization() async throws {
        try await offPoolValue {
            try requireBinaries()
            let scratch = Scratch("fifty")
            let server = try DevServer(scratch, arguments: ["--interval", "1", "--auto-approve-after", "2s"])
            let daemon = try DaemonUnderTest(scratch, config: demoConfig(server.baseURL))
            try daemon.start()
            // Fifty connections, every request sent before any answer is read: truly concurrent.
            var connections: [Int32] = []
            for _ in 0..<50 {
                let fd = try SocketClient.connect(daemon.socketPath)
                try SocketClient.send(fd, Array(#"{"op":"get","audience":"demo","interactive":true}"#.utf8 + [0x0A]))
                connections.append(fd)
            }
            var tokens: [String] = []
            for fd in connections {
                if let token = finalAnswer(try SocketClient.readUntilFinal(fd, timeout: 60))["access_token"] as? String {
                    tokens.append(token)
                }
                close(fd)
            }
            #expect(tokens.count == 50)
            #expect(Set(tokens).count == 1)
            #expect(server.requests(endpoint: "device_authorization").count == 1)
            daemon.stop()
            for token in Set(tokens) { #expect(!daemon.allLogs.contains(token)) }
        }
    }

    @Test func noPersonToPromptFailsAtOnce() async throws {
        try await offPoolValue {
            try requireBinaries()
            let scratch = Scratch("noprompt")
            let server = try DevServer(scratch, arguments: ["--interval", "1"])
            let daemon = try DaemonUnderTest(scratch, config: demoConfig(server.baseURL))
            try daemon.start()
            let started = Date()
            let answer = finalAnswer(try SocketClient.exchange(daemon.socketPath, #"{"op":"get","audience":"demo"}"#))
            #expect(answer["error"] as? String == "login_needed")
            #expect((answer["hint"] as? String)?.contains("authctl login demo") == true)
            // "At once": not after waiting for a device flow (whose codes last 600 s) or a timeout.
            #expect(Date().timeIntervalSince(started) < Bounds.atOnce)
            #expect(server.requests(endpoint: "device_authorization").isEmpty)
        }
    }

    @Test func refreshAheadOfExpiryRotatesAndSurvivesRestartAndKill() async throws {
        try await offPoolValue {
            try requireBinaries()
            let scratch = Scratch("refresh")
            let server = try DevServer(scratch, arguments: ["--interval", "1", "--auto-approve", "--access-token-ttl", "4"])
            let daemon = try DaemonUnderTest(scratch, config: demoConfig(server.baseURL))
            try daemon.start()
            let first = try #require(try getToken(daemon, minValid: 1))
            // Lifetime 4 s, margin capped at half: a refresh runs about 2 s after issuance, unprompted.
            _ = Bounds.waitUntil { !server.requests.filter({ ($0["grant_type"] as? String) == "refresh_token" }).isEmpty }
            let refreshes = server.requests.filter { ($0["grant_type"] as? String) == "refresh_token" }
            #expect(!refreshes.isEmpty, "no scheduled refresh reached the provider")
            // The provider answering is not yet the daemon installing: wait until the rotated token is served.
            var second: String?
            _ = try Bounds.waitUntil {
                second = try getToken(daemon, minValid: 1, interactive: false)
                return second != nil && second != first
            }
            let rotated = try #require(second)
            #expect(rotated != first)

            // A clean stop (which waits for a refresh in flight) keeps the rotated login across a restart.
            daemon.stop()
            try daemon.start()
            let third = try #require(try getToken(daemon, minValid: 1, interactive: false))
            #expect(try server.isActive(third))
            #expect(server.requests(endpoint: "device_authorization").count == 1)
            daemon.stop()
            for token in [first, rotated, third] { #expect(!daemon.allLogs.contains(token)) }
        }
    }

    @Test func sigkillKeepsTheAcknowledgedLogin() async throws {
        try await offPoolValue {
            try requireBinaries()
            // Long-lived tokens, so no refresh is in flight when the daemon is killed (that window is
            // exercised by FaultAndLoadTests' kill loop).
            let scratch = Scratch("kill")
            let server = try DevServer(scratch, arguments: ["--interval", "1", "--auto-approve"])
            let daemon = try DaemonUnderTest(scratch, config: demoConfig(server.baseURL))
            try daemon.start()
            let first = try #require(try getToken(daemon))
            daemon.kill9()
            try daemon.start()
            #expect(try getToken(daemon, interactive: false) == first)
            #expect(server.requests(endpoint: "device_authorization").count == 1)
        }
    }

    @Test func aHangingProviderDoesNotDelayOtherAudiences() async throws {
        try await offPoolValue {
            try requireBinaries()
            let scratch = Scratch("hang")
            let good = try DevServer(scratch, arguments: ["--interval", "1", "--auto-approve"])
            // A listener that accepts and never answers.
            // Kept alive for the whole test: its request log is read below (a dropped Scratch deletes it).
            let hangScratch = Scratch("hang2")
            let hanging = try DevServer(hangScratch, arguments: ["--fault", "stall@all"])
            let config = demoConfig(good.baseURL, audience: "fast") + """
                [audience.slow]
                device_authorization_endpoint = "\(hanging.baseURL)/device_authorization"
                token_endpoint = "\(hanging.baseURL)/token"
                client_id = "authctl-test"

                """
            let daemon = try DaemonUnderTest(scratch, config: config)
            try daemon.start()
            _ = try #require(try getToken(daemon, "fast"))
            let slowFinished = Locked(false)
            Thread {
                _ = try? SocketClient.exchange(daemon.socketPath, #"{"op":"get","audience":"slow","interactive":true}"#, timeout: 120)
                slowFinished.set(true)
            }.start()
            // The stalled request has reached the provider (instead of a fixed pause that hopes so).
            #expect(Bounds.waitUntil { !hanging.requests(endpoint: "device_authorization").isEmpty }, "the slow request never reached its provider")
            // The bound is the stall itself: every fast answer comes while the slow request still waits
            // (for the provider's 30 s timeout), so none of them waited behind it.
            for i in 0..<20 {
                #expect(try getToken(daemon, "fast", interactive: false) != nil)
                #expect(!slowFinished.get(), "fast request \(i) was answered only after the stalled one ended")
            }
        }
    }

    @Test func badClientsDoNotStopTheDaemonServingOthers() async throws {
        try await offPoolValue {
            try requireBinaries()
            let scratch = Scratch("bad")
            let server = try DevServer(scratch, arguments: ["--interval", "1", "--auto-approve"])
            let daemon = try DaemonUnderTest(scratch, config: demoConfig(server.baseURL))
            daemon.arguments = ["--request-timeout", "2"]
            try daemon.start()
            _ = try #require(try getToken(daemon))

            // Malformed and unknown requests get an error answer on a connection that stays usable.
            let fd = try SocketClient.connect(daemon.socketPath)
            try SocketClient.send(fd, Array("this is not json\n".utf8))
            #expect(try SocketClient.readUntilFinal(fd, timeout: 5).contains(#""error":"bad_request""#))
            try SocketClient.send(fd, Array(#"{"op":"fly"}"#.utf8 + [0x0A]))
            #expect(try SocketClient.readUntilFinal(fd, timeout: 5).contains(#""error":"bad_request""#))
            try SocketClient.send(fd, Array(#"{"op":"version"}"#.utf8 + [0x0A]))
            #expect(try SocketClient.readUntilFinal(fd, timeout: 5).contains(#""protocol":1"#))
            close(fd)

            // Oversized: an error line, then the connection is closed.
            let big = try SocketClient.connect(daemon.socketPath)
            try? SocketClient.send(big, [UInt8](repeating: 0x41, count: 70_000))
            #expect(try SocketClient.readUntilFinal(big, timeout: 5).contains("longer than"))
            close(big)

            // Half-sent and idle connections are closed after the request timeout.
            var idle: [Int32] = []
            for i in 0..<20 {
                let c = try SocketClient.connect(daemon.socketPath)
                if i % 2 == 0 { try SocketClient.send(c, Array(#"{"op":"sta"#.utf8)) }
                idle.append(c)
            }
            // Meanwhile others are served at once.
            #expect(try getToken(daemon, interactive: false) != nil)
            // Each is closed once the 2 s request timeout passes; 30 s is only the ceiling of the wait.
            for c in idle {
                var buffer = [UInt8](repeating: 0, count: 16)
                var pfd = pollfd(fd: c, events: Int16(POLLIN), revents: 0)
                #expect(poll(&pfd, 1, 30_000) == 1)
                #expect(read(c, &buffer, 16) == 0, "idle connection was not closed")
                close(c)
            }
            #expect(try getToken(daemon, interactive: false) != nil)
            #expect(daemon.running?.isRunning == true)
        }
    }

    @Test(.enabled(if: getuid() == 0, "needs root to create another user and run a client as it"))
    func anotherUserIsRefusedAndAudited() async throws {
        try await offPoolValue {
            try requireBinaries()
            let scratch = Scratch("peer")
            let server = try DevServer(scratch, arguments: ["--interval", "1", "--auto-approve"])
            let daemon = try DaemonUnderTest(scratch, config: demoConfig(server.baseURL))
            try daemon.start()
            let user = "authdpeer\(Int.random(in: 1000...9999))"
            #expect(try Command.run("/usr/sbin/useradd", ["-M", "-s", "/usr/sbin/nologin", user]).status == 0)
            defer { _ = try? Command.run("/usr/sbin/userdel", [user]) }
            // Open the path to everyone so that the daemon's own peer check is what refuses.
            for path in [scratch.root.path, scratch.path("run"), scratch.path("run/authd")] { chmod(path, 0o755) }
            chmod(daemon.socketPath, 0o777)
            let script = """
                import socket,sys
                s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
                try: s.sendall(b'{"op":"get","audience":"demo"}\\n')
                except OSError: pass  # the daemon may already have refused and closed
                print(s.recv(4096).decode())
                """
            let result = try Command.run("/usr/bin/setpriv", ["--reuid=\(user)", "--regid=\(user)", "--clear-groups",
                                                              "/usr/bin/python3", "-c", script, daemon.socketPath])
            #expect(result.stdout.contains(#""error":"refused""#), "stdout: \(result.stdout) stderr: \(result.stderr)")
            #expect(!result.stdout.contains("access_token"))
            daemon.stop()
            #expect(daemon.allLogs.contains("client_refused"))
        }
    }
}

/// Counts plaintext copies of `needle` in a process's readable memory (root only: /proc/PID/mem).
func plaintextCopies(of needle: String, inProcess pid: Int32) throws -> Int {
    let maps = try String(contentsOfFile: "/proc/\(pid)/maps", encoding: .utf8)
    let memory = open("/proc/\(pid)/mem", O_RDONLY)
    guard memory >= 0 else { throw HarnessError("cannot open /proc/\(pid)/mem: errno \(errno)") }
    defer { close(memory) }
    let pattern = Array(needle.utf8)
    var count = 0
    for line in maps.split(separator: "\n") {
        let fields = line.split(separator: " ", omittingEmptySubsequences: true)
        guard fields.count >= 2, fields[1].hasPrefix("r") else { continue }
        let range = fields[0].split(separator: "-")
        guard range.count == 2, let start = UInt64(range[0], radix: 16), let end = UInt64(range[1], radix: 16) else { continue }
        if fields.count >= 6, fields[5].hasPrefix("[vvar") || fields[5].hasPrefix("[vsyscall") { continue }
        var offset = start
        let chunk = 1 << 20
        var carry: [UInt8] = []
        while offset < end {
            let size = Int(min(UInt64(chunk), end - offset))
            var buffer = [UInt8](repeating: 0, count: size)
            let n = buffer.withUnsafeMutableBytes { pread(memory, $0.baseAddress, size, off_t(Int64(bitPattern: offset))) }
            if n <= 0 { break }
            let window = carry + buffer[0..<n]
            count += occurrences(of: pattern, in: window)
            carry = Array(window.suffix(pattern.count - 1))
            // Matches wholly inside the carried tail are counted again next round: subtract them.
            count -= occurrences(of: pattern, in: carry)
            offset += UInt64(n)
        }
    }
    return count
}

private func occurrences(of pattern: [UInt8], in haystack: [UInt8]) -> Int {
    guard pattern.count <= haystack.count, let first = pattern.first else { return 0 }
    var count = 0
    var i = 0
    let last = haystack.count - pattern.count
    while i <= last {
        if haystack[i] == first, haystack[i..<(i + pattern.count)].elementsEqual(pattern) { count += 1; i += pattern.count } else { i += 1 }
    }
    return count
}

@Suite(.serialized) struct DaemonMemoryTests {
    @Test(.enabled(if: getuid() == 0, "reading another process's memory needs root"))
    func servedTokensDoNotLingerInDaemonMemory() async throws {
        try await offPoolValue {
            try #require(Binaries.available)
            let scratch = Scratch("memory")
            let server = try DevServer(scratch, arguments: ["--interval", "1", "--auto-approve"])
            let daemon = try DaemonUnderTest(scratch, config: demoConfig(server.baseURL))
            if let tunables = ProcessInfo.processInfo.environment["AUTHD_TEST_TUNABLES"] { daemon.extraEnvironment["GLIBC_TUNABLES"] = tunables }
            try daemon.start()
            let token = try #require(try getToken(daemon))
            for _ in 0..<5 { _ = try getToken(daemon, interactive: false) }
            sleep(1)
            let pid = try #require(daemon.running?.pid)
            let copies = try plaintextCopies(of: token, inProcess: pid)
            print("plaintext copies of a served token in authd's memory one second after serving: \(copies)")
            #expect(copies == 0)
            // The scanner is real: the provider, which keeps its issued tokens, has the token in memory.
            #expect(try plaintextCopies(of: token, inProcess: server.running.pid) > 0)
        }
    }
}
