/*
 * test_flat.c — the exact index (akidb_flat_*): results against a float64
 * brute-force reference for l2, cosine and dot (labels and distances, nearest
 * first, ties to the smaller label), k above the count, upsert, delete and
 * slot reuse, all-or-nothing batch upsert, batch search against one-by-one
 * search, bitmap and predicate filters, and the errors for bad input.
 */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "akidb/index.h"
#include "check.h"
#include "index_check.h"
#include "dataset/dataset.h"

#ifdef AKIDB_TEST_SMALL
#define N_POINTS 400u
#else
#define N_POINTS 1000u
#endif
#define DIM 37u /* odd, so vectorised kernels run their scalar tails */
#define N_QUERIES 40u
#define K 10u

/* ------------------------------------------------------------ reference -- */

/* Distance in float64, by the definitions in akidb/index.h. */
static double ref_distance(akidb_metric_t metric, const float *a,
                           const float *b, uint32_t dim) {
  double s = 0, na = 0, nb = 0;
  for (uint32_t i = 0; i < dim; i++) {
    switch (metric) {
    case AKIDB_METRIC_L2: {
      double d = (double)a[i] - (double)b[i];
      s += d * d;
      break;
    }
    case AKIDB_METRIC_DOT:
      s += (double)a[i] * (double)b[i];
      break;
    case AKIDB_METRIC_COSINE:
      s += (double)a[i] * (double)b[i];
      na += (double)a[i] * (double)a[i];
      nb += (double)b[i] * (double)b[i];
      break;
    }
  }
  if (metric == AKIDB_METRIC_DOT) return -s;
  if (metric == AKIDB_METRIC_COSINE) return 1.0 - s / (sqrt(na) * sqrt(nb));
  return s;
}

/* What the index should hold: labels 0..cap-1, each live or not. */
typedef struct {
  uint32_t dim;
  akidb_metric_t metric;
  uint64_t cap;
  float *vecs; /* cap * dim */
  bool *live;
} model_t;

typedef struct {
  uint64_t label;
  double dist;
} ref_hit_t;

static model_t model_new(uint32_t dim, akidb_metric_t metric, uint64_t cap) {
  model_t m = {dim, metric, cap, calloc(cap * dim, sizeof(float)),
               calloc(cap, sizeof(bool))};
  ASSERT_TRUE(m.vecs != NULL && m.live != NULL);
  return m;
}

static void model_free(model_t *m) {
  free(m->vecs);
  free(m->live);
}

static uint64_t model_count(const model_t *m) {
  uint64_t n = 0;
  for (uint64_t i = 0; i < m->cap; i++) n += m->live[i];
  return n;
}

/* The documented filter semantics: bits (label < nbits and bit set) and/or
 * the predicate; both must pass when both are set. */

static int cmp_ref_hit(const void *pa, const void *pb) {
  const ref_hit_t *x = pa, *y = pb;
  if (x->dist < y->dist) return -1;
  if (x->dist > y->dist) return 1;
  return (x->label > y->label) - (x->label < y->label);
}

/* Exact top-k by float64 brute force; returns the number of hits. */
static uint32_t ref_search(const model_t *m, const float *q, uint32_t k,
                           const akidb_filter_t *filter, ref_hit_t *out) {
  ref_hit_t *all = malloc((m->cap + 1) * sizeof *all);
  ASSERT_TRUE(all != NULL);
  size_t n = 0;
  for (uint64_t l = 0; l < m->cap; l++) {
    if (!m->live[l] || !ref_filter_allows(filter, l)) continue;
    all[n].label = l;
    all[n].dist = ref_distance(m->metric, q, m->vecs + l * m->dim, m->dim);
    n++;
  }
  qsort(all, n, sizeof *all, cmp_ref_hit);
  uint32_t r = n < k ? (uint32_t)n : k;
  memcpy(out, all, r * sizeof *out);
  free(all);
  return r;
}

/* Float32 rounding allowance for a distance of magnitude d. */
static double tol_for(double d) { return 2e-5 * (1.0 + fabs(d)); }

/*
 * Checks one result list against the reference: same length; at every rank
 * the distance equals the reference distance of that rank (within float32
 * rounding) and the label equals the reference label, unless the two are a
 * near-tie the float32 rounding may order either way; each reported distance
 * is the float64 distance of its label; nearest first, ties to the smaller
 * label; no label twice; every label live and allowed.
 */
static void expect_matches_reference(const model_t *m, const float *q,
                                     const akidb_filter_t *filter,
                                     const akidb_hit_t *got, uint32_t n_got,
                                     const ref_hit_t *want, uint32_t n_want,
                                     size_t qi) {
  if (n_got != n_want)
    CHECK_FAIL("query %zu: %u hits, reference has %u", qi, n_got, n_want);
  for (uint32_t i = 0; i < n_got; i++) {
    uint64_t l = got[i].label;
    if (l >= m->cap || !m->live[l] || !ref_filter_allows(filter, l))
      CHECK_FAIL("query %zu rank %u: label %" PRIu64
                 " is not a live, allowed point",
                 qi, i, l);
    double own = ref_distance(m->metric, q, m->vecs + l * m->dim, m->dim);
    if (fabs((double)got[i].distance - own) > tol_for(own))
      CHECK_FAIL("query %zu rank %u: label %" PRIu64
                 " reported at distance %.9g, float64 distance is %.9g",
                 qi, i, l, (double)got[i].distance, own);
    if (fabs((double)got[i].distance - want[i].dist) > tol_for(want[i].dist))
      CHECK_FAIL("query %zu rank %u: distance %.9g (label %" PRIu64
                 "), reference %.9g (label %" PRIu64 ")",
                 qi, i, (double)got[i].distance, l, want[i].dist,
                 want[i].label);
    if (l != want[i].label &&
        fabs(own - want[i].dist) > 2 * tol_for(want[i].dist))
      CHECK_FAIL("query %zu rank %u: label %" PRIu64 " (%.9g), reference "
                 "label %" PRIu64 " (%.9g) is not a near-tie",
                 qi, i, l, own, want[i].label, want[i].dist);
    if (i > 0) {
      if (got[i].distance < got[i - 1].distance)
        CHECK_FAIL("query %zu: rank %u distance %.9g < rank %u distance %.9g",
                   qi, i, (double)got[i].distance, i - 1,
                   (double)got[i - 1].distance);
      if (got[i].distance == got[i - 1].distance && l < got[i - 1].label)
        CHECK_FAIL("query %zu: tie at %.9g ordered label %" PRIu64
                   " before %" PRIu64,
                   qi, (double)got[i].distance, got[i - 1].label, l);
    }
    for (uint32_t j = 0; j < i; j++)
      if (got[j].label == l)
        CHECK_FAIL("query %zu: label %" PRIu64 " at ranks %u and %u", qi, l,
                   j, i);
  }
}

/* -------------------------------------------------------------- helpers -- */

static akidb_flat_t *flat_new(uint32_t dim, akidb_metric_t metric) {
  akidb_flat_t *f = NULL;
  char err[256] = "";
  int rc = akidb_flat_create(dim, metric, &f, err, sizeof err);
  if (rc != AKIDB_OK || !f)
    CHECK_FAIL("akidb_flat_create(%u, %s) = %s: %s", dim,
               akidb_metric_name(metric), akidb_err_name(rc), err);
  return f;
}

static void fill_gauss(float *v, size_t n, uint64_t *rng) {
  for (size_t i = 0; i < n; i++) v[i] = (float)ds_rng_gauss(rng);
}

/* Labels 1, 4, 7, ... (sparse, not row numbers), capacity to hold them. */
static uint64_t sparse_label(uint32_t i) { return 3u * (uint64_t)i + 1u; }
#define SPARSE_CAP (3u * N_POINTS + 2u)

/* A model and an index holding the same N_POINTS random points. */
static void build_random(akidb_metric_t metric, uint64_t seed, model_t *m,
                         akidb_flat_t **f) {
  *m = model_new(DIM, metric, SPARSE_CAP);
  *f = flat_new(DIM, metric);
  uint64_t rng = seed;
  for (uint32_t i = 0; i < N_POINTS; i++) {
    uint64_t l = sparse_label(i);
    fill_gauss(m->vecs + l * DIM, DIM, &rng);
    m->live[l] = true;
    ASSERT_OK(akidb_flat_upsert(*f, l, m->vecs + l * DIM));
  }
  ASSERT_EQ_U64(akidb_flat_count(*f), N_POINTS);
}

/* Runs N_QUERIES random queries through the index and the reference. */
static void expect_random_queries_match(const model_t *m, const akidb_flat_t *f,
                                        const akidb_filter_t *filter,
                                        uint32_t k, uint64_t seed) {
  uint64_t rng = seed;
  float q[DIM];
  akidb_hit_t *got = malloc(k * sizeof *got);
  ref_hit_t *want = malloc(k * sizeof *want);
  ASSERT_TRUE(got && want);
  size_t total = 0;
  for (size_t qi = 0; qi < N_QUERIES; qi++) {
    fill_gauss(q, DIM, &rng);
    uint32_t n = 0;
    ASSERT_OK(akidb_flat_search(f, q, k, filter, got, &n));
    uint32_t nw = ref_search(m, q, k, filter, want);
    expect_matches_reference(m, q, filter, got, n, want, nw, qi);
    total += n;
  }
  ASSERT_TRUE(total > 0); /* the comparison was not vacuous */
  free(got);
  free(want);
}

static void check_metric_matches_reference(akidb_metric_t metric) {
  model_t m;
  akidb_flat_t *f;
  build_random(metric, 11 + (uint64_t)metric, &m, &f);
  expect_random_queries_match(&m, f, NULL, K, 99);
  expect_random_queries_match(&m, f, NULL, 1, 98);
  expect_random_queries_match(&m, f, NULL, 100, 97);
  akidb_flat_free(f);
  model_free(&m);
}

/* ---------------------------------------------------------------- tests -- */

static void test_metric_names_round_trip(void) {
  const akidb_metric_t all[] = {AKIDB_METRIC_L2, AKIDB_METRIC_COSINE,
                                AKIDB_METRIC_DOT};
  const char *names[] = {"l2", "cosine", "dot"};
  for (int i = 0; i < 3; i++) {
    ASSERT_TRUE(strcmp(akidb_metric_name(all[i]), names[i]) == 0);
    akidb_metric_t parsed = (akidb_metric_t)99;
    ASSERT_OK(akidb_metric_parse(names[i], &parsed));
    ASSERT_EQ_INT(parsed, all[i]);
  }
  akidb_metric_t dummy;
  ASSERT_EQ_INT(akidb_metric_parse("euclid", &dummy), AKIDB_EINVAL);
  ASSERT_EQ_INT(akidb_metric_parse("", &dummy), AKIDB_EINVAL);
}

static void test_flat_create_refuses_bad_dim_and_metric(void) {
  struct {
    uint32_t dim;
    akidb_metric_t metric;
  } bad[] = {{0, AKIDB_METRIC_L2},
             {AKIDB_DIM_MAX + 1, AKIDB_METRIC_L2},
             {8, (akidb_metric_t)7}};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    akidb_flat_t *f = NULL;
    char err[256] = "";
    ASSERT_EQ_INT(akidb_flat_create(bad[i].dim, bad[i].metric, &f, err,
                                    sizeof err),
                  AKIDB_EINVAL);
    ASSERT_TRUE(f == NULL);
    ASSERT_TRUE(err[0] != '\0');
  }
  akidb_flat_t *f = NULL;
  ASSERT_OK(akidb_flat_create(AKIDB_DIM_MIN, AKIDB_METRIC_L2, &f, NULL, 0));
  akidb_flat_free(f);
  akidb_flat_free(NULL);
}

static void test_flat_l2_matches_float64_reference(void) {
  check_metric_matches_reference(AKIDB_METRIC_L2);
}

static void test_flat_cosine_matches_float64_reference(void) {
  check_metric_matches_reference(AKIDB_METRIC_COSINE);
}

static void test_flat_dot_matches_float64_reference(void) {
  check_metric_matches_reference(AKIDB_METRIC_DOT);
}

/*
 * Small integer vectors make every l2 and dot distance an exact integer in
 * float32, so ties are exact and frequent; labels are inserted in shuffled
 * order so insertion order cannot stand in for label order.
 */
static void check_exact_ties(akidb_metric_t metric) {
  enum { D = 8, N = 600 };
  model_t m = model_new(D, metric, N);
  akidb_flat_t *f = flat_new(D, metric);
  uint64_t rng = 5;
  uint32_t order[N];
  for (uint32_t i = 0; i < N; i++) order[i] = i;
  for (uint32_t i = N - 1; i > 0; i--) {
    uint32_t j = (uint32_t)(ds_rng_next(&rng) % (i + 1));
    uint32_t t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  for (uint32_t i = 0; i < N; i++) {
    uint64_t l = order[i];
    for (int j = 0; j < D; j++)
      m.vecs[l * D + j] = (float)((int)(ds_rng_next(&rng) % 5) - 2);
    m.live[l] = true;
    ASSERT_OK(akidb_flat_upsert(f, l, m.vecs + l * D));
  }
  akidb_hit_t got[50];
  ref_hit_t want[50];
  for (int qi = 0; qi < 60; qi++) {
    float q[D];
    for (int j = 0; j < D; j++)
      q[j] = qi == 0 ? 0.0f : (float)((int)(ds_rng_next(&rng) % 5) - 2);
    uint32_t n = 0;
    ASSERT_OK(akidb_flat_search(f, q, 50, NULL, got, &n));
    uint32_t nw = ref_search(&m, q, 50, NULL, want);
    ASSERT_EQ_INT(n, nw);
    for (uint32_t i = 0; i < n; i++) {
      if (got[i].label != want[i].label || (double)got[i].distance != want[i].dist)
        CHECK_FAIL("%s query %d rank %u: got label %" PRIu64
                   " at %.9g, expected label %" PRIu64 " at %.9g",
                   akidb_metric_name(metric), qi, i, got[i].label,
                   (double)got[i].distance, want[i].label, want[i].dist);
    }
  }
  akidb_flat_free(f);
  model_free(&m);
}

static void test_flat_exact_ties_go_to_smaller_label_l2(void) {
  check_exact_ties(AKIDB_METRIC_L2);
}

/* Includes the zero query, for which every dot distance is 0. */
static void test_flat_exact_ties_go_to_smaller_label_dot(void) {
  check_exact_ties(AKIDB_METRIC_DOT);
}

/* v, 2v, 4v and v/2 normalise to the same bits, so they tie exactly. */
static void test_flat_cosine_duplicate_directions_tie_to_smaller_label(void) {
  enum { D = 19 };
  akidb_flat_t *f = flat_new(D, AKIDB_METRIC_COSINE);
  uint64_t rng = 77;
  float v[D], w[D];
  for (uint64_t l = 100; l < 140; l++) { /* unrelated points around them */
    fill_gauss(w, D, &rng);
    ASSERT_OK(akidb_flat_upsert(f, l, w));
  }
  fill_gauss(v, D, &rng);
  const uint64_t labels[] = {50, 10, 30, 20};
  const float scale[] = {1.0f, 2.0f, 4.0f, 0.5f};
  for (int i = 0; i < 4; i++) {
    for (int j = 0; j < D; j++) w[j] = v[j] * scale[i];
    ASSERT_OK(akidb_flat_upsert(f, labels[i], w));
  }
  akidb_hit_t got[6];
  uint32_t n = 0;
  ASSERT_OK(akidb_flat_search(f, v, 6, NULL, got, &n));
  ASSERT_EQ_INT(n, 6);
  const uint64_t expect[] = {10, 20, 30, 50};
  for (int i = 0; i < 4; i++) {
    ASSERT_EQ_U64(got[i].label, expect[i]);
    ASSERT_NEAR(got[i].distance, 0.0, 1e-6);
    if (got[i].distance != got[0].distance)
      CHECK_FAIL("same direction, different distances: rank 0 %.9g, rank %d "
                 "%.9g",
                 (double)got[0].distance, i, (double)got[i].distance);
  }
  ASSERT_TRUE(got[4].distance > got[3].distance);
  akidb_flat_free(f);
}

/* Labels are arbitrary 64-bit values: the extremes behave like any other. */
static void test_flat_extreme_labels_are_ordinary(void) {
  const uint64_t labels[] = {UINT64_MAX, 0, UINT64_MAX - 1, 1ull << 63,
                             0xFFFFFFFFull};
  enum { NL = sizeof labels / sizeof labels[0] };
  akidb_flat_t *f = flat_new(2, AKIDB_METRIC_L2);
  for (int i = 0; i < NL; i++) {
    const float v[2] = {(float)i, 0.0f};
    ASSERT_OK(akidb_flat_upsert(f, labels[i], v));
  }
  ASSERT_EQ_U64(akidb_flat_count(f), NL);
  const float q[2] = {0.1f, 0.0f};
  akidb_hit_t got[NL];
  uint32_t n = 0;
  ASSERT_OK(akidb_flat_search(f, q, NL, NULL, got, &n));
  ASSERT_EQ_INT(n, NL);
  for (int i = 0; i < NL; i++) ASSERT_EQ_U64(got[i].label, labels[i]);
  ASSERT_OK(akidb_flat_delete(f, UINT64_MAX));
  ASSERT_EQ_INT(akidb_flat_delete(f, UINT64_MAX), AKIDB_ENOTFOUND);
  ASSERT_OK(akidb_flat_search(f, q, NL, NULL, got, &n));
  ASSERT_EQ_INT(n, NL - 1);
  ASSERT_EQ_U64(got[0].label, 0);
  akidb_flat_free(f);
}

static void test_flat_k_larger_than_count_returns_count(void) {
  akidb_flat_t *f = flat_new(4, AKIDB_METRIC_L2);
  const float pts[5][4] = {{0, 0, 0, 0}, {1, 0, 0, 0}, {0, 2, 0, 0},
                           {0, 0, 3, 0}, {0, 0, 0, 4}};
  for (uint64_t l = 0; l < 5; l++) ASSERT_OK(akidb_flat_upsert(f, l, pts[l]));
  const float q[4] = {0, 0, 0, 0};
  akidb_hit_t got[64];
  uint32_t n = 0;
  ASSERT_OK(akidb_flat_search(f, q, 64, NULL, got, &n));
  ASSERT_EQ_INT(n, 5);
  for (uint32_t i = 0; i < 5; i++) {
    ASSERT_EQ_U64(got[i].label, i);
    ASSERT_NEAR(got[i].distance, (double)(i * i), 0);
  }
  ASSERT_OK(akidb_flat_search(f, q, 5, NULL, got, &n));
  ASSERT_EQ_INT(n, 5);
  /* the largest k allowed is accepted and still returns the count */
  akidb_hit_t *big = malloc(AKIDB_K_MAX * sizeof *big);
  ASSERT_TRUE(big != NULL);
  ASSERT_OK(akidb_flat_search(f, q, AKIDB_K_MAX, NULL, big, &n));
  ASSERT_EQ_INT(n, 5);
  ASSERT_EQ_U64(big[4].label, 4);
  free(big);
  akidb_flat_free(f);
}

static void test_flat_search_on_empty_index_returns_no_hits(void) {
  akidb_flat_t *f = flat_new(DIM, AKIDB_METRIC_COSINE);
  float q[DIM];
  uint64_t rng = 1;
  fill_gauss(q, DIM, &rng);
  akidb_hit_t got[K];
  uint32_t n = 123;
  ASSERT_OK(akidb_flat_search(f, q, K, NULL, got, &n));
  ASSERT_EQ_INT(n, 0);
  ASSERT_EQ_U64(akidb_flat_count(f), 0);
  ASSERT_EQ_INT(akidb_flat_delete(f, 0), AKIDB_ENOTFOUND);
  akidb_flat_free(f);
}

static void test_flat_upsert_replaces_vector(void) {
  model_t m;
  akidb_flat_t *f;
  build_random(AKIDB_METRIC_L2, 21, &m, &f);
  uint64_t l = sparse_label(17);
  float old[DIM], neu[DIM];
  memcpy(old, m.vecs + l * DIM, sizeof old);
  for (uint32_t j = 0; j < DIM; j++) neu[j] = old[j] + 25.0f; /* far away */
  ASSERT_OK(akidb_flat_upsert(f, l, neu));
  ASSERT_EQ_U64(akidb_flat_count(f), N_POINTS);
  memcpy(m.vecs + l * DIM, neu, sizeof neu);

  akidb_hit_t got[K];
  uint32_t n = 0;
  ASSERT_OK(akidb_flat_search(f, neu, 1, NULL, got, &n));
  ASSERT_EQ_INT(n, 1);
  ASSERT_EQ_U64(got[0].label, l);
  ASSERT_NEAR(got[0].distance, 0.0, 0);
  ASSERT_OK(akidb_flat_search(f, old, K, NULL, got, &n));
  for (uint32_t i = 0; i < n; i++)
    if (got[i].label == l)
      CHECK_FAIL("old vector of label %" PRIu64 " still matches at rank %u",
                 l, i);
  expect_random_queries_match(&m, f, NULL, K, 23);
  akidb_flat_free(f);
  model_free(&m);
}

static void test_flat_delete_removes_point(void) {
  model_t m;
  akidb_flat_t *f;
  build_random(AKIDB_METRIC_L2, 31, &m, &f);
  uint64_t l = sparse_label(5);
  ASSERT_OK(akidb_flat_delete(f, l));
  m.live[l] = false;
  ASSERT_EQ_U64(akidb_flat_count(f), N_POINTS - 1);
  ASSERT_EQ_INT(akidb_flat_delete(f, l), AKIDB_ENOTFOUND);
  ASSERT_EQ_INT(akidb_flat_delete(f, 0), AKIDB_ENOTFOUND); /* never existed */
  ASSERT_EQ_U64(akidb_flat_count(f), N_POINTS - 1);

  akidb_hit_t got[K];
  uint32_t n = 0;
  ASSERT_OK(akidb_flat_search(f, m.vecs + l * DIM, K, NULL, got, &n));
  ASSERT_EQ_INT(n, K);
  for (uint32_t i = 0; i < n; i++)
    if (got[i].label == l)
      CHECK_FAIL("deleted label %" PRIu64 " returned at rank %u", l, i);
  expect_random_queries_match(&m, f, NULL, K, 33);
  akidb_flat_free(f);
  model_free(&m);
}

/* Deleting a third, then adding new labels (which reuse slots) and
 * re-adding some deleted ones keeps results exact. */
static void test_flat_matches_reference_after_deletes_and_slot_reuse(void) {
  model_t m;
  akidb_flat_t *f;
  build_random(AKIDB_METRIC_COSINE, 41, &m, &f);
  uint64_t rng = 43;
  for (uint32_t i = 0; i < N_POINTS; i += 3) {
    ASSERT_OK(akidb_flat_delete(f, sparse_label(i)));
    m.live[sparse_label(i)] = false;
  }
  ASSERT_EQ_U64(akidb_flat_count(f), model_count(&m));
  /* labels 0, 3, 6, ... were never used; labels of i%6==0 come back anew */
  for (uint32_t i = 0; i < N_POINTS; i += 2) {
    uint64_t l = (i % 6 == 0) ? sparse_label(i) : 3u * (uint64_t)i;
    fill_gauss(m.vecs + l * DIM, DIM, &rng);
    m.live[l] = true;
    ASSERT_OK(akidb_flat_upsert(f, l, m.vecs + l * DIM));
  }
  ASSERT_EQ_U64(akidb_flat_count(f), model_count(&m));
  expect_random_queries_match(&m, f, NULL, K, 47);
  akidb_flat_free(f);
  model_free(&m);
}

static void test_flat_batch_upsert_equals_single_upserts(void) {
  model_t m;
  akidb_flat_t *single;
  build_random(AKIDB_METRIC_DOT, 51, &m, &single);
  akidb_flat_t *batch = flat_new(DIM, AKIDB_METRIC_DOT);
  uint64_t *labels = malloc(N_POINTS * sizeof *labels);
  float *vecs = malloc((size_t)N_POINTS * DIM * sizeof *vecs);
  ASSERT_TRUE(labels && vecs);
  for (uint32_t i = 0; i < N_POINTS; i++) {
    labels[i] = sparse_label(i);
    memcpy(vecs + (size_t)i * DIM, m.vecs + labels[i] * DIM,
           DIM * sizeof(float));
  }
  ASSERT_OK(akidb_flat_upsert_batch(batch, labels, vecs, N_POINTS));
  ASSERT_EQ_U64(akidb_flat_count(batch), N_POINTS);
  expect_random_queries_match(&m, batch, NULL, K, 53);
  /* a second batch replaces existing labels without adding points */
  uint64_t rng = 55;
  fill_gauss(vecs, (size_t)N_POINTS / 2 * DIM, &rng);
  for (uint32_t i = 0; i < N_POINTS / 2; i++)
    memcpy(m.vecs + labels[i] * DIM, vecs + (size_t)i * DIM,
           DIM * sizeof(float));
  ASSERT_OK(akidb_flat_upsert_batch(batch, labels, vecs, N_POINTS / 2));
  ASSERT_EQ_U64(akidb_flat_count(batch), N_POINTS);
  expect_random_queries_match(&m, batch, NULL, K, 57);
  ASSERT_OK(akidb_flat_upsert_batch(batch, labels, vecs, 0));
  ASSERT_EQ_U64(akidb_flat_count(batch), N_POINTS);
  free(labels);
  free(vecs);
  akidb_flat_free(single);
  akidb_flat_free(batch);
  model_free(&m);
}

/* Snapshot of every query's results, to compare before and after. */
static void search_all(const akidb_flat_t *f, const float *queries, size_t nq,
                       akidb_hit_t *out, uint32_t *n) {
  for (size_t qi = 0; qi < nq; qi++)
    ASSERT_OK(akidb_flat_search(f, queries + qi * DIM, K, NULL, out + qi * K,
                                n + qi));
}

static void expect_same_results(const akidb_hit_t *a, const uint32_t *na,
                                const akidb_hit_t *b, const uint32_t *nb,
                                size_t nq, uint32_t stride) {
  for (size_t qi = 0; qi < nq; qi++) {
    if (na[qi] != nb[qi])
      CHECK_FAIL("query %zu: %u hits vs %u hits", qi, na[qi], nb[qi]);
    for (uint32_t i = 0; i < na[qi]; i++) {
      const akidb_hit_t *x = a + qi * stride + i, *y = b + qi * stride + i;
      if (x->label != y->label ||
          memcmp(&x->distance, &y->distance, sizeof(float)) != 0)
        CHECK_FAIL("query %zu rank %u: label %" PRIu64 " at %.9g vs label "
                   "%" PRIu64 " at %.9g",
                   qi, i, x->label, (double)x->distance, y->label,
                   (double)y->distance);
    }
  }
}

static void check_failed_batch_changes_nothing(akidb_metric_t metric,
                                               float last_value, bool zero_last) {
  model_t m;
  akidb_flat_t *f;
  build_random(metric, 61, &m, &f);
  enum { NB = 50 };
  uint64_t labels[NB];
  float *vecs = malloc((size_t)NB * DIM * sizeof *vecs);
  ASSERT_TRUE(vecs != NULL);
  uint64_t rng = 63;
  fill_gauss(vecs, (size_t)NB * DIM, &rng);
  for (uint32_t i = 0; i < NB; i++) /* 10 existing labels, then 40 new ones */
    labels[i] = i < 10 ? sparse_label(i) : 3u * (uint64_t)i;
  if (zero_last)
    memset(vecs + (size_t)(NB - 1) * DIM, 0, DIM * sizeof(float));
  else
    vecs[(size_t)NB * DIM - 1] = last_value;

  /* queries: the batch's own vectors (they would be found if stored) */
  akidb_hit_t before[NB * K], after[NB * K];
  uint32_t nb4[NB], naf[NB];
  search_all(f, vecs, NB - 1, before, nb4);
  ASSERT_EQ_INT(akidb_flat_upsert_batch(f, labels, vecs, NB), AKIDB_EVALUE);
  ASSERT_EQ_U64(akidb_flat_count(f), N_POINTS);
  search_all(f, vecs, NB - 1, after, naf);
  expect_same_results(before, nb4, after, naf, NB - 1, K);
  expect_random_queries_match(&m, f, NULL, K, 65);
  free(vecs);
  akidb_flat_free(f);
  model_free(&m);
}

static void test_flat_batch_upsert_with_bad_last_vector_changes_nothing(void) {
  check_failed_batch_changes_nothing(AKIDB_METRIC_L2, NAN, false);
  check_failed_batch_changes_nothing(AKIDB_METRIC_L2, INFINITY, false);
  check_failed_batch_changes_nothing(AKIDB_METRIC_DOT, -INFINITY, false);
  check_failed_batch_changes_nothing(AKIDB_METRIC_COSINE, 0, true);
}

static void check_batch_equals_single(akidb_metric_t metric,
                                      const akidb_filter_t *filter, uint32_t k) {
  model_t m;
  akidb_flat_t *f;
  build_random(metric, 71, &m, &f);
  enum { NQ = 37 }; /* not a multiple of any sensible block size */
  float *queries = malloc((size_t)NQ * DIM * sizeof *queries);
  akidb_hit_t *one = malloc((size_t)NQ * k * sizeof *one);
  akidb_hit_t *all = malloc((size_t)NQ * k * sizeof *all);
  uint32_t n_one[NQ], n_all[NQ];
  ASSERT_TRUE(queries && one && all);
  uint64_t rng = 73;
  fill_gauss(queries, (size_t)NQ * DIM, &rng);
  for (size_t qi = 0; qi < NQ; qi++)
    ASSERT_OK(akidb_flat_search(f, queries + qi * DIM, k, filter,
                                one + qi * k, n_one + qi));
  ASSERT_OK(akidb_flat_search_batch(f, queries, NQ, k, filter, all, n_all));
  expect_same_results(one, n_one, all, n_all, NQ, k);
  ref_hit_t *want = malloc(k * sizeof *want);
  ASSERT_TRUE(want != NULL);
  for (size_t qi = 0; qi < NQ; qi++) {
    uint32_t nw = ref_search(&m, queries + qi * DIM, k, filter, want);
    expect_matches_reference(&m, queries + qi * DIM, filter, all + qi * k,
                             n_all[qi], want, nw, qi);
  }
  free(want);
  free(queries);
  free(one);
  free(all);
  akidb_flat_free(f);
  model_free(&m);
}

static bool allow_label_mod_5(uint64_t label, void *ctx) {
  (void)ctx;
  return label % 5 == 0;
}

static void test_flat_batch_search_equals_one_by_one(void) {
  check_batch_equals_single(AKIDB_METRIC_L2, NULL, K);
  check_batch_equals_single(AKIDB_METRIC_COSINE, NULL, K);
  check_batch_equals_single(AKIDB_METRIC_DOT, NULL, 1);
  akidb_filter_t pred = {NULL, 0, allow_label_mod_5, NULL};
  check_batch_equals_single(AKIDB_METRIC_L2, &pred, K);
  check_batch_equals_single(AKIDB_METRIC_COSINE, NULL, N_POINTS + 7);
}

/* Bitmap with every bit of `words` words set, but only nbits valid. */
static void test_flat_bitmap_filter_is_obeyed(void) {
  model_t m;
  akidb_flat_t *f;
  build_random(AKIDB_METRIC_L2, 81, &m, &f);
  size_t words = (SPARSE_CAP + 63) / 64;
  uint64_t *bits = calloc(words, sizeof *bits);
  ASSERT_TRUE(bits != NULL);
  uint64_t rng = 83;
  for (uint64_t l = 0; l < SPARSE_CAP; l++) /* ~10% of labels */
    if (ds_rng_uniform(&rng) < 0.10) bits[l >> 6] |= 1ull << (l & 63);
  akidb_filter_t filter = {bits, SPARSE_CAP, NULL, NULL};
  expect_random_queries_match(&m, f, &filter, K, 85);
  expect_random_queries_match(&m, f, &filter, 200, 86);

  /* labels >= nbits are refused even when their bit in the last word is set */
  for (size_t w = 0; w < words; w++) bits[w] = ~0ull;
  uint64_t nbits = 2 * N_POINTS / 3 + 5; /* not a multiple of 64 */
  akidb_filter_t cut = {bits, nbits, NULL, NULL};
  expect_random_queries_match(&m, f, &cut, 50, 87);

  /* a single allowed label */
  memset(bits, 0, words * sizeof *bits);
  uint64_t only = sparse_label(N_POINTS / 2);
  bits[only >> 6] |= 1ull << (only & 63);
  akidb_filter_t one = {bits, SPARSE_CAP, NULL, NULL};
  akidb_hit_t got[K];
  uint32_t n = 0;
  ASSERT_OK(akidb_flat_search(f, m.vecs, K, &one, got, &n));
  ASSERT_EQ_INT(n, 1);
  ASSERT_EQ_U64(got[0].label, only);

  /* nothing allowed: no hits (or a refusal), never a disallowed point */
  memset(bits, 0, words * sizeof *bits);
  n = 0;
  int rc = akidb_flat_search(f, m.vecs, K, &one, got, &n);
  if (rc == AKIDB_OK)
    ASSERT_EQ_INT(n, 0);
  else
    ASSERT_EQ_INT(rc, AKIDB_EINVAL);
  free(bits);
  akidb_flat_free(f);
  model_free(&m);
}

typedef struct {
  uint64_t modulus;
  unsigned long calls;
} mod_ctx_t;

static bool allow_multiple(uint64_t label, void *ctx) {
  mod_ctx_t *c = ctx;
  c->calls++;
  return label % c->modulus == 0;
}

static void test_flat_predicate_filter_is_obeyed(void) {
  model_t m;
  akidb_flat_t *f;
  build_random(AKIDB_METRIC_COSINE, 91, &m, &f);
  mod_ctx_t ctx = {7, 0};
  akidb_filter_t filter = {NULL, 0, allow_multiple, &ctx};
  akidb_hit_t got[K];
  uint32_t n = 0;
  ASSERT_OK(akidb_flat_search(f, m.vecs + DIM, K, &filter, got, &n));
  ASSERT_EQ_INT(n, K);
  ASSERT_GE(ctx.calls, 1); /* the predicate was consulted, with our ctx */
  for (uint32_t i = 0; i < n; i++) ASSERT_EQ_U64(got[i].label % 7, 0);
  expect_random_queries_match(&m, f, &filter, K, 93);
  akidb_flat_free(f);
  model_free(&m);
}

static void test_flat_bitmap_and_predicate_must_both_pass(void) {
  model_t m;
  akidb_flat_t *f;
  build_random(AKIDB_METRIC_DOT, 101, &m, &f);
  size_t words = (SPARSE_CAP + 63) / 64;
  uint64_t *bits = calloc(words, sizeof *bits);
  ASSERT_TRUE(bits != NULL);
  for (uint64_t l = 0; l < SPARSE_CAP; l++) /* even labels */
    if (l % 2 == 0) bits[l >> 6] |= 1ull << (l & 63);
  mod_ctx_t ctx = {5, 0}; /* with even labels: labels % 10 == 0 */
  akidb_filter_t both = {bits, SPARSE_CAP, allow_multiple, &ctx};
  expect_random_queries_match(&m, f, &both, K, 103);
  akidb_hit_t got[K];
  uint32_t n = 0;
  float q[DIM];
  uint64_t rng = 105;
  fill_gauss(q, DIM, &rng);
  ASSERT_OK(akidb_flat_search(f, q, K, &both, got, &n));
  ASSERT_EQ_INT(n, K);
  for (uint32_t i = 0; i < n; i++) ASSERT_EQ_U64(got[i].label % 10, 0);
  free(bits);
  akidb_flat_free(f);
  model_free(&m);
}

static void test_flat_nonfinite_query_is_refused(void) {
  model_t m;
  akidb_flat_t *f;
  build_random(AKIDB_METRIC_L2, 111, &m, &f);
  const float bad[] = {NAN, INFINITY, -INFINITY};
  float qs[3 * DIM];
  uint64_t rng = 113;
  fill_gauss(qs, 3 * DIM, &rng);
  akidb_hit_t got[3 * K];
  uint32_t n[3];
  for (int b = 0; b < 3; b++) {
    for (uint32_t pos = 0; pos < DIM; pos += DIM - 1) { /* first and last */
      float q[DIM];
      memcpy(q, qs, sizeof q);
      q[pos] = bad[b];
      ASSERT_EQ_INT(akidb_flat_search(f, q, K, NULL, got, n), AKIDB_EVALUE);
    }
    float save = qs[2 * DIM + 5]; /* one bad query in a batch of three */
    qs[2 * DIM + 5] = bad[b];
    ASSERT_EQ_INT(akidb_flat_search_batch(f, qs, 3, K, NULL, got, n),
                  AKIDB_EVALUE);
    qs[2 * DIM + 5] = save;
  }
  ASSERT_OK(akidb_flat_search_batch(f, qs, 3, K, NULL, got, n));
  akidb_flat_free(f);
  model_free(&m);
}

static void test_flat_zero_query_under_cosine_is_refused(void) {
  model_t m;
  akidb_flat_t *f;
  build_random(AKIDB_METRIC_COSINE, 121, &m, &f);
  float zero[DIM] = {0};
  akidb_hit_t got[K];
  uint32_t n = 0;
  ASSERT_EQ_INT(akidb_flat_search(f, zero, K, NULL, got, &n), AKIDB_EVALUE);
  akidb_flat_free(f);
  model_free(&m);
  /* the zero query is fine under l2: the nearest points are the shortest */
  build_random(AKIDB_METRIC_L2, 122, &m, &f);
  ASSERT_OK(akidb_flat_search(f, zero, K, NULL, got, &n));
  ASSERT_EQ_INT(n, K);
  akidb_flat_free(f);
  model_free(&m);
}

static void test_flat_k_zero_or_above_max_is_refused(void) {
  model_t m;
  akidb_flat_t *f;
  build_random(AKIDB_METRIC_L2, 131, &m, &f);
  akidb_hit_t got[K];
  uint32_t n = 0;
  ASSERT_EQ_INT(akidb_flat_search(f, m.vecs + DIM, 0, NULL, got, &n),
                AKIDB_EINVAL);
  ASSERT_EQ_INT(akidb_flat_search(f, m.vecs + DIM, AKIDB_K_MAX + 1, NULL, got,
                                  &n),
                AKIDB_EINVAL);
  ASSERT_EQ_INT(akidb_flat_search_batch(f, m.vecs + DIM, 1, 0, NULL, got, &n),
                AKIDB_EINVAL);
  akidb_flat_free(f);
  model_free(&m);
}

static void test_flat_bad_vector_is_refused_on_upsert(void) {
  model_t m;
  akidb_flat_t *f;
  build_random(AKIDB_METRIC_COSINE, 141, &m, &f);
  float v[DIM];
  memcpy(v, m.vecs + sparse_label(3) * DIM, sizeof v);
  const float bad[] = {NAN, INFINITY, -INFINITY};
  for (int b = 0; b < 3; b++) {
    float w[DIM];
    memcpy(w, v, sizeof w);
    w[DIM / 2] = bad[b];
    ASSERT_EQ_INT(akidb_flat_upsert(f, 0, w), AKIDB_EVALUE); /* new label */
    ASSERT_EQ_INT(akidb_flat_upsert(f, sparse_label(3), w), AKIDB_EVALUE);
    ASSERT_EQ_U64(akidb_flat_count(f), N_POINTS);
  }
  float zero[DIM] = {0};
  ASSERT_EQ_INT(akidb_flat_upsert(f, 0, zero), AKIDB_EVALUE);
  ASSERT_EQ_INT(akidb_flat_upsert(f, sparse_label(3), zero), AKIDB_EVALUE);
  ASSERT_EQ_U64(akidb_flat_count(f), N_POINTS);
  /* the refused replacements left label sparse_label(3) as it was */
  expect_random_queries_match(&m, f, NULL, K, 143);
  akidb_hit_t got[1];
  uint32_t n = 0;
  ASSERT_OK(akidb_flat_search(f, v, 1, NULL, got, &n));
  ASSERT_EQ_U64(got[0].label, sparse_label(3));
  akidb_flat_free(f);
  model_free(&m);
}

CHECK_MAIN(CHECK_CASE(test_metric_names_round_trip),
           CHECK_CASE(test_flat_create_refuses_bad_dim_and_metric),
           CHECK_CASE(test_flat_l2_matches_float64_reference),
           CHECK_CASE(test_flat_cosine_matches_float64_reference),
           CHECK_CASE(test_flat_dot_matches_float64_reference),
           CHECK_CASE(test_flat_exact_ties_go_to_smaller_label_l2),
           CHECK_CASE(test_flat_exact_ties_go_to_smaller_label_dot),
           CHECK_CASE(test_flat_cosine_duplicate_directions_tie_to_smaller_label),
           CHECK_CASE(test_flat_extreme_labels_are_ordinary),
           CHECK_CASE(test_flat_k_larger_than_count_returns_count),
           CHECK_CASE(test_flat_search_on_empty_index_returns_no_hits),
           CHECK_CASE(test_flat_upsert_replaces_vector),
           CHECK_CASE(test_flat_delete_removes_point),
           CHECK_CASE(test_flat_matches_reference_after_deletes_and_slot_reuse),
           CHECK_CASE(test_flat_batch_upsert_equals_single_upserts),
           CHECK_CASE(test_flat_batch_upsert_with_bad_last_vector_changes_nothing),
           CHECK_CASE(test_flat_batch_search_equals_one_by_one),
           CHECK_CASE(test_flat_bitmap_filter_is_obeyed),
           CHECK_CASE(test_flat_predicate_filter_is_obeyed),
           CHECK_CASE(test_flat_bitmap_and_predicate_must_both_pass),
           CHECK_CASE(test_flat_nonfinite_query_is_refused),
           CHECK_CASE(test_flat_zero_query_under_cosine_is_refused),
           CHECK_CASE(test_flat_k_zero_or_above_max_is_refused),
           CHECK_CASE(test_flat_bad_vector_is_refused_on_upsert))
