// Breach to webhook: from the evaluation tick that makes an alert fire (its firedAt; for
// Prometheus the alert's startsAt) to the notification arriving at a healthy local receiver,
// with a 5 s interval and `for: 0` on the same data: the release meshwatchd against the real
// Prometheus, and the real Prometheus evaluating the same rule and notifying the real
// Alertmanager, with `group_wait` 0 and at its default (30 s), side by side.
import AlertEngine
import Foundation
import MeshFixtures
import MeshHTTP
import MeshPacks
import PromClient

func webhookBenchmark() async throws {
    guard let ours = try await meshwatchdLatency() else { return }
    let zero = try await alertmanagerLatency(groupWait: "0s")
    let standard = try await alertmanagerLatency(groupWait: "30s")
    print("Breach to webhook (from the evaluation that fires IstioHighErrorRate to the receiver; interval 5 s, for 0, same rule, data and receiver):")
    print("  meshwatchd (finding with its runbook's evidence)          " + String(format: "%8.0f ms", ours))
    for (label, value) in [("Prometheus → Alertmanager, group_wait 0", zero), ("Prometheus → Alertmanager, group_wait 30s (default)", standard)] {
        let padded = label.padding(toLength: 58, withPad: " ", startingAt: 0)
        if let value {
            print("  " + padded + String(format: "%8.0f ms  (%.2f× meshwatchd's)", value, value / max(ours, 1)))
        } else {
            print("  " + padded + "no notification within 90 s")
        }
    }
}

/// The live incident with reviews healthy until `breachIn` seconds from now, then at 12 % 5xx,
/// so that both systems are up and settled when the alert's condition becomes true.
func breachScenario(breachIn seconds: Double = 25) -> MeshScenario {
    var scenario = MeshScenario.live(ahead: 5)
    for index in scenario.services.indices where scenario.services[index].workload == "reviews" {
        scenario.services[index].changes = [.init(at: Date().addingTimeInterval(seconds), errorRatio: 0.12)]
    }
    return scenario
}

/// The error-rate rule over a 30 s window (so the breach shows within seconds), `for: 0`,
/// every 5 s: the same rule file for meshwatchd and for Prometheus.
let breachRules = """
    groups:
      - name: bench
        interval: 5s
        rules:
          - alert: IstioHighErrorRate
            expr: |
              sum by (destination_workload, destination_workload_namespace) (rate(istio_requests_total{reporter="destination", response_code=~"5.."}[30s]))
                / sum by (destination_workload, destination_workload_namespace) (rate(istio_requests_total{reporter="destination"}[30s])) > 0.05
            for: 0s
            labels: {severity: critical}
            annotations: {summary: "{{ $labels.destination_workload }}: {{ $value | humanizePercentage }} 5xx"}
    """

/// Prometheus evaluates the same error-rate rule (for 0) every 5 s and notifies Alertmanager,
/// which routes to the receiver: arrival minus the alert's startsAt, in milliseconds.
func alertmanagerLatency(groupWait: String) async throws -> Double? {
    return try await withEchoServer { receiver async throws in
        try await withAlertmanager(receiverURL: receiver.url("/receiver"), groupWait: groupWait) { alertmanager async throws in
            let configuration = """
                global:
                  scrape_interval: 15s
                  evaluation_interval: 5s
                rule_files: [bench.yml]
                alerting:
                  alertmanagers:
                    - static_configs:
                        - targets: ["127.0.0.1:\(alertmanager.port)"]
                """
            return try await withPrometheus(openMetrics: breachScenario().openMetrics(), configuration: configuration,
                                            files: ["bench.yml": breachRules]) { _ async throws in
                let http = HTTPClient()
                let deadline = ContinuousClock.now + .seconds(90)
                while ContinuousClock.now < deadline {
                    let report = try JSONSerialization.jsonObject(with: Data(try await http.get(receiver.url("/deliveries")).body)) as? [String: Any]
                    if let last = report?["last"] as? [String: Any], let arrived = last["time"] as? Double, let body = last["body"] as? String,
                       let notification = try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any],
                       let alert = (notification["alerts"] as? [[String: Any]])?.first(where: { ($0["labels"] as? [String: String])?["alertname"] == "IstioHighErrorRate" }),
                       let startsAt = (alert["startsAt"] as? String).flatMap({ ISO8601DateFormatter.fractional.date(from: $0) ?? ISO8601DateFormatter().date(from: $0) }) {
                        return (arrived - startsAt.timeIntervalSince1970) * 1000
                    }
                    try await Task.sleep(for: .milliseconds(50))
                }
                return nil
            }
        }
    }
}

/// meshwatchd against the same Prometheus data: arrival minus the finding's firedAt.
func meshwatchdLatency() async throws -> Double? {
    guard let binary = releaseDaemon(for: "webhook") else { return nil }
    let work = try workDirectory("webhook")
    defer { try? FileManager.default.removeItem(atPath: work) }
    try breachRules.write(toFile: work + "/bench.yml", atomically: true, encoding: .utf8)
    return try await withPrometheus(openMetrics: breachScenario().openMetrics()) { prometheus async throws -> Double? in
        // How long Prometheus itself takes for the rule's query here: part of the figure.
        let client = try PrometheusClient(baseURL: prometheus.url, http: HTTPClient())
        var queryTimes: [Double] = []
        for _ in 0..<5 {
            let start = ContinuousClock.now
            _ = try await client.query(RulePack.withDefaults("istio").definitions[0].expression, at: Date().addingTimeInterval(30))
            let elapsed = ContinuousClock.now - start
            queryTimes.append(Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1000)
        }
        let queryMillis = queryTimes.sorted()[2]
        return try await withEchoServer { receiver async throws -> Double? in
            try #"""
                {"prometheus": {"url": "\#(prometheus.url)"}, "listen_address": "127.0.0.1:\#(try LoopbackPort.free())",
                 "rule_files": ["bench.yml"], "packs": {"istio": {"enabled": false}},
                 "sinks": [{"name": "bench", "type": "webhook", "url": "\#(receiver.url("/receiver"))", "alerts": ["IstioHighErrorRate"]}]}
                """#.write(toFile: work + "/config.json", atomically: true, encoding: .utf8)
            let daemon = try await ChildProcess.launch(name: "meshwatchd", executable: binary, arguments: [
                "run", "--config", work + "/config.json", "--state-directory", work + "/state", "--log-level", "info",
            ])
            defer { daemon.stopBlocking() }
            let http = HTTPClient()
            let deadline = ContinuousClock.now + .seconds(60)
            while ContinuousClock.now < deadline {
                let report = try JSONSerialization.jsonObject(with: Data(try await http.get(receiver.url("/deliveries")).body)) as? [String: Any]
                if let last = report?["last"] as? [String: Any], let arrived = last["time"] as? Double,
                   let body = last["body"] as? String,
                   let finding = try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any],
                   let firedAt = ((finding["alert"] as? [String: Any])?["firedAt"] as? String).flatMap({ ISO8601DateFormatter.fractional.date(from: $0) ?? ISO8601DateFormatter().date(from: $0) }) {
                    let latency = (arrived - firedAt.timeIntervalSince1970) * 1000
                    print(String(format: "meshwatchd: %.0f ms from the evaluation tick that fired IstioHighErrorRate to the receiver; Prometheus took %.0f ms of it for the rule's query", latency, queryMillis))
                    if CommandLine.arguments.contains("--trace") {
                        for line in daemon.stderrTail(limit: 100_000).split(separator: "\n")
                        where line.contains("IstioHighErrorRate") || line.contains("finding") || line.contains("ready") {
                            print("  " + line.prefix(260))
                        }
                    }
                    return latency
                }
                try await Task.sleep(for: .milliseconds(100))
            }
            print("Breach to webhook: no finding arrived within 30 s\n\(daemon.stderrTail())")
            return nil
        }
    }
}

extension ISO8601DateFormatter {
    static var fractional: ISO8601DateFormatter {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter
    }
}
