// The credentials a request presents in its Authorization header: the one reading for git, the registry and the Kubernetes stand-in.

import Foundation
import NIOHTTP1

struct PresentedCredentials: Sendable {
    /// The Basic user name; nil for Bearer.
    let user: String?
    let token: String
    let bearer: Bool

    /// `Basic base64(user:TOKEN)` or `Bearer TOKEN`; nil for anything else or an empty token.
    init?(_ headers: HTTPHeaders) {
        guard let header = headers.first(name: "Authorization") else { return nil }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2 else { return nil }
        let value = parts[1].trimmingCharacters(in: .whitespaces)
        switch parts[0].lowercased() {
        case "bearer":
            guard !value.isEmpty else { return nil }
            (user, token, bearer) = (nil, value, true)
        case "basic":
            guard let data = Data(base64Encoded: value), let text = String(data: data, encoding: .utf8),
                  let colon = text.firstIndex(of: ":") else { return nil }
            let token = String(text[text.index(after: colon)...])
            guard !token.isEmpty else { return nil }
            (user, self.token, bearer) = (String(text[..<colon]), token, false)
        default:
            return nil
        }
    }
}
