import Foundation
import MeshFixtures
import Testing

@Suite("The man page meshwatchd(8)")
struct ManualTests {
    let cli = CommandLineTests()

    @Test("docs/meshwatchd.8 is current: every subcommand and every option of --help is in it (make man regenerates it)")
    func current() async throws {
        let page = try String(contentsOfFile: PackTests.root + "/docs/meshwatchd.8", encoding: .utf8)
        #expect(page.contains(".Dt MESHWATCHD 8"))
        let help = try await cli.meshwatchd(["--help"])
        let subcommands = help.stdout.components(separatedBy: "SUBCOMMANDS:").last?.split(separator: "\n")
            .compactMap { line -> String? in
                let trimmed = line.trimmingCharacters(in: .whitespaces)
                guard line.hasPrefix("  "), !line.hasPrefix("    "), let name = trimmed.split(separator: " ").first,
                      name.allSatisfy({ $0.isLowercase || $0 == "-" }) else { return nil }
                return String(name)
            } ?? []
        #expect(subcommands.count >= 9, "\(subcommands)")
        var missing: [String] = []
        for subcommand in subcommands where subcommand != "help" {
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
}
