// The socket front against hostile clients: shared connections, exec tricks, mount namespaces, deleted programs, non-readers, fake listeners.
import AuthdPosix
import Foundation
import Testing

private func requireBinaries() throws {
    try #require(Binaries.available, "built programs not found in \(Binaries.directory.path); run make build or set AUTHD_BIN_DIR")
}

/// The real file `/usr/bin/python3` runs (the daemon compares files, the old code compared this path).
private let pythonExecutable = URL(fileURLWithPath: "/usr/bin/python3").resolvingSymlinksInPath().path

private func python(_ scratch: Scratch, _ name: String, _ script: String, _ arguments: [String],
                    executable: String = "/usr/bin/python3") throws -> Command.Result {
    try scratch.write(name, script)
    return try Command.run(executable, [scratch.path(name)] + arguments, timeout: 30)
}

private func vmRSSKilobytes(_ pid: Int32) -> Int? {
    guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
    for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
        return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
    }
    return nil
}

@Suite(.serialized) struct SocketFrontTests {
    /// A daemon with `demo` (no policy) and `locked` (allowed_clients = `allowed`).
    private func daemon(_ name: String, allowed: [String]) throws -> (Scratch, DevServer, DaemonUnderTest) {
        let scratch = Scratch(name)
        let server = try DevServer(scratch, arguments: ["--interval", "1", "--auto-approve"])
        let list = allowed.map { "\"\($0)\"" }.joined(separator: ", ")
        let daemon = try DaemonUnderTest(scratch, config: demoConfig(server.baseURL)
            + demoConfig(server.baseURL, audience: "locked", extra: "allowed_clients = [\(list)]"))
        try daemon.start()
        return (scratch, server, daemon)
    }

    @Test("connect, fork, parent execs an allowed program, child sends get: refused")
    func forkThenExecIsRefused() async throws {
        try await offPoolValue {
            try requireBinaries()
            let (scratch, _, daemon) = try daemon("fork-exec", allowed: ["/usr/bin/sleep"])
            let script = """
                import os, socket, sys, time
                s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
                if os.fork() > 0:
                    os.execv("/usr/bin/sleep", ["sleep", "2"])
                parent = os.getppid()
                for _ in range(300):
                    try:
                        if os.readlink("/proc/%d/exe" % parent) == "/usr/bin/sleep": break
                    except OSError: pass
                    time.sleep(0.01)
                s.sendall(b'{"op":"get","audience":"locked"}\\n')
                print(s.recv(65536).decode(), flush=True)
                """
            for _ in 0..<3 {
                let result = try python(scratch, "fork-exec.py", script, [daemon.socketPath])
                #expect(result.stdout.contains(#""error":"refused""#), "stdout: \(result.stdout) stderr: \(result.stderr)")
                #expect(!result.stdout.contains("access_token"))
            }
            daemon.stop()
            // The audit names the process that sent the request, not the allowed program.
            #expect(daemon.allLogs.contains(#""client_exe":"\#(pythonExecutable)""#), "\(daemon.allLogs)")
            #expect(!daemon.allLogs.contains(#""client_exe":"/usr/bin/sleep""#))
        }
    }

    @Test("an allowed process that was checked hands its connection to another program: the request is refused")
    func handedOverConnectionIsRefused() async throws {
        try await offPoolValue {
            try requireBinaries()
            let (scratch, _, daemon) = try daemon("hand-over", allowed: [pythonExecutable])
            let script = """
                import os, socket, sys
                s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
                s.sendall(b'{"op":"get","audience":"locked"}\\n')
                print("own:", s.recv(65536).decode().strip(), flush=True)
                fd = s.fileno(); os.set_inheritable(fd, True)
                pid = os.fork()
                if pid == 0:
                    os.dup2(fd, 3)
                    os.execv("/bin/sh", ["sh", "-c", 'printf "%s\\\\n" \\'{"op":"get","audience":"locked"}\\' >&3; read -r line <&3; echo "other: $line"'])
                os.waitpid(pid, 0)
                """
            let result = try python(scratch, "hand-over.py", script, [daemon.socketPath])
            let lines = result.stdout.split(separator: "\n")
            // python itself is allowed (nobody is logged in, so it is told so) ...
            #expect(lines.first?.contains(#""error":"login_needed""#) == true, "stdout: \(result.stdout) stderr: \(result.stderr)")
            // ... the shell writing on python's connection is not.
            #expect(lines.last?.hasPrefix("other: ") == true && lines.last?.contains(#""error":"refused""#) == true,
                    "stdout: \(result.stdout) stderr: \(result.stderr)")
        }
    }

    @Test("a request line written by two processes is refused under policy, served without")
    func lineFromTwoWriters() async throws {
        try await offPoolValue {
            try requireBinaries()
            let (scratch, _, daemon) = try daemon("two-writers", allowed: [pythonExecutable])
            let script = """
                import os, socket, sys
                s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
                s.sendall(b'{"op":"get",')
                pid = os.fork()
                if pid == 0:
                    s.sendall(('"audience":"%s"}\\n' % sys.argv[2]).encode()); os._exit(0)
                os.waitpid(pid, 0)
                print(s.recv(65536).decode().strip(), flush=True)
                """
            let locked = try python(scratch, "two.py", script, [daemon.socketPath, "locked"])
            #expect(locked.stdout.contains(#""error":"refused""#) && locked.stdout.contains("more than one process"),
                    "stdout: \(locked.stdout) stderr: \(locked.stderr)")
            let open = try python(scratch, "two.py", script, [daemon.socketPath, "demo"])
            #expect(open.stdout.contains(#""error":"login_needed""#), "stdout: \(open.stdout) stderr: \(open.stderr)")
        }
    }

    @Test("another program bind-mounted over an allowed path in a private mount namespace: refused",
          .enabled(if: getuid() == 0, "needs root for unshare -m and mount --bind"))
    func bindMountOverAllowedPath() async throws {
        try await offPoolValue {
            try requireBinaries()
            let probe = try Command.run("/usr/bin/unshare", ["-m", "/bin/sh", "-c", "mount --bind /usr/bin/true /usr/bin/sleep"])
            guard probe.status == 0 else {
                print("skipped: unshare -m with mount --bind is not possible here: \(probe.stderr)")
                return
            }
            let (scratch, _, daemon) = try daemon("bind-mount", allowed: ["/usr/bin/sleep"])
            try scratch.write("mounted.py", """
                import socket, sys
                s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
                s.sendall(b'{"op":"get","audience":"locked"}\\n')
                print(s.recv(65536).decode(), flush=True)
                """)
            // python runs as /usr/bin/sleep in its namespace: readlink /proc/PID/exe says /usr/bin/sleep.
            let result = try Command.run("/usr/bin/unshare", ["-m", "/bin/sh", "-c",
                "mount --bind \(pythonExecutable) /usr/bin/sleep && exec /usr/bin/sleep \"$0\" \"$1\"",
                scratch.path("mounted.py"), daemon.socketPath])
            #expect(result.stdout.contains(#""error":"refused""#), "stdout: \(result.stdout) stderr: \(result.stderr)")
            #expect(!result.stdout.contains("access_token"))
        }
    }

    @Test("a program deleted while it runs matches no allowed_clients glob")
    func deletedExecutableIsRefused() async throws {
        try await offPoolValue {
            try requireBinaries()
            let scratch = Scratch("deleted")
            try FileManager.default.createDirectory(atPath: scratch.path("allowed"), withIntermediateDirectories: true)
            let copy = scratch.path("allowed/py")
            try FileManager.default.copyItem(atPath: pythonExecutable, toPath: copy)
            let server = try DevServer(scratch, arguments: ["--interval", "1", "--auto-approve"])
            let daemon = try DaemonUnderTest(scratch, config: demoConfig(server.baseURL, audience: "locked",
                                                                         extra: #"allowed_clients = ["\#(scratch.path("allowed"))/*"]"#))
            try daemon.start()
            let script = """
                import os, socket, sys
                if sys.argv[2] == "delete": os.unlink(sys.argv[3])
                s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
                s.sendall(b'{"op":"get","audience":"locked"}\\n')
                print(s.recv(65536).decode(), flush=True)
                """
            // The copy is allowed while it exists (nobody is logged in, so it is told so) ...
            let kept = try python(scratch, "deleted.py", script, [daemon.socketPath, "keep", copy], executable: copy)
            #expect(kept.stdout.contains(#""error":"login_needed""#), "stdout: \(kept.stdout) stderr: \(kept.stderr)")
            // ... and refused once deleted under it.
            let deleted = try python(scratch, "deleted.py", script, [daemon.socketPath, "delete", copy], executable: copy)
            #expect(deleted.stdout.contains(#""error":"refused""#) && deleted.stdout.contains("deleted"),
                    "stdout: \(deleted.stdout) stderr: \(deleted.stderr)")
        }
    }

    @Test("a client that pipelines requests and never reads stops being read; memory stays bounded; others are served")
    func pipeliningNonReaderIsBounded() async throws {
        try await offPoolValue {
            try requireBinaries()
            let (_, _, daemon) = try daemon("pipeline", allowed: ["/usr/bin/sleep"])
            let pid = try #require(daemon.running?.pid)
            _ = try SocketClient.exchange(daemon.socketPath, #"{"op":"status"}"#)
            let before = try #require(vmRSSKilobytes(pid))
            let hog = try SocketClient.connect(daemon.socketPath)
            defer { close(hog) }
            _ = fcntl(hog, F_SETFL, fcntl(hog, F_GETFL) | O_NONBLOCK)
            // 100,000 status requests, one write each (so every request the daemon takes frees room for
            // the next write): unbounded reading takes them all and keeps every answer.
            let line = Array((#"{"op":"status"}"# + "\n").utf8)
            let total = 100_000 * line.count
            var written = 0
            var lastProgress = Date()
            while written < total, Date().timeIntervalSince(lastProgress) < 3 {
                let offset = written % line.count
                let n = line[offset...].withUnsafeBytes { Foundation.write(hog, $0.baseAddress, $0.count) }
                if n > 0 {
                    written += n
                    lastProgress = Date()
                } else {
                    var pfd = pollfd(fd: hog, events: Int16(POLLOUT), revents: 0)
                    _ = poll(&pfd, 1, 200)
                }
            }
            #expect(written < total, "the daemon kept reading from a client that never reads its replies")
            let during = try #require(vmRSSKilobytes(pid))
            #expect(during - before < 32 * 1024, "daemon RSS grew from \(before) kB to \(during) kB")
            // Others are still served while the hog is connected.
            #expect(try SocketClient.exchange(daemon.socketPath, #"{"op":"version"}"#).contains(#""ok":true"#))
            close(hog)
            #expect(try SocketClient.exchange(daemon.socketPath, #"{"op":"version"}"#).contains(#""ok":true"#))
            print("pipelining non-reader: \(written) bytes accepted; VmRSS \(before) kB before, \(during) kB during")
        }
    }

    @Test("authctl refuses a socket served by another uid before sending anything or showing a prompt",
          .enabled(if: getuid() == 0, "needs root to create another user and listen as it"))
    func clientRefusesForeignListener() async throws {
        try await offPoolValue {
            try requireBinaries()
            let scratch = Scratch("foreign-listener")
            let user = "authdfake\(Int.random(in: 1000...9999))"
            #expect(try Command.run("/usr/sbin/useradd", ["-M", "-s", "/usr/sbin/nologin", user]).status == 0)
            defer { _ = try? Command.run("/usr/sbin/userdel", [user]) }
            let shared = scratch.path("shared")
            try FileManager.default.createDirectory(atPath: shared, withIntermediateDirectories: true)
            for path in [scratch.root.path, shared] { chmod(path, 0o777) }
            // A phishing listener: anything sent to it is recorded; it answers with a fake prompt.
            try scratch.write("fake.py", """
                import os, socket, sys
                path, record = sys.argv[1], sys.argv[2]
                l = socket.socket(socket.AF_UNIX); l.bind(path); os.chmod(path, 0o777); l.listen(8)
                open(record + ".ready", "w").close()
                c, _ = l.accept()
                got = b""
                try:
                    # The client may have refused and closed before this accept.
                    c.sendall(b'{"event":"prompt","verification_uri":"https://phish.example/device","user_code":"ATTACKER1"}\\n')
                    c.settimeout(3)
                    while True:
                        b = c.recv(65536)
                        if not b: break
                        got += b
                except Exception: pass
                open(record, "w").write(str(len(got)))
                """, mode: 0o644)
            let socketPath = shared + "/sock"
            let record = shared + "/received"
            let listener = try RunningProcess(executable: "/usr/bin/setpriv",
                                              arguments: ["--reuid=\(user)", "--regid=\(user)", "--clear-groups",
                                                          "/usr/bin/python3", scratch.path("fake.py"), socketPath, record],
                                              environment: [:], stderrPath: scratch.path("fake.log"), captureStdout: false)
            defer { listener.stop() }
            for _ in 0..<500 where !FileManager.default.fileExists(atPath: record + ".ready") { usleep(10_000) }
            let daemon = try DaemonUnderTest(scratch, config: demoConfig("http://127.0.0.1:1"))
            let result = try daemon.client("authctl", ["get", "demo", "--interactive"], extraEnvironment: ["AUTHD_SOCKET": socketPath])
            #expect(result.status == 6, "stdout: \(result.stdout) stderr: \(result.stderr)")
            #expect(result.stderr.contains("is served by uid"), "\(result.stderr)")
            #expect(!result.stderr.contains("ATTACKER1") && !result.stdout.contains("ATTACKER1"))
            #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
            _ = listener.waitForExit(timeout: 10)
            #expect((try? String(contentsOfFile: record, encoding: .utf8)) == "0", "the client sent something to the foreign listener")
        }
    }

    @Test("a daemon that refuses and closes before the request is written: the client reports the refusal (exit 6)")
    func refusalBeforeTheRequestIsWritten() async throws {
        try await offPoolValue {
            try requireBinaries()
            let scratch = Scratch("early-refusal")
            // Same uid, so the client's listener check passes; it answers every connection with a
            // refusal and closes without reading, as authd does for a peer of another uid.
            try scratch.write("refuser.py", """
                import os, socket, sys
                path = sys.argv[1]
                l = socket.socket(socket.AF_UNIX); l.bind(path); l.listen(64)
                open(path + ".ready", "w").close()
                while True:
                    c, _ = l.accept()
                    try: c.sendall(b'{"ok":false,"error":"refused","message":"refused: this authd serves uid 4242 only","hint":"run authctl as the user who owns the daemon"}\\n')
                    except OSError: pass
                    c.close()
                """)
            let socketPath = scratch.path("refuser.sock")
            let refuser = try RunningProcess(executable: "/usr/bin/python3", arguments: [scratch.path("refuser.py"), socketPath],
                                             environment: [:], stderrPath: scratch.path("refuser.log"), captureStdout: false)
            defer { refuser.stop() }
            for _ in 0..<500 where !FileManager.default.fileExists(atPath: socketPath + ".ready") { usleep(10_000) }
            let daemon = try DaemonUnderTest(scratch, config: demoConfig("http://127.0.0.1:1"))
            // Whether the refuser closes before authctl writes is a race (AuthdClientTests forces it);
            // every outcome must be the refusal.
            let audience = "demo"
            var statuses: [Int32] = []
            for _ in 0..<10 {
                let result = try daemon.client("authctl", ["get", audience], extraEnvironment: ["AUTHD_SOCKET": socketPath])
                statuses.append(result.status)
                #expect(result.stderr.contains("serves uid 4242 only"), "\(result.stderr)")
            }
            #expect(statuses.allSatisfy { $0 == 6 }, "\(statuses)")
        }
    }
}
