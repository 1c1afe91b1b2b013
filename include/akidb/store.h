/*
 * akidb/store.h — durable collections: a collection's points on disk (a
 * write-ahead log plus checkpoints) and in memory (an HNSW index plus an
 * append buffer of points not yet in the graph).
 *
 * A write (upsert or delete of a batch) is acknowledged once it is durable
 * under the collection's policy, and is visible to searches from then on:
 * points not yet in the graph are scanned exactly and merged with the
 * graph's results, so a search never misses an acknowledged point because
 * it is "not indexed yet", and a deleted or replaced point never reappears.
 * Jobs on a worker pool (akidb/pool.h, shared by every collection) move
 * buffered points into the graph, write checkpoints (by WAL size and time,
 * and at close) and compact the graph; a collection owns no thread.
 *
 * On-disk layout of a collection directory:
 *   wal/                 log segments (see docs/architecture.md)
 *   checkpoint-<seq>.akc the newest checkpoint: every point at log seq <seq>
 *                        and the HNSW graph
 *
 * Thread safety: every call except open/close/destroy may be made from any
 * number of threads at once. Pointers returned inside result structs are
 * owned by the caller and freed with the matching _free/_clear function.
 */
#ifndef AKIDB_STORE_H
#define AKIDB_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "akidb/errors.h"
#include "akidb/index.h"
#include "akidb/text.h"
#include "akidb/pool.h"
#include "akidb/vfs.h"

#ifdef __cplusplus
extern "C" {
#endif

#define AKIDB_POINT_ID_MAX 256u            /* bytes */
#define AKIDB_PAYLOAD_MAX (16u << 20)      /* bytes of payload JSON per point */
#define AKIDB_TEXT_MAX (16u << 20)         /* bytes of text per point */

typedef enum {
  AKIDB_DURABILITY_FSYNC = 0,    /* acknowledge after fsync (group commit) */
  AKIDB_DURABILITY_INTERVAL = 1, /* fsync every fsync_interval_ms: a crash may
                                    lose writes acknowledged in that window */
  AKIDB_DURABILITY_NONE = 2,     /* never fsync: tests and benchmarks only */
} akidb_durability_t;

/* "fsync", "interval", "none". */
const char *akidb_durability_name(akidb_durability_t d);
/* Parses a durability name. AKIDB_OK or AKIDB_EINVAL. */
int akidb_durability_parse(const char *name, akidb_durability_t *out);

/* Log levels of the collection's messages (recovery, checkpoints, failures). */
typedef enum { AKIDB_LOG_DEBUG, AKIDB_LOG_INFO, AKIDB_LOG_WARN, AKIDB_LOG_ERROR } akidb_log_level_t;
typedef void (*akidb_log_fn)(void *ctx, akidb_log_level_t level, const char *msg);

typedef struct {
  akidb_hnsw_params_t index;      /* dim, metric, m, ef_construction, ef_search, seed */
  akidb_durability_t durability;  /* default FSYNC */
  uint32_t fsync_interval_ms;     /* INTERVAL policy; default 100 */
  uint64_t wal_segment_bytes;     /* default 64 MiB */
  uint64_t checkpoint_wal_bytes;  /* checkpoint once the log holds this much; default 256 MiB */
  uint32_t checkpoint_interval_s; /* and at least this often while writes come; default 300 */
  double compact_deleted_ratio;   /* compact the graph when deleted/total exceeds it; default 0.2 */
  uint32_t index_threads;         /* pool workers that may index this collection at once;
                                     default 1 */
  uint32_t exact_below;           /* collections with fewer live points are searched exactly
                                     and, with background work, build no graph (their points
                                     stay in the append buffer until they reach it); default
                                     1000 */
  uint64_t max_pending;           /* points waiting for the graph before writes wait (then
                                     fail with AKIDB_EBUSY); 0 = unbounded (default) */
  uint32_t backpressure_wait_ms;  /* how long a write waits for room; default 1000 */
  bool background;                /* index, checkpoint and compact on the worker pool (default
                                     true); false: the caller drives akidb_collection_index_pending */
  bool unlogged;                  /* a bulk load into a collection no one else sees (a
                                     restore's staging copy): writes are applied in memory
                                     and not logged; the close's checkpoint is their one
                                     durable image, so a crash before the close loses them
                                     all (the caller then discards the directory). Default
                                     false. */
  bool caller_locks;              /* the caller guarantees that no one else opens this
                                     directory (the server locks its data directory once):
                                     no lock of its own, one file descriptor fewer */
  akidb_pool_t *pool;             /* the worker pool; NULL: the process-wide default
                                     (akidb_pool_default_acquire, released at close) */
  akidb_log_fn log;               /* NULL: messages go to stderr */
  void *log_ctx;
  const akidb_vfs_t *vfs;         /* every file of the collection goes through it
                                     (include/akidb/vfs.h); NULL: the local
                                     filesystem. Must outlive the collection. */
  bool text_index;                /* keep a BM25 index of the points' text in memory
                                     (include/akidb/text.h), built at open from the
                                     stored points and kept with every write; default
                                     true */
  akidb_text_bm25_params_t bm25;  /* its k1 and b; default 1.2 and 0.75 */
} akidb_collection_options_t;

/* Defaults for a `dim`-dimensional collection of `metric`. */
void akidb_collection_options_default(akidb_collection_options_t *o, uint32_t dim,
                                      akidb_metric_t metric);

/* Checks every option; AKIDB_EINVAL with `err` naming the field and range. */
int akidb_collection_options_validate(const akidb_collection_options_t *o, char *err,
                                      size_t errlen);

/* What opening (recovery) did. */
typedef struct {
  double seconds;              /* wall time of the whole open */
  uint64_t checkpoint_seq;     /* seq of the checkpoint loaded, 0 if none */
  uint64_t checkpoint_points;  /* points it held */
  uint64_t replayed_records;   /* log records applied after it */
  uint64_t replayed_points;    /* upserts + deletes in them */
  uint64_t truncated_bytes;    /* torn log tail cut off (also logged as a warning) */
} akidb_open_report_t;

typedef struct akidb_collection akidb_collection_t;

/*
 * Opens (creating when `dir` is absent or empty) the collection in `dir`:
 * loads the newest checkpoint, replays the log after it (a torn tail is cut
 * off with a warning), and starts the background threads. `o` must match
 * the dimension and metric the collection was created with. Errors:
 * AKIDB_EINVAL (options; a dimension or metric that differs from the stored
 * one), AKIDB_EIO, AKIDB_ECORRUPT (file and offset in `err`), AKIDB_EFORMAT,
 * AKIDB_EVERSION, AKIDB_ENOMEM. `report` may be NULL.
 */
int akidb_collection_open(const char *dir, const akidb_collection_options_t *o,
                          akidb_collection_t **out, akidb_open_report_t *report, char *err,
                          size_t errlen);

/*
 * Stops the background threads, writes a final checkpoint (unless the
 * collection has failed) and frees everything. Returns the checkpoint's
 * result; the collection is freed either way. NULL is accepted.
 */
int akidb_collection_close(akidb_collection_t *c, char *err, size_t errlen);

/*
 * Stops the background threads and frees everything WITHOUT a final
 * checkpoint: for a collection whose data is about to be removed (its
 * catalog row is gone), where a checkpoint would write every vector only
 * to delete it. What is on disk stays as the last write left it (log and
 * older checkpoint), so opening the directory again still recovers every
 * acknowledged write. NULL is accepted.
 */
void akidb_collection_discard(akidb_collection_t *c);

/* What a closed collection's directory says without opening it. */
typedef struct {
  uint64_t disk_bytes;        /* every file of the collection, log included */
  bool has_checkpoint;
  uint64_t checkpoint_seq;    /* the newest checkpoint's log position */
  uint64_t checkpoint_points; /* live points it holds: every point of a collection
                                 closed cleanly (a close writes a final checkpoint);
                                 after a crash the log may hold more */
} akidb_collection_peek_t;

/*
 * Reads the figures of the collection in `dir` without opening it (the
 * newest checkpoint's header and the files' sizes; a few small reads).
 * `vfs` NULL = local. Errors: AKIDB_ENOTFOUND (no such directory),
 * AKIDB_EIO, AKIDB_ECORRUPT (the checkpoint's header).
 */
int akidb_collection_peek(const char *dir, const akidb_vfs_t *vfs, akidb_collection_peek_t *out);

/* Removes a closed collection's directory and everything in it. */
int akidb_collection_destroy(const char *dir, char *err, size_t errlen);

/* One point to upsert. Pointers need only live during the call. */
typedef struct {
  const char *id; /* 1..AKIDB_POINT_ID_MAX bytes, any bytes except NUL */
  size_t id_len;
  const float *vector;  /* dim floats, finite (and non-zero under cosine) */
  const char *payload;  /* JSON object text stored as given, or NULL */
  size_t payload_len;
  const char *text;     /* optional text, or NULL */
  size_t text_len;
} akidb_point_t;

/*
 * Upserts a batch atomically: either every point is applied (each replacing
 * any point with the same id) or none is. Returns once the batch is durable
 * under the policy; it is visible to searches from then on. When one id
 * appears twice in a batch, the later point wins. Errors (nothing is
 * written; `err` names the point index): AKIDB_EINVAL (empty batch, empty
 * id, id too long or containing NUL, missing vector), AKIDB_ELIMIT (payload
 * or text too large), AKIDB_EVALUE (NaN/Inf or a zero cosine vector),
 * AKIDB_EIO (the log failed: sticky until reopen), AKIDB_EBUSY (more than
 * max_pending points wait for the graph and none made room within
 * backpressure_wait_ms: retry later).
 */
int akidb_collection_upsert(akidb_collection_t *c, const akidb_point_t *pts, size_t n,
                            char *err, size_t errlen);

/*
 * Deletes the points with these ids (absent ids are ignored) atomically and
 * durably. *deleted (may be NULL) receives how many existed. Errors:
 * AKIDB_EINVAL (empty list, an id empty, too long or containing NUL),
 * AKIDB_EIO (sticky log failure).
 */
int akidb_collection_delete(akidb_collection_t *c, const char *const *ids,
                            const size_t *id_lens, size_t n, size_t *deleted, char *err,
                            size_t errlen);

/* A point returned by get or search; fields owned by the struct. */
typedef struct {
  char *id; /* NUL-terminated copy */
  size_t id_len;
  float distance;    /* vector search only */
  float score;       /* text search only: the BM25 score (larger is better) */
  float *vector;     /* when requested: dim floats (normalised under cosine) */
  char *payload;     /* when requested (NULL if the point has none) */
  size_t payload_len;
  char *text;        /* when requested (NULL if the point has none) */
  size_t text_len;
} akidb_point_out_t;

void akidb_point_out_clear(akidb_point_out_t *p);

/*
 * Copies the point with this id. AKIDB_ENOTFOUND if absent. The payload and
 * text are always copied; the vector only when with_vector.
 */
int akidb_collection_get(akidb_collection_t *c, const char *id, size_t id_len,
                         bool with_vector, akidb_point_out_t *out);

/* Live points. */
uint64_t akidb_collection_count(akidb_collection_t *c);

/* A payload predicate for filtered search: non-zero lets the point through.
 * Called from the searching thread under the collection's read lock;
 * `payload` (may be NULL) is valid only during the call. */
typedef struct {
  int (*allow)(void *ctx, const char *id, size_t id_len, const char *payload,
               size_t payload_len);
  void *ctx;
} akidb_point_filter_t;

typedef struct {
  uint32_t k;                          /* 1..AKIDB_K_MAX */
  uint32_t ef;                         /* 0: the collection's ef_search */
  bool exact;                          /* scan every point instead of the graph */
  const akidb_point_filter_t *filter;  /* NULL: every point */
  bool include_payload, include_vector;
} akidb_search_options_t;

/* How a vector search ran (for slow-request logs). */
typedef struct {
  bool exact;             /* an exact scan (asked, a small collection, or a selective filter) */
  uint32_t ef;            /* the graph search's ef (0 when exact) */
  double filter_fraction; /* estimated share of points the filter allows; -1: no filter */
  uint64_t pending_scanned; /* points not yet in the graph, scanned exactly */
} akidb_search_plan_t;

typedef struct {
  akidb_point_out_t *hits; /* nearest first */
  uint32_t n;
  akidb_search_plan_t plan; /* vector searches */
} akidb_search_result_t;

void akidb_search_result_free(akidb_search_result_t *r);

/*
 * The k live points whose text best matches `query` (len bytes of UTF-8)
 * by BM25 (include/akidb/text.h: the same tokens, stems and formula), that
 * pass the filter; best first, each with `score` (distance 0); ties by
 * write order. o->ef and o->exact are ignored. Points written before the
 * call are seen. A query with no terms finds nothing. Errors: AKIDB_EINVAL
 * (k out of range; the query is not valid UTF-8: `err` says at which
 * byte), AKIDB_ENOTSUP (opened without text_index), AKIDB_EUNAVAILABLE
 * (the text index missed a write when memory ran out: reopen the
 * collection), AKIDB_ENOMEM.
 */
int akidb_collection_text_search(akidb_collection_t *c, const char *query, size_t len,
                                 const akidb_search_options_t *o, akidb_search_result_t *out,
                                 char *err, size_t errlen);

/*
 * The k nearest live points to `query` (dim floats) that pass the filter.
 * Errors: AKIDB_EINVAL (k or ef out of range), AKIDB_EDIM, AKIDB_EVALUE,
 * AKIDB_ENOMEM.
 */
int akidb_collection_search(akidb_collection_t *c, const float *query, uint32_t dim,
                            const akidb_search_options_t *o, akidb_search_result_t *out,
                            char *err, size_t errlen);

/*
 * Calls fn for every live point (in no particular order) with a view valid
 * only during the call; writes wait until it returns. A non-zero return from
 * fn stops the scan and is returned. For snapshots and export.
 */
typedef int (*akidb_point_visit_fn)(void *ctx, const akidb_point_out_t *p);
int akidb_collection_scan(akidb_collection_t *c, bool with_vector, akidb_point_visit_fn fn,
                          void *ctx);

/*
 * Copies up to `max` live points whose internal label is above `after`, in
 * label order (the order points were written: an upsert that replaces a
 * point gives it a new, higher label), into out[0..*n) (owned by the
 * caller: akidb_point_out_clear each). *next is the label of the last
 * point copied, to pass as `after` for the following page; 0 when no live
 * point is left after this page.
 * Labels survive restarts; a restored collection numbers its points anew.
 * Holds the collection's read lock for one page (writes wait that long).
 * Errors: AKIDB_ENOMEM (out holds nothing then).
 */
int akidb_collection_scan_page(akidb_collection_t *c, uint64_t after, size_t max,
                               bool with_vector, akidb_point_out_t *out, size_t *n,
                               uint64_t *next);

/*
 * Streams the collection as it was after one log record, without making
 * writers wait for the stream (for snapshots): takes a frozen view as a
 * checkpoint does (writers wait only while O(points) pointers are copied),
 * then calls fn for every point live at that moment, in insertion order,
 * with its vector (normalised under cosine), payload and text, valid only
 * during the call. *seq (may be NULL) receives the seq of that record (0
 * for a collection never written). Background indexing, checkpoints and
 * compaction wait until it returns; writes, searches and reads go on. A
 * non-zero return from fn stops the stream and is returned.
 * Errors: AKIDB_ENOMEM, AKIDB_ECORRUPT (a point's vector is missing), fn's.
 */
int akidb_collection_export(akidb_collection_t *c, akidb_point_visit_fn fn, void *ctx,
                            uint64_t *seq);

/* Writes a checkpoint now and removes the log segments it covers. Writes,
 * searches and stats go on while it streams (it holds the collection's
 * locks only while it takes a frozen view, O(points)); background indexing
 * pauses until the stream ends. */
int akidb_collection_checkpoint(akidb_collection_t *c, char *err, size_t errlen);

/* Compacts the graph now (removes deleted points for good) without blocking
 * searches; writes go on meanwhile. */
int akidb_collection_compact(akidb_collection_t *c, char *err, size_t errlen);

/* Moves up to `max` buffered points into the graph on the calling thread;
 * returns how many moved. For callers that opened with background = false,
 * and for tests. */
size_t akidb_collection_index_pending(akidb_collection_t *c, size_t max);

/* Blocks until the append buffer is empty (every point is in the graph). */
void akidb_collection_wait_indexed(akidb_collection_t *c);

typedef struct {
  uint64_t points;          /* live points */
  uint64_t pending;         /* of which waiting to be put in the graph (0 while the
                               collection is below exact_below and builds no graph) */
  uint64_t graph_deleted;   /* deleted points still in the graph */
  uint64_t memory_bytes;    /* every byte held in memory, counted as allocated (no lock) */
  uint64_t disk_bytes;      /* log + checkpoint */
  uint64_t wal_bytes;
  uint64_t last_seq;        /* newest log record */
  uint64_t checkpoint_seq;  /* newest checkpoint */
  uint64_t checkpoints;     /* written since open */
  double last_checkpoint_seconds;
  double checkpoint_age_seconds; /* since the last checkpoint (or open), when the log holds
                                    records newer than it; else 0 */
  uint64_t wal_fsyncs, wal_fsync_ns;
  bool failed;              /* writes refused until reopen */
} akidb_collection_stats_t;

void akidb_collection_stats(akidb_collection_t *c, akidb_collection_stats_t *out);

/* ----------------------------------------------------- process timings -- */

/* Latency histograms of the storage engine, summed over every collection
 * of the process since it started: one write-ahead log append (the write of
 * one batch's records, without its fsync), one log fdatasync, one
 * checkpoint (written, synced, renamed), one graph compaction. */
typedef enum {
  AKIDB_STORE_TIMING_WAL_APPEND,
  AKIDB_STORE_TIMING_WAL_FSYNC,
  AKIDB_STORE_TIMING_CHECKPOINT,
  AKIDB_STORE_TIMING_COMPACTION,
  AKIDB_STORE_TIMING_COUNT
} akidb_store_timing_t;

#define AKIDB_STORE_TIMING_NBOUNDS 15 /* 100 µs .. 120 s */

typedef struct {
  uint64_t cumulative[AKIDB_STORE_TIMING_NBOUNDS + 1]; /* <= bound[i]; the last: all */
  uint64_t count;
  double sum_seconds;
} akidb_store_histogram_t;

/* The upper bounds in seconds (AKIDB_STORE_TIMING_NBOUNDS of them). */
const double *akidb_store_timing_bounds(void);
/* "wal_append", "wal_fsync", "checkpoint", "compaction". */
const char *akidb_store_timing_name(akidb_store_timing_t t);
/* A copy of one histogram (relaxed reads: each count exact). */
void akidb_store_timing(akidb_store_timing_t t, akidb_store_histogram_t *out);

/* Test hooks: a crash injected after step `n` of the checkpoint protocol
 * (1: temporary file written, 2: fsynced, 3: renamed, 4: directory fsynced,
 * 5: old segments removed) makes akidb_collection_checkpoint return
 * AKIDB_EIO right there, leaving the files as a crash would. 0 disables. */
void akidb_collection_test_crash_checkpoint_after(int step);

/* Test hook: when set, every checkpoint calls fn(ctx) on its own thread
 * while it streams (after the records and pending sections, before the
 * graph), with no collection lock held that writers, appliers, searches or
 * stats need — so a test can show writes completing during a checkpoint.
 * NULL disables. Process-wide; tests only. */
void akidb_collection_test_on_checkpoint_stream(void (*fn)(void *ctx), void *ctx);

#ifdef __cplusplus
}
#endif

#endif /* AKIDB_STORE_H */
