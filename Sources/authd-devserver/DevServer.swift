// Entry point: the command line, start-up checks, the listening socket and clean shutdown.

import ArgumentParser
import AuthdWire
import Foundation
import NIOCore
import NIOPosix

/// A duration option: plain seconds or `90s`, `5m`, `2h`, `1d`.
struct Seconds: ExpressibleByArgument, Sendable {
    let value: Int

    init(_ value: Int) { self.value = value }

    init?(argument: String) {
        guard let v = parseDuration(argument) else { return nil }
        value = v
    }

    var defaultValueDescription: String { String(value) }
}

@main
struct DevServer: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "authd-devserver",
        abstract: "A self-contained OAuth 2.0 provider (device flow; authorization code with PKCE) for tests and demos; binds to loopback only.",
        discussion: """
            Serves RFC 8628 device authorization, an authorization endpoint (code with PKCE S256, loopback \
            redirects only), a token endpoint (device_code, authorization_code and refresh_token grants), \
            RFC 7009 revocation, RFC 7662 introspection, RFC 8414 / OpenID discovery, a verification page \
            at /device and, with --git-root, git over HTTP guarded by its own access tokens. \
            A container registry (/v2/, the Docker Registry v2 token flow, one image demo/hello:latest) and a \
            Kubernetes API stand-in (/version, /api, /api/v1/namespaces) take those access tokens too; \
            kubectl needs a TLS front for the latter (docs/devserver.md). \
            It binds to loopback only and is not for production.

            The base URL (for example http://127.0.0.1:41234) is the first line on stdout. \
            Each request is logged as one JSON object per line on stderr; tokens and secrets are never logged. \
            --slow-down and --auto-approve take an optional value: --slow-down, --slow-down=3 or --slow-down 3. \
            See docs/devserver.md.
            """)

    @Option(help: "Address to listen on. Binds to loopback only: 127.0.0.0/8, ::1 or localhost.")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on; 0 picks a free port. The base URL is printed as the first line of stdout.")
    var port = 8765

    @Option(help: ArgumentHelp("Imitate a real provider's wire habits and paths: "
                + ProfileName.allCases.map(\.rawValue).joined(separator: ", ") + " (see docs/devserver.md).",
                valueName: "name"))
    var profile = "standard"

    @Flag(name: .customLong("github-app"),
          help: "With --profile github: GitHub-App user tokens (expiring, with single-use refresh tokens) instead of OAuth-app tokens.")
    var githubApp = false

    @Option(name: .customLong("device-flow-disabled"),
            help: ArgumentHelp("Refuse the device flow as the profile's provider does: app (bare flag): the app has it "
                + "switched off; policy (Entra only): Conditional Access blocks it (AADSTS53003).", valueName: "why"))
    var deviceFlowDisabled: String?

    @Flag(name: .customLong("registration-disabled"),
          help: ArgumentHelp("Refuse dynamic client registration (POST /register answers HTTP 403, in Keycloak's words with "
              + "--profile keycloak), as a provider with anonymous registration switched off does."))
    var registrationDisabled = false

    @Option(name: .customLong("access-token-ttl"),
            help: ArgumentHelp("Access token lifetime (seconds, or 90s/5m/2h/1d; default 3600, GitLab 2h, GitHub App 8h).",
                               valueName: "duration"))
    var accessTokenTTL: Seconds?

    @Option(name: .customLong("refresh-token-ttl"),
            help: ArgumentHelp("Refresh token lifetime; each rotated refresh token gets a fresh one (default 1d, GitHub App 6 months).",
                               valueName: "duration"))
    var refreshTokenTTL: Seconds?

    @Flag(name: .customLong("no-refresh-token"), help: "Issue no refresh tokens.")
    var noRefreshToken = false

    @Flag(name: .customLong("no-rotate"), help: "Keep refresh tokens on refresh (the answer then carries no refresh_token).")
    var noRotate = false

    @Flag(name: .customLong("ignore-narrower-scope"),
          help: "On refresh, check a narrower requested scope but issue the full granted scope (a provider that ignores RFC 6749 §6 narrowing).")
    var ignoreNarrowerScope = false

    @Option(name: .customLong("device-code-ttl"),
            help: ArgumentHelp("Device code lifetime (expires_in of device authorization; default 600, GitHub and Entra 900, GitLab 300).",
                               valueName: "duration"))
    var deviceCodeTTL: Seconds?

    @Option(name: .customLong("authorization-code-ttl"),
            help: ArgumentHelp("Authorization code lifetime (default 60; 0: every code is expired when presented).",
                               valueName: "duration"))
    var authorizationCodeTTL: Seconds?

    @Option(help: ArgumentHelp("Polling interval in whole seconds, sent to clients and enforced with slow_down; 0 allowed.",
                            valueName: "seconds"))
    var interval = 5

    @Option(name: .customLong("slow-down"),
            help: ArgumentHelp("Also answer slow_down to every N-th poll of a device code (bare flag: N=2).", valueName: "N"))
    var slowDown: Int?

    @Flag(help: "The automatic decision is a denial: at once, or when --auto-approve/--auto-approve-after say; at /authorize a redirect with error=access_denied.")
    var deny = false

    @Option(name: .customLong("auto-approve"),
            help: ArgumentHelp("Approve a pending code once it has been polled N times: polls 1..N answer "
                + "authorization_pending, poll N+1 gets the tokens (bare flag: N=1; N=0: the first poll). "
                + "At /authorize, any automatic decision redirects at once.", valueName: "N"))
    var autoApprove: Int?

    @Option(name: .customLong("auto-approve-after"),
            help: ArgumentHelp("Approve a pending code this long after it was issued (seconds, or 90s/5m) "
                + "if nobody decided on the page.", valueName: "duration"))
    var autoApproveAfter: Seconds?

    @Option(name: .customLong("client"),
            help: ArgumentHelp("Register a client (repeatable); with a secret it must authenticate. "
                + "Without any --client every client_id is accepted as public.", valueName: "ID[:SECRET]"))
    var clients: [String] = []

    @Option(name: .customLong("client-scope"),
            help: ArgumentHelp("Restrict a client's scopes (repeatable): it gets the requested scopes within this set, "
                + "or the whole set when it asks for none.", valueName: "ID=SCOPE[,SCOPE...]"))
    var clientScopes: [String] = []

    @Option(name: .customLong("fault"),
            help: ArgumentHelp("Break responses (repeatable). KIND: 500, 502, 503, html, malformed-json, huge, stall, "
                + "reset, slow. ENDPOINT: token (default), device_authorization, revoke, introspect, discovery, all.",
                valueName: "KIND[@ENDPOINT]"))
    var faults: [String] = []

    @Option(name: .customLong("fault-count"),
            help: ArgumentHelp("Each --fault breaks only the first N requests to each endpoint it matches, then stops.",
                               valueName: "N"))
    var faultCount: Int?

    @Option(name: .customLong("git-root"),
            help: ArgumentHelp("Serve the repositories under DIR as git smart HTTP at /git/, for this server's access tokens.",
                               valueName: "DIR"))
    var gitRoot: String?

    @Option(name: .customLong("id-token-alg"), help: "Sign id_tokens with RS256 (default), ES256 or EdDSA; the JWKS publishes all three keys.")
    var idTokenAlgorithm = "RS256"

    @Option(name: .customLong("id-token-fault"),
            help: ArgumentHelp("Spoil every id_token: bad-signature, wrong-aud, wrong-iss, expired, missing-nonce or alg-none; repeatable.",
                               valueName: "FAULT"))
    var idTokenFaults: [String] = []

    @Option(help: ArgumentHelp("How the person signed in, as RFC 8176 amr values (comma-separated; default pwd); each profile puts them where its provider does.",
                               valueName: "METHODS"))
    var amr: String?

    @Option(help: ArgumentHelp("The acr to report (Keycloak defaults to a level from --amr).", valueName: "ACR"))
    var acr: String?

    @Flag(help: "No request log on stderr (the base URL is still printed on stdout).")
    var quiet = false

    /// ArgumentParser has no options with an optional value; a bare `--slow-down` / `--auto-approve`
    /// gets its default here, and a following number is taken as the value.
    static func expandOptionalValues(_ args: [String]) -> [String] {
        let defaults = ["--slow-down": "2", "--auto-approve": "1", "--device-flow-disabled": "app"]
        var out: [String] = []
        var i = 0
        while i < args.count {
            let arg = args[i]
            if arg == "--" { out += args[i...]; break }
            if let value = defaults[arg] {
                if i + 1 < args.count, !args[i + 1].isEmpty, args[i + 1].allSatisfy(\.isNumber) {
                    out.append("\(arg)=\(args[i + 1])")
                    i += 2
                    continue
                }
                out.append("\(arg)=\(value)")
            } else {
                out.append(arg)
            }
            i += 1
        }
        return out
    }

    static func main() {
        do {
            var command = try parseAsRoot(expandOptionalValues(Array(CommandLine.arguments.dropFirst())))
            try command.run()
        } catch {
            exit(withError: error)
        }
    }

    func makeConfig() throws -> Config {
        var c = Config()
        guard let bind = loopbackAddress(for: host) else {
            throw ValidationError("--host \(host) is not a loopback address; authd-devserver binds to loopback only")
        }
        c.bindHost = bind
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0...65535") }
        c.port = port
        guard let name = ProfileName(rawValue: profile) else {
            throw ValidationError("--profile \(profile): expected one of " + ProfileName.allCases.map(\.rawValue).joined(separator: ", "))
        }
        c.profile = Profile(name: name)
        guard let algorithm = SignatureAlgorithm(rawValue: idTokenAlgorithm), algorithm != .ps256 else {
            throw ValidationError("--id-token-alg \(idTokenAlgorithm): expected RS256, ES256 or EdDSA")
        }
        c.idTokens.algorithm = algorithm
        for text in idTokenFaults {
            guard let fault = IDTokenFault(rawValue: text) else {
                throw ValidationError("--id-token-fault \(text): expected " + IDTokenFault.allCases.map(\.rawValue).joined(separator: ", "))
            }
            c.idTokens.faults.insert(fault)
        }
        if let amr { c.idTokens.methods = amr.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } }
        c.idTokens.context = acr
        if githubApp && name != .github { throw ValidationError("--github-app needs --profile github") }
        c.registrationDisabled = registrationDisabled
        if let why = deviceFlowDisabled {
            guard let refusal = DeviceFlowRefusal(rawValue: why) else {
                throw ValidationError("--device-flow-disabled=\(why): expected app or policy")
            }
            if refusal == .policy && name != .entra && name != .entraV1 {
                throw ValidationError("--device-flow-disabled=policy is Entra's Conditional Access block; use it with --profile entra or entra-v1")
            }
            c.deviceFlowDisabled = refusal
        }
        // The providers' documented lifetimes, unless a test asks for others.
        var accessDefault = 3600, refreshDefault = 86400, deviceDefault = 600
        switch name {
        case .github where githubApp: (accessDefault, refreshDefault, deviceDefault) = (28800, 15_897_600, 900)
        // OAuth-app tokens never expire; the server still needs a number, so: a century.
        case .github: (accessDefault, deviceDefault) = (100 * 365 * 86400, 900)
        case .gitlab: (accessDefault, deviceDefault) = (7200, 300)
        case .entra, .entraV1: deviceDefault = 900
        case .bitbucket: accessDefault = 7200
        default: break
        }
        if name == .github && !githubApp && accessTokenTTL != nil {
            throw ValidationError("--access-token-ttl: GitHub OAuth-app tokens never expire; add --github-app for expiring tokens")
        }
        c.accessTokenTTL = accessTokenTTL?.value ?? accessDefault
        c.refreshTokenTTL = refreshTokenTTL?.value ?? refreshDefault
        c.deviceCodeTTL = deviceCodeTTL?.value ?? deviceDefault
        c.authorizationCodeTTL = authorizationCodeTTL?.value ?? c.authorizationCodeTTL
        c.issueRefreshToken = !noRefreshToken && !(name == .github && !githubApp)
        c.rotateRefreshTokens = !noRotate && c.profile.rotatesRefreshTokens
        c.ignoreNarrowerScope = ignoreNarrowerScope
        guard interval >= 0 else { throw ValidationError("--interval must be 0 or more") }
        c.interval = interval
        if let n = slowDown, n < 1 { throw ValidationError("--slow-down=N needs N of 1 or more") }
        c.slowDownEvery = slowDown
        if let n = autoApprove, n < 0 { throw ValidationError("--auto-approve=N needs N of 0 or more") }
        c.autoApproveAfterPolls = autoApprove
        c.autoApproveAfterSeconds = autoApproveAfter?.value
        c.deny = deny
        for spec in clients {
            let parts = spec.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            guard !parts[0].isEmpty else { throw ValidationError("--client \(spec): empty client id") }
            if parts.count == 2 && parts[1].isEmpty { throw ValidationError("--client \(spec): empty secret") }
            guard c.clients[parts[0]] == nil else { throw ValidationError("--client \(parts[0]) given twice") }
            c.clients[parts[0]] = RegisteredClient(id: parts[0], secret: parts.count == 2 ? parts[1] : nil)
        }
        for spec in clientScopes {
            guard let eq = spec.firstIndex(of: "="), eq != spec.startIndex else {
                throw ValidationError("--client-scope \(spec): expected ID=SCOPE[,SCOPE...]")
            }
            let scopes = spec[spec.index(after: eq)...].split(whereSeparator: { $0 == "," || $0 == " " }).map(String.init)
            c.clientScopes[String(spec[..<eq])] = scopes
        }
        do {
            c.faults = try faults.map(FaultSpec.init(parsing:))
        } catch let e as ConfigError {
            throw ValidationError("--fault: \(e.description)")
        }
        if let n = faultCount, n < 0 { throw ValidationError("--fault-count must be 0 or more") }
        c.faultCount = faultCount
        if let dir = gitRoot {
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else {
                throw ValidationError("--git-root \(dir) is not a directory")
            }
            c.gitRoot = URL(fileURLWithPath: dir).standardizedFileURL.path
        }
        c.quiet = quiet
        return c
    }

    func validate() throws { _ = try makeConfig() }

    func run() throws {
        let config = try makeConfig()
        // Writes to a vanished client or a dead CGI child must be errors, not a fatal signal.
        signal(SIGPIPE, SIG_IGN)

        var git: GitBackend?
        if let root = config.gitRoot {
            guard let gitPath = GitBackend.findGit() else {
                throw ValidationError("--git-root needs git on PATH")
            }
            git = GitBackend(root: root, git: gitPath, acceptsBearer: config.profile.gitAcceptsBearer,
                             requiredUsername: config.profile.gitUsername)
        }
        let clock = MonotonicClock()
        let log = RequestLog(quiet: config.quiet)
        let provider = try Provider(config: config, clock: clock)
        let router = Router(config: config, provider: provider, git: git)
        let urlHost = config.bindHost.contains(":") ? "[\(config.bindHost)]" : config.bindHost
        let server = HTTPServer(router: router, log: log, clock: clock, urlHost: urlHost)

        let group = MultiThreadedEventLoopGroup(numberOfThreads: min(2, System.coreCount))
        let channel: Channel
        do {
            channel = try server.bind(group: group, host: config.bindHost, port: config.port)
        } catch {
            try? group.syncShutdownGracefully()
            FileHandle.standardError.write(Data("authd-devserver: cannot listen on \(urlHost):\(config.port): \(error)\n".utf8))
            throw ExitCode(1)
        }
        let boundPort = channel.localAddress?.port ?? config.port
        // First line of stdout, written in one unbuffered write: scripts read it to learn the port.
        try? FileHandle.standardOutput.write(contentsOf: Data("http://\(urlHost):\(boundPort)\n".utf8))

        signal(SIGTERM, SIG_IGN)
        signal(SIGINT, SIG_IGN)
        let sources = [SIGTERM, SIGINT].map { sig in
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { channel.close(promise: nil) }
            source.resume()
            return source
        }
        try? channel.closeFuture.wait()
        git?.terminateAll()
        // Stalled and slow connections are closed with the event loops.
        try? group.syncShutdownGracefully()
        withExtendedLifetime(sources) {}
    }
}
