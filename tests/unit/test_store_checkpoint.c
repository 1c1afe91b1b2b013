/*
 * test_store_checkpoint.c — a checkpoint never makes writers wait for its
 * stream. The checkpoint's test hook runs on the checkpoint's own thread in
 * the middle of the stream (records and pending written, graph not yet);
 * from there it lets a writer thread upsert, replace, delete, search and
 * read stats, and waits for it to finish. Overlap is shown by order, not by
 * time: the writer's work completes while the checkpoint is still inside
 * its stream (with the old design — apply_lock held for the whole stream —
 * the writer blocks and the hook gives up after a generous deadlock guard,
 * failing the test). Then a crash right after the next checkpoint's first
 * step leaves the mid-test checkpoint as the newest, and a reopen must find
 * exactly the points live at its seq plus the writer's records replayed.
 * A second test runs checkpoints in a loop while writers and searchers run.
 * A third exports (akidb_collection_export, the snapshots' source) while
 * writes run from inside the stream: it yields exactly the state at its seq.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "akidb/store.h"
#include "check.h"
#include "tmpdir.h"

#define DIM 16u
#ifdef AKIDB_TEST_SMALL
#define N_INDEXED 1500u
#else
#define N_INDEXED 6000u
#endif
#define N_PENDING 300u /* left in the append buffer at the checkpoint */
#define W_BATCHES 40u  /* writer batches during the stream */
#define W_BATCH 10u

/* ------------------------------------------------------------- helpers -- */

static void quiet_log(void *ctx, akidb_log_level_t level, const char *msg) {
  (void)ctx;
  if (level >= AKIDB_LOG_WARN && getenv("AKIDB_TEST_VERBOSE")) fprintf(stderr, "log: %s\n", msg);
}

static akidb_collection_options_t options(bool background) {
  akidb_collection_options_t o;
  akidb_collection_options_default(&o, DIM, AKIDB_METRIC_L2);
  o.background = background;
  o.durability = AKIDB_DURABILITY_NONE;
  o.exact_below = 0;
  o.index.m = 8;
  o.index.ef_construction = 40;
  o.log = quiet_log;
  return o;
}

static akidb_collection_t *open_c(const char *dir, bool background, akidb_open_report_t *rep) {
  akidb_collection_options_t o = options(background);
  akidb_collection_t *c = NULL;
  char err[512] = "";
  int rc = akidb_collection_open(dir, &o, &c, rep, err, sizeof err);
  if (rc) CHECK_FAIL("open %s: %d %s", dir, rc, err);
  return c;
}

static void vec_for(uint32_t i, uint32_t v, float *out) {
  uint64_t z = ((uint64_t)i << 20) ^ v;
  for (uint32_t d = 0; d < DIM; d++) {
    z = z * 6364136223846793005ull + 1442695040888963407ull;
    out[d] = (float)((z >> 40) & 0xffff) / 65536.0f - 0.5f;
  }
}

/* Upserts points [from, to) at version v as one batch. */
static int upsert(akidb_collection_t *c, uint32_t from, uint32_t to, uint32_t v) {
  uint32_t n = to - from;
  akidb_point_t *pts = calloc(n, sizeof *pts);
  float *vecs = malloc((size_t)n * DIM * sizeof(float));
  char (*ids)[32] = malloc((size_t)n * 32);
  char (*pls)[32] = malloc((size_t)n * 32);
  for (uint32_t j = 0; j < n; j++) {
    snprintf(ids[j], 32, "p%u", from + j);
    snprintf(pls[j], 32, "{\"v\":%u}", v);
    vec_for(from + j, v, vecs + (size_t)j * DIM);
    pts[j] = (akidb_point_t){.id = ids[j], .id_len = strlen(ids[j]),
                             .vector = vecs + (size_t)j * DIM, .payload = pls[j],
                             .payload_len = strlen(pls[j])};
  }
  char err[512] = "";
  int rc = akidb_collection_upsert(c, pts, n, err, sizeof err);
  if (rc) fprintf(stderr, "upsert [%u, %u): %s\n", from, to, err);
  free(pts);
  free(vecs);
  free(ids);
  free(pls);
  return rc;
}

static int delete_one(akidb_collection_t *c, uint32_t i) {
  char id[32];
  snprintf(id, sizeof id, "p%u", i);
  const char *ids[1] = {id};
  size_t lens[1] = {strlen(id)}, deleted = 0;
  char err[256] = "";
  int rc = akidb_collection_delete(c, ids, lens, 1, &deleted, err, sizeof err);
  return rc ? rc : (deleted == 1 ? AKIDB_OK : AKIDB_ENOTFOUND);
}

/* Points p0..p(N_INDEXED-1) in the graph, then N_PENDING more left in the
 * append buffer; *st receives the stats after that. */
static void fill_indexed_and_pending(akidb_collection_t *c, akidb_collection_stats_t *st) {
  for (uint32_t s = 0; s < N_INDEXED; s += 500)
    ASSERT_OK(upsert(c, s, s + 500 < N_INDEXED ? s + 500 : N_INDEXED, 0));
  akidb_collection_index_pending(c, SIZE_MAX);
  ASSERT_OK(upsert(c, N_INDEXED, N_INDEXED + N_PENDING, 0)); /* left pending */
  akidb_collection_stats(c, st);
  ASSERT_EQ_U64(st->pending, N_PENDING);
}

/* The payload version of point i, or -1 when absent. */
static int version_of(akidb_collection_t *c, uint32_t i) {
  char id[32];
  snprintf(id, sizeof id, "p%u", i);
  akidb_point_out_t p;
  if (akidb_collection_get(c, id, strlen(id), false, &p)) return -1;
  int v = -1;
  if (p.payload) sscanf(p.payload, "{\"v\":%d}", &v);
  akidb_point_out_clear(&p);
  return v;
}

/* Whether a search with point i's version-v vector finds it first. */
static bool finds(akidb_collection_t *c, uint32_t i, uint32_t v) {
  float q[DIM];
  vec_for(i, v, q);
  akidb_search_options_t so = {.k = 1, .exact = true};
  akidb_search_result_t r;
  char err[256] = "", want[32];
  if (akidb_collection_search(c, q, DIM, &so, &r, err, sizeof err)) return false;
  snprintf(want, sizeof want, "p%u", i);
  bool ok = r.n == 1 && strcmp(r.hits[0].id, want) == 0;
  akidb_search_result_free(&r);
  return ok;
}

/* -------------------------------------------- the writer during a stream -- */

#define FIRST_NEW (N_INDEXED + N_PENDING)
#define REPLACED 7u  /* an indexed point, replaced during the stream */
#define DELETED 11u  /* an indexed point, deleted during the stream */
#define DELETED2 (N_INDEXED + 5u) /* a pending point, deleted during the stream */

typedef struct {
  akidb_collection_t *c;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  bool streaming;        /* the hook has been entered */
  bool writer_done;      /* the writer finished its work */
  int hook_calls;
  bool done_inside_hook; /* writer_done was seen from inside the hook */
  int writer_rc;
  uint64_t stats_checkpoints_inside; /* akidb_collection_stats during the stream */
  uint64_t stats_points_inside;
  bool searches_ok;
} overlap_t;

static overlap_t ov;

/* Runs on the checkpoint's thread, mid-stream: lets the writer go and
 * waits for it (up to a deadlock guard of 120 s). */
static void stream_hook(void *ctx) {
  overlap_t *o = ctx;
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += 120;
  pthread_mutex_lock(&o->mu);
  o->hook_calls++;
  o->streaming = true;
  pthread_cond_broadcast(&o->cv);
  while (!o->writer_done)
    if (pthread_cond_timedwait(&o->cv, &o->mu, &until) == ETIMEDOUT) break;
  o->done_inside_hook = o->writer_done;
  pthread_mutex_unlock(&o->mu);
}

static void *writer_main(void *arg) {
  overlap_t *o = arg;
  pthread_mutex_lock(&o->mu);
  while (!o->streaming) pthread_cond_wait(&o->cv, &o->mu);
  pthread_mutex_unlock(&o->mu);
  int rc = AKIDB_OK;
  for (uint32_t b = 0; b < W_BATCHES && !rc; b++)
    rc = upsert(o->c, FIRST_NEW + b * W_BATCH, FIRST_NEW + (b + 1) * W_BATCH, 1);
  if (!rc) rc = upsert(o->c, REPLACED, REPLACED + 1, 2);
  if (!rc) rc = delete_one(o->c, DELETED);
  if (!rc) rc = delete_one(o->c, DELETED2);
  akidb_collection_stats_t st;
  akidb_collection_stats(o->c, &st);
  bool searches = finds(o->c, FIRST_NEW + 3, 1) && finds(o->c, REPLACED, 2) && finds(o->c, 1, 0);
  pthread_mutex_lock(&o->mu);
  o->writer_rc = rc;
  o->stats_checkpoints_inside = st.checkpoints;
  o->stats_points_inside = st.points;
  o->searches_ok = searches;
  o->writer_done = true;
  pthread_cond_broadcast(&o->cv);
  pthread_mutex_unlock(&o->mu);
  return NULL;
}

static void test_upsert_does_not_wait_for_checkpoint(void) {
  char dir[4200], err[512] = "";
  tmpdir_path(dir, sizeof dir, "akidb-ckpt", "overlap");
  akidb_collection_t *c = open_c(dir, false, NULL);
  akidb_collection_stats_t st;
  fill_indexed_and_pending(c, &st);
  uint64_t seq_before = st.last_seq;

  memset(&ov, 0, sizeof ov);
  ov.c = c;
  pthread_mutex_init(&ov.mu, NULL);
  pthread_cond_init(&ov.cv, NULL);
  pthread_t writer;
  ASSERT_OK(pthread_create(&writer, NULL, writer_main, &ov));
  akidb_collection_test_on_checkpoint_stream(stream_hook, &ov);
  int rc = akidb_collection_checkpoint(c, err, sizeof err);
  akidb_collection_test_on_checkpoint_stream(NULL, NULL);
  pthread_join(writer, NULL);
  if (rc) CHECK_FAIL("checkpoint: %d %s", rc, err);

  ASSERT_EQ_INT(ov.hook_calls, 1);
  ASSERT_TRUE(ov.done_inside_hook); /* the writes finished during the stream */
  ASSERT_EQ_INT(ov.writer_rc, AKIDB_OK);
  ASSERT_EQ_U64(ov.stats_checkpoints_inside, 0); /* stats did not wait for it */
  ASSERT_EQ_U64(ov.stats_points_inside, FIRST_NEW + W_BATCHES * W_BATCH - 2);
  ASSERT_TRUE(ov.searches_ok);
  akidb_collection_stats(c, &st);
  ASSERT_EQ_U64(st.checkpoints, 1);
  ASSERT_EQ_U64(st.checkpoint_seq, seq_before); /* the state before the writer */
  uint64_t writer_records = W_BATCHES + 3;
  ASSERT_EQ_U64(st.last_seq, seq_before + writer_records);

  /* crash during the close's checkpoint: the mid-test one stays the newest */
  akidb_collection_test_crash_checkpoint_after(1);
  ASSERT_EQ_INT(akidb_collection_close(c, err, sizeof err), AKIDB_EIO);
  akidb_open_report_t rep;
  c = open_c(dir, false, &rep);
  ASSERT_EQ_U64(rep.checkpoint_seq, seq_before);
  ASSERT_EQ_U64(rep.checkpoint_points, FIRST_NEW);
  ASSERT_EQ_U64(rep.replayed_records, writer_records);
  ASSERT_EQ_U64(akidb_collection_count(c), FIRST_NEW + W_BATCHES * W_BATCH - 2);
  ASSERT_EQ_INT(version_of(c, DELETED), -1);
  ASSERT_EQ_INT(version_of(c, DELETED2), -1);
  ASSERT_EQ_INT(version_of(c, REPLACED), 2);
  for (uint32_t i = 0; i < FIRST_NEW + W_BATCHES * W_BATCH; i += 97)
    if (i != DELETED && i != DELETED2 && i != REPLACED)
      ASSERT_EQ_INT(version_of(c, i), i < FIRST_NEW ? 0 : 1);
  ASSERT_TRUE(finds(c, REPLACED, 2) && finds(c, 2, 0) && finds(c, N_INDEXED + 1, 0));
  akidb_collection_index_pending(c, SIZE_MAX);
  ASSERT_TRUE(finds(c, FIRST_NEW + 17, 1));
  ASSERT_OK(akidb_collection_close(c, err, sizeof err));
  pthread_mutex_destroy(&ov.mu);
  pthread_cond_destroy(&ov.cv);
}

/* ------------------------------------------ checkpoints under live load -- */

#define LOOP_WRITERS 2
#ifdef AKIDB_TEST_SMALL
#define LOOP_BATCHES 40u
#else
#define LOOP_BATCHES 150u
#endif

typedef struct {
  akidb_collection_t *c;
  uint32_t base, batches;
  int rc;
} loop_writer_t;

#define LOOP_CHECKPOINTS 5u /* writers go on until this many were written */

static atomic_bool loop_stop;

/* At least LOOP_BATCHES batches, and on until LOOP_CHECKPOINTS checkpoints
 * ran while writing (every 5th batch also deletes an older point). */
static void *loop_writer_main(void *arg) {
  loop_writer_t *w = arg;
  for (uint32_t b = 0; !w->rc; b++) {
    akidb_collection_stats_t st;
    akidb_collection_stats(w->c, &st);
    if (b >= LOOP_BATCHES && st.checkpoints >= LOOP_CHECKPOINTS) break;
    uint32_t from = w->base + b * 20;
    w->rc = upsert(w->c, from, from + 20, 0);
    if (!w->rc && b % 5 == 4) w->rc = delete_one(w->c, from - 40);
    w->batches = b + 1;
  }
  return NULL;
}

static void *loop_checkpointer_main(void *arg) {
  akidb_collection_t *c = arg;
  intptr_t failures = 0;
  while (!atomic_load(&loop_stop)) {
    char err[512] = "";
    if (akidb_collection_checkpoint(c, err, sizeof err)) failures++;
    akidb_collection_stats_t st;
    akidb_collection_stats(c, &st);
  }
  return (void *)failures;
}

static void test_checkpoints_under_writes_keep_exact_state(void) {
  char dir[4200], err[512] = "";
  tmpdir_path(dir, sizeof dir, "akidb-ckpt", "loop");
  akidb_collection_t *c = open_c(dir, true, NULL);
  loop_writer_t w[LOOP_WRITERS];
  pthread_t wt[LOOP_WRITERS], ct;
  atomic_store(&loop_stop, false);
  ASSERT_OK(pthread_create(&ct, NULL, loop_checkpointer_main, c));
  for (int i = 0; i < LOOP_WRITERS; i++) {
    w[i] = (loop_writer_t){.c = c, .base = 1000000u * (uint32_t)(i + 1)};
    ASSERT_OK(pthread_create(&wt[i], NULL, loop_writer_main, &w[i]));
  }
  for (int i = 0; i < LOOP_WRITERS; i++) pthread_join(wt[i], NULL);
  atomic_store(&loop_stop, true);
  void *failures = NULL;
  pthread_join(ct, &failures);
  ASSERT_EQ_INT((intptr_t)failures, 0);
  for (int i = 0; i < LOOP_WRITERS; i++) ASSERT_EQ_INT(w[i].rc, AKIDB_OK);
  uint64_t want = 0;
  for (int i = 0; i < LOOP_WRITERS; i++) want += w[i].batches * 20ull - w[i].batches / 5;
  ASSERT_EQ_U64(akidb_collection_count(c), want);
  akidb_collection_stats_t st;
  akidb_collection_stats(c, &st);
  ASSERT_TRUE(st.checkpoints >= LOOP_CHECKPOINTS);
  /* crash: the last checkpoint plus the log must give the same state */
  akidb_collection_test_crash_checkpoint_after(1);
  akidb_collection_close(c, err, sizeof err);
  /* the close writes no checkpoint when the loop's last one covered every
   * write: the hook would stay armed for the next test */
  akidb_collection_test_crash_checkpoint_after(0);
  akidb_open_report_t rep;
  c = open_c(dir, false, &rep);
  ASSERT_EQ_U64(akidb_collection_count(c), want);
  for (int i = 0; i < LOOP_WRITERS; i++)
    for (uint32_t b = 0; b < w[i].batches; b++) {
      uint32_t from = w[i].base + b * 20;
      bool deleted = b + 2 < w[i].batches && (b + 2) % 5 == 4; /* deleted by batch b + 2 */
      ASSERT_EQ_INT(version_of(c, from), deleted ? -1 : 0);
      ASSERT_EQ_INT(version_of(c, from + 19), 0);
    }
  ASSERT_OK(akidb_collection_close(c, err, sizeof err));
}

/* ---------------------------------------------------------------- export -- */

typedef struct {
  akidb_collection_t *c;
  uint32_t seen, bad_vector, bad_payload, from_writes;
  uint8_t *hit; /* per point index: times seen */
  int write_rc;
} export_ctx_t;

/* Visits one exported point; on the first one, writes (new points,
 * replacements, deletes) run to completion from this very thread: the
 * export holds no lock writers need, and its stream must not see them. */
static int export_visit(void *ctx, const akidb_point_out_t *p) {
  export_ctx_t *e = ctx;
  if (e->seen++ == 0) {
    e->write_rc = upsert(e->c, N_INDEXED + N_PENDING, N_INDEXED + N_PENDING + 50, 0);
    if (!e->write_rc) e->write_rc = upsert(e->c, 0, 20, 7);                     /* indexed */
    if (!e->write_rc) e->write_rc = upsert(e->c, N_INDEXED, N_INDEXED + 20, 7); /* pending */
    for (uint32_t i = 100; i < 110 && !e->write_rc; i++) e->write_rc = delete_one(e->c, i);
    for (uint32_t i = N_INDEXED + 100; i < N_INDEXED + 110 && !e->write_rc; i++)
      e->write_rc = delete_one(e->c, i);
  }
  unsigned idx = 0;
  if (sscanf(p->id, "p%u", &idx) != 1 || idx >= N_INDEXED + N_PENDING) {
    e->from_writes++;
    return 0;
  }
  e->hit[idx]++;
  float want[DIM];
  vec_for(idx, 0, want);
  if (memcmp(want, p->vector, sizeof want) != 0) e->bad_vector++;
  if (!p->payload || p->payload_len != 7 || memcmp(p->payload, "{\"v\":0}", 7) != 0)
    e->bad_payload++;
  return 0;
}

/* The export is the state at one seq: every point live then, once, with its
 * vector and payload as of then (from the graph and from the buffer), and
 * none of the writes made while it streams; they are in the collection. */
static void test_export_streams_the_state_at_one_seq(void) {
  char dir[4200], err[512] = "";
  tmpdir_path(dir, sizeof dir, "akidb-ckpt", "export");
  akidb_collection_t *c = open_c(dir, false, NULL);
  akidb_collection_stats_t st;
  fill_indexed_and_pending(c, &st);

  export_ctx_t e = {.c = c, .hit = calloc(N_INDEXED + N_PENDING, 1)};
  uint64_t seq = 0;
  ASSERT_OK(akidb_collection_export(c, export_visit, &e, &seq));
  ASSERT_EQ_INT(e.write_rc, AKIDB_OK);
  ASSERT_EQ_U64(seq, st.last_seq);
  ASSERT_EQ_INT(e.seen, N_INDEXED + N_PENDING);
  ASSERT_EQ_INT(e.from_writes, 0);
  ASSERT_EQ_INT(e.bad_vector, 0);
  ASSERT_EQ_INT(e.bad_payload, 0);
  for (uint32_t i = 0; i < N_INDEXED + N_PENDING; i++)
    if (e.hit[i] != 1) CHECK_FAIL("point p%u exported %u times", i, e.hit[i]);
  free(e.hit);

  ASSERT_EQ_U64(akidb_collection_count(c), N_INDEXED + N_PENDING + 50 - 20);
  ASSERT_EQ_INT(version_of(c, 0), 7);
  ASSERT_EQ_INT(version_of(c, N_INDEXED), 7);
  ASSERT_EQ_INT(version_of(c, 100), -1);
  ASSERT_OK(akidb_collection_close(c, err, sizeof err));
}

/* Discarding (a dropped collection) writes no final checkpoint, and what
 * the log holds still opens whole: the checkpoint stays where it was and
 * the later batches are replayed. Closing instead checkpoints them all. */
static void test_discard_writes_no_checkpoint_and_keeps_the_log(void) {
  char dir[4200], err[512] = "";
  tmpdir_path(dir, sizeof dir, "akidb-ckpt", "discard");
  akidb_collection_t *c = open_c(dir, false, NULL);
  ASSERT_OK(upsert(c, 0, 100, 0));
  ASSERT_OK(akidb_collection_checkpoint(c, err, sizeof err));
  akidb_collection_stats_t st;
  akidb_collection_stats(c, &st);
  uint64_t ckpt_seq = st.checkpoint_seq;
  ASSERT_OK(upsert(c, 100, 150, 1));
  ASSERT_OK(upsert(c, 0, 10, 2));
  ASSERT_OK(delete_one(c, 20));
  akidb_collection_discard(c);

  akidb_open_report_t rep;
  c = open_c(dir, false, &rep);
  ASSERT_EQ_U64(rep.checkpoint_seq, ckpt_seq); /* no checkpoint was written */
  ASSERT_EQ_U64(rep.checkpoint_points, 100);
  ASSERT_EQ_U64(rep.replayed_records, 3);
  ASSERT_EQ_U64(akidb_collection_count(c), 149);
  ASSERT_EQ_INT(version_of(c, 5), 2);
  ASSERT_EQ_INT(version_of(c, 20), -1);
  ASSERT_EQ_INT(version_of(c, 120), 1);
  ASSERT_OK(akidb_collection_close(c, err, sizeof err));
  c = open_c(dir, false, &rep);
  ASSERT_EQ_U64(rep.replayed_records, 0); /* close did checkpoint */
  ASSERT_EQ_U64(akidb_collection_count(c), 149);
  akidb_collection_discard(NULL);
  ASSERT_OK(akidb_collection_close(c, err, sizeof err));
}

CHECK_MAIN(CHECK_CASE(test_upsert_does_not_wait_for_checkpoint),
           CHECK_CASE(test_checkpoints_under_writes_keep_exact_state),
           CHECK_CASE(test_export_streams_the_state_at_one_seq),
           CHECK_CASE(test_discard_writes_no_checkpoint_and_keeps_the_log))
