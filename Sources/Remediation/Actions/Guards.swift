import Foundation
import MetricModel

/// Everything a guard looks at: the proposal, the workload as the API shows it now, the
/// ledger, how many critical workloads fire, the time.
public struct GuardContext: Sendable {
    public var action: RemediationAction
    public var alert: String
    public var alertKey: String
    public var namespace: String
    public var name: String
    public var deployment: Deployment
    /// The Deployment as JSON: templates are compared and copied whole, as kubectl does.
    public var deploymentJSON: JSONValue
    /// ReplicaSets the Deployment controls, newest revision first, with their JSON.
    public var revisions: [(replicaSet: ReplicaSet, json: JSONValue)]
    public var autoscalers: [HorizontalPodAutoscaler]
    public var recentRollout: Evidence.RecentRollout?
    public var ledger: LedgerSummary
    public var criticalWorkloads: Int
    public var policy: RemediationPolicy
    public var now: Date

    public var workload: String { "\(namespace)/\(name)" }
}

public enum GuardVerdict: Sendable, Equatable {
    case allow
    case refuse(String, escalate: Bool = false)
}

/// One guard: allow, or refuse with a reason.
public protocol RemediationGuard: Sendable {
    var name: String { get }
    func check(_ context: GuardContext) -> GuardVerdict
}

/// Remediation is off unless the mode says otherwise.
public struct ModeGuard: RemediationGuard {
    public let name = "mode"
    public func check(_ context: GuardContext) -> GuardVerdict {
        context.policy.mode == .off ? .refuse("remediation is off") : .allow
    }
}

/// Allow- and deny-lists; kube-system, istio-system and the daemon's own namespace only when named.
public struct ScopeGuard: RemediationGuard {
    public let name = "scope"
    public func check(_ context: GuardContext) -> GuardVerdict {
        let policy = context.policy
        if policy.denyNamespaces.contains(context.namespace) { return .refuse("namespace \(context.namespace) is denied") }
        if policy.protectedNamespaces.contains(context.namespace) && !policy.allowNamespaces.contains(context.namespace) {
            return .refuse("namespace \(context.namespace) is protected unless allowed by name")
        }
        if !policy.allowNamespaces.isEmpty && !policy.allowNamespaces.contains(context.namespace) {
            return .refuse("namespace \(context.namespace) is not in allow_namespaces")
        }
        if !policy.allowWorkloads.isEmpty && !policy.allowWorkloads.contains(context.workload) {
            return .refuse("\(context.workload) is not in allow_workloads")
        }
        return .allow
    }
}

/// Many critical workloads at once is a systemic incident, not a bad deploy: act on none.
public struct BlastRadiusGuard: RemediationGuard {
    public let name = "blast radius"
    public func check(_ context: GuardContext) -> GuardVerdict {
        context.criticalWorkloads > context.policy.blastRadius
            ? .refuse("\(context.criticalWorkloads) workloads have critical alerts firing (more than \(context.policy.blastRadius)): a systemic incident; escalating instead", escalate: true)
            : .allow
    }
}

/// No second automatic action on a workload in the same incident.
public struct IncidentGuard: RemediationGuard {
    public let name = "one action per incident"
    public func check(_ context: GuardContext) -> GuardVerdict {
        context.ledger.actedOn.contains("\(context.alertKey) \(context.workload)")
            ? .refuse("an action was already taken on \(context.workload) in this incident", escalate: true) : .allow
    }
}

/// At most one action in flight: a taken action still inside its verification window.
public struct InFlightGuard: RemediationGuard {
    public let name = "one action in flight"
    public func check(_ context: GuardContext) -> GuardVerdict {
        context.ledger.inFlight.isEmpty ? .allow
            : .refuse("an action is still being verified (\(context.ledger.inFlight.joined(separator: ", ")))")
    }
}

/// One action per workload per cooldown: the ledger, and the annotation on the Deployment
/// (which a restarted daemon or a second replica also sees).
public struct CooldownGuard: RemediationGuard {
    public let name = "cooldown"
    public static let annotation = "meshwatchd.dev/last-remediation"

    public func check(_ context: GuardContext) -> GuardVerdict {
        let fromAnnotation = context.deployment.metadata.annotation(Self.annotation)
            .flatMap { $0.split(separator: " ").first }.flatMap { KubeTime.parse(String($0)) }
        let last = [context.ledger.lastTaken[context.workload], fromAnnotation].compactMap { $0 }.max()
        guard let last, context.now.timeIntervalSince(last) < context.policy.cooldown.seconds else { return .allow }
        let left = Int((context.policy.cooldown.seconds - context.now.timeIntervalSince(last)) / 60) + 1
        return .refuse("\(context.workload) was acted on at \(KubeTime.format(last)); cooldown \(context.policy.cooldown) has \(left) min left")
    }
}

/// A global budget of actions per hour.
public struct BudgetGuard: RemediationGuard {
    public let name = "budget"
    public func check(_ context: GuardContext) -> GuardVerdict {
        context.ledger.takenInLastHour >= context.policy.budgetPerHour
            ? .refuse("\(context.ledger.takenInLastHour) actions in the last hour (budget \(context.policy.budgetPerHour))") : .allow
    }
}

/// The action's own preconditions (see `ActionPlan.make`).
public struct PreconditionGuard: RemediationGuard {
    public let name = "preconditions"
    public func check(_ context: GuardContext) -> GuardVerdict {
        switch ActionPlan.make(context) {
        case .success: return .allow
        case .failure(let refusal): return .refuse(refusal.reason)
        }
    }
}

extension RemediationGuard where Self == ModeGuard {
    /// Every guard, in the order they are asked.
    public static var all: [any RemediationGuard] {
        [ModeGuard(), ScopeGuard(), BlastRadiusGuard(), IncidentGuard(), InFlightGuard(), CooldownGuard(), BudgetGuard(), PreconditionGuard()]
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}

extension KubeTime {
    public static func format(_ date: Date) -> String { ISO8601DateFormatter().string(from: date) }
}
