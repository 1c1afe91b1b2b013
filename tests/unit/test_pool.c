/*
 * test_pool.c — the worker pool (akidb/pool.h) and the collections' use of
 * it: coalesced submissions, one runner per job, round-robin fairness,
 * timers, cancel, a thread count that does not grow with collections, a
 * large ingest that does not starve a small one, and backpressure.
 */
#include <dirent.h>
#include <sched.h>
#include <pthread.h>
#include <sys/stat.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#include "akidb/pool.h"
#include "akidb/store.h"
#include "check.h"
#include "tmpdir.h"

static int64_t mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* Polls `flag` until it is non-zero (fails after 60 s: a hang, not a time limit). */
#define WAIT_UNTIL(cond)                                                         \
  do {                                                                           \
    int64_t t0_ = mono_ns();                                                     \
    while (!(cond)) {                                                            \
      if (mono_ns() - t0_ > 60000000000LL) CHECK_FAIL("never happened: %s", #cond); \
      sleep_ms(1);                                                               \
    }                                                                            \
  } while (0)

/* ------------------------------------------------------------ the pool -- */

typedef struct {
  akidb_job_t job;
  atomic_int runs, inside, max_inside;
  atomic_int slices_left; /* returns true while > 0 */
  int sleep_ms;
  atomic_int *order; /* shared slice log */
  atomic_int *order_n;
  int tag;
  int64_t ran_at_ns;
} counter_job_t;

static bool counter_run(void *ctx) {
  counter_job_t *j = ctx;
  int in = atomic_fetch_add(&j->inside, 1) + 1;
  int m = atomic_load(&j->max_inside);
  while (in > m && !atomic_compare_exchange_weak(&j->max_inside, &m, in)) {
  }
  if (j->sleep_ms) sleep_ms(j->sleep_ms);
  if (j->order) j->order[atomic_fetch_add(j->order_n, 1)] = j->tag;
  j->ran_at_ns = mono_ns();
  atomic_fetch_add(&j->runs, 1);
  atomic_fetch_sub(&j->inside, 1);
  return atomic_fetch_sub(&j->slices_left, 1) > 1;
}

static void counter_init(counter_job_t *j, int slices) {
  memset(j, 0, sizeof *j);
  akidb_job_init(&j->job, counter_run, j);
  atomic_store(&j->slices_left, slices);
}

static void test_submitting_a_queued_job_runs_it_once(void) {
  akidb_pool_t *p;
  ASSERT_OK(akidb_pool_create(1, &p, NULL, 0));
  counter_job_t blocker, j;
  counter_init(&blocker, 1);
  blocker.sleep_ms = 100;
  counter_init(&j, 1);
  akidb_pool_submit(p, &blocker.job);
  WAIT_UNTIL(atomic_load(&blocker.inside) == 1);
  for (int i = 0; i < 10; i++) akidb_pool_submit(p, &j.job); /* queued behind the blocker */
  WAIT_UNTIL(atomic_load(&j.runs) == 1);
  sleep_ms(50);
  ASSERT_EQ_INT(atomic_load(&j.runs), 1);
  akidb_pool_destroy(p);
}

static void *submitter(void *arg) {
  akidb_pool_t **pp = arg;
  counter_job_t *j = (counter_job_t *)pp[1];
  for (int i = 0; i < 2000; i++) akidb_pool_submit(pp[0], &j->job);
  return NULL;
}

static void test_a_job_never_runs_on_two_workers_at_once(void) {
  akidb_pool_t *p;
  ASSERT_OK(akidb_pool_create(4, &p, NULL, 0));
  counter_job_t j;
  counter_init(&j, 1 << 30);
  atomic_store(&j.slices_left, 1); /* each run ends the job; submissions restart it */
  void *args[2] = {p, &j};
  pthread_t t[4];
  for (int i = 0; i < 4; i++) pthread_create(&t[i], NULL, submitter, args);
  for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
  WAIT_UNTIL(atomic_load(&j.runs) >= 1); /* the last submission runs it once more */
  akidb_pool_cancel(p, &j.job);
  ASSERT_EQ_INT(atomic_load(&j.max_inside), 1);
  akidb_pool_destroy(p);
}

static void test_long_jobs_take_turns_with_short_ones(void) {
  akidb_pool_t *p;
  ASSERT_OK(akidb_pool_create(1, &p, NULL, 0));
  atomic_int order[64], n = 0;
  counter_job_t big, small;
  counter_init(&big, 40);
  counter_init(&small, 3);
  big.order = small.order = order;
  big.order_n = small.order_n = &n;
  big.tag = 1;
  small.tag = 2;
  big.sleep_ms = small.sleep_ms = 2;
  akidb_pool_submit(p, &big.job);
  WAIT_UNTIL(atomic_load(&big.runs) >= 1);
  akidb_pool_submit(p, &small.job);
  WAIT_UNTIL(atomic_load(&small.runs) == 3 && atomic_load(&big.runs) == 40);
  /* Round robin: once the small job is queued, the two alternate. */
  int first_small = -1, last_small = -1;
  for (int i = 0; i < 43; i++)
    if (order[i] == 2) {
      if (first_small < 0) first_small = i;
      last_small = i;
    }
  ASSERT_LE(first_small, 3);
  ASSERT_LE(last_small - first_small, 4); /* S B S B S */
  akidb_pool_destroy(p);
}

static void test_timed_job_runs_after_its_deadline(void) {
  akidb_pool_t *p;
  ASSERT_OK(akidb_pool_create(2, &p, NULL, 0));
  counter_job_t late, early;
  counter_init(&late, 1);
  counter_init(&early, 1);
  int64_t t0 = mono_ns();
  akidb_pool_submit_after(p, &late.job, 200);
  akidb_pool_submit_after(p, &early.job, 30);
  WAIT_UNTIL(atomic_load(&late.runs) == 1 && atomic_load(&early.runs) == 1);
  ASSERT_GE(early.ran_at_ns - t0, 30000000);
  ASSERT_GE(late.ran_at_ns - t0, 200000000);
  ASSERT_TRUE(early.ran_at_ns < late.ran_at_ns);
  /* A timed job submitted now runs now. */
  counter_job_t j;
  counter_init(&j, 1);
  akidb_pool_submit_after(p, &j.job, 60000);
  akidb_pool_submit(p, &j.job);
  WAIT_UNTIL(atomic_load(&j.runs) == 1);
  akidb_pool_stats_t st;
  akidb_pool_stats(p, &st);
  ASSERT_EQ_U64(st.timed, 0);
  akidb_pool_destroy(p);
}

typedef struct {
  akidb_job_t job;
  akidb_pool_t *pool;
  atomic_int runs;
} rearm_job_t;

static bool rearm_run(void *ctx) {
  rearm_job_t *j = ctx;
  if (atomic_fetch_add(&j->runs, 1) + 1 < 3) akidb_pool_submit_after(j->pool, &j->job, 20);
  return false;
}

static void test_job_rearming_itself_runs_again_after_the_delay(void) {
  akidb_pool_t *p;
  ASSERT_OK(akidb_pool_create(1, &p, NULL, 0));
  rearm_job_t j = {.pool = p};
  akidb_job_init(&j.job, rearm_run, &j);
  int64_t t0 = mono_ns();
  akidb_pool_submit(p, &j.job);
  WAIT_UNTIL(atomic_load(&j.runs) == 3);
  ASSERT_GE(mono_ns() - t0, 40000000); /* two timed re-runs of 20 ms each */
  sleep_ms(60);
  ASSERT_EQ_INT(atomic_load(&j.runs), 3);
  akidb_pool_destroy(p);
}

static void test_cancel_waits_for_the_running_slice_and_refuses_more(void) {
  akidb_pool_t *p;
  ASSERT_OK(akidb_pool_create(1, &p, NULL, 0));
  counter_job_t j, t;
  counter_init(&j, 1000);
  j.sleep_ms = 50;
  counter_init(&t, 1);
  akidb_pool_submit(p, &j.job);
  akidb_pool_submit_after(p, &t.job, 100);
  WAIT_UNTIL(atomic_load(&j.inside) == 1);
  akidb_pool_cancel(p, &j.job);
  akidb_pool_cancel(p, &t.job);
  ASSERT_EQ_INT(atomic_load(&j.inside), 0);
  int runs = atomic_load(&j.runs);
  akidb_pool_submit(p, &j.job);
  sleep_ms(300);
  ASSERT_EQ_INT(atomic_load(&j.runs), runs);
  ASSERT_EQ_INT(atomic_load(&t.runs), 0);
  akidb_pool_destroy(p);
}

static void test_pool_refuses_too_many_threads(void) {
  akidb_pool_t *p = NULL;
  char err[200] = "";
  ASSERT_EQ_INT(akidb_pool_create(AKIDB_POOL_THREADS_MAX + 1, &p, err, sizeof err), AKIDB_EINVAL);
  ASSERT_STR_CONTAINS(err, "worker_threads");
  ASSERT_TRUE(p == NULL);
}

/* A pool of "one per core" counts the cores the process may run on, not
 * the machine's: confined to one CPU (as by a container's cpuset) it starts
 * one worker. */
static void test_default_pool_size_follows_the_cpu_affinity(void) {
  cpu_set_t all, one;
  ASSERT_OK(sched_getaffinity(0, sizeof all, &all));
  CPU_ZERO(&one);
  for (int c = 0; c < CPU_SETSIZE; c++)
    if (CPU_ISSET(c, &all)) {
      CPU_SET(c, &one);
      break;
    }
  ASSERT_OK(sched_setaffinity(0, sizeof one, &one));
  akidb_pool_t *p = NULL;
  char err[200] = "";
  int rc = akidb_pool_create(0, &p, err, sizeof err);
  ASSERT_OK(sched_setaffinity(0, sizeof all, &all));
  ASSERT_OK(rc);
  ASSERT_EQ_INT(akidb_pool_threads(p), 1);
  akidb_pool_destroy(p);
  if (CPU_COUNT(&all) > 1) {
    ASSERT_OK(akidb_pool_create(0, &p, err, sizeof err));
    ASSERT_EQ_INT(akidb_pool_threads(p), CPU_COUNT(&all) > (int)AKIDB_POOL_THREADS_MAX
                                             ? (int)AKIDB_POOL_THREADS_MAX : CPU_COUNT(&all));
    akidb_pool_destroy(p);
  }
}

/* ----------------------------------------------------- with collections -- */

/* Whether thread counts can be compared: under qemu-user (the test runner
 * sets QEMU_CPU) the emulator's own helper threads come and go. */
static bool threads_countable(void) {
  if (!getenv("QEMU_CPU")) return true;
  fprintf(stderr, "     (thread counts not compared under qemu-user)\n");
  return false;
}

/* Threads of this process. */
static int thread_count(void) {
  DIR *d = opendir("/proc/self/task");
  int n = 0;
  for (struct dirent *e; d && (e = readdir(d));)
    if (e->d_name[0] != '.') n++;
  if (d) closedir(d);
  return n;
}

/* The thread count once it is at most `limit`, or after ~5 s of trying:
 * a joined thread leaves /proc/self/task a moment after pthread_join
 * returns (the kernel reaps it after waking the joiner). */
static int thread_count_settled(int limit) {
  int n = thread_count();
  for (int i = 0; i < 5000 && n > limit; i++) {
    struct timespec ts = {0, 1000000L};
    nanosleep(&ts, NULL);
    n = thread_count();
  }
  return n;
}

static void open_in(const char *root, const char *name, akidb_pool_t *p, uint32_t dim,
                     akidb_collection_t **out, void (*tune)(akidb_collection_options_t *)) {
  char dir[8400];
  mkdir(root, 0755);
  snprintf(dir, sizeof dir, "%s/%s", root, name);
  akidb_collection_options_t o;
  akidb_collection_options_default(&o, dim, AKIDB_METRIC_L2);
  o.durability = AKIDB_DURABILITY_NONE;
  o.pool = p;
  if (tune) tune(&o);
  char err[512] = "";
  int rc = akidb_collection_open(dir, &o, out, NULL, err, sizeof err);
  if (rc) CHECK_FAIL("open %s: %s", dir, err);
}

static void upsert_range(akidb_collection_t *c, uint32_t dim, int from, int n) {
  akidb_point_t *pts = calloc((size_t)n, sizeof *pts);
  float *v = malloc((size_t)n * dim * sizeof(float));
  char(*ids)[24] = malloc((size_t)n * 24);
  for (int i = 0; i < n; i++) {
    for (uint32_t d = 0; d < dim; d++) v[(size_t)i * dim + d] = (float)((from + i) * 31 % 97 + d);
    pts[i].id_len = (size_t)snprintf(ids[i], 24, "p%d", from + i);
    pts[i].id = ids[i];
    pts[i].vector = v + (size_t)i * dim;
  }
  char err[512] = "";
  int rc = akidb_collection_upsert(c, pts, (size_t)n, err, sizeof err);
  if (rc) CHECK_FAIL("upsert: %s", err);
  free(pts);
  free(v);
  free(ids);
}

static void test_threads_do_not_grow_with_collections(void) {
  char root[8192];
  tmpdir_path(root, sizeof root, "test_pool", "pool-threads");
  akidb_pool_t *p;
  ASSERT_OK(akidb_pool_create(2, &p, NULL, 0));
  int before = thread_count();
  enum { N = 200 };
  akidb_collection_t *cs[N];
  for (int i = 0; i < N; i++) {
    char name[32];
    snprintf(name, sizeof name, "c%d", i);
    open_in(root, name, p, 8, &cs[i], NULL);
    upsert_range(cs[i], 8, 0, 3);
  }
  bool countable = threads_countable();
  if (countable) ASSERT_LE(thread_count(), before);
  for (int i = 0; i < N; i++) akidb_collection_wait_indexed(cs[i]);
  if (countable) ASSERT_LE(thread_count(), before);
  for (int i = 0; i < N; i++) {
    ASSERT_EQ_U64(akidb_collection_count(cs[i]), 3);
    ASSERT_OK(akidb_collection_close(cs[i], NULL, 0));
  }
  akidb_pool_destroy(p);
}

static void exact_zero(akidb_collection_options_t *o) { o->exact_below = 0; }

static void test_default_pool_runs_only_while_collections_use_it(void) {
  char root[8192];
  tmpdir_path(root, sizeof root, "test_pool", "pool-default");
  int before = thread_count();
  akidb_collection_t *a, *b;
  open_in(root, "a", NULL, 8, &a, exact_zero); /* no pool given: the default one */
  open_in(root, "b", NULL, 8, &b, exact_zero);
  int with = thread_count();
  bool countable = threads_countable();
  if (countable) ASSERT_GE(with, before + 1);
  upsert_range(a, 8, 0, 10);
  akidb_collection_wait_indexed(a);
  ASSERT_OK(akidb_collection_close(a, NULL, 0));
  if (countable) ASSERT_GE(thread_count(), with); /* b still uses it */
  ASSERT_OK(akidb_collection_close(b, NULL, 0));
  if (countable) /* no thread left behind (a fork is safe) */
    ASSERT_LE(thread_count_settled(before), before);
}

static void interval_sync(akidb_collection_options_t *o) {
  o->durability = AKIDB_DURABILITY_INTERVAL;
  o->fsync_interval_ms = 20;
}

static void test_interval_durability_syncs_on_the_pool_without_a_thread(void) {
  char root[8192];
  tmpdir_path(root, sizeof root, "test_pool", "pool-interval");
  akidb_pool_t *p;
  ASSERT_OK(akidb_pool_create(1, &p, NULL, 0));
  int before = thread_count();
  akidb_collection_t *c;
  open_in(root, "c", p, 8, &c, interval_sync);
  if (threads_countable()) ASSERT_LE(thread_count(), before); /* no sync thread of its own */
  akidb_collection_stats_t st;
  akidb_collection_stats(c, &st);
  uint64_t syncs0 = st.wal_fsyncs;
  upsert_range(c, 8, 0, 10);
  WAIT_UNTIL((akidb_collection_stats(c, &st), st.wal_fsyncs > syncs0));
  uint64_t syncs1 = st.wal_fsyncs;
  sleep_ms(100); /* no writes: no more syncs */
  akidb_collection_stats(c, &st);
  ASSERT_EQ_U64(st.wal_fsyncs, syncs1);
  upsert_range(c, 8, 10, 10);
  WAIT_UNTIL((akidb_collection_stats(c, &st), st.wal_fsyncs > syncs1));
  ASSERT_OK(akidb_collection_close(c, NULL, 0));
  akidb_pool_destroy(p);
}

/* The big collection's batches of 1,000 points: 20,000 points, or 4,000 in
 * the emulated (qemu) runs, where indexing 20,000 took 80 of the file's 90 s. */
#ifdef AKIDB_TEST_SMALL
enum { BIG_BATCHES = 4 };
#else
enum { BIG_BATCHES = 20 };
#endif

static void test_large_ingest_does_not_starve_a_small_collection(void) {
  char root[8192];
  tmpdir_path(root, sizeof root, "test_pool", "pool-fair");
  akidb_pool_t *p;
  ASSERT_OK(akidb_pool_create(1, &p, NULL, 0));
  akidb_collection_t *big, *small;
  const uint32_t dim = 64;
  open_in(root, "big", p, dim, &big, exact_zero);
  open_in(root, "small", p, dim, &small, exact_zero);
  for (int i = 0; i < BIG_BATCHES; i++) upsert_range(big, dim, i * 1000, 1000);
  upsert_range(small, dim, 0, 100);
  akidb_collection_stats_t st;
  WAIT_UNTIL((akidb_collection_stats(small, &st), st.pending == 0));
  akidb_collection_stats(big, &st);
  /* One worker, slices of 256 points taken in turns: the small collection
   * was indexed long before the big one's points: half are still waiting. */
  ASSERT_GE(st.pending, BIG_BATCHES * 1000 / 2);
  akidb_collection_wait_indexed(big);
  akidb_collection_stats(big, &st);
  ASSERT_EQ_U64(st.pending, 0);
  ASSERT_OK(akidb_collection_close(big, NULL, 0));
  ASSERT_OK(akidb_collection_close(small, NULL, 0));
  akidb_pool_destroy(p);
}

static atomic_bool hold_worker;
static bool blocker_run(void *ctx) {
  (void)ctx;
  while (atomic_load(&hold_worker)) sleep_ms(1);
  return false;
}

static void bounded(akidb_collection_options_t *o) {
  o->exact_below = 0;
  o->max_pending = 1000;
  o->backpressure_wait_ms = 100;
}

static void test_writes_past_the_pending_bound_are_refused_then_admitted(void) {
  char root[8192];
  tmpdir_path(root, sizeof root, "test_pool", "pool-backpressure");
  akidb_pool_t *p;
  ASSERT_OK(akidb_pool_create(1, &p, NULL, 0));
  akidb_job_t blocker;
  akidb_job_init(&blocker, blocker_run, NULL);
  atomic_store(&hold_worker, true);
  akidb_pool_submit(p, &blocker); /* the only worker is busy: nothing gets indexed */
  akidb_collection_t *c;
  open_in(root, "c", p, 16, &c, bounded);
  upsert_range(c, 16, 0, 1000); /* exactly at the bound */
  akidb_point_t pt = {.id = "x", .id_len = 1, .vector = (float[16]){1}};
  char err[512] = "";
  ASSERT_EQ_INT(akidb_collection_upsert(c, &pt, 1, err, sizeof err), AKIDB_EBUSY);
  ASSERT_STR_CONTAINS(err, "waiting to be indexed");
  ASSERT_EQ_U64(akidb_collection_count(c), 1000); /* nothing written */
  akidb_point_out_t out;
  ASSERT_EQ_INT(akidb_collection_get(c, "x", 1, false, &out), AKIDB_ENOTFOUND);
  atomic_store(&hold_worker, false); /* indexing resumes: the write is admitted */
  ASSERT_OK(akidb_collection_upsert(c, &pt, 1, err, sizeof err));
  ASSERT_EQ_U64(akidb_collection_count(c), 1001);
  ASSERT_OK(akidb_collection_close(c, NULL, 0));
  akidb_pool_destroy(p);
}

CHECK_MAIN(CHECK_CASE(test_submitting_a_queued_job_runs_it_once),
           CHECK_CASE(test_a_job_never_runs_on_two_workers_at_once),
           CHECK_CASE(test_long_jobs_take_turns_with_short_ones),
           CHECK_CASE(test_timed_job_runs_after_its_deadline),
           CHECK_CASE(test_job_rearming_itself_runs_again_after_the_delay),
           CHECK_CASE(test_cancel_waits_for_the_running_slice_and_refuses_more),
           CHECK_CASE(test_pool_refuses_too_many_threads),
           CHECK_CASE(test_default_pool_size_follows_the_cpu_affinity),
           CHECK_CASE(test_threads_do_not_grow_with_collections),
           CHECK_CASE(test_default_pool_runs_only_while_collections_use_it),
           CHECK_CASE(test_large_ingest_does_not_starve_a_small_collection),
           CHECK_CASE(test_interval_durability_syncs_on_the_pool_without_a_thread),
           CHECK_CASE(test_writes_past_the_pending_bound_are_refused_then_admitted))
