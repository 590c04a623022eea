// Runs one request: sends it, hands streamed events to an observer, returns the final answer.
import AuthdConfig
import AuthdPosix
import AuthdWire

/// Watches a device flow while the client waits; gets time slices to animate and read the keyboard.
public protocol DeviceFlowObserver: AnyObject {
    func show(_ prompt: DevicePrompt)
    /// The authorization code flow's prompt: the URL to open, and paste-back.
    func show(_ prompt: AuthorizationPrompt)
    func progress(stage: String, intervalSeconds: Int64?)
    /// How long to wait for the daemon before `tick` is called; nil while nothing is animated.
    func nextTickMilliseconds() -> Int?
    /// Called when that time has passed without a reply line.
    func tick()
    /// The final answer arrived (or the connection broke); leave the terminal tidy.
    func finish(approved: Bool)
}

extension DeviceFlowObserver {
    public func show(_ prompt: AuthorizationPrompt) {}
}

public enum RequestExchange {
    /// The daemon sends an event at every poll of a device flow, and answers other requests in
    /// well under this; silence this long means it is stuck.
    public static let idleTimeoutMilliseconds = 120_000

    /// Sends `request` and returns the final success payload; a failure answer is thrown with
    /// its exit code. Prompt and progress events go to `observer`.
    public static func run(_ request: Request, on connection: DaemonConnection,
                           observer: DeviceFlowObserver? = nil) throws(ClientFailure) -> JSONValue {
        try connection.send(request)
        var lastActivity = SystemClock.monotonicNanoseconds()
        var approved = false
        while true {
            let idleLeft = idleTimeoutMilliseconds - Int((SystemClock.monotonicNanoseconds() - lastActivity) / 1_000_000)
            let wait = min(observer?.nextTickMilliseconds() ?? idleLeft, max(idleLeft, 0))
            let read: DaemonConnection.Read
            do {
                read = try connection.readLine(timeoutMilliseconds: wait)
            } catch {
                observer?.finish(approved: false)
                throw error
            }
            switch read {
            case .timedOut:
                if SystemClock.monotonicNanoseconds() - lastActivity >= UInt64(idleTimeoutMilliseconds) * 1_000_000 {
                    observer?.finish(approved: false)
                    throw .daemonUnreachable("authd at \(connection.path) stopped answering (nothing for \(idleTimeoutMilliseconds / 1000) s); check its log (\(DaemonLauncher.whereItLogs))")
                }
                observer?.tick()
            case .closed:
                observer?.finish(approved: false)
                // Through ssh -R, a forward that ended locally still accepts remotely; ssh then closes.
                if AuthdPaths.namesForward(connection.path) { throw DaemonLauncher.forwardEnded(connection.path) }
                throw .daemonUnreachable("authd closed the connection without an answer; it may have stopped or crashed; check its log (\(DaemonLauncher.whereItLogs))")
            case .line(let bytes):
                lastActivity = SystemClock.monotonicNanoseconds()
                let reply: ReplyLine
                do {
                    reply = try ReplyLine.decode(bytes)
                } catch {
                    observer?.finish(approved: false)
                    throw ClientFailure(.providerOrNetwork,
                                        "authd sent a reply this client does not understand (\(error.message)); are authctl and authd the same version?")
                }
                switch reply {
                case .prompt(let prompt):
                    observer?.show(prompt)
                case .authorizationPrompt(let prompt):
                    observer?.show(prompt)
                case let .progress(stage, interval):
                    if stage == "approved" { approved = true }
                    observer?.progress(stage: stage, intervalSeconds: interval)
                case .success(let payload):
                    observer?.finish(approved: approved)
                    return payload
                case .failure(let failure):
                    observer?.finish(approved: false)
                    throw ClientFailure(failure, audience: request.audience)
                }
            }
        }
    }
}
