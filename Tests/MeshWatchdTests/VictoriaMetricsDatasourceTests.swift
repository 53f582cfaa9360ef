import Foundation
import MeshFixtures
import Testing

/// VictoriaMetrics single-node as the datasource: the same rules over the same data give the same
/// alerts as Prometheus. VictoriaMetrics answers PromQL's instant query API with MetricsQL, whose
/// `rate` does not extrapolate, so values differ a little; what must not differ is which alerts
/// go pending, fire and resolve, and when.
@Suite("VictoriaMetrics as the datasource: the same alerts as Prometheus on the same data")
struct VictoriaMetricsDatasourceTests {
    static let scenario = MeshScenario.incident()
    let cli = CommandLineTests()

    /// Every transition of `replay -o jsonl`: time, kind, alert and labels (values left out).
    func transitions(_ datasource: String) async throws -> [String] {
        let start = Int(Self.scenario.start.timeIntervalSince1970)
        let run = try await cli.meshwatchd(["replay", "--prometheus", datasource, "--pack", "istio", "--from", String(start + 20 * 60),
                                            "--to", String(start + 60 * 60), "--step", "30s", "-o", "jsonl"])
        #expect(run.status == 0, "\(datasource): \(run.stderr)")
        return try run.stdout.split(separator: "\n").compactMap { line -> String? in
            let event = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            guard let event, let kind = event["transition"] as? String, let alert = event["alert"] as? String,
                  let labels = event["labels"] as? [String: String], let time = event["time"] as? String else { return nil }
            return "\(time) \(kind) \(alert) \(labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ","))"
        }
    }

    @Test("the Istio pack replayed over the incident: every transition the same, at the same time, from both")
    func sameAlerts() async throws {
        let openMetrics = Self.scenario.openMetrics()
        let fromPrometheus = try await withPrometheus(openMetrics: openMetrics) { server in try await transitions(server.url) }
        // The incident is in 2025: past VictoriaMetrics's default retention of a month.
        let fromVictoria = try await withVictoriaMetrics(flags: VictoriaMetricsServer.readBackFlags + ["-retentionPeriod=100y"]) { server in
            try await server.importOpenMetrics(openMetrics)
            return try await transitions(server.url)
        }
        #expect(fromPrometheus.count >= 6, "the incident should fire several alerts: \(fromPrometheus)")
        #expect(fromPrometheus.contains { $0.contains(" firing IstioHighErrorRate ") }, "\(fromPrometheus)")
        let onlyPrometheus = fromPrometheus.filter { !fromVictoria.contains($0) }
        let onlyVictoria = fromVictoria.filter { !fromPrometheus.contains($0) }
        #expect(onlyPrometheus.isEmpty && onlyVictoria.isEmpty,
                "only from Prometheus:\n\(onlyPrometheus.joined(separator: "\n"))\nonly from VictoriaMetrics:\n\(onlyVictoria.joined(separator: "\n"))")
    }
}
