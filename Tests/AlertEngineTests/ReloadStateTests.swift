import AlertEngine
import Foundation
import MetricModel
import Testing

/// A reload carries state like Prometheus's `CopyState`: by group, rule name and rule labels.
@Suite("State across a reload")
struct ReloadStateTests {
    let target = series(["job": "api"], 3)

    /// Fires `old` (for 1m) over minutes 0…3, then reloads into `new` at 3.5 and evaluates at 4 and 10.
    func reload(into new: [AlertRule], old: AlertRule = AlertRule(name: "A", expression: "x > 1", holdDuration: .seconds(60),
                                                                   labels: [("severity", "page")]))
        async -> (orphans: [AlertTransition], after: [AlertTransition], engine: RuleEngine) {
        let (before, transitions) = await run(old, steps: (0...3).map { (Double($0), .success([target])) })
        #expect(transitions.map(\.kind) == [.pending, .firing])
        var engine = RuleEngine(groups: [RuleGroup(name: "test", rules: new)])
        let orphans = engine.adoptState(from: before, at: minute(3.5))
        var after: [AlertTransition] = []
        for time in [4.0, 10] {
            after += await engine.evaluateAll(at: minute(time), using: ScriptedDatasource(answers: [minute(time): .success([target])]),
                                              logger: quietLogger)
        }
        return (orphans, after, engine)
    }

    @Test("an expression edit keeps the firing alert: no resolve, no new firing, same activeAt")
    func expressionEdit() async {
        let result = await reload(into: [AlertRule(name: "A", expression: "x > 2", holdDuration: .seconds(60), labels: [("severity", "page")])])
        #expect(result.orphans.isEmpty)
        #expect(result.after.isEmpty)
        #expect(result.engine.onlyInstance?.state == .firing)
        #expect(result.engine.onlyInstance?.activeAt == minute(0))
        #expect(result.engine.onlyInstance?.firedAt == minute(1))
    }

    @Test("a longer for never demotes a firing alert to pending")
    func longerForKeepsFiring() async {
        let result = await reload(into: [AlertRule(name: "A", expression: "x > 1", holdDuration: .seconds(3600), labels: [("severity", "page")])])
        #expect(result.orphans.isEmpty)
        #expect(result.after.isEmpty)
        #expect(result.engine.onlyInstance?.state == .firing)
    }

    @Test("an annotation edit keeps the instance and takes the new text")
    func annotationEdit() async {
        let result = await reload(into: [AlertRule(name: "A", expression: "x > 1", holdDuration: .seconds(60), labels: [("severity", "page")],
                                                   annotations: [("summary", "value {{ $value }}")])])
        #expect(result.after.isEmpty)
        #expect(result.engine.onlyInstance?.annotations["summary"] == "value 3")
    }

    @Test("a changed for applies to a pending instance's carried clock")
    func pendingClockCarried() async {
        let old = AlertRule(name: "B", expression: "x", holdDuration: .seconds(3600))
        let (before, _) = await run(old, steps: [(0, .success([target])), (1, .success([target]))])
        #expect(before.onlyInstance?.state == .pending)
        var engine = RuleEngine(groups: [RuleGroup(name: "test", rules: [AlertRule(name: "B", expression: "x", holdDuration: .seconds(300))])])
        #expect(engine.adoptState(from: before, at: minute(1.5)).isEmpty)
        var kinds: [(Double, AlertTransition.Kind)] = []
        for time in [2.0, 4, 5] {
            let transitions = await engine.evaluateAll(at: minute(time), using: ScriptedDatasource(answers: [minute(time): .success([target])]),
                                                       logger: quietLogger)
            kinds += transitions.map { (time, $0.kind) }
        }
        // Pending since 0 with for 5m: fires at 5, not 5 minutes after the reload.
        #expect(kinds.map(\.0) == [5])
        #expect(kinds.map(\.1) == [.firing])
        #expect(engine.onlyInstance?.activeAt == minute(0))
    }

    @Test("a label edit is a new rule: the old instance resolves, the new one starts pending")
    func labelEdit() async {
        let result = await reload(into: [AlertRule(name: "A", expression: "x > 1", holdDuration: .seconds(60), labels: [("severity", "ticket")])])
        #expect(result.orphans.map(\.kind) == [.resolved])
        #expect(result.orphans.first?.instance.labels["severity"] == "page")
        #expect(result.orphans.first?.instance.activeAt == minute(0))
        #expect(result.orphans.first?.at == minute(3.5))
        #expect(result.after.map(\.kind) == [.pending, .firing])
        #expect(result.after.first?.instance.activeAt == minute(4))
    }

    @Test("a removed rule's firing alerts resolve; another rule's are untouched")
    func removedRule() async {
        let result = await reload(into: [AlertRule(name: "Other", expression: "y")])
        #expect(result.orphans.map(\.rule) == ["A"])
        #expect(result.orphans.map(\.kind) == [.resolved])
    }

    @Test("rules sharing name and labels are paired in file order, each with its own state")
    func duplicatesPairedInOrder() async {
        let first = AlertRule(name: "D", expression: "x > 1")
        let second = AlertRule(name: "D", expression: "x > 100")
        let group = RuleGroup(name: "test", rules: [first, second])
        #expect(group.rules[0].identity != group.rules[1].identity)
        var engine = RuleEngine(groups: [group])
        let datasource = ScriptedDatasource(answers: [minute(0): .success([target])])
        _ = await engine.evaluateAll(at: minute(0), using: datasource, logger: quietLogger)
        var edited = RuleEngine(groups: [RuleGroup(name: "test", rules: [AlertRule(name: "D", expression: "x > 2"), second])])
        #expect(edited.adoptState(from: engine, at: minute(0.5)).isEmpty)
        #expect(edited.groups[0].rules.map(\.active.count) == engine.groups[0].rules.map(\.active.count))
    }

    @Test("a whole group removed: every firing instance resolves with its clocks")
    func groupRemoved() async {
        let (before, _) = await run(AlertRule(name: "A", expression: "x"), steps: [(0, .success([target]))])
        let resolves = before.resolveAll(at: minute(2))
        #expect(resolves.map(\.kind) == [.resolved])
        #expect(resolves.first?.instance.firedAt == minute(0))
        #expect(resolves.first?.instance.resolvedAt == minute(2))
    }

    @Test("a restart after an expression edit restores the clocks (identity is name and labels)")
    func restartAfterEdit() async throws {
        let (before, _) = await run(AlertRule(name: "A", expression: "x", holdDuration: .seconds(60)),
                                    steps: (0...3).map { (Double($0), .success([target])) })
        let snapshot = before.snapshot(at: minute(3))
        var engine = RuleEngine(groups: [RuleGroup(name: "test", rules: [AlertRule(name: "A", expression: "x > 0", holdDuration: .seconds(60))])])
        _ = await engine.evaluateAll(at: minute(4), using: ScriptedDatasource(answers: [minute(4): .success([target])]), logger: quietLogger)
        #expect(engine.restore(from: snapshot, at: minute(4)).count == 1)
        #expect(engine.onlyInstance?.state == .firing)
        #expect(engine.onlyInstance?.activeAt == minute(0))
    }

    @Test("a rule removed while the daemon was down: its firing instance resolves at the first evaluation")
    func removedWhileDown() async throws {
        let (before, _) = await run(AlertRule(name: "Gone", expression: "x"), steps: [(0, .success([target]))])
        let snapshot = before.snapshot(at: minute(1))
        var engine = RuleEngine(groups: [RuleGroup(name: "test", rules: [AlertRule(name: "Kept", expression: "y")])])
        _ = await engine.evaluateAll(at: minute(5), using: ScriptedDatasource(answers: [:]), logger: quietLogger)
        let resolved = engine.resolveVanished(from: snapshot, at: minute(5))
        #expect(resolved.map(\.rule) == ["Gone"])
        #expect(resolved.map(\.kind) == [.resolved])
        #expect(resolved.first?.instance.activeAt == minute(0))
    }

    @Test("a restart after `for` was raised keeps a firing alert firing with its clocks, as a reload does")
    func restartAfterRaisingFor() async throws {
        let (before, _) = await run(AlertRule(name: "A", expression: "x", holdDuration: .seconds(60)),
                                    steps: (0...10).map { (Double($0), .success([target])) })
        let snapshot = before.snapshot(at: minute(10))
        var engine = RuleEngine(groups: [RuleGroup(name: "test", rules: [AlertRule(name: "A", expression: "x", holdDuration: .seconds(1800))])])
        _ = await engine.evaluateAll(at: minute(12), using: ScriptedDatasource(answers: [minute(12): .success([target])]), logger: quietLogger)
        #expect(engine.restore(from: snapshot, at: minute(12)).count == 1)
        #expect(engine.onlyInstance?.state == .firing)
        #expect(engine.onlyInstance?.firedAt == minute(1))
        let next = await engine.evaluateAll(at: minute(13), using: ScriptedDatasource(answers: [minute(13): .success([target])]), logger: quietLogger)
        #expect(next.isEmpty)
    }

    @Test("a restart with Prometheus down: the stored instances stay until the rule's first success, which resolves what vanished")
    func restartWhileFailing() async throws {
        let (before, _) = await run(AlertRule(name: "A", expression: "x"), steps: [(0, .success([target]))])
        let snapshot = before.snapshot(at: minute(1))
        var engine = RuleEngine(groups: [RuleGroup(name: "test", rules: [AlertRule(name: "A", expression: "x")])])
        let down = ScriptedDatasource(answers: [minute(5): .failure(ScriptedError(description: "connection refused"))])
        _ = await engine.evaluateAll(at: minute(5), using: down, logger: quietLogger)
        engine.restore(from: snapshot, at: minute(5))
        #expect(engine.resolveVanished(from: snapshot, at: minute(5)).isEmpty)
        // Kept as it was, so the next save still holds it.
        #expect(engine.snapshot(at: minute(5)).rules.values.flatMap { $0 }.map(\.state) == [.firing])
        let back = await engine.evaluateAll(at: minute(6), using: ScriptedDatasource(answers: [minute(6): .success([])]), logger: quietLogger)
        #expect(back.map(\.kind) == [.resolved])
        #expect(back.first?.instance.activeAt == minute(0))
    }
}
