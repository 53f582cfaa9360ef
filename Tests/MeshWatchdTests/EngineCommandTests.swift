import AlertEngine
import Foundation
import MeshPacks
import Incidents
import Remediation
import Logging
import MeshFixtures
@testable import MeshWatchdCore
import Testing

/// `eval`, `replay` and `rules export` through the binary, against the real Prometheus
/// over the incident scenario.
@Suite("meshwatchd eval, replay and rules export")
struct EngineCommandTests {
    static let scenario = MeshScenario.incident()
    let cli = CommandLineTests()

    func unix(_ minutes: Double) -> String { String(Int(Self.scenario.start.timeIntervalSince1970 + minutes * 60)) }

    @Test("eval with the Istio pack shows the incident's alerts as pending instances, with values")
    func evalPack() async throws {
        try await withPrometheus(openMetrics: Self.scenario.openMetrics()) { server async throws in
            let run = try await cli.meshwatchd(["eval", "--prometheus", server.url, "--pack", "istio", "--at", unix(55)])
            #expect(run.status == 0, "\(run.stderr)")
            for expected in ["IstioHighErrorRate", "IstioHighLatency", "IstioLowMTLSCoverage", "IstioCertificateExpiring",
                             "IstioCircuitBreakerOpen"] {
                #expect(run.stdout.contains(expected), "\(expected) missing from:\n\(run.stdout)")
            }
            #expect(!run.stdout.contains("IstiodDown"))
            #expect(run.stdout.contains("reviews.bookinfo.svc.cluster.local"))
            #expect(!run.stdout.contains("batch-report"))  // below the traffic floor

            let json = try await cli.meshwatchd(["eval", "--prometheus", server.url, "--pack", "istio", "--at", unix(55),
                                                 "--output", "json"])
            let document = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
            let instances = try #require(document["instances"] as? [[String: Any]])
            let errorRate = instances.first { ($0["alert"] as? String) == "IstioHighErrorRate" }
            #expect((errorRate?["state"] as? String) == "pending")
            #expect(Double(errorRate?["value"] as? String ?? "") .map { abs($0 - 0.12) < 0.002 } == true)
            #expect(((errorRate?["labels"] as? [String: String])?["alertname"]) == "IstioHighErrorRate")
            #expect(((errorRate?["annotations"] as? [String: String])?["summary"])?.contains("12% of requests fail with 5xx") == true)
            #expect((document["rules"] as? [[String: Any]])?.count == RulePack.withDefaults("istio").definitions.count)

            // jsonl: one line per instance, then one per rule with its health: the same objects as the document.
            let lines = try await cli.meshwatchd(["eval", "--prometheus", server.url, "--pack", "istio", "--at", unix(55), "-o", "jsonl"])
            let objects = try lines.stdout.split(separator: "\n").map { try #require(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
            #expect(objects.count == instances.count + RulePack.withDefaults("istio").definitions.count)
            #expect(objects.filter { $0["alert"] != nil }.count == instances.count)
        }
    }

    @Test("replay streams the incident's transitions in order: pending, then firing after `for`")
    func replayIncident() async throws {
        try await withPrometheus(openMetrics: Self.scenario.openMetrics()) { server async throws in
            let run = try await cli.meshwatchd(["replay", "--prometheus", server.url, "--pack", "istio",
                                                "--from", unix(30), "--to", unix(60), "--step", "30s", "--output", "jsonl"])
            #expect(run.status == 0, "\(run.stderr)")
            let events = run.stdout.split(separator: "\n").compactMap {
                try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
            }
            func times(_ alert: String, _ transition: String, workload: String) -> [String] {
                events.filter {
                    $0["alert"] as? String == alert && $0["transition"] as? String == transition
                        && ($0["labels"] as? [String: String])?["destination_workload"] == workload
                }.compactMap { $0["time"] as? String }
            }
            let formatter = ISO8601DateFormatter()
            let pending = try #require(times("IstioHighErrorRate", "pending", workload: "reviews").first.flatMap(formatter.date))
            let firing = try #require(times("IstioHighErrorRate", "firing", workload: "reviews").first.flatMap(formatter.date))
            // The 5xx rate passes 5 % within the 5-minute window after the rollout at +40 min.
            #expect(pending > Self.scenario.start.addingTimeInterval(40 * 60))
            #expect(pending < Self.scenario.start.addingTimeInterval(43 * 60))
            #expect(firing.timeIntervalSince(pending) == 120)
            let latencyPending = try #require(times("IstioHighLatency", "pending", workload: "ratings").first.flatMap(formatter.date))
            let latencyFiring = try #require(times("IstioHighLatency", "firing", workload: "ratings").first.flatMap(formatter.date))
            #expect(latencyFiring.timeIntervalSince(latencyPending) == 300)

            // json: the same objects streamed as one array (with --alerts-at's snapshot among them), valid JSON.
            let document = try await cli.meshwatchd(["replay", "--prometheus", server.url, "--pack", "istio", "--from", unix(30), "--to", unix(60),
                                                     "--step", "30s", "--alerts-at", unix(50), "-o", "json"])
            #expect(document.status == 0, "\(document.stderr)")
            let array = try #require(try JSONSerialization.jsonObject(with: Data(document.stdout.utf8)) as? [[String: Any]], "\(document.stdout.prefix(500))")
            #expect(array.filter { $0["transition"] != nil }.count == events.count)
            #expect(array.filter { $0["alertsAt"] != nil }.count == 1)
            // A short run is a document too, whatever it found.
            let short = try await cli.meshwatchd(["replay", "--prometheus", server.url, "--pack", "istio", "--from", unix(0), "--to", unix(0),
                                                  "-o", "json"])
            #expect((try? JSONSerialization.jsonObject(with: Data(short.stdout.utf8))) is [Any], "\(short.stdout)")
            #expect(times("IstioHighErrorRate", "pending", workload: "batch-report").isEmpty)
            #expect(run.stderr.contains("replay: 61 evaluations"))
        }
    }

    @Test("replay accepts any past time, 1970 included, and a config file; eval reports failing rules with exit 2")
    func configAndFailures() async throws {
        let directory = NSTemporaryDirectory() + "meshwatchd-cli-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try """
            groups:
              - name: custom
                rules:
                  - alert: Broken
                    expr: label_replace(istio_requests_total, "x", "$1", "y", "(")
                  - alert: AnyTraffic
                    expr: sum(rate(istio_requests_total[5m])) > 0
                    annotations:
                      summary: '{{ $value | humanize }} req/s in {{ $externalLabels.cluster }}'
            """.write(toFile: directory + "/custom.yml", atomically: true, encoding: .utf8)
        try await withPrometheus(openMetrics: Self.scenario.openMetrics()) { server async throws in
            try """
                {"prometheus": {"url": "\(server.url)"}, "rule_files": ["*.yml"], "external_labels": {"cluster": "prod-eu"},
                 "packs": {"istio": {"enabled": true, "parameters": {"error_rate.threshold": "0.5"}}}}
                """.write(toFile: directory + "/config.json", atomically: true, encoding: .utf8)
            let run = try await cli.meshwatchd(["eval", "--config", directory + "/config.json", "--at", unix(55)])
            #expect(run.status == 2)
            #expect(run.stdout.contains("rule Broken failed"), "\(run.stdout)")
            #expect(run.stdout.contains("label_replace"))
            #expect(run.stdout.contains("AnyTraffic"))
            #expect(!run.stdout.contains("IstioHighErrorRate"))  // threshold raised to 50 % by the config

            let json = try await cli.meshwatchd(["eval", "--config", directory + "/config.json", "--at", unix(55), "--output", "json"])
            #expect(json.stdout.contains("req/s in prod-eu"))

            // Invalid PromQL never reaches Prometheus: the file is refused at load, at promtool's position.
            try "groups:\n  - name: bad\n    rules:\n      - alert: Unclosed\n        expr: sum(rate(istio_requests_total[5m]\n"
                .write(toFile: directory + "/bad.yml", atomically: true, encoding: .utf8)
            let refused = try await cli.meshwatchd(["eval", "--config", directory + "/config.json", "--at", unix(55)])
            #expect(refused.status == 78)
            #expect(refused.stderr.contains("bad.yml:5:15: group \"bad\", rule 1, \"Unclosed\": could not parse expression: 1:34: parse error:"),
                    "\(refused.stderr)")
            try FileManager.default.removeItem(atPath: directory + "/bad.yml")

            let epoch = try await cli.meshwatchd(["replay", "--prometheus", server.url, "--pack", "istio", "--from", "0",
                                                  "--to", "1970-01-01T00:10:00Z", "--step", "1m"])
            #expect(epoch.status == 0, "\(epoch.stderr)")
            #expect(epoch.stderr.contains("replay: every group every 1m (--step)"))
            #expect(epoch.stderr.contains("replay: 11 evaluations"))
            // Without --step each group keeps its own interval, as the daemon evaluates it.
            let own = try await cli.meshwatchd(["replay", "--prometheus", server.url, "--pack", "istio", "--from", "0",
                                                "--to", "1970-01-01T00:10:00Z"])
            #expect(own.stderr.contains("replay: each group at its own interval (meshwatchd-istio 30s)"), "\(own.stderr)")
            #expect(own.stderr.contains("replay: 21 evaluations"))
        }
        try #"{"prometheus": {"url": 5}}"#.write(toFile: directory + "/bad.json", atomically: true, encoding: .utf8)
        let bad = try await cli.meshwatchd(["eval", "--config", directory + "/bad.json", "--pack", "istio"])
        #expect(bad.status == 78)
        #expect(bad.stderr.contains("bad.json:1:24: prometheus.url: expected String"), "\(bad.stderr)")
        try "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        fro: 5m\n"
            .write(toFile: directory + "/wrong.yml", atomically: true, encoding: .utf8)
        let wrongRules = try await cli.meshwatchd(["eval", "--prometheus", "http://127.0.0.1:1", "--rules", directory + "/wrong.yml"])
        #expect(wrongRules.status == 78)
        #expect(wrongRules.stderr.contains("wrong.yml:6:9: group \"g\", rule 1, \"A\": unknown field \"fro\""), "\(wrongRules.stderr)")
        let unreachable = try await cli.meshwatchd(["replay", "--prometheus", "http://127.0.0.1:1", "--pack", "istio",
                                                    "--from", "0", "--to", "86400"])
        #expect(unreachable.status == 2)
        #expect(unreachable.stderr.contains("stopped after the first evaluation: every rule failed"), "\(unreachable.stderr)")
        #expect(unreachable.stderr.contains("connection refused"))
        let noRules = try await cli.meshwatchd(["eval", "--prometheus", "http://127.0.0.1:1"])
        #expect(noRules.stderr.contains("no rules"))
    }

    @Test("rules export applies parameters and refuses wrong ones")
    func export() async throws {
        let run = try await cli.meshwatchd(["rules", "export", "--set", "latency.p95_ms=800", "--set", "error_rate.for=5m"])
        #expect(run.status == 0)
        #expect(run.stdout.contains("[5m]))) > 800'"))
        #expect(run.stdout.contains("      - alert: IstioHighErrorRate\n        expr:"))
        let bad = try await cli.meshwatchd(["rules", "export", "--set", "error_rate.threshold=2"])
        #expect(bad.status != 0)
        #expect(bad.stderr.contains("error_rate.threshold: expected a share between 0 and 1"))
        let unknown = try await cli.meshwatchd(["rules", "export", "--set", "latency.p99=1"])
        #expect(unknown.stderr.contains("unknown parameter \"latency.p99\""))
    }
}

@Suite("config.example.json and config.production.example.json")
struct ConfigurationExampleTests {
    /// Settings derived from a configuration file, the way the daemon derives them.
    struct Derived: Equatable {
        var groups: [String]
        var rules: [String]
        var holds: [Duration]
        var interval: Duration
        var policy: EscalationPolicy
        var routes: [SinkRoute]
        var remediation: RemediationPolicy
        var restore: [Duration]
        var raw: [String]

        init(_ path: String) throws {
            var options = try RuleSourceOptions.parse(["--config", path])
            options.ruleFiles = []
            let resolved = try options.resolve()
            groups = resolved.groups.map(\.name)
            rules = resolved.groups.flatMap { $0.rules.map(\.identity) }
            holds = resolved.groups.flatMap { $0.rules.map(\.holdDuration) }
            interval = resolved.interval
            let configuration = resolved.configuration
            let sinks = try ConfiguredSink.build(configuration.sinks ?? [], logger: Logger(label: "test"))
            let notifications = try NotificationSettings.build(configuration.notifications, sinks: sinks, groups: resolved.groups,
                                                               context: resolved.context)
            policy = notifications.policy
            routes = notifications.routes
            remediation = configuration.remediationPolicy(environment: [:])
            let defaults = RestoreOptions()
            restore = [configuration.restore?.outageTolerance?.value ?? defaults.outageTolerance,
                       configuration.restore?.forGracePeriod?.value ?? defaults.forGracePeriod]
            // The plain settings, as the daemon reads them (nil and the default mean the same).
            func value(_ text: String?, _ fallback: String) -> String { text ?? fallback }
            raw = [value(configuration.queryTimeout?.text, "10s"), "\(configuration.maxConcurrentQueries ?? 4)",
                   "\(configuration.maxSeriesPerQuery ?? 10000)", value(configuration.listenIdleTimeout?.text, "30s"),
                   value(configuration.shutdownTimeout?.text, "10s"), value(configuration.listenAddress, "127.0.0.1:9819"),
                   value(configuration.runbooks?.evidenceTimeout?.text, "60s"), "\(configuration.runbooks?.enabled ?? true)",
                   "\(configuration.runbooks?.definitions?.count ?? 0)", "\(configuration.leaderElection?.enabled ?? false)",
                   "\(configuration.externalLabels ?? [:])", value(configuration.externalUrl, ""),
                   "\(configuration.notifications?.links ?? [:])", "\(configuration.sinks?.count ?? 0)"]
        }
    }

    @Test("config.example.json holds every key at its default: it derives exactly what an empty configuration does")
    func exampleIsTheDefaults() throws {
        let example = PackTests.root + "/config.example.json"
        let directory = NSTemporaryDirectory() + "meshwatchd-defaults-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // The same Prometheus URL (it has no default) and the pack enabled, nothing else.
        try #"{"prometheus": {"url": "http://127.0.0.1:9090"}, "packs": {"istio": {}}}"#
            .write(toFile: directory + "/empty.json", atomically: true, encoding: .utf8)
        let derived = try Derived(example)
        let empty = try Derived(directory + "/empty.json")
        #expect(derived == empty, "\(derived)\n\(empty)")
        #expect(derived.groups == ["meshwatchd-istio"] && derived.rules.count == RulePack.withDefaults("istio").definitions.count)
        #expect(derived.policy.delays == [.zero, .seconds(1800), .seconds(7200)])
        #expect(derived.policy.datasourceDownAfter == .seconds(300))
        // Every pack parameter is shown.
        let configuration = try Configuration.load(path: example)
        let shown = try #require(configuration.packs?["istio"]?.parameters)
        #expect(Set(shown.keys) == Set(RulePack.withDefaults("istio").values.entries.map(\.key)))
    }

    /// config.production.example.json in a directory of its own, with the secret files and rule
    /// file it names beside it, as an operator would lay it out; the caller removes the directory.
    static func productionDirectory() throws -> String {
        let directory = NSTemporaryDirectory() + "meshwatchd-production-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory + "/secrets", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: directory + "/rules", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: PackTests.root + "/config.production.example.json", toPath: directory + "/config.json")
        for (file, content) in [("prometheus-authorization", "Bearer x"), ("ops-webhook-url", "https://hooks.example.com/x"),
                                ("ops-webhook-hmac", "s3cret"), ("slack-url", "https://hooks.slack.com/services/T/B/x"),
                                ("pagerduty-routing-key", "R0UT1NG")] {
            try content.write(toFile: directory + "/secrets/" + file, atomically: true, encoding: .utf8)
        }
        try "groups:\n- name: team\n  rules:\n  - alert: TeamDown\n    expr: up == 0\n"
            .write(toFile: directory + "/rules/team.yml", atomically: true, encoding: .utf8)
        return directory
    }

    @Test("config.production.example.json loads with its secret files beside it: four sinks in two levels, dry-run, leader election")
    func productionExample() throws {
        let directory = try Self.productionDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (_, problems) = Configuration.check(path: directory + "/config.json")
        #expect(problems.isEmpty, "\(problems)")
        let derived = try Derived(directory + "/config.json")
        #expect(derived.groups == ["team", "meshwatchd-istio"])
        #expect(derived.routes.map(\.name) == ["alertmanager", "ops-webhook", "slack-oncall", "pagerduty"])
        #expect(derived.routes.map(\.level) == [1, 1, 1, 2])
        #expect(derived.remediation.mode == .dryRun)
        #expect(derived.remediation.allowNamespaces == ["bookinfo", "shop"])
    }
}

@Suite("meshwatchd check-config")
struct CheckConfigTests {
    @Test("every problem at once, each with its file and key path or line; secrets never echoed")
    func problems() async throws {
        let directory = NSTemporaryDirectory() + "meshwatchd-check-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        fro: 5m\n"
            .write(toFile: directory + "/rules.yml", atomically: true, encoding: .utf8)
        try #"""
            {"prometheus": {"url": "prom:9090", "headers": {"Authorization": "Bearer s3cret-token"}},
             "query_timeout": "soon", "log": {"level": "loud"}, "rule_files": ["rules.yml"],
             "packs": {"istio": {"parameters": {"latency.p95_ms": "fast"}}}}
            """#.write(toFile: directory + "/config.json", atomically: true, encoding: .utf8)
        let cli = CommandLineTests()
        let run = try await cli.meshwatchd(["check-config", "--config", directory + "/config.json"])
        #expect(run.status == 78)
        for expected in ["config.json: query_timeout:", "config.json: log.level:", "config.json: prometheus.url:",
                         "config.json: packs.istio.parameters.latency.p95_ms:", "rules.yml:6:9: group \"g\", rule 1, \"A\": unknown field \"fro\"",
                         "5 problems found"] {
            #expect(run.stderr.contains(expected), "\(expected) missing:\n\(run.stderr)")
        }
        #expect(!run.stderr.contains("s3cret-token") && !run.stdout.contains("s3cret-token"))

        let valid = try await cli.meshwatchd(["check-config", "--config", PackTests.root + "/config.example.json"])
        #expect(valid.status == 0)
        #expect(valid.stdout.contains("valid: \(RulePack.withDefaults("istio").definitions.count) rules in 1 groups"))
        let broken = try await cli.meshwatchd(["check-config", "--config", directory + "/missing.json"])
        #expect(broken.status == 78)
    }
    @Test("--connect reaches Prometheus and every sink by a GET only (nothing posted): reachable ones say so, an unreachable one fails with 1")
    func connect() async throws {
        let directory = NSTemporaryDirectory() + "meshwatchd-check-connect-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let closed = try ClosedPort()
        defer { withExtendedLifetime(closed) {} }
        try await withPrometheus(openMetrics: "# EOF\n") { prometheus async throws in
            try await withEchoServer { echo async throws in
                try "\(echo.url("/services/T0/B0/SLACKSECRET9"))\n".write(toFile: directory + "/slack-url", atomically: true, encoding: .utf8)
                func write(alertmanager: String) throws {
                    try #"""
                        {"prometheus": {"url": "\#(prometheus.url)"}, "packs": {"istio": {}},
                         "sinks": [{"name": "hook", "type": "webhook", "url": "\#(echo.url("/receiver"))"},
                                   {"name": "chat", "type": "slack", "url_file": "slack-url"},
                                   {"name": "am", "type": "alertmanager", "url": "\#(alertmanager)"}]}
                        """#.write(toFile: directory + "/config.json", atomically: true, encoding: .utf8)
                }
                try write(alertmanager: "http://127.0.0.1:\(closed.port)")
                let cli = CommandLineTests()
                let offline = try await cli.meshwatchd(["check-config", "--config", directory + "/config.json"])
                #expect(offline.status == 0 && offline.stdout.contains("(not contacted: --connect reaches it)"), "\(offline.stdout)\(offline.stderr)")
                let run = try await cli.meshwatchd(["check-config", "--config", directory + "/config.json", "--connect"])
                #expect(run.status == 1, "\(run.stdout)\(run.stderr)")
                #expect(run.stdout.contains("connect: Prometheus \(prometheus.url): answers queries"), "\(run.stdout)")
                #expect(run.stdout.contains("connect: sink hook (webhook) \(echo.url("/receiver")): reachable, HTTP"), "\(run.stdout)")
                #expect(run.stdout.contains("connect: sink chat (slack) http://127.0.0.1:\(echo.port)/<hidden>: reachable"), "\(run.stdout)")
                #expect(run.stdout.contains("connect: sink am (alertmanager)") && run.stdout.contains("not reachable"), "\(run.stdout)")
                #expect(!run.stdout.contains("SLACKSECRET9") && !run.stderr.contains("SLACKSECRET9"))
                // Nothing was posted: whatever reached the receiver carried no body (a GET).
                let bodies = try await echo.deliveries().bodies
                #expect(!bodies.isEmpty && bodies.allSatisfy(\.isEmpty), "\(bodies)")
            }
        }
    }

    @Test("the web section: URLs, user names and hashes (never a plain password), token files, durations, sink templates")
    func web() async throws {
        let directory = NSTemporaryDirectory() + "meshwatchd-check-web-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try "short\n".write(toFile: directory + "/short.token", atomically: true, encoding: .utf8)
        try #"""
            {"web": {"external_url": "ops.example.com", "advertise_url": "http://10.0.0.1:9819/?x=1", "session_timeout": "0s",
                     "state_configmap": "Not_A_Name",
                     "users": [{"name": "alice", "password_hash": "hunter2"}, {"name": "alice", "password_hash": "$2b$04$abcdefghijklmnopqrstuu5yTqNsqBgV3hKnUbpy5gPz6nL5Q6Yc."},
                               {"name": "bob"}, {"name": "a b", "password_hash": "$6$salt$x"}],
                     "tokens": [{"name": "ci", "file": "\#(directory)/short.token"}, {"name": "ci2", "file": "\#(directory)/none"}, {"name": "ci3"}]},
             "sinks": [{"name": "chat", "type": "slack", "url": "http://127.0.0.1:9/x", "template": "{{ .Status "}]}
            """#.write(toFile: directory + "/config.json", atomically: true, encoding: .utf8)
        let run = try await CommandLineTests().meshwatchd(["check-config", "--config", directory + "/config.json"])
        #expect(run.status == 78)
        for expected in ["config.json: web.external_url:", "config.json: web.advertise_url:", "config.json: web.session_timeout:",
                         "config.json: web.state_configmap:", "config.json: web.users[0].password_hash: not a password hash",
                         "config.json: web.users[1].name: user \"alice\" is listed twice", "config.json: web.users[2].password_hash: missing",
                         "config.json: web.users[3].name:", "config.json: web.tokens[0].file:", "at least 16 characters",
                         "config.json: web.tokens[1].file: cannot read", "config.json: web.tokens[2].file: missing", "config.json: sinks[0].template:"] {
            #expect(run.stderr.contains(expected), "\(expected) missing:\n\(run.stderr)")
        }
        #expect(!run.stderr.contains("hunter2"), "a password-like value is echoed")
    }
}

@Suite("Secrets in the configuration")
struct SecretsTests {
    @Test("basic auth passwords and secret headers come from files, reach Prometheus, and never show in output")
    func fromFiles() async throws {
        let directory = NSTemporaryDirectory() + "meshwatchd-secrets-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try "pw-from-file-123\n".write(toFile: directory + "/password", atomically: true, encoding: .utf8)
        try "tenant-secret-456\n".write(toFile: directory + "/tenant", atomically: true, encoding: .utf8)
        try await withEchoServer { echo async throws in
            try """
                {"prometheus": {"url": "\(echo.url("/prom"))", "basic_auth": {"username": "meshwatchd", "password_file": "\(directory)/password"},
                 "header_files": {"X-Scope-OrgID": "\(directory)/tenant"}},
                 "rule_files": ["rules.yml"]}
                """.write(toFile: directory + "/config.json", atomically: true, encoding: .utf8)
            // The echo server answers queries with the request it saw, as a string result.
            try "groups:\n  - name: g\n    rules:\n      - alert: Echo\n        expr: up\n"
                .write(toFile: directory + "/rules.yml", atomically: true, encoding: .utf8)
            let cli = CommandLineTests()
            let run = try await cli.meshwatchd(["eval", "--config", directory + "/config.json", "--output", "json"])
            // A string result is not a vector: the rule fails with Prometheus's words, and the
            // request the echo server saw is not printed.
            #expect(run.stdout.contains("not a vector or scalar"), "\(run.stdout)\n\(run.stderr)")
            let check = try await cli.meshwatchd(["check-config", "--config", directory + "/config.json"])
            #expect(check.status == 0, "\(check.stderr)")
            // As Mimir is reached (a path prefix, a tenant header, no /-/ready under the prefix): --connect
            // sends the query 1 through the prefix, with the headers and credentials.
            let connect = try await cli.meshwatchd(["check-config", "--config", directory + "/config.json", "--connect", "-o", "json"])
            let reached = (try JSONSerialization.jsonObject(with: Data(connect.stdout.utf8)) as? [String: Any])?["connect"] as? [[String: Any]]
            #expect(reached?.first?["ok"] as? Bool == true, "\(connect.stdout)\(connect.stderr)")
            #expect((reached?.first?["outcome"] as? String)?.contains("answers queries") == true)

            // What Prometheus receives, through the client the daemon builds from this file.
            let configuration = try Configuration.load(path: directory + "/config.json")
            let client = try PrometheusOptions.parse([]).makeClient(logger: Logger(label: "test"), configuration: configuration.prometheus)
            guard case .string(_, let text) = try await client.query("up", at: Date()).result else {
                Issue.record("the echo server did not answer with a string result")
                return
            }
            let seen = try Echo(Array(text.utf8))
            #expect(seen.headers["authorization"] == "Basic " + Data("meshwatchd:pw-from-file-123".utf8).base64EncodedString())
            #expect(seen.headers["x-scope-orgid"] == "tenant-secret-456")
            for output in [run.stdout, run.stderr, check.stdout, check.stderr] {
                #expect(!output.contains("pw-from-file-123") && !output.contains("tenant-secret-456"))
            }
        }
        try #"{"prometheus": {"url": "http://127.0.0.1:1", "basic_auth": {"username": "u", "password_file": "/nonexistent"}}}"#
            .write(toFile: directory + "/bad.json", atomically: true, encoding: .utf8)
        let bad = try await CommandLineTests().meshwatchd(["check-config", "--config", directory + "/bad.json"])
        #expect(bad.stderr.contains("prometheus.basic_auth.password_file: cannot read /nonexistent"), "\(bad.stderr)")
    }
}

@Suite("Sink configuration")
struct SinkConfigurationTests {
    @Test("each sink mistake names its key path")
    func mistakes() async throws {
        let directory = NSTemporaryDirectory() + "meshwatchd-sinks-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try #"""
            {"prometheus": {"url": "http://127.0.0.1:9090"}, "packs": {"istio": {}},
             "sinks": [{"name": "pager", "type": "pagerduty"},
                       {"name": "chat", "type": "slack"},
                       {"name": "chat", "type": "webhook", "url": "http://hooks.example/x", "secret_file": "/nonexistent"},
                       {"name": "teams", "type": "msteams", "url": "http://127.0.0.1:9093"},
                       {"name": "am", "type": "alertmanager", "url": "http://127.0.0.1:9093", "group_wait": "10s"},
                       {"name": "team", "type": "webhook", "url": "http://hooks.example/y", "matchers": ["namespace=\"shop\"", "team=~\"(\""]},
                       {"name": "hook", "type": "webhook", "url": "http://hooks.example/z", "bearer_token_file": "/etc/hostname"},
                       {"name": "mimir", "type": "alertmanager", "url": "http://127.0.0.1:9093", "urls": ["http://a:9093", "b:9093"],
                        "basic_auth": {"username": "tenant"}, "bearer_token_file": "/nonexistent", "cert_file": "/etc/hostname"}]}
            """#.write(toFile: directory + "/config.json", atomically: true, encoding: .utf8)
        let run = try await CommandLineTests().meshwatchd(["check-config", "--config", directory + "/config.json"])
        #expect(run.status == 78)
        for expected in ["sinks[0].routing_key_file: missing", "sinks[1].url: give exactly one of url and url_file",
                         "sinks[2].name: \"chat\" is used by another sink", "sinks[2].secret_file: cannot read /nonexistent",
                         "sinks[3].type: \"msteams\" is not a sink type (webhook, alertmanager, slack, pagerduty are)",
                         "sinks[4].group_wait: only slack sinks group", "sinks[5].matchers[1]: \"team=~\\\"(\\\"\": not a regular expression",
                         "sinks[6].bearer_token_file: only alertmanager sinks take it", "sinks[7].url: give exactly one of url, url_file and urls",
                         "sinks[7].urls[1]: expected an absolute http(s) URL", "sinks[7].basic_auth: give basic_auth or bearer_token_file, not both",
                         "sinks[7].basic_auth: needs username and password_file", "sinks[7].cert_file: give cert_file and key_file together",
                         "sinks[7].bearer_token_file: cannot read /nonexistent"] {
            #expect(run.stderr.contains(expected), "\(expected) missing:\n\(run.stderr)")
        }
    }
}
