// Git smart HTTP under /git/, behind the devserver's own access tokens, by running `git http-backend` as CGI.

import Foundation
import NIOHTTP1
import Synchronization

final class GitBackend: Sendable {
    private let root: String
    private let git: URL
    private let running = Mutex<Set<Int32>>([])
    /// GitHub and GitLab refuse `Authorization: Bearer` for git over HTTPS; their profiles do too.
    private let acceptsBearer: Bool
    /// The Basic user name the profile's provider insists on (GitLab: `oauth2`), or nil for any.
    private let requiredUsername: String?

    init(root: String, git: URL, acceptsBearer: Bool = true, requiredUsername: String? = nil) {
        self.root = root
        self.git = git
        self.acceptsBearer = acceptsBearer
        self.requiredUsername = requiredUsername
    }

    /// The git executable on PATH, checked at start-up so a missing git is an error then, not a 500 later.
    static func findGit() -> URL? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for dir in path.split(separator: ":") {
            let candidate = URL(fileURLWithPath: String(dir)).appendingPathComponent("git")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        return nil
    }

    func handle(_ req: Request, provider: Provider) -> Reply {
        var log = LogFields(endpoint: "git", result: "")
        var presented = credentials(req.headers)
        if let presented { log.fp = fingerprint(presented.token) }
        let refusedBearer = presented?.bearer == true && !acceptsBearer
        let refusedUser = presented.map { !$0.bearer && requiredUsername != nil && $0.user != requiredUsername } ?? false
        if refusedBearer || refusedUser { presented = nil }
        guard let presented, let owner = provider.activeAccessToken(presented.token) else {
            log.result = refusedBearer ? "bearer_refused" : refusedUser ? "wrong_username" : presented == nil ? "unauthorized" : "invalid_token"
            // Both challenges: git (2.39) answers the Basic one with its credential helpers; Bearer-aware clients see theirs.
            var r = Response.text("authentication required: an access token from this devserver\n", status: .unauthorized)
            r.headers.append(("WWW-Authenticate", "Basic realm=\"authd-devserver\""))
            if acceptsBearer { r.headers.append(("WWW-Authenticate", "Bearer realm=\"authd-devserver\"")) }
            return .now(Outcome(response: r, log: log))
        }
        log.clientId = owner.clientId
        let user = presented.user ?? owner.clientId
        let authorized = log
        return .later { [self] done in
            DispatchQueue.global().async {
                let response = self.runCGI(req, remoteUser: user)
                var log = authorized
                log.result = response.status.code < 400 ? "ok" : "cgi_error"
                done(Outcome(response: response, log: log))
            }
        }
    }

    /// Any Basic user name (as GitHub and GitLab accept), or Bearer.
    private func credentials(_ headers: HTTPHeaders) -> (user: String?, token: String, bearer: Bool)? {
        PresentedCredentials(headers).map { ($0.user, $0.token, $0.bearer) }
    }

    private func runCGI(_ req: Request, remoteUser: String) -> Response {
        let inherited = ProcessInfo.processInfo.environment
        let pathInfo = String(req.path.dropFirst("/git".count))
        var env: [String: String] = [
            "PATH": inherited["PATH"] ?? "/usr/bin:/bin",
            "GIT_PROJECT_ROOT": root,
            "GIT_HTTP_EXPORT_ALL": "1",
            "GATEWAY_INTERFACE": "CGI/1.1",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "SERVER_SOFTWARE": "authd-devserver",
            "REQUEST_METHOD": req.method.rawValue,
            "PATH_INFO": pathInfo.removingPercentEncoding ?? pathInfo,
            "QUERY_STRING": req.query,
            "REMOTE_USER": remoteUser,
            "REMOTE_ADDR": "127.0.0.1",
            // Push is off by default for unauthenticated CGI; every request here is authenticated.
            // safe.directory: the repositories may belong to another user (a test's temp dir).
            "GIT_CONFIG_COUNT": "2",
            "GIT_CONFIG_KEY_0": "http.receivepack", "GIT_CONFIG_VALUE_0": "true",
            "GIT_CONFIG_KEY_1": "safe.directory", "GIT_CONFIG_VALUE_1": "*",
        ]
        if let home = inherited["HOME"] { env["HOME"] = home }
        if let type = req.headers.first(name: "Content-Type") { env["CONTENT_TYPE"] = type }
        if req.method == .POST { env["CONTENT_LENGTH"] = String(req.body.count) }
        // http-backend inflates gzip request bodies itself when told the encoding.
        if let enc = req.headers.first(name: "Content-Encoding") { env["HTTP_CONTENT_ENCODING"] = enc }
        if let proto = req.headers.first(name: "Git-Protocol") { env["GIT_PROTOCOL"] = proto }

        let process = Process()
        process.executableURL = git
        process.arguments = ["http-backend"]
        process.environment = env
        let stdin = Pipe(), stdout = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        // Its stderr would break the one-JSON-object-per-line request log.
        process.standardError = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            return .text("cannot run git http-backend: \(error)\n", status: .internalServerError)
        }
        let pid = process.processIdentifier
        running.withLock { _ = $0.insert(pid) }
        defer { running.withLock { _ = $0.remove(pid) } }

        // Written from another thread while this one reads, so a large push and a large answer cannot deadlock on full pipes.
        let body = Data(req.body)
        let writer = stdin.fileHandleForWriting
        let written = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            var offset = 0
            while offset < body.count {
                let end = min(offset + 65536, body.count)
                guard (try? writer.write(contentsOf: body[offset..<end])) != nil else { break }
                offset = end
            }
            try? writer.close()
            written.signal()
        }
        let output = (try? stdout.fileHandleForReading.readToEnd()) ?? Data()
        written.wait()
        process.waitUntilExit()
        return GitBackend.parseCGI(Array(output))
    }

    /// CGI output: header lines, a blank line, the body; `Status:` sets the HTTP status (default 200).
    static func parseCGI(_ out: [UInt8]) -> Response {
        var split: (Int, Int)?
        var i = 0
        while i < out.count {
            if out[i] == 0x0A {
                if i + 1 < out.count, out[i + 1] == 0x0A { split = (i, i + 2); break }
                if i + 2 < out.count, out[i + 1] == 0x0D, out[i + 2] == 0x0A { split = (i, i + 3); break }
            }
            i += 1
        }
        guard let (headerEnd, bodyStart) = split else {
            return .text("git http-backend gave no CGI headers\n", status: .badGateway)
        }
        var response = Response(status: .ok)
        let headerText = String(decoding: out[..<headerEnd], as: UTF8.self)
        // `\.isNewline`, because "\r\n" is one Character and would not match "\n".
        for line in headerText.split(whereSeparator: \.isNewline) {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = line[..<colon].trimmingCharacters(in: .whitespaces)
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            if name.lowercased() == "status" {
                let code = Int(value.prefix { $0.isNumber }) ?? 500
                response.status = HTTPResponseStatus(statusCode: code)
            } else if !["content-length", "connection", "transfer-encoding"].contains(name.lowercased()) {
                response.headers.append((name, value))
            }
        }
        response.body = Array(out[bodyStart...])
        return response
    }

    /// On shutdown, so no http-backend outlives the server.
    func terminateAll() {
        for pid in running.withLock({ $0 }) { kill(pid, SIGTERM) }
    }
}
