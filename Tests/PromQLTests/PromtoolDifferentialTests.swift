import AlertEngine
import Foundation
import MeshFixtures
import MeshHTTP
import MeshPacks
import PromQL
import Testing

/// Every expression of a corpus (the guide's and runbook's queries, the Istio pack's rules, the
/// README's, PromQL's corners) and mutations of each (a parenthesis or bracket dropped, a space
/// in a duration, an operator doubled…) gets the same verdict from our parser as from promtool
/// 2.42, at the same position; every valid one prints to text that parses back to the same tree.
@Suite("PromQL against promtool 2.42")
struct PromtoolDifferentialTests {
    static func corpus() throws -> [String] {
        let url = try #require(Bundle.module.url(forResource: "corpus", withExtension: "promql", subdirectory: "Resources"))
        let lines = try String(contentsOf: url, encoding: .utf8).split(separator: "\n").map(String.init)
            .filter { !$0.isEmpty && !$0.hasPrefix("#") }
        let pack = RulePack.builtInPacks.flatMap { RulePack.withDefaults($0.name).group.rules.map(\.expression) }
        let base = lines + pack.map { $0.replacingOccurrences(of: "\n", with: " ") }
        var all = base
        for expression in base {
            // Mutations: most are invalid, some stay valid; promtool decides which.
            if let paren = expression.lastIndex(of: ")") { var text = expression; text.remove(at: paren); all.append(text) }
            if let bracket = expression.firstIndex(of: "[") { var text = expression; text.remove(at: bracket); all.append(text) }
            if expression.contains("5m") { all.append(expression.replacingOccurrences(of: "5m", with: "5 m", options: [], range: expression.range(of: "5m"))) }
            if let space = expression.firstIndex(of: " ") { var text = expression; text.replaceSubrange(space...space, with: " + "); all.append(text) }
            all.append(expression + " >")
            all.append("(" + expression)
            all.append("(" + expression + ") * 2")
            all.append("max_over_time((" + expression + ")[10m:1m])")
        }
        return Array(Set(all)).sorted()
    }

    /// promtool's verdict per expression: nil when valid, else its `line:column`.
    static func promtool(_ expressions: [String]) async throws -> [String?] {
        let directory = NSTemporaryDirectory() + "meshwatchd-promql-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var file = "groups:\n- name: corpus\n  rules:\n"
        for (index, expression) in expressions.enumerated() {
            file += "  - record: r\(index)\n    expr: '\(expression.replacingOccurrences(of: "'", with: "''"))'\n"
        }
        try file.write(toFile: directory + "/rules.yml", atomically: true, encoding: .utf8)
        let (_, output) = try await ChildProcess.run("/usr/bin/promtool", ["check", "rules", directory + "/rules.yml"], limit: 10_000_000)
        var verdicts = [String?](repeating: nil, count: expressions.count)
        for line in output.split(separator: "\n") {
            guard let rule = line.firstMatch(of: /"r(\d+)": could not parse expression: (\d+:\d+):/), let index = Int(rule.1) else { continue }
            verdicts[index] = String(rule.2)
        }
        return verdicts
    }

    @Test("the same verdict as promtool, at the same position; valid text round-trips")
    func sameAsPromtool() async throws {
        let expressions = try Self.corpus()
        #expect(expressions.count >= 300, "\(expressions.count) expressions")
        let verdicts = try await Self.promtool(expressions)
        var disagreements: [String] = []
        var invalid = 0
        for (expression, verdict) in zip(expressions, verdicts) {
            if verdict != nil { invalid += 1 }
            do {
                let parsed = try Parser.parse(expression)
                if let verdict { disagreements.append("accepted, promtool refuses at \(verdict): \(expression)"); continue }
                // The printed text parses to the same tree (compared as printed, so NaN equals NaN).
                let printed = parsed.description
                let again = try? Parser.parse(printed)
                if again?.description != printed || (again != parsed && !printed.contains("NaN")) {
                    disagreements.append("does not round-trip: \(expression) → \(printed) → \(again.map(\.description) ?? "error")")
                }
            } catch {
                if verdict == nil {
                    disagreements.append("refused (\(error)), promtool accepts: \(expression)")
                } else if verdict != error.position.description {
                    disagreements.append("position \(error.position), promtool \(verdict ?? ""): \(expression) (\(error.message))")
                }
            }
        }
        #expect(invalid >= 100, "only \(invalid) invalid expressions")
        #expect(disagreements.isEmpty, "\(disagreements.count) of \(expressions.count):\n\(disagreements.joined(separator: "\n"))")
    }

    @Test("the printed text is byte for byte what Prometheus 2.42 shows in /api/v1/rules for every valid expression")
    func printsAsPrometheus() async throws {
        let valid = try Self.corpus().compactMap { expression in (try? Parser.parse(expression)).map { (expression, $0) } }
        #expect(valid.count >= 150, "\(valid.count) valid expressions")
        var rules = "groups:\n- name: corpus\n  interval: 1h\n  rules:\n"
        for (index, (expression, _)) in valid.enumerated() {
            rules += "  - record: r\(index)\n    expr: '\(expression.replacingOccurrences(of: "'", with: "''"))'\n"
        }
        try await withPrometheus(openMetrics: MeshScenario.live().openMetrics(),
                                 configuration: "global:\n  scrape_interval: 15s\nrule_files: [rules.yml]\n",
                                 files: ["rules.yml": rules]) { prometheus async throws in
            let body = try await HTTPClient().get(prometheus.url + "/api/v1/rules").body
            let answer = try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any]
            let groups = (answer?["data"] as? [String: Any])?["groups"] as? [[String: Any]] ?? []
            var shown: [String: String] = [:]
            for rule in groups.flatMap({ $0["rules"] as? [[String: Any]] ?? [] }) {
                if let name = rule["name"] as? String, let query = rule["query"] as? String { shown[name] = query }
            }
            #expect(shown.count == valid.count)
            var different: [String] = []
            for (index, (expression, parsed)) in valid.enumerated() where shown["r\(index)"] != parsed.description {
                different.append("\(expression)\n  Prometheus: \(shown["r\(index)"] ?? "-")\n  meshwatchd: \(parsed.description)")
            }
            #expect(different.isEmpty, "\(different.count) of \(valid.count):\n\(different.joined(separator: "\n"))")
        }
    }
}
