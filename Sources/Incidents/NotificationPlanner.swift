import AlertModel
import Foundation
import MetricModel
import Synchronization

/// Builds the finding for a transition: `kind`, its sequence number (the reminder count, or
/// the level reached for an escalation) and the escalation level. The daemon's factory adds
/// links and external labels; the transition's `at` is the time of the decision.
public typealias FindingFactory = @Sendable (_ transition: AlertTransition, _ kind: Finding.Kind, _ sequence: Int, _ level: Int) -> Finding

/// Decides which findings go to which sinks, and when: firing and resolved at once; reminders
/// every repeat interval; escalation to the next level after its delay; emergencies (several
/// critical workloads at once, the datasource down) straight to the emergency level.
///
/// Pure decisions with the time passed in; shared by the group loops (one lock, no I/O).
/// Each plan it returns must be saved (findings and records in one transaction) by its caller.
public final class NotificationPlanner: Sendable {
    public static let datasourceDownAlert = "MeshWatchDatasourceDown"
    public static let ownGroup = "meshwatchd"

    struct State {
        var policy: EscalationPolicy
        var routes: [SinkRoute]
        var factory: FindingFactory
        var records: RecordIndex
        /// Critical firing alerts by key, with the workload each names.
        var criticalWorkloads: [String: String] = [:]
        var datasourceDownSince: Date?
        var datasourceError = ""
        /// Every silence not yet expired (pending ones too).
        var silences: [Silence] = []
    }

    let state: Mutex<State>

    public init(policy: EscalationPolicy, routes: [SinkRoute], records: [String: NotificationRecord] = [:],
                factory: @escaping FindingFactory = { transition, kind, sequence, level in
                    Finding(transition: transition, kind: kind, reminder: sequence, escalationLevel: level, generatedAt: transition.at)
                }) {
        state = Mutex(State(policy: policy, routes: routes, factory: factory, records: RecordIndex(records)))
    }

    /// A reload: new policy, sinks and links; what was sent is kept.
    public func configure(policy: EscalationPolicy, routes: [SinkRoute], factory: @escaping FindingFactory) {
        state.withLock {
            $0.policy = policy
            $0.routes = routes
            $0.factory = factory
        }
    }

    public var records: [String: NotificationRecord] { state.withLock { $0.records.byKey } }

    /// The silences in force or to come; set by the daemon whenever one is added or expired.
    public var silences: [Silence] {
        get { state.withLock { $0.silences } }
        set { state.withLock { $0.silences = newValue } }
    }

    /// Distinct workloads with critical alerts firing now (the blast-radius guard's count).
    public var criticalWorkloadCount: Int { state.withLock { Set($0.criticalWorkloads.values).count } }

    /// Escalates a firing alert one level at its group's next review (a remediation that did
    /// not help); the returned plan saves the request.
    public func requestEscalation(alertKey: String) -> NotificationPlan {
        state.withLock { state in
            var plan = NotificationPlan()
            guard var record = state.records[alertKey] else { return plan }
            record.requestedLevel = min(max(record.requestedLevel ?? 0, record.level + 1), state.policy.highestLevel)
            state.records[alertKey] = record
            plan.upserts[alertKey] = record
            return plan
        }
    }

    /// Drops the records of groups that no longer exist (after a reload); the plan removes them from the store.
    public func prune(keepingGroups groups: Set<String>) -> NotificationPlan {
        state.withLock { state in
            var plan = NotificationPlan()
            for group in state.records.groups where !groups.contains(group) && group != Self.ownGroup {
                for key in state.records.keys(inGroup: group) {
                    state.records[key] = nil
                    state.criticalWorkloads[key] = nil
                    plan.removals.insert(key)
                }
            }
            return plan
        }
    }

    public static func alertKey(group: String, fingerprint: UInt64) -> String { "\(group)/\(String(fingerprint, radix: 16))" }

    /// The workload an alert names, for counting distinct critical workloads.
    static func workload(_ labels: Labels) -> String? {
        if let workload = labels["destination_workload"] { return (labels["destination_workload_namespace"] ?? "") + "/" + workload }
        if let deployment = labels["deployment"] { return (labels["namespace"] ?? "") + "/" + deployment }
        return labels["destination_service"] ?? labels["service"]
    }

    // MARK: - Transitions

    /// Findings for a cycle's transitions: a firing goes to every sink of its starting level,
    /// a resolve to every sink that heard of the alert.
    public func plan(_ transitions: [AlertTransition], at time: Date) -> NotificationPlan {
        state.withLock { state in
            var plan = NotificationPlan()
            for transition in transitions {
                let key = Self.alertKey(group: transition.group, fingerprint: transition.instance.fingerprint)
                switch transition.kind {
                case .firing:
                    Self.fire(transition, key: key, at: time, state: &state, plan: &plan)
                case .resolved:
                    Self.resolve(transition, key: key, at: time, state: &state, plan: &plan)
                case .pending, .inactive:
                    continue
                }
            }
            return plan
        }
    }

    private static func fire(_ transition: AlertTransition, key: String, at time: Date, state: inout State, plan: inout NotificationPlan) {
        let instance = transition.instance
        let severity = instance.labels["severity"] ?? "none"
        if severity == "critical" { state.criticalWorkloads[key] = workload(instance.labels) ?? key }
        // The runbook's emergency criteria: many critical workloads at once, or a rule that says
        // so itself (an `emergency` label: "security breach suspected" on authorization denials).
        let emergency = (severity == "critical" && isEmergency(state)) || !(instance.labels["emergency"] ?? "").isEmpty
        var record = NotificationRecord(
            group: transition.group, rule: transition.rule, severity: severity, activeAt: instance.activeAt,
            firedAt: instance.firedAt ?? time, level: emergency ? state.policy.emergencyLevel : 1, emergency: emergency,
            lastQueued: [:], reminders: [:])
        record.labels = Self.labels(instance)
        let finding = state.factory(transition.at(time), .firing, 0, record.level)
        send(finding, kind: .firing, key: key, to: sinks(for: record, state), record: &record, at: time, state: state, plan: &plan)
        state.records[key] = record
        plan.upserts[key] = record
    }

    private static func resolve(_ transition: AlertTransition, key: String, at time: Date, state: inout State, plan: inout NotificationPlan) {
        state.criticalWorkloads[key] = nil
        guard var record = state.records.removeValue(forKey: key) else {
            // Fired before the daemon kept records: tell the sinks that would have heard of it.
            var record = NotificationRecord(group: transition.group, rule: transition.rule,
                                            severity: transition.instance.labels["severity"] ?? "none",
                                            activeAt: transition.instance.activeAt, firedAt: transition.instance.firedAt ?? time,
                                            level: 1, emergency: false, lastQueued: [:], reminders: [:])
            record.labels = Self.labels(transition.instance)
            let finding = state.factory(transition.at(time), .resolved, 0, 1)
            send(finding, kind: .resolved, key: key, to: sinks(for: record, state), record: &record, at: time, state: state, plan: &plan)
            plan.removals.insert(key)
            return
        }
        // Every sink that heard of the firing hears of the resolve, silenced or not: no incident
        // stays open in PagerDuty because someone silenced its alert.
        let finding = state.factory(transition.at(time), .resolved, 0, record.level)
        let heard = state.routes.filter { record.lastQueued[$0.name] != nil }
        send(finding, kind: .resolved, key: key, to: heard, record: &record, at: time, state: state, plan: &plan)
        plan.upserts[key] = nil
        plan.removals.insert(key)
    }

    // MARK: - Reminders and escalation

    /// The periodic pass over one group's firing alerts, after its cycle: escalation by time or
    /// emergency, reminders per sink. Records of the group whose alert no longer fires (a rule
    /// removed by a reload) are dropped.
    public func review(group: String, firing: [(rule: String, instance: AlertInstance)], at time: Date) -> NotificationPlan {
        state.withLock { state in
            var plan = NotificationPlan()
            var seen: Set<String> = []
            for (rule, instance) in firing {
                let key = Self.alertKey(group: group, fingerprint: instance.fingerprint)
                seen.insert(key)
                let severity = instance.labels["severity"] ?? "none"
                if severity == "critical" { state.criticalWorkloads[key] = Self.workload(instance.labels) ?? key }
                let transition = AlertTransition(kind: .firing, group: group, rule: rule, instance: instance, at: time)
                guard var record = state.records[key] else {
                    // Firing before records were kept (or restored without one): it was sent
                    // when it fired, so start the record as if it had been, at level 1.
                    let sentAt = instance.lastSentAt ?? time
                    var record = NotificationRecord(group: group, rule: rule, severity: severity, activeAt: instance.activeAt,
                                                    firedAt: instance.firedAt ?? time, level: 1, emergency: false,
                                                    lastQueued: [:], reminders: [:])
                    record.labels = Self.labels(instance)
                    for route in Self.sinks(for: record, state) { record.lastQueued[route.name] = sentAt }
                    state.records[key] = record
                    plan.upserts[key] = record
                    continue
                }
                // Records saved before routing by labels learn the labels from the firing instance.
                let learned = record.labels == nil
                if learned { record.labels = Self.labels(instance) }
                if Self.advance(&record, transition: transition, key: key, at: time, state: state, plan: &plan) || learned {
                    state.records[key] = record
                    plan.upserts[key] = record
                }
            }
            for key in state.records.keys(inGroup: group) where !seen.contains(key) {
                state.records[key] = nil
                state.criticalWorkloads[key] = nil
                plan.removals.insert(key)
            }
            return plan
        }
    }

    /// Escalates or reminds one firing alert; true when its record changed.
    private static func advance(_ record: inout NotificationRecord, transition: AlertTransition, key: String, at time: Date,
                                state: State, plan: inout NotificationPlan) -> Bool {
        let emergency = record.emergency || (record.severity == "critical" && isEmergency(state))
        let byTime = state.policy.level(afterFiringFor: .milliseconds(Int64(time.timeIntervalSince(record.firedAt) * 1000)))
        let level = max(record.level, byTime, emergency ? state.policy.emergencyLevel : 1, record.requestedLevel ?? 1)
        // Someone has it, or it is silenced: no escalation, no reminders but Alertmanager's keep-alive.
        let quiet = record.acknowledgement != nil || !activeSilences(record, at: time, state).isEmpty
        if level > record.level && !quiet {
            record.level = level
            record.emergency = emergency
            let finding = state.factory(transition, .escalated, level, level)
            send(finding, kind: .escalated, key: key, to: sinks(for: record, state), record: &record, at: time, state: state, plan: &plan)
            return true
        }
        var changed = false
        // A silence ended while the alert still fires: the sinks it kept from the firing hear of it now.
        if let missed = record.silencedSinks, !missed.isEmpty, activeSilences(record, at: time, state).isEmpty {
            record.silencedSinks = nil
            let routes = sinks(for: record, state).filter { missed.contains($0.name) && record.lastQueued[$0.name] == nil }
            let finding = state.factory(transition, .firing, 0, record.level)
            send(finding, kind: .firing, key: key, to: routes, record: &record, at: time, state: state, plan: &plan)
            // Someone took it meanwhile: these sinks hear that too (PagerDuty would page otherwise).
            if let acknowledgement = record.acknowledgement {
                let taken = state.factory(transition.at(acknowledgement.at), .acknowledged, Int(acknowledgement.at.timeIntervalSince1970 * 1000),
                                          record.level)
                send(taken, kind: .acknowledged, key: key, to: routes, record: &record, at: time, state: state, plan: &plan)
            }
            changed = true
        }
        for route in sinks(for: record, state) {
            if quiet && !route.alertmanager { continue }
            guard let last = record.lastQueued[route.name] else { continue }
            let interval = route.repeatInterval ?? state.policy.repeatInterval
            guard time.timeIntervalSince(last) >= interval.seconds else { continue }
            let count = (record.reminders[route.name] ?? 0) + 1
            record.reminders[route.name] = count
            let finding = state.factory(transition, .reminder, count, record.level)
            send(finding, kind: .reminder, key: key, to: [route], record: &record, at: time, state: state, plan: &plan)
            changed = true
        }
        return changed
    }

    // MARK: - The datasource

    /// Reports whether the last cycles reached Prometheus. After `datasourceDownAfter` of
    /// failures the daemon's own `MeshWatchDatasourceDown` fires (at the emergency level); it
    /// resolves on the first cycle that reaches Prometheus again.
    /// `failingSince` dates the outage from when the failing queries were sent (the tick of the
    /// first failed cycle), not from when their failure was seen: a query that hangs for its
    /// timeout must not add that timeout to `datasource_down_after`.
    public func datasource(reachable: Bool, error: String, labels extra: [String: String] = [:], failingSince: Date? = nil,
                           at time: Date) -> NotificationPlan {
        state.withLock { state in
            var plan = NotificationPlan()
            let records = state.records
            let existing = records.keys(inGroup: Self.ownGroup).compactMap { key in records[key].map { (key, $0) } }
                .first { $0.1.rule == Self.datasourceDownAlert }
            if reachable {
                state.datasourceDownSince = nil
                guard let (key, record) = existing else { return plan }
                var instance = Self.datasourceInstance(record: record)
                instance.state = .inactive
                instance.resolvedAt = time
                Self.resolve(AlertTransition(kind: .resolved, group: Self.ownGroup, rule: Self.datasourceDownAlert, instance: instance, at: time),
                             key: key, at: time, state: &state, plan: &plan)
                return plan
            }
            let since = state.datasourceDownSince ?? min(failingSince ?? time, time)
            state.datasourceDownSince = since
            state.datasourceError = error
            guard let after = state.policy.datasourceDownAfter else { return plan }
            if let (key, found) = existing {
                var record = found
                let transition = AlertTransition(kind: .firing, group: Self.ownGroup, rule: Self.datasourceDownAlert,
                                                 instance: Self.datasourceInstance(record: record), at: time)
                if Self.advance(&record, transition: transition, key: key, at: time, state: state, plan: &plan) {
                    state.records[key] = record
                    plan.upserts[key] = record
                }
                return plan
            }
            guard time.timeIntervalSince(since) >= after.seconds else { return plan }
            var labels = extra
            labels["alertname"] = Self.datasourceDownAlert
            labels["severity"] = "critical"
            let annotations = [
                "summary": "Prometheus has been unreachable for \(Self.minutes(time.timeIntervalSince(since))); mesh alerts are not being evaluated",
                "description": "Every query since \(Finding.timestamp(since)) failed. Last error: \(error)",
            ]
            let instance = AlertInstance(labels: Labels(labels), annotations: Labels(annotations), state: .firing, value: 1,
                                         activeAt: since, firedAt: time)
            let key = Self.alertKey(group: Self.ownGroup, fingerprint: instance.fingerprint)
            // Raise it as an emergency whatever its severity: nothing else can be trusted now.
            let transition = AlertTransition(kind: .firing, group: Self.ownGroup, rule: Self.datasourceDownAlert, instance: instance, at: time)
            var record = NotificationRecord(group: Self.ownGroup, rule: Self.datasourceDownAlert, severity: "critical",
                                            activeAt: since, firedAt: time, level: state.policy.emergencyLevel, emergency: true,
                                            lastQueued: [:], reminders: [:],
                                            instance: .init(labels: labels, annotations: annotations))
            let finding = state.factory(transition, .firing, 0, record.level)
            Self.send(finding, kind: .firing, key: key, to: Self.sinks(for: record, state), record: &record, at: time, state: state, plan: &plan)
            state.records[key] = record
            plan.upserts[key] = record
            return plan
        }
    }

    private static func datasourceInstance(record: NotificationRecord) -> AlertInstance {
        AlertInstance(labels: Labels(record.instance?.labels ?? ["alertname": datasourceDownAlert]),
                      annotations: Labels(record.instance?.annotations ?? [:]), state: .firing, value: 1,
                      activeAt: record.activeAt, firedAt: record.firedAt)
    }

    private static func minutes(_ seconds: TimeInterval) -> String {
        seconds < 120 ? "\(Int(seconds))s" : "\(Int(seconds / 60))m"
    }

    // MARK: - Helpers

    /// The labels routes match on: the alert's, with `alertname`.
    static func labels(_ instance: AlertInstance) -> [String: String] {
        Dictionary(instance.labels.map { ($0.name, $0.value) }) { first, _ in first }
    }

    private static func isEmergency(_ state: State) -> Bool {
        let threshold = state.policy.emergencyCriticalWorkloads
        return threshold > 0 && Set(state.criticalWorkloads.values).count >= threshold
    }

    /// The sinks that take this alert at its current level.
    private static func sinks(for record: NotificationRecord, _ state: State) -> [SinkRoute] {
        SinkRoute.matching(state.routes, alert: record.rule, severity: record.severity, labels: record.labels ?? record.instance?.labels ?? [:])
            .filter { $0.level <= record.level }
    }

    static func queue(_ finding: Finding, kind: Finding.Kind, key: String, to routes: [SinkRoute],
                              record: inout NotificationRecord, at time: Date, plan: inout NotificationPlan) {
        guard !routes.isEmpty, let body = try? finding.encoded() else { return }
        for route in routes {
            record.lastQueued[route.name] = time
            plan.outgoing.append(OutgoingFinding(sink: route.name, id: finding.id, alertKey: key, alertName: finding.alert.name,
                                                 kind: kind, body: body))
        }
    }
}

extension AlertTransition {
    func at(_ time: Date) -> AlertTransition {
        var copy = self
        copy.at = time
        return copy
    }
}
