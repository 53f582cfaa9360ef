import Foundation
import MeshFixtures
@testable import MeshWatchdCore
import Testing

/// Every built-in runbook end to end: the real Prometheus over the incident, the Kubernetes
/// double seeded with the incident's cluster, the alerts replayed until they fire, and
/// `meshwatchd diagnose` run for each firing alert with its real labels.
@Suite("Built-in runbooks end to end: real Prometheus, the Kubernetes double, the alerts as they fire")
struct RunbookEndToEndTests {
    static let scenario = MeshScenario.incident()
    let cli = CommandLineTests()

    func rfc3339(_ date: Date) -> String { ISO8601DateFormatter().string(from: date) }

    /// The first firing of each alert in the incident, with its labels and when it went pending.
    func firingAlerts(_ prometheus: String) async throws -> [String: (labels: [String: String], pendingAt: String)] {
        let start = Int(Self.scenario.start.timeIntervalSince1970)
        let run = try await cli.meshwatchd(["replay", "--prometheus", prometheus, "--pack", "istio", "--from", String(start + 30 * 60),
                                            "--to", String(start + 55 * 60), "--step", "30s", "--output", "jsonl"])
        #expect(run.status == 0, "\(run.stderr)")
        var pending: [String: String] = [:]
        var firing: [String: (labels: [String: String], pendingAt: String)] = [:]
        for line in run.stdout.split(separator: "\n") {
            guard let event = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let alert = event["alert"] as? String, let labels = event["labels"] as? [String: String],
                  let time = event["time"] as? String else { continue }
            let key = alert + labels.sorted { $0.key < $1.key }.description
            if event["transition"] as? String == "pending" { pending[key] = time }
            if event["transition"] as? String == "firing", firing[alert] == nil { firing[alert] = (labels, pending[key] ?? time) }
        }
        return firing
    }

    func diagnose(_ alert: String, labels: [String: String], since: String?, prometheus: String, kubeconfig: String,
                  config: String? = nil) async throws -> [String: Any] {
        var arguments = ["diagnose", "--alert", alert, "--prometheus", prometheus, "--kubeconfig", kubeconfig,
                         "--at", rfc3339(Self.scenario.evaluationTime), "--output", "json"]
        if let config { arguments += ["--config", config] }
        if let since { arguments += ["--since", since] }
        for (name, value) in labels.sorted(by: { $0.key < $1.key }) { arguments += ["--label", "\(name)=\(value)"] }
        let run = try await cli.meshwatchd(arguments)
        #expect(run.status == 0 || run.status == 1, "\(run.stderr)")
        return try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any], "\(run.stdout)\n\(run.stderr)")
    }

    func step(_ evidence: [String: Any], _ kind: String) -> (status: String, text: String) {
        let step = (evidence["steps"] as? [[String: Any]])?.first { $0["kind"] as? String == kind }
        return (step?["status"] as? String ?? "missing", ((step?["lines"] as? [String]) ?? []).joined(separator: "\n") + (step?["error"] as? String ?? ""))
    }

    @Test("each firing alert's evidence names its workload, pods, events and, for the error rate, the rollout before it")
    func builtInRunbooks() async throws {
        let certificates = try await TestCertificates.make()
        defer { certificates.remove() }
        let directory = NSTemporaryDirectory() + "meshwatchd-runbooks-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let pem = try String(contentsOfFile: certificates.serverCertificate, encoding: .utf8)
        try await withPrometheus(openMetrics: Self.scenario.openMetrics()) { prometheus async throws in
            try await withKubernetes(seed: Self.scenario.kubernetesSeed(gatewayCertificatePEM: pem)) { double async throws in
                let kubeconfig = directory + "/kubeconfig"
                try double.kubeconfig().write(toFile: kubeconfig, atomically: true, encoding: .utf8)
                let firing = try await firingAlerts(prometheus.url)
                for alert in ["IstioHighErrorRate", "IstioHighLatency", "IstioCircuitBreakerOpen", "IstioLowMTLSCoverage", "IstioCertificateExpiring"] {
                    #expect(firing[alert] != nil, "\(alert) did not fire in the replay")
                }

                // Error rate: reviews, its restarting pods, the BackOff events, the 1.19 rollout two minutes before, its errors.
                let errors = try #require(firing["IstioHighErrorRate"])
                let rate = try await diagnose("IstioHighErrorRate", labels: errors.labels, since: errors.pendingAt, prometheus: prometheus.url, kubeconfig: kubeconfig)
                #expect((rate["target"] as? [String: Any])?["deployment"] as? String == "reviews")
                #expect(step(rate, "promql").text.contains("destination_workload=\"reviews\""))
                #expect(step(rate, "pods").text.contains("2 pods in bookinfo (app=reviews), 2 ready, 2 with problems"), "\(step(rate, "pods").text)")
                #expect(step(rate, "pods").text.contains("4 restarts, last: Error"))
                #expect(step(rate, "events").text.contains("BackOff Pod/reviews-v2: Back-off restarting failed container reviews"))
                let rollout = try #require(rate["recentRollout"] as? [String: Any], "\(step(rate, "rollout_history").text)")
                #expect(rollout["revision"] as? Int == 2)
                #expect((rollout["images"] as? [String])?.contains("bookinfo/reviews:1.19") == true)
                #expect(step(rate, "rollout_history").text.contains("a new revision (2, bookinfo/reviews:1.19, docker.io/istio/proxyv2:1.20.3) rolled out"))
                #expect(step(rate, "logs").text.contains("ERROR GET /reviews/0 503"))

                // Latency: ratings, its P95, no HPA.
                let latency = try #require(firing["IstioHighLatency"])
                let slow = try await diagnose("IstioHighLatency", labels: latency.labels, since: latency.pendingAt, prometheus: prometheus.url, kubeconfig: kubeconfig)
                #expect((slow["target"] as? [String: Any])?["deployment"] as? String == "ratings")
                #expect(step(slow, "promql").text.contains("ratings"))
                #expect(step(slow, "hpa").text.contains("no HPA scales ratings; replicas 2 desired, 2 ready"))
                #expect(slow["recentRollout"] == nil)

                // Circuit breaker: checkout's DestinationRule and the sidecar's overflow lines.
                let breaker = try #require(firing["IstioCircuitBreakerOpen"])
                let open = try await diagnose("IstioCircuitBreakerOpen", labels: breaker.labels, since: breaker.pendingAt, prometheus: prometheus.url, kubeconfig: kubeconfig)
                #expect((open["target"] as? [String: Any])?["deployment"] as? String == "checkout")
                #expect(step(open, "mesh_resources").text.contains("DestinationRule checkout:"))
                #expect(step(open, "mesh_resources").text.contains("outlierDetection"))
                #expect(step(open, "logs").text.contains("outlier_detection: ejected host"))
                #expect(!step(open, "logs").text.contains("via_upstream"))  // filtered out

                // mTLS: the PERMISSIVE PeerAuthentication and the details pods without a sidecar.
                let mtls = try #require(firing["IstioLowMTLSCoverage"])
                let plain = try await diagnose("IstioLowMTLSCoverage", labels: mtls.labels, since: mtls.pendingAt, prometheus: prometheus.url, kubeconfig: kubeconfig)
                #expect(step(plain, "mesh_resources").text.contains("PeerAuthentication default: {\"mtls\":{\"mode\":\"PERMISSIVE\"}}"))
                #expect(step(plain, "pods").text.contains("3 pods in bookinfo without an istio-proxy sidecar"), "\(step(plain, "pods").text)")
                #expect(step(plain, "pods").text.contains("details-"))

                // Certificates: the cert-manager Certificate five days from expiry; Secrets are never listed.
                let expiring = try #require(firing["IstioCertificateExpiring"])
                let certs = try await diagnose("IstioCertificateExpiring", labels: expiring.labels, since: expiring.pendingAt, prometheus: prometheus.url, kubeconfig: kubeconfig)
                #expect(step(certs, "certificates").text.contains("Certificate istio-system/istio-gateway: expires in 5.0 days"), "\(step(certs, "certificates").text)")
                #expect(!step(certs, "certificates").text.contains("Secret "))
                #expect(step(certs, "pods").text.contains("1 pods in cert-manager"))
                // A TLS secret named in the runbook is read by name (GET) and parsed as X.509.
                try #"""
                    {"runbooks": {"definitions": [{"alert": "IstioCertificateExpiring", "steps": [
                      {"name": "certificates", "kind": "certificates", "secrets": ["istio-system/istio-gateway-tls"]}]}]}}
                    """#.write(toFile: directory + "/secrets.json", atomically: true, encoding: .utf8)
                let named = try await diagnose("IstioCertificateExpiring", labels: expiring.labels, since: expiring.pendingAt, prometheus: prometheus.url,
                                               kubeconfig: kubeconfig, config: directory + "/secrets.json")
                #expect(step(named, "certificates").text.contains("Secret istio-system/istio-gateway-tls: expires in"), "\(step(named, "certificates").text)")
                #expect(step(named, "certificates").text.contains("CN=127.0.0.1"))

                // istiod is up in the incident; its runbook by hand still reads pods and events.
                let istiod = try await diagnose("IstiodDown", labels: ["job": "istiod"], since: nil, prometheus: prometheus.url, kubeconfig: kubeconfig)
                #expect(step(istiod, "pods").text.contains("2 pods in istio-system (app=istiod), 2 ready"))
                #expect(step(istiod, "events").text.contains("ScalingReplicaSet Deployment/istiod"))
                #expect((istiod["targetProblem"] as? String)?.contains("no destination_workload or destination_service") == true)

                // Proxy memory (below its threshold in the incident) by hand: the pod's memory, the namespace's pods.
                let memory = try await diagnose("IstioHighProxyMemory", labels: ["pod": "productpage-v1-7d4f8b", "namespace": "bookinfo",
                                                                                 "container": "istio-proxy"],
                                                since: nil, prometheus: prometheus.url, kubeconfig: kubeconfig)
                #expect(step(memory, "promql").text.contains("180000000 {namespace=\"bookinfo\", pod=\"productpage-v1-7d4f8b\"}"), "\(step(memory, "promql").text)")
                #expect(step(memory, "pods").text.contains("10 pods in bookinfo"), "\(step(memory, "pods").text)")
            }
        }
    }

    @Test("target resolution through destination_service → Service → selector, and a plain statement when there is none")
    func targetResolution() async throws {
        let directory = NSTemporaryDirectory() + "meshwatchd-runbooks-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try await withKubernetes(seed: Self.scenario.kubernetesSeed()) { double async throws in
            let kubeconfig = directory + "/kubeconfig"
            try double.kubeconfig().write(toFile: kubeconfig, atomically: true, encoding: .utf8)
            let bySevice = try await diagnose("IstioHighLatency", labels: ["destination_service": "ratings.bookinfo.svc.cluster.local"], since: nil,
                                              prometheus: "http://127.0.0.1:1", kubeconfig: kubeconfig)
            let target = try #require(bySevice["target"] as? [String: Any])
            #expect(target["deployment"] as? String == "ratings" && target["namespace"] as? String == "bookinfo")
            #expect(target["resolvedBy"] as? String == "destination_service → Service → selector")
            #expect(step(bySevice, "promql").status == "failed")  // Prometheus is not there: reported, the runbook goes on
            #expect(step(bySevice, "hpa").status == "ok")

            let none = try await diagnose("IstioHighErrorRate", labels: ["destination_service": "ghost.bookinfo.svc.cluster.local"], since: nil,
                                          prometheus: "http://127.0.0.1:1", kubeconfig: kubeconfig)
            #expect(none["target"] == nil)
            #expect(none["targetProblem"] as? String == "no Service bookinfo/ghost")
            #expect(step(none, "rollout_history").status == "skipped")
        }
    }

    @Test("health with a Kubernetes API adds the control plane's pods; a crash-looping istiod makes the verdict fail")
    func healthControlPlane() async throws {
        let directory = NSTemporaryDirectory() + "meshwatchd-health-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // A quiet mesh: only the control plane can make it unhealthy.
        let quiet = MeshScenario(start: Self.scenario.start, end: Self.scenario.start.addingTimeInterval(3600), stepSeconds: 15,
                                 services: [MeshService(workload: "productpage", namespace: "bookinfo", requestsPerSecond: 40, p95Millis: 180)],
                                 gauges: [GaugeSeries(name: "up", labels: [("job", "istiod"), ("instance", "10.0.0.12:15014")],
                                                      steps: [(Self.scenario.start, 1)])])
        let at = String(Int(Self.scenario.start.timeIntervalSince1970) + 55 * 60)
        try await withPrometheus(openMetrics: quiet.openMetrics()) { prometheus async throws in
            try await withKubernetes(seed: Self.scenario.kubernetesSeed()) { double async throws in
                try double.kubeconfig().write(toFile: directory + "/kubeconfig", atomically: true, encoding: .utf8)
                let healthy = try await cli.meshwatchd(["health", "--prometheus", prometheus.url, "--at", at, "--kubeconfig", directory + "/kubeconfig"])
                #expect(healthy.stdout.contains("control pods   2/2 pods ready in istio-system"), "\(healthy.stdout)\n\(healthy.stderr)")
                #expect(healthy.status == 0, "\(healthy.stdout)")
            }
            let crashing = try Self.scenario.kubernetesSeed().dropLast() + #"""
                ,{"_double": "pod_status", "namespace": "istio-system", "selector": "app=istiod",
                  "status": {"conditions": [{"type": "Ready", "status": "False"}],
                             "containerStatuses": [{"name": "istiod", "ready": false, "restartCount": 9,
                                                    "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}}]
                """#
            try await withKubernetes(seed: String(crashing)) { double async throws in
                try double.kubeconfig().write(toFile: directory + "/kubeconfig", atomically: true, encoding: .utf8)
                let failing = try await cli.meshwatchd(["health", "--prometheus", prometheus.url, "--at", at, "--kubeconfig", directory + "/kubeconfig"])
                #expect(failing.status == 1, "\(failing.stdout)")
                #expect(failing.stdout.contains("control pods   0/2 pods ready in istio-system; not ready: istiod-"), "\(failing.stdout)")
                #expect(failing.stdout.contains("(CrashLoopBackOff)"))
            }
        }
    }
}

@Suite("meshwatchd runbooks and runbook configuration")
struct RunbooksCommandTests {
    let cli = CommandLineTests()

    @Test("list shows every pack's runbooks and what the configuration replaces; show -o json is the shape definitions take")
    func listAndShow() async throws {
        let list = try await cli.meshwatchd(["runbooks", "list"])
        #expect(list.status == 0)
        for alert in ["IstioHighErrorRate", "IstioHighLatency", "IstioCircuitBreakerOpen", "IstioLowMTLSCoverage", "IstioCertificateExpiring",
                      "IstiodDown", "IstioHighProxyMemory", "IstioMTLSDisabled", "IstioAuthorizationDenied", "IstioSidecarMissing",
                      "LinkerdHighErrorRate", "CiliumPolicyDrops"] {
            #expect(list.stdout.contains(alert))
        }
        #expect(list.stdout.range(of: #"IstioHighErrorRate +promql,pods,events,rollout_history,logs,analyze +rollout_undo"#,
                                   options: .regularExpression) != nil, "\(list.stdout)")
        let production = try ConfigurationExampleTests.productionDirectory()
        defer { try? FileManager.default.removeItem(atPath: production) }
        let example = try await cli.meshwatchd(["runbooks", "list", "--config", production + "/config.json"])
        #expect(example.stdout.contains("configuration (replaces built-in)"), "\(example.stderr)")

        let shown = try await cli.meshwatchd(["runbooks", "show", "IstioHighLatency", "-o", "json"])
        let directory = NSTemporaryDirectory() + "meshwatchd-runbooks-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // The shown runbook, renamed, is accepted back as a definition that adds a runbook.
        let added = shown.stdout.replacingOccurrences(of: "\"IstioHighLatency\"", with: "\"CheckoutSlow\"")
        try #"{"prometheus": {"url": "http://127.0.0.1:9090"}, "runbooks": {"definitions": [\#(added)]}}"#
            .write(toFile: directory + "/config.json", atomically: true, encoding: .utf8)
        let withAdded = try await cli.meshwatchd(["runbooks", "list", "--config", directory + "/config.json"])
        let row = withAdded.stdout.split(separator: "\n").first { $0.hasPrefix("CheckoutSlow") }
        #expect(row?.hasSuffix("  configuration") == true, "\(withAdded.stdout)\(withAdded.stderr)")
        let missing = try await cli.meshwatchd(["runbooks", "show", "Nope"])
        #expect(missing.status == 64 && missing.stderr.contains("no runbook for \"Nope\""))
    }

    @Test("wrong runbook definitions are reported with their key paths")
    func problems() async throws {
        let directory = NSTemporaryDirectory() + "meshwatchd-runbooks-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try #"""
            {"prometheus": {"url": "http://127.0.0.1:9090"}, "packs": {"istio": {}},
             "kubernetes": {"kubeconfig": "/nonexistent/kubeconfig"},
             "runbooks": {"exec_allow": ["check-db"], "evidence_timeout": "soon",
                          "definitions": [{"alert": "A", "remediation": "delete_namespace",
                                           "steps": [{"name": "q", "kind": "promql"},
                                                     {"name": "l", "kind": "logs", "filter": "("},
                                                     {"name": "x", "kind": "exec", "command": ["/usr/bin/rm", "-rf"]},
                                                     {"name": "t", "kind": "pods", "timeout": "0s"}]}]}}
            """#.write(toFile: directory + "/config.json", atomically: true, encoding: .utf8)
        let run = try await cli.meshwatchd(["check-config", "--config", directory + "/config.json"])
        #expect(run.status == 78)
        for expected in ["kubernetes.kubeconfig: cannot read /nonexistent/kubeconfig",
                         "runbooks.evidence_timeout: expected a positive duration such as 60s, got \"soon\"",
                         "runbooks.exec_allow[0]: expected an absolute path, got \"check-db\"",
                         "runbooks.definitions[0].remediation: expected rollout_undo, scale or restart, got \"delete_namespace\"",
                         "runbooks.definitions[0].steps[0]: a promql step needs its query",
                         "runbooks.definitions[0].steps[1].filter: not a regular expression: (",
                         "runbooks.definitions[0].steps[2].command: /usr/bin/rm is not in runbooks.exec_allow",
                         "runbooks.definitions[0].steps[3].timeout: expected a positive duration, got \"0s\""] {
            #expect(run.stderr.contains(expected), "missing \(expected):\n\(run.stderr)")
        }
    }
}
