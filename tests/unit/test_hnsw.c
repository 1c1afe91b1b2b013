/*
 * test_hnsw.c — the HNSW index (akidb_hnsw_*): recall@10 at the default ef
 * against exact ground truth on sift5k (l2), glove25 (cosine) and generated
 * clustered sets (128-d l2, 768-d cosine); parameter validation; result order
 * and distances; insert, upsert and delete semantics; compaction (recall,
 * memory, labels); filtered search with bitmaps and predicates; determinism
 * for one seed; the empty index.
 *
 * Built with AKIDB_TEST_SMALL (emulated aarch64 runs), the real-data recall
 * uses sift5k only, with a subset of its queries, and every generated set is
 * small.
 */
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "akidb/index.h"
#include "check.h"
#include "index_check.h"
#include "dataset/dataset.h"
#include "index/hnsw_internal.h"

#ifdef AKIDB_TEST_SMALL
#define SMALL 1
#else
#define SMALL 0
#endif
/* A size for emulated runs, and one for native runs. */
#define PICK(small, full) (SMALL ? (small) : (full))

#define K 10u
#define MIN_RECALL 0.95

/* ----------------------------------------------------------- reference -- */

/* Distance in float64 by the definitions in akidb/index.h (raw vectors). */
static double ref_distance(akidb_metric_t metric, const float *a,
                           const float *b, uint32_t dim) {
  double s = 0, na = 0, nb = 0;
  for (uint32_t i = 0; i < dim; i++) {
    double x = a[i], y = b[i];
    if (metric == AKIDB_METRIC_L2) {
      s += (x - y) * (x - y);
    } else {
      s += x * y;
      na += x * x;
      nb += y * y;
    }
  }
  if (metric == AKIDB_METRIC_DOT) return -s;
  if (metric == AKIDB_METRIC_COSINE) return 1.0 - s / (sqrt(na) * sqrt(nb));
  return s;
}

/* Float32 rounding allowance for a distance of magnitude d. */
static double tol_for(double d) { return 2e-5 * (1.0 + fabs(d)); }

/* The documented filter semantics (bitmap and/or predicate). */

/* ------------------------------------------------------------- helpers -- */

static akidb_hnsw_t *create_index(const akidb_hnsw_params_t *p) {
  akidb_hnsw_t *h = NULL;
  char err[256] = "";
  int rc = akidb_hnsw_create(p, &h, err, sizeof err);
  if (rc != AKIDB_OK || !h)
    CHECK_FAIL("akidb_hnsw_create = %s: %s", akidb_err_name(rc), err);
  return h;
}

/* An index over the rows of `s`, label = row number; `p` NULL = defaults. */
static akidb_hnsw_t *build_index(const ds_set_t *s,
                                 const akidb_hnsw_params_t *p) {
  akidb_hnsw_params_t def;
  if (!p) {
    akidb_hnsw_params_default(&def, s->dim, s->metric);
    p = &def;
  }
  akidb_hnsw_t *h = create_index(p);
  for (size_t i = 0; i < s->n_base; i++) {
    int rc = akidb_hnsw_insert(h, i, s->base + i * s->dim);
    if (rc != AKIDB_OK)
      CHECK_FAIL("insert of row %zu of %s = %s", i, s->name,
                 akidb_err_name(rc));
  }
  ASSERT_EQ_U64(akidb_hnsw_count(h), s->n_base);
  return h;
}

/* A generated clustered set (ground truth top-K when with_gt). */
static ds_set_t make_set(const char *name, size_t n, size_t nq, uint32_t dim,
                         akidb_metric_t metric, uint32_t clusters,
                         uint64_t seed, bool with_gt) {
  ds_set_t s;
  int rc = ds_make_mixture(name, n, nq, dim, metric, clusters, seed,
                           with_gt ? K : 0, &s);
  if (rc != AKIDB_OK)
    CHECK_FAIL("ds_make_mixture(%s) = %s", name, akidb_err_name(rc));
  return s;
}

/* The mid-sized set most behaviour tests use. */
static ds_set_t make_mid_set(akidb_metric_t metric, uint64_t seed) {
  return make_set("mid", PICK(1000, 5000), PICK(40, 100), PICK(32u, 64u),
                  metric, PICK(10u, 25u), seed, false);
}

/* k hits for every query of `s` into hits[q*k..], counts into n[q]. */
static void search_all(const akidb_hnsw_t *h, const ds_set_t *s, uint32_t k,
                       uint32_t ef, const akidb_filter_t *filter,
                       akidb_hit_t *hits, uint32_t *n) {
  for (size_t q = 0; q < s->n_query; q++) {
    int rc = akidb_hnsw_search(h, s->queries + q * s->dim, k, ef, filter,
                               hits + q * k, n + q);
    if (rc != AKIDB_OK)
      CHECK_FAIL("search of query %zu = %s", q, akidb_err_name(rc));
  }
}

/*
 * Exact top-k of every query of `s` among the rows with keep[row] (all when
 * keep is NULL) and allowed by `filter`, computed by akidb_flat.
 */
static void exact_truth(const ds_set_t *s, const bool *keep,
                        const akidb_filter_t *filter, uint32_t k,
                        akidb_hit_t *out, uint32_t *n) {
  akidb_flat_t *f = NULL;
  ASSERT_OK(akidb_flat_create(s->dim, s->metric, &f, NULL, 0));
  for (size_t i = 0; i < s->n_base; i++)
    if (!keep || keep[i]) ASSERT_OK(akidb_flat_upsert(f, i, s->base + i * s->dim));
  ASSERT_OK(akidb_flat_search_batch(f, s->queries, (uint32_t)s->n_query, k,
                                    filter, out, n));
  akidb_flat_free(f);
}

/*
 * Recall@k of hits against truth: per query, the hits found among the first
 * min(k, truth count) true neighbours, over the sum of those minima.
 */
static double recall_against(const akidb_hit_t *hits, const uint32_t *n,
                             const akidb_hit_t *truth, const uint32_t *tn,
                             size_t nq, uint32_t k) {
  size_t found = 0, wanted = 0;
  for (size_t q = 0; q < nq; q++) {
    uint32_t t = tn[q] < k ? tn[q] : k;
    wanted += t;
    for (uint32_t i = 0; i < n[q] && i < k; i++)
      for (uint32_t j = 0; j < t; j++)
        if (hits[q * k + i].label == truth[q * k + j].label) {
          found++;
          break;
        }
  }
  return wanted ? (double)found / (double)wanted : 1.0;
}

/*
 * Checks one result list: at most k hits, nearest first, no label twice,
 * every label a row of `s` that is not deleted (deleted[row], when given)
 * and is allowed, and each distance the float64 distance of its row.
 */
static void expect_valid_hits(const ds_set_t *s, const float *query,
                              const bool *deleted, const akidb_filter_t *filter,
                              const akidb_hit_t *hits, uint32_t n, uint32_t k,
                              size_t qi) {
  if (n > k) CHECK_FAIL("query %zu: %u hits for k = %u", qi, n, k);
  for (uint32_t i = 0; i < n; i++) {
    uint64_t l = hits[i].label;
    if (l >= s->n_base) CHECK_FAIL("query %zu: unknown label %" PRIu64, qi, l);
    if (deleted && deleted[l])
      CHECK_FAIL("query %zu rank %u: deleted label %" PRIu64 " returned", qi,
                 i, l);
    if (!ref_filter_allows(filter, l))
      CHECK_FAIL("query %zu rank %u: label %" PRIu64 " is not allowed", qi, i,
                 l);
    double d = ref_distance(s->metric, query, s->base + l * s->dim, s->dim);
    if (fabs((double)hits[i].distance - d) > tol_for(d))
      CHECK_FAIL("query %zu rank %u: label %" PRIu64 " reported at %.9g, "
                 "float64 distance %.9g",
                 qi, i, l, (double)hits[i].distance, d);
    if (i > 0 && hits[i].distance < hits[i - 1].distance)
      CHECK_FAIL("query %zu: rank %u at %.9g is nearer than rank %u at %.9g",
                 qi, i, (double)hits[i].distance, i - 1,
                 (double)hits[i - 1].distance);
    for (uint32_t j = 0; j < i; j++)
      if (hits[j].label == l)
        CHECK_FAIL("query %zu: label %" PRIu64 " at ranks %u and %u", qi, l,
                   j, i);
  }
}

/* Marks `count` distinct rows of 0..n-1 (chosen by `seed`) in `mark`. */
static void pick_rows(bool *mark, size_t n, size_t count, uint64_t seed) {
  uint32_t *perm = malloc(n * sizeof *perm);
  ASSERT_TRUE(perm != NULL);
  for (size_t i = 0; i < n; i++) perm[i] = (uint32_t)i;
  uint64_t rng = seed;
  for (size_t i = 0; i < count; i++) {
    size_t j = i + (size_t)(ds_rng_next(&rng) % (n - i));
    uint32_t t = perm[i];
    perm[i] = perm[j];
    perm[j] = t;
    mark[perm[i]] = true;
  }
  free(perm);
}

/* Whether `word` occurs in `hay` with no identifier character around it. */
static bool contains_word(const char *hay, const char *word) {
  size_t wl = strlen(word);
  for (const char *p = strstr(hay, word); p; p = strstr(p + 1, word)) {
    bool left = p == hay || !(p[-1] == '_' || (p[-1] >= 'a' && p[-1] <= 'z') ||
                              (p[-1] >= 'A' && p[-1] <= 'Z') ||
                              (p[-1] >= '0' && p[-1] <= '9'));
    char c = p[wl];
    bool right = !(c == '_' || (c >= 'a' && c <= 'z') ||
                   (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'));
    if (left && right) return true;
  }
  return false;
}

/* ------------------------------------------------------------ fixtures -- */

/* A set with an index and a flat index of the same points, built once and
 * shared by the tests that only read them. */
typedef struct {
  ds_set_t set;
  akidb_hnsw_t *index;
  akidb_flat_t *flat;
  double build_seconds;
  bool ready;
} fixture_t;

static fixture_t sift_fx, graph_filter_fx;

static void free_fixture(fixture_t *fx) {
  if (!fx->ready) return;
  akidb_hnsw_free(fx->index);
  akidb_flat_free(fx->flat);
  ds_free(&fx->set);
  fx->ready = false;
}

static void free_fixtures(void) {
  free_fixture(&sift_fx);
  free_fixture(&graph_filter_fx);
}

/* Builds the indexes of a fixture whose set is loaded. */
static void fixture_build(fixture_t *fx, const akidb_hnsw_params_t *p) {
  static bool registered;
  double t0 = ds_now();
  fx->index = build_index(&fx->set, p);
  fx->build_seconds = ds_now() - t0;
  ASSERT_OK(akidb_flat_create(fx->set.dim, fx->set.metric, &fx->flat, NULL, 0));
  for (size_t i = 0; i < fx->set.n_base; i++)
    ASSERT_OK(akidb_flat_upsert(fx->flat, i, fx->set.base + i * fx->set.dim));
  fx->ready = true;
  if (!registered) atexit(free_fixtures);
  registered = true;
}

static void load_real(const char *name, ds_set_t *s) {
  char err[512] = "";
  int rc = ds_load_real(name, s, err, sizeof err);
  if (rc != AKIDB_OK)
    CHECK_FAIL("ds_load_real(%s) = %s: %s", name, akidb_err_name(rc), err);
}

/* sift5k (l2) at default parameters; a subset of its queries when SMALL. */
static const fixture_t *sift_fixture(void) {
  if (sift_fx.ready) return &sift_fx;
  load_real("sift5k", &sift_fx.set);
  if (SMALL && sift_fx.set.n_query > 50) sift_fx.set.n_query = 50;
  fixture_build(&sift_fx, NULL);
  return &sift_fx;
}

/*
 * A set large enough that filtered search at 50% selectivity walks the graph
 * rather than scanning the allowed points: glove25 (cosine) at default
 * parameters, or, when SMALL, a generated 6000-point 25-d cosine set with
 * m = 8 and ef_construction = 64.
 */
static const fixture_t *graph_filter_fixture(void) {
  if (graph_filter_fx.ready) return &graph_filter_fx;
  if (!SMALL) {
    load_real("glove25", &graph_filter_fx.set);
    fixture_build(&graph_filter_fx, NULL);
  } else {
    graph_filter_fx.set = make_set("gen25", 6000, 60, 25, AKIDB_METRIC_COSINE,
                                   30, 25, false);
    akidb_hnsw_params_t p;
    akidb_hnsw_params_default(&p, 25, AKIDB_METRIC_COSINE);
    p.m = 8;
    p.ef_construction = 64;
    fixture_build(&graph_filter_fx, &p);
  }
  return &graph_filter_fx;
}

/* Recall@10 at the default ef of `h` on `s` (which has ground truth). */
static double default_ef_recall(const char *what, const akidb_hnsw_t *h,
                                const ds_set_t *s, double build_seconds) {
  akidb_hit_t *hits = malloc(s->n_query * K * sizeof *hits);
  uint32_t *n = malloc(s->n_query * sizeof *n);
  ASSERT_TRUE(hits && n);
  double t0 = ds_now();
  search_all(h, s, K, 0, NULL, hits, n);
  double search_seconds = ds_now() - t0;
  for (size_t q = 0; q < s->n_query; q++)
    expect_valid_hits(s, s->queries + q * s->dim, NULL, NULL, hits + q * K,
                      n[q], K, q);
  double r = ds_recall(s, hits, K, n, K);
  fprintf(stderr,
          "  recall@10 %-24s n=%zu dim=%u q=%zu ef=default: %.4f "
          "(build %.2f s, search %.3f s)\n",
          what, s->n_base, s->dim, s->n_query, r, build_seconds,
          search_seconds);
  free(hits);
  free(n);
  return r;
}

/* Builds an index over a generated set and measures its recall. */
static void check_generated_recall(const char *what, size_t n, size_t nq,
                                   uint32_t dim, akidb_metric_t metric,
                                   uint32_t clusters, uint64_t seed) {
  ds_set_t s = make_set(what, n, nq, dim, metric, clusters, seed, true);
  double t0 = ds_now();
  akidb_hnsw_t *h = build_index(&s, NULL);
  double r = default_ef_recall(what, h, &s, ds_now() - t0);
  ASSERT_GE(r, MIN_RECALL);
  akidb_hnsw_free(h);
  ds_free(&s);
}

/* ------------------------------------------------------ params & create -- */

static void test_params_default_are_documented_and_valid(void) {
  akidb_hnsw_params_t p;
  memset(&p, 0xAB, sizeof p);
  akidb_hnsw_params_default(&p, 96, AKIDB_METRIC_COSINE);
  ASSERT_EQ_INT(p.dim, 96);
  ASSERT_EQ_INT(p.metric, AKIDB_METRIC_COSINE);
  ASSERT_EQ_INT(p.m, AKIDB_HNSW_M_DEFAULT);
  ASSERT_EQ_INT(p.ef_construction, AKIDB_HNSW_EF_CONSTRUCTION_DEFAULT);
  ASSERT_EQ_INT(p.ef_search, AKIDB_HNSW_EF_SEARCH_DEFAULT);
  char err[256] = "";
  ASSERT_OK(akidb_hnsw_params_validate(&p, err, sizeof err));
  akidb_hnsw_t *h = create_index(&p);
  akidb_hnsw_params_t got;
  akidb_hnsw_get_params(h, &got);
  ASSERT_EQ_INT(got.dim, p.dim);
  ASSERT_EQ_INT(got.metric, p.metric);
  ASSERT_EQ_INT(got.m, p.m);
  ASSERT_EQ_INT(got.ef_construction, p.ef_construction);
  ASSERT_EQ_INT(got.ef_search, p.ef_search);
  ASSERT_EQ_U64(got.seed, p.seed);
  ASSERT_EQ_U64(akidb_hnsw_count(h), 0);
  ASSERT_EQ_U64(akidb_hnsw_deleted_count(h), 0);
  akidb_hnsw_free(h);
  akidb_hnsw_free(NULL);
}

/* Field `field` set to `value` must be refused, the message naming the
 * field, the value and both ends of the accepted range. */
static void expect_refused(const akidb_hnsw_params_t *p, const char *field,
                           uint64_t value, uint64_t lo, uint64_t hi) {
  char err[256] = "";
  int rc = akidb_hnsw_params_validate(p, err, sizeof err);
  if (rc != AKIDB_EINVAL)
    CHECK_FAIL("%s = %" PRIu64 ": validate returned %s, expected AKIDB_EINVAL",
               field, value, akidb_err_name(rc));
  char num[32];
  if (!contains_word(err, field))
    CHECK_FAIL("%s = %" PRIu64 ": message \"%s\" does not name the field",
               field, value, err);
  snprintf(num, sizeof num, "%" PRIu64, value);
  ASSERT_STR_CONTAINS(err, num);
  snprintf(num, sizeof num, "%" PRIu64, lo);
  ASSERT_STR_CONTAINS(err, num);
  snprintf(num, sizeof num, "%" PRIu64, hi);
  ASSERT_STR_CONTAINS(err, num);
  /* create refuses the same parameters */
  akidb_hnsw_t *h = NULL;
  char err2[256] = "";
  ASSERT_EQ_INT(akidb_hnsw_create(p, &h, err2, sizeof err2), AKIDB_EINVAL);
  ASSERT_TRUE(h == NULL);
  if (!contains_word(err2, field))
    CHECK_FAIL("create with %s = %" PRIu64 ": message \"%s\" does not name "
               "the field",
               field, value, err2);
}

static void test_params_below_min_are_refused_naming_the_field(void) {
  akidb_hnsw_params_t p;
  akidb_hnsw_params_default(&p, 32, AKIDB_METRIC_L2);
  p.dim = AKIDB_DIM_MIN - 1;
  expect_refused(&p, "dim", p.dim, AKIDB_DIM_MIN, AKIDB_DIM_MAX);

  akidb_hnsw_params_default(&p, 32, AKIDB_METRIC_L2);
  p.m = AKIDB_HNSW_M_MIN - 1;
  expect_refused(&p, "m", p.m, AKIDB_HNSW_M_MIN, AKIDB_HNSW_M_MAX);

  akidb_hnsw_params_default(&p, 32, AKIDB_METRIC_L2);
  p.m = AKIDB_HNSW_M_MIN; /* so that only the MIN of ef_construction fails */
  p.ef_construction = AKIDB_HNSW_EF_CONSTRUCTION_MIN - 1;
  expect_refused(&p, "ef_construction", p.ef_construction,
                 AKIDB_HNSW_EF_CONSTRUCTION_MIN, AKIDB_HNSW_EF_CONSTRUCTION_MAX);

  akidb_hnsw_params_default(&p, 32, AKIDB_METRIC_L2);
  p.ef_search = AKIDB_HNSW_EF_SEARCH_MIN - 1;
  expect_refused(&p, "ef_search", p.ef_search, AKIDB_HNSW_EF_SEARCH_MIN,
                 AKIDB_HNSW_EF_SEARCH_MAX);
}

static void test_params_above_max_are_refused_naming_the_field(void) {
  akidb_hnsw_params_t p;
  akidb_hnsw_params_default(&p, 32, AKIDB_METRIC_L2);
  p.dim = AKIDB_DIM_MAX + 1;
  expect_refused(&p, "dim", p.dim, AKIDB_DIM_MIN, AKIDB_DIM_MAX);

  akidb_hnsw_params_default(&p, 32, AKIDB_METRIC_L2);
  p.m = AKIDB_HNSW_M_MAX + 1;
  p.ef_construction = AKIDB_HNSW_EF_CONSTRUCTION_MAX; /* >= m */
  expect_refused(&p, "m", p.m, AKIDB_HNSW_M_MIN, AKIDB_HNSW_M_MAX);

  akidb_hnsw_params_default(&p, 32, AKIDB_METRIC_L2);
  p.ef_construction = AKIDB_HNSW_EF_CONSTRUCTION_MAX + 1;
  expect_refused(&p, "ef_construction", p.ef_construction,
                 AKIDB_HNSW_EF_CONSTRUCTION_MIN, AKIDB_HNSW_EF_CONSTRUCTION_MAX);

  akidb_hnsw_params_default(&p, 32, AKIDB_METRIC_L2);
  p.ef_search = AKIDB_HNSW_EF_SEARCH_MAX + 1;
  expect_refused(&p, "ef_search", p.ef_search, AKIDB_HNSW_EF_SEARCH_MIN,
                 AKIDB_HNSW_EF_SEARCH_MAX);
}

static void test_params_at_min_and_max_are_accepted(void) {
  akidb_hnsw_params_t p;
  char err[256] = "";
  akidb_hnsw_params_default(&p, AKIDB_DIM_MIN, AKIDB_METRIC_L2);
  p.m = AKIDB_HNSW_M_MIN;
  p.ef_construction = AKIDB_HNSW_EF_CONSTRUCTION_MIN;
  p.ef_search = AKIDB_HNSW_EF_SEARCH_MIN;
  int rc = akidb_hnsw_params_validate(&p, err, sizeof err);
  if (rc != AKIDB_OK) CHECK_FAIL("all fields at MIN refused: %s", err);

  akidb_hnsw_params_default(&p, AKIDB_DIM_MAX, AKIDB_METRIC_DOT);
  p.m = AKIDB_HNSW_M_MAX;
  p.ef_construction = AKIDB_HNSW_EF_CONSTRUCTION_MAX;
  p.ef_search = AKIDB_HNSW_EF_SEARCH_MAX;
  rc = akidb_hnsw_params_validate(&p, err, sizeof err);
  if (rc != AKIDB_OK) CHECK_FAIL("all fields at MAX refused: %s", err);

  /* ef_construction == m is the smallest accepted pairing */
  akidb_hnsw_params_default(&p, 8, AKIDB_METRIC_L2);
  p.m = 40;
  p.ef_construction = 40;
  rc = akidb_hnsw_params_validate(&p, err, sizeof err);
  if (rc != AKIDB_OK) CHECK_FAIL("ef_construction == m refused: %s", err);

  /* and an index at the small extremes works */
  akidb_hnsw_params_default(&p, AKIDB_DIM_MIN, AKIDB_METRIC_L2);
  p.m = AKIDB_HNSW_M_MIN;
  p.ef_construction = AKIDB_HNSW_EF_CONSTRUCTION_MIN;
  p.ef_search = AKIDB_HNSW_EF_SEARCH_MIN;
  akidb_hnsw_t *h = create_index(&p);
  for (uint64_t l = 0; l < 200; l++) {
    float v = (float)l;
    ASSERT_OK(akidb_hnsw_insert(h, l, &v));
  }
  float q = 123.25f;
  akidb_hit_t hit[1];
  uint32_t n = 0;
  ASSERT_OK(akidb_hnsw_search_exact(h, &q, 1, NULL, hit, &n));
  ASSERT_EQ_INT(n, 1);
  ASSERT_EQ_U64(hit[0].label, 123);
  ASSERT_NEAR(hit[0].distance, 0.0625, 1e-6);
  akidb_hnsw_free(h);
}

static void test_ef_construction_below_m_is_refused(void) {
  akidb_hnsw_params_t p;
  akidb_hnsw_params_default(&p, 32, AKIDB_METRIC_L2);
  p.m = 50;
  p.ef_construction = 20; /* within its own range, but below m */
  char err[256] = "";
  ASSERT_EQ_INT(akidb_hnsw_params_validate(&p, err, sizeof err), AKIDB_EINVAL);
  if (!contains_word(err, "ef_construction"))
    CHECK_FAIL("message \"%s\" does not name ef_construction", err);
  akidb_hnsw_t *h = NULL;
  ASSERT_EQ_INT(akidb_hnsw_create(&p, &h, NULL, 0), AKIDB_EINVAL);
  ASSERT_TRUE(h == NULL);
}

static void test_unknown_metric_is_refused_naming_the_field(void) {
  akidb_hnsw_params_t p;
  akidb_hnsw_params_default(&p, 32, AKIDB_METRIC_L2);
  p.metric = (akidb_metric_t)3;
  char err[256] = "";
  ASSERT_EQ_INT(akidb_hnsw_params_validate(&p, err, sizeof err), AKIDB_EINVAL);
  if (!contains_word(err, "metric"))
    CHECK_FAIL("message \"%s\" does not name the metric", err);
}

/* The message is cut to the buffer (and NUL-terminated), or skipped. */
static void test_params_error_fits_small_or_missing_buffer(void) {
  akidb_hnsw_params_t p;
  akidb_hnsw_params_default(&p, 32, AKIDB_METRIC_L2);
  p.ef_search = 0;
  char err[16];
  memset(err, 'x', sizeof err);
  ASSERT_EQ_INT(akidb_hnsw_params_validate(&p, err, 8), AKIDB_EINVAL);
  ASSERT_TRUE(memchr(err, '\0', 8) != NULL);
  ASSERT_TRUE(err[8] == 'x'); /* nothing written past errlen */
  ASSERT_EQ_INT(akidb_hnsw_params_validate(&p, NULL, 0), AKIDB_EINVAL);
}

static void test_set_ef_search_validates_and_is_reported(void) {
  akidb_hnsw_params_t p;
  akidb_hnsw_params_default(&p, 8, AKIDB_METRIC_L2);
  akidb_hnsw_t *h = create_index(&p);
  ASSERT_EQ_INT(akidb_hnsw_set_ef_search(h, AKIDB_HNSW_EF_SEARCH_MIN - 1),
                AKIDB_EINVAL);
  ASSERT_EQ_INT(akidb_hnsw_set_ef_search(h, AKIDB_HNSW_EF_SEARCH_MAX + 1),
                AKIDB_EINVAL);
  akidb_hnsw_params_t got;
  akidb_hnsw_get_params(h, &got);
  ASSERT_EQ_INT(got.ef_search, AKIDB_HNSW_EF_SEARCH_DEFAULT);
  ASSERT_OK(akidb_hnsw_set_ef_search(h, 333));
  akidb_hnsw_get_params(h, &got);
  ASSERT_EQ_INT(got.ef_search, 333);
  ASSERT_EQ_INT(got.m, AKIDB_HNSW_M_DEFAULT);
  akidb_hnsw_free(h);
}

/* -------------------------------------------------------------- recall -- */

static void test_recall_sift5k_at_default_ef(void) {
  const fixture_t *fx = sift_fixture();
  double r = default_ef_recall("sift5k (l2)", fx->index, &fx->set,
                               fx->build_seconds);
  ASSERT_GE(r, MIN_RECALL);
}

static void test_recall_glove25_cosine_at_default_ef(void) {
  if (SMALL) {
    fprintf(stderr, "  skipped under AKIDB_TEST_SMALL\n");
    return;
  }
  const fixture_t *fx = graph_filter_fixture(); /* glove25 at defaults */
  ASSERT_EQ_INT(fx->set.metric, AKIDB_METRIC_COSINE);
  double r = default_ef_recall("glove25 (cosine)", fx->index, &fx->set,
                               fx->build_seconds);
  ASSERT_GE(r, MIN_RECALL);
}

static void test_recall_clustered_128d_l2_at_default_ef(void) {
  check_generated_recall("clustered-128d (l2)", PICK(1000, 20000),
                         PICK(30, 200), 128, AKIDB_METRIC_L2, 20, 128);
}

static void test_recall_clustered_768d_cosine_at_default_ef(void) {
  check_generated_recall("clustered-768d (cosine)", PICK(300, 5000),
                         PICK(20, 100), 768, AKIDB_METRIC_COSINE, 10, 768);
}

/* ------------------------------------------------------ search results -- */

static void check_sorted_with_correct_distances(akidb_metric_t metric) {
  ds_set_t s = make_set("sorted", PICK(800, 2000), 50, 48, metric, 10,
                        40 + (uint64_t)metric, false);
  akidb_hnsw_t *h = build_index(&s, NULL);
  akidb_hit_t hits[20];
  for (size_t q = 0; q < s.n_query; q++) {
    const float *query = s.queries + q * s.dim;
    uint32_t n = 0;
    ASSERT_OK(akidb_hnsw_search(h, query, 20, 0, NULL, hits, &n));
    ASSERT_EQ_INT(n, 20);
    expect_valid_hits(&s, query, NULL, NULL, hits, n, 20, q);
    ASSERT_OK(akidb_hnsw_search_exact(h, query, 20, NULL, hits, &n));
    ASSERT_EQ_INT(n, 20);
    expect_valid_hits(&s, query, NULL, NULL, hits, n, 20, q);
  }
  akidb_hnsw_free(h);
  ds_free(&s);
}

static void test_results_are_sorted_with_correct_distances_l2(void) {
  check_sorted_with_correct_distances(AKIDB_METRIC_L2);
}

static void test_results_are_sorted_with_correct_distances_cosine(void) {
  check_sorted_with_correct_distances(AKIDB_METRIC_COSINE);
}

static void test_results_are_sorted_with_correct_distances_dot(void) {
  check_sorted_with_correct_distances(AKIDB_METRIC_DOT);
}

static void test_search_exact_matches_flat_index(void) {
  const fixture_t *fx = sift_fixture();
  const ds_set_t *s = &fx->set;
  uint64_t bits[(5000 + 63) / 64] = {0};
  for (uint64_t l = 0; l < 5000; l += 3) bits[l >> 6] |= 1ull << (l & 63);
  akidb_filter_t third = {bits, 5000, NULL, NULL};
  const akidb_filter_t *filters[] = {NULL, &third};
  for (int fi = 0; fi < 2; fi++) {
    for (size_t q = 0; q < s->n_query; q++) {
      const float *query = s->queries + q * s->dim;
      akidb_hit_t a[K], b[K];
      uint32_t na = 0, nb = 0;
      ASSERT_OK(akidb_hnsw_search_exact(fx->index, query, K, filters[fi], a,
                                        &na));
      ASSERT_OK(akidb_flat_search(fx->flat, query, K, filters[fi], b, &nb));
      ASSERT_EQ_INT(na, nb);
      for (uint32_t i = 0; i < na; i++) {
        if (a[i].label != b[i].label &&
            fabs((double)a[i].distance - (double)b[i].distance) >
                tol_for(b[i].distance))
          CHECK_FAIL("filter %d query %zu rank %u: exact label %" PRIu64
                     " at %.9g, flat label %" PRIu64 " at %.9g",
                     fi, q, i, a[i].label, (double)a[i].distance, b[i].label,
                     (double)b[i].distance);
        ASSERT_NEAR(a[i].distance, b[i].distance, tol_for(b[i].distance));
      }
    }
  }
}

static void test_k_larger_than_count_returns_every_point(void) {
  ds_set_t s = make_set("tiny", 20, 5, 16, AKIDB_METRIC_L2, 3, 7, false);
  akidb_hnsw_t *h = build_index(&s, NULL);
  akidb_hit_t hits[100];
  for (size_t q = 0; q < s.n_query; q++) {
    uint32_t n = 0;
    ASSERT_OK(akidb_hnsw_search(h, s.queries + q * s.dim, 100, 0, NULL, hits,
                                &n));
    ASSERT_EQ_INT(n, 20);
    expect_valid_hits(&s, s.queries + q * s.dim, NULL, NULL, hits, n, 100, q);
  }
  akidb_hit_t *big = malloc(AKIDB_K_MAX * sizeof *big);
  ASSERT_TRUE(big != NULL);
  uint32_t n = 0;
  ASSERT_OK(akidb_hnsw_search(h, s.queries, AKIDB_K_MAX, 0, NULL, big, &n));
  ASSERT_EQ_INT(n, 20);
  free(big);
  akidb_hnsw_free(h);
  ds_free(&s);
}

/* ef is raised to k when smaller. */
static void test_ef_below_k_still_returns_k_hits(void) {
  ds_set_t s = make_mid_set(AKIDB_METRIC_L2, 5);
  akidb_hnsw_t *h = build_index(&s, NULL);
  akidb_hit_t hits[100];
  for (size_t q = 0; q < 10; q++) {
    uint32_t n = 0;
    ASSERT_OK(akidb_hnsw_search(h, s.queries + q * s.dim, 100, 1, NULL, hits,
                                &n));
    ASSERT_EQ_INT(n, 100);
    expect_valid_hits(&s, s.queries + q * s.dim, NULL, NULL, hits, n, 100, q);
  }
  akidb_hnsw_free(h);
  ds_free(&s);
}

static void test_search_refuses_bad_k_ef_query_and_filter(void) {
  ds_set_t s = make_set("bad", 200, 1, 16, AKIDB_METRIC_COSINE, 3, 9, false);
  akidb_hnsw_t *h = build_index(&s, NULL);
  akidb_hit_t hits[K];
  uint32_t n = 0;
  float q[16];
  memcpy(q, s.queries, sizeof q);
  ASSERT_EQ_INT(akidb_hnsw_search(h, q, 0, 0, NULL, hits, &n), AKIDB_EINVAL);
  ASSERT_EQ_INT(akidb_hnsw_search(h, q, AKIDB_K_MAX + 1, 0, NULL, hits, &n),
                AKIDB_EINVAL);
  ASSERT_EQ_INT(akidb_hnsw_search_exact(h, q, 0, NULL, hits, &n), AKIDB_EINVAL);
  ASSERT_EQ_INT(
      akidb_hnsw_search(h, q, K, AKIDB_HNSW_EF_SEARCH_MAX + 1, NULL, hits, &n),
      AKIDB_EINVAL);
  akidb_filter_t empty = {NULL, 0, NULL, NULL};
  ASSERT_EQ_INT(akidb_hnsw_search(h, q, K, 0, &empty, hits, &n), AKIDB_EINVAL);
  const float bad[] = {NAN, INFINITY, -INFINITY};
  for (int b = 0; b < 3; b++) {
    float w[16];
    memcpy(w, q, sizeof w);
    w[15] = bad[b];
    ASSERT_EQ_INT(akidb_hnsw_search(h, w, K, 0, NULL, hits, &n), AKIDB_EVALUE);
    ASSERT_EQ_INT(akidb_hnsw_search_exact(h, w, K, NULL, hits, &n),
                  AKIDB_EVALUE);
  }
  float zero[16] = {0};
  ASSERT_EQ_INT(akidb_hnsw_search(h, zero, K, 0, NULL, hits, &n),
                AKIDB_EVALUE);
  ASSERT_OK(akidb_hnsw_search(h, q, K, 0, NULL, hits, &n)); /* still fine */
  ASSERT_EQ_INT(n, K);
  akidb_hnsw_free(h);
  ds_free(&s);
}

/* ------------------------------------------------- insert/upsert/values -- */

static void test_insert_of_existing_label_is_refused(void) {
  ds_set_t s = make_set("dup", 300, 1, 16, AKIDB_METRIC_L2, 3, 11, false);
  akidb_hnsw_t *h = build_index(&s, NULL);
  ASSERT_EQ_INT(akidb_hnsw_insert(h, 42, s.base + 7 * 16), AKIDB_EEXIST);
  ASSERT_EQ_U64(akidb_hnsw_count(h), 300);
  float got[16];
  ASSERT_OK(akidb_hnsw_get_vector(h, 42, got));
  ASSERT_TRUE(memcmp(got, s.base + 42 * 16, sizeof got) == 0);
  akidb_hnsw_free(h);
  ds_free(&s);
}

static void test_upsert_replaces_the_vector_of_a_label(void) {
  ds_set_t s = make_mid_set(AKIDB_METRIC_L2, 13);
  akidb_hnsw_t *h = build_index(&s, NULL);
  const uint32_t d = s.dim;
  const uint64_t l = 77;
  float *old = s.base + l * d;
  float *neu = malloc(d * sizeof *neu);
  ASSERT_TRUE(neu != NULL);
  for (uint32_t j = 0; j < d; j++) neu[j] = old[j] + 10.0f; /* far away */
  ASSERT_OK(akidb_hnsw_upsert(h, l, neu));
  ASSERT_EQ_U64(akidb_hnsw_count(h), s.n_base);
  ASSERT_TRUE(akidb_hnsw_contains(h, l));

  float *stored = malloc(d * sizeof *stored);
  ASSERT_TRUE(stored != NULL);
  ASSERT_OK(akidb_hnsw_get_vector(h, l, stored));
  ASSERT_TRUE(memcmp(stored, neu, d * sizeof *neu) == 0);

  akidb_hit_t hits[K];
  uint32_t n = 0;
  ASSERT_OK(akidb_hnsw_search(h, neu, K, 0, NULL, hits, &n));
  ASSERT_TRUE(n >= 1);
  ASSERT_EQ_U64(hits[0].label, l);
  ASSERT_NEAR(hits[0].distance, 0.0, 1e-6);
  /* the old vector no longer matches the label */
  ASSERT_OK(akidb_hnsw_search(h, old, K, 0, NULL, hits, &n));
  ASSERT_EQ_INT(n, K);
  for (uint32_t i = 0; i < n; i++)
    if (hits[i].label == l)
      CHECK_FAIL("old vector still matches label %" PRIu64 " at rank %u "
                 "(distance %.9g)",
                 l, i, (double)hits[i].distance);
  ASSERT_OK(akidb_hnsw_search_exact(h, old, K, NULL, hits, &n));
  for (uint32_t i = 0; i < n; i++) ASSERT_TRUE(hits[i].label != l);

  /* upsert of a new label inserts it */
  ASSERT_OK(akidb_hnsw_upsert(h, 1000000, old));
  ASSERT_EQ_U64(akidb_hnsw_count(h), s.n_base + 1);
  ASSERT_OK(akidb_hnsw_search(h, old, 1, 0, NULL, hits, &n));
  ASSERT_EQ_U64(hits[0].label, 1000000);
  free(neu);
  free(stored);
  akidb_hnsw_free(h);
  ds_free(&s);
}

static void test_nonfinite_or_zero_cosine_vector_is_refused(void) {
  ds_set_t s = make_set("nan", 300, 1, 16, AKIDB_METRIC_COSINE, 3, 15, false);
  akidb_hnsw_t *h = build_index(&s, NULL);
  const float bad[] = {NAN, INFINITY, -INFINITY};
  float keep[16];
  ASSERT_OK(akidb_hnsw_get_vector(h, 5, keep));
  for (int b = 0; b < 3; b++) {
    for (int pos = 0; pos < 16; pos += 15) {
      float w[16];
      memcpy(w, s.queries, sizeof w);
      w[pos] = bad[b];
      ASSERT_EQ_INT(akidb_hnsw_insert(h, 9999, w), AKIDB_EVALUE);
      ASSERT_EQ_INT(akidb_hnsw_upsert(h, 9999, w), AKIDB_EVALUE);
      ASSERT_EQ_INT(akidb_hnsw_upsert(h, 5, w), AKIDB_EVALUE);
      ASSERT_EQ_U64(akidb_hnsw_count(h), 300);
      ASSERT_TRUE(!akidb_hnsw_contains(h, 9999));
    }
  }
  float zero[16] = {0};
  ASSERT_EQ_INT(akidb_hnsw_insert(h, 9999, zero), AKIDB_EVALUE);
  ASSERT_EQ_INT(akidb_hnsw_upsert(h, 5, zero), AKIDB_EVALUE);
  ASSERT_EQ_U64(akidb_hnsw_count(h), 300);
  float now[16];
  ASSERT_OK(akidb_hnsw_get_vector(h, 5, now));
  ASSERT_TRUE(memcmp(now, keep, sizeof now) == 0);
  akidb_hnsw_free(h);
  ds_free(&s);
  /* a zero vector is an ordinary point under l2 */
  akidb_hnsw_params_t p;
  akidb_hnsw_params_default(&p, 16, AKIDB_METRIC_L2);
  h = create_index(&p);
  ASSERT_OK(akidb_hnsw_insert(h, 1, zero));
  ASSERT_EQ_U64(akidb_hnsw_count(h), 1);
  akidb_hnsw_free(h);
}

static void test_get_vector_returns_the_stored_vector(void) {
  ds_set_t s = make_set("get", 300, 1, 24, AKIDB_METRIC_COSINE, 3, 17, false);
  akidb_hnsw_t *h = build_index(&s, NULL);
  for (uint64_t l = 0; l < 300; l += 37) {
    float got[24];
    ASSERT_OK(akidb_hnsw_get_vector(h, l, got));
    double norm = 0;
    for (int j = 0; j < 24; j++) norm += (double)s.base[l * 24 + j] * s.base[l * 24 + j];
    norm = sqrt(norm);
    for (int j = 0; j < 24; j++) /* normalised under cosine */
      ASSERT_NEAR(got[j], s.base[l * 24 + j] / norm, 1e-6);
  }
  float got[24];
  ASSERT_EQ_INT(akidb_hnsw_get_vector(h, 300, got), AKIDB_ENOTFOUND);
  ASSERT_TRUE(!akidb_hnsw_contains(h, 300));
  ASSERT_TRUE(akidb_hnsw_contains(h, 299));
  akidb_hnsw_free(h);
  ds_free(&s);
}

/* Labels are arbitrary 64-bit values: the extremes behave like any other. */
static void test_extreme_labels_are_ordinary(void) {
  const uint64_t labels[] = {UINT64_MAX, 0, UINT64_MAX - 1, 1ull << 63,
                             0xFFFFFFFFull, 1ull << 32};
  enum { NL = sizeof labels / sizeof labels[0], D = 8 };
  akidb_hnsw_params_t p;
  akidb_hnsw_params_default(&p, D, AKIDB_METRIC_L2);
  akidb_hnsw_t *h = create_index(&p);
  float v[NL][D];
  for (int i = 0; i < NL; i++)
    for (int j = 0; j < D; j++) v[i][j] = (float)(i * 10 + (j == i % D));
  for (int i = 0; i < NL; i++) ASSERT_OK(akidb_hnsw_insert(h, labels[i], v[i]));
  ASSERT_EQ_U64(akidb_hnsw_count(h), NL);
  for (int i = 0; i < NL; i++) {
    ASSERT_TRUE(akidb_hnsw_contains(h, labels[i]));
    ASSERT_EQ_INT(akidb_hnsw_insert(h, labels[i], v[0]), AKIDB_EEXIST);
    akidb_hit_t hit[1];
    uint32_t n = 0;
    ASSERT_OK(akidb_hnsw_search(h, v[i], 1, 0, NULL, hit, &n));
    ASSERT_EQ_INT(n, 1);
    ASSERT_EQ_U64(hit[0].label, labels[i]);
    float got[D];
    ASSERT_OK(akidb_hnsw_get_vector(h, labels[i], got));
    ASSERT_TRUE(memcmp(got, v[i], sizeof got) == 0);
  }
  ASSERT_TRUE(!akidb_hnsw_contains(h, 2));
  ASSERT_OK(akidb_hnsw_delete(h, UINT64_MAX));
  ASSERT_OK(akidb_hnsw_delete(h, 0));
  ASSERT_TRUE(!akidb_hnsw_contains(h, UINT64_MAX));
  ASSERT_TRUE(akidb_hnsw_contains(h, UINT64_MAX - 1));
  ASSERT_OK(akidb_hnsw_compact(h));
  ASSERT_EQ_U64(akidb_hnsw_count(h), NL - 2);
  for (int i = 2; i < NL; i++) ASSERT_TRUE(akidb_hnsw_contains(h, labels[i]));
  akidb_hit_t hits[NL];
  uint32_t n = 0;
  ASSERT_OK(akidb_hnsw_search_exact(h, v[0], NL, NULL, hits, &n));
  ASSERT_EQ_INT(n, NL - 2);
  for (uint32_t i = 0; i < n; i++)
    ASSERT_TRUE(hits[i].label != UINT64_MAX && hits[i].label != 0);
  akidb_hnsw_free(h);
}

/* An index of the largest dimension works end to end. */
static void test_largest_dimension_index_works(void) {
  const uint32_t d = AKIDB_DIM_MAX;
  akidb_hnsw_params_t p;
  akidb_hnsw_params_default(&p, d, AKIDB_METRIC_COSINE);
  akidb_hnsw_t *h = create_index(&p);
  enum { NP = 12 };
  float *v = malloc((size_t)NP * d * sizeof *v);
  ASSERT_TRUE(v != NULL);
  uint64_t rng = 65536;
  for (size_t i = 0; i < (size_t)NP * d; i++) v[i] = (float)ds_rng_gauss(&rng);
  for (uint64_t l = 0; l < NP; l++) ASSERT_OK(akidb_hnsw_insert(h, l, v + l * d));
  for (uint64_t l = 0; l < NP; l++) {
    akidb_hit_t hits[3];
    uint32_t n = 0;
    ASSERT_OK(akidb_hnsw_search(h, v + l * d, 3, 0, NULL, hits, &n));
    ASSERT_EQ_INT(n, 3);
    ASSERT_EQ_U64(hits[0].label, l);
    ASSERT_NEAR(hits[0].distance, 0.0, 1e-5);
    ASSERT_NEAR(hits[1].distance,
                ref_distance(AKIDB_METRIC_COSINE, v + l * d,
                             v + hits[1].label * d, d),
                1e-4);
  }
  free(v);
  akidb_hnsw_free(h);
}

/* -------------------------------------------------------------- delete -- */

/* Deletes 30% of the rows of `s` from `h` (marked in `deleted`). */
static size_t delete_30_percent(akidb_hnsw_t *h, const ds_set_t *s,
                                bool *deleted, uint64_t seed) {
  size_t count = s->n_base * 3 / 10;
  pick_rows(deleted, s->n_base, count, seed);
  for (size_t i = 0; i < s->n_base; i++)
    if (deleted[i]) {
      int rc = akidb_hnsw_delete(h, i);
      if (rc != AKIDB_OK)
        CHECK_FAIL("delete of label %zu = %s", i, akidb_err_name(rc));
    }
  ASSERT_EQ_U64(akidb_hnsw_count(h), s->n_base - count);
  ASSERT_EQ_U64(akidb_hnsw_deleted_count(h), count);
  return count;
}

/* No query, of the set or at a deleted point itself, returns a deleted label. */
static void expect_deleted_never_returned(const akidb_hnsw_t *h,
                                          const ds_set_t *s,
                                          const bool *deleted) {
  enum { KK = 50 };
  akidb_hit_t hits[KK];
  uint32_t n = 0;
  for (size_t q = 0; q < s->n_query; q++) {
    const float *query = s->queries + q * s->dim;
    ASSERT_OK(akidb_hnsw_search(h, query, KK, 0, NULL, hits, &n));
    ASSERT_EQ_INT(n, KK);
    expect_valid_hits(s, query, deleted, NULL, hits, n, KK, q);
  }
  size_t tried = 0;
  for (size_t i = 0; i < s->n_base && tried < 200; i++) {
    if (!deleted[i]) continue;
    tried++;
    const float *query = s->base + i * s->dim;
    ASSERT_OK(akidb_hnsw_search(h, query, KK, 0, NULL, hits, &n));
    ASSERT_EQ_INT(n, KK);
    expect_valid_hits(s, query, deleted, NULL, hits, n, KK, 100000 + i);
    ASSERT_OK(akidb_hnsw_search_exact(h, query, K, NULL, hits, &n));
    expect_valid_hits(s, query, deleted, NULL, hits, n, K, 200000 + i);
    ASSERT_TRUE(!akidb_hnsw_contains(h, i));
  }
}

static void test_deleted_points_are_never_returned(void) {
  ds_set_t s = make_mid_set(AKIDB_METRIC_L2, 19);
  akidb_hnsw_t *h = build_index(&s, NULL);
  bool *deleted = calloc(s.n_base, sizeof *deleted);
  ASSERT_TRUE(deleted != NULL);
  delete_30_percent(h, &s, deleted, 21);
  expect_deleted_never_returned(h, &s, deleted);
  free(deleted);
  akidb_hnsw_free(h);
  ds_free(&s);
}

/* A filter that allows deleted labels does not bring them back. */
static void test_filter_does_not_resurrect_deleted_points(void) {
  ds_set_t s = make_mid_set(AKIDB_METRIC_COSINE, 23);
  akidb_hnsw_t *h = build_index(&s, NULL);
  bool *deleted = calloc(s.n_base, sizeof *deleted);
  uint64_t *bits = calloc((s.n_base + 63) / 64, sizeof *bits);
  ASSERT_TRUE(deleted && bits);
  delete_30_percent(h, &s, deleted, 25);
  size_t allowed = 0;
  for (size_t i = 0; i < s.n_base && allowed < s.n_base / 100; i++)
    if (deleted[i] || i % 2 == 0) { /* mostly deleted labels: exact path */
      bits[i >> 6] |= 1ull << (i & 63);
      allowed++;
    }
  akidb_filter_t f = {bits, s.n_base, NULL, NULL};
  akidb_hit_t hits[K];
  uint32_t n = 0;
  for (size_t q = 0; q < s.n_query; q++) {
    const float *query = s.queries + q * s.dim;
    ASSERT_OK(akidb_hnsw_search(h, query, K, 0, &f, hits, &n));
    expect_valid_hits(&s, query, deleted, &f, hits, n, K, q);
  }
  free(deleted);
  free(bits);
  akidb_hnsw_free(h);
  ds_free(&s);
}

static void test_delete_of_unknown_label_is_refused(void) {
  ds_set_t s = make_set("del", 100, 1, 8, AKIDB_METRIC_L2, 2, 27, false);
  akidb_hnsw_t *h = build_index(&s, NULL);
  ASSERT_EQ_INT(akidb_hnsw_delete(h, 100), AKIDB_ENOTFOUND);
  ASSERT_EQ_INT(akidb_hnsw_delete(h, UINT64_MAX), AKIDB_ENOTFOUND);
  ASSERT_OK(akidb_hnsw_delete(h, 50));
  ASSERT_EQ_INT(akidb_hnsw_delete(h, 50), AKIDB_ENOTFOUND); /* twice */
  ASSERT_EQ_U64(akidb_hnsw_count(h), 99);
  ASSERT_EQ_U64(akidb_hnsw_deleted_count(h), 1);
  float v[8];
  ASSERT_EQ_INT(akidb_hnsw_get_vector(h, 50, v), AKIDB_ENOTFOUND);
  akidb_hnsw_free(h);
  ds_free(&s);
}

/* Points inserted after every earlier point was deleted are still linked
 * (they may link to deleted points, which route until compaction). */
static void test_points_inserted_among_deleted_ones_are_found(void) {
  ds_set_t s = make_set("amid", 400, 1, 8, AKIDB_METRIC_L2, 4, 31, false);
  akidb_hnsw_t *h = build_index(&s, NULL);
  for (size_t i = 0; i < 200; i++) ASSERT_OK(akidb_hnsw_delete(h, i));
  for (size_t i = 200; i < 400; i++) ASSERT_OK(akidb_hnsw_delete(h, i));
  for (size_t i = 0; i < 400; i++) ASSERT_OK(akidb_hnsw_insert(h, 1000 + i, s.base + i * s.dim));
  akidb_hit_t hits[1];
  uint32_t n = 0, found = 0;
  for (size_t i = 0; i < 400; i++) {
    ASSERT_OK(akidb_hnsw_search(h, s.base + i * s.dim, 1, 0, NULL, hits, &n));
    ASSERT_EQ_INT(n, 1);
    found += hits[0].label == 1000 + i;
  }
  ASSERT_GE(found, 396);
  akidb_hnsw_free(h);
  ds_free(&s);
}

/* A deleted label is no longer live, so it can be inserted again. */
static void test_insert_after_delete_reuses_the_label(void) {
  ds_set_t s = make_set("re", 500, 1, 16, AKIDB_METRIC_L2, 4, 29, false);
  akidb_hnsw_t *h = build_index(&s, NULL);
  ASSERT_OK(akidb_hnsw_delete(h, 10));
  float far[16];
  for (int j = 0; j < 16; j++) far[j] = 50.0f + (float)j;
  ASSERT_OK(akidb_hnsw_insert(h, 10, far));
  ASSERT_EQ_U64(akidb_hnsw_count(h), 500);
  ASSERT_TRUE(akidb_hnsw_contains(h, 10));
  akidb_hit_t hits[K];
  uint32_t n = 0;
  ASSERT_OK(akidb_hnsw_search(h, far, 1, 0, NULL, hits, &n));
  ASSERT_EQ_U64(hits[0].label, 10);
  ASSERT_NEAR(hits[0].distance, 0.0, 0);
  ASSERT_OK(akidb_hnsw_search(h, s.base + 10 * 16, K, 0, NULL, hits, &n));
  for (uint32_t i = 0; i < n; i++) ASSERT_TRUE(hits[i].label != 10);
  akidb_hnsw_free(h);
  ds_free(&s);
}

/* Recall@10 of `h` on the queries of `s` against the live rows. */
static double live_recall(const char *what, const akidb_hnsw_t *h,
                          const ds_set_t *s, const bool *deleted) {
  bool *keep = malloc(s->n_base * sizeof *keep);
  akidb_hit_t *hits = malloc(s->n_query * K * sizeof *hits);
  akidb_hit_t *truth = malloc(s->n_query * K * sizeof *truth);
  uint32_t *n = malloc(s->n_query * sizeof *n);
  uint32_t *tn = malloc(s->n_query * sizeof *tn);
  ASSERT_TRUE(keep && hits && truth && n && tn);
  for (size_t i = 0; i < s->n_base; i++) keep[i] = !deleted[i];
  exact_truth(s, keep, NULL, K, truth, tn);
  search_all(h, s, K, 0, NULL, hits, n);
  for (size_t q = 0; q < s->n_query; q++)
    expect_valid_hits(s, s->queries + q * s->dim, deleted, NULL, hits + q * K,
                      n[q], K, q);
  double r = recall_against(hits, n, truth, tn, s->n_query, K);
  fprintf(stderr, "  recall@10 %-40s n=%zu live=%" PRIu64 ": %.4f\n", what,
          s->n_base, akidb_hnsw_count(h), r);
  free(keep);
  free(hits);
  free(truth);
  free(n);
  free(tn);
  return r;
}

static void test_recall_after_deleting_30_percent_stays_high(void) {
  ds_set_t s = make_mid_set(AKIDB_METRIC_L2, 31);
  akidb_hnsw_t *h = build_index(&s, NULL);
  bool *deleted = calloc(s.n_base, sizeof *deleted);
  ASSERT_TRUE(deleted != NULL);
  delete_30_percent(h, &s, deleted, 33);
  ASSERT_GE(live_recall("30% deleted, not compacted", h, &s, deleted),
            MIN_RECALL);
  free(deleted);
  akidb_hnsw_free(h);
  ds_free(&s);
}

static void test_recall_after_deleting_30_percent_and_compacting(void) {
  ds_set_t s = make_mid_set(AKIDB_METRIC_L2, 35);
  akidb_hnsw_t *h = build_index(&s, NULL);
  bool *deleted = calloc(s.n_base, sizeof *deleted);
  ASSERT_TRUE(deleted != NULL);
  delete_30_percent(h, &s, deleted, 37);
  ASSERT_OK(akidb_hnsw_compact(h));
  ASSERT_GE(live_recall("30% deleted, compacted", h, &s, deleted), MIN_RECALL);
  expect_deleted_never_returned(h, &s, deleted);
  free(deleted);
  akidb_hnsw_free(h);
  ds_free(&s);
}

static void test_compaction_frees_memory_and_clears_deleted_count(void) {
  ds_set_t s = make_mid_set(AKIDB_METRIC_COSINE, 39);
  akidb_hnsw_t *h = build_index(&s, NULL);
  bool *deleted = calloc(s.n_base, sizeof *deleted);
  ASSERT_TRUE(deleted != NULL);
  size_t removed = delete_30_percent(h, &s, deleted, 41);
  uint64_t before = akidb_hnsw_memory_bytes(h);
  ASSERT_OK(akidb_hnsw_compact(h));
  uint64_t after = akidb_hnsw_memory_bytes(h);
  fprintf(stderr, "  memory before compaction %" PRIu64 " B, after %" PRIu64
                  " B (%.1f%%)\n",
          before, after, 100.0 * (double)after / (double)before);
  ASSERT_TRUE(before > 0);
  ASSERT_LE(after, 0.9 * (double)before); /* 30% of the points are gone */
  ASSERT_EQ_U64(akidb_hnsw_deleted_count(h), 0);
  ASSERT_EQ_U64(akidb_hnsw_count(h), s.n_base - removed);
  ASSERT_OK(akidb_hnsw_compact(h)); /* nothing left to do */
  ASSERT_EQ_U64(akidb_hnsw_count(h), s.n_base - removed);
  free(deleted);
  akidb_hnsw_free(h);
  ds_free(&s);
}

/* Cuts ISLAND level-0-only points off the rest of the graph (no link from
 * outside points to them at any level; among themselves a ring), the shape
 * heavy churn can leave behind, then compacts: the island is linked in
 * again, and every live point is found by searching for its own vector. */
#define ISLAND 12u
static void test_compaction_relinks_an_unreachable_island(void) {
  ds_set_t s = make_mid_set(AKIDB_METRIC_L2, 47);
  akidb_hnsw_t *h = build_index(&s, NULL);
  uint32_t island[ISLAND], n = 0;
  bool in_island[8192] = {false};
  ASSERT_TRUE(s.n_base <= 8192);
  for (uint32_t i = 0; i < s.n_base && n < ISLAND; i += 37)
    if (h->levels[i] == 0 && i != h->entry) island[n++] = i, in_island[i] = true;
  ASSERT_EQ_INT(n, ISLAND);
  for (uint32_t u = 0; u < s.n_base; u++) {
    if (in_island[u]) continue;
    for (int level = 0; level <= h->levels[u]; level++) {
      uint32_t *l = hnsw_links(h, u, level), kept = 0;
      for (uint32_t i = 1; i <= l[0]; i++)
        if (!in_island[l[i]]) l[1 + kept++] = l[i];
      l[0] = kept;
    }
  }
  for (uint32_t j = 0; j < ISLAND; j++) {
    uint32_t *l = hnsw_links(h, island[j], 0);
    l[0] = 1;
    l[1] = island[(j + 1) % ISLAND];
  }
  /* one unrelated deletion, so that compaction has work */
  uint32_t victim = 1;
  while (in_island[victim] || victim == h->entry) victim++;
  ASSERT_OK(akidb_hnsw_delete(h, victim));
  ASSERT_OK(akidb_hnsw_compact(h));
  for (uint32_t j = 0; j < ISLAND; j++) {
    akidb_hit_t hit[1];
    uint32_t got = 0;
    ASSERT_OK(akidb_hnsw_search(h, s.base + (size_t)island[j] * s.dim, 1, 0, NULL, hit, &got));
    ASSERT_EQ_INT(got, 1);
    ASSERT_EQ_U64(hit[0].label, island[j]);
  }
  akidb_hnsw_free(h);
  ds_free(&s);
}

static void test_compaction_keeps_labels_and_vectors(void) {
  ds_set_t s = make_mid_set(AKIDB_METRIC_L2, 43);
  akidb_hnsw_t *h = build_index(&s, NULL);
  bool *deleted = calloc(s.n_base, sizeof *deleted);
  ASSERT_TRUE(deleted != NULL);
  delete_30_percent(h, &s, deleted, 45);
  ASSERT_OK(akidb_hnsw_compact(h));
  float *v = malloc(s.dim * sizeof *v);
  ASSERT_TRUE(v != NULL);
  for (size_t i = 0; i < s.n_base; i++) {
    if (deleted[i]) {
      ASSERT_TRUE(!akidb_hnsw_contains(h, i));
      ASSERT_EQ_INT(akidb_hnsw_get_vector(h, i, v), AKIDB_ENOTFOUND);
      continue;
    }
    ASSERT_TRUE(akidb_hnsw_contains(h, i));
    ASSERT_OK(akidb_hnsw_get_vector(h, i, v));
    if (memcmp(v, s.base + i * s.dim, s.dim * sizeof *v) != 0)
      CHECK_FAIL("label %zu: vector changed by compaction", i);
    /* and a search for it finds it */
    akidb_hit_t hit[1];
    uint32_t n = 0;
    ASSERT_OK(akidb_hnsw_search_exact(h, v, 1, NULL, hit, &n));
    ASSERT_EQ_U64(hit[0].label, i);
  }
  /* the compacted index takes new points and deletes, labels intact */
  ASSERT_EQ_INT(akidb_hnsw_insert(h, 0, s.base), deleted[0] ? AKIDB_OK
                                                             : AKIDB_EEXIST);
  free(v);
  free(deleted);
  akidb_hnsw_free(h);
  ds_free(&s);
}

static void test_search_after_deleting_every_point_returns_no_hits(void) {
  ds_set_t s = make_set("all", 300, 5, 16, AKIDB_METRIC_L2, 3, 47, false);
  akidb_hnsw_t *h = build_index(&s, NULL);
  for (uint64_t l = 0; l < 300; l++) ASSERT_OK(akidb_hnsw_delete(h, l));
  akidb_hit_t hits[K];
  uint32_t n = 99;
  ASSERT_OK(akidb_hnsw_search(h, s.queries, K, 0, NULL, hits, &n));
  ASSERT_EQ_INT(n, 0);
  ASSERT_OK(akidb_hnsw_compact(h));
  ASSERT_EQ_U64(akidb_hnsw_count(h), 0);
  ASSERT_EQ_U64(akidb_hnsw_deleted_count(h), 0);
  n = 99;
  ASSERT_OK(akidb_hnsw_search(h, s.queries, K, 0, NULL, hits, &n));
  ASSERT_EQ_INT(n, 0);
  /* and the emptied index works again */
  for (uint64_t l = 0; l < 50; l++) ASSERT_OK(akidb_hnsw_insert(h, l, s.base + l * 16));
  ASSERT_OK(akidb_hnsw_search(h, s.base + 7 * 16, 1, 0, NULL, hits, &n));
  ASSERT_EQ_INT(n, 1);
  ASSERT_EQ_U64(hits[0].label, 7);
  akidb_hnsw_free(h);
  ds_free(&s);
}

static void test_search_on_empty_index_returns_no_hits(void) {
  akidb_hnsw_params_t p;
  akidb_hnsw_params_default(&p, 16, AKIDB_METRIC_COSINE);
  akidb_hnsw_t *h = create_index(&p);
  float q[16];
  for (int j = 0; j < 16; j++) q[j] = (float)j - 7.5f;
  akidb_hit_t hits[K];
  uint32_t n = 99;
  ASSERT_OK(akidb_hnsw_search(h, q, K, 0, NULL, hits, &n));
  ASSERT_EQ_INT(n, 0);
  n = 99;
  ASSERT_OK(akidb_hnsw_search_exact(h, q, K, NULL, hits, &n));
  ASSERT_EQ_INT(n, 0);
  uint64_t bits[1] = {~0ull};
  akidb_filter_t f = {bits, 64, NULL, NULL};
  n = 99;
  ASSERT_OK(akidb_hnsw_search(h, q, K, 0, &f, hits, &n));
  ASSERT_EQ_INT(n, 0);
  ASSERT_EQ_U64(akidb_hnsw_count(h), 0);
  ASSERT_EQ_INT(akidb_hnsw_delete(h, 0), AKIDB_ENOTFOUND);
  ASSERT_OK(akidb_hnsw_compact(h));
  ASSERT_TRUE(akidb_hnsw_memory_bytes(h) > 0);
  akidb_hnsw_free(h);
}

/* ------------------------------------------------------------ filtered -- */

typedef struct {
  uint64_t modulus, residue;
  pthread_t searcher;
  unsigned long calls, foreign_calls;
} pred_ctx_t;

static bool allow_residue(uint64_t label, void *ctx) {
  pred_ctx_t *c = ctx;
  c->calls++;
  if (!pthread_equal(pthread_self(), c->searcher)) c->foreign_calls++;
  return label % c->modulus == c->residue;
}

/*
 * Filtered search on a fixture: every result allowed and recall@10 against
 * the exact filtered top 10 (akidb_flat with the same filter) >= 0.95.
 */
static void check_filtered_recall_on(const fixture_t *fx, const char *what,
                                     const akidb_filter_t *filter) {
  const ds_set_t *s = &fx->set;
  akidb_hit_t *hits = malloc(s->n_query * K * sizeof *hits);
  akidb_hit_t *truth = malloc(s->n_query * K * sizeof *truth);
  uint32_t *n = malloc(s->n_query * sizeof *n);
  uint32_t *tn = malloc(s->n_query * sizeof *tn);
  ASSERT_TRUE(hits && truth && n && tn);
  ASSERT_OK(akidb_flat_search_batch(fx->flat, s->queries, (uint32_t)s->n_query,
                                    K, filter, truth, tn));
  double t0 = ds_now();
  search_all(fx->index, s, K, 0, filter, hits, n);
  double secs = ds_now() - t0;
  size_t short_lists = 0;
  for (size_t q = 0; q < s->n_query; q++) {
    expect_valid_hits(s, s->queries + q * s->dim, NULL, filter, hits + q * K,
                      n[q], K, q);
    short_lists += n[q] < tn[q];
  }
  double r = recall_against(hits, n, truth, tn, s->n_query, K);
  fprintf(stderr,
          "  recall@10 %s filtered %-24s q=%zu: %.4f (%zu short lists, "
          "search %.3f s)\n",
          s->name, what, s->n_query, r, short_lists, secs);
  ASSERT_GE(r, MIN_RECALL);
  free(hits);
  free(truth);
  free(n);
  free(tn);
}

/* Filtered search on sift5k (small: an exact scan of the allowed points). */
static void check_filtered_recall(const char *what,
                                  const akidb_filter_t *filter) {
  check_filtered_recall_on(sift_fixture(), what, filter);
}

/* A bitmap over sift5k allowing exactly `fraction` of the labels. */
static void check_bitmap_selectivity(const char *what, double fraction) {
  const fixture_t *fx = sift_fixture();
  size_t nb = fx->set.n_base;
  bool *mark = calloc(nb, sizeof *mark);
  uint64_t *bits = calloc((nb + 63) / 64, sizeof *bits);
  ASSERT_TRUE(mark && bits);
  pick_rows(mark, nb, (size_t)(fraction * (double)nb), (uint64_t)(fraction * 1e6));
  for (size_t i = 0; i < nb; i++)
    if (mark[i]) bits[i >> 6] |= 1ull << (i & 63);
  akidb_filter_t f = {bits, nb, NULL, NULL};
  check_filtered_recall(what, &f);
  free(mark);
  free(bits);
}

static void test_filtered_search_bitmap_1_percent(void) {
  check_bitmap_selectivity("bitmap 1%", 0.01);
}

static void test_filtered_search_bitmap_10_percent(void) {
  check_bitmap_selectivity("bitmap 10%", 0.10);
}

static void test_filtered_search_bitmap_50_percent(void) {
  check_bitmap_selectivity("bitmap 50%", 0.50);
}

static void check_predicate_selectivity(const char *what, uint64_t modulus) {
  pred_ctx_t ctx = {modulus, 3, pthread_self(), 0, 0};
  akidb_filter_t f = {NULL, 0, allow_residue, &ctx};
  check_filtered_recall(what, &f);
  ASSERT_GE(ctx.calls, 1);
  ASSERT_EQ_U64(ctx.foreign_calls, 0); /* only the searching thread calls */
}

static void test_filtered_search_predicate_10_percent(void) {
  check_predicate_selectivity("predicate 10%", 10);
}

static void test_filtered_search_predicate_1_percent(void) {
  check_predicate_selectivity("predicate 1%", 100);
}

static void test_filtered_search_bitmap_and_predicate_must_both_pass(void) {
  const fixture_t *fx = sift_fixture();
  size_t nb = fx->set.n_base;
  uint64_t *bits = calloc((nb + 63) / 64, sizeof *bits);
  ASSERT_TRUE(bits != NULL);
  for (size_t i = 0; i < nb; i += 2) bits[i >> 6] |= 1ull << (i & 63);
  pred_ctx_t ctx = {3, 0, pthread_self(), 0, 0};
  akidb_filter_t f = {bits, nb, allow_residue, &ctx}; /* labels % 6 == 0 */
  check_filtered_recall("bitmap & predicate", &f);
  free(bits);
}

/* Labels at or past nbits are refused even when their bit is set. */
static void test_filtered_search_ignores_bits_past_nbits(void) {
  uint64_t bits[(5000 + 63) / 64];
  memset(bits, 0xff, sizeof bits);
  akidb_filter_t f = {bits, 100, NULL, NULL}; /* 0..99; 100..127 set too */
  check_filtered_recall("first 100 labels", &f);
  akidb_filter_t g = {bits, 2500, NULL, NULL};
  check_filtered_recall("first 2500 labels", &g);
}

/* --------------------------------------- filtered search on the graph -- */

static void test_filtered_graph_search_random_half_bitmap(void) {
  const fixture_t *fx = graph_filter_fixture();
  size_t nb = fx->set.n_base;
  bool *mark = calloc(nb, sizeof *mark);
  uint64_t *bits = calloc((nb + 63) / 64, sizeof *bits);
  ASSERT_TRUE(mark && bits);
  pick_rows(mark, nb, nb / 2, 51);
  for (size_t i = 0; i < nb; i++)
    if (mark[i]) bits[i >> 6] |= 1ull << (i & 63);
  akidb_filter_t f = {bits, nb, NULL, NULL};
  check_filtered_recall_on(fx, "bitmap 50%", &f);
  free(mark);
  free(bits);
}

static void test_filtered_graph_search_predicate_half(void) {
  const fixture_t *fx = graph_filter_fixture();
  pred_ctx_t ctx = {2, 1, pthread_self(), 0, 0};
  akidb_filter_t f = {NULL, 0, allow_residue, &ctx};
  check_filtered_recall_on(fx, "predicate 50%", &f);
  ASSERT_GE(ctx.calls, 1);
  ASSERT_EQ_U64(ctx.foreign_calls, 0);
}

static int cmp_float(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return (x > y) - (x < y);
}

/* The allowed half lies on one side of a hyperplane: for queries on the
 * other side every allowed neighbour is far from where the search starts. */
static void test_filtered_graph_search_spatially_correlated_half(void) {
  const fixture_t *fx = graph_filter_fixture();
  const ds_set_t *s = &fx->set;
  size_t nb = s->n_base;
  float *coord = malloc(nb * sizeof *coord);
  float *sorted = malloc(nb * sizeof *sorted);
  uint64_t *bits = calloc((nb + 63) / 64, sizeof *bits);
  ASSERT_TRUE(coord && sorted && bits);
  for (size_t i = 0; i < nb; i++) coord[i] = s->base[i * s->dim];
  memcpy(sorted, coord, nb * sizeof *coord);
  qsort(sorted, nb, sizeof *sorted, cmp_float);
  float median = sorted[nb / 2];
  for (size_t i = 0; i < nb; i++)
    if (coord[i] > median) bits[i >> 6] |= 1ull << (i & 63);
  akidb_filter_t f = {bits, nb, NULL, NULL};
  check_filtered_recall_on(fx, "correlated half", &f);
  free(coord);
  free(sorted);
  free(bits);
}

/* --------------------------------------------------------- determinism -- */

static void test_same_seed_gives_identical_results(void) {
  ds_set_t s = make_set("seed", PICK(1000, 3000), 50, 32, AKIDB_METRIC_L2, 8,
                        49, false);
  akidb_hnsw_params_t p;
  akidb_hnsw_params_default(&p, s.dim, s.metric);
  p.seed = 0x5eed;
  akidb_hnsw_t *a = build_index(&s, &p);
  akidb_hnsw_t *b = build_index(&s, &p);
  akidb_hit_t ha[K], hb[K];
  for (size_t q = 0; q < s.n_query; q++) {
    const float *query = s.queries + q * s.dim;
    uint32_t na = 0, nb = 0;
    for (uint32_t ef = 10; ef <= 40; ef += 30) {
      ASSERT_OK(akidb_hnsw_search(a, query, K, ef, NULL, ha, &na));
      ASSERT_OK(akidb_hnsw_search(b, query, K, ef, NULL, hb, &nb));
      ASSERT_EQ_INT(na, nb);
      for (uint32_t i = 0; i < na; i++)
        if (ha[i].label != hb[i].label ||
            memcmp(&ha[i].distance, &hb[i].distance, sizeof(float)) != 0)
          CHECK_FAIL("query %zu ef %u rank %u: label %" PRIu64 " at %.9g vs "
                     "label %" PRIu64 " at %.9g",
                     q, ef, i, ha[i].label, (double)ha[i].distance,
                     hb[i].label, (double)hb[i].distance);
    }
  }
  /* The same structure; the counted bytes are the allocator's real block
   * sizes, which an aligned block's address may change by a few bytes. */
  uint64_t ma = akidb_hnsw_memory_bytes(a), mb = akidb_hnsw_memory_bytes(b);
  uint64_t diff = ma > mb ? ma - mb : mb - ma;
  if (diff * 1000 > ma)
    CHECK_FAIL("memory of two same-seed builds differs by more than 0.1%%: %" PRIu64
               " vs %" PRIu64, ma, mb);
  akidb_hnsw_free(a);
  akidb_hnsw_free(b);
  ds_free(&s);
}

CHECK_MAIN(CHECK_CASE(test_params_default_are_documented_and_valid),
           CHECK_CASE(test_params_below_min_are_refused_naming_the_field),
           CHECK_CASE(test_params_above_max_are_refused_naming_the_field),
           CHECK_CASE(test_params_at_min_and_max_are_accepted),
           CHECK_CASE(test_ef_construction_below_m_is_refused),
           CHECK_CASE(test_unknown_metric_is_refused_naming_the_field),
           CHECK_CASE(test_params_error_fits_small_or_missing_buffer),
           CHECK_CASE(test_set_ef_search_validates_and_is_reported),
           CHECK_CASE(test_recall_sift5k_at_default_ef),
           CHECK_CASE(test_recall_glove25_cosine_at_default_ef),
           CHECK_CASE(test_recall_clustered_128d_l2_at_default_ef),
           CHECK_CASE(test_recall_clustered_768d_cosine_at_default_ef),
           CHECK_CASE(test_results_are_sorted_with_correct_distances_l2),
           CHECK_CASE(test_results_are_sorted_with_correct_distances_cosine),
           CHECK_CASE(test_results_are_sorted_with_correct_distances_dot),
           CHECK_CASE(test_search_exact_matches_flat_index),
           CHECK_CASE(test_k_larger_than_count_returns_every_point),
           CHECK_CASE(test_ef_below_k_still_returns_k_hits),
           CHECK_CASE(test_search_refuses_bad_k_ef_query_and_filter),
           CHECK_CASE(test_insert_of_existing_label_is_refused),
           CHECK_CASE(test_upsert_replaces_the_vector_of_a_label),
           CHECK_CASE(test_nonfinite_or_zero_cosine_vector_is_refused),
           CHECK_CASE(test_get_vector_returns_the_stored_vector),
           CHECK_CASE(test_extreme_labels_are_ordinary),
           CHECK_CASE(test_largest_dimension_index_works),
           CHECK_CASE(test_deleted_points_are_never_returned),
           CHECK_CASE(test_filter_does_not_resurrect_deleted_points),
           CHECK_CASE(test_delete_of_unknown_label_is_refused),
           CHECK_CASE(test_insert_after_delete_reuses_the_label),
           CHECK_CASE(test_points_inserted_among_deleted_ones_are_found),
           CHECK_CASE(test_recall_after_deleting_30_percent_stays_high),
           CHECK_CASE(test_recall_after_deleting_30_percent_and_compacting),
           CHECK_CASE(test_compaction_frees_memory_and_clears_deleted_count),
           CHECK_CASE(test_compaction_keeps_labels_and_vectors),
           CHECK_CASE(test_compaction_relinks_an_unreachable_island),
           CHECK_CASE(test_search_after_deleting_every_point_returns_no_hits),
           CHECK_CASE(test_search_on_empty_index_returns_no_hits),
           CHECK_CASE(test_filtered_search_bitmap_1_percent),
           CHECK_CASE(test_filtered_search_bitmap_10_percent),
           CHECK_CASE(test_filtered_search_bitmap_50_percent),
           CHECK_CASE(test_filtered_search_predicate_10_percent),
           CHECK_CASE(test_filtered_search_predicate_1_percent),
           CHECK_CASE(test_filtered_search_bitmap_and_predicate_must_both_pass),
           CHECK_CASE(test_filtered_search_ignores_bits_past_nbits),
           CHECK_CASE(test_filtered_graph_search_random_half_bitmap),
           CHECK_CASE(test_filtered_graph_search_predicate_half),
           CHECK_CASE(test_filtered_graph_search_spatially_correlated_half),
           CHECK_CASE(test_same_seed_gives_identical_results))
