import Foundation
import MetricModel

/// The write an action makes, planned from the workload as it is, with kubectl's semantics;
/// or why its preconditions do not hold.
public struct ActionPlan: Sendable {
    public struct Refusal: Error, Sendable { public let reason: String }

    /// The one write the action makes (real; the dry run sends the same with the flag set). It
    /// carries the Deployment's uid and resourceVersion as read for the decision, so a write
    /// based on a stale or recreated object fails instead of acting, and the cooldown
    /// annotation with the decision's id, whose presence on the Deployment proves the write.
    public var write: KubernetesWrite
    /// The cooldown annotation's value this write sets.
    public var annotation: String
    /// `revision 3 → 2 (images)`, `replicas 2 → 3`, `restartedAt …`.
    public var change: String

    /// Annotations kubectl keeps from the Deployment rather than copying from the ReplicaSet.
    static let deploymentOwnedAnnotations: Set<String> = [
        "kubectl.kubernetes.io/last-applied-configuration", "deployment.kubernetes.io/revision",
        "deployment.kubernetes.io/revision-history", "deployment.kubernetes.io/desired-replicas",
        "deployment.kubernetes.io/max-replicas", "deprecated.deployment.rollback.to",
    ]

    public static func make(for d: Deliberation, snapshot: WorkloadSnapshot) -> Result<ActionPlan, Refusal> {
        let deployment = snapshot.deployment
        let path = d.workload.path
        guard !snapshot.uid.isEmpty, !snapshot.resourceVersion.isEmpty else {
            return .failure(Refusal(reason: "the Deployment has no uid or resourceVersion to write against"))
        }
        let stamp = "\(KubeTime.format(d.now)) \(d.proposal.action.rawValue) \(d.proposal.alert) \(d.decisionID)"
        let preconditions: [String: JSONValue] = ["uid": .string(snapshot.uid), "resourceVersion": .string(snapshot.resourceVersion)]
        switch d.proposal.action {
        case .rolloutUndo:
            if deployment.spec.paused == true { return .failure(Refusal(reason: "the Deployment is paused")) }
            guard let rollout = d.proposal.recentRollout else {
                return .failure(Refusal(reason: "no rollout within the alert window before the alert went pending: a rollback would not undo the cause"))
            }
            // Undo the rollout the evidence blamed, and only while it is still the current one.
            guard let current = deployment.revision, current == rollout.revision else {
                return .failure(Refusal(reason: "the current revision is \(deployment.revision.map(String.init) ?? "unknown"), not the blamed revision \(rollout.revision): someone acted since the runbook ran"))
            }
            // The highest revision that still exists below the blamed one (numbers have gaps after rollbacks).
            guard let previous = snapshot.revisions.filter({ ($0.replicaSet.revision ?? 0) < rollout.revision })
                .max(by: { ($0.replicaSet.revision ?? 0) < ($1.replicaSet.revision ?? 0) }) else {
                return .failure(Refusal(reason: "no earlier revision below \(rollout.revision) to roll back to"))
            }
            guard case .object(var template) = previous.json["spec"]?["template"] ?? .null else {
                return .failure(Refusal(reason: "revision \(previous.replicaSet.revision ?? 0) has no pod template"))
            }
            // kubectl: the ReplicaSet's template without its pod-template-hash label.
            if case .object(var metadata) = template["metadata"] ?? .null, case .object(var labels) = metadata["labels"] ?? .null {
                labels["pod-template-hash"] = nil
                metadata["labels"] = .object(labels)
                template["metadata"] = .object(metadata)
            }
            if normalized(.object(template)) == normalized(snapshot.json["spec"]?["template"] ?? .null) {
                return .failure(Refusal(reason: "the template already matches revision \(previous.replicaSet.revision ?? 0)"))
            }
            // kubectl: the Deployment keeps its own bookkeeping annotations and takes the others from the ReplicaSet.
            var annotations: [String: JSONValue] = [:]
            for (key, value) in deployment.metadata.annotations ?? [:] where deploymentOwnedAnnotations.contains(key) { annotations[key] = .string(value) }
            for (key, value) in previous.replicaSet.metadata.annotations ?? [:] where !deploymentOwnedAnnotations.contains(key) {
                annotations[key] = .string(value)
            }
            annotations[CooldownGuard.annotation] = .string(stamp)
            let patch: JSONValue = .array([
                .object(["op": .string("test"), "path": .string("/metadata/uid"), "value": .string(snapshot.uid)]),
                .object(["op": .string("test"), "path": .string("/metadata/resourceVersion"), "value": .string(snapshot.resourceVersion)]),
                .object(["op": .string("replace"), "path": .string("/spec/template"), "value": .object(template)]),
                .object(["op": .string("replace"), "path": .string("/metadata/annotations"), "value": .object(annotations)]),
            ])
            let images = previous.replicaSet.spec.template?.spec?.containers.compactMap(\.image).joined(separator: ", ") ?? ""
            return .success(ActionPlan(write: KubernetesWrite(path: path, patchType: .json, body: Array(patch.text.utf8), dryRun: false),
                                       annotation: stamp, change: "revision \(rollout.revision) → \(previous.replicaSet.revision ?? 0) (\(images))"))
        case .scale:
            if let hpa = snapshot.autoscalers.first(where: { $0.scales(d.workload.name) }) {
                return .failure(Refusal(reason: "HorizontalPodAutoscaler \(hpa.metadata.name) scales \(d.workload.name): never fight an HPA"))
            }
            let current = deployment.spec.replicas ?? 1
            guard current < d.policy.maxReplicas else {
                return .failure(Refusal(reason: "already at \(current) replicas, max_replicas is \(d.policy.maxReplicas)"))
            }
            // Saturating: replicas come from the API and the step from the configuration.
            let (sum, overflow) = current.addingReportingOverflow(max(d.policy.scaleStep, 1))
            let target = overflow ? d.policy.maxReplicas : min(sum, d.policy.maxReplicas)
            // One merge patch on the Deployment: replicas, the cooldown annotation and the
            // preconditions together (the scale subresource cannot carry annotations).
            var metadata = preconditions
            metadata["annotations"] = .object([CooldownGuard.annotation: .string(stamp)])
            let patch: JSONValue = .object(["metadata": .object(metadata), "spec": .object(["replicas": .number(Double(target))])])
            return .success(ActionPlan(write: KubernetesWrite(path: path, patchType: .merge, body: Array(patch.text.utf8), dryRun: false),
                                       annotation: stamp, change: "replicas \(current) → \(target)"))
        case .restart:
            if deployment.spec.paused == true { return .failure(Refusal(reason: "the Deployment is paused")) }
            let status = deployment.status
            let replicas = deployment.spec.replicas ?? 1
            if (status?.observedGeneration ?? 0) < (deployment.metadata.generation ?? 0) || (status?.updatedReplicas ?? replicas) < replicas
                || status?.conditions?.contains(where: { $0.type == "Progressing" && $0.reason == "ReplicaSetUpdated" }) == true {
                return .failure(Refusal(reason: "a rollout is still progressing"))
            }
            let restartedAt = KubeTime.format(d.now)
            var metadata = preconditions
            metadata["annotations"] = .object([CooldownGuard.annotation: .string(stamp)])
            let patch: JSONValue = .object([
                "metadata": .object(metadata),
                "spec": .object(["template": .object(["metadata": .object(["annotations": .object(["kubectl.kubernetes.io/restartedAt": .string(restartedAt)])])])]),
            ])
            return .success(ActionPlan(write: KubernetesWrite(path: path, patchType: .strategicMerge, body: Array(patch.text.utf8), dryRun: false),
                                       annotation: stamp, change: "restartedAt \(restartedAt)"))
        }
    }

    /// A template without empty values, for comparing what the API round trips.
    static func normalized(_ value: JSONValue) -> JSONValue {
        switch value {
        case .object(let object):
            var out: [String: JSONValue] = [:]
            for (key, item) in object {
                let item = normalized(item)
                switch item {
                case .null: continue
                case .object(let inner) where inner.isEmpty: continue
                case .array(let inner) where inner.isEmpty: continue
                default: out[key] = item
                }
            }
            if case .object(var metadata) = out["metadata"] ?? .null, case .object(var labels) = metadata["labels"] ?? .null {
                labels["pod-template-hash"] = nil
                metadata["labels"] = .object(labels)
                out["metadata"] = .object(metadata)
            }
            return .object(out)
        case .array(let array): return .array(array.map(normalized))
        default: return value
        }
    }
}
