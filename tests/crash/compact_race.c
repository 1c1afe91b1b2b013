/*
 * compact_race.c — owns a regression test for a bug the crash loop found:
 * deletes that run while akidb_collection_compact clones the graph must
 * leave the graph's live count right, so that the next checkpoint can be
 * loaded (it once failed with AKIDB_ECORRUPT in the graph section).
 *
 * In each round a thread deletes a burst of indexed points in small batches
 * while the main thread compacts (both released at once); then the
 * collection is closed (a checkpoint) and reopened, which must succeed with
 * every surviving point present.
 * Asserts values only (counts, return codes), never time.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "akidb/store.h"
#include "check.h"

#define DIM 16u
#define POINTS 60000u
#define DELETE_BATCH 5u
#define ROUNDS 20u     /* compactions, each racing one burst of deletes */
#define PER_ROUND 1500u
#define DELETED (ROUNDS * PER_ROUND) /* p0 .. p29999 */

/* Store messages: warnings and errors only. */
static void quiet_log(void *ctx, akidb_log_level_t level, const char *msg) {
  (void)ctx;
  if (level >= AKIDB_LOG_WARN) fprintf(stderr, "store: %s\n", msg);
}

static void options(akidb_collection_options_t *o) {
  akidb_collection_options_default(o, DIM, AKIDB_METRIC_L2);
  o->index.m = 8;
  o->index.ef_construction = 32;
  o->durability = AKIDB_DURABILITY_NONE;
  o->background = false;
  o->log = quiet_log;
}

static void point_vector(uint32_t i, float *v) {
  uint64_t x = i * 0x9e3779b97f4a7c15ull + 1;
  for (uint32_t d = 0; d < DIM; d++) {
    x ^= x >> 31;
    x *= 0xbf58476d1ce4e5b9ull;
    v[d] = (float)(x >> 40) / (float)(1u << 24);
  }
}

static void fill(akidb_collection_t *c) {
  enum { BATCH = 1000 };
  static char ids[BATCH][16];
  static float vecs[BATCH][DIM];
  akidb_point_t pts[BATCH];
  for (uint32_t start = 0; start < POINTS; start += BATCH) {
    for (uint32_t j = 0; j < BATCH; j++) {
      int n = snprintf(ids[j], sizeof ids[j], "p%u", start + j);
      point_vector(start + j, vecs[j]);
      pts[j] = (akidb_point_t){.id = ids[j], .id_len = (size_t)n, .vector = vecs[j]};
    }
    ASSERT_OK(akidb_collection_upsert(c, pts, BATCH, NULL, 0));
  }
  akidb_collection_wait_indexed(c);
}

typedef struct {
  akidb_collection_t *c;
  uint32_t first; /* deletes p<first> .. p<first + PER_ROUND - 1> */
  atomic_bool go;
} deleter_t;

/* Waits for the go signal, then deletes one burst, DELETE_BATCH at a time. */
static void *delete_main(void *arg) {
  deleter_t *d = arg;
  char ids[DELETE_BATCH][16];
  const char *ptrs[DELETE_BATCH];
  size_t lens[DELETE_BATCH];
  while (!atomic_load(&d->go)) {
  }
  for (uint32_t start = d->first; start < d->first + PER_ROUND; start += DELETE_BATCH) {
    for (uint32_t j = 0; j < DELETE_BATCH; j++) {
      lens[j] = (size_t)snprintf(ids[j], sizeof ids[j], "p%u", start + j);
      ptrs[j] = ids[j];
    }
    size_t n = 0;
    if (akidb_collection_delete(d->c, ptrs, lens, DELETE_BATCH, &n, NULL, 0) || n != DELETE_BATCH)
      CHECK_FAIL("delete of p%u.. failed or deleted %zu", start, n);
  }
  return NULL;
}

/* One burst of deletes racing one compaction. */
static void race_round(akidb_collection_t *c, uint32_t round) {
  deleter_t d = {.c = c, .first = round * PER_ROUND};
  pthread_t t;
  char err[512] = "";
  ASSERT_OK(pthread_create(&t, NULL, delete_main, &d));
  atomic_store(&d.go, true);
  int rc = akidb_collection_compact(c, err, sizeof err);
  pthread_join(t, NULL);
  if (rc) CHECK_FAIL("compaction in round %u failed: %s: %s", round, akidb_err_name(rc), err);
}

static void test_deletes_during_compaction_keep_the_checkpoint_loadable(void) {
  char dir[] = "/tmp/akidb-compact-race-XXXXXX";
  ASSERT_TRUE(mkdtemp(dir) != NULL);
  akidb_collection_options_t o;
  options(&o);
  akidb_collection_t *c;
  char err[512] = "";
  ASSERT_OK(akidb_collection_open(dir, &o, &c, NULL, err, sizeof err));
  fill(c);
  for (uint32_t round = 0; round < ROUNDS; round++) race_round(c, round);
  ASSERT_OK(akidb_collection_compact(c, err, sizeof err));
  ASSERT_EQ_U64(akidb_collection_count(c), POINTS - DELETED);
  int rc = akidb_collection_close(c, err, sizeof err);
  if (rc) CHECK_FAIL("close failed: %s: %s", akidb_err_name(rc), err);
  rc = akidb_collection_open(dir, &o, &c, NULL, err, sizeof err);
  if (rc) CHECK_FAIL("reopen failed: %s: %s", akidb_err_name(rc), err);
  ASSERT_EQ_U64(akidb_collection_count(c), POINTS - DELETED);
  akidb_point_out_t p;
  ASSERT_OK(akidb_collection_get(c, "p59999", 6, false, &p));
  akidb_point_out_clear(&p);
  ASSERT_EQ_INT(akidb_collection_get(c, "p0", 2, false, &p), AKIDB_ENOTFOUND);
  ASSERT_OK(akidb_collection_close(c, NULL, 0));
  ASSERT_OK(akidb_collection_destroy(dir, NULL, 0));
}

CHECK_MAIN(CHECK_CASE(test_deletes_during_compaction_keep_the_checkpoint_loadable))
