import Foundation

// Settings hold secrets (signing secrets, Slack and PagerDuty keys, URL credentials). Anything
// that may be interpolated into a log line — service-lifecycle prints its services at debug —
// describes itself without them.

extension EvaluationService: CustomStringConvertible, CustomDebugStringConvertible {
    var description: String { "EvaluationService" }
    var debugDescription: String { description }
}

extension DaemonSettings: CustomStringConvertible, CustomDebugStringConvertible {
    var description: String { "DaemonSettings(\(groups.count) groups, \(ruleCount) rules, \(sinks.count) sinks: \(sinks.map(\.description).joined(separator: ", ")))" }
    var debugDescription: String { description }
}

extension ConfiguredSink: CustomStringConvertible, CustomDebugStringConvertible {
    var description: String { "sink \(name) (secrets hidden)" }
    var debugDescription: String { description }
}
