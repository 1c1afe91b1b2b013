/*
 * server_closed.h — the server benchmark's closed-loop comparison (issue
 * 13): AkiDB over REST and over gRPC against PostgreSQL + pgvector
 * (PGVECTOR_DSN) at 1, 2, 4, 8 connections on mix128 and mix768,
 * interleaved at every point, the health probe on one connection (REST
 * `GET /health`, gRPC `Health/Check`, `SELECT 1`), optionally a second
 * akidb program (--baseline-akidb) measured beside the first over REST,
 * and the report's sections with the acceptance table. The load is
 * bench/closed.c's; the transports are loadgen.c (REST), peer_grpc.c and
 * peer_pg.c. For bench/ only; failures bench_die.
 */
#ifndef AKIDB_BENCH_SERVER_CLOSED_H
#define AKIDB_BENCH_SERVER_CLOSED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "bench_util.h"
#include "dataset/dataset.h"
#include "server_load.h"
#include "server_proc.h"

#define SC_K 10u            /* neighbours per query; recall@10 */
#define SC_TARGET_RECALL 0.95
#define SC_MAX_CONNS 8      /* connection counts per run */
#define SC_MAX_ROWS 512

typedef struct {
  double duration_s; /* measured window per row */
  double warmup_s;   /* before it, not counted */
  uint32_t conns[SC_MAX_CONNS];
  size_t n_conns;
  uint32_t repeat;      /* runs of the whole sequence */
  const char *baseline; /* --baseline-akidb program, or NULL */
} sc_options_t;

typedef enum { SC_REST, SC_GRPC, SC_GRPC_STREAM, SC_PG, SC_BASELINE } sc_peer_t;

/* The REST transport of the closed loop: pre-encoded requests over
 * blocking keep-alive connections (recall counted when `set` is given). */
typedef struct {
  uint16_t port;
  const ds_set_t *set; /* NULL: the requests are /health */
  const char *const *req;
  const size_t *len;
} sc_rest_ctx_t;

void *sc_rest_open(void *ctx, uint32_t i, char *err, size_t errlen);
int sc_rest_call(void *ctx, void *conn, size_t q, uint32_t *found, char *err, size_t errlen);
void sc_rest_close(void *ctx, void *conn);

/* One closed-loop row: a peer, a data set (NULL for the health probe), a
 * connection count and a run. */
typedef struct {
  sc_peer_t peer;
  const char *dataset; /* NULL: the health probe */
  uint32_t dim;
  uint32_t conns;
  uint32_t run;
  size_t ok, failed;
  double qps;
  bench_dist_t us;
  double recall;
  long long ef;
  double server_cpu_us; /* AkiDB rows: per request sent (warm-up included); -1 otherwise */
  double steal_pct;
  char error[256];
} sc_row_t;

/* The pgvector peer's state for one data set (peer_pg.c). */
typedef struct sc_pg_set sc_pg_set_t;

/* A data set as the closed loop sees it (filled by the caller). */
typedef struct {
  const ds_set_t *set;
  const char *name, *metric;
  sl_queries_t q;        /* AkiDB REST search requests */
  long long ef;          /* AkiDB's calibrated ef_search */
  sl_queries_t base_q;   /* the same for the --baseline-akidb server (n = 0: none) */
  long long base_ef;
  sc_pg_set_t *pg;       /* NULL without PGVECTOR_DSN */
} sc_set_t;

typedef struct {
  sc_row_t rows[SC_MAX_ROWS];
  size_t n;
  const char *dsn; /* NULL: pgvector skipped */
  char pg_version[256];
  sc_pg_set_t *pg[2]; /* mix128, mix768 */
  bool grpc;          /* AkiDB measured over gRPC too */
} sc_report_t;

/* Reads PGVECTOR_DSN; when set, loads (or reuses) pgvector's tables for
 * the two sets and calibrates its hnsw.ef_search as AkiDB's (call it
 * before AkiDB starts). Dies when the DSN is set and this driver has no
 * libpq. */
void sc_pg_prepare(sc_report_t *cr, const ds_set_t *s128, const ds_set_t *s768);

/* Every connection count for every set: the baseline (if any), AkiDB over
 * REST, over gRPC (when s->grpc_port), then pgvector at each point, the
 * whole sequence o->repeat times; then the health probe. token, tenant,
 * database: the bench user's session for gRPC. */
void sc_run(sc_report_t *cr, const sc_options_t *o, const sp_server_t *s,
            const sp_server_t *base, const sp_api_t *api, sc_set_t *sets, size_t n_sets);

/* The report's closed-loop sections. */
void sc_write(FILE *f, const sc_report_t *cr, const sc_options_t *o);

#endif /* AKIDB_BENCH_SERVER_CLOSED_H */
