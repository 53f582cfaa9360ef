import CCurl
import Foundation
import Synchronization

/// One long-lived thread that runs the jobs given to it, in order. For blocking work that must
/// stay off Swift's cooperative threads and comes every cycle: a dispatch queue's worker thread
/// retires after a few idle seconds, so work every 15 s started a new thread each time.
/// The thread ends once its owner is gone and every job given before is done.
final class WorkerThread: Sendable {
    private final class Shared: Sendable {
        let jobs = Mutex<[@Sendable () -> Void]>([])
        /// One signal per job given, and one more to stop.
        let pending = DispatchSemaphore(value: 0)
    }

    private let shared = Shared()

    init(name: String) {
        let thread = Thread { [shared] in
            // Named from inside: Foundation's `Thread.name` does not reach the kernel here.
            _ = mw_set_thread_name(String(name.prefix(15)))
            while true {
                shared.pending.wait()
                let job = shared.jobs.withLock { jobs in jobs.isEmpty ? nil : jobs.removeFirst() }
                guard let job else { return }  // the stop signal: every job before it is done
                job()
            }
        }
        thread.start()
    }

    func run(_ job: @escaping @Sendable () -> Void) {
        shared.jobs.withLock { $0.append(job) }
        shared.pending.signal()
    }

    deinit { shared.pending.signal() }
}
