// The config file the daemon serves: loaded at start, checked with one stat per request, reloaded when it changed, on SIGHUP or `authctl reload`.
import AuthdConfig
import AuthdPosix
import AuthdSystem
import AuthdWire
import Logging
import Synchronization

/// Which version of the file was read: any difference means it was written again (an editor's
/// rename gives a new inode, an in-place write a new size or time).
struct ConfigFileVersion: Equatable, Sendable {
    var device: UInt64
    var inode: UInt64
    var size: Int64
    var modified: Int64
    var changed: Int64

    /// The file's version now; nil when there is no file (or it cannot be examined).
    static func current(_ path: String) -> ConfigFileVersion? {
        guard let status = try? FileSystem.status(path) else { return nil }
        return ConfigFileVersion(device: status.device, inode: status.inode, size: status.size,
                                 modified: status.modifiedNanoseconds, changed: status.changedNanoseconds)
    }
}

/// Why a load failed, as the daemon reports it: a start ends with it; a reload keeps the previous config.
public struct ConfigLoadFailure: Error, CustomStringConvertible, Sendable {
    /// The diagnostics (`FILE:LINE: ...`, one per line), or why the file could not be read.
    public var description: String
    /// The file was read but is not a config that can be served (as opposed to unreadable).
    public var isInvalidConfig = false
}

/// Owns what the daemon knows about its config file and performs every (re)load, one at a time.
public actor ConfigurationFollower {
    public typealias Apply = @Sendable (ServableConfiguration) async -> Void

    private struct Record: Sendable {
        /// The version last read, whether or not it loaded: not read again until it changes.
        var attempted: ConfigFileVersion?
        /// The version the served config came from.
        var loaded: ConfigFileVersion?
        var loadedAt: Int64?
        var failedAt: Int64?
        var failure: String?
        var otherErrors: [String] = []
    }

    public nonisolated let path: String
    private let homeDirectory: String?
    private let logger: Logger
    private let wallSeconds: @Sendable () -> Int64
    private var apply: Apply?
    /// Read without the actor on every request (one stat and a compare), written by the actor.
    private nonisolated let record = Mutex(Record())

    public init(path: String, homeDirectory: String?, logger: Logger, wallSeconds: @escaping @Sendable () -> Int64) {
        self.path = path
        self.homeDirectory = homeDirectory
        self.logger = logger
        self.wallSeconds = wallSeconds
    }

    /// What `apply` does with each successful reload (install the audiences); set once the store is open.
    public func setApply(_ apply: @escaping Apply) {
        self.apply = apply
    }

    /// The first load. A failure here stops the daemon: the caller exits with status 2.
    public func loadAtStart() throws(ConfigLoadFailure) -> ServableConfiguration {
        let version = ConfigFileVersion.current(path)
        do {
            let servable = try read()
            succeeded(servable, version: version)
            return servable
        } catch {
            failed(error, version: version)
            throw error
        }
    }

    /// Whether the file differs from the version last read. A file that disappeared does not
    /// count: an editor may be between deleting and renaming, and a deleted config is no reason
    /// to stop serving (an explicit reload then serves no audiences).
    public nonisolated func fileChanged() -> Bool {
        guard let now = ConfigFileVersion.current(path) else { return false }
        return record.withLock { $0.attempted != now }
    }

    /// Called before each request: reloads when the file changed since it was last read.
    public func follow() async {
        guard fileChanged() else { return }
        _ = await reload(reason: "the config file changed")
    }

    /// Reads the file again now and applies it; on failure the previous config stays in service.
    @discardableResult
    public func reload(reason: String) async -> Result<ServableConfiguration, ConfigLoadFailure> {
        let version = ConfigFileVersion.current(path)
        do {
            let servable = try read()
            await apply?(servable)
            succeeded(servable, version: version)
            let broken = servable.brokenAudiences.isEmpty ? "" : ", \(servable.brokenAudiences.count) with errors"
            logger.info("configuration reloaded (\(reason)): \(servable.configuration.audiences.count) audiences\(broken)")
            return .success(servable)
        } catch {
            failed(error, version: version)
            logger.error("reload failed, keeping the previous configuration (\(reason)): \(error.description)")
            return .failure(error)
        }
    }

    /// The file as `status` reports it.
    public nonisolated func status() -> ConfigFileStatus {
        let now = ConfigFileVersion.current(path)
        return record.withLock { r in
            ConfigFileStatus(path: path, loadedAt: r.loadedAt, changedSinceLoad: now != nil && now != r.loaded,
                             failedAt: r.failedAt, failure: r.failure, otherErrors: r.otherErrors)
        }
    }

    private func succeeded(_ servable: ServableConfiguration, version: ConfigFileVersion?) {
        let now = wallSeconds()
        record.withLock { r in
            r.attempted = version
            r.loaded = version
            r.loadedAt = version == nil ? nil : now
            r.failedAt = nil
            r.failure = nil
            r.otherErrors = servable.otherErrors.map(\.description)
        }
    }

    private func failed(_ error: ConfigLoadFailure, version: ConfigFileVersion?) {
        let now = wallSeconds()
        record.withLock { r in
            r.attempted = version
            r.failedAt = now
            r.failure = error.description
        }
    }

    /// Reads and validates the file; warnings are logged here, once per version read.
    private func read() throws(ConfigLoadFailure) -> ServableConfiguration {
        guard FileSystem.exists(path) else {
            logger.warning("no config file at \(path): serving no audiences; create one with: authctl config init --provider NAME")
            return ServableConfiguration(configuration: AuthdConfiguration())
        }
        let contents: RegularFileContents
        do {
            contents = try FileSystem.readRegularFile(path, .configFile)
        } catch {
            throw ConfigLoadFailure(description: "cannot read the config \(path): \(error)")
        }
        let servable: ServableConfiguration
        do {
            servable = try AuthdConfiguration.loadServable(utf8: contents.bytes, path: path, homeDirectory: homeDirectory)
        } catch {
            throw ConfigLoadFailure(description: error.description, isInvalidConfig: true)
        }
        let exposure = servable.configuration.inlineSecretExposure(
            file: path, permissions: contents.status.permissions, chmodCommand: FileReadError.chmodCommand(path))
        for warning in servable.warnings + exposure { logger.warning("\(warning.description)") }
        for diagnostic in servable.otherErrors { logger.error("\(diagnostic.description) (ignored; the rest is served)") }
        for broken in servable.brokenAudiences {
            let errors = broken.diagnostics.map(\.description).joined(separator: "; ")
            logger.error("audience \(broken.name) is not served until its config is fixed: \(errors)")
        }
        return servable
    }
}
