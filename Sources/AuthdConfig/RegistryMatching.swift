// Container registry names: the one parser for `registries` entries and the server URLs docker hands its credential helpers.

/// A registry as docker names it: a host, with a port when it is not the default, lower-cased.
/// `ghcr.io`, `registry.gitlab.com`, `127.0.0.1:5000`, `[::1]:5000`.
public struct RegistryHost: Sendable, Hashable, CustomStringConvertible {
    /// Lower-cased; an IPv6 literal keeps its brackets.
    public let host: String
    /// Only when written; `ghcr.io` and `ghcr.io:443` are two names to docker, and so here.
    public let port: Int?

    public var description: String { port.map { "\(host):\($0)" } ?? host }

    /// Why a text is not a registry name.
    public struct Invalid: Error, Sendable, Equatable {
        public let message: String
    }

    /// Docker's longest server URL is far below this; anything longer is not one.
    public static let maximumLength = 2048

    /// Accepts what docker, podman and skopeo pass as the server URL: `host[:port]`, optionally
    /// with `http://` or `https://` in front and a path after (`https://index.docker.io/v1/`),
    /// which names the same registry. A user name or password in it, a query, whitespace or
    /// control characters are refused: such a text was not written by docker, and two readers
    /// could take it to name two hosts.
    public init(parsing text: String) throws(Invalid) {
        guard !text.isEmpty else { throw Invalid(message: "the registry name is empty") }
        guard text.utf8.count <= Self.maximumLength else { throw Invalid(message: "the registry name is longer than \(Self.maximumLength) bytes") }
        guard text.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw Invalid(message: "a registry name has no spaces, control or non-ASCII characters")
        }
        var rest = Substring(text)
        if let separator = rest.firstRange(of: "://") {
            let scheme = rest[..<separator.lowerBound].lowercased()
            guard scheme == "https" || scheme == "http" else {
                throw Invalid(message: "a registry is reached over https:// (or http:// on loopback), not \(scheme)://")
            }
            rest = rest[separator.upperBound...]
        }
        let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        guard !authority.contains("@") else {
            throw Invalid(message: "a registry name carries no user name or password (user@host); give the host alone")
        }
        guard !rest[authorityEnd...].contains("?") && !rest[authorityEnd...].contains("#") else {
            throw Invalid(message: "a registry name has no ?query or #fragment")
        }
        var hostPart = authority
        var port: Int?
        if hostPart.hasPrefix("[") {
            guard let close = hostPart.firstIndex(of: "]") else { throw Invalid(message: "an IPv6 address needs its closing ]") }
            let after = hostPart[hostPart.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw Invalid(message: "unexpected text after the IPv6 address") }
                port = try Self.port(after.dropFirst())
            }
            hostPart = hostPart[...close]
            let inside = hostPart.dropFirst().dropLast()
            guard !inside.isEmpty, inside.allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." }) else {
                throw Invalid(message: "\(hostPart) is not an IPv6 address")
            }
        } else {
            if let colon = hostPart.lastIndex(of: ":") {
                port = try Self.port(hostPart[hostPart.index(after: colon)...])
                hostPart = hostPart[..<colon]
            }
            let labels = hostPart.split(separator: ".", omittingEmptySubsequences: false)
            guard !hostPart.isEmpty, hostPart.utf8.count <= 253, labels.allSatisfy({ label in
                !label.isEmpty && label.utf8.count <= 63 && !label.hasPrefix("-") && !label.hasSuffix("-")
                    && label.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) || $0 == 0x2D || $0 == 0x5F }
            }) else {
                throw Invalid(message: "\"\(hostPart)\" is not a host name (letters, digits, '-' and '.')")
            }
        }
        self.host = hostPart.lowercased()
        self.port = port
    }

    private static func port(_ digits: Substring) throws(Invalid) -> Int {
        guard !digits.isEmpty, digits.utf8.count <= 5, digits.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
              let value = Int(digits), (1...65535).contains(value) else {
            throw Invalid(message: "the port must be a number from 1 to 65535")
        }
        return value
    }
}

extension AuthdConfiguration {
    /// The first audience (in file order) whose `registries` names the registry; config
    /// validation warns when two audiences list the same one.
    public func audience(forRegistry registry: RegistryHost) -> AudienceConfiguration? {
        audiences.first { $0.registries.contains(registry) }
    }

    /// Every configured registry and the user name its helper answers with, for `list`.
    public var registryUsernames: [(registry: RegistryHost, username: String)] {
        var seen: Set<RegistryHost> = []
        var entries: [(RegistryHost, String)] = []
        for audience in audiences {
            for registry in audience.registries where seen.insert(registry).inserted {
                entries.append((registry, audience.registryUsername))
            }
        }
        return entries
    }
}
