@_exported import AlertModel
import GoTemplate
import Foundation
import Logging
import MetricModel
import Synchronization

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
    /// Where recording rules' series and alerting rules' `ALERTS`/`ALERTS_FOR_STATE` go
    /// (remote write); nil writes nothing (recording rules then fail: a configuration without
    /// `remote_write` refuses them or skips them at load).
    public var output: (any SeriesWriting)?
    /// While true, alerting rules write no `ALERTS`/`ALERTS_FOR_STATE`: Prometheus writes none
    /// until a fresh start has restored its `for` clocks (the first evaluation's would carry the
    /// unrestored `activeAt`, and a restore from `ALERTS_FOR_STATE` would read them back).
    public var holdsAlertSeries = false
    private var loggedTemplateErrors: Set<String> = []
    /// The last rule error logged, per group/rule: failures are logged when they change.
    private var loggedRuleErrors: [String: String] = [:]

    public init(groups: [RuleGroup], context: EvaluationContext = EvaluationContext(), output: (any SeriesWriting)? = nil) {
        self.groups = groups.map { group in
            GroupState(group: group, rules: group.rules.map { AlertRuleState(rule: $0, group: group.name) })
        }
        self.context = context
        self.output = output
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
        let sampleTime = time - offset.seconds
        var outcome = AlertRuleState.Outcome()
        var written: [Sample]?
        if rule.kind == .recording {
            written = groups[index].rules[ruleIndex].applyRecording(result, at: time, sampleTime: sampleTime, limit: groups[index].group.limit)
            if written != nil && output == nil {
                groups[index].rules[ruleIndex].writeFailed(RecordingError.noOutput)
                written = nil
            }
        } else {
            var context = context
            if rule.usesTemplateQueries, case .success(let samples) = result {
                let answers = await Self.answerTemplateQueries(rule, samples, context: context, at: time, using: datasource)
                groups[index].rules[ruleIndex].templateQueries += answers.asked
                context.templateQuery = answers.lookup
            }
            outcome = groups[index].rules[ruleIndex].apply(result, at: time, limit: groups[index].group.limit, context: context)
            if output != nil && !holdsAlertSeries && groups[index].rules[ruleIndex].health == .ok {
                written = groups[index].rules[ruleIndex].alertSeries(sampleTime: sampleTime)
            }
        }
        if let written, let output {
            await write(written, of: ruleIndex, inGroup: index, at: sampleTime, to: output, readBack: rule.kind == .recording)
        }
        groups[index].rules[ruleIndex].evaluationDuration = ContinuousClock.now - started
        report(groups[index].rules[ruleIndex], outcome, logger: logger)
        return outcome.transitions
    }

    /// Writes a rule's samples and staleness markers for the series it wrote last time and not
    /// now, as Prometheus's group does after each rule; waits for the write, so the next rule's
    /// query sees it. A failed write fails the rule (its series set stays the last written).
    private mutating func write(_ samples: [Sample], of ruleIndex: Int, inGroup index: Int, at sampleTime: Date,
                                to output: any SeriesWriting, readBack: Bool) async {
        var current: [UInt64: Labels] = [:]
        current.reserveCapacity(samples.count)
        for sample in samples { current[sample.labels.fingerprint] = sample.labels }
        var batch = samples
        let millis = AlertRuleState.millis(sampleTime)
        for (fingerprint, labels) in groups[index].rules[ruleIndex].writtenSeries where current[fingerprint] == nil {
            batch.append(Sample(labels: labels, point: SamplePoint(timestampMillis: millis, value: Self.staleNaN)))
        }
        guard !batch.isEmpty else { return }
        do {
            try await output.write(batch, readBack: readBack)
            groups[index].rules[ruleIndex].writtenSeries = current
        } catch {
            // Stopped waiting (the cycle's deadline, shutdown): the batch is still queued.
            if Task.isCancelled || error is CancellationError { return }
            // A recording rule that could not be written failed (what depends on it would read
            // nothing); an alerting rule whose ALERTS could not be written still alerted.
            if readBack { groups[index].rules[ruleIndex].writeFailed(error) }
        }
    }

    /// The most distinct expressions one rule's templates may query in one evaluation.
    public static let maximumTemplateQueries = 100

    /// A template's `query` answers for one evaluation of a rule: each template runs once per
    /// series with what is known; a query it needs and nobody has run yet stops it, runs
    /// through the rule's datasource at the evaluation time (bounded like the rule's own
    /// query), and the template runs again, until it needs nothing new. The answers then serve
    /// the evaluation's expansion (so each expression is queried once per evaluation).
    static func answerTemplateQueries(_ rule: AlertRule, _ samples: [Sample], context: EvaluationContext, at time: Date,
                                      using datasource: some InstantQuerying) async -> (lookup: TemplateQuery, asked: Int) {
        let answers = TemplateAnswers()
        var context = context
        context.templateQuery = answers.lookup
        var asked = 0
        for sample in samples {
            let data = AlertRuleState.templateData(for: sample, context: context)
            for case .success(let template) in (rule.labelTemplates + rule.annotationTemplates).map(\.template) {
                while true {
                    do throws(TemplateError) {
                        _ = try template.execute(data)
                        break
                    } catch {
                        guard let expression = error.pendingQuery, !Task.isCancelled else { break }
                        guard asked < maximumTemplateQueries else {
                            answers.store(expression, .failure(TemplateError(
                                "error calling query: more than \(maximumTemplateQueries) queries in one evaluation of the rule's templates")))
                            continue
                        }
                        asked += 1
                        do {
                            let result = try await datasource.instantQuery(expression, at: time)
                            answers.store(expression, .success(result.map { QuerySample(labels: $0.labels, value: $0.value) }))
                        } catch {
                            let text = (error as? any QueryErrorText)?.queryErrorText ?? "\(error)"
                            answers.store(expression, .failure(TemplateError("error calling query: \(text)")))
                        }
                    }
                }
            }
        }
        return (answers.lookup, asked)
    }

    /// Prometheus's staleness marker (`value.StaleNaN`).
    public static let staleNaN = Double(bitPattern: 0x7ff0_0000_0000_0002)

    enum RecordingError: Error, CustomStringConvertible {
        case noOutput
        var description: String { "recording rule not evaluated: no remote_write is configured to write its series to" }
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

/// The answers of a rule's template queries during one evaluation.
final class TemplateAnswers: Sendable {
    private let answers = Mutex<[String: Result<[QuerySample], TemplateError>]>([:])

    func store(_ expression: String, _ answer: Result<[QuerySample], TemplateError>) {
        answers.withLock { $0[expression] = answer }
    }

    var lookup: TemplateQuery {
        { expression throws(TemplateError) in
            guard let answer = self.answers.withLock({ $0[expression] }) else { throw TemplateError(pendingQuery: expression) }
            return try answer.get()
        }
    }
}
