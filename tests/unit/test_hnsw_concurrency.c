/*
 * test_hnsw_concurrency.c — HNSW under concurrent use (also run under
 * ThreadSanitizer, so sizes stay modest: a few thousand 32-d points, 4-5
 * threads): concurrent inserts build a complete graph with recall >= 0.95;
 * inserts, deletes and searches at once never return a label deleted before
 * the search started nor an out-of-order list, and leave the right count;
 * racing inserts of one label admit exactly one; racing upserts leave one
 * point per label.
 */
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "akidb/index.h"
#include "check.h"
#include "dataset/dataset.h"

#define N_POINTS 4000u
#define N_QUERY 100u
#define DIM 32u
#define K 10u
#define N_THREADS 4u
#define MIN_RECALL 0.95

/* ------------------------------------------------------------- helpers -- */

/* The first failure seen by any thread (threads must not exit the test). */
typedef struct {
  atomic_int failed;
  char msg[512];
} failure_t;

static void record_failure(failure_t *f, const char *fmt, ...) {
  if (atomic_exchange(&f->failed, 1) != 0) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(f->msg, sizeof f->msg, fmt, ap);
  va_end(ap);
}

static void expect_no_failure(failure_t *f) {
  if (atomic_load(&f->failed)) CHECK_FAIL("%s", f->msg);
}

static double l2_distance(const float *a, const float *b) {
  double s = 0;
  for (uint32_t i = 0; i < DIM; i++) {
    double d = (double)a[i] - (double)b[i];
    s += d * d;
  }
  return s;
}

static ds_set_t make_set(uint64_t seed) {
  ds_set_t s;
  int rc = ds_make_mixture("conc", N_POINTS, N_QUERY, DIM, AKIDB_METRIC_L2, 16,
                           seed, K, &s);
  if (rc != AKIDB_OK) CHECK_FAIL("ds_make_mixture = %s", akidb_err_name(rc));
  return s;
}

static akidb_hnsw_t *create_index(void) {
  akidb_hnsw_params_t p;
  akidb_hnsw_params_default(&p, DIM, AKIDB_METRIC_L2);
  akidb_hnsw_t *h = NULL;
  char err[256] = "";
  int rc = akidb_hnsw_create(&p, &h, err, sizeof err);
  if (rc != AKIDB_OK) CHECK_FAIL("create = %s: %s", akidb_err_name(rc), err);
  return h;
}

static void start_threads(pthread_t *t, unsigned n, void *(*fn)(void *),
                          void *args, size_t arg_size) {
  for (unsigned i = 0; i < n; i++)
    ASSERT_EQ_INT(pthread_create(&t[i], NULL, fn, (char *)args + i * arg_size),
                  0);
}

static void join_threads(pthread_t *t, unsigned n) {
  for (unsigned i = 0; i < n; i++) ASSERT_EQ_INT(pthread_join(t[i], NULL), 0);
}

/*
 * Recall@10 (default ef) of `h` against the exact top 10 among the rows not
 * in `deleted` (NULL: all rows), through akidb_flat.
 */
static double live_recall(const char *what, const akidb_hnsw_t *h,
                          const ds_set_t *s, const bool *deleted) {
  akidb_flat_t *f = NULL;
  ASSERT_OK(akidb_flat_create(DIM, AKIDB_METRIC_L2, &f, NULL, 0));
  for (size_t i = 0; i < s->n_base; i++)
    if (!deleted || !deleted[i])
      ASSERT_OK(akidb_flat_upsert(f, i, s->base + i * DIM));
  size_t found = 0, wanted = 0;
  for (size_t q = 0; q < s->n_query; q++) {
    akidb_hit_t hits[K], truth[K];
    uint32_t n = 0, tn = 0;
    const float *query = s->queries + q * DIM;
    ASSERT_OK(akidb_flat_search(f, query, K, NULL, truth, &tn));
    ASSERT_OK(akidb_hnsw_search(h, query, K, 0, NULL, hits, &n));
    wanted += tn;
    for (uint32_t i = 0; i < n; i++)
      for (uint32_t j = 0; j < tn; j++)
        if (hits[i].label == truth[j].label) {
          found++;
          break;
        }
  }
  akidb_flat_free(f);
  double r = wanted ? (double)found / (double)wanted : 1.0;
  fprintf(stderr, "  recall@10 %s: %.4f\n", what, r);
  return r;
}

/* Every live row is found by exact search as its own nearest point. */
static void expect_live_rows_found(const akidb_hnsw_t *h, const ds_set_t *s,
                                   const bool *deleted) {
  for (size_t i = 0; i < s->n_base; i++) {
    if (deleted && deleted[i]) {
      if (akidb_hnsw_contains(h, i))
        CHECK_FAIL("deleted label %zu is still contained", i);
      continue;
    }
    if (!akidb_hnsw_contains(h, i)) CHECK_FAIL("label %zu is missing", i);
    akidb_hit_t hit[1];
    uint32_t n = 0;
    ASSERT_OK(akidb_hnsw_search_exact(h, s->base + i * DIM, 1, NULL, hit, &n));
    ASSERT_EQ_INT(n, 1);
    if (hit[0].label != i || hit[0].distance != 0.0f)
      CHECK_FAIL("exact search for row %zu found label %" PRIu64 " at %.9g", i,
                 hit[0].label, (double)hit[0].distance);
  }
}

/* ------------------------------------------------- concurrent inserts -- */

typedef struct {
  akidb_hnsw_t *h;
  const ds_set_t *s;
  unsigned id, stride;
  size_t first, end; /* rows first, first+stride, ... < end */
  failure_t *fail;
} insert_arg_t;

static void *insert_rows(void *p) {
  insert_arg_t *a = p;
  for (size_t i = a->first; i < a->end; i += a->stride) {
    int rc = akidb_hnsw_insert(a->h, i, a->s->base + i * DIM);
    if (rc != AKIDB_OK)
      record_failure(a->fail, "thread %u: insert of row %zu = %s", a->id, i,
                     akidb_err_name(rc));
  }
  return NULL;
}

static void test_concurrent_inserts_build_a_complete_graph(void) {
  ds_set_t s = make_set(101);
  akidb_hnsw_t *h = create_index();
  failure_t fail = {0};
  insert_arg_t args[N_THREADS];
  pthread_t t[N_THREADS];
  for (unsigned i = 0; i < N_THREADS; i++)
    args[i] = (insert_arg_t){h, &s, i, N_THREADS, i, N_POINTS, &fail};
  double t0 = ds_now();
  start_threads(t, N_THREADS, insert_rows, args, sizeof args[0]);
  join_threads(t, N_THREADS);
  fprintf(stderr, "  %u threads inserted %u points in %.2f s\n", N_THREADS,
          N_POINTS, ds_now() - t0);
  expect_no_failure(&fail);
  ASSERT_EQ_U64(akidb_hnsw_count(h), N_POINTS);
  ASSERT_EQ_U64(akidb_hnsw_deleted_count(h), 0);
  expect_live_rows_found(h, &s, NULL);
  double r = live_recall("of the graph built by 4 threads", h, &s, NULL);
  ASSERT_GE(r, MIN_RECALL);
  akidb_hnsw_free(h);
  ds_free(&s);
}

/* ---------------------------------- inserts + deletes + searches at once -- */

typedef struct {
  akidb_hnsw_t *h;
  const ds_set_t *s;
  const uint32_t *del_order; /* labels in the order they are deleted */
  const size_t *del_pos;     /* label -> position in del_order, or SIZE_MAX */
  size_t n_del;
  atomic_size_t deleted_done; /* del_order[0 .. deleted_done) are deleted */
  atomic_int writers_left;
  const uint64_t *bits; /* a 50% bitmap for some of the searches */
  failure_t fail;
} shared_t;

typedef struct {
  shared_t *sh;
  unsigned id;
  size_t first, end, stride; /* inserters */
  unsigned long searches;    /* searchers */
} worker_arg_t;

static void *inserter(void *p) {
  worker_arg_t *a = p;
  shared_t *sh = a->sh;
  for (size_t i = a->first; i < a->end; i += a->stride) {
    int rc = akidb_hnsw_insert(sh->h, i, sh->s->base + i * DIM);
    if (rc != AKIDB_OK)
      record_failure(&sh->fail, "inserter %u: row %zu = %s", a->id, i,
                     akidb_err_name(rc));
  }
  atomic_fetch_sub(&sh->writers_left, 1);
  return NULL;
}

static void *deleter(void *p) {
  worker_arg_t *a = p;
  shared_t *sh = a->sh;
  for (size_t i = 0; i < sh->n_del; i++) {
    int rc = akidb_hnsw_delete(sh->h, sh->del_order[i]);
    if (rc != AKIDB_OK)
      record_failure(&sh->fail, "delete of label %u = %s", sh->del_order[i],
                     akidb_err_name(rc));
    atomic_store_explicit(&sh->deleted_done, i + 1, memory_order_release);
    if (i % 8 == 0) sched_yield(); /* spread the deletes over the inserts */
  }
  atomic_fetch_sub(&sh->writers_left, 1);
  return NULL;
}

/* Checks one result list taken while deletes ran. */
static void check_concurrent_hits(shared_t *sh, const float *query,
                                  const akidb_filter_t *filter,
                                  const akidb_hit_t *hits, uint32_t n,
                                  uint32_t k, size_t done_before,
                                  unsigned id) {
  if (n > k) record_failure(&sh->fail, "searcher %u: %u hits for k %u", id, n, k);
  for (uint32_t i = 0; i < n; i++) {
    uint64_t l = hits[i].label;
    if (l >= N_POINTS) {
      record_failure(&sh->fail, "searcher %u: unknown label %" PRIu64, id, l);
      return;
    }
    if (sh->del_pos[l] < done_before)
      record_failure(&sh->fail,
                     "searcher %u: label %" PRIu64 " returned, but it was "
                     "deleted (#%zu) before the search started (%zu done)",
                     id, l, sh->del_pos[l], done_before);
    if (filter && !((filter->bits[l >> 6] >> (l & 63)) & 1u))
      record_failure(&sh->fail, "searcher %u: label %" PRIu64 " not allowed",
                     id, l);
    double d = l2_distance(query, sh->s->base + l * DIM);
    if (fabs((double)hits[i].distance - d) > 2e-5 * (1.0 + d))
      record_failure(&sh->fail, "searcher %u: label %" PRIu64 " at %.9g, "
                     "float64 distance %.9g",
                     id, l, (double)hits[i].distance, d);
    if (i > 0 && hits[i].distance < hits[i - 1].distance)
      record_failure(&sh->fail, "searcher %u: rank %u at %.9g nearer than "
                     "rank %u at %.9g",
                     id, i, (double)hits[i].distance, i - 1,
                     (double)hits[i - 1].distance);
    for (uint32_t j = 0; j < i; j++)
      if (hits[j].label == l)
        record_failure(&sh->fail, "searcher %u: label %" PRIu64 " twice", id,
                       l);
  }
}

static void *searcher(void *p) {
  worker_arg_t *a = p;
  shared_t *sh = a->sh;
  akidb_filter_t half = {sh->bits, N_POINTS, NULL, NULL};
  akidb_hit_t hits[20];
  uint64_t rng = 1000 + a->id;
  for (;;) {
    bool last_round = atomic_load(&sh->writers_left) == 0;
    size_t done = atomic_load_explicit(&sh->deleted_done, memory_order_acquire);
    /* alternately a set query and the vector of a recently deleted point,
     * which would be its own nearest neighbour were it still returned */
    const float *query;
    if ((a->searches & 1) && done > 0) {
      size_t back = (size_t)(ds_rng_next(&rng) % (done < 16 ? done : 16));
      query = sh->s->base + (size_t)sh->del_order[done - 1 - back] * DIM;
    } else {
      query = sh->s->queries + (a->searches % N_QUERY) * DIM;
    }
    const akidb_filter_t *filter = (a->searches % 3 == 2) ? &half : NULL;
    uint32_t n = 0, k = 20;
    int rc = (a->searches % 7 == 6)
                 ? akidb_hnsw_search_exact(sh->h, query, k, filter, hits, &n)
                 : akidb_hnsw_search(sh->h, query, k, 0, filter, hits, &n);
    if (rc != AKIDB_OK) {
      record_failure(&sh->fail, "searcher %u: search = %s", a->id,
                     akidb_err_name(rc));
      break;
    }
    check_concurrent_hits(sh, query, filter, hits, n, k, done, a->id);
    a->searches++;
    if (last_round || atomic_load(&sh->fail.failed)) break;
  }
  return NULL;
}

static void test_concurrent_inserts_deletes_and_searches(void) {
  ds_set_t s = make_set(202);
  akidb_hnsw_t *h = create_index();
  const size_t half = N_POINTS / 2;
  for (size_t i = 0; i < half; i++) ASSERT_OK(akidb_hnsw_insert(h, i, s.base + i * DIM));

  /* 30% of the pre-inserted rows, in random order, are deleted */
  uint32_t *order = malloc(half * sizeof *order);
  size_t *pos = malloc(N_POINTS * sizeof *pos);
  bool *deleted = calloc(N_POINTS, sizeof *deleted);
  uint64_t *bits = calloc((N_POINTS + 63) / 64, sizeof *bits);
  ASSERT_TRUE(order && pos && deleted && bits);
  for (size_t i = 0; i < half; i++) order[i] = (uint32_t)i;
  uint64_t rng = 7;
  for (size_t i = half - 1; i > 0; i--) {
    size_t j = (size_t)(ds_rng_next(&rng) % (i + 1));
    uint32_t tmp = order[i];
    order[i] = order[j];
    order[j] = tmp;
  }
  const size_t n_del = N_POINTS * 3 / 10;
  for (size_t i = 0; i < N_POINTS; i++) pos[i] = SIZE_MAX;
  for (size_t i = 0; i < n_del; i++) {
    pos[order[i]] = i;
    deleted[order[i]] = true;
  }
  for (size_t i = 0; i < N_POINTS; i += 2) bits[i >> 6] |= 1ull << (i & 63);

  shared_t sh = {.h = h, .s = &s, .del_order = order, .del_pos = pos,
                 .n_del = n_del, .bits = bits};
  atomic_init(&sh.deleted_done, 0);
  atomic_init(&sh.writers_left, 3);
  atomic_init(&sh.fail.failed, 0);
  worker_arg_t args[5] = {
      {&sh, 0, half, N_POINTS, 2, 0}, {&sh, 1, half + 1, N_POINTS, 2, 0},
      {&sh, 2, 0, 0, 0, 0},           {&sh, 3, 0, 0, 0, 0},
      {&sh, 4, 0, 0, 0, 0}};
  pthread_t t[5];
  double t0 = ds_now();
  ASSERT_EQ_INT(pthread_create(&t[0], NULL, inserter, &args[0]), 0);
  ASSERT_EQ_INT(pthread_create(&t[1], NULL, inserter, &args[1]), 0);
  ASSERT_EQ_INT(pthread_create(&t[2], NULL, deleter, &args[2]), 0);
  ASSERT_EQ_INT(pthread_create(&t[3], NULL, searcher, &args[3]), 0);
  ASSERT_EQ_INT(pthread_create(&t[4], NULL, searcher, &args[4]), 0);
  join_threads(t, 5);
  fprintf(stderr, "  2 inserters, 1 deleter, 2 searchers: %.2f s, %lu + %lu "
                  "searches checked\n",
          ds_now() - t0, args[3].searches, args[4].searches);
  expect_no_failure(&sh.fail);
  ASSERT_TRUE(args[3].searches > 0 && args[4].searches > 0);

  ASSERT_EQ_U64(akidb_hnsw_count(h), N_POINTS - n_del);
  ASSERT_EQ_U64(akidb_hnsw_deleted_count(h), n_del);
  expect_live_rows_found(h, &s, deleted);
  double r = live_recall("after concurrent inserts and deletes", h, &s,
                         deleted);
  ASSERT_GE(r, MIN_RECALL);
  free(order);
  free(pos);
  free(deleted);
  free(bits);
  akidb_hnsw_free(h);
  ds_free(&s);
}

/* -------------------------------------------------- racing on one label -- */

#define RACE_LABELS 1000u

typedef struct {
  akidb_hnsw_t *h;
  const ds_set_t *s;
  unsigned id;
  atomic_int *winners; /* per label: how many inserts succeeded */
  atomic_int *winner;  /* per label: the thread whose insert succeeded */
  bool upsert;
  failure_t *fail;
} race_arg_t;

/* Thread `id` writes row id*RACE_LABELS + l as label l, in its own order. */
static void *race_writer(void *p) {
  race_arg_t *a = p;
  for (uint32_t step = 0; step < RACE_LABELS; step++) {
    uint32_t l = (a->id % 2) ? RACE_LABELS - 1 - step : step;
    const float *v = a->s->base + ((size_t)a->id * RACE_LABELS + l) * DIM;
    int rc = a->upsert ? akidb_hnsw_upsert(a->h, l, v)
                       : akidb_hnsw_insert(a->h, l, v);
    if (rc == AKIDB_OK && !a->upsert) {
      atomic_fetch_add(&a->winners[l], 1);
      atomic_store(&a->winner[l], (int)a->id);
    } else if (rc != AKIDB_OK && (a->upsert || rc != AKIDB_EEXIST)) {
      record_failure(a->fail, "thread %u: %s of label %u = %s", a->id,
                     a->upsert ? "upsert" : "insert", l, akidb_err_name(rc));
    }
  }
  return NULL;
}

static void run_race(akidb_hnsw_t *h, const ds_set_t *s, bool upsert,
                     atomic_int *winners, atomic_int *winner) {
  failure_t fail = {0};
  race_arg_t args[N_THREADS];
  pthread_t t[N_THREADS];
  for (unsigned i = 0; i < N_THREADS; i++)
    args[i] = (race_arg_t){h, s, i, winners, winner, upsert, &fail};
  start_threads(t, N_THREADS, race_writer, args, sizeof args[0]);
  join_threads(t, N_THREADS);
  expect_no_failure(&fail);
}

static void test_racing_inserts_of_one_label_admit_exactly_one(void) {
  ds_set_t s = make_set(303);
  akidb_hnsw_t *h = create_index();
  atomic_int *winners = calloc(RACE_LABELS, sizeof *winners);
  atomic_int *winner = calloc(RACE_LABELS, sizeof *winner);
  ASSERT_TRUE(winners && winner);
  run_race(h, &s, false, winners, winner);
  ASSERT_EQ_U64(akidb_hnsw_count(h), RACE_LABELS);
  float v[DIM];
  for (uint32_t l = 0; l < RACE_LABELS; l++) {
    int w = atomic_load(&winners[l]);
    if (w != 1) CHECK_FAIL("label %u: %d inserts succeeded", l, w);
    /* the stored vector is the one of the thread whose insert succeeded */
    const float *want =
        s.base + ((size_t)atomic_load(&winner[l]) * RACE_LABELS + l) * DIM;
    ASSERT_OK(akidb_hnsw_get_vector(h, l, v));
    if (memcmp(v, want, sizeof v) != 0)
      CHECK_FAIL("label %u holds a vector other than the winner's", l);
    akidb_hit_t hit[1];
    uint32_t n = 0;
    ASSERT_OK(akidb_hnsw_search_exact(h, v, 1, NULL, hit, &n));
    ASSERT_EQ_U64(hit[0].label, l);
  }
  free(winners);
  free(winner);
  akidb_hnsw_free(h);
  ds_free(&s);
}

static void test_racing_upserts_leave_one_point_per_label(void) {
  ds_set_t s = make_set(404);
  akidb_hnsw_t *h = create_index();
  run_race(h, &s, true, NULL, NULL);
  ASSERT_EQ_U64(akidb_hnsw_count(h), RACE_LABELS);
  ASSERT_OK(akidb_hnsw_compact(h));
  ASSERT_EQ_U64(akidb_hnsw_count(h), RACE_LABELS);
  ASSERT_EQ_U64(akidb_hnsw_deleted_count(h), 0);
  float v[DIM];
  size_t self_found = 0;
  for (uint32_t l = 0; l < RACE_LABELS; l++) {
    ASSERT_OK(akidb_hnsw_get_vector(h, l, v));
    bool known = false;
    for (unsigned t = 0; t < N_THREADS && !known; t++)
      known = memcmp(v, s.base + ((size_t)t * RACE_LABELS + l) * DIM,
                     sizeof v) == 0;
    if (!known) CHECK_FAIL("label %u holds a vector no thread wrote", l);
    akidb_hit_t hits[2];
    uint32_t n = 0;
    ASSERT_OK(akidb_hnsw_search_exact(h, v, 2, NULL, hits, &n));
    ASSERT_EQ_U64(hits[0].label, l);
    ASSERT_TRUE(n < 2 || hits[1].label != l);
    ASSERT_OK(akidb_hnsw_search(h, v, 1, 0, NULL, hits, &n));
    self_found += n == 1 && hits[0].label == l;
  }
  fprintf(stderr, "  after racing upserts: %zu of %u labels found by "
                  "approximate search for their own vector\n",
          self_found, RACE_LABELS);
  ASSERT_GE((double)self_found, 0.99 * RACE_LABELS);
  akidb_hnsw_free(h);
  ds_free(&s);
}

CHECK_MAIN(CHECK_CASE(test_concurrent_inserts_build_a_complete_graph),
           CHECK_CASE(test_concurrent_inserts_deletes_and_searches),
           CHECK_CASE(test_racing_inserts_of_one_label_admit_exactly_one),
           CHECK_CASE(test_racing_upserts_leave_one_point_per_label))
