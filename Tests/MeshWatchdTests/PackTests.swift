import AlertEngine
import Foundation
import Logging
import MeshFixtures
import MeshHTTP
import MeshPacks
@testable import MeshWatchdCore
import MetricModel
import PromClient
import Testing

/// The built-in packs against Prometheus's own tools and semantics.
@Suite("The packs: promtool, and meshwatchd's engine against the real Prometheus")
struct PackTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path
    static let packs = ["istio", "linkerd", "cilium"]

    func promtool(_ arguments: [String]) async throws -> (Int32, String) {
        try await ChildProcess.run("/usr/bin/promtool", arguments, workingDirectory: Self.root + "/rules")
    }

    @Test("rules/<pack>.yml is exactly what `meshwatchd rules export --pack <pack>` prints", arguments: packs)
    func exportedFileIsCurrent(pack: String) throws {
        let committed = try String(contentsOfFile: Self.root + "/rules/\(pack).yml", encoding: .utf8)
        #expect(committed == RulePack.withDefaults(pack).ruleFile(),
                "regenerate with: meshwatchd rules export --pack \(pack) > rules/\(pack).yml")
    }

    @Test("promtool check rules accepts each pack, also with parameters changed", arguments: packs)
    func promtoolCheck(pack name: String) async throws {
        let pack = try #require(RulePack.builtIn(name))
        var values = pack.defaults
        // Every parameter set away from its default: durations, shares, numbers, and names with
        // a quote and a backslash, which are quoted into the expressions, never pasted.
        for parameter in pack.parameters {
            switch parameter.kind {
            case .duration, .positiveDuration: try values.set(parameter.key, to: "7m")
            case .share: try values.set(parameter.key, to: "0.25")
            case .number: try values.set(parameter.key, to: "12.5")
            case .name: try values.set(parameter.key, to: #"kube "x" \ east'}"#)
            case .label: try values.set(parameter.key, to: "my_label")
            }
            #expect(throws: PackError.self) { try values.set(parameter.key, to: "") }
            #expect(throws: PackError.self) { try values.set(parameter.key, to: "a\nb") }
        }
        let expanded = try pack.expanded(with: values)
        #expect(expanded.definitions.allSatisfy { !$0.expression.contains("${") })
        if name == "istio" {
            #expect(expanded.definitions.first { $0.name == "IstiodDown" }?.expression
                    == #"up{job="kube \"x\" \\ east'}"} == 0 or absent(up{job="kube \"x\" \\ east'}"})"#)
        }
        let file = NSTemporaryDirectory() + "meshwatchd-pack-\(UUID().uuidString).yml"
        try expanded.ruleFile().write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        for path in [Self.root + "/rules/\(name).yml", file] {
            let (status, output) = try await promtool(["check", "rules", path])
            #expect(status == 0, "\(output)")
            #expect(output.contains("SUCCESS: \(pack.alertNames.count) rules found"), "\(output)")
        }
    }

    @Test("promtool test rules passes for every case of rules/<pack>_test.yml", arguments: packs)
    func promtoolTest(pack: String) async throws {
        let (status, output) = try await promtool(["test", "rules", "\(pack)_test.yml"])
        #expect(status == 0, "\(output)")
        #expect(output.contains("SUCCESS"), "\(output)")
        // Every alert of the pack has a case that expects it to fire.
        let file = try PromtoolTestFile.load(Self.root + "/rules/\(pack)_test.yml")
        let fired = Set(file.tests.flatMap { ($0.alert_rule_test ?? []).filter { !($0.exp_alerts ?? []).isEmpty }.map(\.alertname) })
        #expect(Set(RulePack.withDefaults(pack).definitions.map(\.name)).subtracting(fired).isEmpty,
                "alerts without a firing case: \(Set(RulePack.withDefaults(pack).definitions.map(\.name)).subtracting(fired).sorted())")
    }

    @Test("the error-rate rule sees a service without any 5xx series as a ratio of 0, not as missing")
    func zeroRatioIsSeen() async throws {
        let scenario = MeshScenario.incident()
        let ratios = try await withPrometheus(openMetrics: scenario.openMetrics()) { server async throws in
            let client = try PrometheusClient(baseURL: server.url, http: HTTPClient())
            // The rule's share, before its threshold and floor.
            let rule = try #require(RulePack.withDefaults("istio").definitions.first { $0.name == "IstioHighErrorRate" }?.expression)
            let ratio = String(rule[..<(try #require(rule.range(of: " > 0.05 and ")).lowerBound)])
            guard case .vector(let samples) = try await client.query(ratio, at: scenario.evaluationTime).result else {
                return [String: Double]()
            }
            return Dictionary(uniqueKeysWithValues: samples.map { ($0.labels["destination_workload"] ?? "", $0.value) })
        }
        #expect(ratios["ratings"] == 0)  // no 5xx series at all
        #expect(ratios["details"] == 0)
        #expect(abs((ratios["reviews"] ?? 0) - 0.12) < 0.002)
        #expect(ratios.count == scenario.services.count)
    }

    static var cases: [String] {
        packs.flatMap { pack in
            ((try? PromtoolTestFile.load(root + "/rules/\(pack)_test.yml"))?.tests.indices).map { $0.map { "\(pack)/\($0)" } } ?? []
        }
    }

    @Test("meshwatchd's engine, replayed against the real Prometheus, expects what promtool expects", arguments: cases)
    func sameAlertsAsPromtool(packCase: String) async throws {
        let parts = packCase.split(separator: "/")
        let caseIndex = try #require(Int(parts[1]))
        let file = try PromtoolTestFile.load(Self.root + "/rules/\(parts[0])_test.yml")
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
