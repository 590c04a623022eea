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
    /// Terminal height in rows, when known: a QR code that would push the code off the screen is left out.
    public var rows: Int?
    /// Mark the links as OSC 8 hyperlinks (terminals without them show the text alone).
    public var hyperlinks: Bool

    public init(emphasis: Bool, qrCode: Bool, columns: Int?, rows: Int? = nil, hyperlinks: Bool = false) {
        self.emphasis = emphasis
        self.qrCode = qrCode
        self.columns = columns
        self.rows = rows
        self.hyperlinks = hyperlinks
    }
}

public enum DevicePromptText {
    /// The whole prompt, ending with a newline.
    public static func render(_ prompt: DevicePrompt, style: PromptStyle) -> String {
        let userCode = sanitized(prompt.userCode)
        let code = style.emphasis ? "\u{1B}[1m\(userCode)\u{1B}[0m" : userCode
        func link(_ uri: String) -> String {
            // Cleaned first, so that a URI cannot end the OSC 8 sequence early either.
            let shown = sanitized(uri)
            return style.hyperlinks ? "\u{1B}]8;;\(shown)\u{1B}\\\(shown)\u{1B}]8;;\u{1B}\\" : shown
        }
        var text = "To sign in to \(sanitized(prompt.audience)), open\n  \(link(prompt.verificationURI))\nand enter the code \(code)\n"
        if let complete = prompt.verificationURIComplete, complete != prompt.verificationURI {
            text += "or open this link, which carries the code:\n  \(link(complete))\n"
        }
        if let message = prompt.providerMessage, !message.isEmpty {
            text += "(\(sanitized(message)))\n"
        }
        if style.qrCode, let qr = qrCode(prompt.qrRows, columns: style.columns, colours: style.emphasis) {
            // The text, the QR code, a blank line and the countdown must fit: the code to type
            // matters more than the picture of the link.
            let needed = text.split(separator: "\n", omittingEmptySubsequences: false).count + qr.split(separator: "\n").count + 2
            if needed <= style.rows ?? Int.max { text += "\n" + qr }
        }
        return text
    }

    /// The line rewritten once a second while the person approves: it repeats the code, so the
    /// code stays on screen even when the text above has scrolled away, and is shortened to fit
    /// the terminal's width (a line that wraps cannot be rewritten in place).
    public static func countdown(userCode: String, secondsLeft: Int64, columns: Int?) -> String {
        let time = secondsLeft > 0 ? "expires in \(HumanDuration.clock(seconds: secondsLeft))" : "has expired"
        let code = sanitized(userCode)
        let forms = ["Waiting for approval... the code \(code) \(time)", "Code \(code) \(time)", "Code \(time)", time]
        // The last column is left free: writing it makes some terminals wrap at once.
        let width = max((columns ?? 80) - 1, 1)
        return forms.first { $0.count <= width } ?? String(time.prefix(width))
    }

    /// A provider's text must not carry escape sequences or bidi tricks to the terminal.
    static func sanitized(_ text: String) -> String {
        TerminalText.clean(text)
    }

    /// Two module rows per text line with half blocks, black on an explicit white background
    /// so phone cameras read it on dark and light terminal themes alike; nil when the code
    /// does not fit the terminal or the rows are malformed.
    public static func qrCode(_ rows: [String], columns: Int?, colours: Bool = true) -> String? {
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
        // Without colours (NO_COLOR) the dark modules are drawn in the terminal's own foreground:
        // right on a light theme, inverted on a dark one (which phone cameras read too).
        let (start, end) = colours ? ("\u{1B}[30;107m", "\u{1B}[0m\n") : ("", "\n")
        while row < total {
            text += start
            for column in 0..<total {
                switch (isDark(row, column), row + 1 < total && isDark(row + 1, column)) {
                case (true, true): text += "█"
                case (true, false): text += "▀"
                case (false, true): text += "▄"
                case (false, false): text += " "
                }
            }
            text += end
            row += 2
        }
        return text
    }
}
