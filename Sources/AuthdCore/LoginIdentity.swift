// Who a login belongs to (issuer and client id): the key that decides whether a stored login may be restored.

/// Who a login belongs to: a stored login is restored only into an audience with the same
/// issuer, client id and token/revocation origins (`Daemon.identity(of:)`), so a config edit that
/// points an audience elsewhere never reuses it.
public struct LoginIdentity: Sendable, Equatable {
    /// The issuer, then the other origins the tokens are sent to, space-separated (stored as the
    /// record's issuer field; docs/store-format.md).
    public var issuer: String
    public var clientID: String

    public init(issuer: String, clientID: String) {
        self.issuer = issuer
        self.clientID = clientID
    }
}
