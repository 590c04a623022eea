// The token store: known-answer file, round trips, damage detection, atomic writes, locking, key sources.
@testable import AuthdStore
import AuthdPosix
import AuthdSystem
import AuthdTestSupport
import Glibc
import AuthdWire
import Testing

private func sampleLogins() -> [StoredLogin] {
    [
        StoredLogin(
            audience: "work-git", issuer: "https://github.example.com", clientID: "Iv1.0123456789abcdef",
            refreshToken: secret("ghr_refresh_token_0001"), accessToken: secret("gho_access_token_0001"),
            accessTokenExpiry: 1_767_225_600, refreshTokenExpiry: 1_782_864_000,
            scopes: ["repo", "read:org"], loginTime: 1_767_222_000, subject: "octocat"),
        StoredLogin(
            audience: "demo", issuer: "", clientID: "authctl-test",
            refreshToken: secret("refresh-only"), scopes: [], loginTime: 1_700_000_000),
    ]
}

private let fixtures = String(#filePath.dropLast("TokenStoreTests.swift".count)) + "Fixtures"

@Suite struct KnownAnswerTests {
    /// The committed store must keep decoding to exactly these values: the format cannot change by accident.
    @Test func fixtureDecodesToKnownContents() throws {
        let directory = TemporaryDirectory()
        try writeFile(directory.path + "/" + TokenStore.fileName, try readFile(fixtures + "/tokens.store"))
        try writeFile(directory.path + "/store.key", try readFile(fixtures + "/store.key"))
        let store = try TokenStore.open(directory: directory.path)
        let logins = try store.load().logins
        #expect(logins.count == 2)
        #expect(logins == sampleLogins())
        #expect(logins[0].refreshToken?.copyString() == "ghr_refresh_token_0001")
        #expect(logins[0].accessToken?.copyString() == "gho_access_token_0001")
        #expect(logins[0].accessTokenExpiry == 1_767_225_600)
        #expect(logins[0].refreshTokenExpiry == 1_782_864_000)
        #expect(logins[0].scopes == ["repo", "read:org"])
        #expect(logins[0].subject == "octocat")
        #expect(logins[1].issuer == "")
        #expect(logins[1].accessToken == nil)
        #expect(logins[1].accessTokenExpiry == nil)
        #expect(logins[1].subject == nil)
        let header = try StoreFormat.readHeader(try readFile(fixtures + "/tokens.store"))
        #expect(header.keyDerivation == .rawKey)
        #expect(header.recordCount == 2)
    }

    /// Run with AUTHD_REGENERATE_STORE_FIXTURE=1 to rewrite the fixture (then review and commit it).
    @Test(.enabled(if: CurrentProcess.environment("AUTHD_REGENERATE_STORE_FIXTURE") == "1"))
    func regenerateFixture() throws {
        let directory = TemporaryDirectory()
        let store = try TokenStore.open(directory: directory.path)
        _ = try store.load().logins
        try store.save(StoreContents(logins: sampleLogins()))
        try writeFile(fixtures + "/tokens.store", try readFile(store.path), permissions: 0o644)
        try writeFile(fixtures + "/store.key", try readFile(directory.path + "/store.key"), permissions: 0o644)
    }
}

@Suite struct RoundTripTests {
    @Test func emptyDirectoryLoadsNothingAndCreatesSafeFiles() throws {
        let parent = TemporaryDirectory()
        let path = parent.path + "/state/authd"
        let store = try TokenStore.open(directory: path)
        #expect(try store.load().logins.isEmpty)
        try store.save(StoreContents(logins: sampleLogins()))
        #expect(try FileSystem.status(path).permissions == 0o700)
        #expect(try FileSystem.status(store.path).permissions == 0o600)
        #expect(try FileSystem.status(path + "/store.key").permissions == 0o600)
        #expect(try FileSystem.status(path + "/store.key").size == 32)
        #expect(try store.load().logins == sampleLogins())
    }

    @Test func savedLoginsSurviveReopening() throws {
        let directory = TemporaryDirectory()
        do {
            let store = try TokenStore.open(directory: directory.path)
            _ = try store.load().logins
            try store.save(StoreContents(logins: sampleLogins()))
        }
        let reopened = try TokenStore.open(directory: directory.path)
        #expect(try reopened.load().logins == sampleLogins())
        try reopened.save(StoreContents(logins: []))
        #expect(try reopened.load().logins.isEmpty)
    }

    @Test func tokensNeverAppearInTheFile() throws {
        let directory = TemporaryDirectory()
        let store = try TokenStore.open(directory: directory.path)
        _ = try store.load().logins
        try store.save(StoreContents(logins: sampleLogins()))
        let file = try readFile(store.path)
        for token in ["ghr_refresh_token_0001", "gho_access_token_0001", "refresh-only", "octocat", "read:org"] {
            let needle = Array(token.utf8)
            let found = (0...(file.count - needle.count)).contains { Array(file[$0..<($0 + needle.count)]) == needle }
            #expect(!found, "\(token) is in the store file in plain text")
        }
        let key = try readFile(directory.path + "/store.key")
        #expect(!(0...(file.count - 32)).contains { Array(file[$0..<($0 + 32)]) == key })
    }

    @Test func groupAccessibleDirectoryIsTightened() throws {
        let directory = TemporaryDirectory()
        try FileSystem.setPermissions(directory.path, 0o755)
        _ = try TokenStore.open(directory: directory.path)
        #expect(try FileSystem.status(directory.path).permissions == 0o700)
    }

    @Test func saveBeforeLoadIsRefused() throws {
        let directory = TemporaryDirectory()
        let store = try TokenStore.open(directory: directory.path)
        #expect(throws: StoreError.self) { try store.save(StoreContents(logins: sampleLogins())) }
    }

    @Test func secondStoreOnTheSameDirectoryIsLockedOut() throws {
        let directory = TemporaryDirectory()
        do {
            let first = try TokenStore.open(directory: directory.path)
            let result = Result { () throws(StoreError) in try TokenStore.open(directory: directory.path) }
            guard case .failure(.locked(let lockFile)) = result else {
                Issue.record("a second store opened while the first holds the lock")
                return
            }
            #expect(lockFile == directory.path + "/store.lock")
            #expect("\(StoreError.locked(lockFile: lockFile))".contains("another authd"))
            withExtendedLifetime(first) {}
        }
        _ = try TokenStore.open(directory: directory.path)  // the lock went with `first`
    }

    @Test func utcTimestamps() {
        #expect(UTCTimestamp.compact(secondsSinceEpoch: 0) == "19700101T000000Z")
        #expect(UTCTimestamp.compact(secondsSinceEpoch: 951_782_400) == "20000229T000000Z")
        #expect(UTCTimestamp.compact(secondsSinceEpoch: 1_767_225_599) == "20251231T235959Z")
    }
}

@Suite struct DamageTests {
    private func encodedSample(key: SecretBytes = testKey()) throws -> [UInt8] {
        try StoreFormat.encode(StoreContents(logins: sampleLogins()), key: key, keyDerivation: .rawKey)
    }

    private func decode(_ file: [UInt8], key: SecretBytes = testKey()) throws(StoreDamage) -> [StoredLogin] {
        try StoreFormat.decode(file, header: try StoreFormat.readHeader(file), key: key).logins
    }

    @Test func everySingleByteFlipFails() throws {
        let file = try encodedSample()
        #expect(try decode(file) == sampleLogins())
        for position in file.indices {
            for mask: UInt8 in [0x01, 0x80, 0xFF] {
                var damaged = file
                damaged[position] ^= mask
                #expect(throws: StoreDamage.self, "flip \(mask) at \(position)") { try decode(damaged) }
            }
        }
    }

    @Test func everyTruncationFails() throws {
        let file = try encodedSample()
        for length in 0..<file.count {
            #expect(throws: StoreDamage.self, "truncated to \(length)") { try decode(Array(file[..<length])) }
        }
        #expect(throws: StoreDamage.trailingData) { try decode(file + [0]) }
    }

    @Test func recordMovedUnderAnotherAudienceFails() throws {
        var file = try encodedSample()
        // "work-git" -> "work-gix": same length, so only the authentication can notice.
        let audience = Array("work-git".utf8)
        let position = (0...(file.count - audience.count)).first { Array(file[$0..<($0 + audience.count)]) == audience }!
        file[position + 7] = UInt8(ascii: "x")
        #expect(throws: StoreDamage.damagedRecord(index: 0)) { try decode(file) }
    }

    @Test func recordMovedIntoAnotherFileFails() throws {
        let first = try encodedSample()
        let second = try encodedSample()
        // Same key, same logins, same layout: only the file id (and nonces) differ.
        let header = try StoreFormat.readHeader(first)
        let spliced = Array(first[..<header.recordsOffset]) + Array(second[header.recordsOffset...])
        #expect(throws: StoreDamage.damagedRecord(index: 0)) { try decode(spliced) }
    }

    @Test func wrongKeyFails() throws {
        #expect(throws: StoreDamage.wrongKeyOrDamagedHeader) { try decode(try encodedSample(), key: testKey(8)) }
        let empty = try StoreFormat.encode(StoreContents(), key: testKey(), keyDerivation: .rawKey)
        #expect(throws: StoreDamage.wrongKeyOrDamagedHeader) { try decode(empty, key: testKey(8)) }
    }

    @Test func unknownVersionIsNamed() throws {
        var file = try encodedSample()
        file[8] = 2
        #expect(throws: StoreDamage.unsupportedVersion(2)) { try decode(file) }
    }

    @Test func damagedStoreIsSetAsideNeverOverwritten() throws {
        let directory = TemporaryDirectory()
        let store = try TokenStore.open(directory: directory.path)
        _ = try store.load().logins
        try store.save(StoreContents(logins: sampleLogins()))
        var file = try readFile(store.path)
        file[file.count - 5] ^= 1
        try writeFile(store.path, file)

        let result = Result { () throws(StoreError) in try store.load().logins }
        guard case .failure(.setAside(let asidePath, let damage)) = result else {
            Issue.record("a damaged store loaded")
            return
        }
        #expect(damage == .damagedRecord(index: 1))
        #expect(asidePath.hasPrefix(store.path + ".corrupt-"))
        #expect(try readFile(asidePath) == file)
        #expect(!FileSystem.exists(store.path))
        #expect(try store.load().logins.isEmpty)
        try store.save(StoreContents(logins: [sampleLogins()[1]]))
        #expect(try store.load().logins == [sampleLogins()[1]])
        #expect(try readFile(asidePath) == file)
    }

    @Test func storeWithAnotherKeyFileIsSetAside() throws {
        let directory = TemporaryDirectory()
        do {
            let store = try TokenStore.open(directory: directory.path)
            _ = try store.load().logins
            try store.save(StoreContents(logins: sampleLogins()))
        }
        try FileSystem.remove(directory.path + "/store.key")
        let store = try TokenStore.open(directory: directory.path)
        #expect {
            _ = try store.load().logins
        } throws: { error in
            guard case StoreError.setAside(_, .wrongKeyOrDamagedHeader) = error else { return false }
            return "\(error)".contains("wrong key")
        }
        #expect(directory.entries().contains { $0.hasPrefix(TokenStore.fileName + ".corrupt-") })
    }

    @Test func garbageFileIsSetAside() throws {
        let directory = TemporaryDirectory()
        try writeFile(directory.path + "/" + TokenStore.fileName, Array("not a store".utf8))
        let store = try TokenStore.open(directory: directory.path)
        #expect(throws: StoreError.self) { _ = try store.load().logins }
        #expect(try store.load().logins.isEmpty)
    }
}

/// Fails writes on demand, optionally after writing part of the file, like a full disk.
private final class FailingFileSystem: StoreFileSystem {
    let real = PosixStoreFileSystem()
    let failWrites: Bool

    init(failWrites: Bool) { self.failWrites = failWrites }

    func readFile(_ path: String, maximumBytes: Int) throws(Errno) -> [UInt8]? { try real.readFile(path, maximumBytes: maximumBytes) }
    func writeNewFile(_ path: String, _ bytes: [UInt8]) throws(Errno) {
        guard failWrites else { return try real.writeNewFile(path, bytes) }
        try real.writeNewFile(path, Array(bytes.prefix(bytes.count / 2)))
        throw .noSpace
    }
    func rename(_ source: String, to destination: String) throws(Errno) { try real.rename(source, to: destination) }
    func syncDirectory(_ directory: String) throws(Errno) { try real.syncDirectory(directory) }
    func removeIfPresent(_ path: String) throws(Errno) { try real.removeIfPresent(path) }
    func exists(_ path: String) -> Bool { real.exists(path) }
}

extension FailingFileSystem: @unchecked Sendable {}

@Suite struct WriteFailureTests {
    @Test func failedWriteLeavesThePreviousStoreLoadable() throws {
        let directory = TemporaryDirectory()
        do {
            let store = try TokenStore.open(directory: directory.path)
            _ = try store.load().logins
            try store.save(StoreContents(logins: sampleLogins()))
        }
        let failing = try TokenStore.open(directory: directory.path, fileSystem: FailingFileSystem(failWrites: true))
        #expect(try failing.load().logins == sampleLogins())
        #expect {
            try failing.save(StoreContents(logins: []))
        } throws: { error in
            guard case StoreError.writeFailed(_, .noSpace) = error else { return false }
            return "\(error)".contains("previous store is unchanged")
        }
        #expect(directory.entries() == ["store.key", "store.lock", TokenStore.fileName])
        #expect(try failing.load().logins == sampleLogins())
    }

    @Test(.timeLimit(.minutes(2)))
    func killedWriterAlwaysLeavesALoadableStore() throws {
        let directory = TemporaryDirectory()
        let torture = try helperBinary("authd-store-torture")
        var lastGeneration: Int64 = 0
        var random = SystemRandomNumberGenerator()
        for round in 0..<100 {
            let child = try SpawnedProcess.spawn(executable: torture, arguments: [directory.path], standardError: .inherit)
            // The first round lets the writer finish a save (however slowly a loaded machine starts it),
            // so the rounds after it always have a store to damage and the last check cannot fail by timing.
            if round == 0 {
                let deadline = ContinuousClock.now + .seconds(60)
                while !FileSystem.exists(directory.path + "/" + TokenStore.fileName), ContinuousClock.now < deadline {
                    usleep(5_000)
                }
            }
            // Vary the moment of death across the write, fsync, rename and directory fsync.
            usleep(UInt32.random(in: 2_000...25_000, using: &random))
            try child.send(.kill)
            #expect(try child.wait() == .signalled(SIGKILL), "round \(round): the writer ended by itself")
            let store = try TokenStore.open(directory: directory.path)
            let logins = try store.load().logins
            if let generation = logins.first?.loginTime {
                #expect(logins.count == 3)
                #expect(logins.allSatisfy { $0.loginTime == generation }, "round \(round): mixed generations")
                #expect(generation >= lastGeneration)
                lastGeneration = generation
            }
        }
        #expect(lastGeneration > 0, "the writer never completed a save")
        #expect(!directory.entries().contains { $0.contains("corrupt") })
    }
}

@Suite struct KeySourceTests {
    @Test func passphraseRoundTripAndWrongPassphrase() throws {
        let directory = TemporaryDirectory()
        let source = StoreKeySource.passphrase(secret("correct horse battery staple"), parameters: .interactive)
        do {
            let store = try TokenStore.open(directory: directory.path, keySource: source)
            _ = try store.load().logins
            try store.save(StoreContents(logins: sampleLogins()))
            try store.save(StoreContents(logins: sampleLogins()))  // reuses the derived key and salt
        }
        #expect(!FileSystem.exists(directory.path + "/store.key"))
        let header = try StoreFormat.readHeader(try readFile(directory.path + "/" + TokenStore.fileName))
        #expect(header.keyDerivation.identifier == 2)
        do {
            let store = try TokenStore.open(directory: directory.path, keySource: source)
            #expect(try store.load().logins == sampleLogins())
        }
        let wrong = try TokenStore.open(
            directory: directory.path, keySource: .passphrase(secret("wrong"), parameters: .interactive))
        #expect(throws: StoreError.self) { _ = try wrong.load().logins }
    }

    @Test func keySourceMismatchIsNamed() throws {
        let directory = TemporaryDirectory()
        do {
            let store = try TokenStore.open(directory: directory.path)
            _ = try store.load().logins
            try store.save(StoreContents(logins: sampleLogins()))
        }
        let store = try TokenStore.open(
            directory: directory.path, keySource: .passphrase(secret("pass"), parameters: .interactive))
        #expect {
            _ = try store.load().logins
        } throws: { error in
            guard case StoreError.setAside(_, .keySourceMismatch) = error else { return false }
            return true
        }
    }

    @Test func credentialKeyMustBe32Bytes() throws {
        let directory = TemporaryDirectory()
        let credentials = TemporaryDirectory()
        let keyPath = credentials.path + "/" + StoreKeySource.credentialKeyName
        try writeFile(keyPath, Array("too short".utf8))
        let bad = try TokenStore.open(directory: directory.path, keySource: .credentialKey(path: keyPath))
        _ = try bad.load().logins
        #expect(throws: StoreError.self) { try bad.save(StoreContents(logins: sampleLogins())) }

        try writeFile(keyPath, [UInt8](repeating: 0x42, count: 32))
        let good = try TokenStore.open(directory: directory.path + "/2", keySource: .credentialKey(path: keyPath))
        _ = try good.load().logins
        try good.save(StoreContents(logins: sampleLogins()))
        #expect(try good.load().logins == sampleLogins())
        #expect(!FileSystem.exists(directory.path + "/2/store.key"))
    }

    @Test func environmentPicksTheCredentialWhenPresent() throws {
        let credentials = TemporaryDirectory()
        // Other tests do not read CREDENTIALS_DIRECTORY, so setting it here is safe.
        try CurrentProcess.setEnvironment("CREDENTIALS_DIRECTORY", credentials.path)
        defer { try? CurrentProcess.setEnvironment("CREDENTIALS_DIRECTORY", nil) }
        guard case .keyFile = StoreKeySource.fromEnvironment() else { Issue.record("expected the key file"); return }
        try writeFile(credentials.path + "/" + StoreKeySource.credentialKeyName, [UInt8](repeating: 1, count: 32))
        guard case .credentialKey = StoreKeySource.fromEnvironment() else { Issue.record("expected the credential"); return }
    }
}

/// Finds a helper executable: `$AUTHD_BIN_DIR`, else the build directory holding this test bundle.
func helperBinary(_ name: String) throws -> String {
    if let directory = CurrentProcess.environment("AUTHD_BIN_DIR") { return directory + "/" + name }
    let executable = try FileSystem.readLink("/proc/self/exe")
    var directory = String(executable[..<executable.lastIndex(of: "/")!])
    // The bundle may be nested (…/debug/authdPackageTests.xctest); walk up to the directory holding the helper.
    while !directory.isEmpty {
        if FileSystem.exists(directory + "/" + name) { return directory + "/" + name }
        directory = String(directory[..<(directory.lastIndex(of: "/") ?? directory.startIndex)])
    }
    throw Errno.noSuchFileOrDirectory
}
