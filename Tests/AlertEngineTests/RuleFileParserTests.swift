@testable import AlertEngine
import MetricModel
import Foundation
import Testing

@Suite("Rule files: Prometheus format and its mistakes")
struct RuleFileParserTests {
    @Test("a key written twice (group labels, rule labels, annotations, fields) is refused, as Go's YAML refuses it; durations stop at Go's 292 years")
    func repeatedKeys() throws {
        for yaml in ["groups:\n  - name: g\n    labels: {team: a, team: b}\n    rules: []",
                     "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        labels: {s: a, s: b}",
                     "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        annotations: {s: a, s: b}",
                     "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        expr: down"] {
            let failure = #expect(throws: RuleFileError.self, "\(yaml)") { try RuleFileParser.parse(yaml, file: "twice.yml") }
            #expect("\(failure.map { "\($0)" } ?? "")".contains("set twice"))
        }
        #expect(PrometheusDuration.parse("292y") != nil)
        #expect(PrometheusDuration.parse("300y") == nil)
        #expect(PrometheusDuration.parse("9223372036854775807ms") == nil)
    }

    @Test("a Prometheus 3 expression loads only with promql_syntax prometheus-3, and is sent as Prometheus 3 prints it")
    func prometheus3Syntax() throws {
        let yaml = """
            groups:
              - name: otel
                rules:
                  - alert: A
                    expr: sum by ("k8s.pod") (rate({"http.server.requests", "http.status"=~"5.."}[5m])) > 0
            """
        #expect(throws: RuleFileError.self) { try RuleFileParser.parse(yaml, file: "otel.yml") }
        let groups = try RuleFileParser.parse(yaml, file: "otel.yml", syntax: .prometheus3).groups
        #expect(groups[0].rules[0].query == #"sum by ("k8s.pod") (rate({"http.server.requests", "http.status"=~"5.."}[5m])) > 0"#)
    }

    @Test("query_offset and group labels (a rule's own label wins) load; a wrong offset or label name is reported where it is")
    func queryOffsetAndGroupLabels() throws {
        let yaml = """
            groups:
              - name: late
                query_offset: 1m
                labels:
                  team: mesh
                  severity: warning
                rules:
                  - alert: A
                    expr: up == 0
                    labels:
                      severity: critical
                  - alert: B
                    expr: up == 0
              - name: zero
                query_offset: 0s
                rules: []
              - name: global
                rules: []
            """
        let groups = try RuleFileParser.parse(yaml, file: "late.yml").groups
        #expect(groups.map(\.queryOffset) == [.seconds(60), .zero, nil])
        #expect(groups[0].rules[0].labels.map { "\($0.name)=\($0.template)" } == ["severity=critical", "team=mesh"])
        #expect(groups[0].rules[1].labels.map { "\($0.name)=\($0.template)" } == ["severity=warning", "team=mesh"])
        let wrong = """
            groups:
              - name: late
                query_offset: soon
                labels:
                  1team: x
                rules: []
            """
        #expect(throws: RuleFileError.self) { try RuleFileParser.parse(wrong, file: "late.yml") }
        do { _ = try RuleFileParser.parse(wrong, file: "late.yml") } catch {
            let text = "\(error)"
            #expect(text.contains("late.yml:3:19: group \"late\", field \"query_offset\": not a valid duration string: \"soon\""), "\(text)")
            #expect(text.contains("late.yml:5:7: group \"late\", field \"labels\": invalid label name: \"1team\""), "\(text)")
        }
    }

    @Test("a well-formed file loads with durations, limit, labels and annotations; recording rules load in file order, or are skipped with a warning, or refused")
    func wellFormed() throws {
        let yaml = """
            groups:
              - name: mesh
                interval: 30s
                limit: 10
                rules:
                  - record: job:up:sum
                    expr: sum by (job) (up)
                  - alert: IstiodDown
                    expr: up{job="istiod"} == 0
                    for: 1m30s
                    keep_firing_for: 5m
                    labels:
                      severity: critical
                    annotations:
                      summary: "istiod {{ $labels.instance }} is down"
            """
        let evaluated = try RuleFileParser.parse(yaml, file: "mesh.yml")
        #expect(evaluated.groups[0].rules.map(\.name) == ["job:up:sum", "IstiodDown"])
        #expect(evaluated.groups[0].rules.map(\.kind) == [.recording, .alerting])
        #expect(evaluated.warnings.isEmpty)
        let refused = #expect(throws: RuleFileError.self) { try RuleFileParser.parse(yaml, file: "mesh.yml", recordingRules: .refuse) }
        #expect(refused?.problems.first?.line == 6, "\(refused?.description ?? "")")
        #expect(refused?.description.contains("recording rule \"job:up:sum\" needs remote_write") == true)
        #expect(refused?.description.contains("recording_rules: skip") == true)

        let loaded = try RuleFileParser.parse(yaml, file: "mesh.yml", recordingRules: .skip)
        #expect(loaded.groups.count == 1)
        let group = loaded.groups[0]
        #expect(group.name == "mesh" && group.interval == .seconds(30) && group.limit == 10)
        #expect(group.rules.map(\.name) == ["IstiodDown"])
        #expect(group.rules[0].holdDuration == .seconds(90))
        #expect(group.rules[0].keepFiringFor == .seconds(300))
        #expect(group.rules[0].labels.map(\.name) == ["severity"])
        #expect(loaded.warnings.count == 1)
        #expect(loaded.warnings[0].contains("recording rule \"job:up:sum\" skipped"))
    }

    @Test("each kind of mistake names the file, the line and the field", arguments: [
        ("groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        fro: 5m\n", 6, "unknown field \"fro\""),
        ("groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        for: 5 minutes\n", 6,
         "field \"for\": not a valid duration string: \"5 minutes\""),
        ("groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        labels:\n          bad-name: x\n", 7,
         "invalid label name: \"bad-name\""),
        ("groups:\n  - name: g\n    rules: []\n  - name: g\n    rules: []\n", 4, "groupname: \"g\" is repeated in the same file"),
        ("groups:\n  - name: g\n    rules:\n      - alert: A\n        for: 1m\n", 4, "field \"expr\" must be set in rule"),
        ("groups:\n  - name: g\n    interval: often\n    rules: []\n", 3, "field \"interval\": not a valid duration string"),
        ("groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        annotations:\n          s: \"{{ if }}\"\n", 7,
         "template \"s\""),
        ("groups:\n  - name: g\n    rules:\n      - alert: A\n        record: b\n        expr: up\n", 4, "only one of \"record\" and \"alert\""),
        ("groups:\n  - name: [unclosed\n", 3, "YAML:"),
        ("groups:\n  - name: g\n    rules:\n      - record: 1bad\n        expr: up\n", 4, "invalid recording rule name: 1bad"),
        ("groups:\n  - name: g\n    rules:\n      - record: a:b\n        expr: up\n        for: 1m\n", 4,
         "invalid field 'for' in recording rule"),
        ("groups:\n  - name: g\n    rules:\n      - record: a:b\n        expr: up\n        annotations:\n          x: y\n", 4,
         "invalid field 'annotations' in recording rule"),
        ("groups:\n  - name: g\n    rules:\n      - record: a:b\n        expr: up\n        keep_firing_for: 1m\n", 4,
         "invalid field 'keep_firing_for' in recording rule"),
        ("groups:\n  - rules: []\n", 2, "field \"name\" must be set"),
    ])
    func mistakes(yaml: String, line: Int, message: String) {
        let error = #expect(throws: RuleFileError.self) { try RuleFileParser.parse(yaml, file: "bad.yml") }
        let problem = error?.problems.first
        #expect(problem?.file == "bad.yml")
        #expect(problem?.line == line, "\(error?.description ?? "")")
        #expect(error?.description.contains(message) == true, "\(error?.description ?? "")")
    }

    @Test("all problems of a file are reported, not just the first")
    func allProblems() {
        let yaml = "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        fro: 1m\n      - alert: B\n        expr: up\n        for: soon\n"
        let error = #expect(throws: RuleFileError.self) { try RuleFileParser.parse(yaml, file: "bad.yml") }
        #expect(error?.problems.count == 2)
        #expect(error?.description.contains("rule 2, \"B\"") == true)
    }

    @Test("durations as Prometheus reads them", arguments: [
        ("0", 0.0), ("30s", 30), ("5m", 300), ("1h30m", 5400), ("500ms", 0.5), ("2w", 1_209_600), ("1y", 31_536_000),
    ])
    func durations(text: String, seconds: Double) {
        #expect(PrometheusDuration.parse(text)?.seconds == seconds)
    }

    @Test("invalid durations", arguments: ["", "5", "m", "5 m", "1m1h", "-1m", "1.5h", "5mm"])
    func invalidDurations(text: String) {
        #expect(PrometheusDuration.parse(text) == nil)
    }

    @Test("directories and globs load like rule_files; a pattern matching nothing is an error")
    func paths() throws {
        let directory = NSTemporaryDirectory() + "meshwatchd-rules-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        for name in ["a.yml", "b.yaml", "notes.txt"] {
            try "groups:\n  - name: \(name)\n    rules:\n      - alert: X\n        expr: up\n"
                .write(toFile: directory + "/" + name, atomically: true, encoding: .utf8)
        }
        #expect(try RuleFileLoader.load(paths: [directory]).groups.map(\.name) == ["a.yml", "b.yaml"])
        #expect(try RuleFileLoader.load(paths: [directory + "/*.yml"]).groups.map(\.name) == ["a.yml"])
        let error = #expect(throws: RuleFileError.self) { try RuleFileLoader.load(paths: [directory + "/*.json"]) }
        #expect(error?.description.contains("matches no file") == true)
        #expect(throws: RuleFileError.self) { try RuleFileLoader.load(paths: [directory + "/missing.yml"]) }
    }

    @Test("a group with `rules:` empty or null loads as an empty group, as promtool reads it")
    func nullRules() throws {
        for value in ["", " ~", " null", " []"] {
            let loaded = try RuleFileParser.parse("groups:\n  - name: empty\n    rules:\(value)\n", file: "empty.yml")
            #expect(loaded.groups.map(\.name) == ["empty"], "rules:\(value)")
            #expect(loaded.groups.first?.rules.isEmpty == true)
        }
        #expect(throws: RuleFileError.self) { try RuleFileParser.parse("groups:\n  - name: g\n    rules: \"text\"\n", file: "g.yml") }
    }

    @Test("PrometheusRule objects (kube-prometheus): spec.groups, one or many documents per file")
    func prometheusRule() throws {
        let yaml = """
            apiVersion: monitoring.coreos.com/v1
            kind: PrometheusRule
            metadata:
              name: mesh
              namespace: monitoring
            spec:
              groups:
                - name: mesh
                  rules:
                    - alert: IstiodDown
                      expr: up{job="istiod"} == 0
            ---
            apiVersion: monitoring.coreos.com/v1
            kind: PrometheusRule
            metadata: {name: more}
            spec:
              groups:
                - name: more
                  rules:
                    - alert: Other
                      expr: vector(1)
            """
        let loaded = try RuleFileParser.parse(yaml, file: "prometheusrule.yaml")
        #expect(loaded.groups.map(\.name) == ["mesh", "more"])
        #expect(loaded.groups.flatMap(\.rules).map(\.name) == ["IstiodDown", "Other"])
        // A plain rule file still refuses what it does not know.
        #expect(throws: RuleFileError.self) { try RuleFileParser.parse("kind: Something\ngroups: []\n", file: "x.yml") }
    }
}
