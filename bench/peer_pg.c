/*
 * peer_pg.c — PostgreSQL + pgvector through libpq for the server benchmark
 * (peer_pg.h). Queries use the extended protocol with statements prepared
 * once per connection; the query vector goes as a binary parameter in
 * pgvector's own wire format (int16 dimension, int16 unused, float4
 * big-endian each) and ids come back in binary, so neither side formats or
 * parses text on the timed path. Loading uses COPY ... (FORMAT binary).
 *
 * Without libpq (SERVER_BENCH_HAVE_LIBPQ undefined) only stubs are built.
 */
#include "peer_pg.h"

#include <stdio.h>
#include <string.h>

#ifndef SERVER_BENCH_HAVE_LIBPQ

bool pgp_available(void) { return false; }

pgp_conn_t *pgp_connect(const char *dsn, const char *table, bool cosine, uint32_t k, char *err,
                        size_t errlen) {
  (void)dsn, (void)table, (void)cosine, (void)k;
  snprintf(err, errlen, "this driver was built without libpq (install libpq-dev and rebuild)");
  return NULL;
}
void pgp_close(pgp_conn_t *c) { (void)c; }
int pgp_set_ef(pgp_conn_t *c, uint32_t ef, char *err, size_t errlen) {
  (void)c, (void)ef;
  snprintf(err, errlen, "built without libpq");
  return -1;
}
int pgp_search(pgp_conn_t *c, const float *v, uint32_t dim, int64_t *ids, uint32_t *n, char *err,
               size_t errlen) {
  (void)c, (void)v, (void)dim, (void)ids, (void)n;
  snprintf(err, errlen, "built without libpq");
  return -1;
}
int pgp_ping(pgp_conn_t *c, char *err, size_t errlen) {
  (void)c;
  snprintf(err, errlen, "built without libpq");
  return -1;
}
void pgp_versions(pgp_conn_t *c, char *out, size_t len) {
  (void)c;
  snprintf(out, len, "unknown");
}
int pgp_load(pgp_conn_t *c, const char *table, const float *base, size_t n, uint32_t dim,
             bool cosine, uint32_t m, uint32_t ef_construction, pgp_load_t *out, char *err,
             size_t errlen) {
  (void)c, (void)table, (void)base, (void)n, (void)dim, (void)cosine, (void)m,
      (void)ef_construction, (void)out;
  snprintf(err, errlen, "built without libpq");
  return -1;
}

#else

#include <arpa/inet.h>
#include <libpq-fe.h>
#include <stdlib.h>
#include <time.h>

struct pgp_conn {
  PGconn *pg;
  bool has_search;
  uint32_t k;
  char *param; /* binary vector parameter, 4 + 4 * dim bytes */
  size_t param_cap;
};

bool pgp_available(void) { return true; }

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* NOTICEs ("table ... does not exist, skipping") are not for the report. */
static void quiet_notice(void *arg, const char *message) { (void)arg, (void)message; }

static void pg_error(PGconn *pg, const char *what, char *err, size_t errlen) {
  const char *m = PQerrorMessage(pg);
  size_t n = strlen(m);
  while (n > 0 && (m[n - 1] == '\n' || m[n - 1] == '\r')) n--;
  snprintf(err, errlen, "%s: %.*s", what, (int)n, m);
}

/* Runs a command that returns no rows (or whose rows are ignored). */
static int exec_ok(PGconn *pg, const char *sql, char *err, size_t errlen) {
  PGresult *r = PQexec(pg, sql);
  ExecStatusType st = PQresultStatus(r);
  int rc = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? 0 : -1;
  if (rc) pg_error(pg, sql, err, errlen);
  PQclear(r);
  return rc;
}

/* The first column of the first row of a query as a long long; -1 when no row. */
static long long exec_int(PGconn *pg, const char *sql, char *err, size_t errlen) {
  PGresult *r = PQexec(pg, sql);
  long long v = -1;
  if (PQresultStatus(r) != PGRES_TUPLES_OK) {
    pg_error(pg, sql, err, errlen);
    v = -2;
  } else if (PQntuples(r) > 0 && !PQgetisnull(r, 0, 0)) {
    v = atoll(PQgetvalue(r, 0, 0));
  }
  PQclear(r);
  return v;
}

pgp_conn_t *pgp_connect(const char *dsn, const char *table, bool cosine, uint32_t k, char *err,
                        size_t errlen) {
  pgp_conn_t *c = calloc(1, sizeof *c);
  if (!c) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  c->pg = PQconnectdb(dsn);
  if (PQstatus(c->pg) != CONNECTION_OK) {
    pg_error(c->pg, "connect", err, errlen);
    pgp_close(c);
    return NULL;
  }
  PQsetNoticeProcessor(c->pg, quiet_notice, NULL);
  PGresult *r = PQprepare(c->pg, "ping", "SELECT 1", 0, NULL);
  bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
  PQclear(r);
  if (!ok) {
    pg_error(c->pg, "PREPARE SELECT 1", err, errlen);
    pgp_close(c);
    return NULL;
  }
  if (table) {
    char sql[512];
    snprintf(sql, sizeof sql, "SELECT id FROM %s ORDER BY embedding %s $1 LIMIT %u", table,
             cosine ? "<=>" : "<->", k);
    r = PQprepare(c->pg, "search", sql, 0, NULL);
    ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    if (!ok) {
      pg_error(c->pg, sql, err, errlen);
      pgp_close(c);
      return NULL;
    }
    c->has_search = true;
    c->k = k;
  }
  return c;
}

void pgp_close(pgp_conn_t *c) {
  if (!c) return;
  if (c->pg) PQfinish(c->pg);
  free(c->param);
  free(c);
}

int pgp_set_ef(pgp_conn_t *c, uint32_t ef, char *err, size_t errlen) {
  char sql[64];
  snprintf(sql, sizeof sql, "SET hnsw.ef_search = %u", ef);
  return exec_ok(c->pg, sql, err, errlen);
}

/* pgvector's binary `vector`: int16 dim, int16 unused, float4 each (network order). */
static size_t put_vector(char *p, const float *v, uint32_t dim) {
  uint16_t d = htons((uint16_t)dim), z = 0;
  memcpy(p, &d, 2);
  memcpy(p + 2, &z, 2);
  for (uint32_t i = 0; i < dim; i++) {
    uint32_t u;
    memcpy(&u, &v[i], 4);
    u = htonl(u);
    memcpy(p + 4 + 4 * (size_t)i, &u, 4);
  }
  return 4 + 4 * (size_t)dim;
}

int pgp_search(pgp_conn_t *c, const float *v, uint32_t dim, int64_t *ids, uint32_t *n, char *err,
               size_t errlen) {
  *n = 0;
  size_t need = 4 + 4 * (size_t)dim;
  if (need > c->param_cap) {
    char *p = realloc(c->param, need);
    if (!p) {
      snprintf(err, errlen, "out of memory");
      return -1;
    }
    c->param = p;
    c->param_cap = need;
  }
  int len = (int)put_vector(c->param, v, dim);
  const char *values[1] = {c->param};
  int lengths[1] = {len}, formats[1] = {1};
  PGresult *r = PQexecPrepared(c->pg, "search", 1, values, lengths, formats, 1);
  if (PQresultStatus(r) != PGRES_TUPLES_OK) {
    pg_error(c->pg, "search", err, errlen);
    PQclear(r);
    return -1;
  }
  int rows = PQntuples(r);
  for (int i = 0; i < rows && (uint32_t)i < c->k; i++) {
    const char *b = PQgetvalue(r, i, 0);
    int bl = PQgetlength(r, i, 0);
    int64_t id = -1;
    if (bl == 4) {
      uint32_t u;
      memcpy(&u, b, 4);
      id = (int32_t)ntohl(u);
    } else if (bl == 8) {
      uint32_t hi, lo;
      memcpy(&hi, b, 4);
      memcpy(&lo, b + 4, 4);
      id = (int64_t)(((uint64_t)ntohl(hi) << 32) | ntohl(lo));
    }
    ids[(*n)++] = id;
  }
  PQclear(r);
  return 0;
}

int pgp_ping(pgp_conn_t *c, char *err, size_t errlen) {
  PGresult *r = PQexecPrepared(c->pg, "ping", 0, NULL, NULL, NULL, 1);
  int rc = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 ? 0 : -1;
  if (rc) pg_error(c->pg, "SELECT 1", err, errlen);
  PQclear(r);
  return rc;
}

void pgp_versions(pgp_conn_t *c, char *out, size_t len) {
  char err[256];
  PGresult *r = PQexec(c->pg, "SELECT current_setting('server_version'), "
                              "(SELECT extversion FROM pg_extension WHERE extname = 'vector'), "
                              "current_setting('shared_buffers'), current_setting('jit')");
  if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
    snprintf(out, len, "PostgreSQL %s, pgvector %s (shared_buffers %s, jit %s)",
             PQgetvalue(r, 0, 0), PQgetisnull(r, 0, 1) ? "(not installed)" : PQgetvalue(r, 0, 1),
             PQgetvalue(r, 0, 2), PQgetvalue(r, 0, 3));
  else
    snprintf(out, len, "unknown");
  PQclear(r);
  (void)err;
}

/* The table's HNSW index is there with these parameters. */
static bool index_ok(PGconn *pg, const char *table, bool cosine, uint32_t m, uint32_t efc) {
  char sql[512], err[256];
  snprintf(sql, sizeof sql,
           "SELECT count(*) FROM pg_indexes WHERE tablename = '%s' AND indexdef LIKE "
           "'%%USING hnsw (embedding %s)%%m=''%u''%%ef_construction=''%u''%%'",
           table, cosine ? "vector_cosine_ops" : "vector_l2_ops", m, efc);
  return exec_int(pg, sql, err, sizeof err) == 1;
}

int pgp_load(pgp_conn_t *c, const char *table, const float *base, size_t n, uint32_t dim,
             bool cosine, uint32_t m, uint32_t ef_construction, pgp_load_t *out, char *err,
             size_t errlen) {
  memset(out, 0, sizeof *out);
  PGconn *pg = c->pg;
  char sql[1024];
  if (exec_ok(pg, "CREATE EXTENSION IF NOT EXISTS vector", err, errlen)) return -1;
  snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", table);
  long long have = -1;
  PGresult *r = PQexec(pg, sql);
  if (PQresultStatus(r) == PGRES_TUPLES_OK) have = atoll(PQgetvalue(r, 0, 0));
  PQclear(r);
  if (have == (long long)n && index_ok(pg, table, cosine, m, ef_construction)) {
    out->reused = true;
  } else {
    snprintf(sql, sizeof sql, "DROP TABLE IF EXISTS %s", table);
    if (exec_ok(pg, sql, err, errlen)) return -1;
    snprintf(sql, sizeof sql, "CREATE TABLE %s (id integer PRIMARY KEY, embedding vector(%u))",
             table, dim);
    if (exec_ok(pg, sql, err, errlen)) return -1;
    double t0 = now_s();
    snprintf(sql, sizeof sql, "COPY %s (id, embedding) FROM STDIN WITH (FORMAT binary)", table);
    r = PQexec(pg, sql);
    bool ok = PQresultStatus(r) == PGRES_COPY_IN;
    PQclear(r);
    if (!ok) {
      pg_error(pg, sql, err, errlen);
      return -1;
    }
    size_t row_bytes = 2 + 4 + 4 + 4 + 4 + 4 * (size_t)dim, cap = 1000 * row_bytes + 32;
    char *buf = malloc(cap);
    if (!buf) {
      snprintf(err, errlen, "out of memory");
      return -1;
    }
    static const char sig[11] = {'P', 'G', 'C', 'O', 'P', 'Y', '\n', '\377', '\r', '\n', '\0'};
    size_t len = 0;
    memcpy(buf, sig, 11);
    memset(buf + 11, 0, 8); /* flags, header extension length */
    len = 19;
    for (size_t i = 0; i < n && ok; i++) {
      uint16_t fields = htons(2);
      uint32_t four = htonl(4), id = htonl((uint32_t)i), vlen = htonl((uint32_t)(4 + 4 * dim));
      memcpy(buf + len, &fields, 2);
      memcpy(buf + len + 2, &four, 4);
      memcpy(buf + len + 6, &id, 4);
      memcpy(buf + len + 10, &vlen, 4);
      len += 14;
      len += put_vector(buf + len, base + i * dim, dim);
      if (len + row_bytes + 2 > cap || i + 1 == n) {
        if (i + 1 == n) {
          uint16_t end = htons(0xFFFF);
          memcpy(buf + len, &end, 2);
          len += 2;
        }
        ok = PQputCopyData(pg, buf, (int)len) == 1;
        len = 0;
      }
    }
    free(buf);
    if (!ok || PQputCopyEnd(pg, NULL) != 1) {
      pg_error(pg, "COPY", err, errlen);
      return -1;
    }
    r = PQgetResult(pg);
    ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    while ((r = PQgetResult(pg))) PQclear(r);
    if (!ok) {
      pg_error(pg, "COPY", err, errlen);
      return -1;
    }
    out->copy_s = now_s() - t0;
    t0 = now_s();
    snprintf(sql, sizeof sql,
             "CREATE INDEX ON %s USING hnsw (embedding %s) WITH (m = %u, ef_construction = %u)",
             table, cosine ? "vector_cosine_ops" : "vector_l2_ops", m, ef_construction);
    if (exec_ok(pg, sql, err, errlen)) return -1;
    out->index_s = now_s() - t0;
    snprintf(sql, sizeof sql, "VACUUM ANALYZE %s", table);
    if (exec_ok(pg, sql, err, errlen)) return -1;
  }
  snprintf(sql, sizeof sql,
           "SELECT pg_relation_size(indexrelid) / 1048576 FROM pg_index i JOIN pg_am a ON "
           "a.oid = (SELECT relam FROM pg_class WHERE oid = i.indexrelid) WHERE indrelid = "
           "'%s'::regclass AND a.amname = 'hnsw'",
           table);
  out->index_mb = exec_int(pg, sql, err, errlen);
  /* Warm the buffer cache: the table and the index (pg_prewarm when there). */
  if (exec_ok(pg, "CREATE EXTENSION IF NOT EXISTS pg_prewarm", err, errlen) == 0) {
    snprintf(sql, sizeof sql,
             "SELECT pg_prewarm('%s'::regclass), pg_prewarm(indexrelid) FROM pg_index WHERE "
             "indrelid = '%s'::regclass",
             table, table);
    exec_ok(pg, sql, err, errlen);
  }
  return 0;
}

#endif /* SERVER_BENCH_HAVE_LIBPQ */
