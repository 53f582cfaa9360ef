import AlertModel
import Foundation
@testable import Incidents
import MetricModel
import Testing

/// The notification planner with the time passed in: every step below is an explicit instant.
@Suite("Reminders, escalation levels and emergencies, with a manual clock")
struct EscalationTests {
    let start = Date(timeIntervalSince1970: 1_750_000_000)
    func at(_ seconds: Double) -> Date { start.addingTimeInterval(seconds) }

    /// Level 1: the team's webhook and Alertmanager (resent every minute); level 2 after 30 min:
    /// the pager; level 3 after 2 h: the managers' pager.
    func planner(records: [String: NotificationRecord] = [:], emergency: Int = 3) -> NotificationPlanner {
        NotificationPlanner(
            policy: EscalationPolicy(emergencyCriticalWorkloads: emergency, datasourceDownAfter: .seconds(300)),
            routes: [
                SinkRoute(name: "team"),
                SinkRoute(name: "am", repeatInterval: .seconds(60)),
                SinkRoute(name: "pager", severities: ["critical"], level: 2),
                SinkRoute(name: "managers", level: 3),
            ],
            records: records)
    }

    func instance(_ workload: String, severity: String = "critical", activeAt: Double = 0, firedAt: Double = 120) -> AlertInstance {
        AlertInstance(labels: Labels(["alertname": "IstioHighErrorRate", "severity": severity, "destination_workload": workload,
                                      "destination_workload_namespace": "shop"]),
                      annotations: Labels(["summary": "\(workload) fails"]), state: .firing, value: 0.12,
                      activeAt: at(activeAt), firedAt: at(firedAt))
    }

    func transition(_ kind: AlertTransition.Kind, _ instance: AlertInstance, _ time: Double) -> AlertTransition {
        var instance = instance
        if kind == .resolved {
            instance.state = .inactive
            instance.resolvedAt = at(time)
        }
        return AlertTransition(kind: kind, group: "istio", rule: "IstioHighErrorRate", instance: instance, at: at(time))
    }

    func sent(_ plan: NotificationPlan) -> [String] {
        plan.outgoing.map { "\($0.sink):\($0.kind.rawValue)" }.sorted()
    }

    func levels(_ plan: NotificationPlan) throws -> Set<Int> {
        Set(try plan.outgoing.map { try Finding.decode($0.body).escalationLevel })
    }

    @Test("level 1 at once; level 2 after 30 minutes still firing; level 3 after 2 hours; the resolve reaches every sink that heard")
    func levelsByTime() throws {
        let planner = planner()
        let reviews = instance("reviews")
        let fired = planner.plan([transition(.firing, reviews, 120)], at: at(120))
        #expect(sent(fired) == ["am:firing", "team:firing"])
        #expect(try levels(fired) == [1])

        // 29 minutes after firing: still level 1 (Alertmanager is refreshed, nothing else).
        #expect(sent(planner.review(group: "istio", firing: [("IstioHighErrorRate", reviews)], at: at(120 + 29 * 60))) == ["am:reminder"])
        // 30 minutes: level 2, told to every sink of levels 1 and 2.
        let second = planner.review(group: "istio", firing: [("IstioHighErrorRate", reviews)], at: at(120 + 30 * 60))
        #expect(sent(second) == ["am:escalated", "pager:escalated", "team:escalated"])
        #expect(try levels(second) == [2])
        #expect(planner.records.values.first?.level == 2)
        // 2 hours: level 3 reaches the managers too.
        let third = planner.review(group: "istio", firing: [("IstioHighErrorRate", reviews)], at: at(120 + 2 * 3600))
        #expect(sent(third) == ["am:escalated", "managers:escalated", "pager:escalated", "team:escalated"])
        #expect(try levels(third) == [3])

        let resolved = planner.plan([transition(.resolved, reviews, 120 + 2 * 3600 + 30)], at: at(120 + 2 * 3600 + 30))
        #expect(sent(resolved) == ["am:resolved", "managers:resolved", "pager:resolved", "team:resolved"])
        #expect(resolved.removals.count == 1 && planner.records.isEmpty)
    }

    @Test("a warning never reaches a sink that takes critical only, even at level 2")
    func filtersHoldAtEveryLevel() {
        let planner = planner()
        let latency = instance("ratings", severity: "warning")
        _ = planner.plan([transition(.firing, latency, 120)], at: at(120))
        #expect(sent(planner.review(group: "istio", firing: [("IstioHighErrorRate", latency)], at: at(120 + 31 * 60)))
                == ["am:escalated", "team:escalated"])
    }

    @Test("reminders every repeat interval per sink: Alertmanager each minute, the webhook every 4 hours; ids stable and distinct")
    func reminders() throws {
        let planner = NotificationPlanner(policy: EscalationPolicy(delays: [.zero]),
                                          routes: [SinkRoute(name: "team"), SinkRoute(name: "am", repeatInterval: .seconds(60))])
        let reviews = instance("reviews")
        let fired = planner.plan([transition(.firing, reviews, 120)], at: at(120))
        var reminderIDs: Set<String> = []
        var teamReminders: [Double] = []
        var amReminders = 0
        // Every 30 s for 9 hours, as a group loop reviews after each cycle.
        for step in 1...(9 * 120) {
            let time = 120 + Double(step) * 30
            for outgoing in planner.review(group: "istio", firing: [("IstioHighErrorRate", reviews)], at: at(time)).outgoing {
                #expect(outgoing.kind == .reminder)
                if outgoing.sink == "team" {
                    teamReminders.append(time - 120)
                    #expect(reminderIDs.insert(outgoing.id).inserted)
                } else {
                    amReminders += 1
                }
            }
        }
        #expect(teamReminders == [4 * 3600, 8 * 3600])
        #expect(amReminders == 9 * 60)
        #expect(!reminderIDs.contains(fired.outgoing[0].id))
        #expect(try Finding.decode(planner.review(group: "istio", firing: [("IstioHighErrorRate", reviews)], at: at(120 + 9 * 3600 + 60)).outgoing[0].body).kind == .reminder)
    }

    @Test("emergency: the third distinct critical workload goes straight to level 2, and the others escalate on the next review")
    func criticalWorkloads() throws {
        let planner = planner()
        let a = instance("reviews"), b = instance("ratings"), c = instance("details")
        // Two instances of one workload (two rules, say) count once.
        var sameWorkload = instance("reviews")
        sameWorkload.labels = Labels(["alertname": "IstioHighLatency", "severity": "critical", "destination_workload": "reviews",
                                      "destination_workload_namespace": "shop"])
        let warning = instance("productpage", severity: "warning")
        let first = planner.plan([transition(.firing, a, 120), transition(.firing, sameWorkload, 120), transition(.firing, b, 120),
                                  transition(.firing, warning, 120)], at: at(120))
        #expect(try levels(first) == [1])
        #expect(!sent(first).contains { $0.hasPrefix("pager") })
        let third = planner.plan([transition(.firing, c, 150)], at: at(150))
        #expect(sent(third) == ["am:firing", "pager:firing", "team:firing"])
        #expect(try levels(third) == [2])
        #expect(planner.records.values.filter(\.emergency).count == 1)  // only the third, so far

        let review = planner.review(group: "istio", firing: [("IstioHighErrorRate", a), ("IstioHighLatency", sameWorkload),
                                                             ("IstioHighErrorRate", b), ("IstioHighErrorRate", c),
                                                             ("IstioHighErrorRate", warning)], at: at(180))
        // The three critical alerts fired at level 1 escalate; the warning stays where it is.
        #expect(review.outgoing.filter { $0.kind == .escalated && $0.sink == "pager" }.count == 3)
        #expect(review.outgoing.filter { $0.kind == .escalated }.allSatisfy { !$0.alertKey.isEmpty })
        #expect(planner.records.values.filter { $0.level == 2 }.count == 4)
        #expect(planner.records.values.filter { $0.severity == "warning" }.allSatisfy { $0.level == 1 })
    }

    @Test("the criterion counts only firing alerts: after resolves the next critical alert starts at level 1 again")
    func emergencyEnds() throws {
        let planner = planner()
        let a = instance("reviews"), b = instance("ratings"), c = instance("details")
        _ = planner.plan([transition(.firing, a, 120), transition(.firing, b, 120), transition(.firing, c, 120)], at: at(120))
        _ = planner.plan([transition(.resolved, a, 200), transition(.resolved, b, 200)], at: at(200))
        let next = planner.plan([transition(.firing, instance("productpage"), 300)], at: at(300))
        #expect(try levels(next) == [1])
        #expect(planner.plan([], at: at(300)).isEmpty)
    }

    @Test("an alert whose rule labels it an emergency (security breach suspected) goes straight to the emergency level, alone")
    func labelledEmergency() throws {
        let planner = planner()
        var denied = instance("reviews")
        denied.labels = Labels(["alertname": "IstioAuthorizationDenied", "severity": "critical", "emergency": "security breach suspected",
                                "destination_workload": "reviews", "destination_workload_namespace": "shop"])
        let plan = planner.plan([transition(.firing, denied, 120)], at: at(120))
        #expect(sent(plan) == ["am:firing", "pager:firing", "team:firing"])
        #expect(try levels(plan) == [2])
        #expect(planner.records.values.allSatisfy { $0.emergency })
        // An empty emergency label is no criterion.
        let other = planner.plan([transition(.firing, {
            var plain = instance("ratings")
            plain.labels = Labels(["alertname": "IstioHighErrorRate", "severity": "critical", "emergency": "", "destination_workload": "ratings"])
            return plain
        }(), 130)], at: at(130))
        #expect(try levels(other) == [1])
    }

    @Test("MeshWatchDatasourceDown fires at level 2 after the configured outage, is repeated, and resolves when Prometheus answers")
    func datasourceDown() throws {
        let planner = planner()
        #expect(planner.datasource(reachable: false, error: "connection refused", at: at(0)).isEmpty)
        #expect(planner.datasource(reachable: false, error: "connection refused", at: at(299)).isEmpty)
        let down = planner.datasource(reachable: false, error: "connection refused", labels: ["prometheus": "http://prom:9090"], at: at(300))
        #expect(sent(down) == ["am:firing", "pager:firing", "team:firing"])
        let finding = try Finding.decode(down.outgoing[0].body)
        #expect(finding.alert.name == "MeshWatchDatasourceDown")
        #expect(finding.alert.labels["prometheus"] == "http://prom:9090")
        #expect(finding.escalationLevel == 2 && finding.severity == "critical")
        #expect(finding.alert.activeAt == at(0))
        #expect(finding.alert.annotations["description"]?.contains("connection refused") == true)
        #expect(down.upserts.count == 1)

        #expect(sent(planner.datasource(reachable: false, error: "connection refused", at: at(361))) == ["am:reminder"])
        // Still down after 2 h of firing: level 3.
        #expect(sent(planner.datasource(reachable: false, error: "x", at: at(300 + 7200))).contains("managers:escalated"))

        let up = planner.datasource(reachable: true, error: "", at: at(8000))
        #expect(sent(up) == ["am:resolved", "managers:resolved", "pager:resolved", "team:resolved"])
        let resolved = try Finding.decode(up.outgoing[0].body)
        #expect(resolved.kind == .resolved && resolved.alert.resolvedAt == at(8000))
        #expect(resolved.alert.fingerprint == finding.alert.fingerprint)
        #expect(planner.records.isEmpty)
        #expect(planner.datasource(reachable: true, error: "", at: at(8001)).isEmpty)
        // A short blip does not fire.
        _ = planner.datasource(reachable: false, error: "x", at: at(9000))
        #expect(planner.datasource(reachable: true, error: "", at: at(9100)).isEmpty)
        #expect(planner.datasource(reachable: false, error: "x", at: at(9200)).isEmpty)
    }

    @Test("records carried into a new planner (a restart) neither repeat the firing nor reset the reminder and escalation clocks")
    func restart() throws {
        let before = planner()
        let reviews = instance("reviews")
        _ = before.plan([transition(.firing, reviews, 120)], at: at(120))
        let encoded = try JSONEncoder().encode(before.records)
        let after = planner(records: try JSONDecoder().decode([String: NotificationRecord].self, from: encoded))
        #expect(sent(after.review(group: "istio", firing: [("IstioHighErrorRate", reviews)], at: at(150))).isEmpty)
        #expect(sent(after.review(group: "istio", firing: [("IstioHighErrorRate", reviews)], at: at(181))) == ["am:reminder"])
        #expect(sent(after.review(group: "istio", firing: [("IstioHighErrorRate", reviews)], at: at(120 + 1800)))
                == ["am:escalated", "pager:escalated", "team:escalated"])
    }

    @Test("an alert firing without a record (state from before records were kept) is adopted silently; a rule gone drops its record")
    func adoption() {
        let planner = planner()
        let reviews = instance("reviews")
        let adopted = planner.review(group: "istio", firing: [("IstioHighErrorRate", reviews)], at: at(500))
        #expect(adopted.outgoing.isEmpty && adopted.upserts.count == 1)
        let gone = planner.review(group: "istio", firing: [], at: at(530))
        #expect(gone.removals.count == 1 && planner.records.isEmpty)
    }

    @Test("a reload that removes a group drops its records, and only its")
    func prune() {
        let planner = planner()
        _ = planner.plan([transition(.firing, instance("reviews"), 120)], at: at(120))
        _ = planner.datasource(reachable: false, error: "x", at: at(0))
        _ = planner.datasource(reachable: false, error: "x", at: at(400))
        #expect(planner.records.count == 2)
        #expect(planner.prune(keepingGroups: ["istio"]).removals.isEmpty)
        let pruned = planner.prune(keepingGroups: ["other"])
        #expect(pruned.removals.count == 1)
        #expect(planner.records.values.map(\.group) == ["meshwatchd"])  // the daemon's own alert stays
    }

    @Test("the same transition planned twice gives the same finding ids (the receivers' idempotency keys)")
    func stableIDs() {
        let one = planner().plan([transition(.firing, instance("reviews"), 120)], at: at(120))
        let two = planner().plan([transition(.firing, instance("reviews"), 120)], at: at(125))
        #expect(one.outgoing.map(\.id) == two.outgoing.map(\.id))
    }
}
