// Test helper: rewrites a token store in a tight loop until killed, for the kill-while-writing test.
import AuthdStore
import AuthdSystem
import Glibc

// Usage: authd-store-torture DIRECTORY
// Every save holds three logins of one generation; a reader that ever sees mixed generations,
// or a store that does not load, has found a non-atomic write.
func main() -> Int32 {
    guard CommandLine.arguments.count == 2 else { return 2 }
    do {
        let store = try TokenStore.open(directory: CommandLine.arguments[1])
        var generation = Int64(try store.load().logins.first?.loginTime ?? 0)
        while true {
            generation += 1
            let logins = (0..<3).map { index in
                StoredLogin(
                    audience: "audience-\(index)", issuer: "https://issuer.example", clientID: "client",
                    refreshToken: SecretBytes(copying: "refresh-\(generation)-\(index)"),
                    accessToken: SecretBytes(copying: String(repeating: "a", count: 2000) + "-\(generation)"),
                    accessTokenExpiry: generation + 3600, scopes: ["openid", "offline_access"],
                    loginTime: generation)
            }
            try store.save(StoreContents(logins: logins))
        }
    } catch {
        print("authd-store-torture: \(error)")
        return 1
    }
}

exit(main())
