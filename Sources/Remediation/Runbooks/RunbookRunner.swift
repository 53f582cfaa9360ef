import Foundation
import Logging
import MeshHTTP
import MetricModel
import PromClient

/// The alert a runbook runs for.
public struct AlertContext: Sendable {
    public var name: String
    public var labels: [String: String]
    public var activeAt: Date
    /// The time to query Prometheus at (the evaluation that fired it; `diagnose`: now).
    public var time: Date

    public init(name: String, labels: [String: String], activeAt: Date, time: Date) {
        self.name = name
        self.labels = labels
        self.activeAt = activeAt
        self.time = time
    }
}

/// Runs a runbook's steps in order, each with its timeout and output limit; a failed or
/// timed-out step is reported and the runbook goes on.
public struct RunbookRunner: Sendable {
    public var prometheus: PrometheusClient?
    public var kubernetes: KubernetesClient?
    /// Commands `exec` steps may run (absolute paths); empty: `exec` is off.
    public var execAllowList: Set<String>
    /// Expands `{{ $labels.x }}` and friends in step strings.
    public var render: @Sendable (String, AlertContext) -> String
    /// Runs `analyze` steps: the configuration checks live above this module, so the caller
    /// supplies them; nil skips those steps.
    public var analyze: (@Sendable (KubernetesClient, AnalysisRequest) async throws -> AnalysisAnswer)?
    let http: HTTPClient

    public init(prometheus: PrometheusClient?, kubernetes: KubernetesClient?, execAllowList: Set<String> = [],
                render: @escaping @Sendable (String, AlertContext) -> String = RunbookRunner.substituteLabels) {
        self.prometheus = prometheus
        self.kubernetes = kubernetes
        self.execAllowList = execAllowList
        self.render = render
        http = HTTPClient(configuration: .init(connectTimeout: .seconds(3), timeout: .seconds(10), maxResponseBytes: 1 << 20))
    }

    /// `{{ $labels.name }}` and `{{ .Labels.name }}` replaced by the label's value (empty when absent).
    public static let substituteLabels: @Sendable (String, AlertContext) -> String = { text, alert in
        // One pass over the template: a label value is never scanned again (a value holding
        // `{{ $labels.x }}` would otherwise expand forever).
        var out = ""
        var rest = Substring(text)
        while let open = rest.range(of: "{{"), let close = rest.range(of: "}}", range: open.upperBound..<rest.endIndex) {
            out += rest[..<open.lowerBound]
            let expression = rest[open.upperBound..<close.lowerBound].trimmingCharacters(in: .whitespaces)
            for prefix in ["$labels.", ".Labels."] where expression.hasPrefix(prefix) {
                out += alert.labels[String(expression.dropFirst(prefix.count))] ?? ""
            }
            rest = rest[close.upperBound...]
        }
        return out + rest
    }

    public func run(_ runbook: Runbook, for alert: AlertContext) async -> Evidence {
        var evidence = Evidence(runbook: runbook.alert, target: nil, targetProblem: nil, steps: [], recentRollout: nil)
        if let kubernetes {
            switch await TargetResolver(client: kubernetes).resolve(alert.labels, hint: runbook.target) {
            case .success(let target): evidence.target = target
            case .failure(let problem): evidence.targetProblem = problem.description
            }
        } else {
            evidence.targetProblem = "no Kubernetes API configured"
        }
        for step in runbook.steps {
            let start = ContinuousClock.now
            let timeout = step.timeout.flatMap(PrometheusDuration.parse) ?? .seconds(10)
            var result: StepOutput
            let target = evidence.target
            do {
                result = try await withDeadline(timeout) { try await self.execute(step, alert: alert, target: target) }
            } catch let skip as StepSkipped {
                result = StepOutput(status: .skipped, error: skip.reason)
            } catch is DeadlineExceeded {
                result = StepOutput(status: .failed, error: "timed out after \(timeout)")
            } catch {
                result = StepOutput(status: .failed, error: "\(error)")
            }
            let elapsed = ContinuousClock.now - start
            if let rollout = result.recentRollout { evidence.recentRollout = rollout }
            let limit = min(max(step.limit ?? (step.kind == .logs ? 100 : 10), 1), RunbookStep.maxLimit)
            evidence.steps.append(Evidence.Step(
                name: step.name, kind: step.kind.rawValue, status: result.status, lines: Array(result.lines.prefix(limit + 1)),
                data: result.data, error: result.error, durationMilliseconds: Int(elapsed.components.seconds * 1000
                    + elapsed.components.attoseconds / 1_000_000_000_000_000),
                truncated: result.truncated))
        }
        return evidence
    }
}

/// What an `analyze` step asks: the namespace (nil: all) and the checks (empty: all).
public struct AnalysisRequest: Sendable {
    public var namespace: String?
    public var checks: [String]
}

/// Its answer: one line per problem, and the findings as data.
public struct AnalysisAnswer: Sendable {
    public var lines: [String]
    public var data: JSONValue

    public init(lines: [String], data: JSONValue) {
        self.lines = lines
        self.data = data
    }
}

struct StepOutput: Sendable {
    var status: Evidence.Step.Status = .ok
    var lines: [String] = []
    var data: JSONValue?
    var error: String?
    var truncated = false
    var recentRollout: Evidence.RecentRollout?
}

struct StepSkipped: Error { let reason: String }
struct DeadlineExceeded: Error {}

/// Runs `body`, cancelling it after `timeout`.
func withDeadline<T: Sendable>(_ timeout: Duration, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: timeout)
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let value = first else { throw DeadlineExceeded() }
        return value
    }
}
