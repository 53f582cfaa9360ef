import MetricModel
import GoTemplate
import AlertEngine
import Foundation
import MeshFixtures
import MeshHTTP
import PromClient
@testable import MeshWatchdCore
import Testing
import Yams

/// `conformance/cases`: promtool unit-test files that `promtool test rules` passes, replayed by
/// `meshwatchd replay` against a real Prometheus holding the same input series, with the same
/// expectations. Cases marked `# meshwatchd-only:` hold behaviour promtool 2.42 cannot run
/// (`query_offset`, group `labels`, `limit`, group intervals); their expectations come from
/// Prometheus's documentation and source, as each file says.
@Suite("Conformance cases: promtool test rules, and meshwatchd replay against a real Prometheus, expect the same")
struct ConformanceTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path + "/conformance/cases"

    static let limiter = QueryLimiter(limit: 2)

    static var cases: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).filter {
            FileManager.default.fileExists(atPath: root + "/" + $0 + "/test.yml")
        }.sorted()
    }

    static func isMeshwatchdOnly(_ name: String) -> Bool {
        let text = (try? String(contentsOfFile: root + "/" + name + "/test.yml", encoding: .utf8)) ?? ""
        return text.hasPrefix("# meshwatchd-only:")
    }

    /// Cases listed in `conformance/known-failures.txt`, with the issue that will fix them.
    static var knownFailures: [String: String] {
        let text = (try? String(contentsOfFile: root + "/../known-failures.txt", encoding: .utf8)) ?? ""
        var known: [String: String] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let parts = line.split(separator: " ", maxSplits: 1).map(String.init)
            if parts.count == 2 { known[parts[0]] = parts[1] }
        }
        return known
    }

    @Test("there are at least 30 promtool cases and 5 meshwatchd-only ones")
    func enoughCases() {
        let promtool = Self.cases.filter { !Self.isMeshwatchdOnly($0) }
        #expect(promtool.count >= 30, "\(promtool.count) promtool cases")
        #expect(Self.cases.count - promtool.count >= 5)
    }

    @Test("each case: promtool test rules passes (unless meshwatchd-only), and meshwatchd replay expects the same", arguments: cases)
    func conformance(name: String) async throws {
        let directory = Self.root + "/" + name
        let meshwatchdOnly = Self.isMeshwatchdOnly(name)
        var promtoolResult = "meshwatchd-only"
        if !meshwatchdOnly {
            let (status, output) = try await ChildProcess.run("/usr/bin/promtool", ["test", "rules", "test.yml"], workingDirectory: directory)
            #expect(status == 0, "promtool test rules failed for \(name):\n\(output)")
            promtoolResult = status == 0 ? "promtool pass" : "promtool FAIL"
        }
        let file = try PromtoolTestFile.load(directory + "/test.yml")
        var mismatches: [String] = []
        var checked = 0, failed = 0
        var exprMismatches: [Int: [String]] = [:]
        if let order = file.group_eval_order {
            var names: [String] = []
            for ruleFile in file.rule_files {
                let text = try String(contentsOfFile: directory + "/" + ruleFile, encoding: .utf8)
                let groups = (try Yams.load(yaml: text) as? [String: Any])?["groups"] as? [[String: Any]] ?? []
                names += groups.compactMap { $0["name"] as? String }
            }
            #expect(order == names, "\(name): group_eval_order \(order) is not the file order \(names), which meshwatchd's replay follows")
        }
        for (index, group) in file.tests.enumerated() {
            var failure: String?
            var exprFailures: [String] = []
            let found = try await replay(file: file, group: group, directory: directory, failure: &failure, exprMismatches: &exprFailures)
            exprMismatches[index] = exprFailures
            if let failure { mismatches.append("test \(index + 1): \(failure)") }
            for mismatch in exprMismatches[index] ?? [] {
                checked += 1
                failed += 1
                mismatches.append("test \(index + 1): \(mismatch)")
            }
            checked += (group.promql_expr_test ?? []).count - (exprMismatches[index] ?? []).count
            for check in group.alert_rule_test ?? [] {
                checked += 1
                let before = mismatches.count
                defer { if mismatches.count > before || failure != nil { failed += 1 } }
                let label = "test \(index + 1), \(check.alertname) at \(check.eval_time)"
                guard let snapshot = found[PrometheusDuration.parse(check.eval_time)!.seconds] else {
                    mismatches.append("\(label): no snapshot from meshwatchd replay")
                    continue
                }
                let expected = Set((check.exp_alerts ?? []).map {
                    PromtoolTestFile.ExpectedAlert(exp_labels: ($0.exp_labels ?? [:]).merging(["alertname": check.alertname]) { a, _ in a },
                                                   exp_annotations: $0.exp_annotations ?? [:])
                })
                let got = snapshot.firing[check.alertname] ?? []
                if got != expected {
                    mismatches.append("\(label): expected \(Self.describe(expected)), meshwatchd has \(Self.describe(got))")
                }
                let told = snapshot.firingFromTransitions.filter { $0.hasPrefix(check.alertname + "{") }
                let state = snapshot.firingKeys.filter { $0.hasPrefix(check.alertname + "{") }
                if told != state {
                    mismatches.append("\(label): the transitions printed say \(told.sorted()) fire, the state says \(state.sorted())")
                }
                let rules = snapshot.rules.filter { $0.name == check.alertname }
                if let health = check.exp_rule_health, rules.isEmpty || !rules.allSatisfy({ $0.health == health }) {
                    mismatches.append("\(label): expected rule health \(health), meshwatchd has \(rules.map(\.health))")
                }
                if let error = check.exp_rule_error, !rules.contains(where: { $0.error == error }) {
                    mismatches.append("\(label): expected rule error \"\(error)\", meshwatchd has \(rules.map { $0.error ?? "none" })")
                }
            }
        }
        #expect(checked > 0, "\(name) checks nothing")
        if let known = Self.knownFailures[name] {
            // Expected to fail until its issue lands; passing makes this test fail, so the line goes.
            print("conformance KNOWN \(name): \(promtoolResult), meshwatchd \(checked - failed)/\(checked) checks (issue \(known))")
            withKnownIssue("issue \(known)") {
                for mismatch in mismatches { Issue.record(Comment(rawValue: "\(name): \(mismatch)")) }
            }
            return
        }
        let verdict = mismatches.isEmpty ? "PASS" : "FAIL"
        print("conformance \(verdict) \(name): \(promtoolResult), meshwatchd \(checked - failed)/\(checked) checks")
        for mismatch in mismatches { Issue.record(Comment(rawValue: "\(name): \(mismatch)")) }
    }

    struct Snapshot {
        var firing: [String: Set<PromtoolTestFile.ExpectedAlert>] = [:]
        /// The firing alerts (alert and labels) as the transitions printed up to this time tell it:
        /// a firing adds one, a resolve removes it. They must tell the state's story.
        var firingFromTransitions: Set<String> = []
        var firingKeys: Set<String> {
            Set(firing.flatMap { alert, set in set.map { Self.key(alert, $0.exp_labels ?? [:]) } })
        }
        static func key(_ alert: String, _ labels: [String: String]) -> String {
            alert + "{" + labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",") + "}"
        }
        var rules: [(name: String, health: String, error: String?)] = []
    }

    /// Backfills the group's series into a Prometheus of its own, runs `meshwatchd replay` over
    /// [0, last eval_time] with `--alerts-at` each eval_time, and returns the snapshots by time.
    func replay(file: PromtoolTestFile, group: PromtoolTestFile.Group, directory: String,
                failure: inout String?, exprMismatches: inout [String]) async throws -> [Double: Snapshot] {
        let evaluationInterval = file.evaluation_interval ?? "1m"
        let inputInterval = Int((PrometheusDuration.parse(group.interval ?? "1m") ?? .seconds(60)).seconds)
        let times = Set((group.alert_rule_test ?? []).map { PrometheusDuration.parse($0.eval_time)!.seconds }).sorted()
        let exprTests = group.promql_expr_test ?? []
        let end = max(times.last ?? 0, exprTests.map { PrometheusDuration.parse($0.eval_time)!.seconds }.max() ?? 0)
        let openMetrics = try group.openMetrics(intervalSeconds: inputInterval)
        // Recording rules and ALERTS/ALERTS_FOR_STATE are written through remote write into this
        // Prometheus (at times behind its backfilled blocks: the out-of-order window), and read back
        // from it, in every case, as a daemon with remote_write does.
        // Two cases at a time: each starts a Prometheus and a replay, and the rest of the suite runs beside them.
        let (snapshots, error, exprFailures) = try await Self.limiter.run { try await withPrometheus(
            openMetrics: openMetrics, configuration: RemoteWriteReceiver.configuration, arguments: RemoteWriteReceiver.arguments) {
            server async throws -> ([Double: Snapshot], String?, [String]) in
            var failure: String?
            let work = NSTemporaryDirectory() + "meshwatchd-conformance-" + UUID().uuidString
            try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: work) }
            var configuration: [String: Any] = [
                "prometheus": ["url": server.url],
                "evaluation_interval": evaluationInterval,
                "rule_files": file.rule_files.map { directory + "/" + $0 },
                "external_labels": group.external_labels ?? [:],
                "external_url": group.external_url ?? "",
            ]
            if let offset = file.rule_query_offset { configuration["rule_query_offset"] = offset }
            configuration["remote_write"] = ["url": server.url + "/api/v1/write"]
            let configPath = work + "/config.json"
            try JSONSerialization.data(withJSONObject: configuration).write(to: URL(fileURLWithPath: configPath))
            let run = try await CommandLineTests().meshwatchd(
                ["replay", "--config", configPath, "--from", "0", "--to", GoFormat.float(end), "--output", "jsonl"]
                    + times.flatMap { ["--alerts-at", GoFormat.float($0)] })
            var snapshots: [Double: Snapshot] = [:]
            if run.status != 0 && run.status != 2 { failure = "replay exited \(run.status): \(run.stderr)" }
            var announced: Set<String> = []
            for line in run.stdout.split(separator: "\n") {
                guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { continue }
                if let transition = object["transition"] as? String {
                    let key = Snapshot.key(object["alert"] as? String ?? "", object["labels"] as? [String: String] ?? [:])
                    if transition == "firing" { announced.insert(key) }
                    if transition == "resolved" { announced.remove(key) }
                    continue
                }
                guard let at = object["alertsAt"] as? String, let time = ISO8601DateFormatter().date(from: at) else { continue }
                var snapshot = Snapshot(firingFromTransitions: announced)
                for alert in object["alerts"] as? [[String: Any]] ?? [] where alert["state"] as? String == "firing" {
                    snapshot.firing[alert["alert"] as? String ?? "", default: []].insert(PromtoolTestFile.ExpectedAlert(
                        exp_labels: alert["labels"] as? [String: String] ?? [:], exp_annotations: alert["annotations"] as? [String: String] ?? [:]))
                }
                snapshot.rules = (object["rules"] as? [[String: Any]] ?? []).map {
                    ($0["name"] as? String ?? "", $0["health"] as? String ?? "", $0["lastError"] as? String)
                }
                snapshots[time.timeIntervalSince1970] = snapshot
            }
            return (snapshots, failure, try await Self.checkExpressions(exprTests, on: server))
        } }
        failure = error
        exprMismatches = exprFailures
        return snapshots
    }

    /// Each `promql_expr_test` queried at its `eval_time` on the Prometheus the replay wrote to:
    /// the recorded series and ALERTS/ALERTS_FOR_STATE must be what promtool's rule manager wrote.
    static func checkExpressions(_ tests: [PromtoolTestFile.ExprTest], on server: PrometheusServer) async throws -> [String] {
        guard !tests.isEmpty else { return [] }
        let http = HTTPClient()
        defer { http.shutdown() }
        let client = try PrometheusClient(baseURL: server.url, http: http)
        var mismatches: [String] = []
        for test in tests {
            let at = Date(timeIntervalSince1970: PrometheusDuration.parse(test.eval_time)!.seconds)
            let got: [Sample]
            switch try await client.query(test.expr, at: at).result {
            case .vector(let samples): got = samples
            case .scalar(let point): got = [Sample(labels: .empty, point: point)]
            default: got = []
            }
            func describe(_ samples: [(Labels, Double)]) -> String {
                samples.isEmpty ? "nothing" : samples.map { "\($0.0) \(GoFormat.float($0.1))" }.sorted().joined(separator: "; ")
            }
            let expected = try (test.exp_samples ?? []).map { sample -> (Labels, Double) in
                let (name, labels) = try PromtoolTestFile.Group.parseSeries(sample.labels)
                return (Labels(labels.map { Label(name: $0.0, value: $0.1) } + (name.isEmpty ? [] : [Label(name: "__name__", value: name)])), sample.value)
            }
            let actual = got.map { ($0.labels, $0.value) }
            let same = expected.count == actual.count && expected.allSatisfy { want in
                actual.contains { $0.0 == want.0 && ($0.1 == want.1 || ($0.1.isNaN && want.1.isNaN) || abs($0.1 - want.1) <= 1e-9 * max(1, abs(want.1))) }
            }
            if !same {
                mismatches.append("\(test.expr) at \(test.eval_time): expected \(describe(expected)), Prometheus has \(describe(actual))")
            }
        }
        return mismatches
    }

    static func describe(_ alerts: Set<PromtoolTestFile.ExpectedAlert>) -> String {
        alerts.isEmpty ? "no alerts" : alerts.map { "\(($0.exp_labels ?? [:]).sorted { $0.key < $1.key }) \(($0.exp_annotations ?? [:]).sorted { $0.key < $1.key })" }
            .sorted().joined(separator: "; ")
    }
}
