import AlertEngine
import Foundation
import Incidents
import Logging
import MeshFixtures
import MeshHTTP
@testable import MeshWatchdCore
import MetricModel
import Testing

@Suite("Grouping, reminders in the outbox, delivery metrics, and the datasource-down alert")
struct NotificationTests {
    func store() throws -> (StateStore, String) {
        let path = try DaemonTests.temporaryDirectory()
        return (try StateStore(path: path + "/state.sqlite", logger: Logger(label: "test")), path)
    }

    func firing(_ workload: String, alert: String = "IstioHighErrorRate") -> AlertTransition {
        let instance = AlertInstance(labels: Labels(["alertname": alert, "severity": "warning", "destination_workload": workload]),
                                     annotations: Labels(["summary": "\(workload) fails"]), state: .firing, value: 0.2,
                                     activeAt: Date(timeIntervalSinceNow: -60), firedAt: Date())
        return AlertTransition(kind: .firing, group: "istio", rule: alert, instance: instance, at: Date())
    }

    @Test("Slack: instances of one alert queued within group_wait share one message; another alert gets its own; counters and depth in /metrics")
    func slackGrouping() async throws {
        let (store, path) = try store()
        defer { try? FileManager.default.removeItem(atPath: path) }
        try await withEchoServer { receiver async throws in
            let slack = ConfiguredSink(name: "chat", sink: SlackSink(name: "chat", url: receiver.url("/receiver"), groupWait: .seconds(1),
                                                                    http: HTTPClient()),
                                       alerts: [], severities: [], repeatInterval: nil)
            let planner = NotificationPlanner(policy: EscalationPolicy(), routes: [SinkRoute(name: "chat")])
            let holds: [String: Duration] = ["chat": .seconds(1)]
            let status = DaemonStatus()
            await status.configureSinks(["chat"])
            let signal = OutboxSignal()
            let worker = OutboxWorker(store: SQLiteOutbox(store: store), sinks: [slack.sink], policy: DeliveryPolicy(), signal: signal, reporter: status,
                                      logger: Logger(label: "test"))
            // Two instances, then a third of the same alert queued later (its own hold ends later):
            // queued before the worker runs, so no timing decides what is grouped.
            let queued = Date()
            try store.save(plan: planner.plan([firing("reviews"), firing("ratings"), firing("other", alert: "IstioHighLatency")], at: Date()),
                           delays: holds)
            try store.save(plan: planner.plan([firing("details")], at: Date()), delays: holds)
            let running = Task { await worker.run() }
            defer { running.cancel() }
            signal.raise()

            let deadline = ContinuousClock.now + .seconds(60)
            while store.queuedCount > 0 && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
            let report = try await receiver.deliveries()
            let messages = try report.bodies.map { try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
            #expect(messages.count == 2)
            // Held for group_wait: nothing arrived before the first finding's hold ended.
            #expect((report.last.time ?? 0) >= queued.timeIntervalSince1970 + 1, "held for group_wait")
            let grouped = try #require(messages.first { ($0["text"] as? String)?.contains("IstioHighErrorRate") == true })
            let text = try #require(grouped["text"] as? String)
            #expect(text.contains("3 alerts"))
            for workload in ["reviews", "ratings", "details"] { #expect(text.contains(workload)) }
            let header = try #require((grouped["blocks"] as? [[String: Any]])?.first?["text"] as? [String: Any])
            #expect(header["text"] as? String == "FIRING: IstioHighErrorRate (3)")
            let single = try #require(messages.first { ($0["text"] as? String)?.contains("IstioHighLatency") == true })
            #expect((single["text"] as? String)?.contains("[FIRING] IstioHighLatency: other fails") == true)

            // The worker counts a delivery just after it leaves the outbox: wait for the count, not only the empty outbox.
            let counted = ContinuousClock.now + .seconds(15)
            while await status.deliveries["chat"]?.delivered != 4 && ContinuousClock.now < counted { try await Task.sleep(for: .milliseconds(50)) }
            let counters = await status.deliveries["chat"]
            #expect(counters?.delivered == 4 && counters?.failed == 0)
            let metrics = StatusRendering.metrics([], ready: true, version: "test", sinks: await status.sinkNames,
                                                  deliveries: await status.deliveries, outboxDepth: try store.depthBySink())
            #expect(metrics.contains("meshwatchd_notifications_delivered_total{sink=\"chat\"} 4\n"))
            #expect(metrics.contains("meshwatchd_notification_retries_total{sink=\"chat\"} 0\n"))
            #expect(metrics.contains("meshwatchd_outbox_depth{sink=\"chat\"} 0\n"))
        }
    }

    @Test("a reminder replaces the undelivered reminders of the same alert and sink, never a firing or resolve")
    func remindersSupersede() throws {
        let (store, path) = try store()
        defer { try? FileManager.default.removeItem(atPath: path) }
        func outgoing(_ id: String, _ kind: Finding.Kind, sink: String = "am") -> OutgoingFinding {
            OutgoingFinding(sink: sink, id: id, alertKey: "istio/abc", alertName: "A", kind: kind, body: Array("{}".utf8))
        }
        var plan = NotificationPlan()
        plan.outgoing = [outgoing("f", .firing), outgoing("r1", .reminder), outgoing("r1", .reminder, sink: "team")]
        try store.save(plan: plan)
        plan.outgoing = [outgoing("r2", .reminder)]
        try store.save(plan: plan)
        #expect(store.queuedCount == 3)
        #expect(try store.depthBySink() == ["am": 2, "team": 1])
        try store.remove(try store.due(at: Date(), sink: "am").map(\.id))  // the firing goes first
        #expect(try store.due(at: Date(), sink: "am").map(\.findingID) == ["r2"])
    }

    @Test("findings for a sink removed from the configuration are kept, then dropped once older than the maximum age")
    func removedSinks() throws {
        let (store, path) = try store()
        defer { try? FileManager.default.removeItem(atPath: path) }
        var plan = NotificationPlan()
        plan.outgoing = [OutgoingFinding(sink: "gone", id: "x", alertKey: "k", alertName: "A", kind: .firing, body: []),
                         OutgoingFinding(sink: "kept", id: "x", alertKey: "k", alertName: "A", kind: .firing, body: [])]
        try store.save(plan: plan)
        #expect(try store.expire(sinksOtherThan: ["kept"], olderThan: Date(timeIntervalSinceNow: -3600)).isEmpty)
        #expect(try store.expire(sinksOtherThan: ["kept"], olderThan: Date(timeIntervalSinceNow: 1)) == ["gone": 1])
        #expect(try store.depthBySink() == ["kept": 1])
    }

    @Test("notification records are saved with the plan and read back; removals delete them")
    func records() throws {
        let (store, path) = try store()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let planner = NotificationPlanner(policy: EscalationPolicy(), routes: [SinkRoute(name: "team")])
        let fired = planner.plan([firing("reviews")], at: Date())
        try store.save(plan: fired)
        #expect(try store.notificationRecords() == planner.records)
        var gone = NotificationPlan()
        gone.removals = Set(planner.records.keys)
        try store.save(plan: gone)
        #expect(try store.notificationRecords().isEmpty)
    }

    @Test("Prometheus unreachable for datasource_down_after: MeshWatchDatasourceDown at level 2; resolved once Prometheus answers again")
    func datasourceDown() async throws {
        let state = try DaemonTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: state) }
        try await withEchoServer { server async throws in
            func config(prometheus: String) throws {
                try #"""
                    {"prometheus": {"url": "\#(prometheus)"},
                     "packs": {"istio": {"parameters": {"interval": "1s"}}},
                     "notifications": {"datasource_down_after": "2s"},
                     "sinks": [{"name": "ops", "type": "webhook", "url": "\#(server.url("/receiver"))"}]}
                    """#.write(toFile: state + "/config.json", atomically: true, encoding: .utf8)
            }
            // Every query and /-/ready answer 503 under this prefix.
            try config(prometheus: server.url("/status/503"))
            let daemon = try await DaemonTests().start(["--config", state + "/config.json", "--state-directory", state], notify: nil)
            defer { daemon.signal(SIGKILL) }
            func finding(_ kind: String) async throws -> [String: Any]? {
                let deadline = ContinuousClock.now + .seconds(30)
                while ContinuousClock.now < deadline {
                    for body in try await server.deliveries().bodies {
                        if let object = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any], object["kind"] as? String == kind,
                           (object["alert"] as? [String: Any])?["name"] as? String == "MeshWatchDatasourceDown" {
                            return object
                        }
                    }
                    try await Task.sleep(for: .milliseconds(100))
                }
                return nil
            }
            let down = try #require(await finding("firing"), "log:\n\(daemon.log)")
            #expect(down["escalationLevel"] as? Int == 2)
            #expect(down["severity"] as? String == "critical")
            let alert = try #require(down["alert"] as? [String: Any])
            #expect((alert["labels"] as? [String: String])?["prometheus"] == server.url("/status/503"))
            #expect((alert["annotations"] as? [String: String])?["description"]?.contains("503") == true)

            // Prometheus answers again (its rules may fail; it is reachable): the alert resolves.
            try config(prometheus: server.url(""))
            daemon.signal(SIGHUP)
            let up = try #require(await finding("resolved"), "log:\n\(daemon.log)")
            #expect((up["alert"] as? [String: Any])?["fingerprint"] as? String == alert["fingerprint"] as? String)
            daemon.signal(SIGTERM)
            #expect(await daemon.process.waitForExit() == 0)
        }
    }
}

@Suite("Notification configuration")
struct NotificationConfigurationTests {
    func problems(_ json: String) throws -> [String] {
        try ConfigurationDocument(text: json, file: "c.json").decode(Configuration.self).value.problems(file: "c.json").map(\.description)
    }

    @Test("every wrong notification setting is reported with its key path")
    func keyPaths() throws {
        let found = try problems(#"""
            {"sinks": [{"name": "a", "type": "webhook", "url": "http://127.0.0.1:1/x", "group_wait": "5s"},
                       {"name": "b", "type": "slack", "url": "http://127.0.0.1:1/y", "group_wait": "soon", "repeat_interval": "0s"},
                       {"name": "c", "type": "teams", "url": "http://127.0.0.1:1/z"}],
             "notifications": {"repeat_interval": "never", "datasource_down_after": "x", "emergency_critical_workloads": -1,
                               "levels": [{"after": "5m", "sinks": ["a"]}, {"after": "1m", "sinks": ["a", "nobody"]}],
                               "links": {"runbook": "{{ $labels.x "}}}
            """#)
        let expected = [
            "c.json: sinks[0].group_wait: only slack sinks group; other sinks take one finding per alert",
            "c.json: sinks[1].group_wait: expected a duration such as 30s, got \"soon\"",
            "c.json: sinks[1].repeat_interval: expected a positive duration such as 30s or 5m, got \"0s\"",
            "c.json: sinks[2].type: \"teams\" is not a sink type (webhook, alertmanager, slack, pagerduty are)",
            "c.json: notifications.repeat_interval: expected a positive duration such as 4h, got \"never\"",
            "c.json: notifications.datasource_down_after: expected a duration such as 5m (0s turns it off), got \"x\"",
            "c.json: notifications.emergency_critical_workloads: expected 0 (off) or more, got -1",
            "c.json: notifications.levels[0].after: the first level starts at once: 0s",
            "c.json: notifications.levels[1].after: must be later than the level before",
            "c.json: notifications.levels[1].sinks: \"a\" is already in notifications.levels[0]",
            "c.json: notifications.levels[1].sinks: no sink is named \"nobody\"",
        ]
        for line in expected { #expect(found.contains(line), "missing: \(line)\nfound:\n\(found.joined(separator: "\n"))") }
        #expect(found.contains { $0.hasPrefix("c.json: notifications.links.runbook:") })
    }

    @Test("the finding factory adds templated links, external labels and Prometheus's generator URL")
    func factory() throws {
        let group = RuleGroup(name: "g", rules: [try AlertRule(name: "IstioHighErrorRate", expression: "sum(rate(x[5m])) > 0.05")])
        let links = Configuration.Notifications(links: ["runbook": "https://runbooks.example/{{ $labels.alertname }}",
                                                        "dashboard": "https://grafana.example/d?w={{ $labels.destination_workload }}"])
        let settings = try NotificationSettings.build(links, sinks: [], groups: [group],
                                                      context: EvaluationContext(externalLabels: ["cluster": "prod-eu-1"],
                                                                                 externalURL: "http://prom.example:9090/"))
        let instance = AlertInstance(labels: Labels(["alertname": "IstioHighErrorRate", "destination_workload": "reviews"]),
                                     annotations: .empty, state: .firing, value: 0.1, activeAt: Date(), firedAt: Date())
        let finding = settings.factory(AlertTransition(kind: .firing, group: "g", rule: "IstioHighErrorRate", instance: instance, at: Date()),
                                       .firing, 0, 1)
        #expect(finding.links == ["runbook": "https://runbooks.example/IstioHighErrorRate", "dashboard": "https://grafana.example/d?w=reviews"])
        #expect(finding.alert.labels["cluster"] == "prod-eu-1")
        #expect(finding.alert.generatorURL == "http://prom.example:9090/graph?g0.expr=sum%28rate%28x%5B5m%5D%29%29%20%3E%200.05&g0.tab=1")
    }
}
