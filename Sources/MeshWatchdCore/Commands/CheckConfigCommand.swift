import AlertEngine
import ArgumentParser
import Foundation

/// `meshwatchd check-config`: everything `run` would refuse, listed at once.
package struct CheckConfigCommand: ParsableCommand {
    package init() {}

    package static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Validate the configuration and rule files and list every problem.",
        discussion: "Exit status: 0 valid, 78 something is wrong (each problem on its own line, with file and key path or line)."
    )

    @Option(help: "Configuration file.")
    var config: String

    package func run() throws {
        let (configuration, found) = Configuration.check(path: config)
        var problems = found.map(\.description)
        var groups = 0, rules = 0
        if let configuration {
            let files = configuration.ruleFiles ?? []
            if !files.isEmpty {
                do {
                    let loaded = try RuleFileLoader.load(paths: files, syntax: configuration.syntax,
                                                     recordingRules: configuration.recordingRulePolicy)
                    groups += loaded.groups.count
                    rules += loaded.groups.reduce(0) { $0 + $1.rules.count }
                    for warning in loaded.warnings { print("warning: \(warning)") }
                } catch {
                    problems += error.problems.map(\.description)
                }
            }
            // A pack with a wrong parameter is reported above; it still counts as rules configured.
            for (name, pack) in (configuration.packs ?? [:]) where pack.enabled ?? true {
                groups += 1
                rules += (try? PackSelection.expand(name: name, pack))?.definitions.count ?? 0
            }
            if configuration.prometheus?.url == nil { problems.append("\(config): prometheus.url: missing") }
            if groups == 0 { problems.append("\(config): no rules: set rule_files or enable a pack (packs.istio, packs.linkerd, packs.cilium)") }
        }
        if problems.isEmpty {
            // Never the token or header values: only what they are.
            let prometheus = configuration?.prometheus
            print("\(config): valid: \(rules) rules in \(groups) groups; Prometheus \(prometheus?.url.map(Self.redacted) ?? "-")"
                  + (prometheus?.bearerTokenFile != nil ? ", bearer token from a file" : "")
                  + ((prometheus?.headers?.isEmpty ?? true) ? "" : ", headers \(prometheus!.headers!.keys.sorted().joined(separator: ", ")) (values hidden)"))
            if configuration?.sinks?.isEmpty ?? true {
                print("warning: no sinks: findings go nowhere; runbooks and remediation still run and record their decisions in the ledger (meshwatchd ledger)")
            }
            if let remediation = configuration?.remediation, let mode = remediation.mode?.value, mode != .off {
                print("remediation: \(mode.rawValue); kill switch file \(remediation.killSwitchFile ?? "none")"
                      + "; \(remediation.rules?.count ?? 0) user rules opted in (the built-in packs' rules always are)")
            }
            return
        }
        for problem in problems { FileHandle.standardError.write(Data((problem + "\n").utf8)) }
        FileHandle.standardError.write(Data("\(problems.count) problem\(problems.count == 1 ? "" : "s") found\n".utf8))
        throw ExitCode(78)
    }

    /// The URL without user info.
    static func redacted(_ url: String) -> String {
        guard var components = URLComponents(string: url) else { return url }
        components.user = nil
        components.password = nil
        return components.string ?? url
    }
}
