import Foundation
import MetricModel
import PromClient

/// The runbook's weekly review as one value: per-service traffic, errors and latency against
/// the week before, mTLS coverage, authorization failures, control-plane and sidecar resource
/// use, certificate renewals, and from meshwatchd's state the week's alerts, findings and
/// remediation outcomes. Rendered as Markdown or as a self-contained HTML page.
struct WeeklyReport: Codable, Sendable {
    struct Service: Codable, Sendable, Equatable {
        var service: String
        /// Requests per second over the week, and the week before.
        var requestsPerSecond: Double
        var requestsPerSecondBefore: Double?
        var errorRatio: Double?
        var errorRatioBefore: Double?
        /// Milliseconds.
        var p50: Double?
        var p95: Double?
        var p99: Double?
        var p95Before: Double?
        var denied: Double
        var deniedBefore: Double?
    }

    struct Resource: Codable, Sendable, Equatable {
        var name: String
        var cpuCores: Double?
        var memoryAverageBytes: Double?
        var memoryMaxBytes: Double?
    }

    struct Certificate: Codable, Sendable, Equatable {
        var name: String
        var renewals: Int
        var expiresAt: Date?
    }

    struct AlertSummary: Codable, Sendable, Equatable {
        var alert: String
        var severity: String
        var firings: Int
        var firingsBefore: Int
    }

    struct FindingCount: Codable, Sendable, Equatable {
        var sink: String
        var kind: String
        var count: Int
    }

    struct Remediation: Codable, Sendable, Equatable {
        var at: Date
        var action: String
        var workload: String
        var outcome: String
        var verified: String?
    }

    struct Point: Codable, Sendable, Equatable {
        var at: Date
        var value: Double
    }

    struct Chart: Codable, Sendable, Equatable {
        var title: String
        var unit: String
        var points: [Point]
    }

    var mesh: String
    var from: Date
    var to: Date
    var services: [Service] = []
    var mtlsShare: Double?
    var mtlsShareBefore: Double?
    var controlPlane: [Resource] = []
    var sidecars: Resource?
    var certificates: [Certificate] = []
    var alerts: [AlertSummary] = []
    var findings: [FindingCount] = []
    var remediation: [Remediation] = []
    var charts: [Chart] = []
    /// What could not be read (a query Prometheus refused, no state directory), said in the report.
    var gaps: [String] = []

    var windowSeconds: Double { to.timeIntervalSince(from) }
}

/// Asks Prometheus the report's questions at the end of this window and of the one before.
struct ReportGatherer: Sendable {
    let client: PrometheusClient
    let queries: ReportQueries

    func gather(from: Date, to: Date) async -> WeeklyReport {
        var report = WeeklyReport(mesh: queries.mesh, from: from, to: to)
        let seconds = to.timeIntervalSince(from)
        let window = PrometheusDuration.format(.seconds(Int64(seconds)))
        let before = from
        func text(_ query: String) -> String { query.replacingOccurrences(of: "[W]", with: "[\(window)]") }
        func vector(_ query: String, at time: Date) async -> [Sample] {
            do {
                switch try await client.query(text(query), at: time, timeout: .seconds(60)).result {
                case .vector(let samples): return samples
                case .scalar(let point): return [Sample(labels: .empty, point: point)]
                default: return []
                }
            } catch {
                report.gaps.append("\(query.prefix(80))…: \(error)")
            }
            return []
        }
        func byService(_ query: String, at time: Date) async -> [String: Double] {
            Dictionary(await vector(query, at: time).map { ($0.labels["service"] ?? "", $0.point.value) }) { first, _ in first }
        }
        let requests = await byService(queries.requests, at: to), requestsBefore = await byService(queries.requests, at: before)
        let errors = await byService(queries.errors, at: to), errorsBefore = await byService(queries.errors, at: before)
        let denials = await byService(queries.denials, at: to), denialsBefore = await byService(queries.denials, at: before)
        func quantile(_ q: Double, at time: Date) async -> [String: Double] {
            (await byService("histogram_quantile(\(q), \(queries.latencyBuckets))", at: time)).mapValues { $0 * queries.latencyScale }
        }
        let p50 = await quantile(0.5, at: to), p95 = await quantile(0.95, at: to), p99 = await quantile(0.99, at: to)
        let p95Before = await quantile(0.95, at: before)
        func ratio(_ part: Double?, _ whole: Double?) -> Double? {
            guard let whole, whole > 0 else { return nil }
            return (part ?? 0) / whole
        }
        report.services = requests.keys.sorted().map { service in
            WeeklyReport.Service(
                service: service, requestsPerSecond: (requests[service] ?? 0) / seconds,
                requestsPerSecondBefore: requestsBefore[service].map { $0 / seconds },
                errorRatio: ratio(errors[service], requests[service]), errorRatioBefore: ratio(errorsBefore[service], requestsBefore[service]),
                p50: p50[service].flatMap(finite), p95: p95[service].flatMap(finite), p99: p99[service].flatMap(finite),
                p95Before: p95Before[service].flatMap(finite),
                denied: denials[service] ?? 0, deniedBefore: requestsBefore[service] == nil ? nil : (denialsBefore[service] ?? 0))
        }
        if let mtls = queries.mtls {
            let secure = await vector(mtls.secure, at: to).first?.point.value, all = await vector(mtls.all, at: to).first?.point.value
            let secureBefore = await vector(mtls.secure, at: before).first?.point.value, allBefore = await vector(mtls.all, at: before).first?.point.value
            report.mtlsShare = ratio(secure, all)
            report.mtlsShareBefore = ratio(secureBefore, allBefore)
        }
        // Resource use, averaged over the window (CPU as cores), and memory's peak.
        let plane = queries.controlPlaneSelector
        let cpu = Dictionary(await vector("sum by (pod) (rate(container_cpu_usage_seconds_total{\(plane)}[W]))", at: to)
            .map { ($0.labels["pod"] ?? "", $0.point.value) }) { a, _ in a }
        let memory = Dictionary(await vector("sum by (pod) (avg_over_time(container_memory_working_set_bytes{\(plane)}[W]))", at: to)
            .map { ($0.labels["pod"] ?? "", $0.point.value) }) { a, _ in a }
        let peak = Dictionary(await vector("sum by (pod) (max_over_time(container_memory_working_set_bytes{\(plane)}[W]))", at: to)
            .map { ($0.labels["pod"] ?? "", $0.point.value) }) { a, _ in a }
        report.controlPlane = Set(cpu.keys).union(memory.keys).sorted().map {
            WeeklyReport.Resource(name: $0, cpuCores: cpu[$0], memoryAverageBytes: memory[$0], memoryMaxBytes: peak[$0])
        }
        if let sidecar = queries.sidecarSelector {
            let cpu = await vector("sum(rate(container_cpu_usage_seconds_total{\(sidecar)}[W]))", at: to).first?.point.value
            let memory = await vector("avg(avg_over_time(container_memory_working_set_bytes{\(sidecar)}[W]))", at: to).first?.point.value
            let peak = await vector("max(max_over_time(container_memory_working_set_bytes{\(sidecar)}[W]))", at: to).first?.point.value
            if cpu != nil || memory != nil {
                report.sidecars = WeeklyReport.Resource(name: "all sidecars (CPU: total; memory: per sidecar)", cpuCores: cpu,
                                                        memoryAverageBytes: memory, memoryMaxBytes: peak)
            }
        }
        // Certificate renewals: each change of cert-manager's expiry timestamp is one.
        let renewals = await vector("changes(certmanager_certificate_expiration_timestamp_seconds[W])", at: to)
        let expiries = await vector("certmanager_certificate_expiration_timestamp_seconds", at: to)
        report.certificates = renewals.map { sample in
            let name = "\(sample.labels["namespace"] ?? "")/\(sample.labels["name"] ?? "")"
            let expiry = expiries.first { $0.labels["name"] == sample.labels["name"] && $0.labels["namespace"] == sample.labels["namespace"] }
            return WeeklyReport.Certificate(name: name, renewals: Int(sample.point.value), expiresAt: expiry.map { Date(timeIntervalSince1970: $0.point.value) })
        }.sorted { $0.name < $1.name }
        // Hourly charts over the week.
        var charts: [(String, String, String?)] = [("Requests per second", "req/s", queries.hourlyRequests),
                                                   ("Error ratio", "%", queries.hourlyErrorRatio), ("P95 latency", "ms", queries.hourlyP95)]
        charts.append(("mTLS coverage", "%", queries.hourlyMTLS))
        for (title, unit, query) in charts {
            guard let query else { continue }
            do {
                let response = try await client.queryRange(query.replacingOccurrences(of: "[H]", with: "[1h]"), start: from, end: to, step: .seconds(3600))
                var points: [WeeklyReport.Point] = []
                if case .matrix(let series) = response.result, let first = series.first {
                    points = first.points.filter { $0.value.isFinite }.map {
                        WeeklyReport.Point(at: Date(timeIntervalSince1970: Double($0.timestampMillis) / 1000), value: unit == "%" ? $0.value * 100 : $0.value)
                    }
                }
                report.charts.append(WeeklyReport.Chart(title: title, unit: unit, points: points))
            } catch {
                report.gaps.append("\(title): \(error)")
            }
        }
        return report
    }

    private func finite(_ value: Double) -> Double? { value.isFinite ? value : nil }
}
