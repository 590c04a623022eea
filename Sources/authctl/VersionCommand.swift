// authctl version: this client's version and, when it runs, the daemon's.
import AuthdClient
import AuthdWire

enum VersionCommand {
    static func run(_ command: ParsedCommand, _ context: ClientContext) throws(ClientFailure) -> Int32 {
        var text = "authctl \(AuthdProtocol.softwareVersion) (protocol \(AuthdProtocol.version))\n"
        do {
            if let connection = try DaemonLauncher.connectIfRunning(context) {
                let payload = try RequestExchange.run(.version, on: connection)
                let answer = VersionAnswer(json: payload)
                let version = answer?.version ?? "unknown"
                let proto = answer?.protocolVersion.map { " (protocol \($0))" } ?? ""
                let pid = answer?.pid.map { ", pid \($0)" } ?? ""
                text += "authd \(version)\(proto)\(pid) at \(connection.path)\n"
            } else {
                text += "authd: not running\n"
            }
        } catch {
            text += "authd: \(error.message)\n"
        }
        Console.out(text)
        return 0
    }
}
