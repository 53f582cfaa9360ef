import MetricModel
import Foundation

/// What a runbook found: per step its status, a few readable lines and the structured data,
/// and the target it looked at (or why there was none).
public struct Evidence: Codable, Sendable, Equatable {
    public struct Target: Codable, Sendable, Equatable {
        public var namespace: String
        public var deployment: String
        /// How it was found: `destination_workload label`, `destination_service → Service → selector`.
        public var resolvedBy: String
        /// The Deployment's uid when it was resolved: a decision is about this object, not a
        /// later one recreated under the same name.
        public var uid: String?

        public init(namespace: String, deployment: String, resolvedBy: String, uid: String? = nil) {
            self.namespace = namespace
            self.deployment = deployment
            self.resolvedBy = resolvedBy
            self.uid = uid
        }
    }

    public struct Step: Codable, Sendable, Equatable {
        public enum Status: String, Codable, Sendable { case ok, failed, skipped }
        public var name: String
        public var kind: String
        public var status: Status
        /// What the on-call engineer reads first: a handful of lines.
        public var lines: [String]
        /// The step's rows as structured JSON.
        public var data: JSONValue?
        public var error: String?
        public var durationMilliseconds: Int
        /// True when the output was cut to the step's limit.
        public var truncated: Bool
    }

    public var runbook: String
    public var target: Target?
    /// Said plainly when there is no target: which labels were missing or what was not found.
    public var targetProblem: String?
    public var steps: [Step]
    /// A new revision rolled out shortly before the alert went pending (for rollout undo).
    public var recentRollout: RecentRollout?

    public struct RecentRollout: Codable, Sendable, Equatable {
        public var revision: Int
        public var minutesBeforePending: Double
        public var images: [String]
    }

    /// The short text sinks show: the target and each step's first lines.
    public var summaryLines: [String] {
        var lines: [String] = []
        if let target { lines.append("target: deployment \(target.namespace)/\(target.deployment) (\(target.resolvedBy))") }
        if let targetProblem { lines.append("target: none — \(targetProblem)") }
        for step in steps {
            switch step.status {
            case .ok: lines.append("\(step.name): " + (step.lines.first ?? "nothing found"))
            case .failed: lines.append("\(step.name): FAILED — \(step.error ?? "")")
            case .skipped: lines.append("\(step.name): skipped — \(step.error ?? "")")
            }
        }
        return lines
    }
}
