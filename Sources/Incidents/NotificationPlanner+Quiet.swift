import AlertModel
import Foundation

/// Acknowledgements and silences: what makes an alert quiet, and who still hears of it.
extension NotificationPlanner {
    /// Acknowledges a firing alert: its sinks are told who took it, and its reminders (except
    /// Alertmanager's keep-alive re-sends) and escalation stop until it resolves. Nil when the
    /// alert is not firing (nothing to acknowledge).
    public func acknowledge(_ transition: AlertTransition, by acknowledgement: Acknowledgement) -> NotificationPlan? {
        state.withLock { state in
            let key = Self.alertKey(group: transition.group, fingerprint: transition.instance.fingerprint)
            guard var record = state.records[key] else { return nil }
            var plan = NotificationPlan()
            record.acknowledgement = acknowledgement
            let heard = state.routes.filter { record.lastQueued[$0.name] != nil }
            // Numbered by its time: a second person taking the alert over is news too.
            let finding = state.factory(transition.at(acknowledgement.at), .acknowledged, Int(acknowledgement.at.timeIntervalSince1970 * 1000),
                                        record.level)
            Self.send(finding, kind: .acknowledged, key: key, to: heard, record: &record, at: acknowledgement.at, state: state, plan: &plan)
            state.records[key] = record
            plan.upserts[key] = record
            return plan
        }
    }

    /// Restores acknowledgements kept elsewhere (the cluster's copy, after a failover) onto the
    /// records of alerts still firing; true for each key that changed.
    public func restore(acknowledgements: [String: Acknowledgement]) -> NotificationPlan {
        state.withLock { state in
            var plan = NotificationPlan()
            for (key, acknowledgement) in acknowledgements {
                // One from an earlier episode of the same labels (before this one fired) does not carry over.
                guard var record = state.records[key], record.acknowledgement != acknowledgement,
                      acknowledgement.at >= record.firedAt.addingTimeInterval(-1) else { continue }
                record.acknowledgement = acknowledgement
                state.records[key] = record
                plan.upserts[key] = record
            }
            return plan
        }
    }

    /// The silences active now that match the alert.
    static func activeSilences(_ record: NotificationRecord, at time: Date, _ state: State) -> [Silence] {
        guard !state.silences.isEmpty else { return [] }
        var labels = record.labels ?? record.instance?.labels ?? [:]
        if labels["alertname"] == nil { labels["alertname"] = record.rule }
        return state.silences.filter { $0.isActive(at: time) && $0.matches(labels) }
    }

    /// Queues a finding for its sinks, as the alert's acknowledgement and silences allow: a
    /// silenced firing, escalation or reminder reaches Alertmanager sinks only (with the silence,
    /// for Alertmanager to apply), and the other sinks are remembered to hear of it once the
    /// silence ends. Resolves and acknowledgements reach every sink given.
    static func send(_ finding: Finding, kind: Finding.Kind, key: String, to routes: [SinkRoute],
                             record: inout NotificationRecord, at time: Date, state: State, plan: inout NotificationPlan) {
        var finding = finding
        finding.acknowledgement = record.acknowledgement
        var routes = routes
        if kind != .resolved && kind != .acknowledged {
            let silences = activeSilences(record, at: time, state)
            if !silences.isEmpty {
                finding.silences = silences
                let kept = routes.filter { !$0.alertmanager && record.lastQueued[$0.name] == nil }.map(\.name)
                if !kept.isEmpty { record.silencedSinks = Array(Set((record.silencedSinks ?? []) + kept)).sorted() }
                routes = routes.filter(\.alertmanager)
            }
        }
        queue(finding, kind: kind, key: key, to: routes, record: &record, at: time, plan: &plan)
    }
}
