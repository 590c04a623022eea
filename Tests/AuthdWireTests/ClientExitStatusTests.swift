// The one exit table against the docs that print it: docs/protocol.md's error table and docs/clients.md's exit codes.
import Foundation
import Testing
@testable import AuthdWire

@Suite struct ClientExitStatusTests {
    static let docs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("docs")

    /// The rows of the first Markdown table under `heading`, as cells, header and rule left out.
    static func table(in file: String, under heading: String) throws -> [[String]] {
        let text = try String(contentsOf: docs.appendingPathComponent(file), encoding: .utf8)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let start = try #require(lines.firstIndex(of: heading), "\(file) has no heading \(heading)")
        let rows = lines[(start + 1)...].drop { !$0.hasPrefix("|") }.prefix { $0.hasPrefix("|") }
        return rows.dropFirst(2).map { row in
            row.split(separator: "|", omittingEmptySubsequences: false).dropFirst().dropLast()
                .map { $0.trimmingCharacters(in: .whitespaces) }
        }
    }

    /// The `code` spans of a cell.
    static func codeSpans(_ cell: String) -> [String] {
        cell.split(separator: "`", omittingEmptySubsequences: false).enumerated().filter { $0.offset % 2 == 1 }.map { String($0.element) }
    }

    @Test func protocolErrorTableIsTheExitTable() throws {
        var documented: [String: Int32] = [:]
        for row in try Self.table(in: "protocol.md", under: "## Errors") {
            let exit = try #require(Int32(row[2]), "exit column of \(row)")
            for name in Self.codeSpans(row[0]) {
                #expect(documented[name] == nil, "\(name) is listed twice")
                documented[name] = exit
            }
        }
        for code in ProtocolFailure.Code.allCases {
            #expect(documented[code.rawValue] == code.exitStatus.code, "docs/protocol.md: \(code.rawValue)")
        }
        #expect(Set(documented.keys) == Set(ProtocolFailure.Code.allCases.map(\.rawValue)))
    }

    @Test func clientsExitTableIsTheExitTable() throws {
        let rows = try Self.table(in: "clients.md", under: "### Exit codes")
        #expect(rows.compactMap { Int32($0[0]) } == ClientExitStatus.all.map(\.code))
        // Each protocol code named in the "from" column is in the row of its exit status.
        var named: Set<String> = []
        for row in rows {
            for name in Self.codeSpans(row[2]) {
                guard let code = ProtocolFailure.Code(rawValue: name) else { continue }
                named.insert(name)
                #expect(Int32(row[0]) == code.exitStatus.code, "docs/clients.md: \(name) under \(row[0])")
            }
        }
        #expect(named == Set(ProtocolFailure.Code.allCases.map(\.rawValue)))
    }

    @Test func codesAreDistinctAndInOrder() {
        let codes = ClientExitStatus.all.map(\.code)
        #expect(codes == codes.sorted())
        #expect(Set(codes).count == codes.count)
        #expect(ClientExitStatus.all.allSatisfy { !$0.meaning.isEmpty })
        for code in ProtocolFailure.Code.allCases {
            #expect(ClientExitStatus.all.contains(code.exitStatus))
            #expect(code.exitStatus != .success)
        }
    }
}
