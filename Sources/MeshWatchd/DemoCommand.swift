import ArgumentParser
import Foundation
import Logging
import MeshFixtures
import MeshHTTP
import PromClient

/// `meshwatchd demo`: the health check against a real Prometheus over a generated incident.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Generate an Istio incident, start a local Prometheus over it, and run the health check.",
        discussion: """
            Needs Debian's prometheus package (prometheus and promtool). Writes an hour of \
            synthetic Istio metrics in which reviews gets a bad rollout, ratings slows down, \
            checkout overflows its connection pool and details runs partly without sidecars; \
            backfills them with promtool; starts Prometheus on 127.0.0.1 on a free port; prints \
            the health check at the height of the incident; and stops Prometheus again.
            """
    )

    @Option(help: "Output format: table or json.")
    var format: HealthCommand.OutputFormat = .table

    @Option(help: "Path of the prometheus binary.")
    var prometheusBinary = "/usr/bin/prometheus"

    @Option(help: "Path of the promtool binary.")
    var promtoolBinary = "/usr/bin/promtool"

    func validate() throws {
        for binary in [prometheusBinary, promtoolBinary] where !FileManager.default.isExecutableFile(atPath: binary) {
            throw ValidationError("\(binary) not found: install Debian's prometheus package (make run does)")
        }
    }

    func run() async throws {
        bootstrapLogging(level: .warning)
        let scenario = MeshScenario.incident()
        let status = { (line: String) in FileHandle.standardError.write(Data("demo: \(line)\n".utf8)) }
        status("generating \(scenario.services.count) services × 60 min of Istio metrics (15 s steps)")
        let openMetrics = scenario.openMetrics()
        status("backfilling \(openMetrics.utf8.count / 1024) KiB of OpenMetrics with promtool and starting Prometheus on 127.0.0.1")
        let report = try await withPrometheus(openMetrics: openMetrics, prometheus: prometheusBinary,
                                              promtool: promtoolBinary) { server async throws in
            status("Prometheus ready at \(server.url); querying at \(ISO8601DateFormatter().string(from: scenario.evaluationTime))")
            let client = try PrometheusClient(baseURL: server.url, http: HTTPClient())
            let report = try await MeshHealthCheck().run(client, at: scenario.evaluationTime)
            return (report, server.url)
        }
        print(format == .json ? try report.0.renderJSON() : report.0.renderTable(source: "\(report.1) (demo data)"))
        status("Prometheus stopped and its data removed; nothing is left running")
    }
}
