// The `forward_open` request's fields and their bounds: one parser for the daemon and the client.

/// What a client asks for when it opens a restricted forwarding socket.
public struct ForwardOpening: Sendable, Equatable {
    /// The audiences the forward serves; nil: every configured audience.
    public var audiences: [String]?
    public var ttlSeconds: Int
    /// Whether a device or authorization-code login may be started through the forward.
    public var allowLogin: Bool
    /// Where to bind the forward's socket; nil: the daemon's runtime directory.
    public var socket: String?

    public static let defaultTTLSeconds = 8 * 3_600
    /// A forward is for a working session; a week is the longest one may be asked for.
    public static let maximumTTLSeconds = 7 * 86_400

    public init(audiences: [String]? = nil, ttlSeconds: Int = ForwardOpening.defaultTTLSeconds,
                allowLogin: Bool = false, socket: String? = nil) {
        self.audiences = audiences
        self.ttlSeconds = ttlSeconds
        self.allowLogin = allowLogin
        self.socket = socket
    }

    static func decode(_ value: JSONValue) throws(ProtocolFailure) -> ForwardOpening {
        var opening = ForwardOpening()
        if let raw = value["audiences"], raw != .null {
            guard let list = raw.arrayValue, !list.isEmpty, list.count <= 256 else {
                throw ProtocolFailure(.badRequest, "forward_open: \"audiences\" must be a non-empty list of audience names")
            }
            var names: [String] = []
            for item in list {
                guard let name = item.stringValue, AudienceName.isValid(name) else {
                    throw ProtocolFailure(.badRequest, "forward_open: invalid audience name in \"audiences\"")
                }
                if !names.contains(name) { names.append(name) }
            }
            opening.audiences = names
        }
        if let raw = value["ttl"] {
            guard let seconds = raw.integerValue, seconds >= 1, seconds <= Int64(maximumTTLSeconds) else {
                throw ProtocolFailure(.badRequest, "forward_open: \"ttl\" must be seconds between 1 and \(maximumTTLSeconds) (7 days)")
            }
            opening.ttlSeconds = Int(seconds)
        }
        if let raw = value["allow_login"] {
            guard let flag = raw.boolValue else { throw ProtocolFailure(.badRequest, "forward_open: \"allow_login\" must be a boolean") }
            opening.allowLogin = flag
        }
        if let raw = value["socket"], raw != .null {
            guard let path = raw.stringValue, path.hasPrefix("/"), path.utf8.count < 108,
                  !path.utf8.contains(0), !path.hasSuffix("/") else {
                throw ProtocolFailure(.badRequest, "forward_open: \"socket\" must be an absolute path shorter than 108 bytes")
            }
            opening.socket = path
        }
        return opening
    }

    /// Forward ids as the daemon makes them: 12 lowercase hex digits.
    public static func isValidID(_ id: String) -> Bool {
        id.utf8.count == 12 && id.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }
    }
}
