/*
 * metric.h — turns a metric into a distance function over the active SIMD
 * kernels ("smaller is nearer"), and checks/normalises incoming vectors.
 * Shared by the HNSW and flat indexes. Stateless after metric_init.
 */
#ifndef AKIDB_INDEX_METRIC_H
#define AKIDB_INDEX_METRIC_H

#include <stddef.h>

#include "akidb/index.h"
#include "akidb/vec.h"

/*
 * Cosine runs on normalised vectors, where 1 - cos(a, b) = |a - b|^2 / 2:
 * computing it from the squared L2 distance keeps precision for near
 * duplicates and lets cosine use the early-stopping L2 kernel too.
 */
typedef struct {
  akidb_metric_t metric;
  akidb_dist_fn raw;                /* l2sq for l2 and cosine, dot for dot */
  akidb_dist4_fn raw4;              /* four at once */
  akidb_dist_bounded_fn raw_bounded; /* l2sq_bounded, or NULL for dot */
} metric_t;

/* Binds the active kernels. AKIDB_ENOTSUP/EINVAL when AKIDB_SIMD is bad. */
int metric_init(metric_t *m, akidb_metric_t metric, char *err, size_t errlen);

/* Distance between two stored (prepared) vectors. */
static inline float metric_dist(const metric_t *m, const float *a,
                                const float *b, size_t dim) {
  float r = m->raw(a, b, dim);
  if (m->metric == AKIDB_METRIC_L2) return r;
  return m->metric == AKIDB_METRIC_COSINE ? 0.5f * r : -r;
}

/*
 * The distance when it is below `bound`; otherwise some value >= bound
 * (the kernel may stop early). Exact for dot, which cannot stop early.
 */
static inline float metric_dist_bounded(const metric_t *m, const float *a,
                                        const float *b, size_t dim,
                                        float bound) {
  if (m->metric == AKIDB_METRIC_L2) return m->raw_bounded(a, b, dim, bound);
  if (m->metric == AKIDB_METRIC_COSINE)
    return 0.5f * m->raw_bounded(a, b, dim, 2.0f * bound);
  return -m->raw(a, b, dim);
}

/* Four distances from q to v[0..3]. */
static inline void metric_dist4(const metric_t *m, const float *q,
                                const float *const v[4], size_t dim,
                                float out[4]) {
  m->raw4(q, v, dim, out);
  if (m->metric == AKIDB_METRIC_L2) return;
  for (int i = 0; i < 4; i++)
    out[i] = m->metric == AKIDB_METRIC_COSINE ? 0.5f * out[i] : -out[i];
}

/*
 * Copies `in` to `out` (dim floats) as the index stores it: refuses NaN/Inf
 * (AKIDB_EVALUE) and, under cosine, normalises (a zero vector is refused).
 */
int metric_prepare(akidb_metric_t metric, const float *in, float *out,
                   size_t dim);

/* Whether metric_prepare would take `in`, without copying it: AKIDB_OK or
 * AKIDB_EVALUE (NaN/Inf, or a zero vector under cosine). One pass. */
int metric_check(akidb_metric_t metric, const float *in, size_t dim);

/* Whether `label` passes `f` (NULL passes everything). */
static inline int filter_allows(const akidb_filter_t *f, uint64_t label) {
  if (!f) return 1;
  if (f->bits && (label >= f->nbits || !((f->bits[label >> 6] >> (label & 63)) & 1)))
    return 0;
  if (f->allow && !f->allow(label, f->ctx)) return 0;
  return 1;
}

/* Checks a filter has something to test. AKIDB_EINVAL otherwise. */
int filter_validate(const akidb_filter_t *f);

#endif /* AKIDB_INDEX_METRIC_H */
