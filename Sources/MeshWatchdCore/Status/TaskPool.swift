@_spi(ExperimentalCustomExecutors) @_spi(ExperimentalScheduling) import _Concurrency
import CTaskPool
import Foundation

/// Swift concurrency's default executor in the daemon: a fixed set of threads (CTaskPool) that
/// run jobs in the order given, and sleeping tasks at their deadlines, with no periodic timer.
///
/// Without it Swift runs tasks on libdispatch's pool, and libdispatch on Linux starts a
/// one-second timer with its first worker thread (it checks for stalled workers) and keeps it
/// for the life of the process: the daemon woke every second between evaluations an hour
/// apart. Its worker threads also retire after five idle seconds, so every cycle started new
/// ones. Installed with `installAsDefault()` first thing in `main`, before any task is made.
///
/// Jobs are not ordered by priority (the daemon's tasks all run at one). Deadlines are kept on
/// `ContinuousClock` (CLOCK_BOOTTIME) exactly as given, and waited for on CLOCK_MONOTONIC:
/// across a suspend of the machine a wait ends late by the time suspended.
package final class TaskPool: TaskExecutor, SchedulingExecutor, @unchecked Sendable {
    private let pool: OpaquePointer

    /// `threads` workers (the CPUs this process may run on, at least four, by default), with
    /// 8 MiB stacks as glibc's threads and libdispatch's workers get by default. A failure to
    /// start some of them leaves a pool with those that started.
    ///
    /// `generic`: jobs run as Swift's own global executor runs them, on the generic executor
    /// with no task executor, which is what the default executor must do (`installAsDefault`).
    /// The runtime lets a task move onto a free actor and back off it on the thread it runs on
    /// only then; a job run on a task executor gives every such move back to the pool as a new
    /// job, a thread woken for each (in the daemon, 19 jobs per cycle of five rules instead of 11). A pool
    /// used through task executor preference runs its jobs on itself as the task executor.
    package init?(threads: Int = TaskPool.defaultThreads, name: String = "meshwatchd-task", generic: Bool = false) {
        // The pool lives as long as the process: its threads hold this object's address.
        let context = Unmanaged.passRetained(Box())
        let run: mw_task_pool_run = generic ? { job, _ in mw_task_pool_run_generic(job) } : { job, context in
            let pool = Unmanaged<Box>.fromOpaque(context!).takeUnretainedValue().pool!
            unsafeBitCast(job, to: UnownedJob.self).runSynchronously(on: pool.asUnownedTaskExecutor())
        }
        guard let pool = mw_task_pool_create(Int32(threads), name, 8 << 20, run, context.toOpaque()) else {
            context.release()
            return nil
        }
        self.pool = pool
        context.takeUnretainedValue().pool = self
    }

    /// Holds the pool for its threads; set once, before any job is given.
    private final class Box: @unchecked Sendable { var pool: TaskPool? }

    /// The CPUs this process may run on (its affinity mask), at least four. Nothing adds
    /// threads while some are blocked (libdispatch's monitor did, up to twice the CPUs): a job
    /// that blocks its thread, a store write waiting out another's fsync or a log line to a
    /// stalled reader, leaves three to run the rest. An idle thread costs its stack's few
    /// touched pages.
    package static var defaultThreads: Int {
        let affinity = Int(mw_task_pool_available_cpus())
        return max(4, affinity > 0 ? affinity : ProcessInfo.processInfo.activeProcessorCount)
    }

    package func enqueue(_ job: consuming ExecutorJob) {
        mw_task_pool_enqueue(pool, unsafeBitCast(UnownedJob(job), to: UnsafeMutableRawPointer.self))
    }

    package func enqueue<C: Clock>(_ job: consuming ExecutorJob, at instant: C.Instant, tolerance: C.Duration?, clock: C) {
        let job = UnownedJob(job)
        // A ContinuousClock instant is its CLOCK_BOOTTIME reading: kept as it is, with no
        // jitter from reading a second clock to convert it.
        if let instant = instant as? ContinuousClock.Instant {
            return schedule(job, at: Self.deadline(after: instant - ContinuousClock().systemEpoch, from: 0))
        }
        schedule(job, after: clock.now.duration(to: instant))
    }

    package func enqueue<C: Clock>(_ job: consuming ExecutorJob, after delay: C.Duration, tolerance: C.Duration?, clock: C) {
        schedule(UnownedJob(job), after: delay)
    }

    /// A delay in a clock's own duration type is one of Swift's `Duration` for every clock the
    /// runtime schedules on (continuous, suspending). Another would be a clock this program
    /// does not have: run at once, its sleeps would spin.
    private func schedule<D: DurationProtocol>(_ job: UnownedJob, after delay: D) {
        guard let delay = delay as? Duration else { preconditionFailure("TaskPool: a sleep on a clock whose durations are \(D.self)") }
        schedule(job, at: Self.deadline(after: delay, from: mw_boottime_ns()))
    }

    private func schedule(_ job: UnownedJob, at deadline: UInt64) {
        let raw = unsafeBitCast(job, to: UnsafeMutableRawPointer.self)
        if deadline == 0 { return mw_task_pool_enqueue(pool, raw) }
        mw_task_pool_enqueue_at(pool, raw, deadline)
    }

    /// `now` plus `delay` in nanoseconds, saturating: a deadline past 2554 (UInt64 nanoseconds)
    /// waits for ever rather than wrapping round to now.
    package static func deadline(after delay: Duration, from now: UInt64) -> UInt64 {
        let (seconds, attoseconds) = delay.components
        guard seconds >= 0, attoseconds >= 0 else { return now }
        let (whole, overflowed) = UInt64(seconds).multipliedReportingOverflow(by: 1_000_000_000)
        let (total, overflowedAgain) = whole.addingReportingOverflow(UInt64(attoseconds / 1_000_000_000))
        let (deadline, overflowedLast) = now.addingReportingOverflow(total)
        return overflowed || overflowedAgain || overflowedLast ? .max : deadline
    }

    package struct Statistics: Equatable, Sendable {
        package var threads: Int, idle: Int, timerWaiting: Bool, queuedJobs: Int, pendingDeadlines: Int
        package var jobsRun: UInt64, scheduled: UInt64, wakeups: UInt64
    }

    package var statistics: Statistics {
        var stats = mw_task_pool_stats()
        mw_task_pool_get_stats(pool, &stats)
        return Statistics(threads: stats.threads, idle: stats.idle, timerWaiting: stats.timer_waiting != 0,
                          queuedJobs: stats.queued_jobs, pendingDeadlines: stats.pending_deadlines,
                          jobsRun: stats.jobs_run, scheduled: stats.scheduled, wakeups: stats.wakeups)
    }

    /// The installed pool's counters in the exposition format (empty when none is installed):
    /// the jobs its threads ran and how often they woke, so that the cost of a cycle in thread
    /// hand-overs can be watched (`rate(jobs) / rate(iterations)`).
    package static var exposition: String {
        guard let statistics = installed?.statistics else { return "" }
        return """
            # HELP meshwatchd_task_jobs_total Jobs (steps of Swift tasks) run by the daemon's task threads.
            # TYPE meshwatchd_task_jobs_total counter
            meshwatchd_task_jobs_total \(statistics.jobsRun)
            # HELP meshwatchd_task_thread_wakeups_total Times one of the daemon's task threads woke from a wait (for work or for a deadline).
            # TYPE meshwatchd_task_thread_wakeups_total counter
            meshwatchd_task_thread_wakeups_total \(statistics.wakeups)

            """
    }

    /// The pool `installAsDefault` made, if it did.
    package nonisolated(unsafe) private(set) static var installed: TaskPool?

    private struct Factory: ExecutorFactory {
        static var mainExecutor: any MainExecutor { PlatformExecutorFactory.mainExecutor }
        static var defaultExecutor: any TaskExecutor { TaskPool.installed! }
    }

    /// Makes a pool Swift's default executor: every task without an actor or an executor of its
    /// own runs on it, and every sleep ends on it. The main actor stays on the main thread's
    /// executor. Call once, first thing in `main`, before any task is made; false (and Swift's
    /// own pool kept) if its threads could not start.
    @discardableResult
    package static func installAsDefault() -> Bool {
        guard installed == nil, let pool = TaskPool(generic: true) else { return installed != nil }
        installed = pool
        _createExecutors(factory: Factory.self)
        return true
    }
}
