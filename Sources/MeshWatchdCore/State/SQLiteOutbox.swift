import Foundation
import Incidents

/// The outbox the delivery workers read, over the state store: every call runs on the store's
/// own thread, never on one of Swift's cooperative threads.
struct SQLiteOutbox: OutboxStore {
    let store: StateStore

    func due(at time: Date, sink: String, limit: Int) async throws -> [QueuedFinding] {
        try await store.perform { try $0.due(at: time, sink: sink, limit: limit) }
    }

    func companions(of head: QueuedFinding, at time: Date, limit: Int) async throws -> [QueuedFinding] {
        try await store.perform { try $0.companions(of: head, at: time, limit: limit) }
    }

    func nextDue(sink: String) async throws -> Date? {
        try await store.perform { try $0.nextDue(sink: sink) }
    }

    func remove(_ ids: [Int64]) async throws {
        try await store.perform { try $0.remove(ids) }
    }

    func note(_ batch: [QueuedFinding], state: String, attempts: Int, detail: String?) async {
        guard let sink = batch.first?.sink else { return }
        try? await store.perform { try $0.noteDelivery(sink: sink, findingIDs: batch.map(\.findingID), state: state, attempts: attempts,
                                                       detail: detail, at: Date()) }
    }

    func postpone(_ ids: [Int64], attempts: Int, until time: Date) async throws {
        try await store.perform { try $0.postpone(ids, attempts: attempts, until: time) }
    }

    func expire(sinksOtherThan names: Set<String>, olderThan cutoff: Date) async throws -> [String: Int] {
        try await store.perform { try $0.expire(sinksOtherThan: names, olderThan: cutoff) }
    }

    func depthBySink() async throws -> [String: Int] {
        try await store.perform { try $0.depthBySink() }
    }
}
