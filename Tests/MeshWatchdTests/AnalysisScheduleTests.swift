import Foundation
import MeshFixtures
import MeshHTTP
@testable import MeshWatchdCore
import Testing
import Yams

/// `analyze` on a schedule in the daemon: a configuration problem is one finding when it
/// appears, not another at each run or after a restart, and a resolve when it is fixed.
@Suite("The daemon's scheduled configuration checks: once per problem, across restarts, resolved when fixed")
struct AnalysisScheduleTests {
    func runs(_ daemon: DaemonTests.Daemon) -> Int { daemon.logLines.filter { $0["msg"] == "configuration checks ran" }.count }

    func waitForRuns(_ daemon: DaemonTests.Daemon, _ count: Int, timeout: Duration = .seconds(40)) async -> Bool {
        let start = runs(daemon)
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if runs(daemon) >= start + count { return true }
            try? await Task.sleep(for: .milliseconds(100))
        }
        return false
    }

    func findings(_ receiver: EchoServer) async throws -> [[String: Any]] {
        try await receiver.deliveries().bodies.compactMap { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            .filter { ($0["alert"] as? [String: Any])?["name"] as? String == "MeshConfigProblem" }
    }

    @Test("the guide's missing subset: fired once over many runs and a restart, resolved when the schedule is turned off, raised again when it is back, resolved once the DestinationRule defines it")
    func scheduled() async throws {
        let state = try DaemonTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: state) }
        let seed = try await offPool { () throws -> String in
            let documents = try Yams.load_all(yaml: AnalyzeTests.base + "\n---\n"
                                                    + AnalyzeTests.guideMissingSubset.replacingOccurrences(of: "  name: backend\n", with: "  name: backend\n  namespace: production\n"))
                .compactMap { $0 as? [String: Any] }
            return String(decoding: try JSONSerialization.data(withJSONObject: documents), as: UTF8.self)
        }
        let harness = DaemonTests()
        try await withPrometheus(openMetrics: MeshScenario.live().openMetrics()) { prometheus async throws in
            try await withKubernetes(seed: seed) { double async throws in
                try double.kubeconfig().write(toFile: state + "/kubeconfig", atomically: true, encoding: .utf8)
                try await withEchoServer { receiver async throws in
                    func writeConfig(enabled: Bool) throws {
                        try #"""
                            {"prometheus": {"url": "\#(prometheus.url)"},
                             "kubernetes": {"kubeconfig": "\#(state)/kubeconfig"},
                             "runbooks": {"enabled": false},
                             "packs": {"istio": {"parameters": {"interval": "1s"}}},
                             "analyze": {"enabled": \#(enabled), "interval": "1s", "checks": ["MW101"]},
                             "sinks": [{"name": "ops", "type": "webhook", "url": "\#(receiver.url("/receiver"))", "alerts": ["MeshConfigProblem"]}]}
                            """#.write(toFile: state + "/config.json", atomically: true, encoding: .utf8)
                    }
                    func waitForFindings(_ count: Int) async throws {
                        let deadline = ContinuousClock.now + .seconds(30)
                        while ContinuousClock.now < deadline, try await findings(receiver).count < count { try await Task.sleep(for: .milliseconds(200)) }
                    }
                    try writeConfig(enabled: true)
                    let first = try await harness.start(["--config", state + "/config.json", "--state-directory", state], notify: nil)
                    #expect(await first.waitForLog(.seconds(40)) { $0["msg"] == "finding delivered" } != nil, "log:\n\(first.log)")
                    #expect(await waitForRuns(first, 3), "log:\n\(first.log)")
                    // For an operator's own alert on checks that keep failing.
                    let metrics = String(decoding: try await HTTPClient().get(first.statusURL("/metrics")).body, as: UTF8.self)
                    #expect(metrics.contains("meshwatchd_analyze_problems 1") && metrics.contains("meshwatchd_analyze_runs_total{result=\"error\"} 0"), "\(metrics)")
                    #expect(metrics.range(of: #"meshwatchd_analyze_runs_total\{result="ok"\} [1-9]"#, options: .regularExpression) != nil)
                    try metrics.write(toFile: state + "/metrics.txt", atomically: true, encoding: .utf8)
                    let lint = try await ChildProcess.run("/bin/sh", ["-c", "/usr/bin/promtool check metrics < '\(state)/metrics.txt'"])
                    #expect(lint.status == 0 && !lint.output.contains("analyze"), "\(lint.output)")
                    var seen = try await findings(receiver)
                    #expect(seen.count == 1, "\(seen)")
                    let labels = (seen.first?["alert"] as? [String: Any])?["labels"] as? [String: String]
                    #expect(labels?["code"] == "MW101" && labels?["object"] == "VirtualService production/backend", "\(String(describing: labels))")
                    #expect(labels?["severity"] == "warning" && labels?["problem_severity"] == "error")
                    first.signal(SIGTERM)
                    #expect(await first.process.waitForExit() == 0)

                    // A restart remembers the problem: no second firing.
                    let second = try await harness.start(["--config", state + "/config.json", "--state-directory", state], notify: nil)
                    #expect(await waitForRuns(second, 3), "log:\n\(second.log)")
                    seen = try await findings(receiver)
                    #expect(seen.count == 1, "fired again after the restart: \(seen)")

                    // Turned off by a reload: what it raised resolves, once.
                    try writeConfig(enabled: false)
                    second.signal(SIGHUP)
                    try await waitForFindings(2)
                    // On again: the problem is still there, so it is raised again.
                    try writeConfig(enabled: true)
                    second.signal(SIGHUP)
                    try await waitForFindings(3)

                    // Fixed: the DestinationRule defines v2. One resolve.
                    try await double.seed(#"[{"apiVersion": "networking.istio.io/v1beta1", "kind": "DestinationRule", "metadata": {"name": "backend", "namespace": "production"}, "spec": {"host": "backend", "subsets": [{"name": "v2", "labels": {"version": "v2"}}]}}]"#)
                    try await waitForFindings(4)
                    #expect(await waitForRuns(second, 2))
                    seen = try await findings(receiver)
                    #expect(seen.map { $0["kind"] as? String } == ["firing", "resolved", "firing", "resolved"], "\(seen)")
                    second.signal(SIGTERM)
                    #expect(await second.process.waitForExit() == 0)
                }
            }
        }
    }
}
