// Structured audit records: one per security-relevant event, to the journal or as JSON lines.
import AuthdWire

/// The kinds of audit record, each with a stable journal `MESSAGE_ID` so that
/// `journalctl --user MESSAGE_ID=...` finds every record of one kind across versions.
public enum AuditEvent: String, Sendable, CaseIterable {
    case tokenServed = "token_served"
    case deviceFlowStarted = "device_flow_started"
    case deviceFlowApproved = "device_flow_approved"
    /// A login whose verified identity failed `require_mfa` / `acr_values`: revoked, nothing kept.
    case loginRefusedPolicy = "login_refused_policy"
    case deviceFlowDenied = "device_flow_denied"
    case deviceFlowExpired = "device_flow_expired"
    case deviceFlowFailed = "device_flow_failed"
    case deviceFlowCancelled = "device_flow_cancelled"
    case refreshSucceeded = "refresh_succeeded"
    case refreshFailed = "refresh_failed"
    case revoked = "revoked"
    case loginNeeded = "login_needed"
    case clientRefused = "client_refused"
    case tokenErased = "token_erased"
    case loggedOut = "logged_out"
    case storeError = "store_error"
    case forwardOpened = "forward_opened"
    case forwardEnded = "forward_ended"
    /// A provider answered a narrower-scope refresh with a wider scope; the token was not served.
    case scopeNotNarrowed = "scope_not_narrowed"
    case authorizationCodeStarted = "authcode_started"
    case authorizationCodeApproved = "authcode_approved"
    /// A request at the loopback listener, or a pasted address, that was not this login's answer.
    case authorizationCallbackRefused = "authcode_callback_refused"
    /// authd registered itself as a client (`client_id = "register"`, RFC 7591).
    case clientRegistered = "client_registered"
    /// `logout --forget-client`: the registered client was deleted (RFC 7592) or forgotten.
    case clientForgotten = "client_forgotten"

    public var messageID: String {
        switch self {
        case .tokenServed: return "ceeb310913c04bc0b0ed416856eb59bb"
        case .deviceFlowStarted: return "38d16df0d3ca461fadca0bdd7f7e1baa"
        case .deviceFlowApproved: return "860fdf3a769845deaf48cb77b8fc5581"
        case .deviceFlowDenied: return "9cd782013e6c45c3a252bf0e40e2201d"
        case .deviceFlowExpired: return "e2685b0d2eaf47ac886f6ffb5d0ba48d"
        case .deviceFlowFailed: return "76a34166c0b842f6b015693eb31b3def"
        case .deviceFlowCancelled: return "57fff7ae87c44651bf0557e081bbff4b"
        case .refreshSucceeded: return "a1056a6398fa4d56a43ee7fd8f9d85b8"
        case .refreshFailed: return "5901b222d1f44629928a031f9ba78590"
        case .revoked: return "d0566ef1467c4c6e82bd4b86dcc78660"
        case .loginNeeded: return "00b89d89eb5b400e976388cd2abeba75"
        case .clientRefused: return "39838b7a59cc4bc98ae3c8a628ba38bb"
        case .tokenErased: return "8bc3bf5b510f4df9be968e87c3f8d6f5"
        case .loggedOut: return "8849779309ef4075a5737b3e0ea54ef5"
        case .storeError: return "f9d49ea736044573b166f7f358abb9a5"
        case .forwardOpened: return "5e0f3b7a9c2d4e81a6b4f0d27c913e58"
        case .forwardEnded: return "b71c2e94d05a4f36b8e1a3c6d2f70b49"
        case .scopeNotNarrowed: return "d3aef9fee81b45a4afcb7c2770e049f4"
        case .authorizationCodeStarted: return "1223da3fcc9b4dcfbe2ae2c987487291"
        case .authorizationCodeApproved: return "72668918839544dbbc7f2a0a7f6d445e"
        case .authorizationCallbackRefused: return "6333b6f6031e46a9804815b61373763a"
        case .loginRefusedPolicy: return "5f0b8e2a4c7d4e1b9a3f6c2d8e7b1a40"
        case .clientRegistered: return "9806dc127b4643d59c0a41fa97379bd1"
        case .clientForgotten: return "6646139db7854972a1e137bc47759b69"
        }
    }

    /// syslog priority: refusals and failures are warnings, the rest informational.
    var priority: Int {
        switch self {
        case .clientRefused, .refreshFailed, .deviceFlowFailed, .storeError, .deviceFlowDenied, .scopeNotNarrowed, .authorizationCallbackRefused, .loginRefusedPolicy: return 4
        case .loginNeeded, .deviceFlowExpired: return 5
        default: return 6
        }
    }
}

/// One audit record. Holds names and fingerprints, never a token: there is no field for one.
public struct AuditRecord: Sendable {
    public var event: AuditEvent
    public var message: String
    public var audience: String?
    public var client: ClientIdentity?
    public var scopes: [String]
    public var tokenFingerprint: String?
    public var detail: String?
    /// The forward a record is about when no client carries it (its opening and its end).
    public var forwardID: String?

    public init(_ event: AuditEvent, _ message: String, audience: String? = nil, client: ClientIdentity? = nil,
                scopes: [String] = [], tokenFingerprint: String? = nil, detail: String? = nil, forwardID: String? = nil) {
        self.forwardID = forwardID
        self.event = event
        self.message = message
        self.audience = audience
        self.client = client
        self.scopes = scopes
        self.tokenFingerprint = tokenFingerprint
        self.detail = detail
    }

    /// Journal fields in `NAME=value` form (docs/operations.md lists them).
    public var journalFields: [(String, String)] {
        var fields: [(String, String)] = [
            ("MESSAGE", message), ("MESSAGE_ID", event.messageID), ("PRIORITY", String(event.priority)),
            ("SYSLOG_IDENTIFIER", "authd"), ("AUTHD_EVENT", event.rawValue),
        ]
        if let audience { fields.append(("AUDIENCE", audience)) }
        if let client, !client.isDaemon {
            fields.append(("CLIENT_UID", String(client.uid)))
            fields.append(("CLIENT_PID", String(client.pid)))
            if let exe = client.executable { fields.append(("CLIENT_EXE", exe)) }
            if let unattributed = client.unattributed { fields.append(("CLIENT_UNATTRIBUTED", unattributed)) }
        }
        // Every record served through a forward says which one, as does a forward's own opening and end.
        if let forward = client?.forward?.id ?? forwardID { fields.append(("FORWARD", forward)) }
        if !scopes.isEmpty { fields.append(("SCOPES", scopes.joined(separator: " "))) }
        if let tokenFingerprint { fields.append(("TOKEN_FINGERPRINT", tokenFingerprint)) }
        if let detail { fields.append(("DETAIL", detail)) }
        return fields
    }

    /// The same fields as one JSON line, for stderr when not under journald.
    public func jsonLine(wallClock: Int64) -> String {
        JSONValue.object(jsonMembers(wallClock: wallClock)).serialized()
    }

    /// The JSON form of the journal fields (names lower-cased), used for stderr lines and `audit` replies.
    public func jsonMembers(wallClock: Int64) -> [(String, JSONValue)] {
        Self.jsonMembers(wallClock: wallClock, journalFields: journalFields)
    }

    /// From journal fields however obtained (this record, or read back from the journal).
    public static func jsonMembers(wallClock: Int64, journalFields: [(String, String)]) -> [(String, JSONValue)] {
        let event = journalFields.first { $0.0 == "AUTHD_EVENT" }?.1 ?? ""
        var members: [(String, JSONValue)] = [("time", .string(UTCTimestamp.iso8601(wallClock))), ("audit", .string(event))]
        for (name, value) in journalFields where name != "SYSLOG_IDENTIFIER" && name != "AUTHD_EVENT" {
            members.append((name.lowercased(), .string(value)))
        }
        return members
    }

}

/// Where audit records go. Implementations must be cheap and never throw into the caller.
public protocol AuditSink: Sendable {
    func record(_ record: AuditRecord)
    /// Takes `record` as `record(_:)` does, but a writer behind a queue may stay asleep until
    /// `releaseHeld()`: the socket loop holds the records of one turn and releases them before it
    /// waits again, one wake-up of the writer per turn instead of one per served token.
    func hold(_ record: AuditRecord)
    /// Lets the writer take the held records.
    func releaseHeld()
}

extension AuditSink {
    /// A sink without a writer of its own records at once.
    public func hold(_ record: AuditRecord) { self.record(record) }
    public func releaseHeld() {}
}
