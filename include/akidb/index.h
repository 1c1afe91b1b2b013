/*
 * akidb/index.h — in-memory vector indexes: HNSW (approximate) and flat
 * (exact), with filtered search.
 *
 * Points are identified by a caller-chosen 64-bit label (the collection layer
 * maps client ids to labels). Distances are "smaller is nearer":
 *   l2     squared Euclidean distance
 *   cosine 1 - cos(a, b)   (vectors are normalised on insert and query)
 *   dot    -(a . b)
 *
 * Thread safety: any number of threads may call insert, delete and search on
 * one index at once. compact, save and free need exclusive use (compact and
 * save take the index's write lock themselves; free must be the last call).
 */
#ifndef AKIDB_INDEX_H
#define AKIDB_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "akidb/errors.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  AKIDB_METRIC_L2 = 0,
  AKIDB_METRIC_COSINE = 1,
  AKIDB_METRIC_DOT = 2
} akidb_metric_t;

/* "l2", "cosine", "dot". */
const char *akidb_metric_name(akidb_metric_t metric);
/* Parses a metric name. Returns AKIDB_OK or AKIDB_EINVAL. */
int akidb_metric_parse(const char *name, akidb_metric_t *out);

#define AKIDB_DIM_MIN 1u
#define AKIDB_DIM_MAX 65536u

/* HNSW tunables: DEFAULT / MIN / MAX, validated by akidb_hnsw_params_validate. */
#define AKIDB_HNSW_M_DEFAULT 16u
#define AKIDB_HNSW_M_MIN 2u
#define AKIDB_HNSW_M_MAX 100u
#define AKIDB_HNSW_EF_CONSTRUCTION_DEFAULT 200u
#define AKIDB_HNSW_EF_CONSTRUCTION_MIN 4u
#define AKIDB_HNSW_EF_CONSTRUCTION_MAX 4096u
#define AKIDB_HNSW_EF_SEARCH_DEFAULT 160u /* recall@10 0.968 on sift5k, 1.0 on glove25 */
#define AKIDB_HNSW_EF_SEARCH_MIN 1u
#define AKIDB_HNSW_EF_SEARCH_MAX 65536u
#define AKIDB_K_MAX 65536u

/* A result: the point's label and its distance to the query. */
typedef struct {
  uint64_t label;
  float distance;
} akidb_hit_t;

/*
 * An allow-set for filtered search. Either `bits` (bit i set = label i is
 * allowed; labels >= nbits are not allowed) or `allow` (a predicate called
 * with a label) must be set; when both are, a point must pass both.
 * `allow` may be called from the searching thread only, any number of times.
 */
typedef struct {
  const uint64_t *bits;
  uint64_t nbits;
  bool (*allow)(uint64_t label, void *ctx);
  void *ctx;
} akidb_filter_t;

/*
 * A memory account: the bytes an index (or a collection) holds, counted as
 * it allocates and frees. Opaque; the store embeds one per collection.
 */
typedef struct akidb_memacct akidb_memacct_t;

/* ---------------------------------------------------------------- HNSW -- */

typedef struct {
  uint32_t dim;               /* 1..65536 */
  akidb_metric_t metric;
  uint32_t m;                 /* links per node on upper layers; 2m on layer 0 */
  uint32_t ef_construction;   /* candidate list size while inserting, >= m */
  uint32_t ef_search;         /* default candidate list size for search */
  uint64_t seed;              /* level generation: same seed, same graph */
  uint64_t initial_capacity;  /* points to reserve room for (grows as needed) */
} akidb_hnsw_params_t;

typedef struct akidb_hnsw akidb_hnsw_t;

/* Fills `p` with the defaults for a `dim`-dimensional index of `metric`. */
void akidb_hnsw_params_default(akidb_hnsw_params_t *p, uint32_t dim,
                               akidb_metric_t metric);

/*
 * Checks every field against its MIN/MAX. Returns AKIDB_OK or AKIDB_EINVAL
 * with `err` naming the field, its value and the accepted range.
 */
int akidb_hnsw_params_validate(const akidb_hnsw_params_t *p, char *err,
                               size_t errlen);

/*
 * Creates an empty index. Errors: AKIDB_EINVAL (bad params, see `err`),
 * AKIDB_ENOTSUP (AKIDB_SIMD forces an instruction set the CPU lacks),
 * AKIDB_ENOMEM.
 */
int akidb_hnsw_create(const akidb_hnsw_params_t *p, akidb_hnsw_t **out,
                      char *err, size_t errlen);

/* Frees the index and everything it owns. NULL is accepted. */
void akidb_hnsw_free(akidb_hnsw_t *h);

/* The parameters the index was created with (ef_search as last set). */
void akidb_hnsw_get_params(const akidb_hnsw_t *h, akidb_hnsw_params_t *out);

/* Sets the default ef for searches. AKIDB_EINVAL when out of range. */
int akidb_hnsw_set_ef_search(akidb_hnsw_t *h, uint32_t ef);

/*
 * Inserts one point. `vec` holds `dim` floats and is copied. Errors:
 * AKIDB_EEXIST (a live point has this label; use akidb_hnsw_upsert),
 * AKIDB_EVALUE (NaN/Inf, or a zero vector under cosine), AKIDB_ENOMEM,
 * AKIDB_ELIMIT (more than 2^32-2 stored points).
 */
int akidb_hnsw_insert(akidb_hnsw_t *h, uint64_t label, const float *vec);

/* Inserts, or replaces the vector of an existing live label. */
int akidb_hnsw_upsert(akidb_hnsw_t *h, uint64_t label, const float *vec);

/*
 * Marks a point deleted: it is never returned again, but keeps routing
 * searches until akidb_hnsw_compact(). AKIDB_ENOTFOUND if not live.
 */
int akidb_hnsw_delete(akidb_hnsw_t *h, uint64_t label);

/* Whether a live point has this label. */
bool akidb_hnsw_contains(const akidb_hnsw_t *h, uint64_t label);

/* Copies the stored vector of a live label (normalised under cosine). */
int akidb_hnsw_get_vector(const akidb_hnsw_t *h, uint64_t label, float *out);

/*
 * Removes deleted points for good: links around them are rebuilt with the
 * neighbour-selection heuristic, storage is renumbered densely and the
 * freed memory returned. Takes the index's write lock.
 */
int akidb_hnsw_compact(akidb_hnsw_t *h);

/*
 * k nearest live points to `query`, nearest first, into out[0..*n_out).
 * `ef` 0 means the index default; it is raised to k when smaller. `filter`
 * may be NULL; with one, results come only from allowed points, and when the
 * allowed fraction is small the search is an exact scan of allowed points.
 * Errors: AKIDB_EINVAL (k 0 or > AKIDB_K_MAX, ef too large, empty filter),
 * AKIDB_EVALUE (NaN/Inf query, or zero under cosine), AKIDB_ENOMEM.
 */
int akidb_hnsw_search(const akidb_hnsw_t *h, const float *query, uint32_t k,
                      uint32_t ef, const akidb_filter_t *filter,
                      akidb_hit_t *out, uint32_t *n_out);

/* How a search ran (for slow-request logs): an exact scan or the graph,
 * the ef used on the graph, the filter's estimated allowed fraction (-1:
 * no filter). */
typedef struct {
  bool exact;
  uint32_t ef;
  double filter_fraction;
} akidb_hnsw_plan_t;

/* akidb_hnsw_search, also filling *plan (NULL: not wanted). */
int akidb_hnsw_search_planned(const akidb_hnsw_t *h, const float *query, uint32_t k,
                              uint32_t ef, const akidb_filter_t *filter, akidb_hit_t *out,
                              uint32_t *n_out, akidb_hnsw_plan_t *plan);

/* Exact k nearest live (and allowed) points by scanning every one. */
int akidb_hnsw_search_exact(const akidb_hnsw_t *h, const float *query,
                            uint32_t k, const akidb_filter_t *filter,
                            akidb_hit_t *out, uint32_t *n_out);

/* Live points, and points deleted but not yet compacted. */
uint64_t akidb_hnsw_count(const akidb_hnsw_t *h);
uint64_t akidb_hnsw_deleted_count(const akidb_hnsw_t *h);

/*
 * Bytes of memory the index holds (vectors, links, labels, levels, flags,
 * locks, label map, search scratch), counted as it allocates and frees: an
 * atomic load, never waits.
 */
uint64_t akidb_hnsw_memory_bytes(const akidb_hnsw_t *h);

/*
 * Makes room for `more` inserts beyond the slots in use, so they do not grow
 * the arenas one step at a time: the capacity becomes at least
 * used + more, and at least the next step of the growth policy when it has
 * to grow at all (so repeated small reservations stay amortised). Never
 * shrinks. Takes the index's write lock briefly when it grows. Errors:
 * AKIDB_ENOMEM (the index is unchanged), AKIDB_ELIMIT.
 */
int akidb_hnsw_reserve(akidb_hnsw_t *h, uint64_t more);

/*
 * Makes `parent` (NULL: none) also count the index's bytes, from now on
 * and what it holds already; clones made from it charge the same parent.
 * Call before other threads use the index. The parent must outlive it.
 */
void akidb_hnsw_set_memacct(akidb_hnsw_t *h, akidb_memacct_t *parent);

/*
 * Writes the index to `path` (via a temporary file, fsync and rename, so a
 * crash leaves the old file or the new one). Takes the write lock: a consistent snapshot.
 */
int akidb_hnsw_save(akidb_hnsw_t *h, const char *path, char *err,
                    size_t errlen);

/*
 * Loads an index written by akidb_hnsw_save. Errors: AKIDB_EIO (cannot
 * read), AKIDB_EFORMAT (not an AkiDB HNSW file), AKIDB_EVERSION (newer
 * format), AKIDB_ECORRUPT (checksum mismatch, truncated, inconsistent).
 * `err` says which.
 */
int akidb_hnsw_load(const char *path, akidb_hnsw_t **out, char *err,
                    size_t errlen);

/* akidb_hnsw_save and akidb_hnsw_load through a VFS (include/akidb/vfs.h;
 * NULL: the local filesystem), with the same protocol and errors. */
struct akidb_vfs;
int akidb_hnsw_save_vfs(akidb_hnsw_t *h, const struct akidb_vfs *vfs, const char *path,
                        char *err, size_t errlen);
int akidb_hnsw_load_vfs(const struct akidb_vfs *vfs, const char *path, akidb_hnsw_t **out,
                        char *err, size_t errlen);

/* Byte sinks and sources for streaming an index image: return 0, or an
 * errno value to stop (a source must deliver exactly `len` bytes). */
typedef int (*akidb_write_fn)(void *ctx, const void *data, size_t len);
typedef int (*akidb_read_fn)(void *ctx, void *data, size_t len);

/* Size in bytes of the image akidb_hnsw_write_image would write now. */
uint64_t akidb_hnsw_image_bytes(akidb_hnsw_t *h);

/*
 * Streams the index, in the file format of akidb_hnsw_save, to `write`:
 * akidb_hnsw_freeze, then akidb_hnsw_write_frozen. Takes the index's lock
 * for reading: searches and deletes go on meanwhile (the image is the index
 * as of the call), but the caller must keep inserts and compaction out
 * until it returns. Errors: AKIDB_EIO (the sink's errno in `err`),
 * AKIDB_ENOMEM.
 */
int akidb_hnsw_write_image(akidb_hnsw_t *h, akidb_write_fn write, void *ctx,
                           char *err, size_t errlen);

/*
 * A frozen view for streaming an image while deletes go on: the deleted
 * marks (one byte per slot), live and deleted counts and entry point as
 * of the call, taken under the index's read lock in O(slots). An image
 * written from it (akidb_hnsw_write_frozen) is the index as it was at the
 * freeze, provided no insert or compaction ran since (the caller keeps
 * them out); deletes may run meanwhile. Errors: AKIDB_ENOMEM. Free it with
 * akidb_hnsw_frozen_free (NULL accepted).
 */
typedef struct akidb_hnsw_frozen akidb_hnsw_frozen_t;
int akidb_hnsw_freeze(akidb_hnsw_t *h, akidb_hnsw_frozen_t **out);
void akidb_hnsw_frozen_free(akidb_hnsw_frozen_t *f);
/* Slots of a frozen view (live or deleted at the freeze). */
uint32_t akidb_hnsw_frozen_slots(const akidb_hnsw_frozen_t *f);
/* Slot s (< akidb_hnsw_frozen_slots) as of the freeze: *label receives its
 * label and *vec its stored vector (normalised under cosine), valid while
 * the caller keeps inserts and compaction out (as for
 * akidb_hnsw_write_frozen), also when it is deleted meanwhile.
 * AKIDB_ENOTFOUND when the slot was not live at the freeze. */
int akidb_hnsw_frozen_slot(const akidb_hnsw_t *h, const akidb_hnsw_frozen_t *f, uint32_t s,
                           uint64_t *label, const float **vec);
/* Size in bytes of the image of a frozen view. */
uint64_t akidb_hnsw_frozen_bytes(const akidb_hnsw_t *h, const akidb_hnsw_frozen_t *f);
/* Streams the image of a frozen view to `write` under the index's read
 * lock (searches and deletes go on). Errors: AKIDB_EIO (the sink's errno). */
int akidb_hnsw_write_frozen(akidb_hnsw_t *h, const akidb_hnsw_frozen_t *f, akidb_write_fn write,
                            void *ctx, char *err, size_t errlen);

/*
 * Reads an image of exactly `len` bytes from `read` (as written by
 * akidb_hnsw_write_image). Errors as akidb_hnsw_load.
 */
int akidb_hnsw_read_image(akidb_read_fn read, void *ctx, uint64_t len,
                          akidb_hnsw_t **out, char *err, size_t errlen);

/*
 * A deep copy of the index (vectors, graph, deleted marks, label map) taken
 * under its read lock: searches go on; the caller keeps inserts out while
 * it runs. Deletes may run: each is either in the copy or not (its live and
 * deleted counts follow the marks it copied), so a caller that records them
 * can apply them to the copy afterwards. Errors: AKIDB_ENOMEM.
 */
int akidb_hnsw_clone(akidb_hnsw_t *h, akidb_hnsw_t **out);

/* ---------------------------------------------------------------- flat -- */

typedef struct akidb_flat akidb_flat_t;

/* Creates an empty exact index. Errors as akidb_hnsw_create. */
int akidb_flat_create(uint32_t dim, akidb_metric_t metric,
                      akidb_flat_t **out, char *err, size_t errlen);

/* Frees the index. NULL is accepted. */
void akidb_flat_free(akidb_flat_t *f);

/* Adds (or replaces) a point. Errors: AKIDB_EVALUE, AKIDB_ENOMEM. */
int akidb_flat_upsert(akidb_flat_t *f, uint64_t label, const float *vec);

/* Adds n points with labels[i] and vecs[i*dim..]: all or nothing. */
int akidb_flat_upsert_batch(akidb_flat_t *f, const uint64_t *labels,
                            const float *vecs, size_t n);

/* Removes a point (its slot is reused). AKIDB_ENOTFOUND if absent. */
int akidb_flat_delete(akidb_flat_t *f, uint64_t label);

/* Number of points. */
uint64_t akidb_flat_count(const akidb_flat_t *f);

/* Exact k nearest points, nearest first; ties go to the smaller label. */
int akidb_flat_search(const akidb_flat_t *f, const float *query, uint32_t k,
                      const akidb_filter_t *filter, akidb_hit_t *out,
                      uint32_t *n_out);

/*
 * nq queries (queries[i*dim..]) at once: results of query i go to
 * out[i*k..], their number to n_out[i]. Scans the data once per block of
 * queries so large batches stay cache-friendly.
 */
int akidb_flat_search_batch(const akidb_flat_t *f, const float *queries,
                            uint32_t nq, uint32_t k,
                            const akidb_filter_t *filter, akidb_hit_t *out,
                            uint32_t *n_out);

#ifdef __cplusplus
}
#endif

#endif /* AKIDB_INDEX_H */
