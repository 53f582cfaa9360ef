import Foundation
import Logging
@testable import MeshWatchdCore
import Testing

/// The configuration is read strictly: a misspelt key, a trailing comma or a missing file is
/// refused with the file, the line and column, and the key path, never silently ignored.
@Suite("Configuration: unknown keys, strict JSON, YAML, map keys verbatim")
final class ConfigurationStrictnessTests {
    let directory: String

    init() throws { directory = try DaemonTests.temporaryDirectory() }
    deinit { try? FileManager.default.removeItem(atPath: directory) }

    /// Writes `text` to a new file whose name ends in `name` and loads it.
    func load(_ text: String, name: String = "config.json") throws -> (path: String, result: Result<Configuration, any Error>) {
        let path = directory + "/" + UUID().uuidString + "-" + name
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return (path, Result { try Configuration.load(path: path) })
    }

    /// The message a load refused `text` with, or nil when it was accepted.
    func refusal(_ text: String, name: String = "config.json") throws -> (path: String, message: String?) {
        let (path, result) = try load(text, name: name)
        guard case .failure(let error) = result else { return (path, nil) }
        return (path, "\(error)")
    }

    /// Two lines every configuration below starts with, then `setting` on line 3.
    static func document(_ setting: String) -> String {
        "{\"prometheus\": {\"url\": \"http://127.0.0.1:9\"},\n \"packs\": {\"istio\": {\"enabled\": true}},\n \(setting)}\n"
    }

    @Test("a misspelt key is refused with its key path as written, its line and column, and the key it was meant to be", arguments: [
        (#""remediation": {"deny_namespace": ["kube-public"]}"#, "3:18: remediation.deny_namespace: unknown key; did you mean `deny_namespaces`?"),
        // The sink did not become a webhook quietly: `tpye` is named, and `type` is required.
        (#""sinks": [{"name": "ops", "tpye": "slack", "url": "http://127.0.0.1:9/hook"}]"#, "3:28: sinks[0].tpye: unknown key; did you mean `type`?"),
        (#""evaluation_intervall": "1m""#, "3:2: evaluation_intervall: unknown key; did you mean `evaluation_interval`?"),
        (#""log": {"levle": "debug"}"#, "3:10: log.levle: unknown key; did you mean `level`?"),
        (#""sinks": [{"name": "ops", "type": "webhook", "url": "http://127.0.0.1:9/hook", "severity": ["critical"]}]"#,
         "3:81: sinks[0].severity: unknown key; did you mean `severities`?"),
        (#""runbooks": {"definitions": [{"alert": "X", "steps": [{"name": "q", "kind": "promql", "qeury": "up"}]}]}"#,
         "3:88: runbooks.definitions[0].steps[0].qeury: unknown key; did you mean `query`?"),
        // Keys are snake_case as documented; the Swift spelling is not a second way to write them.
        (#""notifications": {"repeatInterval": "1h"}"#, "3:20: notifications.repeatInterval: unknown key; did you mean `repeat_interval`?"),
        (#""remote_write": {"url": "http://127.0.0.1:9/api/v1/write", "max_queued_sample": 10}"#,
         "3:61: remote_write.max_queued_sample: unknown key; did you mean `max_queued_samples`?"),
        (#""recording_rule": "skip""#, "3:2: recording_rule: unknown key; did you mean `recording_rules`?"),
        // A value of the wrong type says where it is too.
        (#""max_concurrent_queries": "4""#, "3:28: max_concurrent_queries: expected Int"),
    ])
    func unknownKey(_ setting: String, _ expected: String) throws {
        let (path, message) = try refusal(Self.document(setting))
        #expect(message == "\(path):\(expected)", "accepted, or refused otherwise: \(message ?? "accepted")")
    }

    @Test("JSON is read as RFC 8259 writes it: trailing commas, comments and syntax errors refused with line and column", arguments: [
        ("{\"prometheus\": {\"url\": \"http://127.0.0.1:9\",},\n \"packs\": {\"istio\": {}}}\n", "1:44: ", "trailing comma"),
        (ConfigurationStrictnessTests.document(#""rule_files": ["a.yml",]"#), "3:24: ", "trailing comma"),
        (ConfigurationStrictnessTests.document(#""evaluation_interval": "1m",\#n"#), "3:29: ", "trailing comma"),
        (ConfigurationStrictnessTests.document(#""log" {"level": "debug"}"#), "3:8: ", "expected ':'"),
        (ConfigurationStrictnessTests.document("// the pack's interval\n \"evaluation_interval\": \"1m\""), "3:2: ", "comments are not allowed"),
        (ConfigurationStrictnessTests.document(#"'log': {}"#), "3:2: ", "expected a key in double quotes"),
    ])
    func strictJSON(_ text: String, _ position: String, _ fragment: String) throws {
        let (path, message) = try refusal(text)
        #expect(message?.hasPrefix(path + ":" + position) == true && message?.contains(fragment) == true,
                "expected \(path):\(position)… \(fragment), got \(message ?? "accepted")")
    }

    @Test("remote_write's values are checked with their key paths, every problem at once")
    func remoteWriteValues() throws {
        let path = directory + "/remote.json"
        try Self.document(#""remote_write": {"timeout": "soon", "max_queued_samples": 0, "max_samples_per_send": -1, "header_files": {"Authorization": "nope"}, "bearer_token_file": "gone", "cert_file": "c.pem"}, "recording_rules": "later""#)
            .write(toFile: path, atomically: true, encoding: .utf8)
        let (_, problems) = Configuration.check(path: path)
        let texts = problems.map(\.description)
        for expected in ["remote_write.url: missing (e.g. http://prometheus:9090/api/v1/write)",
                         "remote_write.timeout: expected a positive duration such as 30s or 5m, got \"soon\"",
                         "remote_write.max_queued_samples: expected 1 or more, got 0", "remote_write.max_samples_per_send: expected 1 or more, got -1",
                         "remote_write.header_files.Authorization: cannot read \(directory)/nope", "remote_write.bearer_token_file: cannot read \(directory)/gone",
                         "remote_write: cert_file and key_file go together", "recording_rules: expected evaluate or skip, got \"later\""] {
            #expect(texts.contains { $0.hasSuffix(expected) }, "\(expected) not in \(texts)")
        }
        try Self.document(#""remote_write": {"url": "ftp://x/write"}"#).write(toFile: path, atomically: true, encoding: .utf8)
        #expect(Configuration.check(path: path).1.map(\.description).contains { $0.hasSuffix("remote_write.url: expected an absolute http(s) URL") })
    }

    @Test("a file that cannot be read says why, in the system's words")
    func unreadable() throws {
        for (path, reason) in [(directory + "/missing.json", "No such file or directory"), (directory, "Is a directory")] {
            let error = #expect(throws: ConfigurationError.self) { try Configuration.load(path: path) }
            #expect(error?.description == "\(path): cannot be read: \(reason)")
        }
    }

    static let json = #"""
        {"prometheus": {"url": "http://127.0.0.1:9", "headers": {"X-Scope-OrgID": "team-a"}},
         "evaluation_interval": "1m",
         "external_labels": {"cluster_name": "eu-1"},
         "packs": {"istio": {"enabled": true, "parameters": {"error_rate.threshold": "0.02"}}},
         "log": {"level": "debug", "format": "text"},
         "remediation": {"mode": "dry-run", "deny_namespaces": ["kube-public"], "budget_per_hour": 2},
         "runbooks": {"definitions": [{"alert": "X", "steps": [{"name": "q", "kind": "promql", "query": "up", "limit": 5}]}]},
         "notifications": {"links": {"run_book": "https://runbooks.example/{{ $labels.alertname }}"}},
         "sinks": [{"name": "ops", "type": "slack", "url": "http://127.0.0.1:9/hook", "severities": ["critical"], "group_wait": "10s"}]}
        """#

    static let yaml = """
        # The same configuration as `json`, as YAML.
        prometheus:
          url: http://127.0.0.1:9
          headers: {X-Scope-OrgID: team-a}
        evaluation_interval: 1m
        external_labels:
          cluster_name: eu-1
        packs:
          istio:
            enabled: true
            parameters:
              error_rate.threshold: "0.02"
        log: {level: debug, format: text}
        remediation:
          mode: dry-run
          deny_namespaces: [kube-public]
          budget_per_hour: 2
        runbooks:
          definitions:
            - alert: X
              steps:
                - {name: q, kind: promql, query: up, limit: 5}
        notifications:
          links:
            run_book: "https://runbooks.example/{{ $labels.alertname }}"
        sinks:
          - name: ops
            type: slack
            url: http://127.0.0.1:9/hook
            severities: [critical]
            group_wait: 10s
        """

    @Test("a .yaml or .yml file is read as YAML with the same keys, and gives the same configuration")
    func yamlEqualsJSON() throws {
        let json = try load(Self.json).result.get()
        for name in ["config.yaml", "config.yml"] {
            let yaml = try load(Self.yaml, name: name).result.get()
            #expect(yaml == json)
        }
    }

    @Test("a misspelt key in YAML is refused with its line and column")
    func yamlUnknownKey() throws {
        let text = Self.yaml.replacingOccurrences(of: "  deny_namespaces:", with: "  deny_namespace:")
        let (path, message) = try refusal(text, name: "config.yaml")
        #expect(message == "\(path):16:3: remediation.deny_namespace: unknown key; did you mean `deny_namespaces`?", "\(message ?? "accepted")")
        let (other, syntax) = try refusal("prometheus:\n  url: [http://127.0.0.1:9\n", name: "config.yml")
        #expect(syntax?.hasPrefix(other + ":3:") == true, "\(syntax ?? "accepted")")
    }

    @Test("the keys of free-form maps (labels, headers, pack parameters, links) are kept as written")
    func mapKeysVerbatim() throws {
        let configuration = try load(Self.json).result.get()
        #expect(configuration.externalLabels == ["cluster_name": "eu-1"])
        #expect(configuration.prometheus?.headers == ["X-Scope-OrgID": "team-a"])
        #expect(configuration.packs?["istio"]?.parameters == ["error_rate.threshold": "0.02"])
        #expect(configuration.notifications?.links?.keys.sorted() == ["run_book"])
    }

    @Test("JSON strings decode as RFC 8259 defines them: escapes, surrogate pairs, non-ASCII text")
    func jsonStrings() throws {
        let text = #"{"external_labels": {"x": "\ud83d\ude00 caf\u00e9 \"q\" \\ \/ \t", "ünï": "é"}}"#
        let configuration = try ConfigurationDocument(text: text, file: "config.json").decode(Configuration.self).value
        #expect(configuration.externalLabels == ["x": "😀 café \"q\" \\ / \t", "ünï": "é"])
        let (path, message) = try refusal(#"{"external_labels": {"x": "\ud800"}}"#)
        #expect(message == "\(path):1:28: \\u escape of an unpaired surrogate", "\(message ?? "accepted")")
    }

    @Test("a word of a fixed set that is not one of them is refused with the words there are")
    func unknownWord() throws {
        let (path, message) = try refusal(Self.document(#""runbooks": {"definitions": [{"alert": "X", "steps": [{"name": "l", "kind": "logz"}]}]}"#))
        #expect(message?.hasPrefix("\(path):3:78: runbooks.definitions[0].steps[0].kind: expected one of promql, pods, events,") == true
                && message?.hasSuffix(#"got "logz""#) == true, "\(message ?? "accepted")")
    }

    @Test("promql_syntax must name a known syntax; rule_query_offset must be a duration, zero allowed")
    func syntaxAndOffset() throws {
        let (path, message) = try refusal(Self.document(#""promql_syntax": "prometheus-4""#))
        #expect(message?.contains("\(path)") == true && message?.contains(#"promql_syntax: expected "prometheus-2.42" or "prometheus-3", got "prometheus-4""#) == true,
                "\(message ?? "accepted")")
        let (_, offset) = try refusal(Self.document(#""rule_query_offset": "soon""#))
        #expect(offset?.contains(#"rule_query_offset: expected a duration such as 0s or 1m, got "soon""#) == true, "\(offset ?? "accepted")")
        #expect(try refusal(Self.document(#""rule_query_offset": "0s", "promql_syntax": "prometheus-3""#)).message == nil)
    }

    @Test("a sink without a type is refused: there is no silent default")
    func sinkTypeRequired() throws {
        let (path, message) = try refusal(Self.document(#""sinks": [{"name": "ops", "url": "http://127.0.0.1:9/hook"}]"#))
        #expect(message?.hasPrefix("\(path): sinks[0].type: missing") == true, "\(message ?? "accepted")")
    }

    @Test("config.example.json, which shows every key, still loads")
    func exampleLoads() throws {
        let configuration = try Configuration.load(path: PackTests.root + "/config.example.json")
        #expect(configuration.sinks?.isEmpty == true)  // the defaults: no sink
    }

    @Test("check-config lists every unknown key with its line, and the missing type, and exits 78")
    func checkConfigListsAll() async throws {
        let path = directory + "/config.json"
        try Self.document(#"""
            "evaluation_intervall": "1m", "log": {"levle": "debug"},
             "sinks": [{"name": "ops", "tpye": "slack", "url": "http://127.0.0.1:9/hook"}]
            """#).write(toFile: path, atomically: true, encoding: .utf8)
        let run = try await CommandLineTests().meshwatchd(["check-config", "--config", path])
        #expect(run.status == 78, "\(run.stdout)\(run.stderr)")
        for expected in ["\(path):3:2: evaluation_intervall: unknown key; did you mean `evaluation_interval`?",
                         "\(path):3:40: log.levle: unknown key; did you mean `level`?",
                         "\(path):4:28: sinks[0].tpye: unknown key; did you mean `type`?",
                         "\(path): sinks[0].type: missing", "4 problems found"] {
            #expect(run.stderr.contains(expected), "\(expected) missing:\n\(run.stderr)")
        }
    }

    @Test("commands that never notify do not read the sinks' secret files; check-config and run still do")
    func onlyTheSectionsACommandUses() async throws {
        let directory = NSTemporaryDirectory() + "meshwatchd-sections-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // The operator running `ledger` or `runbooks` may not be allowed to read the daemon's secrets.
        try #"""
            {"packs": {"istio": {}},
             "sinks": [{"name": "pager", "type": "pagerduty", "routing_key_file": "/nonexistent/routing-key"},
                       {"name": "hook", "type": "webhook", "url_file": "missing-url", "secret_file": "missing-secret"}]}
            """#.write(toFile: directory + "/config.json", atomically: true, encoding: .utf8)
        _ = try StateStore(path: directory + "/state.sqlite", logger: Logger(label: "test"))
        let commands = CommandLineTests()
        for arguments in [["ledger", "--config", directory + "/config.json", "--state-directory", directory, "--json"],
                          ["runbooks", "--config", directory + "/config.json"]] {
            let run = try await commands.meshwatchd(arguments)
            #expect(run.status == 0, "\(arguments[0]): \(run.stderr)")
        }
        let check = try await commands.meshwatchd(["check-config", "--config", directory + "/config.json"])
        #expect(check.status != 0)
        #expect(check.stderr.contains("sinks[0].routing_key_file") || check.stdout.contains("sinks[0].routing_key_file"), "\(check.stdout)\(check.stderr)")
    }

    @Test("every relative path in the file resolves against the configuration file, whatever the working directory")
    func relativePaths() throws {
        for name in ["token", "password", "ca.pem", "client.pem", "client-key.pem", "auth", "kubeconfig"] {
            try "x".write(toFile: directory + "/" + name, atomically: true, encoding: .utf8)
        }
        try #"""
            {"prometheus": {"url": "https://prometheus:9090", "bearer_token_file": "token", "ca_file": "ca.pem",
                            "cert_file": "client.pem", "key_file": "client-key.pem", "header_files": {"X-Auth": "auth"}},
             "kubernetes": {"kubeconfig": "kubeconfig"}, "state_directory": "state"}
            """#.write(toFile: directory + "/config.json", atomically: true, encoding: .utf8)
        let configuration = try Configuration.load(path: directory + "/config.json")
        let prometheus = try #require(configuration.prometheus)
        #expect([prometheus.bearerTokenFile, prometheus.caFile, prometheus.certFile, prometheus.keyFile, prometheus.headerFiles?["X-Auth"],
                 configuration.kubernetes?.kubeconfig, configuration.stateDirectory]
                == ["token", "ca.pem", "client.pem", "client-key.pem", "auth", "kubeconfig", "state"].map { directory + "/" + $0 })
        try #"{"prometheus": {"url": "https://prometheus:9090", "basic_auth": {"username": "u", "password_file": "password"}}}"#
            .write(toFile: directory + "/basic.json", atomically: true, encoding: .utf8)
        #expect(try Configuration.load(path: directory + "/basic.json").prometheus?.basicAuth?.passwordFile == directory + "/password")
    }
}
