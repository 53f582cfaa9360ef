import Foundation
import MetricModel

extension MeshScenario {
    /// The scenario as OpenMetrics text: one family after another, each series in
    /// increasing time, ending in `# EOF`, as `promtool tsdb create-blocks-from openmetrics`
    /// wants it.
    ///
    /// Counters grow by `rate × step × share` per sample, so `rate()` over them returns the
    /// configured rates exactly and the 5xx ratio is the configured `errorRatio`. Latency
    /// is uniform on `[0, p95 / 0.95]`, for which `histogram_quantile(0.95, …)`'s linear
    /// interpolation inside a bucket gives back `p95` (up to count rounding).
    public func openMetrics() -> String {
        var out = ""
        out.reserveCapacity(1 << 20)
        let times = timestamps
        let profiles = services.map { service in times.map { service.profile(at: Date(timeIntervalSince1970: TimeInterval($0))) } }
        if mesh == "linkerd" {
            linkerdFamilies(&out, times: times, profiles: profiles)
            writeGauges(&out, times: times)
            return out + "# EOF\n"
        }

        out += "# TYPE istio_requests counter\n"
        for (index, service) in services.enumerated() {
            for reporter in ["destination", "source"] {
                for outcome in requestOutcomes(of: service) {
                    let policy = reporter == "source" ? "unknown" : outcome.policy
                    let labels = baseLabels(service, reporter: reporter) + [
                        ("response_code", outcome.code), ("response_flags", outcome.flags),
                        ("connection_security_policy", policy),
                    ]
                    // The source reporter sees the same requests, whatever their policy.
                    writeCounter(&out, name: "istio_requests_total", labels: labels, times: times) { step in
                        let profile = profiles[index][step]
                        let share = reporter == "source" ? outcome.share(profile, anyPolicy: true) : outcome.share(profile, anyPolicy: false)
                        return profile.requestsPerSecond * Double(stepSeconds) * share
                    }
                }
            }
        }

        out += "# TYPE istio_request_duration_milliseconds histogram\n"
        for (index, service) in services.enumerated() {
            let labels = baseLabels(service, reporter: "destination")
            let requests = { (step: Int) in profiles[index][step].requestsPerSecond * Double(stepSeconds) }
            let ceiling = { (step: Int) in profiles[index][step].p95Millis / 0.95 }
            for bucket in Self.latencyBuckets {
                writeCounter(&out, name: "istio_request_duration_milliseconds_bucket",
                             labels: labels + [("le", Self.format(bucket))], times: times) { step in
                    requests(step) * min(bucket / ceiling(step), 1)
                }
            }
            writeCounter(&out, name: "istio_request_duration_milliseconds_bucket", labels: labels + [("le", "+Inf")],
                         times: times, increment: requests)
            writeCounter(&out, name: "istio_request_duration_milliseconds_count", labels: labels, times: times,
                         increment: requests)
            writeCounter(&out, name: "istio_request_duration_milliseconds_sum", labels: labels, times: times) { step in
                requests(step) * ceiling(step) / 2
            }
        }

        writeGauges(&out, times: times)
        out += "# EOF\n"
        return out
    }

    /// The Linkerd proxies' view of the same services: inbound `response_total` by
    /// classification, status code and TLS, and `response_latency_ms` buckets, labelled as
    /// linkerd-viz's Prometheus labels them (job linkerd-proxy, namespace, deployment).
    private func linkerdFamilies(_ out: inout String, times: [Int], profiles: [[MeshService.Profile]]) {
        out += "# TYPE response counter\n"
        for (index, service) in services.enumerated() {
            let base = [("job", "linkerd-proxy"), ("direction", "inbound"), ("namespace", service.namespace), ("deployment", service.workload)]
            // Linkerd has no response flags: Envoy's overflow 503s and the service's own 503s are one series.
            var merged: [(labels: [(String, String)], outcomes: [Outcome])] = []
            for outcome in requestOutcomes(of: service) {
                let labels = base + [("classification", outcome.isFailure ? "failure" : "success"), ("status_code", outcome.code),
                                     ("tls", outcome.policy == "mutual_tls" ? "true" : "no_identity")]
                if let index = merged.firstIndex(where: { Self.labelText($0.labels) == Self.labelText(labels) }) {
                    merged[index].outcomes.append(outcome)
                } else {
                    merged.append((labels, [outcome]))
                }
            }
            for (labels, outcomes) in merged {
                writeCounter(&out, name: "response_total", labels: labels, times: times) { step in
                    profiles[index][step].requestsPerSecond * Double(stepSeconds)
                        * outcomes.reduce(0) { $0 + $1.share(profiles[index][step], anyPolicy: false) }
                }
            }
        }
        out += "# TYPE response_latency_ms histogram\n"
        for (index, service) in services.enumerated() {
            let labels = [("job", "linkerd-proxy"), ("direction", "inbound"), ("namespace", service.namespace), ("deployment", service.workload)]
            let requests = { (step: Int) in profiles[index][step].requestsPerSecond * Double(stepSeconds) }
            let ceiling = { (step: Int) in profiles[index][step].p95Millis / 0.95 }
            for bucket in Self.latencyBuckets {
                writeCounter(&out, name: "response_latency_ms_bucket", labels: labels + [("le", Self.format(bucket))], times: times) { step in
                    requests(step) * min(bucket / ceiling(step), 1)
                }
            }
            writeCounter(&out, name: "response_latency_ms_bucket", labels: labels + [("le", "+Inf")], times: times, increment: requests)
            writeCounter(&out, name: "response_latency_ms_count", labels: labels, times: times, increment: requests)
        }
    }

    private func writeGauges(_ out: inout String, times: [Int]) {
        var families: [String: [GaugeSeries]] = [:]
        var order: [String] = []
        for gauge in gauges {
            if families[gauge.name] == nil { order.append(gauge.name) }
            families[gauge.name, default: []].append(gauge)
        }
        for name in order {
            out += "# TYPE \(name) gauge\n"
            for gauge in families[name] ?? [] {
                let labelText = Self.labelText(gauge.labels)
                for time in times {
                    guard let value = gauge.value(at: Date(timeIntervalSince1970: TimeInterval(time))) else { continue }
                    out += "\(name)\(labelText) \(Self.format(value)) \(time)\n"
                }
            }
        }
    }

    private struct Outcome {
        enum Kind { case ok(Double), error, overflow }
        var code: String
        var flags: String
        var policy: String
        var kind: Kind

        var isFailure: Bool {
            if case .ok = kind { return false }
            return true
        }

        func share(_ profile: MeshService.Profile, anyPolicy: Bool) -> Double {
            let policyShare = anyPolicy ? 1 : (policy == "mutual_tls" ? profile.mtlsShare : 1 - profile.mtlsShare)
            let okShare = max(0, 1 - profile.errorRatio - profile.overflowShare)
            switch kind {
            case .ok(let weight): return okShare * weight * policyShare
            case .error: return profile.errorRatio * policyShare
            case .overflow: return profile.overflowShare * policyShare
            }
        }
    }

    /// Every (code, flags, policy) combination the service ever produces, fixed over the
    /// whole range so each is one series that may stand still.
    private func requestOutcomes(of service: MeshService) -> [Outcome] {
        let all = [service.baseline] + service.changes.map { service.profile(at: $0.at) }
        let totalWeight = service.okCodes.reduce(0) { $0 + $1.weight }
        var kinds: [(String, String, Outcome.Kind)] = service.okCodes.map { ($0.code, "-", .ok($0.weight / totalWeight)) }
        if all.contains(where: { $0.errorRatio > 0 }) { kinds.append((service.errorCode, "-", .error)) }
        if all.contains(where: { $0.overflowShare > 0 }) { kinds.append(("503", "UO", .overflow)) }
        var policies = ["mutual_tls"]
        if all.contains(where: { $0.mtlsShare < 1 }) { policies.append("none") }
        return kinds.flatMap { kind in policies.map { Outcome(code: kind.0, flags: kind.1, policy: $0, kind: kind.2) } }
    }

    private func baseLabels(_ service: MeshService, reporter: String) -> [(String, String)] {
        [
            ("reporter", reporter),
            ("source_workload", service.sourceWorkload), ("source_workload_namespace", "istio-system"),
            ("destination_service", service.serviceHost), ("destination_service_name", service.workload),
            ("destination_service_namespace", service.namespace),
            ("destination_workload", service.workload), ("destination_workload_namespace", service.namespace),
        ]
    }

    /// Writes one counter series: the running total, rounded down, at each time.
    private func writeCounter(_ out: inout String, name: String, labels: [(String, String)], times: [Int],
                              increment: (Int) -> Double) {
        let labelText = Self.labelText(labels)
        var total = 0.0
        for (step, time) in times.enumerated() {
            if step > 0 { total += increment(step) }
            out += "\(name)\(labelText) \(Int(total.rounded(.down))) \(time)\n"
        }
    }

    static func labelText(_ labels: [(String, String)]) -> String {
        "{" + labels.map { "\($0.0)=\"\(escape($0.1))\"" }.joined(separator: ",") + "}"
    }

    static func escape(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
    }

    static func format(_ value: Double) -> String {
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) + ".0" }
        return "\(value)"
    }
}
