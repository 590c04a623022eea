// The one rule for text from a provider or the daemon that reaches a person's terminal: no control or format characters.

/// Provider-controlled text (error descriptions, headers, URIs, codes) is printed on terminals. C0 and
/// C1 controls start escape sequences (window titles, colours, cursor moves; a C1 CSI is one byte in
/// some terminals), and Unicode format characters (bidi overrides such as U+202E, zero-width spaces,
/// U+FEFF) make text read differently from what it is. The engine cleans what it reports and the
/// clients clean what the daemon sends before printing, both with this function.
public enum TerminalText {
    /// Whether `scalar` may reach a terminal: not C0, DEL, C1, a line or paragraph separator,
    /// or of general category Cf (format: U+200B–U+200F, U+202A–U+202E, U+2060–U+2064,
    /// U+2066–U+2069, U+FEFF, U+00AD, …).
    public static func isShowable(_ scalar: Unicode.Scalar) -> Bool {
        let v = scalar.value
        if v < 0x20 || (0x7F...0x9F).contains(v) || v == 0x2028 || v == 0x2029 { return false }
        return scalar.properties.generalCategory != .format
    }

    /// `text` with every character that is not `isShowable` replaced by a space.
    public static func clean(_ text: String) -> String {
        guard !isClean(text) else { return text }
        var scalars = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            scalars.append(isShowable(scalar) ? scalar : " ")
        }
        return String(scalars)
    }

    /// True when `clean` would leave `text` unchanged.
    public static func isClean(_ text: String) -> Bool {
        text.unicodeScalars.allSatisfy(isShowable)
    }
}
