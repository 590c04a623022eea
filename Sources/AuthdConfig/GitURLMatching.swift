// Finds the audience that answers for a URL git asks credentials for.
import AuthdWire

/// One `git_urls` entry: an http(s) URL prefix matched on whole path segments.
public struct GitURLPrefix: Sendable, Hashable, CustomStringConvertible {
    public var url: EndpointURL
    /// Percent-decoded, empty segments dropped, so `/org/` and `/org` are the same prefix.
    public var pathSegments: [String]

    public init(parsing text: String) throws(EndpointURLError) {
        let url = try EndpointURL(parsing: text)
        guard url.query == nil else { throw EndpointURLError("a git URL prefix cannot have a ?query") }
        guard !GitPath.hasDotSegment(url.path) else {
            throw EndpointURLError("a git URL prefix cannot have . or .. path segments (write the path they stand for)")
        }
        self.url = url
        self.pathSegments = GitPath.segments(url.path)
    }

    /// The command that makes git send the path for this prefix's host: without it a prefix
    /// with a path never matches.
    public var useHttpPathCommand: String {
        "git config --global credential.\(url.scheme.rawValue)://\(url.authority).useHttpPath true"
    }

    /// Prefixes are equal when they match the same URLs: `https://H:443/org/` equals `https://h/org`.
    public static func == (lhs: GitURLPrefix, rhs: GitURLPrefix) -> Bool {
        lhs.url.scheme == rhs.url.scheme && lhs.url.hostKind == rhs.url.hostKind
            && lhs.url.effectivePort == rhs.url.effectivePort && lhs.pathSegments == rhs.pathSegments
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(url.scheme)
        hasher.combine(url.hostKind)
        hasher.combine(url.effectivePort)
        hasher.combine(pathSegments)
    }

    public var description: String {
        url.scheme.rawValue + "://" + url.authority + "/" + pathSegments.joined(separator: "/")
    }

    /// How many path segments of `request` this prefix covers, or nil when it does not match.
    public func matchLength(_ request: GitRequestURL) -> Int? {
        guard url.scheme == request.scheme, url.hostKind == request.hostKind,
              url.effectivePort == request.port, pathSegments.count <= request.pathSegments.count else { return nil }
        for (prefix, segment) in zip(pathSegments, request.pathSegments) where prefix != segment { return nil }
        return pathSegments.count
    }
}

/// The URL of a git credential request, from git's `protocol`, `host` and `path` attributes.
public struct GitRequestURL: Sendable, Hashable {
    public var scheme: EndpointURL.Scheme
    public var hostKind: EndpointURL.Host
    /// With the scheme's default port filled in.
    public var port: Int
    public var pathSegments: [String]

    /// `host` may carry a port (`example.com:8443`, `[::1]:8080`); `path` is present only
    /// when git runs with `credential.useHttpPath`. Anything but http(s) gives nil, and so does
    /// a path with a `.` or `..` segment (also percent-encoded): `org/../other` must not match
    /// the prefix `org`, and resolving it would guess at what the server does with it.
    public init?(protocol scheme: String, host: String, path: String?) {
        guard let parsedScheme = EndpointURL.Scheme(rawValue: scheme.lowercased()),
              !host.isEmpty, !host.utf8.contains(where: { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "#") }),
              let url = try? EndpointURL(parsing: parsedScheme.rawValue + "://" + host + "/") else { return nil }
        self.scheme = parsedScheme
        self.hostKind = url.hostKind
        self.port = url.effectivePort
        if let path, GitPath.hasDotSegment(path) { return nil }
        self.pathSegments = path.map(GitPath.segments) ?? []
    }

    /// Whether `prefix` is on this request's scheme, host and port, whatever the paths.
    func sameOrigin(as prefix: GitURLPrefix) -> Bool {
        prefix.url.scheme == scheme && prefix.url.hostKind == hostKind && prefix.url.effectivePort == port
    }
}

extension AudienceConfiguration {
    /// Whether both audiences could answer one request on a shared `git_urls` prefix with the
    /// same rank: both take any user name, or both name one in common.
    public func gitUsernamesOverlap(_ other: AudienceConfiguration) -> Bool {
        if gitUsernames.isEmpty || other.gitUsernames.isEmpty { return gitUsernames.isEmpty && other.gitUsernames.isEmpty }
        return !Set(gitUsernames).isDisjoint(with: other.gitUsernames)
    }
}

extension AuthdConfiguration {
    /// The audience whose `git_urls` has the longest prefix of the request's URL, the
    /// first in file order on a tie; nil when none matches (git then asks other helpers).
    /// `username` is what git sends from the remote URL (`https://work@host/…`): an audience
    /// with `git_usernames` answers only for those names, and on a tie it goes before an
    /// audience that takes any name, so a per-user audience and a default one can share a host.
    ///
    /// Without `credential.useHttpPath` git sends no path, so only prefixes without a
    /// path can match: a token scoped to `https://host/org` is not handed out for an
    /// unknown repository on that host.
    public func audience(forGitProtocol scheme: String, host: String, path: String?, username: String? = nil) -> AudienceConfiguration? {
        guard let request = GitRequestURL(protocol: scheme, host: host, path: path) else { return nil }
        return audience(forGitRequest: request, username: username)
    }

    public func audience(forGitRequest request: GitRequestURL, username: String? = nil) -> AudienceConfiguration? {
        var best: (audience: AudienceConfiguration, rank: (Int, Int))?
        for audience in audiences {
            let named = !audience.gitUsernames.isEmpty
            if named && !audience.gitUsernames.contains(where: { $0 == username }) { continue }
            for prefix in audience.gitURLs {
                guard let length = prefix.matchLength(request) else { continue }
                let rank = (length, named ? 1 : 0)
                if best.map({ rank > $0.rank }) ?? true { best = (audience, rank) }
            }
        }
        return best?.audience
    }

    /// The audiences an `erase` may be about: git erases with the user name the helper answered
    /// (the audience's `git_username`), not the one in the remote URL, so an audience chosen by
    /// `git_usernames` is recognised by either. The daemon erases only a token whose fingerprint
    /// matches, so asking every candidate never erases another audience's token.
    public func audiencesForGitErase(forGitProtocol scheme: String, host: String, path: String?,
                                     username: String?) -> [AudienceConfiguration] {
        guard let request = GitRequestURL(protocol: scheme, host: host, path: path) else { return [] }
        var found: [AudienceConfiguration] = []
        if let best = audience(forGitRequest: request, username: username) { found.append(best) }
        for audience in audiences where !audience.gitUsernames.isEmpty && audience.gitUsername == username
            && !found.contains(where: { $0.name == audience.name })
            && audience.gitURLs.contains(where: { $0.matchLength(request) != nil }) {
            found.append(audience)
        }
        return found
    }

    /// The answer to git's credential description (`git_lookup`): the one place the daemon (for a
    /// running daemon) and git's helper (when none runs) turn it into audiences and a hint.
    public func gitLookup(_ lookup: GitLookup) -> GitLookupAnswer {
        let matched = lookup.forErase
            ? audiencesForGitErase(forGitProtocol: lookup.scheme, host: lookup.host, path: lookup.path, username: lookup.username)
            : audience(forGitProtocol: lookup.scheme, host: lookup.host, path: lookup.path, username: lookup.username).map { [$0] } ?? []
        var hint: GitLookupAnswer.PathHint?
        if matched.isEmpty && !lookup.forErase,
           let prefix = gitPrefixesNeedingPath(forGitProtocol: lookup.scheme, host: lookup.host, path: lookup.path,
                                               username: lookup.username).first {
            hint = GitLookupAnswer.PathHint(entry: prefix.description, command: prefix.useHttpPathCommand)
        }
        return GitLookupAnswer(matches: matched.map { .init(audience: $0.name, username: $0.gitUsername, bearer: $0.gitAuth == .bearer) },
                               pathHint: hint)
    }

    /// The `git_urls` entries with a path on the request's host, when git sent no path and so
    /// none of them can match: git asks helpers for a path only with `credential.useHttpPath`.
    /// Empty when the request has a path or another entry answers it.
    public func gitPrefixesNeedingPath(forGitProtocol scheme: String, host: String, path: String?,
                                       username: String? = nil) -> [GitURLPrefix] {
        guard path == nil, let request = GitRequestURL(protocol: scheme, host: host, path: nil),
              audience(forGitRequest: request, username: username) == nil else { return [] }
        return audiences.flatMap(\.gitURLs).filter { !$0.pathSegments.isEmpty && request.sameOrigin(as: $0) }
    }
}

/// git's `url=` attribute, split as RFC 3986 (and git and curl) split it: the authority ends at
/// the first `/`, `?` or `#`, and user information is what precedes an `@` inside it. Anything
/// that two readers could split differently is refused rather than guessed at.
public struct GitCredentialURL: Sendable, Equatable {
    public var scheme: String
    /// `host` or `host:port`, as git's `host=` attribute carries it.
    public var host: String
    /// Without the leading `/`, percent-encoding as written; nil when the URL has none.
    public var path: String?
    public var username: String?

    public init(parsing text: String) throws(EndpointURLError) {
        guard let separator = text.utf8.firstRange(of: "://".utf8) else {
            throw EndpointURLError("url= has no scheme://")
        }
        let scheme = String(text[..<separator.lowerBound])
        let rest = text[separator.upperBound...]
        let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        var hostPort = authority
        var username: String?
        let ats = authority.indices.filter { authority[$0] == "@" }
        guard ats.count <= 1 else { throw EndpointURLError("url= has more than one @ before the host") }
        if let at = ats.first {
            let userinfo = authority[..<at]
            // RFC 3986 userinfo characters only: a `\` or space there is where readers disagree
            // (WHATWG URLs read `https://a.example\@b.example/` as host a.example).
            guard userinfo.utf8.allSatisfy({ GitPath.isUserinfoByte($0) }) else {
                throw EndpointURLError("url= has a character before the @ that RFC 3986 does not allow there")
            }
            username = GitPath.percentDecoded(String(userinfo.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)[0]))
            hostPort = authority[authority.index(after: at)...]
        }
        // The one URL parser refuses what is left to refuse: bad hosts and ports, fragments,
        // characters outside RFC 3986, schemes other than http(s).
        let url = try EndpointURL(parsing: scheme + "://" + hostPort + rest[authorityEnd...])
        guard url.query == nil else { throw EndpointURLError("url= has a ?query") }
        self.scheme = url.scheme.rawValue
        self.host = url.authority
        let path = url.path.drop(while: { $0 == "/" })
        self.path = path.isEmpty ? nil : String(path)
        self.username = username
    }
}

public enum GitPath {
    static func segments<S: StringProtocol>(_ path: S) -> [String] {
        path.split(separator: "/", omittingEmptySubsequences: true).map { percentDecoded(String($0)) }
    }

    /// Whether a segment of `path` is `.` or `..`, written plainly or percent-encoded (`%2e%2E`).
    public static func hasDotSegment<S: StringProtocol>(_ path: S) -> Bool {
        segments(path).contains { $0 == "." || $0 == ".." }
    }

    /// git decodes the path before handing it to helpers, so prefixes are compared decoded too.
    static func percentDecoded(_ text: String) -> String {
        guard text.utf8.contains(UInt8(ascii: "%")) else { return text }
        let bytes = Array(text.utf8)
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "%"), index + 2 < bytes.count,
               let high = hexValue(bytes[index + 1]), let low = hexValue(bytes[index + 2]) {
                output.append(high << 4 | low)
                index += 3
            } else {
                output.append(bytes[index])
                index += 1
            }
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// unreserved, sub-delims, `:` and `%` (of percent-encoding), per RFC 3986's `userinfo`.
    static func isUserinfoByte(_ byte: UInt8) -> Bool {
        (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
            || "-._~!$&'()*+,;=:%".utf8.contains(byte)
    }

    static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: return byte - 0x30
        case 0x41...0x46: return byte - 0x41 + 10
        case 0x61...0x66: return byte - 0x61 + 10
        default: return nil
        }
    }
}
