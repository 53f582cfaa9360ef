import AlertEngine
import Foundation
import MetricModel
import Synchronization
import Testing

/// A writer that keeps every batch, and can be told to fail.
final class CapturingWriter: SeriesWriting {
    let batches = Mutex<[[Sample]]>([])
    let failure = Mutex<String?>(nil)

    func write(_ samples: [Sample], readBack: Bool) async throws {
        if let message = failure.withLock({ $0 }) { throw ScriptedError(description: message) }
        batches.withLock { $0.append(samples) }
    }

    var last: [Sample] { batches.withLock { $0.last ?? [] } }
    var count: Int { batches.withLock { $0.count } }
}

/// A datasource that answers each expression from a table, and sees what was written: a
/// recording rule's series are visible to the rules after it (read back, as from Prometheus).
final class WritableDatasource: InstantQuerying, SeriesWriting {
    let stored = Mutex<[String: [Sample]]>([:])
    let queries = Mutex<[String]>([])
    let fixed: [String: [Sample]]

    init(_ fixed: [String: [Sample]]) { self.fixed = fixed }

    func instantQuery(_ expression: String, at time: Date) async throws -> [Sample] {
        queries.withLock { $0.append(expression) }
        if let answer = fixed[expression] { return answer }
        // `name > N`: the stored series of that name above N.
        let parts = expression.split(separator: " ")
        if parts.count == 3, parts[1] == ">", let threshold = Double(parts[2]) {
            return stored.withLock { $0[String(parts[0])] ?? [] }.filter { $0.value > threshold && !$0.value.isNaN }
        }
        return []
    }

    func write(_ samples: [Sample], readBack: Bool) async throws {
        stored.withLock { stored in
            for sample in samples {
                let name = sample.labels.first { $0.name == "__name__" }?.value ?? ""
                var current = (stored[name] ?? []).filter { $0.labels != sample.labels }
                if !sample.value.isNaN || sample.value.bitPattern != RuleEngine.staleNaN.bitPattern { current.append(sample) }
                stored[name] = current
            }
        }
    }
}

@Suite("Recording rules and ALERTS series, as Prometheus's rule group writes them")
struct RecordingRuleTests {
    func sample(_ labels: [String: String], _ value: Double) -> Sample {
        Sample(labels: Labels(labels), point: SamplePoint(timestampMillis: 0, value: value))
    }

    @Test("a recording rule renames every series, sets its labels over theirs (an empty one removes), and writes at the query's time")
    func renamesAndLabels() async throws {
        let rule = AlertRule(name: "job:errors:rate5m", expression: "rate(errors[5m])",
                             labels: [("team", "mesh"), ("pod", ""), ("job", "{{ not a template }}")], kind: .recording)
        let writer = CapturingWriter()
        var engine = RuleEngine(groups: [RuleGroup(name: "g", queryOffset: .seconds(30), rules: [rule])], output: writer)
        let datasource = ScriptedDatasource(answers: [minute(1) - 30: .success([
            sample(["__name__": "errors", "job": "api", "pod": "a", "instance": "x"], 0.5),
            sample(["instance": "y"], .infinity),
        ])])
        _ = await engine.evaluateAll(at: minute(1), using: datasource, logger: quietLogger)
        #expect(engine.only.health == .ok)
        let written = writer.last
        #expect(written.map(\.labels) == [
            Labels(["__name__": "job:errors:rate5m", "job": "{{ not a template }}", "team": "mesh", "instance": "x"]),
            Labels(["__name__": "job:errors:rate5m", "job": "{{ not a template }}", "team": "mesh", "instance": "y"]),
        ])
        #expect(written.map(\.value) == [0.5, .infinity])
        // Prometheus writes a recording rule's samples at the time it queried (evaluation time minus the offset).
        #expect(written.allSatisfy { $0.point.timestampMillis == Int64((minute(1).timeIntervalSince1970 - 30) * 1000) })
        #expect(engine.only.active.isEmpty)
    }

    @Test("two series with one label set after the rule's labels, or more than the group's limit, fail the rule with Prometheus's words and write nothing")
    func duplicatesAndLimit() async throws {
        let rule = AlertRule(name: "r", expression: "x", labels: [("instance", "same")], kind: .recording)
        let writer = CapturingWriter()
        var engine = RuleEngine(groups: [RuleGroup(name: "g", rules: [rule])], output: writer)
        let two = [sample(["instance": "a"], 1), sample(["instance": "b"], 2)]
        _ = await engine.evaluateAll(at: minute(1), using: ScriptedDatasource(answers: [minute(1): .success(two)]), logger: quietLogger)
        #expect(engine.only.health == .err)
        #expect(engine.only.lastError == "vector contains metrics with the same labelset after applying rule labels")
        #expect(writer.count == 0)

        var limited = RuleEngine(groups: [RuleGroup(name: "g", limit: 1, rules: [AlertRule(name: "r", expression: "x", kind: .recording)])],
                                 output: writer)
        _ = await limited.evaluateAll(at: minute(1), using: ScriptedDatasource(answers: [minute(1): .success(two)]), logger: quietLogger)
        #expect(limited.only.lastError == "exceeded limit of 1 with 2 series")
        #expect(writer.count == 0)
    }

    @Test("a series that stops gets Prometheus's staleness marker at the next write; a failed query writes nothing and marks nothing")
    func staleness() async throws {
        let rule = AlertRule(name: "r", expression: "x", kind: .recording)
        let writer = CapturingWriter()
        var engine = RuleEngine(groups: [RuleGroup(name: "g", rules: [rule])], output: writer)
        let datasource = ScriptedDatasource(answers: [
            minute(1): .success([sample(["i": "a"], 1), sample(["i": "b"], 2)]),
            minute(2): .failure(ScriptedError(description: "down")),
            minute(3): .success([sample(["i": "b"], 3)]),
        ])
        for time in [1.0, 2, 3] { _ = await engine.evaluateAll(at: minute(time), using: datasource, logger: quietLogger) }
        #expect(writer.count == 2)
        let last = writer.last
        #expect(last.count == 2)
        let stale = try #require(last.first { $0.labels == Labels(["__name__": "r", "i": "a"]) })
        #expect(stale.value.bitPattern == 0x7ff0_0000_0000_0002)
        #expect(last.first { $0.labels == Labels(["__name__": "r", "i": "b"]) }?.value == 3)
    }

    @Test("without an output a recording rule fails with an explanation; a failed write fails the rule with the writer's error")
    func noOutputAndWriteFailure() async throws {
        let rule = AlertRule(name: "r", expression: "x", kind: .recording)
        var engine = RuleEngine(groups: [RuleGroup(name: "g", rules: [rule])])
        let datasource = ScriptedDatasource(answers: [minute(1): .success([sample([:], 1)])])
        _ = await engine.evaluateAll(at: minute(1), using: datasource, logger: quietLogger)
        #expect(engine.only.health == .err)
        #expect(engine.only.lastError?.contains("no remote_write") == true)

        let writer = CapturingWriter()
        writer.failure.withLock { $0 = "remote write refused: HTTP 400: out of bounds" }
        var failing = RuleEngine(groups: [RuleGroup(name: "g", rules: [rule])], output: writer)
        _ = await failing.evaluateAll(at: minute(1), using: datasource, logger: quietLogger)
        #expect(failing.only.health == .err)
        #expect(failing.only.lastError == "remote write refused: HTTP 400: out of bounds")
    }

    @Test("an alerting rule writes ALERTS (1, with alertstate) and ALERTS_FOR_STATE (activeAt in Unix seconds) for pending and firing instances, and marks them stale when they end")
    func alertSeries() async throws {
        let rule = AlertRule(name: "High", expression: "x", holdDuration: .seconds(60), labels: [("severity", "page")])
        let writer = CapturingWriter()
        var engine = RuleEngine(groups: [RuleGroup(name: "g", rules: [rule])], output: writer)
        let start = Date(timeIntervalSince1970: 1_750_000_000.5)
        let series = sample(["__name__": "x", "pod": "a"], 7)
        let datasource = ScriptedDatasource(answers: [start: .success([series]), start + 60: .success([series]), start + 120: .success([])])
        _ = await engine.evaluateAll(at: start, using: datasource, logger: quietLogger)
        let pending = Dictionary(uniqueKeysWithValues: writer.last.map { ($0.labels, $0.value) })
        #expect(pending == [
            Labels(["__name__": "ALERTS", "alertname": "High", "alertstate": "pending", "pod": "a", "severity": "page"]): 1,
            Labels(["__name__": "ALERTS_FOR_STATE", "alertname": "High", "pod": "a", "severity": "page"]): 1_750_000_000,
        ])
        _ = await engine.evaluateAll(at: start + 60, using: datasource, logger: quietLogger)
        let firing = Dictionary(uniqueKeysWithValues: writer.last.map { ($0.labels, $0.value.bitPattern) })
        #expect(firing[Labels(["__name__": "ALERTS", "alertname": "High", "alertstate": "firing", "pod": "a", "severity": "page"])] == (1.0).bitPattern)
        // The pending series ends the moment the alert fires.
        #expect(firing[Labels(["__name__": "ALERTS", "alertname": "High", "alertstate": "pending", "pod": "a", "severity": "page"])]
                == 0x7ff0_0000_0000_0002)
        _ = await engine.evaluateAll(at: start + 120, using: datasource, logger: quietLogger)
        #expect(writer.last.count == 2 && writer.last.allSatisfy { $0.value.bitPattern == 0x7ff0_0000_0000_0002 })
    }

    @Test("within a group, a recording rule's series are written before the next rule queries: an alert on it fires in the same evaluation")
    func readBackInGroup() async throws {
        let datasource = WritableDatasource(["sum(errors)": [sample([:], 9)]])
        let group = RuleGroup(name: "g", rules: [
            AlertRule(name: "errors:sum", expression: "sum(errors)", kind: .recording),
            AlertRule(name: "TooMany", expression: "errors:sum > 5"),
        ])
        var engine = RuleEngine(groups: [group], output: datasource)
        let transitions = await engine.evaluateAll(at: minute(1), using: datasource, logger: quietLogger)
        #expect(transitions.map(\.kind) == [.firing])
        #expect(transitions.first?.instance.labels == Labels(["__name__": "errors:sum", "alertname": "TooMany"]).dropping("__name__"))
        #expect(datasource.queries.withLock { $0 } == ["sum(errors)", "errors:sum > 5"])
    }
}

extension Labels {
    func dropping(_ name: String) -> Labels { Labels(filter { $0.name != name }) }
}

/// A datasource that counts its queries and answers each with one sample valued by the query's length.
final class CountingDatasource: InstantQuerying {
    let asked = Mutex<[String]>([])
    let series: [Sample]

    init(series: [Sample]) { self.series = series }

    func instantQuery(_ expression: String, at time: Date) async throws -> [Sample] {
        asked.withLock { $0.append(expression) }
        if expression == "rule" { return series }
        if expression == "broken" { throw ScriptedError(description: "1:7: parse error: unexpected end of input") }
        return [Sample(labels: Labels(["__name__": "answer", "q": expression]), point: SamplePoint(timestampMillis: 0, value: Double(expression.count)))]
    }
}

@Suite("Template queries: answered through the rule's datasource, once per expression and evaluation, bounded")
struct TemplateQueryTests {
    @Test("each expression a rule's templates query is asked once per evaluation, at the evaluation time, whatever the number of series and templates")
    func onceper() async throws {
        let series = (0..<50).map { Sample(labels: Labels(["pod": "p\($0)"]), point: SamplePoint(timestampMillis: 0, value: 1)) }
        let datasource = CountingDatasource(series: series)
        let rule = AlertRule(name: "Q", expression: "rule", labels: [("total", #"{{ with query "sum(x)" }}{{ . | first | value }}{{ end }}"#)],
                             annotations: [("own", #"{{ with query (printf "x{pod=%q}" $labels.pod) }}{{ . | first | label "q" }}{{ end }}"#),
                                           ("again", #"{{ len (query "sum(x)") }}"#), ("broken", #"{{ query "broken" }}"#)])
        var engine = RuleEngine(groups: [RuleGroup(name: "g", rules: [rule])])
        _ = await engine.evaluateAll(at: minute(1), using: datasource, logger: quietLogger)
        let asked = datasource.asked.withLock { $0 }
        #expect(asked.filter { $0 == "sum(x)" }.count == 1)
        #expect(asked.filter { $0 == "broken" }.count == 1)
        #expect(Set(asked.filter { $0.hasPrefix("x{") }).count == 50 && asked.filter { $0.hasPrefix("x{") }.count == 50)
        #expect(engine.only.templateQueries == 52)
        let instance = try #require(engine.only.active.values.first { $0.labels["pod"] == "p7" })
        #expect(instance.labels["total"] == "6")
        #expect(instance.annotations["own"] == #"x{pod="p7"}"#)
        #expect(instance.annotations["again"] == "1")
        #expect(instance.annotations["broken"]?.hasSuffix(#"at <query "broken">: error calling query: 1:7: parse error: unexpected end of input>"#) == true,
                "\(instance.annotations["broken"] ?? "")")
    }

    @Test("a template that would query more than 100 expressions in one evaluation gets an error past the 100th, and the daemon goes on")
    func bounded() async throws {
        let labels = Dictionary(uniqueKeysWithValues: (0..<150).map { ("l\($0)", "v\($0)") })
        let datasource = CountingDatasource(series: [Sample(labels: Labels(labels), point: SamplePoint(timestampMillis: 0, value: 1))])
        let rule = AlertRule(name: "Many", expression: "rule",
                             annotations: [("each", #"{{ range $k, $v := $labels }}{{ len (query $k) }}{{ end }}"#)])
        var engine = RuleEngine(groups: [RuleGroup(name: "g", rules: [rule])])
        _ = await engine.evaluateAll(at: minute(1), using: datasource, logger: quietLogger)
        #expect(datasource.asked.withLock { $0.count } == 101)
        #expect(engine.only.active.values.first?.annotations["each"]?.contains("more than 100 queries") == true)
    }
}
