// The RFC 8252 loopback redirect listener: 127.0.0.1 only, one login's lifetime, bounded and deadline-limited requests.
import AuthdWire
import NIOCore
import NIOPosix
import Synchronization

/// How the listener answers one request: the decision is the agent's (`CallbackCheck`); the
/// listener only reads, bounds and writes.
public struct CallbackAnswer: Sendable, Equatable {
    public var status: Int
    public var page: String

    public init(status: Int, page: String) {
        self.status = status
        self.page = page
    }

    /// The page a person sees in the browser once the login has its answer.
    public static func done(_ headline: String) -> CallbackAnswer {
        CallbackAnswer(status: 200, page: CallbackPage.html(headline, "You may close this window and return to the terminal."))
    }

    public static func badRequest(_ why: String) -> CallbackAnswer {
        CallbackAnswer(status: 400, page: CallbackPage.html("authd: this is not the answer the waiting login expects", why))
    }
}

/// The browser page: fixed text only, nothing from the request.
enum CallbackPage {
    static func html(_ headline: String, _ text: String) -> String {
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>authd</title></head><body><h1>\(HTMLText.escape(headline))</h1><p>\(HTMLText.escape(text))</p></body></html>\n"
    }
}

/// Reading one HTTP/1.1 request head, pure: only `GET /callback?…` is a candidate; the query goes
/// to the agent. Everything else is answered 400 without reaching it.
public enum CallbackRequestHead {
    /// A request head larger than this is refused (a redirect's query is a few hundred bytes).
    public static let maximumBytes = 8192

    public enum Parsed: Sendable, Equatable {
        /// More bytes are needed to see the end of the head.
        case incomplete
        case callback(query: String)
        case rejected(String)
    }

    public static func parse(_ bytes: [UInt8]) -> Parsed {
        guard let end = headEnd(bytes) else {
            return bytes.count > maximumBytes ? .rejected("the request is too large") : .incomplete
        }
        guard end <= maximumBytes else { return .rejected("the request is too large") }
        guard let lineEnd = bytes.firstIndex(of: 0x0D) else { return .rejected("malformed request") }
        let line = String(decoding: bytes[..<lineEnd], as: UTF8.self)
        let parts = line.split(separator: " ", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[2].hasPrefix("HTTP/1.") else { return .rejected("malformed request line") }
        guard parts[0] == "GET" else { return .rejected("only GET is answered here") }
        let target = parts[1]
        let question = target.firstIndex(of: "?") ?? target.endIndex
        guard target[..<question] == "/callback" else { return .rejected("only /callback is answered here") }
        let query = question == target.endIndex ? "" : String(target[target.index(after: question)...])
        return .callback(query: query)
    }

    static func headEnd(_ bytes: [UInt8]) -> Int? {
        guard bytes.count >= 4 else { return nil }
        for i in 0...(bytes.count - 4) where bytes[i] == 0x0D && bytes[i + 1] == 0x0A && bytes[i + 2] == 0x0D && bytes[i + 3] == 0x0A {
            return i + 4
        }
        return nil
    }

    static func response(_ answer: CallbackAnswer) -> [UInt8] {
        let body = Array(answer.page.utf8)
        let reason = answer.status == 200 ? "OK" : "Bad Request"
        // no-store and no-referrer: the address bar held a code; nothing should keep or pass it on.
        let head = "HTTP/1.1 \(answer.status) \(reason)\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: \(body.count)\r\n"
            + "Cache-Control: no-store\r\nReferrer-Policy: no-referrer\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n"
        return Array(head.utf8) + body
    }
}

/// A running listener. `close()` stops accepting and ends open connections; it is idempotent.
public protocol LoopbackListener: Sendable {
    var port: Int { get }
    func close() async
}

/// Starts a listener on 127.0.0.1 (`port` 0 = ephemeral) that hands each callback's query to `answer`.
public typealias LoopbackListenerFactory = @Sendable (_ port: Int, _ answer: @escaping @Sendable (String) -> CallbackAnswer)
    async throws -> any LoopbackListener

/// The NIO implementation: one small event loop group shared by all logins.
public enum NIOLoopbackListener {
    /// How long one connection may take to send its request head.
    public static let defaultReadDeadline: Duration = .seconds(10)

    public static func start(port: Int, readDeadline: Duration = defaultReadDeadline,
                             answer: @escaping @Sendable (String) -> CallbackAnswer) async throws -> any LoopbackListener {
        let (seconds, attoseconds) = readDeadline.components
        let readDeadline = TimeAmount.nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 16)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(CallbackConnectionHandler(readDeadline: readDeadline, answer: answer))
                }
            }
            .childChannelOption(.allowRemoteHalfClosure, value: false)
            .bind(host: "127.0.0.1", port: port).get()
        return Running(channel: channel, port: channel.localAddress?.port ?? port)
    }

    final class Running: LoopbackListener {
        let channel: any Channel
        let port: Int
        init(channel: any Channel, port: Int) {
            self.channel = channel
            self.port = port
        }

        func close() async {
            try? await channel.close()
        }
    }
}

/// One connection: reads at most `maximumBytes` within the read deadline, answers once, closes.
final class CallbackConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let answer: @Sendable (String) -> CallbackAnswer
    private var received: [UInt8] = []
    private var answered = false
    private var deadline: Scheduled<Void>?
    private let readDeadline: TimeAmount

    init(readDeadline: TimeAmount, answer: @escaping @Sendable (String) -> CallbackAnswer) {
        self.readDeadline = readDeadline
        self.answer = answer
    }

    func channelActive(context: ChannelHandlerContext) {
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        deadline = context.eventLoop.scheduleTask(in: readDeadline) {
            loopBound.value.close(promise: nil)
        }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        deadline?.cancel()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !answered else { return }
        var buffer = unwrapInboundIn(data)
        let room = CallbackRequestHead.maximumBytes + 1 - received.count
        if let bytes = buffer.readBytes(length: min(buffer.readableBytes, max(room, 0))) { received += bytes }
        switch CallbackRequestHead.parse(received) {
        case .incomplete:
            return
        case .rejected(let why):
            respond(context, .badRequest(why))
        case .callback(let query):
            respond(context, answer(query))
        }
    }

    private func respond(_ context: ChannelHandlerContext, _ answer: CallbackAnswer) {
        answered = true
        deadline?.cancel()
        // The request held the code: it is not kept longer than needed.
        received.removeAll()
        let bytes = CallbackRequestHead.response(answer)
        var buffer = context.channel.allocator.buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.writeAndFlush(wrapOutboundOut(buffer)).whenComplete { _ in loopBound.value.close(promise: nil) }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

/// The one answer a waiting authorization code login gets: from the listener, a paste-back,
/// the deadline or cancellation, whichever comes first. Later deliveries are refused.
final class CallbackRendezvous: Sendable {
    enum Outcome: Sendable {
        case code(String)
        case failed(ProviderError)
    }

    private struct State {
        var outcome: Outcome?
        var waiter: CheckedContinuation<Outcome, Never>?
    }

    private let state = Mutex(State())

    /// True when this delivery was the first.
    @discardableResult
    func deliver(_ outcome: Outcome) -> Bool {
        let (first, waiter) = state.withLock { state -> (Bool, CheckedContinuation<Outcome, Never>?) in
            guard state.outcome == nil else { return (false, nil) }
            state.outcome = outcome
            let waiter = state.waiter
            state.waiter = nil
            return (true, waiter)
        }
        waiter?.resume(returning: outcome)
        return first
    }

    var isSettled: Bool { state.withLock { $0.outcome != nil } }

    func wait() async -> Outcome {
        await withCheckedContinuation { continuation in
            let ready: Outcome? = state.withLock { state in
                if let outcome = state.outcome { return outcome }
                state.waiter = continuation
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }
}
