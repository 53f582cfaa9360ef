import Foundation
import MeshFixtures
import MeshHTTP
@testable import PromClient
import Testing

@Suite("PrometheusClient: error mapping, wire format and configuration")
struct PrometheusClientTests {
    @Test("Prometheus's error envelope becomes a typed error that says whether to retry",
          arguments: [("error-bad-data", PrometheusError.Kind.badData, 400, false, "unclosed left parenthesis"),
                      ("error-execution", .execution, 422, false, "duplicate series"),
                      ("hand-unavailable", .unavailable, 503, true, "too many concurrent queries"),
                      ("hand-proxy-502", .badResponse, 502, true, "502 Bad Gateway")])
    func errorMapping(name: String, kind: PrometheusError.Kind, status: Int, retryable: Bool, message: String) throws {
        let recorded = try Recorded(name)
        let error = #expect(throws: PrometheusError.self) { try PrometheusClient.interpret(recorded.response, query: "q") }
        #expect(error?.kind == kind)
        #expect(error?.status == status)
        #expect(error?.isRetryable == retryable)
        #expect(error?.message.contains(message) == true, "\(error?.message ?? "")")
        #expect(error?.description.contains(message) == true)
    }

    @Test("warnings travel with a successful result")
    func warningsKept() throws {
        let response = try PrometheusClient.interpret(try Recorded("hand-warnings").response, query: "q")
        #expect(response.warnings == ["remote read: partial data from store-1"])
    }

    @Test("queries are form POSTs under the base URL's path, with time, timeout and the tenant header")
    func wireFormat() async throws {
        try await withEchoServer { server async throws in
            let client = try PrometheusClient(baseURL: server.url("/prometheus/"), headers: [("X-Scope-OrgID", "team-a")],
                                              http: HTTPClient())
            func echo(_ response: QueryResponse) throws -> Echo {
                guard case .string(_, let text) = response.result else { throw CocoaError(.coderReadCorrupt) }
                return try Echo(Array(text.utf8))
            }
            let query = #"sum by (destination_service) (rate(istio_requests_total{response_code=~"5.."}[5m])) > 0"#
            let instant = try echo(try await client.query(query, at: Date(timeIntervalSince1970: 1_750_000_030.25),
                                                          timeout: .seconds(10)))
            #expect(instant.method == "POST")
            #expect(instant.path == "/prometheus/api/v1/query")
            #expect(instant.headers["x-scope-orgid"] == "team-a")
            #expect(instant.headers["content-type"] == "application/x-www-form-urlencoded")
            #expect(instant.formFields == ["query": query, "time": "1750000030.250", "timeout": "10000ms"])

            let range = try echo(try await client.queryRange("up", start: Date(timeIntervalSince1970: 1_750_000_000),
                                                             end: Date(timeIntervalSince1970: 1_750_000_600), step: .seconds(30)))
            #expect(range.path == "/prometheus/api/v1/query_range")
            #expect(range.formFields == ["query": "up", "start": "1750000000.000", "end": "1750000600.000", "step": "30000ms"])
        }
    }

    @Test("time and duration parameters use Prometheus's formats")
    func parameterFormats() {
        #expect(PrometheusClient.formatTime(Date(timeIntervalSince1970: 1_750_000_030.25)) == "1750000030.250")
        #expect(PrometheusClient.formatTime(Date(timeIntervalSince1970: 1_750_000_030)) == "1750000030.000")
        #expect(PrometheusClient.formatDuration(.seconds(15)) == "15000ms")
        #expect(PrometheusClient.formatDuration(.milliseconds(1500)) == "1500ms")
    }

    @Test("base URLs must be absolute http(s) URLs; a trailing slash is dropped")
    func baseURLValidation() throws {
        let http = HTTPClient()
        #expect(try PrometheusClient(baseURL: "http://prom:9090/prometheus/", http: http).baseURL == "http://prom:9090/prometheus")
        for bad in ["prom:9090", "ftp://prom", "http://", "http://prom:9090/?x=1", ""] {
            #expect(throws: PrometheusError.self, "\(bad)") { try PrometheusClient(baseURL: bad, http: http) }
        }
    }
}
