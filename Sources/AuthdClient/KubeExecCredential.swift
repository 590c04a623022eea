// client-go's exec credential plugin protocol (client.authentication.k8s.io v1 and v1beta1): what kubectl asks, what authctl answers.
import AuthdWire

/// What kubectl tells an exec plugin in `KUBERNETES_EXEC_INFO`, and the `ExecCredential` it gets back.
public struct KubeExecCredential: Sendable, Equatable {
    public enum APIVersion: String, Sendable, CaseIterable {
        case v1 = "client.authentication.k8s.io/v1"
        case v1beta1 = "client.authentication.k8s.io/v1beta1"
    }

    /// The version to answer in: the one kubectl named, v1 when it named none.
    public var apiVersion: APIVersion
    /// `spec.interactive`: whether kubectl handed the plugin a terminal to prompt on; nil when
    /// kubectl sent no `KUBERNETES_EXEC_INFO` (then the terminal rule of `authctl get` applies).
    public var interactive: Bool?

    public init(apiVersion: APIVersion = .v1, interactive: Bool? = nil) {
        self.apiVersion = apiVersion
        self.interactive = interactive
    }

    /// kubectl's request is at most a few hundred bytes (a cluster's CA may add a few KiB).
    public static let maximumInfoBytes = 1 << 20

    /// Reads `KUBERNETES_EXEC_INFO`; nil or empty means kubectl sent none (older clients, a person
    /// running the plugin by hand).
    public static func request(fromEnvironment text: String?) throws(ClientFailure) -> KubeExecCredential {
        guard let text, !text.isEmpty else { return KubeExecCredential() }
        guard text.utf8.count <= maximumInfoBytes else {
            throw .usage("KUBERNETES_EXEC_INFO is larger than 1 MiB; it is not what kubectl sends")
        }
        let value: JSONValue
        do {
            value = try JSONValue.parse(text, maximumDepth: 16)
        } catch {
            throw .usage("KUBERNETES_EXEC_INFO is not JSON (\(error.reason) at byte \(error.offset)); it should come from kubectl")
        }
        if let kind = value["kind"], kind.stringValue != "ExecCredential" {
            throw .usage("KUBERNETES_EXEC_INFO is not an ExecCredential; it should come from kubectl")
        }
        var request = KubeExecCredential()
        if let version = value["apiVersion"] {
            guard let name = version.stringValue, let known = APIVersion(rawValue: name) else {
                let named = TerminalText.clean(String((version.stringValue ?? "?").prefix(80)))
                throw .usage("kubectl asked for ExecCredential \(named); authctl kube-credential answers "
                             + "client.authentication.k8s.io/v1 and v1beta1: set that apiVersion in the kubeconfig's exec entry")
            }
            request.apiVersion = known
        }
        if let spec = value["spec"], let interactive = spec["interactive"] {
            guard let flag = interactive.boolValue else { throw .usage("KUBERNETES_EXEC_INFO: spec.interactive is not a boolean") }
            request.interactive = flag
        }
        return request
    }

    /// The answer on stdout. `expiresAt` (Unix seconds) becomes `expirationTimestamp`, in UTC,
    /// after which client-go runs the plugin again; without it client-go keeps the token until a 401.
    public func answer(token: String, expiresAt: Int64?) -> String {
        var status: [(String, JSONValue)] = [("token", .string(token))]
        if let expiresAt { status.append(("expirationTimestamp", .string(UTCTimestamp.iso8601(expiresAt)))) }
        return JSONValue.object([
            ("apiVersion", .string(apiVersion.rawValue)), ("kind", .string("ExecCredential")), ("status", .object(status)),
        ]).serialized() + "\n"
    }

    /// The kubeconfig `users:` entry that runs `authctl kube-credential`. The token kind is written
    /// out, so kubectl's every call runs without reading the authd config.
    public static func kubeconfigUser(name: String, audience: String, tokenKind: String) -> String {
        // A JSON string is a YAML double-quoted scalar: any user name is written safely.
        let quotedName = JSONValue.string(name).serialized()
        return """
            users:
            - name: \(quotedName)
              user:
                exec:
                  apiVersion: \(APIVersion.v1.rawValue)
                  command: authctl
                  args:
                  - kube-credential
                  - \(audience)
                  - --token
                  - \(tokenKind)
                  interactiveMode: IfAvailable
                  provideClusterInfo: false
                  installHint: |
                    authctl is part of authd (a per-user OAuth credential daemon); install it with
                    `make install` from the authd sources, so that authctl is on PATH, then run:
                    authctl login \(audience)

            """
    }
}
