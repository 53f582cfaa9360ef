import AlertEngine
import ArgumentParser
import Foundation
import Logging

/// `meshwatchd eval`: every rule once, at one time.
package struct EvalCommand: AsyncParsableCommand {
    package init() {}

    package static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Evaluate every rule once and print the alert instances with state and value.",
        discussion: """
            One evaluation, as Prometheus's rule manager makes it: each returned series is an \
            instance, pending until it has been active for the rule's `for` (so a rule with a \
            `for` shows pending here; `replay` shows how it develops over time). Rules that \
            fail are listed with Prometheus's error.

            Exit status: 0 every rule evaluated, 2 some rule failed, 64 bad arguments, 78 a rule file or the configuration is wrong.
            """
    )

    @OptionGroup var source: RuleSourceOptions
    @OptionGroup var prometheus: PrometheusOptions

    @Option(help: "Evaluation time: RFC 3339 or Unix seconds (any past time, 1970 included). Default: now.")
    var at: String?

    @OptionGroup var output: OutputOptions
    @OptionGroup var logging: LogLevelOptions

    package func validate() throws {
        if let at, parseTime(at) == nil { throw ValidationError("--at: not RFC 3339 or Unix seconds: \(at)") }
    }

    package func run() async throws {
        logging.bootstrap(default: .error)
        let logger = Logger(label: "meshwatchd.eval")
        var setup = try EngineSetup(source: source, prometheus: prometheus, logger: logger)
        let time = at.flatMap(parseTime) ?? Date()
        _ = await setup.engine.evaluateAll(at: time, using: setup.datasource, logger: logger)
        await setup.finishWrites()
        let engine = setup.engine
        switch output.format() {
        case .table: print(InstanceRendering.table(engine, at: time))
        case .json: print(try JSONOutput.document(InstanceRendering.document(engine, at: time)))
        case .jsonl:
            // One line per alert instance, then one per rule with its health: as `replay -o jsonl` prints them.
            for (group, rule, instance) in engine.instances {
                print(try JSONOutput.line(InstanceRendering.transitionObject(group: group, rule: rule.name, instance: instance, kind: nil, at: time)))
            }
            for rule in InstanceRendering.ruleHealth(engine) { print(try JSONOutput.line(rule)) }
        }
        if engine.groups.contains(where: { $0.rules.contains { $0.health == .err } }) { throw ExitCode(2) }
    }
}
