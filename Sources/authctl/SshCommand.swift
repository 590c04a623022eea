// authctl ssh: open a forward, run ssh with it as the remote AUTHD_SOCKET, close the forward when ssh exits.
import AuthdClient
import AuthdPosix
import AuthdWire

enum SshCommand {
    static func run(_ command: ParsedCommand, _ context: ClientContext) throws(ClientFailure) -> Int32 {
        guard let ssh = CurrentProcess.executableOnPath("ssh") else { throw .usage("ssh was not found on PATH; install OpenSSH's client") }
        let opening = try ForwardCommand.opening(command)
        guard opening.socket == nil else { throw .usage("authctl ssh chooses the socket itself; use authctl forward --socket for a fixed path") }
        guard let connection = try DaemonLauncher.connectIfRunning(context) else {
            throw .daemonUnreachable("authd is not running, so there is nothing to forward; start it with: systemctl --user start authd.socket")
        }
        let payload = try RequestExchange.run(.forwardOpen(opening), on: connection)
        guard let forward = ForwardAnswer(json: payload), ForwardOpening.isValidID(forward.id) else {
            throw ClientFailure(.providerOrNetwork, "authd's answer names no forward; are authctl and authd the same version?")
        }
        let (id, socket) = (forward.id, forward.socket)
        // The remote name contains "forward", so remote clients recognise it (docs/remote.md).
        let remote = "/tmp/authd-forward-\(id).sock"
        Console.error("authctl: forward \(id) is AUTHD_SOCKET=\(remote) on the remote host (set by SetEnv when its sshd has AcceptEnv AUTHD_SOCKET; "
                      + "otherwise export it there); it is closed when ssh exits\n")
        let arguments = ["-o", "ExitOnForwardFailure=yes", "-R", "\(remote):\(socket)", "-o", "SetEnv=AUTHD_SOCKET=\(remote)"] + command.operands
        let status: ExitStatus
        do {
            let child = try SpawnedProcess.spawn(executable: ssh, arguments: arguments, environment: nil,
                                                 standardInput: .inherit, standardOutput: .inherit, standardError: .inherit)
            status = try child.wait()
        } catch {
            close(id, context)
            throw ClientFailure(.providerOrNetwork, "cannot run \(ssh): \(error)")
        }
        close(id, context)
        switch status {
        case .exited(let code): return code
        case .signalled(let signal): return 128 + signal
        }
    }

    /// A new connection: the one that opened the forward may have been closed as idle while ssh ran.
    static func close(_ id: String, _ context: ClientContext) {
        do {
            guard let connection = try DaemonLauncher.connectIfRunning(context) else { return }
            _ = try RequestExchange.run(.forwardClose(id: id), on: connection)
        } catch {
            Console.error("authctl: could not close forward \(id) (\(error.message)); it ends at its TTL, or run: authctl forward --close \(id)\n")
        }
    }
}
