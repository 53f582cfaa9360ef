import Foundation
import MeshFixtures
import Testing

/// One spelling on every command: `--output table|json|jsonl` where a command prints results,
/// `--log-level` everywhere.
@Suite("--output and --log-level on every command")
struct OutputOptionTests {
    let cli = CommandLineTests()

    /// Every leaf command, as `meshwatchd help` reaches it.
    static let commands: [[String]] = [
        ["run"], ["check-config"], ["health"], ["analyze"], ["report"], ["eval"], ["replay"], ["rules", "export"], ["rules", "params"],
        ["runbooks", "list"], ["runbooks", "show"], ["diagnose"], ["ledger"], ["ack"], ["silence", "add"], ["silence", "list"],
        ["silence", "expire"], ["hash-password"],
    ]
    /// The ones that print results (run is the daemon, hash-password prints a hash, report a
    /// document in its own formats, rules export a file).
    static let printing: Set<[String]> = [
        ["check-config"], ["health"], ["analyze"], ["eval"], ["replay"], ["rules", "params"], ["runbooks", "list"], ["runbooks", "show"],
        ["diagnose"], ["ledger"], ["ack"], ["silence", "add"], ["silence", "list"], ["silence", "expire"],
    ]

    @Test("every command's help lists --log-level; every command that prints results lists -o/--output table|json|jsonl")
    func everyCommand() async throws {
        for command in Self.commands {
            let help = try await cli.meshwatchd(command + ["--help"])
            #expect(help.status == 0, "\(command): \(help.stderr)")
            #expect(help.stdout.contains("--log-level <level>"), "\(command) has no --log-level")
            if Self.printing.contains(command) {
                #expect(help.stdout.contains("-o, --output <format>"), "\(command) has no --output")
                #expect(help.stdout.contains("table, json (one document) or jsonl"), "\(command)")
            }
            // The old spellings are hidden, never shown.
            #expect(!help.stdout.contains("--format <") || command == ["rules", "export"], "\(command)")
            #expect(!help.stdout.contains("--json"), "\(command)")
        }
        let wrong = try await cli.meshwatchd(["rules", "params", "--output", "yaml"])
        #expect(wrong.status == 64)
        #expect(wrong.stderr.contains("table") && wrong.stderr.contains("jsonl"), "\(wrong.stderr)")
        let twice = try await cli.meshwatchd(["ledger", "--output", "json", "--json", "--state-directory", "/nonexistent"])
        #expect(twice.status == 64)
        #expect(twice.stderr.contains("give it once"), "\(twice.stderr)")
        let level = try await cli.meshwatchd(["runbooks", "list", "--log-level", "loud"])
        #expect(level.status == 64)
    }

    @Test("json is one document and jsonl one object per line, for the commands that run offline")
    func formats() async throws {
        let directory = NSTemporaryDirectory() + "meshwatchd-output-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try #"{"prometheus": {"url": "http://127.0.0.1:1"}, "packs": {"istio": {}}}"#.write(toFile: directory + "/config.json", atomically: true, encoding: .utf8)
        try #"{"packs": {"istio": {}}, "sinks": [{"type": "webhook"}]}"#.write(toFile: directory + "/broken.json", atomically: true, encoding: .utf8)
        let cases: [(command: [String], items: Int?)] = [
            (["rules", "params", "--pack", "linkerd"], nil),
            (["runbooks", "list"], nil),
            (["analyze", "--list"], nil),
            (["runbooks", "show", "IstioHighErrorRate"], 1),
            (["check-config", "--config", directory + "/config.json"], 1),
        ]
        for (command, items) in cases {
            let json = try await cli.meshwatchd(command + ["--output", "json"])
            #expect(json.status == 0, "\(command): \(json.stderr)")
            let document = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8))
            let lines = try await cli.meshwatchd(command + ["-o", "jsonl"])
            #expect(lines.status == 0, "\(command): \(lines.stderr)")
            let objects = try lines.stdout.split(separator: "\n").map { try JSONSerialization.jsonObject(with: Data($0.utf8)) }
            if let array = document as? [Any] {
                #expect(items == nil)
                #expect(!array.isEmpty, "\(command)")
                #expect(objects.count == array.count, "\(command): \(objects.count) lines for \(array.count) items")
            } else {
                #expect(items == 1, "\(command) printed one document")
                #expect(objects.count == 1, "\(command)")
            }
            #expect(!lines.stdout.contains("  \""), "\(command): jsonl is compact")
        }
        // check-config's document says what is wrong, and the exit status still says so.
        let broken = try await cli.meshwatchd(["check-config", "--config", directory + "/broken.json", "-o", "json"])
        #expect(broken.status == 78)
        let document = try JSONSerialization.jsonObject(with: Data(broken.stdout.utf8)) as? [String: Any]
        #expect(document?["valid"] as? Bool == false)
        let problems = document?["problems"] as? [String] ?? []
        #expect(problems.contains { $0.contains("prometheus.url") }, "\(problems)")
        #expect(problems.contains { $0.contains("sinks[0]") }, "\(problems)")
        let valid = try await cli.meshwatchd(["check-config", "--config", directory + "/config.json", "-o", "json"])
        let validDocument = try JSONSerialization.jsonObject(with: Data(valid.stdout.utf8)) as? [String: Any]
        #expect(validDocument?["valid"] as? Bool == true)
        #expect((validDocument?["rules"] as? Int ?? 0) > 0)
        #expect(validDocument?["prometheus"] as? String == "http://127.0.0.1:1")
    }

    @Test("check-config's document (CI logs keep it) shows no password, query key or header value, with --connect too")
    func checkConfigHidesSecrets() async throws {
        let directory = NSTemporaryDirectory() + "meshwatchd-output-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let closed = try ClosedPort()
        defer { withExtendedLifetime(closed) {} }
        try #"""
            {"prometheus": {"url": "http://scraper:PASSWORD1@127.0.0.1:\#(closed.port)/prom?tenant=QUERYKEY1", "headers": {"X-Scope-OrgID": "HEADER1"}},
             "packs": {"istio": {}},
             "sinks": [{"name": "hook", "type": "webhook", "url": "http://127.0.0.1:\#(closed.port)/hook?token=QUERYKEY2#FRAGMENT1"},
                       {"name": "am", "type": "alertmanager", "url": "http://admin:PASSWORD2@127.0.0.1:\#(closed.port)"}]}
            """#.write(toFile: directory + "/config.json", atomically: true, encoding: .utf8)
        for arguments in [["-o", "json"], ["-o", "json", "--connect"], ["--connect"]] {
            let run = try await cli.meshwatchd(["check-config", "--config", directory + "/config.json"] + arguments)
            #expect(run.status == (arguments.contains("--connect") ? 1 : 0), "\(arguments): \(run.stdout)\(run.stderr)")
            for secret in ["PASSWORD1", "PASSWORD2", "QUERYKEY1", "QUERYKEY2", "HEADER1", "FRAGMENT1"] {
                #expect(!run.stdout.contains(secret) && !run.stderr.contains(secret), "\(arguments) shows \(secret):\n\(run.stdout)")
            }
            #expect(run.stdout.contains("127.0.0.1:\(closed.port)"), "the targets are still named: \(run.stdout)")
        }
    }
}
