// The key file's owner and mode: one others could read is tightened with a warning to rotate; one not ours is refused.
import AuthdPosix
import AuthdStore
import AuthdSystem
import AuthdTestSupport
import Glibc
import Synchronization
import Testing

private func storedLogin() -> StoredLogin {
    StoredLogin(audience: "demo", issuer: "", clientID: "authctl-test", refreshToken: secret("refresh-only"),
                scopes: [], loginTime: 1_700_000_000)
}

@Suite struct KeyFilePermissionTests {
    @Test func aKeyFileOthersCouldReadIsTightenedAndTheOwnerToldToRotate() throws {
        let directory = TemporaryDirectory()
        do {
            let store = try TokenStore.open(directory: directory.path)
            _ = try store.load().logins
            try store.save(StoreContents(logins: [storedLogin()]))
        }
        let keyPath = directory.path + "/store.key"
        try FileSystem.setPermissions(keyPath, 0o644)
        let warnings = Mutex<[String]>([])
        let reopened = try TokenStore.open(directory: directory.path, warn: { message in warnings.withLock { $0.append(message) } })
        #expect(try reopened.load().logins.count == 1)
        #expect(try FileSystem.status(keyPath).permissions == 0o600)
        let said = warnings.withLock { $0 }
        #expect(said.count == 1)
        #expect(said.first?.contains("\(keyPath) had mode 0644") == true)
        #expect(said.first?.contains("may already have been copied") == true)
        #expect(said.first?.contains("Rotating the store key") == true)
    }

    @Test func aPrivateKeyFileGivesNoWarning() throws {
        let directory = TemporaryDirectory()
        do {
            let store = try TokenStore.open(directory: directory.path)
            _ = try store.load().logins
            try store.save(StoreContents(logins: [storedLogin()]))
        }
        let warnings = Mutex<[String]>([])
        let reopened = try TokenStore.open(directory: directory.path, warn: { message in warnings.withLock { $0.append(message) } })
        #expect(try reopened.load().logins.count == 1)
        #expect(warnings.withLock { $0 }.isEmpty)
    }

    @Test(.enabled(if: getuid() == 0, "needs root to give the key file to another uid"))
    func aKeyFileOwnedBySomeoneElseIsRefused() throws {
        let directory = TemporaryDirectory()
        do {
            let store = try TokenStore.open(directory: directory.path)
            _ = try store.load().logins
            try store.save(StoreContents(logins: [storedLogin()]))
        }
        let keyPath = directory.path + "/store.key"
        #expect(chown(keyPath, 65534, 65534) == 0)
        let reopened = try TokenStore.open(directory: directory.path)
        #expect {
            _ = try reopened.load().logins
        } throws: { error in
            "\(error)".contains("owned by uid 65534, not by uid 0")
        }
    }

    @Test func aFIFOAsTheKeyFileIsRefusedWithoutWaiting() throws {
        let directory = TemporaryDirectory()
        let keyPath = directory.path + "/store.key"
        #expect(mkfifo(keyPath, 0o600) == 0)
        let store = try TokenStore.open(directory: directory.path)
        _ = try store.load().logins
        // No store file yet, so the key is first needed here; a blocking open would hang the test.
        #expect {
            try store.save(StoreContents(logins: [storedLogin()]))
        } throws: { error in
            "\(error)".contains("FIFO")
        }
    }
}
