// The libcurl transport against a loopback python3 server: methods, caps, redirects, failures, cancellation, CA files.
import AuthdPosix
import AuthdSystem
import AuthdTestSupport
import AuthdWire
import Testing

@Suite(.serialized) struct CurlHTTPTransportTests {
    let transport = CurlHTTPTransport()

    @Test func getReturnsStatusHeadersAndBody() async throws {
        let server = try LoopbackServer()
        let response = try await transport.send(HTTPRequest(method: .get, url: server.url("/hello")))
        #expect(response.status == 200)
        #expect(response.body == Array("hello".utf8))
        #expect(response.header("X-Test") == "yes")
        #expect(response.header("content-length") == "5")
        let missing = try await transport.send(HTTPRequest(method: .get, url: server.url("/nothing")))
        #expect(missing.status == 404)
    }

    @Test func postSendsBodyAndHeaders() async throws {
        let server = try LoopbackServer()
        let body = Array("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code&device_code=abc".utf8)
        let response = try await transport.send(HTTPRequest(
            method: .post, url: server.url("/echo"),
            headers: [(name: "Content-Type", value: "application/x-www-form-urlencoded")], body: body))
        #expect(response.status == 200)
        #expect(response.body == body)
        #expect(response.header("x-content-type") == "application/x-www-form-urlencoded")
    }

    @Test func bodyCapFailsWithResponseTooLarge() async throws {
        let server = try LoopbackServer()
        await #expect(throws: HTTPError.responseTooLarge(limit: 1000)) {
            try await transport.send(HTTPRequest(method: .get, url: server.url("/big"), maximumResponseBytes: 1000))
        }
        let whole = try await transport.send(HTTPRequest(method: .get, url: server.url("/big"), maximumResponseBytes: 200_000))
        #expect(whole.body.count == 200_000)
    }

    @Test func redirectsAreNotFollowed() async throws {
        let server = try LoopbackServer()
        let response = try await transport.send(HTTPRequest(method: .get, url: server.url("/redirect")))
        #expect(response.status == 302)
        #expect(response.header("location") == "/hello")
    }

    @Test func refusedConnectionIsConnectFailed() async throws {
        let server = try LoopbackServer()
        await #expect {
            try await transport.send(HTTPRequest(method: .get, url: "http://127.0.0.1:\(server.closedPort)/"))
        } throws: { error in
            guard case HTTPError.connectFailed = error else { return false }
            return true
        }
    }

    @Test func silentServerTimesOut() async throws {
        let server = try LoopbackServer()
        let start = SystemClock.monotonicNanoseconds()
        await #expect(throws: HTTPError.timedOut) {
            try await transport.send(HTTPRequest(
                method: .get, url: "http://127.0.0.1:\(server.silentPort)/", totalTimeoutMilliseconds: 500))
        }
        // Far below libcurl's own defaults; generous because CI machines are loaded.
        #expect(SystemClock.monotonicNanoseconds() - start < 20_000_000_000)
    }

    @Test func cancellingTheTaskAbortsTheTransfer() async throws {
        let server = try LoopbackServer()
        let transport = transport
        let start = SystemClock.monotonicNanoseconds()
        let task = Task {
            try await transport.send(HTTPRequest(method: .get, url: server.url("/slow"), totalTimeoutMilliseconds: 60_000))
        }
        try await Task.sleep(for: .milliseconds(300))
        task.cancel()
        await #expect(throws: HTTPError.cancelled) { try await task.value }
        #expect(SystemClock.monotonicNanoseconds() - start < 20_000_000_000)
    }

    @Test func otherSchemesAndBadURLsAreRejected() async throws {
        await #expect {
            try await transport.send(HTTPRequest(method: .get, url: "file:///etc/passwd"))
        } throws: { error in
            guard case HTTPError.invalidURL = error else { return false }
            return true
        }
        await #expect(throws: HTTPError.self) { try await transport.send(HTTPRequest(method: .get, url: "not a url")) }
    }

    @Test func caFileIsTrustedOnTopOfTheSystemStore() async throws {
        let directory = TemporaryDirectory()
        let certificate = directory.path + "/cert.pem", privateKey = directory.path + "/key.pem"
        try run("/usr/bin/openssl", [
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", privateKey, "-out", certificate,
        ])
        let server = try LoopbackServer(certificate: certificate, privateKey: privateKey)
        let url = server.url("/hello", scheme: "https")
        let trusted = try await transport.send(HTTPRequest(method: .get, url: url, caFile: certificate))
        #expect(trusted.status == 200)
        await #expect {
            try await transport.send(HTTPRequest(method: .get, url: url))
        } throws: { error in
            guard case HTTPError.tls = error else { return false }
            return true
        }
    }
}
