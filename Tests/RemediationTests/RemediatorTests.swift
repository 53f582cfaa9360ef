import Foundation
import MeshFixtures
import MeshHTTP
import MetricModel
@testable import Remediation
import Testing

/// Guarded remediation against the Kubernetes double seeded with the incident's cluster: each
/// scenario asserts the writes the double received (none, or exactly the expected ones) and
/// the decision with the guard that made it.
@Suite("Guarded remediation: actions with kubectl's semantics, every guard, dry runs and the kill switch")
struct RemediatorTests {
    static var seed: String { get throws { try MeshScenario.incident(start: Date(timeIntervalSinceNow: -55 * 60)).kubernetesSeed() } }
    let rollout = Evidence.RecentRollout(revision: 2, minutesBeforePending: 2, images: ["bookinfo/reviews:1.19"])

    func policy(_ mode: RemediationMode = .enforce, _ change: (inout RemediationPolicy) -> Void = { _ in }) -> RemediationPolicy {
        var policy = RemediationPolicy()
        policy.mode = mode
        change(&policy)
        return policy
    }

    func proposal(_ action: RemediationAction, _ namespace: String, _ name: String, rollout: Evidence.RecentRollout? = nil) -> Remediator.Proposal {
        .init(action: action, alert: action == .scale ? "IstioHighLatency" : "IstioHighErrorRate", alertKey: "meshwatchd-istio/\(name)",
              target: .init(namespace: namespace, deployment: name, resolvedBy: "destination_workload label"), recentRollout: rollout,
              rule: RuleReference(file: "<built-in istio pack>", group: "meshwatchd-istio", name: "IstioHighErrorRate", builtIn: true))
    }

    /// A remediator on the real client, which leads, and whose alerts are all seen firing.
    static func remediator(_ client: KubernetesClient, _ policy: RemediationPolicy, ledger: any RemediationLedger = InMemoryLedger(),
                           leadership: Leadership = Leadership(leading: true), firing: Bool = true) -> Remediator {
        let alerts = FiringAlerts()
        if firing { for name in ["reviews", "ratings", "productpage", "checkout", "details", "istiod"] { alerts.insert(group: "g", "meshwatchd-istio/\(name)") } }
        return Remediator(world: ClusterWorld(client: client, policy: policy, firing: alerts, leadership: leadership, mode: LiveMode(policy.mode)),
                          policy: policy, ledger: ledger)
    }

    /// A ledger that says `summary` about the past.
    func ledger(_ summary: LedgerSummary) -> any RemediationLedger { PresetLedger(summary: summary) }

    /// Writes the double received since `after` writes: "PATCH path contentType dryRun".
    func writes(_ double: KubernetesDouble, after: Int) async throws -> [String] {
        try await double.requests().dropFirst(after).map { "\($0.method) \($0.path) \($0.contentType) dryRun=\($0.dryRun)" }
    }

    func deployment(_ double: KubernetesDouble, _ namespace: String, _ name: String) async throws -> Deployment {
        try await KubernetesClient(connection: .init(server: double.url)).get(Deployment.self, "/apis/apps/v1/namespaces/\(namespace)/deployments/\(name)")
    }

    @Test("bad rollout: rollout undo to the previous revision, after a server-side dry run; the cooldown then holds across a restart")
    func undo() async throws {
        try await withKubernetes(seed: try Self.seed) { double async throws in
            let client = KubernetesClient(connection: .init(server: double.url))
            let before = try await double.requests().count
            let decision = await Self.remediator(client, policy()).decide(proposal(.rolloutUndo, "bookinfo", "reviews", rollout: rollout), criticalWorkloads: 1)
            #expect(decision.outcome == .taken, "\(decision.summary)")
            #expect(decision.change == "revision 2 → 1 (bookinfo/reviews:1.18, docker.io/istio/proxyv2:1.20.3)")
            #expect(try await writes(double, after: before) == [
                "PATCH /apis/apps/v1/namespaces/bookinfo/deployments/reviews application/json-patch+json dryRun=true",
                "PATCH /apis/apps/v1/namespaces/bookinfo/deployments/reviews application/json-patch+json dryRun=false",
            ])
            let reviews = try await deployment(double, "bookinfo", "reviews")
            #expect(reviews.spec.template.spec?.containers.first?.image == "bookinfo/reviews:1.18")
            #expect(reviews.spec.template.metadata?.labels?["pod-template-hash"] == nil)
            #expect(reviews.revision == 3)  // as after kubectl rollout undo: revision 1 comes back as 3
            #expect(reviews.metadata.annotation(CooldownGuard.annotation)?.contains("rollout_undo IstioHighErrorRate") == true)

            // A restarted daemon has an empty ledger; the annotation on the Deployment still holds the cooldown.
            let again = await Self.remediator(client, policy()).decide(proposal(.restart, "bookinfo", "reviews"), criticalWorkloads: 1)
            #expect(again.outcome == .refused && again.decidedBy == "cooldown", "\(again.summary)")
            #expect(try await writes(double, after: before).count == 2)
        }
    }

    @Test("dry-run mode and the kill switch (file or ConfigMap key) decide but write nothing except the server dry run")
    func dryRuns() async throws {
        try await withKubernetes(seed: try Self.seed) { double async throws in
            let client = KubernetesClient(connection: .init(server: double.url))
            var before = try await double.requests().count
            let dry = await Self.remediator(client, policy(.dryRun)).decide(proposal(.rolloutUndo, "bookinfo", "reviews", rollout: rollout), criticalWorkloads: 1)
            #expect(dry.outcome == .dryRun && dry.decidedBy == "mode")
            #expect(try await writes(double, after: before).allSatisfy { $0.hasSuffix("dryRun=true") })

            let file = NSTemporaryDirectory() + "meshwatchd-kill-" + UUID().uuidString
            FileManager.default.createFile(atPath: file, contents: Data())
            defer { try? FileManager.default.removeItem(atPath: file) }
            before = try await double.requests().count
            let killed = await Self.remediator(client, policy { $0.killSwitchFile = file })
                .decide(proposal(.rolloutUndo, "bookinfo", "reviews", rollout: rollout), criticalWorkloads: 1)
            #expect(killed.outcome == .dryRun && killed.decidedBy == "kill switch", "\(killed.summary)")
            #expect(try await writes(double, after: before).allSatisfy { $0.hasSuffix("dryRun=true") })

            try await double.seed(#"[{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "meshwatchd-kill-switch", "namespace": "istio-system"}, "data": {"dry-run": "yes"}}]"#)
            before = try await double.requests().count
            let byConfigMap = await Self.remediator(client, policy {
                $0.killSwitchConfigMap = .init(namespace: "istio-system", name: "meshwatchd-kill-switch", key: "dry-run")
            }).decide(proposal(.rolloutUndo, "bookinfo", "reviews", rollout: rollout), criticalWorkloads: 1)
            #expect(byConfigMap.outcome == .dryRun && byConfigMap.decidedBy == "kill switch")
            #expect(try await writes(double, after: before).allSatisfy { $0.hasSuffix("dryRun=true") })
            #expect(try await deployment(double, "bookinfo", "reviews").revision == 2)  // nothing was rolled back
        }
    }

    @Test("latency: scale by a step within the ceiling in one merge patch; never against an HPA, never past max_replicas")
    func scale() async throws {
        try await withKubernetes(seed: try Self.seed) { double async throws in
            let client = KubernetesClient(connection: .init(server: double.url))
            let before = try await double.requests().count
            let scaled = await Self.remediator(client, policy()).decide(proposal(.scale, "bookinfo", "ratings"), criticalWorkloads: 0)
            #expect(scaled.outcome == .taken && scaled.change == "replicas 2 → 3", "\(scaled.summary)")
            // One merge patch on the Deployment: replicas, the cooldown annotation and the preconditions together.
            #expect(try await writes(double, after: before) == [
                "PATCH /apis/apps/v1/namespaces/bookinfo/deployments/ratings application/merge-patch+json dryRun=true",
                "PATCH /apis/apps/v1/namespaces/bookinfo/deployments/ratings application/merge-patch+json dryRun=false",
            ])
            #expect(try await deployment(double, "bookinfo", "ratings").metadata.annotation(CooldownGuard.annotation)?.hasSuffix(scaled.id ?? "?") == true)
            #expect(try await deployment(double, "bookinfo", "ratings").spec.replicas == 3)

            let mark = try await double.requests().count
            let hpa = await Self.remediator(client, policy()).decide(proposal(.scale, "bookinfo", "productpage"), criticalWorkloads: 0)
            #expect(hpa.outcome == .refused && hpa.decidedBy == "preconditions" && hpa.reason.contains("never fight an HPA"), "\(hpa.summary)")
            let ceiling = await Self.remediator(client, policy { $0.maxReplicas = 2 }).decide(proposal(.scale, "shop", "checkout"), criticalWorkloads: 0)
            #expect(ceiling.outcome == .refused && ceiling.reason == "already at 3 replicas, max_replicas is 2", "\(ceiling.summary)")
            #expect(try await writes(double, after: mark).isEmpty)
        }
    }

    @Test("refusals write nothing: paused, no earlier revision, no recent rollout, scope, blast radius, budget, in flight, one action per incident")
    func refusals() async throws {
        try await withKubernetes(seed: try Self.seed) { double async throws in
            let client = KubernetesClient(connection: .init(server: double.url))
            try await double.seed(#"[{"_double": "patch", "path": "/apis/apps/v1/namespaces/shop/deployments/checkout", "type": "merge", "body": {"spec": {"paused": true}}}]"#)
            let before = try await double.requests().count
            func decide(_ proposal: Remediator.Proposal, ledger: LedgerSummary = LedgerSummary(), critical: Int = 1,
                        _ change: (inout RemediationPolicy) -> Void = { _ in }) async -> RemediationDecision {
                await Self.remediator(client, policy(.enforce, change), ledger: PresetLedger(summary: ledger)).decide(proposal, criticalWorkloads: critical)
            }
            let cases: [(RemediationDecision, String, String)] = [
                (await decide(proposal(.restart, "shop", "checkout")), "preconditions", "the Deployment is paused"),
                (await decide(proposal(.rolloutUndo, "bookinfo", "ratings", rollout: rollout)), "preconditions", "not the blamed revision 2"),
                (await decide(proposal(.rolloutUndo, "bookinfo", "reviews")), "preconditions", "no rollout within the alert window"),
                (await decide(proposal(.restart, "istio-system", "istiod")), "scope", "namespace istio-system is protected unless allowed by name"),
                (await decide(proposal(.restart, "bookinfo", "details")) { $0.denyNamespaces = ["bookinfo"] }, "scope", "namespace bookinfo is denied"),
                (await decide(proposal(.restart, "bookinfo", "details")) { $0.allowWorkloads = ["bookinfo/ratings"] }, "scope", "is not in allow_workloads"),
                (await decide(proposal(.rolloutUndo, "bookinfo", "reviews", rollout: rollout), critical: 4), "blast radius", "4 workloads have critical alerts firing"),
                (await decide(proposal(.restart, "bookinfo", "details"), ledger: LedgerSummary(takenInLastHour: 3)), "budget", "3 actions in the last hour (budget 3)"),
                (await decide(proposal(.restart, "bookinfo", "details"), ledger: LedgerSummary(inFlight: ["shop/checkout"])), "one action in flight", "still in flight"),
                (await decide(proposal(.restart, "bookinfo", "details"), ledger: LedgerSummary(actedOn: ["meshwatchd-istio/details bookinfo/details"])),
                 "one action per incident", "already taken on bookinfo/details in this incident"),
                (await decide(proposal(.restart, "bookinfo", "details"), ledger: LedgerSummary(lastTaken: ["bookinfo/details": Date(timeIntervalSinceNow: -600)])),
                 "cooldown", "cooldown"),
                (await decide(proposal(.restart, "bookinfo", "details")) { $0.mode = .off }, "mode", "remediation is off"),
            ]
            for (decision, guardName, reason) in cases {
                #expect(decision.outcome == .refused && decision.decidedBy == guardName && decision.reason.contains(reason), "\(decision.summary)")
            }
            #expect(cases[6].0.escalate)  // blast radius escalates instead
            #expect(try await writes(double, after: before).isEmpty)
        }
    }

    @Test("restart: kubectl's restartedAt annotation on the template, with the cooldown annotation, in one strategic merge patch")
    func restart() async throws {
        try await withKubernetes(seed: try Self.seed) { double async throws in
            let client = KubernetesClient(connection: .init(server: double.url))
            let before = try await double.requests().count
            let decision = await Self.remediator(client, policy()).decide(proposal(.restart, "shop", "checkout"), criticalWorkloads: 0)
            #expect(decision.outcome == .taken, "\(decision.summary)")
            #expect(try await writes(double, after: before).last == "PATCH /apis/apps/v1/namespaces/shop/deployments/checkout application/strategic-merge-patch+json dryRun=false")
            let checkout = try await deployment(double, "shop", "checkout")
            #expect(checkout.spec.template.metadata?.annotations?["kubectl.kubernetes.io/restartedAt"] != nil)
            #expect(checkout.metadata.annotation(CooldownGuard.annotation) != nil)
            #expect(checkout.revision == 2)
        }
    }

    /// Holds the dry run in the proxy, changes the world, releases it: the write-time guards see the change.
    func heldDryRun(_ policy: RemediationPolicy, leadership: Leadership = Leadership(leading: true),
                    meanwhile: @Sendable (KubernetesDouble) async throws -> Void) async throws -> (RemediationDecision, [String]) {
        try await withKubernetes(seed: try Self.seed) { double async throws in
            try await withFaultProxy(upstream: double.url) { proxy async throws in
                try await proxy.setRules(#"[{"method": "PATCH", "dryRun": true, "times": 1, "action": "hold", "name": "dry"}]"#)
                // The held request must outlast the test's own steps on a busy machine: the client's
                // timeout (10 s by default) ran out under load, which turned the test into another one.
                let client = KubernetesClient(connection: .init(server: proxy.url), timeout: .seconds(120))
                let before = try await double.requests().count
                let remediator = Self.remediator(client, policy, leadership: leadership)
                let decision = Task { await remediator.decide(proposal(.restart, "shop", "checkout"), criticalWorkloads: 0) }
                let deadline = ContinuousClock.now + .seconds(90)
                while try await proxy.held() != ["dry"] && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
                try #require(try await proxy.held() == ["dry"], "the server dry run never reached the proxy")
                try await meanwhile(double)
                try await proxy.release("dry")
                return (await decision.value, try await writes(double, after: before))
            }
        }
    }

    @Test("the lease lost while the server dry run is in flight: no write")
    func leaseLostDuringDryRun() async throws {
        let leadership = Leadership(leading: true)
        leadership.renewed(sentAt: .now, renewDeadline: .seconds(30))
        let (decision, writes) = try await heldDryRun(policy(), leadership: leadership) { _ in leadership.set(false) }
        #expect(decision.outcome == .refused && decision.decidedBy == "lease", "\(decision.summary)")
        #expect(writes.allSatisfy { $0.hasSuffix("dryRun=true") } && writes.count == 1)
    }

    @Test("the kill switch appearing between the dry run and the write: dry-run, no write")
    func killSwitchAppears() async throws {
        let file = NSTemporaryDirectory() + "meshwatchd-kill-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: file) }
        let (decision, writes) = try await heldDryRun(policy { $0.killSwitchFile = file }) { _ in
            FileManager.default.createFile(atPath: file, contents: Data())
        }
        #expect(decision.outcome == .dryRun && decision.decidedBy == "kill switch", "\(decision.summary)")
        #expect(writes.count == 1 && writes.allSatisfy { $0.hasSuffix("dryRun=true") })
    }

    @Test("someone writes the Deployment between the decision and the write: the stale write fails on its resourceVersion, nothing acts")
    func staleWrite() async throws {
        let (decision, writes) = try await heldDryRun(policy()) { double in
            try await double.seed(#"[{"_double": "patch", "path": "/apis/apps/v1/namespaces/shop/deployments/checkout", "type": "merge", "body": {"metadata": {"labels": {"touched": "yes"}}}}]"#)
        }
        #expect(decision.outcome == .refused && decision.decidedBy == "server dry run" && decision.reason.contains("409"), "\(decision.summary)")
        #expect(writes.count == 1)
    }
}
