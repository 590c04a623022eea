// Text for man pages (roff), shared by authd(1), authctl(1) and the credential helpers' pages (HelperManual).

public enum Roff {
    /// A leading dot or quote would start a request, backslashes escape, `-` is a hyphen.
    public static func escape(_ text: String) -> String {
        var escaped = text.replacingAll("\\", with: "\\e").replacingAll("-", with: "\\-")
        if escaped.hasPrefix(".") || escaped.hasPrefix("'") { escaped = "\\&" + escaped }
        return escaped
    }
}

extension String {
    public func replacingAll(_ target: String, with replacement: String) -> String {
        split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
