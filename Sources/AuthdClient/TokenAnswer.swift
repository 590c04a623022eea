// The token in a `get` answer (AuthdWire's TokenAnswer), checked before it is printed into a shell or an HTTP header.
import AuthdWire

extension TokenAnswer {
    /// The access token of a `get` answer. A token with whitespace or control characters would
    /// break `$(authctl get ...)` and header lines, so it is refused rather than printed.
    public static func accessToken(_ payload: JSONValue, audience: String) throws(ClientFailure) -> String {
        guard let token = Self.token(.access, in: payload), !token.isEmpty else {
            throw ClientFailure(.providerOrNetwork,
                                "authd answered without a token for \(audience); try again, or run: authctl login \(audience)")
        }
        return try printable(token, "a token", audience: audience)
    }
}

extension TokenAnswer {
    /// The verified id_token of a `get` with `"token":"id"`. Today's daemon answers one or fails
    /// with its own words (e.g. an audience with neither issuer nor jwks_uri, which cannot verify).
    /// Only a daemon older than `"token"` answers `ok` without one, with an access token instead:
    /// that is refused, never served as an id_token.
    public static func idToken(_ payload: JSONValue, audience: String) throws(ClientFailure) -> String {
        guard let token = Self.token(.id, in: payload), !token.isEmpty else {
            let why = Self.token(.access, in: payload) != nil
                ? "an access token instead: the running authd is older than this authctl and does not serve id tokens; restart it (systemctl --user restart authd), or use --token access"
                : "no token at all; try again, or run: authctl login \(audience)"
            throw ClientFailure(.providerOrNetwork, "authd answered \(audience) without an id_token, with \(why)")
        }
        // A JWT is three base64url parts: nothing else is printed.
        return try printable(token, "an id_token", audience: audience)
    }
}

extension TokenAnswer {
    /// A token with whitespace or control characters would break `$(authctl get ...)`, header
    /// lines and helper protocols, so it is refused rather than printed.
    static func printable(_ token: String, _ what: String, audience: String) throws(ClientFailure) -> String {
        guard token.utf8.allSatisfy({ $0 > 0x20 && $0 != 0x7F }) else {
            throw ClientFailure(.providerOrNetwork,
                                "the provider issued \(what) for \(audience) with spaces or control characters, which cannot be printed safely")
        }
        return token
    }
}
