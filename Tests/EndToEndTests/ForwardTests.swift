// Restricted forwarding sockets end to end: through a real sshd (ssh -R), TTL and --close, and abuse through a forward.
import AuthdPosix
import Foundation
import Testing

/// A daemon with `demo` (logged in through the devserver's auto-approval), `other` (never logged
/// in) and `third`, and a git repository served by the devserver.
private final class ForwardKit: @unchecked Sendable {
    let scratch: Scratch
    let server: DevServer
    let daemon: DaemonUnderTest

    init(_ name: String) throws {
        scratch = Scratch(name)
        let root = scratch.path("repos")
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let initialise = try Command.run("/usr/bin/git", ["-c", "init.defaultBranch=main", "init", "--bare", "-q", root + "/repo.git"])
        guard initialise.status == 0 else { throw HarnessError("git init: \(initialise.stderr)") }
        server = try DevServer(scratch, arguments: ["--interval", "1", "--auto-approve", "0", "--git-root", root])
        daemon = try DaemonUnderTest(scratch, config: demoConfig(server.baseURL)
            + demoConfig(server.baseURL, audience: "other") + demoConfig(server.baseURL, audience: "third"))
        try daemon.start()
        let login = try daemon.client("authctl", ["get", "demo", "--interactive"])
        guard login.status == 0 else { throw HarnessError("login: \(login.stderr)") }
    }

    /// `authctl forward ARGS --json` on the daemon's machine: the forward's id and socket.
    func open(_ arguments: [String]) throws -> (id: String, socket: String) {
        let result = try daemon.client("authctl", ["forward", "--json"] + arguments)
        guard result.status == 0, let json = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any],
              let id = json["id"] as? String, let socket = json["socket"] as? String else {
            throw HarnessError("authctl forward: \(result.status) \(result.stdout) \(result.stderr)")
        }
        return (id, socket)
    }

    /// A client on the "remote" side: only AUTHD_SOCKET names the forward.
    func remote(_ program: String, _ arguments: [String], socket: String) throws -> Command.Result {
        try daemon.client(program, arguments, extraEnvironment: ["AUTHD_SOCKET": socket])
    }

    var openDescriptors: Int {
        guard let pid = daemon.running?.pid else { return -1 }
        return (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? -1
    }
}

private func stackAvailable() -> Bool { realStackAvailable() }

@Suite("restricted forwarding sockets", .enabled(if: stackAvailable()), .serialized)
struct ForwardTests {
    @Test("a forward serves its audiences only, ends at its TTL (socket gone, connections closed, 'ended' on exit 5), and --close ends one at once")
    func lifetime() async throws {
        try await offPoolValue {
            let kit = try ForwardKit("fwd-ttl")
            // The daemon's descriptors once it serves, before any forward.
            _ = try SocketClient.exchange(kit.daemon.socketPath, #"{"op":"version"}"#)
            let descriptorsBefore = kit.openDescriptors

            let forward = try kit.open(["--audiences", "demo", "--ttl", "2"])
            #expect(forward.socket.hasSuffix("/forward-\(forward.id).sock"))
            let mode = try FileManager.default.attributesOfItem(atPath: forward.socket)[.posixPermissions] as? Int
            #expect(mode == 0o600)

            let token = try kit.remote("authctl", ["get", "demo"], socket: forward.socket)
            #expect(token.status == 0, "\(token.stderr)")
            #expect(!token.stdout.isEmpty)
            let status = try kit.remote("authctl", ["status", "--json"], socket: forward.socket)
            #expect(status.status == 0)
            #expect(status.stdout.contains(#""audience":"demo""#) && !status.stdout.contains(#""audience":"other""#), "\(status.stdout)")
            let version = try SocketClient.exchange(forward.socket, #"{"op":"version"}"#)
            #expect(version.contains(#""forward":"\#(forward.id)""#), "\(version)")

            // A connection held open across the end is closed by the daemon.
            let held = try SocketClient.connect(forward.socket)
            defer { close(held) }
            #expect(Bounds.waitUntil { !FileManager.default.fileExists(atPath: forward.socket) }, "the forward's socket outlived its TTL")
            var byte: UInt8 = 0
            var pfd = pollfd(fd: held, events: Int16(POLLIN), revents: 0)
            #expect(poll(&pfd, 1, Int32(Bounds.atOnce * 1000)) == 1)
            #expect(read(held, &byte, 1) == 0, "the held connection is not closed")

            let ended = try kit.remote("authctl", ["get", "demo"], socket: forward.socket)
            #expect(ended.status == 5)
            #expect(ended.stderr.contains("the authd forward at \(forward.socket) has ended"), "\(ended.stderr)")
            // The ended forward's path never starts a daemon (autostart is on by default).
            #expect(!FileManager.default.fileExists(atPath: forward.socket))
            let git = try kit.daemon.client("git-credential-authctl", ["get"], stdin: "url=\(kit.server.baseURL)/git/repo.git\n\n",
                                            extraEnvironment: ["AUTHD_SOCKET": forward.socket])
            #expect(git.status == 1 && git.stdout.isEmpty && git.stderr.contains("has ended"), "\(git.stderr)")
            #expect(!FileManager.default.fileExists(atPath: forward.socket))

            // --list and --close.
            let second = try kit.open(["--audiences", "demo,other"])
            let list = try kit.daemon.client("authctl", ["forward", "--list"])
            #expect(list.status == 0 && list.stdout.contains(second.id) && list.stdout.contains("demo,other"), "\(list.stdout)")
            let closed = try kit.daemon.client("authctl", ["forward", "--close", second.id])
            #expect(closed.status == 0, "\(closed.stderr)")
            #expect(!FileManager.default.fileExists(atPath: second.socket))
            let empty = try kit.daemon.client("authctl", ["forward", "--list", "--json"])
            #expect(empty.stdout == "{\"forwards\":[]}\n", "\(empty.stdout)")
            let again = try kit.daemon.client("authctl", ["forward", "--close", second.id])
            #expect(again.status == 2 && again.stderr.contains("no open forward with id \(second.id)"), "\(again.stderr)")

            // Back to the descriptors it had: the forwards' listeners and connections are all closed.
            // (At most: the count before may include the daemon's end of that version exchange, still closing.)
            #expect(Bounds.waitUntil { kit.openDescriptors <= descriptorsBefore }, "descriptors \(kit.openDescriptors), before \(descriptorsBefore)")

            // Audit: the forward's creation, what it served, and its end, each naming it.
            let logs = kit.daemon.allLogs
            let lines = logs.split(separator: "\n").filter { $0.contains(#""forward":"\#(forward.id)""#) }
            #expect(lines.contains { $0.contains(#""audit":"forward_opened""#) }, "\(logs)")
            #expect(lines.contains { $0.contains(#""audit":"token_served""#) }, "\(logs)")
            #expect(lines.contains { $0.contains(#""audit":"forward_ended""#) && $0.contains("its TTL passed") }, "\(logs)")
            #expect(logs.contains(#""audit":"forward_ended""#) && logs.contains("closed (authctl forward --close)"))
        }
    }

    @Test("abuse through a forward: oversized and malformed lines, excluded audiences, forward ops, 200 connections; the daemon is unaffected")
    func abuse() async throws {
        try await offPoolValue {
            let kit = try ForwardKit("fwd-abuse")
            let forward = try kit.open(["--audiences", "demo,other"])
            let big = try SocketClient.connect(forward.socket)
            defer { close(big) }
            // The daemon may close before the last bytes are written: the write's failure is not the point.
            try? SocketClient.send(big, [UInt8](repeating: 0x78, count: 70_000))
            let oversized = try SocketClient.readUntilFinal(big, timeout: Bounds.atOnce)
            #expect(oversized.contains(#""error":"bad_request""#) && oversized.contains("longer than"), "\(oversized.prefix(300))")
            let malformed = try SocketClient.exchange(forward.socket, #"{"op":"get","audience":"#)
            #expect(malformed.contains(#""error":"bad_request""#))
            for line in [#"{"op":"get","audience":"third"}"#, #"{"op":"logout","all":true}"#, #"{"op":"logout","audience":"demo"}"#,
                         #"{"op":"forward_open"}"#, #"{"op":"forward_list"}"#, #"{"op":"forward_close","id":"\#(forward.id)"}"#,
                         #"{"op":"erase","fingerprint":"00112233aabbccdd"}"#, #"{"op":"login","audience":"demo"}"#] {
                let reply = try SocketClient.exchange(forward.socket, line)
                #expect(reply.contains(#""error":"refused""#) && !reply.contains("access_token"), "\(line): \(reply)")
            }
            // git's helper on the remote side, with no config there: the daemon maps the URL, among the
            // forward's audiences only. Through a forward of "other" alone (all three claim the URL, demo
            // first), that is "other", which is not logged in: it says to log in where authd runs
            // (running authctl login on the remote host would be refused).
            let otherOnly = try kit.open(["--audiences", "other"])
            let helper = try kit.daemon.client("git-credential-authctl", ["get"], stdin: "url=\(kit.server.baseURL)/git/repo.git\n\n",
                                               extraEnvironment: ["AUTHD_SOCKET": otherOnly.socket, "AUTHD_CONFIG": kit.scratch.path("config/absent.toml"),
                                                                  "GIT_TERMINAL_PROMPT": "0"])
            #expect(helper.status == 1 && helper.stdout.isEmpty)
            #expect(helper.stderr.contains("login needed for other; on the machine where authd runs: authctl login other"), "\(helper.stderr)")

            // 200 connections at once, each asking for a version: every one answered, none refused for the forward.
            var connections: [Int32] = []
            defer { connections.forEach { close($0) } }
            for _ in 0..<200 {
                let fd = try SocketClient.connect(forward.socket)
                try SocketClient.send(fd, Array(#"{"op":"version"}"#.utf8 + [0x0A]))
                connections.append(fd)
            }
            for fd in connections {
                let reply = try SocketClient.readUntilFinal(fd, timeout: Bounds.atOnce)
                #expect(reply.contains(#""forward":"\#(forward.id)""#), "\(reply)")
            }
            connections.forEach { close($0) }
            connections = []
            // The forward is still open and the main socket still serves everything.
            let list = try kit.daemon.client("authctl", ["forward", "--list", "--json"])
            #expect(list.stdout.contains(forward.id))
            let main = try kit.daemon.client("authctl", ["status", "--json"])
            #expect(main.status == 0 && main.stdout.contains(#""audience":"third""#))
            let token = try kit.remote("authctl", ["get", "demo"], socket: forward.socket)
            #expect(token.status == 0, "\(token.stderr)")
            // Refusals are audited with the forward's id.
            #expect(kit.daemon.allLogs.split(separator: "\n").contains {
                $0.contains(#""audit":"client_refused""#) && $0.contains(#""forward":"\#(forward.id)""#) && $0.contains("logout")
            })
            // A forward cannot open another through itself, and the main socket still opens them.
            #expect(try kit.open(["--audiences", "demo"]).id != forward.id)
        }
    }

    @Test("--allow-login lets a device flow run through a forward; --socket binds where asked; forwards end when authd stops")
    func allowLoginCustomSocketAndStop() async throws {
        try await offPoolValue {
            let kit = try ForwardKit("fwd-login")
            let path = kit.scratch.path("custom-forward.sock")
            // After the command, --socket is the forward's own path; before it, the daemon's.
            let result = try kit.daemon.client("authctl", ["--socket", kit.daemon.socketPath, "forward", "--audiences", "other",
                                                           "--allow-login", "--socket", path])
            #expect(result.status == 0 && result.stdout == path + "\n", "\(result.stdout) \(result.stderr)")
            #expect(result.stderr.contains("(logins allowed)"))
            // A second forward at the same path is refused: nothing is replaced.
            let clash = try kit.daemon.client("authctl", ["forward", "--socket", path])
            #expect(clash.status == 2 && clash.stderr.contains("something is already there"), "\(clash.stderr)")

            // `other` was never logged in: through this forward the device flow runs (auto-approved).
            let login = try kit.remote("authctl", ["get", "other", "--interactive"], socket: path)
            #expect(login.status == 0 && !login.stdout.isEmpty, "\(login.stderr)")
            #expect(kit.daemon.allLogs.split(separator: "\n").contains {
                $0.contains(#""audit":"device_flow_started""#) && $0.contains(#""forward":""#)
            })

            // Forwards are not kept across a restart: stopping authd ends them and removes their sockets.
            kit.daemon.stop()
            #expect(!FileManager.default.fileExists(atPath: path))
            #expect(kit.daemon.allLogs.contains("ended: authd stopped"))
            try kit.daemon.start()
            let list = try kit.daemon.client("authctl", ["forward", "--list", "--json"])
            #expect(list.stdout == "{\"forwards\":[]}\n")
            let gone = try kit.remote("authctl", ["get", "other"], socket: path)
            #expect(gone.status == 5 && gone.stderr.contains("has ended"), "\(gone.stderr)")
        }
    }

    @Test("ssh -R of a forward to a real sshd: get, git clone, and refused logout, login and other audiences on the remote side")
    func throughSSH() async throws {
        let sshd = "/usr/sbin/sshd"
        guard getuid() == 0 else {
            print("skipped: the sshd test runs sshd for root on loopback and needs to run as root")
            return
        }
        guard FileManager.default.isExecutableFile(atPath: sshd), FileManager.default.isExecutableFile(atPath: "/usr/bin/ssh") else {
            print("skipped: \(sshd) or /usr/bin/ssh is missing (make deps installs openssh-server)")
            return
        }
        try await offPoolValue {
            let kit = try ForwardKit("fwd-ssh")
            let ssh = try SSHLoopback(kit.scratch, sshd: sshd)
            let forward = try kit.open(["--audiences", "demo,other", "--ttl", "1h"])
            let remoteSocket = kit.scratch.path("remote/authd-forward.sock")
            try FileManager.default.createDirectory(atPath: kit.scratch.path("remote"), withIntermediateDirectories: true)

            // What the remote shell runs: only AUTHD_SOCKET points at the forward's remote end.
            var environment = kit.daemon.environment
            environment["AUTHD_SOCKET"] = remoteSocket
            environment = gitEnvironment(environment, home: kit.scratch.path("home"))
            func remote(_ argv: [String]) throws -> Command.Result {
                let assignments = environment.sorted { $0.key < $1.key }.map { "\($0.key)=\(shellQuoted($0.value))" }
                return try ssh.run(["-R", "\(remoteSocket):\(forward.socket)"],
                                   command: (["exec", "env", "-i"] + assignments + argv.map(shellQuoted)).joined(separator: " "))
            }

            let token = try remote([Binaries.path("authctl"), "get", "demo"])
            #expect(token.status == 0, "\(token.stderr)\n\(ssh.log)")
            let local = try kit.daemon.client("authctl", ["get", "demo"])
            // Compared as a Bool, so a failure never prints a token.
            let sameToken = token.stdout == local.stdout && !local.stdout.isEmpty
            #expect(sameToken)

            let work = kit.scratch.path("work")
            let clone = try remote(["/usr/bin/git"] + gitHelperOptions() + ["clone", "-q", kit.server.baseURL + "/git/repo.git", work])
            #expect(clone.status == 0, "\(clone.stderr)\n\(ssh.log)")
            #expect(FileManager.default.fileExists(atPath: work + "/.git"))

            let logout = try remote([Binaries.path("authctl"), "logout", "demo"])
            #expect(logout.status == 6 && logout.stderr.contains("logout refused"), "\(logout.stderr)")
            let login = try remote([Binaries.path("authctl"), "login", "demo"])
            #expect(login.status == 6 && login.stderr.contains("without --allow-login"), "\(login.stderr)")
            let third = try remote([Binaries.path("authctl"), "get", "third"])
            #expect(third.status == 6 && third.stderr.contains("does not serve \"third\""), "\(third.stderr)")
            // `other` is in the forward but not logged in: the remote side is told to log in where authd runs.
            let other = try remote([Binaries.path("authctl"), "get", "other", "--interactive"])
            #expect(other.status == 3 && other.stderr.contains("on the machine where authd runs: authctl login other"), "\(other.stderr)")

            // Still logged in: nothing the remote side did reached the main socket's operations.
            let after = try kit.daemon.client("authctl", ["status", "--json"])
            #expect(after.stdout.contains(#""state":"valid""#))
            #expect(kit.daemon.allLogs.split(separator: "\n").contains {
                $0.contains(#""audit":"token_served""#) && $0.contains(#""forward":"\#(forward.id)""#)
            })

            // authctl ssh: the forward is the remote AUTHD_SOCKET (SetEnv), and it is closed when ssh exits.
            let viaCommand = try kit.daemon.client("authctl", ["ssh", "--audiences", "demo", "root@127.0.0.1"] + ssh.clientOptions
                + ["env AUTHD_CONFIG=\(shellQuoted(kit.daemon.configPath)) HOME=\(shellQuoted(kit.scratch.path("home"))) "
                   + "\(shellQuoted(Binaries.path("authctl"))) get demo && echo \"socket=$AUTHD_SOCKET\""])
            #expect(viaCommand.status == 0, "\(viaCommand.stderr)\n\(ssh.log)")
            // (The output holds a token: it is compared, never printed.)
            let servedThroughSSH = viaCommand.stdout.hasPrefix(local.stdout)
            #expect(servedThroughSSH)
            #expect(viaCommand.stdout.contains("socket=/tmp/authd-forward-"))
            let afterSSH = try kit.daemon.client("authctl", ["forward", "--list", "--json"])
            #expect(!afterSSH.stdout.contains(#""audiences":["demo"]"#), "\(afterSSH.stdout)")
            #expect(afterSSH.stdout.contains(forward.id))

            // Once the forward is closed, the remote end (ssh still listening) says it ended.
            #expect(try kit.daemon.client("authctl", ["forward", "--close", forward.id]).status == 0)
            let ended = try remote([Binaries.path("authctl"), "get", "demo"])
            #expect(ended.status == 5 && ended.stderr.contains("has ended"), "\(ended.stderr)")
        }
    }
}

private func shellQuoted(_ text: String) -> String { "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'" }

/// sshd on a loopback port with its own host key, config and pid file, and a key for root.
private final class SSHLoopback {
    let scratch: Scratch
    let port: Int
    let process: RunningProcess

    init(_ scratch: Scratch, sshd: String) throws {
        self.scratch = scratch
        let directory = scratch.path("ssh")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        for key in ["host", "client"] {
            let made = try Command.run("/usr/bin/ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", "\(directory)/\(key)"])
            guard made.status == 0 else { throw HarnessError("ssh-keygen: \(made.stderr)") }
        }
        try FileManager.default.copyItem(atPath: "\(directory)/client.pub", toPath: "\(directory)/authorized_keys")
        // sshd refuses to start without its privilege separation directory.
        try? FileManager.default.createDirectory(atPath: "/run/sshd", withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        var started: RunningProcess?
        var chosen = 0
        for _ in 0..<20 {
            let candidate = Int.random(in: 20_000..<60_000)
            let config = """
                ListenAddress 127.0.0.1
                Port \(candidate)
                HostKey \(directory)/host
                PidFile \(directory)/sshd.pid
                AuthorizedKeysFile \(directory)/authorized_keys
                PermitRootLogin prohibit-password
                PasswordAuthentication no
                KbdInteractiveAuthentication no
                UsePAM no
                StrictModes no
                AllowStreamLocalForwarding yes
                StreamLocalBindUnlink yes
                StreamLocalBindMask 0177
                AcceptEnv AUTHD_SOCKET
                LogLevel VERBOSE

                """
            try config.write(toFile: "\(directory)/sshd_config", atomically: true, encoding: .utf8)
            let process = try RunningProcess(executable: sshd, arguments: ["-D", "-e", "-f", "\(directory)/sshd_config"],
                                             environment: ["PATH": "/usr/bin:/bin"], stderrPath: "\(directory)/sshd.log", captureStdout: false)
            if Bounds.waitUntil(timeout: 10, { process.stderrText.contains("Server listening") || !process.isRunning }), process.isRunning {
                started = process
                chosen = candidate
                break
            }
            process.stop()
        }
        guard let started else { throw HarnessError("sshd did not start: \((try? String(contentsOfFile: "\(directory)/sshd.log", encoding: .utf8)) ?? "")") }
        process = started
        port = chosen
    }

    var log: String { process.stderrText }

    /// The client options that reach this sshd without asking anything.
    var clientOptions: [String] {
        let directory = scratch.path("ssh")
        return ["-F", "/dev/null", "-i", "\(directory)/client", "-p", String(port),
                "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "StrictHostKeyChecking=no",
                "-o", "UserKnownHostsFile=\(directory)/known_hosts", "-o", "ExitOnForwardFailure=yes", "-o", "LogLevel=ERROR"]
    }

    func run(_ options: [String], command: String) throws -> Command.Result {
        try Command.run("/usr/bin/ssh", clientOptions + options + ["root@127.0.0.1", command], timeout: 60)
    }

    deinit { process.stop() }
}
