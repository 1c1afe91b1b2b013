/*
 * exporter.c — owns the process's tracer: its configuration, the bounded
 * queue of finished spans, the counters, and the exporter thread that
 * sends them to {endpoint}/v1/traces as OTLP/HTTP JSON with libcurl.
 *
 * The exporter thread wakes when a batch is full (the producer that fills
 * it signals once per batch) or the batch delay has passed, takes up to
 * batch_max spans, encodes and POSTs them (timeout export_timeout_ms; a
 * refused connection, 429, 502, 503 or 504 is retried once after
 * RETRY_BACKOFF_MS unless shutting down) and frees them. A batch the
 * collector does not take is dropped and counted. Request threads never
 * wait for it: trace_export_span is a lock-free push that fails (counted)
 * when the queue is full; only the producer that fills a batch takes
 * `mu`, for a signal. Nothing but the configured URL is contacted:
 * redirects are not followed and proxies (also from the environment) are
 * not used.
 *
 * Locking: `start_mu` serialises trace_start and trace_shutdown. `mu`
 * guards `stopping`, `stop_deadline_ns` and the waits on `wake`; it is
 * never held during encoding or HTTP. `users` counts threads inside
 * trace_export_span: shutdown clears `accepting` and waits for it to reach
 * zero before the queue is drained and freed (both seq_cst, so a producer
 * sees `accepting` false or shutdown sees it counted). Counters are
 * relaxed atomics. Durability: none (spans are memory only).
 */
#include <curl/curl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/curl_global.h"
#include "akidb/akidb.h"
#include "akidb/errors.h"
#include "trace/trace_internal.h"
#include "util/thread.h"

#define RETRY_BACKOFF_MS 200 /* before the one retry of a batch */

typedef struct {
  /* read by request threads */
  _Atomic bool sampling;        /* new requests are sampled */
  _Atomic uint64_t ratio_bits;  /* the sample ratio's bits (a double) */
  _Atomic bool accepting;       /* trace_export_span may push */
  _Atomic int users;            /* threads inside trace_export_span */
  _Atomic bool kicked;          /* a full batch was signalled, not yet taken */
  trace_queue_t queue;
  uint32_t batch_max;
  /* the exporter's, fixed while it runs */
  trace_config_t cfg;           /* strings below */
  char *url;                    /* endpoint + "/v1/traces" */
  char *service_name;
  char host_name[256];
  pthread_t thread;
  bool running;                 /* start_mu */
  /* mu */
  pthread_mutex_t mu;
  pthread_cond_t wake;          /* CLOCK_MONOTONIC */
  bool stopping;
  uint64_t stop_deadline_ns;
  /* counters */
  _Atomic uint64_t started, exported, dropped_full, dropped_export, dropped_shutdown, batches,
      failures, retries;
} tracer_t;

static tracer_t g = {.mu = PTHREAD_MUTEX_INITIALIZER};
static pthread_mutex_t start_mu = PTHREAD_MUTEX_INITIALIZER;


static uint64_t mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void count(_Atomic uint64_t *c, uint64_t n) {
  atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

/* ------------------------------------------------- request-thread side -- */

bool trace_sampling(double *ratio) {
  if (!atomic_load_explicit(&g.sampling, memory_order_acquire)) return false;
  uint64_t bits = atomic_load_explicit(&g.ratio_bits, memory_order_relaxed);
  memcpy(ratio, &bits, sizeof *ratio);
  return true;
}

bool trace_enabled(void) { return atomic_load_explicit(&g.sampling, memory_order_relaxed); }

void trace_count_started(void) { count(&g.started, 1); }

/* Wakes the exporter for a full batch (once until it takes one). */
static void kick(void) {
  if (atomic_exchange_explicit(&g.kicked, true, memory_order_relaxed)) return;
  pthread_mutex_lock(&g.mu);
  pthread_cond_signal(&g.wake);
  pthread_mutex_unlock(&g.mu);
}

void trace_export_span(trace_span_t *s) {
  atomic_fetch_add(&g.users, 1);
  if (!atomic_load(&g.accepting)) {
    count(&g.dropped_shutdown, 1);
  } else if (!trace_queue_push(&g.queue, s)) {
    count(&g.dropped_full, 1);
  } else {
    if (trace_queue_depth(&g.queue) >= g.batch_max) kick();
    s = NULL;
  }
  atomic_fetch_sub(&g.users, 1);
  free(s);
}

void trace_stats(trace_stats_t *o) {
  o->spans_started = atomic_load_explicit(&g.started, memory_order_relaxed);
  o->spans_exported = atomic_load_explicit(&g.exported, memory_order_relaxed);
  o->dropped_queue_full = atomic_load_explicit(&g.dropped_full, memory_order_relaxed);
  o->dropped_export = atomic_load_explicit(&g.dropped_export, memory_order_relaxed);
  o->dropped_shutdown = atomic_load_explicit(&g.dropped_shutdown, memory_order_relaxed);
  o->spans_dropped = o->dropped_queue_full + o->dropped_export + o->dropped_shutdown;
  o->batches_exported = atomic_load_explicit(&g.batches, memory_order_relaxed);
  o->export_failures = atomic_load_explicit(&g.failures, memory_order_relaxed);
  o->export_retries = atomic_load_explicit(&g.retries, memory_order_relaxed);
  o->queue_depth = trace_queue_depth(&g.queue); /* positions only: safe at any time */
}

/* ---------------------------------------------------------------- HTTP -- */

typedef enum { POST_OK, POST_RETRY, POST_FAILED } post_result_t;

static size_t discard(char *d, size_t s, size_t n, void *ud) {
  (void)d, (void)ud;
  return s * n;
}

/* Sets the options of one POST of `body` on handle h. */
static void post_setup(CURL *h, const trace_buf_t *body, struct curl_slist *headers,
                       uint32_t timeout_ms) {
  curl_easy_setopt(h, CURLOPT_URL, g.url);
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(h, CURLOPT_PROXY, "");
  curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
  curl_easy_setopt(h, CURLOPT_POST, 1L);
  curl_easy_setopt(h, CURLOPT_POSTFIELDS, body->data);
  curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body->len);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout_ms);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
}

/* One POST: ok (2xx), worth one retry, or failed. */
static post_result_t post(CURL *h, const trace_buf_t *body, struct curl_slist *headers,
                          uint32_t timeout_ms) {
  post_setup(h, body, headers, timeout_ms);
  CURLcode cc = curl_easy_perform(h);
  if (cc == CURLE_COULDNT_CONNECT) return POST_RETRY;
  if (cc != CURLE_OK) return POST_FAILED; /* a timeout is not retried: it took its time */
  long status = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  if (status >= 200 && status < 300) return POST_OK;
  if (status == 429 || status == 502 || status == 503 || status == 504) return POST_RETRY;
  return POST_FAILED;
}

/* Waits up to ms unless shutdown starts; true when the wait ran out. */
static bool backoff(uint32_t ms) {
  uint64_t until = mono_ns() + (uint64_t)ms * 1000000u;
  struct timespec ts = {.tv_sec = (time_t)(until / 1000000000u),
                        .tv_nsec = (long)(until % 1000000000u)};
  pthread_mutex_lock(&g.mu);
  while (!g.stopping && mono_ns() < until) pthread_cond_timedwait(&g.wake, &g.mu, &ts);
  bool ok = !g.stopping;
  pthread_mutex_unlock(&g.mu);
  return ok;
}

/* ------------------------------------------------------------ exporter -- */

typedef struct {
  CURL *h;
  struct curl_slist *headers;
  trace_buf_t body;
  trace_span_t **batch;
  trace_resource_t res;
} exporter_t;

/* Encodes and sends spans[0..n), counts the outcome, frees the spans. */
static void export_batch(exporter_t *x, size_t n, uint32_t timeout_ms, bool may_retry) {
  trace_buf_reset(&x->body);
  post_result_t r = POST_FAILED;
  if (x->h && trace_otlp_json(&x->body, &x->res, x->batch, n) == AKIDB_OK) {
    r = post(x->h, &x->body, x->headers, timeout_ms);
    if (r == POST_RETRY && may_retry && backoff(RETRY_BACKOFF_MS)) {
      count(&g.retries, 1);
      r = post(x->h, &x->body, x->headers, timeout_ms);
    }
  }
  if (r == POST_OK) {
    count(&g.exported, n);
    count(&g.batches, 1);
  } else {
    count(&g.dropped_export, n);
    count(&g.failures, 1);
  }
  for (size_t i = 0; i < n; i++) free(x->batch[i]);
}

/* Takes up to batch_max spans from the queue into x->batch. */
static size_t take_batch(exporter_t *x) {
  size_t n = 0;
  while (n < g.batch_max && (x->batch[n] = trace_queue_pop(&g.queue)) != NULL) n++;
  atomic_store_explicit(&g.kicked, false, memory_order_relaxed);
  return n;
}

/* Waits until a batch is full, `due_ns` passes or shutdown starts;
 * returns whether shutdown started. */
static bool wait_for_work(uint64_t due_ns) {
  struct timespec ts = {.tv_sec = (time_t)(due_ns / 1000000000u),
                        .tv_nsec = (long)(due_ns % 1000000000u)};
  pthread_mutex_lock(&g.mu);
  while (!g.stopping && trace_queue_depth(&g.queue) < g.batch_max && mono_ns() < due_ns)
    pthread_cond_timedwait(&g.wake, &g.mu, &ts);
  bool stopping = g.stopping;
  pthread_mutex_unlock(&g.mu);
  return stopping;
}

/* At shutdown: sends what is queued until the deadline, drops the rest. */
static void flush(exporter_t *x) {
  pthread_mutex_lock(&g.mu);
  uint64_t deadline = g.stop_deadline_ns;
  pthread_mutex_unlock(&g.mu);
  size_t n;
  while ((n = take_batch(x)) > 0) {
    uint64_t now = mono_ns();
    uint64_t left_ms = now < deadline ? (deadline - now) / 1000000u : 0;
    if (left_ms < TRACE_EXPORT_TIMEOUT_MS_MIN) {
      count(&g.dropped_shutdown, n);
      for (size_t i = 0; i < n; i++) free(x->batch[i]);
      continue;
    }
    uint32_t t = left_ms < g.cfg.export_timeout_ms ? (uint32_t)left_ms : g.cfg.export_timeout_ms;
    export_batch(x, n, t, false);
  }
}

static void *exporter_main(void *arg) {
  exporter_t *x = arg;
  util_thread_name("trace-export");
  uint64_t delay_ns = (uint64_t)g.cfg.batch_delay_ms * 1000000u;
  uint64_t due = mono_ns() + delay_ns;
  while (!wait_for_work(due)) {
    size_t n = take_batch(x);
    if (n) export_batch(x, n, g.cfg.export_timeout_ms, true);
    if (trace_queue_depth(&g.queue) < g.batch_max) due = mono_ns() + delay_ns;
  }
  flush(x);
  return NULL;
}

/* ------------------------------------------------------- start / stop -- */

static exporter_t exporter; /* the exporter thread's state (start_mu around its life) */

/* The thread's HTTP handle, headers, batch and resource. */
static int exporter_init(exporter_t *x, char *err, size_t errlen) {
  memset(x, 0, sizeof *x);
  x->batch = calloc(g.batch_max, sizeof *x->batch);
  x->h = curl_easy_init();
  struct curl_slist *h1 = curl_slist_append(NULL, "Content-Type: application/json");
  struct curl_slist *h2 = h1 ? curl_slist_append(h1, "Expect:") : NULL;
  x->headers = h2 ? h2 : h1;
  if (!x->batch || !x->h || !h2) {
    snprintf(err, errlen, "tracing: out of memory preparing the exporter");
    return AKIDB_ENOMEM;
  }
  x->res.service_name = g.service_name;
  x->res.service_version = AKIDB_VERSION_STRING;
  x->res.host_name = g.host_name[0] ? g.host_name : NULL;
  return AKIDB_OK;
}

static void exporter_free(exporter_t *x) {
  if (x->h) curl_easy_cleanup(x->h);
  curl_slist_free_all(x->headers);
  trace_buf_free(&x->body);
  free(x->batch);
  memset(x, 0, sizeof *x);
}

/* "<endpoint without trailing '/'>/v1/traces". */
static char *traces_url(const char *endpoint) {
  size_t n = strlen(endpoint);
  while (n > 0 && endpoint[n - 1] == '/') n--;
  char *u = malloc(n + sizeof "/v1/traces");
  if (u) snprintf(u, n + sizeof "/v1/traces", "%.*s/v1/traces", (int)n, endpoint);
  return u;
}

static void reset_counters(void) {
  _Atomic uint64_t *cs[] = {&g.started, &g.exported, &g.dropped_full, &g.dropped_export,
                            &g.dropped_shutdown, &g.batches, &g.failures, &g.retries};
  for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++) atomic_store(cs[i], 0);
}

/* Frees what start allocated (the thread is not running). */
static void release(void) {
  exporter_free(&exporter);
  trace_queue_free(&g.queue);
  free(g.url);
  free(g.service_name);
  g.url = g.service_name = NULL;
}

/* Allocates the queue, strings and exporter state; starts the thread. */
static int start_locked(const trace_config_t *c, char *err, size_t errlen) {
  CURLcode curl_init_rc = util_curl_global_init();
  if (curl_init_rc != CURLE_OK) {
    snprintf(err, errlen, "tracing: libcurl could not start: %s", curl_easy_strerror(curl_init_rc));
    return AKIDB_EIO;
  }
  g.cfg = *c;
  g.batch_max = c->batch_max;
  g.url = traces_url(c->endpoint);
  g.service_name = strdup(c->service_name);
  if (gethostname(g.host_name, sizeof g.host_name - 1) != 0) g.host_name[0] = '\0';
  int rc = g.url && g.service_name ? trace_queue_init(&g.queue, c->queue_capacity) : AKIDB_ENOMEM;
  if (rc) snprintf(err, errlen, "tracing: out of memory for a queue of %u spans", c->queue_capacity);
  if (!rc) rc = exporter_init(&exporter, err, errlen);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&g.wake, &ca);
  pthread_condattr_destroy(&ca);
  g.stopping = false;
  if (!rc && pthread_create(&g.thread, NULL, exporter_main, &exporter) != 0) {
    snprintf(err, errlen, "tracing: cannot start the exporter thread");
    rc = AKIDB_ENOMEM;
  }
  if (rc) {
    pthread_cond_destroy(&g.wake);
    release();
  }
  return rc;
}

int trace_start(const trace_config_t *c, char *err, size_t errlen) {
  int rc = trace_config_validate(c, err, errlen);
  if (rc || !c->enabled) return rc;
  pthread_mutex_lock(&start_mu);
  if (g.running) {
    pthread_mutex_unlock(&start_mu);
    snprintf(err, errlen, "tracing: already started");
    return AKIDB_EEXIST;
  }
  reset_counters();
  atomic_store(&g.kicked, false);
  rc = start_locked(c, err, errlen);
  if (!rc) {
    uint64_t bits;
    memcpy(&bits, &c->sample_ratio, sizeof bits);
    atomic_store_explicit(&g.ratio_bits, bits, memory_order_relaxed);
    g.running = true;
    atomic_store(&g.accepting, true);
    atomic_store_explicit(&g.sampling, true, memory_order_release);
  }
  pthread_mutex_unlock(&start_mu);
  return rc;
}

void trace_shutdown(void) {
  pthread_mutex_lock(&start_mu);
  if (!g.running) {
    pthread_mutex_unlock(&start_mu);
    return;
  }
  atomic_store(&g.sampling, false);
  atomic_store(&g.accepting, false);
  while (atomic_load(&g.users) != 0) sched_yield(); /* pushes in progress finish */
  pthread_mutex_lock(&g.mu);
  g.stop_deadline_ns = mono_ns() + (uint64_t)g.cfg.shutdown_timeout_ms * 1000000u;
  g.stopping = true;
  pthread_cond_broadcast(&g.wake);
  pthread_mutex_unlock(&g.mu);
  pthread_join(g.thread, NULL);
  trace_span_t *s;
  while ((s = trace_queue_pop(&g.queue)) != NULL) { /* none expected: flush took all */
    count(&g.dropped_shutdown, 1);
    free(s);
  }
  pthread_cond_destroy(&g.wake);
  release();
  g.running = false;
  pthread_mutex_unlock(&start_mu);
}
