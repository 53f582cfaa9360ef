import Foundation
import MetricModel
@testable import Remediation
import Synchronization
import Testing

/// A world with no network: the workload it returns, what it was sent, and switches for the
/// kill switch, the alert, the lease and the mode.
final class FakeWorld: RemediationWorld, @unchecked Sendable {
    // @unchecked: every field is behind `lock`.
    private let lock = NSLock()
    var snapshot: WorkloadSnapshot
    var hpas: [HorizontalPodAutoscaler] = []
    var sent: [KubernetesWrite] = []
    var dryRunVersion: String?          // nil: answer with the snapshot's resourceVersion
    var killSwitchReason: String?
    var firing = true
    var lease: String?
    var mode: RemediationMode = .enforce
    var answer: (@Sendable (KubernetesWrite) throws -> JSONValue)?

    init(snapshot: WorkloadSnapshot) { self.snapshot = snapshot }

    func with<T>(_ body: (FakeWorld) -> T) -> T { lock.lock(); defer { lock.unlock() }; return body(self) }

    func read(_ workload: WorkloadRef) async throws -> WorkloadSnapshot { with { $0.snapshot } }
    func autoscalers(_ namespace: String) async throws -> [HorizontalPodAutoscaler] { with { $0.hpas } }
    func send(_ write: KubernetesWrite) async throws -> JSONValue {
        let (answer, version, snapshot) = with { world -> ((@Sendable (KubernetesWrite) throws -> JSONValue)?, String?, WorkloadSnapshot) in
            world.sent.append(write)
            return (world.answer, world.dryRunVersion, world.snapshot)
        }
        if let answer { return try answer(write) }
        let annotation = (try? JSONDecoder().decode(JSONValue.self, from: Data(write.body)))
            .flatMap { body -> String? in
                if case .array(let operations) = body {
                    return operations.compactMap { $0["value"]?[CooldownGuard.annotation]?.string }.first
                }
                return body["metadata"]?["annotations"]?[CooldownGuard.annotation]?.string
            }
        let answered = write.dryRun ? (version ?? snapshot.resourceVersion) : String((Int(snapshot.resourceVersion) ?? 0) + 1)
        return .object(["metadata": .object(["resourceVersion": .string(answered),
                                             "annotations": .object([CooldownGuard.annotation: annotation.map(JSONValue.string) ?? .null])])])
    }
    func killSwitch() async -> String? { with { $0.killSwitchReason } }
    func isFiring(alertKey: String) -> Bool { with { $0.firing } }
    func leaseProblem() -> String? { with { $0.lease } }
    func currentMode() -> RemediationMode { with { $0.mode } }
}

enum Fixture {
    static func deployment(replicas: Int = 2, revision: Int = 2, paused: Bool = false, annotations: [String: String] = [:]) throws -> WorkloadSnapshot {
        var notes = annotations
        notes["deployment.kubernetes.io/revision"] = String(revision)
        let noteText = String(decoding: try JSONEncoder().encode(notes), as: UTF8.self)
        let text = """
            {"metadata": {"name": "reviews", "namespace": "bookinfo", "uid": "uid-1", "resourceVersion": "41", "generation": 3, "annotations": \(noteText)},
             "spec": {"replicas": \(replicas), "paused": \(paused), "selector": {"matchLabels": {"app": "reviews"}},
                      "template": {"metadata": {"labels": {"app": "reviews"}}, "spec": {"containers": [{"name": "app", "image": "reviews:\(revision)"}]}}},
             "status": {"observedGeneration": 3, "replicas": \(replicas), "updatedReplicas": \(replicas)}}
            """
        let json = try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
        let deployment = try JSONDecoder().decode(Deployment.self, from: Data(text.utf8))
        let revisions = try (1...revision).reversed().map { number -> (replicaSet: ReplicaSet, json: JSONValue) in
            let set = """
                {"metadata": {"name": "reviews-\(number)", "namespace": "bookinfo", "annotations": {"deployment.kubernetes.io/revision": "\(number)"},
                              "ownerReferences": [{"kind": "Deployment", "name": "reviews", "uid": "uid-1", "controller": true}]},
                 "spec": {"template": {"metadata": {"labels": {"app": "reviews", "pod-template-hash": "h\(number)"}},
                                       "spec": {"containers": [{"name": "app", "image": "reviews:\(number)"}]}}}}
                """
            return (try JSONDecoder().decode(ReplicaSet.self, from: Data(set.utf8)), try JSONDecoder().decode(JSONValue.self, from: Data(set.utf8)))
        }
        return WorkloadSnapshot(deployment: deployment, json: json, revisions: revisions, autoscalers: [])
    }

    static func proposal(_ action: RemediationAction, blamed: Int? = 2, namespace: String = "bookinfo", name: String = "reviews",
                         rule: RuleReference? = RuleReference(file: "<built-in istio pack>", group: "meshwatchd-istio", name: "IstioHighErrorRate", builtIn: true)) -> Remediator.Proposal {
        .init(action: action, alert: "IstioHighErrorRate", alertKey: "meshwatchd-istio/abc", target: .init(namespace: namespace, deployment: name, resolvedBy: "test", uid: "uid-1"),
              recentRollout: blamed.map { .init(revision: $0, minutesBeforePending: 2, images: []) }, rule: rule)
    }

    static func policy(_ change: (inout RemediationPolicy) -> Void = { _ in }) -> RemediationPolicy {
        var policy = RemediationPolicy()
        policy.mode = .enforce
        change(&policy)
        return policy
    }
}

/// Every guard of the chain, one row each, with no network: the guard that decides, its
/// verdict, and that nothing after a refusal is asked (no write is sent).
@Suite("The guard chain, guard by guard, as a pure table")
struct GuardChainTests {
    struct Row: Sendable {
        var name: String
        var action: RemediationAction = .rolloutUndo
        var proposal: Remediator.Proposal? = nil
        var policy: RemediationPolicy = Fixture.policy()
        var ledger = LedgerSummary()
        var critical = 1
        var world: @Sendable (FakeWorld) -> Void = { _ in }
        var snapshot: @Sendable () throws -> WorkloadSnapshot = { try Fixture.deployment() }
        var outcome: RemediationDecision.Outcome
        var guardName: String
        var reason: String
        var writes: [Bool]  // dryRun flags of what was sent
    }

    static let rows: [Row] = [
        Row(name: "all allow → dry run then write", outcome: .taken, guardName: "all guards", reason: "every guard allowed", writes: [true, false]),
        Row(name: "off", policy: Fixture.policy { $0.mode = .off }, outcome: .refused, guardName: "mode", reason: "remediation is off", writes: []),
        Row(name: "rule not opted in", proposal: Fixture.proposal(.rolloutUndo, rule: RuleReference(file: "/etc/rules.yml", group: "mine", name: "IstioHighErrorRate", builtIn: false)),
            outcome: .refused, guardName: "rule opt-in", reason: "has not opted in", writes: []),
        Row(name: "user rule opted in", proposal: Fixture.proposal(.rolloutUndo, rule: RuleReference(file: "/etc/rules.yml", group: "mine", name: "X", builtIn: false)),
            policy: Fixture.policy { $0.optedInRules = [RuleReference.key(file: "/etc/rules.yml", group: "mine", name: "X")] },
            outcome: .taken, guardName: "all guards", reason: "", writes: [true, false]),
        Row(name: "no rule", proposal: Fixture.proposal(.rolloutUndo, rule: nil), outcome: .refused, guardName: "rule opt-in", reason: "not known", writes: []),
        Row(name: "protected namespace", proposal: Fixture.proposal(.restart, namespace: "istio-system"), outcome: .refused, guardName: "scope",
            reason: "protected", writes: []),
        Row(name: "own namespace", policy: Fixture.policy { $0.ownNamespace = "bookinfo" }, outcome: .refused, guardName: "scope", reason: "protected", writes: []),
        Row(name: "denied", policy: Fixture.policy { $0.denyNamespaces = ["bookinfo"] }, outcome: .refused, guardName: "scope", reason: "denied", writes: []),
        Row(name: "blast radius", critical: 4, outcome: .refused, guardName: "blast radius", reason: "systemic", writes: []),
        Row(name: "incident", ledger: LedgerSummary(actedOn: ["meshwatchd-istio/abc bookinfo/reviews"]), outcome: .refused, guardName: "one action per incident",
            reason: "already taken", writes: []),
        Row(name: "in flight", ledger: LedgerSummary(inFlight: ["shop/checkout"]), outcome: .refused, guardName: "one action in flight", reason: "in flight", writes: []),
        Row(name: "cooldown (ledger)", ledger: LedgerSummary(lastTaken: ["bookinfo/reviews": Date(timeIntervalSinceNow: -60)]), outcome: .refused,
            guardName: "cooldown", reason: "cooldown", writes: []),
        Row(name: "cooldown (annotation)", snapshot: { try Fixture.deployment(annotations: [CooldownGuard.annotation: "\(KubeTime.format(Date(timeIntervalSinceNow: -60))) restart X id"]) },
            outcome: .refused, guardName: "cooldown", reason: "cooldown", writes: []),
        Row(name: "budget", ledger: LedgerSummary(takenInLastHour: 3), outcome: .refused, guardName: "budget", reason: "budget 3", writes: []),
        Row(name: "undo: someone rolled back since (current revision is not the blamed one)", snapshot: { try Fixture.deployment(revision: 3) },
            outcome: .refused, guardName: "preconditions", reason: "not the blamed revision 2", writes: []),
        Row(name: "undo: no rollout blamed", proposal: Fixture.proposal(.rolloutUndo, blamed: nil), outcome: .refused, guardName: "preconditions",
            reason: "no rollout", writes: []),
        Row(name: "paused", snapshot: { try Fixture.deployment(paused: true) }, outcome: .refused, guardName: "preconditions", reason: "paused", writes: []),
        Row(name: "scale past max", proposal: Fixture.proposal(.scale), policy: Fixture.policy { $0.maxReplicas = 2 }, outcome: .refused,
            guardName: "preconditions", reason: "max_replicas is 2", writes: []),
        Row(name: "scale with a huge step and ceiling: saturates, no overflow trap", proposal: Fixture.proposal(.scale),
            policy: Fixture.policy { $0.maxReplicas = Int.max; $0.scaleStep = Int.max }, outcome: .taken, guardName: "all guards", reason: "",
            writes: [true, false]),
        Row(name: "dry run refused", world: { $0.answer = { write in throw KubernetesError(code: 422, reason: "Invalid", message: "no", path: write.path) } },
            outcome: .refused, guardName: "server dry run", reason: "refused the change", writes: [true]),
        Row(name: "dry run answered like a real write → unknown", world: { $0.dryRunVersion = "42" }, outcome: .unknown, guardName: "server dry run",
            reason: "may have been a real write", writes: [true]),
        Row(name: "an HPA appeared before the write", proposal: Fixture.proposal(.scale),
            world: { $0.hpas = [try! JSONDecoder().decode(HorizontalPodAutoscaler.self, from: Data(#"{"metadata":{"name":"reviews"},"spec":{"scaleTargetRef":{"kind":"Deployment","name":"reviews"},"maxReplicas":5}}"#.utf8))] },
            outcome: .refused, guardName: "preconditions", reason: "now scales", writes: [true]),
        Row(name: "alert resolved", world: { $0.firing = false }, outcome: .refused, guardName: "alert still firing", reason: "no longer firing", writes: [true]),
        Row(name: "lease not provably held", world: { $0.lease = "renewed too long ago" }, outcome: .refused, guardName: "lease", reason: "too long ago", writes: [true]),
        Row(name: "kill switch", world: { $0.killSwitchReason = "the kill switch /x exists" }, outcome: .dryRun, guardName: "kill switch", reason: "/x", writes: [true]),
        Row(name: "dry-run mode", policy: Fixture.policy { $0.mode = .dryRun }, world: { $0.mode = .dryRun }, outcome: .dryRun, guardName: "mode",
            reason: "mode is dry-run", writes: [true]),
        Row(name: "mode changed to off by a reload mid-decision", world: { $0.mode = .off }, outcome: .refused, guardName: "mode",
            reason: "changed to off by a reload", writes: [true]),
        Row(name: "mode changed to dry-run by a reload mid-decision", world: { $0.mode = .dryRun }, outcome: .dryRun, guardName: "mode",
            reason: "changed to dry-run by a reload", writes: [true]),
        Row(name: "dry-run decided, enforce by a reload: still dry-run", policy: Fixture.policy { $0.mode = .dryRun }, outcome: .dryRun, guardName: "mode",
            reason: "dry-run", writes: [true]),
        Row(name: "write answered as a dry run: not provably written, not provably not → unknown (counted)", proposal: Fixture.proposal(.restart), world: { world in
            let version = world.snapshot.resourceVersion
            world.answer = { write in
                let stamp = (try? JSONDecoder().decode(JSONValue.self, from: Data(write.body)))?["metadata"]?["annotations"]?[CooldownGuard.annotation] ?? .null
                return .object(["metadata": .object(["resourceVersion": .string(version),
                                                     "annotations": write.dryRun ? .object([CooldownGuard.annotation: stamp]) : .object([:])])])
            }
        }, outcome: .unknown, guardName: "kubernetes api", reason: "does not show the write", writes: [true, false]),
        Row(name: "a webhook strips the annotation from the dry run: refused before any real write", proposal: Fixture.proposal(.restart), world: { world in
            let version = world.snapshot.resourceVersion
            world.answer = { _ in .object(["metadata": .object(["resourceVersion": .string(version)])]) }
        }, outcome: .refused, guardName: "server dry run", reason: "does not carry", writes: [true]),
    ]

    @Test("each guard decides alone", arguments: rows.indices)
    func row(_ index: Int) async throws {
        let row = Self.rows[index]
        let world = FakeWorld(snapshot: try row.snapshot())
        row.world(world)
        let ledger = PresetLedger(summary: row.ledger)
        let proposal = row.proposal ?? Fixture.proposal(row.action)
        let decision = await Remediator(world: world, policy: row.policy, ledger: ledger).decide(proposal, criticalWorkloads: row.critical)
        #expect(decision.outcome == row.outcome, "\(row.name): \(decision.summary)")
        #expect(decision.decidedBy == row.guardName, "\(row.name): \(decision.summary)")
        #expect(row.reason.isEmpty || decision.reason.contains(row.reason), "\(row.name): \(decision.reason)")
        #expect(world.with { $0.sent.map(\.dryRun) } == row.writes, "\(row.name)")
        // The ledger saw the reservation and its outcome (except mode off, decided before reserving).
        if row.guardName != "mode" || row.outcome != .refused || decision.reason != "remediation is off" {
            #expect(ledger.completed.withLock { $0 } == [decision.outcome], "\(row.name)")
        }
    }

    @Test("the chain is in the documented order")
    func order() {
        #expect(GuardChain.standard.map(\.name) == [
            "mode", "rule opt-in", "scope", "blast radius", "one action per incident", "one action in flight", "cooldown", "budget",
            "preconditions", "server dry run", "preconditions", "kill switch", "alert still firing", "lease", "mode",
        ])
    }

    @Test("undo goes to the highest revision that exists below the blamed one, and carries uid and resourceVersion tests")
    func undoTarget() async throws {
        var snapshot = try Fixture.deployment(revision: 4)
        snapshot.revisions.removeAll { $0.replicaSet.revision == 3 }  // gaps after rollbacks
        let world = FakeWorld(snapshot: snapshot)
        let decision = await Remediator(world: world, policy: Fixture.policy(), ledger: InMemoryLedger())
            .decide(Fixture.proposal(.rolloutUndo, blamed: 4), criticalWorkloads: 1)
        #expect(decision.outcome == .taken && decision.change?.hasPrefix("revision 4 → 2") == true, "\(decision.summary)")
        let body = String(decoding: try #require(world.with { $0.sent.last }).body, as: UTF8.self)
        #expect(body.contains(#""op":"test""#) && body.contains("uid-1") && body.contains(#""41""#), "\(body)")
    }

    @Test("scale is one merge patch: replicas, the cooldown annotation, uid and resourceVersion together")
    func scalePatch() async throws {
        let world = FakeWorld(snapshot: try Fixture.deployment())
        let decision = await Remediator(world: world, policy: Fixture.policy(), ledger: InMemoryLedger()).decide(Fixture.proposal(.scale), criticalWorkloads: 0)
        #expect(decision.outcome == .taken && decision.change == "replicas 2 → 3", "\(decision.summary)")
        let writes = world.with { $0.sent }
        #expect(writes.map(\.path) == ["/apis/apps/v1/namespaces/bookinfo/deployments/reviews", "/apis/apps/v1/namespaces/bookinfo/deployments/reviews"])
        let body = try JSONDecoder().decode(JSONValue.self, from: Data(try #require(writes.last).body))
        #expect(body["spec"]?["replicas"] == .number(3))
        #expect(body["metadata"]?["resourceVersion"] == .string("41") && body["metadata"]?["uid"] == .string("uid-1"))
        #expect(body["metadata"]?["annotations"]?[CooldownGuard.annotation]?.string?.hasSuffix(decision.id ?? "?") == true)
    }

    @Test("a Deployment recreated under the same name (another uid) is not acted on")
    func recreated() async throws {
        var snapshot = try Fixture.deployment()
        snapshot.deployment.metadata.uid = "uid-2"
        let world = FakeWorld(snapshot: snapshot)
        let decision = await Remediator(world: world, policy: Fixture.policy(), ledger: InMemoryLedger()).decide(Fixture.proposal(.restart), criticalWorkloads: 0)
        #expect(decision.outcome == .refused && decision.reason.contains("recreated"), "\(decision.summary)")
        #expect(world.with { $0.sent }.isEmpty)
    }

    @Test("the write's answer lost: our annotation on the Deployment → taken; resourceVersion moved without it → not written; else unknown")
    func lostAnswers() async throws {
        for (reread, expected) in [("ours", RemediationDecision.Outcome.taken), ("moved", .refused), ("same", .unknown)] {
            let world = FakeWorld(snapshot: try Fixture.deployment())
            world.with { world in
                let base = world.snapshot
                world.answer = { [world] write in
                    if write.dryRun {
                        let stamp = (try? JSONDecoder().decode(JSONValue.self, from: Data(write.body)))?["metadata"]?["annotations"]?[CooldownGuard.annotation] ?? .null
                        return .object(["metadata": .object(["resourceVersion": .string(base.resourceVersion),
                                                             "annotations": .object([CooldownGuard.annotation: stamp])])])
                    }
                    world.with { world in
                        var after = base
                        switch reread {
                        case "ours":
                            let annotation = (try? JSONDecoder().decode(JSONValue.self, from: Data(write.body)))?["metadata"]?["annotations"]?[CooldownGuard.annotation]?.string
                            after.deployment.metadata.annotations?[CooldownGuard.annotation] = annotation
                            after.deployment.metadata.resourceVersion = "42"
                        case "moved": after.deployment.metadata.resourceVersion = "43"
                        default: break
                        }
                        world.snapshot = after
                    }
                    throw KubernetesError(code: 503, reason: "ServiceUnavailable", message: "etcd timeout", path: write.path)
                }
            }
            let ledger = InMemoryLedger()
            let decision = await Remediator(world: world, policy: Fixture.policy(), ledger: ledger).decide(Fixture.proposal(.restart), criticalWorkloads: 0)
            #expect(decision.outcome == expected, "\(reread): \(decision.summary)")
            #expect(decision.requests?.last?.answer == "503 ServiceUnavailable")
            // Unknown counts as an action: the next decision on any workload is held off.
            let summary = LedgerSummary(facts: ledger.all.map { LedgerFact(decision: $0.decision, open: $0.open, verifyUntil: $0.verifyUntil, verified: nil) }, now: Date())
            #expect((summary.takenInLastHour == 1) == expected.countsAsAction, "\(reread)")
        }
    }

    @Test("concurrent decisions on one workload through two remediators sharing a ledger: at most one writes")
    func concurrent() async throws {
        let world = FakeWorld(snapshot: try Fixture.deployment())
        let ledger = InMemoryLedger()
        let remediators = [Remediator(world: world, policy: Fixture.policy(), ledger: ledger), Remediator(world: world, policy: Fixture.policy(), ledger: ledger)]
        let decisions = await withTaskGroup(of: RemediationDecision.self) { group in
            for index in 0..<20 {
                group.addTask { await remediators[index % 2].decide(Fixture.proposal([.restart, .scale, .rolloutUndo][index % 3]), criticalWorkloads: 0) }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(decisions.filter { $0.outcome == .taken }.count == 1, "\(decisions.map(\.summary))")
        #expect(world.with { $0.sent.filter { !$0.dryRun } }.count == 1)
        #expect(decisions.count == 20 && ledger.all.count == 20 && ledger.all.allSatisfy { !$0.open })
    }
}

/// A ledger whose summary is given (so each guard can be driven alone).
final class PresetLedger: RemediationLedger {
    let summary: LedgerSummary
    let completed = Mutex<[RemediationDecision.Outcome]>([])
    init(summary: LedgerSummary) { self.summary = summary }
    func reserve(_ request: ReservationRequest) throws -> ReservationResult { .reserved(id: 1, summary: summary) }
    func noteWrite(reservation: Int64, resourceVersion: String, annotation: String) throws {}
    func complete(reservation: Int64, with decision: RemediationDecision, verifyUntil: Date?) throws { completed.withLock { $0.append(decision.outcome) } }
    func openReservations() throws -> [OpenReservation] { [] }
    func record(_ decision: RemediationDecision) throws { completed.withLock { $0.append(decision.outcome) } }
}
