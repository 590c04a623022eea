// A fake HTTPTransport for the engine's and the daemon's tests: scripted answers, recorded requests.

import AuthdOAuth
import AuthdWire
import Synchronization

/// Answers requests from a queue of scripted replies, or from a handler, and records every
/// request with the instant it was sent (when given a clock). An empty queue answers with a
/// transport error naming the request, so a test that sends more than it scripted fails loudly.
public final class ScriptedTransport: HTTPTransport, Sendable {
    public enum Reply: Sendable {
        case response(HTTPResponse)
        case failure(HTTPError)

        public static func json(_ body: String, status: Int = 200, headers: [(name: String, value: String)] = []) -> Reply {
            .response(HTTPResponse(status: status, headers: [("Content-Type", "application/json")] + headers, body: Array(body.utf8)))
        }

        public static func form(_ body: String, status: Int = 200) -> Reply {
            .response(HTTPResponse(status: status, headers: [("Content-Type", "application/x-www-form-urlencoded")], body: Array(body.utf8)))
        }

        public static func status(_ status: Int, headers: [(name: String, value: String)] = [], body: String = "") -> Reply {
            .response(HTTPResponse(status: status, headers: headers, body: Array(body.utf8)))
        }
    }

    public struct RecordedRequest: Sendable {
        public var request: HTTPRequest
        /// The clock's instant when the request was sent; nil without a clock.
        public var sentAt: MonotonicInstant?

        /// The form body as name/value pairs in order.
        public var form: [(String, String)] {
            FormURLEncoding.decode(String(decoding: request.body, as: UTF8.self))
        }

        public func formValue(_ name: String) -> String? { form.first { $0.0 == name }?.1 }
        public func formValues(_ name: String) -> [String] { form.filter { $0.0 == name }.map(\.1) }
        public func header(_ name: String) -> String? {
            request.headers.first { $0.name.lowercased() == name.lowercased() }?.value
        }
    }

    struct State {
        var replies: [Reply]
        var recorded: [RecordedRequest] = []
    }

    let state: Mutex<State>
    let clock: (any DaemonClock)?
    let handler: (@Sendable (HTTPRequest) async throws -> HTTPResponse)?

    /// Replies are consumed in order, one per request.
    public init(_ replies: [Reply] = [], clock: (any DaemonClock)? = nil) {
        state = Mutex(State(replies: replies))
        self.clock = clock
        handler = nil
    }

    /// Every request is answered by `handler` (which may throw `HTTPError`).
    public init(clock: (any DaemonClock)? = nil, handler: @escaping @Sendable (HTTPRequest) async throws -> HTTPResponse) {
        state = Mutex(State(replies: []))
        self.clock = clock
        self.handler = handler
    }

    /// Appends replies to the queue.
    public func enqueue(_ replies: Reply...) {
        state.withLock { $0.replies.append(contentsOf: replies) }
    }

    public var requests: [RecordedRequest] { state.withLock { $0.recorded } }

    /// Replies not consumed yet.
    public var pendingReplyCount: Int { state.withLock { $0.replies.count } }

    public func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        let sentAt = clock?.now
        let reply: Reply? = state.withLock { s in
            s.recorded.append(RecordedRequest(request: request, sentAt: sentAt))
            return handler == nil ? (s.replies.isEmpty ? nil : s.replies.removeFirst()) : nil
        }
        if let handler { return try await handler(request) }
        switch reply {
        case .response(let response)?: return response
        case .failure(let error)?: throw error
        case nil: throw HTTPError.transport("ScriptedTransport: nothing scripted for \(request.method.rawValue) \(request.url)")
        }
    }
}
