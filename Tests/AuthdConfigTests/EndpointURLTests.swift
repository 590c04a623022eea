// Strict URL parsing and the loopback rule for plain http.
import AuthdConfig
import Testing

@Suite struct EndpointURLTests {
    @Test func parsesParts() throws {
        let u = try EndpointURL(parsing: "HTTPS://Login.Example.COM:8443/a/b%20c?x=1&y=/z")
        #expect(u.scheme == .https)
        #expect(u.host == "login.example.com")
        #expect(u.port == 8443)
        #expect(u.effectivePort == 8443)
        #expect(u.path == "/a/b%20c")
        #expect(u.query == "x=1&y=/z")
        #expect(u.description == "https://login.example.com:8443/a/b%20c?x=1&y=/z")
        let bare = try EndpointURL(parsing: "http://localhost")
        #expect(bare.path == "")
        #expect(bare.effectivePort == 80)
        #expect(bare.port == nil)
    }

    @Test func ipv6Literals() throws {
        let u = try EndpointURL(parsing: "http://[::1]:8765/token")
        #expect(u.hostKind == .ipv6([0, 0, 0, 0, 0, 0, 0, 1]))
        #expect(u.host == "[::1]")
        #expect(u.description == "http://[::1]:8765/token")
        #expect(try EndpointURL(parsing: "https://[2001:DB8:0:0:1:0:0:1]/").host == "[2001:db8::1:0:0:1]")
        #expect(try EndpointURL(parsing: "https://[::ffff:192.0.2.1]/").hostKind == .ipv6([0, 0, 0, 0, 0, 0xFFFF, 0xC000, 0x0201]))
        #expect(try EndpointURL(parsing: "http://[0:0:0:0:0:0:0:1]/").isLoopback)
    }

    @Test(arguments: ["http://127.0.0.1", "http://127.1.2.3:9/x", "http://[::1]", "http://[::1]:8765/", "http://localhost:8765",
                      "http://LOCALHOST/", "http://[::ffff:127.0.0.1]/"])
    func loopback(text: String) throws {
        #expect(try EndpointURL(parsing: text).isLoopback)
    }

    @Test(arguments: ["http://128.0.0.1", "http://localhost.example.com", "http://126.255.255.255", "http://[::2]",
                      "http://example.com", "http://127.0.0.1.nip.io", "http://[::ffff:10.0.0.1]/"])
    func notLoopback(text: String) throws {
        #expect(try !EndpointURL(parsing: text).isLoopback)
    }

    @Test(arguments: [
        ("", "empty URL"), ("example.com/x", "not an absolute URL"), ("ftp://h/", "unsupported scheme"),
        ("https:/h", "expected \"//\""), ("https://", "no host"), ("https://u:p@h/", "user name or password"),
        ("https://h/#frag", "fragment"), ("https://h/a b", "space"), ("https://h:0/", "out of range"),
        ("https://h:99999/", "out of range"), ("https://h:123456/", "invalid port"), ("https://h:/", "invalid port"), ("https://[::1/", "missing ']'"),
        ("https://[::g]/", "invalid IPv6"), ("https://[1::2::3]/", "invalid IPv6"), ("http://::1/", "brackets"),
        ("https://127.1/", "dotted-quad"), ("https://2130706433/", "dotted-quad"), ("https://0x7f.0.0.1/", "dotted-quad"),
        ("https://127.000.0.1/", "leading zeros"), ("https://256.0.0.1/", "above 255"), ("https://a..b/", "empty label"),
        ("https://h/%zz", "percent-encoding"), ("https://h\u{e9}/", "not allowed in the host"),
    ])
    func rejects(text: String, fragment: String) {
        do {
            _ = try EndpointURL(parsing: text)
            Issue.record("accepted \(text)")
        } catch {
            #expect(error.message.contains(fragment), "\(text): \(error)")
        }
    }

    @Test func appendingPath() throws {
        #expect(try EndpointURL(parsing: "https://h/realms/x/").appendingPath("/token").description == "https://h/realms/x/token")
        #expect(try EndpointURL(parsing: "https://h").appendingPath("/token").description == "https://h/token")
    }
}
