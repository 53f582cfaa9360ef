import AlertEngine
import ArgumentParser
import Foundation
import Logging
import MeshAnalysis
import Remediation
import RemoteWrite

/// Everything one generation of the daemon runs with; a reload builds a new one.
struct DaemonSettings: Sendable {
    var groups: [RuleGroup]
    var context: EvaluationContext
    var defaultInterval: Duration
    var queryTimeout: Duration
    var restore: RestoreOptions
    var datasource: PrometheusDatasource
    /// Where recording rules' series and ALERTS/ALERTS_FOR_STATE go (remote_write); nil without it.
    var output: RemoteWriteOutput?
    var sinks: [ConfiguredSink] = []
    var notifications: NotificationSettings
    /// The runbooks and their runner; nil when runbooks are off.
    var diagnosis: Diagnosis?
    /// The configuration checks on a schedule; nil when `analyze.enabled` is not set.
    var analysis: AnalysisSchedule.Settings?
    /// The configuration file, the rule and pack files loaded and their directories: a change to
    /// any of them reloads (every `configCheckInterval`; nil: never).
    var watchedFiles: [String] = []
    /// Those files as this load read them: the watcher's baseline (taken at load, not when the
    /// generation starts, so a change made meanwhile is still noticed).
    var loadedFiles: FileWatch? = nil
    var configCheckInterval: Duration? = nil
    /// The web section and listener as this configuration has them: users and tokens reload,
    /// the listener and the external URL take effect at the next start.
    var web: Configuration.Web? = nil
    /// The web section's users and tokens, token files read at this load.
    var credentials = WebAccess.Credentials()
    var listenAddress: String? = nil

    struct Diagnosis: Sendable {
        var catalog: [String: Runbook]
        var runner: RunbookRunner
        /// How long a firing finding waits for its evidence.
        var evidenceTimeout: Duration
        var remediation: RemediationPolicy
        var remediator: Remediator
        /// Alert keys this process's evaluations saw firing (shared by every generation).
        var firing: FiringAlerts
        var started: Date
        /// The latest remediation line per alert (the runtime's, shared by every generation).
        var notes: RemediationNotes
    }

    var ruleCount: Int { groups.reduce(0) { $0 + $1.rules.count } }

    /// Resolves flags and configuration file into settings; throws what is wrong.
    static func resolve(source: RuleSourceOptions, prometheus: PrometheusOptions, kubernetes: KubernetesOptions = KubernetesOptions(),
                        runtime: RemediationRuntime, logger: Logger) throws -> DaemonSettings {
        let resolved = try source.resolveThrowing()
        for warning in resolved.warnings { logger.warning("\(warning)") }
        let configuration = resolved.configuration
        // Read before anything below changes running state (the remote-write queue, the mode): a
        // token file that cannot be read fails the load with nothing changed.
        let credentials = try RunCommand.webCredentials(configuration.web)
        let queryTimeout = configuration.queryTimeout?.value ?? prometheus.timeout
        let client = try prometheus.makeClient(logger: logger, configuration: configuration.prometheus)
        let longest = resolved.groups.map { $0.interval ?? resolved.interval }.max() ?? resolved.interval
        let sinks = try ConfiguredSink.build(configuration.sinks ?? [], longestInterval: longest, externalURL: configuration.externalUrl ?? "",
                                             logger: logger)
        var diagnosis: Diagnosis?
        var analysis: AnalysisSchedule.Settings?
        if let analyze = configuration.analyze, analyze.enabled == true {
            guard let client = try kubernetes.makeClient(configuration: configuration.kubernetes,
                                                         environment: ProcessInfo.processInfo.environment, logger: logger) else {
                throw ValidationError("analyze.enabled needs the Kubernetes API: set kubernetes.kubeconfig or kubernetes.in_cluster")
            }
            var analyzer = Analyzer(now: Date())
            analyzer.only = Set((analyze.checks ?? []).compactMap(AnalyzeCommand.check))
            if let age = analyze.permissiveMaxAge?.value { analyzer.permissiveMaxAge = age }
            analysis = AnalysisSchedule.Settings(
                client: client, interval: analyze.interval?.value ?? .seconds(15 * 60),
                namespaces: (analyze.namespaces ?? []).isEmpty ? nil : analyze.namespaces, analyzer: analyzer,
                minimum: AnalysisFinding.Severity(rawValue: analyze.minSeverity ?? "warning") ?? .warning)
        }
        if configuration.runbooks?.enabled ?? true {
            let kubernetesClient = try kubernetes.makeClient(configuration: configuration.kubernetes,
                                                             environment: ProcessInfo.processInfo.environment, logger: logger)
            if kubernetesClient == nil { logger.info("no Kubernetes API configured: runbooks run their Prometheus steps only") }
            let policy = configuration.remediationPolicy(environment: ProcessInfo.processInfo.environment)
            if policy.mode != .off {
                logger.notice("remediation is on", metadata: [
                    "remediation.mode": "\(policy.mode.rawValue)", "kubernetes": "\(kubernetesClient != nil)",
                    "remediation.kill_switch_file": "\(policy.killSwitchFile ?? "-")",
                    "remediation.kill_switch_configmap": "\(policy.killSwitchConfigMap.map { "\($0.namespace)/\($0.name) key \($0.key)" } ?? "-")",
                    "remediation.opted_in_rules": "\(configuration.remediation?.rules?.count ?? 0) user rules, and the built-in packs",
                ])
                if configuration.sinks?.isEmpty ?? true {
                    logger.warning("no sinks configured: runbooks and remediation still run, and their decisions are only in the ledger (meshwatchd ledger)")
                }
            }
            let world = kubernetesClient.map { ClusterWorld(client: $0, policy: policy, firing: runtime.firing, leadership: runtime.leadership, mode: runtime.mode) }
            diagnosis = Diagnosis(
                catalog: PackSelection.runbookCatalog(configuration),
                runner: RunbookRunner.make(prometheus: client, kubernetes: kubernetesClient, execAllow: configuration.runbooks?.execAllow ?? [],
                                           context: resolved.context),
                evidenceTimeout: configuration.runbooks?.evidenceTimeout?.value ?? ConfigurationDefaults.evidenceTimeout,
                remediation: policy, remediator: Remediator(world: world, policy: policy, ledger: runtime.ledger),
                firing: runtime.firing, started: runtime.started, notes: runtime.notes)
        }
        let settings = DaemonSettings(
            groups: resolved.groups, context: resolved.context, defaultInterval: resolved.interval, queryTimeout: queryTimeout,
            restore: RestoreOptions(
                outageTolerance: configuration.restore?.outageTolerance?.value ?? ConfigurationDefaults.restore.outageTolerance,
                forGracePeriod: configuration.restore?.forGracePeriod?.value ?? ConfigurationDefaults.restore.forGracePeriod),
            datasource: PrometheusDatasource(client: client, timeout: queryTimeout,
                                             limiter: QueryLimiter(limit: configuration.maxConcurrentQueries ?? ConfigurationDefaults.maxConcurrentQueries),
                                             maxSeries: configuration.maxSeriesPerQuery ?? ConfigurationDefaults.maxSeriesPerQuery,
                                             timings: LatencyHistogram.prometheusQueries),
            output: try configuration.remoteWrite.map {
                // A recording rule waits for its write at most an evaluation interval (and the request timeout).
                try RemoteWriteOutputs.output(for: $0, acknowledgementTimeout: min(resolved.interval, $0.timeout?.value ?? ConfigurationDefaults.remoteWriteTimeout),
                                              logger: logger)
            },
            sinks: sinks,
            notifications: try NotificationSettings.build(configuration.notifications, sinks: sinks, groups: resolved.groups,
                                                          context: resolved.context, notes: runtime.notes, pageURL: configuration.web?.externalUrl),
            diagnosis: diagnosis, analysis: analysis)
        var watched = settings
        let files = resolved.groups.map(\.file).filter { FileManager.default.fileExists(atPath: $0) }
        watched.web = configuration.web
        watched.credentials = credentials
        watched.listenAddress = configuration.listenAddress
        // Token files too: a rotated token (a Secret's file swapped) reloads like a changed rule.
        let tokenFiles = (configuration.web?.tokens ?? []).compactMap(\.file).filter { FileManager.default.fileExists(atPath: $0) }
        watched.watchedFiles = (source.config.map { [$0] } ?? []) + files + tokenFiles
            + Set(files.map { URL(fileURLWithPath: $0).deletingLastPathComponent().path }).sorted()
        let check = configuration.configCheckInterval?.value ?? ConfigurationDefaults.configCheckInterval
        watched.configCheckInterval = check > .zero ? check : nil
        watched.loadedFiles = FileWatch(paths: watched.watchedFiles)
        // Only a load that succeeded changes the mode decisions in flight see at their write.
        runtime.mode.set(diagnosis?.remediation.mode ?? .off)
        return watched
    }

    func interval(of group: RuleGroup) -> Duration { group.interval ?? defaultInterval }
}
