import Foundation
import Incidents
import MeshFixtures
import Testing

/// An alert that clears while the daemon is down: after the restart its resolve goes out, once.
@Suite("Restart reconciles: the resolve of an alert that cleared during downtime")
struct RestartReconcileDaemonTests {
    let harness = DaemonTests()

    @Test("firing delivered, kill -9, the alert clears, restart: the webhook receives the resolve exactly once, same fingerprint")
    func resolveAfterRestart() async throws {
        let state = try DaemonTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: state) }
        try await withPrometheus(openMetrics: MeshScenario.live().openMetrics()) { prometheus async throws in
            try await withEchoServer { receiver async throws in
                // Long enough that a daemon slow to start on a busy machine still sees it fire and deliver.
                let until = Int(Date().timeIntervalSince1970) + 20
                try """
                    groups:
                    - name: brief
                      interval: 1s
                      rules:
                      - alert: Brief
                        expr: vector(time()) < \(until)
                        labels: {severity: warning}
                    """.write(toFile: state + "/rules.yml", atomically: true, encoding: .utf8)
                try #"""
                    {"prometheus": {"url": "\#(prometheus.url)"}, "rule_files": ["rules.yml"],
                     "sinks": [{"name": "ops", "type": "webhook", "url": "\#(receiver.url("/receiver"))"}]}
                    """#.write(toFile: state + "/config.json", atomically: true, encoding: .utf8)
                let arguments = ["--config", state + "/config.json", "--state-directory", state]
                func findings() async throws -> [Finding] {
                    try await receiver.deliveries().bodies.compactMap { try? Finding.decode(Array($0.utf8)) }
                }
                let first = try await harness.start(arguments, notify: nil)
                var deadline = ContinuousClock.now + .seconds(30)
                while try await findings().isEmpty && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(100)) }
                first.signal(SIGKILL)
                _ = await first.process.waitForExit()
                let firing = try #require(try await findings().first { $0.kind == .firing }, "log:\n\(first.log.suffix(3000))")
                while Int(Date().timeIntervalSince1970) <= until + 1 { try await Task.sleep(for: .milliseconds(200)) }

                let second = try await harness.start(arguments, notify: nil)
                defer { second.signal(SIGKILL) }
                deadline = ContinuousClock.now + .seconds(30)
                while try await findings().filter({ $0.kind == .resolved }).isEmpty && ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(100))
                }
                // A few more cycles, to see nothing else arrives.
                let cycles = await second.waitForLog(.seconds(30)) { _ in second.logLines.filter { $0["msg"] == "alert state restored" }.count == 1 }
                #expect(cycles != nil)
                try await Task.sleep(for: .seconds(3))
                let resolved = try await findings().filter { $0.kind == .resolved }
                #expect(resolved.count == 1, "log:\n\(second.log.suffix(3000))")
                #expect(resolved.first?.alert.fingerprint == firing.alert.fingerprint)
                #expect(try await findings().filter { $0.kind == .firing }.count == 1)
            }
        }
    }
}
