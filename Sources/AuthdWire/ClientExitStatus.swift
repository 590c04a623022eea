// The clients' exit statuses, the one table: authctl's help and man page list it, ClientFailure
// exits with it, each protocol error code maps into it, and docs/protocol.md and docs/clients.md
// are tested against it (ExitStatusTests).

/// One exit status of authctl (and of the helpers where their callers' conventions allow):
/// the number and what it means, in the words help and the man page print.
public struct ClientExitStatus: Sendable, Hashable {
    public let code: Int32
    public let meaning: String

    init(_ code: Int32, _ meaning: String) {
        self.code = code
        self.meaning = meaning
    }

    public static let success = ClientExitStatus(0, "success")
    public static let providerOrNetwork = ClientExitStatus(1, "provider or network error")
    public static let usageOrConfig = ClientExitStatus(2, "usage or config error")
    public static let loginNeeded = ClientExitStatus(3, "login needed but nobody can be prompted (run authctl login AUD)")
    public static let deniedOrExpired = ClientExitStatus(4, "the person denied the request or the code expired")
    public static let daemonUnreachable = ClientExitStatus(
        5, "the daemon cannot be reached and could not be started, or the forward named by AUTHD_SOCKET has ended")
    public static let refusedByPolicy = ClientExitStatus(
        6, "refused by the daemon's policy (allowed_clients, require_tty, or a request a forward does not serve)")
    /// 128 + SIGINT, as shells report a command stopped with Ctrl-C.
    public static let interrupted = ClientExitStatus(130, "interrupted with Ctrl-C")

    /// Every status, in order, as help and the man page list them.
    public static let all: [ClientExitStatus] = [
        success, providerOrNetwork, usageOrConfig, loginNeeded, deniedOrExpired, daemonUnreachable, refusedByPolicy, interrupted,
    ]
}

extension ProtocolFailure.Code {
    /// The exit status a client reports for the daemon's error code (docs/protocol.md, "Errors").
    public var exitStatus: ClientExitStatus {
        switch self {
        case .badRequest, .unsupportedVersion, .unknownAudience, .configError: return .usageOrConfig
        case .loginNeeded: return .loginNeeded
        case .denied, .expired: return .deniedOrExpired
        case .providerError, .networkError, .busy, .cancelled, .internalError: return .providerOrNetwork
        case .refused: return .refusedByPolicy
        }
    }

    public var exitCode: Int32 { exitStatus.code }
}
