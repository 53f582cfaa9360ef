import Foundation
@testable import MeshWatchd
import Synchronization
import Testing

@Suite("QueryLimiter")
struct QueryLimiterTests {
    @Test("never more than the limit in flight; every query runs; a cancelled waiter leaves the queue")
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
                        try await Task.sleep(for: .milliseconds(20))
                        counters.current.withLock { $0 -= 1 }
                        return index
                    }
                }
            }
            var finished: [Int] = []
            for try await index in group { finished.append(index) }
            #expect(finished.sorted() == Array(0..<10))
        }
        #expect(counters.peak.withLock { $0 } == 2)

        // Hold both slots, queue a third, cancel it: it fails at once and the slots are intact.
        let hold = Task { try await limiter.run { try await Task.sleep(for: .milliseconds(300)) } }
        let hold2 = Task { try await limiter.run { try await Task.sleep(for: .milliseconds(300)) } }
        try await Task.sleep(for: .milliseconds(50))
        let waiter = Task { try await limiter.run { 1 } }
        try await Task.sleep(for: .milliseconds(50))
        #expect(await limiter.queued == 1)
        waiter.cancel()
        await #expect(throws: CancellationError.self) { try await waiter.value }
        #expect(await limiter.queued == 0)
        _ = try await (hold.value, hold2.value)
        #expect(await limiter.running == 0)
        #expect(try await limiter.run { 7 } == 7)
    }
}
