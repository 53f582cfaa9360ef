import AlertEngine
import Foundation
import Incidents
import Logging
import MeshTestKit
import MeshHTTP
@testable import MeshWatchdCore
import MetricModel
import PromClient
import Synchronization
import Testing

/// The group cycle as a value, and the loop around it driven by a manual clock: no sleeps,
/// no wall clock, every tick's time checked where it ends up.
@Suite("The group cycle: decisions as a value, the loop on a manual clock")
struct GroupCycleTests {
    static let origin = Date(timeIntervalSince1970: 1_750_000_000)
    static func at(_ seconds: Double) -> Date { origin.addingTimeInterval(seconds) }
    /// Times as Prometheus sees them: milliseconds.
    static func millis(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1000).rounded()) }

    static func transition(_ kind: AlertTransition.Kind, _ rule: String, _ labels: [String: String] = [:], at seconds: Double = 0) -> AlertTransition {
        let instance = AlertInstance(labels: Labels(labels.merging(["alertname": rule]) { $1 }), annotations: .empty,
                                     state: kind == .firing ? .firing : kind == .pending ? .pending : .inactive,
                                     value: 1, activeAt: at(0))
        return AlertTransition(kind: kind, group: "g", rule: rule, instance: instance, at: at(seconds))
    }

    @Test("a rule's firings and resolves are announced after that rule; pending and dropped ones at the end of the cycle")
    func announcedPerRule() {
        var cycle = GroupCycle(tick: Self.at(10), restoring: false)
        #expect(cycle.ruleEvaluated([Self.transition(.pending, "A")]) == nil)
        let now = cycle.ruleEvaluated([Self.transition(.firing, "B"), Self.transition(.pending, "B", ["x": "1"])])
        #expect(now?.map(\.kind) == [.firing, .pending])
        #expect(cycle.ruleEvaluated([Self.transition(.resolved, "C")])?.map(\.kind) == [.resolved])
        #expect(cycle.ruleEvaluated([Self.transition(.inactive, "D")]) == nil)
        // What was announced is not decided twice.
        #expect(cycle.remaining().map(\.rule) == ["A", "D"])
    }

    @Test("the first cycle of a start announces nothing early; the restore drops continuations and adds what vanished")
    func restoringCycle() {
        var cycle = GroupCycle(tick: Self.at(10), restoring: true)
        let continued = Self.transition(.firing, "A", ["x": "1"])
        let fresh = Self.transition(.firing, "A", ["x": "2"])
        #expect(cycle.ruleEvaluated([continued, fresh]) == nil)
        let vanished = Self.transition(.resolved, "Gone")
        let left = cycle.remaining(restored: [continued.instance.fingerprint], vanished: [vanished])
        #expect(left.map(\.instance.fingerprint) == [fresh.instance.fingerprint, vanished.instance.fingerprint])
    }

    @Test("ticks are aligned to the interval and offset; a long cycle skips the ticks it overran and counts them")
    func schedule() {
        #expect(GroupSchedule.nextTick(after: Self.at(3), interval: 10, offset: 4) == Self.at(4))
        #expect(GroupSchedule.nextTick(after: Self.at(4), interval: 10, offset: 4) == Self.at(14))
        #expect(GroupSchedule.following(Self.at(4), interval: 10, now: Self.at(6)) == (Self.at(14), 0))
        #expect(GroupSchedule.following(Self.at(4), interval: 10, now: Self.at(14)) == (Self.at(24), 1))
        #expect(GroupSchedule.following(Self.at(4), interval: 10, now: Self.at(39)) == (Self.at(44), 3))
    }

    @Test("the loop on a manual clock: queries at the ticks, pending then firing after for, the finding stamped with the tick, missed ticks counted")
    func loopOnManualClock() async throws {
        let directory = NSTemporaryDirectory() + "meshwatchd-cycle-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try StateStore(path: directory + "/state.sqlite", logger: Logger(label: "test"))
        let group = RuleGroup(name: "g", interval: .seconds(10),
                              rules: [AlertRule(name: "A", expression: "up == 0", holdDuration: .seconds(10))], file: "rules.yml")
        let sink = ConfiguredSink(name: "ops", sink: WebhookSink(name: "ops", url: "http://127.0.0.1:1/", secret: nil, http: HTTPClient()),
                                  alerts: [], severities: [], repeatInterval: nil)
        let notifications = try NotificationSettings.build(nil, sinks: [sink], groups: [group], context: EvaluationContext())
        let settings = DaemonSettings(
            groups: [group], context: EvaluationContext(), defaultInterval: .seconds(10), queryTimeout: .seconds(5), restore: RestoreOptions(),
            datasource: PrometheusDatasource(client: try PrometheusClient(baseURL: "http://127.0.0.1:1", http: HTTPClient()), timeout: .seconds(5)),
            sinks: [sink], notifications: notifications, diagnosis: nil)
        let planner = NotificationPlanner(policy: notifications.policy, routes: notifications.routes, factory: notifications.factory)
        let status = DaemonStatus()
        await status.reset(groups: [("g", 1, .seconds(60), .seconds(10))])
        let logs = CapturedLogs()
        let committer = StateCommitter(store: store, backlog: UnsavedWork(), status: status, outboxSignal: OutboxSignal(),
                                       diagnosisSignal: OutboxSignal(), delays: [:], logger: logs.logger())
        let clock = ManualWallClock(now: Self.at(0))
        let datasource = ScriptedQueries(firingFrom: Self.at(25))
        let loop = GroupLoop(group: group, settings: settings, store: store, status: status, logger: Logger(label: "test"),
                             restoreFromStore: false, planner: planner, committer: committer, clock: clock, datasource: datasource)
        let offset = loop.offset
        let tick = { (n: Int) in Self.at(offset + Double(n) * 10) }
        let running = Task { await loop.run(engine: RuleEngine(groups: [group])) }

        // Each step: the loop sleeps until its next tick; the clock moves there; the cycle runs.
        await clock.sleepers(reach: 1)
        for n in 0...4 {
            clock.advance(to: tick(n))
            await clock.sleepers(reach: n + 2)
        }
        #expect(datasource.times.map(Self.millis) == (0...4).map(tick).map(Self.millis))
        // Series from 25 s: pending at the first tick after it, firing one `for` later.
        let firstHit = (0...4).first { tick($0) >= Self.at(25) } ?? 4
        let queued = try store.due(at: .distantFuture, sink: "ops")
        // The first hit is tick 2 or 3 (the offset is below 10 s), so the firing came by tick 4.
        #expect(firstHit == (offset >= 5 ? 2 : 3))
        #expect(queued.map(\.kind) == ["firing"], "\(logs.entries.map { "\($0.message) \($0.metadata)" })")
        let finding = try Finding.decode(try #require(queued.first).body)
        #expect(Self.millis(finding.alert.activeAt) == Self.millis(tick(firstHit)))
        #expect(finding.alert.firedAt.map(Self.millis) == Self.millis(tick(firstHit + 1)))
        #expect(Self.millis(finding.generatedAt) == Self.millis(tick(firstHit + 1)), "the decision carries the tick's time, not the wall clock's")

        // The clock jumps 35 s past the next tick: that cycle runs late, three ticks are skipped.
        clock.advance(to: tick(5).addingTimeInterval(35))
        await clock.sleepers(reach: 7)
        #expect(datasource.times.last.map(Self.millis) == Self.millis(tick(5)))
        #expect(await status.groupStates.first?.missedTicks == 3)
        clock.advance(to: tick(9))
        await clock.sleepers(reach: 8)
        #expect(datasource.times.last.map(Self.millis) == Self.millis(tick(9)))
        running.cancel()
        _ = await running.value
    }
}

/// Answers `up == 0` with one series from `firingFrom` on, and records every query's time.
final class ScriptedQueries: InstantQuerying, Sendable {
    let firingFrom: Date
    private let recorded = Mutex<[Date]>([])
    init(firingFrom: Date) { self.firingFrom = firingFrom }

    var times: [Date] { recorded.withLock { $0 } }

    func instantQuery(_ expression: String, at time: Date) async throws -> [Sample] {
        recorded.withLock { $0.append(time) }
        guard time >= firingFrom else { return [] }
        return [Sample(labels: Labels(["job": "api"]), point: SamplePoint(timestampMillis: 0, value: 0))]
    }
}

/// The test kit's manual clock drives the group loop.
extension ManualWallClock: TickClock {}
