#ifndef CTASKPOOL_H
#define CTASKPOOL_H

#include <stddef.h>
#include <stdint.h>

/// A fixed set of threads that run Swift's jobs, in the order given, and jobs given a deadline
/// once it has passed: Swift concurrency's default executor for the daemon (TaskPool.swift).
///
/// Idle threads wait on a condition variable, untimed, except one that waits for the earliest
/// deadline: nothing wakes on a period. Deadlines are on CLOCK_BOOTTIME (Swift's
/// ContinuousClock); the wait for one is on CLOCK_MONOTONIC (a condition variable's clock), so
/// across a suspend of the machine it ends late by the time suspended. libdispatch's own pool, which Swift
/// uses otherwise, starts a one-second monitoring timer with its first worker thread and keeps
/// it for the life of the process, and retires idle threads after five seconds.
typedef struct mw_task_pool mw_task_pool;

/// Runs one job on a pool thread. `context` is the pool's, as given to `mw_task_pool_create`.
typedef void (*mw_task_pool_run)(void *job, void *context);

/// Starts `threads` threads (at least 1), named `name` (at most 15 bytes are kept), with stacks
/// of `stack_bytes`. NULL when no thread could be started (errno says why).
mw_task_pool *mw_task_pool_create(int threads, const char *name, size_t stack_bytes,
                                  mw_task_pool_run run, void *context);

/// Runs `job` as soon as a thread is free, after the jobs given before it.
void mw_task_pool_enqueue(mw_task_pool *pool, void *job);

/// Runs `job` once CLOCK_BOOTTIME reaches `deadline_ns`; jobs whose deadlines have passed run
/// in deadline order, ties in the order given.
void mw_task_pool_enqueue_at(mw_task_pool *pool, void *job, uint64_t deadline_ns);

/// Runs a Swift job as Swift's own global executor does: on the generic executor, with no
/// task executor (the runtime's `swift_job_run` with a null executor). A job run this way
/// may hop onto a free actor and back off it on the same thread; run on a task executor
/// (`runSynchronously(on:)`), every such hop is given to the pool as a new job.
void mw_task_pool_run_generic(void *job);

/// The CPUs this process may run on (its affinity mask); 0 if it cannot be read.
int mw_task_pool_available_cpus(void);

/// CLOCK_BOOTTIME (ContinuousClock's), in nanoseconds.
uint64_t mw_boottime_ns(void);

typedef struct {
    size_t threads;
    /// Threads waiting for work (untimed), and whether one waits for the earliest deadline.
    size_t idle;
    int timer_waiting;
    size_t queued_jobs;
    size_t pending_deadlines;
    uint64_t jobs_run;
    /// Jobs given a deadline.
    uint64_t scheduled;
    /// Times a thread came back from a wait (timed or not).
    uint64_t wakeups;
} mw_task_pool_stats;

void mw_task_pool_get_stats(mw_task_pool *pool, mw_task_pool_stats *stats);

#endif
