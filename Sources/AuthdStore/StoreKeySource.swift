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

    /// The 32-byte key for a raw source.
    static func rawKey(_ source: StoreKeySource, directory: String, fileSystem: any StoreFileSystem) throws(StoreError) -> SecretBytes {
        switch source {
        case .key(let key):
            guard key.count == XChaCha20Poly1305.keyByteCount else {
                throw .keyUnavailable(path: "(given key)", reason: "must be \(XChaCha20Poly1305.keyByteCount) bytes, not \(key.count)")
            }
            return key
        case .credentialKey(let path):
            return try readKey(path)
        case .keyFile:
            let path = directory + "/" + keyFileName
            if !FileSystem.exists(path) { try createKeyFile(path, directory: directory, fileSystem: fileSystem) }
            return try readKey(path, fixPermissions: true)
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
            var bytes: [UInt8]
            do {
                bytes = try FileSystem.readFile(path, maximumBytes: 4096)
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

    private static func readKey(_ path: String, fixPermissions: Bool = false) throws(StoreError) -> SecretBytes {
        do {
            let status = try FileSystem.status(path)
            guard status.kind == .regular else { throw StoreError.keyUnavailable(path: path, reason: "not a regular file") }
            if fixPermissions {
                guard status.ownerUserID == CurrentProcess.userID else {
                    throw StoreError.keyUnavailable(path: path, reason: "owned by uid \(status.ownerUserID), not by us")
                }
                // Others could read it until now; still better than leaving it open.
                if status.isAccessibleByOthers { try FileSystem.setPermissions(path, 0o600) }
            }
            var bytes = try FileSystem.readFile(path, maximumBytes: 4096)
            guard bytes.count == XChaCha20Poly1305.keyByteCount else {
                SecretBytes.zero(&bytes)
                throw StoreError.keyUnavailable(
                    path: path, reason: "must hold exactly \(XChaCha20Poly1305.keyByteCount) bytes, holds \(bytes.count)")
            }
            return SecretBytes(zeroing: &bytes)
        } catch let error as StoreError {
            throw error
        } catch {
            throw .keyUnavailable(path: path, reason: "\(error)")
        }
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
