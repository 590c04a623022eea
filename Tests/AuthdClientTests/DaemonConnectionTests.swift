// The client's side of a connection: a refusal sent before the request was written is still the answer.
import AuthdClient
import AuthdPosix
import AuthdWire
import Foundation
import Testing

@Suite struct DaemonConnectionTests {
    @Test("the daemon refused and closed before the request was written: the refusal is reported (exit 6), not a broken pipe")
    func refusalBeforeWrite() throws {
        CurrentProcess.ignoreBrokenPipe()
        let directory = NSTemporaryDirectory() + "authd-conn-\(getpid())-\(Int.random(in: 0..<1_000_000))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/socket"
        let listener = try UnixSocket.listen(path: path)
        defer { try? listener.close() }
        let client = try UnixSocket.connect(path: path, timeoutMilliseconds: 2000)
        // What authd does for a peer of another uid: one refusal line, then close without reading.
        let server = try UnixSocket.accept(listener)
        let refusal = ProtocolFailure(.refused, "refused: this authd serves uid 4242 only", hint: "run authctl as the user who owns the daemon")
        try server.writeAll(ReplyLine.failure(refusal).line())
        try server.close()
        let connection = DaemonConnection(socket: client, path: path)
        do {
            _ = try RequestExchange.run(.status, on: connection)
            Issue.record("the exchange succeeded against a closed connection")
        } catch {
            #expect(error.exitCode == ClientExitStatus.refusedByPolicy.code, "\(error.message)")
            #expect(error.message.contains("serves uid 4242 only"), "\(error.message)")
        }
    }
}
