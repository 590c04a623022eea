// Every TOML example in README.md and docs/providers.md passes the real `authctl config check`, with and without --explain.
import Foundation
import Testing

/// One ```toml block of a Markdown file, with its indentation removed.
struct DocumentedExample: CustomStringConvertible {
    var file: String
    /// The line of the opening fence.
    var line: Int
    var text: String

    var description: String { "\(file):\(line)" }

    /// `[audience.NAME]` headers in the block; a block without one is a fragment.
    var audienceNames: [String] {
        text.split(separator: "\n").compactMap { line in
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard trimmed.hasPrefix("[audience."), let close = trimmed.firstIndex(of: "]") else { return nil }
            return String(trimmed[trimmed.index(trimmed.startIndex, offsetBy: "[audience.".count)..<close])
        }
    }

    /// The values of `KEY = "..."` lines, comments and all after the closing quote ignored.
    func stringValues(of key: String) -> [String] {
        text.split(separator: "\n").compactMap { line in
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard trimmed.hasPrefix(key) else { return nil }
            let rest = trimmed.dropFirst(key.count).drop { $0 == " " }
            guard rest.hasPrefix("=") else { return nil }
            let value = rest.dropFirst().drop { $0 == " " }
            guard value.hasPrefix("\""), let end = value.dropFirst().firstIndex(of: "\"") else { return nil }
            return String(value[value.index(after: value.startIndex)..<end])
        }
    }

    static func extract(from markdown: String, file: String) -> [DocumentedExample] {
        var examples: [DocumentedExample] = []
        var open: (line: Int, indent: Int, lines: [String])?
        for (index, line) in markdown.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let indent = line.prefix { $0 == " " }.count
            let trimmed = line.dropFirst(indent)
            if var block = open {
                if trimmed.hasPrefix("```") {
                    examples.append(DocumentedExample(file: file, line: block.line, text: block.lines.joined(separator: "\n") + "\n"))
                    open = nil
                } else {
                    // Lines of a block inside a list item carry the item's indentation.
                    block.lines.append(String(line.dropFirst(min(block.indent, indent))))
                    open = block
                }
            } else if trimmed.hasPrefix("```toml") {
                open = (index + 1, indent, [])
            }
        }
        return examples
    }
}

/// The repository, found from this file: Tests/EndToEndTests/ConfigExamplesTests.swift.
private let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

@Suite("documented config examples")
struct ConfigExamplesTests {
    /// Each file's examples, and how many must be checked at least: a README or providers page
    /// whose blocks stopped being found (a renamed fence, a moved file) fails instead of passing empty.
    @Test("every ```toml example with an audience passes authctl config check and --explain",
          arguments: [("README.md", 1), ("docs/providers.md", 8)])
    func documentedExamplesPass(file: String, minimumChecked: Int) async throws {
        try #require(Binaries.available, "built programs not found in \(Binaries.directory.path); run make build or set AUTHD_BIN_DIR")
        let markdown = try String(contentsOf: repositoryRoot.appendingPathComponent(file), encoding: .utf8)
        let examples = DocumentedExample.extract(from: markdown, file: file)
        var checked = 0
        var skipped: [String] = []
        for example in examples {
            guard !example.audienceNames.isEmpty else {
                skipped.append("\(example): a fragment without an [audience.NAME] table")
                continue
            }
            try await check(example)
            checked += 1
        }
        print("\(file): \(checked) examples checked, \(skipped.count) skipped\(skipped.isEmpty ? "" : ": " + skipped.joined(separator: "; "))")
        #expect(checked >= minimumChecked, "only \(checked) of \(examples.count) toml blocks in \(file) were checked; skipped: \(skipped)")
    }

    /// Runs one example in a scratch HOME where the files it names exist, as they would for a
    /// person who followed the docs: then any warning at all is a fault of the example.
    func check(_ example: DocumentedExample) async throws {
        let scratch = Scratch("examples")
        let home = scratch.path("home")
        var config = example.text
        for key in ["client_secret_file", "ca_file", "store_passphrase_file"] {
            for path in example.stringValues(of: key) {
                // The docs write your home as ~ or /home/me; both become the scratch HOME.
                var local = path
                if local.hasPrefix("~/") {
                    local = home + local.dropFirst()
                } else if local.hasPrefix("/home/"), let slash = local.dropFirst("/home/".count).firstIndex(of: "/") {
                    local = home + local[slash...]
                    config = config.replacingOccurrences(of: "\"\(path)\"", with: "\"\(local)\"")
                }
                let relative = String(local.dropFirst(scratch.root.path.count + 1))
                try #require(local.hasPrefix(scratch.root.path + "/"), "\(example): \(key) \(path) is outside any home directory")
                try scratch.write(relative, key == "ca_file" ? "-----BEGIN CERTIFICATE-----\n" : "not-a-real-secret\n")
            }
        }
        try scratch.write("config.toml", config)
        // The docs tell whoever puts a path in git_urls to set useHttpPath (docs/clients.md), and
        // config check asks git whether it is set.
        try scratch.write("home/.gitconfig", "[credential]\n\tuseHttpPath = true\n")
        let environment = ["HOME": home, "PATH": "/usr/bin:/bin", "XDG_RUNTIME_DIR": scratch.path("run"), "GIT_CONFIG_NOSYSTEM": "1"]

        let names = example.audienceNames
        let result = try await offPool(Binaries.path("authctl"), ["config", "check", "--config", scratch.path("config.toml")],
                                       environment: environment)
        #expect(result.status == 0, "\(example): exit \(result.status): \(result.stderr)\n\(example.text)")
        #expect(result.stdout == "config OK: \(names.count) audience\(names.count == 1 ? "" : "s")\n", "\(example): \(result.stdout)")
        #expect(result.stderr.isEmpty, "\(example) has warnings:\n\(result.stderr)")

        let explained = try await offPool(Binaries.path("authctl"), ["config", "check", "--explain", "--config", scratch.path("config.toml")],
                                          environment: environment)
        #expect(explained.status == 0, "\(example): --explain exit \(explained.status): \(explained.stderr)")
        #expect(explained.stdout.hasPrefix(result.stdout), "\(example): --explain starts differently: \(explained.stdout)")
        for name in names {
            #expect(explained.stdout.contains("\n[audience.\(name)] line "), "\(example): no explanation of \(name)")
        }
        for secret in example.stringValues(of: "client_secret") {
            #expect(!explained.stdout.contains(secret), "\(example): --explain printed the client secret")
        }
    }

    @Test("--explain, -v and --verbose print the same explanation; errors still exit 2 with nothing on stdout")
    func explainOnTheCommandLine() async throws {
        try #require(Binaries.available, "built programs not found in \(Binaries.directory.path); run make build or set AUTHD_BIN_DIR")
        let scratch = Scratch("explain")
        let environment = ["HOME": scratch.path("home"), "PATH": "/usr/bin:/bin"]
        func check(_ config: String, _ arguments: [String]) async throws -> Command.Result {
            try scratch.write("config.toml", config)
            return try await offPool(Binaries.path("authctl"), ["config", "check"] + arguments + ["--config", scratch.path("config.toml")],
                                     environment: environment)
        }
        let github = "[audience.gh]\nprovider = \"github\"\nclient_id = \"Ov23li\"\nclient_secret = \"s3cr3t\"\n"
        let plain = try await check(github, [])
        #expect(plain.status == 0 && plain.stdout == "config OK: 1 audience\n" && plain.stderr.isEmpty)
        let explained = try await check(github, ["--explain"])
        #expect(explained.status == 0)
        #expect(explained.stdout.hasPrefix("config OK: 1 audience\n\n[audience.gh] line 1\n"))
        #expect(explained.stdout.contains("  git_username                   x-access-token  [preset github]\n"))
        #expect(explained.stdout.contains("  token_auth_method              client_secret_post: the secret in the request body  [preset github]\n"))
        #expect(explained.stdout.contains("  client_secret                  inline (not shown)  [config line 4]\n"))
        #expect(!explained.stdout.contains("s3cr3t"))
        for alias in ["-v", "--verbose"] {
            #expect(try await check(github, [alias]).stdout == explained.stdout, "\(alias)")
        }

        let aws = try await check("[audience.a]\nprovider = \"aws\"\nclient_id = \"c\"\n", ["--explain"])
        #expect(aws.status == 2)
        #expect(aws.stdout.isEmpty)
        #expect(aws.stderr.contains("config.toml:2: audience.a.provider: provider \"aws\": AWS IAM Identity Center offers no RFC 8628 device authorization grant"))
        #expect(aws.stderr.contains("aws sso login"))

        // Bitbucket has no device flow but is a preset (authorization code flow); a consumer without its secret is warned about.
        let bitbucket = try await check("[audience.bb]\nprovider = \"bitbucket\"\nclient_id = \"c\"\n", ["--explain"])
        #expect(bitbucket.status == 0)
        #expect(bitbucket.stdout.contains("x-token-auth  [preset bitbucket]"))
        #expect(bitbucket.stderr.contains("Bitbucket Cloud issues tokens only to confidential clients"))

        let missingSecret = try await check("[audience.g]\nprovider = \"google\"\nclient_id = \"c\"\nclient_secret_file = \"~/google-secret\"\n", [])
        #expect(missingSecret.status == 0)
        #expect(missingSecret.stderr == "\(scratch.path("config.toml")):4: audience.g.client_secret_file: warning: cannot read \(scratch.path("home"))/google-secret: No such file or directory; logins of this audience will fail until it can be read\n")
    }

    @Test("the extractor finds indented blocks, strips their indentation and ignores other languages")
    func extraction() {
        let markdown = """
            Intro.

            ```sh
            authctl config check
            ```

            1. Write it:

               ```toml
               [audience.a]   # comment
               client_secret_file = "~/.config/authd/s"   # or client_secret = "x"
               ```

            ```toml
            refresh_margin = "5m"
            ```
            """
        let examples = DocumentedExample.extract(from: markdown, file: "x.md")
        #expect(examples.map(\.line) == [9, 14])
        #expect(examples.first?.text == "[audience.a]   # comment\nclient_secret_file = \"~/.config/authd/s\"   # or client_secret = \"x\"\n")
        #expect(examples.first?.audienceNames == ["a"])
        #expect(examples.first?.stringValues(of: "client_secret_file") == ["~/.config/authd/s"])
        #expect(examples.first?.stringValues(of: "client_secret") == [])
        #expect(examples.last?.audienceNames == [])
    }
}
