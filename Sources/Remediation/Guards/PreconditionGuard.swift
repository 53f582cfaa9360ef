/// The action's own preconditions; makes the plan the dry run and the write carry.
public struct PreconditionGuard: RemediationGuard {
    public let name = "preconditions"
    public init() {}
    public func check(_ d: inout Deliberation, in world: any RemediationWorld) async -> GuardVerdict {
        await d.withSnapshot(world) { snapshot, d in
            switch ActionPlan.make(for: d, snapshot: snapshot) {
            case .success(let plan):
                d.plan = plan
                return .allow
            case .failure(let refusal): return .refuse(refusal.reason)
            }
        }
    }
}
