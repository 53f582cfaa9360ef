import ArgumentParser
import Foundation
import Logging

/// How a command prints its results. Every command that prints results takes `--output` (`-o`)
/// with these values, as kubectl does: `table` for people, `json` for one document, `jsonl` for
/// one JSON object per line (a list's items; a command whose result is one document prints it on
/// one line).
package enum OutputFormat: String, ExpressibleByArgument, CaseIterable, Sendable {
    case table, json, jsonl
}

/// `--output` and, hidden, the spellings earlier versions took (`--format`, `--json`), so scripts
/// written against them keep working.
struct OutputOptions: ParsableArguments {
    @Option(name: [.customShort("o"), .long],
            help: ArgumentHelp("table, json (one document) or jsonl (one JSON object per line).", valueName: "format"))
    var output: OutputFormat?

    @Option(name: .customLong("format"), help: .hidden)
    var legacyFormat: OutputFormat?

    @Flag(name: .customLong("json"), help: .hidden)
    var legacyJSON = false

    /// The chosen format; `legacyJSON` is what the old `--json` flag meant for this command.
    func format(legacyJSON meaning: OutputFormat = .json) -> OutputFormat {
        output ?? legacyFormat ?? (legacyJSON ? meaning : .table)
    }

    func validate() throws {
        if output != nil && (legacyFormat != nil || legacyJSON) { throw ValidationError("--output: give it once (--format and --json are its old names)") }
    }
}

/// `--log-level` on every command: what goes to standard error.
struct LogLevelOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Log level on standard error: trace, debug, info, notice, warning, error or critical (default: warning).",
                               valueName: "level"))
    var logLevel: Logger.Level?

    func bootstrap(default level: Logger.Level = .warning) {
        bootstrapLogging(level: logLevel ?? level)
    }
}

/// JSON for `--output json` (pretty, sorted) and `--output jsonl` (one compact line).
enum JSONOutput {
    static func line(_ object: Any) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes, .fragmentsAllowed]),
               as: UTF8.self)
    }

    static func document(_ object: Any) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes,
                                                                                      .fragmentsAllowed]), as: UTF8.self)
    }

    static func line<T: Encodable>(encoding value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    static func document<T: Encodable>(encoding value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    /// Prints `items` as the format asks: a JSON array, or one line per item.
    static func print(items: [Any], as format: OutputFormat) throws {
        switch format {
        case .json: Swift.print(try document(items))
        case .jsonl: for item in items { Swift.print(try line(item)) }
        case .table: break
        }
    }
}
