import Foundation
import MetricModel

/// Whether a rule's last evaluation worked, as Prometheus reports it.
public enum RuleHealth: String, Sendable, Codable {
    case unknown, ok, err
}

/// One rule's active instances and health: Prometheus's `AlertingRule`, as a value.
public struct AlertRuleState: Sendable {
    /// Resolved instances stay this long, so notifiers can send the resolve (Prometheus: 15m).
    public static let resolvedRetention: TimeInterval = 15 * 60

    public let rule: AlertRule
    public let group: String
    public internal(set) var active: [UInt64: AlertInstance] = [:]
    public private(set) var health = RuleHealth.unknown
    public private(set) var lastError: String?
    public private(set) var lastEvaluation: Date?

    public init(rule: AlertRule, group: String) {
        self.rule = rule
        self.group = group
    }

    /// What one evaluation changed.
    public struct Outcome: Sendable {
        public var transitions: [AlertTransition] = []
        /// Templates that failed, as `label or annotation: error`, for logging once.
        public var templateErrors: [String] = []
    }

    /// Applies one query result at `time`, following Prometheus's `AlertingRule.Eval`:
    /// build candidate instances (rule labels over series labels, minus `__name__`, plus
    /// `alertname`), merge
    /// them into the active map by fingerprint, then walk the map for `for`,
    /// `keep_firing_for`, pending drops and resolved retention. A failed query, two series
    /// with the same label set, or more instances than `limit` set the rule's health to
    /// `err`; only the limit clears the active instances, as in Prometheus.
    public mutating func apply(_ result: Result<[Sample], any Error>, at time: Date, limit: Int,
                               context: EvaluationContext) -> Outcome {
        var outcome = Outcome()
        lastEvaluation = time
        let samples: [Sample]
        switch result {
        case .failure(let error):
            health = .err
            lastError = "\(error)"
            return outcome
        case .success(let value):
            samples = value
        }

        var candidates: [UInt64: AlertInstance] = [:]
        candidates.reserveCapacity(samples.count)
        for sample in samples {
            let candidate = instance(for: sample, at: time, context: context, errors: &outcome.templateErrors)
            guard candidates.updateValue(candidate, forKey: candidate.fingerprint) == nil else {
                health = .err
                lastError = "vector contains metrics with the same labelset after applying alert labels"
                return outcome
            }
        }

        var previousStates: [UInt64: AlertState] = [:]
        previousStates.reserveCapacity(active.count)
        for (fingerprint, alert) in active { previousStates[fingerprint] = alert.state }

        for (fingerprint, candidate) in candidates {
            if var existing = active[fingerprint], existing.state != .inactive {
                existing.value = candidate.value
                existing.annotations = candidate.annotations
                active[fingerprint] = existing
            } else {
                active[fingerprint] = candidate
            }
        }

        var activeOrPending = 0
        let holdSeconds = rule.holdDuration.seconds
        let keepFiringSeconds = rule.keepFiringFor.seconds
        for fingerprint in Array(active.keys) {
            guard var alert = active[fingerprint] else { continue }
            if candidates[fingerprint] == nil {
                var keepFiring = false
                if alert.state == .firing && keepFiringSeconds > 0 {
                    let since = alert.keepFiringSince ?? time
                    alert.keepFiringSince = since
                    keepFiring = time.timeIntervalSince(since) < keepFiringSeconds
                }
                if alert.state == .pending
                    || (alert.resolvedAt.map { time.timeIntervalSince($0) > Self.resolvedRetention } ?? false) {
                    active[fingerprint] = nil
                    if alert.state == .pending { record(.inactive, alert, time, &outcome) }
                    continue
                }
                if alert.state != .inactive && !keepFiring {
                    alert.state = .inactive
                    alert.resolvedAt = time
                    record(.resolved, alert, time, &outcome)
                }
                active[fingerprint] = alert
                if !keepFiring { continue }
            } else {
                alert.keepFiringSince = nil
            }
            activeOrPending += 1
            let before = previousStates[fingerprint] ?? .inactive
            if alert.state == .pending && before == .inactive && alert.activeAt == time {
                record(.pending, alert, time, &outcome)
            }
            if alert.state == .pending && time.timeIntervalSince(alert.activeAt) >= holdSeconds {
                alert.state = .firing
                alert.firedAt = time
                record(.firing, alert, time, &outcome)
            }
            active[fingerprint] = alert
        }

        if limit > 0 && activeOrPending > limit {
            active = [:]
            health = .err
            lastError = "exceeded limit of \(limit) with \(activeOrPending) alerts"
            return outcome
        }
        health = .ok
        lastError = nil
        return outcome
    }

    /// Records that a notifier sent the instance at `time` (Prometheus's `LastSentAt`).
    public mutating func markSent(_ fingerprint: UInt64, at time: Date) {
        active[fingerprint]?.lastSentAt = time
    }

    private func record(_ kind: AlertTransition.Kind, _ alert: AlertInstance, _ time: Date, _ outcome: inout Outcome) {
        // A new instance with `for: 0` goes straight to firing: report only that.
        if kind == .pending && rule.holdDuration <= .zero { return }
        outcome.transitions.append(AlertTransition(kind: kind, group: group, rule: rule.name, instance: alert, at: time))
    }

    private func instance(for sample: Sample, at time: Date, context: EvaluationContext,
                          errors: inout [String]) -> AlertInstance {
        var seriesLabels: [String: String] = [:]
        seriesLabels.reserveCapacity(sample.labels.count)
        for label in sample.labels { seriesLabels[label.name] = label.value }
        let data = TemplateData(labels: seriesLabels, externalLabels: context.externalLabels,
                                externalURL: context.externalURL, value: sample.value)

        var labels = seriesLabels
        labels["__name__"] = nil
        for (name, template) in rule.labelTemplates {
            let value = Self.expand(template, data, what: "label \(name)", errors: &errors)
            // As Prometheus's label builder: setting an empty value removes the label.
            labels[name] = value.isEmpty ? nil : value
        }
        labels["alertname"] = rule.name
        var annotations: [Label] = []
        annotations.reserveCapacity(rule.annotationTemplates.count)
        for (name, template) in rule.annotationTemplates {
            annotations.append(Label(name: name, value: Self.expand(template, data, what: "annotation \(name)", errors: &errors)))
        }
        return AlertInstance(labels: Labels(labels), annotations: Labels(annotations), state: .pending,
                             value: sample.value, activeAt: time)
    }

    /// Expands a template; a failure becomes Prometheus's error text in the output.
    static func expand(_ template: Result<Template, TemplateError>, _ data: TemplateData, what: String,
                       errors: inout [String]) -> String {
        do {
            return try template.get().execute(data)
        } catch {
            errors.append("\(what): \(error)")
            return "<error expanding template: \(error)>"
        }
    }
}
