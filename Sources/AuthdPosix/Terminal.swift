// The controlling terminal: echo while a prompt waits, and the Ctrl-C handler that gives it back.
import CPosix
import Glibc

/// The process's controlling terminal.
public enum Terminal {
    /// Opens `/dev/tty` read-write; throws (typically `ENXIO`) when there is no controlling terminal.
    public static func openControlling() throws(Errno) -> FileDescriptor {
        try FileDescriptor.open("/dev/tty", .readWrite, options: .noControllingTerminal)
    }

    /// Keys typed while a prompt waits are neither echoed into it nor left for the shell: echo is
    /// off from `begin` until `end` (or a SIGINT/SIGTERM through `InterruptHandling`), and `end`
    /// discards the unread input. Lines are still delivered on Enter (canonical mode stays on).
    public enum EchoSuppression {
        public static func begin(on terminal: FileDescriptor) throws(Errno) {
            _ = try once { authd_terminal_echo_off(terminal.rawValue) }
        }

        public static func end() {
            _ = authd_terminal_restore()
        }
    }
}

/// Signal handling for interactive clients. Here, beside `Terminal.EchoSuppression`, because the
/// handler restores the settings it saved (see the note in CPosix's shim.h).
public enum InterruptHandling {
    /// On SIGINT and SIGTERM, give the terminal back its echo, write a newline to stderr (so the
    /// shell prompt starts on a fresh line after a prompt left open) and exit at once with status
    /// 128 + signal.
    public static func installNewlineAndExit() throws(Errno) {
        _ = try once { authd_install_newline_exit_handler(SIGINT) }
        _ = try once { authd_install_newline_exit_handler(SIGTERM) }
    }
}
