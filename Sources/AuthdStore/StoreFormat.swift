// The store file's bytes: header, authenticated key check, and one sealed record per login (docs/store-format.md).
import AuthdSystem

/// How the store key was obtained, as recorded in the header.
enum KeyDerivation: Equatable {
    /// A 32-byte key used as is (the key file, or a systemd credential holding a raw key).
    case rawKey
    /// A key stretched from a passphrase with Argon2id v1.3.
    case argon2id(Argon2idParameters, salt: [UInt8])

    var identifier: UInt8 {
        switch self {
        case .rawKey: 1
        case .argon2id: 2
        }
    }

    var name: String {
        switch self {
        case .rawKey: "raw key (key file or credential)"
        case .argon2id: "passphrase"
        }
    }
}

/// Encoding and decoding of format version 1.
enum StoreFormat {
    static let magic: [UInt8] = [0x89, 0x41, 0x55, 0x54, 0x48, 0x44, 0x0D, 0x0A]  // "\x89AUTHD\r\n"
    static let version: UInt8 = 1
    static let algorithmXChaCha20Poly1305: UInt8 = 1
    static let fileIDByteCount = 16
    /// Layout 2 adds the identity block and the id_token; layout 1 records still load (docs/store-format.md).
    static let recordLayoutVersion: UInt8 = 2
    /// A client registration record (`StoredRegistration`): the high bit says "not a login", the
    /// rest is its layout, 1. Stores without one load as before.
    static let registrationRecordLayout: UInt8 = 0x81
    /// Larger files are not read: a store of a few logins is a few kilobytes.
    static let maximumFileBytes = 16 << 20
    // A header from disk could ask Argon2id for absurd work; these bound a load to a few seconds.
    static let maximumArgon2Operations: UInt64 = 16
    static let maximumArgon2MemoryBytes: UInt64 = 1 << 30

    /// The parts of a file readable before the key is known.
    struct Header {
        var keyDerivation: KeyDerivation
        var fileID: [UInt8]
        var recordCount: UInt32
        /// The header bytes exactly as in the file: the associated data of the key check and every record.
        var encoded: [UInt8]
        var checkNonce: [UInt8]
        var checkTag: [UInt8]
        /// Where the first record starts.
        var recordsOffset: Int
    }

    // MARK: Encoding

    /// The file's bytes. Every record's plaintext, and the operation's copy of the key, are made
    /// in `arena`: no system call per record.
    static func encode(_ contents: StoreContents, key storeKey: SecretBytes, keyDerivation: KeyDerivation,
                       arena: SecretArena = SecretArena()) throws(StoreError) -> [UInt8] {
        // One mapping change for the store key per operation, not two per record.
        let key = storeKey.extracting(0..<storeKey.count, in: arena)
        let records: [(identity: (String, String, String), plaintext: () throws(StoreError) -> SecretBytes)] =
            contents.logins.map { login in
                ((login.audience, login.issuer, login.clientID), { () throws(StoreError) in try plaintext(of: login, in: arena) })
            }
            + contents.registrations.map { registration in
                ((registration.audience, registration.issuer, registration.clientID),
                 { () throws(StoreError) in try plaintext(of: registration, in: arena) })
            }
        var header = magic + [version, algorithmXChaCha20Poly1305, keyDerivation.identifier, 0]
        if case .argon2id(let parameters, let salt) = keyDerivation {
            header.appendBigEndian(parameters.operationsLimit)
            header.appendBigEndian(parameters.memoryLimitBytes)
            header += salt
        }
        header += SecureRandom.bytes(count: fileIDByteCount)
        header.appendBigEndian(UInt32(records.count))

        var file = header
        let checkNonce = XChaCha20Poly1305.randomNonce()
        file += checkNonce
        file += try seal(SecretBytes(joining: [], [], in: arena), key: key, nonce: checkNonce, associatedData: header)

        for (index, record) in records.enumerated() {
            var identity: [UInt8] = []
            for (field, value) in [("audience", record.identity.0), ("issuer", record.identity.1), ("client id", record.identity.2)] {
                try identity.appendShortString(value, field: field)
            }
            var associatedData = header
            associatedData.appendBigEndian(UInt32(index))
            associatedData += identity
            let nonce = XChaCha20Poly1305.randomNonce()
            let ciphertext = try seal(try record.plaintext(), key: key, nonce: nonce, associatedData: associatedData)
            file.appendBigEndian(UInt32(identity.count + nonce.count + ciphertext.count))
            file += identity + nonce + ciphertext
        }
        return file
    }

    private static func seal(_ plaintext: SecretBytes, key: SecretBytes, nonce: [UInt8], associatedData: [UInt8]) throws(StoreError) -> [UInt8] {
        do {
            return try XChaCha20Poly1305.seal(plaintext, key: key, nonce: nonce, associatedData: associatedData)
        } catch {
            // Only a key of the wrong length gets here, and keys are checked when loaded.
            preconditionFailure("sealing a store record failed: \(error)")
        }
    }

    /// A record's secret part: a metadata block, then the refresh token, then the access token.
    private static func plaintext(of login: StoredLogin, in arena: SecretArena) throws(StoreError) -> SecretBytes {
        var metadata: [UInt8] = [recordLayoutVersion]
        var flags: UInt8 = 0
        if login.refreshToken != nil { flags |= 1 }
        if login.accessToken != nil { flags |= 2 }
        if login.accessTokenExpiry != nil { flags |= 4 }
        if login.refreshTokenExpiry != nil { flags |= 8 }
        if login.subject != nil { flags |= 16 }
        metadata.append(flags)
        metadata.appendBigEndian(UInt64(bitPattern: login.loginTime))
        metadata.appendBigEndian(UInt64(bitPattern: login.accessTokenExpiry ?? 0))
        metadata.appendBigEndian(UInt64(bitPattern: login.refreshTokenExpiry ?? 0))
        metadata.appendBigEndian(UInt32(login.refreshToken?.count ?? 0))
        metadata.appendBigEndian(UInt32(login.accessToken?.count ?? 0))
        guard login.scopes.count <= Int(UInt16.max) else { throw .fieldTooLong("scope list") }
        metadata.appendBigEndian(UInt16(login.scopes.count))
        for scope in login.scopes { try metadata.appendShortString(scope, field: "scope") }
        try metadata.appendShortString(login.subject ?? "", field: "subject")
        try appendIdentity(of: login, to: &metadata)

        // The tokens are copied from secret memory to secret memory, never through an array.
        var prefix: [UInt8] = []
        prefix.appendBigEndian(UInt32(metadata.count))
        prefix += metadata
        return SecretBytes(joining: prefix, [login.refreshToken, login.accessToken, login.idToken].compactMap { $0 }, in: arena)
    }

    /// A registration record's secret part: metadata (layout, flags: 1 registration access token,
    /// 2 client configuration URL; registration time; token length; the URL), then the token.
    private static func plaintext(of registration: StoredRegistration, in arena: SecretArena) throws(StoreError) -> SecretBytes {
        var metadata: [UInt8] = [registrationRecordLayout]
        var flags: UInt8 = 0
        if registration.registrationAccessToken != nil { flags |= 1 }
        if registration.registrationClientURI != nil { flags |= 2 }
        metadata.append(flags)
        metadata.appendBigEndian(UInt64(bitPattern: registration.registeredAt))
        metadata.appendBigEndian(UInt32(registration.registrationAccessToken?.count ?? 0))
        try metadata.appendShortString(registration.registrationClientURI ?? "", field: "registration_client_uri")
        var prefix: [UInt8] = []
        prefix.appendBigEndian(UInt32(metadata.count))
        prefix += metadata
        return SecretBytes(joining: prefix, [registration.registrationAccessToken].compactMap { $0 }, in: arena)
    }

    private static func parseRegistration(_ plaintext: SecretBytes, metadataLength: Int, metadata: inout ByteReader,
                                          audience: String, issuer: String, clientID: String,
                                          arena: SecretArena) -> StoredRegistration? {
        guard let flags = try? metadata.readByte(), let registeredAt = try? metadata.readUInt64(),
              let tokenLength = try? metadata.readUInt32(), let uri = try? metadata.readShortString(),
              metadata.remaining.isEmpty, 4 + metadataLength + Int(tokenLength) == plaintext.count,
              flags & 1 != 0 || tokenLength == 0
        else { return nil }
        return StoredRegistration(
            audience: audience, issuer: issuer, clientID: clientID,
            registrationAccessToken: flags & 1 != 0 ? plaintext.extracting((4 + metadataLength)..<plaintext.count, in: arena) : nil,
            registrationClientURI: flags & 2 != 0 ? uri : nil, registeredAt: Int64(bitPattern: registeredAt))
    }

    /// Layout 2's identity block: flags (1 identity, 2 unverifiable, 4 auth_time, 8 email,
    /// 16 preferred_username, 32 acr), the id_token's length, then the claims.
    private static func appendIdentity(of login: StoredLogin, to metadata: inout [UInt8]) throws(StoreError) {
        var flags: UInt8 = 0
        if login.identity != nil { flags |= 1 }
        if login.identityUnverifiable { flags |= 2 }
        if login.identity?.authTime != nil { flags |= 4 }
        if login.identity?.email != nil { flags |= 8 }
        if login.identity?.preferredUsername != nil { flags |= 16 }
        if login.identity?.authenticationContext != nil { flags |= 32 }
        metadata.append(flags)
        metadata.appendBigEndian(UInt32(login.idToken?.count ?? 0))
        guard let identity = login.identity else { return }
        for (field, value) in [("issuer", identity.issuer), ("subject", identity.subject), ("email", identity.email ?? ""),
                               ("preferred_username", identity.preferredUsername ?? ""), ("acr", identity.authenticationContext ?? "")] {
            try metadata.appendShortString(value, field: field)
        }
        for list in [identity.authenticationMethods, identity.authenticationContexts] {
            guard list.count <= 255 else { throw .fieldTooLong("amr") }
            metadata.append(UInt8(list.count))
            for item in list { try metadata.appendShortString(item, field: "amr") }
        }
        metadata.appendBigEndian(UInt64(bitPattern: identity.authTime ?? 0))
        metadata.appendBigEndian(UInt64(bitPattern: identity.expiresAt))
    }

    private struct IdentityBlock {
        var identity: StoredIdentity?
        var unverifiable: Bool
        var idTokenLength: Int
    }

    private static func readIdentity(_ metadata: inout ByteReader) -> IdentityBlock? {
        guard let flags = try? metadata.readByte(), let idLength = try? metadata.readUInt32() else { return nil }
        var block = IdentityBlock(identity: nil, unverifiable: flags & 2 != 0, idTokenLength: Int(idLength))
        guard flags & 1 != 0 else { return block }
        guard let issuer = try? metadata.readShortString(), let subject = try? metadata.readShortString(),
              let email = try? metadata.readShortString(), let username = try? metadata.readShortString(),
              let acr = try? metadata.readShortString() else { return nil }
        var lists: [[String]] = []
        for _ in 0..<2 {
            guard let count = try? metadata.readByte() else { return nil }
            var items: [String] = []
            for _ in 0..<count {
                guard let item = try? metadata.readShortString() else { return nil }
                items.append(item)
            }
            lists.append(items)
        }
        guard let authTime = try? metadata.readUInt64(), let expiresAt = try? metadata.readUInt64() else { return nil }
        block.identity = StoredIdentity(
            issuer: issuer, subject: subject, email: flags & 8 != 0 ? email : nil, preferredUsername: flags & 16 != 0 ? username : nil,
            authenticationMethods: lists[0], authenticationContext: flags & 32 != 0 ? acr : nil, authenticationContexts: lists[1],
            authTime: flags & 4 != 0 ? Int64(bitPattern: authTime) : nil, expiresAt: Int64(bitPattern: expiresAt))
        return block
    }

    // MARK: Decoding

    /// Reads the header; the key is not needed yet (a passphrase key needs the salt from here).
    static func readHeader(_ file: [UInt8]) throws(StoreDamage) -> Header {
        var reader = ByteReader(file)
        guard file.count >= magic.count else {
            throw file.elementsEqual(magic.prefix(file.count)) ? .truncated : .notAStore
        }
        guard Array(try reader.read(magic.count)) == magic else { throw .notAStore }
        let fileVersion = try reader.readByte()
        guard fileVersion == version else { throw .unsupportedVersion(fileVersion) }
        let algorithm = try reader.readByte()
        guard algorithm == algorithmXChaCha20Poly1305 else { throw .unsupportedAlgorithm(algorithm) }
        let derivationID = try reader.readByte()
        _ = try reader.readByte()  // reserved; authenticated with the header
        let keyDerivation: KeyDerivation
        switch derivationID {
        case 1:
            keyDerivation = .rawKey
        case 2:
            let parameters = Argon2idParameters(
                operationsLimit: try reader.readUInt64(), memoryLimitBytes: try reader.readUInt64())
            let salt = Array(try reader.read(PassphraseKeyDerivation.saltByteCount))
            guard parameters.isWithinLibraryLimits, parameters.operationsLimit <= maximumArgon2Operations,
                  parameters.memoryLimitBytes <= maximumArgon2MemoryBytes else {
                throw .unsupportedKeyDerivation(derivationID)
            }
            keyDerivation = .argon2id(parameters, salt: salt)
        default:
            throw .unsupportedKeyDerivation(derivationID)
        }
        let fileID = Array(try reader.read(fileIDByteCount))
        let recordCount = try reader.readUInt32()
        let encoded = Array(file[..<reader.offset])
        let checkNonce = Array(try reader.read(XChaCha20Poly1305.nonceByteCount))
        let checkTag = Array(try reader.read(XChaCha20Poly1305.tagByteCount))
        return Header(
            keyDerivation: keyDerivation, fileID: fileID, recordCount: recordCount, encoded: encoded,
            checkNonce: checkNonce, checkTag: checkTag, recordsOffset: reader.offset)
    }

    /// Authenticates the header with `key`, then every record, and decodes them. Every plaintext
    /// and token is made in `arena` (the tokens returned stay there): no system call per record.
    static func decode(_ file: [UInt8], header: Header, key storeKey: SecretBytes,
                       arena: SecretArena = SecretArena()) throws(StoreDamage) -> StoreContents {
        // One mapping change for the store key per operation, not two per record.
        let key = storeKey.extracting(0..<storeKey.count, in: arena)
        do {
            _ = try XChaCha20Poly1305.open(header.checkTag, key: key, nonce: header.checkNonce, associatedData: header.encoded,
                                           in: arena)
        } catch {
            throw .wrongKeyOrDamagedHeader
        }
        var reader = ByteReader(file)
        reader.offset = header.recordsOffset
        var contents = StoreContents()
        for index in 0..<Int(header.recordCount) {
            let length = Int(try reader.readUInt32())
            var record = ByteReader(try reader.read(length))
            // The identity is authenticated only by the decryption below, so until then any
            // inconsistency in it means the record was damaged.
            let audience: String, issuer: String, clientID: String, nonce: [UInt8], identityEnd: Int
            do {
                audience = try record.readShortString()
                issuer = try record.readShortString()
                clientID = try record.readShortString()
                identityEnd = record.offset
                nonce = Array(try record.read(XChaCha20Poly1305.nonceByteCount))
            } catch {
                throw .damagedRecord(index: index)
            }
            var associatedData = header.encoded
            associatedData.appendBigEndian(UInt32(index))
            associatedData += record.bytes[record.bytes.startIndex..<(record.bytes.startIndex + identityEnd)]
            let plaintext: SecretBytes
            do {
                plaintext = try XChaCha20Poly1305.open(
                    Array(record.remaining), key: key, nonce: nonce, associatedData: associatedData, in: arena)
            } catch {
                throw .damagedRecord(index: index)
            }
            switch parse(plaintext, audience: audience, issuer: issuer, clientID: clientID, arena: arena) {
            case .login(let login)?: contents.logins.append(login)
            case .registration(let registration)?: contents.registrations.append(registration)
            case nil: throw .malformedRecord(index: index)
            }
        }
        guard reader.offset == file.count else { throw .trailingData }
        return contents
    }

    private enum Record {
        case login(StoredLogin)
        case registration(StoredRegistration)
    }

    private static func parse(_ plaintext: SecretBytes, audience: String, issuer: String, clientID: String,
                              arena: SecretArena) -> Record? {
        let metadataLength = plaintext.withBytes { span -> Int? in
            guard span.count >= 4 else { return nil }
            return (0..<4).reduce(0) { $0 << 8 | Int(span[$1]) }
        }
        guard let metadataLength, metadataLength <= plaintext.count - 4 else { return nil }
        let metadataBytes = plaintext.withBytes { span in (4..<(4 + metadataLength)).map { span[$0] } }
        var metadata = ByteReader(metadataBytes[...])
        if metadataBytes.first == registrationRecordLayout {
            _ = try? metadata.readByte()
            return parseRegistration(plaintext, metadataLength: metadataLength, metadata: &metadata,
                                     audience: audience, issuer: issuer, clientID: clientID, arena: arena).map(Record.registration)
        }
        guard let layout = try? metadata.readByte(), layout == 1 || layout == recordLayoutVersion,
              let flags = try? metadata.readByte(),
              let loginTime = try? metadata.readUInt64(),
              let accessExpiry = try? metadata.readUInt64(),
              let refreshExpiry = try? metadata.readUInt64(),
              let refreshLength = try? metadata.readUInt32(),
              let accessLength = try? metadata.readUInt32(),
              let scopeCount = try? metadata.readUInt16()
        else { return nil }
        var scopes: [String] = []
        for _ in 0..<scopeCount {
            guard let scope = try? metadata.readShortString() else { return nil }
            scopes.append(scope)
        }
        guard let subject = try? metadata.readShortString() else { return nil }
        // Layout 1 ends here; layout 2 adds the identity block.
        let identity = layout == 1 ? IdentityBlock(identity: nil, unverifiable: false, idTokenLength: 0) : readIdentity(&metadata)
        guard let identity, metadata.remaining.isEmpty else { return nil }
        let tokensStart = 4 + metadataLength
        guard tokensStart + Int(refreshLength) + Int(accessLength) + identity.idTokenLength == plaintext.count else { return nil }
        guard flags & 1 != 0 || refreshLength == 0, flags & 2 != 0 || accessLength == 0 else { return nil }
        let refreshRange = tokensStart..<(tokensStart + Int(refreshLength))
        let accessRange = refreshRange.upperBound..<(refreshRange.upperBound + Int(accessLength))
        let idRange = accessRange.upperBound..<plaintext.count
        var login = StoredLogin(
            audience: audience, issuer: issuer, clientID: clientID,
            refreshToken: flags & 1 != 0 ? plaintext.extracting(refreshRange, in: arena) : nil,
            accessToken: flags & 2 != 0 ? plaintext.extracting(accessRange, in: arena) : nil,
            accessTokenExpiry: flags & 4 != 0 ? Int64(bitPattern: accessExpiry) : nil,
            refreshTokenExpiry: flags & 8 != 0 ? Int64(bitPattern: refreshExpiry) : nil,
            scopes: scopes, loginTime: Int64(bitPattern: loginTime),
            subject: flags & 16 != 0 ? subject : nil)
        login.identity = identity.identity
        login.identityUnverifiable = identity.unverifiable
        login.idToken = identity.idTokenLength > 0 ? plaintext.extracting(idRange, in: arena) : nil
        return .login(login)
    }
}

/// Reads big-endian integers and length-prefixed strings, failing with `.truncated` at the end.
struct ByteReader {
    let bytes: ArraySlice<UInt8>
    var offset = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes[...] }
    init(_ bytes: ArraySlice<UInt8>) { self.bytes = bytes }

    var remaining: ArraySlice<UInt8> { bytes[(bytes.startIndex + offset)...] }

    mutating func read(_ count: Int) throws(StoreDamage) -> ArraySlice<UInt8> {
        guard count >= 0, count <= bytes.count - offset else { throw .truncated }
        defer { offset += count }
        let start = bytes.startIndex + offset
        return bytes[start..<(start + count)]
    }

    mutating func readByte() throws(StoreDamage) -> UInt8 { try read(1).first! }

    mutating func readUInt16() throws(StoreDamage) -> UInt16 { UInt16(try readInteger(2)) }
    mutating func readUInt32() throws(StoreDamage) -> UInt32 { UInt32(try readInteger(4)) }
    mutating func readUInt64() throws(StoreDamage) -> UInt64 { try readInteger(8) }

    private mutating func readInteger(_ width: Int) throws(StoreDamage) -> UInt64 {
        try read(width).reduce(0) { $0 << 8 | UInt64($1) }
    }

    mutating func readShortString() throws(StoreDamage) -> String {
        let length = Int(try readUInt16())
        guard let text = String(validating: try read(length), as: UTF8.self) else { throw .truncated }
        return text
    }
}

extension [UInt8] {
    mutating func appendBigEndian<I: FixedWidthInteger>(_ value: I) {
        for shift in stride(from: I.bitWidth - 8, through: 0, by: -8) {
            append(UInt8(truncatingIfNeeded: value >> shift))
        }
    }

    mutating func appendShortString(_ text: String, field: String) throws(StoreError) {
        let bytes = Array(text.utf8)
        guard bytes.count <= Int(UInt16.max) else { throw .fieldTooLong(field) }
        appendBigEndian(UInt16(bytes.count))
        self += bytes
    }
}
