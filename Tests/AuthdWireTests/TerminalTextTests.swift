// The one terminal-text rule: C0, DEL, C1, line separators and Unicode format characters never reach a terminal.
import AuthdWire
import Testing

@Suite struct TerminalTextTests {
    @Test(arguments: [
        "\u{1B}]0;PWNED\u{07}", "\u{9B}31m", "\u{85}", "\u{7F}", "\r\n", "\u{202E}", "\u{202A}", "\u{2066}", "\u{2069}",
        "\u{200B}", "\u{200F}", "\u{2060}", "\u{2064}", "\u{FEFF}", "\u{00AD}", "\u{2028}", "\u{2029}", "\u{E0001}",
    ])
    func replaces(_ bad: String) {
        let cleaned = TerminalText.clean("a\(bad)b")
        #expect(!TerminalText.isClean("a\(bad)b"))
        #expect(TerminalText.isClean(cleaned))
        #expect(cleaned.hasPrefix("a") && cleaned.hasSuffix("b"))
        #expect(!cleaned.unicodeScalars.contains { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) })
    }

    @Test(arguments: ["plain ASCII: 100% ok", "Grüße, 日本語, ☃", "https://good.example/device?code=AB-CD"])
    func keeps(_ good: String) {
        #expect(TerminalText.isClean(good))
        #expect(TerminalText.clean(good) == good)
    }

    /// Security review, finding 7: the Content-Type a provider sent, as it reached `authctl logout`.
    @Test func theReviewedEscapeSequenceIsDefused() {
        let cleaned = TerminalText.clean("text/plain\u{1B}]0;PWNED-TITLE\u{07}\u{1B}[41m")
        #expect(!cleaned.contains("\u{1B}") && !cleaned.contains("\u{07}"))
    }
}
