import AlertEngine
import ArgumentParser
import Foundation
import Logging
import MetricModel
import Remediation

/// `meshwatchd runbooks list|show`: the runbooks in force (built-in, replaced or added by the configuration).
package struct RunbooksCommand: ParsableCommand {
    package init() {}

    package static let configuration = CommandConfiguration(
        commandName: "runbooks",
        abstract: "List and show the diagnostic runbooks.",
        subcommands: [List.self, Show.self],
        defaultSubcommand: List.self
    )

    static func catalog(config: String?) throws -> [String: Runbook] {
        do {
            let configuration = try config.map { try Configuration.load(path: $0, readingSinks: false) } ?? Configuration()
            return PackSelection.runbookCatalog(configuration)
        } catch let error as ConfigurationError {
            FileHandle.standardError.write(Data("meshwatchd: configuration is wrong: \(error)\n".utf8))
            throw ExitCode(78)
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One line per runbook: the alert, its steps, the remediation it may propose.")

        @Option(help: "Configuration file whose runbooks.definitions replace or add runbooks.")
        var config: String?

        @OptionGroup var output: OutputOptions
        @OptionGroup var logging: LogLevelOptions

        func run() throws {
            logging.bootstrap()
            let catalog = try RunbooksCommand.catalog(config: config)
            let builtInRunbooks = PackSelection.builtInRunbooks
            let builtIn = Set(builtInRunbooks.map(\.alert))
            var items: [[String: Any]] = []
            var rows = [["ALERT", "STEPS", "REMEDIATION", "SOURCE"]]
            for runbook in catalog.values.sorted(by: { $0.alert < $1.alert }) {
                let source = builtIn.contains(runbook.alert)
                    ? (builtInRunbooks.first { $0.alert == runbook.alert } == runbook ? "built-in" : "configuration (replaces built-in)")
                    : "configuration"
                rows.append([runbook.alert, runbook.steps.map(\.kind.rawValue).joined(separator: ","), runbook.remediation ?? "none (escalate)", source])
                var item: [String: Any] = ["alert": runbook.alert, "title": runbook.title, "steps": runbook.steps.map(\.kind.rawValue),
                                           "source": source]
                if let remediation = runbook.remediation { item["remediation"] = remediation }
                items.append(item)
            }
            if output.format() != .table { return try JSONOutput.print(items: items, as: output.format()) }
            print(TextTable.render(rows), terminator: "")
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "A runbook's steps in order, with their parameters.")

        @Argument(help: "The alert name, e.g. IstioHighErrorRate.")
        var name: String

        @Option(help: "Configuration file whose runbooks.definitions replace or add runbooks.")
        var config: String?

        @OptionGroup(title: "Output (json: the shape runbooks.definitions takes)") var output: OutputOptions
        @OptionGroup var logging: LogLevelOptions

        func run() throws {
            logging.bootstrap()
            let catalog = try RunbooksCommand.catalog(config: config)
            guard let runbook = catalog[name] else {
                throw ValidationError("no runbook for \"\(name)\"; known: \(catalog.keys.sorted().joined(separator: ", "))")
            }
            switch output.format() {
            case .json: return print(try JSONOutput.document(encoding: runbook))
            case .jsonl: return print(try JSONOutput.line(encoding: runbook))
            case .table: break
            }
            print("\(runbook.alert): \(runbook.title)")
            for (index, step) in runbook.steps.enumerated() {
                var details: [String] = []
                if let query = step.query { details.append("query: \(query)") }
                if let namespace = step.namespace { details.append("namespace: \(namespace)") }
                if let selector = step.selector { details.append("selector: \(selector)") }
                if let container = step.container { details.append("container: \(container)") }
                if let filter = step.filter { details.append("filter: \(filter)") }
                if let kinds = step.kinds { details.append("kinds: \(kinds.joined(separator: ", "))") }
                if let url = step.url { details.append("url: \(url)") }
                if let command = step.command { details.append("command: \(command.joined(separator: " "))") }
                details.append("timeout \(step.timeout ?? "10s"), limit \(step.limit ?? (step.kind == .logs ? 100 : 10))")
                print("  \(index + 1). \(step.name) [\(step.kind.rawValue)]")
                for detail in details { print("       \(detail)") }
            }
            print("  remediation: \(runbook.remediation ?? "none (escalate)")")
        }
    }
}

/// `meshwatchd diagnose`: an on-call engineer's command — run an alert's runbook by hand.
package struct DiagnoseCommand: AsyncParsableCommand {
    package init() {}

    package static let configuration = CommandConfiguration(
        commandName: "diagnose",
        abstract: "Run an alert's runbook by hand and print the evidence.",
        discussion: """
            Resolves the target from the labels (destination_workload and \
            destination_workload_namespace, else destination_service), runs every step with its \
            timeout, and prints what each found. Exit status: 0 every step ran, 1 a step failed \
            or was skipped, 64 wrong arguments, 78 wrong configuration.
            """
    )

    @Option(help: "The alert, e.g. IstioHighErrorRate.")
    var alert: String

    @Option(name: .customLong("label"), help: ArgumentHelp("An alert label (repeatable).", valueName: "name=value"))
    var labels: [String] = []

    @Option(help: "Configuration file (Prometheus, Kubernetes, runbooks).")
    var config: String?

    @OptionGroup var prometheus: PrometheusOptions
    @OptionGroup var kubernetes: KubernetesOptions

    @Option(help: "When the alert went pending (RFC 3339; default now), for the rollout that preceded it.")
    var since: String?

    @Option(help: "Evaluate queries at this time (RFC 3339; default now).")
    var at: String?

    @OptionGroup var output: OutputOptions
    @OptionGroup var logging: LogLevelOptions

    package func validate() throws {
        for label in labels where !label.contains("=") { throw ValidationError("--label must look like name=value, got \"\(label)\"") }
        for value in [since, at].compactMap({ $0 }) where parseTime(value) == nil {
            throw ValidationError("expected an RFC 3339 time such as 2026-11-22T10:00:00Z, got \"\(value)\"")
        }
    }

    package func run() async throws {
        logging.bootstrap()
        let logger = Logger(label: "meshwatchd")
        let configuration = try Configuration.forCommand(config)
        let catalog = PackSelection.runbookCatalog(configuration)
        guard let runbook = catalog[alert] else {
            throw ValidationError("no runbook for \"\(alert)\"; known: \(catalog.keys.sorted().joined(separator: ", "))")
        }
        let environment = ProcessInfo.processInfo.environment
        let prometheusClient = (prometheus.url ?? configuration.prometheus?.url) == nil ? nil
            : try prometheus.makeClient(logger: logger, configuration: configuration.prometheus)
        let kubernetesClient: KubernetesClient?
        do { kubernetesClient = try kubernetes.makeClient(configuration: configuration.kubernetes, environment: environment, logger: logger) } catch {
            FileHandle.standardError.write(Data("meshwatchd: Kubernetes: \(error)\n".utf8))
            throw ExitCode(78)
        }
        var labelValues = Dictionary(labels.map { label -> (String, String) in
            let parts = label.split(separator: "=", maxSplits: 1).map(String.init)
            return (parts[0], parts.count > 1 ? parts[1] : "")
        }, uniquingKeysWith: { $1 })
        labelValues["alertname"] = alert
        let time = at.flatMap(parseTime) ?? Date()
        let context = AlertContext(name: alert, labels: labelValues, activeAt: since.flatMap(parseTime) ?? time, time: time)
        let runner = RunbookRunner.make(prometheus: prometheusClient, kubernetes: kubernetesClient,
                                        execAllow: configuration.runbooks?.execAllow ?? [],
                                        context: EvaluationContext(externalLabels: configuration.externalLabels ?? [:],
                                                                   externalURL: configuration.externalUrl ?? ""))
        let evidence = await runner.run(runbook, for: context)
        switch output.format() {
        case .json: print(try JSONOutput.document(encoding: evidence))
        case .jsonl: print(try JSONOutput.line(encoding: evidence))
        case .table: print(EvidenceRendering.text(evidence, title: runbook.title), terminator: "")
        }
        if evidence.steps.contains(where: { $0.status != .ok }) { throw ExitCode(1) }
    }
}

enum EvidenceRendering {
    static func text(_ evidence: Evidence, title: String) -> String {
        var out = "\(evidence.runbook): \(title)\n"
        if let target = evidence.target {
            out += "target: deployment \(target.namespace)/\(target.deployment) (\(target.resolvedBy))\n"
        } else {
            out += "target: none — \(evidence.targetProblem ?? "unknown")\n"
        }
        if let rollout = evidence.recentRollout {
            out += "recent rollout: revision \(rollout.revision) (\(rollout.images.joined(separator: ", "))) \(rollout.minutesBeforePending) minutes before the alert went pending\n"
        }
        for (index, step) in evidence.steps.enumerated() {
            out += "\n\(index + 1). \(step.name) [\(step.kind)] \(step.status.rawValue.uppercased()) in \(step.durationMilliseconds) ms\n"
            if let error = step.error { out += "   \(error)\n" }
            for line in step.lines { out += "   \(line)\n" }
            if step.truncated { out += "   …\n" }
        }
        return out
    }
}

/// Left-aligned columns, two spaces apart.
enum TextTable {
    static func render(_ rows: [[String]]) -> String {
        guard let first = rows.first else { return "" }
        let widths = first.indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
        return rows.map { row in
            row.enumerated().map { index, cell in index == row.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0) }
                .joined(separator: "  ")
        }.joined(separator: "\n") + "\n"
    }
}
