// The audience name rule, the one copy: the config, the protocol decoder and the clients all ask it.

/// Audience names: `[A-Za-z0-9._-]{1,64}`, safe in file names, TOML keys, log fields and argv.
public enum AudienceName {
    public static let maximumLength = 64
    /// The allowed characters as a person reads them, for messages that say what to fix.
    public static let allowedCharacters = "letters, digits, '.', '_' and '-'"

    public static func isValid(_ name: String) -> Bool {
        let utf8 = name.utf8
        return !utf8.isEmpty && utf8.count <= maximumLength && utf8.allSatisfy(isNameByte)
    }

    static func isNameByte(_ c: UInt8) -> Bool {
        (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A)
            || c == UInt8(ascii: ".") || c == UInt8(ascii: "_") || c == UInt8(ascii: "-")
    }
}
