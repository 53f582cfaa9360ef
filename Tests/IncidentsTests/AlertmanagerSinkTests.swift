import AlertModel
import Foundation
@testable import Incidents
import MeshFixtures
import MeshHTTP
import MetricModel
import Testing

@Suite("The real Alertmanager receives findings through its v2 API and forwards them")
struct AlertmanagerSinkTests {
    /// Polls the receiver until Alertmanager forwarded a notification with `status`.
    func notification(_ receiver: EchoServer, status: String) async throws -> [String: Any]? {
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            for body in try await receiver.deliveries().bodies {
                if let object = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any], object["status"] as? String == status {
                    return object
                }
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        return nil
    }

    @Test("firing then resolved: labels, annotations, startsAt and generatorURL reach Alertmanager's webhook receiver intact")
    func forwarded() async throws {
        let firedAt = Date(timeIntervalSinceNow: -120).rounded
        let instance = AlertInstance(
            labels: Labels(["alertname": "IstioHighErrorRate", "severity": "critical", "destination_workload": "reviews",
                            "destination_workload_namespace": "shop", "mesh": "istio"]),
            annotations: Labels(["summary": "reviews: 12% of requests fail with 5xx", "description": "5xx share 0.12 > 0.05"]),
            state: .firing, value: 0.12, activeAt: firedAt.addingTimeInterval(-120), firedAt: firedAt)
        let planner = NotificationPlanner(policy: EscalationPolicy(), routes: [SinkRoute(name: "am")]) { transition, kind, sequence, level in
            var finding = Finding(transition: transition, kind: kind, reminder: sequence, escalationLevel: level, generatedAt: transition.at)
            finding.alert.generatorURL = "http://prometheus.example:9090/graph?g0.expr=up&g0.tab=1"
            return finding
        }
        try await withEchoServer { receiver async throws in
            try await withAlertmanager(receiverURL: receiver.url("/receiver")) { alertmanager async throws in
                let sink = AlertmanagerSink(name: "am", url: alertmanager.url + "/", validFor: .seconds(240), http: HTTPClient())
                let fired = planner.plan([AlertTransition(kind: .firing, group: "istio", rule: "IstioHighErrorRate", instance: instance,
                                                          at: Date())], at: Date())
                let firing = try #require(fired.outgoing.first)
                #expect(try await sink.send(body: firing.body, id: firing.id, at: Date()).get().status == 200)

                let notified = try #require(await notification(receiver, status: "firing"), "Alertmanager forwarded nothing")
                let alert = try #require((notified["alerts"] as? [[String: Any]])?.first)
                #expect(alert["labels"] as? [String: String] == Dictionary(uniqueKeysWithValues: instance.labels.map { ($0.name, $0.value) }))
                #expect(alert["annotations"] as? [String: String]
                        == Dictionary(uniqueKeysWithValues: instance.annotations.map { ($0.name, $0.value) }))
                #expect((alert["startsAt"] as? String).flatMap(Finding.parseTimestamp) == firedAt)
                #expect(alert["generatorURL"] as? String == "http://prometheus.example:9090/graph?g0.expr=up&g0.tab=1")

                // Alertmanager holds it as active until endsAt, four resend intervals ahead.
                let active = try await HTTPClient().get(alertmanager.url + "/api/v2/alerts")
                let held = try #require((try JSONSerialization.jsonObject(with: Data(active.body)) as? [[String: Any]])?.first)
                #expect((held["status"] as? [String: Any])?["state"] as? String == "active")
                let endsAt = try #require((held["endsAt"] as? String).flatMap(Finding.parseTimestamp))
                #expect(abs(endsAt.timeIntervalSinceNow - 240) < 30)

                var resolvedInstance = instance
                resolvedInstance.state = .inactive
                resolvedInstance.resolvedAt = Date().rounded
                let resolved = planner.plan([AlertTransition(kind: .resolved, group: "istio", rule: "IstioHighErrorRate",
                                                             instance: resolvedInstance, at: Date())], at: Date())
                let resolve = try #require(resolved.outgoing.first)
                #expect(try await sink.send(body: resolve.body, id: resolve.id, at: Date()).get().status == 200)
                let cleared = try #require(await notification(receiver, status: "resolved"), "the resolve was not forwarded")
                let clearedAlert = try #require((cleared["alerts"] as? [[String: Any]])?.first)
                #expect((clearedAlert["labels"] as? [String: String])?["destination_workload"] == "reviews")
                #expect((clearedAlert["endsAt"] as? String).flatMap(Finding.parseTimestamp) == resolvedInstance.resolvedAt)
            }
        }
    }

    @Test("the posted body is Alertmanager's postableAlerts: an array with labels incl. alertname, annotations, startsAt, endsAt")
    func shape() async throws {
        try await withEchoServer { server async throws in
            let sink = AlertmanagerSink(name: "am", url: server.url("/echo"), validFor: .seconds(240), http: HTTPClient())
            // The echo server answers any path: the sink appends the API path to the base URL.
            let response = try await sink.send(body: try finding().encoded(), id: finding().id, at: Date(timeIntervalSince1970: 1_750_002_600)).get()
            let echo = try Echo(response.body)
            #expect(echo.path == "/echo/api/v2/alerts")
            let alerts = try #require(try JSONSerialization.jsonObject(with: Data(echo.body.utf8)) as? [[String: Any]])
            #expect(alerts.count == 1)
            #expect((alerts[0]["labels"] as? [String: String])?["alertname"] == "IstioHighErrorRate")
            #expect(alerts[0]["startsAt"] as? String == "2025-06-15T15:48:40.000Z")  // firedAt
            #expect(alerts[0]["endsAt"] as? String == "2025-06-15T15:54:00.000Z")  // now + 240 s
            #expect(alerts[0]["generatorURL"] == nil)  // no external URL configured
        }
    }
}

extension AlertmanagerSinkTests {
    @Test("several Alertmanagers: each of two real ones holds the alert, one down between them does not fail the delivery; all down fails it")
    func severalAlertmanagers() async throws {
        try await withEchoServer { receiver async throws in
            try await withAlertmanager(receiverURL: receiver.url("/receiver")) { first async throws in
                try await withAlertmanager(receiverURL: receiver.url("/receiver")) { second async throws in
                    let closed = try ClosedPort()
                    let sink = AlertmanagerSink(name: "am", urls: [first.url, "http://127.0.0.1:\(closed.port)", second.url], http: HTTPClient())
                    let response = try await sink.send(body: try finding().encoded(), id: finding().id, at: Date()).get()
                    #expect((200..<300).contains(response.status))
                    for alertmanager in [first, second] {
                        let active = try await HTTPClient().get(alertmanager.url + "/api/v2/alerts")
                        let held = try JSONSerialization.jsonObject(with: Data(active.body)) as? [[String: Any]]
                        #expect(held?.count == 1 && (held?.first?["labels"] as? [String: String])?["alertname"] == "IstioHighErrorRate",
                                "\(alertmanager.url): \(String(describing: held))")
                    }
                    // Every one down: the delivery fails (the outbox retries it).
                    let down = AlertmanagerSink(name: "am", urls: ["http://127.0.0.1:\(closed.port)"], http: HTTPClient())
                    await #expect(throws: HTTPError.self) { try await down.send(body: try finding().encoded(), id: finding().id, at: Date()).get() }
                    withExtendedLifetime(closed) {}
                }
            }
        }
    }

    @Test("headers (X-Scope-OrgID) and the client's basic auth reach Alertmanager on every request")
    func headersAndAuth() async throws {
        try await withEchoServer { server async throws in
            let client = HTTPClient(configuration: .init(authentication: .basic(username: "tenant", password: "s3cret")))
            let sink = AlertmanagerSink(name: "am", urls: [server.url("/am")], headers: [("X-Scope-OrgID", "team-a")], http: client)
            let echo = try Echo(try await sink.send(body: try finding().encoded(), id: finding().id, at: Date()).get().body)
            #expect(echo.path == "/am/api/v2/alerts")
            #expect(echo.headers["x-scope-orgid"] == "team-a", "\(echo.headers)")
            #expect(echo.headers["authorization"] == "Basic " + Data("tenant:s3cret".utf8).base64EncodedString())
        }
    }

    @Test("links become <name>_url annotations (runbook_url, as kube-prometheus names it), the evidence and remediation annotations; a rule's own annotation wins")
    func linksAndEvidence() throws {
        var found = finding()
        found.links = ["runbook": "https://runbooks.example/IstioHighErrorRate", "dashboard_url": "https://grafana.example/d/mesh"]
        found.evidence = ["target: deployment bookinfo/reviews", "rollout history: a new revision"]
        found.remediation = "DRY RUN: would rollout_undo bookinfo/reviews"
        found.alert.annotations["dashboard_url"] = "https://rule.example/own"
        let alert = AlertmanagerSink.alert(found, at: Date(), validFor: .seconds(240))
        let annotations = alert.annotations
        #expect(annotations["runbook_url"] == "https://runbooks.example/IstioHighErrorRate")
        #expect(annotations["dashboard_url"] == "https://rule.example/own")
        #expect(annotations["evidence"] == "target: deployment bookinfo/reviews\nrollout history: a new revision")
        #expect(annotations["remediation"] == "DRY RUN: would rollout_undo bookinfo/reviews")
    }
}

extension Date {
    /// Whole milliseconds, as findings carry times.
    var rounded: Date { Date(timeIntervalSince1970: (timeIntervalSince1970 * 1000).rounded() / 1000) }
}
