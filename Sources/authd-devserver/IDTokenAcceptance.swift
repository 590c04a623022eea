// The Kubernetes stand-in's check of an id_token presented as a bearer token: signed by this server, for a client, not expired.

import AuthdOAuth
import AuthdSystem
import AuthdWire

extension IDTokenIssuer {
    /// The client an id_token was issued to, when this server signed it with a key it still
    /// publishes (current or previous generation), `iss` names an issuer it signed for, `aud` is
    /// a registered client (any client when none are registered, as the token endpoint does), and
    /// `exp` is after `now` (no skew: the stand-in is the clock that issued it). nil otherwise.
    /// The checks are the daemon's own verifier's (AuthdOAuth's IDTokenVerifier), not a copy.
    func acceptedClient(_ token: String, registeredClients: Set<String>, now: Int) -> String? {
        // Which issuer and client to expect is read from the unverified claims, then required below.
        guard let claims = CompactJWS.parse(token)?.claims, let issuer = claims["iss"]?.stringValue, hasSigned(issuer: issuer),
              let client = claims["aud"]?.stringValue, registeredClients.isEmpty || registeredClients.contains(client)
        else { return nil }
        let keys = JSONWebKeySet(keys: publishedKeys().map { JSONWebKey(keyID: $0.kid, algorithm: $0.algorithm.rawValue, material: $0.material) })
        let expected = IDTokenExpectations(issuer: issuer, clientID: client, now: Int64(now), allowedSkew: 0)
        let verdict = IDTokenVerifier.verify(token, keys: keys, expected: expected) { algorithm, material, message, signature in
            SignatureVerificationKey.verifies(algorithm, material, message: message, signature: signature)
        }
        guard case .success = verdict else { return nil }
        return client
    }
}
