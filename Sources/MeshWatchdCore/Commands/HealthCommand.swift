import ArgumentParser
import Foundation
import Logging
import Remediation

/// `meshwatchd health`: the runbook's daily mesh health check, once.
package struct HealthCommand: AsyncParsableCommand {
    package init() {}

    package static let configuration = CommandConfiguration(
        commandName: "health",
        abstract: "Run the daily mesh health check once against Prometheus and print it.",
        discussion: """
            Per destination service (reporter="destination"): request rate, 5xx share, P95 \
            latency from istio_request_duration_milliseconds, and mTLS share; plus istiod's \
            up series and the nearest certificate expiry; with a Kubernetes API (--kubeconfig, \
            --in-cluster), the control plane's pods. Thresholds are the runbook's: 5xx above 5 %, \
            P95 above 1000 ms, mTLS below 95 %, certificates within 7 days, every control-plane \
            pod ready.

            Exit status: 0 healthy, 1 past a threshold, 2 Prometheus could not answer.
            """
    )

    @OptionGroup var prometheus: PrometheusOptions
    @OptionGroup var kubernetes: KubernetesOptions

    @Option(help: "Namespace of the control plane's pods (with a Kubernetes API).")
    var controlPlaneNamespace = "istio-system"

    @Option(help: "Evaluation time: RFC 3339 (2025-06-15T16:00:00Z) or Unix seconds. Default: now.")
    var at: String?

    @Option(help: "Rate window, a PromQL duration.")
    var window: String = "5m"

    @OptionGroup var output: OutputOptions
    @OptionGroup var logging: LogLevelOptions

    package func validate() throws {
        if let at, parseTime(at) == nil { throw ValidationError("--at: not RFC 3339 or Unix seconds: \(at)") }
        guard window.range(of: #"^[0-9]+(ms|s|m|h|d|w|y)$"#, options: .regularExpression) != nil else {
            throw ValidationError("--window: not a PromQL duration such as 5m: \(window)")
        }
    }

    package func run() async throws {
        logging.bootstrap()
        let logger = Logger(label: "meshwatchd.health")
        guard prometheus.url != nil else { throw ValidationError("--prometheus-url is required") }
        let client = try prometheus.makeClient(logger: logger)
        let time = at.flatMap(parseTime) ?? Date()
        let check = MeshHealthCheck(window: window, timeout: prometheus.timeout)
        var report: MeshHealthReport
        do {
            report = try await check.run(client, at: time)
        } catch {
            FileHandle.standardError.write(Data("meshwatchd health: \(error)\n".utf8))
            throw ExitCode(2)
        }
        let kubernetesClient: KubernetesClient?
        do { kubernetesClient = try kubernetes.makeClient(configuration: nil, environment: ProcessInfo.processInfo.environment, logger: logger) } catch {
            FileHandle.standardError.write(Data("meshwatchd health: Kubernetes: \(error)\n".utf8))
            throw ExitCode(64)
        }
        if let kubernetesClient {
            report.controlPlaneNamespace = controlPlaneNamespace
            do {
                report.controlPlanePods = try await kubernetesClient.list(Pod.self, "/api/v1/namespaces/\(controlPlaneNamespace)/pods").map {
                    .init(name: $0.metadata.name, ready: $0.isReady, restarts: $0.restarts, problem: $0.problem)
                }
            } catch {
                report.controlPlaneError = "\(error)"
            }
        }
        switch output.format() {
        case .table: print(report.renderTable(source: client.baseURL))
        case .json: print(try report.renderJSON())
        case .jsonl: print(try JSONOutput.line(JSONSerialization.jsonObject(with: Data(report.renderJSON().utf8))))
        }
        if !report.isHealthy { throw ExitCode(1) }
    }
}

/// RFC 3339 with or without fractional seconds, or Unix seconds.
func parseTime(_ text: String) -> Date? {
    if let seconds = Double(text) { return Date(timeIntervalSince1970: seconds) }
    let formatter = ISO8601DateFormatter()
    if let date = formatter.date(from: text) { return date }
    formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    return formatter.date(from: text)
}
