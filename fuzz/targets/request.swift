// libFuzzer target: the socket protocol's decoders (Request, ReplyLine, JSONValue) on one line of bytes.
//
// Oracles besides "no crash, no sanitizer report":
// - whatever JSONValue.parse accepts serializes to text that parses back to the same value;
// - a decoded Request re-encodes to a line that decodes to the same Request, without an inner newline;
// - a decoded ReplyLine re-encodes to a line that is a fixed point of decode + encode;
// - the input as a token's bytes: TokenAnswer's get line (written around raw bytes) has no inner
//   newline, decodes, and gives back the token when the bytes are UTF-8, the same bytes JSONValue writes.
@testable import AuthdWire

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRequest(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let line = Array(UnsafeBufferPointer(start: data, count: size))

    if let value = try? JSONValue.parse(line, maximumDepth: 64) {
        let text = value.serializedBytes()
        guard let again = try? JSONValue.parse(text, maximumDepth: 64) else {
            fatalError("JSON round trip: serialized text does not parse: \(String(decoding: text, as: UTF8.self))")
        }
        precondition(again == value, "JSON round trip changed the value: \(String(decoding: text, as: UTF8.self))")
    }

    if let request = try? Request.decode(line) {
        let encoded = request.line()
        precondition(encoded.last == 0x0A && !encoded.dropLast().contains(0x0A), "request line has an inner newline")
        do {
            let again = try Request.decode(encoded.dropLast())
            precondition(again == request, "request round trip changed \(request) into \(again)")
        } catch {
            fatalError("request round trip: \(request) re-encoded does not decode: \(error)")
        }
        if let audience = request.audience { precondition(AudienceName.isValid(audience), "decoded an invalid audience") }
    }

    if let reply = try? ReplyLine.decode(line) {
        let encoded = reply.line()
        precondition(encoded.last == 0x0A && !encoded.dropLast().contains(0x0A), "reply line has an inner newline")
        do {
            let again = try ReplyLine.decode(encoded.dropLast())
            precondition(again.line() == encoded, "reply line is not a fixed point of decode + encode")
            precondition(again.isFinal == reply.isFinal, "reply finality changed")
        } catch {
            fatalError("reply round trip: re-encoded reply does not decode: \(error)")
        }
    }
    let answer = TokenAnswer(tokenType: "Bearer", expiresAt: 1, scopes: ["a", "b"], fingerprint: "0123456789abcdef")
    var tokenLine: [UInt8] = []
    answer.writeLine(token: line.span, into: &tokenLine)
    precondition(tokenLine.last == 0x0A && !tokenLine.dropLast().contains(0x0A), "token line has an inner newline")
    if let text = String(validating: line, as: UTF8.self) {
        guard case .success(let payload)? = try? ReplyLine.decode(tokenLine.dropLast()) else {
            fatalError("token line does not decode: \(String(decoding: tokenLine, as: UTF8.self))")
        }
        precondition(TokenAnswer.token(.access, in: payload) == text && TokenAnswer(json: payload) == answer, "token line round trip")
        precondition(tokenLine == ReplyLine.success(.object([("access_token", .string(text))] + answer.members())).line(),
                     "token line differs from JSONValue's")
    }
    return 0
}
