// The `get` line authctl kube-credential --token id sends: a get with "token":"id" (the daemon's side comes with verified id_tokens).
import AuthdWire
import Testing

@Suite struct IDTokenRequestTests {
    @Test("getIDToken is a get with token id, for the same audience and validity")
    func encoding() {
        let request = Request.getIDToken(audience: "work", minimumValiditySeconds: 60, interactive: false)
        #expect(request.operation == "get")
        #expect(request.audience == "work")
        #expect(String(decoding: request.line(), as: UTF8.self)
                == #"{"v":1,"op":"get","audience":"work","min_valid":60,"interactive":false,"token":"id"}"# + "\n")
        // A plain get never asks for an id_token.
        #expect(!String(decoding: Request.get(audience: "work", minimumValiditySeconds: 60, interactive: false).line(), as: UTF8.self)
            .contains("token"))
    }
}
