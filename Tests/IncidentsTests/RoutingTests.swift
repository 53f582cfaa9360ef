import AlertModel
import Foundation
@testable import Incidents
import MetricModel
import Testing

/// Choosing sinks by an alert's labels, as Alertmanager's routes do: matchers, and `continue`.
@Suite("Routing by label matchers: Alertmanager's syntax, first match or continue")
struct RoutingTests {
    func at(_ seconds: Double) -> Date { Date(timeIntervalSince1970: 1_800_000_000 + seconds) }

    func firing(_ labels: [String: String], at time: Double = 0) -> AlertTransition {
        let instance = AlertInstance(labels: Labels(labels.merging(["alertname": "IstioHighErrorRate"]) { a, _ in a }),
                                     annotations: .empty, state: .firing, value: 1, activeAt: at(time), firedAt: at(time))
        return AlertTransition(kind: .firing, group: "g", rule: "IstioHighErrorRate", instance: instance, at: at(time))
    }

    func matchers(_ texts: String...) throws -> [LabelMatcher] { try texts.map { try LabelMatcher(parsing: $0) } }

    @Test("the four operators, quoted and bare values, anchored Go regular expressions, a missing label as empty")
    func matchersMatch() throws {
        let labels = ["namespace": "shop", "severity": "critical", "team": "a\"b"]
        for (text, expected) in [(#"namespace="shop""#, true), ("namespace=shop", true), (#"namespace!="shop""#, false),
                                 (#"namespace=~"sh.*""#, true), (#"namespace=~"ho""#, false),  // anchored: not a substring match
                                 (#"namespace!~"web|api""#, true), (#"team="a\"b""#, true), (#"missing="""#, true),
                                 (#"missing!="""#, false), (#"namespace =~ "shop|web""#, true), (#"severity=~"(?i)CRITICAL""#, true)] {
            #expect(try LabelMatcher(parsing: text).matches(labels) == expected, "\(text)")
        }
        for bad in ["", "=x", "namespace", #"namespace=~"(""#, #"namespace="unterminated"#, #"namespace="a"b"#, #"a="\q""#, "1a=b"] {
            #expect(throws: LabelMatcher.ParseError.self, "\(bad)") { try LabelMatcher(parsing: bad) }
        }
        #expect(try LabelMatcher(parsing: #"a=~"x\"y""#).description == #"a=~"x\"y""#)
    }

    @Test("namespace → team: the first route that matches and does not continue is the last; others take what they match")
    func teams() throws {
        let routes = [
            SinkRoute(name: "team-shop", matchers: try matchers(#"namespace="shop""#), continueMatching: false),
            SinkRoute(name: "team-web", matchers: try matchers(#"namespace=~"web|api""#)),
            SinkRoute(name: "pager", severities: ["critical"], matchers: try matchers(#"namespace!~"dev-.*""#)),
            SinkRoute(name: "everything"),
        ]
        let planner = NotificationPlanner(policy: EscalationPolicy(), routes: routes)
        func sinks(_ labels: [String: String], _ time: Double) -> [String] {
            planner.plan([firing(labels, at: time)], at: at(time)).outgoing.map(\.sink).sorted()
        }
        // shop's team only: its route does not continue, so neither the pager nor everything hear of it.
        #expect(sinks(["namespace": "shop", "severity": "critical"], 0) == ["team-shop"])
        #expect(sinks(["namespace": "web", "severity": "critical"], 1) == ["everything", "pager", "team-web"])
        #expect(sinks(["namespace": "dev-x", "severity": "critical"], 2) == ["everything"])
        #expect(sinks(["namespace": "api", "severity": "warning"], 3) == ["everything", "team-web"])
    }

    @Test("reminders and the resolve follow the same routes, also for a record saved before labels were kept")
    func remindersAndResolves() throws {
        let routes = [SinkRoute(name: "team-shop", repeatInterval: .seconds(60), matchers: try matchers(#"namespace="shop""#)),
                      SinkRoute(name: "team-web", repeatInterval: .seconds(60), matchers: try matchers(#"namespace="web""#))]
        let planner = NotificationPlanner(policy: EscalationPolicy(), routes: routes)
        let transition = firing(["namespace": "shop"])
        #expect(planner.plan([transition], at: at(0)).outgoing.map(\.sink) == ["team-shop"])
        // An old record without labels: the review learns them from the firing instance.
        let key = NotificationPlanner.alertKey(group: "g", fingerprint: transition.instance.fingerprint)
        var old = try #require(planner.records[key])
        old.labels = nil
        let restarted = NotificationPlanner(policy: EscalationPolicy(), routes: routes, records: [key: old])
        let review = restarted.review(group: "g", firing: [("IstioHighErrorRate", transition.instance)], at: at(120))
        #expect(review.outgoing.map(\.sink) == ["team-shop"] && review.outgoing.allSatisfy { $0.kind == .reminder }, "\(review.outgoing)")
        #expect(restarted.records[key]?.labels?["namespace"] == "shop")
        var resolved = transition.instance
        resolved.state = .inactive
        resolved.resolvedAt = at(200)
        let resolve = restarted.plan([AlertTransition(kind: .resolved, group: "g", rule: "IstioHighErrorRate", instance: resolved, at: at(200))], at: at(200))
        #expect(resolve.outgoing.map(\.sink) == ["team-shop"])
    }
}
