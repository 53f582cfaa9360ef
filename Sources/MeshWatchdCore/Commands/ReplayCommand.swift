import MetricModel
import GoTemplate
import AlertEngine
import ArgumentParser
import Foundation
import Logging

/// `meshwatchd replay`: the engine stepped through a past range.
package struct ReplayCommand: AsyncParsableCommand {
    package init() {}

    package static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Step the rules through a past time range and print every transition.",
        discussion: """
            Evaluates every rule group on its own interval (the group's `interval`, else \
            evaluation_interval) from --from to --to against Prometheus, as the daemon would have, \
            or every group every --step when it is given; says which on stderr, and prints each transition (pending, firing, resolved, or \
            inactive for a pending instance that vanished) as it happens. Use it to tune \
            thresholds on last week's data. Memory stays flat over long ranges; on a terminal, \
            progress is shown on stderr.
            """
    )

    @OptionGroup var source: RuleSourceOptions
    @OptionGroup var prometheus: PrometheusOptions

    @Option(help: "Start: RFC 3339 or Unix seconds (any past time, 1970 included).")
    var from: String

    @Option(help: "End, inclusive: RFC 3339 or Unix seconds.")
    var to: String

    @Option(help: "Evaluate every group at this step, a Prometheus duration. Default: each group at its own interval.")
    var step: String?

    @Option(name: .customLong("alerts-at"), help: ArgumentHelp(
        "Also print the pending and firing alerts and every rule's health as the last evaluation at or before this time left them, as promtool's eval_time (repeatable).",
        valueName: "time"))
    var alertsAt: [String] = []

    @OptionGroup var output: OutputOptions
    @OptionGroup var logging: LogLevelOptions

    /// `30s`, `1m`, `1h30m`: as a rule file writes an interval.
    static func text(_ duration: Duration) -> String {
        var seconds = Int(duration.seconds)
        var out = ""
        for (unit, size) in [("h", 3600), ("m", 60), ("s", 1)] where seconds >= size {
            out += "\(seconds / size)\(unit)"
            seconds %= size
        }
        return out.isEmpty ? "0s" : out
    }

    package func validate() throws {
        guard let start = parseTime(from) else { throw ValidationError("--from: not RFC 3339 or Unix seconds: \(from)") }
        guard let end = parseTime(to) else { throw ValidationError("--to: not RFC 3339 or Unix seconds: \(to)") }
        guard end >= start else { throw ValidationError("--to must not be before --from") }
        for time in alertsAt {
            guard let at = parseTime(time) else { throw ValidationError("--alerts-at: not RFC 3339 or Unix seconds: \(time)") }
            guard at >= start && at <= end else { throw ValidationError("--alerts-at \(time) is outside --from … --to") }
        }
        if let step, (PrometheusDuration.parse(step) ?? .zero) <= .zero {
            throw ValidationError("--step: not a positive Prometheus duration such as 30s: \(step)")
        }
    }

    package func run() async throws {
        logging.bootstrap(default: .error)
        let logger = Logger(label: "meshwatchd.replay")
        var setup = try EngineSetup(source: source, prometheus: prometheus, logger: logger)
        let datasource = setup.datasource
        var output = ReplayOutput(format: self.output.format(), showProgress: isatty(STDERR_FILENO) == 1)
        let defaultInterval = setup.resolved.interval
        let fixedStep = step.flatMap(PrometheusDuration.parse)
        if fixedStep != nil, let step {
            FileHandle.standardError.write(Data("replay: every group every \(step) (--step)\n".utf8))
        } else {
            let each = setup.engine.groups.map { "\($0.group.name) \(Self.text($0.group.interval ?? defaultInterval))" }
            FileHandle.standardError.write(Data("replay: each group at its own interval (\(each.joined(separator: ", ")))\n".utf8))
        }
        output.header()
        // The snapshots still to print, earliest first, and the state the last step left.
        var snapshots = alertsAt.compactMap(parseTime).sorted()[...]
        var last: (time: Date, engine: RuleEngine)?
        let onStep: (ReplayStep) -> Bool = { step in
            while let at = snapshots.first, at < step.time {
                output.snapshot(at: at, evaluated: last)
                snapshots.removeFirst()
            }
            output.step(time: step.time, index: step.index, total: step.total, transitions: step.transitions)
            last = (step.time, step.engine)
            // Every rule failing at the first step means Prometheus is not usable: stop, say why.
            let rules = step.engine.groups.flatMap(\.rules)
            return !(step.index == 0 && !rules.isEmpty && rules.allSatisfy { $0.health == .err })
        }
        let steps = await setup.engine.replay(from: parseTime(from)!, to: parseTime(to)!,
                                              interval: { fixedStep ?? $0.interval ?? defaultInterval }, using: datasource,
                                              logger: logger, onStep: onStep)
        for at in snapshots { output.snapshot(at: at, evaluated: last) }
        await setup.finishWrites()
        let engine = setup.engine
        output.finish(engine: engine, steps: steps)
        if engine.groups.contains(where: { $0.rules.contains { $0.health == .err } }) { throw ExitCode(2) }
    }
}

/// Streams replay output: a row or JSON line per transition, progress on a terminal. `json` is
/// the same objects as `jsonl`, one per line inside one array, streamed (memory stays flat).
struct ReplayOutput {
    let format: OutputFormat
    let showProgress: Bool
    var transitions = 0
    var lastProgress = ContinuousClock.now - .seconds(1)
    var errors: [String: String] = [:]
    /// `json`: whether the array has an element yet.
    var started = false

    init(format: OutputFormat, showProgress: Bool) {
        self.format = format
        self.showProgress = showProgress
    }

    func header() {
        switch format {
        case .table: print("TIME                  TRANSITION  ALERT                     VALUE          LABELS")
        case .json: print("[")
        case .jsonl: break
        }
    }

    /// One object: a line of `jsonl`, or the array's next element.
    mutating func emit(_ object: [String: Any]) {
        guard let line = try? JSONOutput.line(object) else { return }
        if format == .json {
            print((started ? "," : "") + line)
            started = true
        } else {
            print(line)
        }
    }

    mutating func step(time: Date, index: Int, total: Int, transitions: [AlertTransition]) {
        if showProgress && !transitions.isEmpty { clearProgress() }
        for transition in transitions {
            self.transitions += 1
            switch format {
            case .table:
                let row = [InstanceRendering.timestamp(transition.at).padding(toLength: 20, withPad: " ", startingAt: 0),
                           transition.kind.rawValue.padding(toLength: 10, withPad: " ", startingAt: 0),
                           transition.rule.padding(toLength: 24, withPad: " ", startingAt: 0),
                           GoFormat.float(transition.instance.value).padding(toLength: 13, withPad: " ", startingAt: 0),
                           InstanceRendering.seriesLabels(transition.instance.labels, hiding: ["alertname"])]
                print(row.joined(separator: "  "))
            case .json, .jsonl:
                emit(InstanceRendering.transitionObject(group: transition.group, rule: transition.rule, instance: transition.instance,
                                                        kind: transition.kind, at: transition.at))
            }
        }
        fflush(nil)  // all output streams: rows reach a pipe as they happen
        if showProgress, ContinuousClock.now - lastProgress > .milliseconds(200) || index == total - 1 {
            lastProgress = ContinuousClock.now
            let percent = total > 0 ? (index + 1) * 100 / total : 100
            FileHandle.standardError.write(Data("\rreplay: \(index + 1)/\(total) evaluations (\(percent)%) at \(InstanceRendering.timestamp(time)), \(self.transitions) transitions ".utf8))
        }
    }

    /// The alerts (pending and firing) and rule health at `at`, as the evaluation `evaluated`
    /// left them (nil: none yet).
    mutating func snapshot(at: Date, evaluated: (time: Date, engine: RuleEngine)?) {
        if showProgress { clearProgress() }
        let instances = (evaluated?.engine.instances ?? []).filter { $0.instance.state != .inactive }
        switch format {
        case .table:
            print("alerts at \(InstanceRendering.timestamp(at)) (" + (evaluated.map { "evaluated \(InstanceRendering.timestamp($0.time))" } ?? "no evaluation yet") + "):")
            var rows = [["ALERT", "STATE", "VALUE", "ACTIVE SINCE", "LABELS"]]
            for (_, rule, instance) in instances {
                rows.append([rule.name, instance.state.rawValue, GoFormat.float(instance.value),
                             InstanceRendering.timestamp(instance.activeAt), InstanceRendering.seriesLabels(instance.labels, rule: rule)])
            }
            for line in rows.count == 1 ? ["  no pending or firing alerts"] : InstanceRendering.aligned(rows) { print(line) }
            for group in evaluated?.engine.groups ?? [] {
                for rule in group.rules where rule.health == .err { print("  rule \(rule.rule.name) failed: \(rule.lastError ?? "")") }
            }
        case .json, .jsonl:
            var object: [String: Any] = [
                "alertsAt": InstanceRendering.timestamp(at),
                "alerts": instances.map { InstanceRendering.transitionObject(group: $0.group, rule: $0.rule.name, instance: $0.instance,
                                                                             kind: nil, at: evaluated?.time ?? at) },
                "rules": evaluated.map { InstanceRendering.ruleHealth($0.engine) } ?? [],
            ]
            if let evaluated { object["evaluatedAt"] = InstanceRendering.timestamp(evaluated.time) }
            emit(object)
        }
        fflush(nil)
    }

    func clearProgress() {
        FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
    }

    func finish(engine: RuleEngine, steps: Int) {
        if showProgress { clearProgress() }
        if format == .json { print("]") }
        let firing = engine.instances.filter { $0.instance.state == .firing }.count
        var summary = "replay: \(steps) evaluations, \(transitions) transitions, \(firing) instances firing at the end"
        if steps == 1 && engine.groups.flatMap(\.rules).allSatisfy({ $0.health == .err }) {
            summary = "replay: stopped after the first evaluation: every rule failed"
        }
        let failed = engine.groups.flatMap { group in group.rules.filter { $0.health == .err } }
        for rule in failed { summary += "\nreplay: rule \(rule.rule.name) failed at its last evaluation: \(rule.lastError ?? "")" }
        FileHandle.standardError.write(Data((summary + "\n").utf8))
    }
}
