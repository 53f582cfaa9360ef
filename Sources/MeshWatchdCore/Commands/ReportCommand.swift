import ArgumentParser
import Foundation
import Logging
import MetricModel

/// `meshwatchd report`: the runbook's weekly review.
package struct ReportCommand: AsyncParsableCommand {
    package init() {}

    package static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "The weekly review: traffic, errors, latency, mTLS, authorization, resources, certificates, alerts and actions.",
        discussion: """
            Per service: requests per second, the 5xx share and P50/P95/P99 latency over the \
            period, with the change against the period before; mTLS coverage; 403 denials; the \
            control plane's and the sidecars' CPU and memory; certificate renewals; and, from the \
            state directory, the period's alerts, findings and remediation outcomes. As Markdown, \
            as one self-contained HTML page with charts (no network needed to view it), or JSON. \
            Exit status: 0 written, 2 Prometheus could not be read, 64 wrong arguments, 78 wrong \
            configuration.
            """
    )

    @Option(help: ArgumentHelp("The period: a duration back from --at (default 7d).", valueName: "duration"))
    var since = "7d"

    @Option(help: ArgumentHelp("The end of the period (RFC 3339; default now).", valueName: "time"))
    var at: String?

    @Option(help: ArgumentHelp("Whose metrics: istio, linkerd or cilium (default: the configuration's first enabled pack, else istio).", valueName: "mesh"))
    var mesh: String?

    @Option(help: ArgumentHelp("markdown, html or json.", valueName: "format"))
    var output = "markdown"

    @Option(help: ArgumentHelp("Write to this file instead of stdout.", valueName: "path"))
    var file: String?

    @Option(help: "Configuration file (Prometheus, state directory, packs).")
    var config: String?

    @Option(help: "State directory for the alerts, findings and actions (default: the config's, else none).")
    var stateDirectory: String?

    @OptionGroup var prometheus: PrometheusOptions
    @OptionGroup var logging: LogLevelOptions

    package func validate() throws {
        guard ["markdown", "html", "json"].contains(output) else { throw ValidationError("--output: expected markdown, html or json, got \"\(output)\"") }
        guard PrometheusDuration.parse(since).map({ $0 >= .seconds(3600) }) == true else {
            throw ValidationError("--since: expected a duration of an hour or more such as 7d, got \"\(since)\"")
        }
        if let at, parseTime(at) == nil { throw ValidationError("--at: expected an RFC 3339 time, got \"\(at)\"") }
        if let mesh, ReportQueries.for(mesh) == nil { throw ValidationError("--mesh: expected istio, linkerd or cilium, got \"\(mesh)\"") }
    }

    package func run() async throws {
        logging.bootstrap()
        let logger = Logger(label: "meshwatchd")
        let configuration = try Configuration.forCommand(config)
        guard prometheus.url != nil || configuration.prometheus?.url != nil else { throw ValidationError("no Prometheus: give --prometheus URL or --config") }
        let client = try prometheus.makeClient(logger: logger, configuration: configuration.prometheus)
        let enabled = (configuration.packs ?? [:]).filter { $0.value.enabled ?? true && $0.value.file == nil }.keys.sorted()
        let meshName = mesh ?? enabled.first { ["istio", "linkerd", "cilium"].contains($0) } ?? "istio"
        guard let queries = ReportQueries.for(meshName) else { throw ValidationError("--mesh: unknown mesh \(meshName)") }
        let to = at.flatMap(parseTime) ?? Date()
        let period = PrometheusDuration.parse(since)!.seconds
        let from = to.addingTimeInterval(-period)
        if let problem = await client.queryProblem(timeout: .seconds(5)) {
            FileHandle.standardError.write(Data("meshwatchd: report: Prometheus at \(CheckConfigCommand.redacted(client.baseURL)) does not answer: \(problem)\n".utf8))
            throw ExitCode(2)
        }
        var report = await ReportGatherer(client: client, queries: queries).gather(from: from, to: to)
        if let directory = stateDirectory ?? configuration.stateDirectory {
            do {
                try Self.addState(&report, path: directory + "/state.sqlite", period: period, logger: logger)
            } catch {
                report.gaps.append("state \(directory): \(error)")
            }
        } else {
            report.gaps.append("alerts, findings and actions: no state directory (give --state-directory or --config)")
        }
        let text: String
        switch output {
        case "html": text = report.html()
        case "json":
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            encoder.dateEncodingStrategy = .iso8601
            text = String(decoding: try encoder.encode(report), as: UTF8.self) + "\n"
        default: text = report.markdown()
        }
        if let file {
            try text.write(toFile: file, atomically: true, encoding: .utf8)
        } else {
            print(text, terminator: "")
        }
    }

    /// The period's alerts (against the period before), findings and remediation from the state.
    static func addState(_ report: inout WeeklyReport, path: String, period: TimeInterval, logger: Logger) throws {
        guard FileManager.default.fileExists(atPath: path) else { throw ValidationError("no state file at \(path)") }
        let store = try StateStore(readingOnly: path)
        let before = report.from.addingTimeInterval(-period)
        let now = try store.alertHistory(from: report.from, to: report.to).filter { $0.kind == "firing" }
        let earlier = try store.alertHistory(from: before, to: report.from).filter { $0.kind == "firing" }
        let names = Set(now.map(\.alert)).union(earlier.map(\.alert))
        report.alerts = names.sorted().map { name in
            WeeklyReport.AlertSummary(alert: name, severity: (now + earlier).first { $0.alert == name }?.severity ?? "none",
                                      firings: now.filter { $0.alert == name }.count, firingsBefore: earlier.filter { $0.alert == name }.count)
        }.sorted { ($0.firings, $1.alert) > ($1.firings, $0.alert) }
        report.findings = try store.findingCounts(from: report.from, to: report.to).map { WeeklyReport.FindingCount(sink: $0.sink, kind: $0.kind, count: $0.count) }
        report.remediation = try store.ledger(since: report.from).filter { $0.decision.at < report.to }.map { entry in
            WeeklyReport.Remediation(at: entry.decision.at, action: entry.decision.action.rawValue, workload: entry.decision.workload,
                                     outcome: entry.decision.outcome.rawValue, verified: entry.verified)
        }
    }
}
