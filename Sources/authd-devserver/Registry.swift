// A container registry stand-in: the Docker Registry v2 token flow and one small OCI image, behind this server's access tokens.

import AuthdWire
import Foundation
import NIOHTTP1
import Synchronization

/// One image, built at start-up with correct digests: an OCI manifest, its config blob and one
/// uncompressed tar layer holding `hello.txt`.
struct RegistryImage: Sendable {
    static let repository = "demo/hello"
    static let tag = "latest"
    static let manifestType = "application/vnd.oci.image.manifest.v1+json"
    static let configType = "application/vnd.oci.image.config.v1+json"
    static let layerType = "application/vnd.oci.image.layer.v1.tar"

    let manifest: [UInt8]
    let manifestDigest: String
    let blobs: [String: [UInt8]]

    init() {
        let layer = Tar.single(name: "hello.txt", contents: Array("hello from authd-devserver\n".utf8))
        let layerDigest = Self.digest(layer)
        let config = Array(JSON.object([
            ("architecture", .string("amd64")), ("os", .string("linux")),
            ("created", .string("2026-01-01T00:00:00Z")),
            ("config", .object([("Cmd", .array([.string("/bin/cat"), .string("/hello.txt")]))])),
            ("rootfs", .object([("type", .string("layers")), ("diff_ids", .array([.string(layerDigest)]))])),
            ("history", .array([.object([("created", .string("2026-01-01T00:00:00Z")), ("created_by", .string("authd-devserver"))])])),
        ]).text.utf8)
        let configDigest = Self.digest(config)
        func descriptor(_ type: String, _ digest: String, _ size: Int) -> JSON {
            .object([("mediaType", .string(type)), ("digest", .string(digest)), ("size", .int(size))])
        }
        manifest = Array(JSON.object([
            ("schemaVersion", .int(2)), ("mediaType", .string(Self.manifestType)),
            ("config", descriptor(Self.configType, configDigest, config.count)),
            ("layers", .array([descriptor(Self.layerType, layerDigest, layer.count)])),
        ]).text.utf8)
        manifestDigest = Self.digest(manifest)
        blobs = [configDigest: config, layerDigest: layer]
    }

    static func digest(_ bytes: [UInt8]) -> String { "sha256:" + SHA256.hex(SHA256.hash(bytes)) }
}

/// A ustar archive of one regular file: the smallest valid image layer.
enum Tar {
    static func single(name: String, contents: [UInt8]) -> [UInt8] {
        var header = [UInt8](repeating: 0, count: 512)
        func put(_ text: String, at offset: Int) {
            for (i, byte) in text.utf8.enumerated() { header[offset + i] = byte }
        }
        func octal(_ value: Int, width: Int) -> String {
            let digits = String(value, radix: 8)
            return String(repeating: "0", count: width - 1 - digits.count) + digits
        }
        put(name, at: 0)
        put(octal(0o644, width: 8), at: 100)
        put(octal(0, width: 8), at: 108)
        put(octal(0, width: 8), at: 116)
        put(octal(contents.count, width: 12), at: 124)
        put(octal(1_767_225_600, width: 12), at: 136)
        put("        ", at: 148)
        put("0", at: 156)
        put("ustar\u{0}00", at: 257)
        let sum = header.reduce(0) { $0 + Int($1) }
        put(octal(sum, width: 7), at: 148)
        header[155] = 0x20
        let padding = (512 - contents.count % 512) % 512
        return header + contents + [UInt8](repeating: 0, count: padding + 1024)
    }
}

/// The registry's side of the token flow: `/v2/` challenges, `/registry/token` trades Basic
/// credentials (any user name, this server's access token as the password) for a registry
/// token, and the image endpoints take that token for as long as the access token it came from
/// stays live (so a revoked or expired access token stops pulls at once).
final class Registry: Sendable {
    static let service = "authd-devserver"
    /// How long a registry token is good for; clients ask again after it, with the password they have.
    static let tokenLifetime = 300.0

    private let image = RegistryImage()
    private let clock = MonotonicClock()
    /// registry token -> (the access token it was issued for, monotonic expiry).
    private let issued = Mutex<[String: (accessToken: String, expires: Double)]>([:])

    func handle(_ req: Request, provider: Provider) -> Outcome {
        req.path == "/registry/token" ? token(req, provider: provider) : api(req, provider: provider)
    }

    private func token(_ req: Request, provider: Provider) -> Outcome {
        var log = LogFields(endpoint: "registry_token", result: "")
        guard let presented = PresentedCredentials(req.headers), !presented.bearer else {
            log.result = "anonymous_refused"
            return Outcome(response: Self.errors(.unauthorized, "UNAUTHORIZED",
                                                 "this registry has no anonymous access: log in with an access token of this server as the password"),
                           log: log)
        }
        log.fp = fingerprint(presented.token)
        guard let owner = provider.activeAccessToken(presented.token) else {
            log.result = "invalid_token"
            return Outcome(response: Self.errors(.unauthorized, "UNAUTHORIZED", "the password is not a live access token of this server"), log: log)
        }
        log.clientId = owner.clientId
        let registryToken = Random.token()
        let now = clock.now()
        issued.withLock { map in
            map = map.filter { $0.value.expires > now }
            map[registryToken] = (presented.token, now + Self.tokenLifetime)
        }
        log.result = "issued"
        return Outcome(response: .json(.object([
            ("token", .string(registryToken)), ("access_token", .string(registryToken)),
            ("expires_in", .int(Int(Self.tokenLifetime))),
        ])), log: log)
    }

    private func api(_ req: Request, provider: Provider) -> Outcome {
        var log = LogFields(endpoint: "registry", result: "")
        let now = clock.now()
        let presented = PresentedCredentials(req.headers)
        let accessToken = presented.flatMap { p in p.bearer ? issued.withLock { map in map[p.token].flatMap { $0.expires > now ? $0.accessToken : nil } } : nil }
        guard let accessToken, let owner = provider.activeAccessToken(accessToken) else {
            log.result = presented == nil ? "unauthorized" : "invalid_token"
            var response = Self.errors(.unauthorized, "UNAUTHORIZED", "authentication required")
            let scope = Self.repository(in: req.path).map { ",scope=\"repository:\($0):pull\"" } ?? ""
            response.headers.append(("WWW-Authenticate", "Bearer realm=\"\(req.base)/registry/token\",service=\"\(Self.service)\"\(scope)"))
            return Outcome(response: response, log: log)
        }
        log.fp = fingerprint(accessToken)
        log.clientId = owner.clientId
        if req.path == "/v2/" || req.path == "/v2" {
            log.result = "ok"
            return Outcome(response: Self.withAPIVersion(.json(.object([]), noStore: false)), log: log)
        }
        let prefix = "/v2/\(RegistryImage.repository)/"
        guard req.path.hasPrefix(prefix) else {
            log.result = "name_unknown"
            return Outcome(response: Self.errors(.notFound, "NAME_UNKNOWN", "this registry has only \(RegistryImage.repository)"), log: log)
        }
        let rest = req.path.dropFirst(prefix.count)
        if rest == "manifests/\(RegistryImage.tag)" || rest == "manifests/\(image.manifestDigest)" {
            log.result = "ok"
            return Outcome(response: Self.content(image.manifest, type: RegistryImage.manifestType, digest: image.manifestDigest), log: log)
        }
        if rest == "tags/list" {
            log.result = "ok"
            return Outcome(response: Self.withAPIVersion(.json(.object([
                ("name", .string(RegistryImage.repository)), ("tags", .array([.string(RegistryImage.tag)])),
            ]), noStore: false)), log: log)
        }
        if rest.hasPrefix("blobs/"), let blob = image.blobs[String(rest.dropFirst("blobs/".count))] {
            log.result = "ok"
            return Outcome(response: Self.content(blob, type: "application/octet-stream", digest: String(rest.dropFirst("blobs/".count))), log: log)
        }
        log.result = rest.hasPrefix("manifests/") ? "manifest_unknown" : "blob_unknown"
        return Outcome(response: Self.errors(.notFound, rest.hasPrefix("manifests/") ? "MANIFEST_UNKNOWN" : "BLOB_UNKNOWN",
                                             "no such manifest or blob in \(RegistryImage.repository)"), log: log)
    }

    static func repository(in path: String) -> String? {
        guard path.hasPrefix("/v2/") else { return nil }
        let rest = path.dropFirst(4)
        for marker in ["/manifests/", "/blobs/", "/tags/"] {
            if let range = rest.range(of: marker) { return String(rest[..<range.lowerBound]) }
        }
        return nil
    }

    static func withAPIVersion(_ response: Response) -> Response {
        var response = response
        response.headers.append(("Docker-Distribution-API-Version", "registry/2.0"))
        return response
    }

    static func content(_ bytes: [UInt8], type: String, digest: String) -> Response {
        withAPIVersion(Response(status: .ok, headers: [("Content-Type", type), ("Docker-Content-Digest", digest)], body: bytes))
    }

    /// The registry API's error body (distribution spec, "Error Codes").
    static func errors(_ status: HTTPResponseStatus, _ code: String, _ message: String) -> Response {
        withAPIVersion(.json(.object([("errors", .array([.object([("code", .string(code)), ("message", .string(message))])]))]),
                             status: status, noStore: false))
    }
}
