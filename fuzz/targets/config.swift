// libFuzzer target: the config file: TOMLParser.parse(utf8:), TOMLParser.parse(_:) and
// AuthdConfiguration.validate(utf8:path:) (what the daemon and authctl call) (every key rule, presets, endpoint URLs, durations),
// then git URL matching on whatever configuration validated.
//
// Oracles besides "no crash, no sanitizer report":
// - on valid UTF-8, parse(utf8:) and parse(_:) agree; on invalid UTF-8, parse(utf8:) refuses;
// - validate returns a configuration exactly when it reports no error, and every diagnostic
//   points at a line of the file (1 ... lines + 1);
// - every validated audience is found by name and has a valid name.
@testable import AuthdConfig
import AuthdWire

/// TOMLTable's `==`, except that a float equals itself bit for bit: a TOML `nan` is a Double that is
/// not equal to itself. (Not `String(reflecting:)`: large tables carry a Dictionary index whose order varies.)
private func same(_ a: TOMLTable, _ b: TOMLTable) -> Bool {
    a.entries.count == b.entries.count && zip(a.entries, b.entries).allSatisfy { x, y in
        x.key == y.key && x.keyPosition == y.keyPosition && same(x.node, y.node)
    }
}

private func same(_ a: TOMLNode, _ b: TOMLNode) -> Bool {
    guard a.position == b.position else { return false }
    switch (a.value, b.value) {
    case let (.float(x), .float(y)): return x.bitPattern == y.bitPattern
    case let (.array(x), .array(y)): return x.count == y.count && zip(x, y).allSatisfy { same($0, $1) }
    case let (.table(x), .table(y)): return same(x, y)
    default: return a.value == b.value
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConfig(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let raw = Result { () throws(TOMLError) in try TOMLParser.parse(utf8: bytes) }

    guard let text = String(validating: bytes, as: UTF8.self) else {
        if case .success = raw { fatalError("parse(utf8:) accepted invalid UTF-8") }
        // What a client does with any file: decide autostart without validating.
        _ = AuthdConfiguration.autostart(configBytes: bytes)
        // What the daemon and authctl do: validate the bytes, which must refuse them.
        let (configuration, diagnostics) = AuthdConfiguration.validate(utf8: bytes, path: "fuzz.toml")
        precondition(configuration == nil && diagnostics.count == 1, "validate(utf8:) accepted invalid UTF-8")
        return 0
    }
    let fromString = Result { () throws(TOMLError) in try TOMLParser.parse(text) }
    switch (raw, fromString) {
    case (.success(let a), .success(let b)): precondition(same(a, b), "parse(utf8:) and parse(_:) built different tables")
    case (.failure(let a), .failure(let b)): precondition(a == b, "parse(utf8:) and parse(_:) failed differently: \(a) / \(b)")
    default: fatalError("parse(utf8:) and parse(_:) disagree: \(raw) / \(fromString)")
    }

    _ = AuthdConfiguration.autostart(configBytes: bytes)
    let (configuration, diagnostics) = AuthdConfiguration.validate(utf8: bytes, path: "fuzz.toml", homeDirectory: "/home/fuzz")
    let lineCount = bytes.count { $0 == 0x0A } + 1
    for diagnostic in diagnostics {
        precondition((1...lineCount + 1).contains(diagnostic.line), "diagnostic outside the file: \(diagnostic)")
        precondition(diagnostic.column >= 1, "diagnostic with column < 1: \(diagnostic)")
        _ = diagnostic.description
    }
    let hasError = diagnostics.contains { $0.severity == .error }
    precondition((configuration == nil) == hasError, "configuration returned with errors, or refused without one")

    guard let configuration else { return 0 }
    for audience in configuration.audiences {
        precondition(AudienceName.isValid(audience.name), "validated an invalid audience name")
        precondition(configuration.audience(named: audience.name) != nil, "audience not found by its name")
        for prefix in audience.gitURLs { _ = prefix }
    }
    for (scheme, host, path) in [("https", "github.example.com", "org/repo.git"), ("http", "127.0.0.1:8765", nil),
                                 ("https", "git.example.com", "team/x"), ("https", "[::1]:8080", "a/b")] {
        _ = configuration.audience(forGitProtocol: scheme, host: host, path: path)
    }
    if let margin = configuration.daemon.refreshMargin { precondition(margin > .zero, "validated a zero refresh_margin") }
    return 0
}
