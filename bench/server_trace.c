/*
 * server_trace.c — the server benchmark's tracing section (server_trace.h):
 * the cost of OpenTelemetry tracing (docs/tracing.md) on request
 * throughput and tail latency, off against 10% and 100% sampling, in one
 * run. Owns the OTLP sink (a loopback HTTP server in a thread per
 * connection that reads each request whole and answers 200 "{}", so the
 * exporter never waits on a slow collector and the figures are AkiDB's
 * own), the three servers, their rows and the report section.
 *
 * Threads: the sink's accept thread and one per sink connection (they
 * count into atomics and end when the servers close their connections);
 * the closed loop's (closed.c). Everything else runs on the caller's.
 */
#include "server_trace.h"

#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "closed.h"
#include "loadgen.h"
#include "server_closed.h"
#include "server_load.h"
#include "server_proc.h"

static const char *const mode_name[ST_MODES] = {"off", "on, 10% sampled", "on, 100% sampled"};
static const char *const mode_ratio[ST_MODES] = {NULL, "0.1", "1"};

static sp_server_t servers[ST_MODES] = {{.pid = -1}, {.pid = -1}, {.pid = -1}};

void st_cleanup(void) {
  for (int m = 0; m < ST_MODES; m++) sp_server_cleanup(&servers[m]);
}

/* ---------------------------------------------------------------- sink -- */

typedef struct {
  int lfd;
  uint16_t port;
  _Atomic uint64_t posts, bytes;
} sink_t;

typedef struct {
  sink_t *sink;
  int fd;
} sink_conn_t;

/* The Content-Length of a request head (0 when absent). */
static size_t content_length(const char *head, size_t len) {
  static const char key[] = "\ncontent-length:";
  for (size_t i = 0; i + sizeof key - 1 < len; i++)
    if (strncasecmp(head + i, key, sizeof key - 1) == 0)
      return (size_t)strtoull(head + i + sizeof key - 1, NULL, 10);
  return 0;
}

/* Reads requests (head, then the body by Content-Length) and answers each. */
static void *sink_serve(void *arg) {
  sink_conn_t *c = arg;
  static const char ok[] =
      "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
  size_t cap = 1 << 16, len = 0;
  char *buf = bench_xmalloc(cap);
  for (;;) {
    char *end = len >= 4 ? memmem(buf, len, "\r\n\r\n", 4) : NULL;
    if (end) {
      size_t head = (size_t)(end - buf) + 4, need = head + content_length(buf, head);
      if (len >= need) {
        atomic_fetch_add(&c->sink->posts, 1);
        atomic_fetch_add(&c->sink->bytes, need);
        memmove(buf, buf + need, len - need);
        len -= need;
        if (write(c->fd, ok, sizeof ok - 1) < 0) break;
        continue;
      }
      if (need > cap) {
        while (cap < need) cap *= 2;
        buf = realloc(buf, cap);
        if (!buf) bench_die("out of memory in the OTLP sink");
      }
    } else if (len == cap) {
      cap *= 2;
      buf = realloc(buf, cap);
      if (!buf) bench_die("out of memory in the OTLP sink");
    }
    ssize_t n = read(c->fd, buf + len, cap - len);
    if (n <= 0) break;
    len += (size_t)n;
  }
  free(buf);
  close(c->fd);
  free(c);
  return NULL;
}

static void *sink_accept(void *arg) {
  sink_t *s = arg;
  for (;;) {
    int fd = accept(s->lfd, NULL, NULL);
    if (fd < 0) {
      if (errno == EINTR) continue;
      return NULL; /* closed: the section is over */
    }
    sink_conn_t *c = bench_xmalloc(sizeof *c);
    *c = (sink_conn_t){s, fd};
    pthread_t th;
    if (pthread_create(&th, NULL, sink_serve, c) != 0) bench_die("sink thread: %s", strerror(errno));
    pthread_detach(th);
  }
}

static void sink_start(sink_t *s) {
  s->lfd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t al = sizeof a;
  if (s->lfd < 0 || bind(s->lfd, (struct sockaddr *)&a, sizeof a) != 0 || listen(s->lfd, 64) != 0 ||
      getsockname(s->lfd, (struct sockaddr *)&a, &al) != 0)
    bench_die("OTLP sink: %s", strerror(errno));
  s->port = ntohs(a.sin_port);
  pthread_t th;
  if (pthread_create(&th, NULL, sink_accept, s) != 0) bench_die("sink: %s", strerror(errno));
  pthread_detach(th);
}

/* ------------------------------------------------------------- servers -- */

/* A sample's value on a /metrics page (summed over its label sets). */
static double metric_sum(const char *page, size_t len, const char *name) {
  double v = 0;
  size_t n = strlen(name);
  for (const char *p = page; p && p < page + len; p = memchr(p, '\n', (size_t)(page + len - p))) {
    if (*p == '\n') p++;
    if ((size_t)(page + len - p) > n && strncmp(p, name, n) == 0 && (p[n] == ' ' || p[n] == '{')) {
      const char *sp = memchr(p, ' ', (size_t)(page + len - p));
      if (sp) v += strtod(sp + 1, NULL);
    }
  }
  return v;
}

/* Starts server m (tracing per its mode, exporting to the sink), loads the
 * points, waits until they are indexed. */
static void start_one(int m, const char *akidb, const char *tmp, uint16_t sink_port,
                      const sl_points_t *pts, sp_api_t *api) {
  sp_server_t *s = &servers[m];
  if (mode_ratio[m]) {
    snprintf(s->env[0], sizeof s->env[0], "ENABLE_TRACING=true");
    snprintf(s->env[1], sizeof s->env[1], "AKIDB_TRACING_ENDPOINT=http://127.0.0.1:%u",
             (unsigned)sink_port);
    snprintf(s->env[2], sizeof s->env[2], "AKIDB_TRACING_SAMPLE_RATIO=%s", mode_ratio[m]);
  }
  sp_server_start(s, akidb, tmp, false);
  sp_server_wait_ready(s);
  sp_api_setup(api, s);
  sp_api_create_collection(api, "trace128", pts->set->dim, "l2");
  char path[256];
  sp_collection_path(api, "trace128", "/points", path, sizeof path);
  sl_ingest_t j = {.enc = pts, .path = path, .token = api->token, .port = s->port,
                   .batch = 1000, .conns = 2};
  if (sl_ingest_run(&j)) bench_die("tracing section: ingest: %s", j.error);
  free(j.lat_ms);
  sp_api_wait_indexed(api, "trace128", (long long)pts->n_points);
}

/* ---------------------------------------------------------------- runs -- */

static void run_row(st_report_t *r, int m, const sl_queries_t *q, const ds_set_t *set,
                    uint32_t conns, uint32_t run) {
  if (r->n >= ST_MAX_ROWS) return;
  sc_rest_ctx_t ctx = {.port = servers[m].port, .set = set, .req = (const char *const *)q->req,
                       .len = q->len};
  cl_spec_t spec = {.connections = conns, .warmup_s = r->warmup_s, .duration_s = r->duration_s,
                    .n_queries = q->n, .open = sc_rest_open, .call = sc_rest_call,
                    .close = sc_rest_close, .ctx = &ctx};
  cl_result_t res;
  double cpu0 = sp_proc_cpu_seconds(servers[m].pid);
  if (cl_run(&spec, &res)) bench_die("tracing section, %s: %s", mode_name[m], res.error);
  st_row_t row = {.mode = m, .conns = conns, .run = run};
  row.qps = (double)res.ok / res.elapsed_s;
  row.us = bench_summarise(res.latency_us, res.n_latency);
  row.recall = res.ok ? (double)res.found / ((double)res.ok * SC_K) : 0;
  if (res.calls)
    row.server_cpu_us = (sp_proc_cpu_seconds(servers[m].pid) - cpu0) * 1e6 / (double)res.calls;
  if (res.failed) bench_die("tracing section, %s: %zu requests failed: %s", mode_name[m],
                            res.failed, res.error);
  free(res.latency_us);
  printf("  tracing %-17s %u conn: %6.0f QPS, p50 %4.0f us, p99 %5.0f us, server %.0f us/req\n",
         mode_name[m], conns, row.qps, row.us.p50, row.us.p99, row.server_cpu_us);
  fflush(stdout);
  r->rows[r->n++] = row;
}

void st_run(st_report_t *r, const char *akidb, const char *tmp, const ds_set_t *set,
            size_t points, double duration_s, double warmup_s, uint32_t repeat) {
  memset(r, 0, sizeof *r);
  r->points = points < set->n_base ? points : set->n_base;
  r->duration_s = duration_s;
  r->warmup_s = warmup_s;
  r->repeat = repeat;
  static sink_t sink;
  sink_start(&sink);
  printf("tracing section: three servers (off, 10%%, 100%%) with %zu points each, OTLP sink "
         "on port %u...\n", r->points, (unsigned)sink.port);
  fflush(stdout);
  sl_points_t pts = sl_encode_points(set, r->points);
  sp_api_t api[ST_MODES];
  for (int m = 0; m < ST_MODES; m++) start_one(m, akidb, tmp, sink.port, &pts, &api[m]);
  sl_points_free(&pts);
  sl_queries_t q[ST_MODES];
  for (int m = 0; m < ST_MODES; m++) {
    char path[256];
    sp_collection_path(&api[m], "trace128", "/search", path, sizeof path);
    q[m] = sl_encode_queries(set, path, api[m].token, SC_K);
  }
  static const uint32_t conns[] = {1, 4};
  for (uint32_t run = 1; run <= repeat; run++)
    for (size_t c = 0; c < sizeof conns / sizeof *conns; c++)
      for (int m = 0; m < ST_MODES; m++) { /* the modes interleaved at every point */
        run_row(r, m, &q[m], set, conns[c], run);
        bench_sleep_ms(200);
      }
  bench_sleep_ms(1500); /* the exporters' last batches (batch_delay 1 s) */
  for (int m = 0; m < ST_MODES; m++) {
    lg_response_t page = sp_api_call(&api[m], "GET", "/metrics", NULL, 200);
    r->started[m] = metric_sum(page.body, page.body_len, "akidb_trace_spans_started_total");
    r->exported[m] = metric_sum(page.body, page.body_len, "akidb_trace_spans_exported_total");
    r->dropped[m] = metric_sum(page.body, page.body_len, "akidb_trace_spans_dropped_total");
    sl_queries_free(&q[m]);
    lg_conn_close(&api[m].conn);
    sp_server_stop(&servers[m], NULL);
    bench_remove_tree(servers[m].dir);
    servers[m].dir[0] = servers[m].log[0] = '\0';
  }
  shutdown(sink.lfd, SHUT_RDWR);
  close(sink.lfd);
  r->sink_posts = atomic_load(&sink.posts);
  r->sink_bytes = atomic_load(&sink.bytes);
  r->ran = true;
}

/* ------------------------------------------------------------- report -- */

/* The median over runs of a row's p99 and QPS at (mode, conns). */
static void medians(const st_report_t *r, int m, uint32_t conns, double *qps, double *p99,
                    double *cpu) {
  double a[ST_MAX_ROWS], b[ST_MAX_ROWS], c[ST_MAX_ROWS];
  size_t n = 0;
  for (size_t i = 0; i < r->n; i++)
    if (r->rows[i].mode == m && r->rows[i].conns == conns) {
      a[n] = r->rows[i].qps, b[n] = r->rows[i].us.p99, c[n] = r->rows[i].server_cpu_us;
      n++;
    }
  bench_dist_t da = bench_summarise(a, n), db = bench_summarise(b, n), dc = bench_summarise(c, n);
  *qps = da.p50, *p99 = db.p50, *cpu = dc.p50;
}

void st_write(FILE *f, const st_report_t *r) {
  if (!r->ran) return;
  fprintf(f, "\n## Tracing overhead\n\n");
  fprintf(f,
          "Three `akidb serve` processes side by side, each with the same %zu points of mix128 "
          "(L2, default ef_search): tracing off; on with 10%% of requests sampled; on with "
          "every request sampled (`ENABLE_TRACING=true`, `AKIDB_TRACING_SAMPLE_RATIO`), "
          "exporting OTLP/HTTP to a sink in the benchmark process that answers 200 at once. "
          "Closed loop over REST (search, k 10), %.0f s per row after %.1f s of warm-up, the "
          "three modes interleaved at every connection count, %u run(s); server CPU per "
          "request from /proc (warm-up included). Each sampled search records its request "
          "span and children (auth, catalog, search).\n\n",
          r->points, r->duration_s, r->warmup_s, r->repeat);
  fprintf(f, "| tracing | conns | run | QPS | p50 µs | p99 µs | server CPU µs/req | recall@10 |\n");
  fprintf(f, "|---|--:|--:|--:|--:|--:|--:|--:|\n");
  for (size_t i = 0; i < r->n; i++) {
    const st_row_t *w = &r->rows[i];
    fprintf(f, "| %s | %u | %u | %.0f | %.0f | %.0f | %.1f | %.3f |\n", mode_name[w->mode],
            w->conns, w->run, w->qps, w->us.p50, w->us.p99, w->server_cpu_us, w->recall);
  }
  fprintf(f, "\nMedians over runs, against tracing off:\n\n");
  fprintf(f, "| tracing | conns | QPS | QPS vs off | p99 µs | p99 vs off | CPU µs/req vs off |\n");
  fprintf(f, "|---|--:|--:|--:|--:|--:|--:|\n");
  static const uint32_t conns[] = {1, 4};
  for (size_t c = 0; c < 2; c++) {
    double q0, p0, c0;
    medians(r, 0, conns[c], &q0, &p0, &c0);
    for (int m = 0; m < ST_MODES; m++) {
      double q, p, cpu;
      medians(r, m, conns[c], &q, &p, &cpu);
      fprintf(f, "| %s | %u | %.0f | %+.1f%% | %.0f | %+.0f µs | %+.1f |\n", mode_name[m],
              conns[c], q, q0 > 0 ? (q / q0 - 1) * 100 : 0, p, p - p0, cpu - c0);
    }
  }
  fprintf(f, "\nSpans per server (its /metrics after the rows):\n\n");
  fprintf(f, "| tracing | started | exported | dropped |\n|---|--:|--:|--:|\n");
  for (int m = 0; m < ST_MODES; m++)
    fprintf(f, "| %s | %.0f | %.0f | %.0f |\n", mode_name[m], r->started[m], r->exported[m],
            r->dropped[m]);
  fprintf(f, "\nThe sink took %llu POSTs (%.1f MB of OTLP JSON).\n",
          (unsigned long long)r->sink_posts, (double)r->sink_bytes / 1e6);
}
