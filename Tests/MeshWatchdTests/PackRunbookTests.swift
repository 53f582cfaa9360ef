import AlertEngine
import Foundation
import MeshFixtures
import MeshHTTP
import MeshPacks
@testable import MeshWatchdCore
import MetricModel
import PromClient
import Remediation
import Testing

/// The Linkerd and Cilium packs' runbooks, and the Istio pack's control-plane and injection
/// runbooks, end to end: each alert as its promtool case fires it (labels and time), the case's
/// series in a real Prometheus, and the Kubernetes double seeded with a cluster running Linkerd
/// and Cilium. Every step must run (none skipped, none failed) and show what it is for.
@Suite("Pack runbooks end to end: Linkerd, Cilium and Istio's control plane against Prometheus and the double")
struct PackRunbookTests {
    /// The alerts checked here, by pack.
    static let alerts: [String: Set<String>] = [
        "linkerd": Set(RulePack.withDefaults("linkerd").definitions.map(\.name)),
        "cilium": Set(RulePack.withDefaults("cilium").definitions.map(\.name)),
        "istio": ["IstiodHighMemory", "IstiodHighCPU", "IstioSlowConfigPush", "IstioSidecarMissing"],
    ]

    /// Each firing expectation of the packs' promtool files: pack, case index, alert, eval time, labels.
    struct Firing: Sendable, CustomStringConvertible {
        var pack: String
        var caseIndex: Int
        var alert: String
        var evalTime: String
        var labels: [String: String]
        var description: String { "\(pack)/\(caseIndex) \(alert) \(labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ","))" }
    }

    static var firings: [Firing] {
        var out: [Firing] = []
        for pack in ["linkerd", "cilium", "istio"] {
            guard let file = try? PromtoolTestFile.load(PackTests.root + "/rules/\(pack)_test.yml") else { continue }
            for (index, group) in file.tests.enumerated() {
                for check in group.alert_rule_test ?? [] where alerts[pack]?.contains(check.alertname) == true {
                    for expected in check.exp_alerts ?? [] {
                        out.append(Firing(pack: pack, caseIndex: index, alert: check.alertname, evalTime: check.eval_time,
                                          labels: (expected.exp_labels ?? [:]).merging(["alertname": check.alertname]) { a, _ in a }))
                    }
                }
            }
        }
        return out
    }

    /// A cluster running Linkerd (control plane in linkerd, meshed shop) and Cilium (agents in
    /// kube-system, a policy and endpoints in shop), and istiod in istio-system.
    static func seed(trustRootPEM: String) throws -> String {
        func deployment(_ name: String, _ namespace: String, containers: [String], labels: [String: String] = [:], replicas: Int = 1,
                        log: String = "") -> [String: Any] {
            let podLabels = ["app": name].merging(labels) { $1 }
            return ["apiVersion": "apps/v1", "kind": "Deployment", "metadata": ["name": name, "namespace": namespace],
                    "spec": ["replicas": replicas, "selector": ["matchLabels": ["app": name]],
                             "template": ["metadata": ["labels": podLabels, "annotations": ["test.meshwatchd.dev/log": log]],
                                          "spec": ["containers": containers.map { ["name": $0, "image": "\($0):1"] }]]]]
        }
        var objects: [[String: Any]] = ["shop", "linkerd", "kube-system", "istio-system"].map {
            ["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": $0]]
        }
        objects += [
            deployment("web", "shop", containers: ["web", "linkerd-proxy"], log: "INFO GET / 200\nERROR GET /cart 503 upstream reset\n"),
            deployment("api", "shop", containers: ["api", "linkerd-proxy"]),
            deployment("legacy", "shop", containers: ["legacy"]),  // never meshed: no linkerd-proxy
            deployment("cart", "shop", containers: ["cart"], log: "ERROR POST /checkout 502 bad gateway\n"),
            deployment("catalog", "shop", containers: ["catalog"]),
            deployment("linkerd-identity", "linkerd", containers: ["identity", "linkerd-proxy"],
                       labels: ["linkerd.io/control-plane-component": "identity", "linkerd.io/control-plane-ns": "linkerd"],
                       log: "INFO issued certificate for web.shop\nWARN issuer certificate expires in 5 days\n"),
            deployment("linkerd-destination", "linkerd", containers: ["destination", "linkerd-proxy"],
                       labels: ["linkerd.io/control-plane-component": "destination", "linkerd.io/control-plane-ns": "linkerd"]),
            deployment("cilium", "kube-system", containers: ["cilium-agent"], labels: ["k8s-app": "cilium"], replicas: 2,
                       log: "level=info msg=\"Rewrote endpoint BPF program\" endpointID=42\nlevel=warning msg=\"endpoint regeneration failed\" endpointID=7\n"),
            deployment("istiod", "istio-system", containers: ["discovery"]),
            ["apiVersion": "v1", "kind": "ConfigMap", "metadata": ["name": "linkerd-identity-trust-roots", "namespace": "linkerd"],
             "data": ["ca-bundle.crt": trustRootPEM]],
            ["apiVersion": "cilium.io/v2", "kind": "CiliumNetworkPolicy", "metadata": ["name": "deny-external", "namespace": "shop"],
             "spec": ["endpointSelector": ["matchLabels": ["app": "cart"]], "ingress": [["fromEndpoints": [["matchLabels": ["app": "web"]]]]]]],
            ["apiVersion": "cilium.io/v2", "kind": "CiliumEndpoint", "metadata": ["name": "cart-1", "namespace": "shop"],
             "status": ["state": "ready", "identity": ["id": 4242], "policy": ["ingress": ["enforcing": true]]]],
            ["apiVersion": "v1", "kind": "Event", "metadata": ["name": "cilium.1", "namespace": "kube-system"],
             "involvedObject": ["kind": "Pod", "name": "cilium-x", "namespace": "kube-system"], "type": "Warning", "reason": "Unhealthy",
             "message": "Readiness probe failed", "count": 3],
        ]
        return String(decoding: try JSONSerialization.data(withJSONObject: objects, options: [.sortedKeys]), as: UTF8.self)
    }

    @Test("every step of the runbook runs and shows its evidence", arguments: firings)
    func runbook(_ firing: Firing) async throws {
        let certificates = try await TestCertificates.make()
        defer { certificates.remove() }
        let pem = try String(contentsOfFile: certificates.serverCertificate, encoding: .utf8)
        let file = try PromtoolTestFile.load(PackTests.root + "/rules/\(firing.pack)_test.yml")
        let group = file.tests[firing.caseIndex]
        let interval = Int((PrometheusDuration.parse(group.interval ?? "1m") ?? .seconds(60)).seconds)
        let time = Date(timeIntervalSince1970: try #require(PrometheusDuration.parse(firing.evalTime)).seconds)
        let expanded = RulePack.withDefaults(firing.pack)
        var runbook = try #require(expanded.runbooks.first { $0.alert == firing.alert })
        // The pack's own step timeouts (10 s for a cluster read) are for production: on a machine busy
        // with the whole suite, each step gets a minute here — what is tested is what the steps find.
        runbook.steps = runbook.steps.map { step in
            var step = step
            step.timeout = "60s"
            return step
        }
        let (samples, seed) = try await offPool { (try group.openMetrics(intervalSeconds: interval), try Self.seed(trustRootPEM: pem)) }
        let evidence = try await withPrometheus(openMetrics: samples) { prometheus async throws in
            try await withKubernetes(seed: seed) { double async throws in
                let runner = RunbookRunner.make(prometheus: try PrometheusClient(baseURL: prometheus.url, http: HTTPClient()),
                                                kubernetes: KubernetesClient(connection: .init(server: double.url)),
                                                execAllow: [], context: EvaluationContext())
                return await runner.run(runbook, for: AlertContext(name: firing.alert, labels: firing.labels,
                                                                   activeAt: time.addingTimeInterval(-600), time: time))
            }
        }
        for step in evidence.steps {
            #expect(step.status == .ok, "\(firing) — \(step.name): \(step.status) \(step.error ?? "")")
            #expect(!step.lines.isEmpty, "\(firing) — \(step.name) shows nothing")
        }
        if runbook.target != nil {
            // The runbook's own target labels (Linkerd's deployment, Hubble's destination_workload) name the Deployment.
            #expect(evidence.target?.deployment == firing.labels[runbook.target!.workload], "\(firing): \(evidence.targetProblem ?? "")")
        }
        let text = evidence.steps.flatMap(\.lines).joined(separator: "\n")
        switch firing.alert {
        case "LinkerdLowMTLSCoverage":
            #expect(text.contains("3 pods in shop without a linkerd-proxy sidecar") && text.contains("legacy-"), "\(text)")  // legacy, and Cilium-only cart and catalog
            // The analyze step: shop's Linkerd pods were meshed one by one, without the namespace annotation.
            #expect(text.contains("MW201 warning: Namespace shop has 2 pods meshed by Linkerd"), "\(text)")
        case "LinkerdIdentityCertificateExpiring":
            #expect(text.contains("ConfigMap linkerd/linkerd-identity-trust-roots/ca-bundle.crt: expires in"), "\(text)")
            #expect(text.contains("issuer certificate expires in 5 days"), "\(text)")
        case "LinkerdHighErrorRate":
            #expect(text.contains("status_code=\"503\"") && text.contains("upstream reset"), "\(text)")
        case "CiliumPolicyDrops":
            #expect(text.contains("CiliumNetworkPolicy shop/deny-external") && text.contains("CiliumEndpoint shop/cart-1"), "\(text)")
            #expect(text.contains("no configuration problems in the cluster"), "\(text)")  // deny-external selects cart
            #expect(text.contains("reason=\"POLICY_DENIED\""), "\(text)")
        case "CiliumEndpointsNotReady":
            #expect(text.contains("endpoint regeneration failed"), "\(text)")
        case "CiliumHighHTTPErrorRate":
            #expect(text.contains("502 bad gateway"), "\(text)")
        case "IstioSidecarMissing":
            #expect(text.contains("pods in shop without an istio-proxy sidecar"), "\(text)")
        default:
            break
        }
    }
}
