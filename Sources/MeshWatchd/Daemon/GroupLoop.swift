import AlertEngine
import Foundation
import Incidents
import Logging
import Remediation
import MetricModel

/// One rule group's evaluation loop: Prometheus's timing (ticks aligned to the interval and
/// offset per group, missed ticks counted and skipped), state saved after every rule that
/// decided something and after every cycle (persist first, then announce: see
/// `StateCommitter`), and restore from the store after the first cycle of a fresh start.
struct GroupLoop: Sendable {
    let group: RuleGroup
    let settings: DaemonSettings
    let store: StateStore
    let status: DaemonStatus
    let logger: Logger
    /// Restore from the store after the first cycle (a fresh start, not a reload).
    let restoreFromStore: Bool
    let planner: NotificationPlanner
    let committer: StateCommitter
    /// Resolves of alerts a reload took away from this group (a rule removed or relabelled),
    /// announced with the first cycle.
    var reloadResolves: [AlertTransition] = []

    var interval: Duration { settings.interval(of: group) }

    /// Runs until cancelled and returns the engine, so a reload can carry its state over.
    func run(engine initial: RuleEngine) async -> RuleEngine {
        var engine = initial
        var logger = logger
        logger[metadataKey: "rule.group"] = "\(group.name)"
        let intervalSeconds = interval.seconds
        var next = Self.nextTick(after: Date(), interval: intervalSeconds, offset: offset)
        var first = true
        while !Task.isCancelled {
            let delay = next.timeIntervalSinceNow
            if delay > 0 {
                await status.heartbeat(group.name)
                do { try await Task.sleep(for: .milliseconds(Int64(delay * 1000))) } catch { break }
            }
            // The tick's time is the evaluation time (the queries' time=) and the time of every
            // decision of this cycle, as in Prometheus.
            let tick = next
            // Findings go out as soon as their rule is done, not after the whole group (except
            // on the first cycle of a start, whose transitions the restore may turn out to be
            // continuations): that rule's state and findings are saved together first.
            let queueEarly = !(first && restoreFromStore)
            var queuedEarly: Set<UInt64> = []
            var transitions: [AlertTransition] = []
            let started = ContinuousClock.now
            // The cycle ends one interval (at least one query timeout) after its tick, whatever Prometheus does.
            let budget = max(interval, settings.queryTimeout)
            let datasource = CycleDeadline(base: settings.datasource, deadline: started + budget - .seconds(max(0, Date().timeIntervalSince(tick))),
                                           budget: budget)
            for ruleIndex in engine.groups[0].rules.indices {
                if Task.isCancelled { break }
                let ruleTransitions = await engine.evaluateRule(ruleIndex, ofGroup: 0, at: tick, using: datasource, logger: logger)
                noteFiring(ruleTransitions)
                transitions += ruleTransitions
                guard queueEarly else { continue }
                let work = decide(ruleTransitions, at: tick)
                guard !work.plan.isEmpty || !work.diagnoses.isEmpty else { continue }
                // Saved, or held in memory and saved with the next save: either way handled.
                await committer.commit(key: group.name, snapshot: engine.snapshot(at: tick), work)
                queuedEarly.formUnion(ruleTransitions.map(Self.key))
            }
            engine.noteEvaluated(0, at: tick, duration: ContinuousClock.now - started)
            // Stopped mid-cycle with nothing new: the last save stands.
            if Task.isCancelled && transitions.isEmpty { break }
            if first && restoreFromStore {
                let (restored, vanished) = restore(&engine, at: tick, logger: logger)
                transitions.removeAll { restored.contains($0.instance.fingerprint) }
                // Firing before the restart and gone now: their resolve, so no incident stays open.
                transitions += vanished
            }
            if first {
                noteFiring(reloadResolves)
                transitions += reloadResolves
            }
            first = false
            settings.diagnosis?.firing.update(group: group.name, firing: Self.seenFiring(engine))
            var work = decide(transitions.filter { !queuedEarly.contains(Self.key($0)) }, at: tick)
            if !settings.sinks.isEmpty {
                work.plan.merge(planner.review(group: group.name, firing: Self.firing(engine), at: tick))
            }
            await committer.commit(key: group.name, snapshot: engine.snapshot(at: tick), work)
            var missed = 0
            next = next.addingTimeInterval(intervalSeconds)
            let now = Date()
            if next <= now {
                missed = Int(now.timeIntervalSince(next) / intervalSeconds) + 1
                next = next.addingTimeInterval(Double(missed) * intervalSeconds)
                logger.warning("evaluation took longer than the interval; ticks skipped", metadata: [
                    "group.missed_ticks": "\(missed)", "group.last_duration": "\(engine.groups[0].lastDuration ?? .zero)",
                ])
            }
            await status.cycle(group.name, state: engine.groups[0], missed: missed)
        }
        return engine
    }

    /// What transitions decided at `tick` lead to: the findings for the sinks (none without
    /// sinks) and the runbooks to run (with or without sinks).
    func decide(_ transitions: [AlertTransition], at tick: Date) -> StateCommitter.Work {
        noteRecoveries(transitions)
        let plan = settings.sinks.isEmpty ? NotificationPlan() : planner.plan(transitions, at: tick)
        return StateCommitter.Work(plan: plan, diagnoses: diagnoses(for: transitions, plan: plan, evaluatedAt: tick),
                                   transitions: transitions)
    }

    /// Restores `for` clocks from the store; returns the fingerprints restored and the resolves
    /// of instances that were firing before the restart and are no longer active.
    private func restore(_ engine: inout RuleEngine, at time: Date, logger: Logger) -> (Set<UInt64>, [AlertTransition]) {
        do {
            guard let snapshot = try store.load(group: group.name) else { return ([], []) }
            let restored = engine.restore(from: snapshot, at: time, options: settings.restore)
            let vanished = engine.resolveVanished(from: snapshot, at: time)
            logger.info("alert state restored", metadata: [
                "state.restored_instances": "\(restored.count)", "state.resolved_while_down": "\(vanished.count)",
                "state.taken_at": "\(InstanceRendering.timestamp(snapshot.takenAt))",
            ])
            return (restored, vanished)
        } catch {
            logger.error("could not read stored alert state; starting clean", metadata: ["error": "\(error)"])
            return ([], [])
        }
    }

    /// The group's offset within the interval, from its file and name (as Prometheus
    /// spreads groups so they do not all query at once).
    var offset: Double {
        var hash = Labels.fingerprintSeed
        hash = Labels.mixFingerprint(hash, group.file + ";" + group.name)
        let intervalMillis = UInt64(max(interval.seconds * 1000, 1))
        return Double(hash % intervalMillis) / 1000
    }

    /// The first aligned tick strictly after `now`.
    static func nextTick(after now: Date, interval: Double, offset: Double) -> Date {
        let seconds = now.timeIntervalSince1970
        let base = ((seconds - offset) / interval).rounded(.down) * interval + offset
        return Date(timeIntervalSince1970: base + interval)
    }

    /// A resolve after a taken action is its verification: recovered. Noted before the resolve
    /// finding is made, so it says so.
    func noteRecoveries(_ transitions: [AlertTransition]) {
        let keys = transitions.filter { $0.kind == .resolved }
            .map { NotificationPlanner.alertKey(group: $0.group, fingerprint: $0.instance.fingerprint) }
        guard !keys.isEmpty, settings.diagnosis != nil else { return }
        do {
            for entry in try store.markRecovered(alertKeys: keys, at: Date()) {
                let minutes = Int(Date().timeIntervalSince(entry.decision.at) / 60)
                DaemonSettings.notes[entry.decision.alertKey] = entry.decision.summary + "; RECOVERED: the alert resolved \(minutes) min after the action"
                Task { [status] in await status.verification(recovered: true) }
                logger.notice("remediation verified: the alert resolved", metadata: [
                    "alert.name": "\(entry.decision.alert)", "remediation.action": "\(entry.decision.action.rawValue)",
                    "remediation.workload": "\(entry.decision.workload)",
                ])
            }
        } catch {
            logger.error("cannot verify remediations", metadata: ["error": "\(error)"])
        }
    }

    /// Runbooks to run for new firings (with or without sinks): a finding of the plan waits for
    /// its evidence; without one the runbook still runs and its decision goes to the ledger.
    func diagnoses(for transitions: [AlertTransition], plan: NotificationPlan, evaluatedAt: Date) -> [StateStore.DiagnosisRequest] {
        guard let diagnosis = settings.diagnosis else { return [] }
        var requests: [StateStore.DiagnosisRequest] = []
        for transition in transitions where transition.kind == .firing && diagnosis.catalog[transition.rule] != nil {
            let alertKey = NotificationPlanner.alertKey(group: transition.group, fingerprint: transition.instance.fingerprint)
            let finding = plan.outgoing.first { $0.kind == .firing && $0.alertKey == alertKey }
            let labels = finding.flatMap { try? Finding.decode($0.body) }?.alert.labels
                ?? Dictionary(transition.instance.labels.map { ($0.name, $0.value) }, uniquingKeysWith: { $1 })
            let id = finding?.id ?? "diagnosis-\(alertKey)-\(Int(transition.instance.activeAt.timeIntervalSince1970))"
            requests.append(.init(findingID: id, alertKey: alertKey, alert: transition.rule, labels: labels,
                                  activeAt: transition.instance.activeAt, evaluatedAt: evaluatedAt,
                                  deadline: Date().addingTimeInterval(diagnosis.evidenceTimeout.seconds),
                                  rule: RuleReference(file: group.file, group: group.name, name: transition.rule,
                                                      builtIn: group.builtIn)))
        }
        return requests
    }

    /// Firing and resolved transitions as they happen, so the remediator's last check sees them.
    func noteFiring(_ transitions: [AlertTransition]) {
        guard let firing = settings.diagnosis?.firing else { return }
        for transition in transitions {
            let key = NotificationPlanner.alertKey(group: transition.group, fingerprint: transition.instance.fingerprint)
            if transition.kind == .firing { firing.insert(group: group.name, key) } else if transition.kind == .resolved { firing.remove(group: group.name, key) }
        }
    }

    /// Alert keys firing in rules whose evaluation this cycle succeeded: what this process saw.
    static func seenFiring(_ engine: RuleEngine) -> Set<String> {
        Set(engine.groups[0].rules.filter { $0.health != .err }.flatMap { state in
            state.active.values.filter { $0.state == .firing }.map { NotificationPlanner.alertKey(group: engine.groups[0].group.name, fingerprint: $0.fingerprint) }
        })
    }

    /// The group's firing instances with their rule names.
    static func firing(_ engine: RuleEngine) -> [(rule: String, instance: AlertInstance)] {
        engine.groups[0].rules.flatMap { state in
            state.active.values.filter { $0.state == .firing }.map { (state.rule.name, $0) }
        }
    }

    /// Identifies a transition within one cycle.
    static func key(_ transition: AlertTransition) -> UInt64 {
        transition.instance.fingerprint ^ UInt64(truncatingIfNeeded: transition.rule.hashValue)
    }

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
            "alert.value": "\(GoFormat.float(transition.instance.value))",
            "alert.labels": "\(transition.instance.labels)",
            "alert.active_at": "\(InstanceRendering.timestamp(transition.instance.activeAt))",
        ])
    }
}
