import Foundation

/// One action per workload per cooldown: the ledger, and the annotation on the Deployment
/// (which a restarted daemon or a second replica also sees).
public struct CooldownGuard: RemediationGuard {
    public let name = "cooldown"
    public static let annotation = "meshwatchd.dev/last-remediation"
    public init() {}

    public func check(_ d: inout Deliberation, in world: any RemediationWorld) async -> GuardVerdict {
        await d.withSnapshot(world) { snapshot, d in verdict(d, snapshot) }
    }

    func verdict(_ d: Deliberation, _ snapshot: WorkloadSnapshot) -> GuardVerdict {
        let fromAnnotation = snapshot.deployment.metadata.annotation(Self.annotation)
            .flatMap { $0.split(separator: " ").first }.flatMap { KubeTime.parse(String($0)) }
        let last = [d.ledger.lastTaken[d.workload.description], fromAnnotation].compactMap { $0 }.max()
        guard let last, d.now.timeIntervalSince(last) < d.policy.cooldown.seconds else { return .allow }
        let left = Int((d.policy.cooldown.seconds - d.now.timeIntervalSince(last)) / 60) + 1
        return .refuse("\(d.workload) was acted on at \(KubeTime.format(last)); cooldown \(d.policy.cooldown) has \(left) min left")
    }
}
