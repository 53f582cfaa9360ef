import AlertEngine
import Remediation
import Foundation
import PromQL
import Logging

/// The configuration file, as far as the one-shot commands use it. Keys are snake_case; every
/// key but a sink's `type` is optional and has a safe default, and a key it does not know is
/// an error (`Configuration+Loading.swift` reads it).
struct Configuration: Decodable, Sendable, Equatable {
    struct Prometheus: Decodable, Sendable, Equatable {
        struct BasicAuth: Decodable, Sendable, Equatable {
            var username: String?
            var passwordFile: String?
        }

        var url: String?
        /// Plain headers (e.g. X-Scope-OrgID); secret ones belong in `header_files`.
        var headers: [String: String]?
        /// Header values read from files (e.g. an Authorization header), never written inline.
        var headerFiles: [String: String]?
        var basicAuth: BasicAuth?
        var bearerTokenFile: String?
        var caFile: String?
        var certFile: String?
        var keyFile: String?
        var insecureSkipVerify: Bool?
        var queryTimeout: ConfigDuration?
    }

    /// Where recording rules' series and `ALERTS`/`ALERTS_FOR_STATE` are written: a Prometheus
    /// remote-write 1.0 receiver (Prometheus with `--web.enable-remote-write-receiver`,
    /// VictoriaMetrics's `/api/v1/write`).
    struct RemoteWrite: Decodable, Sendable, Equatable {
        var url: String?
        /// Plain headers (e.g. X-Scope-OrgID).
        var headers: [String: String]?
        /// Header values read from files (e.g. an Authorization header), never written inline.
        var headerFiles: [String: String]?
        var bearerTokenFile: String?
        var caFile: String?
        var certFile: String?
        var keyFile: String?
        var insecureSkipVerify: Bool?
        /// One request's time limit (default 30s).
        var timeout: ConfigDuration?
        /// Samples waiting at most while the receiver is down; past it the oldest are dropped (default 100000).
        var maxQueuedSamples: Int?
        /// Samples per request at most (default 2000).
        var maxSamplesPerSend: Int?
        /// How long after a recording rule's write is acknowledged the next rule of its group
        /// queries (default 0s; VictoriaMetrics needs about 1s to make samples searchable).
        var readBackDelay: ConfigDuration?
    }

    /// What to do with recording rules: `evaluate` (default; needs remote_write) or `skip`.
    enum RecordingRules: String, Sendable {
        case evaluate, skip
    }

    struct Pack: Decodable, Sendable, Equatable {
        var enabled: Bool?
        var parameters: [String: String]?
        /// A pack file of the team's own (relative to the configuration); the built-in packs
        /// (istio, linkerd, cilium) need none.
        var file: String?
    }

    struct Log: Decodable, Sendable, Equatable {
        /// trace, debug, info, notice, warning, error, critical.
        var level: Keyword<Logger.Level>?
        /// auto (journald when stdout is the journal, else json), json, text, journald.
        var format: Keyword<LogFormat>?
    }

    /// `meshwatchd analyze` on a schedule in the daemon: each new problem a finding, resolved when fixed.
    struct Analyze: Decodable, Sendable, Equatable {
        var enabled: Bool?
        var interval: ConfigDuration?
        /// Only these namespaces (default all).
        var namespaces: [String]?
        /// Only these checks, by code or name (default all).
        var checks: [String]?
        var permissiveMaxAge: ConfigDuration?
        /// The least severity that becomes a finding: info, warning (default) or error.
        var minSeverity: String?
    }

    struct Restore: Decodable, Sendable, Equatable {
        var outageTolerance: ConfigDuration?
        var forGracePeriod: ConfigDuration?
    }

    struct Sink: Decodable, Sendable, Equatable {
        /// The receiver's protocol.
        enum Kind: String, Sendable {
            case webhook, alertmanager, slack, pagerduty
        }

        var name: String?
        /// Required: a misspelt `type` once made a Slack sink a webhook without a word.
        var type: Keyword<Kind>?
        /// How often a still-firing alert is sent again (default: notifications.repeat_interval;
        /// 1m for alertmanager, which expires alerts that are not re-sent).
        var repeatInterval: ConfigDuration?
        /// Slack: instances of one alert queued within this long share one message (default 30s; 0s: never).
        var groupWait: ConfigDuration?
        /// PagerDuty's integration (routing) key, read from a file.
        var routingKeyFile: String?
        var url: String?
        /// For URLs that carry a key (Slack, PagerDuty, many webhook services).
        var urlFile: String?
        /// HMAC-SHA256 signing secret.
        var secretFile: String?
        /// Only these alert names (empty: all).
        var alerts: [String]?
        /// Only these severities (empty: all).
        var severities: [String]?
    }

    struct Notifications: Decodable, Sendable, Equatable {
        struct Level: Decodable, Sendable, Equatable {
            /// How long an alert fires before it reaches this level (the first level: 0s).
            var after: ConfigDuration?
            /// The sinks that hear of an alert from this level on. Sinks named in no level are level 1.
            var sinks: [String]?
        }
        /// Reminders for still-firing alerts (default 4h).
        var repeatInterval: ConfigDuration?
        /// Escalation levels, in order (default: at once, 30m, 2h).
        var levels: [Level]?
        /// Distinct workloads with critical alerts firing at once that make an emergency (level 2 at once); 0: off. Default 3.
        var emergencyCriticalWorkloads: Int?
        /// MeshWatchDatasourceDown fires when Prometheus has been unreachable this long (default 5m; 0s: off).
        var datasourceDownAfter: ConfigDuration?
        /// Links in every finding, templated like annotations (`{{ $labels.destination_workload }}`).
        var links: [String: String]?
    }

    struct Kubernetes: Decodable, Sendable, Equatable {
        /// A kubeconfig file (default: in-cluster when running in a pod, else none).
        var kubeconfig: String?
        /// Its context (default: the current one).
        var context: String?
        /// Use the pod's service account even if a kubeconfig is given.
        var inCluster: Bool?
    }

    struct Runbooks: Decodable, Sendable, Equatable {
        /// Run the runbook of each firing alert and put its evidence in the finding (default true).
        var enabled: Bool?
        /// Commands `exec` steps may run, by absolute path (default none: exec is off).
        var execAllow: [String]?
        /// How long a firing finding waits for its evidence before it goes out without (default 60s).
        var evidenceTimeout: ConfigDuration?
        /// Runbooks that replace a built-in one (same alert) or add one.
        var definitions: [Runbook]?
    }

    struct Remediation: Decodable, Sendable, Equatable {
        struct ConfigMapKey: Decodable, Sendable, Equatable { var namespace: String; var name: String; var key: String }
        /// off (default), dry-run or enforce.
        var mode: Keyword<RemediationMode>?
        var allowNamespaces: [String]?
        var denyNamespaces: [String]?
        /// `namespace/name` of the only workloads it may act on (default: any in scope).
        var allowWorkloads: [String]?
        /// The daemon's own namespace, protected like kube-system (default: the pod's namespace).
        var ownNamespace: String?
        var cooldown: ConfigDuration?
        var budgetPerHour: Int?
        var blastRadius: Int?
        var maxReplicas: Int?
        var scaleStep: Int?
        var verificationWindow: ConfigDuration?
        var killSwitchFile: String?
        var killSwitchConfigmap: ConfigMapKey?
        /// User rules that may act: file (as in rule_files), group and rule name.
        var rules: [RuleOptIn]?
        struct RuleOptIn: Decodable, Sendable, Equatable { var file: String; var group: String; var rule: String }
    }

    struct LeaderElection: Decodable, Sendable, Equatable {
        var enabled: Bool?
        /// The Lease's namespace (default: the daemon's own).
        var namespace: String?
        var name: String?
        /// This replica's identity (default: POD_NAME, else the host name).
        var identity: String?
        var leaseDuration: ConfigDuration?
        var renewDeadline: ConfigDuration?
        var retryPeriod: ConfigDuration?
    }

    var prometheus: Prometheus?
    var remoteWrite: RemoteWrite?
    /// `evaluate` (default) or `skip`. Without `remote_write`, rule files with recording rules
    /// are refused unless this says `skip`.
    var recordingRules: Keyword<RecordingRules>?
    var leaderElection: LeaderElection?
    var kubernetes: Kubernetes?
    var remediation: Remediation?
    var runbooks: Runbooks?
    var sinks: [Sink]?
    var notifications: Notifications?
    /// host:port of the status listener (/healthz, /readyz, /metrics, /api/v1/…).
    var listenAddress: String?
    /// A status connection that sends nothing (or only part of a request) this long is closed (default 30s).
    var listenIdleTimeout: ConfigDuration?
    var stateDirectory: String?
    var log: Log?
    var queryTimeout: ConfigDuration?
    /// Queries in flight at once across all groups.
    var maxConcurrentQueries: Int?
    /// The most series a rule's query may return (default 10000); past it the rule fails for the cycle.
    var maxSeriesPerQuery: Int?
    var shutdownTimeout: ConfigDuration?
    var restore: Restore?
    var analyze: Analyze?
    var evaluationInterval: ConfigDuration?
    /// Prometheus's global `rule_query_offset`: how long before the evaluation time rule
    /// queries ask (default 0), for groups without their own `query_offset`.
    var ruleQueryOffset: ConfigDuration?
    /// The PromQL rule expressions are read as: `prometheus-2.42` (default, what promtool 2.42
    /// accepts) or `prometheus-3` (quoted UTF-8 names, Prometheus 3's functions), for a
    /// Prometheus that understands it.
    var promqlSyntax: String?
    var externalLabels: [String: String]?
    var externalUrl: String?
    var ruleFiles: [String]?
    var packs: [String: Pack]?
}

extension Configuration {
    /// Every problem of the values that decoding does not catch (durations, words, URLs,
    /// files, pack parameters), each with its key path.
    func problems(file: String, readingSinks: Bool = true) -> [ConfigurationError] {
        var found: [ConfigurationError] = []
        func duration(_ value: ConfigDuration?, _ keyPath: String) {
            guard let value else { return }
            if (value.value ?? .zero) <= .zero {
                found.append(ConfigurationError(file: file, keyPath: keyPath,
                                                message: "expected a positive duration such as 30s or 5m, got \"\(value)\""))
            }
        }
        duration(evaluationInterval, "evaluation_interval")
        if let syntax = promqlSyntax, Syntax(rawValue: syntax) == nil {
            found.append(ConfigurationError(file: file, keyPath: "promql_syntax",
                                            message: "expected \(Syntax.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: " or ")), got \"\(syntax)\""))
        }
        if let offset = ruleQueryOffset, offset.value == nil || offset.value! < .zero {
            found.append(ConfigurationError(file: file, keyPath: "rule_query_offset",
                                            message: "expected a duration such as 0s or 1m, got \"\(offset)\""))
        }
        duration(queryTimeout, "query_timeout")
        duration(shutdownTimeout, "shutdown_timeout")
        duration(listenIdleTimeout, "listen_idle_timeout")
        duration(prometheus?.queryTimeout, "prometheus.query_timeout")
        duration(restore?.outageTolerance, "restore.outage_tolerance")
        duration(restore?.forGracePeriod, "restore.for_grace_period")
        duration(analyze?.interval, "analyze.interval")
        duration(analyze?.permissiveMaxAge, "analyze.permissive_max_age")
        for (index, check) in (analyze?.checks ?? []).enumerated() where AnalyzeCommand.check(check) == nil {
            found.append(ConfigurationError(file: file, keyPath: "analyze.checks[\(index)]",
                                            message: "unknown check \"\(check)\" (meshwatchd analyze --list shows them)"))
        }
        for (index, namespace) in (analyze?.namespaces ?? []).enumerated() where KubernetesName.labelProblem(namespace) != nil {
            found.append(ConfigurationError(file: file, keyPath: "analyze.namespaces[\(index)]", message: "\"\(namespace)\" is not a namespace name"))
        }
        if let severity = analyze?.minSeverity, !["info", "warning", "error"].contains(severity) {
            found.append(ConfigurationError(file: file, keyPath: "analyze.min_severity", message: "expected info, warning or error, got \"\(severity)\""))
        }
        if case .unknown(let level) = log?.level {
            found.append(ConfigurationError(file: file, keyPath: "log.level",
                                            message: "expected one of trace, debug, info, notice, warning, error, critical, got \"\(level)\""))
        }
        if case .unknown(let format) = log?.format {
            found.append(ConfigurationError(file: file, keyPath: "log.format", message: "expected auto, json, text or journald, got \"\(format)\""))
        }
        if case .unknown(let word) = recordingRules {
            found.append(ConfigurationError(file: file, keyPath: "recording_rules", message: "expected evaluate or skip, got \"\(word)\""))
        }
        if let remoteWrite {
            if let url = remoteWrite.url {
                if !(url.hasPrefix("http://") || url.hasPrefix("https://")) || URLComponents(string: url)?.host == nil {
                    found.append(ConfigurationError(file: file, keyPath: "remote_write.url", message: "expected an absolute http(s) URL"))
                }
            } else {
                found.append(ConfigurationError(file: file, keyPath: "remote_write.url",
                                                message: "missing (e.g. http://prometheus:9090/api/v1/write)"))
            }
            duration(remoteWrite.timeout, "remote_write.timeout")
            if let delay = remoteWrite.readBackDelay, delay.value == nil || delay.value! < .zero || delay.value! > .seconds(60) {
                found.append(ConfigurationError(file: file, keyPath: "remote_write.read_back_delay",
                                                message: "expected a duration from 0s to 1m such as 2s, got \"\(delay)\""))
            }
            for (key, value) in [("max_queued_samples", remoteWrite.maxQueuedSamples), ("max_samples_per_send", remoteWrite.maxSamplesPerSend)] {
                if let value, value < 1 {
                    found.append(ConfigurationError(file: file, keyPath: "remote_write.\(key)", message: "expected 1 or more, got \(value)"))
                }
            }
            // As for prometheus: secret files are checked here, TLS files when the first request uses them.
            if let path = remoteWrite.bearerTokenFile, !FileManager.default.isReadableFile(atPath: path) {
                found.append(ConfigurationError(file: file, keyPath: "remote_write.bearer_token_file", message: "cannot read \(path)"))
            }
            for (name, path) in (remoteWrite.headerFiles ?? [:]).sorted(by: { $0.key < $1.key }) where !FileManager.default.isReadableFile(atPath: path) {
                found.append(ConfigurationError(file: file, keyPath: "remote_write.header_files.\(name)", message: "cannot read \(path)"))
            }
            if (remoteWrite.certFile == nil) != (remoteWrite.keyFile == nil) {
                found.append(ConfigurationError(file: file, keyPath: "remote_write", message: "cert_file and key_file go together"))
            }
        }
        if let url = prometheus?.url, !(url.hasPrefix("http://") || url.hasPrefix("https://")) || URLComponents(string: url)?.host == nil {
            found.append(ConfigurationError(file: file, keyPath: "prometheus.url", message: "expected an absolute http(s) URL"))
        }
        for (name, path) in (prometheus?.headerFiles ?? [:]).sorted(by: { $0.key < $1.key }) where !FileManager.default.isReadableFile(atPath: path) {
            found.append(ConfigurationError(file: file, keyPath: "prometheus.header_files.\(name)", message: "cannot read \(path)"))
        }
        if let basic = prometheus?.basicAuth {
            if basic.username?.isEmpty ?? true {
                found.append(ConfigurationError(file: file, keyPath: "prometheus.basic_auth.username", message: "missing"))
            }
            if let path = basic.passwordFile {
                if !FileManager.default.isReadableFile(atPath: path) {
                    found.append(ConfigurationError(file: file, keyPath: "prometheus.basic_auth.password_file", message: "cannot read \(path)"))
                }
            } else {
                found.append(ConfigurationError(file: file, keyPath: "prometheus.basic_auth.password_file", message: "missing"))
            }
        }
        if prometheus?.basicAuth != nil && prometheus?.bearerTokenFile != nil {
            found.append(ConfigurationError(file: file, keyPath: "prometheus", message: "basic_auth and bearer_token_file exclude each other"))
        }
        if let path = prometheus?.bearerTokenFile, !FileManager.default.isReadableFile(atPath: path) {
            found.append(ConfigurationError(file: file, keyPath: "prometheus.bearer_token_file", message: "cannot read \(path)"))
        }
        var sinkNames: Set<String> = []
        for (index, sink) in (readingSinks ? sinks ?? [] : []).enumerated() {
            let path = "sinks[\(index)]"
            let name = sink.name ?? ""
            if name.isEmpty { found.append(ConfigurationError(file: file, keyPath: path + ".name", message: "missing")) }
            if !sinkNames.insert(name).inserted {
                found.append(ConfigurationError(file: file, keyPath: path + ".name", message: "\"\(name)\" is used by another sink"))
            }
            switch sink.type {
            case nil:
                found.append(ConfigurationError(file: file, keyPath: path + ".type", message: "missing (webhook, alertmanager, slack or pagerduty)"))
            case .unknown(let type)?:
                found.append(ConfigurationError(file: file, keyPath: path + ".type",
                                                message: "\"\(type)\" is not a sink type (webhook, alertmanager, slack, pagerduty are)"))
            case .known?:
                break
            }
            let kind = sink.type?.value
            duration(sink.repeatInterval, path + ".repeat_interval")
            if let wait = sink.groupWait {
                if wait.value == nil {
                    found.append(ConfigurationError(file: file, keyPath: path + ".group_wait", message: "expected a duration such as 30s, got \"\(wait)\""))
                } else if kind != .slack {
                    found.append(ConfigurationError(file: file, keyPath: path + ".group_wait",
                                                    message: "only slack sinks group; other sinks take one finding per alert"))
                }
            }
            if kind == .pagerduty {
                if sink.routingKeyFile == nil {
                    found.append(ConfigurationError(file: file, keyPath: path + ".routing_key_file", message: "missing"))
                }
                if sink.url != nil && sink.urlFile != nil {
                    found.append(ConfigurationError(file: file, keyPath: path + ".url", message: "give at most one of url and url_file"))
                }
            } else if (sink.url == nil) == (sink.urlFile == nil) {
                found.append(ConfigurationError(file: file, keyPath: path + ".url", message: "give exactly one of url and url_file"))
            }
            if let url = sink.url, URLComponents(string: url)?.host == nil || !(url.hasPrefix("http://") || url.hasPrefix("https://")) {
                found.append(ConfigurationError(file: file, keyPath: path + ".url", message: "expected an absolute http(s) URL"))
            }
            for (key, value) in [("url_file", sink.urlFile), ("secret_file", sink.secretFile), ("routing_key_file", sink.routingKeyFile)] {
                if let value, !FileManager.default.isReadableFile(atPath: value) {
                    found.append(ConfigurationError(file: file, keyPath: path + "." + key, message: "cannot read \(value)"))
                }
            }
        }
        if readingSinks { found += notificationProblems(file: file, sinkNames: sinkNames) }
        found += runbookProblems(file: file)
        found += remediationProblems(file: file)
        found += leaderElectionProblems(file: file)
        if let limit = maxConcurrentQueries, !(1...256).contains(limit) {
            found.append(ConfigurationError(file: file, keyPath: "max_concurrent_queries", message: "expected 1 to 256, got \(limit)"))
        }
        if let limit = maxSeriesPerQuery, limit < 1 {
            found.append(ConfigurationError(file: file, keyPath: "max_series_per_query", message: "expected 1 or more, got \(limit)"))
        }
        if let address = listenAddress, ListenAddress(address) == nil {
            found.append(ConfigurationError(file: file, keyPath: "listen_address", message: "expected host:port such as 127.0.0.1:9819, got \"\(address)\""))
        }
        for (name, pack) in (packs ?? [:]).sorted(by: { $0.key < $1.key }) {
            do { _ = try PackSelection.expand(name: name, pack) } catch {
                found.append(ConfigurationError(file: file, keyPath: error.keyPath.map { "packs.\(name).\($0)" } ?? "packs.\(name)",
                                                message: error.message))
            }
        }
        return found
    }
}

extension Configuration {
    /// The PromQL syntax rule files are read with (a validated configuration names a known one).
    var syntax: Syntax { promqlSyntax.flatMap(Syntax.init(rawValue:)) ?? .prometheus2 }

    /// What loading does with recording rules: skip them when told, evaluate them when their
    /// series have somewhere to go, refuse them otherwise.
    var recordingRulePolicy: RecordingRulePolicy {
        if recordingRules?.value == .skip { return .skip }
        return remoteWrite?.url == nil ? .refuse : .evaluate
    }
}
