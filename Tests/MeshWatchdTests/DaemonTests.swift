import Foundation
import MeshFixtures
import MeshHTTP
import MeshPacks
@testable import MeshWatchdCore
import Testing

/// `meshwatchd run` as systemd runs it, against the real Prometheus over data placed around
/// the current time (the daemon evaluates at the wall clock).
@Suite("The daemon: lifecycle, systemd notifications, reload, restart")
struct DaemonTests {
    static let binary = CommandLineTests.binary

    struct Daemon {
        let process: ChildProcess
        /// The status listener's port.
        var port = 0

        func statusURL(_ path: String) -> String { "http://127.0.0.1:\(port)\(path)" }
        var log: String { process.stderrTail(limit: 1_000_000) }
        /// The log's JSON lines, each value as text (numbers and flags as written, label sets as `{name="value", …}`).
        var logLines: [[String: String]] { log.split(separator: "\n").compactMap { LogField.line($0) } }

        func signal(_ number: Int32) { kill(process.processIdentifier, number) }

        /// Cycles `group` has completed, from /metrics (0 while it does not answer).
        func iterations(_ group: String) async -> Int {
            guard let response = try? await HTTPClient().get(statusURL("/metrics")) else { return 0 }
            let prefix = "meshwatchd_rule_group_iterations_total{rule_group=\"\(group)\"} "
            let line = String(decoding: response.body, as: UTF8.self).split(separator: "\n").first { $0.hasPrefix(prefix) }
            return line.flatMap { Int($0.dropFirst(prefix.count)) } ?? 0
        }

        /// Waits until `group` has completed `count` more cycles than it had when called: the
        /// progress a test proves before it asserts that something did not happen.
        func waitForCycles(_ count: Int, group: String, timeout: Duration = .seconds(60)) async -> Bool {
            let start = await iterations(group)
            let deadline = ContinuousClock.now + timeout
            while ContinuousClock.now < deadline {
                if await iterations(group) >= start + count { return true }
                try? await Task.sleep(for: .milliseconds(100))
            }
            return false
        }

        func waitForLog(_ timeout: Duration, _ condition: ([String: String]) -> Bool) async -> [String: String]? {
            let deadline = ContinuousClock.now + timeout
            while ContinuousClock.now < deadline {
                if let line = logLines.first(where: condition) { return line }
                try? await Task.sleep(for: .milliseconds(100))
            }
            return nil
        }
    }

    func start(_ arguments: [String], notify: NotifySocket?, watchdogMicroseconds: Int? = nil, port: Int? = nil,
               executable: String = Self.binary) async throws -> Daemon {
        var environment = ProcessInfo.processInfo.environment
        environment["NOTIFY_SOCKET"] = notify?.path
        environment["WATCHDOG_USEC"] = watchdogMicroseconds.map(String.init)
        environment.removeValue(forKey: "JOURNAL_STREAM")
        // Given no port, the daemon listens on one the kernel picks (port 0) and the test reads it
        // from the listener's log line: a port found free beforehand could be taken by another
        // test before the daemon bound it.
        let process = try await ChildProcess.launch(name: "meshwatchd", executable: executable,
                                                    arguments: ["run", "--log-format", "json", "--listen", "127.0.0.1:\(port ?? 0)"] + arguments,
                                                    environment: environment)
        // Given a port or not, the daemon has started (its listener's line is in the log) when
        // this returns: on a busy machine a debug build can take many seconds to get there, and a
        // test's next wait is for what the daemon does, not for the process to start.
        let listening = await Self.listeningPort(of: process)
        return Daemon(process: process, port: port ?? listening ?? 0)
    }

    /// The port in the status listener's "listening on 127.0.0.1:N" line of `process`'s log, once
    /// it is there (nil if the process exits or 120 s pass first: a busy machine may take long
    /// to start a debug build).
    static func listeningPort(of process: ChildProcess, timeout: Duration = .seconds(120)) async -> Int? {
        let deadline = ContinuousClock.now + timeout
        let marker = "listening on 127.0.0.1:"
        while ContinuousClock.now < deadline {
            let log = process.stderrTail(limit: 1_000_000)
            if let range = log.range(of: marker) {
                let digits = log[range.upperBound...].prefix { $0.isNumber }
                if let port = Int(digits), port > 0 { return port }
            }
            if !process.isRunning { return nil }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return nil
    }

    /// One client for every start's probe (each HTTPClient has a transfer thread of its own).
    static let probe = HTTPClient(configuration: .init(timeout: .seconds(5)))

    func packArguments(_ url: String, state: String) -> [String] {
        ["--prometheus", url, "--pack", "istio", "--set", "interval=1s", "--set", "error_rate.for=3s",
         "--state-directory", state]
    }

    static func temporaryDirectory() throws -> String {
        let path = NSTemporaryDirectory() + "meshwatchd-state-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    func isReviewsErrorRate(_ line: [String: String]) -> Bool {
        line["rule.name"] == "IstioHighErrorRate" && (line["alert.labels"] ?? "").contains("destination_workload=\"reviews\"")
    }

    @Test("READY after the first cycle, STATUS, WATCHDOG pings, pending then firing after `for`, RELOADING on SIGHUP, STOPPING and exit 0 on SIGTERM")
    func lifecycle() async throws {
        let state = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: state) }
        try await withPrometheus(openMetrics: MeshScenario.live().openMetrics()) { server async throws in
            let notify = try NotifySocket()
            let daemon = try await start(packArguments(server.url, state: state), notify: notify, watchdogMicroseconds: 1_000_000)
            let ready = await notify.wait(for: .seconds(20)) { $0.contains("READY=1") }
            #expect(ready != nil, "no READY=1; log:\n\(daemon.log)")
            #expect(ready?.message.contains("STATUS=\(RulePack.withDefaults("istio").definitions.count) rules in 1 groups") == true, "\(ready?.message ?? "")")
            #expect(await notify.wait(for: .seconds(30)) { $0 == "WATCHDOG=1" } != nil)
            // Under systemd, libsystemd was loaded for these (`CSystemd`).
            let maps = ProcFile.read("/proc/\(daemon.process.processIdentifier)/maps") ?? ""
            #expect(maps.contains("libsystemd.so.0"))

            let pending = await daemon.waitForLog(.seconds(15)) { isReviewsErrorRate($0) && $0["msg"] == "alert pending" }
            let firing = await daemon.waitForLog(.seconds(15)) { isReviewsErrorRate($0) && $0["msg"] == "alert firing" }
            #expect(firing != nil, "log:\n\(daemon.log)")
            #expect(firing?["alert.active_at"] == pending?["alert.active_at"])
            #expect(pending?["alert.active_at"].flatMap(parseTime) != nil)
            #expect(firing?["level"] == "info" && firing?["rule.group"] == "meshwatchd-istio")

            let beforeReload = notify.received.count
            daemon.signal(SIGHUP)
            let reloading = await notify.wait(for: .seconds(30), after: beforeReload) { $0.hasPrefix("RELOADING=1") }
            #expect(reloading != nil)
            #expect(await notify.wait(for: .seconds(15), after: reloading?.index ?? 0) { $0.contains("READY=1") } != nil)
            // A good reload keeps the state of unchanged rules: reviews neither goes pending nor fires again.
            let transitionsBefore = daemon.logLines.filter(isReviewsErrorRate).count
            try await Task.sleep(for: .seconds(3))
            #expect(daemon.logLines.filter(isReviewsErrorRate).count == transitionsBefore, "log:\n\(daemon.log)")
            #expect(daemon.log.contains("\"config.reload\":true"))
            // Typed values on the wire: the firing line's labels an object, its value a number.
            let raw = daemon.log.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
                .first { $0["msg"] as? String == "alert firing" && ($0["alert.labels"] as? [String: String])?["destination_workload"] == "reviews" }
            #expect((raw?["alert.value"] as? Double).map { abs($0 - 0.12) < 0.01 } == true, "\(raw ?? [:])")
            #expect((raw?["alert.labels"] as? [String: String])?["alertname"] == "IstioHighErrorRate")

            let stopAt = ContinuousClock.now
            daemon.signal(SIGTERM)
            let status = await daemon.process.waitForExit()
            #expect(status == 0, "log:\n\(daemon.log)")
            #expect(ContinuousClock.now - stopAt < .seconds(10))
            #expect(notify.received.contains("STOPPING=1"))
            #expect(daemon.log.contains("alert state saved"))
        }
    }

    @Test("the watchdog follows the evaluation interval: with groups every 5 min and the unit's 90 s, the daemon asks for 10 min")
    func watchdogFollowsInterval() async throws {
        let state = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: state) }
        try await withPrometheus(openMetrics: MeshScenario.live().openMetrics()) { server async throws in
            let notify = try NotifySocket()
            let daemon = try await start(["--prometheus", server.url, "--pack", "istio", "--set", "interval=5m", "--state-directory", state],
                                         notify: notify, watchdogMicroseconds: 90_000_000)
            defer { daemon.signal(SIGKILL) }
            let asked = await notify.wait(for: .seconds(30)) { $0.hasPrefix("WATCHDOG_USEC=") }
            #expect(asked?.message == "WATCHDOG_USEC=600000000\nWATCHDOG=1", "\(notify.received); log:\n\(daemon.log.suffix(2000))")
        }
    }

    @Test("kill -9 and restart keeps the for clock and does not fire again")
    func restartKeepsState() async throws {
        let state = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: state) }
        try await withPrometheus(openMetrics: MeshScenario.live().openMetrics()) { server async throws in
            let first = try await start(packArguments(server.url, state: state), notify: nil)
            let firing = await first.waitForLog(.seconds(25)) { isReviewsErrorRate($0) && $0["msg"] == "alert firing" }
            #expect(firing != nil, "log:\n\(first.log)")
            first.signal(SIGKILL)
            _ = await first.process.waitForExit()

            let second = try await start(packArguments(server.url, state: state), notify: nil)
            let restored = await second.waitForLog(.seconds(15)) { $0["msg"] == "alert state restored" }
            #expect(Int(restored?["state.restored_instances"] ?? "0") ?? 0 >= 1, "log:\n\(second.log)")
            // Progress first: several cycles after the restore, each of which would have fired it again.
            #expect(await second.waitForCycles(4, group: "meshwatchd-istio"), "log:\n\(second.log)")
            #expect(!second.logLines.contains { isReviewsErrorRate($0) && ($0["msg"] == "alert firing" || $0["msg"] == "alert pending") },
                    "log:\n\(second.log)")
            second.signal(SIGTERM)
            #expect(await second.process.waitForExit() == 0)
        }
    }

    @Test("SIGHUP with a broken configuration keeps the daemon running on the old one")
    func brokenReload() async throws {
        let state = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: state) }
        try await withPrometheus(openMetrics: MeshScenario.live().openMetrics()) { server async throws in
            let config = state + "/config.json"
            try #"{"prometheus": {"url": "\#(server.url)"}, "packs": {"istio": {"parameters": {"interval": "1s"}}}}"#
                .write(toFile: config, atomically: true, encoding: .utf8)
            let notify = try NotifySocket()
            let daemon = try await start(["--config", config, "--state-directory", state], notify: notify)
            #expect(await notify.wait(for: .seconds(20)) { $0.contains("READY=1") } != nil, "log:\n\(daemon.log)")
            try #"{"prometheus": {"url": 42}}"#.write(toFile: config, atomically: true, encoding: .utf8)
            daemon.signal(SIGHUP)
            let failed = await daemon.waitForLog(.seconds(30)) { $0["msg"] == "reload failed; the previous configuration keeps running" }
            #expect(failed?["error"]?.contains("prometheus.url: expected String") == true, "log:\n\(daemon.log)")
            let cyclesBefore = notify.received.filter { $0.hasPrefix("STATUS=") }.count
            try await Task.sleep(for: .seconds(3))
            #expect(daemon.process.isRunning)
            #expect(notify.received.filter { $0.hasPrefix("STATUS=") }.count > cyclesBefore)
            daemon.signal(SIGTERM)
            #expect(await daemon.process.waitForExit() == 0)
        }
    }

    @Test("a wrong configuration refuses to start with exit 78 and the key path")
    func wrongConfiguration() async throws {
        let state = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: state) }
        for (json, keyPath) in [(#"{"log": {"level": "loud"}}"#, "log.level"), (#"{"query_timeout": "soon"}"#, "query_timeout"),
                                (#"{"packs": {"istio": {"parameters": {"latency.p95_ms": "fast"}}}}"#, "latency.p95_ms")] {
            try json.write(toFile: state + "/config.json", atomically: true, encoding: .utf8)
            let daemon = try await start(["--config", state + "/config.json", "--prometheus", "http://127.0.0.1:1",
                                          "--state-directory", state], notify: nil)
            #expect(await daemon.process.waitForExit() == 78)
            #expect(daemon.log.contains(keyPath), "\(daemon.log)")
        }
    }

    @Test("/healthz, /readyz, /metrics (valid for promtool) and /api/v1/alerts and /api/v1/rules in Prometheus's shapes")
    func statusEndpoints() async throws {
        let state = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: state) }
        try await withPrometheus(openMetrics: MeshScenario.live().openMetrics()) { server async throws in
            let daemon = try await start(packArguments(server.url, state: state), notify: nil)
            let http = HTTPClient()
            func get(_ path: String) async throws -> HTTPResponse { try await http.get(daemon.statusURL(path)) }
            #expect(await daemon.waitForLog(.seconds(25)) { isReviewsErrorRate($0) && $0["msg"] == "alert firing" } != nil,
                    "log:\n\(daemon.log)")
            #expect(try await get("/healthz").status == 200)
            // Not started by systemd (no NOTIFY_SOCKET, WATCHDOG_USEC or journal): libsystemd is
            // never loaded, nor the libraries it needs.
            let maps = ProcFile.read("/proc/\(daemon.process.processIdentifier)/maps") ?? ""
            #expect(maps.contains("libcurl") && !maps.contains("libsystemd"), "libsystemd mapped without systemd:\n\(maps)")
            let ready = try await get("/readyz")
            #expect(ready.status == 200, "\(String(decoding: ready.body, as: UTF8.self))")

            // The firing is announced as soon as its rule's state is saved; /metrics shows the group
            // once its whole cycle is done.
            let firingLine = "meshwatchd_alerts{alertname=\"IstioHighErrorRate\",state=\"firing\"} 1"
            var metrics = try await get("/metrics")
            for _ in 0..<100 where !String(decoding: metrics.body, as: UTF8.self).contains(firingLine) {
                try await Task.sleep(for: .milliseconds(100))
                metrics = try await get("/metrics")
            }
            let text = String(decoding: metrics.body, as: UTF8.self)
            #expect(metrics.header("Content-Type")?.hasPrefix("text/plain; version=0.0.4") == true)
            #expect(text.contains("meshwatchd_alerts{alertname=\"IstioHighErrorRate\",state=\"firing\"} 1"), "\(text)")
            #expect(text.contains("meshwatchd_ready 1"))
            // The standard process metrics (from /proc) and how the configuration last loaded, linted with the rest.
            for family in ["process_cpu_seconds_total ", "process_resident_memory_bytes ", "process_open_fds ", "process_max_fds ",
                           "process_start_time_seconds ", "process_virtual_memory_bytes ", "meshwatchd_config_last_reload_successful 1",
                           "meshwatchd_config_last_reload_success_timestamp_seconds ", "meshwatchd_config_reloads_total{result=\"failure\"} 0",
                           // Latency histograms: each group's cycles, the rules' queries, each sink from zero.
                           "# TYPE meshwatchd_rule_group_duration_seconds histogram", "# TYPE meshwatchd_prometheus_query_duration_seconds histogram",
                           "# TYPE meshwatchd_notification_delivery_duration_seconds histogram",
                           // Counters from zero for every label set known before the first event.
                           "meshwatchd_remediation_outcomes_total{action=\"scale\",outcome=\"dry-run\"} 0",
                           "meshwatchd_rule_evaluation_failures_total{rule_group=\"meshwatchd-istio\",rule_name=\"IstioHighLatency\"} 0"] {
                #expect(text.contains("\n" + family), "\(family) missing")
            }
            #expect(text.contains("meshwatchd_rule_group_duration_seconds_count{rule_group=\"meshwatchd-istio\"} "), "\(text)")
            #expect(!text.contains("meshwatchd_prometheus_query_duration_seconds_count 0\n"), "queries were observed")
            let file = state + "/metrics.txt"
            try text.write(toFile: file, atomically: true, encoding: .utf8)
            let check = try await ChildProcess.run("/bin/sh", ["-c", "/usr/bin/promtool check metrics < \(file)"])
            #expect(check.status == 0, "promtool check metrics: \(check.output)")

            let alerts = try JSONSerialization.jsonObject(with: Data(try await get("/api/v1/alerts").body)) as? [String: Any]
            #expect(alerts?["status"] as? String == "success")
            let list = ((alerts?["data"] as? [String: Any])?["alerts"] as? [[String: Any]]) ?? []
            let reviews = list.first { ($0["labels"] as? [String: String])?["destination_workload"] == "reviews"
                && ($0["labels"] as? [String: String])?["alertname"] == "IstioHighErrorRate" }
            #expect(Set(reviews?.keys.map { $0 } ?? []) == ["labels", "annotations", "state", "activeAt", "value"])
            #expect(reviews?["state"] as? String == "firing")
            #expect((reviews?["value"] as? String).flatMap(Double.init).map { abs($0 - 0.12) < 0.01 } == true)
            #expect((reviews?["activeAt"] as? String).flatMap(parseTime) != nil)

            let rules = try JSONSerialization.jsonObject(with: Data(try await get("/api/v1/rules").body)) as? [String: Any]
            let groups = ((rules?["data"] as? [String: Any])?["groups"] as? [[String: Any]]) ?? []
            #expect(groups.first?["name"] as? String == "meshwatchd-istio")
            #expect(groups.first?["interval"] as? Double == 1)
            let errorRule = (groups.first?["rules"] as? [[String: Any]])?.first { $0["name"] as? String == "IstioHighErrorRate" }
            #expect(errorRule?["state"] as? String == "firing")
            #expect(errorRule?["health"] as? String == "ok")
            #expect(errorRule?["type"] as? String == "alerting")
            #expect(errorRule?["duration"] as? Double == 3)
            #expect((errorRule?["evaluationTime"] as? Double).map { $0 > 0 } == true)
            #expect((errorRule?["lastEvaluation"] as? String).flatMap(parseTime) != nil)
            #expect((groups.first?["evaluationTime"] as? Double).map { $0 > 0 } == true)
            #expect((groups.first?["lastEvaluation"] as? String).flatMap(parseTime) != nil)
            // The filters, through the listener: one rule by name; a bad type is Prometheus's 400.
            let filtered = try JSONSerialization.jsonObject(with: Data(try await get("/api/v1/rules?type=alert&rule_name%5B%5D=IstioHighErrorRate").body)) as? [String: Any]
            let filteredGroups = ((filtered?["data"] as? [String: Any])?["groups"] as? [[String: Any]]) ?? []
            #expect(filteredGroups.flatMap { $0["rules"] as? [[String: Any]] ?? [] }.map { $0["name"] as? String } == ["IstioHighErrorRate"])
            let bad = try await get("/api/v1/rules?type=recording")
            #expect(bad.status == 400)
            let badBody = try JSONSerialization.jsonObject(with: Data(bad.body)) as? [String: Any]
            #expect(badBody?["errorType"] as? String == "bad_data")
            #expect(badBody?["error"] as? String == #"invalid parameter "type": not supported value "recording""#)
            daemon.signal(SIGTERM)
            #expect(await daemon.process.waitForExit() == 0)
        }
    }
}

/// One value of a JSON log line, as text, whatever its JSON type.
struct LogField: Decodable {
    let text: String

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let string = try? container.decode(String.self) { text = string }
        else if let flag = try? container.decode(Bool.self) { text = flag ? "true" : "false" }
        else if let integer = try? container.decode(Int.self) { text = String(integer) }
        else if let number = try? container.decode(Double.self) { text = String(number) }
        else if let labels = try? container.decode([String: String].self) {
            text = "{" + labels.sorted { $0.key < $1.key }.map { "\($0.key)=\"\($0.value)\"" }.joined(separator: ", ") + "}"
        } else { text = "" }
    }

    static func line(_ text: Substring) -> [String: String]? {
        (try? JSONDecoder().decode([String: LogField].self, from: Data(text.utf8)))?.mapValues(\.text)
    }
}
