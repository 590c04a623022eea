// Paragraphs for a terminal: help screens (authd --help, authctl help) wrap their prose here.

public enum TextWrap {
    /// `paragraph` broken at spaces into lines of at most `width` characters (a longer word stays
    /// whole on its own line), each ending in a newline.
    public static func wrap(_ paragraph: String, width: Int) -> String {
        var text = "", line = ""
        for word in paragraph.split(separator: " ") {
            if !line.isEmpty && line.count + 1 + word.count > width {
                text += line + "\n"
                line = ""
            }
            line += (line.isEmpty ? "" : " ") + word
        }
        return text + line + "\n"
    }
}
