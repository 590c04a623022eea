// git's credential description on stdin: key=value lines up to a blank line, within fixed caps.
import AuthdConfig
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

    /// Input the helper does not answer: over the caps, or a `url=` that could name another host.
    struct Refused: Error {
        let message: String
    }

    /// Reads until a blank line or end of input. Unknown keys are ignored, as git asks of helpers.
    static func read(from input: FileDescriptor) throws(Refused) -> GitCredentialInput {
        var bytes: [UInt8] = []
        while !bytes.endsWithBlankLine {
            guard let chunk = try? input.read(upToCount: 4096), !chunk.isEmpty else { break }
            bytes += chunk
            guard bytes.count <= maximumBytes else { throw Refused(message: "git sent more than 64 KiB") }
        }
        defer { for i in bytes.indices { bytes[i] = 0 } }
        return try parse(bytes)
    }

    static func parse(_ bytes: [UInt8]) throws(Refused) -> GitCredentialInput {
        var parsed = GitCredentialInput()
        var url: String?
        for rawLine in bytes.split(separator: 0x0A, omittingEmptySubsequences: false) {
            guard rawLine.count <= maximumLineBytes else { throw Refused(message: "git sent a line longer than 8 KiB") }
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
            case "url": url = value
            default: break
            }
        }
        if let url { try parsed.take(url: url) }
        return parsed
    }

    /// `url=` stands for protocol, host and path (and user). git itself never sends it to helpers
    /// (it splits the URL first), so it comes from a person or a tool piping into the helper: a
    /// URL the one parser refuses, or one that disagrees with keys given separately, is not
    /// answered, because two readings of it could name two hosts.
    mutating func take(url text: String) throws(Refused) {
        let url: GitCredentialURL
        do {
            url = try GitCredentialURL(parsing: text)
        } catch {
            throw Refused(message: "url= is not a URL authd can read unambiguously (\(error.message))")
        }
        func agree(_ given: String?, _ fromURL: String?, _ key: String, caseMatters: Bool = false) throws(Refused) -> String? {
            guard let given else { return fromURL }
            guard fromURL == nil || given == fromURL || (!caseMatters && given.lowercased() == fromURL?.lowercased()) else {
                throw Refused(message: "\(key)= and url= disagree")
            }
            return given
        }
        scheme = try agree(scheme, url.scheme, "protocol")
        host = try agree(host, url.host, "host")
        path = try agree(path, url.path, "path", caseMatters: true)
        if username == nil { username = url.username }
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
