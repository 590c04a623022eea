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

    /// The glibc tunable that turns off the per-thread cache of freed blocks. Blocks in that cache
    /// skip `M_PERTURB`, so without this a token's bytes survive in freed small buffers.
    public static let heapTunable = "glibc.malloc.tcache_count=0"

    /// Whether the heap tunable is in effect for this process.
    public static var heapScrubbingActive: Bool {
        (CurrentProcess.environment("GLIBC_TUNABLES") ?? "").split(separator: ":").contains { $0 == heapTunable[...] }
    }

    /// Re-executes this program with `GLIBC_TUNABLES` including `heapTunable` (tunables are read
    /// only at start-up). Returns only when that is not needed or the exec failed. The pid stays
    /// the same, so systemd's `LISTEN_PID` and `NOTIFY_SOCKET` still apply.
    public static func reexecuteWithHeapScrubbing(arguments: [String]) throws(Errno) {
        guard !heapScrubbingActive else { return }
        let existing = CurrentProcess.environment("GLIBC_TUNABLES") ?? ""
        try CurrentProcess.setEnvironment("GLIBC_TUNABLES", existing.isEmpty ? heapTunable : existing + ":" + heapTunable)
        let argv = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        // The resolved path, not /proc/self/exe itself: the process name (comm) comes from the
        // executed file's name, and ps, pgrep and the journal should still see "authd".
        let executable = (try? FileSystem.readLink("/proc/self/exe")) ?? "/proc/self/exe"
        _ = argv.withUnsafeBufferPointer { execv(executable, $0.baseAddress!) }
        throw Errno.current
    }

    /// Raises the soft open-file limit to the hard limit, so a burst of clients does not run the
    /// daemon out of descriptors at the default 1,024. Returns the new soft limit.
    @discardableResult
    public static func raiseOpenFileLimit() -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 1024 }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
        }
        let soft = UInt64(limit.rlim_cur)
        return soft > UInt64(Int32.max) ? Int(Int32.max) : Int(soft)
    }

    /// Whether the process is currently non-dumpable (`prctl(PR_GET_DUMPABLE)`).
    public static var isNonDumpable: Bool { authd_get_dumpable() == 0 }
}
