import Foundation
import MetricModel

/// Decides, and in `enforce` mode takes, one proposed action: every guard in order (the first
/// refusal decides), a server-side dry run of the exact write, the kill switch, the mode, and
/// only then the write. An actor: decisions are made one at a time.
public actor Remediator {
    let client: KubernetesClient?
    public private(set) var policy: RemediationPolicy
    let guards: [any RemediationGuard]
    /// Checked right before the write: a replica that lost its lease never writes.
    let leadership: Leadership

    public init(client: KubernetesClient?, policy: RemediationPolicy, guards: [any RemediationGuard] = ModeGuard.all,
                leadership: Leadership = Leadership(leading: true)) {
        self.client = client
        self.policy = policy
        self.guards = guards
        self.leadership = leadership
    }

    public func configure(_ policy: RemediationPolicy) { self.policy = policy }

    public struct Proposal: Sendable {
        public var action: RemediationAction
        public var alert: String
        public var alertKey: String
        public var target: Evidence.Target
        public var recentRollout: Evidence.RecentRollout?

        public init(action: RemediationAction, alert: String, alertKey: String, target: Evidence.Target, recentRollout: Evidence.RecentRollout?) {
            self.action = action
            self.alert = alert
            self.alertKey = alertKey
            self.target = target
            self.recentRollout = recentRollout
        }
    }

    public func decide(_ proposal: Proposal, ledger: LedgerSummary, criticalWorkloads: Int, now: Date = Date()) async -> RemediationDecision {
        let workload = "\(proposal.target.namespace)/\(proposal.target.deployment)"
        func decision(_ outcome: RemediationDecision.Outcome, _ by: String, _ reason: String, change: String? = nil,
                      escalate: Bool = false) -> RemediationDecision {
            RemediationDecision(outcome: outcome, action: proposal.action, workload: workload, alert: proposal.alert, alertKey: proposal.alertKey,
                                decidedBy: by, reason: reason, change: change, escalate: escalate, at: now)
        }
        if policy.mode == .off { return decision(.refused, "mode", "remediation is off") }
        guard let client else { return decision(.refused, "kubernetes api", "no Kubernetes API configured") }
        let path = "/apis/apps/v1/namespaces/\(proposal.target.namespace)/deployments/\(proposal.target.deployment)"
        let context: GuardContext
        do {
            let deploymentJSON = try await client.get(JSONValue.self, path)
            let deployment = try JSONDecoder().decode(Deployment.self, from: Data(deploymentJSON.text.utf8))
            let sets = try await client.list(JSONValue.self, "/apis/apps/v1/namespaces/\(proposal.target.namespace)/replicasets",
                                             labelSelector: deployment.spec.selector.query)
            let revisions = try sets.map { json in (try JSONDecoder().decode(ReplicaSet.self, from: Data(json.text.utf8)), json) }
                .filter { $0.0.isControlled(by: deployment.metadata.uid) && $0.0.revision != nil }
                .sorted { $0.0.revision! > $1.0.revision! }
            let autoscalers = try await client.list(HorizontalPodAutoscaler.self,
                                                    "/apis/autoscaling/v2/namespaces/\(proposal.target.namespace)/horizontalpodautoscalers")
            context = GuardContext(action: proposal.action, alert: proposal.alert, alertKey: proposal.alertKey, namespace: proposal.target.namespace,
                                   name: proposal.target.deployment, deployment: deployment, deploymentJSON: deploymentJSON,
                                   revisions: revisions.map { (replicaSet: $0.0, json: $0.1) }, autoscalers: autoscalers,
                                   recentRollout: proposal.recentRollout, ledger: ledger, criticalWorkloads: criticalWorkloads, policy: policy, now: now)
        } catch {
            return decision(.refused, "kubernetes api", "cannot read \(workload): \(error)")
        }
        for guardian in guards {
            if case .refuse(let reason, let escalate) = guardian.check(context) {
                return decision(.refused, guardian.name, reason, escalate: escalate)
            }
        }
        let plan: ActionPlan
        switch ActionPlan.make(context) {
        case .success(let made): plan = made
        case .failure(let refusal): return decision(.refused, "preconditions", refusal.reason)
        }
        do {
            try await client.patch(JSONValue.self, plan.write.path, body: plan.write.body, as: plan.write.patchType, dryRun: true)
        } catch {
            return decision(.refused, "server dry run", "the API server refused the change: \(error)", change: plan.change)
        }
        if let reason = await killSwitch(client) {
            return decision(.dryRun, "kill switch", reason, change: plan.change)
        }
        if policy.mode == .dryRun {
            return decision(.dryRun, "mode", "every guard allowed it; mode is dry-run", change: plan.change)
        }
        guard leadership.isLeader else {
            return decision(.refused, "leadership", "this replica is no longer the leader", change: plan.change)
        }
        do {
            try await client.patch(JSONValue.self, plan.write.path, body: plan.write.body, as: plan.write.patchType)
            if let annotation = plan.annotation {
                try await client.patch(JSONValue.self, annotation.path, body: annotation.body, as: annotation.patchType)
            }
        } catch {
            return decision(.refused, "kubernetes api", "the write failed: \(error)", change: plan.change)
        }
        return decision(.taken, "all guards", "every guard allowed it and the server's dry run passed", change: plan.change)
    }

    /// Why the kill switch is on, or nil. A ConfigMap that cannot be read counts as on: when in doubt, do not act.
    func killSwitch(_ client: KubernetesClient) async -> String? {
        if let file = policy.killSwitchFile, FileManager.default.fileExists(atPath: file) {
            return "the kill switch \(file) exists: every mode is dry-run"
        }
        guard let key = policy.killSwitchConfigMap else { return nil }
        do {
            let configMap = try await client.get(JSONValue.self, "/api/v1/namespaces/\(key.namespace)/configmaps/\(key.name)")
            return configMap["data"]?[key.key] != nil
                ? "the kill switch ConfigMap \(key.namespace)/\(key.name) has key \(key.key): every mode is dry-run" : nil
        } catch let error as KubernetesError where error.isNotFound {
            return nil
        } catch {
            return "the kill switch ConfigMap \(key.namespace)/\(key.name) cannot be read (\(error)): acting as if it were set"
        }
    }
}
