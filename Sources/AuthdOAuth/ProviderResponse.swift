// Reads a provider's answer into named fields, whatever its encoding and whatever its HTTP status.

import AuthdWire

/// The top-level fields of a provider answer. JSON and form-encoded bodies give the same view, so
/// every later rule (aliases, numbers as strings, `error` with HTTP 200) is written once.
struct ResponseFields: Sendable {
    var members: [(String, JSONValue)]

    enum BodyFormat { case json, form, unknown }

    /// Chooses the decoder by `Content-Type` (PROVIDERS.md: GitHub answers form-encoded unless
    /// asked for JSON); when the type is missing or generic, by the first byte.
    static func format(of response: HTTPResponse) -> BodyFormat {
        let mediaType = (response.header("content-type") ?? "")
            .split(separator: ";", maxSplits: 1).first.map { String($0).trimmed().lowercased() } ?? ""
        if mediaType == "application/json" || mediaType.hasSuffix("+json") { return .json }
        if mediaType == "application/x-www-form-urlencoded" { return .form }
        if mediaType == "text/html" { return .unknown }
        let firstByte = response.body.first { $0 != 0x20 && $0 != 0x09 && $0 != 0x0A && $0 != 0x0D }
        if firstByte == UInt8(ascii: "{") { return .json }
        if !response.body.isEmpty, response.body.contains(UInt8(ascii: "=")), firstByte != UInt8(ascii: "<") { return .form }
        return .unknown
    }

    /// Parses the body, or says why it cannot be read. The reason quotes no value from the
    /// body; at most a member name the body repeats.
    static func parse(_ response: HTTPResponse) -> Result<ResponseFields, ResponseProblem> {
        switch format(of: response) {
        case .json:
            let value: JSONValue
            do {
                value = try JSONValue.parse(response.body, maximumDepth: 32)
            } catch {
                return .failure(ResponseProblem("malformed JSON (\(error.description))"))
            }
            guard let members = value.objectMembers else { return .failure(ResponseProblem("the JSON body is not an object")) }
            return .success(ResponseFields(members: members))
        case .form:
            guard let text = String(validating: response.body, as: UTF8.self) else {
                return .failure(ResponseProblem("the form-encoded body is not UTF-8"))
            }
            return .success(ResponseFields(members: FormURLEncoding.decode(text).map { ($0.0, .string($0.1)) }))
        case .unknown:
            // The header is provider text: it reaches terminals (authctl logout) through this reason.
            let type = response.header("content-type").map { "Content-Type " + (ProviderText(secrets: []).clean($0) ?? "") } ?? "no Content-Type"
            return .failure(ResponseProblem(response.body.isEmpty ? "empty body" : "neither JSON nor form-encoded (\(type))"))
        }
    }

    subscript(name: String) -> JSONValue? {
        members.first { $0.0 == name }?.1
    }

    /// A non-empty string field; numbers are accepted as their decimal text.
    func string(_ name: String) -> String? {
        switch self[name] {
        case .string(let s)?: return s.isEmpty ? nil : s
        case .integer(let i)?: return String(i)
        default: return nil
        }
    }

    /// An integer field, also when sent as a string ("900") or an integral double.
    func integer(_ name: String) -> Int64? {
        self[name]?.lenientInteger
    }

    /// The OAuth `error` code, if the answer carries one.
    var error: String? { string("error") }
    var errorDescription: String? { string("error_description") }
}

struct ResponseProblem: Error, Sendable {
    var reason: String
    init(_ reason: String) { self.reason = reason }
}

enum ScopeList {
    /// Splits a granted `scope`: space-separated per RFC 6749, comma-separated from GitHub, or a JSON array.
    static func parse(_ value: JSONValue?) -> [String]? {
        switch value {
        case .string(let s)?:
            return s.split(whereSeparator: { $0 == " " || $0 == "," || $0 == "\t" }).map(String.init).filter(isScopeToken)
        case .array(let items)?:
            return items.compactMap(\.stringValue).filter { !$0.isEmpty && isScopeToken($0) }
        default:
            return nil
        }
    }

    /// RFC 6749 §3.3 scope-token characters (printable ASCII but space, `"` and `\`): anything else
    /// is dropped so that no control character reaches status output or audit records.
    static func isScopeToken(_ token: String) -> Bool {
        TokenNarrowing.isScopeToken(token)
    }
}

enum RetryAfter {
    /// `Retry-After` in delta-seconds. An HTTP-date is ignored (treated as absent): without a
    /// trustworthy wall clock a date could only make the wait wrong, and slow_down still applies.
    static func parse(_ response: HTTPResponse) -> Duration? {
        guard let value = response.header("retry-after"), let seconds = Int64(value.trimmed()), seconds >= 0 else { return nil }
        return .seconds(min(seconds, 86_400))
    }
}

extension String {
    func trimmed() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" || f == "\r" || f == "\n" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" || l == "\r" || l == "\n" { s.removeLast() }
        return String(s)
    }
}
