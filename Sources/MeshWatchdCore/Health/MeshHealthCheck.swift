import Foundation
import PromClient
import MetricModel

/// The runbook's daily health check, per destination service: traffic, 5xx share, P95
/// latency and mTLS coverage, plus istiod and the nearest certificate expiry.
package struct MeshHealthCheck: Sendable {
    /// The runbook thresholds (Istio observability runbook, alerts 1, 2, 4 and 5).
    struct Thresholds: Sendable {
        var errorRatio = 0.05
        var p95Millis = 1000.0
        var mtlsShare = 0.95
        var certificateDays = 7.0
        /// Below this many requests per second a ratio says little; the service is listed but not judged.
        var minimumRequestsPerSecond = 0.1
    }

    package init() {}

    init(window: String, thresholds: Thresholds = Thresholds(), timeout: Duration) {
        self.window = window
        self.thresholds = thresholds
        self.timeout = timeout
    }

    var window = "5m"
    var thresholds = Thresholds()
    var timeout: Duration = .seconds(10)

    package func run(_ client: PrometheusClient, at time: Date) async throws -> MeshHealthReport {
        let destination = #"reporter="destination""#
        async let requests = byService(client, time, "sum by (destination_service) (rate(istio_requests_total{\(destination)}[\(window)]))")
        async let errors = byService(client, time,
            #"sum by (destination_service) (rate(istio_requests_total{\#(destination),response_code=~"5.."}[\#(window)]))"#)
        async let mutual = byService(client, time,
            #"sum by (destination_service) (rate(istio_requests_total{\#(destination),connection_security_policy="mutual_tls"}[\#(window)]))"#)
        async let p95 = byService(client, time,
            "histogram_quantile(0.95, sum by (le, destination_service) (rate(istio_request_duration_milliseconds_bucket{\(destination)}[\(window)])))")
        async let istiod = samples(client, time, #"up{job="istiod"}"#)
        async let certificates = samples(client, time,
            "certmanager_certificate_expiration_timestamp_seconds - time() or citadel_server_root_cert_expiry_timestamp - time()")

        let (requestRates, errorRates, mutualRates, latencies) = try await (requests, errors, mutual, p95)
        var services: [MeshHealthReport.Service] = []
        for (name, rate) in requestRates {
            // A service without a single 5xx series has a 5xx share of 0, not "unknown".
            let errorRatio = rate > 0 ? (errorRates[name] ?? 0) / rate : 0
            let mtlsShare = rate > 0 ? (mutualRates[name] ?? 0) / rate : 1
            let p95Millis = latencies[name].flatMap { $0.isNaN ? nil : $0 }
            var breaches: [String] = []
            if rate < thresholds.minimumRequestsPerSecond {
                breaches.append(MeshHealthReport.Service.tooLittleTraffic)
            } else {
                if errorRatio > thresholds.errorRatio { breaches.append("5xx > \(percent(thresholds.errorRatio))") }
                if let p95Millis, p95Millis > thresholds.p95Millis { breaches.append("P95 > \(Int(thresholds.p95Millis)) ms") }
                if mtlsShare < thresholds.mtlsShare { breaches.append("mTLS < \(percent(thresholds.mtlsShare))") }
            }
            services.append(.init(name: name, requestsPerSecond: rate, errorRatio: errorRatio, p95Millis: p95Millis,
                                  mtlsShare: mtlsShare, breaches: breaches))
        }
        // Services past a threshold first, then by traffic.
        services.sort { ($0.isPastThreshold ? 0 : 1, $1.requestsPerSecond, $0.name) < ($1.isPastThreshold ? 0 : 1, $0.requestsPerSecond, $1.name) }

        let totalRate = requestRates.values.reduce(0, +)
        let istiodSamples = try await istiod
        let certificateSamples = try await certificates
        let expiring = certificateSamples.map { sample in
            MeshHealthReport.Certificate(
                name: [sample.labels["namespace"], sample.labels["name"]].compactMap { $0 }.joined(separator: "/"),
                secondsLeft: sample.value)
        }.sorted { $0.secondsLeft < $1.secondsLeft }

        return MeshHealthReport(
            time: time, window: window,
            istiodUp: istiodSamples.filter { $0.value == 1 }.count, istiodTargets: istiodSamples.count,
            meshRequestsPerSecond: totalRate,
            meshErrorRatio: totalRate > 0 ? errorRates.values.reduce(0, +) / totalRate : 0,
            meshMTLSShare: totalRate > 0 ? mutualRates.values.reduce(0, +) / totalRate : 1,
            services: services,
            certificates: expiring,
            certificateThresholdSeconds: thresholds.certificateDays * 86400
        )
    }

    private func samples(_ client: PrometheusClient, _ time: Date, _ query: String) async throws -> [Sample] {
        let response = try await client.query(query, at: time, timeout: timeout)
        guard case .vector(let samples) = response.result else { return [] }
        return samples
    }

    private func byService(_ client: PrometheusClient, _ time: Date, _ query: String) async throws -> [String: Double] {
        var values: [String: Double] = [:]
        for sample in try await samples(client, time, query) {
            values[sample.labels["destination_service"] ?? "unknown"] = sample.value
        }
        return values
    }
}

func percent(_ share: Double) -> String {
    share * 100 == (share * 100).rounded() ? "\(Int(share * 100)) %" : String(format: "%.1f %%", share * 100)
}
