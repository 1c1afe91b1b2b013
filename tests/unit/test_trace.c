/*
 * test_trace.c — unit tests of src/trace/: W3C traceparent parsing and
 * formatting (valid, invalid, future versions), tracestate, random ids,
 * the ratio sampler (determinism, accuracy), the parent-based request
 * decision, parentage through the thread's context and across a hand-off
 * to another thread, attribute bounds, the bounded queue (full → refused
 * at once, concurrent producers), the OTLP/JSON encoding read back field
 * by field with jansson, and the configuration checks. The exporter
 * against a receiver is test_trace_export.c.
 */
#include <jansson.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <time.h>

#include "akidb/errors.h"
#include "check.h"
#include "trace/trace.h"
#include "trace/trace_internal.h"

#define TP_SAMPLED "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
#define TP_UNSAMPLED "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"
#define DEAD_ENDPOINT "http://127.0.0.1:9" /* discard port: nothing listens in tests */

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void hex_of(const uint8_t *b, size_t n, char *out) {
  trace_hex(b, n, out);
  out[2 * n] = '\0';
}

#define ASSERT_ID_HEX(bytes, n, want)                                                              \
  do {                                                                                             \
    char h_[33];                                                                                   \
    hex_of((bytes), (n), h_);                                                                      \
    ASSERT_STR_EQ(h_, (want));                                                                     \
  } while (0)

#define ASSERT_SAME_ID(a, b, n) ASSERT_EQ_INT(memcmp((a), (b), (n)), 0)

/* Starts the tracer at `ratio` with a collector nobody listens on and a
 * long batch delay: spans queue up and are dropped at shutdown. */
static void start_tracer(double ratio) {
  trace_config_t c;
  trace_config_default(&c);
  c.enabled = true;
  c.endpoint = DEAD_ENDPOINT;
  c.sample_ratio = ratio;
  c.batch_delay_ms = 600000;
  c.shutdown_timeout_ms = 0;
  char err[256] = "";
  int rc = trace_start(&c, err, sizeof err);
  if (rc) CHECK_FAIL("trace_start: %d %s", rc, err);
}

/* ------------------------------------------------------- traceparent -- */

static void test_traceparent_parses_version_00(void) {
  trace_ctx_t c;
  ASSERT_OK(trace_traceparent_parse(TP_SAMPLED, &c));
  ASSERT_TRUE(c.valid);
  ASSERT_ID_HEX(c.trace_id, 16, "4bf92f3577b34da6a3ce929d0e0e4736");
  ASSERT_ID_HEX(c.span_id, 8, "00f067aa0ba902b7");
  ASSERT_EQ_INT(c.flags, TRACE_FLAG_SAMPLED);
  ASSERT_TRUE(c.tracestate == NULL);
  ASSERT_OK(trace_traceparent_parse(TP_UNSAMPLED, &c));
  ASSERT_EQ_INT(c.flags, 0);
  /* flags other than "sampled" are read but not kept */
  ASSERT_OK(trace_traceparent_parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-fe", &c));
  ASSERT_EQ_INT(c.flags, 0);
  ASSERT_OK(trace_traceparent_parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03", &c));
  ASSERT_EQ_INT(c.flags, TRACE_FLAG_SAMPLED);
}

static void test_traceparent_rejects_malformed(void) {
  static const char *const bad[] = {
      "",
      "00",
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0",    /* 54 bytes */
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-011",  /* 56 bytes, version 00 */
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-",  /* extra field, version 00 */
      "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",   /* upper-case trace id */
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01",   /* upper-case span id */
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0A",   /* upper-case flags */
      "0A-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",   /* upper-case version */
      "00-00000000000000000000000000000000-00f067aa0ba902b7-01",   /* zero trace id */
      "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",   /* zero span id */
      "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",   /* version ff */
      "0g-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",   /* not hex */
      "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902bz-01",
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0x",
      "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",   /* separators */
      "00-4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7-01",
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7_01",
      "00-4bf92f3577b34da6a3ce929d0e0e47-3600f067aa0ba902b7-01",   /* shifted fields */
      " 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  /* white space */
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01 ",
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\n",
      "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",  /* later version: no '-' */
      "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0",    /* later version: short */
      "cc-00000000000000000000000000000000-00f067aa0ba902b7-01-x", /* later version: zero id */
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    trace_ctx_t c;
    c.valid = true;
    if (trace_traceparent_parse(bad[i], &c) != AKIDB_EINVAL)
      CHECK_FAIL("accepted invalid traceparent \"%s\"", bad[i]);
    ASSERT_TRUE(!c.valid);
  }
  trace_ctx_t c;
  ASSERT_EQ_INT(trace_traceparent_parse(NULL, &c), AKIDB_EINVAL);
}

/* W3C: a version above 00 is read with 00's layout; what follows byte 55
 * must start with '-'. */
static void test_traceparent_reads_later_versions(void) {
  trace_ctx_t c;
  ASSERT_OK(trace_traceparent_parse("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", &c));
  ASSERT_ID_HEX(c.trace_id, 16, "4bf92f3577b34da6a3ce929d0e0e4736");
  ASSERT_OK(trace_traceparent_parse(
      "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future-will-be-like", &c));
  ASSERT_ID_HEX(c.span_id, 8, "00f067aa0ba902b7");
  ASSERT_EQ_INT(c.flags, TRACE_FLAG_SAMPLED);
  /* what we send on is always version 00 */
  char out[TRACE_TRACEPARENT_SIZE];
  trace_traceparent_format(&c, out);
  ASSERT_STR_EQ(out, TP_SAMPLED);
}

static void test_traceparent_format_round_trips(void) {
  const char *in[] = {TP_SAMPLED, TP_UNSAMPLED};
  for (int i = 0; i < 2; i++) {
    trace_ctx_t c;
    ASSERT_OK(trace_traceparent_parse(in[i], &c));
    char out[TRACE_TRACEPARENT_SIZE];
    trace_traceparent_format(&c, out);
    ASSERT_STR_EQ(out, in[i]);
    ASSERT_EQ_INT(strlen(out), TRACE_TRACEPARENT_LEN);
  }
  /* random ids survive format → parse */
  for (int i = 0; i < 1000; i++) {
    trace_ctx_t a = {.flags = (uint8_t)(i & 1), .valid = true}, b;
    trace_new_trace_id(a.trace_id);
    trace_new_span_id(a.span_id);
    char out[TRACE_TRACEPARENT_SIZE];
    trace_traceparent_format(&a, out);
    ASSERT_OK(trace_traceparent_parse(out, &b));
    ASSERT_SAME_ID(a.trace_id, b.trace_id, 16);
    ASSERT_SAME_ID(a.span_id, b.span_id, 8);
    ASSERT_EQ_INT(a.flags, b.flags);
  }
}

static void test_tracestate_is_checked(void) {
  ASSERT_TRUE(trace_tracestate_ok("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"));
  ASSERT_TRUE(trace_tracestate_ok("a=1 ,\tb=2"));
  ASSERT_TRUE(!trace_tracestate_ok(NULL));
  ASSERT_TRUE(!trace_tracestate_ok(""));
  ASSERT_TRUE(!trace_tracestate_ok(" , "));
  ASSERT_TRUE(!trace_tracestate_ok("a=1\nb=2"));
  ASSERT_TRUE(!trace_tracestate_ok("a=\xc3\xa9"));
  char big[TRACE_TRACESTATE_MAX + 2];
  memset(big, 'a', sizeof big);
  big[TRACE_TRACESTATE_MAX] = '\0';
  ASSERT_TRUE(trace_tracestate_ok(big));
  big[TRACE_TRACESTATE_MAX] = 'a';
  big[TRACE_TRACESTATE_MAX + 1] = '\0';
  ASSERT_TRUE(!trace_tracestate_ok(big));
}

/* ------------------------------------------------------- ids, sampler -- */

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static void test_random_ids_are_nonzero_and_distinct(void) {
  enum { N = 20000 };
  static uint64_t ids[N];
  for (int i = 0; i < N; i++) {
    uint8_t s[8];
    trace_new_span_id(s);
    memcpy(&ids[i], s, 8);
    ASSERT_TRUE(ids[i] != 0);
  }
  /* every bit position takes both values within the first 64 ids */
  uint64_t ones = 0, zeros = 0;
  for (int i = 0; i < 64; i++) ones |= ids[i], zeros |= ~ids[i];
  qsort(ids, N, sizeof ids[0], cmp_u64);
  for (int i = 1; i < N; i++) ASSERT_TRUE(ids[i] != ids[i - 1]);
  ASSERT_EQ_U64(ones, UINT64_MAX);
  ASSERT_EQ_U64(zeros, UINT64_MAX);
}

static void test_ratio_sampler_is_deterministic(void) {
  for (int i = 0; i < 5000; i++) {
    uint8_t id[16];
    trace_new_trace_id(id);
    bool at10 = trace_ratio_sampled(id, 0.1), at50 = trace_ratio_sampled(id, 0.5);
    ASSERT_EQ_INT(at10, trace_ratio_sampled(id, 0.1));
    ASSERT_TRUE(!at10 || at50); /* sampled at 10 % implies sampled at 50 % */
    ASSERT_TRUE(trace_ratio_sampled(id, 1.0));
    ASSERT_TRUE(!trace_ratio_sampled(id, 0.0));
  }
  /* only the last 8 bytes count */
  uint8_t lo[16] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 1};
  uint8_t hi[16] = {0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  ASSERT_TRUE(trace_ratio_sampled(lo, 1e-9));
  ASSERT_TRUE(!trace_ratio_sampled(hi, 0.999));
  /* x = 2^62 (bytes 8..15 = 0x80 00.. shifted right by one) sits at exactly 0.5 */
  uint8_t half[16] = {1, 0, 0, 0, 0, 0, 0, 0, 0x80, 0, 0, 0, 0, 0, 0, 0};
  ASSERT_TRUE(!trace_ratio_sampled(half, 0.5));
  ASSERT_TRUE(trace_ratio_sampled(half, 0.5000001));
}

static void test_ratio_sampler_accuracy(void) {
  const double ratios[] = {0.01, 0.1, 0.25, 0.5, 0.9};
  enum { N = 200000 };
  for (size_t r = 0; r < sizeof ratios / sizeof ratios[0]; r++) {
    size_t hits = 0;
    for (int i = 0; i < N; i++) {
      uint8_t id[16];
      trace_new_trace_id(id);
      hits += trace_ratio_sampled(id, ratios[r]);
    }
    double p = ratios[r], sd = sqrt(p * (1 - p) / N);
    ASSERT_NEAR((double)hits / N, p, 5 * sd);
  }
}

/* ------------------------------------------------------------ requests -- */

static void test_tracing_off_records_nothing(void) {
  ASSERT_TRUE(!trace_enabled());
  trace_request_t r;
  trace_request_begin(&r, "GET /health", TP_SAMPLED, "a=1");
  ASSERT_TRUE(r.span == NULL);
  ASSERT_TRUE(!r.ctx.valid);
  trace_saved_t saved;
  trace_attach(&r.ctx, &saved);
  ASSERT_TRUE(trace_child_begin("auth") == NULL);
  ASSERT_TRUE(!trace_is_recording());
  char tp[TRACE_TRACEPARENT_SIZE];
  ASSERT_TRUE(!trace_current_traceparent(tp));
  /* every call takes NULL */
  trace_span_set_str(NULL, "k", "v");
  trace_span_set_int(NULL, "k", 1);
  trace_span_set_double(NULL, "k", 1);
  trace_span_set_bool(NULL, "k", true);
  trace_span_set_status(NULL, TRACE_STATUS_ERROR, "x");
  trace_span_set_name(NULL, "x");
  trace_span_end(NULL);
  trace_detach(&saved);
  trace_request_end(&r);
}

static void test_unsampled_request_allocates_no_span(void) {
  start_tracer(0.0);
  trace_request_t r;
  for (int i = 0; i < 1000; i++) {
    trace_request_begin(&r, "GET /health", NULL, NULL);
    ASSERT_TRUE(r.span == NULL);
    ASSERT_TRUE(!r.ctx.valid);
    trace_saved_t saved;
    trace_attach(&r.ctx, &saved);
    ASSERT_TRUE(trace_child_begin("wal.fsync") == NULL);
    trace_detach(&saved);
    trace_request_end(&r);
  }
  trace_stats_t st;
  trace_stats(&st);
  ASSERT_EQ_U64(st.spans_started, 0);
  trace_shutdown();
}

/* A sampled traceparent is followed even at ratio 0; the server span is the
 * client span's child in the client's trace; tracestate is passed on. */
static void test_request_follows_a_sampled_parent(void) {
  start_tracer(0.0);
  trace_request_t r;
  trace_request_begin(&r, "POST /v1/search", TP_SAMPLED, "rojo=00f067aa0ba902b7");
  ASSERT_TRUE(r.span != NULL);
  ASSERT_EQ_INT(r.span->kind, TRACE_KIND_SERVER);
  ASSERT_ID_HEX(r.span->ctx.trace_id, 16, "4bf92f3577b34da6a3ce929d0e0e4736");
  ASSERT_ID_HEX(r.span->parent_id, 8, "00f067aa0ba902b7");
  ASSERT_TRUE(memcmp(r.span->ctx.span_id, r.span->parent_id, 8) != 0);
  ASSERT_TRUE(r.ctx.valid && (r.ctx.flags & TRACE_FLAG_SAMPLED));
  ASSERT_SAME_ID(r.ctx.span_id, r.span->ctx.span_id, 8);
  trace_saved_t saved;
  trace_attach(&r.ctx, &saved);
  ASSERT_TRUE(trace_is_recording());
  char tp[TRACE_TRACEPARENT_SIZE];
  ASSERT_TRUE(trace_current_traceparent(tp));
  char want[TRACE_TRACEPARENT_SIZE];
  trace_traceparent_format(&r.ctx, want);
  ASSERT_STR_EQ(tp, want);
  ASSERT_STR_EQ(trace_current_tracestate(), "rojo=00f067aa0ba902b7");
  trace_detach(&saved);
  trace_request_end(&r);
  ASSERT_TRUE(r.span == NULL);
  trace_stats_t st;
  trace_stats(&st);
  ASSERT_EQ_U64(st.spans_started, 1);
  trace_shutdown();
  trace_stats(&st);
  ASSERT_EQ_U64(st.spans_started, st.spans_exported + st.spans_dropped);
}

/* An unsampled parent is not recorded even at ratio 1, but its context is
 * passed on unchanged (flags 00) to downstream calls. */
static void test_unsampled_parent_is_passed_on(void) {
  start_tracer(1.0);
  trace_request_t r;
  trace_request_begin(&r, "POST /v1/search", TP_UNSAMPLED, "k=v");
  ASSERT_TRUE(r.span == NULL);
  ASSERT_TRUE(r.ctx.valid);
  trace_saved_t saved;
  trace_attach(&r.ctx, &saved);
  ASSERT_TRUE(trace_child_begin("search") == NULL);
  ASSERT_TRUE(trace_client_begin("embed.call") == NULL);
  char tp[TRACE_TRACEPARENT_SIZE];
  ASSERT_TRUE(trace_current_traceparent(tp));
  ASSERT_STR_EQ(tp, TP_UNSAMPLED);
  ASSERT_STR_EQ(trace_current_tracestate(), "k=v");
  trace_detach(&saved);
  trace_request_end(&r);
  /* without a traceparent, ratio 1 records a new root */
  trace_request_begin(&r, "GET /ready", "00-garbage", NULL);
  ASSERT_TRUE(r.span != NULL);
  uint8_t zero[8] = {0};
  ASSERT_SAME_ID(r.span->parent_id, zero, 8);
  trace_request_end(&r);
  trace_shutdown();
}

/* Children opened deep in the call tree nest through the thread's context
 * and unwind in order; a client span is the parent an outgoing call names. */
static void test_children_nest_through_the_thread_context(void) {
  start_tracer(1.0);
  trace_request_t r;
  trace_request_begin(&r, "POST /v1/points", NULL, NULL);
  ASSERT_TRUE(r.span != NULL);
  trace_saved_t saved;
  trace_attach(&r.ctx, &saved);
  trace_span_t *wal = trace_child_begin("wal.append");
  ASSERT_TRUE(wal != NULL);
  ASSERT_EQ_INT(wal->kind, TRACE_KIND_INTERNAL);
  ASSERT_SAME_ID(wal->ctx.trace_id, r.span->ctx.trace_id, 16);
  ASSERT_SAME_ID(wal->parent_id, r.span->ctx.span_id, 8);
  trace_span_t *fsync = trace_child_begin("wal.fsync");
  ASSERT_SAME_ID(fsync->parent_id, wal->ctx.span_id, 8);
  trace_ctx_t cur = trace_current();
  ASSERT_SAME_ID(cur.span_id, fsync->ctx.span_id, 8);
  trace_span_end(fsync);
  cur = trace_current();
  ASSERT_SAME_ID(cur.span_id, wal->ctx.span_id, 8);
  trace_span_end(wal);
  trace_span_t *put = trace_client_begin("objstore.put");
  ASSERT_EQ_INT(put->kind, TRACE_KIND_CLIENT);
  ASSERT_SAME_ID(put->parent_id, r.span->ctx.span_id, 8);
  char tp[TRACE_TRACEPARENT_SIZE];
  ASSERT_TRUE(trace_current_traceparent(tp));
  char want[TRACE_TRACEPARENT_SIZE];
  trace_traceparent_format(&put->ctx, want);
  ASSERT_STR_EQ(tp, want);
  ASSERT_TRUE(strcmp(tp + 53, "01") == 0);
  trace_span_end(put);
  cur = trace_current();
  ASSERT_SAME_ID(cur.span_id, r.span->ctx.span_id, 8);
  trace_detach(&saved);
  ASSERT_TRUE(!trace_current().valid);
  trace_request_end(&r);
  trace_shutdown();
}

typedef struct {
  trace_ctx_t handed;   /* the request's context, copied for the worker */
  uint8_t parent[8];    /* what the worker's span named as parent */
  uint8_t trace_id[16];
  bool had_span, restored, own_kept;
} handoff_t;

/* A pool thread: has a context of its own, attaches the request's, opens
 * a child, detaches: its own context is back. */
static void *worker(void *arg) {
  handoff_t *h = arg;
  trace_ctx_t own = {.trace_id = {9}, .span_id = {9}, .valid = true}; /* unsampled */
  trace_saved_t outer, saved;
  trace_attach(&own, &outer);
  trace_attach(&h->handed, &saved);
  trace_span_t *s = trace_child_begin("search");
  h->had_span = s != NULL;
  if (s) {
    memcpy(h->parent, s->parent_id, 8);
    memcpy(h->trace_id, s->ctx.trace_id, 16);
    trace_span_set_int(s, "akidb.k", 10);
    trace_span_end(s);
  }
  trace_detach(&saved);
  trace_ctx_t back = trace_current();
  h->own_kept = back.valid && back.trace_id[0] == 9 && !trace_is_recording();
  trace_detach(&outer);
  h->restored = !trace_current().valid;
  return NULL;
}

static void test_context_hands_off_to_another_thread(void) {
  start_tracer(1.0);
  trace_request_t r;
  trace_request_begin(&r, "POST /v1/search", TP_SAMPLED, NULL);
  trace_saved_t saved;
  trace_attach(&r.ctx, &saved);
  trace_span_t *search = trace_child_begin("catalog");
  handoff_t h = {.handed = trace_current()};
  pthread_t t;
  ASSERT_OK(pthread_create(&t, NULL, worker, &h));
  ASSERT_OK(pthread_join(t, NULL));
  ASSERT_TRUE(h.had_span);
  ASSERT_SAME_ID(h.parent, search->ctx.span_id, 8);
  ASSERT_ID_HEX(h.trace_id, 16, "4bf92f3577b34da6a3ce929d0e0e4736");
  ASSERT_TRUE(h.own_kept);
  ASSERT_TRUE(h.restored);
  trace_span_end(search);
  trace_detach(&saved);
  trace_request_end(&r);
  trace_stats_t st;
  trace_stats(&st);
  ASSERT_EQ_U64(st.spans_started, 3);
  trace_shutdown();
}

/* trace_span_begin with an explicit parent leaves the thread's context. */
static void test_explicit_span_is_not_made_current(void) {
  start_tracer(1.0);
  trace_request_t r;
  trace_request_begin(&r, "akidb.v1.PointService/Search", NULL, NULL);
  ASSERT_TRUE(!trace_current().valid);
  trace_span_t *s = trace_span_begin("search", TRACE_KIND_INTERNAL, &r.ctx);
  ASSERT_TRUE(s != NULL);
  ASSERT_SAME_ID(s->parent_id, r.span->ctx.span_id, 8);
  ASSERT_TRUE(!trace_current().valid);
  trace_ctx_t sc = trace_span_ctx(s);
  trace_span_t *c = trace_span_begin("hnsw", TRACE_KIND_INTERNAL, &sc);
  ASSERT_SAME_ID(c->parent_id, s->ctx.span_id, 8);
  trace_span_end(c);
  trace_span_end(s);
  ASSERT_TRUE(trace_span_begin("x", TRACE_KIND_INTERNAL, NULL) == NULL);
  trace_ctx_t unsampled = r.ctx;
  unsampled.flags = 0;
  ASSERT_TRUE(trace_span_begin("x", TRACE_KIND_INTERNAL, &unsampled) == NULL);
  trace_request_end(&r);
  trace_shutdown();
}

/* ---------------------------------------------------------- attributes -- */

static void test_attributes_are_bounded_and_cut_at_characters(void) {
  start_tracer(1.0);
  trace_request_t r;
  trace_request_begin(&r, "n", NULL, NULL);
  trace_span_t *s = r.span;
  static const char *const keys[20] = {"k0",  "k1",  "k2",  "k3",  "k4",  "k5",  "k6",
                                       "k7",  "k8",  "k9",  "k10", "k11", "k12", "k13",
                                       "k14", "k15", "k16", "k17", "k18", "k19"};
  for (int i = 0; i < 20; i++) trace_span_set_int(s, keys[i], i);
  ASSERT_EQ_INT(s->nattrs, TRACE_ATTRS_MAX);
  ASSERT_EQ_INT(s->dropped_attrs, 4);
  trace_span_set_int(s, "k3", 33); /* replaced, not added */
  ASSERT_EQ_INT(s->nattrs, TRACE_ATTRS_MAX);
  ASSERT_EQ_INT(s->attrs[3].v.i, 33);
  /* a value of 300 bytes of "é" (2 bytes each) is cut to 256 bytes = 128 chars */
  char big[601];
  for (int i = 0; i < 300; i++) memcpy(big + 2 * i, "\xc3\xa9", 2);
  big[600] = '\0';
  trace_span_set_str(s, "k0", big);
  ASSERT_EQ_INT(s->attrs[0].type, ATTR_STR);
  ASSERT_EQ_INT(s->attrs[0].v.s.len, 256);
  /* "a" + é...: the cut would split a character: 255 bytes kept */
  big[0] = 'a';
  for (int i = 0; i < 299; i++) memcpy(big + 1 + 2 * i, "\xc3\xa9", 2);
  big[599] = '\0';
  trace_span_set_str(s, "k1", big);
  ASSERT_EQ_INT(s->attrs[1].v.s.len, 255);
  /* the span's text area runs out: later values are cut to what is left */
  for (int i = 2; i < 10; i++) trace_span_set_str(s, keys[i], big);
  ASSERT_TRUE(s->text_used <= TRACE_SPAN_TEXT_MAX);
  ASSERT_EQ_INT(s->attrs[9].v.s.len, 0);
  trace_span_set_status(s, TRACE_STATUS_ERROR, "too late for room");
  ASSERT_EQ_INT(s->status, TRACE_STATUS_ERROR);
  trace_request_end(&r);
  trace_shutdown();
}

/* ----------------------------------------------------------------- queue -- */

static trace_span_t *fake(uintptr_t i) { return (trace_span_t *)(i * 16 + 16); }

static void test_queue_refuses_at_once_when_full(void) {
  trace_queue_t q;
  ASSERT_OK(trace_queue_init(&q, 5));
  for (int lap = 0; lap < 100; lap++) {
    for (uintptr_t i = 0; i < 5; i++) ASSERT_TRUE(trace_queue_push(&q, fake(i)));
    ASSERT_TRUE(!trace_queue_push(&q, fake(99)));
    ASSERT_EQ_INT(trace_queue_depth(&q), 5);
    for (uintptr_t i = 0; i < 3; i++) ASSERT_TRUE(trace_queue_pop(&q) == fake(i));
    ASSERT_TRUE(trace_queue_push(&q, fake(5)));
    ASSERT_TRUE(trace_queue_pop(&q) == fake(3));
    ASSERT_TRUE(trace_queue_pop(&q) == fake(4));
    ASSERT_TRUE(trace_queue_pop(&q) == fake(5));
    ASSERT_TRUE(trace_queue_pop(&q) == NULL);
  }
  trace_queue_free(&q);
}

typedef struct {
  trace_queue_t *q;
  int id, n;
  int pushed;
  double max_push_s;
} producer_t;

static void *producer(void *arg) {
  producer_t *p = arg;
  for (int i = 0; i < p->n; i++) {
    double t0 = now_s();
    p->pushed += trace_queue_push(p->q, fake((uintptr_t)(p->id * 1000000 + i)));
    double dt = now_s() - t0;
    if (dt > p->max_push_s) p->max_push_s = dt;
  }
  return NULL;
}

/* Producers racing into a queue nobody drains: exactly `cap` get in, the
 * others are refused, and no push waits. */
static void test_queue_concurrent_producers_fill_exactly(void) {
  enum { CAP = 1000, THREADS = 4, EACH = 20000 };
  trace_queue_t q;
  ASSERT_OK(trace_queue_init(&q, CAP));
  pthread_t t[THREADS];
  producer_t p[THREADS];
  double t0 = now_s();
  for (int i = 0; i < THREADS; i++) {
    p[i] = (producer_t){.q = &q, .id = i, .n = EACH};
    ASSERT_OK(pthread_create(&t[i], NULL, producer, &p[i]));
  }
  int pushed = 0;
  for (int i = 0; i < THREADS; i++) {
    ASSERT_OK(pthread_join(t[i], NULL));
    pushed += p[i].pushed;
  }
  ASSERT_EQ_INT(pushed, CAP);
  ASSERT_LE(now_s() - t0, 10.0); /* 80,000 pushes: milliseconds when nothing waits */
  size_t popped = 0;
  while (trace_queue_pop(&q)) popped++;
  ASSERT_EQ_INT(popped, CAP);
  trace_queue_free(&q);
}

typedef struct {
  trace_queue_t *q;
  _Atomic int *producers_left;
  size_t popped;
  uint64_t sum;
} consumer_t;

static void *consumer(void *arg) {
  consumer_t *c = arg;
  for (;;) {
    trace_span_t *s = trace_queue_pop(c->q);
    if (s) {
      c->popped++;
      c->sum += (uint64_t)(uintptr_t)s;
    } else if (atomic_load(c->producers_left) == 0) {
      if (!(s = trace_queue_pop(c->q))) break;
      c->popped++;
      c->sum += (uint64_t)(uintptr_t)s;
    }
  }
  return NULL;
}

typedef struct {
  trace_queue_t *q;
  int id, n;
  uint64_t sum;
} retrier_t;

/* Pushes n items, retrying each refused push until it gets in. */
static void *retrying_producer(void *arg) {
  retrier_t *p = arg;
  for (int i = 0; i < p->n; i++) {
    trace_span_t *s = fake((uintptr_t)(p->id * 1000000 + i));
    while (!trace_queue_push(p->q, s)) sched_yield();
    p->sum += (uint64_t)(uintptr_t)s;
  }
  return NULL;
}

/* Producers and a consumer at once: every item pushed comes out once. */
static void test_queue_delivers_each_span_once(void) {
  enum { THREADS = 3, EACH = 5000 };
  trace_queue_t q;
  ASSERT_OK(trace_queue_init(&q, 256));
  _Atomic int left = 1;
  consumer_t c = {.q = &q, .producers_left = &left};
  pthread_t ct, t[THREADS];
  retrier_t p[THREADS];
  ASSERT_OK(pthread_create(&ct, NULL, consumer, &c));
  for (int i = 0; i < THREADS; i++) {
    p[i] = (retrier_t){.q = &q, .id = i + 1, .n = EACH};
    ASSERT_OK(pthread_create(&t[i], NULL, retrying_producer, &p[i]));
  }
  uint64_t sum = 0;
  for (int i = 0; i < THREADS; i++) {
    ASSERT_OK(pthread_join(t[i], NULL));
    sum += p[i].sum;
  }
  atomic_store(&left, 0);
  ASSERT_OK(pthread_join(ct, NULL));
  ASSERT_EQ_U64(c.popped, (uint64_t)THREADS * EACH);
  ASSERT_EQ_U64(c.sum, sum);
  trace_queue_free(&q);
}

/* ------------------------------------------------------------ encoding -- */

static json_t *attr_value(json_t *attrs, const char *key) {
  size_t i;
  json_t *a;
  json_array_foreach(attrs, i, a) {
    if (strcmp(json_string_value(json_object_get(a, "key")), key) == 0)
      return json_object_get(a, "value");
  }
  CHECK_FAIL("no attribute %s", key);
  return NULL;
}

static void test_json_encoding_field_by_field(void) {
  trace_ctx_t root_parent = {.valid = true, .flags = 1};
  ASSERT_OK(trace_traceparent_parse(TP_SAMPLED, &root_parent));
  memset(root_parent.span_id, 0, 8); /* a root */
  trace_span_t *a = trace_span_new("POST /v1/x \"q\"", TRACE_KIND_SERVER, &root_parent);
  trace_ctx_t actx = a->ctx;
  trace_span_t *b = trace_span_new("wal.fsync", TRACE_KIND_INTERNAL, &actx);
  a->start_unix_ns = 1700000000123456789ull;
  a->end_unix_ns = 1700000000223456789ull;
  trace_span_set_str(a, "http.route", "/v1/x");
  trace_span_set_str(a, "ctl", "tab\there\x01 bad\xff end");
  trace_span_set_int(a, "http.status_code", -9007199254740993ll);
  trace_span_set_double(a, "ratio", 0.25);
  trace_span_set_double(a, "nan", NAN);
  trace_span_set_bool(a, "ok", true);
  trace_span_set_status(a, TRACE_STATUS_ERROR, "disk \"full\"");
  static const char *const many[TRACE_ATTRS_MAX] = {"m0", "m1", "m2", "m3", "m4", "m5",
                                                    "m6", "m7", "m8", "m9", "m10"};
  for (int i = 0; i < 11; i++) trace_span_set_bool(b, many[i], false);
  for (int i = 0; i < 7; i++) trace_span_set_bool(b, "x", true), trace_span_set_bool(b, many[i], 1);
  b->dropped_attrs = 3;
  trace_span_set_status(b, TRACE_STATUS_OK, "ignored");

  trace_buf_t buf = {0};
  trace_resource_t res = {.service_name = "akidb-test", .service_version = "9.9.9",
                          .host_name = "h1"};
  trace_span_t *spans[] = {a, b};
  ASSERT_OK(trace_otlp_json(&buf, &res, spans, 2));
  json_error_t je;
  json_t *root = json_loads(buf.data, 0, &je);
  if (!root) CHECK_FAIL("not JSON (%s): %s", je.text, buf.data);
  json_t *rs = json_array_get(json_object_get(root, "resourceSpans"), 0);
  json_t *rattrs = json_object_get(json_object_get(rs, "resource"), "attributes");
  ASSERT_STR_EQ(json_string_value(json_object_get(attr_value(rattrs, "service.name"),
                                                  "stringValue")), "akidb-test");
  ASSERT_STR_EQ(json_string_value(json_object_get(attr_value(rattrs, "service.version"),
                                                  "stringValue")), "9.9.9");
  ASSERT_STR_EQ(json_string_value(json_object_get(attr_value(rattrs, "host.name"),
                                                  "stringValue")), "h1");
  json_t *ss = json_array_get(json_object_get(rs, "scopeSpans"), 0);
  ASSERT_STR_EQ(json_string_value(json_object_get(json_object_get(ss, "scope"), "name")), "akidb");
  ASSERT_STR_EQ(json_string_value(json_object_get(json_object_get(ss, "scope"), "version")),
                "9.9.9");
  json_t *arr = json_object_get(ss, "spans");
  ASSERT_EQ_INT(json_array_size(arr), 2);
  json_t *ja = json_array_get(arr, 0), *jb = json_array_get(arr, 1);

  char hex[33];
  ASSERT_STR_EQ(json_string_value(json_object_get(ja, "traceId")),
                "4bf92f3577b34da6a3ce929d0e0e4736");
  hex_of(a->ctx.span_id, 8, hex);
  ASSERT_STR_EQ(json_string_value(json_object_get(ja, "spanId")), hex);
  ASSERT_TRUE(json_object_get(ja, "parentSpanId") == NULL); /* a root */
  ASSERT_STR_EQ(json_string_value(json_object_get(jb, "parentSpanId")), hex);
  ASSERT_STR_EQ(json_string_value(json_object_get(ja, "name")), "POST /v1/x \"q\"");
  ASSERT_EQ_INT(json_integer_value(json_object_get(ja, "kind")), 2);
  ASSERT_EQ_INT(json_integer_value(json_object_get(jb, "kind")), 1);
  ASSERT_STR_EQ(json_string_value(json_object_get(ja, "startTimeUnixNano")),
                "1700000000123456789");
  ASSERT_STR_EQ(json_string_value(json_object_get(ja, "endTimeUnixNano")),
                "1700000000223456789");
  json_t *aa = json_object_get(ja, "attributes");
  ASSERT_EQ_INT(json_array_size(aa), 6);
  ASSERT_STR_EQ(json_string_value(json_object_get(attr_value(aa, "http.route"), "stringValue")),
                "/v1/x");
  ASSERT_STR_EQ(json_string_value(json_object_get(attr_value(aa, "ctl"), "stringValue")),
                "tab\there\x01 bad\xef\xbf\xbd end");
  ASSERT_STR_EQ(json_string_value(json_object_get(attr_value(aa, "http.status_code"),
                                                  "intValue")), "-9007199254740993");
  ASSERT_NEAR(json_real_value(json_object_get(attr_value(aa, "ratio"), "doubleValue")), 0.25, 0);
  ASSERT_STR_EQ(json_string_value(json_object_get(attr_value(aa, "nan"), "doubleValue")), "NaN");
  ASSERT_TRUE(json_is_true(json_object_get(attr_value(aa, "ok"), "boolValue")));
  json_t *st = json_object_get(ja, "status");
  ASSERT_EQ_INT(json_integer_value(json_object_get(st, "code")), 2);
  ASSERT_STR_EQ(json_string_value(json_object_get(st, "message")), "disk \"full\"");
  ASSERT_TRUE(json_object_get(ja, "droppedAttributesCount") == NULL);
  /* b: 12 attributes (m0..m10, x), 3 dropped, status OK without message */
  ASSERT_EQ_INT(json_array_size(json_object_get(jb, "attributes")), 12);
  ASSERT_EQ_INT(json_integer_value(json_object_get(jb, "droppedAttributesCount")), 3);
  json_t *stb = json_object_get(jb, "status");
  ASSERT_EQ_INT(json_integer_value(json_object_get(stb, "code")), 1);
  ASSERT_TRUE(json_object_get(stb, "message") == NULL);
  json_decref(root);

  /* an unset status is left out; no attributes is an empty array */
  trace_buf_reset(&buf);
  trace_span_t *c = trace_span_new("c", TRACE_KIND_CLIENT, &actx);
  ASSERT_OK(trace_otlp_json(&buf, &res, &c, 1));
  root = json_loads(buf.data, 0, &je);
  ASSERT_TRUE(root != NULL);
  json_t *jc = json_array_get(json_object_get(json_array_get(json_object_get(
      json_array_get(json_object_get(root, "resourceSpans"), 0), "scopeSpans"), 0), "spans"), 0);
  ASSERT_TRUE(json_object_get(jc, "status") == NULL);
  ASSERT_EQ_INT(json_array_size(json_object_get(jc, "attributes")), 0);
  ASSERT_EQ_INT(json_integer_value(json_object_get(jc, "kind")), 3);
  json_decref(root);
  trace_buf_free(&buf);
  free(a);
  free(b);
  free(c);
}

/* ------------------------------------------------------- configuration -- */

static void expect_invalid(const trace_config_t *c, const char *needle) {
  char err[512] = "";
  ASSERT_EQ_INT(trace_config_validate(c, err, sizeof err), AKIDB_EINVAL);
  ASSERT_STR_CONTAINS(err, needle);
  ASSERT_EQ_INT(trace_start(c, err, sizeof err), AKIDB_EINVAL);
}

static void test_config_is_checked_with_clear_messages(void) {
  trace_config_t c;
  trace_config_default(&c);
  char err[512] = "";
  ASSERT_OK(trace_config_validate(&c, err, sizeof err));
  ASSERT_OK(trace_start(&c, err, sizeof err)); /* disabled: nothing started */
  ASSERT_TRUE(!trace_enabled());
  c.enabled = true;
  const char *bad_endpoints[] = {"", "127.0.0.1:4318", "ftp://x", "http://", "http:///x",
                                 "http://a b", "http://x/?q=1", NULL};
  for (int i = 0; bad_endpoints[i]; i++) {
    trace_config_t d = c;
    d.endpoint = bad_endpoints[i];
    expect_invalid(&d, "tracing.endpoint");
  }
  trace_config_t d = c;
  d.sample_ratio = 1.5;
  expect_invalid(&d, "tracing.sample_ratio");
  d.sample_ratio = -0.1;
  expect_invalid(&d, "tracing.sample_ratio");
  d.sample_ratio = NAN;
  expect_invalid(&d, "tracing.sample_ratio");
  d = c;
  d.queue_capacity = 0;
  expect_invalid(&d, "tracing.queue_capacity");
  d = c;
  d.batch_max = 0;
  expect_invalid(&d, "tracing.batch_max");
  d = c;
  d.queue_capacity = 10;
  d.batch_max = 11;
  expect_invalid(&d, "must be at most tracing.queue_capacity");
  d = c;
  d.batch_delay_ms = 0;
  expect_invalid(&d, "tracing.batch_delay_ms");
  d = c;
  d.export_timeout_ms = 1;
  expect_invalid(&d, "tracing.export_timeout_ms");
  d = c;
  d.service_name = "";
  expect_invalid(&d, "tracing.service_name");
  d = c;
  d.endpoint = "https://collector.example:4318/";
  ASSERT_OK(trace_config_validate(&d, err, sizeof err));
  /* starting twice is refused */
  start_tracer(1.0);
  ASSERT_EQ_INT(trace_start(&d, err, sizeof err), AKIDB_EEXIST);
  trace_shutdown();
  trace_shutdown(); /* a second stop is a no-op */
}

static void test_enable_tracing_values(void) {
  char err[256];
  bool on = false;
  const char *yes[] = {"true", "1", "TRUE", "yes", "on"};
  for (int i = 0; i < 5; i++) {
    on = false;
    ASSERT_OK(trace_parse_enabled(yes[i], &on, err, sizeof err));
    ASSERT_TRUE(on);
  }
  ASSERT_OK(trace_parse_enabled("0", &on, err, sizeof err));
  ASSERT_TRUE(!on);
  on = true;
  ASSERT_OK(trace_parse_enabled("", &on, err, sizeof err)); /* unset: unchanged */
  ASSERT_TRUE(on);
  ASSERT_EQ_INT(trace_parse_enabled("maybe", &on, err, sizeof err), AKIDB_EINVAL);
  ASSERT_STR_CONTAINS(err, "ENABLE_TRACING");
}

CHECK_MAIN(CHECK_CASE(test_traceparent_parses_version_00),
           CHECK_CASE(test_traceparent_rejects_malformed),
           CHECK_CASE(test_traceparent_reads_later_versions),
           CHECK_CASE(test_traceparent_format_round_trips),
           CHECK_CASE(test_tracestate_is_checked),
           CHECK_CASE(test_random_ids_are_nonzero_and_distinct),
           CHECK_CASE(test_ratio_sampler_is_deterministic),
           CHECK_CASE(test_ratio_sampler_accuracy),
           CHECK_CASE(test_tracing_off_records_nothing),
           CHECK_CASE(test_unsampled_request_allocates_no_span),
           CHECK_CASE(test_request_follows_a_sampled_parent),
           CHECK_CASE(test_unsampled_parent_is_passed_on),
           CHECK_CASE(test_children_nest_through_the_thread_context),
           CHECK_CASE(test_context_hands_off_to_another_thread),
           CHECK_CASE(test_explicit_span_is_not_made_current),
           CHECK_CASE(test_attributes_are_bounded_and_cut_at_characters),
           CHECK_CASE(test_queue_refuses_at_once_when_full),
           CHECK_CASE(test_queue_concurrent_producers_fill_exactly),
           CHECK_CASE(test_queue_delivers_each_span_once),
           CHECK_CASE(test_json_encoding_field_by_field),
           CHECK_CASE(test_config_is_checked_with_clear_messages),
           CHECK_CASE(test_enable_tracing_values))
