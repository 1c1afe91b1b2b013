/*
 * akidb/pool.h — one pool of worker threads for every collection of a
 * process: graph indexing, checkpoints and compaction run here as jobs, so
 * no thread belongs to a collection and the thread count does not grow with
 * the number of collections.
 *
 * A job is a function the owner embeds (akidb_job_t) and submits. A job is
 * never run by two workers at once; submitting a queued job is a no-op and
 * submitting a running one runs it once more afterwards. A run does a
 * bounded slice of work and returns true when more is left: the job then
 * goes to the back of the queue, so a large ingest into one collection
 * takes turns with every other collection's work (round robin, FIFO).
 * Timed submissions (akidb_pool_submit_after) wait in a deadline heap.
 *
 * Thread safety: every call may be made from any thread, including from a
 * job's own run function (submit, submit_after). akidb_pool_cancel must not
 * be called from the job it cancels.
 */
#ifndef AKIDB_POOL_H
#define AKIDB_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define AKIDB_POOL_THREADS_MAX 256u

typedef struct akidb_pool akidb_pool_t;

/* One slice of a job's work; returns true when more work is left now. */
typedef bool (*akidb_job_fn)(void *ctx);

/* A job, embedded in its owner. Fields below `ctx` are the pool's. */
typedef struct akidb_job {
  akidb_job_fn fn;
  void *ctx;
  int state;      /* pool-private: idle, queued, timed, running, ... */
  bool again;     /* pool-private: submitted while running */
  bool rearm;     /* pool-private: submitted with a delay while running */
  bool cancelled; /* pool-private: refused until akidb_job_init */
  int64_t due_ns; /* pool-private: deadline while timed */
  size_t heap_at; /* pool-private: index in the deadline heap */
  struct akidb_job *next;
} akidb_job_t;

/* Prepares a job (idle). Must not be called while the job is in a pool. */
void akidb_job_init(akidb_job_t *j, akidb_job_fn fn, void *ctx);

/*
 * Starts a pool of `threads` workers (0 = one per CPU the process may run
 * on: its affinity, e.g. a container's cpuset, else the CPUs online). Errors:
 * AKIDB_EINVAL (more than AKIDB_POOL_THREADS_MAX), AKIDB_ENOMEM (a thread
 * could not start; `err` says why).
 */
int akidb_pool_create(uint32_t threads, akidb_pool_t **out, char *err, size_t errlen);

/* Stops the workers (running slices finish; queued jobs are dropped) and
 * frees the pool. Jobs still in it must not be used with it again. NULL ok. */
void akidb_pool_destroy(akidb_pool_t *p);

/* The process-wide pool of collections opened without one (one worker per
 * CPU): acquire starts it for its first user (NULL if it could not start),
 * release stops it when its last user leaves, so a process with no open
 * collection has no worker thread (it may fork safely). Release must not
 * be called from one of its own workers. */
akidb_pool_t *akidb_pool_default_acquire(void);
void akidb_pool_default_release(void);

uint32_t akidb_pool_threads(const akidb_pool_t *p);

/* Runs the job soon (at the back of the queue). */
void akidb_pool_submit(akidb_pool_t *p, akidb_job_t *j);

/* Runs the job after `ms` milliseconds, or sooner if it is already due
 * sooner (queued, or timed earlier). Called while the job runs (e.g. by
 * itself), the timer starts when the running slice ends. */
void akidb_pool_submit_after(akidb_pool_t *p, akidb_job_t *j, uint32_t ms);

/* Takes the job out of the pool: removes it from the queue or the timer
 * heap, waits for a running slice to end, and refuses later submissions
 * until akidb_job_init. */
void akidb_pool_cancel(akidb_pool_t *p, akidb_job_t *j);

typedef struct {
  uint32_t threads;
  uint64_t queued;   /* jobs waiting to run now */
  uint64_t timed;    /* jobs waiting for a deadline */
  uint64_t running;  /* slices running */
  uint64_t slices;   /* slices run since start */
} akidb_pool_stats_t;

void akidb_pool_stats(akidb_pool_t *p, akidb_pool_stats_t *out);

#ifdef __cplusplus
}
#endif

#endif /* AKIDB_POOL_H */
