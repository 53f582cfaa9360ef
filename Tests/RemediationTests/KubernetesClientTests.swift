import Foundation
import MeshFixtures
import MeshHTTP
@testable import Remediation
import Testing

/// The seed every client test starts from: a namespace and a Deployment of two pods.
let reviewsSeed = """
    [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop", "labels": {"istio-injection": "enabled"}}},
     {"apiVersion": "apps/v1", "kind": "Deployment",
      "metadata": {"name": "reviews", "namespace": "shop", "labels": {"app": "reviews"}},
      "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "reviews"}},
               "template": {"metadata": {"labels": {"app": "reviews"}},
                            "spec": {"containers": [{"name": "reviews", "image": "reviews:v1"}, {"name": "istio-proxy", "image": "proxyv2:1.20"}]}}}}]
    """

func temporaryDirectory() throws -> String {
    let path = NSTemporaryDirectory() + "meshwatchd-kube-test-" + UUID().uuidString
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

@Suite("The Kubernetes client: kubeconfig variants and in-cluster config against the API double over TLS")
struct KubernetesClientTests {
    func reviews(_ client: KubernetesClient) async throws -> Deployment {
        try await client.get(Deployment.self, "/apis/apps/v1/namespaces/shop/deployments/reviews")
    }

    @Test("client certificate and key from files; the CA from a file")
    func clientCertificate() async throws {
        let certificates = try await TestCertificates.make()
        defer { certificates.remove() }
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try await withKubernetes(seed: reviewsSeed, tls: .init(certificate: certificates.serverCertificate, key: certificates.serverKey,
                                                             clientCA: certificates.caCertificate)) { double async throws in
            let path = directory + "/kubeconfig"
            try double.kubeconfig(user: "{client-certificate: \"\(certificates.clientCertificate)\", client-key: \"\(certificates.clientKey)\"}",
                                  caFile: certificates.caCertificate, namespace: "shop").write(toFile: path, atomically: true, encoding: .utf8)
            let connection = try KubernetesConnection.kubeconfig(path: path)
            #expect(connection.namespace == "shop")
            let deployment = try await reviews(KubernetesClient(connection: connection))
            #expect(deployment.spec.replicas == 2 && deployment.revision == 1)

            // Without the client certificate the double refuses, with the API's Status.
            try double.kubeconfig(caFile: certificates.caCertificate).write(toFile: path, atomically: true, encoding: .utf8)
            let error = await #expect(throws: KubernetesError.self) { try await reviews(KubernetesClient(connection: try KubernetesConnection.kubeconfig(path: path))) }
            #expect(error?.code == 401 && error?.reason == "Unauthorized")
        }
    }

    @Test("inline certificate-authority-data, client-certificate-data and client-key-data; a named context")
    func inlineData() async throws {
        let certificates = try await TestCertificates.make()
        defer { certificates.remove() }
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        func base64(_ file: String) throws -> String { try Data(contentsOf: URL(fileURLWithPath: file)).base64EncodedString() }
        try await withKubernetes(seed: reviewsSeed, tls: .init(certificate: certificates.serverCertificate, key: certificates.serverKey,
                                                             clientCA: certificates.caCertificate)) { double async throws in
            let path = directory + "/kubeconfig"
            try """
                apiVersion: v1
                kind: Config
                current-context: elsewhere
                clusters:
                - name: double
                  cluster: {server: "\(double.url)", certificate-authority-data: "\(try base64(certificates.caCertificate))"}
                users:
                - name: admin
                  user: {client-certificate-data: "\(try base64(certificates.clientCertificate))", client-key-data: "\(try base64(certificates.clientKey))"}
                contexts:
                - name: elsewhere
                  context: {cluster: missing, user: admin}
                - name: mesh
                  context: {cluster: double, user: admin, namespace: shop}
                """.write(toFile: path, atomically: true, encoding: .utf8)
            #expect(throws: KubernetesConfigError.self) { try KubernetesConnection.kubeconfig(path: path) }
            let material = directory + "/material"
            let connection = try KubernetesConnection.kubeconfig(path: path, context: "mesh", materialDirectory: material)
            #expect(try await reviews(KubernetesClient(connection: connection)).metadata.name == "reviews")
            let attributes = try FileManager.default.attributesOfItem(atPath: material + "/client.key")
            #expect((attributes[.posixPermissions] as? Int) == 0o600)

            // The daemon's way (no directory given): one directory for the process, written again by
            // each load (a reload adds none), and the inline client certificate really used.
            // This process's directories only: daemons of tests running beside this one make their own.
            let ours = "meshwatchd-kube-\(getpid())"
            let before = try FileManager.default.contentsOfDirectory(atPath: NSTemporaryDirectory()).filter { $0 == ours || $0.hasPrefix(ours + "-") }.count
            for _ in 0..<3 {
                let loaded = try KubernetesConnection.kubeconfig(path: path, context: "mesh")
                #expect(loaded.tls.certificateFile == CredentialFiles.directory + "/client.crt")
                #expect(try await reviews(KubernetesClient(connection: loaded)).metadata.name == "reviews")
            }
            let after = try FileManager.default.contentsOfDirectory(atPath: NSTemporaryDirectory()).filter { $0 == ours || $0.hasPrefix(ours + "-") }.count
            #expect(after <= before + 1)
            var info = stat()
            #expect(lstat(CredentialFiles.directory, &info) == 0 && info.st_mode & 0o777 == 0o700)
            for file in ["ca.crt", "client.crt", "client.key"] {
                #expect(lstat(CredentialFiles.directory + "/" + file, &info) == 0 && info.st_mode & 0o777 == 0o600, "\(file)")
            }
        }
    }

    @Test("a token file, read again when it rotates")
    func tokenFile() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try await withKubernetes(seed: reviewsSeed, token: "good-token") { double async throws in
            let path = directory + "/kubeconfig"
            try "stale-token\n".write(toFile: directory + "/token", atomically: true, encoding: .utf8)
            try double.kubeconfig(user: "{tokenFile: \"\(directory)/token\"}").write(toFile: path, atomically: true, encoding: .utf8)
            let client = KubernetesClient(connection: try KubernetesConnection.kubeconfig(path: path))
            let refused = await #expect(throws: KubernetesError.self) { try await reviews(client) }
            #expect(refused?.reason == "Unauthorized")
            try "good-token\n".write(toFile: directory + "/token", atomically: true, encoding: .utf8)
            #expect(try await reviews(client).metadata.name == "reviews")
        }
    }

    @Test("an exec credential plugin: run with KUBERNETES_EXEC_INFO, its token cached until it expires, run again after a 401")
    func execPlugin() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try await withKubernetes(seed: reviewsSeed, token: "plugin-token") { double async throws in
            let plugin = directory + "/get-token"
            // Counts its runs; prints the token in the file `token` with an expiry an hour away.
            try """
                #!/bin/sh
                echo run >> "\(directory)/runs"
                case "$KUBERNETES_EXEC_INFO" in *'"kind":"ExecCredential"'*) ;; *) echo "no exec info" >&2; exit 3;; esac
                printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"%s","expirationTimestamp":"%s"}}' \\
                  "$(cat "\(directory)/token")" "$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)"
                """.write(toFile: plugin, atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: plugin)
            try "plugin-token".write(toFile: directory + "/token", atomically: true, encoding: .utf8)
            let path = directory + "/kubeconfig"
            try double.kubeconfig(user: """
                {exec: {apiVersion: client.authentication.k8s.io/v1, command: "\(plugin)", args: [], env: [{name: CLUSTER, value: mesh}]}}
                """).write(toFile: path, atomically: true, encoding: .utf8)
            let client = KubernetesClient(connection: try KubernetesConnection.kubeconfig(path: path))
            for _ in 0..<3 { #expect(try await reviews(client).metadata.name == "reviews") }
            func runs() throws -> Int { try String(contentsOfFile: directory + "/runs", encoding: .utf8).split(separator: "\n").count }
            #expect(try runs() == 1)

            // A revoked token: the 401 makes the client ask the plugin again, once.
            try "other-token".write(toFile: directory + "/token", atomically: true, encoding: .utf8)
            client.connection.exec?.invalidate()
            _ = await #expect(throws: KubernetesError.self) { try await reviews(client) }
            #expect(try runs() == 3)
            try "plugin-token".write(toFile: directory + "/token", atomically: true, encoding: .utf8)
            #expect(try await reviews(client).metadata.name == "reviews")
        }
    }

    @Test("an exec plugin that hangs is killed after its timeout")
    func execTimeout() async throws {
        // A plugin that would sleep 10 minutes: an end well before that can only be the kill at its
        // 0.3 s timeout, however slowly a busy machine schedules the test.
        let plugin = ExecCredentialPlugin(command: "/bin/sleep", arguments: ["600"], environment: [:], apiVersion: "client.authentication.k8s.io/v1",
                                          timeout: .milliseconds(300))
        let start = ContinuousClock.now
        let error = await #expect(throws: KubernetesConfigError.self) { try await plugin.token() }
        #expect(error?.description.contains("did not finish") == true)
        #expect(ContinuousClock.now - start < .seconds(120))  // killed at 0.3 s, not left to sleep 600 s
    }

    @Test("in-cluster: KUBERNETES_SERVICE_HOST/PORT, the service account's token, CA and namespace")
    func inCluster() async throws {
        let certificates = try await TestCertificates.make()
        defer { certificates.remove() }
        let account = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: account) }
        try "sa-token".write(toFile: account + "/token", atomically: true, encoding: .utf8)
        try "shop\n".write(toFile: account + "/namespace", atomically: true, encoding: .utf8)
        try FileManager.default.copyItem(atPath: certificates.caCertificate, toPath: account + "/ca.crt")
        try await withKubernetes(seed: reviewsSeed, tls: .init(certificate: certificates.serverCertificate, key: certificates.serverKey),
                                 token: "sa-token") { double async throws in
            let connection = try KubernetesConnection.inCluster(
                environment: ["KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": "\(double.port)"], directory: account)
            #expect(connection.namespace == "shop")
            #expect(connection.server == "https://127.0.0.1:\(double.port)")
            #expect(try await reviews(KubernetesClient(connection: connection)).metadata.name == "reviews")
        }
        #expect(throws: KubernetesConfigError.self) { try KubernetesConnection.inCluster(environment: [:], directory: account) }
    }

    @Test("errors carry the API's Status: NotFound with its message; a patch the server finds invalid")
    func statusErrors() async throws {
        try await withKubernetes(seed: reviewsSeed) { double async throws in
            let client = KubernetesClient(connection: KubernetesConnection(server: double.url))
            let missing = await #expect(throws: KubernetesError.self) {
                try await client.get(Deployment.self, "/apis/apps/v1/namespaces/shop/deployments/ratings")
            }
            #expect(missing?.code == 404 && missing?.reason == "NotFound")
            #expect(missing?.message == #"deployments.apps "ratings" not found"#)
            let invalid = await #expect(throws: KubernetesError.self) {
                try await client.patch(Deployment.self, "/apis/apps/v1/namespaces/shop/deployments/reviews",
                                       body: Array(#"{"spec":{"replicas":-1}}"#.utf8), as: .merge)
            }
            #expect(invalid?.code == 422 && invalid?.reason == "Invalid")
            #expect(invalid?.message.contains("spec.replicas") == true)
        }
    }
}
