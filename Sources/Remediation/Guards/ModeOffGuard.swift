/// Remediation is off unless the mode says otherwise.
public struct ModeOffGuard: RemediationGuard {
    public let name = "mode"
    public init() {}
    public func check(_ d: inout Deliberation, in world: any RemediationWorld) async -> GuardVerdict {
        d.policy.mode == .off ? .refuse("remediation is off") : .allow
    }
}
