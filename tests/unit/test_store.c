/*
 * test_store.c — durable collections (akidb_collection_*): upsert, replace,
 * delete and get semantics; points waiting in the append buffer are found
 * by search and deleted ones never come back; bad input changes nothing;
 * recovery after a crash (a forked child that exits without closing) gives
 * back exactly the acknowledged state, point by point; a crash after each
 * step of the checkpoint protocol loses nothing; a torn log tail drops the
 * last batch whole; a corrupt checkpoint is refused naming file and offset;
 * a failed log write is sticky; compaction keeps every live point. Each test
 * works in its own mkdtemp directory, removed at the end.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <dirent.h>
#include <unistd.h>

#include "akidb/store.h"
#include "check.h"
#include "store/wal.h"

#define DIM 16u
#ifdef AKIDB_TEST_SMALL
#define N_POINTS 600u
#else
#define N_POINTS 3000u
#endif

/* ------------------------------------------------------------- helpers -- */

static char dir[4096];

static int rm_entry(const char *p, const struct stat *s, int f, struct FTW *w) {
  (void)s, (void)f, (void)w;
  return remove(p);
}

static void remove_dir_at_exit(void) {
  if (dir[0]) nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

static void fresh_dir(void) {
  static bool registered;
  if (!registered) registered = atexit(remove_dir_at_exit) == 0;
  if (dir[0]) nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
  snprintf(dir, sizeof dir, "/tmp/akidb-store-XXXXXX");
  ASSERT_TRUE(mkdtemp(dir) != NULL);
}

static void quiet_log(void *ctx, akidb_log_level_t level, const char *msg) {
  (void)ctx;
  if (level >= AKIDB_LOG_WARN && getenv("AKIDB_TEST_VERBOSE")) fprintf(stderr, "log: %s\n", msg);
}

static char last_warning[1024];
static void capture_log(void *ctx, akidb_log_level_t level, const char *msg) {
  (void)ctx;
  if (level == AKIDB_LOG_WARN) snprintf(last_warning, sizeof last_warning, "%s", msg);
}

static akidb_collection_options_t options(bool background) {
  akidb_collection_options_t o;
  akidb_collection_options_default(&o, DIM, AKIDB_METRIC_L2);
  o.background = background;
  o.durability = AKIDB_DURABILITY_FSYNC;
  o.exact_below = 0;
  o.log = quiet_log;
  return o;
}

static akidb_collection_t *open_c(const akidb_collection_options_t *o) {
  akidb_collection_t *c = NULL;
  char err[512] = "";
  int rc = akidb_collection_open(dir, o, &c, NULL, err, sizeof err);
  if (rc) CHECK_FAIL("open %s: %d %s", dir, rc, err);
  return c;
}

static void close_c(akidb_collection_t *c) {
  char err[512] = "";
  int rc = akidb_collection_close(c, err, sizeof err);
  if (rc) CHECK_FAIL("close: %d %s", rc, err);
}

static uint64_t mix(uint64_t z) {
  z += 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

/* The vector of point i at version v: deterministic, so a checker can
 * recompute it. */
static void vec_for(uint32_t i, uint32_t v, float *out) {
  for (uint32_t d = 0; d < DIM; d++)
    out[d] = (float)((mix(((uint64_t)i << 32) ^ ((uint64_t)v << 8) ^ d) >> 11) * 0x1.0p-53) * 2.0f - 1.0f;
}

static void id_for(uint32_t i, char *out, size_t len) { snprintf(out, len, "point-%u", i); }

static void payload_for(uint32_t i, uint32_t v, char *out, size_t len) {
  snprintf(out, len, "{\"i\":%u,\"v\":%u,\"even\":%s}", i, v, i % 2 ? "false" : "true");
}

/* Upserts points [from, to) at version v in batches of `batch`. */
static void upsert_range(akidb_collection_t *c, uint32_t from, uint32_t to, uint32_t v,
                         uint32_t batch) {
  akidb_point_t *pts = calloc(batch, sizeof *pts);
  float *vecs = malloc((size_t)batch * DIM * sizeof(float));
  char (*ids)[32] = malloc((size_t)batch * 32);
  char (*pls)[64] = malloc((size_t)batch * 64);
  for (uint32_t s = from; s < to; s += batch) {
    uint32_t n = to - s < batch ? to - s : batch;
    for (uint32_t j = 0; j < n; j++) {
      id_for(s + j, ids[j], 32);
      payload_for(s + j, v, pls[j], 64);
      vec_for(s + j, v, vecs + (size_t)j * DIM);
      pts[j] = (akidb_point_t){.id = ids[j], .id_len = strlen(ids[j]),
                               .vector = vecs + (size_t)j * DIM, .payload = pls[j],
                               .payload_len = strlen(pls[j])};
    }
    char err[512] = "";
    int rc = akidb_collection_upsert(c, pts, n, err, sizeof err);
    if (rc) CHECK_FAIL("upsert [%u, %u): %d %s", s, s + n, rc, err);
  }
  free(pts);
  free(vecs);
  free(ids);
  free(pls);
}

static void delete_ids(akidb_collection_t *c, const uint32_t *which, size_t n, size_t *deleted) {
  char (*ids)[32] = malloc(n * 32 + 1);
  const char **ptrs = malloc(n * sizeof *ptrs + 1);
  size_t *lens = malloc(n * sizeof *lens + 1);
  for (size_t j = 0; j < n; j++) {
    id_for(which[j], ids[j], 32);
    ptrs[j] = ids[j];
    lens[j] = strlen(ids[j]);
  }
  char err[512] = "";
  int rc = akidb_collection_delete(c, ptrs, lens, n, deleted, err, sizeof err);
  if (rc) CHECK_FAIL("delete: %d %s", rc, err);
  free(ids);
  free(ptrs);
  free(lens);
}

/* Asserts point i is present at version v: vector, payload. */
static void expect_point(akidb_collection_t *c, uint32_t i, uint32_t v) {
  char id[32], pl[64];
  float want[DIM];
  id_for(i, id, sizeof id);
  payload_for(i, v, pl, sizeof pl);
  vec_for(i, v, want);
  akidb_point_out_t p;
  int rc = akidb_collection_get(c, id, strlen(id), true, &p);
  if (rc) CHECK_FAIL("point %s (version %u) is missing: %d", id, v, rc);
  ASSERT_EQ_INT(p.id_len, strlen(id));
  if (!p.payload || strcmp(p.payload, pl)) CHECK_FAIL("point %s payload %s, want %s", id, p.payload ? p.payload : "(none)", pl);
  for (uint32_t d = 0; d < DIM; d++)
    if (p.vector[d] != want[d]) CHECK_FAIL("point %s dim %u: %g != %g", id, d, p.vector[d], want[d]);
  akidb_point_out_clear(&p);
}

static void expect_absent(akidb_collection_t *c, uint32_t i) {
  char id[32];
  id_for(i, id, sizeof id);
  akidb_point_out_t p;
  int rc = akidb_collection_get(c, id, strlen(id), false, &p);
  if (rc != AKIDB_ENOTFOUND) CHECK_FAIL("point %s should be absent (got %d)", id, rc);
}

/* Searches with point i's version-v vector; returns the top hit's id number or -1. */
static long top_hit(akidb_collection_t *c, uint32_t i, uint32_t v, bool exact) {
  float q[DIM];
  vec_for(i, v, q);
  akidb_search_options_t so = {.k = 1, .exact = exact};
  akidb_search_result_t r;
  char err[256] = "";
  int rc = akidb_collection_search(c, q, DIM, &so, &r, err, sizeof err);
  if (rc) CHECK_FAIL("search: %d %s", rc, err);
  long got = -1;
  if (r.n) sscanf(r.hits[0].id, "point-%ld", &got);
  akidb_search_result_free(&r);
  return got;
}

/* Runs fn in a child that exits without closing anything: a crash. */
static void run_crashing_child(void (*fn)(void)) {
  fflush(NULL);
  pid_t pid = fork();
  ASSERT_TRUE(pid >= 0);
  if (pid == 0) {
    fn();
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ_INT(waitpid(pid, &status, 0), pid);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) CHECK_FAIL("child failed (status %d)", status);
}

static int count_files(const char *sub, const char *prefix) {
  char path[4200];
  snprintf(path, sizeof path, "%s%s", dir, sub);
  DIR *d = opendir(path);
  if (!d) return 0;
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)))
    if (strncmp(e->d_name, prefix, strlen(prefix)) == 0) n++;
  closedir(d);
  return n;
}

/* --------------------------------------------------------------- tests -- */

static void test_store_upsert_get_roundtrip(void) {
  fresh_dir();
  akidb_collection_options_t o = options(true);
  akidb_collection_t *c = open_c(&o);
  upsert_range(c, 0, 100, 1, 37);
  ASSERT_EQ_U64(akidb_collection_count(c), 100);
  for (uint32_t i = 0; i < 100; i++) expect_point(c, i, 1);
  /* a point with text and no payload; one with an empty payload */
  float v[DIM];
  vec_for(7777, 0, v);
  akidb_point_t p[2] = {
      {.id = "t", .id_len = 1, .vector = v, .text = "hello", .text_len = 5},
      {.id = "e", .id_len = 1, .vector = v, .payload = "", .payload_len = 0}};
  char err[256] = "";
  ASSERT_OK(akidb_collection_upsert(c, p, 2, err, sizeof err));
  akidb_point_out_t out;
  ASSERT_OK(akidb_collection_get(c, "t", 1, false, &out));
  ASSERT_TRUE(out.payload == NULL && out.vector == NULL);
  ASSERT_TRUE(out.text && strcmp(out.text, "hello") == 0 && out.text_len == 5);
  akidb_point_out_clear(&out);
  ASSERT_OK(akidb_collection_get(c, "e", 1, false, &out));
  ASSERT_TRUE(out.payload != NULL && out.payload_len == 0 && out.text == NULL);
  akidb_point_out_clear(&out);
  close_c(c);
  c = open_c(&o);
  ASSERT_EQ_U64(akidb_collection_count(c), 102);
  for (uint32_t i = 0; i < 100; i++) expect_point(c, i, 1);
  ASSERT_OK(akidb_collection_get(c, "e", 1, false, &out));
  ASSERT_TRUE(out.payload != NULL && out.payload_len == 0);
  akidb_point_out_clear(&out);
  close_c(c);
}

static void test_store_upsert_replaces_point(void) {
  fresh_dir();
  akidb_collection_options_t o = options(false);
  akidb_collection_t *c = open_c(&o);
  upsert_range(c, 0, 200, 1, 50);
  akidb_collection_index_pending(c, 120); /* some in the graph, some pending */
  upsert_range(c, 0, 200, 2, 50);         /* replace all */
  ASSERT_EQ_U64(akidb_collection_count(c), 200);
  for (uint32_t i = 0; i < 200; i++) {
    expect_point(c, i, 2);
    ASSERT_EQ_INT(top_hit(c, i, 2, true), i);
  }
  /* the old vectors are gone: an exact search for an old vector finds a
   * point whose stored vector is the new one */
  akidb_collection_wait_indexed(c);
  for (uint32_t i = 0; i < 200; i++) ASSERT_EQ_INT(top_hit(c, i, 2, false), i);
  akidb_collection_stats_t st;
  akidb_collection_stats(c, &st);
  ASSERT_EQ_U64(st.points, 200);
  ASSERT_EQ_U64(st.pending, 0);
  close_c(c);
}

static void test_store_batch_duplicate_id_last_wins(void) {
  fresh_dir();
  akidb_collection_options_t o = options(true);
  akidb_collection_t *c = open_c(&o);
  float a[DIM], b[DIM];
  vec_for(1, 1, a);
  vec_for(1, 2, b);
  akidb_point_t p[2] = {{.id = "x", .id_len = 1, .vector = a, .payload = "{\"n\":1}", .payload_len = 7},
                        {.id = "x", .id_len = 1, .vector = b, .payload = "{\"n\":2}", .payload_len = 7}};
  char err[256];
  ASSERT_OK(akidb_collection_upsert(c, p, 2, err, sizeof err));
  ASSERT_EQ_U64(akidb_collection_count(c), 1);
  akidb_point_out_t out;
  ASSERT_OK(akidb_collection_get(c, "x", 1, true, &out));
  ASSERT_TRUE(strcmp(out.payload, "{\"n\":2}") == 0);
  ASSERT_TRUE(memcmp(out.vector, b, sizeof b) == 0);
  akidb_point_out_clear(&out);
  close_c(c);
}

static void test_store_delete_removes_everywhere(void) {
  fresh_dir();
  akidb_collection_options_t o = options(false);
  akidb_collection_t *c = open_c(&o);
  upsert_range(c, 0, 300, 1, 100);
  akidb_collection_index_pending(c, 150);
  uint32_t del[100];
  for (uint32_t j = 0; j < 100; j++) del[j] = j * 3; /* both indexed and pending */
  size_t deleted = 0;
  delete_ids(c, del, 100, &deleted);
  ASSERT_EQ_U64(deleted, 100);
  delete_ids(c, del, 10, &deleted); /* already gone */
  ASSERT_EQ_U64(deleted, 0);
  ASSERT_EQ_U64(akidb_collection_count(c), 200);
  akidb_collection_wait_indexed(c);
  for (uint32_t i = 0; i < 300; i++) {
    if (i % 3 == 0) {
      expect_absent(c, i);
      long hit = top_hit(c, i, 1, true);
      ASSERT_TRUE(hit >= 0 && hit % 3 != 0);
      hit = top_hit(c, i, 1, false);
      ASSERT_TRUE(hit >= 0 && hit % 3 != 0);
    } else {
      expect_point(c, i, 1);
    }
  }
  close_c(c);
  c = open_c(&o);
  ASSERT_EQ_U64(akidb_collection_count(c), 200);
  for (uint32_t i = 0; i < 300; i += 3) expect_absent(c, i);
  close_c(c);
}

static void test_store_bad_input_changes_nothing(void) {
  fresh_dir();
  akidb_collection_options_t o = options(true);
  o.index.metric = AKIDB_METRIC_COSINE;
  akidb_collection_t *c = open_c(&o);
  upsert_range(c, 0, 10, 1, 10);
  akidb_collection_stats_t before, after;
  akidb_collection_stats(c, &before);
  float good[DIM], nan_v[DIM], zero[DIM] = {0};
  vec_for(1, 1, good);
  vec_for(1, 1, nan_v);
  nan_v[3] = NAN;
  char longid[300];
  memset(longid, 'a', sizeof longid);
  struct {
    akidb_point_t p;
    int code;
    const char *msg;
  } cases[] = {
      {{.id = "", .id_len = 0, .vector = good}, AKIDB_EINVAL, "point 1: id must be 1 to 256"},
      {{.id = longid, .id_len = 257, .vector = good}, AKIDB_EINVAL, "(got 257)"},
      {{.id = "a\0b", .id_len = 3, .vector = good}, AKIDB_EINVAL, "NUL"},
      {{.id = "n", .id_len = 1, .vector = nan_v}, AKIDB_EVALUE, "point 1: vector value [3] is NaN"},
      {{.id = "z", .id_len = 1, .vector = zero}, AKIDB_EVALUE, "all zeros"},
      {{.id = "m", .id_len = 1, .vector = NULL}, AKIDB_EINVAL, "vector is missing"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    akidb_point_t batch[2] = {{.id = "ok", .id_len = 2, .vector = good}, cases[i].p};
    char err[512] = "";
    ASSERT_EQ_INT(akidb_collection_upsert(c, batch, 2, err, sizeof err), cases[i].code);
    ASSERT_STR_CONTAINS(err, cases[i].msg);
  }
  char err[512];
  ASSERT_EQ_INT(akidb_collection_upsert(c, NULL, 0, err, sizeof err), AKIDB_EINVAL);
  akidb_collection_stats(c, &after);
  ASSERT_EQ_U64(after.points, before.points);
  ASSERT_EQ_U64(after.last_seq, before.last_seq);
  akidb_point_out_t out;
  ASSERT_EQ_INT(akidb_collection_get(c, "ok", 2, false, &out), AKIDB_ENOTFOUND);
  /* bad searches */
  akidb_search_options_t so = {.k = 0};
  akidb_search_result_t r;
  ASSERT_EQ_INT(akidb_collection_search(c, good, DIM, &so, &r, err, sizeof err), AKIDB_EINVAL);
  ASSERT_STR_CONTAINS(err, "k is 0");
  so.k = 5;
  ASSERT_EQ_INT(akidb_collection_search(c, good, DIM + 1, &so, &r, err, sizeof err), AKIDB_EDIM);
  ASSERT_EQ_INT(akidb_collection_search(c, nan_v, DIM, &so, &r, err, sizeof err), AKIDB_EVALUE);
  so.ef = AKIDB_HNSW_EF_SEARCH_MAX + 1;
  ASSERT_EQ_INT(akidb_collection_search(c, good, DIM, &so, &r, err, sizeof err), AKIDB_EINVAL);
  close_c(c);
}

static void test_store_options_are_validated(void) {
  fresh_dir();
  akidb_collection_options_t o = options(true);
  char err[256] = "";
  o.index_threads = 0;
  ASSERT_EQ_INT(akidb_collection_options_validate(&o, err, sizeof err), AKIDB_EINVAL);
  ASSERT_STR_CONTAINS(err, "index_threads is 0");
  o = options(true);
  o.compact_deleted_ratio = 1.5;
  ASSERT_EQ_INT(akidb_collection_options_validate(&o, err, sizeof err), AKIDB_EINVAL);
  ASSERT_STR_CONTAINS(err, "compact_deleted_ratio");
  o = options(true);
  o.index.m = 1;
  akidb_collection_t *c = NULL;
  ASSERT_EQ_INT(akidb_collection_open(dir, &o, &c, NULL, err, sizeof err), AKIDB_EINVAL);
  ASSERT_TRUE(c == NULL);
  akidb_durability_t d;
  ASSERT_OK(akidb_durability_parse("interval", &d));
  ASSERT_EQ_INT(d, AKIDB_DURABILITY_INTERVAL);
  ASSERT_EQ_INT(akidb_durability_parse("sometimes", &d), AKIDB_EINVAL);
}

static void test_store_pending_points_are_searchable(void) {
  fresh_dir();
  akidb_collection_options_t o = options(false); /* nothing moves unless we say so */
  akidb_collection_t *c = open_c(&o);
  upsert_range(c, 0, N_POINTS, 1, 250);
  akidb_collection_stats_t st;
  akidb_collection_stats(c, &st);
  ASSERT_EQ_U64(st.pending, N_POINTS);
  for (uint32_t i = 0; i < N_POINTS; i += 7) {
    ASSERT_EQ_INT(top_hit(c, i, 1, false), i);
    ASSERT_EQ_INT(top_hit(c, i, 1, true), i);
  }
  ASSERT_EQ_U64(akidb_collection_index_pending(c, N_POINTS / 2), N_POINTS / 2);
  for (uint32_t i = 0; i < N_POINTS; i += 7) ASSERT_EQ_INT(top_hit(c, i, 1, false), i);
  akidb_collection_wait_indexed(c);
  akidb_collection_stats(c, &st);
  ASSERT_EQ_U64(st.pending, 0);
  for (uint32_t i = 0; i < N_POINTS; i += 7) ASSERT_EQ_INT(top_hit(c, i, 1, false), i);
  close_c(c);
}

static int allow_even(void *ctx, const char *id, size_t id_len, const char *payload,
                      size_t len) {
  (void)ctx, (void)id, (void)id_len, (void)len;
  return payload && strstr(payload, "\"even\":true") != NULL;
}

static void test_store_filtered_search_returns_only_allowed(void) {
  fresh_dir();
  akidb_collection_options_t o = options(false);
  akidb_collection_t *c = open_c(&o);
  upsert_range(c, 0, 1000, 1, 200);
  akidb_collection_index_pending(c, 600);
  akidb_point_filter_t f = {.allow = allow_even};
  for (uint32_t i = 0; i < 1000; i += 13) {
    float q[DIM];
    vec_for(i, 1, q);
    akidb_search_options_t so = {.k = 10, .filter = &f, .include_payload = true};
    akidb_search_result_t r;
    char err[256];
    ASSERT_OK(akidb_collection_search(c, q, DIM, &so, &r, err, sizeof err));
    ASSERT_EQ_INT(r.n, 10);
    for (uint32_t h = 0; h < r.n; h++) {
      long id = -1;
      sscanf(r.hits[h].id, "point-%ld", &id);
      ASSERT_TRUE(id % 2 == 0);
      ASSERT_STR_CONTAINS(r.hits[h].payload, "\"even\":true");
      if (h) ASSERT_LE(r.hits[h - 1].distance, r.hits[h].distance);
    }
    if (i % 2 == 0) {
      long id = -1;
      sscanf(r.hits[0].id, "point-%ld", &id);
      ASSERT_EQ_INT(id, i);
      ASSERT_NEAR(r.hits[0].distance, 0.0, 1e-6);
    }
    akidb_search_result_free(&r);
  }
  close_c(c);
}

static int count_visit(void *ctx, const akidb_point_out_t *p) {
  uint32_t *seen = ctx;
  long id = -1;
  sscanf(p->id, "point-%ld", &id);
  float want[DIM];
  vec_for((uint32_t)id, 1, want);
  if (id < 0 || id >= 500 || memcmp(want, p->vector, sizeof want)) return -100;
  seen[id]++;
  return 0;
}

static void test_store_scan_visits_every_live_point_once(void) {
  fresh_dir();
  akidb_collection_options_t o = options(false);
  akidb_collection_t *c = open_c(&o);
  upsert_range(c, 0, 500, 1, 100);
  akidb_collection_index_pending(c, 250);
  uint32_t del[] = {3, 4, 400};
  delete_ids(c, del, 3, NULL);
  uint32_t seen[500] = {0};
  ASSERT_OK(akidb_collection_scan(c, true, count_visit, seen));
  for (uint32_t i = 0; i < 500; i++) ASSERT_EQ_INT(seen[i], (i == 3 || i == 4 || i == 400) ? 0 : 1);
  close_c(c);
}

/* ------------------------------------------------------------- recovery -- */

/* The child's workload for the recovery test: deterministic operations. */
static void recovery_workload(void) {
  akidb_collection_options_t o = options(true);
  o.checkpoint_wal_bytes = 64 << 10; /* several checkpoints on the way */
  o.wal_segment_bytes = 32 << 10;
  akidb_collection_t *c = open_c(&o);
  upsert_range(c, 0, N_POINTS, 1, 97);
  char err[256];
  ASSERT_OK(akidb_collection_checkpoint(c, err, sizeof err));
  upsert_range(c, 0, N_POINTS / 3, 2, 50); /* overwrite the first third */
  uint32_t del[200];
  for (uint32_t j = 0; j < 200; j++) del[j] = N_POINTS / 2 + j;
  delete_ids(c, del, 200, NULL);
  upsert_range(c, N_POINTS, N_POINTS + 300, 1, 100);
  /* exit without closing: the crash */
}

static void expect_recovered_state(akidb_collection_t *c) {
  ASSERT_EQ_U64(akidb_collection_count(c), N_POINTS + 300 - 200);
  for (uint32_t i = 0; i < N_POINTS + 300; i++) {
    if (i >= N_POINTS / 2 && i < N_POINTS / 2 + 200) expect_absent(c, i);
    else expect_point(c, i, i < N_POINTS / 3 ? 2 : 1);
  }
}

static void test_store_recovery_gives_back_acknowledged_state(void) {
  fresh_dir();
  run_crashing_child(recovery_workload);
  akidb_collection_options_t o = options(true);
  akidb_collection_t *c = NULL;
  akidb_open_report_t rep;
  char err[512] = "";
  ASSERT_OK(akidb_collection_open(dir, &o, &c, &rep, err, sizeof err));
  ASSERT_TRUE(rep.checkpoint_seq > 0);
  ASSERT_TRUE(rep.replayed_records > 0);
  expect_recovered_state(c);
  akidb_collection_wait_indexed(c);
  for (uint32_t i = 0; i < N_POINTS + 300; i += 11)
    if (!(i >= N_POINTS / 2 && i < N_POINTS / 2 + 200))
      ASSERT_EQ_INT(top_hit(c, i, i < N_POINTS / 3 ? 2 : 1, true), i);
  close_c(c);
  /* after a clean close everything is in the checkpoint: nothing to replay */
  ASSERT_OK(akidb_collection_open(dir, &o, &c, &rep, err, sizeof err));
  ASSERT_EQ_U64(rep.replayed_records, 0);
  expect_recovered_state(c);
  close_c(c);
  ASSERT_EQ_INT(count_files("", "checkpoint-"), 1);
}

/* After an unlogged load: logged writes, then a crash. */
static void after_unlogged_workload(void) {
  akidb_collection_options_t o = options(true);
  akidb_collection_t *c = open_c(&o);
  upsert_range(c, 250, 350, 2, 25);
  /* exit without closing: the crash */
}

static void test_store_unlogged_load_lives_in_its_checkpoint_and_logging_resumes_after_it(void) {
  fresh_dir();
  akidb_collection_options_t o = options(false);
  o.unlogged = true;
  akidb_collection_t *c = open_c(&o);
  upsert_range(c, 0, 300, 1, 50); /* six batches */
  akidb_collection_stats_t st;
  akidb_collection_stats(c, &st);
  ASSERT_EQ_U64(st.last_seq, 0); /* nothing went to the log */
  ASSERT_EQ_U64(akidb_collection_count(c), 300);
  close_c(c);
  akidb_collection_options_t logged = options(true);
  akidb_open_report_t rep;
  char err[512] = "";
  ASSERT_OK(akidb_collection_open(dir, &logged, &c, &rep, err, sizeof err));
  ASSERT_EQ_U64(rep.checkpoint_seq, 6);
  ASSERT_EQ_U64(rep.checkpoint_points, 300);
  ASSERT_EQ_U64(rep.replayed_records, 0);
  close_c(c);
  /* logged writes after it get seqs past the checkpoint: a crash replays them */
  run_crashing_child(after_unlogged_workload);
  ASSERT_OK(akidb_collection_open(dir, &logged, &c, &rep, err, sizeof err));
  ASSERT_EQ_U64(rep.replayed_records, 4);
  ASSERT_EQ_U64(akidb_collection_count(c), 350);
  for (uint32_t i = 0; i < 350; i++) expect_point(c, i, i < 250 ? 1 : 2);
  close_c(c);
}

static int crash_step;

static void checkpoint_crash_workload(void) {
  akidb_collection_options_t o = options(true);
  akidb_collection_t *c = open_c(&o);
  upsert_range(c, 0, 400, 1, 100);
  char err[256];
  ASSERT_OK(akidb_collection_checkpoint(c, err, sizeof err));
  upsert_range(c, 400, 800, 1, 100);
  uint32_t del[] = {1, 401};
  delete_ids(c, del, 2, NULL);
  akidb_collection_test_crash_checkpoint_after(crash_step);
  ASSERT_EQ_INT(akidb_collection_checkpoint(c, err, sizeof err), AKIDB_EIO);
  upsert_range(c, 800, 900, 1, 100); /* acknowledged after the failed checkpoint */
}

static void test_store_checkpoint_crash_at_every_step_loses_nothing(void) {
  for (crash_step = 1; crash_step <= 5; crash_step++) {
    fresh_dir();
    run_crashing_child(checkpoint_crash_workload);
    akidb_collection_options_t o = options(true);
    akidb_collection_t *c = open_c(&o);
    ASSERT_EQ_U64(akidb_collection_count(c), 898);
    for (uint32_t i = 0; i < 900; i++) {
      if (i == 1 || i == 401) expect_absent(c, i);
      else expect_point(c, i, 1);
    }
    ASSERT_EQ_INT(count_files("", "checkpoint.tmp"), 0);
    ASSERT_EQ_INT(count_files("", "checkpoint-"), 1);
    close_c(c);
  }
}

static void torn_workload(void) {
  akidb_collection_options_t o = options(true);
  akidb_collection_t *c = open_c(&o);
  upsert_range(c, 0, 500, 1, 100); /* five batches, all in the log */
}

/* Path of the newest log segment. */
static void newest_segment(char *out, size_t len) {
  char wal[4200];
  snprintf(wal, sizeof wal, "%s/wal", dir);
  DIR *d = opendir(wal);
  ASSERT_TRUE(d != NULL);
  struct dirent *e;
  char best[256] = "";
  while ((e = readdir(d)))
    if (e->d_name[0] != '.' && strcmp(e->d_name, best) > 0) snprintf(best, sizeof best, "%s", e->d_name);
  closedir(d);
  ASSERT_TRUE(best[0] != 0);
  snprintf(out, len, "%s/%s", wal, best);
}

static void test_store_torn_log_tail_drops_last_batch_whole(void) {
  fresh_dir();
  run_crashing_child(torn_workload);
  char seg[4400];
  newest_segment(seg, sizeof seg);
  struct stat st;
  ASSERT_OK(stat(seg, &st));
  ASSERT_OK(truncate(seg, st.st_size - 1000)); /* inside the last batch */
  akidb_collection_options_t o = options(true);
  o.log = capture_log;
  last_warning[0] = 0;
  akidb_collection_t *c = NULL;
  akidb_open_report_t rep;
  char err[512] = "";
  ASSERT_OK(akidb_collection_open(dir, &o, &c, &rep, err, sizeof err));
  ASSERT_TRUE(rep.truncated_bytes > 0);
  ASSERT_STR_CONTAINS(last_warning, "bytes cut off");
  ASSERT_EQ_U64(akidb_collection_count(c), 400);
  for (uint32_t i = 0; i < 400; i++) expect_point(c, i, 1);
  for (uint32_t i = 400; i < 500; i++) expect_absent(c, i);
  upsert_range(c, 400, 500, 3, 100); /* the log goes on after the cut */
  close_c(c);
  c = open_c(&o);
  ASSERT_EQ_U64(akidb_collection_count(c), 500);
  for (uint32_t i = 400; i < 500; i++) expect_point(c, i, 3);
  close_c(c);
}

static void test_store_corrupt_checkpoint_is_refused_with_file_and_offset(void) {
  fresh_dir();
  akidb_collection_options_t o = options(true);
  akidb_collection_t *c = open_c(&o);
  upsert_range(c, 0, 300, 1, 100);
  close_c(c);
  char name[256] = "", path[4400];
  DIR *d = opendir(dir);
  struct dirent *e;
  while ((e = readdir(d)))
    if (strncmp(e->d_name, "checkpoint-", 11) == 0) snprintf(name, sizeof name, "%s", e->d_name);
  closedir(d);
  ASSERT_TRUE(name[0] != 0);
  snprintf(path, sizeof path, "%s/%s", dir, name);
  int fd = open(path, O_RDWR);
  ASSERT_TRUE(fd >= 0);
  struct stat st;
  ASSERT_OK(fstat(fd, &st));
  off_t at = 64 + 24 + 100; /* inside the records section */
  uint8_t b;
  ASSERT_EQ_INT(pread(fd, &b, 1, at), 1);
  b ^= 0x10;
  ASSERT_EQ_INT(pwrite(fd, &b, 1, at), 1);
  close(fd);
  char err[512] = "";
  ASSERT_EQ_INT(akidb_collection_open(dir, &o, &c, NULL, err, sizeof err), AKIDB_ECORRUPT);
  ASSERT_STR_CONTAINS(err, name);
  ASSERT_STR_CONTAINS(err, "offset");
}

static void test_store_dimension_mismatch_is_refused(void) {
  fresh_dir();
  akidb_collection_options_t o = options(true);
  akidb_collection_t *c = open_c(&o);
  upsert_range(c, 0, 10, 1, 10);
  close_c(c);
  akidb_collection_options_default(&o, DIM + 1, AKIDB_METRIC_L2);
  char err[512] = "";
  ASSERT_EQ_INT(akidb_collection_open(dir, &o, &c, NULL, err, sizeof err), AKIDB_EINVAL);
  ASSERT_STR_CONTAINS(err, "dimension 16");
}

static void test_store_failed_log_write_is_sticky(void) {
  fresh_dir();
  akidb_collection_options_t o = options(true);
  akidb_collection_t *c = open_c(&o);
  upsert_range(c, 0, 100, 1, 100);
  wal_test_fail_next_io(ENOSPC);
  float v[DIM];
  vec_for(100, 1, v);
  akidb_point_t p = {.id = "point-100", .id_len = 9, .vector = v};
  char err[512] = "";
  ASSERT_EQ_INT(akidb_collection_upsert(c, &p, 1, err, sizeof err), AKIDB_EIO);
  err[0] = 0;
  ASSERT_EQ_INT(akidb_collection_upsert(c, &p, 1, err, sizeof err), AKIDB_EIO);
  ASSERT_STR_CONTAINS(err, "reopen");
  const char *ids[] = {"point-1"};
  size_t lens[] = {7};
  ASSERT_EQ_INT(akidb_collection_delete(c, ids, lens, 1, NULL, err, sizeof err), AKIDB_EIO);
  /* reads keep working */
  expect_point(c, 1, 1);
  ASSERT_EQ_INT(top_hit(c, 5, 1, true), 5);
  akidb_collection_stats_t st;
  akidb_collection_stats(c, &st);
  ASSERT_TRUE(st.failed);
  ASSERT_EQ_INT(akidb_collection_close(c, err, sizeof err), AKIDB_OK); /* no checkpoint */
  c = open_c(&o);
  ASSERT_EQ_U64(akidb_collection_count(c), 100);
  expect_absent(c, 100);
  upsert_range(c, 100, 101, 1, 1);
  expect_point(c, 100, 1);
  close_c(c);
}

static void test_store_compaction_keeps_every_live_point(void) {
  fresh_dir();
  akidb_collection_options_t o = options(true);
  o.compact_deleted_ratio = 1.0; /* only on request */
  akidb_collection_t *c = open_c(&o);
  upsert_range(c, 0, N_POINTS, 1, 500);
  akidb_collection_wait_indexed(c);
  uint32_t n_del = 0, *del = malloc(N_POINTS * sizeof *del);
  for (uint32_t i = 0; i < N_POINTS; i++)
    if (mix(i) % 10 < 4) del[n_del++] = i;
  delete_ids(c, del, n_del, NULL);
  akidb_collection_stats_t st;
  akidb_collection_stats(c, &st);
  ASSERT_EQ_U64(st.graph_deleted, n_del);
  uint64_t mem_before = st.memory_bytes;
  char err[512] = "";
  ASSERT_OK(akidb_collection_compact(c, err, sizeof err));
  akidb_collection_stats(c, &st);
  ASSERT_EQ_U64(st.graph_deleted, 0);
  ASSERT_EQ_U64(st.points, N_POINTS - n_del);
  ASSERT_TRUE(st.memory_bytes < mem_before);
  uint32_t found = 0, live = 0;
  for (uint32_t i = 0, j = 0; i < N_POINTS; i++) {
    if (j < n_del && del[j] == i) {
      j++;
      expect_absent(c, i);
      continue;
    }
    live++;
    found += top_hit(c, i, 1, false) == (long)i;
  }
  ASSERT_GE((double)found / live, 0.99);
  close_c(c);
  c = open_c(&o);
  ASSERT_EQ_U64(akidb_collection_count(c), N_POINTS - n_del);
  close_c(c);
  free(del);
}

static void test_store_destroy_removes_directory(void) {
  fresh_dir();
  akidb_collection_options_t o = options(true);
  akidb_collection_t *c = open_c(&o);
  upsert_range(c, 0, 10, 1, 10);
  close_c(c);
  char err[256];
  ASSERT_OK(akidb_collection_destroy(dir, err, sizeof err));
  struct stat st;
  ASSERT_TRUE(stat(dir, &st) != 0 && errno == ENOENT);
  dir[0] = 0;
}

CHECK_MAIN(CHECK_CASE(test_store_upsert_get_roundtrip),
           CHECK_CASE(test_store_upsert_replaces_point),
           CHECK_CASE(test_store_batch_duplicate_id_last_wins),
           CHECK_CASE(test_store_delete_removes_everywhere),
           CHECK_CASE(test_store_bad_input_changes_nothing),
           CHECK_CASE(test_store_options_are_validated),
           CHECK_CASE(test_store_pending_points_are_searchable),
           CHECK_CASE(test_store_filtered_search_returns_only_allowed),
           CHECK_CASE(test_store_scan_visits_every_live_point_once),
           CHECK_CASE(test_store_recovery_gives_back_acknowledged_state),
           CHECK_CASE(test_store_unlogged_load_lives_in_its_checkpoint_and_logging_resumes_after_it),
           CHECK_CASE(test_store_checkpoint_crash_at_every_step_loses_nothing),
           CHECK_CASE(test_store_torn_log_tail_drops_last_batch_whole),
           CHECK_CASE(test_store_corrupt_checkpoint_is_refused_with_file_and_offset),
           CHECK_CASE(test_store_dimension_mismatch_is_refused),
           CHECK_CASE(test_store_failed_log_write_is_sticky),
           CHECK_CASE(test_store_compaction_keeps_every_live_point),
           CHECK_CASE(test_store_destroy_removes_directory))
