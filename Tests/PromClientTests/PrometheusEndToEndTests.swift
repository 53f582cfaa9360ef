import Foundation
import MeshFixtures
import MeshHTTP
import PromClient
import Testing

/// PromClient against the real Prometheus 2.42 over the incident scenario's backfilled data.
@Suite("PrometheusClient against a real Prometheus")
struct PrometheusEndToEndTests {
    static let scenario = MeshScenario.incident()
    static let errorRatioQuery = """
        sum by (destination_service) (rate(istio_requests_total{reporter="destination",response_code=~"5.."}[5m]))
        / sum by (destination_service) (rate(istio_requests_total{reporter="destination"}[5m]))
        """

    func withClient<T: Sendable>(routePrefix: String? = nil,
                                 _ body: (PrometheusClient) async throws -> T) async throws -> T {
        try await withPrometheus(openMetrics: Self.scenario.openMetrics(), routePrefix: routePrefix) { server async throws in
            let client = try PrometheusClient(baseURL: server.url, http: HTTPClient())
            return try await body(client)
        }
    }

    func vector(_ response: QueryResponse) throws -> [String: Double] {
        guard case .vector(let samples) = response.result else { throw PrometheusServerError(description: "not a vector") }
        return Dictionary(uniqueKeysWithValues: samples.map { ($0.labels["destination_service"] ?? "", $0.value) })
    }

    @Test("the 5xx ratio per destination matches the scenario")
    func errorRatio() async throws {
        let scenario = Self.scenario
        let ratios = try await withClient { client in
            try vector(try await client.query(Self.errorRatioQuery, at: scenario.evaluationTime, timeout: .seconds(10)))
        }
        for workload in ["reviews", "productpage", "checkout", "batch-report"] {
            let service = try #require(scenario.service(workload))
            let measured = try #require(ratios[service.serviceHost], "no ratio for \(workload)")
            #expect(abs(measured - service.fiveXXRatio(at: scenario.evaluationTime)) < 0.002,
                    "\(workload): \(measured) vs \(service.fiveXXRatio(at: scenario.evaluationTime))")
        }
        #expect(abs((ratios["reviews.bookinfo.svc.cluster.local"] ?? 0) - 0.12) < 0.002)
        // ratings and details have no 5xx series at all, so the division has nothing on its
        // left: the gap the engine's error-rate rule must close (step 2).
        #expect(ratios["ratings.bookinfo.svc.cluster.local"] == nil)
        #expect(ratios["details.bookinfo.svc.cluster.local"] == nil)
    }

    @Test("histogram_quantile's P95 per destination matches the buckets' interpolation")
    func p95() async throws {
        let scenario = Self.scenario
        let p95s = try await withClient { client in
            try vector(try await client.query("""
                histogram_quantile(0.95, sum by (le, destination_service) \
                (rate(istio_request_duration_milliseconds_bucket{reporter="destination"}[5m])))
                """, at: scenario.evaluationTime))
        }
        for service in scenario.services where service.baseline.requestsPerSecond >= 1 {
            let expected = service.histogramQuantile(0.95, at: scenario.evaluationTime)
            let measured = try #require(p95s[service.serviceHost])
            #expect(abs(measured - expected) / expected < 0.01, "\(service.workload): \(measured) vs \(expected)")
        }
        #expect((p95s["ratings.bookinfo.svc.cluster.local"] ?? 0) > 1000)
        #expect((p95s["productpage.bookinfo.svc.cluster.local"] ?? .infinity) < 1000)
    }

    @Test("a range query shows the 5xx step change of the bad rollout")
    func rangeQuery() async throws {
        let scenario = Self.scenario
        let start = scenario.start.addingTimeInterval(30 * 60)
        let response = try await withClient { client in
            try await client.queryRange(Self.errorRatioQuery.replacingOccurrences(of: "reporter=\"destination\"",
                                                                                   with: "reporter=\"destination\",destination_workload=\"reviews\""),
                                        start: start, end: start.addingTimeInterval(20 * 60), step: .seconds(60))
        }
        guard case .matrix(let series) = response.result else { Issue.record("not a matrix"); return }
        #expect(series.count == 1)
        let points = try #require(series.first?.points)
        #expect(points.count == 21)
        #expect(points.first?.timestampMillis == Int64(start.timeIntervalSince1970 * 1000))
        #expect(abs(points[5].value - 0.004) < 0.002)  // +35 min: before the rollout
        #expect(abs(points[20].value - 0.12) < 0.002)  // +50 min: 5xx at 12 %
    }

    @Test("a base URL with a path prefix reaches a Prometheus served under /prometheus")
    func pathPrefix() async throws {
        let scenario = Self.scenario
        let ready = try await withClient(routePrefix: "/prometheus") { client in
            #expect(client.baseURL.hasSuffix("/prometheus"))
            let response = try await client.query("up{job=\"istiod\"}", at: scenario.evaluationTime)
            guard case .vector(let samples) = response.result else { return false }
            #expect(samples.first?.value == 1)
            return await client.isReady()
        }
        #expect(ready)
    }

    @Test("a bad query is a typed, non-retryable error carrying Prometheus's message")
    func badQuery() async throws {
        let scenario = Self.scenario
        let error = try await withClient { client in
            await #expect(throws: PrometheusError.self) {
                try await client.query("sum(rate(istio_requests_total[5m]", at: scenario.evaluationTime)
            }
        }
        #expect(error?.kind == .badData)
        #expect(error?.status == 400)
        #expect(error?.isRetryable == false)
        #expect(error?.message.contains("unclosed left parenthesis") == true)
        #expect(error?.query == "sum(rate(istio_requests_total[5m]")
    }

    @Test("an unreachable Prometheus fails fast with a retryable transport error")
    func unreachable() async throws {
        let closed = try ClosedPort()
        defer { withExtendedLifetime(closed) {} }
        let port = closed.port
        let http = HTTPClient(configuration: .init(connectTimeout: .seconds(120), timeout: .seconds(150)))
        let client = try PrometheusClient(baseURL: "http://127.0.0.1:\(port)", http: http)
        let start = ContinuousClock.now
        let error = await #expect(throws: PrometheusError.self) { try await client.query("up", at: Date()) }
        // The kind proves the kernel refused (a wait would end as .timeout); the bound, that it came
        // before the 120 s connect timeout even on a loaded machine (30 s was once missed by 3 s
        // beside four busy loops and the whole suite, as the HTTP client's own refusal test was).
        #expect(ContinuousClock.now - start < .seconds(100), "refusal must not wait for the 120 s connect timeout")
        #expect(error?.kind == .transport)
        #expect(error?.httpError?.kind == .connectionRefused)
        #expect(error?.isRetryable == true)
        #expect(await client.isReady() == false)
    }

    @Test("a Prometheus that never answers is given up on within the query timeout plus a margin")
    func hangingServer() async throws {
        let silent = try ListeningSocket()
        // The client's own limit far away (5 minutes): an end well before it can only be the
        // query's timeout, however slowly a busy machine schedules the test.
        let client = try PrometheusClient(baseURL: "http://127.0.0.1:\(silent.port)",
                                          http: HTTPClient(configuration: .init(timeout: .seconds(300))))
        let start = ContinuousClock.now
        let error = await #expect(throws: PrometheusError.self) {
            try await client.query("up", at: Date(), timeout: .milliseconds(500))
        }
        let elapsed = ContinuousClock.now - start
        #expect(elapsed >= .milliseconds(500))
        #expect(elapsed < .seconds(120), "took \(elapsed)")
        #expect(error?.httpError?.kind == .timeout)
        #expect(error?.isRetryable == true)
    }
}
