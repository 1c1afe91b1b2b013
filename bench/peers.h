/*
 * peers.h — the benchmark's peers behind a C ABI, so bench/ann.c can drive
 * them exactly as it drives AkiDB: hnswlib (header-only C++, compiled here
 * with -O3 -march=native) in peer_hnswlib.cpp, and FAISS IndexHNSWFlat
 * (Debian's prebuilt static libfaiss) in peer_faiss.cpp. Not part of
 * libakidb.
 *
 * Labels are row numbers. Distances follow AkiDB's "smaller is nearer":
 * squared L2, 1 - cos under AKIDB_METRIC_COSINE, -(a . b) under
 * AKIDB_METRIC_DOT. Under cosine both peers are handed unit vectors: each
 * vector is normalised (into a private copy) before it is added, and each
 * query before it is searched — the same work AkiDB does internally.
 *
 * No function throws: C++ exceptions are caught at this boundary and turned
 * into AkiDB error codes, with a sentence in `err` where there is one.
 *
 * Threads: peer_hnswlib_add may be called by any number of threads at once
 * (hnswlib's own per-node locks). Everything else, and every FAISS call,
 * needs exclusive use of the peer; FAISS parallelises inside
 * peer_faiss_add_batch with OpenMP instead.
 */
#ifndef AKIDB_BENCH_PEERS_H
#define AKIDB_BENCH_PEERS_H

#include <stddef.h>
#include <stdint.h>

#include "akidb/index.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------- hnswlib -- */

typedef struct peer_hnswlib peer_hnswlib_t;

/*
 * Creates an empty hnswlib HierarchicalNSW<float> over L2Space (l2) or
 * InnerProductSpace (cosine, dot) with room for `capacity` points; `seed`
 * seeds its level generator. Errors: AKIDB_EINVAL, AKIDB_ENOMEM.
 */
int peer_hnswlib_create(uint32_t dim, akidb_metric_t metric, uint32_t m,
                        uint32_t ef_construction, size_t capacity,
                        uint64_t seed, peer_hnswlib_t **out, char *err,
                        size_t errlen);

/* Adds one point (copied). Thread-safe. AKIDB_ELIMIT when full. */
int peer_hnswlib_add(peer_hnswlib_t *p, uint64_t label, const float *vec);

/* Sets the search candidate-list size (hnswlib raises it to k itself). */
void peer_hnswlib_set_ef(peer_hnswlib_t *p, uint32_t ef);

/*
 * Up to k nearest points, nearest first, into labels_out[] and dists_out[]
 * (each with room for k). Returns how many were written.
 */
uint32_t peer_hnswlib_search(const peer_hnswlib_t *p, const float *query,
                             uint32_t k, uint64_t *labels_out,
                             float *dists_out);

/* Frees the index. NULL is accepted. */
void peer_hnswlib_free(peer_hnswlib_t *p);

/* "0.6.2 (Debian libhnswlib-dev)" or "unknown". */
const char *peer_hnswlib_version(void);

/* The C++ compiler the peers were built with ("g++ 12.2.0"). */
const char *peer_cxx_compiler(void);

/* --------------------------------------------------------------- FAISS -- */

typedef struct peer_faiss peer_faiss_t;

/*
 * Creates an empty faiss::IndexHNSWFlat with M = m, efConstruction =
 * ef_construction, METRIC_L2 (l2) or METRIC_INNER_PRODUCT (cosine, dot).
 * `capacity` only reserves address space (never touched before use), so
 * growing to it does not leave a transient double copy; `seed` seeds FAISS's
 * level generator. Errors: AKIDB_EINVAL, AKIDB_ENOMEM.
 */
int peer_faiss_create(uint32_t dim, akidb_metric_t metric, uint32_t m,
                      uint32_t ef_construction, size_t capacity,
                      uint64_t seed, peer_faiss_t **out, char *err,
                      size_t errlen);

/*
 * Adds n points vecs[i*dim..]; they get the labels count .. count+n-1 (FAISS
 * numbers points in order). FAISS's own OpenMP add runs with `threads`
 * threads (omp_set_num_threads). Under cosine the points are normalised and
 * added in slices of a few MiB, so no full normalised copy is ever held.
 */
int peer_faiss_add_batch(peer_faiss_t *p, const float *vecs, size_t n,
                         int threads, char *err, size_t errlen);

/* Sets efSearch. */
void peer_faiss_set_ef(peer_faiss_t *p, uint32_t ef);

/*
 * Up to k nearest points, nearest first, as peer_hnswlib_search. Searching
 * runs FAISS with one OpenMP thread.
 */
uint32_t peer_faiss_search(const peer_faiss_t *p, const float *query,
                           uint32_t k, uint64_t *labels_out,
                           float *dists_out);

/* Frees the index. NULL is accepted. */
void peer_faiss_free(peer_faiss_t *p);

/* "1.7.3". */
const char *peer_faiss_version(void);

#ifdef __cplusplus
}
#endif

#endif /* AKIDB_BENCH_PEERS_H */
