import Foundation
import MeshFixtures
import MeshHTTP
import Testing

/// Every `meshwatchd` and `promtool` command of the README's shell blocks, run here with the
/// placeholders (a Prometheus, a kubeconfig, files) pointed at local stand-ins, so the README
/// cannot rot: a renamed flag or subcommand fails this test. Lines that install or manage the
/// system (make, swift, install, systemctl, journalctl) are not run.
@Suite("The README's commands run")
struct ReadmeTests {
    /// The README's shell commands, continuation lines joined, comments and `[optional]` parts removed.
    static func commands() throws -> [String] {
        let readme = try String(contentsOfFile: PackTests.root + "/README.md", encoding: .utf8)
        var commands: [String] = []
        for block in readme.components(separatedBy: "```sh\n").dropFirst() {
            let body = block.components(separatedBy: "```").first ?? ""
            for line in body.replacingOccurrences(of: "\\\n", with: " ").split(separator: "\n") {
                var command = String(line)
                if let comment = command.range(of: "  #") ?? command.range(of: " # ") { command = String(command[..<comment.lowerBound]) }
                command = command.replacingOccurrences(of: #"\[[^\]]*\]"#, with: "", options: .regularExpression)
                command = command.replacingOccurrences(of: #"\s+"#, with: " ", options: .regularExpression).trimmingCharacters(in: .whitespaces)
                if command.hasPrefix("meshwatchd ") || command.hasPrefix("promtool ") { commands.append(command) }
            }
        }
        return commands
    }

    @Test("the README's table of contents names every section, and every #link reaches a heading (GitHub's anchors)")
    func contents() throws {
        let readme = try String(contentsOfFile: PackTests.root + "/README.md", encoding: .utf8)
        func anchor(_ title: String) -> String {
            String(title.lowercased().unicodeScalars.filter { CharacterSet.alphanumerics.contains($0) || $0 == "-" || $0 == " " || $0 == "_" }
                .map(Character.init)).replacingOccurrences(of: " ", with: "-")
        }
        var inCode = false
        var headings: [String] = []
        for line in readme.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("```") { inCode.toggle() }
            if !inCode && (line.hasPrefix("## ") || line.hasPrefix("### ")) { headings.append(String(line.drop { $0 == "#" }.dropFirst())) }
        }
        let anchors = Set(headings.map(anchor))
        let links = readme.matches(of: /\]\(#([^)]+)\)/).map { String($0.1) }
        #expect(links.count >= headings.count - 1, "the contents list every section")
        for link in links { #expect(anchors.contains(link), "#\(link) reaches no heading") }
        for heading in headings where heading != "Contents" { #expect(links.contains(anchor(heading)), "\(heading) is not in the contents") }
    }

    @Test("every meshwatchd and promtool command in the README runs against local stand-ins")
    func readmeCommands() async throws {
        let commands = try Self.commands()
        #expect(commands.count >= 13, "\(commands)")
        let scenario = MeshScenario.incident()
        let work = NSTemporaryDirectory() + "meshwatchd-readme-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: work + "/etc", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: work) }
        try "token\n".write(toFile: work + "/prom-token", atomically: true, encoding: .utf8)
        try "not used over http\n".write(toFile: work + "/prom-ca.pem", atomically: true, encoding: .utf8)
        let closed = try ClosedPort()
        defer { withExtendedLifetime(closed) {} }
        try await withPrometheus(openMetrics: scenario.openMetrics()) { prometheus async throws in
            try await withKubernetes(seed: scenario.kubernetesSeed()) { double async throws in
                try double.kubeconfig().write(toFile: work + "/kubeconfig", atomically: true, encoding: .utf8)
                // The example configuration, pointed at the local Prometheus.
                var example = try String(contentsOfFile: PackTests.root + "/config.example.json", encoding: .utf8)
                example = example.replacingOccurrences(of: "http://127.0.0.1:9090", with: prometheus.url)
                    .replacingOccurrences(of: "\"state_directory\": null", with: "\"state_directory\": \"\(work)/state\"")
                    .replacingOccurrences(of: "\"listen_address\": \"127.0.0.1:9819\"", with: "\"listen_address\": \"127.0.0.1:\(try LoopbackPort.free())\"")
                try example.write(toFile: work + "/etc/config.json", atomically: true, encoding: .utf8)
                // The operator commands (silence) talk to a running daemon with a token of web.tokens.
                try "readme-ops-token-0123456789\n".write(toFile: work + "/ops-token", atomically: true, encoding: .utf8)
                try example.replacingOccurrences(of: "\"tokens\": []", with: "\"tokens\": [{\"name\": \"ops\", \"file\": \"\(work)/ops-token\"}]")
                    .write(toFile: work + "/etc/console.json", atomically: true, encoding: .utf8)
                let consolePort = try LoopbackPort.free()
                let console = try await ChildProcess.launch(name: "readme-console", executable: CommandLineTests.binary, arguments: [
                    "run", "--config", work + "/etc/console.json", "--listen", "127.0.0.1:\(consolePort)", "--state-directory", work + "/console-state",
                    "--log-format", "json",
                ])
                defer { kill(console.processIdentifier, SIGKILL) }
                let listening = ContinuousClock.now + .seconds(30)
                while ContinuousClock.now < listening, (try? await DaemonTests.probe.get("http://127.0.0.1:\(consolePort)/healthz").status) != 200 {
                    try await Task.sleep(for: .milliseconds(200))
                }
                var silenceID = "none"
                let formatter = ISO8601DateFormatter()
                let substitutions: [(String, String)] = [
                    ("https://prometheus.example:9090/prometheus", "http://127.0.0.1:\(closed.port)/prometheus"),
                    ("http://prometheus:9090", prometheus.url),
                    ("/var/run/secrets/prom-token", work + "/prom-token"),
                    ("/etc/ssl/prom-ca.pem", work + "/prom-ca.pem"),
                    ("~/.kube/config", work + "/kubeconfig"),
                    ("analyze --in-cluster", "analyze --kubeconfig \(work)/kubeconfig"),
                    ("/etc/meshwatchd/config.json", work + "/etc/config.json"),
                    ("--token-file /etc/meshwatchd/ops-token", "--token-file \(work)/ops-token --url http://127.0.0.1:\(consolePort)"),
                    ("/var/lib/meshwatchd", work + "/state"),
                    ("./state", work + "/state-quick"),
                    // A week of 30 s steps is long for a test: the incident's half hour instead.
                    ("2026-11-14T00:00:00Z", formatter.string(from: scenario.start.addingTimeInterval(30 * 60))),
                    ("2026-11-21T00:00:00Z", formatter.string(from: scenario.evaluationTime)),
                    ("2025-06-15T16:00:00Z", formatter.string(from: scenario.evaluationTime)),
                    (" > istio.yml", " > \(work)/istio.yml"), (" istio.yml", " \(work)/istio.yml"),
                    (" > transitions.jsonl", " > \(work)/transitions.jsonl"),
                    (" > review.md", " > \(work)/review.md"), ("--file review.html", "--file \(work)/review.html"),
                ]
                // The ledger needs a state file: the first run below makes one.
                var ran: [String] = []
                for original in commands.sorted(by: { ($0.contains(" ledger ") ? 1 : 0) < ($1.contains(" ledger ") ? 1 : 0) }) {
                    var command = original
                    for (from, to) in substitutions { command = command.replacingOccurrences(of: from, with: to) }
                    command = command.replacingOccurrences(of: "<id>", with: silenceID)
                    let shell = command.hasPrefix("meshwatchd ") ? CommandLineTests.binary + command.dropFirst("meshwatchd".count) : command
                    if original.hasPrefix("meshwatchd run ") {
                        // The daemon: it must start, evaluate and stop cleanly on SIGTERM.
                        // Port 0: the kernel picks one as the daemon binds (a port found free before can be
                        // taken by a test running in parallel first: "Address already in use" in CI).
                        let daemon = try await ChildProcess.launch(name: "readme-run", executable: "/bin/sh",
                                                                   arguments: ["-c", "exec " + shell + " --log-format json --listen 127.0.0.1:0"],
                                                                   workingDirectory: work)
                        let deadline = ContinuousClock.now + .seconds(30)
                        // Started: configuration and rules accepted, evaluating (the first cycle waits for its aligned tick).
                        while ContinuousClock.now < deadline && !daemon.stderrTail(limit: 100_000).contains("\"msg\":\"evaluating\"") && daemon.isRunning {
                            try await Task.sleep(for: .milliseconds(100))
                        }
                        #expect(daemon.stderrTail(limit: 100_000).contains("\"msg\":\"evaluating\""), "\(original):\n\(daemon.stderrTail())")
                        kill(daemon.processIdentifier, SIGTERM)
                        #expect(await daemon.waitForExit() == 0, "\(original)")
                        ran.append(original)
                        continue
                    }
                    let run = try await ChildProcess.run("/bin/sh", ["-c", shell], workingDirectory: PackTests.root)
                    // 0, or the command's own verdict (1: past a threshold or a step failed; 2: Prometheus unreachable):
                    // never 64 (a flag the command does not know) or 78 (a configuration it refuses).
                    let expected: Set<Int32> = original.contains("prometheus.example") ? [2] : [0, 1]
                    #expect(expected.contains(run.status), "\(original)\n→ \(shell)\nexit \(run.status): \(run.output.suffix(2000))")
                    if original.contains(" silence ") {
                        // Against the daemon every one succeeds; the expiry takes the id the add printed.
                        #expect(run.status == 0, "\(original): \(run.output.suffix(2000))")
                        if original.contains(" silence add ") { silenceID = run.output.trimmingCharacters(in: .whitespacesAndNewlines) }
                    }
                    ran.append(original)
                }
                #expect(ran.count == commands.count)
                // The replay's output holds the incident's transitions.
                let transitions = try String(contentsOfFile: work + "/transitions.jsonl", encoding: .utf8)
                #expect(transitions.contains("\"transition\":\"firing\""))
            }
        }
    }
}
