/*
 * dataset.c — owns the test/benchmark data sets: file readers for the
 * TEXMEX .fvecs/.ivecs formats, the seeded Gaussian-mixture generator and
 * exact ground truth (through akidb_flat). No locking: callers own a set.
 */
#include "dataset/dataset.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef AKIDB_DATA_DIR_DEFAULT
#define AKIDB_DATA_DIR_DEFAULT "tests/data" /* the repository's own sets */
#endif

const char *ds_data_dir(void) {
  const char *env = getenv("AKIDB_TEST_DATA");
  return (env && *env) ? env : AKIDB_DATA_DIR_DEFAULT;
}

/* Reads a file of rows {int32 d; 4-byte elements[d]} into one array. */
static int read_vecs(const char *path, void **out, size_t *n, uint32_t *dim,
                     char *err, size_t errlen) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
    return AKIDB_EIO;
  }
  int32_t d = 0;
  if (fread(&d, 4, 1, f) != 1 || d <= 0 || d > (int32_t)AKIDB_DIM_MAX) {
    snprintf(err, errlen, "%s: bad first dimension", path);
    fclose(f);
    return AKIDB_EFORMAT;
  }
  fseek(f, 0, SEEK_END);
  long size = ftell(f);
  fseek(f, 0, SEEK_SET);
  size_t row = 4 + (size_t)d * 4;
  if (size <= 0 || (size_t)size % row != 0) {
    snprintf(err, errlen, "%s: size %ld is not a multiple of rows of %zu bytes",
             path, size, row);
    fclose(f);
    return AKIDB_EFORMAT;
  }
  size_t rows = (size_t)size / row;
  char *buf = malloc(rows * (size_t)d * 4);
  if (!buf) {
    fclose(f);
    return AKIDB_ENOMEM;
  }
  for (size_t i = 0; i < rows; i++) {
    int32_t di;
    if (fread(&di, 4, 1, f) != 1 || di != d ||
        fread(buf + i * (size_t)d * 4, 4, (size_t)d, f) != (size_t)d) {
      snprintf(err, errlen, "%s: row %zu is short or has another dimension",
               path, i);
      free(buf);
      fclose(f);
      return AKIDB_EFORMAT;
    }
  }
  fclose(f);
  *out = buf;
  *n = rows;
  *dim = (uint32_t)d;
  return AKIDB_OK;
}

int ds_read_fvecs(const char *path, float **out, size_t *n, uint32_t *dim,
                  char *err, size_t errlen) {
  return read_vecs(path, (void **)out, n, dim, err, errlen);
}

int ds_read_ivecs(const char *path, int32_t **out, size_t *n, uint32_t *dim,
                  char *err, size_t errlen) {
  return read_vecs(path, (void **)out, n, dim, err, errlen);
}

int ds_load_real(const char *name, ds_set_t *s, char *err, size_t errlen) {
  memset(s, 0, sizeof *s);
  const char *gt_suffix;
  if (strcmp(name, "sift5k") == 0) {
    s->metric = AKIDB_METRIC_L2;
    gt_suffix = "groundtruth_l2_k100";
  } else if (strcmp(name, "glove25") == 0) {
    s->metric = AKIDB_METRIC_COSINE;
    gt_suffix = "groundtruth_cosine_k100";
  } else {
    snprintf(err, errlen, "unknown data set '%s' (use sift5k or glove25)", name);
    return AKIDB_EINVAL;
  }
  snprintf(s->name, sizeof s->name, "%s", name);
  char path[4096];
  uint32_t d2 = 0, gk = 0;
  size_t ng = 0;
  int rc;
  snprintf(path, sizeof path, "%s/%s/%s_base.fvecs", ds_data_dir(), name, name);
  if ((rc = ds_read_fvecs(path, &s->base, &s->n_base, &s->dim, err, errlen)))
    goto fail;
  snprintf(path, sizeof path, "%s/%s/%s_query.fvecs", ds_data_dir(), name, name);
  if ((rc = ds_read_fvecs(path, &s->queries, &s->n_query, &d2, err, errlen)))
    goto fail;
  snprintf(path, sizeof path, "%s/%s/%s_%s.ivecs", ds_data_dir(), name, name,
           gt_suffix);
  if ((rc = ds_read_ivecs(path, &s->gt, &ng, &gk, err, errlen))) goto fail;
  if (d2 != s->dim || ng != s->n_query) {
    snprintf(err, errlen, "%s: query/ground-truth shapes do not match", name);
    rc = AKIDB_EFORMAT;
    goto fail;
  }
  s->gt_k = gk;
  return AKIDB_OK;
fail:
  ds_free(s);
  return rc;
}

uint64_t ds_rng_next(uint64_t *state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

double ds_rng_uniform(uint64_t *state) {
  return (double)(ds_rng_next(state) >> 11) * (1.0 / 9007199254740992.0);
}

double ds_rng_gauss(uint64_t *state) {
  double u1 = ds_rng_uniform(state), u2 = ds_rng_uniform(state);
  if (u1 < 1e-300) u1 = 1e-300;
  return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* Draws n points of the mixture described by centres/spreads/cumulative weights. */
static void draw_points(float *out, size_t n, uint32_t dim, uint32_t clusters,
                        const float *centres, const float *spread,
                        const double *cum, uint64_t *rng) {
  for (size_t i = 0; i < n; i++) {
    double u = ds_rng_uniform(rng) * cum[clusters - 1];
    uint32_t c = 0;
    while (c + 1 < clusters && cum[c] < u) c++;
    const float *ctr = centres + (size_t)c * dim;
    for (uint32_t j = 0; j < dim; j++)
      out[i * dim + j] = ctr[j] + spread[c] * (float)ds_rng_gauss(rng);
  }
}

int ds_make_mixture(const char *name, size_t n_base, size_t n_query,
                    uint32_t dim, akidb_metric_t metric, uint32_t clusters,
                    uint64_t seed, uint32_t gt_k, ds_set_t *s) {
  memset(s, 0, sizeof *s);
  if (clusters == 0 || dim == 0) return AKIDB_EINVAL;
  snprintf(s->name, sizeof s->name, "%s", name);
  s->metric = metric;
  s->dim = dim;
  s->n_base = n_base;
  s->n_query = n_query;
  s->base = malloc(n_base * dim * sizeof(float));
  s->queries = malloc(n_query * dim * sizeof(float));
  float *centres = malloc((size_t)clusters * dim * sizeof(float));
  float *spread = malloc(clusters * sizeof(float));
  double *cum = malloc(clusters * sizeof(double));
  int rc = AKIDB_ENOMEM;
  if (!s->base || !s->queries || !centres || !spread || !cum) goto done;
  uint64_t rng = seed;
  double acc = 0;
  for (uint32_t c = 0; c < clusters; c++) {
    for (uint32_t j = 0; j < dim; j++)
      centres[(size_t)c * dim + j] = (float)ds_rng_gauss(&rng);
    spread[c] = (float)(0.15 + 0.6 * ds_rng_uniform(&rng)); /* uneven variances */
    acc += 0.2 + ds_rng_uniform(&rng) * ds_rng_uniform(&rng) * 4.0; /* uneven sizes */
    cum[c] = acc;
  }
  draw_points(s->base, n_base, dim, clusters, centres, spread, cum, &rng);
  draw_points(s->queries, n_query, dim, clusters, centres, spread, cum, &rng);
  rc = gt_k ? ds_ground_truth(s, gt_k) : AKIDB_OK;
done:
  free(centres);
  free(spread);
  free(cum);
  if (rc) ds_free(s);
  return rc;
}

int ds_ground_truth(ds_set_t *s, uint32_t k) {
  akidb_flat_t *flat = NULL;
  akidb_hit_t *hits = NULL;
  uint32_t *n = NULL;
  int32_t *gt = NULL;
  int rc = akidb_flat_create(s->dim, s->metric, &flat, NULL, 0);
  if (rc) return rc;
  uint64_t *labels = malloc(s->n_base * sizeof(uint64_t));
  hits = malloc(s->n_query * k * sizeof(akidb_hit_t));
  n = malloc(s->n_query * sizeof(uint32_t));
  gt = malloc(s->n_query * k * sizeof(int32_t));
  rc = AKIDB_ENOMEM;
  if (!labels || !hits || !n || !gt) goto done;
  for (size_t i = 0; i < s->n_base; i++) labels[i] = i;
  if ((rc = akidb_flat_upsert_batch(flat, labels, s->base, s->n_base))) goto done;
  rc = akidb_flat_search_batch(flat, s->queries, (uint32_t)s->n_query, k, NULL,
                               hits, n);
  if (rc) goto done;
  for (size_t q = 0; q < s->n_query; q++)
    for (uint32_t j = 0; j < k; j++)
      gt[q * k + j] = j < n[q] ? (int32_t)hits[q * k + j].label : -1;
  free(s->gt);
  s->gt = gt;
  gt = NULL;
  s->gt_k = k;
done:
  free(labels);
  free(hits);
  free(n);
  free(gt);
  akidb_flat_free(flat);
  return rc;
}

double ds_recall(const ds_set_t *s, const akidb_hit_t *hits, size_t stride,
                 const uint32_t *n, uint32_t k) {
  if (!s->gt || k > s->gt_k || s->n_query == 0) return 0.0;
  size_t found = 0;
  for (size_t q = 0; q < s->n_query; q++) {
    const int32_t *truth = s->gt + q * s->gt_k;
    for (uint32_t i = 0; i < n[q] && i < k; i++)
      for (uint32_t j = 0; j < k; j++)
        if ((int64_t)hits[q * stride + i].label == truth[j]) {
          found++;
          break;
        }
  }
  return (double)found / ((double)s->n_query * k);
}

void ds_free(ds_set_t *s) {
  free(s->base);
  free(s->queries);
  free(s->gt);
  memset(s, 0, sizeof *s);
}

double ds_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}
