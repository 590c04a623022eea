// What the fast paths must keep: every served token audited (also across SIGTERM), loop answers equal to the agent's, an idle daemon asleep.
import Foundation
import Testing

@Suite(.serialized) struct DaemonEfficiencyTests {
    /// A daemon serving `demo` from a devserver that approves at once and issues one-hour tokens.
    static func started(_ name: String) throws -> (DaemonUnderTest, DevServer) {
        try #require(Binaries.available, "built programs not found in \(Binaries.directory.path); run make build or set AUTHD_BIN_DIR")
        let scratch = Scratch(name)
        let server = try DevServer(scratch, arguments: ["--interval", "1", "--auto-approve", "--access-token-ttl", "3600"])
        let daemon = try DaemonUnderTest(scratch, config: demoConfig(server.baseURL))
        try daemon.start()
        return (daemon, server)
    }

    @Test func everyServedTokenIsAuditedAcrossSIGTERM() throws {
        let (daemon, server) = try Self.started("audit-sigterm")
        let token = try #require(try getToken(daemon))
        // Cached gets answered on the socket loop, each with its token_served record queued for the
        // writer; SIGTERM right after the last answer, before the queue can have drained by itself.
        let count = 300
        for _ in 0..<count { #expect(try getToken(daemon, interactive: false) == token) }
        daemon.running?.signal(SIGTERM)
        #expect(daemon.running?.waitForExit(timeout: 20) == 0)
        let served = daemon.allLogs.split(separator: "\n").filter { $0.contains(#""audit":"token_served""#) }
        #expect(served.count == count + 1, "\(served.count) token_served records for \(count + 1) tokens served")
        #expect(!daemon.allLogs.contains(token), "daemon log contains the access token")
        withExtendedLifetime(server) {}
    }

    @Test func aCachedGetOnTheLoopAnswersAsTheAgentDoes() throws {
        let (daemon, server) = try Self.started("loop-answer")
        // The first answer comes from the agent (a login), the second from the loop's snapshot.
        let first = finalAnswer(try SocketClient.exchange(daemon.socketPath, #"{"op":"get","audience":"demo","interactive":true}"#))
        let second = finalAnswer(try SocketClient.exchange(daemon.socketPath, #"{"op":"get","audience":"demo"}"#))
        for key in ["access_token", "token_type", "expires_at", "scope", "fingerprint"] {
            #expect(first[key] as? NSObject == second[key] as? NSObject, "\(key) differs")
        }
        // A min_valid beyond what is left makes the agent refresh: a new token.
        let renewed = finalAnswer(try SocketClient.exchange(daemon.socketPath, #"{"op":"get","audience":"demo","min_valid":3600}"#))
        #expect(renewed["access_token"] as? String != first["access_token"] as? String)
        // Logged out: the snapshot is gone with the login, nothing is served from it.
        _ = try daemon.client("authctl", ["logout", "demo"])
        let after = finalAnswer(try SocketClient.exchange(daemon.socketPath, #"{"op":"get","audience":"demo"}"#))
        #expect(after["ok"] as? Bool == false)
        #expect((after["error"] as? String) == "login_needed", "\(after)")
        withExtendedLifetime(server) {}
    }

    /// Context switches so far of each thread of `pid`, by thread id; nil when /proc does not show them.
    static func contextSwitches(_ pid: Int32) -> [String: Int]? {
        guard let tasks = try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task") else { return nil }
        var counts: [String: Int] = [:]
        for task in tasks {
            guard let status = try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/status", encoding: .utf8) else { continue }
            var total = 0, seen = 0
            for line in status.split(separator: "\n") where line.hasPrefix("voluntary_ctxt_switches:") || line.hasPrefix("nonvoluntary_ctxt_switches:") {
                guard let value = Int(line.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) else { return nil }
                total += value
                seen += 1
            }
            if seen != 2 { return nil }
            counts[task] = total
        }
        return counts
    }

    @Test func anIdleDaemonMakesNoContextSwitchInTenSeconds() throws {
        let (daemon, server) = try Self.started("idle")
        // Logged in through a device flow (the engine's polling waits ran), a refresh scheduled an
        // hour away, a token served from the loop and one from the agent.
        _ = try #require(try getToken(daemon))
        _ = try getToken(daemon, interactive: false)
        _ = try SocketClient.exchange(daemon.socketPath, #"{"op":"status"}"#)
        let pid = try #require(daemon.running?.pid)
        guard Self.contextSwitches(pid) != nil else {
            print("skipped: /proc/\(pid)/task/*/status shows no context-switch counts on this kernel")
            return
        }
        // Settle: the answers above may still be finishing (the audit writer, a store write).
        Thread.sleep(forTimeInterval: 1)
        let start = try #require(Self.contextSwitches(pid))
        Thread.sleep(forTimeInterval: 10)
        let end = try #require(Self.contextSwitches(pid))
        // A thread that started or ended in the window ran in it, too.
        #expect(Set(end.keys) == Set(start.keys), "threads changed while idle: \(start.keys.sorted()) then \(end.keys.sorted())")
        let woke = end.filter { thread, count in start[thread] != count }
        #expect(woke.isEmpty, "an idle authd switched context in 10 s: \(woke.map { "thread \($0.key): \($0.value - (start[$0.key] ?? 0))" })")
        withExtendedLifetime(server) {}
    }
}
