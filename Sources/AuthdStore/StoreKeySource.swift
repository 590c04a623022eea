// Where the store's encryption key comes from: a key file (default), a systemd credential, or a passphrase.
import AuthdPosix
import AuthdSystem

/// Where the key that encrypts the store comes from. The key itself is never written into the store.
public enum StoreKeySource: Sendable {
    /// `store.key` in the state directory: 32 random bytes, mode 0600, created when missing. The
    /// default; protects the store file when it is copied alone (a backup), not against someone who
    /// can read the whole directory.
    case keyFile
    /// A systemd credential (`LoadCredentialEncrypted=`) holding exactly 32 raw key bytes.
    case credentialKey(path: String)
    /// A passphrase, stretched with Argon2id. `parameters` apply when a store is created; an
    /// existing store is read with the parameters and salt in its header.
    case passphrase(SecretBytes, parameters: Argon2idParameters = .moderate)
    /// A systemd credential holding a passphrase (one trailing newline is ignored), used like `passphrase`.
    case credentialPassphrase(path: String, parameters: Argon2idParameters = .moderate)
    /// A 32-byte key supplied by the caller.
    case key(SecretBytes)

    /// The credential name read as a raw key: `$CREDENTIALS_DIRECTORY/authd-store-key`.
    public static let credentialKeyName = "authd-store-key"
    /// The credential name read as a passphrase: `$CREDENTIALS_DIRECTORY/authd-store-passphrase`.
    public static let credentialPassphraseName = "authd-store-passphrase"

    /// A systemd credential when `$CREDENTIALS_DIRECTORY` holds one (the raw key wins over the
    /// passphrase), otherwise the key file.
    public static func fromEnvironment() -> StoreKeySource {
        if let directory = CurrentProcess.environment("CREDENTIALS_DIRECTORY"), !directory.isEmpty {
            let keyPath = directory + "/" + credentialKeyName
            if FileSystem.exists(keyPath) { return .credentialKey(path: keyPath) }
            let passphrasePath = directory + "/" + credentialPassphraseName
            if FileSystem.exists(passphrasePath) { return .credentialPassphrase(path: passphrasePath) }
        }
        return .keyFile
    }

    var usesPassphrase: Bool {
        switch self {
        case .passphrase, .credentialPassphrase: true
        case .keyFile, .credentialKey, .key: false
        }
    }

    var name: String { usesPassphrase ? "passphrase" : "raw key (key file or credential)" }
}

/// Reads and creates key material for a `TokenStore`.
struct StoreKeyMaterial {
    static let keyFileName = "store.key"

    /// The 32-byte key for a raw source. `warn` hears about a key file that others could read.
    static func rawKey(_ source: StoreKeySource, directory: String, fileSystem: any StoreFileSystem,
                       warn: (String) -> Void = { _ in }) throws(StoreError) -> SecretBytes {
        switch source {
        case .key(let key):
            guard key.count == XChaCha20Poly1305.keyByteCount else {
                throw .keyUnavailable(path: "(given key)", reason: "must be \(XChaCha20Poly1305.keyByteCount) bytes, not \(key.count)")
            }
            return key
        case .credentialKey(let path):
            return try readKey(path, isKeyFile: false, warn: warn)
        case .keyFile:
            let path = directory + "/" + keyFileName
            if !FileSystem.exists(path) { try createKeyFile(path, directory: directory, fileSystem: fileSystem) }
            return try readKey(path, isKeyFile: true, warn: warn)
        case .passphrase, .credentialPassphrase:
            preconditionFailure("a passphrase is not a raw key")
        }
    }

    /// The passphrase for a passphrase source.
    static func passphrase(_ source: StoreKeySource) throws(StoreError) -> SecretBytes {
        switch source {
        case .passphrase(let passphrase, _):
            guard passphrase.count > 0 else { throw .keyUnavailable(path: "(given passphrase)", reason: "the passphrase is empty") }
            return passphrase
        case .credentialPassphrase(let path, _):
            // systemd made this file, in a directory only this service can read: its owner
            // and mode are systemd's business, so only the type and the size are checked.
            var bytes: [UInt8]
            do {
                bytes = try FileSystem.readRegularFile(path, RegularFileRequirements(maximumBytes: 4096)).bytes
            } catch {
                throw .keyUnavailable(path: path, reason: "\(error)")
            }
            if bytes.last == UInt8(ascii: "\n") { bytes.removeLast() }
            guard !bytes.isEmpty else { throw .keyUnavailable(path: path, reason: "the passphrase is empty") }
            return SecretBytes(zeroing: &bytes)
        case .keyFile, .credentialKey, .key:
            preconditionFailure("not a passphrase source")
        }
    }

    static func parameters(_ source: StoreKeySource) -> Argon2idParameters {
        switch source {
        case .passphrase(_, let parameters), .credentialPassphrase(_, let parameters): parameters
        case .keyFile, .credentialKey, .key: .moderate
        }
    }

    /// Reads a raw key. The key file must be ours; one that group or others could read is
    /// tightened to 0600 and reported through `warn`, since its key may already have been copied.
    /// A credential (systemd's file, in systemd's private directory) is only checked for type and size.
    private static func readKey(_ path: String, isKeyFile: Bool, warn: (String) -> Void) throws(StoreError) -> SecretBytes {
        let contents: RegularFileContents
        do {
            contents = try FileSystem.readRegularFile(path, RegularFileRequirements(maximumBytes: 4096))
        } catch {
            throw .keyUnavailable(path: path, reason: "\(error)")
        }
        var bytes = contents.bytes
        if isKeyFile {
            let status = contents.status
            guard status.ownerUserID == CurrentProcess.userID else {
                SecretBytes.zero(&bytes)
                let refusal = FileReadError(path: path, reason: .notOwnedByUser(ownerUserID: status.ownerUserID, userID: CurrentProcess.userID))
                throw .keyUnavailable(path: path, reason: refusal.description)
            }
            if status.isAccessibleByOthers {
                do {
                    try FileSystem.setPermissions(path, 0o600)
                } catch {
                    SecretBytes.zero(&bytes)
                    throw .keyUnavailable(path: path, reason: "its mode \(status.octalPermissions) gives other users access and chmod 600 failed: \(error)")
                }
                warn(keyFileExposedWarning(path: path, permissions: status.permissions))
            }
        }
        guard bytes.count == XChaCha20Poly1305.keyByteCount else {
            let count = bytes.count
            SecretBytes.zero(&bytes)
            throw StoreError.keyUnavailable(
                path: path, reason: "must hold exactly \(XChaCha20Poly1305.keyByteCount) bytes, holds \(count)")
        }
        return SecretBytes(zeroing: &bytes)
    }

    /// What the daemon logs after tightening a key file that was open to others.
    static func keyFileExposedWarning(path: String, permissions: UInt32) -> String {
        "the store key \(path) had mode \(FileStatus.octal(permissions)), so other users could read it; authd set it to 0600, "
            + "but the key may already have been copied, and with it anyone holding a copy of tokens.store can read your logins. "
            + "Rotate the key (see \"Rotating the store key\" in docs/operations.md): stop authd, move tokens.store aside, "
            + "delete store.key, start authd, and log in again"
    }

    // Written to a temporary name and renamed, so a crash never leaves a short key file behind.
    private static func createKeyFile(_ path: String, directory: String, fileSystem: any StoreFileSystem) throws(StoreError) {
        let temporary = path + ".tmp"
        var key = SecretBytes.random(count: XChaCha20Poly1305.keyByteCount).copyBytes()
        defer { SecretBytes.zero(&key) }
        do {
            try fileSystem.removeIfPresent(temporary)
            try fileSystem.writeNewFile(temporary, key)
            try fileSystem.rename(temporary, to: path)
            try fileSystem.syncDirectory(directory)
        } catch {
            try? fileSystem.removeIfPresent(temporary)
            throw .keyUnavailable(path: path, reason: "cannot create: \(error)")
        }
    }
}
