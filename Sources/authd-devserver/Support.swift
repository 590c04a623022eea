// Small pure helpers shared by the endpoints: randomness, encodings, forms, JSON and HTML text.

import AuthdWire
import Foundation

enum Random {
    /// Base64url without padding, the usual shape of opaque OAuth tokens; 32 bytes = 256 bits.
    static func token(bytes: Int = 32) -> String {
        var rng = SystemRandomNumberGenerator()
        let raw = (0..<bytes).map { _ in UInt8.random(in: 0...255, using: &rng) }
        return Base64URL.encode(raw)
    }

    /// RFC 8628 §6.1: consonants only (no vowels, so no accidental words), no look-alike characters.
    static let userCodeAlphabet = Array("BCDFGHJKLMNPQRSTVWXZ")

    static func userCode() -> String {
        var rng = SystemRandomNumberGenerator()
        return String((0..<8).map { _ in userCodeAlphabet.randomElement(using: &rng)! })
    }
}

enum UserCode {
    static func display(_ normalized: String) -> String {
        normalized.count == 8 ? "\(normalized.prefix(4))-\(normalized.suffix(4))" : normalized
    }

    /// People type codes in lower case, without the dash, or with spaces; all of those must still match.
    static func normalize(_ input: String) -> String {
        String(input.uppercased().filter { !"- \t".contains($0) })
    }
}

enum Base64URL {
    static func encode(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func encode(_ string: String) -> String { encode(Array(string.utf8)) }
}

/// RFC 7636 §4: the S256 code challenge method, the only one the server accepts.
enum PKCE {
    static func challenge(for verifier: String) -> String { Base64URL.encode(SHA256.hash(Array(verifier.utf8))) }

    /// §4.1: 43 to 128 characters of the unreserved set.
    static func isWellFormedVerifier(_ v: String) -> Bool {
        (43...128).contains(v.utf8.count) && v.utf8.allSatisfy(isUnreserved)
    }

    /// §4.2: an S256 challenge is 32 bytes in base64url, 43 characters.
    static func isWellFormedChallenge(_ c: String) -> Bool {
        c.utf8.count == 43 && c.utf8.allSatisfy { isUnreserved($0) && $0 != UInt8(ascii: ".") && $0 != UInt8(ascii: "~") }
    }

    private static func isUnreserved(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }
}

/// A short, stable, non-reversible tag for a secret so log lines can be correlated without the secret.
/// FNV-1a is not cryptographic, but 32 bits of it reveal nothing useful about a 256-bit random token.
func fingerprint(_ secret: String) -> String {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in secret.utf8 {
        hash ^= UInt64(byte)
        hash = hash &* 0x100_0000_01b3
    }
    return String(String(hash, radix: 16).suffix(8))
}

/// application/x-www-form-urlencoded, keeping order and repeats (RFC 8707 `resource` repeats).
struct Form: Sendable {
    var pairs: [(String, String)] = []

    init(pairs: [(String, String)] = []) { self.pairs = pairs }

    init(encoded: String) {
        for part in encoded.split(separator: "&", omittingEmptySubsequences: true) {
            let kv = part.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = Form.decode(String(kv[0]))
            let value = kv.count > 1 ? Form.decode(String(kv[1])) : ""
            pairs.append((key, value))
        }
    }

    static func decode(_ s: String) -> String {
        let spaced = s.replacingOccurrences(of: "+", with: " ")
        return spaced.removingPercentEncoding ?? spaced
    }

    static func encode(_ s: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return s.addingPercentEncoding(withAllowedCharacters: allowed) ?? s
    }

    subscript(_ key: String) -> String? { pairs.first { $0.0 == key }?.1 }

    func all(_ key: String) -> [String] { pairs.filter { $0.0 == key }.map(\.1) }

    func count(_ key: String) -> Int { pairs.reduce(0) { $0 + ($1.0 == key ? 1 : 0) } }

    /// The first parameter other than `allowedRepeats` that appears more than once (RFC 6749 §3.1 forbids it).
    func repeatedKey(allowedRepeats: Set<String>) -> String? {
        var seen = Set<String>()
        for (key, _) in pairs where !allowedRepeats.contains(key) {
            if !seen.insert(key).inserted { return key }
        }
        return nil
    }
}

/// Scope strings as ordered, de-duplicated lists: answers keep the order the client asked in.
enum Scope {
    static func parse(_ s: String?) -> [String] {
        guard let s else { return [] }
        var out: [String] = []
        for item in s.split(whereSeparator: { $0 == " " || $0 == "\t" }) where !out.contains(String(item)) {
            out.append(String(item))
        }
        return out
    }

    static func string(_ scopes: [String]) -> String { scopes.joined(separator: " ") }
}

/// A JSON value with ordered object keys: answers and log lines read better in a fixed order,
/// and Double formatting stays under our control (JSONSerialization prints 0.1 as 0.10000000000000001).
indirect enum JSON: Sendable {
    case string(String)
    case int(Int)
    case fixed(Double, decimals: Int)
    case bool(Bool)
    case null
    case array([JSON])
    case object([(String, JSON)])

    var text: String {
        var out = ""
        write(into: &out)
        return out
    }

    private func write(into out: inout String) {
        switch self {
        case .string(let s): JSON.quote(s, into: &out)
        case .int(let i): out += String(i)
        case .fixed(let d, let decimals): out += String(format: "%.\(decimals)f", d)
        case .bool(let b): out += b ? "true" : "false"
        case .null: out += "null"
        case .array(let items):
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += "," }
                item.write(into: &out)
            }
            out += "]"
        case .object(let members):
            out += "{"
            for (i, (key, value)) in members.enumerated() {
                if i > 0 { out += "," }
                JSON.quote(key, into: &out)
                out += ":"
                value.write(into: &out)
            }
            out += "}"
        }
    }

    private static func quote(_ s: String, into out: inout String) {
        out += "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
    }
}


/// Monotonic seconds since the server started: the request log's `t` and every expiry and
/// polling-interval decision use this one clock, so tests can reason about spacing exactly.
struct MonotonicClock: Sendable {
    private let start = ContinuousClock.now

    func now() -> Double {
        let d = ContinuousClock.now - start
        let (s, atto) = d.components
        return Double(s) + Double(atto) / 1e18
    }

    /// Wall-clock epoch seconds for a monotonic instant, for `exp`/`iat` claims that clients compare with their own clocks.
    func epoch(at monotonic: Double) -> Int {
        Int((Date().timeIntervalSince1970 + (monotonic - now())).rounded())
    }
}
