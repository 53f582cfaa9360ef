#define _GNU_SOURCE
#include "CTaskPool.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    uint64_t deadline;
    uint64_t order;
    void *job;
} deadline_entry;

struct mw_task_pool {
    pthread_mutex_t lock;
    /// Idle threads wait here, untimed.
    pthread_cond_t work;
    /// The one thread that waits for the earliest deadline waits here.
    pthread_cond_t deadline;
    mw_task_pool_run run;
    void *context;
    char name[16];

    /// Jobs ready to run: a ring, grown by doubling.
    void **jobs;
    size_t head, count, capacity;

    /// Jobs waiting for a deadline: a binary min-heap by (deadline, order).
    deadline_entry *heap;
    size_t heap_count, heap_capacity;
    uint64_t next_order;

    size_t threads, idle;
    bool timer_waiting;
    uint64_t jobs_run, scheduled, wakeups;
};

/// The Swift runtime's entry point for running a job (`SWIFT_CC(swift) void swift_job_run(Job *,
/// SerialExecutorRef)`), the one libdispatch's global executor calls. A `SerialExecutorRef` is
/// an identity and an implementation word; both zero is the generic executor.
typedef struct {
    const void *identity;
    uintptr_t implementation;
} mw_serial_executor_ref;
extern __attribute__((swiftcall)) void swift_job_run(void *job, mw_serial_executor_ref executor);

void mw_task_pool_run_generic(void *job) {
    swift_job_run(job, (mw_serial_executor_ref){ NULL, 0 });
}

int mw_task_pool_available_cpus(void) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) != 0) return 0;
    return CPU_COUNT(&set);
}

static uint64_t clock_ns(clockid_t clock) {
    struct timespec now;
    clock_gettime(clock, &now);
    return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
}

uint64_t mw_boottime_ns(void) { return clock_ns(CLOCK_BOOTTIME); }

/// Growth that cannot continue (out of memory) ends the process: a job dropped would leave its
/// task suspended forever, which is worse than a crash systemd restarts.
static void *grow(void *memory, size_t count, size_t size) {
    if (count > SIZE_MAX / size) abort();
    void *grown = realloc(memory, count * size);
    if (grown == NULL) abort();
    return grown;
}

static void push_job(mw_task_pool *pool, void *job) {
    if (pool->count == pool->capacity) {
        size_t capacity = pool->capacity ? pool->capacity * 2 : 64;
        void **jobs = grow(NULL, capacity, sizeof(void *));
        for (size_t index = 0; index < pool->count; index++)
            jobs[index] = pool->jobs[(pool->head + index) % pool->capacity];
        free(pool->jobs);
        pool->jobs = jobs;
        pool->head = 0;
        pool->capacity = capacity;
    }
    pool->jobs[(pool->head + pool->count) % pool->capacity] = job;
    pool->count++;
}

static void *pop_job(mw_task_pool *pool) {
    void *job = pool->jobs[pool->head];
    pool->head = (pool->head + 1) % pool->capacity;
    pool->count--;
    return job;
}

static bool earlier(const deadline_entry *a, const deadline_entry *b) {
    return a->deadline < b->deadline || (a->deadline == b->deadline && a->order < b->order);
}

static void heap_push(mw_task_pool *pool, deadline_entry entry) {
    if (pool->heap_count == pool->heap_capacity) {
        pool->heap_capacity = pool->heap_capacity ? pool->heap_capacity * 2 : 16;
        pool->heap = grow(pool->heap, pool->heap_capacity, sizeof(deadline_entry));
    }
    size_t index = pool->heap_count++;
    while (index > 0) {
        size_t parent = (index - 1) / 2;
        if (!earlier(&entry, &pool->heap[parent])) break;
        pool->heap[index] = pool->heap[parent];
        index = parent;
    }
    pool->heap[index] = entry;
}

static deadline_entry heap_pop(mw_task_pool *pool) {
    deadline_entry top = pool->heap[0];
    deadline_entry last = pool->heap[--pool->heap_count];
    size_t index = 0;
    while (true) {
        size_t child = 2 * index + 1;
        if (child >= pool->heap_count) break;
        if (child + 1 < pool->heap_count && earlier(&pool->heap[child + 1], &pool->heap[child])) child++;
        if (!earlier(&pool->heap[child], &last)) break;
        pool->heap[index] = pool->heap[child];
        index = child;
    }
    if (pool->heap_count > 0) pool->heap[index] = last;
    return top;
}

/// Wakes a thread for new work: an idle one, or else the one waiting for a deadline.
static void wake_for_work(mw_task_pool *pool) {
    if (pool->idle > 0) pthread_cond_signal(&pool->work);
    else if (pool->timer_waiting) pthread_cond_signal(&pool->deadline);
}

static void *worker(void *argument) {
    mw_task_pool *pool = argument;
    pthread_setname_np(pthread_self(), pool->name);
    pthread_mutex_lock(&pool->lock);
    while (true) {
        if (pool->heap_count > 0) {
            uint64_t now = mw_boottime_ns();
            while (pool->heap_count > 0 && pool->heap[0].deadline <= now) push_job(pool, heap_pop(pool).job);
        }
        if (pool->count > 0) {
            void *job = pop_job(pool);
            // More ready jobs, or deadlines with no thread waiting for them: another thread takes them.
            if (pool->count > 0 || (pool->heap_count > 0 && !pool->timer_waiting)) wake_for_work(pool);
            pthread_mutex_unlock(&pool->lock);
            pool->run(job, pool->context);
            pthread_mutex_lock(&pool->lock);
            pool->jobs_run++;
            continue;
        }
        if (pool->heap_count > 0 && !pool->timer_waiting) {
            // The time left on CLOCK_BOOTTIME, waited for on CLOCK_MONOTONIC (saturating).
            uint64_t boot = mw_boottime_ns(), monotonic = clock_ns(CLOCK_MONOTONIC);
            uint64_t left = pool->heap[0].deadline > boot ? pool->heap[0].deadline - boot : 0;
            uint64_t deadline = left > UINT64_MAX - monotonic ? UINT64_MAX : monotonic + left;
            struct timespec until = {
                .tv_sec = (time_t)(deadline / 1000000000u),
                .tv_nsec = (long)(deadline % 1000000000u),
            };
            pool->timer_waiting = true;
            pthread_cond_timedwait(&pool->deadline, &pool->lock, &until);
            pool->timer_waiting = false;
        } else {
            pool->idle++;
            pthread_cond_wait(&pool->work, &pool->lock);
            pool->idle--;
        }
        pool->wakeups++;
    }
    return NULL;
}

mw_task_pool *mw_task_pool_create(int threads, const char *name, size_t stack_bytes,
                                  mw_task_pool_run run, void *context) {
    mw_task_pool *pool = calloc(1, sizeof *pool);
    if (pool == NULL) return NULL;
    pthread_mutex_init(&pool->lock, NULL);
    pthread_cond_init(&pool->work, NULL);
    pthread_condattr_t attributes;
    pthread_condattr_init(&attributes);
    pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC);
    pthread_cond_init(&pool->deadline, &attributes);
    pthread_condattr_destroy(&attributes);
    pool->run = run;
    pool->context = context;
    strncpy(pool->name, name, sizeof pool->name - 1);

    pthread_attr_t thread_attributes;
    pthread_attr_init(&thread_attributes);
    pthread_attr_setdetachstate(&thread_attributes, PTHREAD_CREATE_DETACHED);
    if (stack_bytes > 0) pthread_attr_setstacksize(&thread_attributes, stack_bytes);
    int error = 0;
    pthread_mutex_lock(&pool->lock);
    for (int index = 0; index < (threads < 1 ? 1 : threads); index++) {
        pthread_t thread;
        error = pthread_create(&thread, &thread_attributes, worker, pool);
        if (error != 0) break;
        pool->threads++;
    }
    pthread_mutex_unlock(&pool->lock);
    pthread_attr_destroy(&thread_attributes);
    if (pool->threads == 0) {
        // Nothing started, nothing refers to the pool: it can go.
        pthread_cond_destroy(&pool->deadline);
        pthread_cond_destroy(&pool->work);
        pthread_mutex_destroy(&pool->lock);
        free(pool);
        errno = error;
        return NULL;
    }
    return pool;
}

void mw_task_pool_enqueue(mw_task_pool *pool, void *job) {
    pthread_mutex_lock(&pool->lock);
    push_job(pool, job);
    wake_for_work(pool);
    pthread_mutex_unlock(&pool->lock);
}

void mw_task_pool_enqueue_at(mw_task_pool *pool, void *job, uint64_t deadline_ns) {
    pthread_mutex_lock(&pool->lock);
    bool earliest = pool->heap_count == 0 || deadline_ns < pool->heap[0].deadline;
    pool->scheduled++;
    heap_push(pool, (deadline_entry){ .deadline = deadline_ns, .order = pool->next_order++, .job = job });
    if (earliest) {
        // The thread waiting for the earliest deadline waits for this one now; with none
        // waiting, an idle thread becomes that thread.
        if (pool->timer_waiting) pthread_cond_signal(&pool->deadline);
        else if (pool->idle > 0) pthread_cond_signal(&pool->work);
    }
    pthread_mutex_unlock(&pool->lock);
}

void mw_task_pool_get_stats(mw_task_pool *pool, mw_task_pool_stats *stats) {
    pthread_mutex_lock(&pool->lock);
    stats->threads = pool->threads;
    stats->idle = pool->idle;
    stats->timer_waiting = pool->timer_waiting;
    stats->queued_jobs = pool->count;
    stats->pending_deadlines = pool->heap_count;
    stats->jobs_run = pool->jobs_run;
    stats->scheduled = pool->scheduled;
    stats->wakeups = pool->wakeups;
    pthread_mutex_unlock(&pool->lock);
}
