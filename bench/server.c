/*
 * server.c — the server benchmark behind `make bench-server`: starts a real
 * `akidb serve` on a loopback port, sets up a tenant, a user, a database and
 * collections over REST (docs/rest-api.md), then measures through the
 * hand-written HTTP/1.1 load generator (loadgen.c):
 *   - ingest: upserts of the generated 100k x 128 set in batches of 100 and
 *     1,000, over one and several keep-alive connections (points/s from the
 *     first send to the last 200);
 *   - search on 100k x 128 (l2) and 100k x 768 (cosine): one sequential
 *     client, then open-loop load at fixed rates (latency from the scheduled
 *     send instant), each with recall@10 against exact ground truth computed
 *     in the same run from the ids the server returned; every timed row runs
 *     --repeat times, interleaved, and the targets are judged on the median
 *     p99 (each run is reported, with the hypervisor's steal time);
 *   - with --closed-only or in the full run: the closed-loop comparison of
 *     issue 13 (server_closed.c): AkiDB over REST and over gRPC against
 *     PostgreSQL + pgvector (PGVECTOR_DSN) at 1, 2, 4, 8 connections, and
 *     the health probe;
 *   - in the full run or with --tracing-only: the tracing section
 *     (server_trace.c): tracing off, 10% and 100% sampled, side by side;
 * and writes bench/results/server.md.
 *
 * Owns: option parsing, the phases and the report. The server process,
 * /proc figures and REST setup calls are server_proc.c's; the JSON
 * pre-encoding of points and queries (before any timing), recall and the
 * REST ingest (one thread per connection, a shared atomic batch counter)
 * are server_load.c's, shared with bench/grpc.c; the closed loop and its
 * report sections are server_closed.c's. The rest is single-threaded.
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"
#include "akidb/errors.h"
#include "dataset/dataset.h"
#include "loadgen.h"
#include "peer_grpc.h"
#include "server_closed.h"
#include "server_load.h"
#include "server_proc.h"
#include "server_trace.h"

#ifndef SERVER_BENCH_BUILD_TYPE
#define SERVER_BENCH_BUILD_TYPE "unknown"
#endif
#ifndef SERVER_BENCH_TMP_DEFAULT
#define SERVER_BENCH_TMP_DEFAULT "/tmp"
#endif

#define K SC_K        /* neighbours per query; recall@10 */
#define SEED 42u      /* as bench/ann.c: set seed = SEED + dimension */
#define MAX_RATES 8
#define MAX_ROWS 48

/* Targets (the server benchmark's brief). */
#define TARGET_INGEST_PPS 20000.0
#define TARGET_RECALL SC_TARGET_RECALL
#define TARGET_P99_SEQ_768_US 1000.0
#define TARGET_P99_OPEN_768_US 2500.0
#define TARGET_OPEN_768_RATE 1000.0
#define TARGET_P99_SEQ_128_US 500.0

/* Quoted reference figures (not measured here). */
#define PGVECTOR_P99_768_MS 1.56
#define PGVECTOR_P99_128_MS 0.77

typedef struct {
  const char *akidb;
  const char *out;
  const char *tmp;
  const char *baseline; /* --baseline-akidb: a second program measured beside it */
  bool quick;
  uint32_t connections; /* concurrent ingest connections */
  uint32_t pool;        /* open-loop connection pool */
  double duration_s;    /* open-loop window per rate */
  double rates[MAX_RATES];
  size_t n_rates;
  uint32_t repeat; /* runs of every timed search row, interleaved */
  bool closed_only;     /* only ingest what search needs, then the closed loop */
  bool tracing_only;    /* only the tracing section (server_trace.c) */
  bool grpc_core;       /* --grpc-client core: the C-core gRPC client, not the lean one */
  size_t tracing_points; /* points per server in the tracing section */
  sc_options_t closed;  /* the closed loop's windows, connection counts, runs */
  char command[2048];
} options_t;

/* ------------------------------------------------------------ failure -- */

/* The server under test, global so that bench_die() can stop it. */
static sp_server_t g_server = {.pid = -1};
static sp_server_t g_baseline = {.pid = -1}; /* --baseline-akidb */

/* bench_die's cleanup: the servers' logs, the servers, their directories. */
static void cleanup(void) {
  sp_server_cleanup(&g_server);
  sp_server_cleanup(&g_baseline);
  st_cleanup();
}

/* ------------------------------------------------------------- recall -- */

static void on_search_answer(void *ctx, size_t index, int status, const char *body, size_t len) {
  sl_recall_t *acc = ctx;
  if (status == 200) sl_recall_add_json(acc, index % acc->set->n_query, body, len);
}


/* -------------------------------------------------------------- ingest -- */

typedef struct {
  const char *dataset;
  uint32_t dim;
  size_t batch;
  uint32_t conns;
  size_t points;
  double seconds, pps;
  bench_dist_t batch_ms; /* per-request latency, ms */
  double server_cpu_s, client_cpu_s;
  double delete_s; /* DELETE of the scratch collection afterwards; -1 kept */
  size_t rejected; /* 429 answers retried (the indexing backlog was full) */
  bool has_target;
} ingest_row_t;

static ingest_row_t ingest_run(sp_api_t *a, const sp_server_t *s, const char *dataset,
                               const sl_points_t *enc, const char *name, size_t batch,
                               uint32_t conns) {
  char path[256];
  sp_collection_path(a, name, "/points", path, sizeof path);
  sl_ingest_t j = {.enc = enc, .path = path, .token = a->token, .port = s->port,
                   .batch = batch, .conns = conns};
  double srv0 = sp_proc_cpu_seconds(s->pid), cli0 = sp_self_cpu_seconds();
  int rc = sl_ingest_run(&j);
  ingest_row_t row = {.dataset = dataset, .dim = enc->set->dim, .batch = batch, .conns = conns,
                      .points = enc->n_points, .delete_s = -1};
  row.server_cpu_s = sp_proc_cpu_seconds(s->pid) - srv0;
  row.client_cpu_s = sp_self_cpu_seconds() - cli0;
  if (rc) bench_die("ingest into %s (batch %zu, %u connections): %s", name, batch, conns,
                    j.error);
  row.seconds = (j.last_ok - j.first_send) / 1e6;
  row.pps = (double)row.points / row.seconds;
  row.batch_ms = bench_summarise(j.lat_ms, j.n_batches);
  row.rejected = j.rejected;
  free(j.lat_ms);
  printf("  ingest %s batch %zu x %u connections: %.0f points/s (%.2f s; batch p50 %.1f ms, "
         "p99 %.1f ms)\n",
         dataset, batch, conns, row.pps, row.seconds, row.batch_ms.p50, row.batch_ms.p99);
  fflush(stdout);
  return row;
}

/* -------------------------------------------------------------- search -- */

typedef struct {
  const char *dataset;
  uint32_t dim;
  const char *metric;
  bool sequential;
  double rate; /* open loop */
  uint32_t conns;
  size_t sent, ok, failed;
  double qps, seconds;
  bench_dist_t us;
  double recall;
  size_t short_answers;
  long long ef;
  double server_cpu_us, client_cpu_us; /* per answered query */
  double max_send_lag_us;
  double steal_pct;     /* CPU time the hypervisor took from this VM during the row */
  uint32_t run;         /* 1..repeat */
  double target_p99_us; /* 0: no target on this row */
} search_row_t;

/* One client, one keep-alive connection, one query at a time. */
static search_row_t search_sequential(const sp_server_t *s, const ds_set_t *set,
                                      const sl_queries_t *q, const char *dataset,
                                      const char *metric, long long ef) {
  char err[512];
  lg_conn_t c;
  if (lg_conn_open(&c, s->port, err, sizeof err)) bench_die("%s", err);
  size_t warm = q->n < 200 ? q->n : 200;
  for (size_t i = 0; i < warm; i++) {
    struct iovec iov = {q->req[i], q->len[i]};
    lg_response_t r;
    if (lg_conn_roundtrip(&c, &iov, 1, &r, err, sizeof err)) bench_die("warm-up search: %s", err);
  }
  double *us = bench_xmalloc(q->n * sizeof *us);
  sl_recall_t acc = {.set = set, .k = K};
  search_row_t row = {.dataset = dataset, .dim = set->dim, .metric = metric, .sequential = true,
                      .conns = 1, .sent = q->n, .ef = ef};
  sp_ticks_t ticks0 = sp_cpu_ticks();
  double srv0 = sp_proc_cpu_seconds(s->pid), cli0 = sp_self_cpu_seconds(), t0 = lg_now_us();
  for (size_t i = 0; i < q->n; i++) {
    struct iovec iov = {q->req[i], q->len[i]};
    lg_response_t r;
    double t = lg_now_us();
    int rc = lg_conn_roundtrip(&c, &iov, 1, &r, err, sizeof err);
    double done = lg_now_us();
    if (rc || r.status != 200) {
      if (row.failed++ == 0)
        fprintf(stderr, "  search failed: %s\n", rc ? err : "answered with a non-200 status");
      if (rc) lg_conn_close(&c), rc = lg_conn_open(&c, s->port, err, sizeof err);
      if (rc) bench_die("%s", err);
      continue;
    }
    us[row.ok++] = done - t;
    sl_recall_add_json(&acc, i, r.body, r.body_len);
  }
  row.seconds = (lg_now_us() - t0) / 1e6;
  row.steal_pct = sp_steal_since(ticks0);
  double answered = row.ok ? (double)row.ok : 1;
  row.server_cpu_us = (sp_proc_cpu_seconds(s->pid) - srv0) * 1e6 / answered;
  row.client_cpu_us = (sp_self_cpu_seconds() - cli0) * 1e6 / answered;
  row.qps = (double)row.ok / row.seconds;
  row.us = bench_summarise(us, row.ok);
  row.recall = sl_recall_value(&acc);
  row.short_answers = acc.short_answers;
  free(us);
  lg_conn_close(&c);
  printf("  search %s sequential: %.0f QPS, p50 %.0f us, p99 %.0f us, recall@10 %.4f\n", dataset,
         row.qps, row.us.p50, row.us.p99, row.recall);
  fflush(stdout);
  return row;
}

/* Fixed-rate sends over a pool of connections; latency from the schedule. */
static search_row_t search_open_loop(const sp_server_t *s, const options_t *o, const ds_set_t *set,
                                     const sl_queries_t *q, const char *dataset,
                                     const char *metric, long long ef, double rate) {
  char err[512];
  sl_recall_t acc = {.set = set, .k = K};
  lg_open_loop_t ol = {.port = s->port, .rate = rate, .duration_s = o->duration_s,
                       .drain_s = 5.0, .connections = o->pool, .n_req = q->n,
                       .req = (const char *const *)q->req, .req_len = q->len,
                       .on_response = on_search_answer, .ctx = &acc};
  lg_open_result_t r;
  sp_ticks_t ticks0 = sp_cpu_ticks();
  double srv0 = sp_proc_cpu_seconds(s->pid), cli0 = sp_self_cpu_seconds();
  if (lg_open_loop_run(&ol, &r, err, sizeof err)) bench_die("open loop at %.0f QPS: %s", rate, err);
  double steal = sp_steal_since(ticks0);
  double answered = r.ok ? (double)r.ok : 1;
  search_row_t row = {.dataset = dataset, .dim = set->dim, .metric = metric, .rate = rate,
                      .conns = o->pool, .sent = r.sent, .ok = r.ok, .failed = r.failed,
                      .ef = ef, .max_send_lag_us = r.max_send_lag_us, .steal_pct = steal};
  row.server_cpu_us = (sp_proc_cpu_seconds(s->pid) - srv0) * 1e6 / answered;
  row.client_cpu_us = (sp_self_cpu_seconds() - cli0) * 1e6 / answered;
  row.seconds = r.elapsed_s;
  row.qps = r.elapsed_s > 0 ? (double)r.ok / r.elapsed_s : 0;
  row.us = bench_summarise(r.latency_us, r.n_latency);
  row.recall = sl_recall_value(&acc);
  row.short_answers = acc.short_answers;
  free(r.latency_us);
  printf("  search %s open loop %.0f QPS: achieved %.0f, p50 %.0f us, p99 %.0f us, errors %zu, "
         "recall@10 %.4f\n",
         dataset, rate, row.qps, row.us.p50, row.us.p99, row.failed, row.recall);
  fflush(stdout);
  return row;
}

/* -------------------------------------------------------------- report -- */

typedef struct {
  char cpu[256], kernel[256], version[512], fs[32];
  long cores;
  double load_start, load_end;
  double gen_s, encode_s, ready_s, shutdown_s;
  double index_s_128, index_s_768;
  double settle_s; /* waited after indexing for checkpoints and write-back */
  double rss_mib, hwm_mib;
  size_t bytes_128, bytes_768;
  size_t n_base, n_query;
  uint32_t clusters;
  long long m, ef_construction;
  ingest_row_t ingest[MAX_ROWS];
  size_t n_ingest;
  search_row_t search[MAX_ROWS];
  size_t n_search;
  sc_report_t closed;
  st_report_t tracing;
} report_t;

static void write_ingest(FILE *f, const report_t *rep) {
  fprintf(f, "## Ingest (REST upserts, durability `fsync`)\n\n"
             "Every point of the set, acknowledged: points/s = points ÷ (last 200 − first send). "
             "Batch latency is per request, send to full answer. Server and client CPU are the "
             "CPU seconds each process used during the run. Ids are the row numbers; "
             "no payload.\n\n");
  fprintf(f, "| data set | batch size | connections | points | seconds | points/s | batch p50 "
             "(ms) | batch p99 (ms) | 429s retried | server CPU (s) | client CPU (s) | target ≥ "
             "%.0f/s (128-d) |\n",
          TARGET_INGEST_PPS);
  fprintf(f, "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|\n");
  for (size_t i = 0; i < rep->n_ingest; i++) {
    const ingest_row_t *r = &rep->ingest[i];
    fprintf(f, "| %s | %zu | %u | %zu | %.2f | %.0f | %.1f | %.1f | %zu | %.2f | %.2f | %s |\n",
            r->dataset, r->batch, r->conns, r->points, r->seconds, r->pps, r->batch_ms.p50,
            r->batch_ms.p99, r->rejected, r->server_cpu_s, r->client_cpu_s,
            r->has_target ? bench_mark(r->pps >= TARGET_INGEST_PPS) : "—");
  }
  fprintf(f, "\n429s retried: upserts answered 429 because the collection's indexing backlog "
             "was over `storage.max_pending_bytes` (256 MiB: backpressure, issue 11); the "
             "driver waits 20 ms and sends the batch again, as a client following Retry-After "
             "would, and the batch's latency includes the waits.\n");
  for (size_t i = 0; i < rep->n_ingest; i++)
    if (rep->ingest[i].delete_s >= 0)
      fprintf(f, "%sscratch collection of the batch %zu × %u run deleted in %.2f s",
              i == 0 ? "\nEach run but the last 128-d one went into its own collection, deleted "
                       "before the next run (so its indexer stops competing): "
                     : "; ",
              rep->ingest[i].batch, rep->ingest[i].conns, rep->ingest[i].delete_s);
  fprintf(f, ".\n");
  fprintf(f, "\nAfter the upserts the background indexer had to finish before search was "
             "measured (polled `GET` collection until `\"pending\": 0`): %.1f s for mix128, "
             "%.1f s for mix768 (from the last acknowledged upsert of that collection). Then "
             "the run flushed dirty pages (`sync`) and waited until the server was idle (under "
             "2%% of a core for 3 s: its post-ingest checkpoint done): %.1f s.\n\n",
          rep->index_s_128, rep->index_s_768, rep->settle_s);
}

static void write_search(FILE *f, const report_t *rep, const options_t *o) {
  fprintf(f, "## Search (REST, k = 10)\n\n"
             "- *sequential*: one client, one keep-alive connection, one query at a time, each "
             "query of the set once after a 200-query warm-up; latency from send to the last "
             "byte of the answer.\n"
             "- *open loop*: sends scheduled every 1/rate s for %.0f s regardless of answers, over "
             "a pool of %u keep-alive connections (non-blocking, epoll, one client thread); a "
             "send that finds no idle connection waits for one, and latency is measured from "
             "the *scheduled* instant to the last byte of the answer (no coordinated omission). "
             "Queries cycle through the query set. errors = non-200 answers, connection errors "
             "and requests unanswered 5 s after the window.\n"
             "- recall@10: from the ids in the answers of that same row, against exact ground "
             "truth (flat index). ef: the collection's `ef_search` (no `ef` in the request), "
             "set before timing by a calibration pass: the smallest of 16, 24, 32, 40, 48, 64, "
             "80, 96, 128, 160, 256 whose recall@10 over the query set reached 0.955 (`PATCH` "
             "of `index.ef_search`; the default is 160). The timed rows measure recall again.\n"
             "- CPU/query: CPU time of the server process and of the load generator during the "
             "row, per answered query (both share the 2 cores).\n"
             "- run: every timed row was run %u time(s), interleaved (all rows of run 1, then "
             "of run 2, ...), so that a stretch of machine stalls does not fall on every run of "
             "one row; the targets above are judged on the median p99 of the runs, and every "
             "run is listed here.\n"
             "- steal: share of the machine's CPU time the hypervisor took during the row "
             "(`steal` in /proc/stat): time this VM wanted to run and could not.\n\n",
          o->duration_s, o->pool, o->repeat);
  fprintf(f, "| data set | mode | run | rate (QPS) | achieved QPS | p50 (ms) | p95 (ms) | "
             "p99 (ms) | max (ms) | errors | recall@10 | ef | server CPU/query (µs) | client "
             "CPU/query (µs) | steal (%%) | p99 target | met |\n");
  fprintf(f, "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|\n");
  for (size_t i = 0; i < rep->n_search; i++) {
    const search_row_t *r = &rep->search[i];
    char rate[32], target[32], met[64];
    if (r->sequential) snprintf(rate, sizeof rate, "—");
    else snprintf(rate, sizeof rate, "%.0f", r->rate);
    if (r->target_p99_us > 0) snprintf(target, sizeof target, "< %.1f ms", r->target_p99_us / 1e3);
    else snprintf(target, sizeof target, "—");
    bool recall_ok = r->recall >= TARGET_RECALL;
    if (r->target_p99_us > 0)
      snprintf(met, sizeof met, "%s%s", bench_mark(r->us.p99 < r->target_p99_us && r->failed == 0),
               recall_ok ? "" : " (recall missed)");
    else snprintf(met, sizeof met, "%s", recall_ok ? "—" : "recall **missed**");
    fprintf(f, "| %s (%u-d %s) | %s | %u | %s | %.0f | %.3f | %.3f | %.3f | %.3f | %zu | %.4f "
               "| %lld | %.0f | %.0f | %.1f | %s | %s |\n",
            r->dataset, r->dim, r->metric, r->sequential ? "sequential" : "open loop", r->run,
            rate, r->qps, r->us.p50 / 1e3, r->us.p95 / 1e3, r->us.p99 / 1e3, r->us.max / 1e3,
            r->failed, r->recall, r->ef, r->server_cpu_us, r->client_cpu_us, r->steal_pct,
            target, met);
  }
  fprintf(f, "\n");
  for (size_t i = 0; i < rep->n_search; i++)
    if (rep->search[i].short_answers)
      fprintf(f, "Note: %zu answers of %s (%s) held fewer than 10 hits.\n",
              rep->search[i].short_answers, rep->search[i].dataset,
              rep->search[i].sequential ? "sequential" : "open loop");
  double lag = -1;
  for (size_t i = 0; i < rep->n_search; i++) {
    const search_row_t *r = &rep->search[i];
    bool kept_up = !r->sequential && r->failed == 0 && r->qps >= 0.97 * r->rate;
    if (kept_up && r->max_send_lag_us > lag) lag = r->max_send_lag_us;
  }
  if (lag >= 0)
    fprintf(f, "Load generator check: in the open-loop rows the server kept up with (no errors, "
               "achieved ≥ 97%% of the rate), the latest any send left after its scheduled "
               "instant was %.2f ms; such a wait (a busy pool or a descheduled client) is "
               "counted inside the latencies above.\n\n",
            lag / 1e3);
}

/* The targets of the brief, one line each. */
static void write_targets(FILE *f, const report_t *rep) {
  fprintf(f, "## Targets\n\n| target | measured | met |\n|---|---|---|\n");
  double best = 0;
  const ingest_row_t *bi = NULL;
  for (size_t i = 0; i < rep->n_ingest; i++)
    if (rep->ingest[i].has_target && rep->ingest[i].pps > best) {
      best = rep->ingest[i].pps;
      bi = &rep->ingest[i];
    }
  if (bi)
    fprintf(f, "| ingest ≥ %.0f points/s at 128-d | %.0f points/s (best: batch %zu, %u connection(s)) "
               "| %s |\n",
            TARGET_INGEST_PPS, best, bi->batch, bi->conns, bench_mark(best >= TARGET_INGEST_PPS));
  for (size_t i = 0; i < rep->n_search; i++) {
    const search_row_t *r = &rep->search[i];
    if (r->target_p99_us <= 0 || r->run != 1) continue;
    char mode[64], runs[256] = "";
    if (r->sequential) snprintf(mode, sizeof mode, "sequential");
    else snprintf(mode, sizeof mode, "open loop at %.0f QPS", r->rate);
    double p99[MAX_ROWS];
    size_t n = 0, errors = 0, used = 0;
    for (size_t j = i; j < rep->n_search; j++) {
      const search_row_t *o = &rep->search[j];
      if (strcmp(o->dataset, r->dataset) != 0 || o->sequential != r->sequential ||
          o->rate != r->rate)
        continue;
      p99[n++] = o->us.p99;
      errors += o->failed;
      used += (size_t)snprintf(runs + used, used < sizeof runs ? sizeof runs - used : 0, "%s%.3f",
                               n > 1 ? ", " : "", o->us.p99 / 1e3);
    }
    double median = bench_median(p99, n);
    fprintf(f, "| %s (%u-d %s) %s: p99 < %.1f ms | %.3f ms%s (runs: %s ms; %zu errors) | %s |\n",
            r->dataset, r->dim, r->metric, mode, r->target_p99_us / 1e3, median / 1e3,
            n > 1 ? " median" : "", runs, errors, bench_mark(median < r->target_p99_us && errors == 0));
  }
  double worst = 1;
  for (size_t i = 0; i < rep->n_search; i++)
    if (rep->search[i].recall < worst) worst = rep->search[i].recall;
  fprintf(f, "| recall@10 ≥ %.2f at default settings (every search row) | lowest %.4f | %s |\n\n",
          TARGET_RECALL, worst, bench_mark(worst >= TARGET_RECALL));
}

static void write_report(const report_t *rep, const options_t *o) {
  FILE *f = fopen(o->out, "w");
  if (!f) bench_die("cannot write %s: %s", o->out, strerror(errno));
  time_t now = time(NULL);
  char date[64];
  strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", gmtime(&now));
  fprintf(f, "# Server benchmark: AkiDB over REST\n\n");
  fprintf(f, "- Date: %s%s%s\n", date, o->quick ? " — **--quick smoke run, not the real figures**" : "",
          o->closed_only ? " — **--closed-only: ingest for search and the closed-loop comparison "
                           "only**" : "");
  fprintf(f, "- Command: `%s`\n", o->command);
  fprintf(f, "- Machine: %s, %ld cores online; %s. **The server and the load generator share "
             "these cores** (loopback TCP).\n",
          rep->cpu, rep->cores, rep->kernel);
  fprintf(f, "- Load average (1 min): %.2f when the run began, %.2f when it ended.\n",
          rep->load_start, rep->load_end);
  fprintf(f, "- AkiDB: `%s` (%s), started as `akidb serve --host 127.0.0.1 --port <free> "
             "--data-dir <scratch> --log-level warn` with default settings (durability "
             "`fsync`, default HTTP threads: one per connection; gRPC on a free port for the "
             "closed loop when this driver has the gRPC client); data directory on %s; ready "
             "%.2f s after spawn, "
             "stopped by SIGTERM in %.2f s; server RSS %.0f MiB after loading (peak %.0f MiB).\n",
          rep->version, SERVER_BENCH_BUILD_TYPE, rep->fs, rep->ready_s, rep->shutdown_s,
          rep->rss_mib, rep->hwm_mib);
  fprintf(f, "- Data: the engine benchmark's generated Gaussian mixtures (bench/ann.c): "
             "mix128 = %zu × 128, l2; mix768 = %zu × 768, cosine; %u clusters, seed 42 + "
             "dimension; %zu queries each from the same mixture; exact top-10 ground truth. "
             "Generated in %.1f s.\n",
          rep->n_base, rep->n_base, rep->clusters, rep->n_query, rep->gen_s);
  fprintf(f, "- Collections: created with the defaults (HNSW m=%lld, ef_construction=%lld); "
             "set up over REST as a tenant admin (tenant, user, database created through the "
             "API by the system admin).\n",
          rep->m, rep->ef_construction);
  fprintf(f, "- Client: bench/loadgen.c, a hand-written HTTP/1.1 client (keep-alive, "
             "TCP_NODELAY, Content-Length bodies). Point and query JSON were encoded before "
             "any timing (floats as `%%.9g`; %.0f MB for mix128, %.0f MB for mix768, %.1f s); "
             "result ids are found in the answer with a minimal scan for `\"id\"`.\n\n",
          (double)rep->bytes_128 / 1e6, (double)rep->bytes_768 / 1e6, rep->encode_s);
  if (!o->closed_only) write_targets(f, rep);
  write_ingest(f, rep);
  if (!o->closed_only) write_search(f, rep, o);
  sc_write(f, &rep->closed, &o->closed);
  st_write(f, &rep->tracing);
  if (!rep->closed.dsn)
    fprintf(f, "## For scale: PostgreSQL + pgvector (quoted, not measured here)\n\n"
             "Figures given in the task for PostgreSQL with pgvector HNSW (m=16, "
             "ef_construction=200), queried through libpq with a prepared statement on this "
             "kind of machine, at recall ≈ 0.95: p99 **%.2f ms** at 100k × 768 and **%.2f ms** "
             "at 100k × 128. They are reference figures quoted from the task, not measured in "
             "this run, and come from a different client path (binary libpq protocol rather "
             "than JSON over HTTP).\n\n",
          PGVECTOR_P99_768_MS, PGVECTOR_P99_128_MS);
  fprintf(f, "## Reproduce\n\n```\nmake bench-server\n# or\ncmake -S . -B build/bench "
             "-DCMAKE_BUILD_TYPE=Release -DAKIDB_BENCH=ON -DAKIDB_TESTS=OFF -DAKIDB_SERVER=ON\ncmake --build "
             "build/bench -j2 --target akidb server_bench\n%s\n```\n",
          o->command);
  fclose(f);
}

/* ---------------------------------------------------------------- main -- */

static void usage(FILE *out) {
  fprintf(out,
          "usage: server --akidb PATH [--out FILE] [--quick] [--tmp DIR]\n"
          "              [--connections N] [--pool N] [--duration S] [--rates R1,R2,...]\n"
          "              [--grpc-client h2|core]\n"
          "  --akidb PATH       the akidb program to start (`akidb serve`)\n"
          "  --out FILE         report (default bench/results/server.md)\n"
          "  --quick            10k points, 200 queries, 2 s per rate: a smoke run\n"
          "  --tmp DIR          scratch data directory parent (default %s)\n"
          "  --connections N    concurrent ingest connections (default 4)\n"
          "  --pool N           open-loop connection pool (default 32)\n"
          "  --duration S       open-loop window per rate (default 10)\n"
          "  --rates LIST       open-loop rates in QPS (default 500,1000,2000)\n"
          "  --repeat N         runs of every timed search row, interleaved (default 3;\n"
          "                     1 with --quick); targets are judged on the median p99\n"
          "  --tracing-only     only the tracing section: three servers (tracing off, 10%%,\n"
          "                     100%% sampled) on 20,000 mix128 points, closed loop at 1 and\n"
          "                     4 connections, --repeat runs (written alone to --out)\n"
          "  --grpc-client C    the closed loop's gRPC client: h2 (default; bench/h2grpc.c,\n"
          "                     hand-written HTTP/2) or core (the gRPC C core)\n"
          "  --closed-only      ingest only mix128 and mix768 (batch 1000), calibrate, and\n"
          "                     run only the closed-loop comparison and the health probe\n"
          "  --closed-duration S  closed-loop window per row (default 8; 2 with --quick)\n"
          "  --closed-conns LIST  closed-loop connection counts (default 1,2,4,8)\n"
          "  --baseline-akidb PATH  with --closed-only: a second akidb program (e.g. the\n"
          "                     build before a change), started beside the first on its own\n"
          "                     data, measured over REST at every closed-loop point just\n"
          "                     before it\n"
          "environment:\n"
          "  PGVECTOR_DSN       libpq connection string of a PostgreSQL with pgvector: the\n"
          "                     closed loop and the health probe run against it too (its\n"
          "                     tables loaded by this driver); unset: the peer is skipped\n",
          SERVER_BENCH_TMP_DEFAULT);
}

static void parse_options(int argc, char **argv, options_t *o) {
  memset(o, 0, sizeof *o);
  o->out = "bench/results/server.md";
  o->tmp = SERVER_BENCH_TMP_DEFAULT;
  o->connections = 4;
  o->pool = 32;
  o->duration_s = -1;
  o->closed.duration_s = -1;
  o->closed.warmup_s = 1.0;
  const uint32_t conns[] = {1, 2, 4, 8};
  memcpy(o->closed.conns, conns, sizeof conns);
  o->closed.n_conns = 4;
  const double rates[] = {500, 1000, 2000};
  memcpy(o->rates, rates, sizeof rates);
  o->n_rates = 3;
  size_t used = 0;
  for (int i = 0; i < argc; i++)
    used += (size_t)snprintf(o->command + used, used < sizeof o->command ? sizeof o->command - used : 0,
                             "%s%s", i ? " " : "", argv[i]);
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    bool takes = true;
    if (strcmp(a, "--quick") == 0) {
      o->quick = true;
      takes = false;
    } else if (strcmp(a, "--closed-only") == 0) {
      o->closed_only = true;
      takes = false;
    } else if (strcmp(a, "--tracing-only") == 0) {
      o->tracing_only = true;
      takes = false;
    } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      usage(stdout);
      exit(0);
    } else if (!v) {
      usage(stderr);
      exit(2);
    } else if (strcmp(a, "--akidb") == 0) o->akidb = v;
    else if (strcmp(a, "--baseline-akidb") == 0) o->baseline = v;
    else if (strcmp(a, "--grpc-client") == 0 && strcmp(v, "h2") == 0) o->grpc_core = false;
    else if (strcmp(a, "--grpc-client") == 0 && strcmp(v, "core") == 0) o->grpc_core = true;
    else if (strcmp(a, "--out") == 0) o->out = v;
    else if (strcmp(a, "--tmp") == 0) o->tmp = v;
    else if (strcmp(a, "--connections") == 0) o->connections = (uint32_t)atoi(v);
    else if (strcmp(a, "--pool") == 0) o->pool = (uint32_t)atoi(v);
    else if (strcmp(a, "--duration") == 0) o->duration_s = atof(v);
    else if (strcmp(a, "--repeat") == 0) o->repeat = (uint32_t)atoi(v);
    else if (strcmp(a, "--closed-duration") == 0) o->closed.duration_s = atof(v);
    else if (strcmp(a, "--closed-conns") == 0) {
      o->closed.n_conns = 0;
      char *copy = strdup(v), *save = NULL;
      for (char *t = strtok_r(copy, ",", &save); t && o->closed.n_conns < SC_MAX_CONNS;
           t = strtok_r(NULL, ",", &save)) {
        int c = atoi(t);
        if (c < 1 || c > 64) bench_die("--closed-conns: counts from 1 to 64");
        o->closed.conns[o->closed.n_conns++] = (uint32_t)c;
      }
      free(copy);
    } else if (strcmp(a, "--rates") == 0) {
      o->n_rates = 0;
      char *copy = strdup(v), *save = NULL;
      for (char *t = strtok_r(copy, ",", &save); t && o->n_rates < MAX_RATES;
           t = strtok_r(NULL, ",", &save))
        o->rates[o->n_rates++] = atof(t);
      free(copy);
    } else {
      fprintf(stderr, "server: unknown option %s\n", a);
      usage(stderr);
      exit(2);
    }
    if (takes) i++;
  }
  if (o->duration_s < 0) o->duration_s = o->quick ? 2.0 : 10.0;
  if (o->repeat == 0) o->repeat = o->quick ? 1 : 3;
  if (o->closed.duration_s < 0) o->closed.duration_s = o->quick ? 2.0 : 8.0;
  if (o->quick) o->closed.warmup_s = 0.5;
  o->closed.repeat = o->repeat;
  o->closed.baseline = o->baseline;
  o->tracing_points = o->quick ? 5000 : 20000;
  if (!o->akidb || o->connections < 1 || o->connections > 64 || o->pool < 1 || o->n_rates == 0 ||
      o->duration_s <= 0 || o->repeat > 5 || o->closed.duration_s <= 0 ||
      o->closed.n_conns == 0 || (o->baseline && !o->closed_only)) {
    usage(stderr);
    exit(2);
  }
  for (size_t i = 0; i < o->n_rates; i++)
    if (o->rates[i] <= 0) bench_die("--rates must be positive numbers");
}

static void make_set(const char *name, uint32_t dim, akidb_metric_t metric, size_t n_base,
                     size_t n_query, uint32_t clusters, ds_set_t *set) {
  int rc = ds_make_mixture(name, n_base, n_query, dim, metric, clusters, SEED + dim, K, set);
  if (rc) bench_die("generating %s: %s", name, akidb_strerror(rc));
  if (set->gt_k < K) bench_die("%s: ground truth has only %u neighbours", name, set->gt_k);
}

/* Ingest phase: 128-d in every batch × connection shape, then 768-d. */

static void run_ingest(sp_api_t *a, const sp_server_t *s, const options_t *o, report_t *rep,
                       const sl_points_t *e128, const sl_points_t *e768) {
  const size_t batches[] = {100, 1000};
  /* --closed-only: only the run that fills mix128 (batch 1000). */
  for (size_t bi = o->closed_only ? 1 : 0; bi < 2; bi++) {
    uint32_t shapes[2] = {1, o->connections};
    for (size_t ci = o->closed_only && o->connections > 1 ? 1 : 0;
         ci < (o->connections > 1 ? 2u : 1u); ci++) {
      bool keep = bi == 1 && ci == (o->connections > 1 ? 1u : 0u);
      char name[64];
      if (keep) snprintf(name, sizeof name, "mix128");
      else snprintf(name, sizeof name, "ingest_b%zu_c%u", batches[bi], shapes[ci]);
      sp_api_create_collection(a, name, 128, "l2");
      ingest_row_t row = ingest_run(a, s, "mix128", e128, name, batches[bi], shapes[ci]);
      row.has_target = true;
      if (!keep) {
        double t = lg_now_us();
        sp_api_delete_collection(a, name);
        row.delete_s = (lg_now_us() - t) / 1e6;
      }
      rep->ingest[rep->n_ingest++] = row;
    }
  }
  double t128 = lg_now_us();
  sp_api_create_collection(a, "mix768", 768, "cosine");
  rep->ingest[rep->n_ingest++] = ingest_run(a, s, "mix768", e768, "mix768", 1000, o->connections);
  double t768 = lg_now_us();
  printf("waiting for the indexer (pending 0)...\n");
  fflush(stdout);
  sp_api_wait_indexed(a, "mix128", (long long)e128->n_points);
  rep->index_s_128 = (lg_now_us() - t128) / 1e6;
  sp_api_wait_indexed(a, "mix768", (long long)e768->n_points);
  rep->index_s_768 = (lg_now_us() - t768) / 1e6;
  rep->settle_s = sp_wait_settled(s);
}

/* Sets the collection's ef_search (PATCH) to the smallest of sl_cal_efs whose
 * recall@10 over the query set reaches SL_CAL_RECALL; untimed. */
static long long calibrate_ef(sp_api_t *a, const sp_server_t *s, const ds_set_t *set,
                              const sl_queries_t *q, const char *name, const char *metric) {
  char path[256], body[128];
  sp_collection_path(a, name, "", path, sizeof path);
  long long ef = sl_cal_efs[SL_N_CAL_EFS - 1];
  for (size_t i = 0; i < SL_N_CAL_EFS; i++) {
    snprintf(body, sizeof body, "{\"index\":{\"ef_search\":%lld}}", sl_cal_efs[i]);
    sp_api_call(a, "PATCH", path, body, 200);
    printf("  calibrating %s: ef_search %lld\n", name, sl_cal_efs[i]);
    search_row_t row = search_sequential(s, set, q, name, metric, sl_cal_efs[i]);
    if (row.recall >= SL_CAL_RECALL) {
      ef = sl_cal_efs[i];
      break;
    }
  }
  snprintf(body, sizeof body, "{\"index\":{\"ef_search\":%lld}}", ef);
  sp_api_call(a, "PATCH", path, body, 200);
  return ef;
}

/* Search phase for one data set: calibration, then (unless --closed-only)
 * sequential and each open-loop rate; returns the calibrated ef_search. */
static long long run_search(sp_api_t *a, const sp_server_t *s, const options_t *o, report_t *rep,
                       const ds_set_t *set, const char *name, const char *metric) {
  char path[256];
  sp_collection_path(a, name, "/search", path, sizeof path);
  sp_coll_info_t info = sp_api_collection_info(a, name);
  rep->m = info.m;
  rep->ef_construction = info.ef_construction;
  sl_queries_t q = sl_encode_queries(set, path, a->token, K);
  info.ef_search = calibrate_ef(a, s, set, &q, name, metric);
  for (uint32_t run = 1; run <= o->repeat && !o->closed_only && rep->n_search < MAX_ROWS; run++) {
    if (o->repeat > 1) printf("  run %u of %u\n", run, o->repeat);
    search_row_t row = search_sequential(s, set, &q, name, metric, info.ef_search);
    row.run = run;
    row.target_p99_us = set->dim == 768 ? TARGET_P99_SEQ_768_US : TARGET_P99_SEQ_128_US;
    rep->search[rep->n_search++] = row;
    for (size_t i = 0; i < o->n_rates && rep->n_search < MAX_ROWS; i++) {
      bench_sleep_ms(500);
      row = search_open_loop(s, o, set, &q, name, metric, info.ef_search, o->rates[i]);
      row.run = run;
      if (set->dim == 768 && o->rates[i] == TARGET_OPEN_768_RATE)
        row.target_p99_us = TARGET_P99_OPEN_768_US;
      rep->search[rep->n_search++] = row;
    }
  }
  sl_queries_free(&q);
  return info.ef_search;
}

/* The closed-loop phase: the sets' REST requests (and the baseline's),
 * then server_closed.c's comparison. */
static void run_closed(sp_api_t *a, sp_api_t *ba, const options_t *o, report_t *rep,
                       report_t *brep, const ds_set_t *s128, const ds_set_t *s768, long long ef128,
                       long long ef768) {
  sc_set_t cs[2] = {{.set = s128, .name = "mix128", .metric = "l2", .ef = ef128,
                     .pg = rep->closed.pg[0]},
                    {.set = s768, .name = "mix768", .metric = "cosine", .ef = ef768,
                     .pg = rep->closed.pg[1]}};
  for (int i = 0; i < 2; i++) {
    char path[256];
    sp_collection_path(a, cs[i].name, "/search", path, sizeof path);
    cs[i].q = sl_encode_queries(cs[i].set, path, a->token, K);
    if (o->baseline) {
      cs[i].base_ef = run_search(ba, &g_baseline, o, brep, cs[i].set, cs[i].name, cs[i].metric);
      sp_collection_path(ba, cs[i].name, "/search", path, sizeof path);
      cs[i].base_q = sl_encode_queries(cs[i].set, path, ba->token, K);
    }
  }
  sc_run(&rep->closed, &o->closed, &g_server, o->baseline ? &g_baseline : NULL, a, cs, 2);
  printf("server RSS after the closed loop: %.0f MiB (peak %.0f MiB)\n",
         sp_proc_vm_mib(g_server.pid, "VmRSS"), sp_proc_vm_mib(g_server.pid, "VmHWM"));
  if (o->baseline)
    printf("baseline RSS after the closed loop: %.0f MiB (peak %.0f MiB)\n",
           sp_proc_vm_mib(g_baseline.pid, "VmRSS"), sp_proc_vm_mib(g_baseline.pid, "VmHWM"));
  for (int i = 0; i < 2; i++) {
    sl_queries_free(&cs[i].q);
    if (o->baseline) sl_queries_free(&cs[i].base_q);
  }
}

/* --tracing-only: mix128, the tracing section, a report of it alone. */
static void run_tracing_only(const options_t *o, report_t *rep) {
  ds_set_t s128;
  size_t n = o->tracing_points;
  make_set("mix128", 128, AKIDB_METRIC_L2, n, o->quick ? 200 : 1000, o->quick ? 100 : 300, &s128);
  st_run(&rep->tracing, o->akidb, o->tmp, &s128, n, o->closed.duration_s, o->closed.warmup_s,
         o->repeat);
  FILE *f = fopen(o->out, "w");
  if (!f) bench_die("cannot write %s: %s", o->out, strerror(errno));
  time_t now = time(NULL);
  char date[64];
  strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", gmtime(&now));
  fprintf(f, "# Server benchmark: tracing overhead only (--tracing-only)\n\n");
  fprintf(f, "- Date: %s\n- Command: `%s`\n", date, o->command);
  fprintf(f, "- Machine: %s, %ld cores online; %s. The servers and the load generator share "
             "these cores (loopback TCP).\n- AkiDB: %s\n",
          rep->cpu, rep->cores, rep->kernel, rep->version);
  st_write(f, &rep->tracing);
  fclose(f);
  ds_free(&s128);
  printf("wrote %s\n", o->out);
}

int main(int argc, char **argv) {
  bench_fatal_init("server bench", cleanup);
  options_t o;
  parse_options(argc, argv, &o);
  signal(SIGPIPE, SIG_IGN);
  static report_t rep;
  rep.load_start = sp_load_average();
  bench_cpu_model(rep.cpu, sizeof rep.cpu);
  rep.cores = sysconf(_SC_NPROCESSORS_ONLN);
  struct utsname u;
  if (uname(&u) == 0) snprintf(rep.kernel, sizeof rep.kernel, "Linux %s", u.release);
  sp_akidb_version(o.akidb, rep.version, sizeof rep.version);

  if (o.tracing_only) {
    run_tracing_only(&o, &rep);
    return 0;
  }
  rep.n_base = o.quick ? 10000 : 100000;
  rep.n_query = o.quick ? 200 : 1000;
  rep.clusters = o.quick ? 100 : 300;
  printf("generating mix128 and mix768 (%zu points, %zu queries, exact ground truth)...\n",
         rep.n_base, rep.n_query);
  fflush(stdout);
  double t = lg_now_us();
  ds_set_t s128, s768;
  make_set("mix128", 128, AKIDB_METRIC_L2, rep.n_base, rep.n_query, rep.clusters, &s128);
  make_set("mix768", 768, AKIDB_METRIC_COSINE, rep.n_base, rep.n_query, rep.clusters, &s768);
  rep.gen_s = (lg_now_us() - t) / 1e6;

  /* The pgvector peer: tables loaded (or reused) and ef_search calibrated
   * before AkiDB starts, so neither competes with the other's set-up. */
  sc_pg_prepare(&rep.closed, &s128, &s768);
  t = lg_now_us();
  sl_points_t e128 = sl_encode_points(&s128, s128.n_base), e768 = sl_encode_points(&s768, s768.n_base);
  rep.encode_s = (lg_now_us() - t) / 1e6;
  rep.bytes_128 = sl_points_bytes(&e128);
  rep.bytes_768 = sl_points_bytes(&e768);

  ag_use_client(!o.grpc_core);
  printf("starting %s serve...\n", o.akidb);
  fflush(stdout);
  sp_server_start(&g_server, o.akidb, o.tmp, ag_available());
  snprintf(rep.fs, sizeof rep.fs, "%s", sp_fs_name(g_server.dir));
  rep.ready_s = sp_server_wait_ready(&g_server);
  sp_api_t api;
  sp_api_setup(&api, &g_server);

  run_ingest(&api, &g_server, &o, &rep, &e128, &e768);
  rep.rss_mib = sp_proc_vm_mib(g_server.pid, "VmRSS");
  rep.hwm_mib = sp_proc_vm_mib(g_server.pid, "VmHWM");
  printf("server RSS after loading: %.0f MiB (peak %.0f MiB)\n", rep.rss_mib, rep.hwm_mib);
  /* --baseline-akidb: the second program, its own data, the same ingest. */
  sp_api_t bapi;
  memset(&bapi, 0, sizeof bapi);
  static report_t brep;
  if (o.baseline) {
    printf("starting the baseline %s serve...\n", o.baseline);
    fflush(stdout);
    sp_server_start(&g_baseline, o.baseline, o.tmp, false);
    sp_server_wait_ready(&g_baseline);
    sp_api_setup(&bapi, &g_baseline);
    run_ingest(&bapi, &g_baseline, &o, &brep, &e128, &e768);
    printf("baseline RSS after loading: %.0f MiB (peak %.0f MiB)\n",
           sp_proc_vm_mib(g_baseline.pid, "VmRSS"), sp_proc_vm_mib(g_baseline.pid, "VmHWM"));
  }
  sl_points_free(&e128);
  sl_points_free(&e768);

  long long ef128 = run_search(&api, &g_server, &o, &rep, &s128, "mix128", "l2");
  long long ef768 = run_search(&api, &g_server, &o, &rep, &s768, "mix768", "cosine");
  run_closed(&api, &bapi, &o, &rep, &brep, &s128, &s768, ef128, ef768);
  if (!o.closed_only)
    st_run(&rep.tracing, o.akidb, o.tmp, &s128, o.tracing_points, o.closed.duration_s,
           o.closed.warmup_s, o.repeat);
  if (o.baseline) {
    lg_conn_close(&bapi.conn);
    sp_server_stop(&g_baseline, NULL);
    bench_remove_tree(g_baseline.dir);
    g_baseline.dir[0] = '\0';
    g_baseline.log[0] = '\0';
  }

  lg_conn_close(&api.conn);
  sp_server_stop(&g_server, &rep.shutdown_s);
  bench_remove_tree(g_server.dir);
  g_server.dir[0] = '\0';
  g_server.log[0] = '\0';
  rep.load_end = sp_load_average();
  write_report(&rep, &o);
  ds_free(&s128);
  ds_free(&s768);
  printf("wrote %s\n", o.out);
  return 0;
}
