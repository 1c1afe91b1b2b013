/*
 * test_store_scan.c — the exact scan of a collection's pending points (the
 * append buffer, compared four vectors at a time) returns exactly what the
 * one-at-a-time kernel gives: the same points, in the same order, with
 * bit-identical distances, for l2, cosine and dot, for pending counts that
 * are and are not multiples of four, and for k below and above the count.
 * Nothing is indexed (background = false, no index_pending call), so every
 * hit comes from the buffer.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "akidb/store.h"
#include "check.h"
#include "index/metric.h"
#include "tmpdir.h"

static void quiet_log(void *ctx, akidb_log_level_t level, const char *msg) {
  (void)ctx, (void)level, (void)msg;
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static float next_float(void) {
  rng = rng * 6364136223846793005ull + 1442695040888963407ull;
  return (float)((rng >> 40) & 0xffffff) / 16777216.0f - 0.5f;
}

typedef struct {
  uint32_t index;
  float d;
} ref_t;

static int ref_cmp(const void *pa, const void *pb) {
  const ref_t *a = pa, *b = pb;
  if (a->d != b->d) return a->d < b->d ? -1 : 1;
  return (a->index > b->index) - (a->index < b->index); /* labels follow insertion */
}

/* Upserts n random points, searches with k, checks every hit against the
 * one-at-a-time distance of the prepared vectors. */
static void check_scan(akidb_metric_t metric, uint32_t dim, uint32_t n, uint32_t k) {
  char path[4200], name[64];
  snprintf(name, sizeof name, "scan-%d-%u-%u-%u", (int)metric, dim, n, k);
  tmpdir_path(path, sizeof path, "akidb-scan", name);
  akidb_collection_options_t o;
  akidb_collection_options_default(&o, dim, metric);
  o.background = false;
  o.durability = AKIDB_DURABILITY_NONE;
  o.exact_below = 0;
  o.log = quiet_log;
  akidb_collection_t *c = NULL;
  char err[512] = "";
  if (akidb_collection_open(path, &o, &c, NULL, err, sizeof err)) CHECK_FAIL("open: %s", err);

  float *vecs = malloc((size_t)(n + 1) * dim * sizeof(float));
  float *prep = malloc((size_t)(n + 1) * dim * sizeof(float));
  akidb_point_t *pts = calloc(n, sizeof *pts);
  char (*ids)[16] = calloc(n, sizeof *ids);
  ref_t *ref = calloc(n, sizeof *ref);
  ASSERT_TRUE(vecs && prep && pts && ids && ref);
  for (size_t i = 0; i < (size_t)(n + 1) * dim; i++) vecs[i] = next_float();
  for (uint32_t i = 0; i < n; i++) {
    int len = snprintf(ids[i], sizeof ids[i], "p%u", i);
    pts[i] = (akidb_point_t){.id = ids[i], .id_len = (size_t)len,
                             .vector = vecs + (size_t)i * dim};
  }
  ASSERT_OK(akidb_collection_upsert(c, pts, n, err, sizeof err));

  metric_t m;
  ASSERT_OK(metric_init(&m, metric, NULL, 0));
  const float *query = vecs + (size_t)n * dim;
  for (uint32_t i = 0; i <= n; i++)
    ASSERT_OK(metric_prepare(metric, vecs + (size_t)i * dim, prep + (size_t)i * dim, dim));
  const float *pq = prep + (size_t)n * dim;
  for (uint32_t i = 0; i < n; i++)
    ref[i] = (ref_t){i, metric_dist(&m, pq, prep + (size_t)i * dim, dim)};
  qsort(ref, n, sizeof *ref, ref_cmp);

  akidb_search_options_t so = {.k = k};
  akidb_search_result_t res;
  ASSERT_OK(akidb_collection_search(c, query, dim, &so, &res, err, sizeof err));
  uint32_t want = k < n ? k : n;
  ASSERT_EQ_U64(res.n, want);
  for (uint32_t i = 0; i < want; i++) {
    char expect[16];
    snprintf(expect, sizeof expect, "p%u", ref[i].index);
    if (strcmp(res.hits[i].id, expect) != 0 ||
        memcmp(&res.hits[i].distance, &ref[i].d, sizeof(float)) != 0)
      CHECK_FAIL("%s dim %u n %u k %u rank %u: got %s at %.9g, one-at-a-time gives %s at %.9g",
                 akidb_metric_name(metric), dim, n, k, i, res.hits[i].id,
                 (double)res.hits[i].distance, expect, (double)ref[i].d);
  }
  akidb_search_result_free(&res);
  ASSERT_OK(akidb_collection_close(c, err, sizeof err));
  free(vecs);
  free(prep);
  free(pts);
  free(ids);
  free(ref);
}

static void check_metric(akidb_metric_t metric) {
  static const uint32_t counts[] = {1, 2, 3, 5, 203, 1027, 1030};
  static const uint32_t dims[] = {37, 128};
  for (size_t d = 0; d < sizeof dims / sizeof dims[0]; d++)
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
      check_scan(metric, dims[d], counts[i], 10);
      check_scan(metric, dims[d], counts[i], counts[i] + 3);
    }
}

static void test_buffer_scan_equals_single_kernel_l2(void) { check_metric(AKIDB_METRIC_L2); }

static void test_buffer_scan_equals_single_kernel_cosine(void) {
  check_metric(AKIDB_METRIC_COSINE);
}

static void test_buffer_scan_equals_single_kernel_dot(void) { check_metric(AKIDB_METRIC_DOT); }

CHECK_MAIN(CHECK_CASE(test_buffer_scan_equals_single_kernel_l2),
           CHECK_CASE(test_buffer_scan_equals_single_kernel_cosine),
           CHECK_CASE(test_buffer_scan_equals_single_kernel_dot))
