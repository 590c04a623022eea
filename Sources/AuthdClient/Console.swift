// Writing to stdout and stderr: whole lines in one write, errors on a closed stream ignored.
import AuthdPosix

public enum Console {
    /// Writes `text` to stdout. Returns false when stdout is gone (a closed pipe).
    @discardableResult
    public static func out(_ text: String) -> Bool {
        (try? FileDescriptor.standardOutput.writeAll(text)) != nil
    }

    public static func error(_ text: String) {
        try? FileDescriptor.standardError.writeAll(text)
    }

    /// Whether colour and cursor tricks are welcome (https://no-color.org, `TERM=dumb`).
    public static var plainOutputRequested: Bool {
        CurrentProcess.environment("NO_COLOR").map { !$0.isEmpty } == true || CurrentProcess.environment("TERM") == "dumb"
    }
}
