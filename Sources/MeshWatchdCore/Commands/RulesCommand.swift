import AlertEngine
import ArgumentParser
import Foundation

/// `meshwatchd rules`: the built-in packs as standard rule files.
package struct RulesCommand: ParsableCommand {
    package init() {}

    package static let configuration = CommandConfiguration(
        commandName: "rules",
        abstract: "Work with rule packs.",
        subcommands: [Export.self]
    )

    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a built-in pack as a standard Prometheus rule file.",
            discussion: """
                The output passes `promtool check rules` and loads into Prometheus or vmalert \
                as it is. Parameters (key=value): window, interval, error_rate.threshold, \
                error_rate.for, error_rate.min_rps, latency.p95_ms, latency.for, \
                circuit_breaker.for, mtls.min_share, mtls.for, certificate.days, \
                certificate.for, istiod.for, proxy_memory.bytes, proxy_memory.for.
                """
        )

        @Option(help: "Pack to export.")
        var pack = "istio"

        @Option(name: .customLong("set"), help: ArgumentHelp("Pack parameter, e.g. latency.p95_ms=800 (repeatable).",
                                                             valueName: "key=value"))
        var parameters: [String] = []

        func run() throws {
            guard pack == "istio" else { throw ValidationError("--pack: unknown pack \"\(pack)\" (known: istio)") }
            var values = IstioPack.Parameters()
            for parameter in parameters {
                let parts = parameter.split(separator: "=", maxSplits: 1).map(String.init)
                guard parts.count == 2 else { throw ValidationError("--set must look like key=value, got \"\(parameter)\"") }
                do { try values.set(parts[0], to: parts[1]) } catch { throw ValidationError("\(error)") }
            }
            print(IstioPack(parameters: values).ruleFile(), terminator: "")
        }
    }
}
