import Foundation
import Incidents
import Synchronization

/// Every way a reload is asked for — SIGHUP, `POST /-/reload`, a changed configuration or rule
/// file — goes through here to the evaluation service, one at a time; an HTTP caller waits for
/// the outcome. Keeps what `/metrics` says of the last reload.
final class ReloadCoordinator: Sendable {
    typealias Outcome = Result<Void, ReloadFailure>

    struct ReloadFailure: Error, Sendable, CustomStringConvertible {
        var description: String
    }

    private struct State {
        var pending: [(source: String, waiter: CheckedContinuation<Outcome, Never>?)] = []
        var lastSuccessful = true
        var lastSuccess = Date()
        var successes = 0
        var failures = 0
    }

    private let state = Mutex(State())
    private let signal = OutboxSignal()
    /// The files as they were at the last reload attempt (or start), whatever asked for it: a
    /// change is reloaded once, not again by the watcher after a SIGHUP already tried it.
    private let attemptedFiles = Mutex<FileWatch?>(nil)

    func attempted(_ files: FileWatch) { attemptedFiles.withLock { $0 = files } }
    var lastAttempted: FileWatch? { attemptedFiles.withLock { $0 } }

    /// Asks for a reload and waits for its outcome.
    func request(_ source: String) async -> Outcome {
        await withCheckedContinuation { continuation in
            state.withLock { $0.pending.append((source, continuation)) }
            signal.raise()
        }
    }

    /// Asks for a reload without waiting (a signal, a file change).
    func fire(_ source: String) {
        state.withLock { $0.pending.append((source, nil)) }
        signal.raise()
    }

    /// The next requests (all waiting ones at once: one reload answers them all); waits while there are none.
    func next() async -> [(source: String, waiter: CheckedContinuation<Outcome, Never>?)] {
        while !Task.isCancelled {
            // Cleared before the check: a request added after it raises the signal again, and one
            // added before it is seen now. (Left raised, every wait would return at once: a busy loop.)
            _ = signal.take()
            let taken = state.withLock { state in defer { state.pending = [] }; return state.pending }
            if !taken.isEmpty { return taken }
            await signal.wait(upTo: .seconds(3600))  // every request raises the signal
        }
        return []
    }

    func finished(_ outcome: Outcome, answering requests: [(source: String, waiter: CheckedContinuation<Outcome, Never>?)]) {
        state.withLock { state in
            switch outcome {
            case .success:
                state.lastSuccessful = true
                state.lastSuccess = Date()
                state.successes += 1
            case .failure:
                state.lastSuccessful = false
                state.failures += 1
            }
        }
        for request in requests { request.waiter?.resume(returning: outcome) }
    }

    var counters: (lastSuccessful: Bool, lastSuccess: Date, successes: Int, failures: Int) {
        state.withLock { ($0.lastSuccessful, $0.lastSuccess, $0.successes, $0.failures) }
    }

    var exposition: String {
        let counters = self.counters
        return """
            # HELP meshwatchd_config_last_reload_successful Whether the last configuration reload attempt was successful.
            # TYPE meshwatchd_config_last_reload_successful gauge
            meshwatchd_config_last_reload_successful \(counters.lastSuccessful ? 1 : 0)
            # HELP meshwatchd_config_last_reload_success_timestamp_seconds Timestamp of the last successful configuration reload (the start, before any).
            # TYPE meshwatchd_config_last_reload_success_timestamp_seconds gauge
            meshwatchd_config_last_reload_success_timestamp_seconds \(StatusRendering.number(counters.lastSuccess.timeIntervalSince1970))
            # HELP meshwatchd_config_reloads_total Configuration reload attempts by result.
            # TYPE meshwatchd_config_reloads_total counter
            meshwatchd_config_reloads_total{result="success"} \(counters.successes)
            meshwatchd_config_reloads_total{result="failure"} \(counters.failures)

            """
    }
}

/// Notices a changed configuration or rule file: each path's identity (device, inode, size,
/// modification time, following symlinks, so a ConfigMap's `..data` swap counts) and, for a
/// directory or glob of rule files, which files are there.
struct FileWatch: Sendable, Equatable {
    let stamps: [String: String]

    init(paths: [String]) {
        var stamps: [String: String] = [:]
        for path in Set(paths) {
            var info = stat()
            if stat(path, &info) == 0 {
                stamps[path] = "\(info.st_dev):\(info.st_ino):\(info.st_size):\(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec)"
            } else {
                stamps[path] = "missing"
            }
        }
        self.stamps = stamps
    }
}
