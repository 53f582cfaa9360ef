/// Many critical workloads at once is a systemic incident, not a bad deploy: act on none.
public struct BlastRadiusGuard: RemediationGuard {
    public let name = "blast radius"
    public init() {}
    public func check(_ d: inout Deliberation, in world: any RemediationWorld) async -> GuardVerdict {
        d.criticalWorkloads > d.policy.blastRadius
            ? .refuse("\(d.criticalWorkloads) workloads have critical alerts firing (more than \(d.policy.blastRadius)): a systemic incident; escalating instead",
                      escalate: true)
            : .allow
    }
}
