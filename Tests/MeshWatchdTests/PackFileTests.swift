import Foundation
import MeshPacks
@testable import MeshWatchdCore
import PromQL
import Remediation
import Testing

/// Packs as data: the built-in files, and what a wrong pack file or parameter is told.
@Suite("Rule packs as data: loading, parameters, errors, and a team's own pack in the configuration")
struct PackFileTests {
    let cli = CommandLineTests()

    /// A small valid pack; `replace` swaps one line for a broken one.
    static let small = """
        pack: payments
        title: Payments
        parameters:
          - {key: window, kind: positive_duration, default: 5m}
          - {key: job, kind: name, default: payments-api}
          - {key: max_share, kind: share, default: "0.02"}
        rules:
          - alert: PaymentsFailing
            expr: sum by (namespace) (rate(http_requests_total{job=${job|quote},code=~"5.."}[${window}])) / sum by (namespace) (rate(http_requests_total{job=${job|quote}}[${window}])) > ${max_share}
            for: 2m
            severity: critical
            summary: "{{ $labels.namespace }}: {{ $value | humanizePercentage }} of payments fail"
            description: More than ${max_share|percent}% of payment requests fail.
        runbooks:
          - alert: PaymentsFailing
            title: Payments failing
            steps:
              - {name: failures by code, kind: promql, query: 'sum by (code) (rate(http_requests_total{job=${job|quote}}[${window}]))'}
        """

    func load(_ text: String, file: String = "team.yml") throws(PackError) -> RulePack {
        try RulePack(yaml: text, file: file, builtIn: false)
    }

    @Test("every built-in pack loads, names its alerts uniquely across packs, and has a runbook for each alert")
    func builtInPacks() throws {
        #expect(RulePack.builtInNames == ["istio", "linkerd", "cilium"])
        var seen: Set<String> = []
        for pack in RulePack.builtInPacks {
            let expanded = RulePack.withDefaults(pack.name)
            #expect(!expanded.definitions.isEmpty)
            for definition in expanded.definitions {
                #expect(seen.insert(definition.name).inserted, "\(definition.name) twice")
                #expect(definition.labels.contains { $0.name == "mesh" && $0.template == pack.mesh })
                #expect(definition.labels.contains { $0.name == "runbook" && $0.template == definition.name })
                #expect(["critical", "warning"].contains(definition.severity))
                #expect(throws: Never.self) { try Parser.parse(definition.expression) }
            }
            #expect(Set(expanded.runbooks.map(\.alert)) == Set(expanded.definitions.map(\.name)), "\(pack.name)")
            // Every runbook step's templates pass the same checks as a configured runbook's.
            for runbook in expanded.runbooks { for step in runbook.steps { #expect(StepTemplate.problem(step) == nil, "\(runbook.alert): \(step.name)") } }
            #expect(RulePack.builtInSource(pack.name)?.contains("pack: \(pack.name)") == true)
        }
    }

    @Test("a name is quoted into PromQL: a hostile job name stays one string literal; {{ and control characters are refused")
    func namesAreQuoted() throws {
        let pack = try load(Self.small)
        var values = pack.defaults
        try values.set("job", to: #"x"} or vector(1) # "#)
        let expression = try #require(try pack.expanded(with: values).definitions.first?.expression)
        #expect(expression.contains(#"job="x\"} or vector(1) # ""#))
        // One division of two sums: the value did not become an `or` of its own.
        let printed = "\(try Parser.parse(expression))"
        #expect(printed.components(separatedBy: " or ").count == 3, "\(printed)")  // both inside the two string literals
        for bad in ["{{ .Value }}", "a\nb", "", "a\u{7F}b", "${window}", "x\u{85}evil: 1", "a\u{2028}b"] {
            #expect(throws: PackError.self, "\(bad)") { try values.set("job", to: bad) }
        }
        #expect(throws: PackError.self) { try values.set("max_share", to: "1.5") }
        #expect(throws: PackError.self) { try values.set("max_share", to: "NaN") }
        #expect(throws: PackError.self) { try values.set("window", to: "0s") }
        #expect(throws: PackError.self) { try values.set("nope", to: "1") }
        // A label name with a final newline (YAML's `|`) is not a label name.
        var linkerd = try #require(RulePack.builtIn("linkerd")).defaults
        #expect(throws: PackError.self) { try linkerd.set("labels.workload", to: "deployment\n") }
        try linkerd.set("labels.workload", to: "workload_name")
    }

    @Test("fragments that multiply stop at 256 KiB instead of filling memory")
    func fragmentBlowUp() throws {
        var pack = Self.small.replacingOccurrences(of: "rules:\n", with: """
            fragments:
              a: ${window}${window}${window}${window}${window}${window}${window}${window}${window}${window}
              b: ${a}${a}${a}${a}${a}${a}${a}${a}${a}${a}
              c: ${b}${b}${b}${b}${b}${b}${b}${b}${b}${b}
              d: ${c}${c}${c}${c}${c}${c}${c}${c}${c}${c}
              e: ${d}${d}${d}${d}${d}${d}${d}${d}${d}${d}
              f: ${e}${e}${e}${e}${e}${e}${e}${e}${e}${e}
              g: ${f}${f}${f}${f}${f}${f}${f}${f}${f}${f}
            rules:

            """)
        pack = pack.replacingOccurrences(of: "description: More than", with: "description: ${g} More than")
        #expect { try load(pack) } throws: { "\($0)".contains("expands to more than 256 KiB") }
    }

    @Test("a wrong pack file is refused with its file, line and key", arguments: [
        ("  - alert: PaymentsFailing\n", "  - alret: PaymentsFailing\n", #"team.yml:8:5: rules[0]: unknown key "alret""#),
        ("[${window}])) > ${max_share}", "[${window}])) > ${nope}", #"team.yml:8: PaymentsFailing.expr: ${nope}: no parameter or fragment "nope""#),
        ("job=${job|quote},code", "job=\"${job}\",code", "a name goes into an expression quoted: ${job|quote}"),
        ("default: \"0.02\"", "default: \"2\"", "team.yml:6:44: parameters[2].default: max_share: expected a share between 0 and 1"),
        ("> ${max_share}\n", "> > ${max_share}\n", "PaymentsFailing.expr: 1:"),
        ("humanizePercentage }}", "humanizePercentage }", "PaymentsFailing.summary:"),
        ("  - alert: PaymentsFailing\n    title", "  - alert: Other\n    title", "runbooks[0].alert: expected the name of one of the pack's alerts"),
        ("kind: promql", "kind: sql", "team.yml:15: runbook: steps[0].kind: Cannot initialize Kind from invalid String value sql"),
        ("pack: payments", "pack: Payments!", "pack: expected a lower-case name"),
        // The scheduled configuration checks' group is meshwatchd-analyze: no pack may take it.
        ("pack: payments", "pack: analyze", "pack: expected a lower-case name such as linkerd (not analyze)"),
        // Runbooks get the configuration's checks: a limit that would trap, a misspelt key.
        ("kind: promql, query", "kind: promql, limit: -5, query", "runbook PaymentsFailing.steps[0].limit: expected 1 to 10000, got -5"),
        ("kind: promql, query", "kind: promql, namepsace: x, query", #"runbooks[0].steps[0]: unknown key "namepsace""#),
        ("    title: Payments failing\n", "    title: Payments failing\n    remediation: rollback\n", "remediation: expected rollout_undo, scale or restart"),
        // A rule label must be a label name.
        ("    description: More than", "    labels: {\"bad key\": x}\n    description: More than", #""bad key" is not a label name"#),
    ])
    func wrongPackFiles(original: String, broken: String, message: String) throws {
        #expect(Self.small.contains(original), "the case no longer matches the pack: \(original)")
        do {
            _ = try load(Self.small.replacingOccurrences(of: original, with: broken))
            Issue.record("loaded despite \(broken)")
        } catch {
            #expect(error.description.contains(message), "\(error.description)")
        }
    }

    @Test("a team's own pack named in the configuration: counted by check-config, evaluated, its runbook listed; a file under a built-in name is refused")
    func configuredPackFile() async throws {
        let directory = NSTemporaryDirectory() + "meshwatchd-packs-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory + "/packs", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try Self.small.write(toFile: directory + "/packs/payments.yml", atomically: true, encoding: .utf8)
        try #"""
            {"prometheus": {"url": "http://127.0.0.1:9"},
             "packs": {"istio": {"enabled": false}, "payments": {"file": "packs/payments.yml", "parameters": {"max_share": "0.1"}}}}
            """#.write(toFile: directory + "/config.json", atomically: true, encoding: .utf8)
        let check = try await cli.meshwatchd(["check-config", "--config", directory + "/config.json"])
        #expect(check.status == 0, "\(check.stderr)")
        #expect(check.stdout.contains("valid: 1 rules in 1 groups"), "\(check.stdout)")
        let list = try await cli.meshwatchd(["runbooks", "list", "--config", directory + "/config.json"])
        #expect(list.stdout.contains("PaymentsFailing") && list.stdout.contains("LinkerdHighErrorRate"), "\(list.stdout)")
        let configuration = try Configuration.load(path: directory + "/config.json")
        let packs = try PackSelection.fromConfiguration(configuration)
        #expect(packs.map(\.pack.name) == ["payments"])
        #expect(packs[0].group.builtIn)  // a pack the configuration names may remediate
        #expect(packs[0].definitions[0].expression.hasSuffix("> 0.1"))

        for (config, message) in [
            (#"{"prometheus": {"url": "http://127.0.0.1:9"}, "packs": {"istio": {"file": "packs/payments.yml"}}}"#,
             #"packs.istio.file: "istio" is a built-in pack"#),
            (#"{"prometheus": {"url": "http://127.0.0.1:9"}, "packs": {"billing": {"file": "packs/payments.yml"}}}"#,
             #"packs.billing.file: the file is pack "payments", not "billing""#),
            (#"{"prometheus": {"url": "http://127.0.0.1:9"}, "packs": {"kuma": {}}}"#,
             "packs.kuma: unknown pack (built in: istio, linkerd, cilium; a pack of your own needs file)"),
            (#"{"prometheus": {"url": "http://127.0.0.1:9"}, "packs": {"team": {"file": "packs/missing.yml"}}}"#,
             "packs.team.file: "),
        ] {
            try config.write(toFile: directory + "/bad.json", atomically: true, encoding: .utf8)
            let run = try await cli.meshwatchd(["check-config", "--config", directory + "/bad.json"])
            #expect(run.status == 78)
            #expect(run.stderr.contains(message), "\(message):\n\(run.stderr)")
        }
    }

    @Test("a rule file's group may not take a pack's group name or the daemon's own; a configured runbook's limit is checked")
    func reservedNames() async throws {
        let directory = NSTemporaryDirectory() + "meshwatchd-reserved-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        for name in ["meshwatchd-analyze", "meshwatchd-istio", "meshwatchd"] {
            try "groups:\n  - name: \(name)\n    rules:\n      - alert: A\n        expr: vector(1)\n"
                .write(toFile: directory + "/rules.yml", atomically: true, encoding: .utf8)
            let run = try await cli.meshwatchd(["eval", "--prometheus", "http://127.0.0.1:9", "--rules", directory + "/rules.yml", "--pack", "istio"])
            #expect(run.status != 0 && run.stderr.contains("group \"\(name)\": the name is meshwatchd's own"), "\(name): \(run.stderr)")
        }
        try #"{"prometheus": {"url": "http://127.0.0.1:9"}, "packs": {"istio": {}}, "runbooks": {"definitions": [{"alert": "X", "steps": [{"name": "s", "kind": "events", "limit": -5}]}]}}"#
            .write(toFile: directory + "/config.json", atomically: true, encoding: .utf8)
        let check = try await cli.meshwatchd(["check-config", "--config", directory + "/config.json"])
        #expect(check.status == 78 && check.stderr.contains("runbooks.definitions[0].steps[0].limit: expected 1 to 10000, got -5"), "\(check.stderr)")
    }

    @Test("--pack linkerd and cilium load; rules params lists a pack's parameters; an unknown pack names the known ones")
    func commandLine() async throws {
        let export = try await cli.meshwatchd(["rules", "export", "--pack", "cilium", "--set", "agent.job=cilium"])
        #expect(export.status == 0, "\(export.stderr)")
        #expect(export.stdout.contains(#"up{job="cilium"} == 0"#))
        let params = try await cli.meshwatchd(["rules", "params", "--pack", "linkerd"])
        #expect(params.stdout.contains("labels.workload") && params.stdout.contains("deployment"), "\(params.stdout)")
        let source = try await cli.meshwatchd(["rules", "export", "--pack", "linkerd", "--format", "pack"])
        #expect(source.stdout == RulePack.builtInSource("linkerd"))
        let unknown = try await cli.meshwatchd(["eval", "--prometheus", "http://127.0.0.1:9", "--pack", "kuma"])
        #expect(unknown.status == 64)
        #expect(unknown.stderr.contains("known: istio, linkerd, cilium"), "\(unknown.stderr)")
        let wrongSet = try await cli.meshwatchd(["eval", "--prometheus", "http://127.0.0.1:9", "--pack", "cilium", "--set", "istiod.job=x"])
        #expect(wrongSet.stderr.contains("--set istiod.job: no pack loaded has this parameter"), "\(wrongSet.stderr)")
    }
}
