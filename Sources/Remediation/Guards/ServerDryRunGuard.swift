/// A server-side dry run of the exact write. Acknowledged only when the server's answer shows
/// the resourceVersion the decision was made on: a dry run leaves it unchanged, a real write
/// bumps it (Kubernetes returns no other marker). An answer that looks like a real write
/// makes the outcome unknown, and so counted as an action.
public struct ServerDryRunGuard: RemediationGuard {
    public let name = "server dry run"
    public init() {}
    public func check(_ d: inout Deliberation, in world: any RemediationWorld) async -> GuardVerdict {
        guard let plan = d.plan, let snapshot = d.snapshot else { return .refuse("no action planned") }
        let write = plan.write.asDryRun(true)
        do {
            let answer = try await world.send(write)
            let version = answer["metadata"]?["resourceVersion"]?.string
            d.requests.append(.init(path: write.path, dryRun: true, answer: "200"))
            // What the server would store must carry our annotation: a mutating webhook that strips
            // it would leave a real write without its proof and its cooldown.
            guard answer["metadata"]?["annotations"]?[CooldownGuard.annotation]?.string == plan.annotation else {
                return .refuse("the server's dry-run answer does not carry the \(CooldownGuard.annotation) annotation (an admission webhook changes it?): "
                               + "a write could not be proven or held by the cooldown")
            }
            guard version == snapshot.resourceVersion else {
                d.mayHaveWritten = true
                return .refuse("the server answered the dry run with resourceVersion \(version ?? "none") where \(snapshot.resourceVersion) was read: "
                               + "it may have been a real write")
            }
            return .allow
        } catch {
            d.requests.append(.init(path: write.path, dryRun: true, answer: Self.answer(error)))
            return .refuse("the API server refused the change: \(error)")
        }
    }

    static func answer(_ error: any Error) -> String {
        if let error = error as? KubernetesError { return error.code == 0 ? "not sent: \(error.message)" : "\(error.code) \(error.reason)" }
        return "no answer: \(error)"
    }
}
