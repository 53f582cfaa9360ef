import Foundation
import MeshFixtures
@testable import MeshWatchd
import Testing
import Yams

@Suite("deploy/k8s: valid manifests, the narrowest RBAC, a configuration that loads")
struct DeployManifestTests {
    static let directory = IstioPackTests.root + "/deploy/k8s"

    static var manifests: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasSuffix(".yaml") && $0 != "kustomization.yaml" }.sorted()
    }

    func documents(_ file: String) throws -> [[String: Any]] {
        try Yams.load_all(yaml: String(contentsOfFile: Self.directory + "/" + file, encoding: .utf8)).compactMap { $0 as? [String: Any] }
    }

    @Test("every manifest passes kubernetes-validate --strict against Kubernetes 1.32's schemas")
    func validate() async throws {
        let tool = IstioPackTests.root + "/.build/tools/bin/kubernetes-validate"
        #expect(FileManager.default.isExecutableFile(atPath: tool), "run scripts/install-deps.sh --test-tools")
        #expect(Self.manifests.count >= 9)
        let run = try await ChildProcess.run(tool, ["--strict", "--quiet", "-k", "1.32.0"] + Self.manifests.map { Self.directory + "/" + $0 })
        #expect(run.status == 0, "\(run.output)")
        // The kustomization lists every manifest.
        let kustomization = try #require(try Yams.load(yaml: String(contentsOfFile: Self.directory + "/kustomization.yaml", encoding: .utf8)) as? [String: Any])
        #expect(Set(kustomization["resources"] as? [String] ?? []) == Set(Self.manifests))
    }

    @Test("RBAC writes only patch on deployments and deployments/scale; Secrets only listed in istio-system; leases in its own namespace")
    func narrowRBAC() throws {
        var writes: [String] = []
        for document in try documents("rbac.yaml") {
            let kind = document["kind"] as? String ?? ""
            guard kind == "ClusterRole" || kind == "Role" else { continue }
            let namespace = (document["metadata"] as? [String: Any])?["namespace"] as? String ?? "*"
            for rule in document["rules"] as? [[String: Any]] ?? [] {
                let verbs = Set(rule["verbs"] as? [String] ?? [])
                #expect(!verbs.contains("*") && !verbs.contains("delete") && !verbs.contains("deletecollection") && !verbs.contains("escalate"))
                for resource in rule["resources"] as? [String] ?? [] {
                    for verb in verbs.subtracting(["get", "list"]).sorted() { writes.append("\(namespace) \(resource) \(verb)") }
                    if resource == "secrets" { #expect(namespace == "istio-system" && verbs == ["list"]) }
                }
            }
        }
        #expect(writes.sorted() == ["* deployments patch", "* deployments/scale patch", "meshwatchd leases create", "meshwatchd leases update"])
    }

    @Test("the Deployment: two replicas, probes on the status endpoints, non-root, read-only root, limits; the ConfigMap's configuration loads")
    func deployment() throws {
        let deployment = try #require(try documents("deployment.yaml").first)
        let spec = try #require(deployment["spec"] as? [String: Any])
        #expect(spec["replicas"] as? Int == 2)
        let pod = try #require((spec["template"] as? [String: Any])?["spec"] as? [String: Any])
        #expect((pod["securityContext"] as? [String: Any])?["runAsNonRoot"] as? Bool == true)
        let container = try #require((pod["containers"] as? [[String: Any]])?.first)
        #expect(((container["livenessProbe"] as? [String: Any])?["httpGet"] as? [String: Any])?["path"] as? String == "/healthz")
        #expect(((container["readinessProbe"] as? [String: Any])?["httpGet"] as? [String: Any])?["path"] as? String == "/readyz")
        #expect((container["securityContext"] as? [String: Any])?["readOnlyRootFilesystem"] as? Bool == true)
        #expect(((container["resources"] as? [String: Any])?["limits"] as? [String: Any])?["memory"] != nil)

        let configMap = try #require(try documents("configmap.yaml").first)
        let json = try #require((configMap["data"] as? [String: Any])?["config.json"] as? String)
        let file = NSTemporaryDirectory() + "meshwatchd-deploy-config-" + UUID().uuidString + ".json"
        try json.write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        let configuration = try decoder.decode(Configuration.self, from: Data(json.utf8))
        // Only the secret files, which exist in the pod, cannot be read here.
        let problems = configuration.problems(file: file).map(\.description).filter { !$0.contains("cannot read /etc/meshwatchd/secrets/") }
        #expect(problems.isEmpty, "\(problems)")
        #expect(configuration.leaderElection?.enabled == true)
        #expect(configuration.remediation?.mode == "dry-run")  // enforce is a decision for the operator
        #expect(configuration.listenAddress == "0.0.0.0:9819")  // the kubelet probes the pod's address
    }
}
