// Runs the devserver's own black-box checks (Tests/devserver-smoke.sh) against the built binary.
import Foundation
import Testing

@Suite struct DevServerSmokeTests {
    @Test func devserverSmokeScriptPasses() async throws {
        try await offPoolValue {
            try #require(Binaries.available, "built programs not found in \(Binaries.directory.path)")
            let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .appendingPathComponent("devserver-smoke.sh").path
            var environment = ProcessInfo.processInfo.environment
            environment["AUTHD_BIN_DIR"] = Binaries.directory.path
            let result = try Command.run("/bin/bash", [script], environment: environment, timeout: 600)
            #expect(result.status == 0, "devserver-smoke.sh failed:\n\(result.stdout.suffix(3000))\n\(result.stderr.suffix(3000))")
        }
    }
}
