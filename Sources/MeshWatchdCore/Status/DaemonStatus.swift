import AlertEngine
import Foundation
import Incidents
import Remediation
import RemoteWrite

/// What the daemon reports about itself (systemd STATUS=, the watchdog, later /readyz and
/// /metrics): per group, its last cycle and whether its loop is alive.
actor DaemonStatus: DeliveryReporting {
    struct Group: Sendable {
        var rules: Int
        var budget: Duration
        var interval: Duration
        /// The group's rules and instances after its last cycle.
        var state: RuleEngine.GroupState?
        /// The group as configured (and as a reload carried it), before its first cycle.
        var configured: RuleEngine.GroupState?
        var evaluations = 0
        var ruleFailures: [String: Int] = [:]
        var heartbeat = ContinuousClock.now
        var lastEvaluation: Date?
        var lastDuration: Duration?
        var firing = 0
        var pending = 0
        var failedRules = 0
        var missedTicks = 0
        /// Counters kept here, not derived from the last state, so a reload never lowers them.
        var ruleEvaluations = 0
        var templateQueries = 0
        /// The last state's template query count (cumulative in the engine), to add only the new ones.
        var lastTemplateQueries = 0
    }

    private var groups: [String: Group] = [:]
    private var readySent = false


    /// Per sink: findings delivered, attempts that will be retried, findings given up on.
    private(set) var deliveries: [String: (delivered: Int, retried: Int, failed: Int)] = [:]

    /// Remediation decisions by action, outcome and deciding guard; verifications by result.
    private(set) var remediations: [String: Int] = [:]
    private(set) var verifications: [String: Int] = [:]

    func remediation(_ decision: RemediationDecision) {
        remediations["\(decision.action.rawValue)\u{0}\(decision.outcome.rawValue)\u{0}\(decision.decidedBy)", default: 0] += 1
    }

    func verification(recovered: Bool) { verifications[recovered ? "recovered" : "not recovered", default: 0] += 1 }

    /// The configured sinks, so their counters show from zero.
    private(set) var sinkNames: [String] = []

    func configureSinks(_ names: [String]) {
        sinkNames = names
        deliveryDurations.declare(names)
    }

    /// Latency histograms: each group's cycle, each sink's delivery attempts.
    nonisolated let evaluationDurations = LatencyHistogram(
        name: "meshwatchd_rule_group_duration_seconds", help: "How long a rule group's evaluation took (its cycle, every rule once).",
        label: "rule_group")
    nonisolated let deliveryDurations = LatencyHistogram(
        name: "meshwatchd_notification_delivery_duration_seconds",
        help: "How long a delivery attempt to a sink took, whatever its outcome (a grouped message is one attempt).", label: "sink")

    /// Every histogram, for /metrics.
    nonisolated var histograms: [LatencyHistogram] { [evaluationDurations, LatencyHistogram.prometheusQueries, deliveryDurations] }

    func deliveryAttempt(sink: String, took duration: Duration) {
        deliveryDurations.observe(duration, sink)
    }

    /// The scheduled configuration checks (nil while they are off), for /metrics.
    private(set) var analysis: AnalysisCounters?

    func configureAnalysis(_ enabled: Bool) { analysis = enabled ? (analysis ?? AnalysisCounters()) : nil }

    func analysisRan(problems: Int?, at time: Date) {
        var counters = analysis ?? AnalysisCounters()
        if let problems {
            counters.ok += 1
            counters.problems = problems
            counters.lastSuccess = time
        } else {
            counters.failed += 1
        }
        analysis = counters
    }

    /// The remote-write queue of the running generation (nil without remote_write), for /metrics.
    private(set) var remoteWrite: RemoteWriteQueue?

    func configureRemoteWrite(_ queue: RemoteWriteQueue?) { remoteWrite = queue }

    func delivery(sink: String, _ outcome: DeliveryOutcome, count: Int = 1) {
        var entry = deliveries[sink] ?? (0, 0, 0)
        switch outcome {
        case .delivered: entry.delivered += count
        case .retried: entry.retried += count
        case .failed: entry.failed += count
        }
        deliveries[sink] = entry
    }

    /// Starts a generation: the groups it evaluates, each with the longest a cycle may go
    /// without a heartbeat before the watchdog stops vouching for it.
    func reset(groups newGroups: [(name: String, rules: Int, budget: Duration, interval: Duration)]) {
        // Counters survive a reload for groups that stay.
        var next: [String: Group] = [:]
        for group in newGroups {
            var entry = Group(rules: group.rules, budget: group.budget, interval: group.interval)
            if let old = groups[group.name] {
                entry.evaluations = old.evaluations
                entry.ruleFailures = old.ruleFailures
                entry.missedTicks = old.missedTicks
                entry.ruleEvaluations = old.ruleEvaluations
                entry.templateQueries = old.templateQueries
            }
            next[group.name] = entry
        }
        groups = next
        evaluationDurations.declare(newGroups.map(\.name))
        readySent = false
        configurationLoaded = true
        changed()
    }

    private(set) var configurationLoaded = false

    /// The last state write that failed, while decisions wait in memory; nil once all are saved.
    private(set) var stateWriteFailure: String?
    /// Findings decided but not yet saved to the outbox.
    private(set) var unsavedFindings = 0

    func stateWriteFailed(error: String, waitingFindings: Int) {
        stateWriteFailure = error
        unsavedFindings = waitingFindings
        changed()
    }

    func stateWritten() {
        stateWriteFailure = nil
        unsavedFindings = 0
        changed()
    }

    /// With leader election: a follower is ready and idle.
    private(set) var following = false

    func setFollowing(_ value: Bool) {
        following = value
        changed()
    }

    /// Raised on every change the readiness and datasource watchers act on (a cycle, a new
    /// generation, following, the state store failing or recovering): they wait on these instead
    /// of polling. One waiter each.
    nonisolated let readinessSignal = OutboxSignal()
    nonisolated let datasourceSignal = OutboxSignal()

    private func changed() {
        readinessSignal.raise()
        datasourceSignal.raise()
    }

    /// The groups as the generation starts them, before their first cycle.
    func configure(_ states: [RuleEngine.GroupState]) {
        for state in states { groups[state.group.name]?.configured = state }
    }

    /// Every group's state after its last cycle, by group name.
    var groupStates: StatusRendering.Groups {
        groups.sorted { $0.key < $1.key }.map {
            ($0.key, $0.value.interval, $0.value.state, $0.value.evaluations, $0.value.ruleFailures, $0.value.missedTicks,
             $0.value.configured, $0.value.ruleEvaluations, $0.value.templateQueries)
        }
    }

    /// Ready: configuration loaded, every group evaluated, and each group's last cycle
    /// reached Prometheus (some rule's query succeeded). Returns why not, or nil.
    var notReadyReason: String? {
        if let stateWriteFailure {
            return "alert state cannot be saved (\(unsavedFindings) findings wait in memory): \(stateWriteFailure)"
        }
        if following { return nil }
        guard configurationLoaded else { return "configuration not loaded" }
        for (name, group) in groups {
            guard let state = group.state else { return "group \(name) not evaluated yet" }
            // A rule's own error (a bad query, an answer too large) is the rule's health, not the pod's.
            if !state.rules.isEmpty && state.rules.allSatisfy({ $0.health == .err }),
               let failure = state.rules.first(where: \.lastErrorIsDatasource) {
                return "group \(name): Prometheus not reached in the last cycle: \(failure.lastError ?? "")"
            }
        }
        return nil
    }

    func heartbeat(_ group: String) { groups[group]?.heartbeat = .now }

    func cycle(_ group: String, state: RuleEngine.GroupState, missed: Int) {
        guard var entry = groups[group] else { return }
        entry.heartbeat = .now
        entry.lastEvaluation = state.lastEvaluation
        entry.lastDuration = state.lastDuration
        if let duration = state.lastDuration { evaluationDurations.observe(duration, group) }
        entry.firing = state.rules.reduce(0) { $0 + $1.active.values.filter { $0.state == .firing }.count }
        entry.pending = state.rules.reduce(0) { $0 + $1.active.values.filter { $0.state == .pending }.count }
        entry.failedRules = state.rules.filter { $0.health == .err }.count
        entry.missedTicks += missed
        entry.state = state
        entry.evaluations += 1
        entry.ruleEvaluations += state.rules.count
        // The engine's count is cumulative per rule and starts again with a new engine (a reload).
        let queries = state.rules.reduce(0) { $0 + $1.templateQueries }
        entry.templateQueries += queries >= entry.lastTemplateQueries ? queries - entry.lastTemplateQueries : queries
        entry.lastTemplateQueries = queries
        for rule in state.rules where rule.health == .err { entry.ruleFailures[rule.rule.name, default: 0] += 1 }
        groups[group] = entry
        changed()
    }

    /// True once, when every group has finished its first cycle.
    func becameReady() -> Bool {
        guard !readySent, !groups.isEmpty, groups.values.allSatisfy({ $0.lastEvaluation != nil }) else { return false }
        readySent = true
        return true
    }

    /// A firing (or pending) alert by its key `<group>/<fingerprint in hex>`, with its rule's name.
    func instance(alertKey: String) -> (group: String, rule: String, instance: AlertInstance)? {
        guard let slash = alertKey.lastIndex(of: "/"), let fingerprint = UInt64(alertKey[alertKey.index(after: slash)...], radix: 16) else { return nil }
        let group = String(alertKey[..<slash])
        guard let state = groups[group]?.state else { return nil }
        for rule in state.rules {
            if let instance = rule.active[fingerprint], instance.state != .inactive { return (group, rule.rule.name, instance) }
        }
        return nil
    }

    /// Groups whose loop has not shown life within its budget.
    func stuckGroups() -> [String] {
        let now = ContinuousClock.now
        return groups.filter { now - $0.value.heartbeat > $0.value.budget }.map(\.key).sorted()
    }

    /// `7 rules in 1 groups, 2 firing, 1 pending, 0 failing, last cycle 2026-11-22T08:00:00Z`
    var summary: String {
        if following { return "following: another replica holds the lease" }
        let rules = groups.values.reduce(0) { $0 + $1.rules }
        let firing = groups.values.reduce(0) { $0 + $1.firing }
        let pending = groups.values.reduce(0) { $0 + $1.pending }
        let failing = groups.values.reduce(0) { $0 + $1.failedRules }
        var text = "\(rules) rules in \(groups.count) groups, \(firing) firing, \(pending) pending, \(failing) failing"
        if let last = groups.values.compactMap(\.lastEvaluation).max() {
            text += ", last cycle " + InstanceRendering.timestamp(last)
        }
        return text
    }
}
