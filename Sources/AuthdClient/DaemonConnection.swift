// One connection to authd: send a request line, read reply lines within the protocol's size cap.
import AuthdConfig
import AuthdPosix
import AuthdWire

/// A connected socket to the daemon. Closed when released.
public final class DaemonConnection {
    /// What one wait for a reply line gave.
    public enum Read {
        case line([UInt8])
        /// Nothing complete arrived in the time given; the connection is still open.
        case timedOut
        /// The daemon closed the connection; `partial` says it did so in the middle of a line.
        case closed(partial: Bool)
    }

    public let socket: FileDescriptor
    public let path: String
    private var pending: [UInt8] = []

    public init(socket: FileDescriptor, path: String) {
        self.socket = socket
        self.path = path
    }

    deinit {
        // The buffer may hold a token; wipe it before the memory goes back to the allocator.
        for i in pending.indices { pending[i] = 0 }
        try? socket.close()
    }

    public func send(_ request: Request) throws(ClientFailure) {
        do {
            try socket.writeAll(request.line())
        } catch {
            // The daemon may have answered and closed before the request was written (a refusal
            // at accept): what it said is the answer, so read it before reporting the write error.
            if let answer = answerAfterFailedWrite() { throw answer }
            if AuthdPaths.namesForward(path) { throw DaemonLauncher.forwardEnded(path) }
            throw .daemonUnreachable("authd at \(path) closed the connection (\(error)); check it with: authctl version")
        }
    }

    /// A failure line the daemon sent before the connection broke, as the failure to report.
    private func answerAfterFailedWrite() -> ClientFailure? {
        while true {
            // What is already in the socket's buffer is all there is: the daemon closed its end.
            guard case .line(let bytes)? = try? readLine(timeoutMilliseconds: 200) else { return nil }
            if case .failure(let failure)? = try? ReplyLine.decode(bytes) {
                return ClientFailure(failure, audience: nil)
            }
        }
    }

    /// Waits at most `timeoutMilliseconds` for one complete line (without its newline).
    public func readLine(timeoutMilliseconds: Int) throws(ClientFailure) -> Read {
        if let line = takeLine() { return .line(line) }
        do {
            guard try socket.wait(for: .readable, timeoutMilliseconds: timeoutMilliseconds) else { return .timedOut }
            let chunk = try socket.read(upToCount: 16_384)
            if chunk.isEmpty { return .closed(partial: !pending.isEmpty) }
            pending += chunk
        } catch {
            // Through ssh -R, a forward that ended locally makes ssh reset the remote connection.
            if AuthdPaths.namesForward(path) { throw DaemonLauncher.forwardEnded(path) }
            throw .daemonUnreachable("lost the connection to authd at \(path) (\(error)); check it with: authctl version")
        }
        if let line = takeLine() { return .line(line) }
        if pending.count >= AuthdProtocol.maximumMessageBytes {
            throw ClientFailure(.providerOrNetwork,
                                "authd sent a reply longer than \(AuthdProtocol.maximumMessageBytes) bytes; is \(path) really authd?")
        }
        return .timedOut
    }

    private func takeLine() -> [UInt8]? {
        guard let newline = pending.firstIndex(of: 0x0A) else { return nil }
        let line = Array(pending[..<newline])
        for i in pending.startIndex...newline { pending[i] = 0 }
        pending.removeSubrange(...newline)
        return line
    }
}
