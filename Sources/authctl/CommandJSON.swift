// The one JSON shape of authctl's --json output: times as ISO 8601 UTC strings, scopes as arrays, errors as {"error":{...}}.
import AuthdClient
import AuthdWire

/// authctl's `--json` output, version 2 (docs/clients.md): every time is an ISO 8601 UTC string
/// (or null), every scope list an array, whatever the command. The protocol underneath keeps Unix
/// seconds; this is where they become the shape scripts read.
enum CommandJSON {
    static let version: Int64 = 2

    /// A protocol object with its times (`…_at`, `auth_time`) turned into ISO 8601 strings, recursively.
    static func withISOTimes(_ value: JSONValue) -> JSONValue {
        switch value {
        case .object(let members):
            return .object(members.map { key, member in
                if key.hasSuffix("_at") || key == "auth_time", let seconds = member.integerValue {
                    return (key, .string(UTCTimestamp.iso8601(seconds)))
                }
                return (key, withISOTimes(member))
            })
        case .array(let items):
            return .array(items.map(withISOTimes))
        default:
            return value
        }
    }

    /// The document a command prints: its members after `json_version`.
    static func document(_ members: [(String, JSONValue)]) -> String {
        JSONValue.object([("json_version", .integer(version))] + members).serialized() + "\n"
    }

    /// A failure, for a command run with --json: on stdout, where the script reads, instead of a line on stderr.
    static func failure(_ failure: ClientFailure) -> String {
        var error: [(String, JSONValue)] = [("message", .string(failure.message)), ("exit_code", .integer(Int64(failure.exitCode)))]
        if let code = failure.protocolCode { error.insert(("code", .string(code.rawValue)), at: 0) }
        return document([("error", .object(error))])
    }
}
