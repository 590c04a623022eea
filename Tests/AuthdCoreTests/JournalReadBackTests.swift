// `authctl audit` under journald: authd's records read back from a real journal file (written by systemd-journal-remote).
@testable import AuthdCore
import AuthdWire
import Foundation
import Testing

@Suite struct JournalReadBackTests {
    static let writer = "/lib/systemd/systemd-journal-remote"
    static let base: Int64 = 1_800_000_000

    /// One export-format entry (`journalctl -o export`): trusted fields as the journal adds them, then the record's.
    static func entry(at offset: Int64, uid: UInt32, _ fields: [(String, String)]) -> String {
        var lines = ["__REALTIME_TIMESTAMP=\((base + offset) * 1_000_000)", "__MONOTONIC_TIMESTAMP=\(offset * 1_000_000 + 1)",
                     "_BOOT_ID=0123456789abcdef0123456789abcdef", "_UID=\(uid)", "_PID=77"]
        lines += fields.map { "\($0.0)=\($0.1)" }
        return lines.joined(separator: "\n") + "\n\n"
    }

    /// A journal directory holding authd's records among others; nil (with the reason printed) without the writer.
    static func journal() throws -> String? {
        guard FileManager.default.isExecutableFile(atPath: writer) else {
            print("skipped: \(writer) is not installed (make deps installs systemd-journal-remote)")
            return nil
        }
        let served = AuditRecord(.tokenServed, "work: token served", audience: "work", client: alice, scopes: ["read"],
                                 tokenFingerprint: "0123456789abcdef")
        let loggedOut = AuditRecord(.loggedOut, "home: logged out", audience: "home", client: alice)
        let servedAgain = AuditRecord(.tokenServed, "work: token served again", audience: "work", client: alice)
        var export = entry(at: 0, uid: 1000, served.journalFields)
        export += entry(at: 10, uid: 1000, [("SYSLOG_IDENTIFIER", "authd"), ("MESSAGE", "serving 2 audiences")])  // the daemon's log
        export += entry(at: 20, uid: 1001, AuditRecord(.refreshSucceeded, "someone else's", audience: "work").journalFields)
        export += entry(at: 30, uid: 1000, loggedOut.journalFields)
        // Another program using authd's MESSAGE_ID under its own identifier.
        export += entry(at: 40, uid: 1000, served.journalFields.map { $0.0 == "SYSLOG_IDENTIFIER" ? ($0.0, "impostor") : $0 })
        export += entry(at: 50, uid: 1000, servedAgain.journalFields)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("authd-journal-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: writer)
        process.arguments = ["-o", directory.appendingPathComponent("test.journal").path, "-"]
        let input = Pipe()
        process.standardInput = input
        process.standardError = FileHandle.nullDevice
        try process.run()
        input.fileHandleForWriting.write(Data(export.utf8))
        try input.fileHandleForWriting.close()
        process.waitUntilExit()
        try #require(process.terminationStatus == 0, "systemd-journal-remote failed")
        return directory.path
    }

    static func messages(_ query: AuditQuery, limit: Int = 100, directory: String) throws -> [String?] {
        try AuditHistory.readJournalRecords(query, limit: limit, uid: 1000, directory: directory).map { $0["message"]?.stringValue }
    }

    @Test func onlyAuthdsOwnRecordsOfThisUserOldestFirst() throws {
        guard let directory = try Self.journal() else { return }
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect(try Self.messages(AuditQuery(), directory: directory)
            == ["work: token served", "home: logged out", "work: token served again"])
        #expect(try Self.messages(AuditQuery(audience: "work"), directory: directory) == ["work: token served", "work: token served again"])
        #expect(try Self.messages(AuditQuery(sinceWall: Self.base + 30), directory: directory) == ["home: logged out", "work: token served again"])
        // Bounded: the newest ones, still oldest first.
        #expect(try Self.messages(AuditQuery(), limit: 2, directory: directory) == ["home: logged out", "work: token served again"])
    }

    @Test func readBackRecordsHaveTheStderrShape() throws {
        guard let directory = try Self.journal() else { return }
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let first = try #require(try AuditHistory.readJournalRecords(AuditQuery(), limit: 100, uid: 1000, directory: directory).first)
        let served = AuditRecord(.tokenServed, "work: token served", audience: "work", client: alice, scopes: ["read"],
                                 tokenFingerprint: "0123456789abcdef")
        // The same members as the stderr line of the same record (journal trusted fields left out).
        let expected = JSONValue.object(served.jsonMembers(wallClock: Self.base))
        #expect(first["time"] == expected["time"])
        for (name, value) in expected.objectMembers ?? [] {
            #expect(first[name] == value, "\(name)")
        }
        #expect(first["_uid"] == nil && first["_pid"] == nil)
    }
}
