import AlertEngine
import Foundation
import MetricModel
import PromClient

/// The engine's datasource on a real Prometheus: instant queries at the evaluation time,
/// each bounded by the query timeout.
package struct PrometheusDatasource: InstantQuerying, DeadlineBoundedQuerying {
    let client: PrometheusClient
    let timeout: Duration
    /// Shared by every group of the daemon; nil for the one-shot commands.
    var limiter: QueryLimiter? = nil
    /// An answer of more series fails the rule (its alerts keep their state), read no further.
    var maxSeries = ConfigurationDefaults.maxSeriesPerQuery
    /// The daemon's query latency histogram; nil for the one-shot commands.
    var timings: LatencyHistogram? = nil

    package init(client: PrometheusClient, timeout: Duration) {
        self.client = client
        self.timeout = timeout
    }

    init(client: PrometheusClient, timeout: Duration, limiter: QueryLimiter?, maxSeries: Int, timings: LatencyHistogram? = nil) {
        self.client = client
        self.timeout = timeout
        self.limiter = limiter
        self.maxSeries = maxSeries
        self.timings = timings
    }

    package func instantQuery(_ expression: String, at time: Date) async throws -> [Sample] {
        let response = if let limiter {
            try await limiter.run { try await timed { try await client.query(expression, at: time, timeout: timeout, maxSeries: maxSeries) } }
        } else {
            try await timed { try await client.query(expression, at: time, timeout: timeout, maxSeries: maxSeries) }
        }
        return try samples(response, expression)
    }

    /// The query with its transfer ended at `deadline` too (libcurl's timeout, no timer of
    /// ours); nil when the limiter has no free slot now (the caller bounds the wait itself).
    func instantQuery(_ expression: String, at time: Date, before deadline: ContinuousClock.Instant) async throws -> [Sample]? {
        let query: @Sendable () async throws -> QueryResponse = { [self] in
            let remaining = deadline - ContinuousClock.now
            guard remaining > .zero else { throw QueryDeadlineReached() }
            do {
                return try await timed { try await client.query(expression, at: time, timeout: timeout, maxSeries: maxSeries, transferLimit: remaining) }
            } catch let error as PrometheusError where error.httpError?.kind == .timeout && ContinuousClock.now >= deadline - .milliseconds(50) {
                // The deadline, not the query timeout, ended it.
                throw QueryDeadlineReached()
            }
        }
        guard let limiter else { return try samples(try await query(), expression) }
        guard let response = try await limiter.runIfFree(query) else { return nil }
        return try samples(response, expression)
    }

    private func samples(_ response: QueryResponse, _ expression: String) throws -> [Sample] {
        switch response.result {
        case .vector(let samples):
            return samples
        case .scalar(let point):
            // As Prometheus's rule manager: a scalar is one sample without labels.
            return [Sample(labels: .empty, point: point)]
        case .matrix, .string:
            // Prometheus's words (EngineQueryFunc), which a template's failing query prints.
            throw PrometheusError(kind: .badData, message: "rule result is not a vector or scalar",
                                  endpoint: client.baseURL, query: expression)
        }
    }
}

extension PrometheusDatasource {
    /// Runs one query, its time (not its wait for a slot of the limiter) observed.
    func timed<T>(_ query: () async throws -> T) async throws -> T {
        guard let timings else { return try await query() }
        let start = ContinuousClock.now
        defer { timings.observe(ContinuousClock.now - start) }
        return try await query()
    }

    /// The last sample of every series a range selector (`name{...}[1h]`) returns at `time`,
    /// its timestamp kept: what restoring `for` clocks from `ALERTS_FOR_STATE` reads.
    func lastSamples(_ rangeSelector: String, at time: Date) async throws -> [Sample] {
        let response = try await client.query(rangeSelector, at: time, timeout: timeout, maxSeries: maxSeries)
        guard case .matrix(let series) = response.result else { return [] }
        return series.compactMap { series in series.points.last.map { Sample(labels: series.labels, point: $0) } }
    }
}

extension PrometheusError: DatasourceFailureReporting {}

extension PrometheusError: QueryErrorText {
    /// What Prometheus's engine said, as a template's `query` prints it in Prometheus (the
    /// API's `invalid parameter "query": ` framing removed); the whole text for a transport failure.
    public var queryErrorText: String {
        guard httpError == nil, kind != .badResponse else { return description }
        let framing = "invalid parameter \"query\": "
        return message.hasPrefix(framing) ? String(message.dropFirst(framing.count)) : message
    }
}
