// Breach to webhook: from the evaluation tick that makes an alert fire (its firedAt) to the
// finding arriving at a healthy local receiver, with the release meshwatchd, a 5 s interval
// and `for: 0`, against the real Prometheus.
import AlertEngine
import Foundation
import MeshFixtures
import MeshHTTP
import PromClient

func webhookBenchmark() async throws {
    guard let binary = releaseDaemon(for: "webhook") else { return }
    let scenario = MeshScenario.live(ahead: 30)
    let work = try workDirectory("webhook")
    defer { try? FileManager.default.removeItem(atPath: work) }
    try await withPrometheus(openMetrics: scenario.openMetrics()) { prometheus async throws in
        // How long Prometheus itself takes for the rule's query here: part of the figure.
        let client = try PrometheusClient(baseURL: prometheus.url, http: HTTPClient())
        var queryTimes: [Double] = []
        for _ in 0..<5 {
            let start = ContinuousClock.now
            _ = try await client.query(IstioPack().definitions[0].expression, at: Date())
            let elapsed = ContinuousClock.now - start
            queryTimes.append(Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1000)
        }
        let queryMillis = queryTimes.sorted()[2]
        try await withEchoServer { receiver async throws in
            try #"""
                {"prometheus": {"url": "\#(prometheus.url)"}, "listen_address": "127.0.0.1:\#(try LoopbackPort.free())",
                 "packs": {"istio": {"parameters": {"interval": "5s", "error_rate.for": "0s"}}},
                 "sinks": [{"name": "bench", "url": "\#(receiver.url("/receiver"))", "alerts": ["IstioHighErrorRate"]}]}
                """#.write(toFile: work + "/config.json", atomically: true, encoding: .utf8)
            let daemon = try await ChildProcess.launch(name: "meshwatchd", executable: binary, arguments: [
                "run", "--config", work + "/config.json", "--state-directory", work + "/state", "--log-level", "info",
            ])
            defer { daemon.stopBlocking() }
            let http = HTTPClient()
            let deadline = ContinuousClock.now + .seconds(30)
            while ContinuousClock.now < deadline {
                let report = try JSONSerialization.jsonObject(with: Data(try await http.get(receiver.url("/deliveries")).body)) as? [String: Any]
                if let last = report?["last"] as? [String: Any], let arrived = last["time"] as? Double,
                   let body = last["body"] as? String,
                   let finding = try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any],
                   let firedAt = ((finding["alert"] as? [String: Any])?["firedAt"] as? String).flatMap({ ISO8601DateFormatter.fractional.date(from: $0) ?? ISO8601DateFormatter().date(from: $0) }) {
                    let latency = (arrived - firedAt.timeIntervalSince1970) * 1000
                    print(String(format: "Breach to webhook: %.0f ms from the evaluation tick that fired IstioHighErrorRate to the receiver (interval 5 s, for 0); Prometheus took %.0f ms of it for the rule's query", latency, queryMillis))
                    if CommandLine.arguments.contains("--trace") {
                        for line in daemon.stderrTail(limit: 100_000).split(separator: "\n")
                        where line.contains("IstioHighErrorRate") || line.contains("finding") || line.contains("ready") {
                            print("  " + line.prefix(260))
                        }
                    }
                    print("  for reference: Prometheus → Alertmanager → receiver 32 s (default group_wait), 4.3 s (group_wait 0); vmalert → Alertmanager 34 s")
                    return
                }
                try await Task.sleep(for: .milliseconds(100))
            }
            print("Breach to webhook: no finding arrived within 30 s\n\(daemon.stderrTail())")
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
