/// A global budget of actions per hour.
public struct BudgetGuard: RemediationGuard {
    public let name = "budget"
    public init() {}
    public func check(_ d: inout Deliberation, in world: any RemediationWorld) async -> GuardVerdict {
        d.ledger.takenInLastHour >= d.policy.budgetPerHour
            ? .refuse("\(d.ledger.takenInLastHour) actions in the last hour (budget \(d.policy.budgetPerHour))") : .allow
    }
}
