/// At most one action in flight: a decision still being made, or a taken action still inside
/// its verification window.
public struct InFlightGuard: RemediationGuard {
    public let name = "one action in flight"
    public init() {}
    public func check(_ d: inout Deliberation, in world: any RemediationWorld) async -> GuardVerdict {
        d.ledger.inFlight.isEmpty ? .allow : .refuse("an action is still in flight (\(d.ledger.inFlight.joined(separator: ", ")))")
    }
}
