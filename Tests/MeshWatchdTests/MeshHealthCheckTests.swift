import Foundation
import MeshFixtures
import MeshHTTP
@testable import MeshWatchdCore
import PromClient
import Testing

@Suite("The mesh health check against a real Prometheus over the incident")
struct MeshHealthCheckTests {
    @Test("each service of the incident is judged against the runbook thresholds")
    func incidentReport() async throws {
        let scenario = MeshScenario.incident()
        let report = try await withPrometheus(openMetrics: scenario.openMetrics()) { server async throws in
            let client = try PrometheusClient(baseURL: server.url, http: HTTPClient())
            return try await MeshHealthCheck().run(client, at: scenario.evaluationTime)
        }
        let services = Dictionary(uniqueKeysWithValues: report.services.map { ($0.name, $0) })
        let reviews = try #require(services["reviews.bookinfo.svc.cluster.local"])
        #expect(abs(reviews.errorRatio - 0.12) < 0.002)
        #expect(reviews.breaches == ["5xx > 5 %"])
        let ratings = try #require(services["ratings.bookinfo.svc.cluster.local"])
        #expect(ratings.errorRatio == 0)  // no 5xx series at all still reads as 0 %
        #expect(ratings.breaches == ["P95 > 1000 ms"])
        let expectedP95 = try #require(scenario.service("ratings")).histogramQuantile(0.95, at: scenario.evaluationTime)
        let measuredP95 = try #require(ratings.p95Millis)
        #expect(abs(measuredP95 - expectedP95) < 25)
        let details = try #require(services["details.bookinfo.svc.cluster.local"])
        #expect(abs(details.mtlsShare - 0.7) < 0.01)
        #expect(details.breaches == ["mTLS < 95 %"])
        #expect(services["batch-report.shop.svc.cluster.local"]?.breaches == [MeshHealthReport.Service.tooLittleTraffic])
        #expect(services["productpage.bookinfo.svc.cluster.local"]?.breaches == [])
        #expect(services["checkout.shop.svc.cluster.local"]?.breaches == [])
        #expect(report.services.prefix(3).allSatisfy { $0.isPastThreshold })

        #expect(report.istiodUp == 1 && report.istiodTargets == 1)
        #expect(abs(report.meshRequestsPerSecond - 130.02) < 0.1)
        #expect(report.expiringCertificates.map(\.name) == ["istio-system/istio-gateway"])
        let secondsLeft = try #require(report.certificates.first?.secondsLeft)
        #expect(abs(secondsLeft - Double(5 * 86400 + 3600 - 55 * 60)) < 1)
        #expect(!report.isHealthy)

        let table = report.renderTable(source: "test")
        #expect(table.contains("reviews.bookinfo.svc.cluster.local"))
        #expect(table.contains("12.00 %"))
        #expect(table.contains("Verdict: attention needed"))
    }

    @Test("before the incident the same mesh is healthy but for the certificate and mTLS")
    func beforeIncident() async throws {
        let scenario = MeshScenario.incident()
        let report = try await withPrometheus(openMetrics: scenario.openMetrics()) { server async throws in
            let client = try PrometheusClient(baseURL: server.url, http: HTTPClient())
            return try await MeshHealthCheck().run(client, at: scenario.start.addingTimeInterval(30 * 60))
        }
        let past = report.services.filter(\.isPastThreshold).map(\.name)
        #expect(past == ["details.bookinfo.svc.cluster.local"])
    }
}
