import GoTemplate
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
    /// Whether the last error was the datasource's (not reached, overloaded) rather than the rule's.
    public private(set) var lastErrorIsDatasource = false
    public private(set) var lastEvaluation: Date?
    /// Queries the rule's templates ran (`query`), since the rule was loaded.
    public internal(set) var templateQueries = 0
    /// How long the last evaluation took (query and state), for `/api/v1/rules`.
    public internal(set) var evaluationDuration: Duration?
    /// The series this rule wrote at its last written evaluation (a recording rule's series, an
    /// alerting rule's `ALERTS` and `ALERTS_FOR_STATE`), by fingerprint: those missing from the
    /// next write get a staleness marker, as Prometheus's rule group writes them.
    public internal(set) var writtenSeries: [UInt64: Labels] = [:]

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
            lastErrorIsDatasource = (error as? any DatasourceFailureReporting)?.isDatasourceFailure ?? true
            return outcome
        case .success(let value):
            samples = value
        }

        // Candidates: the expanded rule labels and annotations of every series, keyed by the
        // fingerprint of the merged label set, hashed without building it (the set itself is
        // only built for new instances). Duplicates fail the rule before anything changes.
        var candidates: [Candidate] = []
        candidates.reserveCapacity(samples.count)
        var seen = Set<UInt64>(minimumCapacity: samples.count)
        for sample in samples {
            let candidate = candidate(for: sample, context: context, errors: &outcome.templateErrors)
            guard seen.insert(candidate.fingerprint).inserted else {
                health = .err
                lastError = "vector contains metrics with the same labelset after applying alert labels"
                lastErrorIsDatasource = false
                return outcome
            }
            candidates.append(candidate)
        }

        // Merge: an instance already pending or firing takes the new value and annotations;
        // a new one (or one that had resolved) starts pending now.
        for candidate in candidates {
            if let index = active.index(forKey: candidate.fingerprint), active.values[index].state != .inactive {
                active.values[index].value = candidate.sample.value
                active.values[index].annotations = candidate.annotations
            } else {
                let instance = AlertInstance(labels: Self.merge(candidate.sample.labels, candidate.overrides),
                                             annotations: candidate.annotations, state: .pending,
                                             value: candidate.sample.value, activeAt: time)
                active[candidate.fingerprint] = instance
                record(.pending, instance, time, &outcome)
            }
        }

        // Walk: for, keep_firing_for, dropping vanished pending instances, resolving and
        // retaining resolved ones. Values change in place; removals wait until after.
        var activeOrPending = 0
        var removals: [UInt64] = []
        let holdSeconds = rule.holdDuration.seconds
        let keepFiringSeconds = rule.keepFiringFor.seconds
        var index = active.startIndex
        while index != active.endIndex {
            defer { active.formIndex(after: &index) }
            let fingerprint = active.keys[index]
            if !seen.contains(fingerprint) {
                var keepFiring = false
                if active.values[index].state == .firing && keepFiringSeconds > 0 {
                    let since = active.values[index].keepFiringSince ?? time
                    active.values[index].keepFiringSince = since
                    keepFiring = Self.elapsed(since, time) < keepFiringSeconds
                }
                let state = active.values[index].state
                if state == .pending
                    || (active.values[index].resolvedAt.map { Self.elapsed($0, time) > Self.resolvedRetention } ?? false) {
                    removals.append(fingerprint)
                    if state == .pending { record(.inactive, active.values[index], time, &outcome) }
                    continue
                }
                if state != .inactive && !keepFiring {
                    active.values[index].state = .inactive
                    active.values[index].resolvedAt = time
                    record(.resolved, active.values[index], time, &outcome)
                }
                if !keepFiring { continue }
            } else {
                active.values[index].keepFiringSince = nil
            }
            activeOrPending += 1
            if active.values[index].state == .pending && Self.elapsed(active.values[index].activeAt, time) >= holdSeconds {
                active.values[index].state = .firing
                active.values[index].firedAt = time
                record(.firing, active.values[index], time, &outcome)
            }
        }
        for fingerprint in removals { active[fingerprint] = nil }

        if limit > 0 && activeOrPending > limit {
            outcome.transitions = dropAll(at: time, keeping: outcome.transitions)
            health = .err
            lastError = "exceeded limit of \(limit) with \(activeOrPending) alerts"
            lastErrorIsDatasource = false
            return outcome
        }
        health = .ok
        lastError = nil
        lastErrorIsDatasource = false
        return outcome
    }

    /// Applies one query result of a recording rule, following Prometheus's
    /// `RecordingRule.Eval`: every series renamed to the rule's name, the rule's labels set over
    /// its labels (an empty value removes the label), two series with one label set or more
    /// series than `limit` fail the rule. Returns the samples to write at `sampleTime` (the
    /// query's time), nil when the rule failed.
    public mutating func applyRecording(_ result: Result<[Sample], any Error>, at time: Date, sampleTime: Date,
                                        limit: Int) -> [Sample]? {
        lastEvaluation = time
        let samples: [Sample]
        switch result {
        case .failure(let error):
            fail("\(error)", datasource: (error as? any DatasourceFailureReporting)?.isDatasourceFailure ?? true)
            return nil
        case .success(let value):
            samples = value
        }
        var overrides = rule.labels.map { Label(name: $0.name, value: $0.template) }
        overrides.append(Label(name: "__name__", value: rule.name))
        overrides.sort { $0.name < $1.name }
        let millis = Self.millis(sampleTime)
        var output: [Sample] = []
        output.reserveCapacity(samples.count)
        var seen = Set<UInt64>(minimumCapacity: samples.count)
        for sample in samples {
            let labels = Self.merge(sample.labels, overrides, keepName: true)
            guard seen.insert(labels.fingerprint).inserted else {
                fail("vector contains metrics with the same labelset after applying rule labels", datasource: false)
                return nil
            }
            output.append(Sample(labels: labels, point: SamplePoint(timestampMillis: millis, value: sample.value)))
        }
        if limit > 0 && output.count > limit {
            fail("exceeded limit of \(limit) with \(output.count) series", datasource: false)
            return nil
        }
        health = .ok
        lastError = nil
        lastErrorIsDatasource = false
        return output
    }

    /// An alerting rule's `ALERTS` (1 per pending or firing instance, with `alertstate`) and
    /// `ALERTS_FOR_STATE` (the instance's `activeAt` in whole Unix seconds) samples at
    /// `sampleTime`, as Prometheus writes them after each evaluation.
    public func alertSeries(sampleTime: Date) -> [Sample] {
        let millis = Self.millis(sampleTime)
        var output: [Sample] = []
        for instance in active.values.sorted(by: { Labels.precedes($0.labels, $1.labels) }) where instance.state != .inactive {
            let state = Label(name: "alertstate", value: instance.state == .firing ? "firing" : "pending")
            let alerts = Self.merge(instance.labels, [Label(name: "__name__", value: "ALERTS"), state], keepName: true)
            output.append(Sample(labels: alerts, point: SamplePoint(timestampMillis: millis, value: 1)))
            let forState = Self.merge(instance.labels, [Label(name: "__name__", value: "ALERTS_FOR_STATE")], keepName: true)
            output.append(Sample(labels: forState, point: SamplePoint(
                timestampMillis: millis, value: instance.activeAt.timeIntervalSince1970.rounded(.down))))
        }
        return output
    }

    /// Records that what the rule evaluated could not be written (Prometheus: the appender's
    /// commit failed): the rule's health is `err` with the error.
    public mutating func writeFailed(_ error: any Error) {
        fail("\(error)", datasource: false)
    }

    private mutating func fail(_ error: String, datasource: Bool) {
        health = .err
        lastError = error
        lastErrorIsDatasource = datasource
    }

    /// Prometheus's times are integer milliseconds.
    static func millis(_ time: Date) -> Int64 {
        Int64((time.timeIntervalSince1970 * 1000).rounded(.down))
    }

    /// Over its limit, a rule drops every instance (Prometheus clears `r.active` and sends
    /// nothing). What this evaluation made new was never announced and is dropped silently;
    /// what had been announced ends: a firing instance resolves (Prometheus leaves that to
    /// Alertmanager, which resolves it when its `endsAt` passes), a pending one goes
    /// inactive. So a rule held over its limit announces nothing at every evaluation, and
    /// its instances come back as new ones (new `activeAt`, `for` restarted) when it is
    /// back within the limit. `kept` are this evaluation's transitions; its resolves and
    /// pending drops stand.
    private mutating func dropAll(at time: Date, keeping kept: [AlertTransition]) -> [AlertTransition] {
        var transitions = kept.filter { $0.kind == .resolved || $0.kind == .inactive }
        let announcedPending = rule.holdDuration > .zero
        for var instance in active.values {
            switch instance.state {
            case .firing where (instance.firedAt ?? time) < time:
                instance.state = .inactive
                instance.resolvedAt = time
                transitions.append(AlertTransition(kind: .resolved, group: group, rule: rule.name, instance: instance, at: time))
            case .firing, .pending:
                // Pending before this evaluation (and announced so): it ends without firing.
                if announcedPending && instance.activeAt < time {
                    transitions.append(AlertTransition(kind: .inactive, group: group, rule: rule.name, instance: instance, at: time))
                }
            case .inactive:
                break
            }
        }
        active = [:]
        return transitions
    }

    /// Seconds from `start` to `end` at Prometheus's millisecond precision (its times are
    /// integer milliseconds), so sub-millisecond dust in `Date` arithmetic can never hold an
    /// alert pending for one more interval.
    static func elapsed(_ start: Date, _ end: Date) -> Double {
        (end.timeIntervalSince(start) * 1000).rounded() / 1000
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

    /// One returned series with the rule's labels and annotations expanded for it.
    struct Candidate {
        var sample: Sample
        /// The rule's labels and `alertname`, sorted, to set over the series' labels.
        var overrides: [Label]
        var annotations: Labels
        var fingerprint: UInt64
    }

    private func candidate(for sample: Sample, context: EvaluationContext, errors: inout [String]) -> Candidate {
        let data = Self.templateData(for: sample, context: context)
        // The rule's labels (sorted by name at load) and alertname, expanded; an empty value
        // removes the label, as with Prometheus's label builder.
        var overrides: [Label] = []
        overrides.reserveCapacity(rule.labelTemplates.count + 1)
        var alertnamePlaced = false
        for (name, template) in rule.labelTemplates {
            // The rule's name wins over a rule label named alertname, as Prometheus sets it last.
            if !alertnamePlaced && name >= "alertname" {
                overrides.append(Label(name: "alertname", value: rule.name))
                alertnamePlaced = true
            }
            if name == "alertname" { continue }
            overrides.append(Label(name: name, value: Self.expand(template, data, what: "label \(name)", errors: &errors)))
        }
        if !alertnamePlaced { overrides.append(Label(name: "alertname", value: rule.name)) }

        var annotations: [Label] = []
        annotations.reserveCapacity(rule.annotationTemplates.count)
        for (name, template) in rule.annotationTemplates {
            annotations.append(Label(name: name, value: Self.expand(template, data, what: "annotation \(name)", errors: &errors)))
        }
        return Candidate(sample: sample, overrides: overrides, annotations: Labels(sortedUnique: annotations),
                         fingerprint: Self.mergedFingerprint(sample.labels, overrides))
    }

    static func templateData(for sample: Sample, context: EvaluationContext) -> TemplateData {
        TemplateData(labels: sample.labels, externalLabels: context.externalLabels, externalURL: context.externalURL,
                     value: sample.value, query: context.templateQuery)
    }

    /// The fingerprint `merge(series, overrides)` would have, without building it.
    static func mergedFingerprint(_ series: Labels, _ overrides: [Label]) -> UInt64 {
        var hash = Labels.fingerprintSeed
        func mix(_ label: Label) { hash = Labels.mixFingerprint(hash, label) }
        var index = 0
        for label in series where label.name != "__name__" {
            while index < overrides.count && overrides[index].name < label.name {
                if !overrides[index].value.isEmpty { mix(overrides[index]) }
                index += 1
            }
            if index < overrides.count && overrides[index].name == label.name {
                if !overrides[index].value.isEmpty { mix(overrides[index]) }
                index += 1
            } else {
                mix(label)
            }
        }
        while index < overrides.count {
            if !overrides[index].value.isEmpty { mix(overrides[index]) }
            index += 1
        }
        return hash
    }

    /// The series' labels without `__name__` (with it when `keepName`), with `overrides`
    /// (sorted, unique) set over them and empty values removed: one merge of two sorted
    /// lists, no sorting.
    static func merge(_ series: Labels, _ overrides: [Label], keepName: Bool = false) -> Labels {
        var merged: [Label] = []
        merged.reserveCapacity(series.count + overrides.count)
        var index = 0
        for label in series where keepName || label.name != "__name__" {
            while index < overrides.count && overrides[index].name < label.name {
                if !overrides[index].value.isEmpty { merged.append(overrides[index]) }
                index += 1
            }
            if index < overrides.count && overrides[index].name == label.name {
                if !overrides[index].value.isEmpty { merged.append(overrides[index]) }
                index += 1
            } else {
                merged.append(label)
            }
        }
        while index < overrides.count {
            if !overrides[index].value.isEmpty { merged.append(overrides[index]) }
            index += 1
        }
        return Labels(sortedUnique: merged)
    }

    /// Expands a template; a failure becomes Prometheus's error text in the output.
    static func expand(_ template: Result<Template, TemplateError>, _ data: TemplateData, what: String,
                       errors: inout [String]) -> String {
        do {
            return try template.get().execute(data)
        } catch {
            // Prometheus's Expander: "error executing template NAME: " before Go's text.
            let text = "error executing template \((try? template.get())?.name ?? ""): \(error)"
            errors.append("\(what): \(text)")
            return "<error expanding template: \(text)>"
        }
    }
}
