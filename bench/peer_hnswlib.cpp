/*
 * peer_hnswlib.cpp — owns the hnswlib peer of bench/ann: a thin C wrapper
 * (see peers.h) around hnswlib::HierarchicalNSW<float>. This is the only
 * translation unit that includes <hnswlib/hnswlib.h> (the header defines
 * non-inline functions). Locking is hnswlib's own: concurrent addPoint calls
 * are safe; search and set_ef need the index to themselves. Also reports
 * the C++ compiler, since this file is built with the peers' flags.
 */
#include "peers.h"

#include <hnswlib/hnswlib.h>

#include <cmath>
#include <cstdio>
#include <exception>
#include <new>
#include <vector>

#ifndef PEER_HNSWLIB_VERSION
#define PEER_HNSWLIB_VERSION "unknown"
#endif

struct peer_hnswlib {
  hnswlib::SpaceInterface<float> *space;
  hnswlib::HierarchicalNSW<float> *index;
  uint32_t dim;
  bool normalise;   /* cosine: add and search unit vectors */
  float dist_shift; /* dot: hnswlib's 1 - a.b becomes AkiDB's -(a.b) */
};

/* Copies `vec` into `out`, scaled to unit length (a zero vector stays zero). */
static void copy_normalised(const float *vec, uint32_t dim,
                            std::vector<float> &out) {
  out.assign(vec, vec + dim);
  double sum = 0;
  for (uint32_t i = 0; i < dim; i++) sum += (double)vec[i] * vec[i];
  if (sum <= 0) return;
  float inv = (float)(1.0 / std::sqrt(sum));
  for (uint32_t i = 0; i < dim; i++) out[i] *= inv;
}

/* The vector hnswlib should see: `vec` itself, or its normalised copy. */
static const float *prepare(const peer_hnswlib *p, const float *vec,
                            std::vector<float> &scratch) {
  if (!p->normalise) return vec;
  copy_normalised(vec, p->dim, scratch);
  return scratch.data();
}

extern "C" int peer_hnswlib_create(uint32_t dim, akidb_metric_t metric,
                                   uint32_t m, uint32_t ef_construction,
                                   size_t capacity, uint64_t seed,
                                   peer_hnswlib_t **out, char *err,
                                   size_t errlen) {
  *out = nullptr;
  if (dim == 0 || m < 2 || capacity == 0) {
    if (err) snprintf(err, errlen, "hnswlib: bad dim/m/capacity");
    return AKIDB_EINVAL;
  }
  peer_hnswlib *p = new (std::nothrow) peer_hnswlib();
  if (!p) return AKIDB_ENOMEM;
  p->dim = dim;
  p->normalise = metric == AKIDB_METRIC_COSINE;
  p->dist_shift = metric == AKIDB_METRIC_DOT ? -1.0f : 0.0f;
  try {
    if (metric == AKIDB_METRIC_L2)
      p->space = new hnswlib::L2Space(dim);
    else
      p->space = new hnswlib::InnerProductSpace(dim);
    p->index = new hnswlib::HierarchicalNSW<float>(p->space, capacity, m,
                                                   ef_construction, seed);
  } catch (const std::exception &e) {
    if (err) snprintf(err, errlen, "hnswlib: %s", e.what());
    peer_hnswlib_free(p);
    return AKIDB_ENOMEM;
  }
  *out = p;
  return AKIDB_OK;
}

extern "C" int peer_hnswlib_add(peer_hnswlib_t *p, uint64_t label,
                                const float *vec) {
  thread_local std::vector<float> scratch;
  try {
    p->index->addPoint(prepare(p, vec, scratch), label);
  } catch (const std::bad_alloc &) {
    return AKIDB_ENOMEM;
  } catch (const std::exception &) {
    return AKIDB_ELIMIT; /* "number of elements exceeds the limit" */
  }
  return AKIDB_OK;
}

extern "C" void peer_hnswlib_set_ef(peer_hnswlib_t *p, uint32_t ef) {
  p->index->setEf(ef);
}

extern "C" uint32_t peer_hnswlib_search(const peer_hnswlib_t *p,
                                        const float *query, uint32_t k,
                                        uint64_t *labels_out,
                                        float *dists_out) {
  thread_local std::vector<float> scratch;
  try {
    auto top = p->index->searchKnn(prepare(p, query, scratch), k);
    /* A max-heap: the farthest comes out first, so fill from the back. */
    uint32_t n = (uint32_t)top.size();
    for (uint32_t i = n; i-- > 0; top.pop()) {
      labels_out[i] = top.top().second;
      dists_out[i] = top.top().first + p->dist_shift;
    }
    return n;
  } catch (const std::exception &) {
    return 0;
  }
}

extern "C" void peer_hnswlib_free(peer_hnswlib_t *p) {
  if (!p) return;
  delete p->index;
  delete p->space;
  delete p;
}

extern "C" const char *peer_hnswlib_version(void) {
  return PEER_HNSWLIB_VERSION;
}

extern "C" const char *peer_cxx_compiler(void) {
#if defined(__clang__)
  return "clang++ " __clang_version__;
#elif defined(__GNUC__)
  return "g++ " __VERSION__;
#else
  return "unknown C++ compiler";
#endif
}
