// Client registration records (client_id = "register"): round trip, the old fixture still loading, field bounds.
@testable import AuthdStore
import AuthdSystem
import AuthdTestSupport
import Testing

private let fixtures = String(#filePath.dropLast("RegistrationRecordTests.swift".count)) + "Fixtures"

private func registrations() -> [StoredRegistration] {
    [
        StoredRegistration(audience: "sso", issuer: "https://sso.example.com/realms/eng", clientID: "c0ffee-1234",
                           registrationAccessToken: secret("eyJhbGciOiJIUzI1NiJ9.rat"),
                           registrationClientURI: "https://sso.example.com/realms/eng/clients-registrations/openid-connect/c0ffee-1234",
                           registeredAt: 1_800_000_000),
        // A provider that offers no management: nothing to delete later.
        StoredRegistration(audience: "plain", issuer: "https://idp.example", clientID: "p-1", registeredAt: 1_800_000_100),
    ]
}

@Suite struct RegistrationRecordTests {
    @Test func registrationsAndLoginsRoundTrip() throws {
        let directory = TemporaryDirectory()
        let store = try TokenStore.open(directory: directory.path)
        #expect(try store.load() == StoreContents())
        let login = StoredLogin(audience: "sso", issuer: "https://sso.example.com/realms/eng", clientID: "register",
                                refreshToken: secret("refresh-1"), scopes: ["openid"], loginTime: 1_800_000_010)
        let contents = StoreContents(logins: [login], registrations: registrations())
        try store.save(contents)
        let loaded = try store.load()
        #expect(loaded == contents)
        #expect(loaded.registrations[0].registrationAccessToken?.copyString() == "eyJhbGciOiJIUzI1NiJ9.rat")
        #expect(loaded.registrations[1].registrationAccessToken == nil && loaded.registrations[1].registrationClientURI == nil)
        // The token is sealed: its bytes are not in the file.
        let file = try readFile(store.path)
        #expect(!String(decoding: file, as: UTF8.self).contains("eyJhbGciOiJIUzI1NiJ9.rat"))
        // Saving without registrations drops them (the daemon's persistence always passes them on).
        try store.save(StoreContents(logins: [login]))
        #expect(try store.load().registrations.isEmpty)
    }

    /// Migration: a store written before registration records existed loads with none, and the next
    /// save (now with one) loads back with both its logins and the registration.
    @Test func aStoreFromBeforeRegistrationsLoadsAndGainsOne() throws {
        let directory = TemporaryDirectory()
        try writeFile(directory.path + "/" + TokenStore.fileName, try readFile(fixtures + "/tokens.store"))
        try writeFile(directory.path + "/store.key", try readFile(fixtures + "/store.key"))
        let store = try TokenStore.open(directory: directory.path)
        var contents = try store.load()
        #expect(contents.logins.count == 2)
        #expect(contents.registrations.isEmpty)
        contents.registrations = [registrations()[0]]
        try store.save(contents)
        let loaded = try store.load()
        #expect(loaded.logins == contents.logins)
        #expect(loaded.registrations == [registrations()[0]])
        #expect(try StoreFormat.readHeader(try readFile(store.path)).recordCount == 3)
    }

    @Test func registrationRecordsEncodeAloneAndRefuseOverlongFields() throws {
        let key = SecretBytes.random(count: 32)
        var registration = registrations()[0]
        registration.registrationClientURI = String(repeating: "x", count: 70_000)
        #expect(throws: StoreError.self) {
            _ = try StoreFormat.encode(StoreContents(registrations: [registration]), key: key, keyDerivation: .rawKey)
        }
        let file = try StoreFormat.encode(StoreContents(registrations: registrations()), key: key, keyDerivation: .rawKey)
        let header = try StoreFormat.readHeader(file)
        #expect(try StoreFormat.decode(file, header: header, key: key) == StoreContents(registrations: registrations()))
    }
}
