import AlertEngine
import ArgumentParser
import Foundation
import Logging
import MeshPacks
import RemoteWrite

/// Where the rules come from: a configuration file, or rule files and packs named on the
/// command line (which then replace the configuration's).
package struct RuleSourceOptions: ParsableArguments {
    package init() {}

    @Option(help: "Configuration file (JSON, or YAML for .yaml and .yml; see config.example.json).")
    package var config: String?

    @Option(name: .customLong("rules"), help: ArgumentHelp("Rule file, directory or glob, as Prometheus's rule_files (repeatable).",
                                                           valueName: "path"))
    var ruleFiles: [String] = []

    @Option(name: .customLong("pack"), help: ArgumentHelp("Built-in rule pack to load: istio, linkerd or cilium (repeatable).", valueName: "name"))
    var packs: [String] = []

    @Option(name: .customLong("set"), help: ArgumentHelp("Pack parameter, e.g. error_rate.threshold=0.02 (repeatable).",
                                                         valueName: "key=value"))
    var parameters: [String] = []

    package func validate() throws {
        for pack in packs where RulePack.builtIn(pack) == nil {
            throw ValidationError("--pack: unknown pack \"\(pack)\" (known: \(PackSelection.known))")
        }
        for parameter in parameters where !parameter.contains("=") {
            throw ValidationError("--set must look like key=value, got \"\(parameter)\"")
        }
    }

    /// What the engine needs, resolved from the flags over the configuration.
    package struct Resolved {
        var configuration: Configuration
        package var groups: [RuleGroup]
        var warnings: [String]
        package var context: EvaluationContext
        var interval: Duration
    }

    /// Resolves, and on a wrong rule file or configuration prints every problem to stderr
    /// and exits with 78 (EX_CONFIG).
    package func resolve(readingSinks: Bool = true) throws -> Resolved {
        do {
            return try resolveThrowing(readingSinks: readingSinks)
        } catch let error as RuleFileError {
            FileHandle.standardError.write(Data("meshwatchd: rule files are wrong:\n\(error)\n".utf8))
            throw ExitCode(78)
        } catch let error as ConfigurationError {
            FileHandle.standardError.write(Data("meshwatchd: configuration is wrong: \(error)\n".utf8))
            throw ExitCode(78)
        }
    }

    func resolveThrowing(readingSinks: Bool = true) throws -> Resolved {
        let configuration = try config.map { try Configuration.load(path: $0, readingSinks: readingSinks) } ?? Configuration()
        let useFlags = !ruleFiles.isEmpty || !packs.isEmpty
        let files = useFlags ? ruleFiles : (configuration.ruleFiles ?? [])
        let settings = parameters.map { parameter in
            let parts = parameter.split(separator: "=", maxSplits: 1).map(String.init)
            return (key: parts[0], value: parts.count > 1 ? parts[1] : "")
        }
        var groups: [RuleGroup] = []
        var warnings: [String] = []
        if !files.isEmpty {
            let loaded = try RuleFileLoader.load(paths: files, syntax: configuration.syntax,
                                                     recordingRules: configuration.recordingRulePolicy)
            groups += loaded.groups
            warnings += loaded.warnings
        }
        do {
            let selected = useFlags ? try PackSelection.fromFlags(packs, settings: settings)
                                    : try PackSelection.fromConfiguration(configuration)
            for setting in settings where !selected.contains(where: { $0.values[setting.key] != nil }) {
                throw PackSelection.Problem(message: "--set \(setting.key): no pack loaded has this parameter")
            }
            groups += try selected.map { pack throws(PackSelection.Problem) in
                guard !settings.isEmpty, !useFlags else { return pack.group }
                // --set over the configuration's values.
                var values = pack.values
                for setting in settings where values[setting.key] != nil {
                    do { try values.set(setting.key, to: setting.value) } catch { throw PackSelection.Problem(message: "pack \(pack.pack.name): \(error)") }
                }
                do { return try pack.pack.expanded(with: values).group } catch { throw PackSelection.Problem(message: "pack \(pack.pack.name): \(error)") }
            }
        } catch {
            throw ValidationError("\(error)")
        }
        // The daemon keeps state by group name: a rule file's group may not take the name of a
        // pack's group or of the daemon's own (its alerts, its scheduled configuration checks).
        let packGroups = Set(groups.filter(\.builtIn).map(\.name))
        for group in groups where !group.builtIn && (packGroups.contains(group.name) || ["meshwatchd", "meshwatchd-analyze"].contains(group.name)) {
            throw ValidationError("\(group.file): group \"\(group.name)\": the name is meshwatchd's own (a pack's or the daemon's); rename the group")
        }
        guard !groups.isEmpty else {
            throw ValidationError("no rules: give --rules PATH, --pack NAME (\(PackSelection.known)), or a --config with rule_files or packs")
        }
        let interval = configuration.evaluationInterval?.value ?? ConfigurationDefaults.evaluationInterval
        let context = EvaluationContext(externalLabels: configuration.externalLabels ?? [:],
                                        externalURL: configuration.externalUrl ?? "",
                                        queryOffset: configuration.ruleQueryOffset?.value ?? .zero)
        return Resolved(configuration: configuration, groups: groups, warnings: warnings, context: context, interval: interval)
    }
}

/// What `eval` and `replay` both start from: the resolved rules, an engine over them, and
/// the datasource on Prometheus. Warnings (skipped recording rules) go to stderr here.
struct EngineSetup {
    var resolved: RuleSourceOptions.Resolved
    var engine: RuleEngine
    var datasource: PrometheusDatasource
    /// Recording rules' and ALERTS series' destination (remote_write), if configured.
    var output: RemoteWriteOutput?

    init(source: RuleSourceOptions, prometheus: PrometheusOptions, logger: Logger) throws {
        // eval and replay never notify: the sinks' secrets are none of their business.
        resolved = try source.resolve(readingSinks: false)
        // On stderr whatever the log level (eval's and replay's default is error): a skipped
        // recording rule changes what the alerts after it see.
        for warning in resolved.warnings { FileHandle.standardError.write(Data("meshwatchd: warning: \(warning)\n".utf8)) }
        let client = try prometheus.makeClient(logger: logger, configuration: resolved.configuration.prometheus)
        datasource = PrometheusDatasource(client: client, timeout: prometheus.timeout)
        output = try resolved.configuration.remoteWrite.map { try $0.makeOutput(logger: logger) }
        engine = RuleEngine(groups: resolved.groups, context: resolved.context, output: output)
    }

    /// Waits for what the evaluations queued for remote write (ALERTS are not waited for when
    /// written) before the command ends, and says on stderr what could not be sent.
    func finishWrites() async {
        guard let queue = output?.queue else { return }
        if await !queue.drain(timeout: output?.acknowledgementTimeout ?? .seconds(30)) {
            let left = await queue.queuedSamples
            FileHandle.standardError.write(Data("meshwatchd: warning: \(left) samples could not be written to remote_write\n".utf8))
        }
    }
}
