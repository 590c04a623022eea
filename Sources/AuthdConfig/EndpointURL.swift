// Strict parsing of the absolute http(s) URLs authd talks to, and the loopback rule for plain http.

/// Why a text is not an acceptable endpoint URL.
public struct EndpointURLError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) { self.message = message }

    public var description: String { message }
}

/// An absolute `http` or `https` URL without user information or fragment.
///
/// Parsing is deliberately stricter than browsers: anything a person would not write
/// on purpose in a config (spaces, credentials, `#fragments`, numeric host spellings
/// such as `2130706433` or `127.1`) is an error rather than being reinterpreted, so the
/// host authd checks for loopback is the host libcurl connects to.
public struct EndpointURL: Sendable, Hashable, CustomStringConvertible {
    public enum Scheme: String, Sendable, Hashable {
        case http
        case https

        public var defaultPort: Int { self == .https ? 443 : 80 }
    }

    public enum Host: Sendable, Hashable {
        /// A DNS name, lower-cased.
        case name(String)
        case ipv4(UInt8, UInt8, UInt8, UInt8)
        /// Eight 16-bit groups.
        case ipv6([UInt16])
    }

    public var scheme: Scheme
    public var hostKind: Host
    /// The port written in the URL, if any.
    public var port: Int?
    /// Empty or starting with `/`, percent-encoding kept as written.
    public var path: String
    /// Without the `?`; nil when there is none.
    public var query: String?

    public init(parsing text: String) throws(EndpointURLError) {
        self = try URLSyntax.parse(text)
    }

    init(scheme: Scheme, hostKind: Host, port: Int?, path: String, query: String?) {
        self.scheme = scheme
        self.hostKind = hostKind
        self.port = port
        self.path = path
        self.query = query
    }

    /// The port a connection goes to: the written one or the scheme's default.
    public var effectivePort: Int { port ?? scheme.defaultPort }

    /// The host as it appears in a URL's authority (IPv6 in brackets, canonical form).
    public var host: String {
        switch hostKind {
        case .name(let name): return name
        case .ipv4(let a, let b, let c, let d): return "\(a).\(b).\(c).\(d)"
        case .ipv6(let groups): return "[" + URLSyntax.canonicalIPv6(groups) + "]"
        }
    }

    /// `host` plus `:port` when a port was written, as in an HTTP `Host` header or git's `host=`.
    public var authority: String {
        port.map { "\(host):\($0)" } ?? host
    }

    /// 127.0.0.0/8, ::1 (also as an IPv4-mapped 127.x address) or the name `localhost`.
    /// `localhost.example.com` and the like are not: they resolve through DNS.
    public var isLoopback: Bool {
        switch hostKind {
        case .name(let name):
            return name == "localhost"
        case .ipv4(let first, _, _, _):
            return first == 127
        case .ipv6(let groups):
            if groups == [0, 0, 0, 0, 0, 0, 0, 1] { return true }
            return groups[0..<5].allSatisfy { $0 == 0 } && groups[5] == 0xFFFF && groups[6] >> 8 == 127
        }
    }

    /// Plain http is acceptable only where nobody else can read the traffic.
    public var isSecureOrLoopback: Bool { scheme == .https || isLoopback }

    public var description: String {
        var text = scheme.rawValue + "://" + authority + path
        if let query { text += "?" + query }
        return text
    }

    /// This URL with `suffix` (starting with `/`) added to its path; a trailing `/` of the
    /// path is dropped first so `https://h/realm/` and `https://h/realm` build the same URL.
    public func appendingPath(_ suffix: String) -> EndpointURL {
        var copy = self
        var base = path
        while base.hasSuffix("/") { base.removeLast() }
        copy.path = base + suffix
        return copy
    }

    /// The path split on `/`, empty segments dropped: `/a//b/` is `["a", "b"]`.
    public var pathSegments: [Substring] {
        path.split(separator: "/", omittingEmptySubsequences: true)
    }
}

private enum URLSyntax {
    static func parse(_ text: String) throws(EndpointURLError) -> EndpointURL {
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty else { throw EndpointURLError("empty URL") }
        guard let schemeEnd = firstIndex(of: ":", in: bytes[...]) else {
            throw EndpointURLError("not an absolute URL (it must start with https://)")
        }
        let schemeName = String(decoding: bytes[0..<schemeEnd].map { $0 >= 0x41 && $0 <= 0x5A ? $0 | 0x20 : $0 }, as: UTF8.self)
        let scheme: EndpointURL.Scheme
        switch schemeName {
        case "https": scheme = .https
        case "http": scheme = .http
        default:
            if bytes[0..<schemeEnd].allSatisfy(isSchemeByte) && !schemeName.isEmpty {
                throw EndpointURLError("unsupported scheme \"\(schemeName)\" (only https, or http on loopback)")
            }
            throw EndpointURLError("not an absolute URL (it must start with https://)")
        }
        guard bytes.count >= schemeEnd + 3, bytes[schemeEnd + 1] == slash, bytes[schemeEnd + 2] == slash else {
            throw EndpointURLError("expected \"//\" after \"\(schemeName):\"")
        }
        let authorityStart = schemeEnd + 3
        var authorityEnd = authorityStart
        while authorityEnd < bytes.count, bytes[authorityEnd] != slash, bytes[authorityEnd] != question, bytes[authorityEnd] != hash {
            authorityEnd += 1
        }
        let authority = bytes[authorityStart..<authorityEnd]
        if authority.contains(UInt8(ascii: "@")) {
            throw EndpointURLError("a user name or password in the URL is not allowed")
        }
        let (hostKind, port) = try parseAuthority(authority)

        var index = authorityEnd
        var pathEnd = index
        while pathEnd < bytes.count, bytes[pathEnd] != question, bytes[pathEnd] != hash { pathEnd += 1 }
        let path = bytes[index..<pathEnd]
        try check(path, allowing: pathExtras, what: "path")
        index = pathEnd
        var query: String?
        if index < bytes.count, bytes[index] == question {
            var queryEnd = index + 1
            while queryEnd < bytes.count, bytes[queryEnd] != hash { queryEnd += 1 }
            let queryBytes = bytes[(index + 1)..<queryEnd]
            try check(queryBytes, allowing: queryExtras, what: "query")
            query = String(decoding: queryBytes, as: UTF8.self)
            index = queryEnd
        }
        if index < bytes.count {
            throw EndpointURLError("a #fragment is not allowed in an endpoint URL")
        }
        return EndpointURL(scheme: scheme, hostKind: hostKind, port: port,
                           path: String(decoding: path, as: UTF8.self), query: query)
    }

    static let slash = UInt8(ascii: "/")
    static let question = UInt8(ascii: "?")
    static let hash = UInt8(ascii: "#")
    static let pathExtras = Array("-._~!$&'()*+,;=:@/".utf8)
    static let queryExtras = Array("-._~!$&'()*+,;=:@/?".utf8)

    static func isSchemeByte(_ byte: UInt8) -> Bool {
        isAlphanumeric(byte) || byte == UInt8(ascii: "+") || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".")
    }

    static func isAlphanumeric(_ byte: UInt8) -> Bool {
        (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
    }

    static func isHexDigit(_ byte: UInt8) -> Bool {
        (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x46) || (byte >= 0x61 && byte <= 0x66)
    }

    static func firstIndex(of character: Unicode.Scalar, in bytes: ArraySlice<UInt8>) -> Int? {
        bytes.firstIndex(of: UInt8(ascii: character))
    }

    static func check(_ bytes: ArraySlice<UInt8>, allowing extras: [UInt8], what: String) throws(EndpointURLError) {
        var index = bytes.startIndex
        while index < bytes.endIndex {
            let byte = bytes[index]
            if byte == UInt8(ascii: "%") {
                guard index + 2 < bytes.endIndex, isHexDigit(bytes[index + 1]), isHexDigit(bytes[index + 2]) else {
                    throw EndpointURLError("bad percent-encoding in the \(what)")
                }
                index += 3
                continue
            }
            guard isAlphanumeric(byte) || extras.contains(byte) else {
                if byte == UInt8(ascii: " ") { throw EndpointURLError("a space in the \(what) (write it as %20)") }
                throw EndpointURLError("character not allowed in the \(what) (percent-encode it)")
            }
            index += 1
        }
    }

    static func parseAuthority(_ authority: ArraySlice<UInt8>) throws(EndpointURLError) -> (EndpointURL.Host, Int?) {
        guard !authority.isEmpty else { throw EndpointURLError("the URL has no host") }
        let hostBytes: ArraySlice<UInt8>
        var portBytes: ArraySlice<UInt8>?
        let host: EndpointURL.Host
        if authority.first == UInt8(ascii: "[") {
            guard let close = authority.firstIndex(of: UInt8(ascii: "]")) else {
                throw EndpointURLError("missing ']' after the IPv6 address")
            }
            hostBytes = authority[(authority.startIndex + 1)..<close]
            let rest = authority[(close + 1)...]
            if !rest.isEmpty {
                guard rest.first == UInt8(ascii: ":") else { throw EndpointURLError("unexpected text after the IPv6 address") }
                portBytes = rest.dropFirst()
            }
            guard let groups = parseIPv6(hostBytes) else { throw EndpointURLError("invalid IPv6 address") }
            host = .ipv6(groups)
        } else {
            if authority.filter({ $0 == UInt8(ascii: ":") }).count > 1 {
                throw EndpointURLError("an IPv6 address must be written in brackets, e.g. http://[::1]:8765/")
            }
            if let colon = authority.lastIndex(of: UInt8(ascii: ":")) {
                hostBytes = authority[authority.startIndex..<colon]
                portBytes = authority[(colon + 1)...]
            } else {
                hostBytes = authority
            }
            host = try parseHost(hostBytes)
        }
        var port: Int?
        if let portBytes {
            guard !portBytes.isEmpty, portBytes.count <= 5, portBytes.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
                throw EndpointURLError("invalid port")
            }
            let value = portBytes.reduce(0) { $0 * 10 + Int($1 - 0x30) }
            guard (1...65535).contains(value) else { throw EndpointURLError("port \(value) is out of range (1-65535)") }
            port = value
        }
        return (host, port)
    }

    static func parseHost(_ bytes: ArraySlice<UInt8>) throws(EndpointURLError) -> EndpointURL.Host {
        guard !bytes.isEmpty else { throw EndpointURLError("the URL has no host") }
        guard bytes.count <= 253 else { throw EndpointURLError("the host name is too long") }
        let labels = bytes.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        for label in labels {
            guard !label.isEmpty else { throw EndpointURLError("the host name has an empty label") }
            guard label.count <= 63 else { throw EndpointURLError("a host name label is longer than 63 characters") }
            guard label.allSatisfy({ isAlphanumeric($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") }) else {
                throw EndpointURLError("character not allowed in the host name")
            }
        }
        // A name whose last label is numeric is how IPv4 addresses are spelt in odd
        // ways (`127.1`, `0x7f.1`, `2130706433`): only the dotted quad is accepted.
        let last = labels[labels.count - 1]
        let lastIsNumeric = last.allSatisfy { $0 >= 0x30 && $0 <= 0x39 }
            || (last.count > 2 && last.first == UInt8(ascii: "0") && (last[last.startIndex + 1] | 0x20) == UInt8(ascii: "x"))
        if lastIsNumeric {
            guard labels.count == 4 else { throw EndpointURLError("a numeric host must be a dotted-quad IPv4 address") }
            var octets: [UInt8] = []
            for label in labels {
                guard label.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), label.count <= 3,
                      label.count == 1 || label.first != UInt8(ascii: "0") else {
                    throw EndpointURLError("a numeric host must be a dotted-quad IPv4 address (decimal, no leading zeros)")
                }
                let value = label.reduce(0) { $0 * 10 + Int($1 - 0x30) }
                guard value <= 255 else { throw EndpointURLError("IPv4 address part \(value) is above 255") }
                octets.append(UInt8(value))
            }
            return .ipv4(octets[0], octets[1], octets[2], octets[3])
        }
        return .name(String(decoding: bytes.map { $0 >= 0x41 && $0 <= 0x5A ? $0 | 0x20 : $0 }, as: UTF8.self))
    }

    /// RFC 4291 text forms, including `::` compression and a trailing dotted quad; no zone ids.
    static func parseIPv6(_ bytes: ArraySlice<UInt8>) -> [UInt16]? {
        guard bytes.count >= 2, bytes.count <= 45 else { return nil }
        var head: [UInt16] = []
        var tail: [UInt16] = []
        var sawCompression = false
        let text = Array(bytes)
        var index = 0
        if text.starts(with: [UInt8(ascii: ":"), UInt8(ascii: ":")]) {
            sawCompression = true
            index = 2
        } else if text[0] == UInt8(ascii: ":") {
            return nil
        }
        while index < text.count {
            // A dotted quad may end the address.
            var end = index
            while end < text.count, text[end] != UInt8(ascii: ":") { end += 1 }
            let piece = text[index..<end]
            if piece.contains(UInt8(ascii: ".")) {
                guard end == text.count, case .ipv4(let a, let b, let c, let d)? = try? parseHost(piece) else { return nil }
                let groups = [UInt16(a) << 8 | UInt16(b), UInt16(c) << 8 | UInt16(d)]
                if sawCompression { tail += groups } else { head += groups }
                index = end
                break
            }
            guard !piece.isEmpty, piece.count <= 4, piece.allSatisfy(isHexDigit) else { return nil }
            let value = piece.reduce(UInt16(0)) { $0 << 4 | UInt16(hexValue($1)) }
            if sawCompression { tail.append(value) } else { head.append(value) }
            index = end
            if index < text.count {
                // Skip ':' and detect '::'.
                index += 1
                if index < text.count, text[index] == UInt8(ascii: ":") {
                    guard !sawCompression else { return nil }
                    sawCompression = true
                    index += 1
                } else if index == text.count {
                    return nil
                }
            }
        }
        let written = head.count + tail.count
        if sawCompression {
            guard written <= 7 else { return nil }
            return head + Array(repeating: 0, count: 8 - written) + tail
        }
        return written == 8 ? head : nil
    }

    static func hexValue(_ byte: UInt8) -> UInt8 {
        switch byte {
        case 0x30...0x39: return byte - 0x30
        case 0x41...0x46: return byte - 0x41 + 10
        default: return byte - 0x61 + 10
        }
    }

    /// RFC 5952: lower-case, no leading zeros, the longest run of two or more zero groups as `::`.
    static func canonicalIPv6(_ groups: [UInt16]) -> String {
        var bestStart = -1
        var bestLength = 0
        var runStart = -1
        for index in 0...groups.count {
            if index < groups.count && groups[index] == 0 {
                if runStart < 0 { runStart = index }
            } else if runStart >= 0 {
                let length = index - runStart
                if length > bestLength && length >= 2 {
                    bestStart = runStart
                    bestLength = length
                }
                runStart = -1
            }
        }
        func hex(_ range: Range<Int>) -> String {
            groups[range].map { String($0, radix: 16) }.joined(separator: ":")
        }
        guard bestStart >= 0 else { return hex(0..<groups.count) }
        return hex(0..<bestStart) + "::" + hex((bestStart + bestLength)..<groups.count)
    }
}
