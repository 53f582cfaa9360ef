import AlertEngine
import Foundation
import Logging
import MetricModel

/// A datasource that answers from a script: per evaluation time, the series or an error.
struct ScriptedDatasource: InstantQuerying {
    var answers: [Date: Result<[Sample], ScriptedError>]

    func instantQuery(_ expression: String, at time: Date) async throws -> [Sample] {
        guard let answer = answers[time] else { return [] }
        return try answer.get()
    }
}

struct ScriptedError: Error, CustomStringConvertible {
    var description: String
}

/// Minutes from a fixed origin, so tables read as "at 3 min".
func minute(_ value: Double) -> Date { Date(timeIntervalSince1970: 1_750_000_000 + value * 60) }

func series(_ labels: [String: String], _ value: Double = 1) -> Sample {
    Sample(labels: Labels(labels), point: SamplePoint(timestampMillis: 0, value: value))
}

let quietLogger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

/// Runs `rule` at each time of `steps`, with the series that step names (nil: query fails),
/// and returns the engine and every transition.
func run(_ rule: AlertRule, limit: Int = 0, context: EvaluationContext = EvaluationContext(),
         steps: [(Double, Result<[Sample], ScriptedError>)]) async -> (RuleEngine, [AlertTransition]) {
    var engine = RuleEngine(groups: [RuleGroup(name: "test", limit: limit, rules: [rule])], context: context)
    var transitions: [AlertTransition] = []
    for (time, answer) in steps {
        let datasource = ScriptedDatasource(answers: [minute(time): answer])
        transitions += await engine.evaluateAll(at: minute(time), using: datasource, logger: quietLogger)
    }
    return (engine, transitions)
}

extension RuleEngine {
    var only: AlertRuleState { groups[0].rules[0] }
    var onlyInstance: AlertInstance? { groups[0].rules[0].active.values.first }
}
