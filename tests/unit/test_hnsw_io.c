/*
 * test_hnsw_io.c — HNSW persistence (akidb_hnsw_save / akidb_hnsw_load):
 * a loaded index returns bit-identical results with the same count and
 * parameters, accepts further inserts and deletes, keeps deleted points
 * deleted; damaged or foreign files are refused with the documented code
 * (flipped byte / truncation → ECORRUPT, foreign file → EFORMAT, newer
 * version → EVERSION, missing file → EIO) and a message; an image written
 * from a frozen view ignores deletes made after the freeze. Files live in a
 * mkdtemp directory removed at exit.
 */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "akidb/index.h"
#include "check.h"
#include "index_check.h"
#include "dataset/dataset.h"

#ifdef AKIDB_TEST_SMALL
#define N_BASE 800u
#else
#define N_BASE 2000u
#endif
#define N_QUERY 50u
#define DIM 24u
#define K 10u

/* ------------------------------------------------------- temp directory -- */

static char tmp_dir[4096];

/* Removes every file in the temporary directory, then the directory. */
static void remove_tmp_dir(void) {
  if (!tmp_dir[0]) return;
  DIR *d = opendir(tmp_dir);
  if (d) {
    struct dirent *e;
    char path[8192];
    while ((e = readdir(d)) != NULL) {
      if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
        continue;
      snprintf(path, sizeof path, "%s/%s", tmp_dir, e->d_name);
      unlink(path);
    }
    closedir(d);
  }
  rmdir(tmp_dir);
  tmp_dir[0] = '\0';
}

/* out = <temporary directory>/name (the directory is made on first use). */
static void tmp_path(char *out, size_t n, const char *name) {
  if (!tmp_dir[0]) {
    const char *base = getenv("TMPDIR");
    snprintf(tmp_dir, sizeof tmp_dir, "%s/akidb-test-hnsw-io-XXXXXX",
             base && *base ? base : "/tmp");
    if (!mkdtemp(tmp_dir)) CHECK_FAIL("mkdtemp: %s", strerror(errno));
    atexit(remove_tmp_dir);
  }
  snprintf(out, n, "%s/%s", tmp_dir, name);
}

/* Number of entries (other than . and ..) in the temporary directory. */
static int tmp_dir_entries(void) {
  DIR *d = opendir(tmp_dir);
  ASSERT_TRUE(d != NULL);
  int count = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL)
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) count++;
  closedir(d);
  return count;
}

static unsigned char *read_whole(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) CHECK_FAIL("cannot open %s: %s", path, strerror(errno));
  ASSERT_EQ_INT(fseek(f, 0, SEEK_END), 0);
  long size = ftell(f);
  ASSERT_TRUE(size > 0);
  rewind(f);
  unsigned char *buf = malloc((size_t)size);
  ASSERT_TRUE(buf != NULL);
  ASSERT_EQ_U64(fread(buf, 1, (size_t)size, f), (uint64_t)size);
  fclose(f);
  *len = (size_t)size;
  return buf;
}

static void write_whole(const char *path, const void *buf, size_t len) {
  FILE *f = fopen(path, "wb");
  if (!f) CHECK_FAIL("cannot create %s: %s", path, strerror(errno));
  ASSERT_EQ_U64(fwrite(buf, 1, len, f), len);
  ASSERT_EQ_INT(fclose(f), 0);
}

/* ------------------------------------------------------------- helpers -- */

static ds_set_t make_set(akidb_metric_t metric, size_t n, uint64_t seed) {
  ds_set_t s;
  int rc = ds_make_mixture("io", n, N_QUERY, DIM, metric, 8, seed, 0, &s);
  if (rc != AKIDB_OK) CHECK_FAIL("ds_make_mixture = %s", akidb_err_name(rc));
  return s;
}

/* Non-default parameters, so a load that falls back to defaults shows. */
static akidb_hnsw_params_t custom_params(akidb_metric_t metric) {
  akidb_hnsw_params_t p;
  akidb_hnsw_params_default(&p, DIM, metric);
  p.m = 12;
  p.ef_construction = 120;
  p.ef_search = 40;
  p.seed = 0xC0FFEEull + (uint64_t)metric;
  p.initial_capacity = 1000;
  return p;
}

/* An index over rows [0, n) of s, label = row number. */
static akidb_hnsw_t *build(const ds_set_t *s, size_t n,
                           const akidb_hnsw_params_t *p) {
  akidb_hnsw_t *h = NULL;
  char err[256] = "";
  int rc = akidb_hnsw_create(p, &h, err, sizeof err);
  if (rc != AKIDB_OK) CHECK_FAIL("create = %s: %s", akidb_err_name(rc), err);
  for (size_t i = 0; i < n; i++) ASSERT_OK(akidb_hnsw_insert(h, i, s->base + i * s->dim));
  return h;
}

static void save_ok(akidb_hnsw_t *h, const char *path) {
  char err[512] = "";
  int rc = akidb_hnsw_save(h, path, err, sizeof err);
  if (rc != AKIDB_OK)
    CHECK_FAIL("save to %s = %s: %s", path, akidb_err_name(rc), err);
}

static akidb_hnsw_t *load_ok(const char *path) {
  akidb_hnsw_t *h = NULL;
  char err[512] = "";
  int rc = akidb_hnsw_load(path, &h, err, sizeof err);
  if (rc != AKIDB_OK || !h)
    CHECK_FAIL("load of %s = %s: %s", path, akidb_err_name(rc), err);
  return h;
}

/* Loading `path` must fail with `want`, a message, and no index. */
static void expect_load_refused(const char *path, int want, const char *what) {
  akidb_hnsw_t *h = NULL;
  char err[512] = "";
  int rc = akidb_hnsw_load(path, &h, err, sizeof err);
  if (rc != want)
    CHECK_FAIL("%s: load = %s, expected %s (message: \"%s\")", what,
               akidb_err_name(rc), akidb_err_name(want), err);
  if (h != NULL) CHECK_FAIL("%s: refused load still produced an index", what);
  if (err[0] == '\0') CHECK_FAIL("%s: refused load left no message", what);
  fprintf(stderr, "  %-28s -> %s: %s\n", what, akidb_err_name(rc), err);
  ASSERT_EQ_INT(akidb_hnsw_load(path, &h, NULL, 0), want); /* err optional */
}

/* Every parameter agrees, initial_capacity included. */
static void expect_same_params(const akidb_hnsw_t *a, const akidb_hnsw_t *b) {
  akidb_hnsw_params_t pa, pb;
  akidb_hnsw_get_params(a, &pa);
  akidb_hnsw_get_params(b, &pb);
  ASSERT_PARAMS_EQ(pb, pa);
}

static void expect_same_hits(const akidb_hit_t *a, uint32_t na,
                             const akidb_hit_t *b, uint32_t nb,
                             const char *what, size_t q) {
  if (na != nb) CHECK_FAIL("%s query %zu: %u hits vs %u", what, q, na, nb);
  for (uint32_t i = 0; i < na; i++)
    if (a[i].label != b[i].label ||
        memcmp(&a[i].distance, &b[i].distance, sizeof(float)) != 0)
      CHECK_FAIL("%s query %zu rank %u: label %" PRIu64 " at %.9g before "
                 "saving, label %" PRIu64 " at %.9g after loading",
                 what, q, i, a[i].label, (double)a[i].distance, b[i].label,
                 (double)b[i].distance);
}

/*
 * Every query (the set's and each stored point's own vector) gives
 * bit-identical results from both indexes: default ef, an explicit ef, and
 * exact search; counts and stored vectors are equal too.
 */
static void expect_identical_indexes(const akidb_hnsw_t *a,
                                     const akidb_hnsw_t *b, const ds_set_t *s,
                                     size_t n_rows) {
  ASSERT_EQ_U64(akidb_hnsw_count(b), akidb_hnsw_count(a));
  ASSERT_EQ_U64(akidb_hnsw_deleted_count(b), akidb_hnsw_deleted_count(a));
  expect_same_params(a, b);
  akidb_hit_t ha[50], hb[50];
  uint32_t na = 0, nb = 0;
  for (size_t q = 0; q < s->n_query + n_rows; q++) {
    const float *query = q < s->n_query ? s->queries + q * s->dim
                                        : s->base + (q - s->n_query) * s->dim;
    ASSERT_OK(akidb_hnsw_search(a, query, K, 0, NULL, ha, &na));
    ASSERT_OK(akidb_hnsw_search(b, query, K, 0, NULL, hb, &nb));
    expect_same_hits(ha, na, hb, nb, "default ef", q);
    if (q >= s->n_query + 200) continue; /* the slower variants on a subset */
    ASSERT_OK(akidb_hnsw_search(a, query, 50, 100, NULL, ha, &na));
    ASSERT_OK(akidb_hnsw_search(b, query, 50, 100, NULL, hb, &nb));
    expect_same_hits(ha, na, hb, nb, "k=50 ef=100", q);
    ASSERT_OK(akidb_hnsw_search_exact(a, query, K, NULL, ha, &na));
    ASSERT_OK(akidb_hnsw_search_exact(b, query, K, NULL, hb, &nb));
    expect_same_hits(ha, na, hb, nb, "exact", q);
  }
  float va[DIM], vb[DIM];
  for (size_t i = 0; i < n_rows; i++) {
    bool live = akidb_hnsw_contains(a, i);
    ASSERT_EQ_INT(akidb_hnsw_contains(b, i), live);
    if (!live) continue;
    ASSERT_OK(akidb_hnsw_get_vector(a, i, va));
    ASSERT_OK(akidb_hnsw_get_vector(b, i, vb));
    if (memcmp(va, vb, sizeof va) != 0)
      CHECK_FAIL("label %zu: stored vector differs after loading", i);
  }
}

/* A small saved index whose bytes the corruption tests damage. */
static unsigned char *saved_bytes(size_t *len, char *path, size_t pathlen) {
  ds_set_t s = make_set(AKIDB_METRIC_L2, 500, 71);
  akidb_hnsw_params_t p;
  akidb_hnsw_params_default(&p, DIM, AKIDB_METRIC_L2);
  akidb_hnsw_t *h = build(&s, 500, &p);
  tmp_path(path, pathlen, "good.hnsw");
  save_ok(h, path);
  akidb_hnsw_free(h);
  ds_free(&s);
  akidb_hnsw_free(load_ok(path)); /* the undamaged file loads */
  return read_whole(path, len);
}

/* --------------------------------------------------------------- tests -- */

static void check_round_trip(akidb_metric_t metric, const char *name) {
  ds_set_t s = make_set(metric, N_BASE, 11 + (uint64_t)metric);
  akidb_hnsw_params_t p = custom_params(metric);
  akidb_hnsw_t *h = build(&s, N_BASE, &p);
  ASSERT_OK(akidb_hnsw_set_ef_search(h, 37)); /* saved as last set */
  char path[8192];
  tmp_path(path, sizeof path, name);
  save_ok(h, path);
  akidb_hnsw_t *g = load_ok(path);
  akidb_hnsw_params_t pg;
  akidb_hnsw_get_params(g, &pg);
  ASSERT_EQ_INT(pg.ef_search, 37);
  ASSERT_EQ_INT(pg.m, 12);
  expect_identical_indexes(h, g, &s, N_BASE);
  akidb_hnsw_free(g);
  akidb_hnsw_free(h);
  ASSERT_EQ_INT(unlink(path), 0);
  ds_free(&s);
}

static void test_load_returns_identical_results_l2(void) {
  check_round_trip(AKIDB_METRIC_L2, "l2.hnsw");
}

static void test_load_returns_identical_results_cosine(void) {
  check_round_trip(AKIDB_METRIC_COSINE, "cosine.hnsw");
}

static void test_load_returns_identical_results_dot(void) {
  check_round_trip(AKIDB_METRIC_DOT, "dot.hnsw");
}

/* get_params of a loaded index reports every field it was created with. */
static void test_load_keeps_every_parameter(void) {
  ds_set_t s = make_set(AKIDB_METRIC_DOT, 100, 17);
  akidb_hnsw_params_t p = custom_params(AKIDB_METRIC_DOT);
  akidb_hnsw_t *h = build(&s, 100, &p);
  ASSERT_OK(akidb_hnsw_set_ef_search(h, 29));
  char path[8192];
  tmp_path(path, sizeof path, "params.hnsw");
  save_ok(h, path);
  akidb_hnsw_t *g = load_ok(path);
  akidb_hnsw_params_t pa, pb;
  akidb_hnsw_get_params(h, &pa);
  akidb_hnsw_get_params(g, &pb);
  ASSERT_EQ_INT(pa.ef_search, 29);
  ASSERT_PARAMS_EQ(pb, pa);
  akidb_hnsw_free(g);
  akidb_hnsw_free(h);
  ASSERT_EQ_INT(unlink(path), 0);
  ds_free(&s);
}

static void test_save_and_load_of_empty_index(void) {
  akidb_hnsw_params_t p = custom_params(AKIDB_METRIC_COSINE);
  akidb_hnsw_t *h = NULL;
  ASSERT_OK(akidb_hnsw_create(&p, &h, NULL, 0));
  char path[8192];
  tmp_path(path, sizeof path, "empty.hnsw");
  save_ok(h, path);
  akidb_hnsw_t *g = load_ok(path);
  ASSERT_EQ_U64(akidb_hnsw_count(g), 0);
  expect_same_params(h, g);
  float v[DIM];
  for (uint32_t j = 0; j < DIM; j++) v[j] = (float)j + 1.0f;
  akidb_hit_t hits[K];
  uint32_t n = 99;
  ASSERT_OK(akidb_hnsw_search(g, v, K, 0, NULL, hits, &n));
  ASSERT_EQ_INT(n, 0);
  ASSERT_OK(akidb_hnsw_insert(g, 5, v));
  ASSERT_OK(akidb_hnsw_search(g, v, K, 0, NULL, hits, &n));
  ASSERT_EQ_INT(n, 1);
  ASSERT_EQ_U64(hits[0].label, 5);
  akidb_hnsw_free(g);
  akidb_hnsw_free(h);
  ASSERT_EQ_INT(unlink(path), 0);
}

/* Labels survive: an existing label is refused by insert after loading. */
static void test_loaded_index_knows_its_labels(void) {
  ds_set_t s = make_set(AKIDB_METRIC_L2, 300, 21);
  akidb_hnsw_params_t p = custom_params(AKIDB_METRIC_L2);
  akidb_hnsw_t *h = build(&s, 300, &p);
  char path[8192];
  tmp_path(path, sizeof path, "labels.hnsw");
  save_ok(h, path);
  akidb_hnsw_t *g = load_ok(path);
  for (uint64_t l = 0; l < 300; l++) {
    ASSERT_TRUE(akidb_hnsw_contains(g, l));
    ASSERT_EQ_INT(akidb_hnsw_insert(g, l, s.base + l * DIM), AKIDB_EEXIST);
  }
  ASSERT_TRUE(!akidb_hnsw_contains(g, 300));
  ASSERT_EQ_U64(akidb_hnsw_count(g), 300);
  /* the extreme label survives too */
  ASSERT_OK(akidb_hnsw_insert(h, UINT64_MAX, s.queries));
  save_ok(h, path);
  akidb_hnsw_free(g);
  g = load_ok(path);
  ASSERT_TRUE(akidb_hnsw_contains(g, UINT64_MAX));
  akidb_hit_t hit[1];
  uint32_t n = 0;
  ASSERT_OK(akidb_hnsw_search(g, s.queries, 1, 0, NULL, hit, &n));
  ASSERT_EQ_U64(hit[0].label, UINT64_MAX);
  akidb_hnsw_free(g);
  akidb_hnsw_free(h);
  ASSERT_EQ_INT(unlink(path), 0);
  ds_free(&s);
}

static void test_loaded_index_accepts_inserts_and_deletes(void) {
  const size_t extra = 300;
  ds_set_t s = make_set(AKIDB_METRIC_L2, N_BASE + extra, 31);
  akidb_hnsw_params_t p = custom_params(AKIDB_METRIC_L2);
  akidb_hnsw_t *h = build(&s, N_BASE, &p);
  char path[8192];
  tmp_path(path, sizeof path, "grow.hnsw");
  save_ok(h, path);
  akidb_hnsw_free(h);
  akidb_hnsw_t *g = load_ok(path);

  for (size_t i = N_BASE; i < N_BASE + extra; i++)
    ASSERT_OK(akidb_hnsw_insert(g, i, s.base + i * DIM));
  bool *deleted = calloc(N_BASE + extra, sizeof *deleted);
  ASSERT_TRUE(deleted != NULL);
  for (size_t i = 0; i < N_BASE + extra; i += 4) {
    ASSERT_OK(akidb_hnsw_delete(g, i));
    deleted[i] = true;
  }
  size_t live = 0;
  for (size_t i = 0; i < N_BASE + extra; i++) live += !deleted[i];
  ASSERT_EQ_U64(akidb_hnsw_count(g), live);

  /* every live point, old and new, is found as its own nearest neighbour */
  akidb_hit_t hits[50];
  uint32_t n = 0;
  size_t self_found = 0;
  for (size_t i = 0; i < N_BASE + extra; i++) {
    const float *v = s.base + i * DIM;
    if (deleted[i]) {
      ASSERT_TRUE(!akidb_hnsw_contains(g, i));
      continue;
    }
    ASSERT_OK(akidb_hnsw_search_exact(g, v, 1, NULL, hits, &n));
    ASSERT_EQ_U64(hits[0].label, i);
    ASSERT_OK(akidb_hnsw_search(g, v, 1, 0, NULL, hits, &n));
    self_found += hits[0].label == i;
  }
  fprintf(stderr, "  after load+insert+delete: %zu of %zu live points are "
                  "their own approximate nearest neighbour\n",
          self_found, live);
  ASSERT_GE((double)self_found, 0.99 * (double)live);
  /* and no deleted label comes back */
  for (size_t q = 0; q < s.n_query; q++) {
    ASSERT_OK(akidb_hnsw_search(g, s.queries + q * DIM, 50, 0, NULL, hits, &n));
    ASSERT_EQ_INT(n, 50);
    for (uint32_t i = 0; i < n; i++)
      if (hits[i].label >= N_BASE + extra || deleted[hits[i].label])
        CHECK_FAIL("query %zu: label %" PRIu64 " should not be returned", q,
                   hits[i].label);
  }
  free(deleted);
  akidb_hnsw_free(g);
  ASSERT_EQ_INT(unlink(path), 0);
  ds_free(&s);
}

static void test_deleted_points_stay_deleted_after_load(void) {
  ds_set_t s = make_set(AKIDB_METRIC_COSINE, N_BASE, 41);
  akidb_hnsw_params_t p = custom_params(AKIDB_METRIC_COSINE);
  akidb_hnsw_t *h = build(&s, N_BASE, &p);
  bool *deleted = calloc(N_BASE, sizeof *deleted);
  ASSERT_TRUE(deleted != NULL);
  uint64_t rng = 43;
  for (size_t i = 0; i < N_BASE; i++)
    if (ds_rng_uniform(&rng) < 0.3) {
      ASSERT_OK(akidb_hnsw_delete(h, i));
      deleted[i] = true;
    }
  char path[8192];
  tmp_path(path, sizeof path, "deleted.hnsw");
  save_ok(h, path);
  akidb_hnsw_t *g = load_ok(path);
  ASSERT_EQ_U64(akidb_hnsw_count(g), akidb_hnsw_count(h));
  expect_identical_indexes(h, g, &s, N_BASE);
  akidb_hit_t hits[50];
  uint32_t n = 0;
  for (size_t i = 0; i < N_BASE; i++) {
    if (!deleted[i]) continue;
    ASSERT_TRUE(!akidb_hnsw_contains(g, i));
    float v[DIM];
    ASSERT_EQ_INT(akidb_hnsw_get_vector(g, i, v), AKIDB_ENOTFOUND);
    ASSERT_EQ_INT(akidb_hnsw_delete(g, i), AKIDB_ENOTFOUND);
    ASSERT_OK(akidb_hnsw_search(g, s.base + i * DIM, 50, 0, NULL, hits, &n));
    for (uint32_t j = 0; j < n; j++)
      if (deleted[hits[j].label])
        CHECK_FAIL("deleted label %" PRIu64 " returned after loading",
                   hits[j].label);
  }
  /* the loaded index compacts them away and takes the labels back */
  ASSERT_OK(akidb_hnsw_compact(g));
  ASSERT_EQ_U64(akidb_hnsw_deleted_count(g), 0);
  ASSERT_EQ_U64(akidb_hnsw_count(g), akidb_hnsw_count(h));
  for (size_t i = 0; i < N_BASE; i++)
    if (deleted[i]) {
      ASSERT_OK(akidb_hnsw_insert(g, i, s.base + i * DIM));
      break;
    }
  free(deleted);
  akidb_hnsw_free(g);
  akidb_hnsw_free(h);
  ASSERT_EQ_INT(unlink(path), 0);
  ds_free(&s);
}

/* Saving over a file replaces it, through a temporary that does not stay. */
static void test_save_replaces_file_and_leaves_no_temporary(void) {
  ds_set_t s = make_set(AKIDB_METRIC_L2, 400, 51);
  akidb_hnsw_params_t p;
  akidb_hnsw_params_default(&p, DIM, AKIDB_METRIC_L2);
  akidb_hnsw_t *h = build(&s, 200, &p);
  char path[8192];
  tmp_path(path, sizeof path, "replace.hnsw");
  int before = tmp_dir_entries();
  save_ok(h, path);
  ASSERT_EQ_INT(tmp_dir_entries(), before + 1);
  for (size_t i = 200; i < 400; i++) ASSERT_OK(akidb_hnsw_insert(h, i, s.base + i * DIM));
  save_ok(h, path);
  ASSERT_EQ_INT(tmp_dir_entries(), before + 1);
  akidb_hnsw_t *g = load_ok(path);
  ASSERT_EQ_U64(akidb_hnsw_count(g), 400);
  ASSERT_TRUE(akidb_hnsw_contains(g, 399));
  akidb_hnsw_free(g);
  akidb_hnsw_free(h);
  ASSERT_EQ_INT(unlink(path), 0);
  ds_free(&s);
}

static void test_save_into_missing_directory_is_refused(void) {
  akidb_hnsw_params_t p;
  akidb_hnsw_params_default(&p, DIM, AKIDB_METRIC_L2);
  akidb_hnsw_t *h = NULL;
  ASSERT_OK(akidb_hnsw_create(&p, &h, NULL, 0));
  char path[8192];
  tmp_path(path, sizeof path, "no-such-dir/x.hnsw");
  char err[512] = "";
  ASSERT_EQ_INT(akidb_hnsw_save(h, path, err, sizeof err), AKIDB_EIO);
  ASSERT_TRUE(err[0] != '\0');
  fprintf(stderr, "  save into a missing directory: %s\n", err);
  akidb_hnsw_free(h);
}

static void test_flipped_byte_is_refused_as_corrupt(void) {
  size_t len = 0;
  char good[8192], bad[8192];
  unsigned char *buf = saved_bytes(&len, good, sizeof good);
  tmp_path(bad, sizeof bad, "flipped.hnsw");
  const size_t at[] = {len / 2, len / 4, 3 * len / 4, len - 1};
  const char *where[] = {"byte flipped in the middle", "byte flipped at 1/4",
                         "byte flipped at 3/4", "last byte flipped"};
  for (int i = 0; i < 4; i++) {
    buf[at[i]] ^= 0x5a;
    write_whole(bad, buf, len);
    expect_load_refused(bad, AKIDB_ECORRUPT, where[i]);
    buf[at[i]] ^= 0x5a;
  }
  free(buf);
  ASSERT_EQ_INT(unlink(bad), 0);
  ASSERT_EQ_INT(unlink(good), 0);
}

/* Writes the first keep[i] bytes of a good file and expects ECORRUPT. */
static void check_truncations(const size_t *keep, const char *const *what,
                              int n) {
  size_t len = 0;
  char good[8192], bad[8192];
  unsigned char *buf = saved_bytes(&len, good, sizeof good);
  tmp_path(bad, sizeof bad, "truncated.hnsw");
  for (int i = 0; i < n; i++) {
    size_t cut = keep[i] == 0 ? len - 1 : keep[i] == 1 ? len - 8
                 : keep[i] == 2 ? len / 2 : keep[i];
    write_whole(bad, buf, cut);
    expect_load_refused(bad, AKIDB_ECORRUPT, what[i]);
  }
  free(buf);
  ASSERT_EQ_INT(unlink(bad), 0);
  ASSERT_EQ_INT(unlink(good), 0);
}

static void test_truncated_file_is_refused_as_corrupt(void) {
  const size_t keep[] = {0, 1, 2}; /* codes: len-1, len-8, len/2 */
  const char *const what[] = {"last byte cut", "last 8 bytes cut",
                              "half the file"};
  check_truncations(keep, what, 3);
}

/* Cut inside the header, after the intact magic and version: the file is
 * an AkiDB index, only truncated. */
static void test_file_cut_inside_header_is_refused_as_corrupt(void) {
  const size_t keep[] = {64, 12};
  const char *const what[] = {"first 64 bytes only", "magic and version only"};
  check_truncations(keep, what, 2);
}

static void test_foreign_file_is_refused_as_wrong_format(void) {
  char path[8192];
  tmp_path(path, sizeof path, "foreign");
  unsigned char noise[4096];
  uint64_t rng = 61;
  for (size_t i = 0; i < sizeof noise; i++)
    noise[i] = (unsigned char)ds_rng_next(&rng);
  write_whole(path, noise, sizeof noise);
  expect_load_refused(path, AKIDB_EFORMAT, "random bytes");
  char text[4096] = "";
  while (strlen(text) + 64 < sizeof text)
    strcat(text, "This is a text file, not an AkiDB HNSW index.\n");
  write_whole(path, text, strlen(text));
  expect_load_refused(path, AKIDB_EFORMAT, "text file");
  /* a real index file with its magic damaged is no longer recognised */
  size_t len = 0;
  char good[8192];
  unsigned char *buf = saved_bytes(&len, good, sizeof good);
  buf[0] ^= 0x20;
  write_whole(path, buf, len);
  expect_load_refused(path, AKIDB_EFORMAT, "first magic byte changed");
  free(buf);
  ASSERT_EQ_INT(unlink(path), 0);
  ASSERT_EQ_INT(unlink(good), 0);
}

/* The file starts with an 8-byte magic and a little-endian u32 version. */
static void test_newer_format_version_is_refused(void) {
  size_t len = 0;
  char good[8192], bad[8192];
  unsigned char *buf = saved_bytes(&len, good, sizeof good);
  tmp_path(bad, sizeof bad, "future.hnsw");
  uint32_t current = (uint32_t)buf[8] | (uint32_t)buf[9] << 8 |
                     (uint32_t)buf[10] << 16 | (uint32_t)buf[11] << 24;
  fprintf(stderr, "  current format version %u\n", current);
  const uint32_t future[] = {9999, current + 1};
  for (int i = 0; i < 2; i++) {
    for (int b = 0; b < 4; b++) buf[8 + b] = (unsigned char)(future[i] >> (8 * b));
    write_whole(bad, buf, len);
    expect_load_refused(bad, AKIDB_EVERSION, i == 0 ? "version 9999"
                                                    : "version current+1");
  }
  free(buf);
  ASSERT_EQ_INT(unlink(bad), 0);
  ASSERT_EQ_INT(unlink(good), 0);
}

static void test_missing_file_is_refused_as_io_error(void) {
  char path[8192];
  tmp_path(path, sizeof path, "does-not-exist.hnsw");
  expect_load_refused(path, AKIDB_EIO, "missing file");
}

/* ------------------------------------------------- streams and clones -- */

typedef struct {
  unsigned char *buf;
  size_t len, cap, pos;
} membuf_t;

static int mem_write(void *ctx, const void *p, size_t n) {
  membuf_t *m = ctx;
  if (m->len + n > m->cap) {
    size_t cap = (m->len + n) * 2;
    unsigned char *b = realloc(m->buf, cap);
    if (!b) return ENOMEM;
    m->buf = b;
    m->cap = cap;
  }
  memcpy(m->buf + m->len, p, n);
  m->len += n;
  return 0;
}

static int mem_read(void *ctx, void *p, size_t n) {
  membuf_t *m = ctx;
  if (m->pos + n > m->len) return EIO;
  memcpy(p, m->buf + m->pos, n);
  m->pos += n;
  return 0;
}

/* An image streamed through callbacks equals the saved file, byte for
 * byte, has the announced size, and reads back to an identical index. */
static void test_image_stream_matches_file_and_reads_back(void) {
  ds_set_t s = make_set(AKIDB_METRIC_COSINE, N_BASE, 41);
  akidb_hnsw_params_t p = custom_params(AKIDB_METRIC_COSINE);
  akidb_hnsw_t *h = build(&s, N_BASE, &p);
  for (size_t i = 0; i < N_BASE; i += 5) ASSERT_OK(akidb_hnsw_delete(h, i));
  membuf_t m = {0};
  char err[256] = "";
  ASSERT_OK(akidb_hnsw_write_image(h, mem_write, &m, err, sizeof err));
  ASSERT_EQ_U64(m.len, akidb_hnsw_image_bytes(h));
  char path[4200];
  tmp_path(path, sizeof path, "stream.idx");
  save_ok(h, path);
  size_t flen = 0;
  unsigned char *file = read_whole(path, &flen);
  ASSERT_EQ_U64(flen, m.len);
  ASSERT_TRUE(memcmp(file, m.buf, flen) == 0);
  akidb_hnsw_t *back = NULL;
  ASSERT_OK(akidb_hnsw_read_image(mem_read, &m, m.len, &back, err, sizeof err));
  expect_identical_indexes(h, back, &s, N_BASE);
  /* a stream one byte short is corrupt */
  akidb_hnsw_t *none = NULL;
  m.pos = 0;
  ASSERT_EQ_INT(akidb_hnsw_read_image(mem_read, &m, m.len - 1, &none, err, sizeof err),
                AKIDB_ECORRUPT);
  ASSERT_TRUE(none == NULL);
  free(file);
  free(m.buf);
  unlink(path);
  akidb_hnsw_free(back);
  akidb_hnsw_free(h);
  ds_free(&s);
}

/* A clone answers exactly like the original and is independent of it. */
static void test_clone_is_identical_and_independent(void) {
  ds_set_t s = make_set(AKIDB_METRIC_L2, N_BASE, 43);
  akidb_hnsw_params_t p = custom_params(AKIDB_METRIC_L2);
  akidb_hnsw_t *h = build(&s, N_BASE, &p);
  for (size_t i = 0; i < N_BASE; i += 7) ASSERT_OK(akidb_hnsw_delete(h, i));
  akidb_hnsw_t *c = NULL;
  ASSERT_OK(akidb_hnsw_clone(h, &c));
  expect_identical_indexes(h, c, &s, N_BASE);
  ASSERT_OK(akidb_hnsw_delete(c, 1));
  ASSERT_TRUE(akidb_hnsw_contains(h, 1));
  ASSERT_OK(akidb_hnsw_compact(c));
  ASSERT_EQ_U64(akidb_hnsw_deleted_count(c), 0);
  ASSERT_TRUE(akidb_hnsw_deleted_count(h) > 0);
  akidb_hnsw_free(c);
  akidb_hnsw_free(h);
  ds_free(&s);
}

/* An image written from a frozen view is the index as it was at the
 * freeze: deletes made after it (while it streams) do not reach it, and it
 * equals, byte for byte, the image written before those deletes. */
static void test_frozen_image_ignores_later_deletes(void) {
  ds_set_t s = make_set(AKIDB_METRIC_L2, N_BASE, 47);
  akidb_hnsw_params_t p = custom_params(AKIDB_METRIC_L2);
  akidb_hnsw_t *h = build(&s, N_BASE, &p);
  for (size_t i = 0; i < N_BASE; i += 9) ASSERT_OK(akidb_hnsw_delete(h, i));
  uint64_t live_at_freeze = akidb_hnsw_count(h);
  membuf_t before = {0}, frozen = {0};
  char err[256] = "";
  ASSERT_OK(akidb_hnsw_write_image(h, mem_write, &before, err, sizeof err));
  akidb_hnsw_frozen_t *f = NULL;
  ASSERT_OK(akidb_hnsw_freeze(h, &f));
  for (size_t i = 1; i < N_BASE; i += 4) akidb_hnsw_delete(h, i); /* after the freeze */
  ASSERT_TRUE(akidb_hnsw_count(h) < live_at_freeze);
  ASSERT_OK(akidb_hnsw_write_frozen(h, f, mem_write, &frozen, err, sizeof err));
  ASSERT_EQ_U64(frozen.len, akidb_hnsw_frozen_bytes(h, f));
  ASSERT_EQ_U64(frozen.len, before.len);
  ASSERT_TRUE(memcmp(frozen.buf, before.buf, before.len) == 0);
  akidb_hnsw_t *back = NULL;
  ASSERT_OK(akidb_hnsw_read_image(mem_read, &frozen, frozen.len, &back, err, sizeof err));
  ASSERT_EQ_U64(akidb_hnsw_count(back), live_at_freeze);
  ASSERT_TRUE(akidb_hnsw_contains(back, 1) && !akidb_hnsw_contains(h, 1));
  ASSERT_TRUE(!akidb_hnsw_contains(back, 9));
  akidb_hnsw_frozen_free(f);
  akidb_hnsw_free(back);
  akidb_hnsw_free(h);
  free(before.buf);
  free(frozen.buf);
  ds_free(&s);
}

CHECK_MAIN(CHECK_CASE(test_load_returns_identical_results_l2),
           CHECK_CASE(test_load_returns_identical_results_cosine),
           CHECK_CASE(test_load_returns_identical_results_dot),
           CHECK_CASE(test_load_keeps_every_parameter),
           CHECK_CASE(test_save_and_load_of_empty_index),
           CHECK_CASE(test_loaded_index_knows_its_labels),
           CHECK_CASE(test_loaded_index_accepts_inserts_and_deletes),
           CHECK_CASE(test_deleted_points_stay_deleted_after_load),
           CHECK_CASE(test_save_replaces_file_and_leaves_no_temporary),
           CHECK_CASE(test_save_into_missing_directory_is_refused),
           CHECK_CASE(test_flipped_byte_is_refused_as_corrupt),
           CHECK_CASE(test_truncated_file_is_refused_as_corrupt),
           CHECK_CASE(test_file_cut_inside_header_is_refused_as_corrupt),
           CHECK_CASE(test_foreign_file_is_refused_as_wrong_format),
           CHECK_CASE(test_newer_format_version_is_refused),
           CHECK_CASE(test_missing_file_is_refused_as_io_error),
           CHECK_CASE(test_image_stream_matches_file_and_reads_back),
           CHECK_CASE(test_clone_is_identical_and_independent),
           CHECK_CASE(test_frozen_image_ignores_later_deletes))
