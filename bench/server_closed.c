/*
 * server_closed.c — owns the server benchmark's closed-loop comparison
 * (server_closed.h): the pgvector peer's tables and ef_search calibration,
 * the REST transport's callbacks (pre-encoded requests over blocking
 * keep-alive connections, loadgen.c), the interleaved sequence of rows,
 * and the report's sections (every row, the health probe, before/after,
 * the acceptance of issue 13 on the medians over the runs). Rows run one
 * at a time; each row's threads are closed.c's.
 */
#include "server_closed.h"

#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "closed.h"
#include "loadgen.h"
#include "peer_grpc.h"
#include "peer_pg.h"

#define K SC_K

static const char *peer_name(sc_peer_t p) {
  return p == SC_REST          ? "REST"
         : p == SC_GRPC        ? "gRPC"
         : p == SC_GRPC_STREAM ? "gRPC stream"
         : p == SC_PG          ? "pgvector"
                               : "baseline";
}

/* ------------------------------------------------------ pgvector peer -- */

struct sc_pg_set {
  const char *dsn;
  char table[64];
  bool cosine;
  const ds_set_t *set;
  long long ef;
  pgp_load_t load;
};

/* pgvector's ids as labels; true neighbours of query q among them. */
static uint32_t pg_found(const ds_set_t *set, size_t q, const int64_t *ids, uint32_t n) {
  long long labels[K];
  for (uint32_t i = 0; i < n && i < K; i++) labels[i] = ids[i];
  sl_recall_t acc = {.set = set, .k = K};
  sl_recall_add_labels(&acc, q, labels, n < K ? n : K);
  return (uint32_t)acc.found;
}

/* Loads (or reuses) the peer's table for one set and calibrates its
 * hnsw.ef_search like AkiDB's: the smallest of sl_cal_efs whose recall@10
 * over the query set, one connection, reaches SL_CAL_RECALL. */
static sc_pg_set_t *pg_prepare_set(const char *dsn, const ds_set_t *set, const char *name,
                                   bool cosine) {
  char err[512];
  sc_pg_set_t *ps = bench_xcalloc(1, sizeof *ps);
  ps->dsn = dsn;
  ps->set = set;
  ps->cosine = cosine;
  snprintf(ps->table, sizeof ps->table, "akidb_bench_%s_%zu", name, set->n_base);
  pgp_conn_t *c = pgp_connect(dsn, NULL, false, K, err, sizeof err);
  if (!c) bench_die("pgvector (PGVECTOR_DSN): %s", err);
  printf("pgvector: loading %s (%zu x %u, HNSW m=16, ef_construction=200; reused when "
         "present)...\n", ps->table, set->n_base, set->dim);
  fflush(stdout);
  if (pgp_load(c, ps->table, set->base, set->n_base, set->dim, cosine, 16, 200, &ps->load, err,
               sizeof err))
    bench_die("pgvector: loading %s: %s", ps->table, err);
  pgp_close(c);
  printf("  %s: %s (COPY %.1f s, CREATE INDEX %.1f s, index %lld MB)\n", ps->table,
         ps->load.reused ? "reused" : "loaded", ps->load.copy_s, ps->load.index_s,
         ps->load.index_mb);
  c = pgp_connect(dsn, ps->table, cosine, K, err, sizeof err);
  if (!c) bench_die("pgvector: %s", err);
  ps->ef = sl_cal_efs[SL_N_CAL_EFS - 1];
  for (size_t i = 0; i < SL_N_CAL_EFS; i++) {
    if (pgp_set_ef(c, (uint32_t)sl_cal_efs[i], err, sizeof err)) bench_die("pgvector: %s", err);
    uint64_t found = 0;
    for (size_t q = 0; q < set->n_query; q++) {
      int64_t ids[K];
      uint32_t n = 0;
      if (pgp_search(c, set->queries + q * set->dim, set->dim, ids, &n, err, sizeof err))
        bench_die("pgvector: %s", err);
      found += pg_found(set, q, ids, n);
    }
    double recall = (double)found / ((double)set->n_query * K);
    printf("  calibrating %s: hnsw.ef_search %lld: recall@10 %.4f\n", ps->table, sl_cal_efs[i],
           recall);
    if (recall >= SL_CAL_RECALL) {
      ps->ef = sl_cal_efs[i];
      break;
    }
  }
  pgp_close(c);
  fflush(stdout);
  return ps;
}

void sc_pg_prepare(sc_report_t *cr, const ds_set_t *s128, const ds_set_t *s768) {
  const char *dsn = getenv("PGVECTOR_DSN");
  if (!dsn || !*dsn) {
    printf("pgvector peer skipped: set PGVECTOR_DSN\n");
    return;
  }
  if (!pgp_available())
    bench_die("PGVECTOR_DSN is set but this driver was built without libpq (install "
              "libpq-dev and rebuild)");
  cr->dsn = dsn;
  char err[256];
  pgp_conn_t *c = pgp_connect(dsn, NULL, false, K, err, sizeof err);
  if (!c) bench_die("pgvector (PGVECTOR_DSN): %s", err);
  pgp_versions(c, cr->pg_version, sizeof cr->pg_version);
  pgp_close(c);
  cr->pg[0] = pg_prepare_set(dsn, s128, "mix128", false);
  cr->pg[1] = pg_prepare_set(dsn, s768, "mix768", true);
}

/* pgvector's callbacks: one libpq connection each, the statements prepared
 * and hnsw.ef_search set before the clock starts. */
typedef struct {
  const sc_pg_set_t *ps; /* NULL: SELECT 1 */
  const char *dsn;
} pg_ctx_t;

static void *pg_open(void *ctx, uint32_t i, char *err, size_t errlen) {
  (void)i;
  pg_ctx_t *p = ctx;
  pgp_conn_t *c = pgp_connect(p->dsn, p->ps ? p->ps->table : NULL, p->ps && p->ps->cosine, K,
                              err, errlen);
  if (c && p->ps && pgp_set_ef(c, (uint32_t)p->ps->ef, err, errlen)) {
    pgp_close(c);
    return NULL;
  }
  return c;
}

static int pg_call(void *ctx, void *conn, size_t q, uint32_t *found, char *err, size_t errlen) {
  pg_ctx_t *p = ctx;
  *found = 0;
  if (!p->ps) return pgp_ping(conn, err, errlen);
  const ds_set_t *set = p->ps->set;
  int64_t ids[K];
  uint32_t n = 0;
  int rc = pgp_search(conn, set->queries + q * set->dim, set->dim, ids, &n, err, errlen);
  if (rc) return rc;
  *found = pg_found(set, q, ids, n);
  return 0;
}

static void pg_close(void *ctx, void *conn) {
  (void)ctx;
  pgp_close(conn);
}

/* ------------------------------------------------------ REST transport -- */

typedef sc_rest_ctx_t rest_ctx_t;

void *sc_rest_open(void *ctx, uint32_t i, char *err, size_t errlen) {
  (void)i;
  rest_ctx_t *a = ctx;
  lg_conn_t *c = bench_xmalloc(sizeof *c);
  if (lg_conn_open(c, a->port, err, errlen)) {
    free(c);
    return NULL;
  }
  return c;
}

int sc_rest_call(void *ctx, void *conn, size_t q, uint32_t *found, char *err, size_t errlen) {
  rest_ctx_t *a = ctx;
  struct iovec iov = {(void *)a->req[q], a->len[q]};
  lg_response_t r;
  int rc = lg_conn_roundtrip(conn, &iov, 1, &r, err, errlen);
  if (rc) return rc;
  if (r.status != 200) {
    snprintf(err, errlen, "answered %d", r.status);
    return -1;
  }
  *found = 0;
  if (a->set) {
    sl_recall_t acc = {.set = a->set, .k = K};
    sl_recall_add_json(&acc, q, r.body, r.body_len);
    *found = (uint32_t)acc.found;
  }
  return 0;
}

void sc_rest_close(void *ctx, void *conn) {
  (void)ctx;
  lg_conn_close(conn);
  free(conn);
}

/* ---------------------------------------------------------------- runs -- */

static void run_row(sc_report_t *cr, sc_peer_t peer, const cl_spec_t *spec, const ds_set_t *set,
                    const char *dataset, long long ef, uint32_t run, pid_t server_pid) {
  if (cr->n >= SC_MAX_ROWS) return;
  sc_row_t row = {.peer = peer, .dataset = dataset, .dim = set ? set->dim : 0,
                  .conns = spec->connections, .run = run, .ef = ef, .server_cpu_us = -1};
  cl_result_t r;
  sp_ticks_t ticks0 = sp_cpu_ticks();
  double srv0 = server_pid > 0 ? sp_proc_cpu_seconds(server_pid) : 0;
  int rc = cl_run(spec, &r);
  row.steal_pct = sp_steal_since(ticks0);
  if (rc) bench_die("%s closed loop (%u connections): %s", peer_name(peer), spec->connections,
                    r.error);
  row.ok = r.ok;
  row.failed = r.failed;
  if (r.error[0]) snprintf(row.error, sizeof row.error, "%s", r.error);
  row.qps = (double)r.ok / r.elapsed_s;
  row.us = bench_summarise(r.latency_us, r.n_latency);
  row.recall = set && r.ok ? (double)r.found / ((double)r.ok * K) : 0;
  if (server_pid > 0 && r.calls) /* the CPU of the warm-up too: per request sent */
    row.server_cpu_us = (sp_proc_cpu_seconds(server_pid) - srv0) * 1e6 / (double)r.calls;
  free(r.latency_us);
  printf("  %-8s %-7s %u conn: %6.0f QPS, p50 %4.0f us, p99 %5.0f us%s, errors %zu%s%s\n",
         peer_name(peer), dataset ? dataset : "ping", spec->connections, row.qps, row.us.p50,
         row.us.p99, set ? "" : " (health)", row.failed, row.error[0] ? ": " : "", row.error);
  fflush(stdout);
  cr->rows[cr->n++] = row;
}

void sc_run(sc_report_t *cr, const sc_options_t *o, const sp_server_t *s,
            const sp_server_t *base, const sp_api_t *api, sc_set_t *sets, size_t n_sets) {
  cr->grpc = s->grpc_port != 0 && ag_available();
  char health[256];
  size_t hlen = lg_format_head(health, sizeof health, "GET", "/health", NULL, (size_t)-1);
  const char *hreq[1] = {health};
  size_t hl[1] = {hlen};
  ag_peer_t *gsearch[2] = {NULL, NULL}, *gstream[2] = {NULL, NULL}, *ghealth = NULL;
  if (cr->grpc) {
    ag_init();
    for (size_t d = 0; d < n_sets && d < 2; d++) {
      gsearch[d] = ag_peer_search(s->grpc_port, api->token, sets[d].set, api->tenant,
                                  api->database, sets[d].name, K, false);
      gstream[d] = ag_peer_search(s->grpc_port, api->token, sets[d].set, api->tenant,
                                  api->database, sets[d].name, K, true);
    }
    ghealth = ag_peer_health(s->grpc_port);
  }
  printf("closed loop (%.0f s per row after %.1f s warm-up; AkiDB over REST%s)...\n",
         o->duration_s, o->warmup_s, cr->grpc ? " and gRPC" : "");
  fflush(stdout);
  for (uint32_t run = 1; run <= o->repeat; run++) {
    if (o->repeat > 1) printf("  run %u of %u\n", run, o->repeat);
    for (size_t d = 0; d < n_sets && d < 2; d++) {
      sc_set_t *cs = &sets[d];
      rest_ctx_t ak = {.port = s->port, .set = cs->set, .req = (const char *const *)cs->q.req,
                       .len = cs->q.len};
      rest_ctx_t bk = {.port = base ? base->port : 0, .set = cs->set,
                       .req = (const char *const *)cs->base_q.req, .len = cs->base_q.len};
      pg_ctx_t pg = {.ps = cs->pg, .dsn = cr->dsn};
      for (size_t c = 0; c < o->n_conns; c++) {
        cl_spec_t spec = {.connections = o->conns[c], .warmup_s = o->warmup_s,
                          .duration_s = o->duration_s, .n_queries = cs->q.n};
        if (base) {
          spec.open = sc_rest_open, spec.call = sc_rest_call, spec.close = sc_rest_close, spec.ctx = &bk;
          run_row(cr, SC_BASELINE, &spec, cs->set, cs->name, cs->base_ef, run, base->pid);
          bench_sleep_ms(200);
        }
        spec.open = sc_rest_open, spec.call = sc_rest_call, spec.close = sc_rest_close, spec.ctx = &ak;
        run_row(cr, SC_REST, &spec, cs->set, cs->name, cs->ef, run, s->pid);
        if (cr->grpc) {
          bench_sleep_ms(200);
          spec.open = ag_open, spec.call = ag_call, spec.close = ag_close, spec.ctx = gsearch[d];
          run_row(cr, SC_GRPC, &spec, cs->set, cs->name, cs->ef, run, s->pid);
          bench_sleep_ms(200);
          spec.ctx = gstream[d];
          run_row(cr, SC_GRPC_STREAM, &spec, cs->set, cs->name, cs->ef, run, s->pid);
        }
        if (!cr->dsn) continue;
        bench_sleep_ms(200);
        spec.open = pg_open, spec.call = pg_call, spec.close = pg_close, spec.ctx = &pg;
        run_row(cr, SC_PG, &spec, cs->set, cs->name, cs->pg->ef, run, -1);
        bench_sleep_ms(200);
      }
    }
    /* The health probe: one connection each. */
    rest_ctx_t ak = {.port = s->port, .set = NULL, .req = hreq, .len = hl};
    rest_ctx_t bk = {.port = base ? base->port : 0, .set = NULL, .req = hreq, .len = hl};
    cl_spec_t spec = {.connections = 1, .warmup_s = o->warmup_s, .duration_s = o->duration_s,
                      .n_queries = 1, .open = sc_rest_open, .call = sc_rest_call, .close = sc_rest_close,
                      .ctx = &bk};
    if (base) run_row(cr, SC_BASELINE, &spec, NULL, NULL, 0, run, base->pid);
    spec.ctx = &ak;
    run_row(cr, SC_REST, &spec, NULL, NULL, 0, run, s->pid);
    if (cr->grpc) {
      spec.open = ag_open, spec.call = ag_call, spec.close = ag_close, spec.ctx = ghealth;
      run_row(cr, SC_GRPC, &spec, NULL, NULL, 0, run, s->pid);
    }
    if (cr->dsn) {
      pg_ctx_t pg = {.ps = NULL, .dsn = cr->dsn};
      spec.open = pg_open, spec.call = pg_call, spec.close = pg_close, spec.ctx = &pg;
      run_row(cr, SC_PG, &spec, NULL, NULL, 0, run, -1);
    }
  }
  if (cr->grpc) {
    for (int d = 0; d < 2; d++) ag_peer_free(gsearch[d]), ag_peer_free(gstream[d]);
    ag_peer_free(ghealth);
    ag_shutdown();
  }
}

/* -------------------------------------------------------------- report -- */

static bool same_point(const sc_row_t *a, const sc_row_t *b) {
  if (a->conns != b->conns || a->run != b->run) return false;
  if ((a->dataset == NULL) != (b->dataset == NULL)) return false;
  return !a->dataset || strcmp(a->dataset, b->dataset) == 0;
}

/* The row of `peer` at the point (data set, connections, run) of row a, or NULL. */
static const sc_row_t *pair_of(const sc_report_t *cr, const sc_row_t *a, sc_peer_t peer) {
  for (size_t i = 0; i < cr->n; i++)
    if (cr->rows[i].peer == peer && same_point(&cr->rows[i], a)) return &cr->rows[i];
  return NULL;
}

static bool is_akidb(sc_peer_t p) { return p == SC_REST || p == SC_GRPC || p == SC_GRPC_STREAM; }

static void write_header(FILE *f, const sc_report_t *cr, const sc_options_t *o) {
  fprintf(f, "## Closed loop: AkiDB against PostgreSQL + pgvector (same run)\n\n");
  fprintf(f,
          "- *closed loop*: N connections, one client thread each; every thread sends its next "
          "query as soon as the previous answer arrived (no think time), so QPS is what N "
          "clients get and latency is send to last byte. %.1f s warm-up (not counted), then "
          "%.0f s measured per row. Queries cycle through the query set (a shared counter). "
          "At each point AkiDB over REST runs first, then AkiDB over gRPC (unary, then "
          "streaming), then pgvector, "
          "then the next point; the whole sequence runs %u time(s).\n"
          "- AkiDB over REST: `POST .../search` with `{\"vector\":[...],\"k\":10,"
          "\"include_payload\":false}` over keep-alive HTTP/1.1 (bench/loadgen.c), the "
          "collection's calibrated `ef_search`.\n",
          o->warmup_s, o->duration_s, o->repeat);
  if (cr->grpc)
    fprintf(f, "- AkiDB over gRPC: `akidb.v1.PointService/Search` with the same vector, `k = "
               "10`, `include_payload = false`, no `ef` (the same calibrated `ef_search`), "
               "protobuf packed before timing, one HTTP/2 connection per client through %s, "
               "plaintext, the session token as `authorization: Bearer`; recall@10 from the "
               "returned ids.\n"
               "- AkiDB over gRPC stream: `akidb.v1.PointService/SearchStream`, one call per "
               "connection for the whole row, each query a `SearchStreamRequest` wrapping the "
               "same SearchRequest, sent when the answer to the last one arrived (lock step, "
               "like the other clients).\n",
            ag_client_desc());
  else
    fprintf(f, "- AkiDB over gRPC: skipped (this driver was built without the gRPC client).\n");
  fprintf(f, "- server CPU/query: CPU time of the `akidb` process during the row (warm-up "
             "included) per request sent.\n");
  if (cr->dsn) {
    fprintf(f,
            "- pgvector: %s over TCP (`PGVECTOR_DSN`), libpq, the prepared statement `SELECT id "
            "FROM <table> ORDER BY embedding <-> $1 LIMIT 10` (`<=>` for cosine) with the "
            "vector sent in pgvector's binary format and the ids returned in binary; each "
            "connection runs `SET hnsw.ef_search` first. Tables loaded by this driver with "
            "COPY (binary), HNSW m=16, ef_construction=200 (`vector_l2_ops` / "
            "`vector_cosine_ops`), prewarmed (`pg_prewarm`).",
            cr->pg_version);
    for (int i = 0; i < 2; i++) {
      const sc_pg_set_t *ps = cr->pg[i];
      if (!ps) continue;
      if (ps->load.reused)
        fprintf(f, " `%s`: reused (right row count and index), index %lld MB, ef_search %lld.",
                ps->table, ps->load.index_mb, ps->ef);
      else
        fprintf(f, " `%s`: COPY %.1f s, CREATE INDEX %.1f s, index %lld MB, ef_search %lld.",
                ps->table, ps->load.copy_s, ps->load.index_s, ps->load.index_mb, ps->ef);
    }
    fprintf(f, " ef_search calibrated as AkiDB's (the smallest of the same list reaching "
               "recall@10 0.955 over the query set, one connection).\n");
  } else {
    fprintf(f, "- pgvector: skipped: set PGVECTOR_DSN%s.\n",
            pgp_available() ? "" : " (and build with libpq-dev installed)");
  }
  fprintf(f, "- Both servers and the client share the machine's cores. Where AkiDB's tail under "
             "concurrency came from and what changed (issue 13): bench/results/tail-notes.md.\n\n");
}

static void write_rows(FILE *f, const sc_report_t *cr) {
  fprintf(f, "| data set | connections | run | AkiDB over | AkiDB QPS | AkiDB p50 (ms) | AkiDB "
             "p99 (ms) | AkiDB max (ms) | AkiDB recall@10 | AkiDB server CPU/query (µs) | "
             "pgvector QPS | pgvector p50 (ms) | pgvector p99 (ms) | pgvector max (ms) | "
             "pgvector recall@10 | p99 AkiDB ÷ pgvector | QPS AkiDB ÷ pgvector | errors | "
             "steal (%%) |\n");
  fprintf(f, "|---|--:|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n");
  for (size_t i = 0; i < cr->n; i++) {
    const sc_row_t *a = &cr->rows[i];
    if (!is_akidb(a->peer) || !a->dataset) continue;
    const sc_row_t *b = pair_of(cr, a, SC_PG);
    fprintf(f, "| %s (%u-d) | %u | %u | %s | %.0f | %.3f | %.3f | %.3f | %.4f | %.0f | ",
            a->dataset, a->dim, a->conns, a->run, peer_name(a->peer), a->qps, a->us.p50 / 1e3,
            a->us.p99 / 1e3, a->us.max / 1e3, a->recall, a->server_cpu_us);
    if (b)
      fprintf(f, "%.0f | %.3f | %.3f | %.3f | %.4f | %.2f | %.1f | %zu | %.1f |\n", b->qps,
              b->us.p50 / 1e3, b->us.p99 / 1e3, b->us.max / 1e3, b->recall,
              b->us.p99 > 0 ? a->us.p99 / b->us.p99 : 0, b->qps > 0 ? a->qps / b->qps : 0,
              a->failed + b->failed, a->steal_pct > b->steal_pct ? a->steal_pct : b->steal_pct);
    else
      fprintf(f, "skipped: set PGVECTOR_DSN | — | — | — | — | — | — | %zu | %.1f |\n", a->failed,
              a->steal_pct);
  }
  fprintf(f, "\n");
}

static void write_health(FILE *f, const sc_report_t *cr, const sc_options_t *o) {
  fprintf(f, "### Health probe on one connection: `GET /health`%s against `SELECT 1`\n\n"
             "One connection, closed loop, %.0f s per row: AkiDB's `GET /health` (no "
             "authentication, answers `{\"status\":\"ok\"}`)%s, pgvector's prepared "
             "`SELECT 1`.\n\n",
          cr->grpc ? " and gRPC `Health/Check`" : "", o->duration_s,
          cr->grpc ? " and `grpc.health.v1.Health/Check` with service `\"\"` (no "
                     "authentication, answers `SERVING`)" : "");
  fprintf(f, "| run | AkiDB probe | AkiDB p50 (ms) | AkiDB p99 (ms) | AkiDB max (ms) | AkiDB "
             "req/s | SELECT 1 p50 (ms) | SELECT 1 p99 (ms) | SELECT 1 max (ms) | SELECT 1 "
             "req/s | p99 AkiDB ÷ pgvector |\n|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n");
  for (size_t i = 0; i < cr->n; i++) {
    const sc_row_t *a = &cr->rows[i];
    if (!is_akidb(a->peer) || a->dataset) continue;
    const sc_row_t *b = pair_of(cr, a, SC_PG);
    fprintf(f, "| %u | %s | %.3f | %.3f | %.3f | %.0f | ", a->run,
            a->peer == SC_REST ? "REST `/health`" : "gRPC `Health/Check`", a->us.p50 / 1e3,
            a->us.p99 / 1e3, a->us.max / 1e3, a->qps);
    if (b)
      fprintf(f, "%.3f | %.3f | %.3f | %.0f | %.2f |\n", b->us.p50 / 1e3, b->us.p99 / 1e3,
              b->us.max / 1e3, b->qps, b->us.p99 > 0 ? a->us.p99 / b->us.p99 : 0);
    else
      fprintf(f, "skipped: set PGVECTOR_DSN | — | — | — | — |\n");
  }
  fprintf(f, "\n");
}

static void write_baseline(FILE *f, const sc_report_t *cr, const sc_options_t *o) {
  bool any = false;
  for (size_t i = 0; i < cr->n; i++) any |= cr->rows[i].peer == SC_BASELINE;
  if (!any) return;
  fprintf(f, "### Before and after (`--baseline-akidb`: %s, same run)\n\n"
             "The baseline program ran beside the measured one on its own copy of the data "
             "and was measured over REST at every point just before it.\n\n"
             "| data set | connections | run | before QPS | before p50 (ms) | before p99 (ms) | "
             "before max (ms) | after QPS | after p50 (ms) | after p99 (ms) | after max (ms) "
             "| p99 after ÷ before |\n|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n",
          o->baseline);
  for (size_t i = 0; i < cr->n; i++) {
    const sc_row_t *a = &cr->rows[i];
    if (a->peer != SC_REST) continue;
    const sc_row_t *b = pair_of(cr, a, SC_BASELINE);
    if (!b) continue;
    fprintf(f, "| %s | %u | %u | %.0f | %.3f | %.3f | %.3f | %.0f | %.3f | %.3f | %.3f | %.2f |\n",
            a->dataset ? a->dataset : "`/health`", a->conns, a->run, b->qps, b->us.p50 / 1e3,
            b->us.p99 / 1e3, b->us.max / 1e3, a->qps, a->us.p50 / 1e3, a->us.p99 / 1e3,
            a->us.max / 1e3, b->us.p99 > 0 ? a->us.p99 / b->us.p99 : 0);
  }
  fprintf(f, "\n");
}

/* Acceptance (issue 13): per point and transport, on the median over the runs. */
static void write_acceptance(FILE *f, const sc_report_t *cr) {
  fprintf(f, "### Against the acceptance of issue 13 (medians over the runs)\n\n"
             "For REST and for gRPC separately: AkiDB p99 ≤ 0.5 × pgvector's and QPS ≥ 3 × "
             "pgvector's at every connection count, recall@10 ≥ 0.95 on both sides; `/health` "
             "p99 ≤ `SELECT 1` p99 and gRPC `Health/Check` p99 ≤ `SELECT 1` p99.\n\n"
             "| data set | connections | AkiDB over | AkiDB p99 (ms) | pgvector p99 (ms) | p99 "
             "ratio (≤ 0.5) | AkiDB QPS | pgvector QPS | QPS ratio (≥ 3) | lowest recall | "
             "met |\n|---|--:|---|--:|--:|--:|--:|--:|--:|--:|---|\n");
  for (size_t i = 0; i < cr->n; i++) {
    const sc_row_t *a = &cr->rows[i];
    if (!is_akidb(a->peer) || a->run != 1) continue;
    double ap[8], bp[8], aq[8], bq[8], low = 1;
    size_t n = 0;
    for (size_t j = i; j < cr->n && n < 8; j++) {
      const sc_row_t *x = &cr->rows[j];
      if (x->peer != a->peer || x->conns != a->conns) continue;
      if ((x->dataset == NULL) != (a->dataset == NULL)) continue;
      if (x->dataset && strcmp(x->dataset, a->dataset) != 0) continue;
      const sc_row_t *y = pair_of(cr, x, SC_PG);
      if (!y) continue;
      ap[n] = x->us.p99, bp[n] = y->us.p99, aq[n] = x->qps, bq[n] = y->qps;
      if (x->dataset && x->recall < low) low = x->recall;
      if (x->dataset && y->recall < low) low = y->recall;
      n++;
    }
    if (!n) continue;
    double mp = bench_median(ap, n), mq = bench_median(bp, n), qa = bench_median(aq, n),
           qb = bench_median(bq, n);
    if (a->dataset) {
      bool met = mp <= 0.5 * mq && qa >= 3 * qb && low >= SC_TARGET_RECALL;
      fprintf(f, "| %s (%u-d) | %u | %s | %.3f | %.3f | %.2f | %.0f | %.0f | %.1f | %.4f | %s |\n",
              a->dataset, a->dim, a->conns, peer_name(a->peer), mp / 1e3, mq / 1e3,
              mq > 0 ? mp / mq : 0, qa, qb, qb > 0 ? qa / qb : 0, low, bench_mark(met));
    } else {
      fprintf(f, "| %s vs `SELECT 1` | 1 | %s | %.3f | %.3f | %.2f (≤ 1) | %.0f | %.0f | — | — "
                 "| %s |\n",
              a->peer == SC_REST ? "`/health`" : "`Health/Check`", peer_name(a->peer), mp / 1e3,
              mq / 1e3, mq > 0 ? mp / mq : 0, qa, qb, bench_mark(mp <= mq));
    }
  }
  fprintf(f, "\n");
}

void sc_write(FILE *f, const sc_report_t *cr, const sc_options_t *o) {
  write_header(f, cr, o);
  write_rows(f, cr);
  write_health(f, cr, o);
  write_baseline(f, cr, o);
  if (cr->dsn) write_acceptance(f, cr);
}
