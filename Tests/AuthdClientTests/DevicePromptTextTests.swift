// The device-flow prompt's text: the countdown line at each width, the QR code left out when rows are short.
import AuthdClient
import AuthdWire
import Testing

@Suite struct DevicePromptTextTests {
    @Test("the countdown repeats the code and is shortened to fit, never wrapping", arguments: [
        (120, 600 as Int64, "Waiting for approval... the code SGDF-CCPB expires in 10:00"),
        (60, 600, "Waiting for approval... the code SGDF-CCPB expires in 10:00"),
        (59, 600, "Code SGDF-CCPB expires in 10:00"),
        (40, 18, "Code SGDF-CCPB expires in 0:18"),
        (31, 18, "Code SGDF-CCPB expires in 0:18"),
        (30, 18, "Code expires in 0:18"),
        (20, 18, "expires in 0:18"),
        (10, 18, "expires i"),
        (80, 0, "Waiting for approval... the code SGDF-CCPB has expired"),
    ])
    func countdown(columns: Int, left: Int64, expected: String) {
        let line = DevicePromptText.countdown(userCode: "SGDF-CCPB", secondsLeft: left, columns: columns)
        #expect(line == expected)
        #expect(line.count < columns)
    }

    @Test("a provider's user code cannot put escapes into the countdown line")
    func countdownSanitizesTheCode() {
        let line = DevicePromptText.countdown(userCode: "AB\u{1B}[2JCD", secondsLeft: 5, columns: 80)
        #expect(!line.contains("\u{1B}"))
    }

    static func prompt(qrSize: Int) -> DevicePrompt {
        let row = String(repeating: "10", count: qrSize / 2) + (qrSize % 2 == 1 ? "1" : "")
        return DevicePrompt(audience: "kc", verificationURI: "http://127.0.0.1:9/device", userCode: "SGDF-CCPB",
                            verificationURIComplete: "http://127.0.0.1:9/device?user_code=SGDF-CCPB",
                            expiresAt: 0, expiresIn: 600, qrRows: Array(repeating: row, count: qrSize))
    }

    @Test("the QR code is drawn only when the text, the code and the countdown still fit the rows", arguments: [
        (nil as Int?, true), (40, true), (24, false), (10, false),
    ])
    func qrCodeNeedsRows(rows: Int?, drawn: Bool) {
        let style = PromptStyle(emphasis: true, qrCode: true, columns: 80, rows: rows)
        let text = DevicePromptText.render(Self.prompt(qrSize: 33), style: style)
        #expect(text.contains("\u{1B}[30;107m") == drawn)
        #expect(text.contains("SGDF-CCPB"))
        if let rows { #expect(text.split(separator: "\n", omittingEmptySubsequences: false).count + 2 <= rows || !drawn) }
    }

    @Test("without colours the QR code is still drawn, in the terminal's own colours")
    func monochromeQRCode() {
        let style = PromptStyle(emphasis: false, qrCode: true, columns: 80, rows: 60)
        let text = DevicePromptText.render(Self.prompt(qrSize: 25), style: style)
        #expect(text.contains("█") || text.contains("▀"))
        #expect(!text.contains("\u{1B}"))
    }

    @Test("links are OSC 8 hyperlinks only when asked")
    func hyperlinks() {
        let plain = DevicePromptText.render(Self.prompt(qrSize: 25), style: PromptStyle(emphasis: false, qrCode: false, columns: 80))
        #expect(!plain.contains("\u{1B}]8;;"))
        let linked = DevicePromptText.render(Self.prompt(qrSize: 25),
                                             style: PromptStyle(emphasis: false, qrCode: false, columns: 80, hyperlinks: true))
        #expect(linked.contains("\u{1B}]8;;http://127.0.0.1:9/device\u{1B}\\http://127.0.0.1:9/device\u{1B}]8;;\u{1B}\\"))
    }
}
