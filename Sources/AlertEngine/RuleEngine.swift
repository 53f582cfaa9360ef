import GoTemplate
import Foundation
import Logging
import MetricModel

/// The rule groups and every rule's state: evaluates a group at a time against a
/// datasource and reports what changed. Pure apart from the queries it asks for; the
/// caller owns time (`at:`) and scheduling.
public struct RuleEngine: Sendable {
    public struct GroupState: Sendable {
        public let group: RuleGroup
        public internal(set) var rules: [AlertRuleState]
        public internal(set) var lastEvaluation: Date?
        public internal(set) var lastDuration: Duration?
    }

    public internal(set) var groups: [GroupState]
    public var context: EvaluationContext
    private var loggedTemplateErrors: Set<String> = []
    /// The last rule error logged, per group/rule: failures are logged when they change.
    private var loggedRuleErrors: [String: String] = [:]

    public init(groups: [RuleGroup], context: EvaluationContext = EvaluationContext()) {
        self.groups = groups.map { group in
            GroupState(group: group, rules: group.rules.map { AlertRuleState(rule: $0, group: group.name) })
        }
        self.context = context
    }

    /// Evaluates every rule of group `index` at `time`, rule after rule as Prometheus does.
    /// A failing rule records its error; the others go on. (The daemon evaluates rule by rule
    /// with `evaluateRule` and `noteEvaluated`, so a rule's findings go out as soon as it is done.)
    public mutating func evaluateGroup(_ index: Int, at time: Date, using datasource: some InstantQuerying,
                                       logger: Logger) async -> [AlertTransition] {
        let started = ContinuousClock.now
        var transitions: [AlertTransition] = []
        for ruleIndex in groups[index].rules.indices {
            transitions += await evaluateRule(ruleIndex, ofGroup: index, at: time, using: datasource, logger: logger)
        }
        noteEvaluated(index, at: time, duration: ContinuousClock.now - started)
        return transitions
    }

    /// Records that every rule of group `index` was evaluated at `time`, taking `duration`.
    public mutating func noteEvaluated(_ index: Int, at time: Date, duration: Duration) {
        groups[index].lastEvaluation = time
        groups[index].lastDuration = duration
    }

    /// Evaluates one rule of one group at `time`.
    public mutating func evaluateRule(_ ruleIndex: Int, ofGroup index: Int, at time: Date, using datasource: some InstantQuerying,
                                      logger: Logger) async -> [AlertTransition] {
        let started = ContinuousClock.now
        let rule = groups[index].rules[ruleIndex].rule
        // As Prometheus: the query runs `query_offset` before the evaluation time; the
        // instances' clocks (`activeAt`, `for`) stay on the evaluation time.
        let offset = groups[index].group.queryOffset ?? context.queryOffset
        let result: Result<[Sample], any Error>
        do {
            result = .success(try await datasource.instantQuery(rule.query, at: time - offset.seconds))
        } catch {
            // Shutdown or reload: the evaluation is abandoned, not failed; the rule keeps its state and health.
            if Task.isCancelled || error is CancellationError { return [] }
            result = .failure(error)
        }
        let outcome = groups[index].rules[ruleIndex].apply(result, at: time, limit: groups[index].group.limit, context: context)
        groups[index].rules[ruleIndex].evaluationDuration = ContinuousClock.now - started
        report(groups[index].rules[ruleIndex], outcome, logger: logger)
        return outcome.transitions
    }

    /// Evaluates all groups at `time`.
    public mutating func evaluateAll(at time: Date, using datasource: some InstantQuerying,
                                     logger: Logger) async -> [AlertTransition] {
        var transitions: [AlertTransition] = []
        for index in groups.indices {
            transitions += await evaluateGroup(index, at: time, using: datasource, logger: logger)
        }
        return transitions
    }

    /// Every active instance (pending, firing, and resolved ones still retained), with its rule.
    public var instances: [(group: String, rule: AlertRule, instance: AlertInstance)] {
        groups.flatMap { group in
            group.rules.flatMap { state in
                state.active.values.sorted { Labels.precedes($0.labels, $1.labels) }
                    .map { (group.group.name, state.rule, $0) }
            }
        }
    }

    private mutating func report(_ state: AlertRuleState, _ outcome: AlertRuleState.Outcome, logger: Logger) {
        // A failing rule is logged when its error changes and when it recovers, not every cycle.
        let key = "\(state.group)/\(state.rule.name)"
        if state.health == .err, let error = state.lastError {
            if loggedRuleErrors[key] != error {
                loggedRuleErrors[key] = error
                logger.warning("rule evaluation failed", metadata: [
                    "rule.group": "\(state.group)", "rule.name": "\(state.rule.name)", "error": "\(error)",
                ])
            }
        } else if loggedRuleErrors.removeValue(forKey: key) != nil {
            logger.info("rule evaluation recovered", metadata: ["rule.group": "\(state.group)", "rule.name": "\(state.rule.name)"])
        }
        for error in outcome.templateErrors {
            // Logged once per rule and message: a broken template would otherwise log every cycle.
            let key = "\(state.group)/\(state.rule.name)/\(error)"
            guard loggedTemplateErrors.insert(key).inserted else { continue }
            logger.warning("template expansion failed", metadata: [
                "rule.group": "\(state.group)", "rule.name": "\(state.rule.name)", "error": "\(error)",
            ])
        }
    }
}

extension RuleEngine {
    /// Records that a notifier sent an instance (its `lastSentAt`), found by group, rule
    /// name and fingerprint.
    public mutating func markSent(group: String, rule: String, fingerprint: UInt64, at time: Date) {
        for groupIndex in groups.indices where groups[groupIndex].group.name == group {
            for ruleIndex in groups[groupIndex].rules.indices where groups[groupIndex].rules[ruleIndex].rule.name == rule {
                groups[groupIndex].rules[ruleIndex].markSent(fingerprint, at: time)
            }
        }
    }
}
