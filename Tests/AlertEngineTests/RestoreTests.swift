import AlertEngine
import Foundation
import MetricModel
import Testing

@Suite("Snapshot and for-state restore after a restart")
struct RestoreTests {
    let target = series(["job": "istiod"], 0)

    /// Runs the rule until `downAt`, snapshots, "restarts" at `restartAt` with one evaluation
    /// and a restore, then evaluates once more at `nextAt`.
    func restart(hold: Double, runUntil downAt: Double, restartAt: Double, nextAt: Double,
                 options: RestoreOptions = RestoreOptions()) async throws -> (restored: Set<UInt64>, afterRestore: AlertInstance?, next: [AlertTransition]) {
        let rule = AlertRule(name: "A", expression: "x", holdDuration: .seconds(hold * 60))
        let steps = stride(from: 0.0, through: downAt, by: 1).map { ($0, Result<[Sample], ScriptedError>.success([target])) }
        let (before, _) = await run(rule, steps: steps)
        var sent = before
        if let fingerprint = sent.only.active.keys.first, sent.onlyInstance?.state == .firing {
            sent.markSent(group: "test", rule: "A", fingerprint: fingerprint, at: minute(downAt))
        }
        let snapshot = try JSONDecoder().decode(EngineSnapshot.self, from: JSONEncoder().encode(sent.snapshot(at: minute(downAt))))

        var engine = RuleEngine(groups: [RuleGroup(name: "test", rules: [rule])])
        let datasource = ScriptedDatasource(answers: [minute(restartAt): .success([target]), minute(nextAt): .success([target])])
        _ = await engine.evaluateAll(at: minute(restartAt), using: datasource, logger: quietLogger)
        let restored = engine.restore(from: snapshot, at: minute(restartAt), options: options)
        let afterRestore = engine.onlyInstance
        let next = await engine.evaluateAll(at: minute(nextAt), using: datasource, logger: quietLogger)
        return (restored, afterRestore, next)
    }

    @Test("an alert that had fired stays firing with its activeAt, firedAt and last send: no new firing")
    func alreadyFiring() async throws {
        let result = try await restart(hold: 15, runUntil: 20, restartAt: 25, nextAt: 26)
        #expect(result.restored.count == 1)
        #expect(result.afterRestore?.state == .firing)
        #expect(result.afterRestore?.activeAt == minute(0))
        #expect(result.afterRestore?.firedAt == minute(15))
        #expect(result.afterRestore?.lastSentAt == minute(20))
        #expect(result.next.isEmpty)
    }

    @Test("less than the grace period left: fires one grace period after the restart")
    func withinGrace() async throws {
        // for 15m, pending since 0, down at 10 (5 min left < 10 min grace), back at 12.
        let result = try await restart(hold: 15, runUntil: 10, restartAt: 12, nextAt: 13)
        #expect(result.afterRestore?.activeAt == minute(12 + 10 - 15))
        #expect(result.next.isEmpty)
    }

    @Test("more than the grace period left: the clock moves forward by the downtime")
    func shiftedByDowntime() async throws {
        // for 30m, pending since 0, down at 5 (25 min left), back at 8: 3 minutes lost.
        let result = try await restart(hold: 30, runUntil: 5, restartAt: 8, nextAt: 9)
        #expect(result.afterRestore?.activeAt == minute(3))
    }

    @Test("past the outage tolerance a pending clock starts afresh; a firing alert stays firing (no second page for one incident)")
    func outageTooLong() async throws {
        let pending = try await restart(hold: 30, runUntil: 20, restartAt: 90, nextAt: 91)
        #expect(pending.restored.isEmpty)
        #expect(pending.afterRestore?.activeAt == minute(90))
        let firing = try await restart(hold: 15, runUntil: 20, restartAt: 90, nextAt: 91)
        #expect(firing.restored.count == 1)
        #expect(firing.afterRestore?.state == .firing)
        #expect(firing.afterRestore?.firedAt == minute(15))
        #expect(firing.next.isEmpty)
    }

    @Test("a pending instance of a rule whose for is shorter than the grace period starts afresh")
    func shortHoldPending() async throws {
        let result = try await restart(hold: 5, runUntil: 3, restartAt: 4, nextAt: 5)
        #expect(result.restored.isEmpty)
        #expect(result.afterRestore?.activeAt == minute(4))
        #expect(result.afterRestore?.state == .pending)
    }

    @Test("a firing instance of a rule whose for is shorter than the grace period stays firing")
    func shortHoldFiring() async throws {
        let result = try await restart(hold: 5, runUntil: 20, restartAt: 22, nextAt: 23)
        #expect(result.restored.count == 1)
        #expect(result.afterRestore?.state == .firing)
        #expect(result.afterRestore?.activeAt == minute(0))
        #expect(result.next.isEmpty)
    }

    @Test("a snapshot survives JSON, NaN values included")
    func codable() throws {
        let instance = AlertInstance(labels: Labels(["a": "1"]), annotations: Labels(["s": "x"]), state: .firing, value: .nan,
                                     activeAt: minute(0), firedAt: minute(2), lastSentAt: minute(2))
        let snapshot = EngineSnapshot(takenAt: minute(3), rules: ["A/1": [instance]])
        let decoded = try JSONDecoder().decode(EngineSnapshot.self, from: JSONEncoder().encode(snapshot))
        #expect(decoded == snapshot)
    }
}

/// A firing alert that cleared while the daemon was down gets its resolve after the restart.
@Suite("Restart reconciles: what cleared while down resolves")
struct RestartReconcileTests {
    let target = series(["job": "istiod"], 0)

    func snapshot(_ rule: AlertRule) async throws -> EngineSnapshot {
        let steps = stride(from: 0.0, through: 20, by: 1).map { ($0, Result<[Sample], ScriptedError>.success([target])) }
        let (before, _) = await run(rule, steps: steps)
        return try JSONDecoder().decode(EngineSnapshot.self, from: JSONEncoder().encode(before.snapshot(at: minute(20))))
    }

    @Test("gone at the first evaluation after the restart: resolved then, with the stored activeAt and firedAt")
    func resolvedAfterRestart() async throws {
        let rule = AlertRule(name: "A", expression: "x", holdDuration: .seconds(5 * 60))
        let stored = try await snapshot(rule)
        var engine = RuleEngine(groups: [RuleGroup(name: "test", rules: [rule])])
        _ = await engine.evaluateAll(at: minute(25), using: ScriptedDatasource(answers: [minute(25): .success([])]), logger: quietLogger)
        #expect(engine.restore(from: stored, at: minute(25)).isEmpty)
        let resolved = engine.resolveVanished(from: stored, at: minute(25))
        #expect(resolved.map(\.kind) == [.resolved])
        #expect(resolved.first?.instance.activeAt == minute(0) && resolved.first?.instance.firedAt == minute(5))
        #expect(resolved.first?.instance.resolvedAt == minute(25))
        let left = engine.snapshot(at: minute(25)).rules.values.flatMap { $0 }
        #expect(left.isEmpty)
    }

    @Test("a failed first evaluation resolves nothing; keep_firing_for counts from the first evaluation")
    func failedAndKeepFiring() async throws {
        let rule = AlertRule(name: "A", expression: "x", holdDuration: .seconds(5 * 60))
        let stored = try await snapshot(rule)
        var failing = RuleEngine(groups: [RuleGroup(name: "test", rules: [rule])])
        _ = await failing.evaluateAll(at: minute(25), using: ScriptedDatasource(answers: [minute(25): .failure(ScriptedError(description: "Prometheus down"))]), logger: quietLogger)
        #expect(failing.resolveVanished(from: stored, at: minute(25)).isEmpty)

        var keeping = AlertRule(name: "A", expression: "x", holdDuration: .seconds(5 * 60))
        keeping.keepFiringFor = .seconds(10 * 60)
        let kept = try await snapshot(keeping)
        var engine = RuleEngine(groups: [RuleGroup(name: "test", rules: [keeping])])
        let empty = ScriptedDatasource(answers: [minute(25): .success([]), minute(34): .success([]), minute(35): .success([])])
        _ = await engine.evaluateAll(at: minute(25), using: empty, logger: quietLogger)
        #expect(engine.resolveVanished(from: kept, at: minute(25)).isEmpty)
        #expect(await engine.evaluateAll(at: minute(34), using: empty, logger: quietLogger).isEmpty)
        #expect(await engine.evaluateAll(at: minute(35), using: empty, logger: quietLogger).map(\.kind) == [.resolved])
    }
}
