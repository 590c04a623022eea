// The daemon's own log file (authd --log-file, as autostart uses it): written 0600 and rotated at its size bound.
import Foundation
import Testing

@Suite("the daemon's log file", .enabled(if: realStackAvailable()))
struct LogFileTests {
    @Test("records go to --log-file, which is rotated to .1 at the limit, so the log stays bounded")
    func logFileIsRotated() async throws {
        let scratch = Scratch("logfile")
        let server = try await offPoolValue { try DevServer(scratch, arguments: ["--interval", "1", "--auto-approve", "0"]) }
        let daemon = try DaemonUnderTest(scratch, config: demoConfig(server.baseURL, extra: "allowed_clients = [\"/nonexistent\"]"))
        let log = scratch.path("own.log")
        daemon.arguments = ["--log-file", log, "--log-file-limit", "4096"]
        try await offPoolValue { try daemon.start() }
        // Each refused request is an audit record of a few hundred bytes.
        for _ in 0..<40 {
            let refused = try await daemon.clientOffPool("authctl", ["get", "demo"])
            #expect(refused.status == 6)
        }
        let current = try FileManager.default.attributesOfItem(atPath: log)
        let previous = try FileManager.default.attributesOfItem(atPath: log + ".1")
        #expect((current[.size] as? Int ?? .max) < 4096 + 2048, "the current file stays near the limit")
        #expect((previous[.size] as? Int ?? 0) >= 4096)
        #expect(current[.posixPermissions] as? Int == 0o600 && previous[.posixPermissions] as? Int == 0o600)
        let text = try String(contentsOfFile: log, encoding: .utf8) + String(contentsOfFile: log + ".1", encoding: .utf8)
        #expect(text.contains("client_refused"), "the records are in the log files")
        #expect(!FileManager.default.fileExists(atPath: log + ".2"), "one old file is kept, no more")
    }
}
