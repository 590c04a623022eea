// The Unix-socket front: framing, peer checks at accept, deadlines, connection limit, one task per request.
import AuthdPosix
import AuthdSystem
import AuthdWire
import NIOCore
import NIOPosix
import Synchronization

/// Limits that protect the daemon from clients; see docs/protocol.md.
public struct ConnectionLimits: Sendable {
    /// A request line must arrive completely within this time after connecting or after the
    /// previous reply, so idle and byte-a-second clients are closed.
    public var requestTimeout: TimeAmount
    public var maximumConnections: Int

    public init(requestTimeout: TimeAmount = .seconds(10), maximumConnections: Int = 1024) {
        self.requestTimeout = requestTimeout
        self.maximumConnections = maximumConnections
    }
}

/// What the socket front needs from the daemon: answer one decoded request for one client.
public protocol RequestHandling: Sendable {
    func handle(_ request: Request, from client: ClientIdentity, events: @escaping ReplySink) async -> Reply
    /// A client whose uid is not ours was refused at accept.
    func refused(_ client: ClientIdentity)
}

/// A final answer: a protocol line, or a token that is written straight from secret memory.
public enum Reply: Sendable {
    case line(ReplyLine)
    case token(ServedToken)
}

/// Counts open connections so a flood cannot exhaust file descriptors.
final class ConnectionGate: Sendable {
    private let open = Atomic<Int>(0)
    let limit: Int

    init(limit: Int) { self.limit = limit }

    func enter() -> Bool {
        let after = open.wrappingAdd(1, ordering: .relaxed).newValue
        if after > limit {
            open.wrappingSubtract(1, ordering: .relaxed)
            return false
        }
        return true
    }

    func leave() { open.wrappingSubtract(1, ordering: .relaxed) }

}

/// Splits the byte stream into request lines; a line longer than the protocol's cap is an error
/// that closes the connection before more than the cap is buffered.
struct RequestLineDecoder: ByteToMessageDecoder {
    typealias InboundOut = ByteBuffer
    struct LineTooLong: Error {}

    let maximumBytes: Int

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let newline = buffer.readableBytesView.firstIndex(of: 0x0A) else {
            if buffer.readableBytes >= maximumBytes { throw LineTooLong() }
            return .needMoreData
        }
        let length = newline - buffer.readerIndex
        guard length < maximumBytes else { throw LineTooLong() }
        let line = buffer.readSlice(length: length)!
        buffer.moveReaderIndex(forwardBy: 1)
        context.fireChannelRead(Self.wrapInboundOut(line))
        return .continue
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        // A last request without its newline (e.g. `printf '{...}' | socat`) still counts.
        while try decode(context: context, buffer: &buffer) == .continue {}
        if buffer.readableBytes > 0, buffer.readableBytesView.contains(where: { $0 != 0x20 && $0 != 0x0D && $0 != 0x09 }) {
            let line = buffer.readSlice(length: buffer.readableBytes)!
            context.fireChannelRead(Self.wrapInboundOut(line))
        }
        buffer.clear()
        return .needMoreData
    }
}

/// One connection: checks the peer before reading, then serves its requests one at a time.
final class ConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let handling: any RequestHandling
    private let limits: ConnectionLimits
    private let gate: ConnectionGate
    private let ownUID: UInt32
    private var client: ClientIdentity?
    private var queued: [ByteBuffer] = []
    private var busy = false
    private var inputClosed = false
    private var deadline: Scheduled<Void>?
    private var work: Task<Void, Never>?

    init(handling: any RequestHandling, limits: ConnectionLimits, gate: ConnectionGate, ownUID: UInt32) {
        self.handling = handling
        self.limits = limits
        self.gate = gate
        self.ownUID = ownUID
    }

    func channelActive(context: ChannelHandlerContext) {
        armDeadline(context: context)
        let channel = context.channel
        guard let options = channel as? SocketOptionProvider else {
            context.close(promise: nil)
            return
        }
        let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        let contextBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        let credentials: EventLoopFuture<RawPeerCredentials> = options.unsafeGetSocketOption(
            level: SocketOptionLevel(PeerCredentials.socketOptionLevel),
            name: SocketOptionName(PeerCredentials.peerCredentialsOption))
        credentials.whenComplete { result in
            guard case .success(let raw) = result else {
                contextBound.value.close(promise: nil)
                return
            }
            // Pin the process so the executable and terminal checks below are about this peer,
            // not a process that later reused its pid.
            let pidfd: EventLoopFuture<Int32> = options.unsafeGetSocketOption(
                level: SocketOptionLevel(PeerCredentials.socketOptionLevel),
                name: SocketOptionName(PeerCredentials.peerProcessDescriptorOption))
            pidfd.whenComplete { pidfdResult in
                let descriptor = (try? pidfdResult.get()).flatMap { $0 >= 0 ? $0 : nil }
                loopBound.value.peerIdentified(raw, processDescriptor: descriptor, context: contextBound.value)
            }
        }
    }

    private func peerIdentified(_ raw: RawPeerCredentials, processDescriptor: Int32?, context: ChannelHandlerContext) {
        // Held only while the facts are read: the pidfd closes with `pinned`, one descriptor per client.
        let pinned = PinnedProcess(credentials: raw, adoptingProcessDescriptor: processDescriptor)
        // Snapshot the executable and terminal now, before a byte is read: a client that connects
        // and then execs an allowed program must still be judged as what it was when it connected.
        let identity = ClientIdentity(uid: raw.uid, pid: raw.pid, executable: try? pinned.executablePath(),
                                      hasControllingTerminal: (try? pinned.hasControllingTerminal()) ?? false)
        guard raw.uid == ownUID else {
            handling.refused(identity)
            let failure = ProtocolFailure(.refused, "refused: this authd serves uid \(ownUID) only",
                                          hint: "run authctl as the user who owns the daemon")
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(bytes: ReplyLine.failure(failure).line())))
                .whenComplete { _ in channel.close(promise: nil) }
            return
        }
        client = identity
        let channel = context.channel
        channel.setOption(ChannelOptions.autoRead, value: true).whenSuccess { channel.read() }
        drain(context: context)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        queued.append(unwrapInboundIn(data))
        drain(context: context)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed {
            // The client sent everything it will send (e.g. socat after stdin ends): answer what
            // is queued, then close.
            inputClosed = true
            if !busy && queued.isEmpty && client != nil { context.close(promise: nil) }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
        // A client that goes away stops waiting; a shared device flow continues for others.
        work?.cancel()
        work = nil
        gate.leave()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if error is RequestLineDecoder.LineTooLong || (error as? ByteToMessageDecoderError).map({ "\($0)".contains("LineTooLong") }) == true {
            let failure = ProtocolFailure(.badRequest, "request longer than \(AuthdProtocol.maximumMessageBytes) bytes")
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(bytes: ReplyLine.failure(failure).line())))
                .whenComplete { _ in channel.close(promise: nil) }
            return
        }
        context.close(promise: nil)
    }

    private func armDeadline(context: ChannelHandlerContext) {
        deadline?.cancel()
        let contextBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        deadline = context.eventLoop.scheduleTask(in: limits.requestTimeout) {
            contextBound.value.close(promise: nil)
        }
    }

    private func drain(context: ChannelHandlerContext) {
        guard !busy, let client else { return }
        guard !queued.isEmpty else {
            if inputClosed { context.close(promise: nil) }
            return
        }
        var line = queued.removeFirst()
        busy = true
        deadline?.cancel()
        deadline = nil
        // One request at a time per connection: stop reading until it is answered.
        context.channel.setOption(ChannelOptions.autoRead, value: false).whenComplete { _ in }
        let bytes = line.readBytes(length: line.readableBytes) ?? []
        let channel = context.channel
        let handling = self.handling
        let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        let contextBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        let sink: ReplySink = { reply in
            channel.writeAndFlush(ByteBuffer(bytes: reply.line()), promise: nil)
        }
        work = Task {
            let reply: Reply
            switch Result(catching: { () throws(ProtocolFailure) -> Request in try Request.decode(bytes) }) {
            case .success(let request): reply = await handling.handle(request, from: client, events: sink)
            case .failure(let failure): reply = .line(.failure(failure))
            }
            let buffer = ConnectionHandler.encode(reply, allocator: channel.allocator)
            channel.eventLoop.execute {
                loopBound.value.finished(buffer, context: contextBound.value)
            }
        }
    }

    private func finished(_ buffer: ByteBuffer, context: ChannelHandlerContext) {
        work = nil
        busy = false
        guard context.channel.isActive else { return }
        context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
        armDeadline(context: context)
        context.channel.setOption(ChannelOptions.autoRead, value: true).whenComplete { _ in }
        context.read()
        drain(context: context)
    }

    /// Writes a token answer straight from secret memory into the outgoing buffer (no String copy).
    static func encode(_ reply: Reply, allocator: ByteBufferAllocator) -> ByteBuffer {
        switch reply {
        case .line(let line):
            return ByteBuffer(bytes: line.line())
        case .token(let served):
            var buffer = allocator.buffer(capacity: served.token.count + 256)
            buffer.writeString(#"{"ok":true,"access_token":""#)
            served.token.withBytes { span in
                for i in span.indices { writeEscaped(span[i], into: &buffer) }
            }
            var tail: [(String, JSONValue)] = [
                ("token_type", .string(served.tokenType)),
                ("expires_at", served.expiresAtWall.map { .integer($0) } ?? .null),
                ("scope", .string(served.scopes.joined(separator: " "))),
                ("fingerprint", .string(served.fingerprint)),
            ]
            if served.shortOfMinimumValidity { tail.append(("short_of_min_valid", .bool(true))) }
            var rest = JSONValue.object(tail).serializedBytes()
            rest[0] = UInt8(ascii: ",")
            buffer.writeString("\"")
            buffer.writeBytes(rest)
            buffer.writeInteger(UInt8(0x0A))
            tail.removeAll()
            return buffer
        }
    }

    private static func writeEscaped(_ byte: UInt8, into buffer: inout ByteBuffer) {
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"):
            buffer.writeInteger(UInt8(ascii: "\\"))
            buffer.writeInteger(byte)
        case 0x00..<0x20:
            let hex = Array("0123456789abcdef".utf8)
            buffer.writeBytes([UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"),
                               hex[Int(byte >> 4)], hex[Int(byte & 0xF)]])
        default:
            buffer.writeInteger(byte)
        }
    }
}

/// The listening side: accepts on a bound socket (ours or systemd's) until shut down.
public final class SocketServer: Sendable {
    private let group: MultiThreadedEventLoopGroup
    private let serverChannel: any Channel

    /// Starts serving on `listeningDescriptor`, a bound and listening Unix stream socket whose
    /// ownership passes to the server.
    public init(listeningDescriptor: Int32, handling: any RequestHandling, limits: ConnectionLimits,
                threads: Int = 1) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        let gate = ConnectionGate(limit: limits.maximumConnections)
        let ownUID = CurrentProcess.userID
        self.group = group
        do {
            serverChannel = try await ServerBootstrap(group: group)
                .serverChannelOption(.backlog, value: 512)
                .childChannelOption(.allowRemoteHalfClosure, value: true)
                // Nothing is read before the peer's credentials are checked.
                .childChannelOption(.autoRead, value: false)
                .childChannelInitializer { channel in
                    guard gate.enter() else {
                        // Over the limit: say so in one line and close, without reading.
                        let failure = ProtocolFailure(.busy, "authd is at its connection limit (\(limits.maximumConnections))")
                        return channel.writeAndFlush(ByteBuffer(bytes: ReplyLine.failure(failure).line()))
                            .flatMap { channel.close() }
                            .flatMapError { _ in channel.eventLoop.makeSucceededVoidFuture() }
                    }
                    return channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(
                            ByteToMessageHandler(RequestLineDecoder(maximumBytes: AuthdProtocol.maximumMessageBytes)))
                        try channel.pipeline.syncOperations.addHandler(
                            ConnectionHandler(handling: handling, limits: limits, gate: gate, ownUID: ownUID))
                    }
                }
                .withBoundSocket(listeningDescriptor)
                .get()
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
    }

    /// Returns once every event loop has run a task: a loop that is stuck never returns, which is
    /// what the watchdog wants to notice.
    public func probe() async throws {
        for loop in group.makeIterator() {
            try await loop.submit {}.get()
        }
    }

    /// Stops accepting, closes open connections, and stops the event loops.
    public func shutdown() async {
        try? await serverChannel.close()
        try? await group.shutdownGracefully()
    }
}
