import AlertEngine
import Foundation

/// The decisions of one rule group's cycle at its tick, as a value: which transitions are
/// announced as soon as their rule is done, and which at the end of the cycle (with the
/// restore of a fresh start). No I/O, no clock: the loop around it evaluates, saves and
/// sleeps, and hands it what happened. (What a reload takes away resolves when the reload is
/// applied, before any cycle: see `EvaluationService`.)
struct GroupCycle: Sendable {
    /// The tick: the evaluation time of every rule and the time of every decision.
    let tick: Date
    /// The first cycle of a start, whose transitions the restore may turn out to be
    /// continuations: nothing is announced before the restore.
    let restoring: Bool
    private var transitions: [AlertTransition] = []
    private var announced: Set<TransitionKey> = []

    init(tick: Date, restoring: Bool) {
        self.tick = tick
        self.restoring = restoring
    }

    /// One rule was evaluated: its firings and resolves to decide and save now, or nil.
    /// (Pending and dropped instances wait for the end of the cycle: nobody is told of them.)
    mutating func ruleEvaluated(_ ruleTransitions: [AlertTransition]) -> [AlertTransition]? {
        transitions += ruleTransitions
        guard !restoring, ruleTransitions.contains(where: { $0.kind == .firing || $0.kind == .resolved }) else { return nil }
        announced.formUnion(ruleTransitions.map(TransitionKey.init))
        return ruleTransitions
    }

    /// The end of the cycle: every transition not yet decided, without the continuations a
    /// restore found (`restored`), with the resolves of what vanished during downtime.
    func remaining(restored: Set<UInt64> = [], vanished: [AlertTransition] = []) -> [AlertTransition] {
        var left = transitions.filter { !announced.contains(TransitionKey($0)) }
        if restoring {
            left.removeAll { restored.contains($0.instance.fingerprint) }
            left += vanished
        }
        return left
    }

    /// Identifies a transition within one cycle.
    struct TransitionKey: Hashable, Sendable {
        let rule: String
        let fingerprint: UInt64
        let kind: AlertTransition.Kind
        init(_ transition: AlertTransition) {
            rule = transition.rule
            fingerprint = transition.instance.fingerprint
            kind = transition.kind
        }
    }
}

/// Prometheus's group timing, as pure arithmetic on wall-clock seconds.
enum GroupSchedule {
    /// The first aligned tick strictly after `now`: `offset` within each `interval`.
    static func nextTick(after now: Date, interval: Double, offset: Double) -> Date {
        let seconds = now.timeIntervalSince1970
        let base = ((seconds - offset) / interval).rounded(.down) * interval + offset
        return Date(timeIntervalSince1970: base + interval)
    }

    /// The tick after `tick` once a cycle ended at `now`: the next one, or, when the cycle ran
    /// past it, the first one still ahead, with the number of ticks skipped.
    static func following(_ tick: Date, interval: Double, now: Date) -> (next: Date, missed: Int) {
        let next = tick.addingTimeInterval(interval)
        guard next <= now else { return (next, 0) }
        let missed = Int(now.timeIntervalSince(next) / interval) + 1
        return (next.addingTimeInterval(Double(missed) * interval), missed)
    }
}

/// The wall clock a group loop ticks on: production reads the system's; tests drive a manual one.
protocol TickClock: Sendable {
    func now() -> Date
    /// Returns at `time`, or throws when the task is cancelled.
    func sleep(until time: Date) async throws
}

/// The system's wall clock.
struct SystemTickClock: TickClock {
    func now() -> Date { Date() }

    func sleep(until time: Date) async throws {
        let delay = time.timeIntervalSinceNow
        guard delay > 0 else { return }
        try await Task.sleep(for: .milliseconds(Int64((delay * 1000).rounded(.up))))
    }
}
