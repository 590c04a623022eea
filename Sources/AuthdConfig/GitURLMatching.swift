// Finds the audience that answers for a URL git asks credentials for.

/// One `git_urls` entry: an http(s) URL prefix matched on whole path segments.
public struct GitURLPrefix: Sendable, Hashable, CustomStringConvertible {
    public var url: EndpointURL
    /// Percent-decoded, empty segments dropped, so `/org/` and `/org` are the same prefix.
    public var pathSegments: [String]

    public init(parsing text: String) throws(EndpointURLError) {
        let url = try EndpointURL(parsing: text)
        guard url.query == nil else { throw EndpointURLError("a git URL prefix cannot have a ?query") }
        self.url = url
        self.pathSegments = GitPath.segments(url.path)
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
    /// when git runs with `credential.useHttpPath`. Anything but http(s) gives nil.
    public init?(protocol scheme: String, host: String, path: String?) {
        guard let parsedScheme = EndpointURL.Scheme(rawValue: scheme.lowercased()),
              !host.isEmpty, !host.utf8.contains(where: { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "#") }),
              let url = try? EndpointURL(parsing: parsedScheme.rawValue + "://" + host + "/") else { return nil }
        self.scheme = parsedScheme
        self.hostKind = url.hostKind
        self.port = url.effectivePort
        self.pathSegments = path.map(GitPath.segments) ?? []
    }
}

extension AuthdConfiguration {
    /// The audience whose `git_urls` has the longest prefix of the request's URL, the
    /// first in file order on a tie; nil when none matches (git then asks other helpers).
    ///
    /// Without `credential.useHttpPath` git sends no path, so only prefixes without a
    /// path can match: a token scoped to `https://host/org` is not handed out for an
    /// unknown repository on that host.
    public func audience(forGitProtocol scheme: String, host: String, path: String?) -> AudienceConfiguration? {
        guard let request = GitRequestURL(protocol: scheme, host: host, path: path) else { return nil }
        return audience(forGitRequest: request)
    }

    public func audience(forGitRequest request: GitRequestURL) -> AudienceConfiguration? {
        var best: (audience: AudienceConfiguration, length: Int)?
        for audience in audiences {
            for prefix in audience.gitURLs {
                guard let length = prefix.matchLength(request) else { continue }
                if length > (best?.length ?? -1) { best = (audience, length) }
            }
        }
        return best?.audience
    }
}

enum GitPath {
    static func segments<S: StringProtocol>(_ path: S) -> [String] {
        path.split(separator: "/", omittingEmptySubsequences: true).map { percentDecoded(String($0)) }
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

    static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: return byte - 0x30
        case 0x41...0x46: return byte - 0x41 + 10
        case 0x61...0x66: return byte - 0x61 + 10
        default: return nil
        }
    }
}
