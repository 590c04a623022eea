// The device-flow prompt as text: where to go, the code to type, and a QR code of the link.
import AuthdWire

/// How the prompt is drawn on a given output.
public struct PromptStyle: Sendable {
    /// Bold user code and the QR's colours (a terminal without NO_COLOR / TERM=dumb).
    public var emphasis: Bool
    /// Draw the QR code (a terminal with room for it, emphasis allowed).
    public var qrCode: Bool
    /// Terminal width in columns, when known.
    public var columns: Int?

    public init(emphasis: Bool, qrCode: Bool, columns: Int?) {
        self.emphasis = emphasis
        self.qrCode = qrCode
        self.columns = columns
    }
}

public enum DevicePromptText {
    /// The whole prompt, ending with a newline.
    public static func render(_ prompt: DevicePrompt, style: PromptStyle) -> String {
        let userCode = sanitized(prompt.userCode)
        let code = style.emphasis ? "\u{1B}[1m\(userCode)\u{1B}[0m" : userCode
        var text = "To sign in to \(sanitized(prompt.audience)), open\n  \(sanitized(prompt.verificationURI))\nand enter the code \(code)\n"
        if let complete = prompt.verificationURIComplete, complete != prompt.verificationURI {
            text += "or open this link, which carries the code:\n  \(sanitized(complete))\n"
        }
        if let message = prompt.providerMessage, !message.isEmpty {
            text += "(\(sanitized(message)))\n"
        }
        if style.qrCode, let qr = qrCode(prompt.qrRows, columns: style.columns) {
            text += "\n" + qr
        }
        return text
    }

    /// A provider's text must not carry escape sequences or bidi tricks to the terminal.
    static func sanitized(_ text: String) -> String {
        TerminalText.clean(text)
    }

    /// Two module rows per text line with half blocks, black on an explicit white background
    /// so phone cameras read it on dark and light terminal themes alike; nil when the code
    /// does not fit the terminal or the rows are malformed.
    public static func qrCode(_ rows: [String], columns: Int?) -> String? {
        guard let size = rows.first?.utf8.count, size > 0,
              rows.count == size, rows.allSatisfy({ $0.utf8.count == size }) else { return nil }
        let width = columns ?? 80
        let quietZone: Int
        if size + 8 <= width { quietZone = 4 } else if size + 4 <= width { quietZone = 2 } else { return nil }
        let dark = rows.map { $0.utf8.map { $0 == UInt8(ascii: "1") } }
        let total = size + 2 * quietZone
        func isDark(_ row: Int, _ column: Int) -> Bool {
            let r = row - quietZone, c = column - quietZone
            return r >= 0 && r < size && c >= 0 && c < size && dark[r][c]
        }
        var text = ""
        var row = 0
        while row < total {
            text += "\u{1B}[30;107m"
            for column in 0..<total {
                switch (isDark(row, column), row + 1 < total && isDark(row + 1, column)) {
                case (true, true): text += "█"
                case (true, false): text += "▀"
                case (false, true): text += "▄"
                case (false, false): text += " "
                }
            }
            text += "\u{1B}[0m\n"
            row += 2
        }
        return text
    }
}
