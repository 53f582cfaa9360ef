import Foundation
import MeshFixtures
import MeshHTTP
import MetricModel
@testable import Remediation
import Testing

/// The double stands in for a real API server, so it must behave like one: the real kubectl
/// drives it, and kubectl and our client must see the same objects after the same operations.
@Suite("kubectl and meshwatchd's client see the same objects on the Kubernetes double")
struct KubectlFidelityTests {
    struct Kubectl {
        let kubeconfig: String
        let cache: String

        /// Runs kubectl and returns its output, expecting success.
        func callAsFunction(_ arguments: String...) async throws -> String {
            let run = try await refusing(arguments)
            #expect(run.status == 0, "kubectl \(arguments.joined(separator: " ")): \(run.output)")
            return run.output
        }

        /// Runs kubectl and returns its status and output, whatever they are.
        func refusing(_ arguments: [String]) async throws -> (status: Int32, output: String) {
            try await ChildProcess.run("/usr/bin/kubectl", ["--kubeconfig", kubeconfig, "--cache-dir", cache, "--request-timeout=10s"] + arguments)
        }
    }

    /// The double seeded with `reviewsSeed`, kubectl and our client both pointed at it.
    func withKubectl(_ body: (KubernetesDouble, Kubectl, KubernetesClient) async throws -> Void) async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try await withKubernetes(seed: reviewsSeed) { double async throws in
            let kubeconfig = directory + "/kubeconfig"
            try double.kubeconfig(namespace: "shop").write(toFile: kubeconfig, atomically: true, encoding: .utf8)
            try await body(double, Kubectl(kubeconfig: kubeconfig, cache: directory + "/cache"),
                           KubernetesClient(connection: try KubernetesConnection.kubeconfig(path: kubeconfig)))
        }
    }

    func history(_ client: KubernetesClient, _ deployment: Deployment) async throws -> [Int] {
        try await client.list(ReplicaSet.self, "/apis/apps/v1/namespaces/shop/replicasets", labelSelector: deployment.spec.selector.query)
            .filter { $0.isControlled(by: deployment.metadata.uid) }.compactMap(\.revision).sorted()
    }

    @Test("set image, rollout history, rollout undo (and its server dry run), rollout restart and scale")
    func sameObjects() async throws {
        try await withKubectl { double, kubectl, client async throws in
            let path = "/apis/apps/v1/namespaces/shop/deployments/reviews"

            // A new image: a second ReplicaSet with revision 2 that takes the pods.
            _ = try await kubectl("set", "image", "deployment/reviews", "reviews=reviews:v2")
            var deployment = try await client.get(Deployment.self, path)
            #expect(deployment.revision == 2)
            #expect(try await history(client, deployment) == [1, 2])
            #expect(try await kubectl("rollout", "history", "deployment/reviews").contains("1         <none>\n2         <none>"))
            let kubectlPods = try await kubectl("get", "pods", "-l", "app=reviews", "-o", "jsonpath={range .items[*]}{.metadata.name} {.spec.containers[0].image}{\"\\n\"}{end}")
            let ourPods = try await client.list(Pod.self, "/api/v1/namespaces/shop/pods", labelSelector: "app=reviews")
            #expect(Set(kubectlPods.split(separator: "\n").map(String.init)) == Set(ourPods.map { "\($0.metadata.name) \($0.spec?.containers.first?.image ?? "")" }))
            #expect(ourPods.count == 2 && ourPods.allSatisfy { $0.spec?.containers.first?.image == "reviews:v2" && $0.isReady })

            // A server-side dry run changes nothing; the real undo brings v1 back as revision 3.
            #expect(try await kubectl("rollout", "undo", "deployment/reviews", "--dry-run=server").contains("rolled back (server dry run)"))
            #expect(try await client.get(Deployment.self, path).spec.template.spec?.containers.first?.image == "reviews:v2")
            _ = try await kubectl("rollout", "undo", "deployment/reviews")
            deployment = try await client.get(Deployment.self, path)
            #expect(deployment.spec.template.spec?.containers.first?.image == "reviews:v1")
            #expect(deployment.revision == 3)
            #expect(try await history(client, deployment) == [2, 3])
            #expect(try await kubectl("rollout", "undo", "deployment/reviews", "--to-revision=3").contains("skipped rollback"))

            // Restart: kubectl's annotation on the template, a new revision.
            _ = try await kubectl("rollout", "restart", "deployment/reviews")
            deployment = try await client.get(Deployment.self, path)
            #expect(deployment.spec.template.metadata?.annotations?["kubectl.kubernetes.io/restartedAt"] != nil)
            #expect(deployment.revision == 4)

            // Scale through the subresource: kubectl and our client agree on replicas and pods.
            _ = try await kubectl("scale", "deployment/reviews", "--replicas=3")
            deployment = try await client.get(Deployment.self, path)
            #expect(deployment.spec.replicas == 3)
            #expect(try await client.list(Pod.self, "/api/v1/namespaces/shop/pods", labelSelector: "app=reviews").count == 3)
            #expect(try await kubectl("get", "deployment", "reviews", "-o", "jsonpath={.spec.replicas} {.status.readyReplicas}") == "3 3")

            // Every write moves resourceVersion on; a dry run does not.
            let before = try await client.get(Deployment.self, path).metadata.resourceVersion.flatMap(Int.init) ?? 0
            // Our writes, seen by kubectl: a dry-run patch changes nothing, the real one does.
            try await client.patch(JSONValue.self, path + "/scale", body: Array(#"{"spec":{"replicas":5}}"#.utf8), as: .merge, dryRun: true)
            #expect(try await kubectl("get", "deployment", "reviews", "-o", "jsonpath={.spec.replicas}") == "3")
            try await client.patch(JSONValue.self, path + "/scale", body: Array(#"{"spec":{"replicas":5}}"#.utf8), as: .merge)
            #expect(try await kubectl("get", "deployment", "reviews", "-o", "jsonpath={.spec.replicas}") == "5")
            #expect(try await kubectl("get", "pods", "-l", "app=reviews", "-o", "name").split(separator: "\n").count == 5)
            let after = try await client.get(Deployment.self, path).metadata.resourceVersion.flatMap(Int.init) ?? 0
            #expect(after > before)
            #expect(try await client.get(Deployment.self, path).metadata.generation == deployment.metadata.generation.map { $0 + 1 })

            // The double recorded every write with its patch type, as the API server received it.
            let writes = try await double.requests().map { "\($0.method) \($0.path) \($0.contentType) \($0.dryRun)" }
            #expect(writes.contains("PATCH /apis/apps/v1/namespaces/shop/deployments/reviews application/json-patch+json true"))
            #expect(writes.contains("PATCH /apis/apps/v1/namespaces/shop/deployments/reviews/scale application/merge-patch+json false"))
        }
    }

    @Test("a paused Deployment: kubectl refuses undo and restart, and a template change makes no ReplicaSet")
    func paused() async throws {
        try await withKubectl { double, kubectl, client async throws in
            _ = try await kubectl("set", "image", "deployment/reviews", "reviews=reviews:v2")
            _ = try await kubectl("rollout", "pause", "deployment/reviews")
            for command in [["rollout", "undo", "deployment/reviews"], ["rollout", "restart", "deployment/reviews"]] {
                let refused = try await kubectl.refusing(command)
                #expect(refused.status != 0 && refused.output.contains("paused"), "\(refused.output)")
            }
            _ = try await kubectl("set", "image", "deployment/reviews", "reviews=reviews:v3")
            let deployment = try await client.get(Deployment.self, "/apis/apps/v1/namespaces/shop/deployments/reviews")
            #expect(deployment.spec.paused == true)
            #expect(try await history(client, deployment) == [1, 2])
            #expect(deployment.revision == 2)
        }
    }

    @Test("the mesh resources analyze and the runbooks read: kubectl applies and lists them, by kind and short name, as our client does")
    func meshResources() async throws {
        try await withKubectl { _, kubectl, client async throws in
            let directory = try temporaryDirectory()
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let manifest = directory + "/mesh.yaml"
            try """
                apiVersion: cilium.io/v2
                kind: CiliumNetworkPolicy
                metadata: {name: allow-web, namespace: shop}
                spec: {endpointSelector: {matchLabels: {app: reviews}}, ingress: [{fromEndpoints: [{matchLabels: {app: web}}]}]}
                ---
                apiVersion: cilium.io/v2
                kind: CiliumEndpoint
                metadata: {name: reviews-1, namespace: shop}
                ---
                apiVersion: policy.linkerd.io/v1beta3
                kind: Server
                metadata: {name: reviews-http, namespace: shop}
                spec: {podSelector: {matchLabels: {app: reviews}}, port: 9080}
                ---
                apiVersion: policy.linkerd.io/v1beta1
                kind: ServerAuthorization
                metadata: {name: reviews-from-web, namespace: shop}
                spec: {server: {name: reviews-http}, client: {meshTLS: {serviceAccounts: [{name: web}]}}}
                ---
                apiVersion: networking.istio.io/v1beta1
                kind: Gateway
                metadata: {name: https-gateway, namespace: shop}
                spec: {selector: {istio: ingressgateway}, servers: [{port: {number: 443, name: https, protocol: HTTPS}, hosts: ["*"], tls: {mode: SIMPLE, credentialName: api-cert}}]}
                ---
                apiVersion: v1
                kind: ServiceAccount
                metadata: {name: frontend, namespace: shop}
                """.write(toFile: manifest, atomically: true, encoding: .utf8)
            _ = try await kubectl("apply", "--validate=false", "-f", manifest)  // the double serves no OpenAPI document
            for (kubectlName, path) in [("cnp", "/apis/cilium.io/v2/namespaces/shop/ciliumnetworkpolicies"),
                                        ("ciliumendpoints", "/apis/cilium.io/v2/namespaces/shop/ciliumendpoints"),
                                        ("servers.policy.linkerd.io", "/apis/policy.linkerd.io/v1beta3/namespaces/shop/servers"),
                                        ("saz", "/apis/policy.linkerd.io/v1beta1/namespaces/shop/serverauthorizations"),
                                        ("gw", "/apis/networking.istio.io/v1beta1/namespaces/shop/gateways"),
                                        ("sa", "/api/v1/namespaces/shop/serviceaccounts")] {
                let names = try await kubectl("get", kubectlName, "-n", "shop", "-o", "jsonpath={range .items[*]}{.metadata.name}{\"\\n\"}{end}")
                let ours = try await client.list(GenericObject.self, path).map(\.metadata.name)
                #expect(Set(names.split(separator: "\n").map(String.init)) == Set(ours), "\(kubectlName)")
                #expect(!ours.isEmpty, "\(kubectlName)")
            }
            #expect(try await kubectl("get", "gateway", "https-gateway", "-n", "shop", "-o", "jsonpath={.spec.servers[0].tls.credentialName}") == "api-cert")
        }
    }
}
