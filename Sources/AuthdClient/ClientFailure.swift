// Why a client command failed: the contract's exit code and the one stderr line that says what to do.
import AuthdWire

/// A failure a client reports with exactly one stderr line and exits with.
public struct ClientFailure: Error, Sendable, CustomStringConvertible {
    /// One of `ClientExitStatus.all` for authctl (the helpers keep their callers' conventions).
    public var exitCode: Int32
    /// One line, without the program name: what went wrong and what to do next.
    public var message: String
    /// The daemon's code, when the daemon said why.
    public var protocolCode: ProtocolFailure.Code?

    public init(exitCode: Int32, _ message: String, protocolCode: ProtocolFailure.Code? = nil) {
        self.exitCode = exitCode
        self.message = message
        self.protocolCode = protocolCode
    }

    public init(_ status: ClientExitStatus, _ message: String) {
        self.init(exitCode: status.code, message)
    }

    public static func usage(_ message: String) -> ClientFailure {
        ClientFailure(.usageOrConfig, message)
    }

    public static func daemonUnreachable(_ message: String) -> ClientFailure {
        ClientFailure(.daemonUnreachable, message)
    }

    /// The daemon's answer as one line: its message, then its hint. A `login_needed` answer
    /// always names `authctl login AUD`, even from a daemon that sent no hint.
    public init(_ failure: ProtocolFailure, audience: String?) {
        var line = failure.message
        if let hint = failure.hint, !hint.isEmpty { line += "; " + hint }
        if failure.code == .loginNeeded, let audience, !line.contains("authctl login") {
            line += "; run: authctl login \(audience)"
        }
        self.init(exitCode: failure.code.exitCode, Self.singleLine(line), protocolCode: failure.code)
    }

    public var description: String { message }

    /// Control and format characters from a provider's error text must not reach the terminal
    /// (`TerminalText`, the engine's rule too), and the contract promises one line.
    static func singleLine(_ text: String) -> String {
        TerminalText.clean(text)
    }
}
