// The socket front's attribution of request lines to writers, and allowed_clients by file identity, as tables.
@testable import AuthdCore
import AuthdWire
import Testing

@Suite struct LineAttributionTests {
    static let python = Writer(pid: 100, uid: 1000)
    static let child = Writer(pid: 101, uid: 1000)

    @Test(arguments: [
        ([python] as [Writer?], LineAttribution.sender(python)),
        ([python, python], .sender(python)),
        ([python, child], .unattributed("the request bytes came from more than one process (pids 100 and 101)")),
        ([nil], .unattributed("the kernel gave no writer for the request bytes")),
        ([python, nil], .unattributed("the kernel gave no writer for part of the request")),
        ([Writer(pid: 0, uid: 1000)], .unattributed("the kernel gave no writer for the request bytes")),
    ])
    func attribution(writers: [Writer?], expected: LineAttribution) {
        #expect(LineAttribution.of(writers) == expected)
    }

    @Test func aLineSpanningTwoWritersNamesBoth() {
        var input = AttributedInput()
        input.append(Array(#"{"op":"get","#.utf8), from: Self.python)
        input.append(Array(#""audience":"demo"}"#.utf8 + [0x0A] + Array("{\"op\"".utf8)), from: Self.child)
        let newline = try! #require(input.newlineIndex)
        let (bytes, writers) = input.take(newline + 1)
        #expect(bytes.last == 0x0A)
        #expect(writers == [Self.python, Self.child])
        // What is left was written by the child alone.
        input.append(Array(":\"status\"}\n".utf8), from: Self.child)
        let next = try! #require(input.newlineIndex)
        #expect(input.take(next + 1).writers == [Self.child])
        #expect(input.count == 0)
    }

    @Test func oneWritersLinesAreTheirsAlone() {
        var input = AttributedInput()
        input.append(Array("a\nb\n".utf8), from: Self.python)
        input.append(Array("c\n".utf8), from: Self.child)
        #expect(input.take(2).writers == [Self.python])
        #expect(input.take(2).writers == [Self.python])
        #expect(input.take(2).writers == [Self.child])
    }
}

@Suite struct AllowedClientsByIdentityTests {
    static let git = ExecutableFile(device: 8, inode: 1001)
    static let socat = ExecutableFile(device: 8, inode: 2002)
    /// The daemon's view of its file system.
    static let files: [String: ExecutableFile] = [
        "/usr/bin/git": git, "/usr/bin/socat": socat, "/opt/tools/git-helper": ExecutableFile(device: 9, inode: 7),
    ]
    static func identify(_ path: String) -> ExecutableFile? { files[path] }

    static func client(_ path: String?, _ file: ExecutableFile?, tty: Bool? = true, unattributed: String? = nil) -> ClientIdentity {
        ClientIdentity(uid: 1000, pid: 4242, executable: path, executableFile: file, hasControllingTerminal: tty,
                       unattributed: unattributed)
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var what: String
        var allowed: [String]
        var requireTTY = false
        var client: ClientIdentity
        /// nil: served; else a fragment of the refusal reason.
        var refusal: String?
        var testDescription: String { what }
    }

    static let cases: [Case] = [
        Case(what: "the allowed file at its path", allowed: ["/usr/bin/git"], client: client("/usr/bin/git", git), refusal: nil),
        Case(what: "another program mounted over the allowed path (private mount namespace)", allowed: ["/usr/bin/git"],
             client: client("/usr/bin/git", socat), refusal: "is not in allowed_clients"),
        Case(what: "the allowed file reached through another name (symlink, hard link)", allowed: ["/usr/bin/git"],
             client: client("/usr/libexec/git-core/git", git), refusal: nil),
        Case(what: "a deleted executable, even the allowed file", allowed: ["/usr/bin/git"],
             client: client("/usr/bin/git (deleted)", ExecutableFile(device: 8, inode: 1001, isDeleted: true)), refusal: "deleted"),
        Case(what: "a glob matched by the path, same file here", allowed: ["/opt/tools/*"],
             client: client("/opt/tools/git-helper", ExecutableFile(device: 9, inode: 7)), refusal: nil),
        Case(what: "a glob matched by the path, another file here", allowed: ["/opt/tools/*"],
             client: client("/opt/tools/git-helper", socat), refusal: "is not in allowed_clients"),
        Case(what: "a glob that matches a deleted file's name", allowed: ["/opt/tools/*"],
             client: client("/opt/tools/py (deleted)", ExecutableFile(device: 9, inode: 8, isDeleted: true)), refusal: "deleted"),
        Case(what: "an allowed path that does not exist here", allowed: ["/nonexistent/git"], client: client("/nonexistent/git", git),
             refusal: "is not in allowed_clients"),
        Case(what: "an executable that could not be identified", allowed: ["/usr/bin/git"], client: client("/usr/bin/git", nil),
             refusal: "could not be identified"),
        Case(what: "an unattributed request under allowed_clients", allowed: ["/usr/bin/git"],
             client: client(nil, nil, unattributed: "two writers"), refusal: "could not be established (two writers)"),
        Case(what: "an unattributed request under require_tty", allowed: [], requireTTY: true,
             client: client(nil, nil, tty: true, unattributed: "two writers"), refusal: "could not be established"),
        Case(what: "an unattributed request without policy", allowed: [], client: client(nil, nil, tty: false, unattributed: "two writers"),
             refusal: nil),
        Case(what: "require_tty without a terminal", allowed: [], requireTTY: true, client: client("/usr/bin/git", git, tty: false),
             refusal: "no controlling terminal"),
        Case(what: "require_tty with a terminal", allowed: [], requireTTY: true, client: client("/usr/bin/git", git, tty: true),
             refusal: nil),
        // The loop read no terminal (no audience required one), then a reload added require_tty: refused, never served.
        Case(what: "require_tty and the terminal not examined", allowed: [], requireTTY: true, client: client("/usr/bin/git", git, tty: nil),
             refusal: "was not examined"),
        Case(what: "no require_tty and the terminal not examined", allowed: [], client: client("/usr/bin/git", git, tty: nil),
             refusal: nil),
    ]

    @Test(arguments: cases)
    func decision(_ c: Case) {
        let policy = AudiencePolicy(name: "a", requestedScopes: [], requireTTY: c.requireTTY, allowedClients: c.allowed)
        let reason = RequestRouter.refusalReason(policy, client: c.client, identifyFile: Self.identify)
        if let refusal = c.refusal {
            #expect(reason?.contains(refusal) == true, "\(reason ?? "served")")
        } else {
            #expect(reason == nil, "\(reason ?? "")")
        }
    }
}

/// `allowed_clients` globs by table: `*` spans slashes, `?` is one character, everything else is literal.
@Suite struct ExecutablePatternTests {
    @Test(arguments: [
        ("/usr/bin/git", "/usr/bin/git", true), ("/usr/bin/git", "/usr/bin/gitk", false), ("/usr/bin/git", "/usr/bin/gi", false),
        ("/usr/bin/*", "/usr/bin/git", true), ("/usr/bin/*", "/usr/bin/sub/dir/git", true), ("/usr/bin/*", "/usr/bin/", true),
        ("/usr/bin/*", "/usr/lib/git", false), ("/opt/*/bin/tool", "/opt/a/b/bin/tool", true), ("/opt/*/bin/tool", "/opt/bin/tool", false),
        ("/usr/bin/g?t", "/usr/bin/git", true), ("/usr/bin/g?t", "/usr/bin/gt", false), ("/usr/bin/g?t", "/usr/bin/g/t", true),
        ("*", "/anything", true), ("*", "", true), ("", "", true), ("", "/x", false), ("/a*b*c", "/aXbYc", true), ("/a*b*c", "/aXcYb", false),
        ("/a**", "/a", true), ("/usr/bin/git*", "/usr/bin/git (deleted)", true), ("/x/[ab]", "/x/a", false), ("/x/[ab]", "/x/[ab]", true),
    ])
    func matches(_ pattern: String, _ path: String, _ expected: Bool) {
        #expect(ExecutablePattern.matches(pattern, path) == expected, "\(pattern) ~ \(path)")
    }
}

/// The line framing: what the epoll loop reads, in whatever chunks it comes, becomes the same lines.
@Suite struct AttributedInputFramingTests {
    static let writer = Writer(pid: 100, uid: 1000)

    /// The lines taken from `input` delivered in chunks of `size` bytes, and what is left after.
    static func frame(_ input: [UInt8], chunk size: Int) -> (lines: [[UInt8]], rest: [UInt8]) {
        var buffer = AttributedInput()
        var lines: [[UInt8]] = []
        var offset = 0
        while offset < input.count {
            let end = min(offset + size, input.count)
            buffer.append(Array(input[offset..<end]), from: writer)
            offset = end
            while let newline = buffer.newlineIndex { lines.append(buffer.take(newline + 1).bytes) }
        }
        return (lines, buffer.take(buffer.count).bytes)
    }

    @Test(arguments: [1, 2, 3, 7, 64, 100_000])
    func anyChunkingGivesTheSameLines(_ size: Int) {
        let text = Array("{\"op\":\"status\"}\n{\"op\":\"version\"}\n\n{\"op\":\"get\",\"audience\":\"demo\"}\npartial".utf8)
        let framed = Self.frame(text, chunk: size)
        #expect(framed.lines.map { String(decoding: $0, as: UTF8.self) }
                == ["{\"op\":\"status\"}\n", "{\"op\":\"version\"}\n", "\n", "{\"op\":\"get\",\"audience\":\"demo\"}\n"])
        #expect(framed.rest == Array("partial".utf8))
    }

    @Test func twoWritersInOneLineAreBothNamedInEveryChunking() {
        let other = Writer(pid: 101, uid: 1000)
        let line = Array("{\"op\":\"x\"}\n".utf8)
        // Every split that leaves each writer at least one byte, the newline included.
        for split in 1..<line.count {
            var input = AttributedInput()
            input.append(Array(line[..<split]), from: Self.writer)
            input.append(Array(line[split...]), from: other)
            let newline = try! #require(input.newlineIndex)
            let taken = input.take(newline + 1)
            #expect(taken.bytes == line)
            #expect(LineAttribution.of(taken.writers) == .unattributed("the request bytes came from more than one process (pids 100 and 101)"))
        }
    }

    @Test func aLastLineWithoutItsNewlineIsKeptAndBlankRestsAreBlank() {
        var input = AttributedInput()
        input.append(Array("{\"op\":\"status\"}".utf8), from: Self.writer)
        #expect(input.newlineIndex == nil)
        #expect(!input.isBlank)
        #expect(input.count == 15)
        let taken = input.take(input.count)
        #expect(taken.bytes == Array("{\"op\":\"status\"}".utf8))
        #expect(taken.writers == [Self.writer])
        #expect(input.count == 0)
        input.append(Array(" \r\t".utf8), from: Self.writer)
        #expect(input.isBlank)
        input.clear()
        #expect(input.count == 0 && input.newlineIndex == nil)
    }

    /// The loop refuses a line when no newline comes within `maximumMessageBytes`: the buffer says so
    /// by its count and a newline index past the cap, without losing what it holds.
    @Test func anOverlongLineIsSeenAtTheCap() {
        let maximum = AuthdProtocol.maximumMessageBytes
        var input = AttributedInput()
        let chunk = [UInt8](repeating: UInt8(ascii: "a"), count: 4096)
        while input.count < maximum { input.append(chunk, from: Self.writer) }
        #expect(input.newlineIndex == nil)
        #expect(input.count >= maximum)
        input.append([0x0A], from: Self.writer)
        #expect(try! #require(input.newlineIndex) >= maximum)
        // A newline just inside the cap is a line.
        var fits = AttributedInput()
        fits.append([UInt8](repeating: UInt8(ascii: "a"), count: maximum - 1) + [0x0A], from: Self.writer)
        #expect(fits.newlineIndex == maximum - 1)
    }

    @Test func takenBytesAreCompactedAtTheNextAppend() {
        var input = AttributedInput()
        input.append(Array("a\nbc".utf8), from: Self.writer)
        #expect(input.take(2).bytes == Array("a\n".utf8))
        input.append(Array("d\n".utf8), from: nil)
        let newline = try! #require(input.newlineIndex)
        let taken = input.take(newline + 1)
        #expect(taken.bytes == Array("bcd\n".utf8))
        #expect(taken.writers == [Self.writer, nil])
    }
}
