/*
 * dataset.h — data sets for tests, the demo and the benchmark (not part of
 * libakidb): .fvecs/.ivecs readers, the real sets under the data
 * directory, seeded Gaussian-mixture generation, exact ground truth through
 * the flat index, and recall@k.
 */
#ifndef AKIDB_DATASET_H
#define AKIDB_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "akidb/index.h"

/* A base set, queries and their ground truth (row indices into base). */
typedef struct {
  char name[48];
  akidb_metric_t metric;
  uint32_t dim;
  size_t n_base, n_query;
  float *base;    /* n_base * dim */
  float *queries; /* n_query * dim */
  int32_t *gt;    /* n_query * gt_k, nearest first; NULL until computed */
  uint32_t gt_k;
} ds_set_t;

/* The data directory: $AKIDB_TEST_DATA, else the build's default (the
 * repository's tests/data). */
const char *ds_data_dir(void);

/* Reads a whole .fvecs file (all rows must have one dimension). */
int ds_read_fvecs(const char *path, float **out, size_t *n, uint32_t *dim,
                  char *err, size_t errlen);

/* Reads a whole .ivecs file. */
int ds_read_ivecs(const char *path, int32_t **out, size_t *n, uint32_t *dim,
                  char *err, size_t errlen);

/*
 * Loads "sift5k" (l2) or "glove25" (cosine) from ds_data_dir(), with the
 * shipped ground truth.
 */
int ds_load_real(const char *name, ds_set_t *out, char *err, size_t errlen);

/*
 * Generates a seeded Gaussian mixture: `clusters` centres with uneven
 * weights and spreads; base and queries are drawn from the same mixture.
 * Ground truth (top gt_k) is computed exactly with the flat index.
 */
int ds_make_mixture(const char *name, size_t n_base, size_t n_query,
                    uint32_t dim, akidb_metric_t metric, uint32_t clusters,
                    uint64_t seed, uint32_t gt_k, ds_set_t *out);

/* Computes exact top-k ground truth for `s` (replacing any it had). */
int ds_ground_truth(ds_set_t *s, uint32_t k);

/*
 * Mean recall@k of results (query i: hits[i*stride .. +n[i]]) against the
 * first k ground-truth rows; labels are row indices.
 */
double ds_recall(const ds_set_t *s, const akidb_hit_t *hits, size_t stride,
                 const uint32_t *n, uint32_t k);

/* Frees what the set owns and zeroes it. */
void ds_free(ds_set_t *s);

/* splitmix64: a small seeded generator. */
uint64_t ds_rng_next(uint64_t *state);
/* Uniform in [0, 1). */
double ds_rng_uniform(uint64_t *state);
/* Standard normal. */
double ds_rng_gauss(uint64_t *state);

/* Monotonic seconds. */
double ds_now(void);

#endif /* AKIDB_DATASET_H */
