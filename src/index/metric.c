/*
 * metric.c — owns metric names, binding a metric to the SIMD kernels, and
 * the checks every stored or queried vector passes. Stateless.
 */
#include "index/metric.h"

#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

const char *akidb_metric_name(akidb_metric_t metric) {
  switch (metric) {
  case AKIDB_METRIC_L2: return "l2";
  case AKIDB_METRIC_COSINE: return "cosine";
  case AKIDB_METRIC_DOT: return "dot";
  }
  return "unknown";
}

int akidb_metric_parse(const char *name, akidb_metric_t *out) {
  static const akidb_metric_t all[] = {AKIDB_METRIC_L2, AKIDB_METRIC_COSINE,
                                       AKIDB_METRIC_DOT};
  for (size_t i = 0; name && i < 3; i++)
    if (strcmp(name, akidb_metric_name(all[i])) == 0) {
      *out = all[i];
      return AKIDB_OK;
    }
  return AKIDB_EINVAL;
}

int metric_init(metric_t *m, akidb_metric_t metric, char *err, size_t errlen) {
  if (metric != AKIDB_METRIC_L2 && metric != AKIDB_METRIC_COSINE &&
      metric != AKIDB_METRIC_DOT) {
    if (err) snprintf(err, errlen, "metric %d is not one of l2, cosine, dot", (int)metric);
    return AKIDB_EINVAL;
  }
  int rc = akidb_simd_init(err, errlen);
  if (rc) return rc;
  const akidb_kernels_t *k = akidb_kernels();
  m->metric = metric;
  bool l2 = metric != AKIDB_METRIC_DOT; /* cosine: |a-b|^2/2 on unit vectors */
  m->raw = l2 ? k->l2sq : k->dot;
  m->raw4 = l2 ? k->l2sq4 : k->dot4;
  m->raw_bounded = l2 ? k->l2sq_bounded : NULL;
  return AKIDB_OK;
}

int metric_check(akidb_metric_t metric, const float *in, size_t dim) {
  if (!in) return AKIDB_EVALUE;
  double norm = akidb_norm(in, dim); /* the same sum akidb_normalize decides on */
  if (!isfinite(norm)) return AKIDB_EVALUE;
  if (metric == AKIDB_METRIC_COSINE && !(norm > 0.0 && norm <= (double)FLT_MAX))
    return AKIDB_EVALUE;
  return AKIDB_OK;
}

int metric_prepare(akidb_metric_t metric, const float *in, float *out,
                   size_t dim) {
  if (!in) return AKIDB_EVALUE;
  if (metric != AKIDB_METRIC_COSINE && metric_check(metric, in, dim)) return AKIDB_EVALUE;
  if (out != in) memcpy(out, in, dim * sizeof(float));
  /* cosine: the norm's one pass also finds NaN/Inf (then it is not finite) */
  if (metric == AKIDB_METRIC_COSINE && akidb_normalize(out, dim) == 0.0f)
    return AKIDB_EVALUE;
  return AKIDB_OK;
}

int filter_validate(const akidb_filter_t *f) {
  if (!f) return AKIDB_OK;
  if (!f->bits && !f->allow) return AKIDB_EINVAL;
  return AKIDB_OK;
}
