import Foundation
import MeshFixtures
import MeshHTTP
@testable import MeshWatchdCore
import MetricModel
import Testing

/// Issue 19's idle goal: between two evaluations nothing in the daemon wakes on a timer.
@Suite("Idle between cycles: no thread of the daemon wakes")
struct IdleWakeupTests {
    let harness = DaemonTests()

    /// Voluntary context switches of every thread of `pid` (a thread that sleeps and wakes adds one each time).
    static func wakeups(_ pid: Int32) -> Int {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
        return tasks.reduce(0) { sum, task in
            let status = (try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/status", encoding: .utf8)) ?? ""
            let line = status.split(separator: "\n").first { $0.hasPrefix("voluntary_ctxt_switches:") }
            return sum + (line.flatMap { Int($0.split(separator: "\t").last ?? "") } ?? 0)
        }
    }

    @Test("a daemon with a 1-minute interval, after its first cycle, wakes fewer than ten times in 10 s (the status listener's date cache woke it every second)")
    func idle() async throws {
        let state = try DaemonTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: state) }
        try await withPrometheus(openMetrics: MeshScenario.live().openMetrics()) { prometheus async throws in
            try "groups:\n- name: slow\n  interval: 1m\n  rules:\n  - alert: Up\n    expr: vector(1)\n"
                .write(toFile: state + "/rules.yml", atomically: true, encoding: .utf8)
            try #"{"prometheus": {"url": "\#(prometheus.url)"}, "rule_files": ["rules.yml"]}"#
                .write(toFile: state + "/config.json", atomically: true, encoding: .utf8)
            let daemon = try await harness.start(["--config", state + "/config.json", "--state-directory", state], notify: nil)
            defer { daemon.signal(SIGKILL) }
            // The first cycle comes at the group's first tick (within the interval), then the start-up's pages are released.
            let ready = await daemon.waitForLog(.seconds(120)) { $0["msg"] == "start-up pages released" }
            try #require(ready != nil, "log:\n\(daemon.log.suffix(3000))")
            try await Task.sleep(for: .seconds(3))  // what the first cycle started settles
            let pid = daemon.process.processIdentifier
            let before = Self.wakeups(pid), started = ContinuousClock.now
            try await Task.sleep(for: .seconds(10))
            let woke = Self.wakeups(pid) - before, took = ContinuousClock.now - started
            // No cycle fell in the window: the group has still evaluated once.
            let metrics = String(decoding: try await HTTPClient().get(daemon.statusURL("/metrics")).body, as: UTF8.self)
            #expect(metrics.contains("meshwatchd_rule_group_iterations_total{rule_group=\"slow\"} 1\n"), "a cycle in the window (\(took))")
            // A timer every second is at least ten wake-ups of the timer thread and ten of a worker
            // (55 with Hummingbird's date cache); a few stragglers of the first cycle are allowed.
            #expect(woke < 10, "\(woke) wake-ups in \(took); log:\n\(daemon.log.suffix(2000))")
        }
    }
}
