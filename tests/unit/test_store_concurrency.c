/*
 * test_store_concurrency.c — a collection under concurrent writers,
 * searchers, two background indexers, checkpoints and compactions (small
 * thresholds so they run during the test). Each writer owns its ids and
 * checks, right after every acknowledged write, that an exact search finds
 * the new point (nothing acknowledged is missed, whether buffered, being
 * indexed or in the graph) and that a deleted point is gone from get and
 * search. Searchers check that every hit is consistent (sorted, payload
 * names the hit's own id). At the end the state after reopening equals the
 * writers' model. Also run under ThreadSanitizer.
 */
#include <ftw.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "akidb/store.h"
#include "check.h"

#define DIM 8u
#define WRITERS 2u
#define SEARCHERS 2u
#define IDS_PER_WRITER 150u
#ifdef AKIDB_TEST_SMALL
#define OPS 150u
#else
#define OPS 400u
#endif

static char dir[4096];
static akidb_collection_t *coll;
static atomic_bool writers_done;
static uint32_t version[WRITERS][IDS_PER_WRITER]; /* 0: absent */

static int rm_entry(const char *p, const struct stat *s, int f, struct FTW *w) {
  (void)s, (void)f, (void)w;
  return remove(p);
}

static void cleanup(void) {
  if (dir[0]) nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

static void quiet(void *ctx, akidb_log_level_t level, const char *msg) {
  (void)ctx;
  if (level == AKIDB_LOG_ERROR) fprintf(stderr, "collection error: %s\n", msg);
}

static uint64_t mix(uint64_t z) {
  z += 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static void vec_for(uint32_t key, uint32_t v, float *out) {
  for (uint32_t d = 0; d < DIM; d++)
    out[d] = (float)((mix(((uint64_t)key << 32) ^ ((uint64_t)v << 8) ^ d) >> 11) * 0x1.0p-53);
}

static uint32_t key_of(uint32_t w, uint32_t i) { return w * IDS_PER_WRITER + i; }

static void id_of(uint32_t key, char *out) { snprintf(out, 32, "k%u", key); }

/* The top exact hit for `q`: its id copied to `out` ("" if none). */
static void top_exact(const float *q, char *out, float *dist) {
  akidb_search_options_t so = {.k = 1, .exact = true};
  akidb_search_result_t r;
  char err[256];
  int rc = akidb_collection_search(coll, q, DIM, &so, &r, err, sizeof err);
  if (rc) CHECK_FAIL("search: %d %s", rc, err);
  out[0] = 0;
  if (r.n) {
    snprintf(out, 32, "%s", r.hits[0].id);
    *dist = r.hits[0].distance;
  }
  akidb_search_result_free(&r);
}

static void write_one(uint32_t w, uint32_t i, uint32_t v) {
  char id[32], payload[64], err[256];
  float vec[DIM], dist = -1;
  uint32_t key = key_of(w, i);
  id_of(key, id);
  snprintf(payload, sizeof payload, "{\"id\":\"%s\",\"v\":%u}", id, v);
  vec_for(key, v, vec);
  akidb_point_t p = {.id = id, .id_len = strlen(id), .vector = vec, .payload = payload,
                     .payload_len = strlen(payload)};
  int rc = akidb_collection_upsert(coll, &p, 1, err, sizeof err);
  if (rc) CHECK_FAIL("upsert %s: %d %s", id, rc, err);
  version[w][i] = v;
  char got[32];
  top_exact(vec, got, &dist);
  if (strcmp(got, id) || dist != 0.0f)
    CHECK_FAIL("acknowledged %s v%u not found by exact search (got '%s' at %g)", id, v, got, dist);
}

static void delete_one(uint32_t w, uint32_t i) {
  char id[32], err[256];
  uint32_t key = key_of(w, i);
  id_of(key, id);
  const char *ids[] = {id};
  size_t lens[] = {strlen(id)}, deleted = 0;
  int rc = akidb_collection_delete(coll, ids, lens, 1, &deleted, err, sizeof err);
  if (rc) CHECK_FAIL("delete %s: %d %s", id, rc, err);
  ASSERT_EQ_U64(deleted, version[w][i] ? 1 : 0);
  uint32_t old = version[w][i];
  version[w][i] = 0;
  akidb_point_out_t p;
  ASSERT_EQ_INT(akidb_collection_get(coll, id, strlen(id), false, &p), AKIDB_ENOTFOUND);
  if (!old) return;
  float vec[DIM], dist;
  char got[32];
  vec_for(key, old, vec);
  top_exact(vec, got, &dist);
  if (strcmp(got, id) == 0) CHECK_FAIL("deleted %s came back from search", id);
}

static void *writer_main(void *arg) {
  uint32_t w = (uint32_t)(uintptr_t)arg;
  for (uint32_t op = 0; op < OPS; op++) {
    uint64_t r = mix(((uint64_t)w << 40) ^ op);
    uint32_t i = (uint32_t)(r % IDS_PER_WRITER);
    if ((r >> 32) % 5 == 0) delete_one(w, i);
    else write_one(w, i, op + 1);
  }
  return NULL;
}

/* Checks one search result for internal consistency. */
static void check_result(const akidb_search_result_t *r) {
  for (uint32_t h = 0; h < r->n; h++) {
    const akidb_point_out_t *p = &r->hits[h];
    char want[48];
    snprintf(want, sizeof want, "{\"id\":\"%s\",", p->id);
    if (!p->payload || strncmp(p->payload, want, strlen(want)))
      CHECK_FAIL("hit %s carries payload %s", p->id, p->payload ? p->payload : "(none)");
    if (h && r->hits[h - 1].distance > p->distance) CHECK_FAIL("hits out of order");
  }
}

static void *searcher_main(void *arg) {
  uint32_t s = (uint32_t)(uintptr_t)arg, n = 0;
  while (!atomic_load(&writers_done) || n < 50) {
    float q[DIM];
    vec_for(1000000 + s, n++, q);
    akidb_search_options_t so = {.k = 5, .include_payload = true, .exact = n % 4 == 0};
    akidb_search_result_t r;
    char err[256];
    int rc = akidb_collection_search(coll, q, DIM, &so, &r, err, sizeof err);
    if (rc) CHECK_FAIL("search: %d %s", rc, err);
    check_result(&r);
    akidb_search_result_free(&r);
  }
  return NULL;
}

static akidb_collection_options_t options(void) {
  akidb_collection_options_t o;
  akidb_collection_options_default(&o, DIM, AKIDB_METRIC_L2);
  o.index_threads = 2;
  o.exact_below = 0;
  o.checkpoint_wal_bytes = 16 << 10;  /* many checkpoints */
  o.wal_segment_bytes = 8 << 10;       /* many segments */
  o.compact_deleted_ratio = 0.05;      /* compactions too */
  o.durability = AKIDB_DURABILITY_NONE;
  o.log = quiet;
  return o;
}

static void expect_model(void) {
  uint64_t live = 0;
  for (uint32_t w = 0; w < WRITERS; w++)
    for (uint32_t i = 0; i < IDS_PER_WRITER; i++) {
      char id[32], payload[64];
      uint32_t key = key_of(w, i);
      id_of(key, id);
      akidb_point_out_t p;
      int rc = akidb_collection_get(coll, id, strlen(id), true, &p);
      if (!version[w][i]) {
        if (rc != AKIDB_ENOTFOUND) CHECK_FAIL("%s should be absent", id);
        continue;
      }
      live++;
      if (rc) CHECK_FAIL("%s missing after reopen", id);
      snprintf(payload, sizeof payload, "{\"id\":\"%s\",\"v\":%u}", id, version[w][i]);
      float vec[DIM];
      vec_for(key, version[w][i], vec);
      if (strcmp(p.payload, payload) || memcmp(vec, p.vector, sizeof vec))
        CHECK_FAIL("%s has payload %s, want %s", id, p.payload, payload);
      akidb_point_out_clear(&p);
    }
  ASSERT_EQ_U64(akidb_collection_count(coll), live);
}

static void test_store_concurrent_writes_searches_and_maintenance(void) {
  snprintf(dir, sizeof dir, "/tmp/akidb-storec-XXXXXX");
  ASSERT_TRUE(mkdtemp(dir) != NULL);
  atexit(cleanup);
  akidb_collection_options_t o = options();
  char err[512] = "";
  ASSERT_OK(akidb_collection_open(dir, &o, &coll, NULL, err, sizeof err));
  pthread_t wt[WRITERS], st[SEARCHERS];
  for (uint32_t s = 0; s < SEARCHERS; s++)
    ASSERT_OK(pthread_create(&st[s], NULL, searcher_main, (void *)(uintptr_t)s));
  for (uint32_t w = 0; w < WRITERS; w++)
    ASSERT_OK(pthread_create(&wt[w], NULL, writer_main, (void *)(uintptr_t)w));
  for (uint32_t w = 0; w < WRITERS; w++) pthread_join(wt[w], NULL);
  atomic_store(&writers_done, true);
  for (uint32_t s = 0; s < SEARCHERS; s++) pthread_join(st[s], NULL);
  /* The log is past checkpoint_wal_bytes, so the maintenance thread writes
   * checkpoints; stats no longer waits for one in flight (it never blocks
   * on a checkpoint), so give the first one time to finish (liveness
   * guard: 60 s). */
  akidb_collection_stats_t stats;
  akidb_collection_stats(coll, &stats);
  for (int i = 0; i < 6000 && stats.checkpoints == 0; i++) {
    usleep(10000);
    akidb_collection_stats(coll, &stats);
  }
  ASSERT_TRUE(stats.checkpoints > 0);
  ASSERT_TRUE(!stats.failed);
  akidb_collection_wait_indexed(coll);
  expect_model();
  ASSERT_OK(akidb_collection_close(coll, err, sizeof err));
  int rc = akidb_collection_open(dir, &o, &coll, NULL, err, sizeof err);
  if (rc) CHECK_FAIL("reopen: %d %s", rc, err);
  expect_model();
  ASSERT_OK(akidb_collection_close(coll, err, sizeof err));
}

CHECK_MAIN(CHECK_CASE(test_store_concurrent_writes_searches_and_maintenance))
