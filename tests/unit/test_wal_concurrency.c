/*
 * test_wal_concurrency.c — the write-ahead log under concurrent appenders
 * (also run under ThreadSanitizer): seqs unique and contiguous, every
 * acknowledged group replayed intact after reopen, group commit (fewer
 * fdatasync calls than appends), rollover while others append and sync,
 * the interval thread beside appenders, and a sync failure in the middle
 * of concurrent appends acknowledging nothing that was not synced.
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "akidb/errors.h"
#include "check.h"
#include "tmpdir.h"
#include "store/wal.h"

#ifdef AKIDB_TEST_SMALL
#define GROUPS 40
#else
#define GROUPS 200
#endif
#define MAX_THREADS 8
#define MAX_GROUP 16
#define MAX_LEN 400

/* ------------------------------------------------------ temp directories -- */

/* A fresh, not yet existing directory path under the temporary root (the
 * log creates it). */
static void new_dir(char *out, size_t n, const char *name) {
  tmpdir_path(out, n, "akidb-test-walc", name);
}

/* ------------------------------------------------------------ workload -- */

/* The records of group g of thread t are fully determined by (t, g). */
static size_t group_size(int t, int g) { return 1 + (size_t)(t * 5 + g * 3) % MAX_GROUP; }

static size_t record_len(int t, int g, size_t i) {
  return (size_t)(t * 131 + g * 17 + (int)i * 29) % (MAX_LEN + 1);
}

static uint8_t record_type(int t, int g, size_t i) {
  return (uint8_t)(1 + (t * 7 + g + (int)i) % 250);
}

static void fill_payload(uint8_t *p, size_t len, int t, int g, size_t i) {
  uint64_t s = ((uint64_t)t << 40 | (uint64_t)g << 16 | i) * 0x9E3779B97F4A7C15ull + 1;
  for (size_t k = 0; k < len; k++) {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    p[k] = (uint8_t)s;
  }
}

typedef struct {
  wal_t *w;
  int t;
  int groups;
  atomic_int *go;         /* threads start together */
  uint64_t first[GROUPS]; /* seqs of each acknowledged group */
  uint64_t last[GROUPS];
  int acked[GROUPS];
  int failed_at;        /* first group that failed, -1 if none */
  int ok_after_failure; /* appends acknowledged after a failure */
} worker_t;

static void *worker_main(void *arg) {
  worker_t *k = arg;
  wal_record_t recs[MAX_GROUP];
  uint8_t bufs[MAX_GROUP][MAX_LEN];
  while (!atomic_load(k->go)) sched_yield();
  k->failed_at = -1;
  for (int g = 0; g < k->groups; g++) {
    size_t n = group_size(k->t, g);
    for (size_t i = 0; i < n; i++) {
      size_t len = record_len(k->t, g, i);
      fill_payload(bufs[i], len, k->t, g, i);
      recs[i] = (wal_record_t){.type = record_type(k->t, g, i), .data = bufs[i], .len = len};
    }
    char err[512] = "";
    int rc = wal_append(k->w, recs, n, &k->first[g], &k->last[g], err, sizeof err);
    k->acked[g] = rc == AKIDB_OK;
    if (rc != AKIDB_OK && rc != AKIDB_EIO)
      CHECK_FAIL("thread %d group %d: %s: %s", k->t, g, akidb_err_name(rc), err);
    if (rc == AKIDB_OK && k->failed_at >= 0) k->ok_after_failure++;
    if (rc == AKIDB_EIO && k->failed_at < 0) k->failed_at = g;
    if (rc == AKIDB_OK && k->last[g] - k->first[g] + 1 != n)
      CHECK_FAIL("thread %d group %d: seqs %llu..%llu for %zu records", k->t, g,
                 (unsigned long long)k->first[g], (unsigned long long)k->last[g], n);
  }
  return NULL;
}

/* Runs `threads` workers of `groups` groups each against w. */
static void run_workers(wal_t *w, worker_t *ws, int threads, int groups) {
  pthread_t tid[MAX_THREADS];
  atomic_int go = 0;
  for (int t = 0; t < threads; t++) {
    memset(&ws[t], 0, sizeof ws[t]);
    ws[t] = (worker_t){.w = w, .t = t, .groups = groups, .go = &go};
    ASSERT_EQ_INT(pthread_create(&tid[t], NULL, worker_main, &ws[t]), 0);
  }
  atomic_store(&go, 1);
  for (int t = 0; t < threads; t++) ASSERT_EQ_INT(pthread_join(tid[t], NULL), 0);
}

/* Who owns each seq: thread, group, index in the group. */
typedef struct {
  int t, g;
  size_t i;
} owner_t;

/* Checks that the acknowledged groups tile seqs 1..K without gaps or
 * overlaps (K returned) and fills owner[1..K]. */
static uint64_t check_tiling(const worker_t *ws, int threads, int groups, owner_t *owner,
                             uint64_t cap) {
  uint64_t total = 0;
  for (int t = 0; t < threads; t++)
    for (int g = 0; g < groups; g++)
      if (ws[t].acked[g]) total += group_size(t, g);
  ASSERT_TRUE(total < cap);
  for (uint64_t s = 0; s <= total; s++) owner[s].t = -1;
  for (int t = 0; t < threads; t++)
    for (int g = 0; g < groups; g++) {
      if (!ws[t].acked[g]) continue;
      if (ws[t].last[g] > total)
        CHECK_FAIL("thread %d group %d got seqs up to %llu, beyond the %llu acknowledged records",
                   t, g, (unsigned long long)ws[t].last[g], (unsigned long long)total);
      for (uint64_t s = ws[t].first[g]; s <= ws[t].last[g]; s++) {
        if (owner[s].t >= 0)
          CHECK_FAIL("seq %llu given to thread %d group %d and thread %d group %d",
                     (unsigned long long)s, owner[s].t, owner[s].g, t, g);
        owner[s] = (owner_t){t, g, (size_t)(s - ws[t].first[g])};
      }
    }
  for (uint64_t s = 1; s <= total; s++)
    if (owner[s].t < 0) CHECK_FAIL("seq %llu was never acknowledged", (unsigned long long)s);
  return total;
}

typedef struct {
  const owner_t *owner;
  uint64_t known; /* seqs 1..known have owners */
  uint64_t seen;
  uint64_t next; /* expected seq */
} verify_t;

static int verify_fn(void *ctx, uint64_t seq, uint8_t type, const void *data, size_t len) {
  verify_t *v = ctx;
  if (seq != v->next)
    CHECK_FAIL("replay gave seq %llu, expected %llu", (unsigned long long)seq,
               (unsigned long long)v->next);
  v->next++;
  v->seen++;
  if (seq > v->known) return 0; /* written but not acknowledged */
  const owner_t *o = &v->owner[seq];
  uint8_t want[MAX_LEN];
  size_t wlen = record_len(o->t, o->g, o->i);
  fill_payload(want, wlen, o->t, o->g, o->i);
  if (type != record_type(o->t, o->g, o->i) || len != wlen || memcmp(data, want, len) != 0)
    CHECK_FAIL("seq %llu (thread %d group %d record %zu) replays with type %u len %zu, expected "
               "type %u len %zu",
               (unsigned long long)seq, o->t, o->g, o->i, type, len, record_type(o->t, o->g, o->i),
               wlen);
  return 0;
}

/* Reopens the log and checks every acknowledged record after `after`;
 * returns how many records the replay gave. */
static uint64_t verify_after_reopen(const char *dir, const wal_options_t *o, const owner_t *owner,
                                    uint64_t known, uint64_t after) {
  wal_t *w = NULL;
  char err[512] = "";
  int rc = wal_open(dir, o, &w, NULL, err, sizeof err);
  if (rc != AKIDB_OK) CHECK_FAIL("reopen: %s: %s", akidb_err_name(rc), err);
  verify_t v = {.owner = owner, .known = known, .next = after + 1};
  rc = wal_replay(w, after, verify_fn, &v, err, sizeof err);
  if (rc != AKIDB_OK) CHECK_FAIL("replay: %s: %s", akidb_err_name(rc), err);
  ASSERT_TRUE(v.seen >= known - after);
  wal_close(w);
  return v.seen;
}

static wal_t *open_ok(const char *dir, const wal_options_t *o) {
  wal_t *w = NULL;
  char err[512] = "";
  int rc = wal_open(dir, o, &w, NULL, err, sizeof err);
  if (rc != AKIDB_OK) CHECK_FAIL("wal_open(%s) = %s: %s", dir, akidb_err_name(rc), err);
  return w;
}

static owner_t *owners(void) {
  owner_t *o = malloc((size_t)MAX_THREADS * GROUPS * MAX_GROUP * sizeof *o + sizeof *o);
  ASSERT_TRUE(o != NULL);
  return o;
}

#define OWNER_CAP ((uint64_t)MAX_THREADS * GROUPS * MAX_GROUP + 1)

/* --------------------------------------------------------------- tests -- */

static void test_wal_concurrent_appends_get_contiguous_seqs_and_share_syncs(void) {
  char dir[4200];
  new_dir(dir, sizeof dir, "fsync");
  wal_options_t o = {.sync = WAL_SYNC_FSYNC};
  wal_t *w = open_ok(dir, &o);
  uint64_t c0, ns0;
  wal_sync_stats(w, &c0, &ns0);
  static worker_t ws[MAX_THREADS];
  run_workers(w, ws, MAX_THREADS, GROUPS);
  uint64_t c1, ns1;
  wal_sync_stats(w, &c1, &ns1);
  owner_t *owner = owners();
  uint64_t n = check_tiling(ws, MAX_THREADS, GROUPS, owner, OWNER_CAP);
  ASSERT_EQ_U64(wal_last_seq(w), n);
  for (int t = 0; t < MAX_THREADS; t++) ASSERT_EQ_INT(ws[t].failed_at, -1);
  uint64_t appends = (uint64_t)MAX_THREADS * GROUPS, syncs = c1 - c0;
  fprintf(stderr, "  %llu appends (%llu records), %llu fdatasyncs, %.1f us per sync\n",
          (unsigned long long)appends, (unsigned long long)n, (unsigned long long)syncs,
          syncs ? (double)(ns1 - ns0) / (double)syncs / 1e3 : 0.0);
  ASSERT_TRUE(syncs >= 1);
  ASSERT_TRUE(syncs < appends); /* group commit */
  wal_close(w);
  ASSERT_EQ_U64(verify_after_reopen(dir, &o, owner, n, 0), n);
  free(owner);
}

typedef struct {
  wal_t *w;
  atomic_int stop;
  uint64_t reads;
} poller_t;

/* Reads the metrics accessors while others append (they are atomics). */
static void *poller_main(void *arg) {
  poller_t *p = arg;
  uint64_t prev = 0;
  while (!atomic_load(&p->stop)) {
    uint64_t last = wal_last_seq(p->w), count, ns;
    if (last < prev)
      CHECK_FAIL("wal_last_seq went back from %llu to %llu", (unsigned long long)prev,
                 (unsigned long long)last);
    prev = last;
    wal_sync_stats(p->w, &count, &ns);
    (void)wal_size_bytes(p->w);
    ASSERT_EQ_INT(wal_failed(p->w), 0);
    p->reads++;
  }
  return NULL;
}

static void test_wal_concurrent_appends_across_rollovers(void) {
  char dir[4200];
  new_dir(dir, sizeof dir, "rollover");
  wal_options_t o = {.sync = WAL_SYNC_FSYNC, .segment_bytes = 16384};
  wal_t *w = open_ok(dir, &o);
  poller_t p = {.w = w};
  pthread_t ptid;
  ASSERT_EQ_INT(pthread_create(&ptid, NULL, poller_main, &p), 0);
  static worker_t ws[MAX_THREADS];
  run_workers(w, ws, 4, GROUPS);
  atomic_store(&p.stop, 1);
  ASSERT_EQ_INT(pthread_join(ptid, NULL), 0);
  owner_t *owner = owners();
  uint64_t n = check_tiling(ws, 4, GROUPS, owner, OWNER_CAP);
  wal_close(w);
  size_t segments = 0;
  DIR *d = opendir(dir);
  for (struct dirent *e; (e = readdir(d)) != NULL;) segments += strstr(e->d_name, ".wal") != NULL;
  closedir(d);
  fprintf(stderr, "  %llu records in %zu segments\n", (unsigned long long)n, segments);
  ASSERT_TRUE(segments >= 4);
  ASSERT_EQ_U64(verify_after_reopen(dir, &o, owner, n, 0), n);
  free(owner);
}

typedef struct {
  wal_t *w;
  atomic_int stop;
  uint64_t covered; /* the highest seq passed to wal_remove_upto */
  int rounds;
} checkpointer_t;

/* Plays the checkpoint's part: roll, then remove what half the log covers. */
static void *checkpointer_main(void *arg) {
  checkpointer_t *c = arg;
  char err[512] = "";
  while (!atomic_load(&c->stop)) {
    for (int i = 0; i < 200; i++) sched_yield();
    uint64_t upto = wal_last_seq(c->w) / 2;
    int rc = wal_roll(c->w, err, sizeof err);
    if (!rc) rc = wal_remove_upto(c->w, upto, err, sizeof err);
    if (rc)
      CHECK_FAIL("roll/remove up to %llu: %s: %s", (unsigned long long)upto, akidb_err_name(rc),
                 err);
    c->covered = upto;
    c->rounds++;
  }
  return NULL;
}

/* Rolls and removals (a checkpoint's calls) beside four appenders: seqs stay
 * contiguous and everything above the last removal replays intact. */
static void test_wal_roll_and_remove_beside_appends(void) {
  char dir[4200];
  new_dir(dir, sizeof dir, "checkpoint");
  wal_options_t o = {.sync = WAL_SYNC_FSYNC};
  wal_t *w = open_ok(dir, &o);
  checkpointer_t c = {.w = w};
  pthread_t ctid;
  ASSERT_EQ_INT(pthread_create(&ctid, NULL, checkpointer_main, &c), 0);
  static worker_t ws[MAX_THREADS];
  run_workers(w, ws, 4, GROUPS);
  atomic_store(&c.stop, 1);
  ASSERT_EQ_INT(pthread_join(ctid, NULL), 0);
  owner_t *owner = owners();
  uint64_t n = check_tiling(ws, 4, GROUPS, owner, OWNER_CAP);
  wal_close(w);
  fprintf(stderr, "  %d roll+remove rounds, last covered seq %llu of %llu\n", c.rounds,
          (unsigned long long)c.covered, (unsigned long long)n);
  ASSERT_TRUE(c.rounds >= 1);
  ASSERT_EQ_U64(verify_after_reopen(dir, &o, owner, n, c.covered), n - c.covered);
  free(owner);
}

static void test_wal_concurrent_appends_with_interval_sync(void) {
  char dir[4200];
  new_dir(dir, sizeof dir, "interval");
  wal_options_t o = {.sync = WAL_SYNC_INTERVAL, .interval_ms = 2, .segment_bytes = 65536};
  wal_t *w = open_ok(dir, &o);
  static worker_t ws[MAX_THREADS];
  run_workers(w, ws, 4, GROUPS);
  owner_t *owner = owners();
  uint64_t n = check_tiling(ws, 4, GROUPS, owner, OWNER_CAP);
  char err[512] = "";
  ASSERT_OK(wal_sync(w, err, sizeof err));
  wal_close(w);
  ASSERT_EQ_U64(verify_after_reopen(dir, &o, owner, n, 0), n);
  free(owner);
}

/* A sync fails while four threads append: the acknowledged groups are
 * exactly seqs 1..K (nothing written after the last good sync is
 * acknowledged), every append after a thread's first failure fails, and
 * the log reopens with every acknowledged record intact. */
static void test_wal_concurrent_sync_failure_acknowledges_only_synced_groups(void) {
  char dir[4200];
  new_dir(dir, sizeof dir, "failure");
  wal_options_t o = {.sync = WAL_SYNC_FSYNC};
  wal_t *w = open_ok(dir, &o);
  static worker_t ws[MAX_THREADS];
  pthread_t tid[4];
  atomic_int go = 0;
  for (int t = 0; t < 4; t++) {
    ws[t] = (worker_t){.w = w, .t = t, .groups = GROUPS, .go = &go};
    ASSERT_EQ_INT(pthread_create(&tid[t], NULL, worker_main, &ws[t]), 0);
  }
  atomic_store(&go, 1);
  while (wal_last_seq(w) < 200) sched_yield();
  wal_test_fail_next_sync(EIO);
  for (int t = 0; t < 4; t++) ASSERT_EQ_INT(pthread_join(tid[t], NULL), 0);
  ASSERT_EQ_INT(wal_failed(w), 1);
  int failures = 0;
  for (int t = 0; t < 4; t++) {
    ASSERT_EQ_INT(ws[t].ok_after_failure, 0);
    failures += ws[t].failed_at >= 0;
  }
  ASSERT_TRUE(failures >= 1);
  owner_t *owner = owners();
  uint64_t k = check_tiling(ws, 4, GROUPS, owner, OWNER_CAP);
  wal_close(w);
  uint64_t seen = verify_after_reopen(dir, &o, owner, k, 0);
  fprintf(stderr, "  %llu records acknowledged, %llu replayed after reopen\n",
          (unsigned long long)k, (unsigned long long)seen);
  free(owner);
}

CHECK_MAIN(CHECK_CASE(test_wal_concurrent_appends_get_contiguous_seqs_and_share_syncs),
           CHECK_CASE(test_wal_concurrent_appends_across_rollovers),
           CHECK_CASE(test_wal_roll_and_remove_beside_appends),
           CHECK_CASE(test_wal_concurrent_appends_with_interval_sync),
           CHECK_CASE(test_wal_concurrent_sync_failure_acknowledges_only_synced_groups))
