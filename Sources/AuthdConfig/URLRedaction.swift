// The one way a URL is shown in a message: its userinfo (`user:password@`) replaced by `***@`.

/// Hides the credentials people put in URLs (`https://oauth2:glpat-…@gitlab.example.com`), so a
/// diagnostic on stderr or in the journal never repeats them. Used for config diagnostics and
/// for every URL the engine names in an error.
public enum URLRedaction {
    /// `text` with everything before the last `@` of its authority replaced by `***`. The
    /// authority is what follows `scheme://` (or the start, without one) up to the first `/`,
    /// `?` or `#`, as RFC 3986 and curl read it, so `https://a#@b` keeps `a` and has nothing to hide.
    /// Text without userinfo is returned unchanged; so is text that is not a URL at all.
    public static func redactingUserinfo(_ text: String) -> String {
        let authorityStart = text.firstRange(of: "://")?.upperBound ?? text.startIndex
        let rest = text[authorityStart...]
        let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? rest.endIndex
        guard let at = rest[..<authorityEnd].lastIndex(of: "@") else { return text }
        return String(text[..<authorityStart]) + "***" + String(text[at...])
    }
}
