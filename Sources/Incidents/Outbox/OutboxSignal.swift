import Synchronization

/// Set by a group loop when it queued work (findings, runbooks); the worker that waits on it
/// wakes at once instead of polling. One waiter at a time.
///
/// A wait's timeout is kept by one timer task per signal, not one per wait: the watchers wait
/// on their signals every cycle with the same hour-long timeout, and a task made, put to sleep
/// and cancelled for each wait woke three threads of the pool per wait for a deadline that
/// never came. The timer sleeps until the earliest deadline it was given; a later wait with a
/// later deadline leaves it asleep, and when it wakes it ends the wait whose deadline has
/// passed, or sleeps on until the current wait's. Only a wait with an earlier deadline than
/// the timer's replaces it (the outbox's retry back-off, the diagnosis worker's due runbooks).
public final class OutboxSignal: Sendable {
    private struct State {
        var raised = false
        var waiter: (token: UInt64, deadline: ContinuousClock.Instant, continuation: CheckedContinuation<Void, Never>)?
        var lastToken: UInt64 = 0
        /// A wait whose cancellation came before it started waiting: it returns at once.
        var expired: UInt64 = 0
        /// The timer task running, if any: its number and when it wakes next.
        var timer: (number: UInt64, wakesAt: ContinuousClock.Instant, task: Task<Void, Never>?)?
        var timersStarted: UInt64 = 0
    }

    private let state = Mutex(State())

    public init() {}

    public func raise() {
        state.withLock { $0.raised = true }
        wake(token: nil)
    }

    /// True once after each raise.
    public func take() -> Bool { state.withLock { state in defer { state.raised = false }; return state.raised } }

    /// A wait is waiting.
    package var isWaiting: Bool { state.withLock { $0.waiter != nil } }

    /// Timer tasks started so far (one per signal while the waits' deadlines only move later).
    package var timersStarted: UInt64 { state.withLock { $0.timersStarted } }

    /// Returns when raised (at once if it already is), after `timeout`, or when the task is
    /// cancelled. Each wait has its own token and deadline, so a finished wait's timeout can
    /// never cut a later wait short (that turned the waiting loops into busy loops).
    public func wait(upTo timeout: Duration) async {
        let token = state.withLock { state -> UInt64 in
            state.lastToken += 1
            return state.lastToken
        }
        // At most a year: an instant past the clock's range would trap.
        let deadline = ContinuousClock.now.advanced(by: min(max(timeout, .zero), .seconds(365 * 86_400)))
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let (now, replaced) = state.withLock { state -> (Bool, Task<Void, Never>?) in
                    if state.raised || state.expired == token || deadline <= .now { return (true, nil) }
                    state.waiter = (token, deadline, continuation)
                    if let timer = state.timer, timer.wakesAt <= deadline { return (false, nil) }
                    // No timer, or one that wakes after this deadline: a new one.
                    let replaced = state.timer?.task
                    state.timersStarted += 1
                    let number = state.timersStarted
                    state.timer = (number, deadline, nil)
                    // The signal is held only while the timer looks at it, not while it sleeps.
                    state.timer?.task = Task { [weak self] in
                        var until = deadline
                        while true {
                            do { try await Task.sleep(until: until, clock: .continuous) } catch { return }
                            guard let next = self?.timerWoke(number: number) else { return }
                            until = next
                        }
                    }
                    return (false, replaced)
                }
                replaced?.cancel()
                if now { continuation.resume() }
            }
        } onCancel: {
            wake(token: token)
        }
    }

    /// At the timer's wake: the wait past its deadline ends; a later deadline is the timer's
    /// next wake (returned); nil when the timer ends (no wait, the wait ended by it, or a newer
    /// timer replaced it).
    private func timerWoke(number: UInt64) -> ContinuousClock.Instant? {
        let (expired, next) = state.withLock { state -> (CheckedContinuation<Void, Never>?, ContinuousClock.Instant?) in
            guard state.timer?.number == number else { return (nil, nil) }
            guard let waiter = state.waiter else {
                state.timer = nil
                return (nil, nil)
            }
            if waiter.deadline <= .now {
                state.waiter = nil
                state.timer = nil
                return (waiter.continuation, nil)
            }
            state.timer?.wakesAt = waiter.deadline
            return (nil, waiter.deadline)
        }
        expired?.resume()
        return next
    }

    /// Wakes the waiter: any (a raise), or only the wait with `token` (its cancellation).
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
