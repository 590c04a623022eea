// docker-credential-authctl: the docker-credential-helpers protocol (docker, podman, buildah, skopeo), answering from authd for an audience's registries.
import AuthdClient
import AuthdConfig
import AuthdPosix
import AuthdWire

@main
enum DockerCredentialHelper {
    /// docker matches this exact text on stdout to mean "no credentials here, go on anonymously".
    static let notFound = "credentials not found in native keychain"
    /// docker pushes and pulls for minutes with one credential: it must outlive a long layer upload.
    static let minimumValiditySeconds = 600
    /// A server URL is one short line; `store`'s JSON (server URL, user name, secret) is small too.
    static let maximumInputBytes = 16 * 1024

    static func main() {
        CurrentProcess.ignoreBrokenPipe()
        let arguments = CurrentProcess.arguments()
        let status: Int32
        switch arguments.count > 1 ? arguments[1] : "" {
        case "get": status = run(.get)
        case "erase": status = run(.erase)
        case "list": status = list()
        case "store": status = store()
        case "version":
            Console.out("docker-credential-authctl (authd) \(AuthdProtocol.softwareVersion)\n")
            status = 0
        case "--help", "-h", "help":
            Console.out(manual.help)
            status = 0
        case "--man":
            Console.out(manual.manPage)
            status = 0
        default:
            Console.error("docker-credential-authctl: \(manual.usage) "
                          + "(run by docker, podman or skopeo; --help says more)\n")
            status = 1
        }
        CurrentProcess.exit(status)
    }

    enum Action { case get, erase }

    /// What the program does, in the words `--help` and the man page share.
    static let manual = HelperManual(
        program: "docker-credential-authctl", actions: ["get", "store", "erase", "list", "version"], caller: "docker",
        summary: "docker's credential helper for authd: answers a registry with an audience's access token",
        paragraphs: paragraphs,
        seeAlso: [("authctl", 1), ("authd", 1), ("docker-login", 1)], helpSeeAlso: "authctl(1), docs/clients.md (\"Containers\")")
    private static let paragraphs = [
        "docker, podman, buildah and skopeo run it as a credential helper (the docker-credential-helpers protocol). For `get`, with the registry's server URL on stdin, when an audience lists that registry in `registries` in the authd config, it asks authd for that audience's access token, valid for at least 10 minutes, and prints ServerURL, Username (`registry_username`, else the audience's git user name) and Secret as JSON. A registry no audience lists gets docker's \"credentials not found in native keychain\", so docker goes on anonymously, and authd is never contacted.",
        "`erase` (the registry rejected the token) makes authd stop serving the audience's current token, so the next `get` refreshes it. `store` reads docker's JSON and does nothing: authd keeps the tokens. `list` names every registry the config maps and its user name.",
        "A device-flow login is started only when a person can see the prompt (a controlling terminal); otherwise a missing login is one line on stdout and stderr naming `authctl login AUD`, exit 1.",
        "Set it up with `authctl setup docker`, which adds \"REGISTRY\": \"authctl\" to credHelpers in ~/.docker/config.json (or $DOCKER_CONFIG/config.json) for every registry in the config.",
    ]

    /// docker reads a failing helper's stdout as the error text and shows it; newer docker also
    /// passes the helper's stderr through. Each failure therefore says the same one line on both.
    static func fail(_ message: String) -> Int32 {
        Console.out(message + "\n")
        Console.error("docker-credential-authctl: \(message)\n")
        return 1
    }

    /// The server URL docker sent: one line, a trailing newline allowed.
    static func readServerURL() throws(ClientFailure) -> RegistryHost {
        let bytes = try readInput()
        var text = String(decoding: bytes, as: UTF8.self)
        while let last = text.last, last == "\n" || last == "\r" { text.removeLast() }
        guard !text.isEmpty else {
            throw ClientFailure(exitCode: 1, "no server URL on stdin (docker sends one, e.g. ghcr.io); nothing to answer")
        }
        do {
            return try RegistryHost(parsing: text)
        } catch {
            throw ClientFailure(exitCode: 1, "the server URL on stdin is not a registry name (\(error.message)); not answering for it")
        }
    }

    static func readInput() throws(ClientFailure) -> [UInt8] {
        var bytes: [UInt8] = []
        while true {
            guard let chunk = try? FileDescriptor.standardInput.read(upToCount: 4096), !chunk.isEmpty else { break }
            bytes += chunk
            guard bytes.count <= maximumInputBytes else {
                Wipe.bytes(&bytes)
                throw ClientFailure(exitCode: 1, "more than 16 KiB on stdin; that is not a request from docker")
            }
        }
        return bytes
    }

    static func run(_ action: Action) -> Int32 {
        let registry: RegistryHost
        do {
            registry = try readServerURL()
        } catch {
            return fail(error.message)
        }
        let context = ClientContext()
        do {
            // No config, or a registry no audience lists: docker goes on anonymously, and the
            // daemon is never contacted (so unrelated registries never start it).
            let configuration = try context.loadConfiguration()
            guard let audience = configuration.audience(forRegistry: registry) else {
                Console.out(notFound + "\n")
                return 1
            }
            switch action {
            case .get: try answer(registry, audience: audience, context: context, autostart: configuration.daemon.autostart)
            case .erase: try erase(audience, context: context)
            }
            return 0
        } catch {
            return fail(error.message)
        }
    }

    static func answer(_ registry: RegistryHost, audience: AudienceConfiguration, context: ClientContext,
                       autostart: Bool) throws(ClientFailure) {
        // docker runs helpers with pipes for stdin and stdout; a device flow needs a person at a terminal.
        let terminal = try? Terminal.openControlling()
        let connection = try DaemonLauncher.connect(context, autostart: autostart)
        let payload: JSONValue
        do {
            payload = try RequestExchange.run(
                .get(audience: audience.name, minimumValiditySeconds: minimumValiditySeconds, interactive: terminal != nil),
                on: connection, observer: terminal.map { InteractivePrompt(terminal: $0) })
        } catch where error.protocolCode == .loginNeeded {
            throw ClientFailure(exitCode: 1, "login needed for \(audience.name) (registry \(registry)); run: authctl login \(audience.name)")
        }
        let token = try TokenAnswer.accessToken(payload, audience: audience.name)
        // Username and Secret: the token is a password, never an identity token (`Username: "<token>"`
        // would make docker trade it for a refresh token at the registry).
        let answer = JSONValue.object([
            ("ServerURL", .string(registry.description)),
            ("Username", .string(audience.registryUsername)),
            ("Secret", .string(token)),
        ])
        Console.out(answer.serialized() + "\n")
    }

    /// docker erases what a registry rejected, naming only the server: the daemon stops serving
    /// the audience's current access token (found by its fingerprint), so the next `get` refreshes.
    static func erase(_ audience: AudienceConfiguration, context: ClientContext) throws(ClientFailure) {
        // A daemon that is not running serves nothing: there is nothing to stop, and nothing to start.
        guard let connection = try DaemonLauncher.connectIfRunning(context) else { return }
        let payload: JSONValue
        do {
            payload = try RequestExchange.run(.get(audience: audience.name, minimumValiditySeconds: 0, interactive: false),
                                              on: connection)
        } catch where error.protocolCode == .loginNeeded {
            return
        }
        let fingerprint = TokenAnswer(json: payload).fingerprint
        guard !fingerprint.isEmpty else {
            throw ClientFailure(exitCode: 1, "authd did not say which token it serves for \(audience.name); run: authctl logout \(audience.name)")
        }
        // A connection of its own: the daemon may close one after a final answer.
        _ = try RequestExchange.run(.erase(audience: audience.name, fingerprint: fingerprint),
                                    on: try DaemonLauncher.connect(context, autostart: false))
    }

    /// `store` is a no-op: the daemon keeps the tokens. The input is read (docker writes it) and dropped.
    static func store() -> Int32 {
        if var bytes = try? readInput() { for i in bytes.indices { bytes[i] = 0 } }
        return 0
    }

    /// Every configured registry and its user name, as docker's `list` expects: `{"ghcr.io":"oauth2"}`.
    static func list() -> Int32 {
        do {
            let configuration = try ClientContext().loadConfiguration()
            let entries = configuration.registryUsernames.map { ($0.registry.description, JSONValue.string($0.username)) }
            Console.out(JSONValue.object(entries).serialized() + "\n")
            return 0
        } catch {
            return fail(error.message)
        }
    }
}
