// Replay over a day: the Istio pack stepped every 30 s through 24 h of synthetic mesh data
// in the real Prometheus, to show time per evaluation and that memory stays flat.
import AlertEngine
import Foundation
import Logging
import MeshFixtures
import MeshHTTP
import MeshPacks
import MetricModel
import PromClient

/// The engine's datasource on PromClient (the executable has its own; this one is for the bench).
struct BenchDatasource: InstantQuerying {
    let client: PrometheusClient

    func instantQuery(_ expression: String, at time: Date) async throws -> [Sample] {
        guard case .vector(let samples) = try await client.query(expression, at: time).result else { return [] }
        return samples
    }
}

func replayBenchmark() async throws {
    let start = Date(timeIntervalSince1970: 1_750_000_000)
    var scenario = MeshScenario.incident(start: start)
    scenario.end = start.addingTimeInterval(86_400)
    scenario.stepSeconds = 60
    let openMetrics = scenario.openMetrics()
    print("Replay: the Istio pack every 30 s over 24 h of \(scenario.services.count) services (\(openMetrics.utf8.count / 1_048_576) MiB of OpenMetrics)")
    try await withPrometheus(openMetrics: openMetrics) { server async throws in
        let client = try PrometheusClient(baseURL: server.url, http: HTTPClient())
        var engine = RuleEngine(groups: [RulePack.withDefaults("istio").group])
        let logger = Logger(label: "bench") { _ in SwiftLogNoOpLogHandler() }
        var transitions = 0
        let residentAtStart = currentResidentMegabytes()
        var residentMax = residentAtStart
        let began = ContinuousClock.now
        let steps = await engine.replay(from: start.addingTimeInterval(600), to: scenario.end, step: .seconds(30),
                                        using: BenchDatasource(client: client), logger: logger) { step in
            transitions += step.transitions.count
            if step.index % 100 == 0 { residentMax = max(residentMax, currentResidentMegabytes()) }
            return true
        }
        let elapsed = ContinuousClock.now - began
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        print(String(format: "  %d evaluations × 7 rules in %.1f s (%.1f ms per evaluation, Prometheus's query time included), %d transitions",
                     steps, seconds, seconds / Double(steps) * 1000, transitions))
        print(String(format: "  resident memory during the replay: %.1f MB at the start, %.1f MB at most, %.1f MB at the end",
                     residentAtStart, residentMax, currentResidentMegabytes()))
        print("  (the process also holds the generated data set; what matters is that the replay adds nothing per step)")
    }
}

/// Resident memory now, from /proc/self/statm.
func currentResidentMegabytes() -> Double {
    guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8),
          let pages = text.split(separator: " ").dropFirst().first.flatMap({ Double($0) }) else { return 0 }
    return pages * Double(sysconf(Int32(_SC_PAGESIZE))) / 1_048_576
}
