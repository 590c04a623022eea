// git's credential description on stdin: key=value lines up to a blank line, within fixed caps.
import AuthdPosix

/// What git tells a helper about the credential it wants, erases or stores.
struct GitCredentialInput {
    static let maximumBytes = 64 * 1024
    static let maximumLineBytes = 8 * 1024

    var scheme: String?
    /// May carry `:port`.
    var host: String?
    /// Present with `credential.useHttpPath`.
    var path: String?
    var username: String?
    var password: String?
    /// git 2.46+ with `authtype`: the rejected `credential` on erase.
    var credential: String?
    var capabilities: [String] = []

    var announcesAuthtype: Bool { capabilities.contains("authtype") }

    struct LimitExceeded: Error {
        let message: String
    }

    /// Reads until a blank line or end of input. Unknown keys are ignored, as git asks of helpers.
    static func read(from input: FileDescriptor) throws(LimitExceeded) -> GitCredentialInput {
        var bytes: [UInt8] = []
        while !bytes.endsWithBlankLine {
            guard let chunk = try? input.read(upToCount: 4096), !chunk.isEmpty else { break }
            bytes += chunk
            guard bytes.count <= maximumBytes else { throw LimitExceeded(message: "git sent more than 64 KiB") }
        }
        var parsed = GitCredentialInput()
        for rawLine in bytes.split(separator: 0x0A, omittingEmptySubsequences: false) {
            guard rawLine.count <= maximumLineBytes else { throw LimitExceeded(message: "git sent a line longer than 8 KiB") }
            var line = rawLine
            if line.last == 0x0D { line.removeLast() }
            if line.isEmpty { break }
            guard let equals = line.firstIndex(of: UInt8(ascii: "=")) else { continue }
            let key = String(decoding: line[..<equals], as: UTF8.self)
            let value = String(decoding: line[line.index(after: equals)...], as: UTF8.self)
            switch key {
            case "protocol": parsed.scheme = value
            case "host": parsed.host = value
            case "path": parsed.path = value
            case "username": parsed.username = value
            case "password": parsed.password = value
            case "credential": parsed.credential = value
            case "capability[]": parsed.capabilities.append(value)
            case "url": parsed.take(url: value)
            default: break
            }
        }
        for i in bytes.indices { bytes[i] = 0 }
        return parsed
    }

    /// `url=` stands for protocol, host and path (and user); keys given separately win.
    mutating func take(url: String) {
        let parts = url.split(separator: "://", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2 else { return }
        let rest = parts[1]
        let authorityEnd = rest.firstIndex(of: "/") ?? rest.endIndex
        var authority = rest[..<authorityEnd]
        if let at = authority.lastIndex(of: "@") {
            if username == nil {
                let user = authority[..<at]
                username = String(user.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)[0])
            }
            authority = authority[authority.index(after: at)...]
        }
        if scheme == nil { scheme = String(parts[0]) }
        if host == nil { host = String(authority) }
        if path == nil, authorityEnd < rest.endIndex {
            let tail = rest[rest.index(after: authorityEnd)...]
            if !tail.isEmpty { path = String(tail) }
        }
    }
}

extension [UInt8] {
    /// git ends its description with an empty line (`...\n\n`); end of input works too.
    var endsWithBlankLine: Bool {
        // elementsEqual on the ArraySlice: `suffix(n) == [...]` would copy the whole buffer each time.
        self == [0x0A] || self == [0x0D, 0x0A] || suffix(2).elementsEqual([0x0A, 0x0A])
            || suffix(3).elementsEqual([0x0A, 0x0D, 0x0A])
    }
}
