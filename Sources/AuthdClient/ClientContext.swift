// Where the daemon and the config are for this invocation: global options first, then the environment.
import AuthdConfig
import AuthdPosix

/// The paths a client works with, resolved lazily so the hot path (`authctl get` against a
/// running daemon) reads two environment variables (`getenv`, one at a time) and nothing else.
public struct ClientContext: Sendable {
    /// `--config`, when given.
    public var configOverride: String?
    /// `--socket`, when given.
    public var socketOverride: String?

    public init(configOverride: String? = nil, socketOverride: String? = nil) {
        self.configOverride = configOverride
        self.socketOverride = socketOverride
    }

    public func socketPath() throws(ClientFailure) -> String {
        do {
            return try AuthdPaths.socket(environment: CurrentProcess.environment, override: socketOverride)
        } catch {
            throw .daemonUnreachable(error.message)
        }
    }

    public func configPath() throws(ClientFailure) -> String {
        do {
            return try AuthdPaths.configFile(environment: CurrentProcess.environment, override: configOverride)
        } catch {
            throw .usage(error.message)
        }
    }

    /// The state directory, where an autostarted daemon's log goes; nil when it cannot be found.
    public func stateDirectory() -> String? {
        try? AuthdPaths.stateDirectory(environment: CurrentProcess.environment)
    }

    /// Config files are small; anything larger is not one.
    public static let maximumConfigBytes = 1 << 20

    /// The config file's bytes, undecoded so that the parser reports invalid UTF-8 where it
    /// is; nil when there is no file (a daemon then runs with no audiences).
    public func configBytes() throws(ClientFailure) -> (path: String, bytes: [UInt8]?) {
        let path = try configPath()
        do {
            // Never blocks: a FIFO or device named as the config is refused, not waited on.
            let bytes = try FileSystem.readRegularFile(path, RegularFileRequirements(maximumBytes: Self.maximumConfigBytes)).bytes
            return (path, bytes)
        } catch where error.isMissing {
            return (path, nil)
        } catch where error.reason == .tooLarge(maximumBytes: Self.maximumConfigBytes) {
            throw .usage("\(path) is larger than 1 MiB; is it really the authd config?")
        } catch {
            throw .usage("cannot read \(path): \(error)")
        }
    }

    /// The validated configuration (empty when there is no file), or every diagnostic as one failure.
    public func loadConfiguration() throws(ClientFailure) -> AuthdConfiguration {
        let (path, bytes) = try configBytes()
        guard let bytes else { return AuthdConfiguration() }
        let (configuration, diagnostics) = AuthdConfiguration.validate(
            utf8: bytes, path: path, homeDirectory: CurrentProcess.environment("HOME"))
        guard let configuration else {
            let errors = diagnostics.filter { $0.severity == .error }
            let first = errors.first.map { ": " + $0.description } ?? ""
            throw .usage("the config has \(errors.count) error\(errors.count == 1 ? "" : "s")\(first); run: authctl config check")
        }
        return configuration
    }
}
