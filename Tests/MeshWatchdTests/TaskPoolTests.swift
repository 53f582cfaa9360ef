import Foundation
@testable import MeshWatchdCore
import Synchronization
import Testing

/// The daemon's default executor (TaskPool over CTaskPool), used here through task executor
/// preference; `IdleWakeupTests` checks it installed in a running daemon.
@Suite("TaskPool: tasks and sleeps on a fixed set of threads, and no timer that wakes on a period")
struct TaskPoolTests {
    /// The calling thread's name as the kernel has it.
    static func threadName() -> String {
        ((try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8)) ?? "").trimmingCharacters(in: .newlines)
    }

    /// What tasks record, shared with them.
    final class Record<Value: Sendable>: Sendable {
        let value: Mutex<Value>
        init(_ initial: Value) { value = Mutex(initial) }
    }

    /// Waits (up to 120 s: the whole suite runs beside) until `condition` holds for the pool's figures.
    static func until(_ pool: TaskPool, _ condition: (TaskPool.Statistics) -> Bool) async throws -> TaskPool.Statistics {
        let deadline = ContinuousClock.now + .seconds(120)
        while ContinuousClock.now < deadline {
            if condition(pool.statistics) { return pool.statistics }
            try await Task.sleep(for: .milliseconds(10))
        }
        return pool.statistics
    }

    @Test("jobs run on the pool's threads, in the order they were given")
    func order() async throws {
        let pool = try #require(TaskPool(threads: 1, name: "pool-order"))
        let ran = Record<[(Int, String)]>([])
        await withTaskExecutorPreference(pool) {
            await withTaskGroup(of: Void.self) { group in
                for index in 0..<200 {
                    group.addTask { ran.value.withLock { $0.append((index, Self.threadName())) } }
                }
            }
        }
        let (indices, names) = ran.value.withLock { ($0.map(\.0), Set($0.map(\.1))) }
        #expect(indices == Array(0..<200))
        #expect(names == ["pool-order"])
        #expect(pool.statistics.threads == 1 && pool.statistics.jobsRun >= 200)
    }

    @Test("a sleep waits in the pool (not on libdispatch's timers) and ends on a pool thread at its deadline")
    func sleep() async throws {
        let pool = try #require(TaskPool(threads: 2, name: "pool-sleep"))
        let started = ContinuousClock.now
        let task = Task(executorPreference: pool) { () async throws -> String in
            try await Task.sleep(for: .milliseconds(400))
            return Self.threadName()
        }
        #expect(try await task.value == "pool-sleep")
        #expect(ContinuousClock.now - started >= .milliseconds(400))
        // The sleep's deadline was the pool's (one job given a deadline, none left waiting).
        let after = pool.statistics
        #expect(after.scheduled == 1 && after.pendingDeadlines == 0, "\(after)")
        #expect(pool.statistics.pendingDeadlines == 0)
    }

    @Test("sleeps end in the order of their deadlines, whatever the order they began in; ties in the order given")
    func deadlineOrder() async throws {
        let pool = try #require(TaskPool(threads: 1, name: "pool-deadlines"))
        // Far enough ahead that every sleep has begun before the first deadline, on a busy machine.
        let base = ContinuousClock.now + .seconds(5)
        // 300 deadlines 2 ms apart, begun shuffled, and five sleeps on one deadline begun in order.
        let offsets = Array(0..<300).shuffled()
        let woke = Record<[Int]>([])
        await withTaskExecutorPreference(pool) {
            await withTaskGroup(of: Void.self) { group in
                for offset in offsets {
                    group.addTask {
                        try? await Task.sleep(until: base + .milliseconds(2 * offset), clock: .continuous)
                        woke.value.withLock { $0.append(offset) }
                    }
                }
                for tie in 0..<5 {
                    group.addTask {
                        try? await Task.sleep(until: base + .milliseconds(800), clock: .continuous)
                        woke.value.withLock { $0.append(1000 + tie) }
                    }
                }
            }
        }
        let order = woke.value.withLock { $0 }
        #expect(order == Array(0..<300) + Array(1000..<1005))
        #expect(pool.statistics.scheduled == 305)
    }

    @Test("idle with a sleep an hour away: no thread of the pool wakes; cancelling the sleep ends it at once")
    func idle() async throws {
        let pool = try #require(TaskPool(threads: 2, name: "pool-idle"))
        let task = Task(executorPreference: pool) { try await Task.sleep(for: .seconds(3600)) }
        let waiting = try await Self.until(pool) { $0.pendingDeadlines == 1 && $0.timerWaiting && $0.idle == 1 }
        #expect(waiting.timerWaiting && waiting.idle == 1, "\(waiting)")
        try await Task.sleep(for: .seconds(2))
        let after = pool.statistics
        #expect(after.wakeups == waiting.wakeups && after.jobsRun == waiting.jobsRun, "before \(waiting), after \(after)")
        let cancelled = ContinuousClock.now
        task.cancel()
        await #expect(throws: CancellationError.self) { try await task.value }
        #expect(ContinuousClock.now - cancelled < .seconds(10))
    }

    @Test("10,000 tasks that yield and sleep a few milliseconds on two threads all finish")
    func many() async throws {
        let pool = try #require(TaskPool(threads: 2, name: "pool-many"))
        let finished = Record(0)
        await withTaskExecutorPreference(pool) {
            await withTaskGroup(of: Void.self) { group in
                for index in 0..<10_000 {
                    group.addTask {
                        await Task.yield()
                        try? await Task.sleep(for: .microseconds(index % 5_000))
                        finished.value.withLock { $0 += 1 }
                    }
                }
            }
        }
        #expect(finished.value.withLock { $0 } == 10_000)
        #expect(try await Self.until(pool) { $0.queuedJobs == 0 }.queuedJobs == 0)
    }

    @Test("a deadline saturates: an endless sleep waits for ever rather than wrapping round to now; a negative one is now")
    func deadlines() {
        #expect(TaskPool.deadline(after: .milliseconds(1500), from: 10) == 1_500_000_010)
        #expect(TaskPool.deadline(after: .nanoseconds(1), from: 0) == 1)
        #expect(TaskPool.deadline(after: .seconds(Int64.max), from: 5) == .max)
        #expect(TaskPool.deadline(after: .seconds(18_446_744_073), from: 1_000_000_000) == .max)
        #expect(TaskPool.deadline(after: .seconds(-3), from: 77) == 77)
    }

    @Test("the default size: the CPUs this process may run on, at least two")
    func size() throws {
        // Cpus_allowed_list: "0-1", "0,2-5", ...
        let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
        let list = try #require(status.split(separator: "\n").first { $0.hasPrefix("Cpus_allowed_list:") }?.split(separator: "\t").last)
        let allowed = list.split(separator: ",").map { part -> Int in
            let bounds = part.split(separator: "-").compactMap { Int($0) }
            return bounds.count == 2 ? bounds[1] - bounds[0] + 1 : 1
        }.reduce(0, +)
        #expect(allowed >= 1)
        #expect(TaskPool.defaultThreads == max(2, allowed))
    }
}
