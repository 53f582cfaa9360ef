import AlertEngine
import ArgumentParser
import Foundation
import MeshPacks

/// `meshwatchd rules`: the built-in packs as standard rule files.
package struct RulesCommand: ParsableCommand {
    package init() {}

    package static let configuration = CommandConfiguration(
        commandName: "rules",
        abstract: "Work with rule packs.",
        subcommands: [Export.self, Params.self]
    )

    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a built-in pack as a standard Prometheus rule file, or as its pack file.",
            discussion: """
                The rule file passes `promtool check rules` and loads into Prometheus or vmalert \
                as it is. `--format pack` prints the pack file itself (parameters, rules and \
                runbooks), the starting point of a pack of your own (`packs.NAME.file`). \
                `meshwatchd rules params --pack NAME` lists the parameters.
                """
        )

        @Option(help: ArgumentHelp("Pack to export: istio, linkerd or cilium.", valueName: "name"))
        var pack = "istio"

        @Option(help: ArgumentHelp("rules (a Prometheus rule file) or pack (the pack file).", valueName: "format"))
        var format = "rules"

        @Option(name: .customLong("set"), help: ArgumentHelp("Pack parameter, e.g. latency.p95_ms=800 (repeatable).",
                                                             valueName: "key=value"))
        var parameters: [String] = []

        @OptionGroup var logging: LogLevelOptions

        func run() throws {
            logging.bootstrap()
            guard let rulePack = RulePack.builtIn(pack), let source = RulePack.builtInSource(pack) else {
                throw ValidationError("--pack: unknown pack \"\(pack)\" (known: \(PackSelection.known))")
            }
            switch format {
            case "pack":
                guard parameters.isEmpty else { throw ValidationError("--set: the pack file carries the defaults; set parameters in the configuration") }
                print(source, terminator: "")
            case "rules":
                var values = rulePack.defaults
                for parameter in parameters {
                    let parts = parameter.split(separator: "=", maxSplits: 1).map(String.init)
                    guard parts.count == 2 else { throw ValidationError("--set must look like key=value, got \"\(parameter)\"") }
                    do { try values.set(parts[0], to: parts[1]) } catch { throw ValidationError("\(error)") }
                }
                do { print(try rulePack.expanded(with: values).ruleFile(), terminator: "") } catch { throw ValidationError("\(error)") }
            default:
                throw ValidationError("--format: expected rules or pack, got \"\(format)\"")
            }
        }
    }

    struct Params: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "A pack's parameters: key, kind, default and meaning.")

        @Option(help: ArgumentHelp("Pack: istio, linkerd or cilium.", valueName: "name"))
        var pack = "istio"

        @OptionGroup var output: OutputOptions
        @OptionGroup var logging: LogLevelOptions

        func run() throws {
            logging.bootstrap()
            guard let rulePack = RulePack.builtIn(pack) else {
                throw ValidationError("--pack: unknown pack \"\(pack)\" (known: \(PackSelection.known))")
            }
            if output.format() != .table {
                let items = rulePack.parameters.map { ["key": $0.key, "kind": $0.kind.rawValue, "default": $0.defaultValue, "meaning": $0.help] }
                return try JSONOutput.print(items: items, as: output.format())
            }
            var rows = [["KEY", "KIND", "DEFAULT", "MEANING"]]
            for parameter in rulePack.parameters {
                rows.append([parameter.key, parameter.kind.rawValue, parameter.defaultValue, parameter.help])
            }
            print(TextTable.render(rows), terminator: "")
        }
    }
}
