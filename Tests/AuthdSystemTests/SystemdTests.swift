// sd_notify through a test datagram socket, the journal check, QR matrices, peer credentials, hardening.
import AuthdPosix
import AuthdSystem
import AuthdTestSupport
import Glibc
import Testing

@Suite(.serialized) struct SystemdNotifierTests {
    @Test func readyAndStatusReachTheNotifySocket() throws {
        let directory = TemporaryDirectory()
        let path = directory.path + "/notify"
        let socket = Glibc.socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        #expect(socket >= 0)
        defer { close(socket) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8)) }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        #expect(bound == 0)

        let notifier = SystemdNotifier(environment: { $0 == "NOTIFY_SOCKET" ? path : nil })
        #expect(try notifier.ready(status: "serving 2 audiences\nsecond line"))
        #expect(try notifier.reloading())
        #expect(try notifier.stopping())

        func receive() throws -> String {
            let message = try FileDescriptor(rawValue: socket).read(upToCount: 4096, timeoutMilliseconds: 2000)
            return String(decoding: message, as: UTF8.self)
        }
        #expect(try receive() == "READY=1\nSTATUS=serving 2 audiences second line")
        let reloading = try receive()
        #expect(reloading.hasPrefix("RELOADING=1\nMONOTONIC_USEC="))
        #expect(try receive() == "STOPPING=1")
    }

    @Test func withoutNotifySocketNothingIsSent() throws {
        let none = SystemdNotifier(environment: { _ in nil })
        #expect(try none.ready() == false)
        #expect(none.watchdogInterval == nil)
    }

    @Test func watchdogIntervalComesFromTheEnvironment() throws {
        let ours = ["WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "\(getpid())"]
        #expect(SystemdNotifier(environment: { ours[$0] }).watchdogInterval == .seconds(30))
        #expect(SystemdNotifier(environment: { ["WATCHDOG_USEC": "30000000"][$0] }).watchdogInterval == .seconds(30))
        // Another process's watchdog (inherited by a child of the service), or none set.
        #expect(SystemdNotifier(environment: { ["WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"][$0] }).watchdogInterval == nil)
        #expect(SystemdNotifier(environment: { ["WATCHDOG_USEC": "0"][$0] }).watchdogInterval == nil)
    }

    @Test func aNotifySocketThatIsNeitherAPathNorAbstractIsAnError() throws {
        #expect(throws: Errno.self) { try SystemdNotifier(environment: { _ in "vsock:2:1" }).ready() }
    }

    @Test func journalSendWithoutJournaldDoesNotFail() throws {
        try Journal.send([(name: "MESSAGE", value: "authd test record"), (name: "PRIORITY", value: "6")])
    }

    @Test func noListenedSocketsOutsideSocketActivation() throws {
        #expect(try ListenedSockets.take().isEmpty)
    }

    @Test func journalDetectionFollowsJournalStream() throws {
        defer { try? CurrentProcess.setEnvironment("JOURNAL_STREAM", nil) }
        try CurrentProcess.setEnvironment("JOURNAL_STREAM", nil)
        #expect(!Journal.isUnderJournald)
        let status = try FileDescriptor.standardError.status()
        try CurrentProcess.setEnvironment("JOURNAL_STREAM", "\(status.device):\(status.inode)")
        #expect(Journal.isUnderJournald)
        try CurrentProcess.setEnvironment("JOURNAL_STREAM", "\(status.device):\(status.inode + 1)")
        #expect(!Journal.isUnderJournald)
    }

    @Test func desktopNotifierFailsQuietlyWithoutABus() async throws {
        try CurrentProcess.setEnvironment("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus")
        defer { try? CurrentProcess.setEnvironment("DBUS_SESSION_BUS_ADDRESS", nil) }
        await #expect(throws: DesktopNotificationError.self) {
            try await DesktopNotifier().notify(summary: "authd", body: "test")
        }
    }
}

@Suite struct QRCodeTests {
    private func hasFinderPattern(_ matrix: [[Bool]], row: Int, column: Int) -> Bool {
        (0..<7).allSatisfy { y in
            (0..<7).allSatisfy { x in
                let ring = max(abs(y - 3), abs(x - 3))
                return matrix[row + y][column + x] == (ring != 2)  // dark border, light ring, dark 3x3 centre
            }
        }
    }

    @Test func sizeAndFinderPatterns() throws {
        // 20 bytes fit version 2 at level M in byte mode (capacity 26): 25x25 modules.
        let short = try QRCode.matrix(for: "https://ex.am/ABCDEF")
        #expect(short.count == 25 && short.allSatisfy { $0.count == 25 })
        // 38 bytes need version 3 (capacity 42): 29x29.
        let url = try QRCode.matrix(for: "https://github.com/login/device?u=WDJB")
        #expect(url.count == 29)
        for matrix in [short, url] {
            let last = matrix.count - 7
            #expect(hasFinderPattern(matrix, row: 0, column: 0))
            #expect(hasFinderPattern(matrix, row: 0, column: last))
            #expect(hasFinderPattern(matrix, row: last, column: 0))
            #expect(!hasFinderPattern(matrix, row: last, column: last))
        }
    }
}

@Suite struct PeerAndProcessTests {
    @Test func peerCredentialsAndPinnedProcessOfOurOwnConnection() throws {
        let directory = TemporaryDirectory()
        let path = directory.path + "/socket"
        let listener = try UnixSocket.listen(path: path, permissions: 0o600)
        defer { try? listener.close() }
        #expect(try FileSystem.status(path).permissions == 0o600)
        #expect(try FileSystem.status(path).kind == .socket)
        let client = try UnixSocket.connect(path: path, timeoutMilliseconds: 1000)
        defer { try? client.close() }
        let server = try UnixSocket.accept(listener)
        defer { try? server.close() }
        #expect(try server.isCloseOnExec())

        let credentials = try PeerCredentials.read(socket: server)
        #expect(credentials == RawPeerCredentials(pid: getpid(), uid: getuid(), gid: getgid()))
        #expect(MemoryLayout<RawPeerCredentials>.size == 12)

        let peer = try PinnedProcess.peer(of: server)
        #expect(peer.processID == getpid())
        #expect(peer.isPinned)  // the kernel here has SO_PEERPIDFD
        #expect(peer.isAlive)
        #expect(try peer.executablePath() == FileSystem.readLink("/proc/self/exe"))
        let stat = String(decoding: try FileSystem.readFile("/proc/self/stat", maximumBytes: 4096), as: UTF8.self)
        let terminalNumber = stat[stat.lastIndex(of: ")")!...].split(separator: " ")[5]
        #expect(try peer.hasControllingTerminal() == (terminalNumber != "0"), "tty_nr \(terminalNumber)")

        try client.writeAll("ping")
        #expect(try server.read(upToCount: 10, timeoutMilliseconds: 1000) == Array("ping".utf8))
        #expect(throws: Errno.timedOut) { try server.read(upToCount: 10, timeoutMilliseconds: 50) }
    }

    @Test func endedProcessGetsNoAnswers() throws {
        let child = try SpawnedProcess.spawn(executable: "/bin/true")
        #expect(try child.wait() == .exited(0))
        let gone = PinnedProcess(
            credentials: RawPeerCredentials(pid: child.processID, uid: getuid(), gid: getgid()), adoptingProcessDescriptor: nil)
        #expect(!gone.isPinned)
        #expect(!gone.isAlive)
        #expect(throws: Errno.self) { try gone.executablePath() }
    }

    @Test func connectFailuresAreTyped() throws {
        let directory = TemporaryDirectory()
        #expect(throws: Errno.noSuchFileOrDirectory) {
            try UnixSocket.connect(path: directory.path + "/none", timeoutMilliseconds: 100)
        }
        #expect(throws: Errno.nameTooLong) {
            try UnixSocket.connect(path: "/" + String(repeating: "x", count: 200), timeoutMilliseconds: 100)
        }
    }

    @Test func spawnWaitSignalsAndLocks() throws {
        #expect(try SpawnedProcess.spawn(executable: "/bin/sh", arguments: ["-c", "exit 7"]).wait() == .exited(7))
        let sleeper = try SpawnedProcess.spawn(executable: "/bin/sleep", arguments: ["30"], newSession: true)
        #expect(try sleeper.poll() == nil)
        try sleeper.send(.terminate)
        #expect(try sleeper.wait() == .signalled(SIGTERM))

        let directory = TemporaryDirectory()
        let lock = try ExclusiveFileLock(path: directory.path + "/lock")
        #expect(throws: Errno.wouldBlock) { try ExclusiveFileLock(path: directory.path + "/lock") }
        withExtendedLifetime(lock) {}

        try FileSystem.makeDirectories(directory.path + "/a/b", permissions: 0o700)
        let file = directory.path + "/a/b/f"
        let descriptor = try FileDescriptor.open(file, .writeOnly, options: [.create, .exclusive], permissions: 0o600)
        try descriptor.writeAll([UInt8](repeating: 1, count: 100))
        try descriptor.sync()
        try descriptor.close()
        #expect(throws: Errno.fileTooLarge) { try FileSystem.readFile(file, maximumBytes: 99) }
        #expect(try FileSystem.readFile(file, maximumBytes: 100).count == 100)
        #expect(Errno.noSuchFileOrDirectory.description == "No such file or directory")
    }
}

@Suite struct HardeningTests {
    /// Applied in a forked child, never in the test runner: `M_PERTURB` there fills every freed block
    /// with 0xA5, which turned latent use-after-free races in Foundation's Process and libdispatch
    /// (harmless with stale data) into crashes of the whole parallel test run.
    @Test func applyMakesTheProcessNonDumpable() throws {
        let pid = fork()
        if pid == 0 {
            // The child reports through its exit status: one bit per protection that is missing.
            var missing: Int32 = 0
            if (try? Hardening.apply()) == nil { missing |= 1 }
            if !Hardening.isNonDumpable { missing |= 2 }
            var limit = rlimit()
            getrlimit(Int32(RLIMIT_CORE.rawValue), &limit)
            if !(limit.rlim_cur == 0 && limit.rlim_max == 0) { missing |= 4 }
            if umask(0o077) != 0o077 { missing |= 8 }
            _exit(missing)
        }
        #expect(pid > 0)
        var status: Int32 = 0
        #expect(waitpid(pid, &status, 0) == pid)
        let exitedNormally = status & 0x7F == 0
        #expect(exitedNormally, "the child died of signal \(status & 0x7F)")
        #expect((status >> 8) & 0xFF == 0, "missing protections (bits: apply 1, dumpable 2, core 4, umask 8)")
    }
}
