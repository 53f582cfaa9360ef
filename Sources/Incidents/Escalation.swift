import Foundation

/// The runbook's escalation procedure as configuration: how long an alert may fire before it
/// reaches each level, how often a still-firing alert is repeated, and the emergencies that
/// skip level 1.
public struct EscalationPolicy: Sendable, Equatable {
    /// `delays[n]` is how long an alert fires before it reaches level n+1; level 1 is at once.
    public var delays: [Duration]
    /// How often a still-firing alert is sent again to a sink that has no interval of its own.
    public var repeatInterval: Duration
    /// This many distinct workloads with critical alerts firing at once is a systemic incident:
    /// their critical alerts go straight to `emergencyLevel`. 0 turns the criterion off.
    public var emergencyCriticalWorkloads: Int
    /// The level an emergency starts at.
    public var emergencyLevel: Int
    /// How long Prometheus must be unreachable before `MeshWatchDatasourceDown` fires (at the
    /// emergency level); nil turns it off.
    public var datasourceDownAfter: Duration?

    public init(delays: [Duration] = [.zero, .seconds(30 * 60), .seconds(2 * 3600)], repeatInterval: Duration = .seconds(4 * 3600),
                emergencyCriticalWorkloads: Int = 3, emergencyLevel: Int = 2, datasourceDownAfter: Duration? = .seconds(300)) {
        self.delays = delays.isEmpty ? [.zero] : delays
        self.repeatInterval = repeatInterval
        self.emergencyCriticalWorkloads = emergencyCriticalWorkloads
        self.emergencyLevel = min(max(1, emergencyLevel), self.delays.count)
        self.datasourceDownAfter = datasourceDownAfter
    }

    public var highestLevel: Int { delays.count }

    /// The level an alert firing for `age` has reached by time alone.
    public func level(afterFiringFor age: Duration) -> Int {
        var level = 1
        for (index, delay) in delays.enumerated() where age >= delay { level = max(level, index + 1) }
        return level
    }
}

/// Where findings go: one sink's filters, the escalation level from which it hears of an
/// alert, and how often it hears again while the alert fires.
public struct SinkRoute: Sendable, Equatable {
    public var name: String
    public var alerts: Set<String>
    public var severities: Set<String>
    /// 1: from the start; 2: once the alert escalates to level 2; …
    public var level: Int
    /// Repeat interval of its own (Alertmanager needs a resend every minute); nil: the policy's.
    public var repeatInterval: Duration?
    /// Every one must match the alert's labels (Alertmanager's matchers).
    public var matchers: [LabelMatcher]
    /// After this route takes an alert, later routes may take it too (true, the default) or not
    /// (false: the first matching route with `continue: false` is the last, as in Alertmanager's tree).
    public var continueMatching: Bool
    /// An Alertmanager sink: it receives silenced alerts (with their silence, for Alertmanager to
    /// apply) and its re-sends keep the alert alive there, acknowledged or not.
    public var alertmanager: Bool

    public init(name: String, alerts: Set<String> = [], severities: Set<String> = [], level: Int = 1, repeatInterval: Duration? = nil,
                matchers: [LabelMatcher] = [], continueMatching: Bool = true, alertmanager: Bool = false) {
        self.alertmanager = alertmanager
        self.name = name
        self.alerts = alerts
        self.severities = severities
        self.level = level
        self.repeatInterval = repeatInterval
        self.matchers = matchers
        self.continueMatching = continueMatching
    }

    public func accepts(alert: String, severity: String, labels: [String: String] = [:]) -> Bool {
        (alerts.isEmpty || alerts.contains(alert)) && (severities.isEmpty || severities.contains(severity))
            && matchers.allSatisfy { $0.matches(labels) }
    }

    /// The routes that take an alert, in order: each that accepts it, up to and including the
    /// first that accepts it and does not continue.
    public static func matching(_ routes: [SinkRoute], alert: String, severity: String, labels: [String: String]) -> [SinkRoute] {
        var taken: [SinkRoute] = []
        for route in routes where route.accepts(alert: alert, severity: severity, labels: labels) {
            taken.append(route)
            if !route.continueMatching { break }
        }
        return taken
    }
}

/// What the daemon remembers about one firing alert's notifications, saved with the alert
/// state so a restart neither repeats nor forgets them.
public struct NotificationRecord: Codable, Sendable, Equatable {
    public var group: String
    public var rule: String
    public var severity: String
    public var activeAt: Date
    public var firedAt: Date
    public var level: Int
    /// Raised by an emergency criterion rather than by time.
    public var emergency: Bool
    /// Per sink: when this alert was last queued for it.
    public var lastQueued: [String: Date]
    /// Per sink: reminders queued so far.
    public var reminders: [String: Int]
    /// Kept only for alerts the daemon raises itself (no rule holds their state).
    public var instance: StoredInstance?
    /// A level asked for by something other than time (a remediation that did not help).
    public var requestedLevel: Int? = nil
    /// The alert's labels, for routes that match on them (nil in records saved before routing by labels).
    public var labels: [String: String]? = nil
    /// Who took the alert: no reminders and no escalation until it resolves.
    public var acknowledgement: Acknowledgement? = nil
    /// Sinks that did not hear of the firing because a silence matched it: they do once it ends.
    public var silencedSinks: [String]? = nil

    public struct StoredInstance: Codable, Sendable, Equatable {
        public var labels: [String: String]
        public var annotations: [String: String]
    }
}

/// One finding for one sink, as the outbox keeps it.
public struct OutgoingFinding: Sendable, Equatable {
    public var sink: String
    public var id: String
    /// `<group>/<fingerprint>`: the outbox keeps each alert's findings in order per sink.
    public var alertKey: String
    public var alertName: String
    public var kind: Finding.Kind
    public var body: [UInt8]

    public init(sink: String, id: String, alertKey: String, alertName: String, kind: Finding.Kind, body: [UInt8]) {
        self.sink = sink
        self.id = id
        self.alertKey = alertKey
        self.alertName = alertName
        self.kind = kind
        self.body = body
    }
}

/// The findings to queue and the records to save, together, in one transaction.
public struct NotificationPlan: Sendable {
    public var outgoing: [OutgoingFinding] = []
    public var upserts: [String: NotificationRecord] = [:]
    public var removals: Set<String> = []

    public init() {}

    public var isEmpty: Bool { outgoing.isEmpty && upserts.isEmpty && removals.isEmpty }

    public mutating func merge(_ other: NotificationPlan) {
        outgoing += other.outgoing
        for (key, record) in other.upserts {
            upserts[key] = record
            removals.remove(key)
        }
        for key in other.removals {
            upserts[key] = nil
            removals.insert(key)
        }
    }
}
