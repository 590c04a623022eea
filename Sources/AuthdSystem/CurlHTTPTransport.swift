// HTTP(S) requests to providers through libcurl, one easy handle per request on its own thread.
import AuthdWire
import CCurl
import CSodium
import Synchronization

/// Sends `HTTPRequest`s with libcurl: http and https only, no redirects, the request's timeouts,
/// response-size cap and extra CA file; proxies from `HTTPS_PROXY`/`https_proxy`/`NO_PROXY` as
/// libcurl reads them, except for loopback endpoints (`HTTPRequest.loopbackOnly`), which never go
/// through a proxy. Plain http and loopback endpoints are sent only when the connected address
/// is a loopback address (checked after connecting, before any byte of the request). A transfer runs on a dedicated thread (it blocks) and is aborted when the
/// calling task is cancelled. Errors never contain the request body.
public struct CurlHTTPTransport: HTTPTransport {
    /// Where the system trust anchors are, as hashed links; searched in addition to a request's `caFile`.
    public static let systemCertificateDirectory = "/etc/ssl/certs"

    /// The `User-Agent` sent.
    public var userAgent: String

    /// A transport that identifies itself as `userAgent`.
    public init(userAgent: String = "authd") {
        self.userAgent = userAgent
    }

    public func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        try Task.checkCancellation(orThrow: HTTPError.cancelled)
        let cancellation = CancellationFlag()
        let userAgent = userAgent
        let result = await withTaskCancellationHandler {
            await DedicatedThread.run { CurlTransfer(request, userAgent: userAgent, cancellation: cancellation).perform() }
        } onCancel: {
            cancellation.cancel()
        }
        return try result.get()
    }
}

extension Task where Success == Never, Failure == Never {
    fileprivate static func checkCancellation(orThrow error: HTTPError) throws(HTTPError) {
        if isCancelled { throw error }
    }
}

/// Set by the cancelling task, read by libcurl's progress callback on the transfer thread.
final class CancellationFlag: Sendable {
    private let cancelled = Atomic<Bool>(false)
    func cancel() { cancelled.store(true, ordering: .relaxed) }
    var isCancelled: Bool { cancelled.load(ordering: .relaxed) }
}

/// libcurl's process-wide set-up, done once before the first handle (`curl_global_init`).
private enum Curl {
    private static let initialized: Bool = curl_global_init(Int(CURL_GLOBAL_DEFAULT)) == CURLE_OK

    static func ensureInitialized() {
        precondition(initialized, "curl_global_init failed")
    }
}

/// One transfer's state; lives on the transfer thread only, reached from callbacks by pointer.
private final class CurlTransfer {
    let request: HTTPRequest
    let userAgent: String
    let cancellation: CancellationFlag
    var body: [UInt8] = []
    var headers: [(name: String, value: String)] = []
    var headerBytes = 0
    var exceededLimit = false
    /// The non-loopback address a loopback-only transfer connected to; the request was not sent.
    var refusedPeer: String?
    // The request body in memory we wipe ourselves: libcurl reads it in place (CURLOPT_POSTFIELDS)
    // instead of copying it into a buffer it frees without wiping.
    let requestBody: UnsafeMutableRawBufferPointer

    static let maximumHeaderBytes = 64 * 1024

    init(_ request: HTTPRequest, userAgent: String, cancellation: CancellationFlag) {
        self.request = request
        self.userAgent = userAgent
        self.cancellation = cancellation
        requestBody = .allocate(byteCount: max(request.body.count, 1), alignment: 1)
        request.body.withUnsafeBytes { requestBody.copyMemory(from: $0) }
    }

    deinit {
        sodium_memzero(requestBody.baseAddress!, requestBody.count)
        requestBody.deallocate()
    }

    func perform() -> Result<HTTPResponse, HTTPError> {
        Curl.ensureInitialized()
        guard let handle = curl_easy_init() else { return .failure(.transport("cannot create a libcurl handle")) }
        defer { curl_easy_cleanup(handle) }
        var headerList: UnsafeMutablePointer<curl_slist>?
        defer { curl_slist_free_all(headerList) }
        var errorText = [CChar](repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)

        let code: CURLcode = errorText.withUnsafeMutableBufferPointer { errorBuffer in
            let context = Unmanaged.passUnretained(self).toOpaque()
            var setup = CURLE_OK
            func set(_ option: CURLoption, _ value: Int) {
                if setup == CURLE_OK { setup = authd_curl_setopt_long(handle, option, value) }
            }
            func set(_ option: CURLoption, _ value: String) {
                // libcurl copies string options (since 7.17).
                if setup == CURLE_OK { setup = authd_curl_setopt_string(handle, option, value) }
            }
            func set(_ option: CURLoption, pointer: UnsafeMutableRawPointer?) {
                if setup == CURLE_OK { setup = authd_curl_setopt_pointer(handle, option, pointer) }
            }
            set(CURLOPT_ERRORBUFFER, pointer: UnsafeMutableRawPointer(errorBuffer.baseAddress))
            set(CURLOPT_URL, request.url)
            set(CURLOPT_PROTOCOLS_STR, "http,https")
            set(CURLOPT_REDIR_PROTOCOLS_STR, "http,https")
            set(CURLOPT_FOLLOWLOCATION, 0)
            // Signals for timeouts do not mix with threads; the threaded resolver needs none.
            set(CURLOPT_NOSIGNAL, 1)
            set(CURLOPT_CONNECTTIMEOUT_MS, max(request.connectTimeoutMilliseconds, 1))
            set(CURLOPT_TIMEOUT_MS, max(request.totalTimeoutMilliseconds, 1))
            set(CURLOPT_USERAGENT, userAgent)
            // A proxy's CONNECT answer is not the provider's answer.
            set(CURLOPT_SUPPRESS_CONNECT_HEADERS, 1)
            if setup == CURLE_OK {
                setup = authd_curl_setopt_off(handle, CURLOPT_MAXFILESIZE_LARGE, curl_off_t(request.maximumResponseBytes))
            }
            if let caFile = request.caFile {
                // CAINFO replaces the default bundle, so the system store comes back through CAPATH.
                set(CURLOPT_CAINFO, caFile)
                set(CURLOPT_CAPATH, CurlHTTPTransport.systemCertificateDirectory)
            }
            switch request.method {
            case .get:
                set(CURLOPT_HTTPGET, 1)
            case .delete:
                // A GET's handling (no body sent, the answer read) under another method name.
                set(CURLOPT_HTTPGET, 1)
                set(CURLOPT_CUSTOMREQUEST, "DELETE")
            case .post:
                set(CURLOPT_POST, 1)
                if setup == CURLE_OK {
                    setup = authd_curl_setopt_off(handle, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(request.body.count))
                }
                set(CURLOPT_POSTFIELDS, pointer: requestBody.baseAddress)
            }
            // "Expect:" stops libcurl from waiting for a 100-continue that providers do not send.
            for line in request.headers.map({ "\($0.name): \($0.value)" }) + ["Expect:"] {
                headerList = curl_slist_append(headerList, line)
            }
            set(CURLOPT_HTTPHEADER, pointer: UnsafeMutableRawPointer(headerList))
            if setup == CURLE_OK { setup = authd_curl_setopt_write(handle, Self.writeBody) }
            set(CURLOPT_WRITEDATA, pointer: context)
            if setup == CURLE_OK { setup = authd_curl_setopt_header(handle, Self.writeHeader) }
            set(CURLOPT_HEADERDATA, pointer: context)
            set(CURLOPT_NOPROGRESS, 0)
            if setup == CURLE_OK { setup = authd_curl_setopt_xferinfo(handle, Self.progress) }
            set(CURLOPT_XFERINFODATA, pointer: context)
            if mustConnectToLoopback {
                // A proxy would carry the device code, refresh token and client secret off the host
                // (security review, finding 5): loopback is never proxied, whatever http_proxy says.
                set(CURLOPT_NOPROXY, "*")
                if setup == CURLE_OK { setup = authd_curl_setopt_prereq(handle, Self.checkPeer) }
                set(CURLOPT_PREREQDATA, pointer: context)
            }
            guard setup == CURLE_OK else { return setup }
            return curl_easy_perform(handle)
        }

        guard code == CURLE_OK else {
            let detail = errorText.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            return .failure(error(for: code, detail: detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail))
        }
        var status = 0
        _ = authd_curl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        return .success(HTTPResponse(status: status, headers: headers, body: body))
    }

    /// Plain http travels in clear, so it goes to loopback only, whoever built the request; and a
    /// request the policy judged loopback must really reach a loopback address (a name can resolve anywhere).
    var mustConnectToLoopback: Bool {
        request.loopbackOnly || request.url.utf8.prefix(7).map { $0 | 0x20 } == Array("http://".utf8)
    }

    /// 127.0.0.0/8, ::1 and IPv4-mapped 127.x, as libcurl prints the connected address.
    static func isLoopbackAddress(_ address: String) -> Bool {
        address.hasPrefix("127.") || address == "::1" || address.lowercased().hasPrefix("::ffff:127.")
    }

    fileprivate func connected(to address: String) -> Bool {
        guard Self.isLoopbackAddress(address) else {
            refusedPeer = address
            return false
        }
        return true
    }

    private func error(for code: CURLcode, detail: String) -> HTTPError {
        if let refusedPeer {
            return .connectFailed("the loopback endpoint's host connected to \(refusedPeer), which is not a loopback address; nothing was sent")
        }
        if cancellation.isCancelled { return .cancelled }
        if exceededLimit { return .responseTooLarge(limit: request.maximumResponseBytes) }
        switch code {
        case CURLE_URL_MALFORMAT, CURLE_UNSUPPORTED_PROTOCOL:
            return .invalidURL(detail)
        case CURLE_COULDNT_CONNECT, CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY:
            return .connectFailed(detail)
        case CURLE_OPERATION_TIMEDOUT:
            return .timedOut
        case CURLE_FILESIZE_EXCEEDED:
            return .responseTooLarge(limit: request.maximumResponseBytes)
        case CURLE_ABORTED_BY_CALLBACK:
            return .cancelled
        case CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CERTPROBLEM, CURLE_SSL_CIPHER,
             CURLE_SSL_CACERT_BADFILE, CURLE_SSL_ISSUER_ERROR, CURLE_SSL_PINNEDPUBKEYNOTMATCH,
             CURLE_SSL_INVALIDCERTSTATUS, CURLE_SSL_ENGINE_INITFAILED, CURLE_SSL_CRL_BADFILE:
            return .tls(detail)
        default:
            return .transport(detail)
        }
    }

    fileprivate func receiveBody(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard body.count + bytes.count <= request.maximumResponseBytes else {
            exceededLimit = true
            return false
        }
        body.append(contentsOf: bytes)
        return true
    }

    fileprivate func receiveHeader(_ bytes: UnsafeRawBufferPointer) -> Bool {
        headerBytes += bytes.count
        guard headerBytes <= Self.maximumHeaderBytes else {
            exceededLimit = true
            return false
        }
        let line = String(decoding: bytes, as: UTF8.self)
        if line.hasPrefix("HTTP/") {
            // A new status line (after a 100 Continue): the headers before it were interim.
            headers.removeAll()
        } else if let colon = line.firstIndex(of: ":") {
            let name = line[..<colon].trimmingWhitespace()
            let value = line[line.index(after: colon)...].trimmingWhitespace()
            headers.append((name: name.lowercased(), value: value))
        }
        return true
    }
}

private extension Substring {
    func trimmingWhitespace() -> String {
        String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0.isWhitespace }.reversed())
    }
}

// libcurl callbacks: C function pointers that find their transfer through the context pointer.
extension CurlTransfer {
    // Returning anything but the byte count makes libcurl stop with CURLE_WRITE_ERROR.
    static let writeBody: @convention(c) (UnsafeMutablePointer<CChar>?, Int, Int, UnsafeMutableRawPointer?) -> Int = {
        data, size, count, context in
        let transfer = Unmanaged<CurlTransfer>.fromOpaque(context!).takeUnretainedValue()
        let bytes = UnsafeRawBufferPointer(start: data, count: size * count)
        return transfer.receiveBody(bytes) ? size * count : 0
    }

    static let writeHeader: @convention(c) (UnsafeMutablePointer<CChar>?, Int, Int, UnsafeMutableRawPointer?) -> Int = {
        data, size, count, context in
        let transfer = Unmanaged<CurlTransfer>.fromOpaque(context!).takeUnretainedValue()
        let bytes = UnsafeRawBufferPointer(start: data, count: size * count)
        return transfer.receiveHeader(bytes) ? size * count : 0
    }

    // Called once connected, before the request is sent; CURL_PREREQFUNC_ABORT (1) stops the transfer.
    static let checkPeer: @convention(c) (UnsafeMutableRawPointer?, UnsafeMutablePointer<CChar>?, UnsafeMutablePointer<CChar>?, Int32, Int32) -> Int32 = {
        context, primaryAddress, _, _, _ in
        let transfer = Unmanaged<CurlTransfer>.fromOpaque(context!).takeUnretainedValue()
        let address = primaryAddress.map { String(cString: $0) } ?? ""
        return transfer.connected(to: address) ? 0 : 1
    }

    // Called about once a second and on every chunk; non-zero aborts with CURLE_ABORTED_BY_CALLBACK.
    static let progress: @convention(c) (UnsafeMutableRawPointer?, curl_off_t, curl_off_t, curl_off_t, curl_off_t) -> Int32 = {
        context, _, _, _, _ in
        let transfer = Unmanaged<CurlTransfer>.fromOpaque(context!).takeUnretainedValue()
        return transfer.cancellation.isCancelled ? 1 : 0
    }
}
