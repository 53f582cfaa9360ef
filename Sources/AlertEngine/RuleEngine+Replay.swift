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

extension RuleEngine {
    /// Steps each group through `[from, to]` on its own interval (`interval(group)`), as the
    /// daemon would have evaluated it: at each time some group is due, the groups due then are
    /// evaluated, in order, and the step goes to `onStep`. Returns the number of steps.
    @discardableResult
    public mutating func replay(from: Date, to: Date, interval: (RuleGroup) -> Duration, using datasource: some InstantQuerying,
                                logger: Logger, onStep: (ReplayStep) -> Bool) async -> Int {
        guard to >= from else { return 0 }
        let intervals = groups.map { interval($0.group).seconds }
        guard intervals.allSatisfy({ $0 > 0 }) else { return 0 }
        let span = to.timeIntervalSince(from)
        // The evaluations still to come per group (its next index), merged in time order.
        var next = [Int](repeating: 0, count: groups.count)
        let counts = intervals.map { Int((span / $0).rounded(.down)) + 1 }
        func time(_ group: Int) -> Double? { next[group] < counts[group] ? Double(next[group]) * intervals[group] : nil }
        // Distinct times, for progress: counted once with the same merge.
        var total = 0
        do {
            var cursor = [Int](repeating: 0, count: groups.count)
            while let earliest = cursor.indices.compactMap({ cursor[$0] < counts[$0] ? Double(cursor[$0]) * intervals[$0] : nil }).min() {
                total += 1
                for index in cursor.indices where cursor[index] < counts[index] && Double(cursor[index]) * intervals[index] == earliest { cursor[index] += 1 }
            }
        }
        var step = 0
        while let earliest = groups.indices.compactMap(time).min() {
            let at = from.addingTimeInterval(earliest)
            var transitions: [AlertTransition] = []
            for index in groups.indices where time(index) == earliest {
                transitions += await evaluateGroup(index, at: at, using: datasource, logger: logger)
                next[index] += 1
            }
            guard onStep(ReplayStep(time: at, index: step, total: total, transitions: transitions, engine: self)) else { return step + 1 }
            step += 1
        }
        return step
    }
}
