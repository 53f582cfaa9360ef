import Foundation
import MetricModel

/// Decides, and in `enforce` mode takes, one proposed action. The target is validated first;
/// the workload is reserved in the ledger (one atomic check-and-insert, before anything
/// awaits); then every guard of the chain in order — the first that does not allow decides —
/// and only then the write, whose answer is checked. Decisions run one at a time, in order.
public actor Remediator {
    public nonisolated let policy: RemediationPolicy
    let guards: [any RemediationGuard]
    let ledger: any RemediationLedger
    let world: (any RemediationWorld)?
    private var busy = false
    private var waiting: [CheckedContinuation<Void, Never>] = []

    public init(world: (any RemediationWorld)?, policy: RemediationPolicy, ledger: any RemediationLedger,
                guards: [any RemediationGuard] = GuardChain.standard) {
        self.world = world
        self.policy = policy
        self.ledger = ledger
        self.guards = guards
    }

    public struct Proposal: Sendable {
        public var action: RemediationAction
        public var alert: String
        public var alertKey: String
        public var target: Evidence.Target
        public var recentRollout: Evidence.RecentRollout?
        /// The rule that raised the alert; nil refuses (only opted-in rules act).
        public var rule: RuleReference?

        public init(action: RemediationAction, alert: String, alertKey: String, target: Evidence.Target, recentRollout: Evidence.RecentRollout?,
                    rule: RuleReference?) {
            self.action = action
            self.alert = alert
            self.alertKey = alertKey
            self.target = target
            self.recentRollout = recentRollout
            self.rule = rule
        }
    }

    public func decide(_ proposal: Proposal, criticalWorkloads: Int, now: Date = Date()) async -> RemediationDecision {
        await acquire()
        defer { release() }
        return await deliberate(proposal, criticalWorkloads: criticalWorkloads, now: now)
    }

    private func deliberate(_ proposal: Proposal, criticalWorkloads: Int, now: Date) async -> RemediationDecision {
        let id = String(UUID().uuidString.lowercased().prefix(13))
        let quoted = "\(KubernetesName.quoted(proposal.target.namespace))/\(KubernetesName.quoted(proposal.target.deployment))"
        var decision = RemediationDecision(outcome: .refused, action: proposal.action, workload: quoted, alert: proposal.alert,
                                           alertKey: proposal.alertKey, decidedBy: "", reason: "", at: now)
        decision.id = id
        decision.uid = proposal.target.uid
        func standalone(_ by: String, _ reason: String) -> RemediationDecision {
            var refused = decision
            refused.decidedBy = by
            refused.reason = reason
            try? ledger.record(refused)
            return refused
        }
        if policy.mode == .off { return standalone("mode", "remediation is off") }
        let workload: WorkloadRef
        do { workload = try WorkloadRef(namespace: proposal.target.namespace, name: proposal.target.deployment) } catch {
            return standalone("target", "\(error)")
        }
        decision.workload = workload.description
        guard let world else { return standalone("kubernetes api", "no Kubernetes API configured") }

        // Reserved before the first await: no other decision on this workload can interleave.
        var provisional = decision
        provisional.outcome = .unknown
        provisional.decidedBy = "in progress"
        provisional.reason = "decision in progress; counts as an action until its outcome is known"
        let reservation: Int64, summary: LedgerSummary
        do {
            switch try ledger.reserve(ReservationRequest(workload: workload, provisional: provisional, now: now, cooldown: policy.cooldown)) {
            case .reserved(let id, let read): (reservation, summary) = (id, read)
            case .busy(let holder): return standalone("one action in flight", "another decision on \(workload) is in progress (\(holder))")
            }
        } catch {
            decision.decidedBy = "ledger"
            decision.reason = "the ledger cannot be written, so nothing is acted on: \(error)"
            return decision
        }

        var deliberation = Deliberation(proposal: proposal, workload: workload, policy: policy, ledger: summary,
                                        criticalWorkloads: criticalWorkloads, now: now, decisionID: id)
        func finish(_ outcome: RemediationDecision.Outcome, _ by: String, _ reason: String, escalate: Bool = false) -> RemediationDecision {
            decision.outcome = outcome
            decision.decidedBy = by
            decision.reason = reason
            decision.escalate = escalate
            decision.change = deliberation.plan?.change
            decision.uid = deliberation.snapshot?.uid ?? decision.uid
            decision.requests = deliberation.requests
            let until = outcome.countsAsAction ? now.addingTimeInterval(policy.verificationWindow.seconds) : nil
            do { try ledger.complete(reservation: reservation, with: decision, verifyUntil: until) } catch {
                decision.reason += " (the ledger could not record this outcome: \(error))"
            }
            return decision
        }
        var noted = false
        for guardian in guards {
            // The write is noted as soon as it is planned (before its dry run), so a crash at any
            // point after can be settled; the last guards before the send then need no I/O.
            if let plan = deliberation.plan, let snapshot = deliberation.snapshot, !noted {
                do { try ledger.noteWrite(reservation: reservation, resourceVersion: snapshot.resourceVersion, annotation: plan.annotation) } catch {
                    return finish(.refused, "ledger", "the ledger cannot record the write before it is sent, so it is not sent: \(error)")
                }
                noted = true
            }
            switch await guardian.check(&deliberation, in: world) {
            case .allow: continue
            case .refuse(let reason, let escalate):
                return finish(deliberation.mayHaveWritten ? .unknown : .refused, guardian.name, reason, escalate: escalate)
            case .dryRun(let reason):
                return finish(.dryRun, guardian.name, reason)
            }
        }
        guard let plan = deliberation.plan, let snapshot = deliberation.snapshot else {
            return finish(.refused, "preconditions", "no action was planned")
        }
        do {
            let answer = try await world.send(plan.write)
            deliberation.requests.append(.init(path: plan.write.path, dryRun: false, answer: "200"))
            let version = answer["metadata"]?["resourceVersion"]?.string
            if version != snapshot.resourceVersion, answer["metadata"]?["annotations"]?[CooldownGuard.annotation]?.string == plan.annotation {
                return finish(.taken, "all guards", "every guard allowed it and the server's dry run passed")
            }
            // A 200 that does not prove the write (an admission webhook rewrote the annotation, a
            // proxy answered): the object decides, and at worst the action counts as unknown.
            let (outcome, reason) = await Self.settle(world, workload, plan.annotation, snapshot.resourceVersion)
            if outcome == .refused && version == snapshot.resourceVersion {
                return finish(.refused, "kubernetes api", "the API server answered as for a dry run (resourceVersion unchanged): nothing was written")
            }
            return finish(outcome == .refused ? .unknown : outcome, "kubernetes api",
                          "the answer does not show the write (resourceVersion \(version ?? "none"), annotation \(answer["metadata"]?["annotations"]?[CooldownGuard.annotation]?.string ?? "missing")); \(reason)")
        } catch {
            deliberation.requests.append(.init(path: plan.write.path, dryRun: false, answer: ServerDryRunGuard.answer(error)))
            // Even a definite "no" is checked against the object: libcurl resends a request whose
            // reused connection died, so a 409 may answer the copy of a write that already happened.
            let (outcome, reason) = await Self.settle(world, workload, plan.annotation, snapshot.resourceVersion)
            if outcome == .taken { return finish(.taken, "all guards", "the write's answer was lost (\(error)); \(reason)") }
            if let refusal = error as? KubernetesError, refusal.isDefiniteRefusal {
                return finish(.refused, "kubernetes api", "the write failed: \(error)")
            }
            return finish(outcome, "kubernetes api", "the write's answer was lost (\(error)); \(reason)")
        }
    }

    /// After a lost answer (or a crash), the Deployment tells: our annotation on it means the
    /// write happened; a changed resourceVersion without it means it can no longer happen (the
    /// write carried the old one); otherwise it may still be in flight: unknown.
    static func settle(_ world: any RemediationWorld, _ workload: WorkloadRef, _ annotation: String, _ version: String) async
        -> (RemediationDecision.Outcome, String) {
        do {
            let now = try await world.read(workload)
            if now.deployment.metadata.annotation(CooldownGuard.annotation) == annotation { return (.taken, "re-reading the Deployment shows the write") }
            if now.resourceVersion != version { return (.refused, "re-reading the Deployment shows it was not written (it changed since, so the write cannot apply)") }
            return (.unknown, "re-reading the Deployment does not show it yet; counted as taken")
        } catch {
            return (.unknown, "the Deployment cannot be read again (\(error)); counted as taken")
        }
    }

    /// Settles the reservations a crash left open (before `before`): taken when the Deployment
    /// shows their write, refused when it provably did not happen; unreadable ones stay open and count.
    public func reconcile(openBefore before: Date) async -> [RemediationDecision] {
        guard let world, let open = try? ledger.openReservations() else { return [] }
        var settled: [RemediationDecision] = []
        for reservation in open where reservation.decision.at < before {
            var decision = reservation.decision
            let outcome: RemediationDecision.Outcome, reason: String
            if let annotation = reservation.annotation, let version = reservation.resourceVersion,
               let workload = try? WorkloadRef(namespace: String(decision.workload.split(separator: "/").first ?? ""),
                                               name: String(decision.workload.split(separator: "/").last ?? "")) {
                (outcome, reason) = await Self.settle(world, workload, annotation, version)
                if outcome == .unknown && reason.contains("cannot be read") { continue }
            } else {
                (outcome, reason) = (.refused, "interrupted before the write was sent")
            }
            decision.outcome = outcome
            decision.decidedBy = "restart"
            decision.reason = "the daemon stopped during this decision; \(reason)"
            let until = outcome.countsAsAction ? Date().addingTimeInterval(policy.verificationWindow.seconds) : nil
            try? ledger.complete(reservation: reservation.id, with: decision, verifyUntil: until)
            settled.append(decision)
        }
        return settled
    }

    private func acquire() async {
        if !busy {
            busy = true
            return
        }
        await withCheckedContinuation { waiting.append($0) }
    }

    private func release() {
        if waiting.isEmpty { busy = false } else { waiting.removeFirst().resume() }
    }
}
