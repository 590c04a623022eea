// The server's settings after command-line parsing: durations, clients, faults, loopback checks.

import Foundation

struct RegisteredClient: Sendable {
    let id: String
    /// nil: a public client, which must not authenticate (as Entra rejects secrets from public clients).
    let secret: String?
}

enum FaultKind: String, Sendable, CaseIterable {
    case http500 = "500", http502 = "502", http503 = "503"
    case html, malformedJSON = "malformed-json", huge, stall, reset, slow
}

enum FaultTarget: String, Sendable, CaseIterable {
    case token, deviceAuthorization = "device_authorization", revoke, introspect, discovery, all

    func matches(_ endpoint: Endpoint) -> Bool {
        switch self {
        case .all: return endpoint.isOAuth
        case .token: return endpoint == .token
        case .deviceAuthorization: return endpoint == .deviceAuthorization
        case .revoke: return endpoint == .revoke
        case .introspect: return endpoint == .introspect
        case .discovery: return endpoint == .discovery
        }
    }
}

/// Why the device flow is refused (`--device-flow-disabled[=WHY]`).
enum DeviceFlowRefusal: String, Sendable, CaseIterable {
    /// The app's own setting (GitHub "Enable Device Flow", Entra "Allow public client flows", ...).
    case app
    /// Entra only: a Conditional Access policy blocks the device code flow for the tenant.
    case policy
}

struct FaultSpec: Sendable {
    let kind: FaultKind
    let target: FaultTarget

    /// `KIND[@ENDPOINT]`, ENDPOINT defaulting to `token` because that is where clients are most fragile.
    init(parsing text: String) throws {
        let parts = text.split(separator: "@", maxSplits: 1).map(String.init)
        guard let first = parts.first, let kind = FaultKind(rawValue: first.lowercased()) else {
            throw ConfigError("unknown fault kind in '\(text)'; expected one of: "
                + FaultKind.allCases.map(\.rawValue).joined(separator: ", "))
        }
        var target = FaultTarget.token
        if parts.count == 2 {
            guard let t = FaultTarget(rawValue: parts[1].lowercased()) else {
                throw ConfigError("unknown fault endpoint in '\(text)'; expected one of: "
                    + FaultTarget.allCases.map(\.rawValue).joined(separator: ", "))
            }
            target = t
        }
        self.kind = kind
        self.target = target
    }
}

struct ConfigError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Seconds, written as a bare integer or with a unit (`90s`, `5m`, `2h`, `1d`), like authd's own config.
func parseDuration(_ text: String) -> Int? {
    let t = text.trimmingCharacters(in: .whitespaces).lowercased()
    guard let last = t.last else { return nil }
    let units: [Character: Int] = ["s": 1, "m": 60, "h": 3600, "d": 86400]
    let (digits, factor) = units[last].map { (String(t.dropLast()), $0) } ?? (t, 1)
    guard !digits.isEmpty, digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber),
          let n = Int(digits), n <= Int(Int32.max) / factor else { return nil }
    return n * factor
}

/// Loopback only, because the server hands out tokens to anyone who asks and serves git without TLS.
func loopbackAddress(for host: String) -> String? {
    let h = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
    if h == "localhost" { return "127.0.0.1" }
    if h == "::1" { return "::1" }
    let octets = h.split(separator: ".", omittingEmptySubsequences: false)
    guard octets.count == 4, octets[0] == "127",
          octets.allSatisfy({ o in !o.isEmpty && o.count <= 3 && o.allSatisfy(\.isNumber) && Int(o)! <= 255 })
    else { return nil }
    return h
}

struct Config: Sendable {
    var bindHost = "127.0.0.1"
    var port = 8765
    var accessTokenTTL = 3600
    var refreshTokenTTL = 86400
    var issueRefreshToken = true
    var rotateRefreshTokens = true
    /// Answer a refresh asking for a narrower scope with the full granted one (a provider that ignores it).
    var ignoreNarrowerScope = false
    var deviceCodeTTL = 600
    /// RFC 6749 §4.1.2: short-lived; 0 makes every code expired on arrival, for tests.
    var authorizationCodeTTL = 60
    var interval = 5
    /// Every N-th poll of a device code answers slow_down regardless of timing.
    var slowDownEvery: Int?
    var deny = false
    /// Decide a pending code automatically once it has been polled this many times (see docs/devserver.md).
    var autoApproveAfterPolls: Int?
    var autoApproveAfterSeconds: Int?
    var clients: [String: RegisteredClient] = [:]
    var clientScopes: [String: [String]] = [:]
    var faults: [FaultSpec] = []
    var faultCount: Int?
    var gitRoot: String?
    var quiet = false
    var profile = Profile(name: .standard)
    /// How id_tokens are signed and spoilt, and the sign-in they report (`--id-token-*`, `--amr`, `--acr`).
    var idTokens = IDTokenSettings()
    /// The client is not allowed to use device flow; each profile says so in its provider's words.
    var deviceFlowDisabled: DeviceFlowRefusal?
    /// `--registration-disabled`: `/register` answers HTTP 403, as with anonymous registration switched off.
    var registrationDisabled = false

    /// Server clocks and client timers are never perfectly aligned; a poll this much early is still on time.
    static let pollTolerance = 0.2

    /// With --deny alone the refusal is immediate; with a timing option the timing says when the person "refuses".
    var hasAutomaticDecision: Bool { deny || autoApproveAfterPolls != nil || autoApproveAfterSeconds != nil }
}
