// The guards asked immediately before the write, after the dry run was acknowledged: what
// may have changed while the runbook ran and the dry run was in flight.

/// Preconditions that live outside the Deployment, read again: an HPA that appeared since.
public struct AutoscalerRecheckGuard: RemediationGuard {
    public let name = "preconditions"
    public init() {}
    public func check(_ d: inout Deliberation, in world: any RemediationWorld) async -> GuardVerdict {
        guard d.proposal.action == .scale else { return .allow }
        do {
            let autoscalers = try await world.autoscalers(d.workload.namespace)
            if let hpa = autoscalers.first(where: { $0.scales(d.workload.name) }) {
                return .refuse("HorizontalPodAutoscaler \(hpa.metadata.name) now scales \(d.workload.name): never fight an HPA")
            }
            return .allow
        } catch {
            return .refuse("cannot read the HorizontalPodAutoscalers of \(d.workload.namespace) again: \(error)")
        }
    }
}

/// The alert is still firing, as an evaluation of this process saw it.
public struct AlertStillFiringGuard: RemediationGuard {
    public let name = "alert still firing"
    public init() {}
    public func check(_ d: inout Deliberation, in world: any RemediationWorld) async -> GuardVerdict {
        world.isFiring(alertKey: d.proposal.alertKey) ? .allow
            : .refuse("\(d.proposal.alert) is no longer firing (resolved, its rule failing, or not yet seen firing by this process's evaluation)")
    }
}

/// The lease is provably held: its last renewal is within the renew deadline on the monotonic clock.
public struct LeaseGuard: RemediationGuard {
    public let name = "lease"
    public init() {}
    public func check(_ d: inout Deliberation, in world: any RemediationWorld) async -> GuardVerdict {
        world.leaseProblem().map { .refuse($0) } ?? .allow
    }
}

/// The kill switch turns every mode into dry-run.
public struct KillSwitchGuard: RemediationGuard {
    public let name = "kill switch"
    public init() {}
    public func check(_ d: inout Deliberation, in world: any RemediationWorld) async -> GuardVerdict {
        await world.killSwitch().map { .dryRun($0) } ?? .allow
    }
}

/// The mode in force now: dry-run decides without writing; a reload may have changed it mid-decision.
public struct ModeAtWriteGuard: RemediationGuard {
    public let name = "mode"
    public init() {}
    public func check(_ d: inout Deliberation, in world: any RemediationWorld) async -> GuardVerdict {
        let decided = d.policy.mode
        switch world.currentMode() {
        case .enforce where decided == .enforce: return .allow
        case .enforce: return .dryRun("every guard allowed it; mode is dry-run")
        case .dryRun: return .dryRun(decided == .dryRun ? "every guard allowed it; mode is dry-run" : "the mode changed to dry-run by a reload during the decision")
        case .off: return .refuse("the mode changed to off by a reload during the decision")
        }
    }
}

extension HorizontalPodAutoscaler {
    func scales(_ deployment: String) -> Bool { spec.scaleTargetRef.kind == "Deployment" && spec.scaleTargetRef.name == deployment }
}
