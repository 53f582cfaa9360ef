import Foundation
@testable import MeshWatchdCore
import Synchronization
import Testing

/// Holds tasks until the test opens it: no timing assumptions.
actor Gate {
    private var open = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    func wait() async {
        if open { return }
        await withCheckedContinuation { waiters.append($0) }
    }

    func release() {
        open = true
        waiters.forEach { $0.resume() }
        waiters.removeAll()
    }
}

/// Polls `condition` until it holds, for at most `timeout`.
func eventually(_ timeout: Duration = .seconds(10), _ condition: () async -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if await condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return await condition()
}

@Suite("QueryLimiter")
struct QueryLimiterTests {
    @Test("never more than the limit in flight, and every query runs")
    func bounded() async throws {
        let limiter = QueryLimiter(limit: 2)
        final class Counters: Sendable {
            let current = Mutex(0)
            let peak = Mutex(0)
        }
        let counters = Counters()
        try await withThrowingTaskGroup(of: Int.self) { group in
            for index in 0..<10 {
                group.addTask {
                    try await limiter.run {
                        let now = counters.current.withLock { $0 += 1; return $0 }
                        counters.peak.withLock { $0 = max($0, now) }
                        try await Task.sleep(for: .milliseconds(5))
                        counters.current.withLock { $0 -= 1 }
                        return index
                    }
                }
            }
            var finished: [Int] = []
            for try await index in group { finished.append(index) }
            #expect(finished.sorted() == Array(0..<10))
        }
        #expect(counters.peak.withLock { $0 } <= 2)
    }

    @Test("both slots are used at once; a third waits, and leaves the queue when cancelled")
    func queueAndCancel() async throws {
        let limiter = QueryLimiter(limit: 2)
        let gate = Gate()
        let holders = (0..<2).map { _ in Task { try await limiter.run { await gate.wait() } } }
        #expect(await eventually { await limiter.running == 2 })
        let waiter = Task { try await limiter.run { 1 } }
        #expect(await eventually { await limiter.queued == 1 })
        waiter.cancel()
        await #expect(throws: CancellationError.self) { try await waiter.value }
        #expect(await limiter.queued == 0)
        await gate.release()
        for holder in holders { try await holder.value }
        #expect(await eventually { await limiter.running == 0 })
        #expect(try await limiter.run { 7 } == 7)
    }
}
