import Synchronization

/// Set by a group loop when it queued work (findings, runbooks); the worker that waits on it
/// wakes at once instead of polling. One waiter at a time.
public final class OutboxSignal: Sendable {
    private struct State {
        var raised = false
        var waiter: (token: UInt64, continuation: CheckedContinuation<Void, Never>)?
        var lastToken: UInt64 = 0
        /// A wait whose timeout or cancellation came before it started waiting: it returns at once.
        var expired: UInt64 = 0
    }

    private let state = Mutex(State())

    public init() {}

    public func raise() {
        state.withLock { $0.raised = true }
        wake(token: nil)
    }

    /// True once after each raise.
    public func take() -> Bool { state.withLock { state in defer { state.raised = false }; return state.raised } }

    /// Returns when raised (at once if it already is), after `timeout`, or when the task is
    /// cancelled. Each wait has its own token, so a finished wait's timer can never cut a
    /// later wait short (that turned the waiting loops into busy loops).
    public func wait(upTo timeout: Duration) async {
        let token = state.withLock { state -> UInt64 in
            state.lastToken += 1
            return state.lastToken
        }
        let timer = Task { [weak self] in
            do { try await Task.sleep(for: timeout) } catch { return }
            self?.wake(token: token)
        }
        defer { timer.cancel() }
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let now = state.withLock { state -> Bool in
                    if state.raised || state.expired == token { return true }
                    state.waiter = (token, continuation)
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            wake(token: token)
        }
    }

    /// Wakes the waiter: any (a raise), or only the wait with `token` (its timeout or cancellation).
    private func wake(token: UInt64?) {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard let waiter = state.waiter, token == nil || waiter.token == token else {
                if let token { state.expired = max(state.expired, token) }
                return nil
            }
            state.waiter = nil
            return waiter.continuation
        }
        waiter?.resume()
    }
}
