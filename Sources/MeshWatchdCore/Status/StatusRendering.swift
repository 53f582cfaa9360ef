import GoTemplate
import AlertEngine
import PromQL
import Foundation
import MetricModel
import Remediation
import RemoteWrite

/// The status endpoints' bodies: Prometheus's text format and Prometheus's API shapes.
enum StatusRendering {
    typealias Groups = [(name: String, interval: Duration, state: RuleEngine.GroupState?, evaluations: Int,
                         ruleFailures: [String: Int], missedTicks: Int, configured: RuleEngine.GroupState?,
                         ruleEvaluations: Int, templateQueries: Int)]

    typealias Deliveries = [String: (delivered: Int, retried: Int, failed: Int)]

    static func metrics(_ groups: Groups, ready: Bool, version: String, sinks: [String] = [], deliveries: Deliveries = [:],
                        outboxDepth: [String: Int] = [:], remediations: [String: Int] = [:], verifications: [String: Int] = [:],
                        unsavedFindings: Int = 0, remoteWrite: RemoteWriteCounters? = nil, analysis: AnalysisCounters? = nil) -> String {
        var out = ""
        func family(_ name: String, _ type: String, _ help: String, _ samples: [(labels: [(String, String)], value: Double)]) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
            for sample in samples {
                let labels = sample.labels.isEmpty ? "" : "{" + sample.labels.map { "\($0.0)=\"\(escape($0.1))\"" }.joined(separator: ",") + "}"
                out += "\(name)\(labels) \(number(sample.value))\n"
            }
        }
        family("meshwatchd_build_info", "gauge", "A metric with a constant 1 value, labelled by version.", [([("version", version)], 1)])
        family("meshwatchd_ready", "gauge", "1 when the configuration is loaded and Prometheus answered in every group's last cycle.",
               [([], ready ? 1 : 0)])
        let evaluated = groups.compactMap { group in group.state.map { (group, $0) } }
        family("meshwatchd_rule_group_interval_seconds", "gauge", "The interval of a rule group.",
               groups.map { ([("rule_group", $0.name)], $0.interval.seconds) })
        family("meshwatchd_rule_group_last_duration_seconds", "gauge", "How long the last evaluation of a rule group took.",
               evaluated.map { ([("rule_group", $0.0.name)], $0.1.lastDuration?.seconds ?? 0) })
        family("meshwatchd_rule_group_last_evaluation_timestamp_seconds", "gauge", "When a rule group was last evaluated.",
               evaluated.map { ([("rule_group", $0.0.name)], $0.1.lastEvaluation?.timeIntervalSince1970 ?? 0) })
        family("meshwatchd_rule_group_iterations_total", "counter", "Evaluations of a rule group.",
               groups.map { ([("rule_group", $0.name)], Double($0.evaluations)) })
        family("meshwatchd_rule_group_iterations_missed_total", "counter", "Evaluations skipped because the previous one ran late.",
               groups.map { ([("rule_group", $0.name)], Double($0.missedTicks)) })
        // Every counter shows from zero for every label set known: each group, each of its rules.
        family("meshwatchd_rule_evaluations_total", "counter", "Rule evaluations, each one Prometheus query.",
               groups.map { ([("rule_group", $0.name)], Double($0.ruleEvaluations)) })
        family("meshwatchd_rule_evaluation_failures_total", "counter", "Rule evaluations that failed (query error, duplicate labels, limit).",
               groups.flatMap { group in
                   let names = Set(((group.state ?? group.configured)?.rules ?? []).map(\.rule.name)).union(group.ruleFailures.keys)
                   return names.sorted().map { ([("rule_group", group.name), ("rule_name", $0)], Double(group.ruleFailures[$0] ?? 0)) }
               })
        family("meshwatchd_template_queries_total", "counter", "Queries run by the templates' query function (each expression once per rule evaluation).",
               groups.map { ([("rule_group", $0.name)], Double($0.templateQueries)) })
        var counts: [String: [AlertState: Int]] = [:]
        for (_, state) in evaluated {
            for rule in state.rules {
                for instance in rule.active.values where instance.state != .inactive {
                    counts[rule.rule.name, default: [:]][instance.state, default: 0] += 1
                }
            }
        }
        family("meshwatchd_alerts", "gauge", "Alert instances by alert name and state.",
               counts.keys.sorted().flatMap { name in
                   [AlertState.pending, .firing].map { ([("alertname", name), ("state", $0.rawValue)], Double(counts[name]?[$0] ?? 0)) }
               })
        let names = Set(sinks).union(deliveries.keys).union(outboxDepth.keys).sorted()
        family("meshwatchd_notifications_delivered_total", "counter", "Findings a sink accepted (a grouped message counts each finding).",
               names.map { ([("sink", $0)], Double(deliveries[$0]?.delivered ?? 0)) })
        family("meshwatchd_notification_retries_total", "counter", "Delivery attempts that failed and will be retried.",
               names.map { ([("sink", $0)], Double(deliveries[$0]?.retried ?? 0)) })
        family("meshwatchd_notifications_failed_total", "counter", "Findings given up on: a final error, or too many attempts, or too old.",
               names.map { ([("sink", $0)], Double(deliveries[$0]?.failed ?? 0)) })
        family("meshwatchd_outbox_depth", "gauge", "Findings waiting in the outbox for a sink.",
               names.map { ([("sink", $0)], Double(outboxDepth[$0] ?? 0)) })
        family("meshwatchd_findings_unsaved", "gauge", "Findings decided but not yet saved to the outbox because the state could not be written; they are saved with the next cycle.",
               [([], Double(unsavedFindings))])
        if let analysis {
            family("meshwatchd_analyze_runs_total", "counter",
                   "Scheduled configuration checks by result: ok, or error (the Kubernetes API could not be read; the findings stay as they were).",
                   [([("result", "ok")], Double(analysis.ok)), ([("result", "error")], Double(analysis.failed))])
            family("meshwatchd_analyze_problems", "gauge", "Configuration problems the last successful run found (each a MeshConfigProblem alert).",
                   [([], Double(analysis.problems))])
            family("meshwatchd_analyze_last_success_timestamp_seconds", "gauge", "When the configuration checks last read the API (0: never).",
                   [([], analysis.lastSuccess?.timeIntervalSince1970 ?? 0)])
        }
        if let remoteWrite {
            family("meshwatchd_remote_write_samples_total", "counter",
                   "Samples of recording rules and ALERTS series by result: sent (acknowledged), dropped (the queue was full), failed (the receiver refused them).",
                   [("sent", remoteWrite.samplesSent), ("dropped", remoteWrite.samplesDropped), ("failed", remoteWrite.samplesFailed)]
                       .map { ([("result", $0.0)], Double($0.1)) })
            family("meshwatchd_remote_write_retries_total", "counter", "Remote-write requests that failed and were retried.",
                   [([], Double(remoteWrite.retries))])
            family("meshwatchd_remote_write_queued_samples", "gauge", "Samples waiting to be written.", [([], Double(remoteWrite.queuedSamples))])
        }
        var outcomes: [String: Int] = [:]
        for (key, count) in remediations {
            outcomes[key.split(separator: "\u{0}", omittingEmptySubsequences: false).prefix(2).joined(separator: "\u{0}"), default: 0] += count
        }
        family("meshwatchd_remediation_outcomes_total", "counter",
               "Remediation decisions by action and outcome (taken, dry-run, refused, unknown: the API server's answer did not say; counted as an action).",
               RemediationAction.allCases.flatMap { action in
                   RemediationDecision.Outcome.allCases.map { outcome in
                       ([("action", action.rawValue), ("outcome", outcome.rawValue)], Double(outcomes["\(action.rawValue)\u{0}\(outcome.rawValue)"] ?? 0))
                   }
               })
        // By the deciding guard too: the guards that decide depend on the configuration, so a
        // guard's series starts with its first decision; the family above is complete from zero.
        family("meshwatchd_remediation_decisions_total", "counter", "Remediation decisions by action, outcome (taken, dry-run, refused) and the guard that decided.",
               remediations.keys.sorted().map { key in
                   let parts = key.split(separator: "\u{0}", omittingEmptySubsequences: false).map(String.init)
                   // Label values without spaces, as Prometheus's own (`all guards` → `all_guards`).
                   return ([("action", parts[0]), ("outcome", parts[1]), ("guard", parts[2].replacingOccurrences(of: " ", with: "_"))],
                           Double(remediations[key] ?? 0))
               })
        family("meshwatchd_remediation_verifications_total", "counter", "Taken actions verified: the alert recovered within the window, or not.",
               ["recovered", "not recovered"].map { ([("result", $0.replacingOccurrences(of: " ", with: "_"))], Double(verifications[$0] ?? 0)) })
        return out
    }

    /// `/api/v1/alerts` as Prometheus answers it: pending and firing instances.
    static func alerts(_ groups: Groups) -> [String: Any] {
        let alerts = groups.compactMap(\.state).flatMap { state in
            state.rules.flatMap { rule in rule.active.values.filter { $0.state != .inactive }.map(alert) }
        }
        return ["status": "success", "data": ["alerts": alerts]]
    }

    /// `/api/v1/rules`'s filters, as Prometheus reads them from the query string.
    struct RulesFilter: Equatable {
        var type: String?
        var ruleNames: Set<String> = []
        var groupNames: Set<String> = []
        var files: Set<String> = []

        var isEmpty: Bool { type == nil && ruleNames.isEmpty && groupNames.isEmpty && files.isEmpty }

        /// No filter: every rule of every group.
        init() {}

        /// Reads `type`, `rule_name[]`, `rule_group[]` and `file[]` (repeatable); other keys are
        /// ignored, as Prometheus ignores them. Throws Prometheus's message for a wrong `type`.
        init(query: String?) throws(RulesFilterError) {
            for (key, value) in Self.pairs(query ?? "") {
                switch key {
                case "type": if type == nil { type = value.lowercased() }
                case "rule_name[]": ruleNames.insert(value)
                case "rule_group[]": groupNames.insert(value)
                case "file[]": files.insert(value)
                default: break
                }
            }
            if type == "" { type = nil }
            if let type, type != "alert", type != "record" {
                throw RulesFilterError(message: "invalid parameter \"type\": not supported value \(GoQuote.quote(type))")
            }
        }

        /// `a=1&b=2` as Go's `url.ParseQuery`: `+` is a space, percent escapes decoded to bytes
        /// (bytes that are not UTF-8 read as U+FFFD: they name nothing, and narrow the answer to
        /// nothing, as in Prometheus); a pair with a broken escape (`%G1`) is skipped, as Go skips it.
        static func pairs(_ query: String) -> [(String, String)] {
            query.split(separator: "&", omittingEmptySubsequences: true).compactMap { pair in
                let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                guard let key = decode(parts[0]), let value = decode(parts.count > 1 ? parts[1] : "") else { return nil }
                return (key, value)
            }
        }

        static func decode(_ text: Substring) -> String? {
            var bytes: [UInt8] = []
            var iterator = Array(text.utf8).makeIterator()
            while let byte = iterator.next() {
                switch byte {
                case UInt8(ascii: "+"): bytes.append(UInt8(ascii: " "))
                case UInt8(ascii: "%"):
                    guard let high = iterator.next(), let low = iterator.next(),
                          let value = UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16) else { return nil }
                    bytes.append(value)
                default: bytes.append(byte)
                }
            }
            return String(decoding: bytes, as: UTF8.self)
        }
    }

    struct RulesFilterError: Error { let message: String }

    /// `/api/v1/rules` as Prometheus answers it: every configured group (before its first
    /// evaluation too, its rules `unknown` and its times zero), filtered as asked. A group
    /// left with no rules by a filter is left out, as Prometheus does.
    static func rules(_ groups: Groups, filter: RulesFilter = RulesFilter()) -> [String: Any] {
        var rendered: [[String: Any]] = []
        for group in groups {
            guard let state = group.state ?? group.configured else { continue }
            if !filter.groupNames.isEmpty && !filter.groupNames.contains(group.name) { continue }
            if !filter.files.isEmpty && !filter.files.contains(state.group.file) { continue }
            let kind: RuleKind? = filter.type == "record" ? .recording : filter.type == "alert" ? .alerting : nil
            let selected = state.rules.filter {
                (kind == nil || $0.rule.kind == kind) && (filter.ruleNames.isEmpty || filter.ruleNames.contains($0.rule.name))
            }
            if selected.isEmpty && !filter.isEmpty { continue }
            let rules = selected.map { rule -> [String: Any] in
                if rule.rule.kind == .recording {
                    // Prometheus's RecordingRule: no state, alerts or annotations; labels left out when there are none.
                    var object: [String: Any] = [
                        "type": "recording", "name": rule.rule.name, "query": rule.rule.query, "health": rule.health.rawValue,
                        "evaluationTime": rule.evaluationDuration?.seconds ?? Double(0), "lastEvaluation": goTime(rule.lastEvaluation),
                    ]
                    if !rule.rule.labels.isEmpty {
                        object["labels"] = Dictionary(uniqueKeysWithValues: rule.rule.labels.map { ($0.name, $0.template) })
                    }
                    if let error = rule.lastError { object["lastError"] = error }
                    return object
                }
                let active = rule.active.values.filter { $0.state != .inactive }
                let ruleState = active.contains { $0.state == .firing } ? "firing" : (active.isEmpty ? "inactive" : "pending")
                var object: [String: Any] = [
                    "type": "alerting", "name": rule.rule.name, "query": rule.rule.query, "state": ruleState,
                    "duration": rule.rule.holdDuration.seconds, "keepFiringFor": rule.rule.keepFiringFor.seconds,
                    "labels": Dictionary(uniqueKeysWithValues: rule.rule.labels.map { ($0.name, $0.template) }),
                    "annotations": Dictionary(uniqueKeysWithValues: rule.rule.annotations.map { ($0.name, $0.template) }),
                    "alerts": active.map(alert), "health": rule.health.rawValue,
                    "evaluationTime": rule.evaluationDuration?.seconds ?? Double(0),
                    "lastEvaluation": goTime(rule.lastEvaluation),
                ]
                if let error = rule.lastError { object["lastError"] = error }
                return object
            }
            rendered.append([
                "name": group.name, "file": state.group.file, "rules": rules, "interval": group.interval.seconds,
                "limit": state.group.limit, "evaluationTime": state.lastDuration?.seconds ?? Double(0),
                "lastEvaluation": goTime(state.lastEvaluation),
            ])
        }
        return ["status": "success", "data": ["groups": rendered]]
    }

    /// A time as Go's `time.Time` marshals to JSON (RFC 3339, fraction without trailing
    /// zeros); nil is Go's zero time, what Prometheus shows for a group not evaluated yet.
    static func goTime(_ date: Date?) -> String {
        guard let date else { return "0001-01-01T00:00:00Z" }
        // To the nearest millisecond first, as before: RFC3339 cuts the fraction.
        let milliseconds = (date.timeIntervalSince1970 * 1000).rounded()
        return RFC3339.string(Date(timeIntervalSince1970: milliseconds / 1000), .millisecondsTrimmed)
    }

    static func alert(_ instance: AlertInstance) -> [String: Any] {
        var object: [String: Any] = [
            "labels": Dictionary(uniqueKeysWithValues: instance.labels.map { ($0.name, $0.value) }),
            "annotations": Dictionary(uniqueKeysWithValues: instance.annotations.map { ($0.name, $0.value) }),
            "state": instance.state.rawValue, "activeAt": timestamp(instance.activeAt),
            "value": GoFormat.exponential(instance.value),
        ]
        if let since = instance.keepFiringSince { object["keepFiringSince"] = timestamp(since) }
        return object
    }

    static func timestamp(_ date: Date) -> String {
        RFC3339.string(date, .milliseconds)
    }

    static func number(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        return GoFormat.float(value)
    }

    static func escape(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
    }
}

/// The scheduled configuration checks, for /metrics: an operator can alert on runs that keep failing.
struct AnalysisCounters: Sendable {
    var ok = 0
    var failed = 0
    var problems = 0
    var lastSuccess: Date?
}
