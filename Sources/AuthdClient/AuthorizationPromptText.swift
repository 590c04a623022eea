// The authorization code flow's prompt as the person reads it, and paste-back's request to the daemon.
import AuthdWire

public enum AuthorizationPromptText {
    /// The prompt: why this method (when the device flow was refused), the address, paste-back.
    public static func render(_ prompt: AuthorizationPrompt, emphasis: Bool, pasteBack: Bool, opening: Bool) -> String {
        let bold = emphasis ? "\u{1B}[1m" : "", reset = emphasis ? "\u{1B}[0m" : ""
        var text = "\n"
        if let reason = prompt.reason { text += DevicePromptText.sanitized(reason) + "\n" }
        text += "To sign in to \(bold)\(DevicePromptText.sanitized(prompt.audience))\(reset), open this address in your browser"
            + (opening ? " (authctl is opening it now)" : "") + ":\n\n"
        text += "  " + DevicePromptText.sanitized(prompt.authorizationURL) + "\n\n"
        if pasteBack {
            // For a browser on another machine (SSH): its redirect to this loopback fails, but the address bar holds the answer.
            text += "Or paste the address your browser ends on (it starts with \(DevicePromptText.sanitized(prompt.redirectURI)))\n"
                + "here and press Enter: for a browser that cannot reach this machine, e.g. over SSH.\n"
        }
        text += "Waiting up to \(HumanDuration.format(seconds: prompt.expiresIn)) for the browser...\n"
        return text
    }
}

/// Paste-back: hands a pasted address to the daemon on a second connection.
public enum PasteBack {
    public static func submitter(_ context: ClientContext, audience: String) -> (String) throws(ClientFailure) -> Void {
        { text throws(ClientFailure) in
            let connection = try DaemonLauncher.connect(context, autostart: false)
            _ = try RequestExchange.run(.authorizationResponse(audience: audience, url: text), on: connection)
        }
    }
}

extension String {
    /// Without leading and trailing spaces and tabs (what a person typed or pasted around a value).
    public var trimmingSpaces: String {
        var s = Substring(self)
        while let c = s.first, c == " " || c == "\t" { s.removeFirst() }
        while let c = s.last, c == " " || c == "\t" { s.removeLast() }
        return String(s)
    }
}
