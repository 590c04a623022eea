// The Unix-socket front: accept with the uid check, per-message writer credentials, framing, deadlines, back-pressure; cached gets on the loop, a task for the rest.
import AuthdPosix
import AuthdSystem
import AuthdWire
import Synchronization

/// Limits that protect the daemon from clients; see docs/protocol.md.
public struct ConnectionLimits: Sendable {
    /// A request line must arrive completely within this time after connecting or after the
    /// previous reply, so idle and byte-a-second clients are closed.
    public var requestTimeout: Duration
    public var maximumConnections: Int
    /// Replies waiting for a client to read them, in bytes, above which the daemon stops reading
    /// that client's requests until it reads (a client that pipelines and never reads stays bounded).
    public var outputHighWater: Int
    /// Queued output (events a client does not read) beyond which the connection is closed.
    public var outputLimit: Int

    public init(requestTimeout: Duration = .seconds(10), maximumConnections: Int = 1024,
                outputHighWater: Int = 64 * 1024, outputLimit: Int = 1024 * 1024) {
        self.requestTimeout = requestTimeout
        self.maximumConnections = maximumConnections
        self.outputHighWater = outputHighWater
        self.outputLimit = outputLimit
    }
}

/// What the socket front needs from the daemon: answer one decoded request for one client.
public protocol RequestHandling: Sendable {
    func handle(_ request: Request, from client: ClientIdentity, events: @escaping ReplySink) async -> Reply
    /// A client whose uid is not ours was refused at accept.
    func refused(_ client: ClientIdentity)
    /// A request written by a process whose uid is not ours (on a connection that one of ours
    /// opened and shared) was refused.
    func refusedSender(_ client: ClientIdentity)
    /// Answers `request` on the socket loop, synchronously, when that needs no waiting (a cached
    /// `get`); nil: `handle` answers it after the hop to the concurrency pool. Must not block.
    func answerOnLoop(_ request: Request, from client: ClientIdentity, scratch: SecretScratch) -> [UInt8]?
    /// The socket loop is about to wait for the next events: whatever `answerOnLoop` held for
    /// this turn (audit records) goes on now. Must not block.
    func loopTurnEnded()
    /// Whether the sender's controlling terminal must be read for `request` (a `require_tty`
    /// policy may judge it); reading it costs three system calls per request.
    func examinesTerminal(_ request: Request) -> Bool
}

extension RequestHandling {
    public func answerOnLoop(_ request: Request, from client: ClientIdentity, scratch: SecretScratch) -> [UInt8]? { nil }
    public func loopTurnEnded() {}
    public func examinesTerminal(_ request: Request) -> Bool { true }
}

/// A final answer: a protocol line, or a token that is written straight from secret memory.
public enum Reply: Sendable {
    case line(ReplyLine)
    case token(ServedToken)
}

/// Who wrote a run of request bytes, as `SCM_CREDENTIALS` said; nil pid: no credentials came.
struct Writer: Equatable {
    var pid: Int32
    var uid: UInt32
}

/// Who wrote one request line, decided from the writers of its bytes (newline included).
enum LineAttribution: Equatable {
    case sender(Writer)
    /// The sender cannot be established; the text says why, for the refusal and the audit.
    case unattributed(String)

    static func of(_ writers: [Writer?]) -> LineAttribution {
        guard let first = writers.first else { return .unattributed("no bytes") }
        guard let sender = first, sender.pid > 0 else {
            return .unattributed("the kernel gave no writer for the request bytes")
        }
        for writer in writers.dropFirst() where writer != sender {
            guard let writer, writer.pid > 0 else { return .unattributed("the kernel gave no writer for part of the request") }
            return .unattributed("the request bytes came from more than one process (pids \(sender.pid) and \(writer.pid))")
        }
        return .sender(sender)
    }
}

/// The bytes read from one connection but not yet taken as request lines, with the writer of
/// each run, so a line can be attributed to the process(es) that wrote it.
struct AttributedInput {
    private var storage: [UInt8] = []
    /// Bytes before this index were taken already (compacted at the next append).
    private var start = 0
    /// Runs in order: run i covers the storage indices from the previous run's end up to `end`.
    private var runs: [(end: Int, writer: Writer?)] = []

    var count: Int { storage.count - start }

    mutating func append(_ chunk: [UInt8], from writer: Writer?) {
        guard !chunk.isEmpty else { return }
        if start > 0 {
            for i in 0..<start { storage[i] = 0 }
            storage.removeSubrange(..<start)
            runs = runs.compactMap { run in run.end > start ? (run.end - start, run.writer) : nil }
            start = 0
        }
        storage += chunk
        if let last = runs.last, last.writer == writer {
            runs[runs.count - 1].end = storage.count
        } else {
            runs.append((storage.count, writer))
        }
    }

    /// Offset of the first newline, if a complete line is buffered.
    var newlineIndex: Int? { storage[start...].firstIndex(of: 0x0A).map { $0 - start } }

    /// Removes the first `length` bytes (a line and its newline) and returns them with the
    /// writer of each run they span.
    mutating func take(_ length: Int) -> (bytes: [UInt8], writers: [Writer?]) {
        let end = start + min(length, count)
        let taken = Array(storage[start..<end])
        var writers: [Writer?] = []
        for run in runs where run.end > start {
            writers.append(run.writer)
            if run.end >= end { break }
        }
        for i in start..<end { storage[i] = 0 }
        start = end
        if start == storage.count { clear() }
        return (taken, writers)
    }

    /// Whether what remains is only blank (spaces, tabs, CR): a last line without its newline
    /// must have content to count.
    var isBlank: Bool { storage[start...].allSatisfy { $0 == 0x20 || $0 == 0x0D || $0 == 0x09 } }

    mutating func clear() {
        for i in storage.indices { storage[i] = 0 }
        storage = []
        start = 0
        runs = []
    }
}

/// The listening side: accepts on a bound socket (ours or systemd's) until shut down. One
/// dedicated thread waits on epoll for every connection; requests are answered in tasks.
public final class SocketServer: Sendable {
    private let mailbox: SocketMailbox

    /// Starts serving on `listeningDescriptor`, a bound and listening Unix stream socket whose
    /// ownership passes to the server.
    public init(listeningDescriptor: Int32, handling: any RequestHandling, limits: ConnectionLimits) async throws {
        let listener = FileDescriptor(rawValue: listeningDescriptor)
        let epoll = try Epoll()
        let mailbox = SocketMailbox(wake: try WakeCounter())
        try listener.setNonBlocking(true)
        // Accepted sockets inherit SO_PASSCRED, so every byte, even one written before the
        // accept, arrives with its writer's credentials.
        try UnixSocket.setPassCredentials(listener)
        try epoll.add(listener, for: .readable)
        try epoll.add(mailbox.wake.descriptor, for: .readable)
        self.mailbox = mailbox
        let ownUID = CurrentProcess.userID
        DedicatedThread.start(name: "authd-socket") {
            SocketLoop(epoll: epoll, listener: listener, mailbox: mailbox, handling: handling,
                       limits: limits, ownUID: ownUID).run()
        }
    }

    /// Returns once the socket loop has gone round: a loop that is stuck never returns, which is
    /// what the watchdog wants to notice.
    public func probe() async throws {
        await withCheckedContinuation { continuation in mailbox.post(.probe(continuation)) }
    }

    /// Serves a forward's listening socket (bound, listening; ownership passes to the server) on the same
    /// loop, with the same connection handling; every connection accepted there carries `grant`.
    public func addForwardListener(_ descriptor: FileDescriptor, grant: ForwardGrant) async throws {
        try descriptor.setNonBlocking(true)
        try UnixSocket.setPassCredentials(descriptor)
        let added: Bool = await withCheckedContinuation { continuation in
            mailbox.post(.addListener(descriptor, grant, continuation))
        }
        if !added { throw ForwardListenerError() }
    }

    /// Stops accepting on the forward `id`, closes its listening socket and every connection accepted
    /// there (a request in progress is cancelled, its answer dropped).
    public func removeForwardListener(id: String) async {
        await withCheckedContinuation { continuation in mailbox.post(.removeListener(id, continuation)) }
    }

    /// Stops accepting, closes open connections and the listening socket, and ends the loop.
    public func shutdown() async {
        await withCheckedContinuation { continuation in mailbox.post(.stop(continuation)) }
    }
}

struct ForwardListenerError: Error, CustomStringConvertible {
    var description: String { "the socket loop could not watch the forward's socket" }
}

/// Identifies one connection across fd reuse.
struct ConnectionKey: Sendable, Equatable {
    var descriptor: Int32
    var serial: UInt64
}

/// Messages to the socket loop from other threads; the loop drains them when woken.
final class SocketMailbox: Sendable {
    enum Message: Sendable {
        /// An event line for a client (a device-flow prompt) while its request is pending.
        case event(ConnectionKey, [UInt8])
        /// The final reply of the pending request.
        case finished(ConnectionKey, [UInt8], closeAfter: Bool)
        case probe(CheckedContinuation<Void, Never>)
        case addListener(FileDescriptor, ForwardGrant, CheckedContinuation<Bool, Never>)
        case removeListener(String, CheckedContinuation<Void, Never>)
        case stop(CheckedContinuation<Void, Never>)
    }

    let wake: WakeCounter
    private let messages = Mutex<[Message]>([])

    init(wake: WakeCounter) { self.wake = wake }

    func post(_ message: Message) {
        messages.withLock { $0.append(message) }
        wake.signal()
    }

    func takeAll() -> [Message] {
        wake.drain()
        return messages.withLock { list in
            let taken = list
            list.removeAll(keepingCapacity: true)
            return taken
        }
    }
}

/// One client connection; touched only by the socket loop's thread.
final class Connection {
    let key: ConnectionKey
    let socket: FileDescriptor
    /// The restriction of the forward it was accepted on; nil on the main socket.
    let grant: ForwardGrant?
    var input = AttributedInput()
    var output: [UInt8] = []
    var outputStart = 0
    /// A request is being answered: nothing more is read until it is.
    var busy = false
    var inputClosed = false
    /// Close once the output is written (after a refusal, a too-long line, or end of input).
    var closing = false
    var deadline: UInt64?
    var work: Task<Void, Never>?
    var interest: Epoll.Interest = []

    init(key: ConnectionKey, socket: FileDescriptor, grant: ForwardGrant?) {
        self.key = key
        self.socket = socket
        self.grant = grant
    }

    var pendingOutput: Int { output.count - outputStart }
}

/// The epoll loop. Owns the connection table; runs on one dedicated thread until stopped.
final class SocketLoop {
    private let epoll: Epoll
    private let listener: FileDescriptor
    /// Forward listening sockets by descriptor, each with its restriction.
    private var forwardListeners: [Int32: (socket: FileDescriptor, grant: ForwardGrant)] = [:]
    private let mailbox: SocketMailbox
    private let handling: any RequestHandling
    private let limits: ConnectionLimits
    private let ownUID: UInt32
    private var connections: [Int32: Connection] = [:]
    private var nextSerial: UInt64 = 0
    /// Where the loop opens the tokens it serves itself; wiped after each (a larger token hops).
    private let scratch = SecretScratch(capacity: SocketLoop.scratchCapacity)
    static let scratchCapacity = 16 * 1024

    init(epoll: Epoll, listener: FileDescriptor, mailbox: SocketMailbox, handling: any RequestHandling,
         limits: ConnectionLimits, ownUID: UInt32) {
        self.epoll = epoll
        self.listener = listener
        self.mailbox = mailbox
        self.handling = handling
        self.limits = limits
        self.ownUID = ownUID
    }

    private var timeoutNanoseconds: UInt64 {
        let (seconds, attoseconds) = limits.requestTimeout.components
        return UInt64(max(seconds, 0)) * 1_000_000_000 + UInt64(max(attoseconds, 0) / 1_000_000_000)
    }

    func run() {
        while true {
            let now = SystemClock.monotonicNanoseconds()
            let nextDeadline = connections.values.compactMap(\.deadline).min()
            let wait = nextDeadline.map { $0 <= now ? 0 : Int(($0 - now) / 1_000_000) + 1 } ?? -1
            let events = (try? epoll.wait(timeoutMilliseconds: wait)) ?? []
            var woken = false
            for event in events {
                if event.descriptor == listener {
                    acceptWaiting(on: listener, grant: nil)
                } else if let forward = forwardListeners[event.descriptor.rawValue] {
                    acceptWaiting(on: forward.socket, grant: forward.grant)
                } else if event.descriptor == mailbox.wake.descriptor {
                    woken = true
                } else if let connection = connections[event.descriptor.rawValue] {
                    serviceEvent(event, on: connection)
                }
            }
            // Each message is moved out (popLast, consume) so an answer's bytes are wiped in place,
            // not in a copy.
            // Only when woken: draining the eventfd on every turn would be a failing read per request.
            var pending = woken ? mailbox.takeAll() : []
            pending.reverse()
            while let message = pending.popLast() {
                switch consume message {
                case .event(let key, var bytes):
                    if let connection = connection(key) { queue(&bytes, on: connection) }
                    for i in bytes.indices { bytes[i] = 0 }
                case .finished(let key, var bytes, let closeAfter):
                    // An answer for a connection that has gone is wiped too: it may hold a token.
                    if let connection = connection(key) { finished(connection, reply: &bytes, closeAfter: closeAfter) }
                    for i in bytes.indices { bytes[i] = 0 }
                case .probe(let continuation):
                    continuation.resume()
                case let .addListener(socket, grant, continuation):
                    if (try? epoll.add(socket, for: .readable)) != nil {
                        forwardListeners[socket.rawValue] = (socket, grant)
                        continuation.resume(returning: true)
                    } else {
                        try? socket.close()
                        continuation.resume(returning: false)
                    }
                case let .removeListener(id, continuation):
                    for (descriptor, forward) in forwardListeners where forward.grant.id == id {
                        forwardListeners[descriptor] = nil
                        epoll.remove(forward.socket)
                        try? forward.socket.close()
                    }
                    for connection in Array(connections.values) where connection.grant?.id == id { close(connection) }
                    continuation.resume()
                case .stop(let continuation):
                    for connection in Array(connections.values) { close(connection) }
                    for forward in forwardListeners.values {
                        epoll.remove(forward.socket)
                        try? forward.socket.close()
                    }
                    forwardListeners = [:]
                    epoll.remove(listener)
                    try? listener.close()
                    handling.loopTurnEnded()
                    continuation.resume()
                    return
                }
            }
            expireDeadlines()
            handling.loopTurnEnded()
        }
    }

    private func connection(_ key: ConnectionKey) -> Connection? {
        guard let connection = connections[key.descriptor], connection.key == key else { return nil }
        return connection
    }

    // MARK: accept

    private func acceptWaiting(on listening: FileDescriptor, grant: ForwardGrant?) {
        while let socket = try? UnixSocket.acceptNonBlocking(listening) {
            admit(socket, grant: grant)
        }
    }

    private func admit(_ socket: FileDescriptor, grant: ForwardGrant?) {
        guard connections.count < limits.maximumConnections else {
            // Over the limit: say so in one line and close, without reading.
            let failure = ProtocolFailure(.busy, "authd is at its connection limit (\(limits.maximumConnections))")
            _ = try? UnixSocket.sendAvailable(socket, ReplyLine.failure(failure).line()[...])
            try? socket.close()
            return
        }
        // The uid check comes before any byte is read.
        guard let credentials = try? PeerCredentials.read(socket: socket) else {
            try? socket.close()
            return
        }
        guard credentials.uid == ownUID else {
            let pinned = try? PinnedProcess.peer(of: socket)
            let executable = try? pinned?.executablePath()
            handling.refused(ClientIdentity(uid: credentials.uid, pid: credentials.pid, executable: executable,
                                            hasControllingTerminal: false, forward: grant))
            let failure = ProtocolFailure(.refused, "refused: this authd serves uid \(ownUID) only",
                                          hint: "run authctl as the user who owns the daemon")
            _ = try? UnixSocket.sendAvailable(socket, ReplyLine.failure(failure).line()[...])
            try? socket.close()
            return
        }
        // Inherited from the listener; set again in case the listener came from elsewhere.
        guard (try? UnixSocket.setPassCredentials(socket)) != nil else {
            try? socket.close()
            return
        }
        nextSerial += 1
        let connection = Connection(key: ConnectionKey(descriptor: socket.rawValue, serial: nextSerial), socket: socket,
                                    grant: grant)
        connection.deadline = SystemClock.monotonicNanoseconds() + timeoutNanoseconds
        connection.interest = [.readable, .peerClosedWriting]
        guard (try? epoll.add(socket, for: connection.interest)) != nil else {
            try? socket.close()
            return
        }
        connections[socket.rawValue] = connection
    }

    // MARK: reading and framing

    private func serviceEvent(_ event: Epoll.Event, on connection: Connection) {
        if event.isWritable {
            flush(connection)
            guard connections[connection.key.descriptor] === connection else { return }
            if !connection.busy { nextRequest(connection) }
        }
        guard connections[connection.key.descriptor] === connection else { return }
        if (event.isReadable || event.peerClosedWriting) && wantsInput(connection) {
            read(connection)
        } else if event.isHungUp {
            // Both directions are gone: a client that goes away stops waiting (a shared device
            // flow continues for others).
            close(connection)
            return
        }
        guard connections[connection.key.descriptor] === connection else { return }
        updateInterest(connection)
    }

    private func wantsInput(_ connection: Connection) -> Bool {
        !connection.busy && !connection.inputClosed && !connection.closing
            && connection.pendingOutput <= limits.outputHighWater && connection.input.newlineIndex == nil
    }

    private func read(_ connection: Connection) {
        // One recvmsg: one writer's bytes. The cap keeps the buffer at most one line plus a chunk.
        let room = AuthdProtocol.maximumMessageBytes + 1 - connection.input.count
        switch Result(catching: { () throws(Errno) in try UnixSocket.receive(connection.socket, upToCount: max(room, 1)) }) {
        case .success(.bytes(let chunk, let sender)):
            connection.input.append(chunk, from: sender.map { Writer(pid: $0.pid, uid: $0.uid) })
        case .success(.endOfFile):
            connection.inputClosed = true
        case .success(.wouldBlock):
            return
        case .failure:
            close(connection)
            return
        }
        nextRequest(connection)
    }

    /// Starts the next buffered request if the connection may have one now.
    private func nextRequest(_ connection: Connection) {
        guard !connection.busy, !connection.closing else { return }
        // A client that does not read its replies gets no more answers until it does.
        guard connection.pendingOutput <= limits.outputHighWater else { return }
        let maximum = AuthdProtocol.maximumMessageBytes
        if let newline = connection.input.newlineIndex {
            guard newline < maximum else { return lineTooLong(connection) }
            let (bytes, writers) = connection.input.take(newline + 1)
            dispatch(Array(bytes.dropLast()), attribution: .of(writers), on: connection)
            return
        }
        if connection.input.count >= maximum { return lineTooLong(connection) }
        guard connection.inputClosed else { return }
        // The client sent everything it will send (e.g. socat after stdin ends): a last request
        // without its newline (`printf '{...}' | socat`) still counts; then close.
        if !connection.input.isBlank {
            let (bytes, writers) = connection.input.take(connection.input.count)
            dispatch(bytes, attribution: .of(writers), on: connection)
        } else {
            connection.input.clear()
            connection.closing = true
            flush(connection)
        }
    }

    private func lineTooLong(_ connection: Connection) {
        connection.input.clear()
        let failure = ProtocolFailure(.badRequest, "request longer than \(AuthdProtocol.maximumMessageBytes) bytes")
        var line = ReplyLine.failure(failure).line()
        connection.closing = true
        queue(&line, on: connection)
    }

    // MARK: requests

    private func dispatch(_ line: [UInt8], attribution: LineAttribution, on connection: Connection) {
        connection.busy = true
        connection.deadline = nil
        let key = connection.key
        let mailbox = self.mailbox
        let handling = self.handling
        let decoded = Result(catching: { () throws(ProtocolFailure) -> Request in try Request.decode(line) })
        // Pin the writer now, while it is most likely still the process that wrote.
        var pinned: PinnedProcess?
        var unattributed: String?
        var sender = Writer(pid: 0, uid: 0)
        switch attribution {
        case .unattributed(let why):
            unattributed = why
        case .sender(let writer):
            sender = writer
            if writer.uid != ownUID {
                let identity = ClientIdentity(uid: writer.uid, pid: writer.pid, executable: nil, hasControllingTerminal: false,
                                              forward: connection.grant)
                handling.refusedSender(identity)
                let failure = ProtocolFailure(.refused, "refused: this authd serves uid \(ownUID) only",
                                              hint: "run authctl as the user who owns the daemon")
                var reply = ReplyLine.failure(failure).line()
                finished(connection, reply: &reply, closeAfter: true)
                return
            }
            // Requests that neither check a policy nor write an audit record (version, status) need
            // no examination of the writer; the rest are pinned and examined now.
            if Self.needsIdentity(decoded) {
                do throws(Errno) {
                    pinned = try PinnedProcess.open(processID: writer.pid, userID: writer.uid)
                } catch {
                    unattributed = "the writer (pid \(writer.pid)) could not be pinned: \(error)"
                }
            }
        }
        let client: ClientIdentity
        if unattributed == nil, pinned == nil {
            client = ClientIdentity(uid: sender.uid, pid: sender.pid, executable: nil, hasControllingTerminal: false,
                                    unattributed: "not examined: the request needs no identity", forward: connection.grant)
        } else {
            // Examined here, on the loop, right after the read: the shorter the time since the write,
            // the smaller the chance that the writer has exec'd another program since (docs/security.md).
            let terminal = (try? decoded.get()).map(handling.examinesTerminal) ?? false
            client = Self.identify(sender, pinned: pinned, unattributed: unattributed, ownUID: ownUID, forward: connection.grant,
                                   examineTerminal: terminal)
        }
        pinned = nil
        // A cached token is answered here, on the loop; everything else after the hop.
        if case .success(let request) = decoded, var answer = handling.answerOnLoop(request, from: client, scratch: scratch) {
            finished(connection, reply: &answer, closeAfter: false)
            return
        }
        let sink: ReplySink = { event in mailbox.post(.event(key, event.line())) }
        connection.work = Task {
            let reply: Reply
            switch decoded {
            case .success(let request): reply = await handling.handle(request, from: client, events: sink)
            case .failure(let failure): reply = .line(.failure(failure))
            }
            mailbox.post(.finished(key, SocketLoop.encode(reply), closeAfter: false))
        }
    }

    /// Whether answering the request looks at who sent it (a policy check, an audit record):
    /// `version` and `status` do not, nor does a line that is no request.
    static func needsIdentity(_ decoded: Result<Request, ProtocolFailure>) -> Bool {
        switch decoded {
        case .success(.version), .success(.status), .failure: return false
        case .success: return true
        }
    }

    /// What the pinned writer runs and whether it has a terminal, read through `/proc` and
    /// confirmed against the pidfd afterwards (so the answers are about that process).
    static func identify(_ sender: Writer, pinned: PinnedProcess?, unattributed: String?, ownUID: UInt32,
                         forward: ForwardGrant? = nil, examineTerminal: Bool = true) -> ClientIdentity {
        guard let pinned, unattributed == nil else {
            return ClientIdentity(uid: sender.pid > 0 ? sender.uid : ownUID, pid: sender.pid, executable: nil,
                                  hasControllingTerminal: false, unattributed: unattributed ?? "no writer", forward: forward)
        }
        do throws(Errno) {
            let (path, status) = try pinned.executableFile()
            let terminal = examineTerminal ? try pinned.hasControllingTerminal() : nil
            let file = ExecutableFile(device: status.device, inode: status.inode,
                                      isDeleted: status.linkCount == 0 || path?.hasSuffix(" (deleted)") == true)
            return ClientIdentity(uid: sender.uid, pid: sender.pid, executable: path, executableFile: file,
                                  hasControllingTerminal: terminal, forward: forward)
        } catch {
            return ClientIdentity(uid: sender.uid, pid: sender.pid, executable: nil, hasControllingTerminal: false,
                                  unattributed: "the writer (pid \(sender.pid)) exited before it could be examined", forward: forward)
        }
    }

    private func finished(_ connection: Connection, reply: inout [UInt8], closeAfter: Bool) {
        connection.work = nil
        connection.busy = false
        if closeAfter { connection.closing = true }
        queue(&reply, on: connection)
        guard connections[connection.key.descriptor] === connection else { return }
        connection.deadline = SystemClock.monotonicNanoseconds() + timeoutNanoseconds
        nextRequest(connection)
        guard connections[connection.key.descriptor] === connection else { return }
        updateInterest(connection)
    }

    // MARK: writing

    /// Appends `bytes` (wiped afterwards: it may hold a token) to the connection's output and writes what the socket takes.
    private func queue(_ bytes: inout [UInt8], on connection: Connection) {
        connection.output += bytes
        for i in bytes.indices { bytes[i] = 0 }
        if connection.pendingOutput > limits.outputLimit {
            close(connection)
            return
        }
        flush(connection)
        if connections[connection.key.descriptor] === connection { updateInterest(connection) }
    }

    private func flush(_ connection: Connection) {
        while connection.pendingOutput > 0 {
            let written: Int
            do throws(Errno) {
                written = try UnixSocket.sendAvailable(connection.socket, connection.output[connection.outputStart...])
            } catch {
                close(connection)
                return
            }
            if written == 0 { break }
            connection.outputStart += written
        }
        if connection.pendingOutput == 0 {
            wipeOutput(connection)
            if connection.closing { close(connection) }
        } else if connection.outputStart >= 64 * 1024 {
            for i in 0..<connection.outputStart { connection.output[i] = 0 }
            connection.output.removeSubrange(..<connection.outputStart)
            connection.outputStart = 0
        }
    }

    private func wipeOutput(_ connection: Connection) {
        for i in connection.output.indices { connection.output[i] = 0 }
        // A fresh array gives the memory back instead of keeping the largest reply's capacity.
        connection.output = []
        connection.outputStart = 0
    }

    private func updateInterest(_ connection: Connection) {
        var wanted: Epoll.Interest = []
        if wantsInput(connection) { wanted.formUnion([.readable, .peerClosedWriting]) }
        if connection.pendingOutput > 0 { wanted.insert(.writable) }
        guard wanted != connection.interest else { return }
        connection.interest = wanted
        if (try? epoll.modify(connection.socket, for: wanted)) == nil { close(connection) }
    }

    // MARK: closing

    private func expireDeadlines() {
        let now = SystemClock.monotonicNanoseconds()
        for connection in connections.values {
            if let deadline = connection.deadline, deadline <= now { close(connection) }
        }
    }

    private func close(_ connection: Connection) {
        guard connections[connection.key.descriptor] === connection else { return }
        connections[connection.key.descriptor] = nil
        connection.work?.cancel()
        connection.work = nil
        epoll.remove(connection.socket)
        try? connection.socket.close()
        connection.input.clear()
        wipeOutput(connection)
    }

    // MARK: encoding

    /// Encodes a reply; a token is copied straight from secret memory into the bytes (no String copy).
    static func encode(_ reply: Reply) -> [UInt8] {
        switch reply {
        case .line(let line): return line.line()
        case .token(let served): return served.replyLine()
        }
    }
}
