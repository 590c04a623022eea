// Where the daemon sends a login's secrets: never through a proxy for loopback, never to an endpoint changed under it, not on every call.
import Foundation
import Testing

/// A loopback TCP listener that never answers: it only counts who connected (the kernel completes
/// the handshake, so connections wait in the backlog until counted).
final class Tripwire: @unchecked Sendable {
    private let fd: Int32
    let port: Int
    private var seen = 0

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw HarnessError("socket failed") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        guard bound == 0, listen(fd, 64) == 0 else {
            close(fd)
            throw HarnessError("bind/listen failed")
        }
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        self.fd = fd
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    /// Every connection made so far.
    var connections: Int {
        while true {
            let connection = accept(fd, nil, nil)
            if connection < 0 { break }
            seen += 1
            close(connection)
        }
        return seen
    }

    deinit { close(fd) }
}

@Suite(.serialized) struct EndpointHardeningTests {
    static let fastFlow = ["--interval", "1", "--auto-approve", "0"]

    private func requireBinaries() throws {
        try #require(Binaries.available, "built programs not found in \(Binaries.directory.path); run make build or set AUTHD_BIN_DIR")
    }

    private func refreshes(_ server: DevServer) -> Int {
        server.requests.filter { ($0["grant_type"] as? String) == "refresh_token" }.count
    }

    /// Security review, finding 5: with http_proxy set, the daemon sent the loopback device flow,
    /// client secret included, to the proxy.
    @Test func proxyVariablesNeverApplyToLoopbackEndpoints() async throws {
        try await offPoolValue {
            try requireBinaries()
            let scratch = Scratch("noproxy")
            let proxy = try Tripwire()
            let server = try DevServer(scratch, arguments: Self.fastFlow)
            let daemon = try DaemonUnderTest(scratch, config: demoConfig(server.baseURL))
            let proxyURL = "http://127.0.0.1:\(proxy.port)"
            // A proxy that never answers would hold a request for the whole timeout; keep that short.
            daemon.extraEnvironment = ["http_proxy": proxyURL, "https_proxy": proxyURL, "HTTPS_PROXY": proxyURL,
                                       "ALL_PROXY": proxyURL, "all_proxy": proxyURL, "AUTHD_HTTP_TIMEOUT": "3"]
            try daemon.start()
            let login = try daemon.client("authctl", ["get", "demo", "--interactive"])
            #expect(login.status == 0, "\(login.stderr)")
            let refreshed = try daemon.client("authctl", ["get", "demo", "--min-valid", "3600"])
            #expect(refreshed.status == 0, "\(refreshed.stderr)")
            #expect(refreshes(server) == 1)
            #expect(proxy.connections == 0, "the proxy was used for a loopback endpoint")
            daemon.stop()
        }
    }

    /// Security review, finding 8: adding token_endpoint (issuer unchanged) and reloading sent the
    /// stored refresh token to the new endpoint without a prompt.
    @Test func changingTheTokenEndpointOnReloadNeedsANewLogin() async throws {
        try await offPoolValue {
            try requireBinaries()
            let scratch = Scratch("newendpoint")
            let elsewhere = try Tripwire()
            let server = try DevServer(scratch, arguments: Self.fastFlow)
            let daemon = try DaemonUnderTest(scratch, config: demoConfig(server.baseURL))
            daemon.extraEnvironment = ["AUTHD_HTTP_TIMEOUT": "3"]
            try daemon.start()
            let login = try daemon.client("authctl", ["get", "demo", "--interactive"])
            #expect(login.status == 0, "\(login.stderr)")

            let moved = demoConfig(server.baseURL, extra: #"token_endpoint = "http://127.0.0.1:\#(elsewhere.port)/token""#)
            try scratch.write("config/authd/config.toml", moved)
            daemon.running?.signal(SIGHUP)
            var dropped = false
            for _ in 0..<100 where !dropped {
                dropped = try daemon.client("authctl", ["status", "--json"]).stdout.contains(#""state":"logged_out""#)
                if !dropped { usleep(50_000) }
            }
            #expect(dropped, "the reload kept the login for a changed token endpoint")
            let get = try daemon.client("authctl", ["get", "demo", "--min-valid", "3600"])
            #expect(get.status == 3, "\(get.stdout) \(get.stderr)")
            #expect(get.stderr.contains("authctl login demo"), "\(get.stderr)")
            #expect(elsewhere.connections == 0, "the stored login was sent to the new token endpoint")
            #expect(refreshes(server) == 0)

            // The store's record belongs to the old identity: a restart with the new config does not use it either.
            daemon.stop()
            try daemon.start()
            let afterRestart = try daemon.client("authctl", ["get", "demo", "--min-valid", "3600"])
            #expect(afterRestart.status == 3, "\(afterRestart.stderr)")
            #expect(elsewhere.connections == 0)
            // Put back, the old identity's record is found again (it was kept, not lost).
            daemon.stop()
            try scratch.write("config/authd/config.toml", demoConfig(server.baseURL))
            try daemon.start()
            let restored = try daemon.client("authctl", ["get", "demo"])
            #expect(restored.status == 0, "\(restored.stderr)")
            daemon.stop()
        }
    }

    /// Security review, finding 12: five `get --min-valid 2h` against 1 h tokens made five refreshes.
    @Test func aMinValidLongerThanTheTokensIsNotARefreshPerCall() async throws {
        try await offPoolValue {
            try requireBinaries()
            let scratch = Scratch("minvalid")
            let server = try DevServer(scratch, arguments: Self.fastFlow + ["--access-token-ttl", "1h"])
            let daemon = try DaemonUnderTest(scratch, config: demoConfig(server.baseURL))
            try daemon.start()
            let login = try daemon.client("authctl", ["get", "demo", "--interactive"])
            #expect(login.status == 0, "\(login.stderr)")
            for _ in 0..<5 {
                let get = try daemon.client("authctl", ["get", "demo", "--min-valid", "2h"])
                #expect(get.status == 0, "\(get.stderr)")
                #expect(get.stderr.contains("the provider's tokens do not last --min-valid 2h"), "the shortfall is said: \(get.stderr)")
            }
            #expect(refreshes(server) <= 1)
            let reply = try SocketClient.exchange(daemon.socketPath, #"{"op":"get","audience":"demo","min_valid":7200}"#)
            #expect(finalAnswer(reply)["short_of_min_valid"] as? Bool == true, "\(reply.count) bytes")
            let enough = try SocketClient.exchange(daemon.socketPath, #"{"op":"get","audience":"demo","min_valid":60}"#)
            #expect(finalAnswer(enough)["short_of_min_valid"] == nil)
            daemon.stop()
        }
    }
}
