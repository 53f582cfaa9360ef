import AlertEngine
import Foundation
import MetricModel
import Synchronization
import Testing

@Suite("Replay: each group on its own interval")
struct ReplayTests {
    /// Records the time of every query per expression.
    final class Recording: InstantQuerying, Sendable {
        let times = Mutex<[String: [Date]]>([:])
        func instantQuery(_ expression: String, at time: Date) async throws -> [Sample] {
            times.withLock { $0[expression, default: []].append(time) }
            return []
        }
    }

    @Test("a 30s group and a 1m group over two minutes: five and three evaluations at their own ticks, five steps in time order")
    func ownIntervals() async {
        var engine = RuleEngine(groups: [RuleGroup(name: "fast", interval: .seconds(30), rules: [AlertRule(name: "F", expression: "fast")]),
                                         RuleGroup(name: "slow", interval: .seconds(60), rules: [AlertRule(name: "S", expression: "slow")])])
        let datasource = Recording()
        var stepTimes: [Date] = []
        let steps = await engine.replay(from: minute(0), to: minute(2), interval: { $0.interval ?? .seconds(30) }, using: datasource,
                                        logger: quietLogger) { step in
            stepTimes.append(step.time)
            #expect(step.total == 5)
            return true
        }
        #expect(steps == 5)
        #expect(stepTimes == [0, 0.5, 1, 1.5, 2].map(minute))
        let times = datasource.times.withLock { $0 }
        #expect(times["fast"] == [0, 0.5, 1, 1.5, 2].map(minute))
        #expect(times["slow"] == [0, 1, 2].map(minute))
    }
}
