import AlertEngine
import Foundation
import Logging
import MeshFixtures
import MeshHTTP
@testable import MeshWatchdCore
import MetricModel
import PromClient
import Testing

/// The built-in pack against Prometheus's own tools and semantics.
@Suite("The Istio pack: promtool, and meshwatchd's engine against the real Prometheus")
struct IstioPackTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path
    static let testFile = root + "/rules/istio_test.yml"

    func promtool(_ arguments: [String]) async throws -> (Int32, String) {
        try await ChildProcess.run("/usr/bin/promtool", arguments, workingDirectory: Self.root + "/rules")
    }

    @Test("rules/istio.yml is exactly what `meshwatchd rules export` prints")
    func exportedFileIsCurrent() throws {
        let committed = try String(contentsOfFile: Self.root + "/rules/istio.yml", encoding: .utf8)
        #expect(committed == IstioPack().ruleFile(), "regenerate with: meshwatchd rules export > rules/istio.yml")
    }

    @Test("promtool check rules accepts the pack, also with parameters changed")
    func promtoolCheck() async throws {
        var parameters = IstioPack.Parameters()
        try parameters.set("error_rate.threshold", to: "0.02")
        try parameters.set("latency.for", to: "10m")
        try parameters.set("window", to: "2m")
        // Names are quoted into the expressions, never pasted: a quote or a backslash stays a value.
        try parameters.set("istiod.job", to: #"kube "istiod" \ east"#)
        try parameters.set("proxy.container", to: "envoy'}")
        #expect(IstioPack(parameters: parameters).definitions.first { $0.name == "IstiodDown" }?.expression
                == #"up{job="kube \"istiod\" \\ east"} == 0 or absent(up{job="kube \"istiod\" \\ east"})"#)
        #expect(throws: PackError.self) { try parameters.set("istiod.job", to: "") }
        #expect(throws: PackError.self) { try parameters.set("proxy.container", to: "a\nb") }
        let file = NSTemporaryDirectory() + "meshwatchd-pack-\(UUID().uuidString).yml"
        try IstioPack(parameters: parameters).ruleFile().write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        for path in [Self.root + "/rules/istio.yml", file] {
            let (status, output) = try await promtool(["check", "rules", path])
            #expect(status == 0, "\(output)")
            #expect(output.contains("SUCCESS: 9 rules found"), "\(output)")
        }
    }

    @Test("promtool test rules passes for every case of rules/istio_test.yml")
    func promtoolTest() async throws {
        let (status, output) = try await promtool(["test", "rules", "istio_test.yml"])
        #expect(status == 0, "\(output)")
        #expect(output.contains("SUCCESS"), "\(output)")
    }

    @Test("the error-rate rule sees a service without any 5xx series as a ratio of 0, not as missing")
    func zeroRatioIsSeen() async throws {
        let scenario = MeshScenario.incident()
        let ratios = try await withPrometheus(openMetrics: scenario.openMetrics()) { server async throws in
            let client = try PrometheusClient(baseURL: server.url, http: HTTPClient())
            guard case .vector(let samples) = try await client.query(IstioPack().errorRatio, at: scenario.evaluationTime).result else {
                return [String: Double]()
            }
            return Dictionary(uniqueKeysWithValues: samples.map { ($0.labels["destination_workload"] ?? "", $0.value) })
        }
        #expect(ratios["ratings"] == 0)  // no 5xx series at all
        #expect(ratios["details"] == 0)
        #expect(abs((ratios["reviews"] ?? 0) - 0.12) < 0.002)
        #expect(ratios.count == scenario.services.count)
    }

    static var cases: [Int] { ((try? PromtoolTestFile.load(testFile))?.tests.indices).map(Array.init) ?? [] }

    @Test("meshwatchd's engine, replayed against the real Prometheus, expects what promtool expects", arguments: cases)
    func sameAlertsAsPromtool(caseIndex: Int) async throws {
        let file = try PromtoolTestFile.load(Self.testFile)
        let group = file.tests[caseIndex]
        let evaluationInterval = PrometheusDuration.parse(file.evaluation_interval ?? "1m") ?? .seconds(60)
        let inputInterval = Int((PrometheusDuration.parse(group.interval ?? "1m") ?? .seconds(60)).seconds)
        let rules = try RuleFileLoader.load(paths: file.rule_files.map { Self.root + "/rules/" + $0 })
        let checks = group.alert_rule_test ?? []
        let evalTimes = Dictionary(grouping: checks) { Date(timeIntervalSince1970: PrometheusDuration.parse($0.eval_time)!.seconds) }
        let end = evalTimes.keys.max() ?? Date(timeIntervalSince1970: 0)

        let observed = try await withPrometheus(openMetrics: try group.openMetrics(intervalSeconds: inputInterval)) { server async throws in
            let client = try PrometheusClient(baseURL: server.url, http: HTTPClient())
            var engine = RuleEngine(groups: rules.groups)
            var seen: [String: Set<PromtoolTestFile.ExpectedAlert>] = [:]
            await engine.replay(from: Date(timeIntervalSince1970: 0), to: end, step: evaluationInterval,
                                using: PrometheusDatasource(client: client, timeout: .seconds(10)),
                                logger: Logger(label: "test")) { step in
                for check in evalTimes[step.time] ?? [] {
                    let firing = step.engine.instances.filter { $0.rule.name == check.alertname && $0.instance.state == .firing }
                    seen["\(check.eval_time)/\(check.alertname)"] = Set(firing.map {
                        PromtoolTestFile.ExpectedAlert(
                            exp_labels: Dictionary(uniqueKeysWithValues: $0.instance.labels.map { ($0.name, $0.value) }),
                            exp_annotations: Dictionary(uniqueKeysWithValues: $0.instance.annotations.map { ($0.name, $0.value) }))
                    })
                }
                for rule in step.engine.groups.flatMap(\.rules) where rule.health == .err {
                    Issue.record("rule \(rule.rule.name) failed at \(step.time): \(rule.lastError ?? "")")
                }
                return true
            }
            return seen
        }
        #expect(!checks.isEmpty)
        for check in checks {
            // promtool adds alertname to the expected labels; so does the engine, as Prometheus.
            let expected = Set((check.exp_alerts ?? []).map {
                PromtoolTestFile.ExpectedAlert(exp_labels: ($0.exp_labels ?? [:]).merging(["alertname": check.alertname]) { a, _ in a },
                                               exp_annotations: $0.exp_annotations ?? [:])
            })
            #expect(observed["\(check.eval_time)/\(check.alertname)"] == expected, "case \(caseIndex), \(check.alertname) at \(check.eval_time)")
        }
    }
}
