// kubectl's exec credential protocol: reading KUBERNETES_EXEC_INFO and writing the ExecCredential answer.
import AuthdClient
import AuthdWire
import Testing

@Suite struct KubeExecCredentialTests {
    @Test("the apiVersion kubectl names is the one answered in; v1 when there is no KUBERNETES_EXEC_INFO",
          arguments: [
            (nil, "client.authentication.k8s.io/v1", nil),
            ("", "client.authentication.k8s.io/v1", nil),
            (#"{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{"interactive":false}}"#,
             "client.authentication.k8s.io/v1", false),
            (#"{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1beta1","spec":{"interactive":true}}"#,
             "client.authentication.k8s.io/v1beta1", true),
            (#"{"apiVersion":"client.authentication.k8s.io/v1beta1","spec":{}}"#, "client.authentication.k8s.io/v1beta1", nil),
          ] as [(String?, String, Bool?)])
    func reads(info: String?, version: String, interactive: Bool?) throws {
        let request = try KubeExecCredential.request(fromEnvironment: info)
        #expect(request.apiVersion.rawValue == version)
        #expect(request.interactive == interactive)
    }

    @Test("anything else is a usage error (exit 2) that says what to change",
          arguments: [
            (#"{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1alpha1"}"#, "answers client.authentication.k8s.io/v1 and v1beta1"),
            (#"{"kind":"Pod","apiVersion":"v1"}"#, "not an ExecCredential"),
            (#"{"apiVersion":"client.authentication.k8s.io/v1","spec":{"interactive":"no"}}"#, "spec.interactive is not a boolean"),
            ("not json", "is not JSON"),
            (#"{"apiVersion":"x\u001b[31m"}"#, "kubectl asked for ExecCredential x"),
          ])
    func refuses(info: String, message: String) {
        do {
            _ = try KubeExecCredential.request(fromEnvironment: info)
            Issue.record("accepted \(info)")
        } catch {
            #expect(error.exitCode == 2)
            #expect(error.message.contains(message), "\(error.message)")
            #expect(!error.message.contains("\u{1B}"))
        }
    }

    @Test("the answer carries the token and its own expiry as RFC 3339 UTC, in the version asked")
    func answer() throws {
        let v1beta1 = KubeExecCredential(apiVersion: .v1beta1, interactive: false)
        #expect(v1beta1.answer(token: "tok", expiresAt: 1_900_000_000)
                == #"{"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","status":{"token":"tok","expirationTimestamp":"2030-03-17T17:46:40Z"}}"# + "\n")
        #expect(KubeExecCredential().answer(token: "t", expiresAt: nil)
                == #"{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"t"}}"# + "\n")
    }

    @Test("the kubeconfig entry names the command, the token kind, IfAvailable and an install hint; the user name is quoted")
    func kubeconfig() {
        let entry = KubeExecCredential.kubeconfigUser(name: "dev: \"me\"", audience: "work", tokenKind: "access")
        #expect(entry.hasPrefix("users:\n- name: \"dev: \\\"me\\\"\"\n  user:\n    exec:\n"))
        #expect(entry.contains("      apiVersion: client.authentication.k8s.io/v1\n      command: authctl\n"))
        #expect(entry.contains("      args:\n      - kube-credential\n      - work\n      - --token\n      - access\n"))
        #expect(entry.contains("      interactiveMode: IfAvailable\n"))
        #expect(entry.contains("      installHint: |\n"))
        #expect(entry.contains("authctl login work"))
    }
}
