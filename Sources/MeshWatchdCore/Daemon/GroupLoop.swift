import AlertEngine
import Foundation
import Incidents
import Logging
import Remediation
import MetricModel
import PromQL

/// One rule group's evaluation loop: Prometheus's timing (ticks aligned to the interval and
/// offset per group, missed ticks counted and skipped), state saved after every rule that
/// decided something and after every cycle (persist first, then announce: see
/// `StateCommitter`), and restore from the store after the first cycle of a fresh start.
struct GroupLoop<Clock: TickClock, Datasource: InstantQuerying>: Sendable {
    let group: RuleGroup
    let settings: DaemonSettings
    let store: StateStore
    let status: DaemonStatus
    let logger: Logger
    /// Restore from the store after the first cycle (a fresh start, not a reload).
    let restoreFromStore: Bool
    let planner: NotificationPlanner
    let committer: StateCommitter
    let clock: Clock
    /// The group's queries (the daemon's Prometheus; a scripted one in tests).
    let datasource: Datasource

    var interval: Duration { settings.interval(of: group) }

    /// Runs until cancelled and returns the engine, so a reload can carry its state over.
    func run(engine initial: RuleEngine) async -> RuleEngine {
        var engine = initial
        var logger = logger
        logger[metadataKey: "rule.group"] = "\(group.name)"
        let intervalSeconds = interval.seconds
        var next = GroupSchedule.nextTick(after: clock.now(), interval: intervalSeconds, offset: offset)
        var first = true
        while !Task.isCancelled {
            if next > clock.now() {
                await status.heartbeat(group.name)
                do { try await clock.sleep(until: next) } catch { break }
            }
            // The tick is the evaluation time (the queries' time=) and the time of every decision.
            var cycle = GroupCycle(tick: next, restoring: first && restoreFromStore)
            // As Prometheus: no ALERTS series until the for clocks are restored.
            engine.holdsAlertSeries = cycle.restoring
            let started = ContinuousClock.now
            // The cycle ends one interval (at least one query timeout) after it started, whatever Prometheus does.
            let budget = max(interval, settings.queryTimeout)
            let bounded = CycleDeadline(base: datasource, deadline: started + budget, budget: budget)
            var evaluated = 0
            for ruleIndex in engine.groups[0].rules.indices {
                if Task.isCancelled { break }
                let ruleTransitions = await engine.evaluateRule(ruleIndex, ofGroup: 0, at: cycle.tick, using: bounded, logger: logger)
                evaluated += ruleTransitions.count
                noteFiring(ruleTransitions)
                // A rule's firings and resolves go out as soon as its state is saved with them.
                guard let now = cycle.ruleEvaluated(ruleTransitions) else { continue }
                await committer.commit(key: group.name, snapshot: engine.snapshot(at: cycle.tick), await decide(now, at: cycle.tick))
            }
            engine.noteEvaluated(0, at: cycle.tick, duration: ContinuousClock.now - started)
            // Stopped mid-cycle with nothing new: the last save stands.
            if Task.isCancelled && evaluated == 0 { break }
            var remaining = cycle.remaining()
            if cycle.restoring {
                var (restored, vanished) = restore(&engine, at: cycle.tick, logger: logger)
                if restored.isEmpty && vanished.isEmpty && settings.output != nil && (try? store.load(group: group.name)) ?? nil == nil {
                    restored = await restoreFromSeries(&engine, at: cycle.tick, logger: logger)
                }
                remaining = cycle.remaining(restored: restored, vanished: vanished)
            }
            first = false
            settings.diagnosis?.firing.update(group: group.name, firing: Self.seenFiring(engine))
            var work = await decide(remaining, at: cycle.tick)
            if !settings.sinks.isEmpty {
                work.plan.merge(planner.review(group: group.name, firing: Self.firing(engine), at: cycle.tick))
            }
            await committer.commit(key: group.name, snapshot: engine.snapshot(at: cycle.tick), work)
            let (following, missed) = GroupSchedule.following(cycle.tick, interval: intervalSeconds, now: clock.now())
            next = following
            if missed > 0 {
                logger.warning("evaluation took longer than the interval; ticks skipped", metadata: [
                    "group.missed_ticks": .stringConvertible(missed), "group.last_duration": "\(engine.groups[0].lastDuration ?? .zero)",
                ])
            }
            await status.cycle(group.name, state: engine.groups[0], missed: missed)
        }
        return engine
    }

    /// What transitions decided at `tick` lead to: the findings for the sinks (none without
    /// sinks) and the runbooks to run (with or without sinks).
    func decide(_ transitions: [AlertTransition], at tick: Date) async -> StateCommitter.Work {
        await noteRecoveries(transitions, at: tick)
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
                "state.restored_instances": .stringConvertible(restored.count), "state.resolved_while_down": .stringConvertible(vanished.count),
                "state.taken_at": "\(InstanceRendering.timestamp(snapshot.takenAt))",
            ])
            return (restored, vanished)
        } catch {
            logger.error("could not read stored alert state; starting clean", metadata: ["error": "\(error)"])
            return ([], [])
        }
    }

    /// With no stored state (a first start, a lost state directory) and remote write on, the
    /// `for` clocks come from the `ALERTS_FOR_STATE` series written before, as Prometheus's
    /// `RestoreForState` reads them: per alerting rule with a `for`, the last sample of each
    /// series within the outage tolerance is the instance's `activeAt` (its value) and the time
    /// the rule was last evaluated (its timestamp); the same grace-period arithmetic applies.
    /// The stored state wins whenever there is one.
    private func restoreFromSeries(_ engine: inout RuleEngine, at time: Date, logger: Logger) async -> Set<UInt64> {
        let tolerance = Int(settings.restore.outageTolerance.seconds.rounded(.up))
        var snapshots: [Int64: EngineSnapshot] = [:]
        for state in engine.groups[0].rules where state.rule.kind == .alerting && state.rule.holdDuration > .zero
            && state.active.values.contains(where: { $0.state == .pending }) {
            let selector = "ALERTS_FOR_STATE{alertname=\(GoQuote.quote(state.rule.name))}[\(tolerance)s]"
            let samples: [Sample]
            do { samples = try await settings.datasource.lastSamples(selector, at: time) } catch {
                logger.warning("could not read ALERTS_FOR_STATE to restore for clocks", metadata: [
                    "rule.name": "\(state.rule.name)", "error": "\(error)",
                ])
                continue
            }
            // Anyone who can write series can write this one: only a time between the epoch and now
            // is an activeAt (a huge or negative one would fire at once, or never).
            let plausible = samples.filter {
                $0.value.isFinite && $0.value >= 0 && $0.value <= time.timeIntervalSince1970
                    && Double($0.point.timestampMillis) / 1000 <= time.timeIntervalSince1970
            }
            for sample in await stillActive(plausible, selector: selector, at: time, logger: logger) {
                let labels = Labels(sample.labels.filter { $0.name != "__name__" })
                let instance = AlertInstance(labels: labels, annotations: .empty, state: .pending, value: 0,
                                             activeAt: Date(timeIntervalSince1970: sample.value))
                let downAt = sample.point.timestampMillis / 1000
                snapshots[downAt, default: EngineSnapshot(takenAt: Date(timeIntervalSince1970: Double(downAt)), rules: [:])]
                    .rules[state.rule.identity, default: []].append(instance)
            }
        }
        var restored: Set<UInt64> = []
        for (_, snapshot) in snapshots.sorted(by: { $0.key < $1.key }) {
            restored.formUnion(engine.restore(from: snapshot, at: time, options: settings.restore))
        }
        if !restored.isEmpty {
            logger.info("for clocks restored from ALERTS_FOR_STATE (no stored state)", metadata: ["state.restored_instances": .stringConvertible(restored.count)])
        }
        return restored
    }

    /// The series of `samples` (each the last of a range query, whose answers carry no
    /// staleness markers) that had not ended: Prometheus's restore skips a series whose last
    /// sample is a staleness marker (the alert resolved before the outage). A marker is written
    /// at the evaluation after the last sample, so a series absent from an instant query one
    /// interval after its last sample had ended; one whose last sample is the outage's start is
    /// still there then (within the lookback).
    private func stillActive(_ samples: [Sample], selector rangeSelector: String, at time: Date, logger: Logger) async -> [Sample] {
        let instantSelector = String(rangeSelector[..<(rangeSelector.lastIndex(of: "[") ?? rangeSelector.endIndex)])
        var kept: [Sample] = []
        var present: [Int64: Set<Labels>] = [:]
        for sample in samples {
            let next = Double(sample.point.timestampMillis) / 1000 + interval.seconds
            guard next <= time.timeIntervalSince1970 else { kept.append(sample); continue }
            if present[sample.point.timestampMillis] == nil {
                do {
                    let answer = try await settings.datasource.instantQuery(instantSelector, at: Date(timeIntervalSince1970: next))
                    present[sample.point.timestampMillis] = Set(answer.map(\.labels))
                } catch {
                    logger.warning("could not check ALERTS_FOR_STATE for staleness; not restoring from it", metadata: ["error": "\(error)"])
                    present[sample.point.timestampMillis] = []
                }
            }
            if present[sample.point.timestampMillis]?.contains(sample.labels) == true { kept.append(sample) }
        }
        return kept
    }

    /// The group's offset within the interval, from its file and name (as Prometheus
    /// spreads groups so they do not all query at once).
    var offset: Double {
        var hash = Labels.fingerprintSeed
        hash = Labels.mixFingerprint(hash, group.file + ";" + group.name)
        let intervalMillis = UInt64(max(interval.seconds * 1000, 1))
        return Double(hash % intervalMillis) / 1000
    }

    /// A resolve after a taken action is its verification (recovered), noted before the resolve's
    /// finding is made so that it says so.
    func noteRecoveries(_ transitions: [AlertTransition], at tick: Date) async {
        guard let diagnosis = settings.diagnosis else { return }
        let keys = transitions.filter { $0.kind == .resolved }
            .map { NotificationPlanner.alertKey(group: $0.group, fingerprint: $0.instance.fingerprint) }
        await RemediationVerification(store: store, notes: diagnosis.notes, status: status, logger: logger).resolved(alertKeys: keys, at: tick)
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
            let activeSeconds = transition.instance.activeAt.timeIntervalSince1970
            let id = finding?.id ?? "diagnosis-\(alertKey)-\(Int(activeSeconds.isFinite ? max(min(activeSeconds, 1e15), -1e15) : 0))"
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
}
