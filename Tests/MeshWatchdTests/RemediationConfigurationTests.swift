import Foundation
import Testing

/// `check-config` on the remediation and runbook settings an SRE (or an attacker with the
/// configuration) could get wrong: each refused with its key path, or warned about.
@Suite("Remediation configuration: refused with the key path, or warned about")
struct RemediationConfigurationTests {
    let cli = CommandLineTests()

    func check(_ json: String) async throws -> CommandLineTests.Run {
        let directory = try DaemonTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try "groups: []\n".write(toFile: directory + "/rules.yml", atomically: true, encoding: .utf8)
        try json.write(toFile: directory + "/config.json", atomically: true, encoding: .utf8)
        return try await cli.meshwatchd(["check-config", "--config", directory + "/config.json"])
    }

    static let base = #""prometheus": {"url": "http://127.0.0.1:9"}, "packs": {"istio": {"enabled": true}}, "kubernetes": {"kubeconfig": "/dev/null"}"#

    @Test("each wrong setting is refused with its key path", arguments: [
        (#""remediation": {"mode": "enforce"}"#, "remediation.own_namespace"),
        (#""remediation": {"mode": "dry-run", "allow_namespaces": ["bookinfo/../kube-system"]}"#, "remediation.allow_namespaces[0]"),
        (#""rule_files": ["rules.yml"], "remediation": {"mode": "dry-run", "rules": [{"file": "other.yml", "group": "g", "rule": "r"}]}"#,
         "remediation.rules[0].file"),
        (#""runbooks": {"exec_allow": ["/bin/sh"]}"#, "runbooks.exec_allow[0]"),
        (#""runbooks": {"definitions": [{"alert": "X", "steps": [{"name": "q", "kind": "promql", "query": "up > {{ $labels.x }}"}]}]}"#,
         "runbooks.definitions[0].steps[0]"),
        (#""runbooks": {"definitions": [{"alert": "X", "steps": [{"name": "h", "kind": "http_check", "url": "http://{{ $labels.host }}/"}]}]}"#,
         "runbooks.definitions[0].steps[0]"),
        (#""runbooks": {"definitions": [{"alert": "X", "steps": [{"name": "e", "kind": "exec", "command": ["{{ $labels.cmd }}"]}]}]}"#,
         "runbooks.definitions[0].steps[0]"),
    ])
    func refused(_ setting: String, _ keyPath: String) async throws {
        let run = try await check("{\(Self.base), \(setting)}")
        #expect(run.status == 78, "\(run.stdout)\(run.stderr)")
        #expect(run.stderr.contains(keyPath), "\(run.stderr)")
    }

    @Test("no sinks is valid and said: runbooks and remediation still run and record in the ledger")
    func noSinks() async throws {
        let run = try await check(#"{\#(Self.base), "remediation": {"mode": "dry-run", "kill_switch_file": "stop"}}"#)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("warning: no sinks"), "\(run.stdout)")
        // The kill switch resolves against the configuration file, like rule_files.
        #expect(run.stdout.contains("kill switch file /") && run.stdout.contains("/stop"), "\(run.stdout)")
    }
}
