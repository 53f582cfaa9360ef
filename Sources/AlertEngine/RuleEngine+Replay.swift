import Foundation
import Logging

/// One evaluation of a replay.
public struct ReplayStep: Sendable {
    public var time: Date
    /// 0-based index of this evaluation, and how many there are.
    public var index: Int
    public var total: Int
    public var transitions: [AlertTransition]
    /// The engine right after this evaluation (a copy; cheap, its storage is shared).
    public var engine: RuleEngine
}

extension RuleEngine {
    /// Steps the engine through `[from, to]` every `step`, evaluating all groups at each
    /// time, and hands each step to `onStep` as it happens: nothing is accumulated, so a
    /// long range costs only the active instances in memory. `onStep` returns false to
    /// stop early. Returns the number of evaluations made.
    @discardableResult
    public mutating func replay(from: Date, to: Date, step: Duration, using datasource: some InstantQuerying, logger: Logger,
                                onStep: (ReplayStep) -> Bool) async -> Int {
        let stepSeconds = step.seconds
        guard stepSeconds > 0, to >= from else { return 0 }
        let total = Int((to.timeIntervalSince(from) / stepSeconds).rounded(.down)) + 1
        for index in 0..<total {
            // Computed from the start each time, so a long range does not drift.
            let time = from.addingTimeInterval(Double(index) * stepSeconds)
            let transitions = await evaluateAll(at: time, using: datasource, logger: logger)
            guard onStep(ReplayStep(time: time, index: index, total: total, transitions: transitions, engine: self)) else {
                return index + 1
            }
        }
        return total
    }
}
