import Foundation
import MeshFixtures
import MeshHTTP
import Testing

/// The remediation path tried as an adversary would, black-box: the `meshwatchd` binary, the
/// real Prometheus, the Kubernetes double behind a fault-injecting proxy (which logs every
/// request, reads included), and rule files whose labels carry the values an attacker who can
/// write metrics or rule files would choose. Each test asserts the exact writes the double
/// received and the ledger; each first proves progress (a control alert's decision) before it
/// asserts that something did not happen. `MESHWATCHD_BINARY` runs the suite against another build.
@Suite("Adversarial remediation: nothing is written outside the guards", .serialized)
struct AdversarialRemediationTests {
    let harness = DaemonTests()

    /// One alert rule: always firing (unless `expr` says otherwise), with these static labels.
    struct Rule {
        var alert: String
        var labels: [String: String]
        var expr = "vector(1)"
        /// The runbook's remediation; nil: the built-in runbook of that alert name (if any).
        var remediation: String? = "restart"
        var optIn = true
        var steps = "[]"
    }

    struct Cluster {
        let prometheus: PrometheusServer
        let double: KubernetesDouble
        let proxy: FaultProxy
        let receiver: EchoServer
        let state: String
    }

    static let coreDNS = #"""
        [{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "coredns", "namespace": "kube-system"},
          "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "coredns"}},
                   "template": {"metadata": {"labels": {"app": "coredns"}}, "spec": {"containers": [{"name": "coredns", "image": "coredns:1.11"}]}}}},
         {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "coredns", "namespace": "kube-system"}, "spec": {"selector": {"app": "coredns"}}}]
        """#

    func withCluster(_ body: (Cluster) async throws -> Void) async throws {
        let state = try DaemonTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: state) }
        let scenario = MeshScenario.live()
        try await withPrometheus(openMetrics: scenario.openMetrics()) { prometheus async throws in
            try await withKubernetes(seed: scenario.kubernetesSeed()) { double async throws in
                try await double.seed(Self.coreDNS)
                try await withFaultProxy(upstream: double.url) { proxy async throws in
                    try await withEchoServer { receiver async throws in
                        try """
                            apiVersion: v1
                            kind: Config
                            clusters: [{name: c, cluster: {server: "\(proxy.url)"}}]
                            users: [{name: u, user: {}}]
                            contexts: [{name: c, context: {cluster: c, user: u}}]
                            current-context: c
                            """.write(toFile: state + "/kubeconfig", atomically: true, encoding: .utf8)
                        try await body(Cluster(prometheus: prometheus, double: double, proxy: proxy, receiver: receiver, state: state))
                    }
                }
            }
        }
    }

    /// A YAML double-quoted scalar (YAML refuses raw control characters: they are escaped).
    static func quoted(_ value: String) -> String {
        var out = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case _ where scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value): out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// Writes rules.yml and config.json into the state directory.
    func configure(_ cluster: Cluster, rules: [Rule], remediation: String = #""mode": "enforce""#, sinks: Bool = true) throws {
        var yaml = "groups:\n- name: hostile\n  interval: 1s\n  rules:\n"
        for rule in rules {
            let labels = rule.labels.sorted { $0.key < $1.key }.map { "\($0.key): \(Self.quoted($0.value))" }.joined(separator: ", ")
            yaml += "  - alert: \(rule.alert)\n    expr: \(Self.quoted(rule.expr))\n    labels: {\(labels)}\n"
        }
        try yaml.write(toFile: cluster.state + "/rules.yml", atomically: true, encoding: .utf8)
        let runbooks = rules.filter { $0.remediation != nil }.map { rule in
            #"{"alert": "\#(rule.alert)", "steps": \#(rule.steps), "remediation": "\#(rule.remediation!)"}"#
        }.joined(separator: ", ")
        let optIns = rules.filter(\.optIn).map { #"{"file": "rules.yml", "group": "hostile", "rule": "\#($0.alert)"}"# }.joined(separator: ", ")
        try #"""
            {"prometheus": {"url": "\#(cluster.prometheus.url)"},
             "kubernetes": {"kubeconfig": "\#(cluster.state)/kubeconfig"},
             "evaluation_interval": "1s",
             "rule_files": ["rules.yml"],
             "runbooks": {"definitions": [\#(runbooks)]},
             "remediation": {\#(remediation), "own_namespace": "meshwatchd", "budget_per_hour": 100, "blast_radius": 100,
                             "verification_window": "1s", "rules": [\#(optIns)]},
             "notifications": {"levels": [{"after": "0s"}, {"after": "1h"}, {"after": "2h"}]},
             "sinks": [\#(sinks ? #"{"name": "ops", "type": "webhook", "url": "\#(cluster.receiver.url("/receiver"))"}"# : "")]}
            """#.write(toFile: cluster.state + "/config.json", atomically: true, encoding: .utf8)
    }

    func start(_ cluster: Cluster) async throws -> DaemonTests.Daemon {
        try await harness.start(["--config", cluster.state + "/config.json", "--state-directory", cluster.state], notify: nil)
    }

    /// Waits until `count` log lines match.
    func waitForLines(_ daemon: DaemonTests.Daemon, _ count: Int, _ timeout: Duration = .seconds(60),
                      _ condition: ([String: String]) -> Bool) async -> [[String: String]] {
        let deadline = ContinuousClock.now + timeout
        var lines: [[String: String]] = []
        while ContinuousClock.now < deadline {
            lines = daemon.logLines.filter(condition)
            if lines.count >= count { return lines }
            try? await Task.sleep(for: .milliseconds(100))
        }
        return lines
    }

    func realWrites(_ double: KubernetesDouble) async throws -> [String] {
        try await double.requests().filter { !$0.dryRun && $0.method != "POST" && !$0.path.contains("/leases") }.map { "\($0.method) \($0.path)" }
    }

    /// The ledger as `meshwatchd ledger --output jsonl` prints it.
    func ledger(_ state: String) async throws -> [[String: Any]] {
        let run = try await CommandLineTests().meshwatchd(["ledger", "--state-directory", state, "--output", "jsonl"])
        return run.stdout.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    /// A path libcurl and the API server take literally: plain segments only.
    static func isPlain(_ path: String) -> Bool {
        path.split(separator: "/", omittingEmptySubsequences: false).dropFirst().allSatisfy { segment in
            guard let first = segment.first, first.isLetter || first.isNumber else { return false }
            return segment.allSatisfy { ($0.isASCII && ($0.isLetter || $0.isNumber)) || $0 == "." || $0 == "-" || $0 == "_" }
        }
    }

    @Test("hostile label values on every route reach no request; a user rule named like a built-in does not act; the control acts once")
    func hostileLabels() async throws {
        try await withCluster { cluster async throws in
            let workloads = ["../../kube-system/deployments/coredns", "coredns/../../../kube-system/deployments/coredns", "%2e%2e", "..", "%2D",
                             "details%23", "details?dryRun=All", "details\nx", String(repeating: "d", count: 300), "Details", "-details", "détails"]
            let namespaces = ["bookinfo/../kube-system", "bookinfo/..", "%2e%2e%2fkube-system", "bookinfo?x=1", "bookinfo\u{7f}"]
            let services = ["coredns.kube-system/../bookinfo.svc.cluster.local", "details.bookinfo/../kube-system.svc", "../coredns.kube-system.svc",
                            "coredns.kube-system%2f..%2fbookinfo.svc", "details?x.bookinfo.svc"]
            var rules: [Rule] = []
            for (index, workload) in workloads.enumerated() {
                rules.append(Rule(alert: "HostileWorkload\(index)", labels: ["destination_workload": workload, "destination_workload_namespace": "bookinfo"]))
            }
            for (index, namespace) in namespaces.enumerated() {
                rules.append(Rule(alert: "HostileNamespace\(index)", labels: ["destination_workload": "coredns", "destination_workload_namespace": namespace,
                                                                              "namespace": namespace],
                                  steps: #"[{"name": "pods", "kind": "pods", "namespace": "{{ $labels.namespace }}"}, {"name": "events", "kind": "events"}]"#))
            }
            for (index, service) in services.enumerated() {
                rules.append(Rule(alert: "HostileService\(index)", labels: ["destination_service": service]))
            }
            // Item 8: a user rule with a built-in alert name and runbook, not opted in.
            rules.append(Rule(alert: "IstioCircuitBreakerOpen", labels: ["destination_workload": "checkout", "destination_workload_namespace": "shop"],
                              remediation: nil, optIn: false))
            rules.append(Rule(alert: "Control", labels: ["destination_workload": "details", "destination_workload_namespace": "bookinfo"]))
            try configure(cluster, rules: rules)
            let daemon = try await start(cluster)
            defer { daemon.signal(SIGKILL) }
            let finished = await waitForLines(daemon, rules.count, .seconds(90)) { $0["msg"] == "runbook finished; evidence attached" }
            #expect(finished.count == rules.count, "log:\n\(daemon.log.suffix(4000))")
            let control = await daemon.waitForLog(.seconds(30)) { $0["msg"] == "remediation decided" && $0["alert.name"] == "Control" }
            #expect(control?["remediation.outcome"] == "taken", "\(control ?? [:])")
            daemon.signal(SIGTERM)
            _ = await daemon.process.waitForExit()

            // Progress shown (the control wrote); now: not one request, reads included, left the alphabet or touched kube-system.
            #expect(try await realWrites(cluster.double) == ["PATCH /apis/apps/v1/namespaces/bookinfo/deployments/details"])
            let paths = try await cluster.proxy.log().map(\.path)
            #expect(paths.contains("/apis/apps/v1/namespaces/bookinfo/deployments/details"))
            #expect(paths.filter { !Self.isPlain($0) || $0.contains("kube-system") }.isEmpty, "\(paths.filter { !Self.isPlain($0) || $0.contains("kube-system") })")
            let ledger = try await ledger(cluster.state)
            let breaker = ledger.first { $0["alert"] as? String == "IstioCircuitBreakerOpen" }
            #expect(breaker?["outcome"] as? String == "refused" && breaker?["decidedBy"] as? String == "rule opt-in", "\(ledger)")
            // The refused targets say why, in the finding's remediation line.
            let findings = try await cluster.receiver.deliveries().bodies.filter { $0.contains("HostileWorkload0") }
            #expect(findings.contains { $0.contains("not a valid Kubernetes name") }, "\(findings.prefix(1))")
        }
    }

    @Test("a '#' or '?' in a label cannot turn the dry run into a write; the kill switch (a dangling symlink, relative to the config) holds")
    func fragmentsAndKillSwitch() async throws {
        try await withCluster { cluster async throws in
            try FileManager.default.createSymbolicLink(atPath: cluster.state + "/stop", withDestinationPath: cluster.state + "/nowhere")
            let rules = [
                Rule(alert: "Fragment", labels: ["destination_workload": "details#", "destination_workload_namespace": "bookinfo"]),
                Rule(alert: "Query", labels: ["destination_workload": "ratings?dryRun=All#", "destination_workload_namespace": "bookinfo"]),
                Rule(alert: "Escaped", labels: ["destination_workload": "ratings%23", "destination_workload_namespace": "bookinfo"]),
                Rule(alert: "Control", labels: ["destination_workload": "productpage", "destination_workload_namespace": "bookinfo"]),
            ]
            try configure(cluster, rules: rules, remediation: #""mode": "enforce", "kill_switch_file": "stop""#)
            let daemon = try await start(cluster)
            defer { daemon.signal(SIGKILL) }
            let control = await daemon.waitForLog(.seconds(60)) { $0["msg"] == "remediation decided" && $0["alert.name"] == "Control" }
            #expect(control?["remediation.outcome"] == "dry-run" && control?["remediation.guard"] == "kill switch", "\(control ?? [:])\n\(daemon.log.suffix(3000))")
            let finished = await waitForLines(daemon, rules.count) { $0["msg"] == "runbook finished; evidence attached" }
            #expect(finished.count == rules.count)
            daemon.signal(SIGTERM)
            _ = await daemon.process.waitForExit()
            // The control's server dry run arrived as one (progress); nothing was written.
            let requests = try await cluster.double.requests().filter { $0.method == "PATCH" }
            #expect(requests.map(\.dryRun) == [true], "\(requests.map { "\($0.path) \($0.rawQuery)" })")
            #expect(requests.first?.rawQuery.contains("dryRun=All") == true)
            #expect(try await realWrites(cluster.double).isEmpty)
        }
    }

    @Test("three alerts on one Deployment in one cycle, dry runs slowed: exactly one write")
    func concurrentDecisions() async throws {
        try await withCluster { cluster async throws in
            try await cluster.proxy.setRules(#"[{"method": "PATCH", "dryRun": true, "action": "delay", "ms": 400}]"#)
            let target = ["destination_workload": "reviews", "destination_workload_namespace": "bookinfo"]
            let rules = [Rule(alert: "RestartIt", labels: target), Rule(alert: "ScaleIt", labels: target, remediation: "scale"),
                         Rule(alert: "RestartItToo", labels: target)]
            try configure(cluster, rules: rules)
            let daemon = try await start(cluster)
            defer { daemon.signal(SIGKILL) }
            let decided = await waitForLines(daemon, 3) { $0["msg"] == "remediation decided" }
            #expect(decided.count == 3, "log:\n\(daemon.log.suffix(3000))")
            daemon.signal(SIGTERM)
            _ = await daemon.process.waitForExit()
            #expect(decided.filter { $0["remediation.outcome"] == "taken" }.count == 1, "\(decided)")
            #expect(try await realWrites(cluster.double).count == 1)
            let refusals = Set(decided.filter { $0["remediation.outcome"] == "refused" }.compactMap { $0["remediation.guard"] })
            #expect(refusals.isSubset(of: ["one action in flight", "one action per incident", "cooldown"]), "\(refusals)")
        }
    }

    @Test("the alert resolves while the dry run is held: the write never happens")
    func resolvedDuringDecision() async throws {
        try await withCluster { cluster async throws in
            try await cluster.proxy.setRules(#"[{"method": "PATCH", "dryRun": true, "times": 1, "action": "hold", "name": "dry"}]"#)
            let until = Int(Date().timeIntervalSince1970) + 6
            try configure(cluster, rules: [Rule(alert: "Brief", labels: ["destination_workload": "details", "destination_workload_namespace": "bookinfo"],
                                               expr: "vector(time()) < \(until)")])
            let daemon = try await start(cluster)
            defer { daemon.signal(SIGKILL) }
            try await waitUntil(.seconds(60)) { try await cluster.proxy.held() == ["dry"] }
            let resolved = await daemon.waitForLog(.seconds(30)) { $0["msg"] == "alert resolved" && $0["rule.name"] == "Brief" }
            #expect(resolved != nil, "log:\n\(daemon.log.suffix(3000))")
            try await cluster.proxy.release("dry")
            let decided = await daemon.waitForLog(.seconds(30)) { $0["msg"] == "remediation decided" }
            #expect(decided?["remediation.outcome"] == "refused" && decided?["remediation.guard"] == "alert still firing", "\(decided ?? [:])")
            daemon.signal(SIGTERM)
            _ = await daemon.process.waitForExit()
            #expect(try await cluster.double.requests().filter { $0.method == "PATCH" }.map(\.dryRun) == [true])
        }
    }

    @Test("kill -9 between the dry run and the write's answer, for scale and restart: after the restart the action counts once, never twice",
          arguments: ["scale", "restart"])
    func killedMidWrite(_ action: String) async throws {
        try await withCluster { cluster async throws in
            try await cluster.proxy.setRules(#"[{"method": "PATCH", "dryRun": false, "times": 1, "action": "hold", "name": "write"}]"#)
            try configure(cluster, rules: [Rule(alert: "Act", labels: ["destination_workload": "ratings", "destination_workload_namespace": "bookinfo"],
                                               remediation: action)])
            let first = try await start(cluster)
            try await waitUntil(.seconds(60)) { try await cluster.proxy.held() == ["write"] }
            first.signal(SIGKILL)
            _ = await first.process.waitForExit()
            try await cluster.proxy.release("write")  // the write reaches the server after the daemon died
            try await waitUntil(.seconds(10)) { try await realWrites(cluster.double).count == 1 }

            let second = try await start(cluster)
            defer { second.signal(SIGKILL) }
            // The reservation the crash left is settled from the Deployment (our annotation is on it): taken.
            let settled = await second.waitForLog(.seconds(30)) { $0["msg"] == "remediation decided" && $0["remediation.guard"] == "restart" }
            #expect(settled?["remediation.outcome"] == "taken", "log:\n\(second.log.suffix(3000))")
            // The held-over runbook runs again and decides again (progress): refused, no second write.
            let again = await waitForLines(second, 2) { $0["msg"] == "remediation decided" }
            #expect(again.count == 2 && again.last?["remediation.outcome"] == "refused", "\(again)")
            second.signal(SIGTERM)
            _ = await second.process.waitForExit()
            #expect(try await realWrites(cluster.double) == ["PATCH /apis/apps/v1/namespaces/bookinfo/deployments/ratings"])
            if action == "scale" {
                let body = try await HTTPClient().get(cluster.double.url + "/apis/apps/v1/namespaces/bookinfo/deployments/ratings").body
                let replicas = try JSONDecoder().decode(ReplicasOnly.self, from: Data(body)).spec.replicas
                #expect(replicas == 3)
            }
        }
    }

    @Test("kill -9 while the write hangs unanswered: unknown, counted as an action, never repeated")
    func killedWithUnknownOutcome() async throws {
        try await withCluster { cluster async throws in
            try await cluster.proxy.setRules(#"[{"method": "PATCH", "dryRun": false, "action": "hang"}]"#)
            try configure(cluster, rules: [Rule(alert: "Act", labels: ["destination_workload": "ratings", "destination_workload_namespace": "bookinfo"])])
            let first = try await start(cluster)
            try await waitUntil(.seconds(60)) { try await cluster.proxy.log().contains { $0.action == "hang" } }
            first.signal(SIGKILL)
            _ = await first.process.waitForExit()
            try await cluster.proxy.setRules("[]")
            let second = try await start(cluster)
            defer { second.signal(SIGKILL) }
            let settled = await second.waitForLog(.seconds(30)) { $0["msg"] == "remediation decided" && $0["remediation.guard"] == "restart" }
            #expect(settled?["remediation.outcome"] == "unknown", "log:\n\(second.log.suffix(3000))")
            let again = await waitForLines(second, 2) { $0["msg"] == "remediation decided" }
            #expect(again.count == 2 && again.last?["remediation.outcome"] == "refused", "\(again)")
            second.signal(SIGTERM)
            _ = await second.process.waitForExit()
            #expect(try await realWrites(cluster.double).isEmpty)
        }
    }

    @Test("the write answered 409, 422, 500 (after it happened) or never: the ledger says what happened")
    func writeAnswers() async throws {
        for (rule, outcome, writes) in [(#"{"action": "status", "code": 409}"#, "refused", 0), (#"{"action": "status", "code": 422}"#, "refused", 0),
                                        (#"{"action": "forward_then_status", "code": 500}"#, "taken", 1), (#"{"action": "status", "code": 503}"#, "unknown", 0),
                                        // libcurl resends a request whose reused connection died: the copy
                                        // reaches the server and its resourceVersion precondition refuses it (409).
                                        (#"{"action": "forward_then_drop"}"#, "taken", 2)] {
            try await withCluster { cluster async throws in
                try await cluster.proxy.setRules(#"[{"method": "PATCH", "dryRun": false, "times": 1, "#
                                                 + rule.dropFirst() + "]")
                try configure(cluster, rules: [Rule(alert: "Act", labels: ["destination_workload": "ratings", "destination_workload_namespace": "bookinfo"])])
                let daemon = try await start(cluster)
                defer { daemon.signal(SIGKILL) }
                let decided = await daemon.waitForLog(.seconds(60)) { $0["msg"] == "remediation decided" }
                #expect(decided?["remediation.outcome"] == outcome, "\(rule): \(decided ?? [:])")
                daemon.signal(SIGTERM)
                _ = await daemon.process.waitForExit()
                #expect(try await realWrites(cluster.double).count == writes, "\(rule)")
            }
        }
    }

    @Test("no sinks: runbooks and remediation still run and are recorded; the state directory is 0700 and its files 0600")
    func noSinks() async throws {
        try await withCluster { cluster async throws in
            try configure(cluster, rules: [Rule(alert: "Control", labels: ["destination_workload": "details", "destination_workload_namespace": "bookinfo"])],
                          sinks: false)
            let state = cluster.state + "/deep"
            let previous = umask(0o022)
            defer { umask(previous) }
            let daemon = try await harness.start(["--config", cluster.state + "/config.json", "--state-directory", state], notify: nil)
            defer { daemon.signal(SIGKILL) }
            #expect(await daemon.waitForLog(.seconds(20)) { $0["msg"]?.hasPrefix("no sinks configured") == true } != nil, "\(daemon.log.suffix(2000))")
            let decided = await daemon.waitForLog(.seconds(60)) { $0["msg"] == "remediation decided" }
            #expect(decided?["remediation.outcome"] == "taken", "log:\n\(daemon.log.suffix(3000))")
            daemon.signal(SIGTERM)
            _ = await daemon.process.waitForExit()
            let ledger = try await ledger(state)
            #expect(ledger.contains { $0["outcome"] as? String == "taken" && $0["workload"] as? String == "bookinfo/details" }, "\(ledger)")
            for (path, mode) in [(state, 0o700), (state + "/state.sqlite", 0o600)] {
                let attributes = try FileManager.default.attributesOfItem(atPath: path)
                #expect((attributes[.posixPermissions] as? Int).map { $0 & 0o777 } == mode, "\(path)")
            }
        }
    }

    @Test("a leader stopped (SIGSTOP) during its dry run past its lease does not write after SIGCONT; the replica that took over acts once")
    func pausedLeader() async throws {
        try await withCluster { cluster async throws in
            try await cluster.proxy.setRules(#"[{"method": "PATCH", "dryRun": true, "times": 1, "action": "hold", "name": "dry"}]"#)
            try configure(cluster, rules: [Rule(alert: "Control", labels: ["destination_workload": "details", "destination_workload_namespace": "bookinfo"])])
            var replicas: [(state: String, daemon: DaemonTests.Daemon)] = []
            defer {
                for replica in replicas {
                    replica.daemon.signal(SIGCONT)
                    replica.daemon.signal(SIGKILL)
                    if replica.state != cluster.state { try? FileManager.default.removeItem(atPath: replica.state) }
                }
            }
            let base = try String(contentsOfFile: cluster.state + "/config.json", encoding: .utf8)
            for name in ["replica-a", "replica-b"] {
                let state = name == "replica-a" ? cluster.state : try DaemonTests.temporaryDirectory()
                if state != cluster.state { try FileManager.default.copyItem(atPath: cluster.state + "/rules.yml", toPath: state + "/rules.yml") }
                let config = base.replacingOccurrences(of: #""evaluation_interval": "1s","#, with: #"""
                    "evaluation_interval": "1s",
                     "leader_election": {"enabled": true, "namespace": "meshwatchd", "identity": "\#(name)",
                                         "lease_duration": "3s", "renew_deadline": "2s", "retry_period": "500ms"},
                    """#)
                try config.write(toFile: state + "/\(name).json", atomically: true, encoding: .utf8)
                replicas.append((state, try await harness.start(["--config", state + "/\(name).json", "--state-directory", state], notify: nil)))
                if name == "replica-a" {
                    let leading = await waitForMessage(replicas[0].daemon, "acquired leadership", .seconds(20))
                    #expect(leading != nil)
                }
            }
            let (a, b) = (replicas[0].daemon, replicas[1].daemon)
            // A, the leader, is mid-decision: its dry run held. Stop it, and let the dry run's answer go.
            try await waitUntil(.seconds(60)) { try await cluster.proxy.held() == ["dry"] }
            a.signal(SIGSTOP)
            try await cluster.proxy.release("dry")
            // B takes the lease once it expires and acts (progress).
            let acquired = await waitForMessage(b, "acquired leadership", .seconds(20))
            #expect(acquired != nil, "log:\n\(b.log.suffix(3000))")
            let taken = await waitForMessage(b, "remediation decided", .seconds(60))
            #expect(taken?["remediation.outcome"] == "taken", "\(taken ?? [:])\nB:\n\(b.log.suffix(4000))")
            try await Task.sleep(for: .seconds(1))
            a.signal(SIGCONT)
            let refused = await waitForMessage(a, "remediation decided", .seconds(30))
            #expect(refused?["remediation.outcome"] != "taken" && refused?["remediation.outcome"] != nil, "log:\n\(a.log.suffix(3000))")
            #expect(["lease", "kubernetes api"].contains(refused?["remediation.guard"] ?? ""), "\(refused ?? [:])")
            let lost = await waitForMessage(a, "lost leadership; stopping at once", .seconds(10))
            #expect(lost != nil)
            for replica in [a, b] {
                replica.signal(SIGTERM)
                _ = await replica.process.waitForExit()
            }
            #expect(try await realWrites(cluster.double) == ["PATCH /apis/apps/v1/namespaces/bookinfo/deployments/details"])
        }
    }

    @Test("the Deployment deleted and recreated between the decision and the write: the write's uid precondition refuses it")
    func recreatedMidDecision() async throws {
        try await withCluster { cluster async throws in
            try await cluster.proxy.setRules(#"[{"method": "PATCH", "dryRun": true, "times": 1, "action": "hold", "name": "dry"}]"#)
            try configure(cluster, rules: [Rule(alert: "Control", labels: ["destination_workload": "details", "destination_workload_namespace": "bookinfo"])])
            let daemon = try await start(cluster)
            defer { daemon.signal(SIGKILL) }
            try await waitUntil(.seconds(60)) { try await cluster.proxy.held() == ["dry"] }
            let http = HTTPClient()
            let path = cluster.double.url + "/apis/apps/v1/namespaces/bookinfo/deployments/details"
            let old = try JSONSerialization.jsonObject(with: Data(try await http.get(path).body)) as? [String: Any] ?? [:]
            _ = try await http.execute(HTTPRequest(method: .delete, url: path))
            var recreated = old
            recreated["metadata"] = ["name": "details", "namespace": "bookinfo"]
            recreated["status"] = nil
            try await cluster.double.seed(String(decoding: try JSONSerialization.data(withJSONObject: [recreated]), as: UTF8.self))
            try await cluster.proxy.release("dry")
            let decided = await daemon.waitForLog(.seconds(30)) { $0["msg"] == "remediation decided" }
            #expect(decided?["remediation.outcome"] == "refused" && decided?["remediation.guard"] == "server dry run", "\(decided ?? [:])")
            daemon.signal(SIGTERM)
            _ = await daemon.process.waitForExit()
            #expect(try await realWrites(cluster.double).filter { $0.hasPrefix("PATCH") }.isEmpty)
        }
    }

    /// The first log line with this message. (A closure-taking wait returned the wrong line in this
    /// test under Swift 6.3 when two such closures differed only by their string literal.)
    func waitForMessage(_ daemon: DaemonTests.Daemon, _ message: String, _ timeout: Duration) async -> [String: String]? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            for line in daemon.logLines where line["msg"] == message { return line }
            try? await Task.sleep(for: .milliseconds(100))
        }
        return nil
    }

    func waitUntil(_ timeout: Duration, _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        Issue.record("condition not met within \(timeout)")
    }
}

struct ReplicasOnly: Decodable {
    struct Spec: Decodable { var replicas: Int }
    var spec: Spec
}
