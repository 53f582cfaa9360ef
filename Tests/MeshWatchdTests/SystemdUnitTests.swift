import Foundation
import MeshFixtures
import Testing

@Suite("deploy/systemd/meshwatchd.service")
struct SystemdUnitTests {
    /// The unit with ExecStart pointing at the built binary (verify checks it exists).
    func unitFile() throws -> String {
        let unit = try String(contentsOfFile: PackTests.root + "/deploy/systemd/meshwatchd.service", encoding: .utf8)
        let directory = NSTemporaryDirectory() + "meshwatchd-unit-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = directory + "/meshwatchd.service"
        try unit.replacingOccurrences(of: "/usr/local/bin/meshwatchd", with: CommandLineTests.binary)
            .write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func analyze(_ arguments: [String]) async throws -> (Int32, String) {
        try await ChildProcess.run("/usr/bin/systemd-analyze", arguments)
    }

    @Test("the unit declares what the daemon relies on")
    func declarations() throws {
        let unit = try String(contentsOfFile: PackTests.root + "/deploy/systemd/meshwatchd.service", encoding: .utf8)
        for line in ["Type=notify", "WatchdogSec=", "Restart=on-failure", "ExecReload=/bin/kill -HUP $MAINPID", "DynamicUser=yes",
                     "StateDirectory=meshwatchd", "ConfigurationDirectory=meshwatchd", "RestartPreventExitStatus=78"] {
            #expect(unit.contains(line), "\(line) missing")
        }
    }

    @Test("systemd-analyze verify says nothing at all about it")
    func verify() async throws {
        let path = try unitFile()
        defer { try? FileManager.default.removeItem(atPath: URL(fileURLWithPath: path).deletingLastPathComponent().path) }
        // Documentation=man:meshwatchd(8) is checked with man: point it at docs/meshwatchd.8.
        let manual = URL(fileURLWithPath: path).deletingLastPathComponent().path + "/man"
        try FileManager.default.createDirectory(atPath: manual + "/man8", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: PackTests.root + "/docs/meshwatchd.8", toPath: manual + "/man8/meshwatchd.8")
        let (status, output) = try await ChildProcess.run("/usr/bin/env", ["MANPATH=\(manual)", "/usr/bin/systemd-analyze", "verify", path])
        #expect(status == 0)
        #expect(output.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, "\(output)")
    }

    @Test("the README's install steps install what Documentation= names: the man page where man finds it, the README at its file: path")
    func installedDocumentation() throws {
        let unit = try String(contentsOfFile: PackTests.root + "/deploy/systemd/meshwatchd.service", encoding: .utf8)
        let documentation = try #require(unit.split(separator: "\n").first { $0.hasPrefix("Documentation=") })
            .dropFirst("Documentation=".count).split(separator: " ").map(String.init)
        let readme = try String(contentsOfFile: PackTests.root + "/README.md", encoding: .utf8)
        let section = try #require(readme.components(separatedBy: "### Install under systemd").dropFirst().first)
        let steps = try #require(section.components(separatedBy: "```sh\n").dropFirst().first?.components(separatedBy: "```").first)
        for entry in documentation {
            if entry.hasPrefix("man:") {
                // man:meshwatchd(8) → an install of docs/meshwatchd.8 into a man8 directory on man's default path.
                let page = entry.dropFirst(4).replacingOccurrences(of: "(", with: ".").replacingOccurrences(of: ")", with: "")
                #expect(FileManager.default.fileExists(atPath: PackTests.root + "/docs/\(page)"), "\(entry): no docs/\(page)")
                #expect(steps.contains("docs/\(page) /usr/local/share/man/man8/\(page)"), "the install steps do not install \(entry)")
            } else if entry.hasPrefix("file:") {
                let path = String(entry.dropFirst(5))
                #expect(steps.contains(" \(path)\n") || steps.contains(" \(path) "), "the install steps do not install \(path)")
            } else {
                Issue.record("Documentation=\(entry): neither man: nor file:")
            }
        }
    }

    @Test("systemd-analyze security rates its exposure 2.0 or lower")
    func exposure() async throws {
        let path = try unitFile()
        defer { try? FileManager.default.removeItem(atPath: URL(fileURLWithPath: path).deletingLastPathComponent().path) }
        let (_, output) = try await analyze(["security", "--offline=true", path])
        let score = output.firstMatch(of: /Overall exposure level for meshwatchd\.service: (\d+\.\d+)/).flatMap { Double($0.1) }
        #expect(score != nil, "\(output.suffix(500))")
        #expect((score ?? 10) <= 2.0, "exposure \(score ?? -1)")
    }
}
