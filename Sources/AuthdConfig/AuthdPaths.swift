// Where the config file, the socket and the encrypted state live, from the environment (XDG base directories).

public struct AuthdPathError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) { self.message = message }

    public var description: String { message }
}

/// Reads one environment variable: `CurrentProcess.environment` in the programs, a dictionary's
/// subscript in tests. A function rather than a dictionary, so that a client reads the two or three
/// variables it needs and builds no hashed collection at start-up.
public typealias EnvironmentLookup = (String) -> String?

public struct AuthdPaths: Sendable, Equatable {
    public var configFile: String
    public var socket: String
    /// The directory holding the encrypted store (created with mode 0700 by the daemon).
    public var stateDirectory: String

    /// The directory the socket is in (created with mode 0700 by whoever binds).
    public var socketDirectory: String { AuthdPaths.parent(of: socket) }

    public init(configFile: String, socket: String, stateDirectory: String) {
        self.configFile = configFile
        self.socket = socket
        self.stateDirectory = stateDirectory
    }

    /// Resolves all three paths; fails when any of them cannot be found. A program that
    /// needs only one (e.g. `authctl config check`) asks for that one alone.
    public static func resolve(environment: EnvironmentLookup, configOverride: String? = nil,
                               socketOverride: String? = nil) throws(AuthdPathError) -> AuthdPaths {
        AuthdPaths(configFile: try configFile(environment: environment, override: configOverride),
                   socket: try socket(environment: environment, override: socketOverride),
                   stateDirectory: try stateDirectory(environment: environment))
    }

    /// `--config`, else `AUTHD_CONFIG`, else `$XDG_CONFIG_HOME/authd/config.toml`, else `~/.config/authd/config.toml`.
    public static func configFile(environment: EnvironmentLookup, override: String? = nil) throws(AuthdPathError) -> String {
        if let explicit = nonEmpty(override) ?? nonEmpty(environment("AUTHD_CONFIG")) { return explicit }
        if let base = xdgDirectory("XDG_CONFIG_HOME", environment) { return base + "/authd/config.toml" }
        return try home(environment, purpose: "the config file") + "/.config/authd/config.toml"
    }

    /// `--socket`, else `AUTHD_SOCKET`, else `$XDG_RUNTIME_DIR/authd/socket`. There is no
    /// fallback: a socket in a shared directory such as /tmp could be pre-empted by another user.
    public static func socket(environment: EnvironmentLookup, override: String? = nil) throws(AuthdPathError) -> String {
        let path: String
        if let explicit = nonEmpty(override) ?? nonEmpty(environment("AUTHD_SOCKET")) {
            path = explicit
        } else if let runtime = xdgDirectory("XDG_RUNTIME_DIR", environment) {
            path = runtime + "/authd/socket"
        } else {
            let why = nonEmpty(environment("XDG_RUNTIME_DIR")) == nil ? "XDG_RUNTIME_DIR is not set" : "XDG_RUNTIME_DIR is not an absolute path"
            throw AuthdPathError("\(why), so there is no private place for the authd socket; log in through a session that sets it (systemd-logind does) or set AUTHD_SOCKET or --socket")
        }
        // sockaddr_un.sun_path holds 108 bytes including the terminating NUL.
        guard path.utf8.count <= 107 else {
            throw AuthdPathError("socket path \(path) is longer than 107 bytes, the limit of a Unix socket address; set AUTHD_SOCKET to a shorter path")
        }
        return path
    }

    /// Whether a socket path names an authd forward (`authctl forward`, docs/remote.md): its file name
    /// contains `forward`, as the daemon's own forward sockets (`forward-ID.sock`) and the recipes'
    /// remote paths do. A client never starts a daemon for such a path, and says the forward ended
    /// when nothing answers there.
    public static func namesForward(_ socketPath: String) -> Bool {
        let name = socketPath.split(separator: "/", omittingEmptySubsequences: false).last ?? ""
        return name.contains("forward")
    }

    /// `AUTHD_STATE_DIR`, else `$XDG_STATE_HOME/authd`, else `~/.local/state/authd`.
    public static func stateDirectory(environment: EnvironmentLookup) throws(AuthdPathError) -> String {
        if let explicit = nonEmpty(environment("AUTHD_STATE_DIR")) { return explicit }
        if let base = xdgDirectory("XDG_STATE_HOME", environment) { return base + "/authd" }
        return try home(environment, purpose: "the state directory") + "/.local/state/authd"
    }

    /// The XDG spec says relative values are invalid and must be ignored.
    private static func xdgDirectory(_ name: String, _ environment: EnvironmentLookup) -> String? {
        guard let value = nonEmpty(environment(name)), value.hasPrefix("/") else { return nil }
        return trimmingTrailingSlashes(value)
    }

    private static func home(_ environment: EnvironmentLookup, purpose: String) throws(AuthdPathError) -> String {
        guard let value = nonEmpty(environment("HOME")), value.hasPrefix("/") else {
            throw AuthdPathError("HOME is not set to an absolute path, so \(purpose) cannot be found; set HOME or the AUTHD_* override")
        }
        return trimmingTrailingSlashes(value)
    }

    private static func nonEmpty(_ value: String?) -> String? {
        guard let value, !value.isEmpty else { return nil }
        return value
    }

    private static func trimmingTrailingSlashes(_ path: String) -> String {
        var trimmed = Substring(path)
        while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed.removeLast() }
        return trimmed == "/" ? "" : String(trimmed)
    }

    static func parent(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        if slash == path.startIndex { return "/" }
        return String(path[..<slash])
    }
}
