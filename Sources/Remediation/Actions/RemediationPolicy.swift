import Foundation
import MetricModel

/// The remediation guards' settings; every guard is on, with these defaults.
public struct RemediationPolicy: Sendable, Equatable {
    public var mode: RemediationMode = .off
    /// Only these namespaces (empty: any namespace that is not denied).
    public var allowNamespaces: Set<String> = []
    public var denyNamespaces: Set<String> = []
    /// Only these workloads, `namespace/name` (empty: any in scope).
    public var allowWorkloads: Set<String> = []
    /// The daemon's own namespace, denied unless named in `allowNamespaces`.
    public var ownNamespace: String?
    /// One action per workload per cooldown.
    public var cooldown: Duration = .seconds(30 * 60)
    /// Actions per hour, across all workloads.
    public var budgetPerHour = 3
    /// More distinct workloads than this with critical alerts firing: act on none, escalate.
    public var blastRadius = 3
    public var maxReplicas = 10
    public var scaleStep = 1
    /// How long after an action the triggering alert has to resolve.
    public var verificationWindow: Duration = .seconds(5 * 60)
    /// When this file exists, every mode is dry-run.
    public var killSwitchFile: String?
    /// When this ConfigMap key exists, every mode is dry-run.
    public var killSwitchConfigMap: ConfigMapKey?
    /// User rules that may act (`RuleReference.key`); the built-in packs' rules always may.
    public var optedInRules: Set<String> = []

    public struct ConfigMapKey: Sendable, Equatable {
        public var namespace: String
        public var name: String
        public var key: String
        public init(namespace: String, name: String, key: String) {
            self.namespace = namespace
            self.name = name
            self.key = key
        }
    }

    /// Namespaces no action touches unless they are named in `allowNamespaces`.
    public var protectedNamespaces: Set<String> { Set(["kube-system", "istio-system"] + [ownNamespace].compactMap { $0 }) }

    public init() {}
}

/// What the ledger says about past decisions, as the guards need it.
public struct LedgerSummary: Sendable, Equatable {
    /// The most recent action taken per workload (`namespace/name`).
    public var lastTaken: [String: Date] = [:]
    /// Actions taken within the last hour.
    public var takenInLastHour = 0
    /// `alertKey workload` pairs already acted on (one automatic action per incident).
    public var actedOn: Set<String> = []
    /// Taken actions still inside their verification window.
    public var inFlight: [String] = []

    public init(lastTaken: [String: Date] = [:], takenInLastHour: Int = 0, actedOn: Set<String> = [], inFlight: [String] = []) {
        self.lastTaken = lastTaken
        self.takenInLastHour = takenInLastHour
        self.actedOn = actedOn
        self.inFlight = inFlight
    }
}

/// The rule that raised an alert: remediation belongs to rules that opted in, not to names.
public struct RuleReference: Sendable, Hashable, Codable {
    public var file: String
    public var group: String
    public var name: String
    /// A rule of a built-in pack (opted in by construction).
    public var builtIn: Bool

    public init(file: String, group: String, name: String, builtIn: Bool) {
        self.file = file
        self.group = group
        self.name = name
        self.builtIn = builtIn
    }

    /// What `remediation.rules` entries are compared by.
    public var key: String { Self.key(file: file, group: group, name: name) }
    public static func key(file: String, group: String, name: String) -> String { "\(file)\u{0}\(group)\u{0}\(name)" }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}

extension KubeTime {
    public static func format(_ date: Date) -> String { RFC3339.string(date) }
}
