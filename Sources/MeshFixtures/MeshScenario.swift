import Foundation
import MetricModel

/// A service of the synthetic mesh: its traffic, errors, latency and security, and the
/// step changes that make an incident (a 5xx spike, a latency rise) at chosen times.
public struct MeshService: Sendable {
    /// A step change: from `at` on, the given values replace the previous ones.
    public struct Change: Sendable {
        public var at: Date
        public var requestsPerSecond: Double?
        public var errorRatio: Double?
        public var p95Millis: Double?
        public var mtlsShare: Double?
        public var overflowShare: Double?

        public init(at: Date, requestsPerSecond: Double? = nil, errorRatio: Double? = nil, p95Millis: Double? = nil,
                    mtlsShare: Double? = nil, overflowShare: Double? = nil) {
            self.at = at
            self.requestsPerSecond = requestsPerSecond
            self.errorRatio = errorRatio
            self.p95Millis = p95Millis
            self.mtlsShare = mtlsShare
            self.overflowShare = overflowShare
        }
    }

    /// The traffic profile in force at one time.
    public struct Profile: Sendable {
        public var requestsPerSecond: Double
        /// Share of requests answered `errorCode` (a 5xx).
        public var errorRatio: Double
        public var p95Millis: Double
        /// Share of requests with `connection_security_policy="mutual_tls"`; the rest `none`.
        public var mtlsShare: Double
        /// Share answered 503 with `response_flags="UO"` (upstream overflow: a circuit breaker).
        public var overflowShare: Double
    }

    public var workload: String
    public var namespace: String
    public var sourceWorkload: String
    /// Codes of the successful share, with their weights (normalised).
    public var okCodes: [(code: String, weight: Double)]
    public var errorCode: String
    public var baseline: Profile
    public var changes: [Change]

    public init(workload: String, namespace: String, sourceWorkload: String = "istio-ingressgateway",
                requestsPerSecond: Double, errorRatio: Double = 0, p95Millis: Double = 100, mtlsShare: Double = 1,
                overflowShare: Double = 0, okCodes: [(code: String, weight: Double)] = [("200", 1)],
                errorCode: String = "503", changes: [Change] = []) {
        self.workload = workload
        self.namespace = namespace
        self.sourceWorkload = sourceWorkload
        self.okCodes = okCodes
        self.errorCode = errorCode
        self.baseline = Profile(requestsPerSecond: requestsPerSecond, errorRatio: errorRatio, p95Millis: p95Millis,
                                mtlsShare: mtlsShare, overflowShare: overflowShare)
        self.changes = changes.sorted { $0.at < $1.at }
    }

    /// `reviews.bookinfo.svc.cluster.local`
    public var serviceHost: String { "\(workload).\(namespace).svc.cluster.local" }

    /// The profile in force at `time`: the baseline with every change up to `time` applied.
    public func profile(at time: Date) -> Profile {
        var profile = baseline
        for change in changes where change.at <= time {
            if let value = change.requestsPerSecond { profile.requestsPerSecond = value }
            if let value = change.errorRatio { profile.errorRatio = value }
            if let value = change.p95Millis { profile.p95Millis = value }
            if let value = change.mtlsShare { profile.mtlsShare = value }
            if let value = change.overflowShare { profile.overflowShare = value }
        }
        return profile
    }
}

/// A gauge series held at a value from each time on (a step function).
public struct GaugeSeries: Sendable {
    public var name: String
    public var labels: [(String, String)]
    public var steps: [(at: Date, value: Double)]

    public init(name: String, labels: [(String, String)], steps: [(at: Date, value: Double)]) {
        self.name = name
        self.labels = labels
        self.steps = steps.sorted { $0.at < $1.at }
    }

    func value(at time: Date) -> Double? {
        steps.last { $0.at <= time }?.value
    }
}

/// A synthetic mesh over a time range, written as OpenMetrics for `promtool` to backfill.
public struct MeshScenario: Sendable {
    public var start: Date
    public var end: Date
    /// Seconds between samples, like a scrape interval.
    public var stepSeconds: Int
    public var services: [MeshService]
    public var gauges: [GaugeSeries]
    /// Whose metrics `openMetrics()` writes and whose sidecars the cluster runs: istio or linkerd.
    public var mesh = "istio"

    public init(start: Date, end: Date, stepSeconds: Int = 15, services: [MeshService], gauges: [GaugeSeries] = []) {
        self.start = start
        self.end = end
        self.stepSeconds = stepSeconds
        self.services = services
        self.gauges = gauges
    }

    /// Istio's default buckets for `istio_request_duration_milliseconds`.
    public static let latencyBuckets: [Double] = [0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000,
                                                  30000, 60000, 300000, 600000, 1800000, 3600000]

    /// Sample times, whole seconds from `start` to `end` inclusive.
    var timestamps: [Int] {
        let first = Int(start.timeIntervalSince1970.rounded(.up))
        let last = Int(end.timeIntervalSince1970.rounded(.down))
        return Array(stride(from: first, through: last, by: stepSeconds))
    }
}
