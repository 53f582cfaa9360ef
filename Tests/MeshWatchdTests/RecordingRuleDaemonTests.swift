import Foundation
import MeshFixtures
import MeshHTTP
import MetricModel
import PromClient
import RemoteWrite
@testable import MeshWatchdCore
import Testing

/// Recording rules through the daemon and `replay`, against Debian's Prometheus 2.42 with its
/// remote-write receiver: the recorded series is written, read back by the rules after it in
/// its group and by other groups, and ALERTS is written beside it.
@Suite("Recording rules feed alerts through a real Prometheus's remote-write receiver")
struct RecordingRuleDaemonTests {
    static let rules = """
        groups:
          - name: recorded
            rules:
              - record: mesh:errors:ratio
                expr: vector(0.3)
                labels:
                  team: mesh
              - alert: ErrorsHighSameGroup
                expr: mesh:errors:ratio > 0.2
          - name: consumer
            rules:
              - alert: ErrorsHighOtherGroup
                expr: mesh:errors:ratio{team="mesh"} > 0.2
                labels:
                  severity: page
                annotations:
                  recorded: '{{ with query "sum(mesh:errors:ratio)" }}{{ . | first | value }}{{ end }}'
        """

    func configuration(_ directory: String, prometheus: String, extra: [String: Any] = [:]) throws -> String {
        try Self.rules.write(toFile: directory + "/rules.yml", atomically: true, encoding: .utf8)
        var object: [String: Any] = [
            "prometheus": ["url": prometheus], "remote_write": ["url": prometheus + "/api/v1/write"],
            "rule_files": ["rules.yml"], "evaluation_interval": "1s", "state_directory": "state",
        ]
        object.merge(extra) { $1 }
        let path = directory + "/config.json"
        try JSONSerialization.data(withJSONObject: object).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test("the daemon records, an alert later in the same group fires on the recording's first evaluation, another group's alert fires on it too, and ALERTS is queryable")
    func daemon() async throws {
        let directory = try DaemonTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try await withPrometheus(openMetrics: "# EOF\n", configuration: RemoteWriteReceiver.configuration,
                                 arguments: RemoteWriteReceiver.arguments) { server async throws in
            let config = try configuration(directory, prometheus: server.url)
            let daemon = try await DaemonTests().start(["--config", config], notify: nil)
            defer { daemon.signal(SIGTERM) }
            let http = HTTPClient()
            defer { http.shutdown() }
            var alerts: [[String: Any]] = []
            let deadline = ContinuousClock.now + .seconds(30)
            while ContinuousClock.now < deadline {
                let body = try? await http.get(daemon.statusURL("/api/v1/alerts")).body
                let object = body.flatMap { try? JSONSerialization.jsonObject(with: Data($0)) as? [String: Any] }
                alerts = ((object?["data"] as? [String: Any])?["alerts"] as? [[String: Any]]) ?? []
                if Set(alerts.compactMap { ($0["labels"] as? [String: String])?["alertname"] }) == ["ErrorsHighSameGroup", "ErrorsHighOtherGroup"] { break }
                try await Task.sleep(for: .milliseconds(200))
            }
            let same = try #require(alerts.first { ($0["labels"] as? [String: String])?["alertname"] == "ErrorsHighSameGroup" },
                                    "alerts: \(alerts)\nlog:\n\(daemon.log)")
            #expect(alerts.contains { ($0["labels"] as? [String: String]) == ["alertname": "ErrorsHighOtherGroup", "team": "mesh", "severity": "page"] })
            #expect(same["state"] as? String == "firing")

            // The recording's first sample is the group's first evaluation: the alert after it became
            // active then, so it read the series back within that evaluation.
            let client = try PrometheusClient(baseURL: server.url, http: http)
            guard case .matrix(let series) = try await client.query("mesh:errors:ratio[5m]", at: Date()).result else {
                Issue.record("no matrix")
                return
            }
            #expect(series.count == 1 && series.first?.labels == Labels(["__name__": "mesh:errors:ratio", "team": "mesh"]))
            let first = try #require(series.first?.points.first)
            let activeAt = try #require((same["activeAt"] as? String).flatMap(parseTime))
            #expect(abs(activeAt.timeIntervalSince1970 - Double(first.timestampMillis) / 1000) < 0.002,
                    "activeAt \(activeAt), first recorded sample at \(first.timestampMillis)")

            // ALERTS from the second evaluation on: as Prometheus, none before a fresh start's for clocks are restored.
            var names: Set<String> = []
            let alertsDeadline = ContinuousClock.now + .seconds(20)
            while ContinuousClock.now < alertsDeadline && names.count < 2 {
                if case .vector(let firing) = try await client.query("ALERTS{alertstate=\"firing\"}", at: Date()).result {
                    names = Set(firing.compactMap { $0.labels.first { $0.name == "alertname" }?.value })
                }
                try await Task.sleep(for: .milliseconds(200))
            }
            #expect(names == ["ErrorsHighSameGroup", "ErrorsHighOtherGroup"])
            guard case .vector(let forState) = try await client.query("ALERTS_FOR_STATE{alertname=\"ErrorsHighSameGroup\"}", at: Date()).result
            else { return }
            #expect(forState.first?.value == activeAt.timeIntervalSince1970.rounded(.down))

            let rules = try JSONSerialization.jsonObject(with: Data(try await http.get(daemon.statusURL("/api/v1/rules?type=record")).body)) as? [String: Any]
            let groups = (rules?["data"] as? [String: Any])?["groups"] as? [[String: Any]] ?? []
            #expect(groups.count == 1)
            let recording = (groups.first?["rules"] as? [[String: Any]])?.first
            #expect(recording?["type"] as? String == "recording" && recording?["health"] as? String == "ok")
            #expect(recording?["labels"] as? [String: String] == ["team": "mesh"])
            let metrics = String(decoding: try await http.get(daemon.statusURL("/metrics")).body, as: UTF8.self)
            #expect(metrics.contains("meshwatchd_remote_write_samples_total{result=\"dropped\"} 0"))
            // The template's query went through the daemon's Prometheus, and was counted.
            let other = alerts.first { ($0["labels"] as? [String: String])?["alertname"] == "ErrorsHighOtherGroup" }
            #expect((other?["annotations"] as? [String: String])?["recorded"] == "0.3", "\(other ?? [:])")
            let queried = metrics.split(separator: "\n").first { $0.hasPrefix("meshwatchd_template_queries_total{rule_group=\"consumer\"} ") }
            #expect(queried.flatMap { Double($0.split(separator: " ").last ?? "") }.map { $0 >= 1 } == true, "\(queried ?? "none")")

            // A reload with the same remote_write keeps the queue (what waits in it, its order, its counters).
            func sent() async throws -> Double {
                let text = String(decoding: try await http.get(daemon.statusURL("/metrics")).body, as: UTF8.self)
                let line = text.split(separator: "\n").first { $0.hasPrefix("meshwatchd_remote_write_samples_total{result=\"sent\"} ") }
                return line.flatMap { Double($0.split(separator: " ").last ?? "") } ?? -1
            }
            try await Task.sleep(for: .seconds(3))
            let before = try await sent()
            daemon.signal(SIGHUP)
            _ = await daemon.waitForLog(.seconds(15)) { $0["msg"] == "evaluating" && $0["config.reload"] == "true" }
            #expect(await daemon.waitForCycles(2, group: "recorded"))
            let after = try await sent()
            #expect(after > before, "sent \(before) before the reload, \(after) after: the queue was replaced")
            #expect(metrics.contains("meshwatchd_remote_write_samples_total{result=\"sent\"} ") && !metrics.contains("{result=\"sent\"} 0\n"))
        }
    }

    @Test("without remote_write a file with recording rules is refused, naming the rule and the two ways out; recording_rules: skip loads the rest with a warning at every level")
    func refusedOrSkipped() async throws {
        let directory = try DaemonTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let cli = CommandLineTests()
        let config = try configuration(directory, prometheus: "http://127.0.0.1:1", extra: ["remote_write": NSNull()])
        var object = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: config))) as! [String: Any]
        object.removeValue(forKey: "remote_write")
        try JSONSerialization.data(withJSONObject: object).write(to: URL(fileURLWithPath: config))
        for command in [["check-config", "--config", config], ["eval", "--config", config], ["run", "--config", config]] {
            // A daemon that starts anyway would run for ever: it is killed after 30 s and the test fails.
            let run = try await cli.meshwatchd(command, killAfter: .seconds(30))
            #expect(run.status == 78, "\(command): \(run.status) \(run.stdout) \(run.stderr)")
            let output = run.stdout + run.stderr
            #expect(output.contains("rules.yml:4:"), "\(command): \(output)")
            #expect(output.contains("recording rule \"mesh:errors:ratio\" needs remote_write"), "\(command): \(output)")
            #expect(output.contains("recording_rules: skip"))
        }
        object["recording_rules"] = "skip"
        try JSONSerialization.data(withJSONObject: object).write(to: URL(fileURLWithPath: config))
        let check = try await cli.meshwatchd(["check-config", "--config", config])
        #expect(check.status == 0, "\(check.stdout) \(check.stderr)")
        #expect(check.stdout.contains("warning: ") && check.stdout.contains("recording rule \"mesh:errors:ratio\" skipped (recording_rules: skip)"))
        #expect(check.stdout.contains("2 rules in 2 groups"), "\(check.stdout)")
        let eval = try await cli.meshwatchd(["eval", "--config", config])
        #expect(eval.stderr.contains("recording rule \"mesh:errors:ratio\" skipped"), "\(eval.stderr)")

        object["recording_rules"] = "sometimes"
        try JSONSerialization.data(withJSONObject: object).write(to: URL(fileURLWithPath: config))
        let wrong = try await cli.meshwatchd(["check-config", "--config", config])
        #expect(wrong.status == 78)
        #expect((wrong.stdout + wrong.stderr).contains("recording_rules: expected evaluate or skip, got \"sometimes\""), "\(wrong.stdout) \(wrong.stderr)")
    }
}

extension RecordingRuleDaemonTests {
    @Test("with no stored state, for clocks come back from ALERTS_FOR_STATE as Prometheus restores them; with stored state, the store wins")
    func restoreFromAlertsForState() async throws {
        let directory = try DaemonTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try await withPrometheus(openMetrics: "# EOF\n", configuration: RemoteWriteReceiver.configuration,
                                 arguments: RemoteWriteReceiver.arguments) { server async throws in
            let rules = """
                groups:
                  - name: held
                    rules:
                      - alert: HeldLong
                        expr: vector(1)
                        for: 15m
                        labels:
                          team: mesh
                      - alert: HeldGone
                        expr: vector(1)
                        for: 15m
                      - alert: HeldHuge
                        expr: vector(1)
                        for: 15m
                """
            let config = try configuration(directory, prometheus: server.url)
            try rules.write(toFile: directory + "/rules.yml", atomically: true, encoding: .utf8)
            // What an earlier meshwatchd (or Prometheus) wrote before it stopped 30 s ago: active for 20 minutes then.
            let now = Date().timeIntervalSince1970.rounded(.down)
            let http = HTTPClient()
            defer { http.shutdown() }
            let writer = RemoteWriteQueue(settings: RemoteWriteSettings(url: server.url + "/api/v1/write"), http: http,
                                          logger: RemoteWriteTests.logger)
            let labels = Labels(["__name__": "ALERTS_FOR_STATE", "alertname": "HeldLong", "team": "mesh"])
            try await writer.write([Sample(labels: labels, point: SamplePoint(timestampMillis: Int64((now - 30) * 1000), value: now - 1230))])
            // An alert that resolved before the outage (its series ended with a staleness marker one
            // evaluation later), and a value no alert can have been active since.
            let gone = Labels(["__name__": "ALERTS_FOR_STATE", "alertname": "HeldGone"])
            try await writer.write([
                Sample(labels: gone, point: SamplePoint(timestampMillis: Int64((now - 300) * 1000), value: now - 1230)),
                Sample(labels: gone, point: SamplePoint(timestampMillis: Int64((now - 299) * 1000), value: WriteRequestEncoding.staleNaN)),
                Sample(labels: Labels(["__name__": "ALERTS_FOR_STATE", "alertname": "HeldHuge"]),
                       point: SamplePoint(timestampMillis: Int64((now - 30) * 1000), value: -1e300)),
            ])

            let daemon = try await DaemonTests().start(["--config", config], notify: nil)
            let firing = await daemon.waitForLog(.seconds(30)) { $0["msg"] == "alert firing" && $0["rule.name"] == "HeldLong" }
            // The cycle logs a transition before it publishes the cycle's state to the API: read
            // the API until it shows the firing too (the cycle before showed HeldLong pending).
            var alerts: [String: Any]?
            var listed: [[String: Any]] = []
            let deadline = ContinuousClock.now + .seconds(30)
            repeat {
                alerts = try JSONSerialization.jsonObject(with: Data(try await http.get(daemon.statusURL("/api/v1/alerts")).body)) as? [String: Any]
                listed = (alerts?["data"] as? [String: Any])?["alerts"] as? [[String: Any]] ?? []
                if listed.contains(where: { ($0["labels"] as? [String: String])?["alertname"] == "HeldLong" && $0["state"] as? String == "firing" }) { break }
                try await Task.sleep(for: .milliseconds(100))
            } while ContinuousClock.now < deadline
            let pending = listed.filter { $0["state"] as? String == "pending" }
            // Neither the ended series nor the impossible value restored a clock: both wait out their for from now.
            #expect(Set(pending.compactMap { ($0["labels"] as? [String: String])?["alertname"] }) == ["HeldGone", "HeldHuge"], "\(alerts ?? [:])")
            for alert in pending {
                #expect((alert["activeAt"] as? String).flatMap(parseTime).map { abs($0.timeIntervalSince1970 - now) < 60 } == true, "\(alert)")
            }
            daemon.signal(SIGTERM)
            _ = await daemon.process.waitForExit()
            #expect(firing != nil, "log:\n\(daemon.log)")
            // activeAt is the restored one: 20 minutes before the outage, in whole seconds.
            #expect(firing?["alert.active_at"].flatMap(parseTime).map { abs($0.timeIntervalSince1970 - (now - 1230)) < 1 } == true,
                    "\(firing ?? [:])")
            #expect(daemon.log.contains("for clocks restored from ALERTS_FOR_STATE"))

            // A second start finds the state the first one saved: the store wins, ALERTS_FOR_STATE is not read.
            let again = try await DaemonTests().start(["--config", config], notify: nil)
            let restored = await again.waitForLog(.seconds(30)) { $0["msg"] == "alert state restored" }
            again.signal(SIGTERM)
            _ = await again.process.waitForExit()
            #expect(restored != nil, "log:\n\(again.log)")
            #expect(!again.log.contains("for clocks restored from ALERTS_FOR_STATE"))
            #expect(!again.logLines.contains { $0["msg"] == "alert firing" }, "fired again:\n\(again.log)")
        }
    }
}

extension RecordingRuleDaemonTests {
    @Test("with the remote-write receiver down, evaluation goes on: the recording rule fails for its cycle (one wait, then at once), the alert after it fires, the samples wait in the queue")
    func receiverDown() async throws {
        let directory = try DaemonTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try await withPrometheus(openMetrics: "# EOF\n") { server async throws in
            let config = try configuration(directory, prometheus: server.url)
            let rules = """
                groups:
                  - name: recorded
                    rules:
                      - record: mesh:one
                        expr: vector(1)
                      - alert: AfterRecording
                        expr: vector(1)
                """
            try rules.write(toFile: directory + "/rules.yml", atomically: true, encoding: .utf8)
            var object = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: config))) as! [String: Any]
            // Nothing listens on port 1: every request is refused and retried.
            object["remote_write"] = ["url": "http://127.0.0.1:1/api/v1/write"]
            try JSONSerialization.data(withJSONObject: object).write(to: URL(fileURLWithPath: config))
            let daemon = try await DaemonTests().start(["--config", config], notify: nil)
            defer { daemon.signal(SIGTERM) }
            let fired = await daemon.waitForLog(.seconds(30)) { $0["msg"] == "alert firing" && $0["rule.name"] == "AfterRecording" }
            #expect(fired != nil, "log:\n\(daemon.log)")
            #expect(await daemon.waitForCycles(2, group: "recorded", timeout: .seconds(30)), "log:\n\(daemon.log)")
            let http = HTTPClient()
            defer { http.shutdown() }
            let rulesBody = try JSONSerialization.jsonObject(with: Data(try await http.get(daemon.statusURL("/api/v1/rules?type=record")).body)) as? [String: Any]
            let recording = (((rulesBody?["data"] as? [String: Any])?["groups"] as? [[String: Any]])?.first?["rules"] as? [[String: Any]])?.first
            #expect(recording?["health"] as? String == "err")
            // The first write waited an interval; after it the rule is told at once while the receiver fails.
            let lastError = recording?["lastError"] as? String ?? ""
            #expect(lastError.hasPrefix("remote write failing; samples queued") || lastError.hasPrefix("remote write not acknowledged within 1s"),
                    "\(recording ?? [:])")
            #expect(daemon.log.contains("remote write failed; retrying"))
            let metrics = String(decoding: try await http.get(daemon.statusURL("/metrics")).body, as: UTF8.self)
            #expect(!metrics.contains("meshwatchd_remote_write_queued_samples 0\n"), "nothing queued?")
        }
    }
}

extension RecordingRuleDaemonTests {
    @Test("a reload that removes a recording rule ends its series with a staleness marker at once, not after the 5-minute lookback")
    func removedRuleGoesStale() async throws {
        let directory = try DaemonTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try await withPrometheus(openMetrics: "# EOF\n", configuration: RemoteWriteReceiver.configuration,
                                 arguments: RemoteWriteReceiver.arguments) { server async throws in
            let config = try configuration(directory, prometheus: server.url)
            func rules(_ records: [String]) throws {
                let text = "groups:\n  - name: recorded\n    rules:\n" + records.map { "      - record: \($0)\n        expr: vector(5)\n" }.joined()
                try text.write(toFile: directory + "/rules.yml", atomically: true, encoding: .utf8)
            }
            try rules(["mesh:kept", "mesh:removed"])
            let daemon = try await DaemonTests().start(["--config", config], notify: nil)
            defer { daemon.signal(SIGTERM) }
            let http = HTTPClient()
            defer { http.shutdown() }
            let client = try PrometheusClient(baseURL: server.url, http: http)
            func present(_ name: String) async throws -> Bool {
                guard case .vector(let samples) = try await client.query(name, at: Date()).result else { return false }
                return !samples.isEmpty
            }
            var seen = false
            let deadline = ContinuousClock.now + .seconds(20)
            while ContinuousClock.now < deadline, !seen {
                seen = try await present("mesh:removed")
                try await Task.sleep(for: .milliseconds(200))
            }
            #expect(seen, "never recorded; log:\n\(daemon.log)")
            try rules(["mesh:kept"])
            daemon.signal(SIGHUP)
            _ = await daemon.waitForLog(.seconds(15)) { $0["msg"] == "series of removed rules marked stale" }
            #expect(await daemon.waitForCycles(1, group: "recorded"))
            try await Task.sleep(for: .milliseconds(300))
            #expect(try await present("mesh:removed") == false, "still visible after the reload; log:\n\(daemon.log)")
            #expect(try await present("mesh:kept"))
        }
    }
}
