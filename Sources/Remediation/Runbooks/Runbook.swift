import Foundation
import MetricModel

/// A runbook as data: the diagnostic steps of one alert's documented procedure, in order, and
/// the remediation it may propose (acted on by the remediation step, not here).
public struct Runbook: Codable, Sendable, Equatable {
    public var alert: String
    public var title: String
    public var steps: [RunbookStep]
    /// `rollout_undo`, `scale` or `restart`; nil: escalate only.
    public var remediation: String?
    /// The alert labels that name the workload, when not Istio's `destination_workload` and
    /// `destination_workload_namespace` (Linkerd's `deployment` and `namespace`).
    public var target: TargetLabels?

    /// Which alert labels hold a workload's namespace and Deployment name.
    public struct TargetLabels: Codable, Sendable, Equatable {
        public var namespace: String
        public var workload: String

        public init(namespace: String, workload: String) {
            self.namespace = namespace
            self.workload = workload
        }
    }

    enum CodingKeys: String, CodingKey { case alert, title, steps, remediation, target }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        alert = try container.decode(String.self, forKey: .alert)
        title = try container.decodeIfPresent(String.self, forKey: .title) ?? alert
        steps = try container.decodeIfPresent([RunbookStep].self, forKey: .steps) ?? []
        remediation = try container.decodeIfPresent(String.self, forKey: .remediation)
        target = try container.decodeIfPresent(TargetLabels.self, forKey: .target)
    }

    /// The packs' runbooks with `definitions` replacing those of the same alert and adding the others.
    public static func catalog(_ packs: [Runbook], definitions: [Runbook]) -> [String: Runbook] {
        var catalog = Dictionary(packs.map { ($0.alert, $0) }) { first, _ in first }
        for runbook in definitions { catalog[runbook.alert] = runbook }
        return catalog
    }

    public init(alert: String, title: String, steps: [RunbookStep], remediation: String? = nil, target: TargetLabels? = nil) {
        self.alert = alert
        self.title = title
        self.steps = steps
        self.remediation = remediation
        self.target = target
    }
}

/// One diagnostic step. Strings are templated with the alert's labels (`{{ $labels.x }}`).
public struct RunbookStep: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable, CaseIterable {
        case promql, pods, events, rolloutHistory = "rollout_history", logs, hpa, meshResources = "mesh_resources", certificates
        case httpCheck = "http_check", exec
        /// `meshwatchd analyze`'s configuration checks for the namespace, their findings as evidence.
        case analyze
    }

    public var name: String
    public var kind: Kind
    /// Each step's own deadline (default 10s).
    public var timeout: String?
    /// The most rows or lines it keeps (default 10; logs 100; at most `maxLimit`).
    public var limit: Int?
    public static let maxLimit = 10_000
    /// promql: the query.
    public var query: String?
    /// Namespace to look in (default: the target's).
    public var namespace: String?
    /// logs: the container (default: the first that is not a mesh sidecar); `istio-proxy` for the sidecar.
    /// pods with `without_sidecar`: the sidecar's container name (default istio-proxy).
    public var container: String?
    /// logs: keep only lines matching this regular expression (`outlier|overflow|RBAC`);
    /// pods: `not_ready` or `without_sidecar` to show only those.
    public var filter: String?
    /// pods: a label selector (default: the target Deployment's selector); logs: the pods to read
    /// (in `namespace`) instead of the target's.
    public var selector: String?
    /// rollout_history: how recent a rollout must be, before the alert went pending, to count (default 30m).
    public var window: String?
    /// mesh_resources: which kinds (default all four); certificates: also read TLS secrets (default true).
    public var kinds: [String]?
    /// certificates: TLS secrets to read by name (`namespace/name`); Secrets are never listed.
    public var secrets: [String]?
    /// certificates: public trust roots in ConfigMaps (`namespace/name/key`), such as Linkerd's
    /// `linkerd/linkerd-identity-trust-roots/ca-bundle.crt` or Istio's `istio-ca-root-cert`.
    public var configmaps: [String]?
    /// http_check: the URL.
    public var url: String?
    /// exec: the command and its arguments; the command must be on the configured allow-list.
    public var command: [String]?
    /// analyze: the checks to run, by code (`MW101`) or name (default all).
    public var checks: [String]?

    public init(name: String, kind: Kind, timeout: String? = nil, limit: Int? = nil, query: String? = nil, namespace: String? = nil,
                container: String? = nil, filter: String? = nil, selector: String? = nil, window: String? = nil, kinds: [String]? = nil,
                secrets: [String]? = nil, configmaps: [String]? = nil, url: String? = nil,
                command: [String]? = nil, checks: [String]? = nil) {
        self.name = name
        self.kind = kind
        self.timeout = timeout
        self.limit = limit
        self.query = query
        self.namespace = namespace
        self.container = container
        self.filter = filter
        self.selector = selector
        self.window = window
        self.kinds = kinds
        self.secrets = secrets
        self.configmaps = configmaps
        self.url = url
        self.command = command
        self.checks = checks
    }
}

extension Runbook {
    /// What is wrong with a runbook, each with the key path below it (`steps[2].limit`): the same
    /// checks for a configured runbook and a pack's. `execAllow` is nil where exec steps are not
    /// judged here (a pack's: the configuration's allow-list decides at run time).
    public func problems(execAllow: [String]?) -> [(keyPath: String, message: String)] {
        var found: [(String, String)] = []
        if alert.isEmpty { found.append(("alert", "missing")) }
        if let action = remediation, !["rollout_undo", "scale", "restart"].contains(action) {
            found.append(("remediation", "expected rollout_undo, scale or restart, got \"\(action)\""))
        }
        for (index, step) in steps.enumerated() {
            let path = "steps[\(index)]"
            if let problem = StepTemplate.problem(step) { found.append((path, problem)) }
            if let timeout = step.timeout, (PrometheusDuration.parse(timeout) ?? .zero) <= .zero {
                found.append((path + ".timeout", "expected a positive duration, got \"\(timeout)\""))
            }
            if let window = step.window, (PrometheusDuration.parse(window) ?? .zero) <= .zero {
                found.append((path + ".window", "expected a positive duration, got \"\(window)\""))
            }
            if let limit = step.limit, !(1...RunbookStep.maxLimit).contains(limit) {
                found.append((path + ".limit", "expected 1 to \(RunbookStep.maxLimit), got \(limit)"))
            }
            switch step.kind {
            case .promql where (step.query ?? "").isEmpty, .httpCheck where (step.url ?? "").isEmpty, .exec where (step.command ?? []).isEmpty:
                found.append((path, "a \(step.kind.rawValue) step needs its \(step.kind == .promql ? "query" : step.kind == .httpCheck ? "url" : "command")"))
            default: break
            }
            if let filter = step.filter, step.kind == .logs, (try? Regex(filter)) == nil {
                found.append((path + ".filter", "not a regular expression: \(filter)"))
            }
            if step.kind == .exec, let command = step.command?.first, let execAllow, !execAllow.contains(command) {
                found.append((path + ".command", "\(command) is not in runbooks.exec_allow"))
            }
        }
        return found
    }
}
