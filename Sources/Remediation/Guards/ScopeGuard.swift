/// Allow- and deny-lists; kube-system, istio-system and the daemon's own namespace only when
/// named. It compares the validated target: exactly what the API server will see.
public struct ScopeGuard: RemediationGuard {
    public let name = "scope"
    public init() {}
    public func check(_ d: inout Deliberation, in world: any RemediationWorld) async -> GuardVerdict {
        let policy = d.policy, namespace = d.workload.namespace
        if policy.denyNamespaces.contains(namespace) { return .refuse("namespace \(namespace) is denied") }
        if policy.protectedNamespaces.contains(namespace) && !policy.allowNamespaces.contains(namespace) {
            return .refuse("namespace \(namespace) is protected unless allowed by name")
        }
        if !policy.allowNamespaces.isEmpty && !policy.allowNamespaces.contains(namespace) {
            return .refuse("namespace \(namespace) is not in allow_namespaces")
        }
        if !policy.allowWorkloads.isEmpty && !policy.allowWorkloads.contains(d.workload.description) {
            return .refuse("\(d.workload) is not in allow_workloads")
        }
        return .allow
    }
}
