import GoTemplate
import AlertEngine
import Foundation
import Incidents
import Logging
import Synchronization

/// Persist first, then announce: saves a group's state together with the findings and
/// diagnoses it decided, and only after the transaction committed logs its transitions and
/// wakes the workers. When the disk refuses, what was decided waits in memory (per group) and
/// goes into that group's next save; readiness and `/metrics` say how many findings wait.
struct StateCommitter: Sendable {
    /// What one or more cycles decided and could not save yet.
    struct Work: Sendable {
        var plan = NotificationPlan()
        var diagnoses: [StateStore.DiagnosisRequest] = []
        /// Logged once saved.
        var transitions: [AlertTransition] = []

        var isEmpty: Bool { plan.isEmpty && diagnoses.isEmpty && transitions.isEmpty }

        mutating func append(_ later: Work) {
            plan.merge(later.plan)
            diagnoses += later.diagnoses
            transitions += later.transitions
        }
    }

    let store: StateStore
    let backlog: UnsavedWork
    let status: DaemonStatus
    let outboxSignal: OutboxSignal
    let diagnosisSignal: OutboxSignal
    let delays: [String: Duration]
    /// The keys whose loops save again (this generation's groups and the daemon's own): work held
    /// for any other key (a group a reload removed) goes with the next save that succeeds.
    var liveKeys: Set<String> = []
    let logger: Logger

    /// Saves `snapshot` (nil: no group state, the daemon's own alerts) with `work` and whatever
    /// waited for `key`; true when it committed.
    @discardableResult
    func commit(key: String, snapshot: EngineSnapshot?, _ work: Work) async -> Bool {
        var all = backlog.take(key) ?? Work()
        all.append(work)
        do {
            let (plan, diagnoses, delays, transitions) = (all.plan, all.diagnoses, delays, all.transitions)
            try await store.perform { store in
                if let snapshot {
                    try store.save(group: key, snapshot: snapshot, plan: plan, delays: delays, diagnoses: diagnoses, transitions: transitions)
                } else {
                    try store.save(plan: plan, delays: delays, transitions: transitions)
                }
            }
        } catch {
            backlog.hold(key, all, error: "\(error)")
            let waiting = backlog.waitingFindings
            await status.stateWriteFailed(error: "\(error)", waitingFindings: waiting)
            logger.error("could not save alert state; findings wait in memory and are saved with the next cycle", metadata: [
                "error": "\(error)", "state.path": "\(store.path)", "rule.group": "\(key)",
                "findings.unsaved": .stringConvertible(waiting),
            ])
            return false
        }
        // Work held for keys no loop saves any more rides on this success.
        for orphan in backlog.keys where !liveKeys.isEmpty && !liveKeys.contains(orphan) && orphan != key {
            await commit(key: orphan, snapshot: nil, Work())
        }
        if backlog.isEmpty { await status.stateWritten() }
        log(all.transitions, group: key)
        if !all.plan.outgoing.isEmpty { outboxSignal.raise() }
        if !all.diagnoses.isEmpty { diagnosisSignal.raise() }
        return true
    }
}

extension StateCommitter {
    /// Transitions logged one line each up to this many per save; past it, one line per rule
    /// and kind (a rule that suddenly matches thousands of series must not flood the log).
    static let transitionLines = 20

    func log(_ transitions: [AlertTransition], group: String) {
        var logger = logger
        logger[metadataKey: "rule.group"] = "\(group)"
        guard transitions.count > Self.transitionLines else {
            for transition in transitions { Self.log(transition, logger: logger) }
            return
        }
        var counts: [String: (rule: String, kind: AlertTransition.Kind, count: Int)] = [:]
        for transition in transitions {
            counts["\(transition.rule)\u{0}\(transition.kind.rawValue)", default: (transition.rule, transition.kind, 0)].count += 1
        }
        for (_, entry) in counts.sorted(by: { $0.key < $1.key }) {
            logger.info("alert transitions (aggregated)", metadata: [
                "rule.name": "\(entry.rule)", "alert.transition": "\(entry.kind.rawValue)", "alert.count": .stringConvertible(entry.count),
            ])
        }
    }
}

/// Decisions that could not be saved, by group: kept until that group's next save succeeds.
final class UnsavedWork: Sendable {
    private let held = Mutex<[String: StateCommitter.Work]>([:])

    func take(_ key: String) -> StateCommitter.Work? { held.withLock { $0.removeValue(forKey: key) } }

    func hold(_ key: String, _ work: StateCommitter.Work, error: String) {
        held.withLock { $0[key, default: StateCommitter.Work()].append(work) }
    }

    var isEmpty: Bool { held.withLock { $0.values.allSatisfy(\.isEmpty) } }

    /// Forgets everything held; returns how many findings that was.
    func clear() -> Int {
        held.withLock { held in
            defer { held = [:] }
            return held.values.reduce(0) { $0 + $1.plan.outgoing.count }
        }
    }

    /// Findings decided and not yet in the outbox.
    var waitingFindings: Int { held.withLock { $0.values.reduce(0) { $0 + $1.plan.outgoing.count } } }

    /// The groups with something waiting.
    var keys: [String] { held.withLock { $0.filter { !$1.isEmpty }.keys.sorted() } }
}

extension StateCommitter {
    /// One transition, one line.
    static func log(_ transition: AlertTransition, logger: Logger) {
        let message: Logger.Message
        switch transition.kind {
        case .pending: message = "alert pending"
        case .firing: message = "alert firing"
        case .resolved: message = "alert resolved"
        case .inactive: message = "alert no longer pending"
        }
        logger.info(message, metadata: [
            "rule.name": "\(transition.rule)", "alert.state": "\(transition.instance.state.rawValue)",
            "alert.fingerprint": "\(String(transition.instance.fingerprint, radix: 16))",
            "alert.value": .stringConvertible(transition.instance.value),
            "alert.labels": .dictionary(Dictionary(transition.instance.labels.map { ($0.name, .string($0.value)) }) { first, _ in first }),
            "alert.active_at": "\(InstanceRendering.timestamp(transition.instance.activeAt))",
        ])
    }
}
