/// No second automatic action on a workload in the same incident.
public struct IncidentGuard: RemediationGuard {
    public let name = "one action per incident"
    public init() {}
    public func check(_ d: inout Deliberation, in world: any RemediationWorld) async -> GuardVerdict {
        d.ledger.actedOn.contains("\(d.proposal.alertKey) \(d.workload)")
            ? .refuse("an action was already taken on \(d.workload) in this incident", escalate: true) : .allow
    }
}
