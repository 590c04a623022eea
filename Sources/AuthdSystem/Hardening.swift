// Process-wide protections the daemon applies at start, before it holds any secret.
import AuthdPosix
import CPosix
import Glibc

/// Makes the process a poor place to steal secrets from.
public enum Hardening {
    /// One protection that could not be applied.
    public struct Failure: Error, Sendable, CustomStringConvertible {
        /// Which step failed.
        public var step: String
        /// Why.
        public var error: Errno
        public var description: String { "\(step): \(error)" }
    }

    /// Applies every protection and throws the first failure after trying them all.
    public static func apply() throws(Failure) {
        var failures: [Failure] = []

        // Non-dumpable: no core file, and other processes of our uid cannot ptrace us or read
        // /proc/PID/mem, environ or fds (so a compromised same-uid process cannot just read the tokens).
        if authd_set_not_dumpable() != 0 { failures.append(Failure(step: "prctl(PR_SET_DUMPABLE, 0)", error: .current)) }

        // No core files even if something re-enables dumping (e.g. a setuid transition).
        var noCore = rlimit(rlim_cur: 0, rlim_max: 0)
        if setrlimit(Int32(RLIMIT_CORE.rawValue), &noCore) != 0 { failures.append(Failure(step: "setrlimit(RLIMIT_CORE, 0)", error: .current)) }

        // Files and sockets we create are ours alone unless a mode is set explicitly.
        umask(0o077)

        // glibc fills every freed heap block with this byte, so token bytes that passed through an
        // ordinary buffer (an HTTP body, a JSON answer) do not linger after the buffer is freed.
        if mallopt(M_PERTURB, 0xA5) != 1 { failures.append(Failure(step: "mallopt(M_PERTURB)", error: .invalidArgument)) }

        if let first = failures.first { throw first }
    }

    /// Whether the process is currently non-dumpable (`prctl(PR_GET_DUMPABLE)`).
    public static var isNonDumpable: Bool { authd_get_dumpable() == 0 }
}
