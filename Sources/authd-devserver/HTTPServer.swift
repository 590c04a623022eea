// The NIO side: HTTP/1.1 on a loopback socket, one handler per connection, and the deliberately broken deliveries.

import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

struct HTTPServer {
    let router: Router
    let log: RequestLog
    let clock: MonotonicClock
    /// The host as it appears in URLs (`127.0.0.1`, `[::1]`).
    let urlHost: String

    func bind(group: EventLoopGroup, host: String, port: Int) throws -> Channel {
        let router = self.router, log = self.log, clock = self.clock, urlHost = self.urlHost
        return try ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(
                        HTTPHandler(router: router, log: log, clock: clock, urlHost: urlHost))
                }
            }
            .childChannelOption(.maxMessagesPerRead, value: 1)
            .bind(host: host, port: port).wait()
    }
}

final class HTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    /// OAuth requests are a few hundred bytes; git pushes can be large but are still buffered whole.
    private static let oauthBodyLimit = 1 << 20
    private static let gitBodyLimit = 512 << 20

    private let router: Router
    private let log: RequestLog
    private let clock: MonotonicClock
    private let urlHost: String
    private var head: HTTPRequestHead?
    private var body: [UInt8] = []
    private var tooLarge = false

    init(router: Router, log: RequestLog, clock: MonotonicClock, urlHost: String) {
        self.router = router
        self.log = log
        self.clock = clock
        self.urlHost = urlHost
    }

    private struct Exchange {
        let version: HTTPVersion
        let keepAlive: Bool
        let method: String
        let path: String
        let t: Double
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h):
            head = h
            body = []
            tooLarge = false
            // curl sends this for larger uploads and would otherwise wait a second before sending the body.
            if h.headers[canonicalForm: "expect"].contains(where: { $0.lowercased() == "100-continue" }) {
                context.writeAndFlush(
                    wrapOutboundOut(.head(HTTPResponseHead(version: h.version, status: .continue))), promise: nil)
            }
        case .body(let buf):
            guard !tooLarge, let h = head else { return }
            let limit = h.uri.hasPrefix("/git/") ? HTTPHandler.gitBodyLimit : HTTPHandler.oauthBodyLimit
            if body.count + buf.readableBytes > limit {
                tooLarge = true
                body = []
            } else {
                body.append(contentsOf: buf.readableBytesView)
            }
        case .end:
            guard let h = head else { return }
            head = nil
            dispatch(context: context, head: h)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }

    private func dispatch(context: ChannelHandlerContext, head h: HTTPRequestHead) {
        let t = clock.now()
        let parts = h.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        let path = String(parts.first ?? "/")
        let query = parts.count > 1 ? String(parts[1]) : ""
        let ex = Exchange(version: h.version, keepAlive: h.isKeepAlive && !tooLarge, method: h.method.rawValue,
                          path: path, t: t)
        if tooLarge {
            send(Outcome(response: .text("request body too large\n", status: .payloadTooLarge),
                         log: LogFields(endpoint: router.endpoint(path: path).rawValue, result: "too_large")),
                 ex, context: context)
            return
        }
        let port = context.channel.localAddress?.port ?? 0
        let request = Request(method: h.method, path: path, query: query, headers: h.headers, body: body, t: t,
                              base: "http://\(urlHost):\(port)")
        body = []
        switch router.route(request) {
        case .now(let outcome):
            send(outcome, ex, context: context)
        case .later(let start):
            let loop = context.eventLoop
            let bound = NIOLoopBound((self, context), eventLoop: loop)
            start { outcome in
                loop.execute {
                    let (handler, context) = bound.value
                    handler.send(outcome, ex, context: context)
                }
            }
        }
    }

    private func send(_ outcome: Outcome, _ ex: Exchange, context: ChannelHandlerContext) {
        let r = outcome.response
        log.record(t: ex.t, method: ex.method, path: ex.path,
                   status: outcome.delivery == .stall ? nil : Int(r.status.code), outcome.log)
        guard context.channel.isActive else { return }
        if outcome.delivery == .stall { return }  // never answer; the client has to time out

        var headers = HTTPHeaders(r.headers)
        headers.replaceOrAdd(name: "Content-Length", value: String(r.body.count))
        let keepAlive = ex.keepAlive && outcome.delivery == .normal
        if !keepAlive { headers.replaceOrAdd(name: "Connection", value: "close") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: ex.version, status: r.status, headers: headers))),
                      promise: nil)

        switch outcome.delivery {
        case .normal:
            if !r.body.isEmpty { context.write(wrapOutboundOut(.body(.byteBuffer(buffer(context, r.body)))), promise: nil) }
            let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
            if !keepAlive {
                let channel = context.channel
                done.whenComplete { _ in channel.close(promise: nil) }
            }
        case .reset:
            let part = Array(r.body.prefix(max(1, r.body.count / 3)))
            context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(buffer(context, part)))), promise: nil)
            // A moment for the partial body to reach the client, then RST (SO_LINGER 0) instead of a clean FIN.
            let channel = context.channel
            context.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(200)) {
                if let sockets = channel as? SocketOptionProvider {
                    sockets.setSoLinger(linger(l_onoff: 1, l_linger: 0)).whenComplete { _ in channel.close(promise: nil) }
                } else {
                    channel.close(promise: nil)
                }
            }
        case .slow:
            context.flush()
            drip(r.body, from: 0, context: context)
        case .stall:
            break
        }
    }

    /// One byte per second, then the end of the response and the connection.
    private func drip(_ bytes: [UInt8], from index: Int, context: ChannelHandlerContext) {
        context.eventLoop.assumeIsolated().scheduleTask(in: .seconds(1)) {
            guard context.channel.isActive else { return }
            if index >= bytes.count {
                let channel = context.channel
                context.writeAndFlush(self.wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
                return
            }
            context.writeAndFlush(
                self.wrapOutboundOut(.body(.byteBuffer(self.buffer(context, [bytes[index]])))), promise: nil)
            self.drip(bytes, from: index + 1, context: context)
        }
    }

    private func buffer(_ context: ChannelHandlerContext, _ bytes: [UInt8]) -> ByteBuffer {
        var b = context.channel.allocator.buffer(capacity: bytes.count)
        b.writeBytes(bytes)
        return b
    }
}
