// The request log: one JSON object per request on stderr, never a secret in it.

import Foundation
import Synchronization

/// What a handler learned about a request, for its log line. Secrets never go here: `fp` is a fingerprint.
struct LogFields: Sendable {
    var endpoint: String?
    var result: String
    var grantType: String?
    var clientId: String?
    var userCode: String?
    var poll: Int?
    var interval: Int?
    var fp: String?
    /// Fingerprint of an authorization code; the code, the PKCE verifier and `state` are never logged.
    var codeFp: String?
    var fault: String?
    /// Which kind of token the Kubernetes stand-in accepted: `access_token` or `id_token`.
    var credential: String?

    init(endpoint: String?, result: String) {
        self.endpoint = endpoint
        self.result = result
    }
}

final class RequestLog: Sendable {
    private let quiet: Bool
    /// One write(2) per line under a lock, so lines from different event loops never interleave.
    private let lock = Mutex(())

    init(quiet: Bool) { self.quiet = quiet }

    func record(t: Double, method: String, path: String, status: Int?, _ f: LogFields) {
        guard !quiet else { return }
        func opt(_ s: String?) -> JSON { s.map(JSON.string) ?? .null }
        var members: [(String, JSON)] = [
            ("t", .fixed(t, decimals: 3)), ("method", .string(method)), ("path", .string(path)),
            ("endpoint", opt(f.endpoint)), ("grant_type", opt(f.grantType)), ("client_id", opt(f.clientId)),
            ("user_code", opt(f.userCode.map(UserCode.display))), ("result", .string(f.result)),
            ("status", status.map(JSON.int) ?? .null),
        ]
        if let poll = f.poll { members.append(("poll", .int(poll))) }
        if let interval = f.interval { members.append(("interval", .int(interval))) }
        if let fp = f.fp { members.append(("fp", .string(fp))) }
        if let codeFp = f.codeFp { members.append(("code_fp", .string(codeFp))) }
        if let fault = f.fault { members.append(("fault", .string(fault))) }
        if let credential = f.credential { members.append(("credential", .string(credential))) }
        let line = Data((JSON.object(members).text + "\n").utf8)
        // try?: a closed stderr (EPIPE) must not take the server down.
        lock.withLock { _ in try? FileHandle.standardError.write(contentsOf: line) }
    }
}
