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
        /// Only alerts whose labels match every one, in Alertmanager's syntax (`namespace=~"shop|web"`).
        var matchers: [String]?
        /// false: an alert this sink takes goes to no sink listed after it (Alertmanager's
        /// `continue`); default true: every sink whose filters match takes it.
        var `continue`: Bool?
        /// The sink's own message (Slack's text, PagerDuty's summary, Alertmanager's `message`
        /// annotation, the webhook's `message`), in the rule annotations' template language.
        var template: String?
        /// alertmanager: several Alertmanagers (a cluster's replicas), each receiving every alert.
        var urls: [String]?
        /// alertmanager: the Prometheus client's options — authentication, headers, TLS.
        var basicAuth: Prometheus.BasicAuth?
        var bearerTokenFile: String?
        var headers: [String: String]?
        var headerFiles: [String: String]?
        var caFile: String?
        var certFile: String?
        var keyFile: String?
        var insecureSkipVerify: Bool?
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

    /// The status page and the operator's API: who may see and do what.
    struct Web: Decodable, Sendable, Equatable {
        struct User: Decodable, Sendable, Equatable {
            var name: String?
            /// A crypt(3) hash: bcrypt (`htpasswd -nB`, `meshwatchd hash-password`), yescrypt or SHA-512 crypt.
            var passwordHash: String?
        }

        struct Token: Decodable, Sendable, Equatable {
            /// Who the token acts as (shown as the author of its acknowledgements and silences).
            var name: String?
            /// The file holding the token (read at start and on reload; never inline).
            var file: String?
        }

        /// meshwatchd's own address as people reach it: alert and finding links in every sink,
        /// and the alerts' `generatorURL`. (`external_url` at the top is Prometheus's.)
        var externalUrl: String?
        var users: [User]?
        var tokens: [Token]?
        /// How long a login lasts (default 12h).
        var sessionTimeout: ConfigDuration?
        /// On a listener that is not loopback-only, alert lists and rule health without a login (default false).
        var anonymousAlertLists: Bool?
        /// With leader election: this replica's listener as the other replicas reach it (default
        /// `http://$POD_IP:<port>`), announced in the Lease so followers forward to the leader.
        var advertiseUrl: String?
        /// With leader election: the ConfigMap in the daemon's namespace that keeps silences and
        /// acknowledgements across failovers (default meshwatchd-silences).
        var stateConfigmap: String?
    }

    var web: Web?
    /// How often the configuration and rule files are checked for changes, which reload them
    /// (default 30s; 0s: only SIGHUP and POST /-/reload).
    var configCheckInterval: ConfigDuration?
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
    /// The PromQL syntax rule files are read with (a validated configuration names a known one).
    var syntax: Syntax { promqlSyntax.flatMap(Syntax.init(rawValue:)) ?? .prometheus2 }

    /// What loading does with recording rules: skip them when told, evaluate them when their
    /// series have somewhere to go, refuse them otherwise.
    var recordingRulePolicy: RecordingRulePolicy {
        if recordingRules?.value == .skip { return .skip }
        return remoteWrite?.url == nil ? .refuse : .evaluate
    }
}
