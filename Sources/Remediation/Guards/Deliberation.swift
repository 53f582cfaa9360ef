import Foundation
import MetricModel

/// The workload as the API server showed it for this decision.
public struct WorkloadSnapshot: Sendable {
    public var deployment: Deployment
    /// The Deployment as JSON: templates are compared and copied whole, as kubectl does.
    public var json: JSONValue
    /// ReplicaSets the Deployment controls, newest revision first, with their JSON.
    public var revisions: [(replicaSet: ReplicaSet, json: JSONValue)]
    public var autoscalers: [HorizontalPodAutoscaler]

    public init(deployment: Deployment, json: JSONValue, revisions: [(replicaSet: ReplicaSet, json: JSONValue)], autoscalers: [HorizontalPodAutoscaler]) {
        self.deployment = deployment
        self.json = json
        self.revisions = revisions
        self.autoscalers = autoscalers
    }

    /// The resourceVersion the decision is made on; every write carries it.
    public var resourceVersion: String { deployment.metadata.resourceVersion ?? "" }
    public var uid: String { deployment.metadata.uid ?? "" }
}

/// One decision as it passes through the guard chain: the proposal, the validated target, the
/// policy and ledger it is judged by, and what the guards add on the way (the workload as read,
/// the action plan, the requests sent).
public struct Deliberation: Sendable {
    public var proposal: Remediator.Proposal
    public var workload: WorkloadRef
    public var policy: RemediationPolicy
    /// What the ledger said inside this decision's reservation.
    public var ledger: LedgerSummary
    public var criticalWorkloads: Int
    public var now: Date
    /// Rides in the cooldown annotation of the write: its presence on the Deployment proves the write.
    public var decisionID: String
    public var snapshot: WorkloadSnapshot?
    /// Made once by the preconditions guard and carried to the dry run and the write.
    public var plan: ActionPlan?
    public var requests: [RemediationDecision.Request] = []
    /// A dry run was answered as a real write would be: the outcome is unknown, not refused.
    public var mayHaveWritten = false

    public init(proposal: Remediator.Proposal, workload: WorkloadRef, policy: RemediationPolicy, ledger: LedgerSummary, criticalWorkloads: Int,
                now: Date, decisionID: String, snapshot: WorkloadSnapshot? = nil) {
        self.proposal = proposal
        self.workload = workload
        self.policy = policy
        self.ledger = ledger
        self.criticalWorkloads = criticalWorkloads
        self.now = now
        self.decisionID = decisionID
        self.snapshot = snapshot
    }

    /// The workload, read once from `world` when a guard first needs it.
    mutating func snapshot(_ world: any RemediationWorld) async -> Result<WorkloadSnapshot, GuardRefusal> {
        if let snapshot { return .success(snapshot) }
        do {
            let read = try await world.read(workload)
            if let expected = proposal.target.uid, read.uid != expected {
                return .failure(GuardRefusal("\(workload) was recreated since the runbook resolved it (uid \(expected) → \(read.uid))"))
            }
            snapshot = read
            return .success(read)
        } catch {
            return .failure(GuardRefusal("cannot read \(workload): \(error)"))
        }
    }
}

extension Deliberation {
    /// Runs `check` on the workload as read (once), or refuses when it cannot be read.
    mutating func withSnapshot(_ world: any RemediationWorld, _ check: (WorkloadSnapshot, inout Deliberation) -> GuardVerdict) async -> GuardVerdict {
        switch await snapshot(world) {
        case .success(let snapshot): return check(snapshot, &self)
        case .failure(let refusal): return .refuse(refusal.reason)
        }
    }
}

public struct GuardRefusal: Error, Sendable { public let reason: String; init(_ reason: String) { self.reason = reason } }

public enum GuardVerdict: Sendable, Equatable {
    case allow
    case refuse(String, escalate: Bool = false)
    /// Decided, never written: the kill switch or the dry-run mode.
    case dryRun(String)
}

/// One guard: allow, refuse with a reason, or end the decision as a dry run.
public protocol RemediationGuard: Sendable {
    var name: String { get }
    func check(_ deliberation: inout Deliberation, in world: any RemediationWorld) async -> GuardVerdict
}

/// What the guards may ask of the outside world. The daemon wires it to the Kubernetes API, the
/// lease, the evaluation loops and the live configuration; the table test to a fake.
public protocol RemediationWorld: Sendable {
    /// The Deployment, its ReplicaSets and the namespace's HPAs.
    func read(_ workload: WorkloadRef) async throws -> WorkloadSnapshot
    /// HPAs of the namespace, read again right before the write.
    func autoscalers(_ namespace: String) async throws -> [HorizontalPodAutoscaler]
    /// Sends a write (the dry run here; the real write only by the remediator) and returns the server's answer.
    func send(_ write: KubernetesWrite) async throws -> JSONValue
    /// Why the kill switch is on, or nil. Fails closed.
    func killSwitch() async -> String?
    /// Whether an evaluation of this process last saw the alert firing (restored state alone does not count).
    func isFiring(alertKey: String) -> Bool
    /// Nil when this process provably holds the lease now, else why not.
    func leaseProblem() -> String?
    /// The mode in force now (a reload may change it mid-decision).
    func currentMode() -> RemediationMode
}
