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

    /// Voluntary context switches of each thread of `pid` by thread id, with its name (a thread
    /// that sleeps and wakes adds one each time).
    static func wakeups(_ pid: Int32) -> [String: (name: String, count: Int)] {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
        var found: [String: (name: String, count: Int)] = [:]
        for task in tasks {
            let status = (try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/status", encoding: .utf8)) ?? ""
            func field(_ name: String) -> String? {
                status.split(separator: "\n").first { $0.hasPrefix(name + ":") }.flatMap { $0.split(separator: "\t").last.map(String.init) }
            }
            found[task] = (field("Name") ?? "?", field("voluntary_ctxt_switches").flatMap { Int($0) } ?? 0)
        }
        return found
    }

    @Test("a daemon with a 1-minute interval, after its first cycle, wakes fewer than ten times in 20 s (the status listener's date cache, then libdispatch's worker monitor, woke it every second); its tasks run on its own threads")
    func idle() async throws {
        let state = try DaemonTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: state) }
        try await withPrometheus(openMetrics: MeshScenario.live().openMetrics()) { prometheus async throws in
            let daemon = try await start(rules: "groups:\n- name: slow\n  interval: 1m\n  rules:\n  - alert: Up\n    expr: vector(1)\n",
                                         prometheus: prometheus.url, state: state)
            defer { daemon.signal(SIGKILL) }
            // The first cycle comes at the group's first tick (within the interval), then the start-up's pages are released.
            let ready = await daemon.waitForLog(.seconds(120)) { $0["msg"] == "start-up pages released" }
            try #require(ready != nil, "log:\n\(daemon.log.suffix(3000))")
            try await Task.sleep(for: .seconds(3))  // what the first cycle started settles
            let pid = daemon.process.processIdentifier
            let before = Self.wakeups(pid), started = ContinuousClock.now
            try await Task.sleep(for: .seconds(20))
            let after = Self.wakeups(pid), took = ContinuousClock.now - started
            // Per thread: a thread that exited in the window is not counted; one started in it counts whole.
            let threads = after.map { (task, thread) in (task, thread.name, thread.count - (before[task]?.count ?? 0)) }
                .filter { $0.2 > 0 }.sorted { $0.0 < $1.0 }
            let woke = threads.map(\.2).reduce(0, +)
            let exited = before.keys.filter { after[$0] == nil }.sorted()
            // No cycle fell in the window: the group has still evaluated once.
            let metrics = String(decoding: try await HTTPClient().get(daemon.statusURL("/metrics")).body, as: UTF8.self)
            #expect(metrics.contains("meshwatchd_rule_group_iterations_total{rule_group=\"slow\"} 1\n"), "a cycle in the window (\(took))")
            // A timer every second is twenty wake-ups of the thread that waits for it (110 with
            // Hummingbird's date cache); a few stragglers of the first cycle are allowed.
            // Tasks run on the daemon's pool (TaskPool), not on libdispatch's, whose first worker
            // thread starts a one-second monitoring timer for the life of the process.
            let names = after.values.map(\.name)
            #expect(names.filter { $0 == "meshwatchd-task" }.count >= 4, "\(names)")
            #expect(woke < 10, "\(woke) wake-ups in \(took): \(threads.map { "\($0.0) \($0.1): \($0.2)" }); exited: \(exited); log:\n\(daemon.log.suffix(2000))")
        }
    }

    /// A daemon with `rules` (a rule file's text) against `prometheus`, its state and files in `state`.
    func start(rules: String, prometheus: String, state: String) async throws -> DaemonTests.Daemon {
        try rules.write(toFile: state + "/rules.yml", atomically: true, encoding: .utf8)
        try #"{"prometheus": {"url": "\#(prometheus)"}, "rule_files": ["rules.yml"]}"#
            .write(toFile: state + "/config.json", atomically: true, encoding: .utf8)
        return try await harness.start(["--config", state + "/config.json", "--state-directory", state], notify: nil)
    }

    /// A counter's value in an exposition.
    static func counter(_ name: String, in metrics: String) -> Double? {
        metrics.split(separator: "\n").first { $0.hasPrefix(name + " ") }.flatMap { Double($0.split(separator: " ").last ?? "") }
    }

    @Test("a cycle of five rules runs few jobs on the task threads: a task moves onto a free actor and back on its own thread, not through the pool")
    func jobsPerCycle() async throws {
        let state = try DaemonTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: state) }
        try await withPrometheus(openMetrics: MeshScenario.live().openMetrics()) { prometheus async throws in
            var rules = "groups:\n- name: quick\n  interval: 1s\n  rules:\n"
            for index in 0..<5 { rules += "  - alert: Never\(index)\n    expr: vector(\(index)) > 10\n" }
            let daemon = try await start(rules: rules, prometheus: prometheus.url, state: state)
            defer { daemon.signal(SIGKILL) }
            let ready = await daemon.waitForLog(.seconds(120)) { $0["msg"] == "start-up pages released" }
            try #require(ready != nil, "log:\n\(daemon.log.suffix(3000))")
            func read() async throws -> (jobs: Double, cycles: Double) {
                let metrics = String(decoding: try await HTTPClient().get(daemon.statusURL("/metrics")).body, as: UTF8.self)
                let jobs = try #require(Self.counter("meshwatchd_task_jobs_total", in: metrics), "\(metrics)")
                let cycles = try #require(Self.counter("meshwatchd_rule_group_iterations_total{rule_group=\"quick\"}", in: metrics))
                #expect(Self.counter("meshwatchd_task_thread_wakeups_total", in: metrics) != nil)
                return (jobs, cycles)
            }
            let first = try await read()
            try await Task.sleep(for: .seconds(12))
            let second = try await read()
            let cycles = second.cycles - first.cycles
            try #require(cycles >= 5, "\(cycles) cycles in 12 s")
            let perCycle = (second.jobs - first.jobs) / cycles
            // Measured with this test (each window holds one /metrics request as well): 10.7 jobs
            // per cycle; 19.4 with the pool's jobs run on it as their task executor (every move
            // off an actor a new job, and a thread woken for it). The count does not depend on
            // how busy the machine is.
            #expect(perCycle < 15, "\(perCycle) jobs per cycle over \(cycles) cycles")
        }
    }
}
