import Foundation
@testable import Incidents
import MeshFixtures
import MeshHTTP
import Testing

@Suite("Slack and PagerDuty payloads, sent to a local receiver standing in for the service")
struct ChatAndPagingSinkTests {
    /// Sends through `sink` to the echo server and returns the JSON it received.
    func sent(_ sink: any FindingSink, _ finding: Finding) async throws -> [String: Any] {
        let response = try await sink.send(body: try finding.encoded(), id: finding.id, at: Date()).get()
        #expect(response.status == 200)
        let echo = try Echo(response.body)
        #expect(echo.method == "POST")
        #expect(echo.headers["content-type"] == "application/json")
        return try #require(try JSONSerialization.jsonObject(with: Data(echo.body.utf8)) as? [String: Any])
    }

    @Test("Slack: a text fallback and Block Kit blocks with the summary, key labels, severity and value")
    func slack() async throws {
        try await withEchoServer { server async throws in
            let message = try await sent(SlackSink(name: "chat", url: server.url("/echo"), http: HTTPClient()), finding())
            let text = try #require(message["text"] as? String)
            #expect(text.contains("[FIRING] IstioHighErrorRate: reviews: 12% of requests fail with 5xx"))
            let blocks = try #require(message["blocks"] as? [[String: Any]])
            #expect(blocks.first?["type"] as? String == "header")
            #expect(((blocks.first?["text"] as? [String: Any])?["text"] as? String) == "FIRING: IstioHighErrorRate")
            let fields = try #require(blocks.first { $0["fields"] != nil }?["fields"] as? [[String: String]])
            #expect(fields.count <= 10)  // Slack's limit per section
            #expect(fields.contains { $0["text"] == "*destination_workload*\nreviews" })
            #expect(fields.contains { $0["text"] == "*severity*\ncritical" })
            #expect(fields.contains { $0["text"] == "*value*\n0.12" })
            #expect(blocks.contains { $0["type"] as? String == "context" })  // the runbook link

            let resolved = try await sent(SlackSink(name: "chat", url: server.url("/echo"), http: HTTPClient()), finding(kind: .resolved))
            #expect((resolved["text"] as? String)?.hasPrefix(":white_check_mark: [RESOLVED]") == true)
        }
    }

    @Test("every link reaches Slack and PagerDuty, the runbook first; a link cannot break Slack's <url|text> syntax")
    func everyLink() throws {
        var linked = finding()
        linked.links = ["runbook": "https://runbooks.example/IstioHighErrorRate", "dashboard_url": "https://grafana.example/d/x?a=1|b>c",
                        "logs": "https://logs.example/q"]
        linked.alert.generatorURL = "http://prometheus.example:9090/graph?g0.expr=up"
        let slack = SlackSink.message([linked])
        let context = try #require((slack["blocks"] as? [[String: Any]])?.last { $0["type"] as? String == "context" }?["elements"] as? [[String: String]])
        #expect(context.map { $0["text"] ?? "" } == ["<https://runbooks.example/IstioHighErrorRate|Runbook>",
                                                     "<https://grafana.example/d/x?a=1%7Cb%3Ec|Dashboard>", "<https://logs.example/q|Logs>"])
        let event = PagerDutySink.event(linked, routingKey: "k")
        #expect((event["links"] as? [[String: String]])?.map { $0["text"] ?? "" } == ["Runbook", "Dashboard", "Logs", "Source"])
    }

    @Test("PagerDuty Events v2: trigger with routing_key, dedup_key, summary, source and severity; resolve with the same dedup_key")
    func pagerDuty() async throws {
        try await withEchoServer { server async throws in
            let sink = PagerDutySink(name: "pager", routingKey: "R0UT1NGKEY", url: server.url("/echo"), http: HTTPClient())
            let trigger = try await sent(sink, finding())
            #expect(trigger["routing_key"] as? String == "R0UT1NGKEY")
            #expect(trigger["event_action"] as? String == "trigger")
            let dedupKey = try #require(trigger["dedup_key"] as? String)
            #expect(dedupKey == "meshwatchd/meshwatchd-istio/\(finding().alert.fingerprint)")
            let payload = try #require(trigger["payload"] as? [String: Any])
            #expect((payload["summary"] as? String)?.isEmpty == false)
            #expect(payload["source"] as? String == "meshwatchd")  // no destination_service label on this alert
            #expect(payload["severity"] as? String == "critical")
            #expect(((payload["custom_details"] as? [String: Any])?["labels"] as? [String: String])?["destination_workload"] == "reviews")

            let resolve = try await sent(sink, finding(kind: .resolved))
            #expect(resolve["event_action"] as? String == "resolve")
            #expect(resolve["dedup_key"] as? String == dedupKey)
            #expect(resolve["routing_key"] as? String == "R0UT1NGKEY")
        }
    }

    @Test("PagerDuty's dedup_key includes the external labels: two clusters never share an incident; an old incident still resolves")
    func pagerDutyExternalLabels() async throws {
        func clustered(_ cluster: String, kind: Finding.Kind = .firing) -> Finding {
            var value = finding(kind: kind)
            value.alert.labels["cluster"] = cluster  // as the daemon adds external labels
            return value
        }
        let east = PagerDutySink.event(clustered("east"), routingKey: "k")["dedup_key"] as? String
        let west = PagerDutySink.event(clustered("west"), routingKey: "k")["dedup_key"] as? String
        #expect(east != nil && east != west)
        // Without external labels the key is what it always was.
        #expect(PagerDutySink.event(finding(), routingKey: "k")["dedup_key"] as? String
                == "meshwatchd/meshwatchd-istio/\(finding().alert.fingerprint)")
        try await withEchoServer { server async throws in
            let sink = PagerDutySink(name: "pager", routingKey: "R0UT1NGKEY", url: server.url("/receiver"), http: HTTPClient())
            _ = try await sink.send(body: try clustered("east", kind: .resolved).encoded(), id: "x", at: Date())
            let resolves = try await server.deliveries().bodies.compactMap {
                (try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])?["dedup_key"] as? String
            }
            // The key an incident opened before the change carries, then today's.
            #expect(resolves == ["meshwatchd/meshwatchd-istio/\(finding().alert.fingerprint)", east])
        }
    }

    @Test("PagerDuty severities map onto its four levels")
    func severities() {
        #expect(PagerDutySink.severity("critical") == "critical")
        #expect(PagerDutySink.severity("warning") == "warning")
        #expect(PagerDutySink.severity("page") == "critical")
        #expect(PagerDutySink.severity("none") == "warning")
    }
}
