// What a `get` may ask beyond the audience's own token: a narrower scope set and RFC 8707 resources.

/// A narrower token asked of one audience (`get` with `scope` and/or `resource`). Normalised (sorted,
/// without duplicates) so that one scope set is one cache entry however it was spelled.
public struct TokenNarrowing: Sendable, Hashable, CustomStringConvertible {
    /// The scopes asked for; nil when only resources narrow the token (the refresh then sends no `scope`).
    public var scopes: [String]?
    /// RFC 8707 resource indicators (absolute URIs without a fragment); [] when none.
    public var resources: [String]

    public static let maximumScopes = 64
    public static let maximumResources = 8
    public static let maximumResourceBytes = 2048

    public init(scopes: [String]?, resources: [String]) {
        self.scopes = scopes.map { Array(Set($0)).sorted() }
        self.resources = Array(Set(resources)).sorted()
    }

    /// `scope "a b"; resource https://x` for messages and audit records.
    public var description: String {
        var parts: [String] = []
        if let scopes { parts.append("scope \"\(scopes.joined(separator: " "))\"") }
        if !resources.isEmpty { parts.append("resource \(resources.joined(separator: " "))") }
        return parts.joined(separator: "; ")
    }

    /// RFC 6749 §3.3 scope-token characters: printable ASCII except space, `"` and `\`.
    public static func isScopeToken(_ token: String) -> Bool {
        !token.isEmpty && token.utf8.allSatisfy { $0 == 0x21 || (0x23...0x5B).contains($0) || (0x5D...0x7E).contains($0) }
    }

    /// RFC 8707 §2: an absolute URI (a scheme, then `:`) with no fragment, printable ASCII only.
    public static func isResourceIndicator(_ uri: String) -> Bool {
        let bytes = Array(uri.utf8)
        guard !bytes.isEmpty, bytes.count <= maximumResourceBytes, bytes.allSatisfy({ (0x21...0x7E).contains($0) }),
              !bytes.contains(UInt8(ascii: "#")), let colon = bytes.firstIndex(of: UInt8(ascii: ":")), colon > 0,
              bytes[0].isASCIILetter else { return false }
        return bytes[..<colon].allSatisfy { $0.isASCIILetter || (0x30...0x39).contains($0) || $0 == UInt8(ascii: "+")
            || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ".") }
    }

    /// Parses `scope` (space-separated, as in OAuth) and `resource` (one URI or a list) as a client sent them.
    public static func parse(scope: String?, resources: [String]) throws(ProtocolFailure) -> TokenNarrowing {
        var scopes: [String]?
        if let scope {
            let tokens = scope.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            guard !tokens.isEmpty else { throw ProtocolFailure(.badRequest, "scope is empty: name at least one scope") }
            guard tokens.count <= maximumScopes else { throw ProtocolFailure(.badRequest, "scope names more than \(maximumScopes) scopes") }
            if let bad = tokens.first(where: { !isScopeToken($0) }) {
                throw ProtocolFailure(.badRequest, "scope \"\(TerminalText.clean(String(bad.prefix(64))))\" has a character OAuth does not allow in a scope (RFC 6749 §3.3)")
            }
            scopes = tokens
        }
        guard resources.count <= maximumResources else { throw ProtocolFailure(.badRequest, "more than \(maximumResources) resources") }
        if let bad = resources.first(where: { !isResourceIndicator($0) }) {
            throw ProtocolFailure(.badRequest, "resource \"\(TerminalText.clean(String(bad.prefix(64))))\" is not an absolute URI without a fragment (RFC 8707 §2)")
        }
        return TokenNarrowing(scopes: scopes, resources: resources)
    }

    /// The request members: `scope` as one space-separated string, `resource` as a list.
    public var jsonMembers: [(String, JSONValue)] {
        var members: [(String, JSONValue)] = []
        if let scopes { members.append(("scope", .string(scopes.joined(separator: " ")))) }
        if !resources.isEmpty { members.append(("resource", .array(resources.map { .string($0) }))) }
        return members
    }
}

private extension UInt8 {
    var isASCIILetter: Bool { (0x41...0x5A).contains(self) || (0x61...0x7A).contains(self) }
}
