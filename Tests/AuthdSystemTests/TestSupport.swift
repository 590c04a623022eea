// Helpers for the system tests: a loopback HTTP server in a child python3 (temporary directories are AuthdTestSupport's).
import AuthdPosix
import AuthdTestSupport
import Glibc

/// A python3 HTTP(S) server on 127.0.0.1 with fixed routes, killed when this object goes.
final class LoopbackServer {
    let process: SpawnedProcess
    /// Our end of the server's stdin: closing it (or exiting) stops the server.
    private let lifeline: OwnedFileDescriptor
    /// Port of the HTTP server.
    let port: Int
    /// A port with a listening socket that accepts (through the kernel backlog) but never answers.
    let silentPort: Int
    /// A port nothing listens on.
    let closedPort: Int
    private let directory: TemporaryDirectory

    static let script = #"""
import http.server, os, socket, ssl, sys, threading, time

# Exit when the test process goes away (its end of our stdin closes), so a server is never left
# running, holding the test runner's output open.
def watch_parent():
    sys.stdin.buffer.read()
    os._exit(0)
threading.Thread(target=watch_parent, daemon=True).start()

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *args): pass
    def reply(self, status, body, headers=()):
        self.send_response(status)
        for name, value in headers: self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def do_GET(self):
        if self.path == "/hello": self.reply(200, b"hello", [("X-Test", "yes")])
        elif self.path == "/big": self.reply(200, b"x" * 200000)
        elif self.path == "/redirect": self.reply(302, b"", [("Location", "/hello")])
        elif self.path == "/slow": time.sleep(30); self.reply(200, b"late")
        elif self.path == "/proxy-env": self.reply(200, b"direct")
        else: self.reply(404, b"no")
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.reply(200, body, [("X-Content-Type", self.headers.get("Content-Type", ""))])

server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
silent = socket.socket(); silent.bind(("127.0.0.1", 0)); silent.listen(16)
closed = socket.socket(); closed.bind(("127.0.0.1", 0)); closed_port = closed.getsockname()[1]; closed.close()
if len(sys.argv) > 2:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(sys.argv[1], sys.argv[2])
    server.socket = context.wrap_socket(server.socket, server_side=True)
print(server.server_address[1], silent.getsockname()[1], closed_port, flush=True)
server.serve_forever()
"""#

    init(certificate: String? = nil, privateKey: String? = nil) throws {
        // A client that hangs up early must be an error here, not SIGPIPE for the test process.
        CurrentProcess.ignoreBrokenPipe()
        directory = TemporaryDirectory(prefix: "authd-system-test")
        let scriptPath = directory.path + "/server.py"
        let file = try FileDescriptor.open(scriptPath, .writeOnly, options: [.create, .truncate])
        try file.closeAfter { () throws(Errno) in try file.writeAll(Self.script) }
        let pipe = try FileDescriptor.pipe()
        let lifeline = try FileDescriptor.pipe()
        var arguments = [scriptPath]
        if let certificate, let privateKey { arguments += [certificate, privateKey] }
        process = try SpawnedProcess.spawn(
            executable: "/usr/bin/python3", arguments: arguments, standardInput: .descriptor(lifeline.readEnd),
            standardOutput: .descriptor(pipe.writeEnd), standardError: .null)
        try pipe.writeEnd.close()
        try lifeline.readEnd.close()
        self.lifeline = OwnedFileDescriptor(lifeline.writeEnd)
        var line: [UInt8] = []
        while !line.contains(UInt8(ascii: "\n")) {
            let chunk = try pipe.readEnd.read(upToCount: 100, timeoutMilliseconds: 10_000)
            if chunk.isEmpty { break }
            line += chunk
        }
        try pipe.readEnd.close()
        let ports = String(decoding: line, as: UTF8.self).split(whereSeparator: { $0 == " " || $0 == "\n" }).compactMap { Int($0) }
        guard ports.count == 3 else { throw Errno.ioError }
        (port, silentPort, closedPort) = (ports[0], ports[1], ports[2])
    }

    deinit {
        try? process.send(.kill)
        _ = try? process.wait()
    }

    func url(_ path: String, scheme: String = "http", host: String = "127.0.0.1") -> String {
        "\(scheme)://\(host):\(port)\(path)"
    }
}

/// Runs a program to completion; throws unless it exits 0.
func run(_ executable: String, _ arguments: [String]) throws {
    let status = try SpawnedProcess.spawn(executable: executable, arguments: arguments, standardError: .null).wait()
    guard status == .exited(0) else { throw Errno.ioError }
}
