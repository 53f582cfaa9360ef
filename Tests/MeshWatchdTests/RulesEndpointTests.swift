import AlertEngine
import Foundation
@testable import MeshWatchdCore
import MetricModel
import Testing

/// `/api/v1/rules`'s body, as Prometheus answers it: filters, times, groups before their first evaluation.
@Suite("/api/v1/rules: filters, evaluation times, configured groups")
struct RulesEndpointTests {
    static let groups: [RuleGroup] = [
        RuleGroup(name: "mesh", limit: 5, rules: [AlertRule(name: "A", expression: "sum by(x)(up)"), AlertRule(name: "B", expression: "up == 0")],
                  file: "/etc/meshwatchd/mesh.yml"),
        RuleGroup(name: "edge", rules: [AlertRule(name: "A", expression: "up")], file: "/etc/meshwatchd/edge.yml"),
    ]

    /// The groups as the daemon reports them before any evaluation: configured, not evaluated.
    static func unevaluated() -> StatusRendering.Groups {
        RuleEngine(groups: groups).groups.map { state in
            (name: state.group.name, interval: .seconds(30), state: nil, evaluations: 0, ruleFailures: [:], missedTicks: 0, configured: state,
             ruleEvaluations: 0, templateQueries: 0)
        }
    }

    static func render(_ query: String?) throws -> [[String: Any]] {
        let body = StatusRendering.rules(unevaluated(), filter: try StatusRendering.RulesFilter(query: query))
        return ((body["data"] as? [String: Any])?["groups"] as? [[String: Any]]) ?? []
    }

    @Test("before its first evaluation a group shows its file, its rules (health unknown, query normalised) and zero times")
    func beforeFirstEvaluation() throws {
        let groups = try Self.render(nil)
        #expect(groups.map { $0["name"] as? String } == ["mesh", "edge"])
        #expect(groups[0]["file"] as? String == "/etc/meshwatchd/mesh.yml")  // old main: "" and rules: []
        #expect(groups[0]["limit"] as? Int == 5)
        #expect(groups[0]["lastEvaluation"] as? String == "0001-01-01T00:00:00Z")
        #expect(groups[0]["evaluationTime"] as? Double == 0)
        let rules = groups[0]["rules"] as? [[String: Any]] ?? []
        #expect(rules.map { $0["name"] as? String } == ["A", "B"])
        #expect(rules[0]["query"] as? String == "sum by (x) (up)")
        #expect(rules.allSatisfy { $0["health"] as? String == "unknown" && $0["state"] as? String == "inactive" })
        #expect(rules.allSatisfy { $0["lastEvaluation"] as? String == "0001-01-01T00:00:00Z" && $0["evaluationTime"] as? Double == 0 })
    }

    @Test("type, rule_name[], rule_group[] and file[] filter as Prometheus's; a group left empty by a filter is left out")
    func filters() throws {
        func names(_ query: String) throws -> [String] {
            try Self.render(query).flatMap { group in
                (group["rules"] as? [[String: Any]] ?? []).map { "\(group["name"] as? String ?? "")/\($0["name"] as? String ?? "")" }
            }
        }
        #expect(try names("type=alert") == ["mesh/A", "mesh/B", "edge/A"])
        #expect(try names("type=ALERT") == ["mesh/A", "mesh/B", "edge/A"])
        #expect(try Self.render("type=record").isEmpty)  // meshwatchd has alerting rules only
        #expect(try names("rule_name[]=B") == ["mesh/B"])
        #expect(try names("rule_name%5B%5D=A&rule_name[]=B") == ["mesh/A", "mesh/B", "edge/A"])
        #expect(try names("rule_group[]=edge") == ["edge/A"])
        #expect(try names("file[]=%2Fetc%2Fmeshwatchd%2Fmesh.yml&rule_name[]=A") == ["mesh/A"])
        #expect(try names("rule_group[]=edge&rule_name[]=B").isEmpty)
        #expect(try names("rule_name[]=No+Such") .isEmpty)
        #expect(try names("rule_name[]=%FF").isEmpty)  // bytes that are not UTF-8 name no rule: nothing, not everything
        #expect(try names("unknown=1&type=") == ["mesh/A", "mesh/B", "edge/A"])
        #expect(throws: StatusRendering.RulesFilterError.self) { try StatusRendering.RulesFilter(query: "type=recording") }
        do { _ = try StatusRendering.RulesFilter(query: "type=%22x%0A") } catch {
            #expect(error.message == #"invalid parameter "type": not supported value "\"x\n""#)
        }
    }

    @Test("times print as Go's time.Time: RFC 3339, fraction without trailing zeros")
    func goTimes() {
        #expect(StatusRendering.goTime(Date(timeIntervalSince1970: 1_750_000_000)) == "2025-06-15T15:06:40Z")
        #expect(StatusRendering.goTime(Date(timeIntervalSince1970: 1_750_000_000.5)) == "2025-06-15T15:06:40.5Z")
        #expect(StatusRendering.goTime(Date(timeIntervalSince1970: 1_750_000_000.012)) == "2025-06-15T15:06:40.012Z")
        #expect(StatusRendering.goTime(nil) == "0001-01-01T00:00:00Z")
    }
}
