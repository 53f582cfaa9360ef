import CTaskPool
import Foundation
@testable import MeshWatchdCore
import Synchronization
import Testing

/// The daemon's default executor (TaskPool over CTaskPool), used here through task executor
/// preference; `IdleWakeupTests` checks it installed in a running daemon.
@Suite("TaskPool: tasks and sleeps on a fixed set of threads, and no timer that wakes on a period",
       .timeLimit(.minutes(3)))  // a pool that stalls fails here rather than hanging the run
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

    @Test("every way to sleep ends on the pool: for a Duration, for nanoseconds, on the suspending clock, until a continuous instant")
    func sleepKinds() async throws {
        let pool = try #require(TaskPool(threads: 2, name: "pool-sleeps"))
        let task = Task(executorPreference: pool) { () async throws -> [Duration] in
            var took: [Duration] = []
            for kind in 0..<4 {
                let started = ContinuousClock.now
                switch kind {
                case 0: try await Task.sleep(for: .milliseconds(150))
                case 1: try await Task.sleep(nanoseconds: 150_000_000)
                case 2: try await SuspendingClock().sleep(for: .milliseconds(150))
                default: try await Task.sleep(until: started + .milliseconds(150), clock: .continuous)
                }
                took.append(ContinuousClock.now - started)
                #expect(Self.threadName() == "pool-sleeps")
            }
            return took
        }
        let took = try await task.value
        #expect(took.count == 4 && took.allSatisfy { $0 >= .milliseconds(150) }, "\(took)")
        #expect(pool.statistics.scheduled == 4)
    }

    @Test("sleeps on shuffled deadlines all end on the pool, none before its deadline")
    func deadlinesKept() async throws {
        let pool = try #require(TaskPool(threads: 1, name: "pool-deadlines"))
        let base = ContinuousClock.now + .milliseconds(300)
        let offsets = Array(0..<300).shuffled()
        // (offset, woke at, thread)
        let woke = Record<[(Int, ContinuousClock.Instant, String)]>([])
        await withTaskExecutorPreference(pool) {
            await withTaskGroup(of: Void.self) { group in
                for offset in offsets {
                    group.addTask {
                        try? await Task.sleep(until: base + .milliseconds(2 * offset), clock: .continuous)
                        woke.value.withLock { $0.append((offset, ContinuousClock.now, Self.threadName())) }
                    }
                }
            }
        }
        let ended = woke.value.withLock { $0 }
        #expect(Set(ended.map(\.0)) == Set(0..<300))
        #expect(ended.allSatisfy { $0.1 >= base + .milliseconds(2 * $0.0) }, "a sleep ended early")
        #expect(Set(ended.map(\.2)) == ["pool-deadlines"])
        #expect(pool.statistics.scheduled == 300)
    }

    /// What a bare C pool ran, in order: the jobs are numbers, not Swift jobs.
    final class Ran: @unchecked Sendable {
        let jobs = Mutex<[Int]>([])
    }

    @Test("the C pool hands out deadlines in deadline order, ties in the order given, after the ready jobs before them")
    func heapOrder() async throws {
        let ran = Ran()
        let context = Unmanaged.passRetained(ran)  // the pool's threads keep it for the process
        let created = mw_task_pool_create(1, "pool-heap", 0, { job, context in
            let ran = Unmanaged<Ran>.fromOpaque(context!).takeUnretainedValue()
            ran.jobs.withLock { $0.append(Int(bitPattern: job)) }
        }, context.toOpaque())
        let pool = try #require(created)
        let now = mw_boottime_ns(), millisecond: UInt64 = 1_000_000
        // 300 deadlines 1 ms apart given shuffled, five on one later deadline given in order,
        // one already past, and two ready jobs.
        for offset in Array(0..<300).shuffled() {
            mw_task_pool_enqueue_at(pool, UnsafeMutableRawPointer(bitPattern: 1000 + offset), now + 500 * millisecond + UInt64(offset) * millisecond)
        }
        for tie in 0..<5 {
            mw_task_pool_enqueue_at(pool, UnsafeMutableRawPointer(bitPattern: 2000 + tie), now + 900 * millisecond)
        }
        mw_task_pool_enqueue_at(pool, UnsafeMutableRawPointer(bitPattern: 7), now - millisecond)
        mw_task_pool_enqueue(pool, UnsafeMutableRawPointer(bitPattern: 8))
        mw_task_pool_enqueue(pool, UnsafeMutableRawPointer(bitPattern: 9))
        let deadline = ContinuousClock.now + .seconds(60)
        while ran.jobs.withLock({ $0.count }) < 308 && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        let order = ran.jobs.withLock { $0 }
        // The past deadline's job joins the ready ones when a thread next looks: after 8 or after 9.
        #expect(order.count == 308 && Set(order.prefix(3)) == [7, 8, 9] && order.firstIndex(of: 8)! < order.firstIndex(of: 9)!, "\(order.prefix(3))")
        #expect(Array(order.dropFirst(3)) == Array(1000..<1300) + Array(2000..<2005))
        var stats = mw_task_pool_stats()
        mw_task_pool_get_stats(pool, &stats)
        #expect(stats.pending_deadlines == 0 && stats.jobs_run == 308 && stats.scheduled == 306)
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

    @Test("run as the default executor runs them (the generic executor, swift_job_run): jobs on the pool's threads, actor hops, sleeps")
    func generic() async throws {
        let pool = try #require(TaskPool(threads: 2, name: "pool-generic", generic: true))
        let ran = Record<[(Int, String)]>([])
        actor Counter {
            var count = 0
            func add() { count += 1 }
        }
        let counter = Counter()
        await withTaskExecutorPreference(pool) {
            await withTaskGroup(of: Void.self) { group in
                for index in 0..<200 {
                    group.addTask { ran.value.withLock { $0.append((index, Self.threadName())) } }
                }
            }
            // Onto an actor and back, on the pool's threads.
            for _ in 0..<1_000 { await counter.add() }
            ran.value.withLock { $0.append((200, Self.threadName())) }
        }
        let (indices, names) = ran.value.withLock { ($0.map(\.0), Set($0.map(\.1))) }
        #expect(indices.prefix(200).sorted() == Array(0..<200))
        #expect(names == ["pool-generic"])
        #expect(await counter.count == 1_000)
        let started = ContinuousClock.now
        let slept = Task(executorPreference: pool) { () async throws -> String in
            try await Task.sleep(for: .milliseconds(300))
            return Self.threadName()
        }
        #expect(try await slept.value == "pool-generic")
        #expect(ContinuousClock.now - started >= .milliseconds(300))
    }

    @Test("10,000 tasks that yield and sleep a few milliseconds on two threads all finish (jobs run on the pool as task executor, and as the default executor runs them)",
          arguments: [false, true])
    func many(generic: Bool) async throws {
        let pool = try #require(TaskPool(threads: 2, name: "pool-many", generic: generic))
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

    @Test("the default size: the CPUs this process may run on, at least four")
    func size() throws {
        // Cpus_allowed_list: "0-1", "0,2-5", ...
        let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
        let list = try #require(status.split(separator: "\n").first { $0.hasPrefix("Cpus_allowed_list:") }?.split(separator: "\t").last)
        let allowed = list.split(separator: ",").map { part -> Int in
            let bounds = part.split(separator: "-").compactMap { Int($0) }
            return bounds.count == 2 ? bounds[1] - bounds[0] + 1 : 1
        }.reduce(0, +)
        #expect(allowed >= 1)
        #expect(TaskPool.defaultThreads == max(4, allowed))
    }
}
