// The router's answer to a cached `get` on the socket loop itself: snapshot, decision, scratch, audit, reply.
import AuthdSystem
import AuthdWire

extension RequestRouter {
    /// A cached `get` answered from the audience's published snapshot when `LoopAnswer.decide` says
    /// it may be, opened in `scratch` and encoded (the token is audited first, as the agent does);
    /// nil for everything else, which the agent answers after the hop.
    public func answerOnLoop(_ request: Request, from client: ClientIdentity, scratch: SecretScratch) -> [UInt8]? {
        guard case let .get(audience, minValid, interactive) = request else { return nil }
        // An edited config is served at once: a changed file is reloaded after the hop.
        if configFileChangedThisTurn() { return nil }
        guard let entry = entry(named: audience) else { return nil }
        let slot = entry.agent.serving
        guard let snapshot = slot.snapshot else { return nil }
        let loopRequest = LoopRequest(minimumValidity: .seconds(minValid), canPrompt: interactive,
                                      throughForward: client.forward != nil)
        guard case .serve(let short) = LoopAnswer.decide(snapshot, loopRequest, now: slot.clock.monotonicNow()),
              let sealed = snapshot.login.accessToken, let fingerprint = snapshot.login.accessTokenFingerprint else { return nil }
        let login = snapshot.login
        // A token that does not open here (larger than the scratch, or a vault failure) is left to the agent.
        return try? scratch.open(sealed, with: slot.vault, context: VaultContext.access(audience)) { token in
            // Held until the loop's turn ends (loopTurnEnded): one wake-up of the audit writer per turn.
            audit.hold(.tokenServed(audience, client: client, scopes: login.scopes, fingerprint: fingerprint))
            return SocketLoop.encode(.token(ServedToken(token: token, tokenType: login.tokenType, expiresAtWall: login.accessExpiry?.wall,
                                                        scopes: login.scopes, fingerprint: fingerprint, shortOfMinimumValidity: short)))
        }
    }

    /// Releases the audit records `answerOnLoop` held this turn.
    public func loopTurnEnded() {
        forgetConfigCheck()
        audit.releaseHeld()
    }
}
