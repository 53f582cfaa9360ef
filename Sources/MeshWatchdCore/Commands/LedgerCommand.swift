import MetricModel
import AlertEngine
import ArgumentParser
import Foundation
import Logging
import Remediation

/// `meshwatchd ledger`: every remediation decision, taken or not, with the guard that decided.
package struct LedgerCommand: ParsableCommand {
    package init() {}

    package static let configuration = CommandConfiguration(
        commandName: "ledger",
        abstract: "Print the remediation ledger: every decision (taken, dry-run, refused) and the guard that decided it."
    )

    @Option(help: "State directory (default: the config's state_directory, else $STATE_DIRECTORY, else /var/lib/meshwatchd).")
    var stateDirectory: String?

    @Option(help: "Configuration file, for its state_directory.")
    var config: String?

    @Option(help: "Only decisions since: RFC 3339, Unix seconds, or a duration back from now (24h, 7d).")
    var since: String?

    @OptionGroup var output: OutputOptions
    @OptionGroup var logging: LogLevelOptions

    package func validate() throws {
        if let since, Self.start(since) == nil { throw ValidationError("--since: expected RFC 3339, Unix seconds or a duration such as 24h, got \"\(since)\"") }
    }

    static func start(_ text: String) -> Date? {
        if let duration = PrometheusDuration.parse(text) { return Date().addingTimeInterval(-duration.seconds) }
        return parseTime(text)
    }

    package func run() throws {
        logging.bootstrap()
        let configuration = try config.map { try Configuration.load(path: $0, readingSinks: false) } ?? Configuration()
        let directory = stateDirectory ?? configuration.stateDirectory
            ?? ProcessInfo.processInfo.environment["STATE_DIRECTORY"]?.split(separator: ":").first.map(String.init) ?? "/var/lib/meshwatchd"
        let path = directory + "/state.sqlite"
        guard FileManager.default.fileExists(atPath: path) else {
            throw ValidationError("no state at \(path): give --state-directory")
        }
        let store = try StateStore(path: path, logger: Logger(label: "meshwatchd"))
        let entries = try store.ledger(since: since.flatMap(Self.start) ?? .distantPast)
        // The old `--json` printed one object per line.
        let format = output.format(legacyJSON: .jsonl)
        if format != .table {
            let encoder = JSONEncoder()
            encoder.dateEncodingStrategy = .iso8601
            let objects = try entries.map { entry -> [String: Any] in
                var object = try JSONSerialization.jsonObject(with: encoder.encode(entry.decision)) as? [String: Any] ?? [:]
                if let verified = entry.verified { object["verified"] = verified }
                return object
            }
            return try JSONOutput.print(items: objects, as: format)
        }
        var rows = [["TIME", "OUTCOME", "ACTION", "WORKLOAD", "ALERT", "GUARD", "VERIFIED", "REASON"]]
        for entry in entries {
            let decision = entry.decision
            rows.append([ISO8601DateFormatter().string(from: decision.at), decision.outcome.rawValue, decision.action.rawValue, decision.workload,
                         decision.alert, decision.decidedBy, entry.verified ?? (decision.outcome == .taken ? "pending" : "-"),
                         decision.reason + (decision.change.map { " (\($0))" } ?? "")])
        }
        print(TextTable.render(rows), terminator: "")
    }
}

