import Foundation

/// Remediation modes: `off` decides nothing, `dry-run` decides and reports but never writes,
/// `enforce` acts when every guard allows.
public enum RemediationMode: String, Codable, Sendable, CaseIterable {
    case off
    case dryRun = "dry-run"
    case enforce
}

/// The actions a runbook may propose, as kubectl performs them.
public enum RemediationAction: String, Codable, Sendable, CaseIterable {
    case rolloutUndo = "rollout_undo"
    case scale
    case restart
}

/// One decision, taken or not, with the guard that decided it: written to the ledger and
/// carried by the finding.
public struct RemediationDecision: Codable, Sendable, Equatable {
    public enum Outcome: String, Codable, Sendable, CaseIterable {
        /// The action was written to the Kubernetes API.
        case taken
        /// Every guard allowed it, but the mode (or the kill switch) is dry-run.
        case dryRun = "dry-run"
        /// A guard refused it, or the API server answered that the write did not happen.
        case refused
        /// The write was sent and no answer says whether it happened (a 5xx, a timeout, a lost
        /// connection): it counts as taken until re-reading the object shows it did not.
        case unknown

        /// Taken and unknown decisions count against the cooldown, the budget, the incident and in-flight.
        public var countsAsAction: Bool { self == .taken || self == .unknown }
    }

    /// One request the decision sent: the path, whether it was a server dry run, what was answered.
    public struct Request: Codable, Sendable, Equatable {
        public var method: String
        public var path: String
        public var dryRun: Bool
        /// `200`, `409 Conflict`, `timeout`, …
        public var answer: String

        public init(method: String = "PATCH", path: String, dryRun: Bool, answer: String) {
            self.method = method
            self.path = path
            self.dryRun = dryRun
            self.answer = answer
        }
    }

    public var outcome: Outcome
    public var action: RemediationAction
    /// `namespace/deployment`.
    public var workload: String
    public var alert: String
    /// `<group>/<fingerprint>` of the alert episode that proposed it.
    public var alertKey: String
    /// The guard that decided (`scope`, `cooldown`, …; `all guards` when allowed).
    public var decidedBy: String
    public var reason: String
    /// What the action does or would do: `revision 3 → 2 (bookinfo/reviews:1.18)`, `replicas 2 → 3`.
    public var change: String?
    /// Escalate rather than act (the blast-radius guard, a failed verification).
    public var escalate: Bool
    public var at: Date
    /// The decision's id; it rides in the cooldown annotation of the write, which proves the write happened.
    public var id: String?
    /// The Deployment's uid the decision was made on.
    public var uid: String?
    /// Every request sent to the API server for this decision, in order.
    public var requests: [Request]?

    public init(outcome: Outcome, action: RemediationAction, workload: String, alert: String, alertKey: String, decidedBy: String,
                reason: String, change: String? = nil, escalate: Bool = false, at: Date) {
        self.outcome = outcome
        self.action = action
        self.workload = workload
        self.alert = alert
        self.alertKey = alertKey
        self.decidedBy = decidedBy
        self.reason = reason
        self.change = change
        self.escalate = escalate
        self.at = at
    }

    /// One line for the finding and the log.
    public var summary: String {
        let what = "\(action.rawValue) \(workload)" + (change.map { " (\($0))" } ?? "")
        switch outcome {
        case .taken: return "TAKEN: \(what); \(reason)"
        case .dryRun: return "DRY RUN: would \(what); \(reason)"
        case .refused: return "REFUSED by \(decidedBy): \(what); \(reason)"
        case .unknown: return "UNKNOWN OUTCOME (counted as taken): \(what); \(reason)"
        }
    }
}
