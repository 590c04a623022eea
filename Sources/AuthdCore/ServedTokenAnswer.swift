// A served token as its `get` reply line: AuthdWire's TokenAnswer written around the secret bytes.
import AuthdWire

extension ServedToken {
    /// What the answer says of the token, without the token.
    var answer: TokenAnswer {
        TokenAnswer(kind: kind == .id ? .id : .access, tokenType: tokenType, expiresAt: expiresAtWall, scopes: scopes,
                    fingerprint: fingerprint, shortOfMinimumValidity: shortOfMinimumValidity)
    }

    /// The reply line, newline included; the token goes from secret memory into the bytes (no String copy).
    func replyLine() -> [UInt8] {
        let answer = self.answer
        var line: [UInt8] = []
        token.withBytes { span in answer.writeLine(token: span, into: &line) }
        return line
    }
}
