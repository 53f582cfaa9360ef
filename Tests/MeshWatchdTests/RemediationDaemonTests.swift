import Foundation
import Incidents
import MeshFixtures
import MeshHTTP
@testable import MeshWatchdCore
import MetricModel
import Testing

/// The live incident: the real Prometheus over it, the Kubernetes double seeded with its
/// cluster, and a webhook receiver; `body` gets a kubeconfig path for the double in `state`.
func withLiveIncident(_ scenario: MeshScenario = .live(), state: String,
                      _ body: (PrometheusServer, KubernetesDouble, EchoServer, String) async throws -> Void) async throws {
    try await withPrometheus(openMetrics: scenario.openMetrics()) { prometheus async throws in
        try await withKubernetes(seed: scenario.kubernetesSeed()) { double async throws in
            try await withEchoServer { receiver async throws in
                let kubeconfig = state + "/kubeconfig"
                try double.kubeconfig().write(toFile: kubeconfig, atomically: true, encoding: .utf8)
                try await body(prometheus, double, receiver, kubeconfig)
            }
        }
    }
}

/// The daemon with remediation on, against the real Prometheus (the live incident) and the
/// Kubernetes double: the writes the double received, the decision in the finding, the ledger.
@Suite("The daemon remediates: guarded, verified, recorded")
struct RemediationDaemonTests {
    let harness = DaemonTests()

    func config(_ state: String, prometheus: String, receiver: String, remediation: String) throws {
        try #"""
            {"prometheus": {"url": "\#(prometheus)"},
             "kubernetes": {"kubeconfig": "\#(state)/kubeconfig"},
             "packs": {"istio": {"parameters": {"interval": "1s", "error_rate.for": "2s"}}},
             "notifications": {"levels": [{"after": "0s"}, {"after": "1h"}, {"after": "2h"}]},
             "remediation": \#(remediation),
             "sinks": [{"name": "ops", "type": "webhook", "url": "\#(receiver)", "alerts": ["IstioHighErrorRate"]}]}
            """#.write(toFile: state + "/config.json", atomically: true, encoding: .utf8)
    }

    func findings(_ receiver: EchoServer) async throws -> [Finding] {
        try await receiver.deliveries().bodies.compactMap { try? Finding.decode(Array($0.utf8)) }
    }

    func realWrites(_ double: KubernetesDouble) async throws -> [String] {
        try await double.requests().filter { !$0.dryRun }.map { "\($0.method) \($0.path) \($0.contentType)" }
    }

    @Test("bad rollout → rollout undo taken, in the finding and the ledger; not recovered in the window → escalated, no second action")
    func undoThenEscalate() async throws {
        let state = try DaemonTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: state) }
        let scenario = MeshScenario.live()
        try await withLiveIncident(scenario, state: state) { prometheus, double, receiver, _ async throws in
                    try config(state, prometheus: prometheus.url, receiver: receiver.url("/receiver"),
                               remediation: #"{"mode": "enforce", "own_namespace": "meshwatchd", "verification_window": "3s"}"#)
                    let daemon = try await harness.start(["--config", state + "/config.json", "--state-directory", state], notify: nil)
                    defer { daemon.signal(SIGKILL) }
                    let decided = await daemon.waitForLog(.seconds(40)) { $0["msg"] == "remediation decided" }
                    #expect(decided?["remediation.outcome"] == "taken", "log:\n\(daemon.log)")
                    #expect(decided?["remediation.action"] == "rollout_undo")
                    // The data still shows the errors: after the window, not recovered, escalated; no second action.
                    let unrecovered = await daemon.waitForLog(.seconds(30)) { $0["msg"] == "remediation did not help: the alert still fires after the verification window" }
                    #expect(unrecovered != nil, "log:\n\(daemon.log)")
                    var escalated: Finding?
                    let deadline = ContinuousClock.now + .seconds(20)
                    while escalated == nil && ContinuousClock.now < deadline {
                        escalated = try await findings(receiver).first { $0.kind == .escalated }
                        try await Task.sleep(for: .milliseconds(200))
                    }
                    let firing = try #require(try await findings(receiver).first { $0.kind == .firing })
                    #expect(firing.remediation?.hasPrefix("TAKEN: rollout_undo bookinfo/reviews (revision 2 → 1 (bookinfo/reviews:1.18") == true,
                            "\(firing.remediation ?? "nil")")
                    #expect(firing.decision?["decidedBy"] == .string("all guards"))
                    #expect(escalated?.escalationLevel == 2)
                    #expect(escalated?.remediation?.contains("NOT RECOVERED within the verification window: escalated") == true, "\(escalated?.remediation ?? "nil")")
                    #expect(try await realWrites(double) == ["PATCH /apis/apps/v1/namespaces/bookinfo/deployments/reviews application/json-patch+json"])

                    // /metrics counts the decision and the verification.
                    let metrics = String(decoding: try await HTTPClient().get(daemon.statusURL("/metrics")).body, as: UTF8.self)
                    #expect(metrics.contains(#"meshwatchd_remediation_decisions_total{action="rollout_undo",outcome="taken",guard="all_guards"} 1"#), "\(metrics)")
                    #expect(metrics.contains(#"meshwatchd_remediation_verifications_total{result="not_recovered"} 1"#))
                    daemon.signal(SIGTERM)
                    _ = await daemon.process.waitForExit()

                    // The ledger command reads the decision back.
                    let ledger = try await CommandLineTests().meshwatchd(["ledger", "--state-directory", state, "--output", "jsonl"])
                    #expect(ledger.status == 0, "\(ledger.stderr)")
                    let lines = ledger.stdout.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
                    #expect(lines.count == 1)
                    #expect(lines.first?["outcome"] as? String == "taken" && lines.first?["verified"] as? String == "not recovered")
                    let table = try await CommandLineTests().meshwatchd(["ledger", "--state-directory", state, "--since", "1h"])
                    #expect(table.stdout.contains("taken    rollout_undo  bookinfo/reviews"), "\(table.stdout)")
        }
    }

    @Test("dry-run mode writes nothing; a restarted daemon (fresh state) is held by the cooldown annotation a real action left")
    func dryRunAndCooldown() async throws {
        let scenario = MeshScenario.live()
        try await withPrometheus(openMetrics: scenario.openMetrics()) { prometheus async throws in
            try await withKubernetes(seed: scenario.kubernetesSeed()) { double async throws in
                try await withEchoServer { receiver async throws in
                    // Dry run: the decision is made and reported, the double receives only the server-side dry run.
                    let dry = try DaemonTests.temporaryDirectory()
                    defer { try? FileManager.default.removeItem(atPath: dry) }
                    try double.kubeconfig().write(toFile: dry + "/kubeconfig", atomically: true, encoding: .utf8)
                    try config(dry, prometheus: prometheus.url, receiver: receiver.url("/receiver"), remediation: #"{"mode": "dry-run"}"#)
                    let first = try await harness.start(["--config", dry + "/config.json", "--state-directory", dry], notify: nil)
                    let decided = await first.waitForLog(.seconds(40)) { $0["msg"] == "remediation decided" }
                    #expect(decided?["remediation.outcome"] == "dry-run" && decided?["remediation.guard"] == "mode", "log:\n\(first.log)")
                    first.signal(SIGTERM)
                    _ = await first.process.waitForExit()
                    #expect(try await realWrites(double).isEmpty)

                    // Enforce, then a second daemon with an empty ledger: the Deployment's annotation holds it off.
                    let enforce = try DaemonTests.temporaryDirectory()
                    defer { try? FileManager.default.removeItem(atPath: enforce) }
                    try double.kubeconfig().write(toFile: enforce + "/kubeconfig", atomically: true, encoding: .utf8)
                    try config(enforce, prometheus: prometheus.url, receiver: receiver.url("/receiver"), remediation: #"{"mode": "enforce", "own_namespace": "meshwatchd"}"#)
                    let second = try await harness.start(["--config", enforce + "/config.json", "--state-directory", enforce], notify: nil)
                    let taken = await second.waitForLog(.seconds(40)) { $0["msg"] == "remediation decided" }
                    #expect(taken?["remediation.outcome"] == "taken", "log:\n\(second.log)")
                    second.signal(SIGTERM)
                    _ = await second.process.waitForExit()

                    let fresh = try DaemonTests.temporaryDirectory()
                    defer { try? FileManager.default.removeItem(atPath: fresh) }
                    try double.kubeconfig().write(toFile: fresh + "/kubeconfig", atomically: true, encoding: .utf8)
                    try config(fresh, prometheus: prometheus.url, receiver: receiver.url("/receiver"), remediation: #"{"mode": "enforce", "own_namespace": "meshwatchd"}"#)
                    let third = try await harness.start(["--config", fresh + "/config.json", "--state-directory", fresh], notify: nil)
                    let held = await third.waitForLog(.seconds(40)) { $0["msg"] == "remediation decided" }
                    third.signal(SIGTERM)
                    _ = await third.process.waitForExit()
                    // The undo is refused on preconditions or cooldown; either way no second write.
                    #expect(held?["remediation.outcome"] == "refused", "log:\n\(third.log)")
                    #expect(["cooldown", "preconditions"].contains(held?["remediation.guard"] ?? ""), "\(held ?? [:])")
                    #expect(try await realWrites(double).count == 1)
                }
            }
        }
    }

    @Test("Prometheus unreachable: nothing fires, nothing is decided, nothing is written")
    func prometheusDown() async throws {
        let state = try DaemonTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: state) }
        let closed = try ClosedPort()
        try await withKubernetes(seed: MeshScenario.live().kubernetesSeed()) { double async throws in
            try await withEchoServer { receiver async throws in
                try double.kubeconfig().write(toFile: state + "/kubeconfig", atomically: true, encoding: .utf8)
                try config(state, prometheus: "http://127.0.0.1:\(closed.port)", receiver: receiver.url("/receiver"), remediation: #"{"mode": "enforce", "own_namespace": "meshwatchd"}"#)
                let daemon = try await harness.start(["--config", state + "/config.json", "--state-directory", state], notify: nil)
                let failing = await daemon.waitForLog(.seconds(20)) { $0["msg"] == "rule evaluation failed" }
                #expect(failing != nil, "log:\n\(daemon.log)")
                // Progress first: cycles ran (and failed) before we look at what did not happen.
                #expect(await daemon.waitForCycles(3, group: "meshwatchd-istio"), "log:\n\(daemon.log)")
                daemon.signal(SIGTERM)
                _ = await daemon.process.waitForExit()
                #expect(!daemon.log.contains("remediation decided"))
                #expect(try await double.requests().isEmpty)
            }
        }
        withExtendedLifetime(closed) {}
    }
}

@Suite("Two replicas with leader election")
struct LeaderElectionDaemonTests {
    @Test("exactly one replica acts; after the leader is killed the other takes over within the lease duration, and the cooldown holds")
    func twoReplicas() async throws {
        let harness = DaemonTests()
        let scenario = MeshScenario.live()
        try await withPrometheus(openMetrics: scenario.openMetrics()) { prometheus async throws in
            try await withKubernetes(seed: scenario.kubernetesSeed()) { double async throws in
                try await withEchoServer { receiver async throws in
                    var replicas: [(state: String, daemon: DaemonTests.Daemon)] = []
                    defer {
                        for replica in replicas {
                            replica.daemon.signal(SIGKILL)
                            try? FileManager.default.removeItem(atPath: replica.state)
                        }
                    }
                    for name in ["replica-a", "replica-b"] {
                        let state = try DaemonTests.temporaryDirectory()
                        try double.kubeconfig().write(toFile: state + "/kubeconfig", atomically: true, encoding: .utf8)
                        try #"""
                            {"prometheus": {"url": "\#(prometheus.url)"},
                             "kubernetes": {"kubeconfig": "\#(state)/kubeconfig"},
                             "leader_election": {"enabled": true, "namespace": "meshwatchd", "identity": "\#(name)",
                                                 "lease_duration": "3s", "renew_deadline": "2s", "retry_period": "500ms"},
                             "packs": {"istio": {"parameters": {"interval": "1s", "error_rate.for": "2s"}}},
                             "remediation": {"mode": "enforce", "own_namespace": "meshwatchd"},
                             "sinks": [{"name": "ops", "type": "webhook", "url": "\#(receiver.url("/receiver"))", "alerts": ["IstioHighErrorRate"]}]}
                            """#.write(toFile: state + "/config.json", atomically: true, encoding: .utf8)
                        replicas.append((state, try await harness.start(["--config", state + "/config.json", "--state-directory", state], notify: nil)))
                        if name == "replica-a" {
                            // Let A win the first election, so the test knows which one leads.
                            #expect(await replicas[0].daemon.waitForLog(.seconds(20)) { $0["msg"] == "acquired leadership" } != nil,
                                    "log:\n\(replicas[0].daemon.log)")
                        }
                    }
                    let (a, b) = (replicas[0].daemon, replicas[1].daemon)
                    #expect(await a.waitForLog(.seconds(40)) { $0["msg"] == "remediation decided" }?["remediation.outcome"] == "taken", "log:\n\(a.log)")
                    #expect(await b.waitForLog(.seconds(30)) { $0["msg"] == "following: waiting for the lease" } != nil, "log:\n\(b.log)")
                    #expect(!b.log.contains("acquired leadership") && !b.log.contains("alert firing"))
                    // The follower is ready (and idle).
                    #expect(try await HTTPClient().get(b.statusURL("/readyz")).status == 200)

                    // The leader dies without releasing its lease: B takes over once it expires.
                    let killed = Date()
                    a.signal(SIGKILL)
                    _ = await a.process.waitForExit()
                    let acquired = await b.waitForLog(.seconds(60)) { $0["msg"] == "acquired leadership" }
                    #expect(acquired != nil, "log:\n\(b.log)")
                    // Measured from B's own log line, not from when this test noticed it: the lease (3 s)
                    // expires, then the next attempt (every 0.5 s) takes it; slack for a loaded machine.
                    let takeover = acquired?["ts"].flatMap(parseTime).map { $0.timeIntervalSince(killed) }
                    #expect(takeover.map { $0 < 10 } == true, "took over after \(takeover.map { "\($0) s" } ?? "never")")
                    // B evaluates now; its decision is refused (the annotation's cooldown): still one write in all.
                    let second = await b.waitForLog(.seconds(40)) { $0["msg"] == "remediation decided" }
                    #expect(second?["remediation.outcome"] == "refused", "log:\n\(b.log)")
                    let writes = try await double.requests().filter { !$0.dryRun && $0.path.contains("/deployments/") }
                    #expect(writes.count == 1)
                    b.signal(SIGTERM)
                    #expect(await b.process.waitForExit() == 0)
                }
            }
        }
    }
}

@Suite("Remediation verified: the alert recovers after the action")
struct RemediationRecoveryTests {
    @Test("bad rollout → rollout undo → the errors stop → recovered within the window; the resolve says so")
    func recovered() async throws {
        let state = try DaemonTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: state) }
        // The live incident, but reviews' errors end 150 s from now (as the undo would end them):
        // late enough that the action is taken while the alert still fires even when the machine
        // is busy and Prometheus and the daemon take long to start (at 20 s, and once at 60 s
        // beside four busy loops, it resolved first).
        var scenario = MeshScenario.live(ahead: 6)
        let healed = Date().addingTimeInterval(150)
        for index in scenario.services.indices where scenario.services[index].workload == "reviews" {
            scenario.services[index].changes.append(.init(at: healed, errorRatio: 0.004))
        }
        // The error-rate rule over a short window, so the resolve comes within a minute.
        try """
            groups:
              - name: fast
                interval: 1s
                rules:
                  - alert: IstioHighErrorRate
                    expr: |
                      sum by (destination_workload, destination_workload_namespace) (rate(istio_requests_total{reporter="destination", response_code=~"5..", destination_workload="reviews"}[45s]))
                        / sum by (destination_workload, destination_workload_namespace) (rate(istio_requests_total{reporter="destination", destination_workload="reviews"}[45s])) > 0.05
                    for: 1s
                    labels: {severity: critical}
                    annotations: {summary: "{{ $labels.destination_workload }} fails"}
            """.write(toFile: state + "/rules.yml", atomically: true, encoding: .utf8)
        try await withLiveIncident(scenario, state: state) { prometheus, double, receiver, _ async throws in
                    try #"""
                        {"prometheus": {"url": "\#(prometheus.url)"},
                         "kubernetes": {"kubeconfig": "\#(state)/kubeconfig"},
                         "rule_files": ["rules.yml"], "packs": {"istio": {"enabled": false}},
                         "remediation": {"mode": "enforce", "own_namespace": "meshwatchd", "verification_window": "6m",
                                         "rules": [{"file": "rules.yml", "group": "fast", "rule": "IstioHighErrorRate"}]},
                         "sinks": [{"name": "ops", "type": "webhook", "url": "\#(receiver.url("/receiver"))"}]}
                        """#.write(toFile: state + "/config.json", atomically: true, encoding: .utf8)
                    let daemon = try await DaemonTests().start(["--config", state + "/config.json", "--state-directory", state], notify: nil)
                    defer { daemon.signal(SIGKILL) }
                    #expect(Date() < healed, "the daemon started after the errors ended: the machine is too slow for this test's 150 s")
                    let decided = await daemon.waitForLog(.seconds(150)) { $0["msg"] == "remediation decided" }
                    #expect(decided?["remediation.outcome"] == "taken", "log:\n\(daemon.log)")
                    let verified = await daemon.waitForLog(.seconds(240)) { $0["msg"] == "remediation verified: the alert resolved" }
                    #expect(verified != nil, "log:\n\(daemon.log)")
                    var resolved: Finding?
                    let deadline = ContinuousClock.now + .seconds(20)
                    while resolved == nil && ContinuousClock.now < deadline {
                        resolved = try await receiver.deliveries().bodies.compactMap { try? Finding.decode(Array($0.utf8)) }.first { $0.kind == .resolved }
                        try await Task.sleep(for: .milliseconds(200))
                    }
                    #expect(resolved?.remediation?.contains("TAKEN: rollout_undo bookinfo/reviews") == true, "\(resolved?.remediation ?? "nil")")
                    #expect(resolved?.remediation?.contains("RECOVERED: the alert resolved") == true)
                    daemon.signal(SIGTERM)
                    _ = await daemon.process.waitForExit()
                    let ledger = try await CommandLineTests().meshwatchd(["ledger", "--state-directory", state, "--output", "jsonl"])
                    #expect(ledger.stdout.contains(#""verified":"recovered""#), "\(ledger.stdout)")
                    #expect(try await double.requests().filter { !$0.dryRun }.count == 1)
        }
    }
}
