// The daemon's encrypted, atomically replaced, single-writer file of logins.
import AuthdPosix
import AuthdSystem
import AuthdWire
import Synchronization

/// The encrypted store of logins (and registered clients) in a state directory.
///
/// A final class rather than an actor: every operation is a short blocking file operation (plus
/// one Argon2id derivation for passphrase keys), which an actor would run on the cooperative pool
/// anyway. Calls are serialised by a lock and may come from any thread; callers that must not
/// block run them off the pool.
///
/// One `TokenStore` per directory at a time: `open` takes an exclusive `flock` on `store.lock`,
/// held until the object is released, so a second daemon gets `StoreError.locked`.
public final class TokenStore: Sendable {
    /// The store file's name in the directory.
    public static let fileName = "tokens.store"
    /// The lock file's name in the directory.
    public static let lockFileName = "store.lock"

    private struct State {
        /// Set once `load` read the file, found none, or set a damaged one aside: only then may
        /// `save` replace what is on disk.
        var loaded = false
        var key: SecretBytes?
        var keyDerivation: KeyDerivation?
    }

    /// The state directory.
    public let directory: String
    /// The store file's path.
    public var path: String { directory + "/" + Self.fileName }
    private let keySource: StoreKeySource
    private let fileSystem: any StoreFileSystem
    private let lock: ExclusiveFileLock
    private let warn: @Sendable (String) -> Void
    private let state = Mutex(State())

    private init(directory: String, keySource: StoreKeySource, fileSystem: any StoreFileSystem, lock: ExclusiveFileLock,
                 warn: @escaping @Sendable (String) -> Void) {
        self.directory = directory
        self.keySource = keySource
        self.fileSystem = fileSystem
        self.lock = lock
        self.warn = warn
    }

    /// Opens the store in `directory` (creating it with mode 0700; tightening a directory that
    /// group or others can enter) and takes its lock. `fileSystem` is for tests. `warn` hears what
    /// the owner should act on although the store works (a key file others could read).
    public static func open(
        directory: String, keySource: StoreKeySource = .keyFile, fileSystem: any StoreFileSystem = PosixStoreFileSystem(),
        warn: @escaping @Sendable (String) -> Void = { _ in }
    ) throws(StoreError) -> TokenStore {
        try prepareDirectory(directory)
        let lockPath = directory + "/" + lockFileName
        // A lock is briefly held by any child this process is spawning (between its fork and
        // exec the child shares our descriptors), so a busy lock is retried for a moment before
        // it is taken to mean another daemon.
        for attempt in 0..<50 {
            switch Result(catching: { () throws(Errno) in try ExclusiveFileLock(path: lockPath) }) {
            case .success(let lock):
                return TokenStore(directory: directory, keySource: keySource, fileSystem: fileSystem, lock: lock, warn: warn)
            case .failure(.wouldBlock) where attempt < 49:
                SystemClock.sleep(milliseconds: 10)
            case .failure(.wouldBlock):
                throw .locked(lockFile: lockPath)
            case .failure(let error):
                throw .unsafeDirectory(path: directory, reason: "cannot create the lock file: \(error)")
            }
        }
        throw .locked(lockFile: lockPath)
    }

    /// Reads every login. No file means no logins. A file that cannot be decrypted or
    /// authenticated is renamed aside and `StoreError.setAside` names the new path; the store is
    /// then empty and `save` may write a new one. The tokens returned are ranges of `arena`, the
    /// load's one region of secret memory (see `SecretArena`): seal or drop them soon.
    public func load(into arena: SecretArena = SecretArena()) throws(StoreError) -> StoreContents {
        try state.withLock { (state) throws(StoreError) -> StoreContents in try load(&state, arena: arena) }
    }

    private func load(_ state: inout State, arena: SecretArena) throws(StoreError) -> StoreContents {
        let file: [UInt8]
        switch Result(catching: { () throws(Errno) in try fileSystem.readFile(path, maximumBytes: StoreFormat.maximumFileBytes) }) {
        case .success(nil):
            state.loaded = true
            return StoreContents()
        case .success(let contents?):
            file = contents
        case .failure(.fileTooLarge):
            throw try setAside(.tooLarge, &state)
        case .failure(let error):
            throw .unreadable(path: path, error: error)
        }
        let header: StoreFormat.Header
        switch Result(catching: { () throws(StoreDamage) in try StoreFormat.readHeader(file) }) {
        case .success(let value): header = value
        case .failure(let damage): throw try setAside(damage, &state)
        }
        let key: SecretBytes
        switch (header.keyDerivation, keySource.usesPassphrase) {
        case (.rawKey, false):
            key = try StoreKeyMaterial.rawKey(keySource, directory: directory, fileSystem: fileSystem, warn: warn)
        case (.argon2id(let parameters, let salt), true):
            let passphrase = try StoreKeyMaterial.passphrase(keySource)
            guard let derived = try? PassphraseKeyDerivation.deriveKey(from: passphrase, salt: salt, parameters: parameters) else {
                throw try setAside(.unsupportedKeyDerivation(header.keyDerivation.identifier), &state)
            }
            key = derived
        default:
            throw try setAside(.keySourceMismatch(stored: header.keyDerivation.name, configured: keySource.name), &state)
        }
        switch Result(catching: { () throws(StoreDamage) in try StoreFormat.decode(file, header: header, key: key, arena: arena) }) {
        case .success(let contents):
            state = State(loaded: true, key: key, keyDerivation: header.keyDerivation)
            return contents
        case .failure(let damage):
            throw try setAside(damage, &state)
        }
    }

    /// Replaces the store with `contents`: a new file is written beside it, flushed, renamed over
    /// it and the directory flushed, so a crash or a full disk leaves either the old store or the
    /// new one, never a mix. `load` must have run first. The records' plaintexts are made in
    /// `arena` (pass the one the contents' tokens were opened into: one per save).
    public func save(_ contents: StoreContents, arena: SecretArena = SecretArena()) throws(StoreError) {
        try state.withLock { (state) throws(StoreError) in try save(contents, &state, arena: arena) }
    }

    private func save(_ contents: StoreContents, _ state: inout State, arena: SecretArena) throws(StoreError) {
        guard state.loaded else { throw .notLoaded }
        let key: SecretBytes, keyDerivation: KeyDerivation
        if let existing = state.key, let existingDerivation = state.keyDerivation {
            (key, keyDerivation) = (existing, existingDerivation)
        } else {
            (key, keyDerivation) = try newKey()
            state.key = key
            state.keyDerivation = keyDerivation
        }
        let bytes = try StoreFormat.encode(contents, key: key, keyDerivation: keyDerivation, arena: arena)
        let temporary = path + ".tmp"
        let written = Result { () throws(Errno) in
            // A killed writer leaves its temporary file; it was never the store.
            try fileSystem.removeIfPresent(temporary)
            try fileSystem.writeNewFile(temporary, bytes)
            try fileSystem.rename(temporary, to: path)
        }
        if case .failure(let error) = written {
            try? fileSystem.removeIfPresent(temporary)
            throw .writeFailed(path: path, error: error)
        }
        if case .failure(let error) = Result(catching: { () throws(Errno) in try fileSystem.syncDirectory(directory) }) {
            throw .syncFailed(path: path, error: error)
        }
    }

    private func newKey() throws(StoreError) -> (SecretBytes, KeyDerivation) {
        if keySource.usesPassphrase {
            let parameters = StoreKeyMaterial.parameters(keySource)
            let salt = PassphraseKeyDerivation.randomSalt()
            do {
                let key = try PassphraseKeyDerivation.deriveKey(
                    from: try StoreKeyMaterial.passphrase(keySource), salt: salt, parameters: parameters)
                return (key, .argon2id(parameters, salt: salt))
            } catch let error as StoreError {
                throw error
            } catch {
                throw .keyUnavailable(path: "(passphrase)", reason: "\(error)")
            }
        }
        return (try StoreKeyMaterial.rawKey(keySource, directory: directory, fileSystem: fileSystem, warn: warn), .rawKey)
    }

    /// Renames the damaged store to `<name>.corrupt-<UTC time>` and returns the error naming it.
    /// The store then counts as loaded and empty.
    private func setAside(_ damage: StoreDamage, _ state: inout State) throws(StoreError) -> StoreError {
        let stamp = UTCTimestamp.compact(secondsSinceEpoch: SystemClock.wallClockSeconds())
        var destination = path + ".corrupt-" + stamp
        var suffix = 2
        while fileSystem.exists(destination) {
            destination = path + ".corrupt-" + stamp + "-\(suffix)"
            suffix += 1
        }
        do {
            try fileSystem.rename(path, to: destination)
            try fileSystem.syncDirectory(directory)
        } catch {
            throw .unreadable(path: path, error: error)
        }
        // A raw key is still the right key for a new store; a passphrase gets a fresh salt.
        state = State(loaded: true, key: nil, keyDerivation: nil)
        return .setAside(movedTo: destination, damage: damage)
    }

    private static func prepareDirectory(_ directory: String) throws(StoreError) {
        func unsafe(_ reason: String) -> StoreError { .unsafeDirectory(path: directory, reason: reason) }
        if !FileSystem.exists(directory) {
            if case .failure(let error) = Result(catching: { () throws(Errno) in
                try FileSystem.makeDirectories(directory, permissions: 0o700)
            }) {
                throw unsafe("cannot create: \(error)")
            }
        }
        let status: FileStatus
        switch Result(catching: { () throws(Errno) in try FileSystem.status(directory) }) {
        case .success(let value): status = value
        case .failure(let error): throw unsafe("\(error)")
        }
        guard status.kind == .directory else { throw unsafe("not a directory") }
        guard status.ownerUserID == CurrentProcess.userID else { throw unsafe("owned by uid \(status.ownerUserID), not by us") }
        if status.isAccessibleByOthers {
            if case .failure(let error) = Result(catching: { () throws(Errno) in try FileSystem.setPermissions(directory, 0o700) }) {
                throw unsafe("group or others can enter it and it cannot be changed to 0700: \(error)")
            }
        }
    }
}
