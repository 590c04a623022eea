// The engine over libcurl against authd-devserver, an independent provider: flow, slow_down, rotation, revocation.

import AuthdCore
import AuthdOAuth
import AuthdSystem
import AuthdPosix
import AuthdWire
import Foundation
import NIOPosix
import Testing

/// A running `authd-devserver`, found in `AUTHD_BIN_DIR`; its request log is collected from stderr.
final class DevServer: @unchecked Sendable {
    /// Started with the project's `posix_spawn` wrapper: Foundation's `Process.run` overreads while
    /// scanning /proc/self/fd and has crashed the test runner now and then.
    let child: AuthdPosix.SpawnedProcess
    let baseURL: String
    private let stopped = NSLock()
    private var reaped = false
    private let lock = NSLock()
    private var logData = Data()
    private let readerDone = DispatchSemaphore(value: 0)

    /// nil (with the reason printed) when the binary is not available, so the suite skips.
    static func binary() -> String? {
        guard let dir = ProcessInfo.processInfo.environment["AUTHD_BIN_DIR"], !dir.isEmpty else {
            print("DevServerIntegrationTests skipped: AUTHD_BIN_DIR is not set (make test sets it)")
            return nil
        }
        let path = dir + "/authd-devserver"
        guard FileManager.default.isExecutableFile(atPath: path) else {
            print("DevServerIntegrationTests skipped: no executable \(path)")
            return nil
        }
        return path
    }

    init(_ binary: String, _ arguments: [String]) throws {
        CurrentProcess.ignoreBrokenPipe()
        var out: [Int32] = [0, 0], err: [Int32] = [0, 0]
        guard pipe(&out) == 0 else { throw Errno.current }
        guard pipe(&err) == 0 else { close(out[0]); close(out[1]); throw Errno.current }
        // The spawned child closes every descriptor above 2; close-on-exec keeps the read ends away
        // from children other tests start meanwhile.
        for fd in out + err { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        do {
            child = try AuthdPosix.SpawnedProcess.spawn(
                executable: binary, arguments: ["--port", "0"] + arguments,
                standardOutput: .descriptor(AuthdPosix.FileDescriptor(rawValue: out[1])),
                standardError: .descriptor(AuthdPosix.FileDescriptor(rawValue: err[1])))
        } catch {
            (out + err).forEach { close($0) }
            throw error
        }
        close(out[1])
        close(err[1])
        var line = Data()
        var byte: UInt8 = 0
        while read(out[0], &byte, 1) == 1 && byte != 0x0A { line.append(byte) }
        close(out[0])
        baseURL = String(decoding: line, as: UTF8.self)
        // A plain thread reading to EOF, not a FileHandle readabilityHandler: corelibs-foundation backs
        // that with a dispatch source, and cancelling it while the pipe closes has crashed libdispatch.
        let reader = err[0]
        Thread { [self] in
            var buffer = [UInt8](repeating: 0, count: 16_384)
            while true {
                let n = buffer.withUnsafeMutableBytes { read(reader, $0.baseAddress, $0.count) }
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { break }
                lock.lock(); logData.append(contentsOf: buffer[0..<n]); lock.unlock()
            }
            close(reader)
            readerDone.signal()
        }.start()
    }

    deinit { stop() }

    func stop() {
        stopped.lock()
        if !reaped {
            reaped = true
            try? child.send(.terminate)
            _ = try? child.wait()
        }
        stopped.unlock()
        // The server has exited, so its stderr reaches EOF and the reader ends; bounded in case a
        // grandchild still holds the pipe.
        if readerDone.wait(timeout: .now() + 5) == .success { readerDone.signal() }
    }

    /// The request log so far, one JSON object per line.
    func log() -> [JSONValue] {
        lock.lock(); let data = logData; lock.unlock()
        return data.split(separator: 0x0A).compactMap { try? JSONValue.parse(Array($0)) }
    }

    /// The log lines that match, once at least `count` of them arrived (stderr is read asynchronously).
    func lines(atLeast count: Int, where match: (JSONValue) -> Bool) async -> [JSONValue] {
        for _ in 0..<100 {
            let found = log().filter(match)
            if found.count >= count { return found }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return log().filter(match)
    }

    func polls(atLeast count: Int) async -> [JSONValue] {
        await lines(atLeast: count) {
            $0["endpoint"]?.stringValue == "token" && $0["grant_type"]?.stringValue == "urn:ietf:params:oauth:grant-type:device_code"
        }
    }
}

@Suite(.serialized) struct DevServerIntegrationTests {
    /// The daemon's real clock: the devserver's intervals pass in real time.
    static let clock = SystemDaemonClock(timers: MultiThreadedEventLoopGroup.singleton.next())

    func client(_ server: DevServer, secret: String? = nil, scopes: [String] = ["openid", "offline_access"]) -> OAuthClient {
        let settings = OAuthClientSettings(clientID: "authctl-test", clientSecret: secret, scopes: scopes,
                                           endpoints: EndpointSettings(issuer: server.baseURL))
        return OAuthClient(settings: settings, transport: CurlHTTPTransport(), clock: Self.clock)
    }

    final class Events: @unchecked Sendable {
        let lock = NSLock()
        var all: [DeviceFlowEvent] = []
        func add(_ e: DeviceFlowEvent) { lock.lock(); all.append(e); lock.unlock() }
    }

    @Test func fullDeviceFlowWithDiscoveryAndAutoApprove() async throws {
        guard let binary = DevServer.binary() else { return }
        let server = try DevServer(binary, ["--interval", "1", "--auto-approve"])
        defer { server.stop() }
        let events = Events()
        let grant = try await client(server).runDeviceFlow { events.add($0) }
        #expect(!grant.accessToken.isEmpty)
        #expect(grant.refreshToken != nil)
        #expect(grant.expiresIn == 3600)
        #expect(grant.scopes == ["openid", "offline_access"])
        #expect(grant.identity?.preferredUsername == "devuser")
        guard case .prompt(let prompt) = events.all.first else { Issue.record("no prompt"); return }
        #expect(prompt.verificationURI == server.baseURL + "/device")
        #expect(prompt.verificationURIComplete?.hasPrefix(server.baseURL + "/device?user_code=") == true)
        #expect(events.all.last == .approved)
        let results = await server.polls(atLeast: 2).compactMap { $0["result"]?.stringValue }
        #expect(results == ["authorization_pending", "issued"])
    }

    @Test func slowDownIsHonoured() async throws {
        guard let binary = DevServer.binary() else { return }
        // Poll 2 gets slow_down (interval 1 → 6); poll 3 is approved.
        let server = try DevServer(binary, ["--interval", "1", "--slow-down=2", "--auto-approve=2", "--client", "authctl-test"])
        defer { server.stop() }
        let events = Events()
        _ = try await client(server).runDeviceFlow { events.add($0) }
        let polls = await server.polls(atLeast: 3)
        #expect(polls.compactMap { $0["result"]?.stringValue } == ["authorization_pending", "slow_down", "issued"])
        let times = polls.compactMap { $0["t"].flatMap { v -> Double? in if case .double(let d) = v { d } else { v.lenientInteger.map(Double.init) } } }
        #expect(times.count == 3)
        if times.count == 3 {
            #expect(times[1] - times[0] >= 1.0)
            #expect(times[2] - times[1] >= 6.0, "poll after slow_down came \(times[2] - times[1]) s later")
        }
        #expect(events.all.contains(.slowDown(intervalSeconds: 6)))
    }

    @Test func refreshRotatesAndTheOldRefreshTokenDies() async throws {
        guard let binary = DevServer.binary() else { return }
        let server = try DevServer(binary, ["--interval", "1", "--auto-approve=0", "--client", "authctl-test:s3cr3t p@ss"])
        defer { server.stop() }
        let client = client(server, secret: "s3cr3t p@ss")
        let grant = try await client.runDeviceFlow()
        let refreshed = try await client.refresh(grant)
        #expect(refreshed.refreshToken == .rotated)
        #expect(refreshed.grant.refreshToken != grant.refreshToken)
        #expect(refreshed.grant.accessToken != grant.accessToken)
        do {
            _ = try await client.refresh(grant)
            Issue.record("the old refresh token still worked")
        } catch {
            guard case .loginNeeded = error else { Issue.record("\(error)"); return }
        }
        let narrowed = try await client.refresh(refreshed.grant, scopes: ["openid"])
        #expect(narrowed.grant.scopes == ["openid"])
    }

    @Test func revocationMakesBothTokensInactive() async throws {
        guard let binary = DevServer.binary() else { return }
        let server = try DevServer(binary, ["--interval", "1", "--auto-approve=0"])
        defer { server.stop() }
        let client = client(server)
        let grant = try await client.runDeviceFlow()
        #expect(try await introspect(server, grant.accessToken) == true)
        try await client.revoke(grant: grant)
        #expect(try await introspect(server, grant.accessToken) == false)
        #expect(try await introspect(server, grant.refreshToken ?? "") == false)
        let revokes = await server.lines(atLeast: 2) { $0["endpoint"]?.stringValue == "revoke" }.compactMap { $0["result"]?.stringValue }
        #expect(revokes == ["revoked_refresh_token", "unknown_token"] || revokes == ["revoked_refresh_token", "revoked_access_token"])
    }

    func introspect(_ server: DevServer, _ token: String) async throws -> Bool? {
        let request = HTTPRequest(method: .post, url: server.baseURL + "/introspect",
                                  headers: [("Content-Type", "application/x-www-form-urlencoded"), ("Accept", "application/json")],
                                  body: Array(FormURLEncoding.encode([("token", token)]).utf8))
        let response = try await CurlHTTPTransport().send(request)
        return try JSONValue.parse(response.body)["active"]?.boolValue
    }
}
