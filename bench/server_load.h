/*
 * server_load.h — the load side the server drivers share (bench/server.c,
 * bench/grpc.c): points and search requests encoded as REST JSON before
 * any timing, recall@k of search answers against the set's exact ground
 * truth, and the REST ingest (batches of upserts over several keep-alive
 * connections, one thread each, 429 backpressure retried). For bench/
 * only.
 */
#ifndef AKIDB_BENCH_SERVER_LOAD_H
#define AKIDB_BENCH_SERVER_LOAD_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "dataset/dataset.h"

#define SL_CHUNK 1000u /* points per encoded chunk; a multiple of every batch size */

/* ------------------------------------------------------------ encoding -- */

/* Points encoded once: chunk c holds points [c*SL_CHUNK, ...) as
 * `{"id":"<row>","vector":[...]},` back to back (floats as %.9g). */
typedef struct {
  char *buf;
  size_t *off; /* n + 1 offsets */
  size_t n;
} sl_chunk_t;

typedef struct {
  const ds_set_t *set;
  size_t n_points; /* the first n_points rows of set->base */
  sl_chunk_t *chunks;
  size_t n_chunks;
} sl_points_t;

/* Encodes the first n_points base points (two threads). */
sl_points_t sl_encode_points(const ds_set_t *set, size_t n_points);
size_t sl_points_bytes(const sl_points_t *e);
void sl_points_free(sl_points_t *e);

/* Whole REST search requests (head and body), one per query:
 * `{"vector":[...],"k":<k>,"include_payload":false}` to `path`. */
typedef struct {
  char **req;
  size_t *len;
  size_t n;
} sl_queries_t;

sl_queries_t sl_encode_queries(const ds_set_t *set, const char *path, const char *token,
                               uint32_t k);
void sl_queries_free(sl_queries_t *q);

/* -------------------------------------------------------------- recall -- */

/* ef_search calibration (every server driver, and the pgvector peer): the
 * values tried, smallest first, until recall@10 over the query set reaches
 * SL_CAL_RECALL (a little above the 0.95 target; timed rows measure recall
 * again on the same queries). */
#define SL_N_CAL_EFS 11
extern const long long sl_cal_efs[SL_N_CAL_EFS];
#define SL_CAL_RECALL 0.955

/* recall@k over answers; ids are the base rows' numbers. */
typedef struct {
  const ds_set_t *set;
  uint32_t k;
  size_t found, answered, short_answers;
} sl_recall_t;

/* Adds the answer to query q (its first k labels count). */
void sl_recall_add_labels(sl_recall_t *acc, size_t q, const long long *labels, size_t n);

/* Adds a REST search answer (ids found with a minimal scan for "id"). */
void sl_recall_add_json(sl_recall_t *acc, size_t q, const char *body, size_t len);

double sl_recall_value(const sl_recall_t *acc);

/* "123" → 123; -1 when not all digits. */
long long sl_label_of(const char *id, size_t n);

/* -------------------------------------------------------------- ingest -- */

/* One REST ingest: every encoded point into the collection at `path`, in
 * batches of `batch` over `conns` connections (one thread each, a shared
 * batch counter). A 429 (the indexing backlog is full) is retried after
 * 20 ms, as Retry-After asks, and counted; the batch's latency includes
 * the waits. */
typedef struct {
  const sl_points_t *enc;
  const char *path;  /* ".../collections/<name>/points" */
  const char *token;
  uint16_t port;
  size_t batch;
  uint32_t conns; /* 1..64 */
  /* results */
  size_t n_batches;
  double *lat_ms;          /* per batch, send to full answer (malloc'd: free it) */
  double first_send, last_ok; /* lg_now_us() */
  size_t rejected;         /* 429 answers retried */
  char error[512];         /* non-empty: the run failed */
} sl_ingest_t;

/* Runs it; 0, or -1 with j->error set. */
int sl_ingest_run(sl_ingest_t *j);

#endif /* AKIDB_BENCH_SERVER_LOAD_H */
