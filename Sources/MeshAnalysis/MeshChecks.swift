import Foundation
import MetricModel
import Remediation

/// The guide's "Sidecar Injection Not Working" for Istio and Linkerd, and Cilium policies
/// that select nothing.
extension Analyzer {
    /// Labelled for Istio's injection: `istio-injection=enabled`, or a revision (`istio.io/rev`)
    /// unless injection is disabled outright.
    func isInjected(_ namespace: GenericObject) -> Bool {
        let labels = namespace.metadata.labels ?? [:]
        if labels["istio-injection"] == "disabled" { return false }
        return labels["istio-injection"] == "enabled" || !(labels["istio.io/rev"] ?? "").isEmpty
    }

    /// Whether the pod opted out of (or into) injection by its own label or annotation.
    private func injectionChoice(_ pod: Pod) -> Bool? {
        (pod.labels["sidecar.istio.io/inject"] ?? pod.annotations["sidecar.istio.io/inject"]).map { $0 == "true" }
    }

    private func listed(_ pods: [Pod]) -> String {
        let names = pods.map(\.metadata.name).sorted()
        return names.prefix(5).joined(separator: ", ") + (names.count > 5 ? " and \(names.count - 5) more" : "")
    }

    func missingSidecars(_ snapshot: ClusterSnapshot) -> [AnalysisFinding] {
        snapshot.namespaces.filter { snapshot.inScope($0.metadata.name) && isInjected($0) }.compactMap { namespace in
            let name = namespace.metadata.name
            let pods = snapshot.pods.filter {
                $0.metadata.namespace == name && $0.isRunning && !$0.hasSidecar(named: "istio-proxy") && injectionChoice($0) != false
            }
            guard !pods.isEmpty else { return nil }
            return finding(
                .injectionMissingSidecar, .warning, namespace: name, objects: ["Namespace \(name)"] + pods.map { "Pod \(name)/\($0.metadata.name)" },
                message: "Namespace \(name) is labelled for injection but \(pods.count) running pods have no istio-proxy sidecar: \(listed(pods))",
                explanation: "Pods started before the label, or while the injection webhook was down, stay outside the mesh until restarted: their traffic has no mTLS and no policy applies.",
                fix: "Restart their workloads: kubectl rollout restart deployment -n \(name); if the new pods still lack the sidecar, check the webhook (kubectl get mutatingwebhookconfiguration) and istiod.")
        }
    }

    func sidecarsOutsideInjection(_ snapshot: ClusterSnapshot) -> [AnalysisFinding] {
        snapshot.namespaces.filter { snapshot.inScope($0.metadata.name) && !isInjected($0) && $0.metadata.name != rootNamespace }.compactMap { namespace in
            let name = namespace.metadata.name
            let pods = snapshot.pods.filter { $0.metadata.namespace == name && $0.hasSidecar(named: "istio-proxy") && injectionChoice($0) != true }
            guard !pods.isEmpty else { return nil }
            return finding(
                .sidecarOutsideInjection, .warning, namespace: name, objects: ["Namespace \(name)"] + pods.map { "Pod \(name)/\($0.metadata.name)" },
                message: "Namespace \(name) is not labelled for injection but \(pods.count) pods run an istio-proxy sidecar: \(listed(pods))",
                explanation: "They were injected while the namespace was labelled (or by an old revision): the next rollout starts them without a sidecar, and they drop out of the mesh then, not now.",
                fix: "Label the namespace if it belongs to the mesh (kubectl label namespace \(name) istio-injection=enabled), or restart the pods to take them out.",
                yaml: "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: \(name)\n  labels:\n    istio-injection: enabled")
        }
    }

    func linkerdAnnotations(_ snapshot: ClusterSnapshot) -> [AnalysisFinding] {
        snapshot.namespaces.filter { snapshot.inScope($0.metadata.name) }.compactMap { namespace in
            let name = namespace.metadata.name
            // Annotated, or explicitly left out (Linkerd's own namespace says disabled, and its
            // control plane carries proxies by design).
            let annotation = (namespace.metadata.annotations ?? [:])["linkerd.io/inject"]
            guard annotation != "enabled", annotation != "disabled", (namespace.metadata.labels ?? [:])["linkerd.io/is-control-plane"] != "true",
                  (namespace.metadata.labels ?? [:])["linkerd.io/control-plane-ns"] == nil else { return nil }
            let meshed = snapshot.pods.filter { $0.metadata.namespace == name && $0.hasSidecar(named: "linkerd-proxy") }
            guard !meshed.isEmpty else { return nil }
            return finding(
                .linkerdNamespaceNotAnnotated, .warning, namespace: name, objects: ["Namespace \(name)"] + meshed.map { "Pod \(name)/\($0.metadata.name)" },
                message: "Namespace \(name) has \(meshed.count) pods meshed by Linkerd (\(listed(meshed))) but no linkerd.io/inject: enabled annotation",
                explanation: "Only workloads annotated one by one are meshed: a new workload in this namespace starts without linkerd-proxy, and its traffic is plain text (linkerd check --proxy does not see it).",
                fix: "Annotate the namespace, then restart the workloads that are not meshed yet.",
                yaml: "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: \(name)\n  annotations:\n    linkerd.io/inject: enabled")
        }
    }

    /// Whether a Cilium endpoint selector matches these pod labels (`k8s:` and `any:` prefixes
    /// stripped; Cilium's namespace label matches the pod's namespace).
    static func ciliumSelects(_ selector: JSONValue?, labels: [String: String], namespace: String) -> Bool {
        func key(_ raw: String) -> String {
            for prefix in ["k8s:", "any:"] where raw.hasPrefix(prefix) { return String(raw.dropFirst(prefix.count)) }
            return raw
        }
        var labels = labels
        labels["io.kubernetes.pod.namespace"] = namespace
        for (raw, value) in selector?["matchLabels"]?.stringMap ?? [:] where labels[key(raw)] != value { return false }
        for expression in selector?["matchExpressions"]?.elements ?? [] {
            let name = key(expression["key"]?.string ?? "")
            let values = Set((expression["values"]?.elements ?? []).compactMap(\.string))
            switch expression["operator"]?.string {
            case "In": if !values.contains(labels[name] ?? "\u{0}") { return false }
            case "NotIn": if let value = labels[name], values.contains(value) { return false }
            case "Exists": if labels[name] == nil { return false }
            case "DoesNotExist": if labels[name] != nil { return false }
            default: return false
            }
        }
        return true
    }

    func emptyCiliumPolicies(_ snapshot: ClusterSnapshot) -> [AnalysisFinding] {
        snapshot.ciliumNetworkPolicies.filter { snapshot.inScope($0.metadata.namespace) }.compactMap { policy in
            let selectors = [policy.spec?["endpointSelector"]].compactMap { $0 }
            guard !selectors.isEmpty else { return nil }
            let pods = snapshot.pods.filter { $0.metadata.namespace == policy.namespace }
            let matched = pods.filter { pod in selectors.contains { Self.ciliumSelects($0, labels: pod.labels, namespace: policy.namespace) } }
            guard matched.isEmpty else { return nil }
            let wanted = selectors.map { ($0["matchLabels"]?.stringMap ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",") }
            return finding(
                .ciliumPolicySelectsNothing, .warning, namespace: policy.namespace, objects: [policy.reference("CiliumNetworkPolicy")],
                message: "CiliumNetworkPolicy \(policy.namespace)/\(policy.metadata.name) selects no endpoint: no pod in \(policy.namespace) has \(wanted.joined(separator: " or "))",
                explanation: "A policy that selects nothing enforces nothing: the workloads it was written for are not protected (or, if it was meant to allow traffic, the traffic is still dropped by another policy).",
                fix: "Match the pods' labels (kubectl get pods -n \(policy.namespace) --show-labels; cilium endpoint list shows them with the k8s: prefix).")
        }
    }
}
