/*
 * peer_faiss.cpp — owns the FAISS peer of bench/ann: a thin C wrapper (see
 * peers.h) around faiss::IndexHNSWFlat from Debian's static libfaiss. Adds
 * are batched and parallelised by FAISS itself with OpenMP (the thread count
 * is set per batch); searches run with one OpenMP thread. No locking: the
 * caller uses one peer from one thread at a time.
 */
#include "peers.h"

#include <faiss/Index.h>
#include <faiss/IndexFlatCodes.h>
#include <faiss/IndexHNSW.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <exception>
#include <new>
#include <vector>

/* Bytes of normalised copy held at once while adding cosine points. */
static const size_t NORMALISE_SLICE_BYTES = 8u << 20;

struct peer_faiss {
  faiss::IndexHNSWFlat *index;
  uint32_t dim;
  akidb_metric_t metric;
};

/* Writes the unit-length version of `vec` into `out` (zero stays zero). */
static void normalise_into(const float *vec, uint32_t dim, float *out) {
  double sum = 0;
  for (uint32_t i = 0; i < dim; i++) sum += (double)vec[i] * vec[i];
  float inv = sum > 0 ? (float)(1.0 / std::sqrt(sum)) : 1.0f;
  for (uint32_t i = 0; i < dim; i++) out[i] = vec[i] * inv;
}

/*
 * Reserves (without touching) the vectors FAISS grows while adding, so
 * several batches never reallocate and briefly hold two copies.
 */
static void reserve_storage(faiss::IndexHNSWFlat *index, size_t capacity,
                            uint32_t m) {
  auto *codes = dynamic_cast<faiss::IndexFlatCodes *>(index->storage);
  if (codes) codes->codes.reserve(capacity * codes->code_size);
  faiss::HNSW &g = index->hnsw;
  g.levels.reserve(capacity);
  g.offsets.reserve(capacity + 1);
  /* 2m links on layer 0 plus m per upper layer (1/(m-1) of them on average). */
  g.neighbors.reserve(capacity * (2 * (size_t)m + 2));
}

extern "C" int peer_faiss_create(uint32_t dim, akidb_metric_t metric,
                                 uint32_t m, uint32_t ef_construction,
                                 size_t capacity, uint64_t seed,
                                 peer_faiss_t **out, char *err,
                                 size_t errlen) {
  *out = nullptr;
  if (dim == 0 || m < 2) {
    if (err) snprintf(err, errlen, "faiss: bad dim or m");
    return AKIDB_EINVAL;
  }
  peer_faiss *p = new (std::nothrow) peer_faiss();
  if (!p) return AKIDB_ENOMEM;
  p->dim = dim;
  p->metric = metric;
  try {
    faiss::MetricType mt = metric == AKIDB_METRIC_L2
                               ? faiss::METRIC_L2
                               : faiss::METRIC_INNER_PRODUCT;
    p->index = new faiss::IndexHNSWFlat((int)dim, (int)m, mt);
    p->index->hnsw.efConstruction = (int)ef_construction;
    p->index->hnsw.rng = faiss::RandomGenerator((int64_t)seed);
    reserve_storage(p->index, capacity, m);
  } catch (const std::exception &e) {
    if (err) snprintf(err, errlen, "faiss: %s", e.what());
    peer_faiss_free(p);
    return AKIDB_ENOMEM;
  }
  omp_set_num_threads(1);
  *out = p;
  return AKIDB_OK;
}

/* Adds n points in normalised slices (cosine). */
static void add_normalised(peer_faiss *p, const float *vecs, size_t n) {
  size_t row_bytes = (size_t)p->dim * sizeof(float);
  size_t slice = std::max<size_t>(1024, NORMALISE_SLICE_BYTES / row_bytes);
  std::vector<float> buf(std::min(slice, n) * p->dim);
  for (size_t start = 0; start < n; start += slice) {
    size_t rows = std::min(slice, n - start);
    for (size_t i = 0; i < rows; i++)
      normalise_into(vecs + (start + i) * p->dim, p->dim,
                     buf.data() + i * p->dim);
    p->index->add((faiss::Index::idx_t)rows, buf.data());
  }
}

extern "C" int peer_faiss_add_batch(peer_faiss_t *p, const float *vecs,
                                    size_t n, int threads, char *err,
                                    size_t errlen) {
  int rc = AKIDB_OK;
  omp_set_num_threads(threads > 0 ? threads : 1);
  try {
    if (p->metric == AKIDB_METRIC_COSINE)
      add_normalised(p, vecs, n);
    else
      p->index->add((faiss::Index::idx_t)n, vecs);
  } catch (const std::bad_alloc &) {
    rc = AKIDB_ENOMEM;
  } catch (const std::exception &e) {
    if (err) snprintf(err, errlen, "faiss: %s", e.what());
    rc = AKIDB_EINVAL;
  }
  omp_set_num_threads(1);
  return rc;
}

extern "C" void peer_faiss_set_ef(peer_faiss_t *p, uint32_t ef) {
  p->index->hnsw.efSearch = (int)ef;
}

/* FAISS's distance turned into AkiDB's "smaller is nearer". */
static float akidb_distance(const peer_faiss *p, float d) {
  switch (p->metric) {
  case AKIDB_METRIC_COSINE: return 1.0f - d;
  case AKIDB_METRIC_DOT: return -d;
  default: return d;
  }
}

extern "C" uint32_t peer_faiss_search(const peer_faiss_t *p,
                                      const float *query, uint32_t k,
                                      uint64_t *labels_out,
                                      float *dists_out) {
  thread_local std::vector<float> q, dist;
  thread_local std::vector<faiss::Index::idx_t> ids;
  const float *x = query;
  if (p->metric == AKIDB_METRIC_COSINE) {
    q.resize(p->dim);
    normalise_into(query, p->dim, q.data());
    x = q.data();
  }
  dist.resize(k);
  ids.resize(k);
  try {
    p->index->search(1, x, (faiss::Index::idx_t)k, dist.data(), ids.data());
  } catch (const std::exception &) {
    return 0;
  }
  uint32_t n = 0;
  for (uint32_t i = 0; i < k && ids[i] >= 0; i++, n++) {
    labels_out[i] = (uint64_t)ids[i];
    dists_out[i] = akidb_distance(p, dist[i]);
  }
  return n;
}

extern "C" void peer_faiss_free(peer_faiss_t *p) {
  if (!p) return;
  delete p->index;
  delete p;
}

#define PEER_STR2(x) #x
#define PEER_STR(x) PEER_STR2(x)

extern "C" const char *peer_faiss_version(void) {
  return PEER_STR(FAISS_VERSION_MAJOR) "." PEER_STR(
      FAISS_VERSION_MINOR) "." PEER_STR(FAISS_VERSION_PATCH);
}
