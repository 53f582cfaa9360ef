import Foundation

/// At most `limit` Prometheus queries in flight across all rule groups; the others wait
/// their turn in order. Protects Prometheus when many groups tick at once.
actor QueryLimiter {
    private let limit: Int
    private var inFlight = 0
    private var waiting: [(id: UInt64, continuation: CheckedContinuation<Void, any Error>)] = []
    private var nextID: UInt64 = 0

    init(limit: Int) { self.limit = max(1, limit) }

    /// Runs `work` once a slot is free. A task cancelled while waiting leaves the queue.
    func run<T: Sendable>(_ work: @Sendable () async throws -> T) async throws -> T {
        try await acquire()
        defer { release() }
        return try await work()
    }

    /// Runs `work` if a slot is free now; nil, without running it, when every slot is taken.
    func runIfFree<T: Sendable>(_ work: @Sendable () async throws -> T) async throws -> T? {
        guard inFlight < limit else { return nil }
        inFlight += 1
        defer { release() }
        return try await work()
    }

    private func acquire() async throws {
        if inFlight < limit {
            inFlight += 1
            return
        }
        nextID += 1
        let id = nextID
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                if Task.isCancelled {
                    continuation.resume(throwing: CancellationError())
                } else {
                    waiting.append((id, continuation))
                }
            }
        } onCancel: {
            Task { await self.cancel(id) }
        }
    }

    private func cancel(_ id: UInt64) {
        guard let index = waiting.firstIndex(where: { $0.id == id }) else { return }
        waiting.remove(at: index).continuation.resume(throwing: CancellationError())
    }

    private func release() {
        if waiting.isEmpty {
            inFlight -= 1
        } else {
            // The slot passes straight to the next in line.
            waiting.removeFirst().continuation.resume()
        }
    }

    var queued: Int { waiting.count }
    var running: Int { inFlight }
}
