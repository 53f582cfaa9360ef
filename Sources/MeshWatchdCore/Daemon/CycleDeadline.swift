import AlertEngine
import Foundation
import MetricModel

/// A datasource bounded by the end of the cycle: a query still running at `deadline` is
/// cancelled, and a rule reached after it is not queried. Its rule fails for this cycle and
/// its alerts keep their state, so a hanging Prometheus cannot stretch one cycle over many
/// intervals (Prometheus's own per-query timeout still applies before it).
struct CycleDeadline<Base: InstantQuerying>: InstantQuerying {
    let base: Base
    let deadline: ContinuousClock.Instant
    /// How long the cycle may take, for the error text.
    let budget: Duration

    struct Exceeded: DatasourceFailureReporting, CustomStringConvertible {
        let budget: Duration
        var isDatasourceFailure: Bool { true }
        var description: String {
            "the group's evaluation ran past its deadline (\(budget) after the cycle began): rule not evaluated this cycle; its alerts keep their state"
        }
    }

    func instantQuery(_ expression: String, at time: Date) async throws -> [Sample] {
        guard ContinuousClock.now < deadline else { throw Exceeded(budget: budget) }
        return try await withThrowingTaskGroup(of: [Sample]?.self) { race in
            race.addTask { try await base.instantQuery(expression, at: time) }
            race.addTask {
                try await Task.sleep(until: deadline, clock: .continuous)
                return nil
            }
            defer { race.cancelAll() }
            guard let first = try await race.next(), let samples = first else { throw Exceeded(budget: budget) }
            return samples
        }
    }
}
