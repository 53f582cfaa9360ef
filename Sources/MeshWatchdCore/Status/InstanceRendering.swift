import GoTemplate
import AlertEngine
import Foundation
import MetricModel

/// How `eval` and `replay` print instances and transitions.
enum InstanceRendering {
    static func table(_ engine: RuleEngine, at time: Date) -> String {
        var rows = [["ALERT", "STATE", "VALUE", "ACTIVE SINCE", "LABELS"]]
        for (_, rule, instance) in engine.instances {
            rows.append([rule.name, instance.state.rawValue, GoFormat.float(instance.value), timestamp(instance.activeAt),
                         seriesLabels(instance.labels, rule: rule)])
        }
        var lines = ["Evaluated \(engine.groups.reduce(0) { $0 + $1.rules.count }) rules at \(timestamp(time)):", ""]
        lines += rows.count == 1 ? ["  no alert instances"] : aligned(rows)
        let failures = engine.groups.flatMap { group in group.rules.filter { $0.health == .err } }
        if !failures.isEmpty {
            lines.append("")
            for rule in failures { lines.append("  rule \(rule.rule.name) failed: \(rule.lastError ?? "unknown error")") }
        }
        return lines.joined(separator: "\n")
    }

    static func document(_ engine: RuleEngine, at time: Date) -> [String: Any] {
        var instances: [[String: Any]] = []
        for (group, rule, instance) in engine.instances {
            instances.append(transitionObject(group: group, rule: rule.name, instance: instance, kind: nil, at: time))
        }
        return ["time": timestamp(time), "instances": instances, "rules": ruleHealth(engine)]
    }

    /// Every rule with its health and last error.
    static func ruleHealth(_ engine: RuleEngine) -> [[String: Any]] {
        engine.groups.flatMap { group in
            group.rules.map { state -> [String: Any] in
                var object: [String: Any] = ["group": group.group.name, "name": state.rule.name, "type": state.rule.kind.rawValue,
                                             "health": state.health.rawValue]
                if let error = state.lastError { object["lastError"] = error }
                return object
            }
        }
    }

    /// One transition or instance as a JSON object (one line of `replay -o jsonl`).
    static func transitionObject(group: String, rule: String, instance: AlertInstance, kind: AlertTransition.Kind?,
                                 at time: Date) -> [String: Any] {
        var object: [String: Any] = [
            "time": timestamp(time), "group": group, "alert": rule, "state": instance.state.rawValue,
            "value": GoFormat.float(instance.value), "activeAt": timestamp(instance.activeAt),
            "labels": Dictionary(uniqueKeysWithValues: instance.labels.map { ($0.name, $0.value) }),
            "annotations": Dictionary(uniqueKeysWithValues: instance.annotations.map { ($0.name, $0.value) }),
        ]
        if let kind { object["transition"] = kind.rawValue }
        if let firedAt = instance.firedAt { object["firedAt"] = timestamp(firedAt) }
        if let resolvedAt = instance.resolvedAt { object["resolvedAt"] = timestamp(resolvedAt) }
        return object
    }

    /// The instance's labels without the ones every instance of the rule shares.
    static func seriesLabels(_ labels: Labels, rule: AlertRule) -> String {
        seriesLabels(labels, hiding: Set(rule.labels.map(\.name) + ["alertname"]))
    }

    static func seriesLabels(_ labels: Labels, hiding names: Set<String>) -> String {
        "{" + labels.filter { !names.contains($0.name) }.map { "\($0.name)=\"\($0.value)\"" }.joined(separator: ", ") + "}"
    }

    static func timestamp(_ date: Date) -> String {
        RFC3339.string(date, .millisecondsUnlessWhole)
    }

    static func aligned(_ rows: [[String]]) -> [String] {
        let widths = (0..<rows[0].count).map { column in rows.map { $0[column].count }.max() ?? 0 }
        return rows.map { row in
            "  " + row.enumerated().map { column, cell in
                column == row.count - 1 ? cell : cell.padding(toLength: widths[column], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }
    }
}
