import AlertModel
import Foundation
@testable import Incidents
import MeshFixtures
import MeshHTTP
import MetricModel
import Testing

/// Silences and acknowledgements in the planner: who hears of a silenced alert, what an
/// acknowledgement stops, and what happens when a silence ends.
@Suite("Silences and acknowledgements: every sink kind, nothing lost when a silence ends")
struct SilenceTests {
    func at(_ seconds: Double) -> Date { Date(timeIntervalSince1970: 1_800_000_000 + seconds) }

    func transition(_ kind: AlertTransition.Kind = .firing, labels: [String: String] = ["namespace": "shop"], at time: Double) -> AlertTransition {
        let instance = AlertInstance(labels: Labels(labels.merging(["alertname": "IstioHighErrorRate", "severity": "critical"]) { a, _ in a }),
                                     annotations: .empty, state: kind == .resolved ? .inactive : .firing, value: 1, activeAt: at(0), firedAt: at(0),
                                     resolvedAt: kind == .resolved ? at(time) : nil)
        return AlertTransition(kind: kind, group: "g", rule: "IstioHighErrorRate", instance: instance, at: at(time))
    }

    /// The four sink kinds as routes: only Alertmanager's receives silenced alerts.
    var routes: [SinkRoute] {
        [SinkRoute(name: "webhook"), SinkRoute(name: "slack"), SinkRoute(name: "pagerduty"),
         SinkRoute(name: "alertmanager", repeatInterval: .seconds(60), alertmanager: true)]
    }

    func silence(_ matchers: [String], from: Double = -10, to: Double = 600) throws -> Silence {
        try Silence(matchers: matchers, startsAt: at(from), endsAt: at(to), createdBy: "alice", comment: "deploy window")
    }

    func review(_ planner: NotificationPlanner, at time: Double) -> NotificationPlan {
        planner.review(group: "g", firing: [("IstioHighErrorRate", transition(at: time).instance)], at: at(time))
    }

    @Test("a silenced firing reaches only Alertmanager, with the silence; once the silence ends the others hear of it, once")
    func silencedThenEnded() throws {
        let planner = NotificationPlanner(policy: EscalationPolicy(repeatInterval: .seconds(3600)), routes: routes)
        planner.silences = [try silence([#"namespace="shop""#], to: 300)]
        let fired = planner.plan([transition(at: 0)], at: at(0))
        #expect(fired.outgoing.map(\.sink) == ["alertmanager"])
        let sent = try Finding.decode(fired.outgoing[0].body)
        #expect(sent.silences?.map(\.matchers) == [[#"namespace="shop""#]])
        // While silenced: Alertmanager's keep-alive only.
        #expect(review(planner, at: 120).outgoing.map(\.sink) == ["alertmanager"])
        // The silence ends: the three that missed the firing get it now, as a firing; then nothing more until reminders.
        let after = review(planner, at: 301)
        #expect(after.outgoing.filter { $0.kind == .firing }.map(\.sink).sorted() == ["pagerduty", "slack", "webhook"])
        #expect(try after.outgoing.filter { $0.kind == .firing }.allSatisfy { try Finding.decode($0.body).silences == nil })
        #expect(review(planner, at: 302).outgoing.filter { $0.sink != "alertmanager" }.isEmpty)
    }

    @Test("an alert the silence does not match goes everywhere; a pending silence does not apply yet; a resolve reaches every sink that heard")
    func notMatchedPendingResolved() throws {
        let planner = NotificationPlanner(policy: EscalationPolicy(), routes: routes)
        planner.silences = [try silence([#"namespace="web""#]), try silence([#"namespace="shop""#], from: 100)]
        #expect(planner.plan([transition(at: 0)], at: at(0)).outgoing.count == 4)
        // Silenced later (the pending silence starts): the resolve still reaches all four, so no incident stays open.
        let resolved = planner.plan([transition(.resolved, at: 200)], at: at(200))
        #expect(resolved.outgoing.map(\.sink).sorted() == ["alertmanager", "pagerduty", "slack", "webhook"])
    }

    @Test("a silenced alert that resolves while silenced tells only Alertmanager (the others never heard)")
    func resolvedWhileSilenced() throws {
        let planner = NotificationPlanner(policy: EscalationPolicy(), routes: routes)
        planner.silences = [try silence([#"alertname=~"Istio.*""#])]
        _ = planner.plan([transition(at: 0)], at: at(0))
        #expect(planner.plan([transition(.resolved, at: 50)], at: at(50)).outgoing.map(\.sink) == ["alertmanager"])
    }

    @Test("acknowledged: every sink that heard is told who; reminders (but Alertmanager's keep-alive) and escalation stop")
    func acknowledged() throws {
        let policy = EscalationPolicy(delays: [.zero, .seconds(600)], repeatInterval: .seconds(300))
        let routes = [SinkRoute(name: "slack"), SinkRoute(name: "pagerduty"), SinkRoute(name: "oncall-2", level: 2),
                      SinkRoute(name: "alertmanager", repeatInterval: .seconds(60), alertmanager: true)]
        let planner = NotificationPlanner(policy: policy, routes: routes)
        #expect(planner.plan([transition(at: 0)], at: at(0)).outgoing.count == 3)
        let acknowledgement = Acknowledgement(by: "alice", at: at(30), comment: "on it")
        let told = try #require(planner.acknowledge(transition(at: 30), by: acknowledgement))
        #expect(told.outgoing.map(\.sink).sorted() == ["alertmanager", "pagerduty", "slack"])
        #expect(told.outgoing.allSatisfy { $0.kind == .acknowledged })
        #expect(try Finding.decode(told.outgoing[0].body).acknowledgement == acknowledgement)
        #expect(told.upserts.values.first?.acknowledgement == acknowledgement)
        // Past the repeat interval and the level-2 delay: no reminder to people, no escalation; Alertmanager's re-send carries who.
        let later = review(planner, at: 900)
        #expect(later.outgoing.map(\.sink) == ["alertmanager"])
        #expect(later.outgoing.map(\.kind) == [.reminder])
        #expect(try Finding.decode(later.outgoing[0].body).acknowledgement?.by == "alice")
        #expect(planner.records.values.first?.level == 1)
        // Not firing (never notified): nothing to acknowledge.
        #expect(planner.acknowledge(transition(labels: ["namespace": "other"], at: 31), by: acknowledgement) == nil)
    }

    @Test("a reload that restores acknowledgements (a failover) applies them to the alerts still firing")
    func restored() throws {
        let planner = NotificationPlanner(policy: EscalationPolicy(repeatInterval: .seconds(60)), routes: [SinkRoute(name: "slack")])
        let fired = planner.plan([transition(at: 0)], at: at(0))
        let key = try #require(fired.upserts.keys.first)
        let restored = planner.restore(acknowledgements: [key: Acknowledgement(by: "bob", at: at(5)), "g/ffff": Acknowledgement(by: "x", at: at(5))])
        #expect(restored.upserts.count == 1)
        #expect(review(planner, at: 600).outgoing.isEmpty)
    }

    @Test("a silence is checked: matchers parse, one must not match everything, it ends after it starts, it has an author")
    func validated() throws {
        #expect(throws: Silence.Invalid.self) { try Silence(matchers: [], startsAt: at(0), endsAt: at(1), createdBy: "a", comment: "") }
        #expect(throws: Silence.Invalid.self) { try Silence(matchers: [#"namespace=~".*""#], startsAt: at(0), endsAt: at(1), createdBy: "a", comment: "") }
        #expect(throws: Silence.Invalid.self) { try Silence(matchers: [#"namespace!="x""#], startsAt: at(0), endsAt: at(1), createdBy: "a", comment: "") }
        #expect(throws: Silence.Invalid.self) { try Silence(matchers: [#"namespace="x""#], startsAt: at(1), endsAt: at(1), createdBy: "a", comment: "") }
        #expect(throws: Silence.Invalid.self) { try Silence(matchers: [#"namespace="x""#], startsAt: at(0), endsAt: at(1), createdBy: " ", comment: "") }
        #expect(throws: Silence.Invalid.self) { try Silence(matchers: [#"namespace=~"(("#], startsAt: at(0), endsAt: at(1), createdBy: "a", comment: "") }
        #expect(throws: Silence.Invalid.self) {
            try Silence(matchers: [#"a="x""#], startsAt: at(0), endsAt: at(1), createdBy: "a", comment: String(repeating: "c", count: 2000))
        }
        #expect(throws: Silence.Invalid.self) { try Silence(id: "../x", matchers: [#"a="x""#], startsAt: at(0), endsAt: at(1), createdBy: "a", comment: "") }
        let silence = try Silence(matchers: ["namespace = shop", #"pod=~"web-.*""#], startsAt: at(0), endsAt: at(10), createdBy: "a", comment: "")
        #expect(silence.matchers == [#"namespace="shop""#, #"pod=~"web-.*""#])
        #expect(silence.matches(["namespace": "shop", "pod": "web-1"]) && !silence.matches(["namespace": "shop", "pod": "xweb-1"]))
        #expect(silence.status(at: at(-1)) == "pending" && silence.status(at: at(5)) == "active" && silence.status(at: at(10)) == "expired")
    }

    @Test("the sinks render an acknowledgement: PagerDuty's acknowledge event, Slack's line, Alertmanager's annotation; a silence as Alertmanager's postableSilence")
    func rendering() throws {
        var acknowledged = finding(kind: .acknowledged)
        acknowledged.acknowledgement = Acknowledgement(by: "alice", at: Date(timeIntervalSince1970: 1_750_003_000), comment: "rolling back")
        let event = PagerDutySink.event(acknowledged, routingKey: "k")
        #expect(event["event_action"] as? String == "acknowledge")
        #expect(event["dedup_key"] as? String == PagerDutySink.dedupKey(finding()))
        let slack = SlackSink.message(acknowledged)
        #expect((slack["text"] as? String)?.contains("ACKNOWLEDGED BY alice") == true)
        let alert = AlertmanagerSink.alert(acknowledged, at: Date(), validFor: .seconds(240))
        #expect(alert.annotations["acknowledged_by"]?.hasPrefix("alice at 2025-06-15T") == true)
        let silence = try Silence(matchers: [#"namespace!~"dev-.*""#, "pod=web"], startsAt: Date(timeIntervalSince1970: 0),
                                  endsAt: Date(timeIntervalSince1970: 2_000_000_000), createdBy: "alice", comment: "window")
        let postable = AlertmanagerSink.postableSilence(silence, at: Date(timeIntervalSince1970: 1_800_000_000))
        let matchers = try #require(postable["matchers"] as? [[String: Any]])
        #expect(matchers[0]["isRegex"] as? Bool == true && matchers[0]["isEqual"] as? Bool == false && matchers[0]["value"] as? String == "dev-.*")
        #expect(matchers[1]["isRegex"] as? Bool == false && matchers[1]["isEqual"] as? Bool == true)
        #expect(postable["comment"] as? String == "window [meshwatchd silence \(silence.id)]")
        #expect(postable["startsAt"] as? String == "2027-01-15T08:00:00.000Z")
    }
}

@Suite("Per-sink message templates: the rule template language over the finding")
struct MessageTemplateTests {
    static let source = #"{{ .Status | toUpper }} {{ $labels.alertname }} on {{ $labels.destination_workload }}: {{ humanizePercentage $value }} {{ .Annotations.summary }} [{{ .Kind }}, level {{ .EscalationLevel }}]{{ if .AcknowledgedBy }} taken by {{ .AcknowledgedBy }}{{ end }} {{ .Links.runbook }}"#

    @Test("renders labels, value, annotations and the finding's fields with Prometheus's functions")
    func renders() throws {
        let template = try MessageTemplate(Self.source, name: "t")
        var sent = finding()
        #expect(template.render(sent) == "FIRING IstioHighErrorRate on reviews: 12% reviews: 12% of requests fail with 5xx [firing, level 1] https://runbooks.example/IstioHighErrorRate")
        sent.kind = .acknowledged
        sent.acknowledgement = Acknowledgement(by: "alice", at: Date())
        #expect(template.render(sent)?.contains("[acknowledged, level 1] taken by alice") == true)
        // A template that fails on a finding yields nil (the sink's own text is used), one that does not parse is refused.
        #expect(try MessageTemplate("{{ .Annotations.summary | humanize }}", name: "t").render(finding()) == nil)
        #expect(throws: (any Error).self) { try MessageTemplate("{{ .Status ", name: "t") }
    }

    @Test("each sink kind carries it: Slack's text, PagerDuty's summary, the webhook's message, Alertmanager's message annotation")
    func sinks() async throws {
        try await withEchoServer { receiver async throws in
            let template = try MessageTemplate(Self.source, name: "t")
            let body = try finding().encoded()
            let http = HTTPClient()
            _ = try await SlackSink(name: "s", url: receiver.url("/receiver"), groupWait: nil, template: template, http: http).send(body: body, id: "1", at: Date())
            _ = try await PagerDutySink(name: "p", routingKey: "k", url: receiver.url("/receiver"), template: template, http: http).send(body: body, id: "2", at: Date())
            _ = try await WebhookSink(name: "w", url: receiver.url("/receiver"), secret: nil, template: template, http: http).send(body: body, id: "3", at: Date())
            let bodies = try await receiver.deliveries().bodies
            let expected = "FIRING IstioHighErrorRate on reviews: 12%"
            let slack = try #require(bodies.first { $0.contains(#""blocks""#) })
            #expect((try JSONSerialization.jsonObject(with: Data(slack.utf8)) as? [String: Any])?["text"] as? String == template.render(finding()))
            let pagerDuty = try #require(bodies.first { $0.contains(#""event_action""#) })
            #expect(((try JSONSerialization.jsonObject(with: Data(pagerDuty.utf8)) as? [String: Any])?["payload"] as? [String: Any])?["summary"] as? String
                    == template.render(finding()))
            let webhook = try #require(bodies.compactMap { try? Finding.decode(Array($0.utf8)) }.first)
            #expect(webhook.message?.hasPrefix(expected) == true)
        }
        let alert = AlertmanagerSink.alert(finding(), at: Date(), validFor: .seconds(60), template: try MessageTemplate(Self.source, name: "t"))
        #expect(alert.annotations["message"]?.hasPrefix("FIRING IstioHighErrorRate on reviews") == true)
    }
}

@Suite("Silences and acknowledgements: the review's cases")
struct SilenceEdgeTests {
    func at(_ seconds: Double) -> Date { Date(timeIntervalSince1970: 1_800_000_000 + seconds) }

    func transition(at time: Double) -> AlertTransition {
        let instance = AlertInstance(labels: Labels(["alertname": "A", "severity": "critical"]), annotations: .empty, state: .firing, value: 1,
                                     activeAt: at(0), firedAt: at(0))
        return AlertTransition(kind: .firing, group: "g", rule: "A", instance: instance, at: at(time))
    }

    @Test("acknowledged while silenced: when the silence ends, the sinks that missed the firing hear it and, at once, that it was taken")
    func acknowledgedWhileSilenced() throws {
        let planner = NotificationPlanner(policy: EscalationPolicy(), routes: [SinkRoute(name: "pagerduty"),
                                                                            SinkRoute(name: "am", repeatInterval: .seconds(60), alertmanager: true)])
        planner.silences = [try Silence(matchers: [#"alertname="A""#], startsAt: at(-1), endsAt: at(100), createdBy: "x", comment: "")]
        _ = planner.plan([transition(at: 0)], at: at(0))
        _ = try #require(planner.acknowledge(transition(at: 10), by: Acknowledgement(by: "alice", at: at(10))))
        let after = planner.review(group: "g", firing: [("A", transition(at: 101).instance)], at: at(101))
        #expect(after.outgoing.filter { $0.sink == "pagerduty" }.map(\.kind) == [.firing, .acknowledged])
    }

    @Test("an acknowledgement from an earlier episode of the same labels is not restored onto a new one")
    func staleAcknowledgement() {
        let planner = NotificationPlanner(policy: EscalationPolicy(), routes: [SinkRoute(name: "slack")])
        var episode = transition(at: 500)
        episode.instance.firedAt = at(500)  // this episode fired at 500; an acknowledgement at 100 was of an earlier one
        let key = planner.plan([episode], at: at(500)).upserts.keys.first ?? ""
        #expect(planner.restore(acknowledgements: [key: Acknowledgement(by: "old", at: at(100))]).upserts.isEmpty)
        #expect(planner.restore(acknowledgements: [key: Acknowledgement(by: "new", at: at(600))]).upserts.count == 1)
    }

    @Test("Alertmanager forwards only silences in force at send time, as they are now; without a source, those not yet ended")
    func forwardedNow() throws {
        let forwarded = ForwardedSilences()
        let live = try Silence(matchers: [#"a="b""#], startsAt: at(0), endsAt: at(100), createdBy: "x", comment: "")
        var gone = try Silence(matchers: [#"a="c""#], startsAt: at(0), endsAt: at(100), createdBy: "x", comment: "")
        #expect(forwarded.current([live, gone], at: at(50))?.count == 2)
        gone.endsAt = at(20)  // expired early, after the finding was queued with its old end
        let now = [live, gone]
        forwarded.follow { now }
        #expect(forwarded.current([live, gone], at: at(50))?.map(\.id) == [live.id])
        forwarded.insert("u " + live.id, at: at(0))
        #expect(forwarded.contains("u " + live.id, at: at(10)) && !forwarded.contains("u " + live.id, at: at(400)))
    }
}
