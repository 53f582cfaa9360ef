import AlertEngine
import ArgumentParser
import Foundation
import Logging
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

    @Option(name: .customLong("pack"), help: ArgumentHelp("Built-in rule pack to load: istio (repeatable).", valueName: "name"))
    var packs: [String] = []

    @Option(name: .customLong("set"), help: ArgumentHelp("Pack parameter, e.g. error_rate.threshold=0.02 (repeatable).",
                                                         valueName: "key=value"))
    var parameters: [String] = []

    package func validate() throws {
        for pack in packs where pack != "istio" { throw ValidationError("--pack: unknown pack \"\(pack)\" (known: istio)") }
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
        var packParameters: [String: [String: String]] = [:]
        if !useFlags {
            for (name, pack) in configuration.packs ?? [:] where pack.enabled ?? true {
                packParameters[name] = pack.parameters ?? [:]
            }
        } else {
            for pack in packs { packParameters[pack] = [:] }
        }
        for parameter in parameters {
            let parts = parameter.split(separator: "=", maxSplits: 1).map(String.init)
            for name in packParameters.keys { packParameters[name]?[parts[0]] = parts.count > 1 ? parts[1] : "" }
        }
        var groups: [RuleGroup] = []
        var warnings: [String] = []
        if !files.isEmpty {
            let loaded = try RuleFileLoader.load(paths: files, syntax: configuration.syntax,
                                                     recordingRules: configuration.recordingRulePolicy)
            groups += loaded.groups
            warnings += loaded.warnings
        }
        for (name, values) in packParameters.sorted(by: { $0.key < $1.key }) {
            guard name == "istio" else { throw ValidationError("packs.\(name): unknown pack (known: istio)") }
            var parameters = IstioPack.Parameters()
            for (key, value) in values.sorted(by: { $0.key < $1.key }) {
                do { try parameters.set(key, to: value) } catch { throw ValidationError("pack istio: \(error)") }
            }
            groups.append(IstioPack(parameters: parameters).group)
        }
        guard !groups.isEmpty else {
            throw ValidationError("no rules: give --rules PATH, --pack istio, or a --config with rule_files or packs")
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
