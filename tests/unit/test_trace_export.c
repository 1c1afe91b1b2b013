/*
 * test_trace_export.c — the tracer against a stand-in OTLP/HTTP receiver
 * (tests/integration/otlp_standin.py, Debian's /usr/bin/python3) started by
 * this test on a free loopback port and killed (SIGKILL to its process
 * group) at exit: what arrives at /v1/traces (names, kinds, parentage,
 * attributes, the client's trace id, the traceparent an outgoing call
 * sends), batching by size and the flush at shutdown, one retry on 503, no
 * retry on 400, and a dead or stalled collector: recording spans returns
 * at once, drops and failures are counted, shutdown takes bounded time.
 *
 * Exits 77 (ctest: skipped) when /usr/bin/python3 is missing.
 */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "akidb/errors.h"
#include "check.h"
#include "standin.h"
#include "tmpdir.h"
#include "trace/trace.h"
#include "trace/trace_internal.h"

#ifndef AKIDB_SOURCE_DIR
#error "AKIDB_SOURCE_DIR must be defined by the build"
#endif

#define TP_CLIENT "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
#define CLIENT_TRACE "4bf92f3577b34da6a3ce929d0e0e4736"
#define CLIENT_SPAN "00f067aa0ba902b7"

static char endpoint[64];

static double now_s(void) { return standin_now_s(); }

/* ------------------------------------------------------- the stand-in -- */

/* Starts the stand-in OTLP receiver (standin.h); sets endpoint. */
static void start_receiver(void) {
  standin_start("otlp_standin.py");
  snprintf(endpoint, sizeof endpoint, "http://127.0.0.1:%d", standin_port);
}

static void control(const char *cmd) { standin_control(cmd); }
static void reset(void) { standin_reset(); }

static size_t received_requests(void) {
  json_t *r = standin_call("/control/requests", NULL);
  size_t n = (size_t)json_integer_value(json_object_get(r, "count"));
  json_decref(r);
  return n;
}

/* ----------------------------------------------------------- helpers -- */

static void start(const char *ep, uint32_t queue, uint32_t batch, uint32_t delay_ms,
                  uint32_t timeout_ms, uint32_t shutdown_ms) {
  trace_config_t c;
  trace_config_default(&c);
  c.enabled = true;
  c.endpoint = ep;
  c.service_name = "akidb-test";
  c.queue_capacity = queue;
  c.batch_max = batch;
  c.batch_delay_ms = delay_ms;
  c.export_timeout_ms = timeout_ms;
  c.shutdown_timeout_ms = shutdown_ms;
  char err[256] = "";
  int rc = trace_start(&c, err, sizeof err);
  if (rc) CHECK_FAIL("trace_start: %d %s", rc, err);
}

/* One sampled request with no children. */
static void one_request(const char *name) {
  trace_request_t r;
  trace_request_begin(&r, name, NULL, NULL);
  trace_request_end(&r);
}

/* The span named `name` among the stand-in's spans. */
static json_t *span_named(json_t *spans, const char *name) {
  size_t i;
  json_t *s;
  json_array_foreach(spans, i, s) {
    if (strcmp(json_string_value(json_object_get(s, "name")), name) == 0) return s;
  }
  CHECK_FAIL("no span named \"%s\" arrived", name);
  return NULL;
}

static const char *str_of(json_t *o, const char *key) {
  return json_string_value(json_object_get(o, key));
}

/* The value object of attribute `key` of span s. */
static json_t *attr(json_t *s, const char *key) {
  size_t i;
  json_t *a;
  json_array_foreach(json_object_get(s, "attributes"), i, a) {
    if (strcmp(str_of(a, "key"), key) == 0) return json_object_get(a, "value");
  }
  CHECK_FAIL("span %s has no attribute %s", str_of(s, "name"), key);
  return NULL;
}

/* A loopback port nothing listens on (bound, then closed). */
static int closed_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof a;
  ASSERT_OK(bind(fd, (struct sockaddr *)&a, sizeof a));
  ASSERT_OK(getsockname(fd, (struct sockaddr *)&a, &len));
  close(fd);
  return ntohs(a.sin_port);
}

static void check_accounting(void) {
  trace_stats_t st;
  trace_stats(&st);
  fprintf(stderr,
          "     started %" PRIu64 " exported %" PRIu64 " dropped %" PRIu64 " (queue full %" PRIu64
          ", export %" PRIu64 ", shutdown %" PRIu64 ") batches %" PRIu64 " failures %" PRIu64
          " retries %" PRIu64 "\n",
          st.spans_started, st.spans_exported, st.spans_dropped, st.dropped_queue_full,
          st.dropped_export, st.dropped_shutdown, st.batches_exported, st.export_failures,
          st.export_retries);
  ASSERT_EQ_U64(st.spans_started, st.spans_exported + st.spans_dropped);
  ASSERT_EQ_U64(st.spans_dropped, st.dropped_queue_full + st.dropped_export + st.dropped_shutdown);
  ASSERT_EQ_U64(st.queue_depth, 0);
}

/* ---------------------------------------------- a request, end to end -- */

typedef struct {
  trace_ctx_t handed;
  char outgoing[TRACE_TRACEPARENT_SIZE];
  char outgoing_state[TRACE_TRACESTATE_MAX + 1];
} search_job_t;

/* A pool thread running the request's search, which calls an embedding
 * provider (a CLIENT span) and notes the traceparent it would send. */
static void *search_job(void *arg) {
  search_job_t *j = arg;
  trace_saved_t saved;
  trace_attach(&j->handed, &saved);
  trace_span_t *s = trace_child_begin("search");
  trace_span_set_int(s, "akidb.k", 10);
  trace_span_set_double(s, "akidb.recall_target", 0.95);
  trace_span_set_bool(s, "akidb.exact", false);
  trace_span_t *e = trace_client_begin("embed.call");
  trace_span_set_str(e, "server.address", "127.0.0.1");
  if (!trace_current_traceparent(j->outgoing)) j->outgoing[0] = '\0';
  const char *ts = trace_current_tracestate();
  snprintf(j->outgoing_state, sizeof j->outgoing_state, "%s", ts ? ts : "");
  usleep(2000);
  trace_span_end(e);
  trace_span_end(s);
  trace_detach(&saved);
  return NULL;
}

static void test_export_names_parentage_attributes_and_propagation(void) {
  reset();
  start(endpoint, 64, 32, 50, 5000, 5000);
  trace_request_t r;
  trace_request_begin(&r, "POST /v1/search", TP_CLIENT, "rojo=00f067aa0ba902b7");
  trace_saved_t saved;
  trace_attach(&r.ctx, &saved);
  trace_span_set_name(r.span, "POST /v1/databases/{database}/collections/{collection}/search");
  trace_span_set_str(r.span, "http.request.method", "POST");
  trace_span_t *auth = trace_child_begin("auth");
  trace_span_set_str(auth, "akidb.tenant", "acme");
  trace_span_end(auth);
  trace_span_t *cat = trace_child_begin("catalog");
  trace_span_set_status(cat, TRACE_STATUS_ERROR, "collection not loaded");
  trace_span_end(cat);
  search_job_t job = {.handed = trace_current()};
  pthread_t t;
  ASSERT_OK(pthread_create(&t, NULL, search_job, &job));
  ASSERT_OK(pthread_join(t, NULL));
  trace_span_set_int(r.span, "http.response.status_code", 200);
  trace_detach(&saved);
  trace_request_end(&r);
  double t0 = now_s();
  trace_shutdown(); /* flushes */
  ASSERT_LE(now_s() - t0, 5.0);
  trace_stats_t st;
  trace_stats(&st);
  ASSERT_EQ_U64(st.spans_started, 5);
  ASSERT_EQ_U64(st.spans_exported, 5);
  ASSERT_EQ_U64(st.spans_dropped, 0);
  check_accounting();

  json_t *reqs = standin_call("/control/requests", NULL);
  json_t *req0 = json_array_get(json_object_get(reqs, "requests"), 0);
  ASSERT_STR_EQ(str_of(req0, "path"), "/v1/traces");
  ASSERT_STR_EQ(str_of(json_object_get(req0, "headers"), "content-type"), "application/json");
  json_decref(reqs);

  json_t *all = standin_call("/control/spans", NULL);
  json_t *spans = json_object_get(all, "spans");
  ASSERT_EQ_INT(json_array_size(spans), 5);
  json_t *srv = span_named(spans, "POST /v1/databases/{database}/collections/{collection}/search");
  json_t *ja = span_named(spans, "auth"), *jc = span_named(spans, "catalog");
  json_t *js = span_named(spans, "search"), *je = span_named(spans, "embed.call");
  /* one trace: the client's */
  size_t i;
  json_t *s;
  json_array_foreach(spans, i, s) {
    ASSERT_STR_EQ(str_of(s, "traceId"), CLIENT_TRACE);
    ASSERT_STR_EQ(str_of(json_object_get(s, "resource"), "service.name"), "akidb-test");
    ASSERT_STR_EQ(str_of(json_object_get(s, "scope"), "name"), "akidb");
    ASSERT_EQ_INT(strlen(str_of(s, "spanId")), 16);
    uint64_t t_start = strtoull(str_of(s, "startTimeUnixNano"), NULL, 10);
    uint64_t t_end = strtoull(str_of(s, "endTimeUnixNano"), NULL, 10);
    ASSERT_TRUE(t_end >= t_start);
    ASSERT_NEAR((double)t_start * 1e-9, (double)time(NULL), 60.0);
  }
  /* parentage: client → server → auth, catalog, search → embed.call */
  ASSERT_STR_EQ(str_of(srv, "parentSpanId"), CLIENT_SPAN);
  ASSERT_STR_EQ(str_of(ja, "parentSpanId"), str_of(srv, "spanId"));
  ASSERT_STR_EQ(str_of(jc, "parentSpanId"), str_of(srv, "spanId"));
  ASSERT_STR_EQ(str_of(js, "parentSpanId"), str_of(srv, "spanId"));
  ASSERT_STR_EQ(str_of(je, "parentSpanId"), str_of(js, "spanId"));
  /* kinds */
  ASSERT_EQ_INT(json_integer_value(json_object_get(srv, "kind")), 2);
  ASSERT_EQ_INT(json_integer_value(json_object_get(ja, "kind")), 1);
  ASSERT_EQ_INT(json_integer_value(json_object_get(je, "kind")), 3);
  /* attributes and status */
  ASSERT_STR_EQ(str_of(attr(srv, "http.request.method"), "stringValue"), "POST");
  ASSERT_STR_EQ(str_of(attr(srv, "http.response.status_code"), "intValue"), "200");
  ASSERT_STR_EQ(str_of(attr(ja, "akidb.tenant"), "stringValue"), "acme");
  ASSERT_STR_EQ(str_of(attr(js, "akidb.k"), "intValue"), "10");
  ASSERT_NEAR(json_real_value(json_object_get(attr(js, "akidb.recall_target"), "doubleValue")),
              0.95, 1e-12);
  ASSERT_TRUE(json_is_false(json_object_get(attr(js, "akidb.exact"), "boolValue")));
  ASSERT_STR_EQ(str_of(attr(je, "server.address"), "stringValue"), "127.0.0.1");
  json_t *st_c = json_object_get(jc, "status");
  ASSERT_EQ_INT(json_integer_value(json_object_get(st_c, "code")), 2);
  ASSERT_STR_EQ(str_of(st_c, "message"), "collection not loaded");
  ASSERT_TRUE(json_object_get(srv, "status") == NULL);
  /* the embedding call names embed.call as its parent, in the client's trace */
  char want[TRACE_TRACEPARENT_SIZE];
  snprintf(want, sizeof want, "00-%s-%s-01", CLIENT_TRACE, str_of(je, "spanId"));
  ASSERT_STR_EQ(job.outgoing, want);
  ASSERT_STR_EQ(job.outgoing_state, "rojo=00f067aa0ba902b7");
  /* the search took at least its 2 ms */
  uint64_t e0 = strtoull(str_of(je, "startTimeUnixNano"), NULL, 10);
  uint64_t e1 = strtoull(str_of(je, "endTimeUnixNano"), NULL, 10);
  ASSERT_GE((double)(e1 - e0), 2e6);
  json_decref(all);
}

/* -------------------------------------------------------------- batching -- */

/* Full batches leave without waiting for the delay; shutdown sends the
 * partial one. */
static void test_export_sends_full_batches_and_flushes_at_shutdown(void) {
  reset();
  start(endpoint, 100, 10, 600000, 5000, 5000);
  for (int i = 0; i < 25; i++) one_request("GET /health");
  double t0 = now_s();
  while (received_requests() < 2 && now_s() - t0 < 10.0) usleep(20000);
  ASSERT_EQ_INT(received_requests(), 2);
  trace_stats_t st;
  trace_stats(&st);
  ASSERT_EQ_U64(st.spans_exported, 20);
  ASSERT_EQ_U64(st.queue_depth, 5);
  trace_shutdown();
  ASSERT_EQ_INT(received_requests(), 3);
  json_t *all = standin_call("/control/spans", NULL);
  ASSERT_EQ_INT(json_integer_value(json_object_get(all, "count")), 25);
  json_decref(all);
  trace_stats(&st);
  ASSERT_EQ_U64(st.spans_exported, 25);
  ASSERT_EQ_U64(st.batches_exported, 3);
  check_accounting();
}

static void test_export_retries_once_on_503(void) {
  reset();
  control("{\"fail\": 503, \"times\": 1}");
  start(endpoint, 100, 50, 20, 5000, 5000);
  for (int i = 0; i < 3; i++) one_request("GET /ready");
  double t0 = now_s();
  while (received_requests() < 1 && now_s() - t0 < 10.0) usleep(20000);
  trace_shutdown();
  trace_stats_t st;
  trace_stats(&st);
  ASSERT_EQ_U64(st.export_retries, 1);
  ASSERT_EQ_U64(st.export_failures, 0);
  ASSERT_EQ_U64(st.spans_exported, 3);
  ASSERT_EQ_INT(received_requests(), 1);
  check_accounting();
}

static void test_rejected_batch_is_dropped_not_retried(void) {
  reset();
  control("{\"fail\": 400, \"times\": 1}");
  start(endpoint, 100, 50, 20, 5000, 5000);
  for (int i = 0; i < 4; i++) one_request("GET /ready");
  double t0 = now_s();
  trace_stats_t st;
  do {
    usleep(20000);
    trace_stats(&st);
  } while (st.export_failures == 0 && now_s() - t0 < 10.0);
  trace_shutdown();
  trace_stats(&st);
  ASSERT_EQ_U64(st.export_failures, 1);
  ASSERT_EQ_U64(st.export_retries, 0);
  ASSERT_EQ_U64(st.dropped_export, 4);
  ASSERT_EQ_INT(received_requests(), 0);
  check_accounting();
}

/* ------------------------------------------------- dead and slow collectors -- */

/* Records `n` requests of three spans each; returns the longest single
 * request (begin to end) in seconds; *total gets the whole loop's time. */
static double record_requests(int n, double *total) {
  double worst = 0, t0 = now_s();
  for (int i = 0; i < n; i++) {
    double a = now_s();
    trace_request_t r;
    trace_request_begin(&r, "POST /v1/points", NULL, NULL);
    trace_saved_t saved;
    trace_attach(&r.ctx, &saved);
    trace_span_t *w = trace_child_begin("wal.append");
    trace_span_end(trace_child_begin("wal.fsync"));
    trace_span_end(w);
    trace_detach(&saved);
    trace_request_end(&r);
    double d = now_s() - a;
    if (d > worst) worst = d;
  }
  *total = now_s() - t0;
  return worst;
}

static void test_dead_collector_changes_nothing_for_requests(void) {
  char dead[64];
  snprintf(dead, sizeof dead, "http://127.0.0.1:%d", closed_port());
  start(dead, 64, 16, 5, 1000, 500);
  double total, worst = record_requests(5000, &total);
  /* 15,000 spans recorded while every export fails: no request waited */
  ASSERT_LE(total, 5.0);
  ASSERT_LE(worst, 1.0);
  double t0 = now_s();
  trace_shutdown();
  ASSERT_LE(now_s() - t0, 3.0);
  trace_stats_t st;
  trace_stats(&st);
  ASSERT_EQ_U64(st.spans_started, 15000);
  ASSERT_EQ_U64(st.spans_exported, 0);
  ASSERT_GE(st.export_failures, 1);
  ASSERT_GE(st.dropped_queue_full, 1);
  check_accounting();
}

/* A collector that accepts connections but does not answer for 3 s: each
 * export times out after 300 ms; requests never notice. */
static void test_stalled_collector_never_slows_requests(void) {
  reset();
  control("{\"stall_ms\": 3000}");
  start(endpoint, 32, 8, 5, 300, 400);
  double total, worst = record_requests(3000, &total);
  ASSERT_LE(total, 5.0);
  ASSERT_LE(worst, 1.0);
  /* let at least one export time out */
  double t0 = now_s();
  trace_stats_t st;
  do {
    usleep(20000);
    trace_stats(&st);
  } while (st.export_failures == 0 && now_s() - t0 < 10.0);
  ASSERT_GE(st.export_failures, 1);
  t0 = now_s();
  trace_shutdown(); /* the flush gives up after 400 ms */
  ASSERT_LE(now_s() - t0, 2.5);
  trace_stats(&st);
  ASSERT_EQ_U64(st.spans_started, 9000);
  ASSERT_EQ_U64(st.spans_exported, 0);
  ASSERT_GE(st.dropped_queue_full, 1);
  check_accounting();
  control("{\"stall_ms\": 0}");
}

int main(int argc, char **argv) {
  signal(SIGINT, standin_on_signal);
  signal(SIGTERM, standin_on_signal);
  atexit(standin_kill);
  curl_global_init(CURL_GLOBAL_DEFAULT);
  start_receiver();
  static const check_case_t cases[] = {
      CHECK_CASE(test_export_names_parentage_attributes_and_propagation),
      CHECK_CASE(test_export_sends_full_batches_and_flushes_at_shutdown),
      CHECK_CASE(test_export_retries_once_on_503),
      CHECK_CASE(test_rejected_batch_is_dropped_not_retried),
      CHECK_CASE(test_dead_collector_changes_nothing_for_requests),
      CHECK_CASE(test_stalled_collector_never_slows_requests),
  };
  int rc = check_main(argc, argv, cases, sizeof cases / sizeof cases[0]);
  standin_kill();
  curl_global_cleanup();
  return rc;
}
