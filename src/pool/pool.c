/*
 * pool.c — the worker pool (include/akidb/pool.h): a FIFO run queue of
 * jobs, a min-heap of timed jobs by deadline, and N worker threads that pop
 * a job, run one slice of it outside every lock, and requeue it at the back
 * when it says more work is left (round robin between owners).
 *
 * Job states (all changes under the pool mutex):
 *   IDLE ──submit──▶ QUEUED ──worker──▶ RUNNING ──slice done──▶ IDLE
 *   IDLE ──submit_after──▶ TIMED ──deadline──▶ QUEUED
 *   RUNNING ──submit──▶ RUNNING + again  (requeued when the slice ends)
 *   RUNNING ──submit_after──▶ RUNNING + rearm (timed when the slice ends)
 *   any ──cancel──▶ IDLE + cancelled     (waits for RUNNING to end)
 * Invariants: a job is in the queue iff QUEUED, in the heap iff TIMED, and
 * run by at most one worker; `done` is broadcast whenever a slice ends.
 *
 * Locking: one mutex (`lock`) for the queue, the heap and every job's pool
 * fields; `work` wakes workers, `done` wakes cancellers. No lock is held
 * while a job runs. Durability: none (the pool holds no data).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "akidb/errors.h"
#include "akidb/pool.h"
#include "util/clock.h"
#include "util/thread.h"

enum { JOB_IDLE = 0, JOB_QUEUED, JOB_TIMED, JOB_RUNNING };

struct akidb_pool {
  pthread_mutex_t lock;
  pthread_cond_t work, done;
  akidb_job_t *head, *tail; /* run queue */
  akidb_job_t **heap;       /* timed jobs, earliest deadline first */
  size_t n_heap, cap_heap;
  pthread_t *threads;
  uint32_t n_threads;
  uint64_t running, slices, queued;
  bool stopping;
};

static int64_t now_ns(void) { return (int64_t)clock_now_ns(); }

void akidb_job_init(akidb_job_t *j, akidb_job_fn fn, void *ctx) {
  memset(j, 0, sizeof *j);
  j->fn = fn;
  j->ctx = ctx;
  j->state = JOB_IDLE;
}

/* ------------------------------------------------------------ run queue -- */

static void queue_push(akidb_pool_t *p, akidb_job_t *j) {
  j->state = JOB_QUEUED;
  j->next = NULL;
  if (p->tail) p->tail->next = j;
  else p->head = j;
  p->tail = j;
  p->queued++;
  pthread_cond_signal(&p->work);
}

static akidb_job_t *queue_pop(akidb_pool_t *p) {
  akidb_job_t *j = p->head;
  if (!j) return NULL;
  p->head = j->next;
  if (!p->head) p->tail = NULL;
  j->next = NULL;
  p->queued--;
  return j;
}

static void queue_remove(akidb_pool_t *p, akidb_job_t *j) {
  akidb_job_t *prev = NULL;
  for (akidb_job_t *it = p->head; it; prev = it, it = it->next) {
    if (it != j) continue;
    if (prev) prev->next = j->next;
    else p->head = j->next;
    if (p->tail == j) p->tail = prev;
    j->next = NULL;
    p->queued--;
    return;
  }
}

/* ---------------------------------------------------------- timer heap -- */

static void heap_swap(akidb_pool_t *p, size_t a, size_t b) {
  akidb_job_t *t = p->heap[a];
  p->heap[a] = p->heap[b];
  p->heap[b] = t;
  p->heap[a]->heap_at = a;
  p->heap[b]->heap_at = b;
}

static void heap_up(akidb_pool_t *p, size_t i) {
  while (i > 0 && p->heap[(i - 1) / 2]->due_ns > p->heap[i]->due_ns) {
    heap_swap(p, i, (i - 1) / 2);
    i = (i - 1) / 2;
  }
}

static void heap_down(akidb_pool_t *p, size_t i) {
  for (;;) {
    size_t l = 2 * i + 1, r = l + 1, m = i;
    if (l < p->n_heap && p->heap[l]->due_ns < p->heap[m]->due_ns) m = l;
    if (r < p->n_heap && p->heap[r]->due_ns < p->heap[m]->due_ns) m = r;
    if (m == i) return;
    heap_swap(p, i, m);
    i = m;
  }
}

/* Adds j to the heap; false when out of memory. */
static bool heap_push(akidb_pool_t *p, akidb_job_t *j) {
  if (p->n_heap == p->cap_heap) {
    size_t cap = p->cap_heap ? p->cap_heap * 2 : 64;
    akidb_job_t **h = realloc(p->heap, cap * sizeof *h);
    if (!h) return false;
    p->heap = h;
    p->cap_heap = cap;
  }
  j->state = JOB_TIMED;
  j->heap_at = p->n_heap;
  p->heap[p->n_heap++] = j;
  heap_up(p, j->heap_at);
  return true;
}

static void heap_remove(akidb_pool_t *p, akidb_job_t *j) {
  size_t i = j->heap_at;
  p->n_heap--;
  if (i != p->n_heap) {
    heap_swap(p, i, p->n_heap);
    heap_down(p, i);
    heap_up(p, i);
  }
}

/* Moves every timed job whose deadline passed to the run queue. */
static void release_due(akidb_pool_t *p, int64_t now) {
  while (p->n_heap && p->heap[0]->due_ns <= now) {
    akidb_job_t *j = p->heap[0];
    heap_remove(p, j);
    queue_push(p, j);
  }
}

/* ------------------------------------------------------------- workers -- */

/* Waits for work: until signalled or the earliest deadline. Lock held. */
static void wait_for_work(akidb_pool_t *p) {
  if (!p->n_heap) {
    pthread_cond_wait(&p->work, &p->lock);
    return;
  }
  int64_t due = p->heap[0]->due_ns;
  struct timespec ts = {.tv_sec = due / 1000000000, .tv_nsec = due % 1000000000};
  pthread_cond_timedwait(&p->work, &p->lock, &ts);
}

/* Runs one slice of j without the lock; requeues or idles it after. */
static void run_slice(akidb_pool_t *p, akidb_job_t *j) {
  j->state = JOB_RUNNING;
  j->again = false;
  j->rearm = false;
  p->running++;
  pthread_mutex_unlock(&p->lock);
  bool more = j->fn(j->ctx);
  pthread_mutex_lock(&p->lock);
  p->running--;
  p->slices++;
  j->state = JOB_IDLE;
  if (!j->cancelled && (more || j->again)) queue_push(p, j);
  else if (!j->cancelled && j->rearm && !heap_push(p, j)) queue_push(p, j);
  pthread_cond_broadcast(&p->done);
}

static void *worker_main(void *arg) {
  akidb_pool_t *p = arg;
  util_thread_name("pool-worker");
  pthread_mutex_lock(&p->lock);
  while (!p->stopping) {
    release_due(p, now_ns());
    akidb_job_t *j = queue_pop(p);
    if (j) run_slice(p, j);
    else wait_for_work(p);
  }
  pthread_mutex_unlock(&p->lock);
  return NULL;
}

/* ----------------------------------------------------------- lifecycle -- */

static void stop_workers(akidb_pool_t *p) {
  pthread_mutex_lock(&p->lock);
  p->stopping = true;
  pthread_cond_broadcast(&p->work);
  pthread_mutex_unlock(&p->lock);
  for (uint32_t i = 0; i < p->n_threads; i++) pthread_join(p->threads[i], NULL);
  p->n_threads = 0;
}

static void pool_free(akidb_pool_t *p) {
  pthread_mutex_destroy(&p->lock);
  pthread_cond_destroy(&p->work);
  pthread_cond_destroy(&p->done);
  free(p->heap);
  free(p->threads);
  free(p);
}

static uint32_t cpu_count(void) {
  long n = util_cpus_usable();
  return n > (long)AKIDB_POOL_THREADS_MAX ? AKIDB_POOL_THREADS_MAX : (uint32_t)n;
}

int akidb_pool_create(uint32_t threads, akidb_pool_t **out, char *err, size_t errlen) {
  *out = NULL;
  if (threads > AKIDB_POOL_THREADS_MAX) {
    if (err) snprintf(err, errlen, "worker_threads is %u; it must be between 0 (one per CPU) "
                      "and %u", threads, AKIDB_POOL_THREADS_MAX);
    return AKIDB_EINVAL;
  }
  if (threads == 0) threads = cpu_count();
  akidb_pool_t *p = calloc(1, sizeof *p);
  if (!p || !(p->threads = calloc(threads, sizeof *p->threads))) {
    free(p);
    return AKIDB_ENOMEM;
  }
  pthread_mutex_init(&p->lock, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&p->work, &ca);
  pthread_condattr_destroy(&ca);
  pthread_cond_init(&p->done, NULL);
  for (uint32_t i = 0; i < threads; i++) {
    int rc = pthread_create(&p->threads[i], NULL, worker_main, p);
    if (rc) {
      if (err) snprintf(err, errlen, "cannot start worker thread %u: %s", i, strerror(rc));
      stop_workers(p);
      pool_free(p);
      return AKIDB_ENOMEM;
    }
    p->n_threads = i + 1;
  }
  *out = p;
  return AKIDB_OK;
}

void akidb_pool_destroy(akidb_pool_t *p) {
  if (!p) return;
  stop_workers(p);
  pool_free(p);
}

static pthread_mutex_t default_lock = PTHREAD_MUTEX_INITIALIZER;
static akidb_pool_t *default_pool;
static uint64_t default_users;
static bool default_atfork;

/* A forked child has none of the parent's workers: it abandons the
 * parent's pool (its lock may even be held) and starts its own on use. */
static void default_forget_in_child(void) {
  pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
  default_lock = fresh;
  default_pool = NULL;
  default_users = 0;
}

akidb_pool_t *akidb_pool_default_acquire(void) {
  pthread_mutex_lock(&default_lock);
  if (!default_atfork) default_atfork = pthread_atfork(NULL, NULL, default_forget_in_child) == 0;
  if (!default_pool) akidb_pool_create(0, &default_pool, NULL, 0);
  akidb_pool_t *p = default_pool;
  if (p) default_users++;
  pthread_mutex_unlock(&default_lock);
  return p;
}

void akidb_pool_default_release(void) {
  pthread_mutex_lock(&default_lock);
  akidb_pool_t *stop = NULL;
  if (default_users && --default_users == 0) {
    stop = default_pool;
    default_pool = NULL;
  }
  pthread_mutex_unlock(&default_lock);
  akidb_pool_destroy(stop); /* no user left: no thread stays behind */
}

uint32_t akidb_pool_threads(const akidb_pool_t *p) { return p->n_threads; }

/* ---------------------------------------------------------- submission -- */

void akidb_pool_submit(akidb_pool_t *p, akidb_job_t *j) {
  pthread_mutex_lock(&p->lock);
  if (j->cancelled || p->stopping) {
    pthread_mutex_unlock(&p->lock);
    return;
  }
  if (j->state == JOB_RUNNING) j->again = true;
  else if (j->state == JOB_TIMED) {
    heap_remove(p, j);
    queue_push(p, j);
  } else if (j->state == JOB_IDLE) queue_push(p, j);
  pthread_mutex_unlock(&p->lock);
}

void akidb_pool_submit_after(akidb_pool_t *p, akidb_job_t *j, uint32_t ms) {
  int64_t due = now_ns() + (int64_t)ms * 1000000;
  pthread_mutex_lock(&p->lock);
  if (j->cancelled || p->stopping || j->state == JOB_QUEUED) {
    pthread_mutex_unlock(&p->lock);
    return; /* runs sooner anyway */
  }
  if (j->state == JOB_RUNNING) { /* the timer starts when this slice ends */
    if (!j->rearm || due < j->due_ns) j->due_ns = due;
    j->rearm = true;
    pthread_mutex_unlock(&p->lock);
    return;
  }
  if (j->state == JOB_TIMED) {
    if (due < j->due_ns) {
      j->due_ns = due;
      heap_up(p, j->heap_at);
    }
  } else {
    j->due_ns = due;
    if (!heap_push(p, j)) queue_push(p, j); /* no memory for the heap: run now */
  }
  if (p->n_heap && p->heap[0] == j) pthread_cond_signal(&p->work); /* new earliest */
  pthread_mutex_unlock(&p->lock);
}

void akidb_pool_cancel(akidb_pool_t *p, akidb_job_t *j) {
  pthread_mutex_lock(&p->lock);
  j->cancelled = true;
  if (j->state == JOB_QUEUED) queue_remove(p, j);
  else if (j->state == JOB_TIMED) heap_remove(p, j);
  while (j->state == JOB_RUNNING) pthread_cond_wait(&p->done, &p->lock);
  j->state = JOB_IDLE;
  j->again = j->rearm = false;
  pthread_mutex_unlock(&p->lock);
}

void akidb_pool_stats(akidb_pool_t *p, akidb_pool_stats_t *out) {
  pthread_mutex_lock(&p->lock);
  out->threads = p->n_threads;
  out->queued = p->queued;
  out->timed = p->n_heap;
  out->running = p->running;
  out->slices = p->slices;
  pthread_mutex_unlock(&p->lock);
}
