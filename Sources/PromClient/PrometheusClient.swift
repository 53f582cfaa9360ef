import Foundation
import Logging
import MeshHTTP

/// The Prometheus HTTP API's query endpoints, on one `HTTPClient`.
///
/// Works with any Prometheus-compatible backend (Thanos, Mimir, VictoriaMetrics): the base
/// URL may carry a path prefix (`http://host/prometheus`) and extra headers go with every
/// request (`X-Scope-OrgID` for multi-tenant backends).
public final class PrometheusClient: Sendable {
    public let baseURL: String
    private let headers: [(name: String, value: String)]
    private let http: HTTPClient

    /// Throws a `PrometheusError` of kind `.badData` when the base URL is not an absolute
    /// http(s) URL; a trailing slash is dropped.
    public init(baseURL: String, headers: [(name: String, value: String)] = [], http: HTTPClient) throws(PrometheusError) {
        var base = baseURL
        while base.hasSuffix("/") { base.removeLast() }
        guard let components = URLComponents(string: base), let scheme = components.scheme?.lowercased(),
              scheme == "http" || scheme == "https", components.host?.isEmpty == false,
              components.query == nil, components.fragment == nil else {
            throw PrometheusError(kind: .badData, message: "Prometheus URL must be an absolute http(s) URL without query: \(baseURL)",
                                  endpoint: baseURL)
        }
        self.baseURL = base
        self.headers = headers
        self.http = http
    }

    /// An instant query: `POST /api/v1/query` with `query`, `time` and `timeout`.
    ///
    /// `time` is the evaluation time (read once per tick by the caller); `timeout` is
    /// Prometheus's own limit for the query, and the HTTP request waits a little longer so
    /// that Prometheus's timeout error, not ours, reports a slow query.
    ///
    /// An answer of more than `maxSeries` series fails with `.tooManySeries` as soon as the
    /// decoder reaches the series past the limit.
    /// `transferLimit`, when shorter, ends the transfer earlier than `timeout` allows (the
    /// caller's own deadline); Prometheus is still given `timeout`.
    public func query(_ query: String, at time: Date, timeout: Duration? = nil, maxSeries: Int = .max,
                      transferLimit: Duration? = nil) async throws -> QueryResponse {
        var fields = [("query", query), ("time", Self.formatTime(time))]
        if let timeout { fields.append(("timeout", Self.formatDuration(timeout))) }
        return try await post(path: "/api/v1/query", fields: fields, query: query, timeout: timeout, maxSeries: maxSeries,
                              transferLimit: transferLimit)
    }

    /// A range query: `POST /api/v1/query_range` with `start`, `end` and `step`.
    public func queryRange(_ query: String, start: Date, end: Date, step: Duration,
                           timeout: Duration? = nil) async throws -> QueryResponse {
        var fields = [("query", query), ("start", Self.formatTime(start)), ("end", Self.formatTime(end)),
                      ("step", Self.formatDuration(step))]
        if let timeout { fields.append(("timeout", Self.formatDuration(timeout))) }
        return try await post(path: "/api/v1/query_range", fields: fields, query: query, timeout: timeout)
    }

    /// Whether Prometheus answers `/-/ready` with 200 (it answers 503 while replaying its WAL).
    public func isReady(timeout: Duration = .seconds(2)) async -> Bool {
        let request = HTTPRequest(url: baseURL + "/-/ready", headers: headers, timeout: timeout)
        return (try? await http.execute(request).isSuccess) ?? false
    }

    /// Whether the query API answers the cheapest query (`1`) through the configured path prefix
    /// and headers: what every datasource answers alike (Prometheus, VictoriaMetrics, Thanos,
    /// Mimir, which has no `/-/ready` under its Prometheus prefix). Nil: it answered; else why not.
    public func queryProblem(timeout: Duration = .seconds(5)) async -> String? {
        do {
            _ = try await query("1", at: Date(), timeout: timeout)
            return nil
        } catch {
            return "\(error)"
        }
    }

    private func post(path: String, fields: [(String, String)], query: String, timeout: Duration?,
                      maxSeries: Int = .max, transferLimit: Duration? = nil) async throws -> QueryResponse {
        // Prometheus's timeout answers first (its error says what was slow); the transfer ends 2 s later.
        var limit = timeout.map { $0 + .seconds(2) }
        if let transferLimit { limit = min(limit ?? transferLimit, transferLimit) }
        var request = HTTPRequest.form(url: baseURL + path, fields: fields, timeout: limit)
        request.headers += headers
        let response: HTTPResponse
        do {
            response = try await http.execute(request)
        } catch let error as HTTPError {
            throw PrometheusError(kind: .transport, message: error.message, endpoint: error.endpoint, query: query,
                                  httpError: error)
        }
        do throws(PrometheusError) {
            return try Self.interpret(response, query: query, maxSeries: maxSeries)
        } catch {
            // Reading the answer stopped because this task was cancelled: the caller sees what a
            // cancelled transfer throws.
            if error.kind == .canceled, Task.isCancelled { throw CancellationError() }
            throw error
        }
    }

    /// Turns a response into a result or a typed error: Prometheus's error envelope when
    /// there is one, otherwise the HTTP status and an excerpt of whatever came back.
    static func interpret(_ response: HTTPResponse, query: String?, maxSeries: Int = .max) throws(PrometheusError) -> QueryResponse {
        let envelope: APIResponse
        do {
            envelope = try ResponseDecoder.decode(response.body, maxSeries: maxSeries)
        } catch where error.cancelled {
            throw PrometheusError(kind: .canceled, message: error.message, status: response.status,
                                  endpoint: response.endpoint, query: query)
        } catch where error.exceededSeriesLimit {
            throw PrometheusError(kind: .tooManySeries, message: "the answer has more than \(maxSeries) series", status: response.status,
                                  endpoint: response.endpoint, query: query)
        } catch {
            let excerpt = String(decoding: response.body.prefix(200), as: UTF8.self)
            let message = response.isSuccess ? "undecodable response (\(error)): \(excerpt)"
                                             : "HTTP \(response.status) without an API response: \(excerpt)"
            throw PrometheusError(kind: .badResponse, message: message, status: response.status,
                                  endpoint: response.endpoint, query: query)
        }
        guard envelope.status == "success" else {
            let errorType = envelope.errorType ?? "unknown"
            throw PrometheusError(kind: .init(errorType: errorType), errorType: errorType,
                                  message: envelope.error ?? "no error message", status: response.status,
                                  endpoint: response.endpoint, query: query)
        }
        guard let result = envelope.result else {
            throw PrometheusError(kind: .badResponse, message: "successful response without data", status: response.status,
                                  endpoint: response.endpoint, query: query)
        }
        return QueryResponse(result: result, warnings: envelope.warnings, infos: envelope.infos)
    }

    /// Unix seconds with millisecond decimals, as Prometheus reads `time=`.
    static func formatTime(_ date: Date) -> String {
        let millis = Int64((date.timeIntervalSince1970 * 1000).rounded())
        let sign = millis < 0 ? "-" : ""
        let magnitude = millis.magnitude
        let fraction = String(magnitude % 1000)
        return "\(sign)\(magnitude / 1000).\(String(repeating: "0", count: 3 - fraction.count))\(fraction)"
    }

    /// A Go/Prometheus duration in milliseconds (`1500ms`).
    static func formatDuration(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        return "\(seconds * 1000 + attoseconds / 1_000_000_000_000_000)ms"
    }
}
