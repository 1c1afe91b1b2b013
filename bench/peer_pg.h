/*
 * peer_pg.h — PostgreSQL + pgvector as the server benchmark's peer (bench
 * only). Compiled against libpq when CMake's pkg-config finds it
 * (SERVER_BENCH_HAVE_LIBPQ); otherwise every call fails with a message that
 * says so, and the driver reports the peer as skipped.
 *
 * The project never fetches or builds pgvector: the driver is given a
 * connection string (PGVECTOR_DSN) to a server where `CREATE EXTENSION
 * vector` works or was done.
 */
#ifndef AKIDB_BENCH_PEER_PG_H
#define AKIDB_BENCH_PEER_PG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* True when this driver was built with libpq. */
bool pgp_available(void);

/* One connection (libpq, TCP as the DSN says) with its prepared statements. */
typedef struct pgp_conn pgp_conn_t;

/* Connects and prepares `SELECT id FROM <table> ORDER BY embedding <op> $1
 * LIMIT <k>` (op `<->` for l2, `<=>` for cosine) and `SELECT 1`; table may
 * be NULL (only `SELECT 1`). */
pgp_conn_t *pgp_connect(const char *dsn, const char *table, bool cosine, uint32_t k, char *err,
                        size_t errlen);
void pgp_close(pgp_conn_t *c);

/* `SET hnsw.ef_search = ef` on this connection. */
int pgp_set_ef(pgp_conn_t *c, uint32_t ef, char *err, size_t errlen);

/* Runs the prepared search with `v` (dim floats, sent in pgvector's binary
 * format); writes up to k ids into ids and their count into *n. */
int pgp_search(pgp_conn_t *c, const float *v, uint32_t dim, int64_t *ids, uint32_t *n, char *err,
               size_t errlen);

/* Runs the prepared `SELECT 1`. */
int pgp_ping(pgp_conn_t *c, char *err, size_t errlen);

/* Server version and the extension's version, for the report. */
void pgp_versions(pgp_conn_t *c, char *out, size_t len);

typedef struct {
  bool reused;        /* the table was there with n rows and its HNSW index */
  double copy_s;      /* COPY of the rows (0 when reused) */
  double index_s;     /* CREATE INDEX (0 when reused) */
  long long index_mb; /* size of the index */
} pgp_load_t;

/*
 * Makes sure `table` holds the n rows of base (ids 0..n-1, `embedding
 * vector(dim)`) with an HNSW index (m, ef_construction; vector_l2_ops or
 * vector_cosine_ops): reused when the row count and index are right,
 * otherwise dropped, created, filled by COPY (binary) and indexed.
 */
int pgp_load(pgp_conn_t *c, const char *table, const float *base, size_t n, uint32_t dim,
             bool cosine, uint32_t m, uint32_t ef_construction, pgp_load_t *out, char *err,
             size_t errlen);

#endif /* AKIDB_BENCH_PEER_PG_H */
