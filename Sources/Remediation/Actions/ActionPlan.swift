import Foundation
import MetricModel

/// The write an action makes, planned from the workload as it is, with kubectl's semantics;
/// or why its preconditions do not hold.
public struct ActionPlan: Sendable {
    public struct Write: Sendable {
        public var path: String
        public var patchType: KubernetesClient.PatchType
        public var body: [UInt8]
    }

    public struct Refusal: Error, Sendable { public let reason: String }

    /// The action itself.
    public var write: Write
    /// The cooldown annotation when the action's own write cannot carry it (scale).
    public var annotation: Write?
    /// `revision 3 → 2 (images)`, `replicas 2 → 3`, `restartedAt …`.
    public var change: String

    /// Annotations kubectl keeps from the Deployment rather than copying from the ReplicaSet.
    static let deploymentOwnedAnnotations: Set<String> = [
        "kubectl.kubernetes.io/last-applied-configuration", "deployment.kubernetes.io/revision",
        "deployment.kubernetes.io/revision-history", "deployment.kubernetes.io/desired-replicas",
        "deployment.kubernetes.io/max-replicas", "deprecated.deployment.rollback.to",
    ]

    public static func make(_ context: GuardContext) -> Result<ActionPlan, Refusal> {
        let deployment = context.deployment
        let path = "/apis/apps/v1/namespaces/\(context.namespace)/deployments/\(context.name)"
        let stamp = "\(KubeTime.format(context.now)) \(context.action.rawValue) \(context.alert)"
        switch context.action {
        case .rolloutUndo:
            if deployment.spec.paused == true { return .failure(Refusal(reason: "the Deployment is paused")) }
            guard context.revisions.count >= 2 else { return .failure(Refusal(reason: "no earlier revision to roll back to")) }
            guard let rollout = context.recentRollout else {
                return .failure(Refusal(reason: "no rollout within the alert window before the alert went pending: a rollback would not undo the cause"))
            }
            let previous = context.revisions[1]
            guard case .object(var template) = previous.json["spec"]?["template"] ?? .null else {
                return .failure(Refusal(reason: "revision \(previous.replicaSet.revision ?? 0) has no pod template"))
            }
            // kubectl: the ReplicaSet's template without its pod-template-hash label.
            if case .object(var metadata) = template["metadata"] ?? .null, case .object(var labels) = metadata["labels"] ?? .null {
                labels["pod-template-hash"] = nil
                metadata["labels"] = .object(labels)
                template["metadata"] = .object(metadata)
            }
            if normalized(.object(template)) == normalized(context.deploymentJSON["spec"]?["template"] ?? .null) {
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
                .object(["op": .string("replace"), "path": .string("/spec/template"), "value": .object(template)]),
                .object(["op": .string("replace"), "path": .string("/metadata/annotations"), "value": .object(annotations)]),
            ])
            let images = previous.replicaSet.spec.template?.spec?.containers.compactMap(\.image).joined(separator: ", ") ?? ""
            return .success(ActionPlan(write: Write(path: path, patchType: .json, body: Array(patch.text.utf8)), annotation: nil,
                                       change: "revision \(rollout.revision) → \(previous.replicaSet.revision ?? 0) (\(images))"))
        case .scale:
            if let hpa = context.autoscalers.first(where: { $0.spec.scaleTargetRef.kind == "Deployment" && $0.spec.scaleTargetRef.name == context.name }) {
                return .failure(Refusal(reason: "HorizontalPodAutoscaler \(hpa.metadata.name) scales \(context.name): never fight an HPA"))
            }
            let current = deployment.spec.replicas ?? 1
            guard current < context.policy.maxReplicas else {
                return .failure(Refusal(reason: "already at \(current) replicas, max_replicas is \(context.policy.maxReplicas)"))
            }
            let target = min(current + max(context.policy.scaleStep, 1), context.policy.maxReplicas)
            let annotation: JSONValue = .object(["metadata": .object(["annotations": .object([CooldownGuard.annotation: .string(stamp)])])])
            return .success(ActionPlan(
                write: Write(path: path + "/scale", patchType: .merge, body: Array(#"{"spec":{"replicas":\#(target)}}"#.utf8)),
                annotation: Write(path: path, patchType: .merge, body: Array(annotation.text.utf8)),
                change: "replicas \(current) → \(target)"))
        case .restart:
            if deployment.spec.paused == true { return .failure(Refusal(reason: "the Deployment is paused")) }
            let status = deployment.status
            let replicas = deployment.spec.replicas ?? 1
            if (status?.observedGeneration ?? 0) < (deployment.metadata.generation ?? 0) || (status?.updatedReplicas ?? replicas) < replicas
                || status?.conditions?.contains(where: { $0.type == "Progressing" && $0.reason == "ReplicaSetUpdated" }) == true {
                return .failure(Refusal(reason: "a rollout is still progressing"))
            }
            let restartedAt = KubeTime.format(context.now)
            let patch: JSONValue = .object([
                "metadata": .object(["annotations": .object([CooldownGuard.annotation: .string(stamp)])]),
                "spec": .object(["template": .object(["metadata": .object(["annotations": .object(["kubectl.kubernetes.io/restartedAt": .string(restartedAt)])])])]),
            ])
            return .success(ActionPlan(write: Write(path: path, patchType: .strategicMerge, body: Array(patch.text.utf8)), annotation: nil,
                                       change: "restartedAt \(restartedAt)"))
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
