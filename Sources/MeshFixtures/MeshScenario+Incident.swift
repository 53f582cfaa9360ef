import Foundation
import MetricModel

extension MeshScenario {
    /// The incident of the demo and the end-to-end tests: an hour of a small mesh in which
    /// `reviews` gets a bad rollout (5xx from 0.4 % to 12 % at +40 min), `ratings` slows
    /// down (P95 220 ms to 1,800 ms at +35 min), `checkout` starts overflowing its
    /// connection pool (+45 min), `details` runs partly without sidecars (70 % mTLS), the
    /// gateway certificate expires in five days, and `batch-report` fails half its requests
    /// at almost no traffic. `evaluationTime` (+55 min) sees all of it.
    public static func incident(start: Date = Date(timeIntervalSince1970: 1_750_000_000)) -> MeshScenario {
        func at(_ minutes: Double) -> Date { start.addingTimeInterval(minutes * 60) }
        let services = [
            MeshService(workload: "productpage", namespace: "bookinfo", requestsPerSecond: 40, errorRatio: 0.002,
                        p95Millis: 180),
            MeshService(workload: "reviews", namespace: "bookinfo", sourceWorkload: "productpage",
                        requestsPerSecond: 25, errorRatio: 0.004, p95Millis: 140,
                        changes: [.init(at: at(40), errorRatio: 0.12)]),
            MeshService(workload: "ratings", namespace: "bookinfo", sourceWorkload: "reviews",
                        requestsPerSecond: 20, p95Millis: 220,
                        changes: [.init(at: at(35), p95Millis: 1800)]),
            MeshService(workload: "details", namespace: "bookinfo", sourceWorkload: "productpage",
                        requestsPerSecond: 15, p95Millis: 90, mtlsShare: 0.7),
            MeshService(workload: "checkout", namespace: "shop", requestsPerSecond: 30, errorRatio: 0.01,
                        p95Millis: 300, okCodes: [("200", 0.97), ("404", 0.03)],
                        changes: [.init(at: at(45), overflowShare: 0.03)]),
            MeshService(workload: "batch-report", namespace: "shop", sourceWorkload: "cron",
                        requestsPerSecond: 0.02, errorRatio: 0.5, p95Millis: 400),
        ]
        let gauges = [
            GaugeSeries(name: "up", labels: [("job", "istiod"), ("instance", "10.0.0.12:15014")],
                        steps: [(start, 1)]),
            GaugeSeries(name: "certmanager_certificate_expiration_timestamp_seconds",
                        labels: [("name", "istio-gateway"), ("namespace", "istio-system")],
                        steps: [(start, start.addingTimeInterval(5 * 86400 + 3600).timeIntervalSince1970.rounded())]),
            GaugeSeries(name: "container_memory_working_set_bytes",
                        labels: [("container", "istio-proxy"), ("namespace", "bookinfo"), ("pod", "productpage-v1-7d4f8b")],
                        steps: [(start, 180_000_000)]),
        ]
        return MeshScenario(start: start, end: at(60), stepSeconds: 15, services: services, gauges: gauges)
    }

    /// The same incident in a Linkerd mesh: the proxies' metrics instead of Istio's, Linkerd's
    /// control plane scraped as up, and its identity issuer (cert-manager) expiring in five days.
    public static func linkerdIncident(start: Date = Date(timeIntervalSince1970: 1_750_000_000)) -> MeshScenario {
        var scenario = incident(start: start)
        scenario.mesh = "linkerd"
        scenario.gauges = [
            GaugeSeries(name: "up", labels: [("job", "linkerd-controller"), ("instance", "10.0.0.21:9995"), ("component", "destination")],
                        steps: [(start, 1)]),
            GaugeSeries(name: "certmanager_certificate_expiration_timestamp_seconds",
                        labels: [("name", "linkerd-identity-issuer"), ("namespace", "linkerd")],
                        steps: [(start, start.addingTimeInterval(5 * 86400 + 3600).timeIntervalSince1970.rounded())]),
        ]
        return scenario
    }

    /// The incident placed around the wall clock, for anything that evaluates at "now" (the
    /// daemon): its 5xx spike began 15 minutes ago and data runs `ahead` into the future.
    public static func live(ahead minutes: Double = 15) -> MeshScenario {
        let now = Date().timeIntervalSince1970.rounded(.down)
        var scenario = MeshScenario.incident(start: Date(timeIntervalSince1970: now - 55 * 60))
        scenario.end = Date(timeIntervalSince1970: now + minutes * 60)
        return scenario
    }

    /// Where the incident is in full swing.
    public var evaluationTime: Date { start.addingTimeInterval(55 * 60) }

    public func service(_ workload: String) -> MeshService? { services.first { $0.workload == workload } }
}

extension MeshService {
    /// The share of requests answered 5xx at `time` (errors and overflows).
    public func fiveXXRatio(at time: Date) -> Double {
        let profile = profile(at: time)
        return profile.errorRatio + profile.overflowShare
    }

    /// What `histogram_quantile(q, …)` computes from this service's buckets at `time`:
    /// Prometheus's linear interpolation inside the bucket that holds the rank, over the
    /// generator's uniform latency (which is why it differs from the configured P95 the way
    /// real bucketed latencies do).
    public func histogramQuantile(_ quantile: Double, at time: Date) -> Double {
        let ceiling = profile(at: time).p95Millis / 0.95
        var lower = 0.0
        var lowerShare = 0.0
        for bound in MeshScenario.latencyBuckets {
            let share = min(bound / ceiling, 1)
            if share >= quantile {
                return lower + (bound - lower) * (quantile - lowerShare) / (share - lowerShare)
            }
            lower = bound
            lowerShare = share
        }
        return lower
    }
}
