/*
 * flat.c — owns the exact (brute-force) index: vectors in one 64-byte-aligned
 * arena, a label map, and scans with a bounded heap over the same SIMD
 * kernels as HNSW. Deleted slots are filled by moving the last point in.
 * Locking: one rwlock; searches share it, writes take it exclusively.
 * Durability: none (in memory; the collection layer persists points).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "akidb/index.h"
#include "index/heap.h"
#include "index/label_map.h"
#include "index/metric.h"

#define QUERY_BLOCK 8 /* queries scanned together in batch search */

struct akidb_flat {
  uint32_t dim;
  metric_t metric;
  pthread_rwlock_t lock;
  float *vecs;      /* cap * dim, 64-byte aligned */
  uint64_t *labels; /* cap */
  size_t n, cap;
  label_map_t map;
};

int akidb_flat_create(uint32_t dim, akidb_metric_t metric, akidb_flat_t **out,
                      char *err, size_t errlen) {
  *out = NULL;
  if (dim < AKIDB_DIM_MIN || dim > AKIDB_DIM_MAX) {
    if (err) snprintf(err, errlen, "dimension %u is outside %u..%u", dim, AKIDB_DIM_MIN, AKIDB_DIM_MAX);
    return AKIDB_EINVAL;
  }
  akidb_flat_t *f = calloc(1, sizeof *f);
  if (!f) return AKIDB_ENOMEM;
  int rc = metric_init(&f->metric, metric, err, errlen);
  if (rc) {
    free(f);
    return rc;
  }
  f->dim = dim;
  pthread_rwlock_init(&f->lock, NULL);
  label_map_init(&f->map, NULL);
  *out = f;
  return AKIDB_OK;
}

void akidb_flat_free(akidb_flat_t *f) {
  if (!f) return;
  pthread_rwlock_destroy(&f->lock);
  free(f->vecs);
  free(f->labels);
  label_map_free(&f->map);
  free(f);
}

/* Grows the arenas to hold `need` points. Caller holds the write lock. */
static int reserve(akidb_flat_t *f, size_t need) {
  if (need <= f->cap) return AKIDB_OK;
  size_t cap = f->cap ? f->cap : 64;
  while (cap < need) cap *= 2;
  size_t bytes = (cap * f->dim * sizeof(float) + 63) & ~(size_t)63;
  float *v = aligned_alloc(64, bytes);
  uint64_t *l = realloc(f->labels, cap * sizeof *l);
  if (!v || !l) {
    free(v);
    if (l) f->labels = l;
    return AKIDB_ENOMEM;
  }
  if (f->n) memcpy(v, f->vecs, f->n * f->dim * sizeof(float));
  free(f->vecs);
  f->vecs = v;
  f->labels = l;
  f->cap = cap;
  return label_map_reserve(&f->map, cap);
}

/* Stores one prepared vector. Caller holds the write lock and reserved room. */
static void put_prepared(akidb_flat_t *f, uint64_t label, const float *v) {
  uint32_t slot = label_map_get(&f->map, label);
  if (slot == LABEL_MAP_NONE) {
    slot = (uint32_t)f->n++;
    f->labels[slot] = label;
    label_map_put(&f->map, label, slot); /* room reserved: cannot fail */
  }
  memcpy(f->vecs + (size_t)slot * f->dim, v, f->dim * sizeof(float));
}

int akidb_flat_upsert(akidb_flat_t *f, uint64_t label, const float *vec) {
  return akidb_flat_upsert_batch(f, &label, vec, 1);
}

int akidb_flat_upsert_batch(akidb_flat_t *f, const uint64_t *labels,
                            const float *vecs, size_t n) {
  if (n >= UINT32_MAX - 1) return AKIDB_ELIMIT;
  float *prep = malloc(n * f->dim * sizeof(float) + 1);
  if (!prep) return AKIDB_ENOMEM;
  for (size_t i = 0; i < n; i++) { /* validate everything before changing anything */
    int rc = metric_prepare(f->metric.metric, vecs + i * f->dim,
                            prep + i * f->dim, f->dim);
    if (rc) {
      free(prep);
      return rc;
    }
  }
  pthread_rwlock_wrlock(&f->lock);
  int rc = f->n + n >= UINT32_MAX - 1 ? AKIDB_ELIMIT : reserve(f, f->n + n);
  if (rc == AKIDB_OK)
    for (size_t i = 0; i < n; i++) put_prepared(f, labels[i], prep + i * f->dim);
  pthread_rwlock_unlock(&f->lock);
  free(prep);
  return rc;
}

int akidb_flat_delete(akidb_flat_t *f, uint64_t label) {
  pthread_rwlock_wrlock(&f->lock);
  uint32_t slot = label_map_get(&f->map, label);
  if (slot == LABEL_MAP_NONE) {
    pthread_rwlock_unlock(&f->lock);
    return AKIDB_ENOTFOUND;
  }
  label_map_remove(&f->map, label);
  size_t last = --f->n;
  if (slot != last) { /* move the last point into the hole */
    memcpy(f->vecs + (size_t)slot * f->dim, f->vecs + last * f->dim,
           f->dim * sizeof(float));
    f->labels[slot] = f->labels[last];
    label_map_put(&f->map, f->labels[slot], slot);
  }
  pthread_rwlock_unlock(&f->lock);
  return AKIDB_OK;
}

uint64_t akidb_flat_count(const akidb_flat_t *f) {
  akidb_flat_t *mf = (akidb_flat_t *)f;
  pthread_rwlock_rdlock(&mf->lock);
  uint64_t n = f->n;
  pthread_rwlock_unlock(&mf->lock);
  return n;
}

static int check_search_args(const akidb_flat_t *f, uint32_t k,
                             const akidb_filter_t *filter) {
  (void)f;
  if (k == 0 || k > AKIDB_K_MAX) return AKIDB_EINVAL;
  return filter_validate(filter);
}

/* Scans points for `nq` prepared queries; heaps[q] holds up to k hits. */
static void scan_block(const akidb_flat_t *f, const float *q, uint32_t nq,
                       uint32_t k, const akidb_filter_t *filter,
                       akidb_hit_t *heaps, uint32_t *counts) {
  for (size_t i = 0; i < f->n; i++) {
    uint64_t label = f->labels[i];
    if (!filter_allows(filter, label)) continue;
    const float *v = f->vecs + i * f->dim;
    for (uint32_t j = 0; j < nq; j++) {
      float d = metric_dist(&f->metric, q + (size_t)j * f->dim, v, f->dim);
      hits_offer(heaps + (size_t)j * k, &counts[j], k, d, label);
    }
  }
}

int akidb_flat_search_batch(const akidb_flat_t *f, const float *queries,
                            uint32_t nq, uint32_t k,
                            const akidb_filter_t *filter, akidb_hit_t *out,
                            uint32_t *n_out) {
  int rc = check_search_args(f, k, filter);
  if (rc) return rc;
  float *prep = malloc((size_t)QUERY_BLOCK * f->dim * sizeof(float));
  if (!prep) return AKIDB_ENOMEM;
  for (uint32_t q = 0; q < nq; q++) /* refuse bad queries before any work */
    if ((rc = metric_prepare(f->metric.metric, queries + (size_t)q * f->dim,
                             prep, f->dim))) {
      free(prep);
      return rc;
    }
  akidb_flat_t *mf = (akidb_flat_t *)f;
  pthread_rwlock_rdlock(&mf->lock);
  for (uint32_t q0 = 0; q0 < nq; q0 += QUERY_BLOCK) {
    uint32_t b = nq - q0 < QUERY_BLOCK ? nq - q0 : QUERY_BLOCK;
    for (uint32_t j = 0; j < b; j++) {
      metric_prepare(f->metric.metric, queries + (size_t)(q0 + j) * f->dim,
                     prep + (size_t)j * f->dim, f->dim);
      n_out[q0 + j] = 0;
    }
    scan_block(f, prep, b, k, filter, out + (size_t)q0 * k, n_out + q0);
    for (uint32_t j = 0; j < b; j++)
      hits_sort(out + (size_t)(q0 + j) * k, n_out[q0 + j]);
  }
  pthread_rwlock_unlock(&mf->lock);
  free(prep);
  return AKIDB_OK;
}

int akidb_flat_search(const akidb_flat_t *f, const float *query, uint32_t k,
                      const akidb_filter_t *filter, akidb_hit_t *out,
                      uint32_t *n_out) {
  return akidb_flat_search_batch(f, query, 1, k, filter, out, n_out);
}
