// Plain http reaches loopback peers only: the connected address is checked before the first byte is sent.
import AuthdSystem
import AuthdWire
import Glibc
import Testing

/// A listener on this host's own non-loopback IPv4 address (the traffic stays on the host).
private final class OwnAddressListener {
    let fd: Int32
    let address: String
    let port: Int

    /// nil when the host has no non-loopback IPv4 address.
    init?() {
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0 else { return nil }
        defer { freeifaddrs(list) }
        var found: sockaddr_in?
        var cursor = list
        while let entry = cursor {
            if let sa = entry.pointee.ifa_addr, sa.pointee.sa_family == sa_family_t(AF_INET) {
                let inet = UnsafeRawPointer(sa).load(as: sockaddr_in.self)
                if UInt32(bigEndian: inet.sin_addr.s_addr) >> 24 != 127 { found = inet; break }
            }
            cursor = entry.pointee.ifa_next
        }
        guard var bindAddress = found else { return nil }
        bindAddress.sin_port = 0
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &bindAddress) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && listen(fd, 4) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard fd >= 0, ok else { close(fd); return nil }
        var text = [CChar](repeating: 0, count: 32)
        var raw = bindAddress.sin_addr
        inet_ntop(AF_INET, &raw, &text, 32)
        self.fd = fd
        address = String(cString: text)
        port = Int(UInt16(bigEndian: bindAddress.sin_port))
    }

    /// The bytes the first connection sent before it closed.
    func bytesReceived() -> Int {
        let connection = accept(fd, nil, nil)
        guard connection >= 0 else { return -1 }
        defer { close(connection) }
        var total = 0
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = read(connection, &buffer, buffer.count)
            if n <= 0 { break }
            total += n
        }
        return total
    }

    deinit { close(fd) }
}

@Suite struct LoopbackPeerTests {
    /// Security review, finding 4: the policy's loopback verdict is about a name; the connection is
    /// where it is proven. Plain http to a peer that is not a loopback address sends nothing.
    @Test func plainHTTPToANonLoopbackPeerIsAbortedBeforeTheRequest() async throws {
        guard let listener = OwnAddressListener() else {
            print("skipped: this host has no non-loopback IPv4 address to connect to")
            return
        }
        let url = "http://\(listener.address):\(listener.port)/token"
        await #expect {
            try await CurlHTTPTransport().send(HTTPRequest(method: .post, url: url, body: Array("refresh_token=secret".utf8)))
        } throws: { error in
            guard case HTTPError.connectFailed(let why) = error else { return false }
            return why.contains("not a loopback address")
        }
        #expect(listener.bytesReceived() == 0)
    }

    @Test func aLoopbackOnlyRequestToALoopbackPeerIsSent() async throws {
        let server = try LoopbackServer()
        let response = try await CurlHTTPTransport().send(HTTPRequest(method: .get, url: server.url("/hello", host: "localhost"), loopbackOnly: true))
        #expect(response.status == 200)
    }
}
