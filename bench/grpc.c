/*
 * grpc.c — the gRPC benchmark behind `make bench-grpc`: starts a real
 * `akidb serve` with its gRPC server on a free loopback port, sets up a
 * tenant, a user, a database and collections over REST (server_proc.c),
 * then measures, in the same run, gRPC beside REST:
 *   - ingest: points/s of upserts in batches of 1,000 (durability fsync,
 *     the default) at 128-d and 768-d, with 1 and --clients concurrent
 *     clients, over REST (server_load.c's HTTP/1.1 ingest), gRPC unary
 *     (PointService/Upsert) and gRPC streaming (PointService/UpsertStream,
 *     one ack per durable batch); a method the server answers UNIMPLEMENTED
 *     is reported "not served";
 *   - search (k = 10) on 100k x 128 (l2) and 100k x 768 (cosine): one
 *     sequential client per transport (taking turns in blocks of queries),
 *     then a closed loop of --clients clients (each sends its next query
 *     when the last answer arrived), over REST, gRPC unary
 *     (PointService/Search) and gRPC streaming (SearchStream), with
 *     recall@10 against exact ground truth and the server's and the
 *     client's CPU per query;
 * and writes bench/results/grpc.md.
 *
 * Every request is encoded before any timing: REST JSON (server_load.c),
 * protobuf with protobuf-c (upserts here, searches in grpc_msgs.c). The gRPC client is
 * grpc_client.h's, chosen with --grpc-client: h2 (default, h2grpc.c: hand-written
 * HTTP/2, as REST's client is hand-written HTTP/1.1) or core (the gRPC C core); with
 * h2, the closed-loop search rows also run once more on the C-core client, labelled
 * so, for comparison. Search rows of both transports run through the same loop
 * (client_query), so that only the transport differs.
 *
 * Threads: ingest and the closed loop run one thread per client (shared
 * atomic counters, results merged under a mutex); the rest is
 * single-threaded.
 *
 * Placement: by default the server runs on the first half of the CPUs this
 * process may use and every thread of this driver on the other half
 * (--server-cpus/--client-cpus to choose, --shared-cores to share them all),
 * as a server meets clients from other machines. Sharing the cores, the
 * clients' wake-ups land on the server's cores and preempt its threads, and
 * where the scheduler puts them moved the same row's server CPU per query
 * by ±25% between runs (bench/results/grpc-notes.md, session 9).
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "akidb/errors.h"
#include "akidb/v1/points.pb-c.h"
#include "bench_util.h"
#include "dataset/dataset.h"
#include "grpc_client.h"
#include "grpc_msgs.h"
#include "h2grpc.h"
#include "loadgen.h"
#include "server_load.h"
#include "server_proc.h"

#ifndef GRPC_BENCH_BUILD_TYPE
#define GRPC_BENCH_BUILD_TYPE "unknown"
#endif
#ifndef GRPC_BENCH_TMP_DEFAULT
#define GRPC_BENCH_TMP_DEFAULT "/tmp"
#endif

#define K 10u         /* neighbours per query; recall@10 */
#define SEED 42u      /* as bench/ann.c: set seed = SEED + dimension */
#define BATCH 1000u   /* points per upsert */
#define MAX_ROWS 128
#define MAX_RUNS 5

#define M_UPSERT "/akidb.v1.PointService/Upsert"
#define M_STREAM "/akidb.v1.PointService/UpsertStream"
#define M_SEARCH GM_SEARCH
#define M_SEARCH_STREAM GM_SEARCH_STREAM

/* Targets (the gRPC benchmark's brief). */
#define TARGET_RECALL 0.95
#define TARGET_INGEST_X_128 2.0 /* gRPC (best of unary, stream) ÷ REST, same clients */
#define TARGET_INGEST_X_768 3.0

/* RESOURCE_EXHAUSTED / 429 (backpressure): wait this long, then resend —
 * the same for every transport (bench/server.c does the same for 429). */
#define RETRY_WAIT_MS 20
#define RETRY_MAX 6000

typedef struct {
  const char *akidb;
  const char *out;
  const char *tmp;
  bool quick;
  /* which rows run: all; the ingest rows alone (no search collection);
   * the search rows alone */
  enum { ROWS_ALL, ROWS_INGEST, ROWS_SEARCH } rows;
  uint32_t clients;   /* concurrent clients of the ingest and closed-loop rows */
  uint32_t window;    /* stream: batches sent and not yet acknowledged, at most */
  double duration_s;  /* closed loop: per row */
  uint32_t repeat;    /* runs of every timed search row, interleaved */
  uint32_t ingest_repeat; /* runs of every ingest row, interleaved */
  size_t ingest_768;  /* points per 768-d ingest row */
  gc_client_t client; /* the gRPC client of every gRPC row (the comparison rows aside) */
  /* Where the server and this driver's client threads run: on separate
   * CPUs (split; the default with two or more), or all on every CPU. */
  bool shared_cores;
  const char *server_cpus, *client_cpus; /* CPU lists given, or NULL: the split's */
  char command[2048];
} options_t;

typedef enum { TR_REST, TR_UNARY, TR_STREAM } transport_t;

static const char *tr_name(transport_t t) {
  return t == TR_REST ? "REST" : t == TR_UNARY ? "gRPC unary" : "gRPC stream";
}

/* The transport of a search row; `core` marks the C-core comparison rows. */
static const char *row_name(transport_t t, bool core) {
  if (!core) return tr_name(t);
  return t == TR_UNARY ? "gRPC unary (C-core client)" : "gRPC stream (C-core client)";
}

/* How the report names a client. */
static const char *client_desc(gc_client_t c) {
  return c == GC_CLIENT_H2 ? "the lean client, bench/h2grpc.c (hand-written HTTP/2)"
                           : "the C-core client, bench/grpc_client.c on libgrpc";
}

/* ------------------------------------------------------------ failure -- */

static sp_server_t g_server = {.pid = -1};

static void cleanup(void) { sp_server_cleanup(&g_server); }

/* ------------------------------------------------------ protobuf encoding -- */

/* Packed messages, one per batch (or per query): grpc_msgs.h's. */
typedef gm_packed_t packed_t;

static size_t batch_points(size_t n_points, size_t b) {
  size_t first = b * BATCH;
  return n_points - first < BATCH ? n_points - first : BATCH;
}

/* The first n_points of the set as UpsertRequest (stream: false) or
 * UpsertStreamRequest (batch_id = the batch's index) messages to
 * tenant/database/collection; ids are the row numbers. Each stream
 * message names the collection (allowed: "or must repeat the same"), so
 * that a stream may start at any batch. */
static packed_t pack_upserts(const ds_set_t *set, size_t n_points, const sp_api_t *a,
                             const char *coll, bool stream) {
  if (n_points > set->n_base) n_points = set->n_base;
  packed_t p = {.n = (n_points + BATCH - 1) / BATCH, .n_points = n_points};
  p.msg = bench_xcalloc(p.n, sizeof *p.msg);
  p.len = bench_xcalloc(p.n, sizeof *p.len);
  Akidb__V1__PointInput *pts = bench_xcalloc(BATCH, sizeof *pts);
  Akidb__V1__PointInput **pp = bench_xcalloc(BATCH, sizeof *pp);
  char(*ids)[24] = bench_xcalloc(BATCH, sizeof *ids);
  for (size_t b = 0; b < p.n; b++) {
    size_t first = b * BATCH, n = batch_points(n_points, b);
    for (size_t j = 0; j < n; j++) {
      akidb__v1__point_input__init(&pts[j]);
      snprintf(ids[j], sizeof ids[j], "%zu", first + j);
      pts[j].id = ids[j];
      pts[j].n_vector = set->dim;
      pts[j].vector = (float *)(set->base + (first + j) * set->dim);
      pp[j] = &pts[j];
    }
    if (stream) {
      Akidb__V1__UpsertStreamRequest m = AKIDB__V1__UPSERT_STREAM_REQUEST__INIT;
      m.tenant = (char *)a->tenant;
      m.database = (char *)a->database;
      m.collection = (char *)coll;
      m.n_points = n;
      m.points = pp;
      m.batch_id = b;
      p.len[b] = akidb__v1__upsert_stream_request__get_packed_size(&m);
      p.msg[b] = bench_xmalloc(p.len[b]);
      akidb__v1__upsert_stream_request__pack(&m, p.msg[b]);
    } else {
      Akidb__V1__UpsertRequest m = AKIDB__V1__UPSERT_REQUEST__INIT;
      m.tenant = (char *)a->tenant;
      m.database = (char *)a->database;
      m.collection = (char *)coll;
      m.n_points = n;
      m.points = pp;
      p.len[b] = akidb__v1__upsert_request__get_packed_size(&m);
      p.msg[b] = bench_xmalloc(p.len[b]);
      akidb__v1__upsert_request__pack(&m, p.msg[b]);
    }
    p.bytes += p.len[b];
  }
  free(pts);
  free(pp);
  free(ids);
  return p;
}

/* -------------------------------------------------------------- ingest -- */

typedef struct {
  transport_t tr;
  uint32_t dim;
  uint32_t clients;
  uint32_t run;      /* 1..ingest_repeat */
  size_t points;
  bool served;       /* false: the server answered UNIMPLEMENTED */
  char note[512];    /* why not served */
  double seconds, pps;
  bench_dist_t batch_ms;
  size_t retries;    /* 429 / RESOURCE_EXHAUSTED answers (or ended streams) resent */
  double server_cpu_s, client_cpu_s;
  size_t wire_bytes; /* request bodies of one pass, without HTTP/gRPC framing */
} ingest_row_t;

/* One gRPC ingest: every message of `pb` over `clients` connections. */
typedef struct {
  const packed_t *pb;
  transport_t tr;
  uint16_t port;
  const char *token;
  uint32_t clients, window;
  atomic_size_t next;
  atomic_size_t retries;
  atomic_size_t acked;
  double *lat_ms, *sent_at; /* per batch */
  pthread_mutex_t mu;
  double first_send, last_ok;
  bool unimplemented;
  char error[512];
} gjob_t;

static void gjob_fail(gjob_t *j, bool unimplemented, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void gjob_fail(gjob_t *j, bool unimplemented, const char *fmt, ...) {
  atomic_store(&j->next, j->pb->n); /* stop the others */
  pthread_mutex_lock(&j->mu);
  if (!j->error[0]) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(j->error, sizeof j->error, fmt, ap);
    va_end(ap);
    j->unimplemented = unimplemented;
  }
  pthread_mutex_unlock(&j->mu);
}

static void gjob_times(gjob_t *j, double first, double last) {
  pthread_mutex_lock(&j->mu);
  if (first >= 0 && (j->first_send < 0 || first < j->first_send)) j->first_send = first;
  if (last > j->last_ok) j->last_ok = last;
  pthread_mutex_unlock(&j->mu);
}

static void *unary_thread(void *arg) {
  gjob_t *j = arg;
  char err[512];
  gc_conn_t *c;
  if (gc_open(&c, j->port, j->token, err, sizeof err)) {
    gjob_fail(j, false, "%s", err);
    return NULL;
  }
  double first = -1, last = 0;
  for (;;) {
    size_t b = atomic_fetch_add(&j->next, 1);
    if (b >= j->pb->n) break;
    gc_result_t r;
    double sent = lg_now_us();
    gc_unary(c, M_UPSERT, j->pb->msg[b], j->pb->len[b], &r);
    /* Backpressure: RESOURCE_EXHAUSTED with retry-after; wait, resend. */
    for (int tries = 0; r.status == 8 && r.retry_after_s >= 0 && tries < RETRY_MAX; tries++) {
      atomic_fetch_add(&j->retries, 1);
      bench_sleep_ms(RETRY_WAIT_MS);
      gc_unary(c, M_UPSERT, j->pb->msg[b], j->pb->len[b], &r);
    }
    if (r.status != 0) {
      gjob_fail(j, r.status == 12, "Upsert answered %s: %s", gc_status_name(r.status), r.details);
      break;
    }
    Akidb__V1__UpsertResponse *up = akidb__v1__upsert_response__unpack(NULL, r.len, r.body);
    size_t expect = batch_points(j->pb->n_points, b);
    if (!up || up->upserted != expect) {
      gjob_fail(j, false, "Upsert of %zu points answered upserted %lld", expect,
                up ? (long long)up->upserted : -1LL);
      if (up) akidb__v1__upsert_response__free_unpacked(up, NULL);
      break;
    }
    akidb__v1__upsert_response__free_unpacked(up, NULL);
    last = lg_now_us();
    if (first < 0) first = sent;
    j->lat_ms[b] = (last - sent) / 1e3;
    atomic_fetch_add(&j->acked, 1);
  }
  gjob_times(j, first, last);
  gc_close(c);
  return NULL;
}

/* One stream client: batches from the shared counter, and after an ended
 * stream (backpressure) the ones it had sent and not seen acknowledged. */
typedef struct {
  gjob_t *j;
  size_t *order; /* order[i]: the batch sent as message i of the current call */
  size_t *resend, n_resend, resend_pos;
  double first, last;
  bool bad;
} sclient_t;

static bool stream_next(void *ctx, size_t index, const uint8_t **msg, size_t *len) {
  sclient_t *s = ctx;
  gjob_t *j = s->j;
  size_t b;
  if (s->resend_pos < s->n_resend) b = s->resend[s->resend_pos++];
  else {
    b = atomic_fetch_add(&j->next, 1);
    if (b >= j->pb->n) return false;
  }
  s->order[index] = b;
  double now = lg_now_us();
  if (j->sent_at[b] < 0) j->sent_at[b] = now; /* a resent batch keeps its first send */
  if (s->first < 0) s->first = now;
  *msg = j->pb->msg[b];
  *len = j->pb->len[b];
  return true;
}

static int stream_reply(void *ctx, size_t index, const uint8_t *body, size_t len) {
  sclient_t *s = ctx;
  gjob_t *j = s->j;
  size_t b = s->order[index];
  Akidb__V1__UpsertStreamAck *ack = akidb__v1__upsert_stream_ack__unpack(NULL, len, body);
  size_t expect = batch_points(j->pb->n_points, b);
  if (!ack || ack->batch_id != b || ack->upserted != expect) {
    gjob_fail(j, false, "UpsertStream ack %zu: batch_id %lld upserted %lld, expected %zu and %zu",
              index, ack ? (long long)ack->batch_id : -1LL, ack ? (long long)ack->upserted : -1LL,
              b, expect);
    if (ack) akidb__v1__upsert_stream_ack__free_unpacked(ack, NULL);
    s->bad = true;
    return 1;
  }
  akidb__v1__upsert_stream_ack__free_unpacked(ack, NULL);
  s->last = lg_now_us();
  j->lat_ms[b] = (s->last - j->sent_at[b]) / 1e3;
  atomic_fetch_add(&j->acked, 1);
  return 0;
}

static void *stream_thread(void *arg) {
  gjob_t *j = arg;
  char err[512];
  gc_conn_t *c;
  if (gc_open(&c, j->port, j->token, err, sizeof err)) {
    gjob_fail(j, false, "%s", err);
    return NULL;
  }
  sclient_t s = {.j = j, .first = -1};
  s.order = bench_xcalloc(j->pb->n + 1, sizeof *s.order);
  s.resend = bench_xcalloc(j->pb->n + 1, sizeof *s.resend);
  size_t *carry = bench_xcalloc(j->pb->n + 1, sizeof *carry);
  gc_stream_t st = {.method = M_STREAM, .window = j->window, .next = stream_next,
                    .on_reply = stream_reply, .ctx = &s};
  for (int tries = 0;; tries++) {
    gc_stream_result_t r;
    gc_stream_run(c, &st, &r);
    if (s.bad) break;
    if (r.status == 0) {
      if (r.replies != r.sent)
        gjob_fail(j, false, "UpsertStream ended OK after %zu acks for %zu batches", r.replies,
                  r.sent);
      break;
    }
    if (r.status == 8 && r.retry_after_s >= 0 && tries < RETRY_MAX) {
      /* Backpressure ended the call: the refused batch and those after it
       * were not written; send them again on a new call, then go on. */
      atomic_fetch_add(&j->retries, 1);
      size_t n = 0;
      for (size_t i = r.replies; i < r.sent; i++) carry[n++] = s.order[i];
      for (size_t i = s.resend_pos; i < s.n_resend; i++) carry[n++] = s.resend[i];
      memcpy(s.resend, carry, n * sizeof *carry);
      s.n_resend = n;
      s.resend_pos = 0;
      bench_sleep_ms(RETRY_WAIT_MS);
      continue;
    }
    gjob_fail(j, r.status == 12, "UpsertStream ended with %s: %s", gc_status_name(r.status),
              r.details);
    break;
  }
  gjob_times(j, s.first, s.last);
  free(s.order);
  free(s.resend);
  free(carry);
  gc_close(c);
  return NULL;
}

/* Runs one gRPC ingest; fills the row's timing, or marks it not served. */
static void grpc_ingest(const packed_t *pb, transport_t tr, const sp_server_t *s,
                        const char *token, uint32_t clients, uint32_t window, ingest_row_t *row) {
  gjob_t j = {.pb = pb, .tr = tr, .port = s->grpc_port, .token = token, .clients = clients,
              .window = window, .first_send = -1};
  atomic_init(&j.next, 0);
  atomic_init(&j.retries, 0);
  atomic_init(&j.acked, 0);
  j.lat_ms = bench_xcalloc(pb->n, sizeof *j.lat_ms);
  j.sent_at = bench_xmalloc(pb->n * sizeof *j.sent_at);
  for (size_t i = 0; i < pb->n; i++) j.sent_at[i] = -1;
  pthread_mutex_init(&j.mu, NULL);
  pthread_t th[64];
  double srv0 = sp_proc_cpu_seconds(s->pid), cli0 = sp_self_cpu_seconds();
  for (uint32_t i = 0; i < clients; i++)
    if (pthread_create(&th[i], NULL, tr == TR_STREAM ? stream_thread : unary_thread, &j))
      bench_die("pthread_create failed");
  for (uint32_t i = 0; i < clients; i++) pthread_join(th[i], NULL);
  row->server_cpu_s = sp_proc_cpu_seconds(s->pid) - srv0;
  row->client_cpu_s = sp_self_cpu_seconds() - cli0;
  pthread_mutex_destroy(&j.mu);
  row->served = true;
  if (j.error[0] && j.unimplemented) {
    row->served = false;
    snprintf(row->note, sizeof row->note, "%s", j.error);
  } else if (j.error[0]) {
    bench_die("%s ingest (%u-d, %u clients): %s", tr_name(tr), row->dim, clients, j.error);
  } else if (atomic_load(&j.acked) != pb->n) {
    bench_die("%s ingest: %zu of %zu batches acknowledged", tr_name(tr), atomic_load(&j.acked),
              pb->n);
  } else {
    row->seconds = (j.last_ok - j.first_send) / 1e6;
    row->pps = (double)pb->n_points / row->seconds;
    row->batch_ms = bench_summarise(j.lat_ms, pb->n);
  }
  row->retries = atomic_load(&j.retries);
  row->wire_bytes = pb->bytes;
  free(j.lat_ms);
  free(j.sent_at);
}

static void rest_ingest(const sl_points_t *enc, sp_api_t *a, const sp_server_t *s,
                        const char *coll, uint32_t clients, ingest_row_t *row) {
  char path[256];
  sp_collection_path(a, coll, "/points", path, sizeof path);
  sl_ingest_t j = {.enc = enc, .path = path, .token = a->token, .port = s->port, .batch = BATCH,
                   .conns = clients};
  double srv0 = sp_proc_cpu_seconds(s->pid), cli0 = sp_self_cpu_seconds();
  int rc = sl_ingest_run(&j);
  row->server_cpu_s = sp_proc_cpu_seconds(s->pid) - srv0;
  row->client_cpu_s = sp_self_cpu_seconds() - cli0;
  if (rc) bench_die("REST ingest (%u-d, %u clients): %s", row->dim, clients, j.error);
  row->served = true;
  row->seconds = (j.last_ok - j.first_send) / 1e6;
  row->pps = (double)enc->n_points / row->seconds;
  row->batch_ms = bench_summarise(j.lat_ms, j.n_batches);
  row->retries = j.rejected;
  row->wire_bytes = sl_points_bytes(enc);
  free(j.lat_ms);
}

/* Waits (at most 60 s) until the server used under 2% of a core for 1 s. */
static void wait_quiet(const sp_server_t *s) {
  double t0 = lg_now_us();
  while (lg_now_us() - t0 < 60e6) {
    double c0 = sp_proc_cpu_seconds(s->pid);
    bench_sleep_ms(1000);
    if (sp_proc_cpu_seconds(s->pid) - c0 < 0.02) break;
  }
}

/* ----------------------------------------------------- search clients -- */

/* The encoded queries of one data set, both transports. */
typedef struct {
  const ds_set_t *set;
  sl_queries_t rest;
  packed_t pb;  /* SearchRequest (unary Search) */
  packed_t pbs; /* SearchStreamRequest (SearchStream) */
} qset_t;

typedef struct {
  transport_t tr;
  lg_conn_t rest;
  gc_conn_t *g;
  gc_session_t *session; /* TR_STREAM: one SearchStream call for every query */
  uint16_t port;
} client_t;

static void client_open(client_t *c, transport_t tr, const sp_server_t *s, const char *token) {
  char err[512];
  memset(c, 0, sizeof *c);
  c->tr = tr;
  c->port = s->port;
  if (tr == TR_REST) {
    if (lg_conn_open(&c->rest, s->port, err, sizeof err)) bench_die("%s", err);
  } else if (gc_open(&c->g, s->grpc_port, token, err, sizeof err)) {
    bench_die("%s", err);
  } else if (tr == TR_STREAM &&
             gc_session_open(&c->session, c->g, M_SEARCH_STREAM, err, sizeof err)) {
    bench_die("%s", err);
  }
}

static void client_close(client_t *c) {
  if (c->tr == TR_REST) {
    lg_conn_close(&c->rest);
    return;
  }
  gc_session_close(c->session);
  gc_close(c->g);
}

/* Query i; the labels of the answer's hits in *labels (up to 64). 0, or
 * -1 with err set. */
static int client_query(client_t *c, const qset_t *q, size_t i, long long *labels, size_t *n,
                        char *err, size_t errlen) {
  *n = 0;
  if (c->tr == TR_REST) {
    struct iovec iov = {q->rest.req[i], q->rest.len[i]};
    lg_response_t r;
    if (lg_conn_roundtrip(&c->rest, &iov, 1, &r, err, errlen)) {
      lg_conn_close(&c->rest);
      char e2[256];
      if (lg_conn_open(&c->rest, c->port, e2, sizeof e2)) bench_die("%s", e2);
      return -1;
    }
    if (r.status != 200) {
      snprintf(err, errlen, "search answered %d: %.*s", r.status,
               (int)(r.body_len > 200 ? 200 : r.body_len), r.body);
      return -1;
    }
    const char *p = r.body, *end = r.body + r.body_len, *id;
    size_t idlen;
    while (p < end && (id = lg_find_string(p, (size_t)(end - p), "id", &idlen))) {
      if (*n < 64) labels[(*n)++] = sl_label_of(id, idlen);
      p = id + idlen + 1;
    }
    return 0;
  }
  gc_result_t r;
  if (c->session) gc_session_call(c->session, q->pbs.msg[i], q->pbs.len[i], &r);
  else gc_unary(c->g, M_SEARCH, q->pb.msg[i], q->pb.len[i], &r);
  if (r.status != 0) {
    snprintf(err, errlen, "Search answered %s: %.300s", gc_status_name(r.status), r.details);
    return -1;
  }
  if (gm_search_labels(r.body, r.len, labels, 64, n)) {
    snprintf(err, errlen, "Search answer does not unpack");
    return -1;
  }
  return 0;
}

/* -------------------------------------------------------------- search -- */

typedef struct {
  const char *dataset;
  uint32_t dim;
  transport_t tr;
  bool closed; /* closed loop (else sequential) */
  bool core;   /* a comparison row on the C-core client (the lean one made the others) */
  uint32_t clients;
  uint32_t run;
  size_t ok, failed;
  double seconds, qps;
  bench_dist_t us;
  double recall;
  size_t short_answers;
  long long ef;
  double server_cpu_us, client_cpu_us; /* per answered query */
  double server_thr_us; /* server CPU per query from its threads' schedstat (finer) */
  double server_cs;     /* server context switches per query */
  double steal_pct;
} search_row_t;

/* The server threads' CPU and context switches per answered query between
 * two readings, into the row; frees both readings. */
static void row_threads(search_row_t *row, sp_threads_t *before, sp_threads_t *after,
                        double answered) {
  double cpu_s;
  unsigned long long cs;
  sp_threads_delta(before, after, &cpu_s, &cs);
  sp_threads_free(before);
  sp_threads_free(after);
  row->server_thr_us = cpu_s * 1e6 / answered;
  row->server_cs = (double)cs / answered;
}

/* ------------------------------------------------ sequential, interleaved */

#define SEQ_BLOCK 100 /* queries a transport runs before the next one takes over */
#define SEQ_TRANSPORTS 3

/* One transport's share of an interleaved sequential pass. */
typedef struct {
  client_t c;
  double *us;
  sl_recall_t acc;
  search_row_t row;
  double srv_s, thr_s, cli_s; /* server, server threads', client CPU seconds */
  unsigned long long switches;
} seq_lane_t;

/* Runs queries [from, to) on one lane, its CPU figures read around them
 * and added to the lane's. One untimed query first: the lane's connection sat idle while the others
 * took their turns, and its first answer after a pause (the server's thread
 * and the client woken from a longer sleep, cold caches) would otherwise be
 * one query in SEQ_BLOCK, right at the p99. */
static void seq_block(seq_lane_t *l, const sp_server_t *s, const qset_t *q, size_t from,
                      size_t to) {
  char err[512];
  long long labels[64];
  size_t nl;
  if (client_query(&l->c, q, from, labels, &nl, err, sizeof err))
    bench_die("search (a block's first, untimed): %s", err);
  sp_threads_t thr0 = {0}, thr1 = {0};
  sp_threads_read(s->pid, &thr0);
  double srv0 = sp_proc_cpu_seconds(s->pid), cli0 = sp_self_cpu_seconds(), t0 = lg_now_us();
  for (size_t i = from; i < to; i++) {
    double t = lg_now_us();
    int rc = client_query(&l->c, q, i, labels, &nl, err, sizeof err);
    double done = lg_now_us();
    if (rc) {
      if (l->row.failed++ == 0) fprintf(stderr, "  search failed: %s\n", err);
      continue;
    }
    l->us[l->row.ok++] = done - t;
    sl_recall_add_labels(&l->acc, i, labels, nl);
  }
  l->row.seconds += (lg_now_us() - t0) / 1e6;
  l->cli_s += sp_self_cpu_seconds() - cli0;
  l->srv_s += sp_proc_cpu_seconds(s->pid) - srv0;
  sp_threads_read(s->pid, &thr1);
  double cpu_s;
  unsigned long long cs;
  sp_threads_delta(&thr0, &thr1, &cpu_s, &cs);
  sp_threads_free(&thr0);
  sp_threads_free(&thr1);
  l->thr_s += cpu_s;
  l->switches += cs;
}

/* Opens a lane: its connection, warmed with up to 200 queries. */
static void lane_open(seq_lane_t *l, transport_t tr, const sp_server_t *s, const char *token,
                      const qset_t *q, const char *dataset, long long ef) {
  char err[512];
  long long labels[64];
  size_t nl, n = q->set->n_query, warm = n < 200 ? n : 200;
  memset(l, 0, sizeof *l);
  client_open(&l->c, tr, s, token);
  for (size_t i = 0; i < warm; i++)
    if (client_query(&l->c, q, i, labels, &nl, err, sizeof err))
      bench_die("warm-up search: %s", err);
  l->us = bench_xmalloc(n * sizeof *l->us);
  l->acc = (sl_recall_t){.set = q->set, .k = K};
  l->row = (search_row_t){.dataset = dataset, .dim = q->set->dim, .tr = tr, .clients = 1,
                          .ef = ef};
}

/* Closes a lane and returns its row: latency, recall and CPU per query. */
static search_row_t lane_finish(seq_lane_t *l, double steal_pct) {
  search_row_t *row = &l->row;
  double answered = row->ok ? (double)row->ok : 1;
  row->steal_pct = steal_pct;
  row->server_cpu_us = l->srv_s * 1e6 / answered;
  row->server_thr_us = l->thr_s * 1e6 / answered;
  row->server_cs = (double)l->switches / answered;
  row->client_cpu_us = l->cli_s * 1e6 / answered;
  row->qps = row->seconds > 0 ? (double)row->ok / row->seconds : 0;
  row->us = bench_summarise(l->us, row->ok);
  row->recall = sl_recall_value(&l->acc);
  row->short_answers = l->acc.short_answers;
  free(l->us);
  client_close(&l->c);
  printf("  search %s %s sequential: %.0f QPS, p50 %.0f us, p99 %.0f us, recall@10 %.4f, "
         "server CPU %.0f us/query (threads %.0f), client CPU %.0f us/query\n",
         row->dataset, tr_name(row->tr), row->qps, row->us.p50, row->us.p99, row->recall,
         row->server_cpu_us, row->server_thr_us, row->client_cpu_us);
  fflush(stdout);
  return *row;
}

/* One client, one connection, one query at a time, every query once after
 * a warm-up of up to 200 (the ef calibration's pass). */
static search_row_t search_sequential(const sp_server_t *s, const char *token, const qset_t *q,
                                      transport_t tr, const char *dataset, long long ef) {
  seq_lane_t l;
  lane_open(&l, tr, s, token, q, dataset, ef);
  sp_ticks_t ticks0 = sp_cpu_ticks();
  seq_block(&l, s, q, 0, q->set->n_query);
  return lane_finish(&l, sp_steal_since(ticks0));
}

/* One sequential client per transport (REST, gRPC unary, gRPC stream), each
 * on its own connection and each sending every query once after a warm-up
 * of up to 200, taking turns in blocks of SEQ_BLOCK queries (the order of
 * the turns rotating), so that all three rows span the same seconds and a
 * slow spell of the machine falls on each alike. Each row's CPU figures
 * sum its own blocks. */
static void search_sequential_interleaved(const sp_server_t *s, const char *token,
                                          const qset_t *q, const char *dataset, long long ef,
                                          search_row_t rows[SEQ_TRANSPORTS]) {
  size_t n = q->set->n_query;
  seq_lane_t lanes[SEQ_TRANSPORTS];
  for (int t = 0; t < SEQ_TRANSPORTS; t++)
    lane_open(&lanes[t], (transport_t)t, s, token, q, dataset, ef);
  sp_ticks_t ticks0 = sp_cpu_ticks();
  for (size_t b = 0, from = 0; from < n; b++, from += SEQ_BLOCK) {
    size_t to = from + SEQ_BLOCK < n ? from + SEQ_BLOCK : n;
    for (size_t k = 0; k < SEQ_TRANSPORTS; k++)
      seq_block(&lanes[(b + k) % SEQ_TRANSPORTS], s, q, from, to);
  }
  double steal = sp_steal_since(ticks0);
  for (int t = 0; t < SEQ_TRANSPORTS; t++) rows[t] = lane_finish(&lanes[t], steal);
}

/* The closed loop: each client sends its next query when the answer to
 * the last one arrived, for duration_s. */
typedef struct {
  const sp_server_t *s;
  const char *token;
  const qset_t *q;
  transport_t tr;
  uint32_t clients;
  double duration_s;
  pthread_barrier_t ready, go; /* every client warm; the window's start is set */
  pthread_barrier_t done, closing; /* every client's loop over (the server's CPU read while its
                                      connections, and REST's threads, live); then close */
  double start, end;            /* window start (set between the barriers); last answer */
  pthread_mutex_t mu;
  double *us;
  size_t n_us, cap_us;
  size_t failed;
  sl_recall_t acc;
  char error[512];
} closed_t;

typedef struct {
  closed_t *cl;
  uint32_t index;
} closed_arg_t;

static void *closed_thread(void *arg) {
  closed_arg_t *ca = arg;
  closed_t *cl = ca->cl;
  const qset_t *q = cl->q;
  char err[512];
  long long labels[64];
  size_t nl, nq = q->set->n_query;
  client_t c;
  client_open(&c, cl->tr, cl->s, cl->token);
  for (size_t i = 0; i < 20; i++) client_query(&c, q, (i * 7 + ca->index) % nq, labels, &nl, err,
                                               sizeof err);
  size_t cap = 4096, n = 0, failed = 0;
  double *us = bench_xmalloc(cap * sizeof *us);
  sl_recall_t acc = {.set = q->set, .k = K};
  pthread_barrier_wait(&cl->ready);
  pthread_barrier_wait(&cl->go);
  double end = cl->start + cl->duration_s * 1e6, last = cl->start;
  for (size_t i = (size_t)ca->index * nq / cl->clients;; i++) {
    double t = lg_now_us();
    if (t >= end) break;
    size_t qi = i % nq;
    int rc = client_query(&c, q, qi, labels, &nl, err, sizeof err);
    last = lg_now_us();
    if (rc) {
      if (failed++ == 0) fprintf(stderr, "  search failed: %s\n", err);
      continue;
    }
    if (n == cap) {
      cap *= 2;
      double *grown = realloc(us, cap * sizeof *us);
      if (!grown) bench_die("out of memory");
      us = grown;
    }
    us[n++] = last - t;
    sl_recall_add_labels(&acc, qi, labels, nl);
  }
  pthread_barrier_wait(&cl->done);
  pthread_barrier_wait(&cl->closing);
  client_close(&c);
  pthread_mutex_lock(&cl->mu);
  if (cl->n_us + n > cl->cap_us) {
    cl->cap_us = (cl->n_us + n) * 2;
    double *grown = realloc(cl->us, cl->cap_us * sizeof *grown);
    if (!grown) bench_die("out of memory");
    cl->us = grown;
  }
  memcpy(cl->us + cl->n_us, us, n * sizeof *us);
  cl->n_us += n;
  cl->failed += failed;
  cl->acc.found += acc.found;
  cl->acc.answered += acc.answered;
  cl->acc.short_answers += acc.short_answers;
  if (last > cl->end) cl->end = last;
  pthread_mutex_unlock(&cl->mu);
  free(us);
  return NULL;
}

static search_row_t search_closed(const sp_server_t *s, const char *token, const qset_t *q,
                                  transport_t tr, const char *dataset, long long ef,
                                  uint32_t clients, double duration_s, bool core) {
  closed_t cl = {.s = s, .token = token, .q = q, .tr = tr, .clients = clients,
                 .duration_s = duration_s, .acc = {.set = q->set, .k = K}};
  pthread_barrier_init(&cl.ready, NULL, clients + 1);
  pthread_barrier_init(&cl.go, NULL, clients + 1);
  pthread_barrier_init(&cl.done, NULL, clients + 1);
  pthread_barrier_init(&cl.closing, NULL, clients + 1);
  pthread_mutex_init(&cl.mu, NULL);
  pthread_t th[64];
  closed_arg_t args[64];
  for (uint32_t i = 0; i < clients; i++) {
    args[i] = (closed_arg_t){&cl, i};
    if (pthread_create(&th[i], NULL, closed_thread, &args[i])) bench_die("pthread_create failed");
  }
  /* Every client connected and warm: start the window. */
  pthread_barrier_wait(&cl.ready);
  sp_ticks_t ticks0 = sp_cpu_ticks();
  sp_threads_t thr0 = {0}, thr1 = {0};
  sp_threads_read(s->pid, &thr0);
  double srv0 = sp_proc_cpu_seconds(s->pid), cli0 = sp_self_cpu_seconds();
  cl.start = lg_now_us();
  cl.end = cl.start;
  pthread_barrier_wait(&cl.go);
  pthread_barrier_wait(&cl.done);
  double srv1 = sp_proc_cpu_seconds(s->pid);
  sp_threads_read(s->pid, &thr1);
  double cli1 = sp_self_cpu_seconds();
  pthread_barrier_wait(&cl.closing);
  for (uint32_t i = 0; i < clients; i++) pthread_join(th[i], NULL);
  search_row_t row = {.dataset = dataset, .dim = q->set->dim, .tr = tr, .closed = true,
                      .core = core, .clients = clients, .ef = ef, .ok = cl.n_us,
                      .failed = cl.failed};
  row.steal_pct = sp_steal_since(ticks0);
  double answered = row.ok ? (double)row.ok : 1;
  row.server_cpu_us = (srv1 - srv0) * 1e6 / answered;
  row_threads(&row, &thr0, &thr1, answered);
  row.client_cpu_us = (cli1 - cli0) * 1e6 / answered;
  row.seconds = (cl.end - cl.start) / 1e6;
  row.qps = row.seconds > 0 ? (double)row.ok / row.seconds : 0;
  row.us = bench_summarise(cl.us, cl.n_us);
  row.recall = sl_recall_value(&cl.acc);
  row.short_answers = cl.acc.short_answers;
  free(cl.us);
  pthread_barrier_destroy(&cl.ready);
  pthread_barrier_destroy(&cl.go);
  pthread_barrier_destroy(&cl.done);
  pthread_barrier_destroy(&cl.closing);
  pthread_mutex_destroy(&cl.mu);
  printf("  search %s %s closed loop x %u: %.0f QPS, p50 %.0f us, p99 %.0f us, recall@10 %.4f, "
         "server CPU %.0f us/query, client CPU %.0f us/query\n",
         dataset, row_name(tr, core), clients, row.qps, row.us.p50, row.us.p99, row.recall,
         row.server_cpu_us, row.client_cpu_us);
  fflush(stdout);
  return row;
}

/* -------------------------------------------------------------- report -- */

typedef struct {
  char cpu[256], kernel[256], version[512], fs[32];
  long cores;
  double load_start, load_end;
  double gen_s, encode_s, ready_s, shutdown_s;
  double load_s_128, load_s_768; /* untimed loads of the search collections + indexing */
  double settle_s;
  double rss_mib, hwm_mib;
  size_t n_base, n_query, ingest_128, ingest_768;
  uint32_t clusters, window, clients;
  long long m, ef_construction, ef_128, ef_768;
  ingest_row_t ingest[MAX_ROWS];
  size_t n_ingest;
  search_row_t search[MAX_ROWS];
  size_t n_search;
  char placement[512]; /* where the server and the clients ran (place_cpus) */
} report_t;

/* The row of that run (0: any run). */
static const ingest_row_t *find_ingest(const report_t *rep, transport_t tr, uint32_t dim,
                                       uint32_t clients, uint32_t run) {
  for (size_t i = 0; i < rep->n_ingest; i++)
    if (rep->ingest[i].tr == tr && rep->ingest[i].dim == dim &&
        rep->ingest[i].clients == clients && (run == 0 || rep->ingest[i].run == run))
      return &rep->ingest[i];
  return NULL;
}

/* The median points/s of a row's served runs (0 when none), and the runs' figures. */
static double ingest_median(const report_t *rep, transport_t tr, uint32_t dim, uint32_t clients,
                            char *runs, size_t runs_len) {
  double v[MAX_ROWS];
  size_t n = 0, used = 0;
  if (runs_len) runs[0] = '\0';
  for (size_t i = 0; i < rep->n_ingest; i++) {
    const ingest_row_t *r = &rep->ingest[i];
    if (r->tr != tr || r->dim != dim || r->clients != clients || !r->served) continue;
    v[n++] = r->pps;
    used += (size_t)snprintf(runs + used, used < runs_len ? runs_len - used : 0, "%s%.0f",
                             n > 1 ? ", " : "", r->pps);
  }
  qsort(v, n, sizeof *v, bench_cmp_double);
  return n == 0 ? 0 : n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* The median of a search row's runs (p99, server CPU, QPS). */
typedef struct {
  double p99, p50, server_cpu_us, server_thr_us, qps;
  size_t runs, errors;
  double recall_min;
  char p99_runs[160];
} median_t;

static median_t search_median(const report_t *rep, uint32_t dim, transport_t tr, bool closed) {
  double p99[MAX_RUNS], p50[MAX_RUNS], cpu[MAX_RUNS], thr[MAX_RUNS], qps[MAX_RUNS];
  median_t m = {.recall_min = 1};
  size_t used = 0;
  for (size_t i = 0; i < rep->n_search && m.runs < MAX_RUNS; i++) {
    const search_row_t *r = &rep->search[i];
    if (r->dim != dim || r->tr != tr || r->closed != closed || r->core) continue;
    p99[m.runs] = r->us.p99;
    p50[m.runs] = r->us.p50;
    cpu[m.runs] = r->server_cpu_us;
    thr[m.runs] = r->server_thr_us;
    qps[m.runs] = r->qps;
    m.errors += r->failed;
    if (r->recall < m.recall_min) m.recall_min = r->recall;
    used += (size_t)snprintf(m.p99_runs + used, used < sizeof m.p99_runs ? sizeof m.p99_runs - used : 0,
                             "%s%.3f", m.runs ? ", " : "", r->us.p99 / 1e3);
    m.runs++;
  }
  m.p99 = bench_median(p99, m.runs);
  m.p50 = bench_median(p50, m.runs);
  m.server_cpu_us = bench_median(cpu, m.runs);
  m.server_thr_us = bench_median(thr, m.runs);
  m.qps = bench_median(qps, m.runs);
  return m;
}

static void write_targets(FILE *f, const report_t *rep) {
  fprintf(f, "## Targets\n\n| target | measured | met |\n|---|---|---|\n");
  const uint32_t dims[2] = {128, 768};
  for (int d = 0; d < 2; d++) {
    double want = dims[d] == 128 ? TARGET_INGEST_X_128 : TARGET_INGEST_X_768;
    uint32_t counts[2] = {1, rep->clients};
    for (int ci = 0; ci < (rep->clients > 1 ? 2 : 1); ci++) {
      const ingest_row_t *st = find_ingest(rep, TR_STREAM, dims[d], counts[ci], 0);
      char rruns[128], uruns[128], sruns[128];
      double rest = ingest_median(rep, TR_REST, dims[d], counts[ci], rruns, sizeof rruns);
      double u = ingest_median(rep, TR_UNARY, dims[d], counts[ci], uruns, sizeof uruns);
      double s = ingest_median(rep, TR_STREAM, dims[d], counts[ci], sruns, sizeof sruns);
      if (rest <= 0) continue;
      double best = u > s ? u : s;
      const char *which = u >= s ? "unary" : "stream";
      char stream_note[192];
      if (st && !st->served) snprintf(stream_note, sizeof stream_note, "; stream not served");
      else snprintf(stream_note, sizeof stream_note, "; stream runs %s", sruns);
      bool met = best >= want * rest;
      fprintf(f, "| gRPC ingest ≥ %.0f× REST at %u-d, %u client(s) | %.2f× (medians: gRPC %s %.0f "
                 "vs REST %.0f points/s; runs: REST %s; unary %s%s) | %s%s |\n",
              want, dims[d], counts[ci], best / rest, which, best, rest, rruns, uruns,
              stream_note, bench_mark(met),
              !met && st && !st->served ? " (unary only: stream not served)" : "");
    }
  }
  for (int d = 0; d < 2; d++)
    for (int closed = 0; closed < 2; closed++) {
      median_t r = search_median(rep, dims[d], TR_REST, closed);
      median_t u = search_median(rep, dims[d], TR_UNARY, closed);
      median_t st = search_median(rep, dims[d], TR_STREAM, closed);
      if (!r.runs || !u.runs) continue;
      bool stream = st.runs > 0 && st.errors == 0;
      char mode[64];
      if (closed) snprintf(mode, sizeof mode, "closed loop × %u", rep->clients);
      else snprintf(mode, sizeof mode, "sequential");
      /* judged on the better gRPC method, as the ingest targets */
      const median_t *g = stream && (st.p99 < u.p99 || u.errors) ? &st : &u;
      fprintf(f, "| gRPC search p99 ≤ REST p99, %u-d %s | gRPC %s %.3f ms vs REST %.3f ms "
                 "(medians of %zu runs; unary runs %s; stream runs %s; REST runs %s) | %s |\n",
              dims[d], mode, g == &st ? "stream" : "unary", g->p99 / 1e3, r.p99 / 1e3, r.runs,
              u.p99_runs, stream ? st.p99_runs : "—", r.p99_runs,
              bench_mark(g->p99 <= r.p99 && g->errors == 0));
      g = stream && st.server_thr_us < u.server_thr_us ? &st : &u;
      fprintf(f, "| gRPC server CPU/query ≤ REST's, %u-d %s | gRPC %s %.0f µs vs REST %.0f µs "
                 "(server threads' schedstat, medians; unary %.0f µs, stream %.0f µs; "
                 "/proc/<pid>/stat ticks: REST %.0f, unary %.0f, stream %.0f µs) | %s |\n",
              dims[d], mode, g == &st ? "stream" : "unary", g->server_thr_us, r.server_thr_us,
              u.server_thr_us, stream ? st.server_thr_us : 0, r.server_cpu_us, u.server_cpu_us,
              stream ? st.server_cpu_us : 0, bench_mark(g->server_thr_us <= r.server_thr_us));
    }
  double worst = 1;
  for (size_t i = 0; i < rep->n_search; i++)
    if (rep->search[i].recall < worst) worst = rep->search[i].recall;
  fprintf(f, "| recall@10 ≥ %.2f (every search row, both transports) | lowest %.4f | %s |\n\n",
          TARGET_RECALL, worst, bench_mark(worst >= TARGET_RECALL));
}

static void write_ingest(FILE *f, const report_t *rep, const options_t *o) {
  fprintf(f, "## Ingest (upserts of %u points, durability `fsync`)\n\n", BATCH);
  fprintf(f,
          "Each row upserts the first *points* rows of the set into a new, empty collection "
          "(default index settings), created before the row and deleted after it; the run waits "
          "until the server is idle (under 2%% of a core for 1 s) before the next row. "
          "points/s = points ÷ (last acknowledgement − first send). Batch latency: send to "
          "answer (stream: send to the batch's ack). Server and client CPU: CPU seconds each "
          "process used during the row (/proc/<pid>/stat, getrusage); the server's includes "
          "the background indexer, which inserts the new points into the graph during every "
          "row alike; *server cores busy* = server CPU ÷ seconds (of the machine's 2). Ids "
          "are the row numbers; no payload.\n\n"
          "- **REST**: `POST .../points` with `{\"points\":[...]}` (floats as `%%.9g`), one "
          "HTTP/1.1 keep-alive connection per client, one request in flight per connection "
          "(bench/server_load.c).\n"
          "- **gRPC unary**: `PointService/Upsert`, one connection (its own TCP connection) per "
          "client, one call in flight per client.\n"
          "- **gRPC stream**: `PointService/UpsertStream`, one call per client for the whole "
          "row; a batch is sent once the previous send completed and while fewer than %u "
          "batches are unacknowledged; the ack must carry the batch's id and its point "
          "count.\n"
          "- gRPC rows: %s.\n"
          "- Clients take the next batch from a shared counter (all three transports).\n"
          "- Every row ran %u time(s), interleaved (all rows of a data set, then all again); "
          "the targets are judged on the median points/s of the runs.\n"
          "- Backpressure (429 with Retry-After; RESOURCE_EXHAUSTED with a `retry-after` "
          "trailer, which for a stream ends the call): the client waits %d ms and sends the "
          "batch again (a stream: a new call, resending the unacknowledged batches first); "
          "*retries* counts these.\n"
          "- 768-d rows ingest **%zu points**, not the whole set: at 768-d the collection's "
          "indexing backlog limit (`storage.max_pending_bytes`, 256 MiB = 87,381 vectors of "
          "3,072 bytes) would otherwise throttle the upserts to the indexer's pace (about "
          "12,700 points/s in bench/results/server.md, with 429s) for any transport; %zu "
          "points stay under the limit, so what is measured is the transport, the log and "
          "its fsync (the indexer runs beside them in every row alike). The server runs with "
          "its default settings; 128-d rows ingest all %zu points (51 MB of vectors, under "
          "the limit).\n\n",
          o->window, client_desc(o->client), o->ingest_repeat, RETRY_WAIT_MS, rep->ingest_768,
          rep->ingest_768, rep->ingest_128);
  fprintf(f, "| dim | transport | clients | run | points | seconds | points/s | × REST (same run) | batch p50 "
             "(ms) | batch p99 (ms) | retries | server CPU (s) | server CPU/point (µs) | server "
             "cores busy | client CPU (s) | request bytes (MB) |\n"
             "|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n");
  for (size_t i = 0; i < rep->n_ingest; i++) {
    const ingest_row_t *r = &rep->ingest[i];
    if (!r->served) {
      fprintf(f, "| %u | %s | %u | %u | %zu | — | **not served** | — | — | — | — | — | — | — | — | "
                 "%.1f |\n",
              r->dim, tr_name(r->tr), r->clients, r->run, r->points,
              (double)r->wire_bytes / 1e6);
      continue;
    }
    const ingest_row_t *rest = find_ingest(rep, TR_REST, r->dim, r->clients, r->run);
    char x[32] = "—";
    if (rest && r->tr != TR_REST) snprintf(x, sizeof x, "%.2f", r->pps / rest->pps);
    fprintf(f, "| %u | %s | %u | %u | %zu | %.2f | %.0f | %s | %.1f | %.1f | %zu | %.2f | %.1f | "
               "%.2f | %.2f | %.1f |\n",
            r->dim, tr_name(r->tr), r->clients, r->run, r->points, r->seconds, r->pps, x,
            r->batch_ms.p50, r->batch_ms.p99, r->retries, r->server_cpu_s,
            r->server_cpu_s * 1e6 / (double)r->points, r->server_cpu_s / r->seconds,
            r->client_cpu_s, (double)r->wire_bytes / 1e6);
  }
  fprintf(f, "\n");
  /* Why a transport was not served, once per distinct answer. */
  for (size_t i = 0; i < rep->n_ingest; i++) {
    const ingest_row_t *r = &rep->ingest[i];
    bool seen = r->served;
    for (size_t j = 0; j < i && !seen; j++)
      seen = !rep->ingest[j].served && strcmp(rep->ingest[j].note, r->note) == 0;
    if (!seen)
      fprintf(f, "Not served (%s): the server answered `%s` — the row is to be measured again "
                 "once the method is served.\n\n",
              tr_name(r->tr), r->note);
  }
}

static void write_search(FILE *f, const report_t *rep, const options_t *o) {
  fprintf(f, "## Search (k = 10)\n\n"
             "The search collections mix128 and mix768 hold all %zu points (loaded untimed "
             "over gRPC unary after the ingest rows: %.1f s and %.1f s including indexing "
             "until `pending` was 0); then the run flushed dirty pages and waited until the "
             "server was idle (%.1f s).\n\n"
             "- **REST**: `POST .../search` with `{\"vector\":[...],\"k\":10,"
             "\"include_payload\":false}`, HTTP/1.1 keep-alive; ids found in the answer with a "
             "minimal scan for `\"id\"`.\n"
             "- **gRPC unary**: `PointService/Search` with `vector`, `k = 10`, `include_payload = "
             "false`; the answer unpacked with protobuf-c.\n"
             "- **gRPC stream**: `PointService/SearchStream`, one call per client for the whole "
             "row, each query the same SearchRequest wrapped in a SearchStreamRequest, sent "
             "once the answer to the last one arrived (lock step: one query in flight per "
             "client, as the other two).\n"
             "- gRPC rows: %s%s.\n"
             "- Both through the same loop; requests encoded before timing.\n"
             "- *sequential*: one client per transport, one connection each, one query at "
             "a time, every query of the set once after a 200-query warm-up; latency from "
             "send to the whole answer. The three transports' clients take turns in blocks of "
             "%d queries (REST, unary, stream; then unary, stream, REST; ...), each block "
             "after one untimed query on its connection, so that the "
             "three rows of a run span the same seconds and a slow spell of the machine falls "
             "on each alike (a row of 1,000 sequential queries lasts a tenth of a second, and "
             "one after another, the rows of a run had p99s apart by up to 1.5× with the same "
             "transport); each row's CPU figures sum its own blocks.\n"
             "- *closed loop*: %u clients, one connection each, each sending its next query "
             "when the answer to its last one arrived, for %.0f s (after 20 warm-up queries "
             "each); QPS = answers ÷ (window start → last answer).\n"
             "- recall@10: from the ids in that row's answers, against exact ground truth. "
             "ef: the collection's `ef_search` (no `ef` in the request), set before timing by "
             "a REST calibration pass: the smallest of 16, 24, 32, 40, 48, 64, 80, 96, 128, "
             "160, 256 whose recall@10 over the query set reached 0.955 (mix128: %lld, mix768: "
             "%lld).\n"
             "- CPU/query: CPU time of the server process (/proc/<pid>/stat: utime + stime, "
             "in clock ticks of 10 ms, so a row of 1,000 sequential queries counts only tens "
             "of ticks) and of this driver (getrusage) during the row, per answered query "
             "(where each ran: see *Machine* above). *server threads' CPU* sums the on-CPU "
             "nanoseconds of the server's threads (/proc/<pid>/task/*/schedstat), read before "
             "the row and after its last answer while every connection (and so REST's thread "
             "per connection) is still open: nanosecond resolution, and the figure the targets "
             "are judged on; *context switches* sums the server threads' "
             "voluntary and involuntary switches (/proc/<pid>/task/*/status) per query.\n"
             "- run: every row was run %u time(s), interleaved (REST, gRPC, REST, gRPC, ...); "
             "the targets are judged on the median of the runs.\n\n",
          rep->n_base, rep->load_s_128, rep->load_s_768, rep->settle_s, client_desc(o->client),
          o->client == GC_CLIENT_H2
              ? "; rows labelled *(C-core client)*: the same closed loop on the C-core client "
                "(bench/grpc_client.c), run right after, for comparison; the targets are "
                "judged on the lean client's rows"
              : "",
          SEQ_BLOCK, o->clients, o->duration_s, rep->ef_128, rep->ef_768, o->repeat);
  fprintf(f, "| data set | transport | mode | run | QPS | p50 (ms) | p95 (ms) | p99 (ms) | max "
             "(ms) | errors | recall@10 | ef | server CPU/query (µs) | server threads' CPU/query (µs) "
             "| server context switches/query | client CPU/query (µs) | steal (%%) |\n"
             "|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n");
  for (size_t i = 0; i < rep->n_search; i++) {
    const search_row_t *r = &rep->search[i];
    char mode[48];
    if (r->closed) snprintf(mode, sizeof mode, "closed loop × %u", r->clients);
    else snprintf(mode, sizeof mode, "sequential");
    fprintf(f, "| %s (%u-d) | %s | %s | %u | %.0f | %.3f | %.3f | %.3f | %.3f | %zu | %.4f | "
               "%lld | %.0f | %.0f | %.1f | %.0f | %.1f |\n",
            r->dataset, r->dim, row_name(r->tr, r->core), mode, r->run, r->qps,
            r->us.p50 / 1e3, r->us.p95 / 1e3, r->us.p99 / 1e3, r->us.max / 1e3, r->failed,
            r->recall, r->ef, r->server_cpu_us, r->server_thr_us, r->server_cs, r->client_cpu_us,
            r->steal_pct);
  }
  fprintf(f, "\n");
  for (size_t i = 0; i < rep->n_search; i++)
    if (rep->search[i].short_answers)
      fprintf(f, "Note: %zu answers of %s (%s) held fewer than 10 hits.\n",
              rep->search[i].short_answers, rep->search[i].dataset,
              rep->search[i].tr == TR_REST ? "REST" : "gRPC");
  fprintf(f, "\n");
}

static void write_report(const report_t *rep, const options_t *o) {
  FILE *f = fopen(o->out, "w");
  if (!f) bench_die("cannot write %s: %s", o->out, strerror(errno));
  time_t now = time(NULL);
  char date[64];
  strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", gmtime(&now));
  fprintf(f, "# gRPC benchmark: AkiDB over gRPC beside REST\n\n");
  fprintf(f, "- Date: %s%s%s\n", date,
          o->quick ? " — **--quick smoke run, not the real figures**" : "",
          o->rows == ROWS_INGEST   ? " — **--ingest-only: no search rows, so their targets are not judged**"
          : o->rows == ROWS_SEARCH ? " — **--search-only: no ingest rows, so their targets are not judged**"
                                   : "");
  fprintf(f, "- Command: `%s`\n", o->command);
  fprintf(f, "- Machine: %s, %ld cores online; %s. Loopback TCP; %s.\n", rep->cpu, rep->cores,
          rep->kernel, rep->placement);
  fprintf(f, "- Load average (1 min): %.2f when the run began, %.2f when it ended.\n",
          rep->load_start, rep->load_end);
  fprintf(f, "- AkiDB: `%s` (%s), started as `akidb serve --host 127.0.0.1 --port <free> "
             "--data-dir <scratch> --log-level warn` with `AKIDB_GRPC_PORT=<free>` and "
             "otherwise default settings (durability `fsync`; the gRPC server's network threads, "
             "one per core it may run on, on the C core's poll engine, and 4 workers); data directory on %s; "
             "ready %.2f s after spawn, stopped by SIGTERM in %.2f s; server RSS %.0f MiB after "
             "loading (peak %.0f MiB).\n",
          rep->version, GRPC_BENCH_BUILD_TYPE, rep->fs, rep->ready_s, rep->shutdown_s,
          rep->rss_mib, rep->hwm_mib);
  fprintf(f, "- Data: the engine benchmark's generated Gaussian mixtures (bench/ann.c), as "
             "bench/server.c: mix128 = %zu × 128, l2; mix768 = %zu × 768, cosine; %u "
             "clusters, seed 42 + dimension; %zu queries each from the same mixture; exact "
             "top-10 ground truth. Generated in %.1f s; every request encoded before timing "
             "in %.1f s.\n",
          rep->n_base, rep->n_base, rep->clusters, rep->n_query, rep->gen_s, rep->encode_s);
  fprintf(f, "- Collections: default settings (HNSW m=%lld, ef_construction=%lld); tenant, "
             "user, database and collections set up over REST; gRPC calls carry the tenant "
             "admin's session token (`authorization: Bearer`).\n",
          rep->m, rep->ef_construction);
  fprintf(f, "- Clients: REST through bench/loadgen.c (hand-written HTTP/1.1, keep-alive, "
             "TCP_NODELAY). gRPC (`--grpc-client %s`): every gRPC row %s through %s. The lean "
             "client, bench/h2grpc.c, is hand-written HTTP/2 in the same spirit as the REST "
             "client: cleartext with prior knowledge, one blocking TCP_NODELAY socket per "
             "client, HPACK with indexed request headers after the first call, gRPC "
             "length-prefixed messages written in place with one writev per request, "
             "flow-controlled DATA, no allocation per call. The C-core client, "
             "bench/grpc_client.c on Debian's gRPC C core (libgrpc 1.51, plaintext HTTP/2, one "
             "channel with its own connection per client, registered methods, retries off), "
             "costs more client CPU per call (the *client CPU/query* column)%s. Messages packed with protobuf-c from "
             "proto/akidb/v1.\n\n",
          gc_client_name(o->client),
          o->client == GC_CLIENT_H2 ? "except those labelled *(C-core client)* went" : "went",
          client_desc(o->client),
          o->client == GC_CLIENT_H2
              ? "; the closed-loop search rows labelled *(C-core client)* ran the same loop on "
                "it, for comparison, and the targets are judged on the lean client's rows"
              : "");
  write_targets(f, rep);
  write_ingest(f, rep, o);
  write_search(f, rep, o);
  fprintf(f, "## Reproduce\n\n```\nmake bench-grpc\n# or\ncmake -S . -B build/bench "
             "-DCMAKE_BUILD_TYPE=Release -DAKIDB_BENCH=ON -DAKIDB_TESTS=OFF -DAKIDB_SERVER=ON\n"
             "cmake --build build/bench -j2 --target akidb grpc_bench\n%s\n```\n",
          o->command);
  fclose(f);
}

/* ---------------------------------------------------------------- main -- */

static void usage(FILE *out) {
  fprintf(out,
          "usage: grpc --akidb PATH [--out FILE] [--quick] [--tmp DIR] [--clients N]\n"
          "            [--window N] [--duration S] [--repeat N] [--ingest-repeat N]\n"
          "            [--ingest-768 N] [--grpc-client h2|core]\n"
          "            [--ingest-only | --search-only]\n"
          "            [--server-cpus LIST --client-cpus LIST | --shared-cores]\n"
          "  --akidb PATH       the akidb program to start (`akidb serve`, built with gRPC)\n"
          "  --out FILE         report (default bench/results/grpc.md)\n"
          "  --quick            10k points, 200 queries, 1 s closed loops, 1 run: a smoke run\n"
          "  --ingest-only      the ingest rows alone: no search collection, no search rows\n"
          "  --search-only      the search rows alone: no ingest rows\n"
          "  --tmp DIR          scratch data directory parent (default %s)\n"
          "  --clients N        concurrent clients of the ingest and closed-loop rows (default 4)\n"
          "  --window N         stream: unacknowledged batches at most (default 4)\n"
          "  --duration S       closed loop: seconds per row (default 5)\n"
          "  --repeat N         runs of every search row, interleaved (default 3; 1 with --quick)\n"
          "  --ingest-repeat N  runs of every ingest row, interleaved (default 3; 1 with --quick)\n"
          "  --ingest-768 N     points per 768-d ingest row (default 50000; 5000 with --quick)\n"
          "  --grpc-client C    the gRPC client of the gRPC rows: h2 (default; bench/h2grpc.c,\n"
          "                     hand-written HTTP/2; the closed-loop search rows then also run\n"
          "                     on the C-core client for comparison) or core (the gRPC C core)\n"
          "  --server-cpus LIST CPUs of the server, e.g. 0 or 0-1 (with --client-cpus)\n"
          "  --client-cpus LIST CPUs of this driver's client threads (with --server-cpus);\n"
          "                     default: the CPUs this process may use split in two, the\n"
          "                     first half the server's\n"
          "  --shared-cores     the server and the clients both run on every CPU\n",
          GRPC_BENCH_TMP_DEFAULT);
}

static void parse_options(int argc, char **argv, options_t *o) {
  memset(o, 0, sizeof *o);
  o->out = "bench/results/grpc.md";
  o->tmp = GRPC_BENCH_TMP_DEFAULT;
  o->clients = 4;
  o->window = 4;
  o->duration_s = -1;
  o->client = GC_CLIENT_H2;
  size_t used = 0;
  for (int i = 0; i < argc; i++)
    used += (size_t)snprintf(o->command + used,
                             used < sizeof o->command ? sizeof o->command - used : 0, "%s%s",
                             i ? " " : "", argv[i]);
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    bool takes = true;
    if (strcmp(a, "--quick") == 0) {
      o->quick = true;
      takes = false;
    } else if (strcmp(a, "--shared-cores") == 0) {
      o->shared_cores = true;
      takes = false;
    } else if (strcmp(a, "--ingest-only") == 0 || strcmp(a, "--search-only") == 0) {
      int want = strcmp(a, "--ingest-only") == 0 ? ROWS_INGEST : ROWS_SEARCH;
      if (o->rows != ROWS_ALL && (int)o->rows != want) { /* both: nothing would run */
        usage(stderr);
        exit(2);
      }
      o->rows = want;
      takes = false;
    } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      usage(stdout);
      exit(0);
    } else if (!v) {
      usage(stderr);
      exit(2);
    } else if (strcmp(a, "--akidb") == 0) o->akidb = v;
    else if (strcmp(a, "--out") == 0) o->out = v;
    else if (strcmp(a, "--tmp") == 0) o->tmp = v;
    else if (strcmp(a, "--clients") == 0) o->clients = (uint32_t)atoi(v);
    else if (strcmp(a, "--window") == 0) o->window = (uint32_t)atoi(v);
    else if (strcmp(a, "--duration") == 0) o->duration_s = atof(v);
    else if (strcmp(a, "--repeat") == 0) o->repeat = (uint32_t)atoi(v);
    else if (strcmp(a, "--ingest-repeat") == 0) o->ingest_repeat = (uint32_t)atoi(v);
    else if (strcmp(a, "--ingest-768") == 0) o->ingest_768 = (size_t)atol(v);
    else if (strcmp(a, "--server-cpus") == 0) o->server_cpus = v;
    else if (strcmp(a, "--client-cpus") == 0) o->client_cpus = v;
    else if (strcmp(a, "--grpc-client") == 0 && strcmp(v, "h2") == 0) o->client = GC_CLIENT_H2;
    else if (strcmp(a, "--grpc-client") == 0 && strcmp(v, "core") == 0)
      o->client = GC_CLIENT_CORE;
    else {
      fprintf(stderr, "grpc: unknown option %s\n", a);
      usage(stderr);
      exit(2);
    }
    if (takes) i++;
  }
  if (o->duration_s < 0) o->duration_s = o->quick ? 1.0 : 5.0;
  if (o->repeat == 0) o->repeat = o->quick ? 1 : 3;
  if (o->ingest_repeat == 0) o->ingest_repeat = o->quick ? 1 : 3;
  if (o->ingest_768 == 0) o->ingest_768 = o->quick ? 5000 : 50000;
  if (!o->akidb || o->clients < 1 || o->clients > 64 || o->window < 1 || o->duration_s <= 0 ||
      o->repeat > MAX_RUNS || o->ingest_repeat > MAX_RUNS ||
      !o->server_cpus != !o->client_cpus || (o->server_cpus && o->shared_cores)) {
    usage(stderr);
    exit(2);
  }
}

static void make_set(const char *name, uint32_t dim, akidb_metric_t metric, size_t n_base,
                     size_t n_query, uint32_t clusters, ds_set_t *set) {
  int rc = ds_make_mixture(name, n_base, n_query, dim, metric, clusters, SEED + dim, K, set);
  if (rc) bench_die("generating %s: %s", name, akidb_strerror(rc));
  if (set->gt_k < K) bench_die("%s: ground truth has only %u neighbours", name, set->gt_k);
}

/* Everything one data set's ingest rows and search collection need. */
typedef struct {
  const ds_set_t *set;
  const char *name, *metric;
  size_t ingest_points;
  sl_points_t json;   /* the ingest rows' points */
  packed_t unary;     /* every point of the set (the rows use the first ingest_points) */
  packed_t unary_row; /* the ingest rows' batches: a view of `unary` */
  packed_t stream;    /* the ingest rows' batches */
  qset_t q;
} dataset_t;

static void dataset_encode(dataset_t *d, const sp_api_t *a) {
  d->json = sl_encode_points(d->set, d->ingest_points);
  d->unary = pack_upserts(d->set, d->set->n_base, a, d->name, false);
  d->unary_row = d->unary;
  d->unary_row.n = (d->ingest_points + BATCH - 1) / BATCH;
  d->unary_row.n_points = d->ingest_points;
  d->unary_row.bytes = 0;
  for (size_t b = 0; b < d->unary_row.n; b++) d->unary_row.bytes += d->unary.len[b];
  d->stream = pack_upserts(d->set, d->ingest_points, a, d->name, true);
  char path[256];
  sp_collection_path(a, d->name, "/search", path, sizeof path);
  d->q.set = d->set;
  d->q.rest = sl_encode_queries(d->set, path, a->token, K);
  d->q.pb = gm_pack_searches(d->set, a->tenant, a->database, d->name, K, false);
  d->q.pbs = gm_pack_searches(d->set, a->tenant, a->database, d->name, K, true);
}

/* The ingest rows of one data set: for 1 and `clients` clients, REST,
 * gRPC unary and gRPC stream, each into a new collection `name`. */
static void run_ingest(sp_api_t *a, const sp_server_t *s, const options_t *o, report_t *rep,
                       dataset_t *d) {
  uint32_t counts[2] = {1, o->clients};
  for (uint32_t run = 1; run <= o->ingest_repeat; run++)
    for (int ci = 0; ci < (o->clients > 1 ? 2 : 1); ci++)
      for (transport_t tr = TR_REST; tr <= TR_STREAM; tr++) {
        if (rep->n_ingest >= MAX_ROWS) return;
        /* A method the server does not serve is asked once. */
        const ingest_row_t *before = find_ingest(rep, tr, d->set->dim, counts[ci], 0);
        if (before && !before->served) continue;
        if (o->ingest_repeat > 1 && ci == 0 && tr == TR_REST)
          printf("  ingest run %u of %u\n", run, o->ingest_repeat);
        ingest_row_t *row = &rep->ingest[rep->n_ingest++];
        memset(row, 0, sizeof *row);
        row->tr = tr;
        row->run = run;
        row->dim = d->set->dim;
        row->clients = counts[ci];
        row->points = d->ingest_points;
        sp_api_create_collection(a, d->name, d->set->dim, d->metric);
        if (tr == TR_REST) rest_ingest(&d->json, a, s, d->name, counts[ci], row);
        else grpc_ingest(tr == TR_UNARY ? &d->unary_row : &d->stream, tr, s, a->token, counts[ci],
                         o->window, row);
        if (row->served)
          printf("  ingest %u-d %s x %u: %.0f points/s (%.2f s; batch p50 %.1f ms, p99 %.1f ms; "
                 "%zu retries)\n",
                 row->dim, tr_name(tr), row->clients, row->pps, row->seconds, row->batch_ms.p50,
                 row->batch_ms.p99, row->retries);
        else printf("  ingest %u-d %s x %u: not served (%s)\n", row->dim, tr_name(tr),
                    row->clients, row->note);
        fflush(stdout);
        sp_api_delete_collection(a, d->name);
        wait_quiet(s);
      }
}

/* The search collection: every point over gRPC unary (untimed), indexed. */
static double load_collection(sp_api_t *a, const sp_server_t *s, const options_t *o,
                              dataset_t *d) {
  double t0 = lg_now_us();
  printf("loading %s (%zu points over gRPC unary, then indexing)...\n", d->name, d->set->n_base);
  fflush(stdout);
  sp_api_create_collection(a, d->name, d->set->dim, d->metric);
  ingest_row_t row = {.dim = d->set->dim};
  grpc_ingest(&d->unary, TR_UNARY, s, a->token, o->clients, o->window, &row);
  if (!row.served) bench_die("loading %s: %s", d->name, row.note);
  sp_api_wait_indexed(a, d->name, (long long)d->set->n_base);
  return (lg_now_us() - t0) / 1e6;
}

/* Sets ef_search to the smallest of sl_cal_efs whose REST recall@10 over the
 * query set reaches SL_CAL_RECALL; untimed. */
static long long calibrate_ef(sp_api_t *a, const sp_server_t *s, dataset_t *d) {
  long long ef = sl_cal_efs[SL_N_CAL_EFS - 1];
  for (size_t i = 0; i < SL_N_CAL_EFS; i++) {
    sp_api_set_ef_search(a, d->name, sl_cal_efs[i]);
    printf("  calibrating %s: ef_search %lld\n", d->name, sl_cal_efs[i]);
    search_row_t row = search_sequential(s, a->token, &d->q, TR_REST, d->name, sl_cal_efs[i]);
    if (row.recall >= SL_CAL_RECALL) {
      ef = sl_cal_efs[i];
      break;
    }
  }
  sp_api_set_ef_search(a, d->name, ef);
  return ef;
}

static void run_search(sp_api_t *a, const sp_server_t *s, const options_t *o, report_t *rep,
                       dataset_t *d, long long *ef_out) {
  sp_coll_info_t info = sp_api_collection_info(a, d->name);
  rep->m = info.m;
  rep->ef_construction = info.ef_construction;
  long long ef = calibrate_ef(a, s, d);
  *ef_out = ef;
  for (uint32_t run = 1; run <= o->repeat; run++) {
    if (o->repeat > 1) printf("  run %u of %u\n", run, o->repeat);
    search_row_t seq[SEQ_TRANSPORTS];
    search_sequential_interleaved(s, a->token, &d->q, d->name, ef, seq);
    for (int t = 0; t < SEQ_TRANSPORTS && rep->n_search < MAX_ROWS; t++) {
      seq[t].run = run;
      rep->search[rep->n_search++] = seq[t];
    }
    for (transport_t tr = TR_REST; tr <= TR_STREAM && rep->n_search < MAX_ROWS; tr++) {
      bench_sleep_ms(300);
      search_row_t row = search_closed(s, a->token, &d->q, tr, d->name, ef, o->clients,
                                       o->duration_s, false);
      row.run = run;
      rep->search[rep->n_search++] = row;
    }
    /* The same closed loops on the C-core client, for comparison. */
    for (transport_t tr = TR_UNARY;
         o->client == GC_CLIENT_H2 && tr <= TR_STREAM && rep->n_search < MAX_ROWS; tr++) {
      bench_sleep_ms(300);
      gc_use(GC_CLIENT_CORE);
      search_row_t row = search_closed(s, a->token, &d->q, tr, d->name, ef, o->clients,
                                       o->duration_s, true);
      gc_use(o->client);
      row.run = run;
      rep->search[rep->n_search++] = row;
    }
  }
}

static void dataset_free(dataset_t *d) {
  sl_points_free(&d->json);
  gm_packed_free(&d->unary);
  gm_packed_free(&d->stream);
  sl_queries_free(&d->q.rest);
  gm_packed_free(&d->q.pb);
  gm_packed_free(&d->q.pbs);
}

/* Places the server (g_server, at its spawn) and this process's threads
 * (from now on: every client thread inherits it) on their CPUs, and says
 * where in rep->placement. */
static void place_cpus(const options_t *o, report_t *rep) {
  cpu_set_t srv, cli;
  if (o->server_cpus) {
    if (bench_cpulist_parse(o->server_cpus, &srv) || bench_cpulist_parse(o->client_cpus, &cli))
      bench_die("--server-cpus %s / --client-cpus %s: not CPU lists (e.g. 0 or 1-3)",
                o->server_cpus, o->client_cpus);
  } else if (o->shared_cores || !bench_cpus_split(&srv, &cli)) {
    snprintf(rep->placement, sizeof rep->placement,
             "**the server and the clients share every core**%s",
             o->shared_cores ? " (--shared-cores)" : " (fewer than two CPUs to split)");
    return;
  }
  char s_list[128], c_list[128];
  bench_cpulist_format(&srv, s_list, sizeof s_list);
  bench_cpulist_format(&cli, c_list, sizeof c_list);
  if (sched_setaffinity(0, sizeof cli, &cli) != 0)
    bench_die("cannot run the clients on CPU %s: %s", c_list, strerror(errno));
  g_server.pinned = true;
  g_server.cpus = srv;
  snprintf(rep->placement, sizeof rep->placement,
           "**the server runs on CPU %s, the clients (this driver's threads) on CPU %s** "
           "(%s), as a server meets its clients from other machines: no client preempts a "
           "server thread, and every row pays the same cross-core wake-ups",
           s_list, c_list, o->server_cpus ? "--server-cpus, --client-cpus" : "the default split");
}

int main(int argc, char **argv) {
  bench_fatal_init("grpc bench", cleanup);
  options_t o;
  parse_options(argc, argv, &o);
  signal(SIGPIPE, SIG_IGN);
  static report_t rep;
  rep.load_start = sp_load_average();
  bench_cpu_model(rep.cpu, sizeof rep.cpu);
  rep.cores = sysconf(_SC_NPROCESSORS_ONLN);
  place_cpus(&o, &rep);
  struct utsname u;
  if (uname(&u) == 0) snprintf(rep.kernel, sizeof rep.kernel, "Linux %s", u.release);
  sp_akidb_version(o.akidb, rep.version, sizeof rep.version);
  rep.window = o.window;
  rep.clients = o.clients;

  rep.n_base = o.quick ? 10000 : 100000;
  rep.n_query = o.quick ? 200 : 1000;
  rep.clusters = o.quick ? 100 : 300;
  rep.ingest_128 = rep.n_base;
  rep.ingest_768 = o.ingest_768 < rep.n_base ? o.ingest_768 : rep.n_base;
  printf("generating mix128 and mix768 (%zu points, %zu queries, exact ground truth)...\n",
         rep.n_base, rep.n_query);
  fflush(stdout);
  double t = lg_now_us();
  ds_set_t s128, s768;
  make_set("mix128", 128, AKIDB_METRIC_L2, rep.n_base, rep.n_query, rep.clusters, &s128);
  make_set("mix768", 768, AKIDB_METRIC_COSINE, rep.n_base, rep.n_query, rep.clusters, &s768);
  rep.gen_s = (lg_now_us() - t) / 1e6;

  printf("starting %s serve (REST and gRPC)...\n", o.akidb);
  fflush(stdout);
  gc_init();
  gc_use(o.client);
  if (o.client == GC_CLIENT_H2) {
    char err[256];
    if (h2_selftest(err, sizeof err)) bench_die("%s", err);
  }
  printf("gRPC client: %s\n", client_desc(o.client));
  sp_server_start(&g_server, o.akidb, o.tmp, true);
  snprintf(rep.fs, sizeof rep.fs, "%s", sp_fs_name(g_server.dir));
  rep.ready_s = sp_server_wait_ready(&g_server);
  sp_api_t api;
  sp_api_setup(&api, &g_server);

  printf("encoding requests (JSON and protobuf)...\n");
  fflush(stdout);
  t = lg_now_us();
  dataset_t d128 = {.set = &s128, .name = "mix128", .metric = "l2", .ingest_points = rep.ingest_128};
  dataset_t d768 = {.set = &s768, .name = "mix768", .metric = "cosine",
                    .ingest_points = rep.ingest_768};
  dataset_encode(&d128, &api);
  dataset_encode(&d768, &api);
  rep.encode_s = (lg_now_us() - t) / 1e6;

  if (o.rows != ROWS_SEARCH) {
    run_ingest(&api, &g_server, &o, &rep, &d128);
    run_ingest(&api, &g_server, &o, &rep, &d768);
  }
  if (o.rows == ROWS_INGEST) goto stop;
  rep.load_s_128 = load_collection(&api, &g_server, &o, &d128);
  rep.load_s_768 = load_collection(&api, &g_server, &o, &d768);
  rep.settle_s = sp_wait_settled(&g_server);
  rep.rss_mib = sp_proc_vm_mib(g_server.pid, "VmRSS");
  rep.hwm_mib = sp_proc_vm_mib(g_server.pid, "VmHWM");

  run_search(&api, &g_server, &o, &rep, &d128, &rep.ef_128);
  run_search(&api, &g_server, &o, &rep, &d768, &rep.ef_768);

stop:
  lg_conn_close(&api.conn);
  sp_server_stop(&g_server, &rep.shutdown_s);
  bench_remove_tree(g_server.dir);
  g_server.dir[0] = '\0';
  g_server.log[0] = '\0';
  rep.load_end = sp_load_average();
  write_report(&rep, &o);
  dataset_free(&d128);
  dataset_free(&d768);
  ds_free(&s128);
  ds_free(&s768);
  gc_shutdown();
  printf("wrote %s\n", o.out);
  return 0;
}
