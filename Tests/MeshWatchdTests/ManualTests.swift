import Foundation
import MeshFixtures
import Testing

@Suite("The man page meshwatchd(8)")
struct ManualTests {
    let cli = CommandLineTests()
    static let pages = ["meshwatchd.8", "meshwatchd-demo.8"]

    /// The top-level subcommands `meshwatchd --help` lists, `help` aside.
    func subcommands() async throws -> [String] {
        let help = try await cli.meshwatchd(["--help"])
        return help.stdout.components(separatedBy: "SUBCOMMANDS:").last?.split(separator: "\n")
            .compactMap { line -> String? in
                let trimmed = line.trimmingCharacters(in: .whitespaces)
                guard line.hasPrefix("  "), !line.hasPrefix("    "), let name = trimmed.split(separator: " ").first,
                      name.allSatisfy({ $0.isLowercase || $0 == "-" }) else { return nil }
                return String(name)
            }
            .filter { $0 != "help" } ?? []
    }

    /// The page's sections in order: each `.Sh` title with the lines up to the next one.
    static func sections(of page: String) -> [(title: String, lines: [String])] {
        var sections: [(title: String, lines: [String])] = []
        for line in page.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if line.hasPrefix(".Sh ") {
                sections.append((line.dropFirst(4).trimmingCharacters(in: CharacterSet(charactersIn: "\" ")), []))
            } else if !sections.isEmpty {
                sections[sections.count - 1].lines.append(line)
            }
        }
        return sections
    }

    @Test("docs/meshwatchd.8 is current: every subcommand and every option of --help is in it (make man regenerates it)")
    func current() async throws {
        let page = try String(contentsOfFile: PackTests.root + "/docs/meshwatchd.8", encoding: .utf8)
        #expect(page.contains(".Dt MESHWATCHD 8"))
        let subcommands = try await subcommands()
        #expect(subcommands.count >= 9, "\(subcommands)")
        var missing: [String] = []
        for subcommand in subcommands {
            if !page.contains(".It Em \(subcommand)") { missing.append(subcommand) }
            let sub = try await cli.meshwatchd(["help", subcommand])
            for option in sub.stdout.matches(of: /--([a-z][a-z0-9-]+)/).map({ String($0.1) }) where option != "help" {
                if !page.contains("Fl -\(option)") { missing.append("\(subcommand) --\(option)") }
            }
        }
        #expect(missing.isEmpty, "not in docs/meshwatchd.8 (run make man): \(missing)")
        // The unit names it.
        let unit = try String(contentsOfFile: PackTests.root + "/deploy/systemd/meshwatchd.service", encoding: .utf8)
        #expect(unit.contains("Documentation=man:meshwatchd(8)"))
    }

    @Test("docs/*.8 are what scripts/manual-sections.py makes of them: the sections of docs/manual are in (make man)")
    func postProcessed() async throws {
        let (status, output) = try await ChildProcess.run("/usr/bin/python3", [PackTests.root + "/scripts/manual-sections.py", "--check"]
                                                          + Self.pages.map { PackTests.root + "/docs/" + $0 })
        #expect(status == 0, "\(output)")
    }

    @Test("groff -ww has no warning about the page", arguments: pages)
    func groffWarnings(page: String) async throws {
        try #require(FileManager.default.isExecutableFile(atPath: "/usr/bin/groff"), "no groff: scripts/install-deps.sh installs groff-base")
        for device in ["ascii", "utf8"] {
            let (status, output) = try await ChildProcess.run("/usr/bin/groff", ["-mandoc", "-ww", "-z", "-T\(device)", PackTests.root + "/docs/" + page])
            #expect(status == 0, "\(output)")
            #expect(output.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, "groff -T\(device) on docs/\(page): \(output)")
        }
    }

    @Test("It has CONFIGURATION, ENVIRONMENT, FILES, SIGNALS, EXIT STATUS and SEE ALSO, in mdoc(7)'s order, and never points at itself")
    func addedSections() throws {
        let page = try String(contentsOfFile: PackTests.root + "/docs/meshwatchd.8", encoding: .utf8)
        let sections = Self.sections(of: page)
        let order = ["NAME", "SYNOPSIS", "DESCRIPTION", "CONFIGURATION", "ENVIRONMENT", "FILES", "SIGNALS", "EXIT STATUS", "SEE ALSO"]
        let titles = sections.map { $0.title }
        #expect(titles.filter { order.contains($0) } == order, "\(titles)")
        func section(_ title: String) -> String {
            sections.first { $0.title == title }?.lines.joined(separator: "\n") ?? ""
        }

        let configuration = section("CONFIGURATION")
        for text in ["/etc/meshwatchd/config.json", ".Dv SIGHUP", "POST /-/reload", ".Ic config_check_interval", "check-config"] {
            #expect(configuration.contains(text), "CONFIGURATION lacks \(text)")
        }
        // One line for every top-level key of config.example.json.
        let example = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: PackTests.root + "/config.example.json")))
        let keys = try #require(example as? [String: Any]).keys.sorted()
        #expect(keys.count >= 20)
        let undocumented = keys.filter { !configuration.contains(".It Ic \($0)\n") }
        #expect(undocumented.isEmpty, "keys of config.example.json not in CONFIGURATION: \(undocumented)")

        for variable in ["MESHWATCHD_TOKEN_FILE", "STATE_DIRECTORY", "NOTIFY_SOCKET", "WATCHDOG_USEC", "JOURNAL_STREAM", "KUBERNETES_SERVICE_HOST",
                         "POD_IP", "POD_NAME", "POD_NAMESPACE", "https_proxy", "MESHWATCHD_REVISION"] {
            let items = section("ENVIRONMENT").split(separator: "\n").filter { $0.hasPrefix(".It Ev ") }
            #expect(items.contains { $0.split(separator: " ").contains(Substring(variable)) }, "ENVIRONMENT lacks \(variable)")
        }
        for path in ["/etc/meshwatchd/config.json", "/etc/meshwatchd/config/config.json", "/var/lib/meshwatchd/state.sqlite"] {
            #expect(section("FILES").contains(".It Pa \(path)\n"), "FILES lacks \(path)")
        }
        for signal in [".It Dv SIGHUP", ".It Dv SIGTERM , SIGINT"] {
            #expect(section("SIGNALS").contains(signal), "SIGNALS lacks \(signal)")
        }
        #expect(!section("EXIT STATUS").contains(".Ex -std"), "the generator's generic EXIT STATUS is left")
        for reference in [".Xr systemd.service 5", ".Xr prometheus 1", ".Xr promtool 1", ".Xr meshwatchd-demo 8"] {
            #expect(section("SEE ALSO").contains(reference), "SEE ALSO lacks \(reference)")
        }
        // Neither page names itself: "See meshwatchd(8)" in --help is right, in the page it is not.
        let demo = try String(contentsOfFile: PackTests.root + "/docs/meshwatchd-demo.8", encoding: .utf8)
        for (name, text) in [("meshwatchd", page), ("meshwatchd-demo", demo)] {
            #expect(!text.contains(".Xr \(name) 8"), "docs/\(name).8 points at itself")
            #expect(!text.contains("\(name)(8)"), "docs/\(name).8 names itself: docs/manual/\(name)/self-reference")
        }
    }

    @Test("EXIT STATUS has every subcommand, with every code its help gives")
    func exitStatus() async throws {
        let page = try String(contentsOfFile: PackTests.root + "/docs/meshwatchd.8", encoding: .utf8)
        let lines = Self.sections(of: page).first { $0.title == "EXIT STATUS" }?.lines ?? []
        // `.It Ic eval , replay` starts the entry of eval and replay; its codes are its `.It 2` lines.
        var entries: [String: [String]] = [:]
        var current: [String] = []
        for line in lines {
            if line.hasPrefix(".It Ic ") {
                current = line.dropFirst(7).components(separatedBy: " , ").map { $0.trimmingCharacters(in: .whitespaces) }
                for command in current { entries[command] = [] }
            } else {
                for command in current { entries[command, default: []].append(line) }
            }
        }
        var missing: [String] = []
        for subcommand in try await subcommands() {
            guard let entry = entries[subcommand] else {
                missing.append(subcommand)
                continue
            }
            // "Exit status: 0 healthy, 1 past a threshold, 2 Prometheus could not answer." (64 is said for all).
            let help = try await cli.meshwatchd(["help", subcommand]).stdout.split(whereSeparator: \.isWhitespace).joined(separator: " ")
            guard let start = help.range(of: "Exit status: ")?.upperBound else { continue }
            let sentence = help[start...].components(separatedBy: ". ").first ?? ""
            for code in sentence.matches(of: /(?:^|, )(\d+)\s/).map({ String($0.1) }) where code != "64" {
                if !entry.contains(".It \(code)") { missing.append("\(subcommand) \(code)") }
            }
        }
        #expect(missing.isEmpty, "not in EXIT STATUS of docs/manual/meshwatchd/EXIT_STATUS.mdoc: \(missing)")
    }
}
