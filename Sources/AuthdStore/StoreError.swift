// Why the store could not be opened, read or written; every case says what happened to the data.
import AuthdPosix
import AuthdSystem

/// What was wrong with a store file that could not be read back. The file is kept aside.
public enum StoreDamage: Error, Sendable, Equatable, CustomStringConvertible {
    /// It does not start with the store's magic bytes.
    case notAStore
    /// Written by a newer (or unknown) format version.
    case unsupportedVersion(UInt8)
    /// It names an encryption algorithm this build does not know.
    case unsupportedAlgorithm(UInt8)
    /// It names a key-derivation method this build does not know, or parameters outside safe limits.
    case unsupportedKeyDerivation(UInt8)
    /// Written with another kind of key (a passphrase versus a key file or credential).
    case keySourceMismatch(stored: String, configured: String)
    /// The header does not authenticate: the key is wrong, or the header was changed.
    case wrongKeyOrDamagedHeader
    /// Record `index` (from 0) does not authenticate: changed, moved, or from another file.
    case damagedRecord(index: Int)
    /// The file ends before its last record does.
    case truncated
    /// Bytes follow the last record.
    case trailingData
    /// Larger than any store authd writes.
    case tooLarge
    /// A record authenticated but its contents do not parse (a bug, or a format this build misreads).
    case malformedRecord(index: Int)

    public var description: String {
        switch self {
        case .notAStore: return "not an authd store file"
        case .unsupportedVersion(let version): return "unsupported store format version \(version)"
        case .unsupportedAlgorithm(let id): return "unsupported encryption algorithm id \(id)"
        case .unsupportedKeyDerivation(let id): return "unsupported key derivation id \(id) or parameters"
        case .keySourceMismatch(let stored, let configured):
            return "the store was encrypted with a \(stored) but a \(configured) is configured"
        case .wrongKeyOrDamagedHeader: return "wrong key, or the store header was changed"
        case .damagedRecord(let index): return "record \(index) failed authentication (changed, moved or damaged)"
        case .truncated: return "the file is truncated"
        case .trailingData: return "unexpected data after the last record"
        case .malformedRecord(let index): return "record \(index) is malformed"
        case .tooLarge: return "the file is larger than any store authd writes"
        }
    }
}

/// A store failure. Nothing is lost in any case: a damaged file is renamed aside, a failed write
/// leaves the previous store in place.
public enum StoreError: Error, Sendable, CustomStringConvertible {
    /// Another process (another authd) holds the store's lock.
    case locked(lockFile: String)
    /// The state directory is not a directory we own, or cannot be created.
    case unsafeDirectory(path: String, reason: String)
    /// The key file or credential is missing, the wrong size, or readable by others.
    case keyUnavailable(path: String, reason: String)
    /// The store exists but could not be read (an I/O or permission error); it was left untouched
    /// and this `TokenStore` refuses to save over it.
    case unreadable(path: String, error: Errno)
    /// The store could not be decrypted or authenticated; it was renamed to `movedTo` and the caller
    /// should start empty.
    case setAside(movedTo: String, damage: StoreDamage)
    /// Writing the new store failed; the previous one is intact.
    case writeFailed(path: String, error: Errno)
    /// The new store replaced the old one, but making the rename durable (`fsync` of the
    /// directory) failed: after a crash the previous store may come back.
    case syncFailed(path: String, error: Errno)
    /// `save` was called before a successful `load`, which would overwrite a store never read.
    case notLoaded
    /// A field is longer than the format allows (65,535 bytes for names, scopes and the subject).
    case fieldTooLong(String)

    public var description: String {
        switch self {
        case .locked(let lockFile): return "the token store is in use by another authd (lock \(lockFile) is held)"
        case .unsafeDirectory(let path, let reason): return "state directory \(path): \(reason)"
        case .keyUnavailable(let path, let reason): return "store key \(path): \(reason)"
        case .unreadable(let path, let error): return "cannot read the token store \(path): \(error)"
        case .setAside(let movedTo, let damage):
            return "the token store could not be read (\(damage)); it was kept as \(movedTo) and authd starts with no logins"
        case .writeFailed(let path, let error): return "cannot write the token store \(path): \(error); the previous store is unchanged"
        case .syncFailed(let path, let error): return "the token store \(path) was written but could not be flushed to disk: \(error)"
        case .notLoaded: return "the token store must be loaded before it is saved"
        case .fieldTooLong(let field): return "\(field) is too long to store"
        }
    }
}
