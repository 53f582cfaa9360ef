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

    typealias Exceeded = CycleDeadlineExceeded

    func instantQuery(_ expression: String, at time: Date) async throws -> [Sample] {
        guard ContinuousClock.now < deadline else { throw Exceeded(budget: budget) }
        // A datasource that bounds the query itself (its transfer's timeout) needs no timer: a
        // timer task per query was four threads woken per query for a deadline that rarely comes.
        if let direct = base as? any DeadlineBoundedQuerying {
            do {
                if let samples = try await direct.instantQuery(expression, at: time, before: deadline) { return samples }
            } catch is QueryDeadlineReached {
                throw Exceeded(budget: budget)
            }
        }
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

struct CycleDeadlineExceeded: DatasourceFailureReporting, CustomStringConvertible {
    let budget: Duration
    var isDatasourceFailure: Bool { true }
    var description: String {
        "the group's evaluation ran past its deadline (\(budget) after the cycle began): rule not evaluated this cycle; its alerts keep their state"
    }
}

/// A datasource that can end one query at a deadline by itself. Nil: it cannot bound this one
/// at once (it would first wait for a slot of the query limiter), and the cycle races it
/// against a timer instead.
protocol DeadlineBoundedQuerying: InstantQuerying {
    /// Throws `QueryDeadlineReached` when the deadline ended the query.
    func instantQuery(_ expression: String, at time: Date, before deadline: ContinuousClock.Instant) async throws -> [Sample]?
}

/// The query was ended by the cycle's deadline (its transfer's timeout was the deadline).
struct QueryDeadlineReached: Error {}
