import Foundation
import Synchronization

/// A wall clock that moves only when told; sleepers wake when it passes their time. Tests
/// drive time-based loops with it and wait for them to sleep again (`sleepers(reach:)`), never
/// on the real clock.
public final class ManualWallClock: Sendable {
    private struct State {
        var now: Date
        var sleepers: [(id: UUID, until: Date, continuation: CheckedContinuation<Void, any Error>)] = []
        var registered = 0
        var watchers: [(count: Int, continuation: CheckedContinuation<Void, Never>)] = []
    }
    private let state: Mutex<State>

    public init(now: Date) { state = Mutex(State(now: now)) }

    public func now() -> Date { state.withLock { $0.now } }

    /// Returns once the clock reaches `time`; throws when the task is cancelled.
    public func sleep(until time: Date) async throws {
        let id = UUID()
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let (wakeNow, watchers) = state.withLock { state -> (Bool, [CheckedContinuation<Void, Never>]) in
                    state.registered += 1
                    let count = state.registered
                    let ready = state.watchers.filter { $0.count <= count }.map(\.continuation)
                    state.watchers.removeAll { $0.count <= count }
                    if time <= state.now || Task.isCancelled { return (true, ready) }
                    state.sleepers.append((id, time, continuation))
                    return (false, ready)
                }
                watchers.forEach { $0.resume() }
                if wakeNow { continuation.resume() }
            }
        } onCancel: {
            let cancelled = state.withLock { state -> CheckedContinuation<Void, any Error>? in
                guard let index = state.sleepers.firstIndex(where: { $0.id == id }) else { return nil }
                return state.sleepers.remove(at: index).continuation
            }
            cancelled?.resume(throwing: CancellationError())
        }
    }

    /// Moves the clock to `time` and wakes every sleeper whose time has come.
    public func advance(to time: Date) {
        let due = state.withLock { state -> [CheckedContinuation<Void, any Error>] in
            state.now = time
            let due = state.sleepers.filter { $0.until <= time }.map(\.continuation)
            state.sleepers.removeAll { $0.until <= time }
            return due
        }
        due.forEach { $0.resume() }
    }

    /// Returns once `count` sleeps have begun in all (the loop finished a cycle and waits again).
    public func sleepers(reach count: Int) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = state.withLock { state -> Bool in
                if state.registered >= count { return true }
                state.watchers.append((count, continuation))
                return false
            }
            if now { continuation.resume() }
        }
    }
}
