import Synchronization
import AlertEngine
import Foundation
import MeshTestKit
import MetricModel
import Testing

@Suite("The alert state machine, evaluation by evaluation")
struct AlertRuleStateTests {
    let target = series(["__name__": "up", "job": "istiod", "instance": "a"], 0)

    @Test("for: pending at first, firing once active for the whole hold, resolved, then dropped after 15 minutes")
    func forAndResolve() async throws {
        let rule = AlertRule(name: "IstiodDown", expression: "up == 0", holdDuration: .seconds(120), labels: [("severity", "critical")])
        let (engine, transitions) = await run(rule, steps: [
            (0, .success([target])), (1, .success([target])), (2, .success([target])), (3, .success([])),
            (10, .success([])), (18.5, .success([])),
        ])
        #expect(transitions.map(\.kind) == [.pending, .firing, .resolved])
        #expect(transitions.map(\.at) == [minute(0), minute(2), minute(3)])
        #expect(transitions[1].instance.activeAt == minute(0))
        #expect(transitions[1].instance.firedAt == minute(2))
        #expect(transitions[2].instance.resolvedAt == minute(3))
        #expect(transitions[0].instance.labels == Labels(["alertname": "IstiodDown", "job": "istiod", "instance": "a", "severity": "critical"]))
        #expect(engine.only.active.isEmpty)  // 15.5 min after the resolve
        #expect(engine.only.health == .ok)
    }

    @Test("a resolved instance is kept, inactive, for 15 minutes")
    func resolvedRetention() async {
        let rule = AlertRule(name: "A", expression: "x")
        let (engine, transitions) = await run(rule, steps: [(0, .success([target])), (1, .success([])), (16, .success([]))])
        #expect(transitions.map(\.kind) == [.firing, .resolved])
        #expect(engine.onlyInstance?.state == .inactive)
        #expect(engine.onlyInstance?.resolvedAt == minute(1))
    }

    @Test("keep_firing_for keeps a vanished firing instance, and resets when the condition returns")
    func keepFiringFor() async {
        let rule = AlertRule(name: "A", expression: "x", holdDuration: .seconds(60), keepFiringFor: .seconds(300))
        var steps: [(Double, Result<[Sample], ScriptedError>)] = [(0, .success([target])), (1, .success([target])),
                                                                  (2, .success([])), (3, .success([target]))]
        for time in stride(from: 4.0, through: 10, by: 1) { steps.append((time, .success([]))) }
        let (engine, transitions) = await run(rule, steps: steps)
        // Gone at 2 (kept), back at 3 (reset), gone from 4: kept while 4..8 (< 5 min), resolved at 9.
        #expect(transitions.map(\.kind) == [.pending, .firing, .resolved])
        #expect(transitions.last?.at == minute(9))
        #expect(transitions.last?.instance.keepFiringSince == minute(4))
        #expect(engine.onlyInstance?.state == .inactive)
    }

    @Test("flapping: a pending instance that vanishes is dropped, and comes back with a new activeAt")
    func flapping() async {
        let rule = AlertRule(name: "A", expression: "x", holdDuration: .seconds(180))
        let (engine, transitions) = await run(rule, steps: [
            (0, .success([target])), (1, .success([])), (2, .success([target])), (3, .success([target])),
        ])
        #expect(transitions.map(\.kind) == [.pending, .inactive, .pending])
        #expect(engine.onlyInstance?.activeAt == minute(2))
        #expect(engine.onlyInstance?.state == .pending)
    }

    @Test("for: 0 fires at once and reports only the firing")
    func zeroHold() async {
        let (_, transitions) = await run(AlertRule(name: "A", expression: "x"), steps: [(0, .success([target]))])
        #expect(transitions.map(\.kind) == [.firing])
        #expect(transitions[0].instance.firedAt == minute(0))
    }

    @Test("a failed query keeps every instance as it was and records the rule's error")
    func queryFailure() async {
        let rule = AlertRule(name: "A", expression: "x", holdDuration: .seconds(60))
        let other = series(["job": "istiod", "instance": "b"], 0)
        let (engine, transitions) = await run(rule, steps: [
            (0, .success([target, other])), (1, .success([target, other])),
            (2, .failure(ScriptedError(description: "Prometheus unreachable"))),
            (3, .failure(ScriptedError(description: "Prometheus unreachable"))),
        ])
        #expect(transitions.map(\.kind) == [.pending, .pending, .firing, .firing])
        #expect(engine.only.active.count == 2)
        #expect(engine.only.active.values.allSatisfy { $0.state == .firing && $0.resolvedAt == nil })
        #expect(engine.only.health == .err)
        #expect(engine.only.lastError == "Prometheus unreachable")
        #expect(engine.only.lastEvaluation == minute(3))

        let (recovered, later) = await run(rule, steps: [
            (0, .success([target])), (1, .success([target])), (2, .failure(ScriptedError(description: "down"))),
            (3, .success([target])),
        ])
        #expect(later.map(\.kind) == [.pending, .firing])
        #expect(recovered.only.health == .ok)
        #expect(recovered.only.lastError == nil)
    }

    @Test("two series with the same label set after the rule's labels are an error, and change nothing")
    func duplicateLabelSets() async {
        let rule = AlertRule(name: "A", expression: "x", labels: [("severity", "warning")])
        let a = series(["__name__": "metric_a", "job": "j"]), b = series(["__name__": "metric_b", "job": "j"])
        let (engine, transitions) = await run(rule, steps: [(0, .success([a])), (1, .success([a, b]))])
        #expect(transitions.map(\.kind) == [.firing])
        #expect(engine.only.health == .err)
        #expect(engine.only.lastError == "vector contains metrics with the same labelset after applying alert labels")
        #expect(engine.onlyInstance?.state == .firing)
    }

    @Test("more instances than the group's limit fail the rule and clear its instances")
    func limit() async {
        let rule = AlertRule(name: "A", expression: "x")
        let three = (1...3).map { series(["instance": "\($0)"]) }
        let (engine, _) = await run(rule, limit: 2, steps: [(0, .success(Array(three.prefix(2)))), (1, .success(three))])
        #expect(engine.only.health == .err)
        #expect(engine.only.lastError == "exceeded limit of 2 with 3 alerts")
        #expect(engine.only.active.isEmpty)
    }

    @Test("over its limit a rule announces each earlier instance's end once, then nothing while it stays over; back within, the instances are new")
    func limitTransitions() async {
        let rule = AlertRule(name: "A", expression: "x", holdDuration: .seconds(120))
        let three = (1...3).map { series(["instance": "\($0)"]) }
        let two = Array(three.prefix(2))
        // 0: two pending; 2: both fire; 3–5: three, over the limit; 6: two again, new; 8: they fire.
        let (engine, transitions) = await run(rule, limit: 2, steps: [
            (0, .success(two)), (1, .success(two)), (2, .success(two)), (3, .success(three)), (4, .success(three)),
            (5, .success(three)), (6, .success(two)), (7, .success(two)), (8, .success(two)),
        ])
        func kinds(at time: Double) -> [String] {
            transitions.filter { $0.at == minute(time) }.map { "\($0.kind.rawValue) \($0.instance.labels["instance"] ?? "")" }.sorted()
        }
        #expect(kinds(at: 2) == ["firing 1", "firing 2"])
        #expect(kinds(at: 3) == ["resolved 1", "resolved 2"])  // the two that had fired end; the third was never announced
        #expect(kinds(at: 4).isEmpty && kinds(at: 5).isEmpty)  // old main: a new firing for each instance at every step
        #expect(kinds(at: 6) == ["pending 1", "pending 2"])
        #expect(transitions.filter { $0.at == minute(6) }.allSatisfy { $0.instance.activeAt == minute(6) })
        #expect(kinds(at: 8) == ["firing 1", "firing 2"])
        #expect(engine.only.health == .ok)
    }

    @Test("a pending instance dropped by the limit goes inactive; the limit error is the rule's, not the datasource's")
    func limitDropsPending() async {
        let rule = AlertRule(name: "A", expression: "x", holdDuration: .seconds(600))
        let three = (1...3).map { series(["instance": "\($0)"]) }
        let (engine, transitions) = await run(rule, limit: 2, steps: [(0, .success(Array(three.prefix(2)))), (1, .success(three))])
        #expect(transitions.filter { $0.at == minute(1) }.map(\.kind) == [.inactive, .inactive])
        #expect(engine.only.health == .err)
        #expect(!engine.only.lastErrorIsDatasource)
    }

    @Test("query_offset: the group's, else the global one; the query asks that long before the evaluation, activeAt stays on it")
    func queryOffset() async {
        final class Recording: InstantQuerying {
            let times = Mutex<[Date]>([])
            func instantQuery(_ expression: String, at time: Date) async throws -> [Sample] {
                times.withLock { $0.append(time) }
                return [series(["instance": "a"])]
            }
        }
        let rule = AlertRule(name: "A", expression: "x")
        for (groupOffset, globalOffset, expected) in [(Duration?.none, Duration.seconds(120), 120.0), (.seconds(30), .seconds(120), 30),
                                                      (.zero, .seconds(120), 0), (nil, .zero, 0)] {
            var engine = RuleEngine(groups: [RuleGroup(name: "g", queryOffset: groupOffset, rules: [rule])],
                                    context: EvaluationContext(queryOffset: globalOffset))
            let datasource = Recording()
            _ = await engine.evaluateAll(at: minute(10), using: datasource, logger: quietLogger)
            #expect(datasource.times.withLock { $0 } == [minute(10).addingTimeInterval(-expected)])
            #expect(engine.onlyInstance?.activeAt == minute(10))
        }
    }

    @Test("labels and annotations are templated; an empty label is dropped; a broken template shows Prometheus's error text")
    func templating() async {
        let rule = AlertRule(
            name: "HighErrorRate", expression: "x", labels: [("severity", "critical"), ("team", "{{ $labels.owner }}"),
                                                              ("empty", "")],
            annotations: [("summary", "{{ $labels.service }} at {{ $value | humanizePercentage }} of {{ $externalLabels.cluster }}"),
                          ("broken", "{{ humanize $labels.service }}")])
        let context = EvaluationContext(externalLabels: ["cluster": "prod-eu"])
        let (engine, _) = await run(rule, context: context, steps: [
            (0, .success([series(["service": "reviews", "owner": "books"], 0.1234)])),
        ])
        let instance = engine.onlyInstance
        #expect(instance?.labels == Labels(["alertname": "HighErrorRate", "service": "reviews", "owner": "books", "severity": "critical",
                                            "team": "books"]))
        #expect(instance?.annotations["summary"] == "reviews at 12.34% of prod-eu")
        #expect(instance?.annotations["broken"]?.hasPrefix("<error expanding template: ") == true)
        #expect(instance?.annotations["broken"]?.contains("strconv.ParseFloat: parsing \"reviews\"") == true)
    }

    @Test("annotations and value follow the latest evaluation while the instance stays active")
    func valueUpdates() async {
        let rule = AlertRule(name: "A", expression: "x", holdDuration: .seconds(600), annotations: [("v", "{{ $value }}")])
        let (engine, _) = await run(rule, steps: [(0, .success([series(["a": "1"], 0.5)])), (1, .success([series(["a": "1"], 2e6)]))])
        #expect(engine.onlyInstance?.value == 2e6)
        #expect(engine.onlyInstance?.annotations["v"] == "2e+06")
        #expect(engine.onlyInstance?.activeAt == minute(0))
    }

    @Test("needsSending: never pending, at once after a resolve, else after the resend delay")
    func needsSending() {
        var alert = AlertInstance(labels: Labels(["a": "1"]), annotations: .empty, state: .pending, value: 1, activeAt: minute(0))
        #expect(!alert.needsSending(at: minute(1), resendDelay: .seconds(60)))
        alert.state = .firing
        #expect(alert.needsSending(at: minute(1), resendDelay: .seconds(60)))
        alert.lastSentAt = minute(1)
        #expect(!alert.needsSending(at: minute(1.5), resendDelay: .seconds(60)))
        #expect(alert.needsSending(at: minute(2.1), resendDelay: .seconds(60)))
        alert.state = .inactive
        alert.resolvedAt = minute(1.2)
        #expect(alert.needsSending(at: minute(1.3), resendDelay: .seconds(60)))
    }
}

@Suite("Rule failure logging")
struct RuleFailureLoggingTests {
    @Test("a failing rule is logged once per distinct error, and its recovery once")
    func loggedOnChange() async {
        let logs = CapturedLogs()
        var engine = RuleEngine(groups: [RuleGroup(name: "g", rules: [AlertRule(name: "A", expression: "x")])])
        let answers: [(Double, Result<[Sample], ScriptedError>)] = [
            (0, .failure(ScriptedError(description: "down"))), (1, .failure(ScriptedError(description: "down"))),
            (2, .failure(ScriptedError(description: "timeout"))), (3, .success([])), (4, .success([])),
        ]
        for (time, answer) in answers {
            _ = await engine.evaluateAll(at: minute(time), using: ScriptedDatasource(answers: [minute(time): answer]),
                                         logger: logs.logger())
        }
        #expect(logs.entries.map(\.message) == ["rule evaluation failed", "rule evaluation failed", "rule evaluation recovered"])
        #expect(logs.entries.map { $0.metadata["error"] ?? "" } == ["down", "timeout", ""])
    }
}
