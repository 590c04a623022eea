// Secret, passphrase and config files through the real authd and authctl: FIFOs never block, open modes are refused or warned about.
import Foundation
import Glibc
import Testing

private func requireBinaries() throws {
    try #require(Binaries.available, "built programs not found in \(Binaries.directory.path); run make build or set AUTHD_BIN_DIR")
}

/// An audience with fixed endpoints on a closed loopback port: nothing is contacted before a login.
private func fixedAudience(_ name: String, extra: String = "") -> String {
    """
    [audience.\(name)]
    device_authorization_endpoint = "http://127.0.0.1:9/device"
    token_endpoint = "http://127.0.0.1:9/token"
    client_id = "c-\(name)"
    \(extra)

    """
}

/// Waits (bounded) until the daemon's log contains `text`; false when it never did.
private func logEventually(_ daemon: DaemonUnderTest, contains text: String, timeout: TimeInterval = 20) -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if daemon.allLogs.contains(text) { return true }
        usleep(20_000)
    }
    return false
}

/// Starts authd expecting it to exit on its own; returns its exit status (nil if it kept running).
private func startExpectingExit(_ daemon: DaemonUnderTest) -> Int32? {
    _ = try? daemon.start()
    return daemon.running?.waitForExit(timeout: 20)
}

@Suite(.serialized) struct SecretFileTests {
    @Test func aPassphraseFileOthersCanReadIsRefusedWithTheChmodToRun() async throws {
        try await offPoolValue {
            try requireBinaries()
            let scratch = Scratch("passmode")
            let passphrase = scratch.path("passphrase")
            try scratch.write("passphrase", "correct horse\n", mode: 0o644)
            let daemon = try DaemonUnderTest(scratch, config: "[daemon]\nstore_passphrase_file = \"\(passphrase)\"\n\n" + fixedAudience("demo"))
            #expect(startExpectingExit(daemon) == 2)
            #expect(daemon.allLogs.contains("cannot use store_passphrase_file \(passphrase): its mode 0644 lets other users read it; run: chmod 600 \(passphrase)"),
                    "\(daemon.allLogs)")
            #expect(!FileManager.default.fileExists(atPath: daemon.stateDirectory + "/tokens.store"))
            #expect(!daemon.allLogs.contains("correct horse"))
            // config check says the same before anyone starts the daemon.
            let check = try daemon.client("authctl", ["config", "check"])
            #expect(check.stderr.contains("daemon.store_passphrase_file: warning: cannot use \(passphrase): its mode 0644"), "\(check.stderr)")
            // After the chmod it names, the daemon starts.
            #expect(chmod(passphrase, 0o600) == 0)
            try daemon.start()
            daemon.stop()
        }
    }

    @Test func aFIFOAsPassphraseFileDoesNotBlockTheDaemon() async throws {
        try await offPoolValue {
            try requireBinaries()
            let scratch = Scratch("passfifo")
            let passphrase = scratch.path("passphrase")
            #expect(mkfifo(passphrase, 0o600) == 0)
            let daemon = try DaemonUnderTest(scratch, config: "[daemon]\nstore_passphrase_file = \"\(passphrase)\"\n\n" + fixedAudience("demo"))
            // A blocking open would wait for a writer for ever, and the bounded wait would fail.
            #expect(startExpectingExit(daemon) == 2)
            #expect(daemon.allLogs.contains("it is a FIFO (named pipe), not a regular file"), "\(daemon.allLogs)")
        }
    }

    @Test func aFIFOAsConfigDoesNotBlockStartOrReload() async throws {
        try await offPoolValue {
            try requireBinaries()
            let scratch = Scratch("conffifo")
            let daemon = try DaemonUnderTest(scratch, config: fixedAudience("demo"))
            try FileManager.default.removeItem(atPath: daemon.configPath)
            #expect(mkfifo(daemon.configPath, 0o600) == 0)
            #expect(startExpectingExit(daemon) == 2)
            #expect(daemon.allLogs.contains("cannot read the config \(daemon.configPath): it is a FIFO"), "\(daemon.allLogs)")
            let check = try daemon.client("authctl", ["config", "check"], timeout: 20)
            #expect(check.status == 2)
            #expect(check.stderr.contains("it is a FIFO"), "\(check.stderr)")

            // Reload: the daemon keeps its configuration, keeps answering, and still stops on SIGTERM.
            try FileManager.default.removeItem(atPath: daemon.configPath)
            try scratch.write("config/authd/config.toml", fixedAudience("demo"))
            try daemon.start()
            try FileManager.default.removeItem(atPath: daemon.configPath)
            #expect(mkfifo(daemon.configPath, 0o600) == 0)
            daemon.running?.signal(SIGHUP)
            #expect(logEventually(daemon, contains: "reload failed, keeping the previous configuration"), "\(daemon.allLogs)")
            let status = finalAnswer(try SocketClient.exchange(daemon.socketPath, #"{"op":"status"}"#))
            #expect((status["audiences"] as? [[String: Any]])?.count == 1)
            daemon.running?.signal(SIGTERM)
            #expect(daemon.running?.waitForExit(timeout: 20) == 0, "authd did not stop on SIGTERM: \(daemon.allLogs)")
        }
    }

    @Test func aFIFOAsClientSecretFileBreaksOnlyItsAudience() async throws {
        try await offPoolValue {
            try requireBinaries()
            let scratch = Scratch("secfifo")
            let secret = scratch.path("secret")
            #expect(mkfifo(secret, 0o600) == 0)
            let daemon = try DaemonUnderTest(scratch, config: fixedAudience("piped", extra: "client_secret_file = \"\(secret)\"")
                                                              + fixedAudience("other"))
            try daemon.start()   // a blocking read at start would never reach READY
            let reply = try SocketClient.exchange(daemon.socketPath, #"{"op":"get","audience":"piped","interactive":true}"#, timeout: 20)
            #expect(reply.contains("piped: cannot use client_secret_file \(secret): it is a FIFO (named pipe), not a regular file"), "\(reply)")
            let status = finalAnswer(try SocketClient.exchange(daemon.socketPath, #"{"op":"status"}"#))
            #expect((status["audiences"] as? [[String: Any]])?.count == 2)
            // Again through a reload, the case the audit reproduced: SIGTERM still works afterwards.
            daemon.running?.signal(SIGHUP)
            #expect(logEventually(daemon, contains: "configuration reloaded"), "\(daemon.allLogs)")
            daemon.running?.signal(SIGTERM)
            #expect(daemon.running?.waitForExit(timeout: 20) == 0, "authd did not stop on SIGTERM: \(daemon.allLogs)")
        }
    }

    @Test func aClientSecretFileOthersCanReadIsRefusedForThatAudience() async throws {
        try await offPoolValue {
            try requireBinaries()
            let scratch = Scratch("secmode")
            let secret = scratch.path("secret")
            try scratch.write("secret", "SUPERSECRET-FILE\n", mode: 0o644)
            let daemon = try DaemonUnderTest(scratch, config: fixedAudience("demo", extra: "client_secret_file = \"\(secret)\""))
            try daemon.start()
            let reply = try SocketClient.exchange(daemon.socketPath, #"{"op":"get","audience":"demo","interactive":true}"#, timeout: 20)
            #expect(reply.contains("its mode 0644 lets other users read it; run: chmod 600 \(secret)"), "\(reply)")
            let check = try daemon.client("authctl", ["config", "check"])
            #expect(check.status == 0)
            #expect(check.stderr.contains("audience.demo.client_secret_file: warning: cannot read \(secret): its mode 0644"), "\(check.stderr)")
            daemon.stop()
            #expect(!daemon.allLogs.contains("SUPERSECRET-FILE"))
        }
    }

    @Test func aReadableConfigWithAnInlineSecretIsWarnedAbout() async throws {
        try await offPoolValue {
            try requireBinaries()
            let scratch = Scratch("confmode")
            let daemon = try DaemonUnderTest(scratch, config: fixedAudience("demo", extra: "client_secret = \"SUPERSECRET-CLIENT\""))
            // Private: no warning.
            let quiet = try daemon.client("authctl", ["config", "check"])
            #expect(quiet.status == 0)
            #expect(!quiet.stderr.contains("other users can read"), "\(quiet.stderr)")
            #expect(chmod(daemon.configPath, 0o644) == 0)
            let expected = "audience.demo.client_secret: warning: other users can read this client secret: the config file has mode 0644; "
                + "run: chmod 600 \(daemon.configPath)"
            let check = try daemon.client("authctl", ["config", "check"])
            #expect(check.status == 0)
            #expect(check.stdout == "config OK: 1 audience\n")
            #expect(check.stderr.contains(expected), "\(check.stderr)")
            try daemon.start()
            #expect(daemon.allLogs.contains(expected), "\(daemon.allLogs)")
            daemon.stop()
            #expect(!daemon.allLogs.contains("SUPERSECRET-CLIENT"))
            #expect(!check.stderr.contains("SUPERSECRET-CLIENT"))
        }
    }

    @Test func urlCredentialsNeverAppearInDiagnostics() async throws {
        try await offPoolValue {
            try requireBinaries()
            let scratch = Scratch("urlinfo")
            let daemon = try DaemonUnderTest(scratch, config: """
                [audience.demo]
                issuer = "https://user:ghp_SECRETTOKEN@github.example.com/"
                client_id = "c"
                git_urls = ["https://oauth2:glpat-SECRETSECRET@gitlab.example.com"]

                """)
            let check = try daemon.client("authctl", ["config", "check"])
            #expect(check.status == 2)
            #expect(check.stderr.contains("invalid URL \"https://***@github.example.com/\""), "\(check.stderr)")
            #expect(check.stderr.contains("invalid git URL \"https://***@gitlab.example.com\""), "\(check.stderr)")
            // The broken audience does not stop the daemon: it answers its (redacted) error instead.
            try daemon.start()
            let get = try daemon.client("authctl", ["get", "demo"])
            #expect(get.status == 2 && get.stderr.contains("https://***@github.example.com/"), "\(get.stderr)")
            for output in [check.stderr, check.stdout, daemon.allLogs, get.stderr] {
                #expect(!output.contains("ghp_SECRETTOKEN") && !output.contains("glpat-SECRETSECRET"), "\(output)")
            }
        }
    }
}
