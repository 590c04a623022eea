// HTTP request and response values shared by the OAuth engine and the transport that sends them.

/// One HTTP request to a provider endpoint. The body may carry secrets (client
/// secret, device code, refresh token): it is never logged or echoed in errors.
public struct HTTPRequest: Sendable {
    /// DELETE is RFC 7592's "forget this client registration".
    public enum Method: String, Sendable { case get = "GET", post = "POST", delete = "DELETE" }

    public var method: Method
    /// Absolute `http://` or `https://` URL.
    public var url: String
    /// Header fields in order; names compared case-insensitively by receivers.
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]
    /// Limit for establishing the connection, in milliseconds.
    public var connectTimeoutMilliseconds: Int
    /// Limit for the whole exchange, in milliseconds.
    public var totalTimeoutMilliseconds: Int
    /// Responses larger than this fail with `HTTPError.responseTooLarge`.
    public var maximumResponseBytes: Int
    /// Extra PEM trust anchors added to the system trust store (per-audience `ca_file`).
    public var caFile: String?
    /// The engine's URL policy judged the host loopback: the transport uses no proxy for it and
    /// refuses to send unless the connected address is a loopback address.
    public var loopbackOnly: Bool

    public init(
        method: Method, url: String, headers: [(name: String, value: String)] = [], body: [UInt8] = [],
        connectTimeoutMilliseconds: Int = 10_000, totalTimeoutMilliseconds: Int = 30_000,
        maximumResponseBytes: Int = 1 << 20, caFile: String? = nil, loopbackOnly: Bool = false
    ) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.connectTimeoutMilliseconds = connectTimeoutMilliseconds
        self.totalTimeoutMilliseconds = totalTimeoutMilliseconds
        self.maximumResponseBytes = maximumResponseBytes
        self.caFile = caFile
        self.loopbackOnly = loopbackOnly
    }
}

public struct HTTPResponse: Sendable {
    public var status: Int
    /// Header fields in order as received; names lower-cased.
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    public init(status: Int, headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers.map { (name: $0.name.lowercased(), value: $0.value) }
        self.body = body
    }

    /// The first value of a header, by case-insensitive name.
    public func header(_ name: String) -> String? {
        let wanted = name.lowercased()
        return headers.first { $0.name == wanted }?.value
    }
}

/// Why an exchange produced no HTTP response. Messages never contain the request body.
public enum HTTPError: Error, Sendable, Equatable, CustomStringConvertible {
    case invalidURL(String)
    case connectFailed(String)
    case timedOut
    case tls(String)
    case responseTooLarge(limit: Int)
    case transport(String)
    case cancelled

    public var description: String {
        switch self {
        case .invalidURL(let why): return "invalid URL: \(why)"
        case .connectFailed(let why): return "cannot connect: \(why)"
        case .timedOut: return "timed out"
        case .tls(let why): return "TLS failure: \(why)"
        case .responseTooLarge(let limit): return "response larger than \(limit) bytes"
        case .transport(let why): return why
        case .cancelled: return "cancelled"
        }
    }
}

/// Sends one request; failures are thrown as `HTTPError`. Implementations do not follow redirects, honour
/// `HTTPS_PROXY`/`NO_PROXY`, and support cancellation of the calling task.
public protocol HTTPTransport: Sendable {
    func send(_ request: HTTPRequest) async throws -> HTTPResponse  // throws HTTPError
}
