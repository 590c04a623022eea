// The open forwards: binds each one's socket, hands it to the socket front with its restriction, ends it at its TTL or on request.
import AuthdConfig
import AuthdPosix
import AuthdSystem
import AuthdWire

/// One open forward, as `forward_list` shows it.
struct OpenForward: Sendable {
    var grant: ForwardGrant
    var socketPath: String
    /// The socket file we bound, by identity: only that file is removed at the end.
    var socketFile: (device: UInt64, inode: UInt64)
    var expiresAtWall: Int64
    var expiry: Task<Void, Never>?

    func answer(now: Int64) -> ForwardAnswer {
        ForwardAnswer(id: grant.id, socket: socketPath, audiences: grant.audiences, allowLogin: grant.allowLogin,
                      expiresAt: expiresAtWall, expiresIn: max(expiresAtWall - now, 0))
    }
}

/// Owns the open forwards. Forwards live in memory only: a daemon restart ends them all
/// (their sockets are removed at a clean stop; a crashed daemon's are removed by the next one).
public actor ForwardRegistry {
    /// Enough for every terminal a person has open; a runaway script hits this instead of the fd limit.
    public static let maximumForwards = 64

    private let runtimeDirectory: String
    private let clock: any DaemonClock
    private let audit: any AuditSink
    private var server: SocketServer?
    private var open: [String: OpenForward] = [:]

    /// `runtimeDirectory`: where forward sockets go unless the request names a path (the main
    /// socket's directory, 0700 and ours).
    public init(runtimeDirectory: String, clock: any DaemonClock, audit: any AuditSink) {
        self.runtimeDirectory = runtimeDirectory
        self.clock = clock
        self.audit = audit
    }

    /// The socket front that serves the forwards' sockets; until attached, opening fails.
    public func attach(_ server: SocketServer) {
        self.server = server
    }

    /// The default path of forward `id`: the file name contains "forward", which is how clients
    /// recognise a forward (AuthdPaths.namesForward).
    nonisolated func defaultPath(_ id: String) -> String { runtimeDirectory + "/forward-" + id + ".sock" }

    public func open(_ opening: ForwardOpening, configured: [String], client: ClientIdentity) async -> ReplyLine {
        guard let server else { return .failure(ProtocolFailure(.internalError, "authd is not serving yet; try again")) }
        if let audiences = opening.audiences {
            for name in audiences where !configured.contains(name) {
                return .failure(ProtocolFailure(.unknownAudience, "no audience named \"\(name)\" in the daemon's config"
                                                + Suggestion.didYouMean(name, among: configured),
                                                hint: "check with: authctl status"))
            }
        }
        guard open.count < Self.maximumForwards else {
            return .failure(ProtocolFailure(.busy, "authd already has \(Self.maximumForwards) forwards open",
                                            hint: "close some: authctl forward --list, then authctl forward --close ID"))
        }
        let id = SecureRandom.bytes(count: 6).map { byte in
            let hex = Array("0123456789abcdef".utf8)
            return String(decoding: [hex[Int(byte >> 4)], hex[Int(byte & 0xF)]], as: UTF8.self)
        }.joined()
        let path = opening.socket ?? defaultPath(id)
        let descriptor: FileDescriptor
        let status: FileStatus
        do throws(Errno) {
            // Never replaces anything: a file already at the path is an error, not a stale socket to remove.
            descriptor = try UnixSocket.listen(path: path, permissions: 0o600, backlog: 128)
            status = try FileSystem.status(path, followSymbolicLinks: false)
        } catch where error == .addressInUse || error == .fileExists {
            return .failure(ProtocolFailure(.badRequest, "cannot open a forward at \(path): something is already there",
                                            hint: "choose another path, or remove it if it is a forward that has ended"))
        } catch {
            return .failure(ProtocolFailure(.badRequest, "cannot open a forward at \(path): \(error)"))
        }
        let grant = ForwardGrant(id: id, audiences: opening.audiences, allowLogin: opening.allowLogin)
        do {
            try await server.addForwardListener(descriptor, grant: grant)
        } catch {
            try? FileSystem.remove(path)
            return .failure(ProtocolFailure(.internalError, "cannot serve the forward: \(error)"))
        }
        let now = clock.wallSeconds()
        let deadline = clock.monotonicNow() + .seconds(opening.ttlSeconds)
        var forward = OpenForward(grant: grant, socketPath: path, socketFile: (status.device, status.inode),
                                  expiresAtWall: now + Int64(opening.ttlSeconds))
        let clock = self.clock
        forward.expiry = Task { [weak self] in
            do { try await clock.sleep(until: deadline) } catch { return }
            await self?.end(id, reason: "its TTL passed")
        }
        open[id] = forward
        audit.record(AuditRecord(.forwardOpened, "opened forward \(id) at \(path) for \(grant.audienceList), ttl \(opening.ttlSeconds)s"
                                 + (grant.allowLogin ? ", logins allowed" : ""),
                                 client: client, detail: "expires_at=\(forward.expiresAtWall)", forwardID: id))
        var answer = forward.answer(now: now)
        answer.survivesRestart = false
        return .success(answer.json())
    }

    public func list() -> ReplyLine {
        let now = clock.wallSeconds()
        let rows = open.values.sorted { $0.expiresAtWall < $1.expiresAtWall }.map { $0.answer(now: now) }
        return .success(ForwardListAnswer(forwards: rows).json())
    }

    public func close(_ id: String, client: ClientIdentity) async -> ReplyLine {
        guard open[id] != nil else {
            return .failure(ProtocolFailure(.badRequest, "no open forward with id \(id) (it may have ended already)",
                                            hint: "see the open ones: authctl forward --list"))
        }
        await end(id, reason: "it was closed (authctl forward --close)", client: client)
        return .success(ForwardCloseAnswer(closed: id).json())
    }

    /// Ends every forward (the daemon is stopping).
    public func endAll() async {
        for id in Array(open.keys) { await end(id, reason: "authd stopped") }
    }

    /// Stops serving the forward, closes its connections and removes its socket file (only the
    /// file we bound: someone else's file at that path stays).
    private func end(_ id: String, reason: String, client: ClientIdentity? = nil) async {
        guard let forward = open.removeValue(forKey: id) else { return }
        forward.expiry?.cancel()
        await server?.removeForwardListener(id: id)
        if let status = try? FileSystem.status(forward.socketPath, followSymbolicLinks: false),
           status.device == forward.socketFile.device, status.inode == forward.socketFile.inode {
            try? FileSystem.remove(forward.socketPath)
        }
        audit.record(AuditRecord(.forwardEnded, "forward \(id) ended: \(reason)", client: client,
                                 detail: reason, forwardID: id))
    }
}
