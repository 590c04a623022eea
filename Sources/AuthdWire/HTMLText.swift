// The one rule for text put into an HTML page: the daemon's loopback callback page and the devserver's pages.

public enum HTMLText {
    /// `text` with the five characters HTML gives meaning escaped, for element content and quoted attributes.
    public static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }
}
