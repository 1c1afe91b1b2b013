/*
 * test_embed_openai.c — the embedding provider layer and the
 * OpenAI-compatible provider against the stand-in model server
 * (tests/integration/embed_standin.py, Debian's /usr/bin/python3), started
 * by this test on a free loopback port and killed (SIGKILL to its process
 * group) at exit, on failure and on signals; every wait is bounded.
 *
 * Checks: vectors equal the stand-in's documented SHA-256 formula (so the
 * request body's escaping is right); batching by count and by bytes;
 * concurrency bounded per embedder across threads; every failure mode's
 * retry count (read from the stand-in's request log) and message;
 * Retry-After honoured (seconds and HTTP date); all-or-nothing output; the
 * breaker's open → fail fast → half-open → closed cycle; the key sent as
 * Bearer and absent from every message and from describe; traceparent
 * forwarded; configuration messages; the builtin vtable slot; the stats.
 *
 * Exits 77 (ctest: skipped) when /usr/bin/python3 is missing.
 */
#include <curl/curl.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <netinet/in.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "akidb/embed.h"
#include "check.h"
#include "embed/embed_internal.h"
#include "standin.h"
#include "tmpdir.h"
#include "util/clock.h"

#ifndef AKIDB_SOURCE_DIR
#error "AKIDB_SOURCE_DIR must be defined by the build"
#endif

#define KEY_ENV "AKIDB_TEST_EMBED_KEY"
#define KEY "sk-test-Secret-0123456789abcdef"
#define TRACEPARENT "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

static char base_url[64];

/* ------------------------------------------------------ the stand-in -- */

/* Starts the stand-in model server (standin.h); sets base_url. */
static void start_model_server(void) {
  standin_start("embed_standin.py");
  snprintf(base_url, sizeof base_url, "http://127.0.0.1:%d/v1", standin_port);
}

static void control(const char *cmd) { standin_control(cmd); }
static void reset(void) { standin_reset(); }

/* The stand-in's request log. */
static json_t *requests(void) { return standin_call("/control/requests", NULL); }

static size_t request_count(void) {
  json_t *r = requests();
  size_t n = (size_t)json_integer_value(json_object_get(r, "count"));
  json_decref(r);
  return n;
}

/* A header of logged request k (lower-case name), or NULL. */
static const char *logged_header(json_t *log, size_t k, const char *name) {
  json_t *req = json_array_get(json_object_get(log, "requests"), k);
  return json_string_value(json_object_get(json_object_get(req, "headers"), name));
}

static double logged_time(json_t *log, size_t k, const char *which) {
  json_t *req = json_array_get(json_object_get(log, "requests"), k);
  return json_real_value(json_object_get(req, which));
}

/* --------------------------------------------------------- expected -- */

/* The stand-in's vector component i of text t (its docstring's formula). */
static float expected_component(const char *t, size_t len, uint32_t i) {
  unsigned char in[4096 + 4], md[SHA256_DIGEST_LENGTH];
  ASSERT_TRUE(len <= 4096);
  memcpy(in, t, len);
  uint32_t block = i / 8;
  in[len] = (unsigned char)(block >> 24);
  in[len + 1] = (unsigned char)(block >> 16);
  in[len + 2] = (unsigned char)(block >> 8);
  in[len + 3] = (unsigned char)block;
  SHA256(in, len + 4, md);
  const unsigned char *p = md + 4 * (i % 8);
  uint32_t u = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
  return (float)((double)u / 2147483648.0 - 1.0);
}

static void assert_rows(const char *const *texts, const size_t *lens, size_t n, uint32_t dim,
                        const float *out) {
  for (size_t i = 0; i < n; i++)
    for (uint32_t d = 0; d < dim; d++) {
      float want = expected_component(texts[i], lens[i], d);
      if (out[i * dim + d] != want)
        CHECK_FAIL("row %zu component %u: %.9g != %.9g", i, d, out[i * dim + d], want);
    }
}

/* ----------------------------------------------------------- helpers -- */

/* "standin-<dim>": the stand-in answers that many dimensions (a ring of
 * names, so several configurations may live at once). */
static const char *model_for(uint32_t dim) {
  static char names[8][32];
  static unsigned next;
  char *n = names[next++ % 8];
  snprintf(n, sizeof names[0], "standin-%u", dim);
  return n;
}

static akidb_embed_config_t config(uint32_t dim) {
  akidb_embed_config_t c;
  akidb_embed_config_default(&c);
  c.provider = AKIDB_EMBED_OPENAI;
  c.model = model_for(dim);
  c.base_url = base_url;
  c.dimension = dim;
  c.backoff_base_ms = 5;
  c.backoff_max_ms = 20;
  c.breaker_threshold = 1000; /* tests of other things never open it */
  c.timeout_ms = 5000;
  return c;
}

static akidb_embedder_t *make(const akidb_embed_config_t *c) {
  akidb_embedder_t *e = NULL;
  char err[512] = "";
  int rc = akidb_embed_create(c, &e, err, sizeof err);
  if (rc) CHECK_FAIL("akidb_embed_create: %d %s", rc, err);
  return e;
}

/* n texts "text <i> <tag>" in static storage. */
#define MAXN 64
static char text_store[MAXN][64];
static const char *texts[MAXN];
static size_t lens[MAXN];

static void make_texts(size_t n, const char *tag) {
  ASSERT_TRUE(n <= MAXN);
  for (size_t i = 0; i < n; i++) {
    snprintf(text_store[i], sizeof text_store[i], "text %zu %s", i, tag);
    texts[i] = text_store[i];
    lens[i] = strlen(text_store[i]);
  }
}

#define SENTINEL 12345.0f

static void fill_sentinel(float *out, size_t n) {
  for (size_t i = 0; i < n; i++) out[i] = SENTINEL;
}

static void assert_untouched(const float *out, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (out[i] != SENTINEL) CHECK_FAIL("out[%zu] was written (%g) by a failed call", i, out[i]);
}

/* Runs a call expected to fail: code, message part, no output. */
static void expect_failure(akidb_embedder_t *e, size_t n, int want_rc, const char *want_msg) {
  static float out[MAXN * 64];
  fill_sentinel(out, n * akidb_embed_dimension(e));
  char err[1024] = "";
  int rc = akidb_embed(e, texts, lens, n, out, NULL, err, sizeof err);
  if (rc != want_rc) CHECK_FAIL("rc %d (%s), expected %d; message: %s", rc, akidb_err_name(rc), want_rc, err);
  ASSERT_STR_CONTAINS(err, want_msg);
  ASSERT_TRUE(strstr(err, KEY) == NULL);
  assert_untouched(out, n * akidb_embed_dimension(e));
}

/* ------------------------------------------------------------- tests -- */

static void test_embed_config_messages_say_what_to_fix(void) {
  char err[512];
  akidb_embed_config_t c = config(8);
  ASSERT_OK(akidb_embed_config_validate(&c, err, sizeof err));
  c.batch_size = 0;
  ASSERT_EQ_INT(akidb_embed_config_validate(&c, err, sizeof err), AKIDB_EINVAL);
  ASSERT_STR_CONTAINS(err, "embedding.batch_size must be between 1 and 2048");
  c = config(0);
  ASSERT_EQ_INT(akidb_embed_config_validate(&c, err, sizeof err), AKIDB_EINVAL);
  ASSERT_STR_CONTAINS(err, "embedding.dimension must be between 1 and 65536");
  c = config(8);
  c.backoff_base_ms = 500;
  c.backoff_max_ms = 100;
  ASSERT_EQ_INT(akidb_embed_config_validate(&c, err, sizeof err), AKIDB_EINVAL);
  ASSERT_STR_CONTAINS(err, "embedding.backoff_base_ms (500) must not exceed");
  c = config(8);
  c.model = NULL;
  ASSERT_EQ_INT(akidb_embed_config_validate(&c, err, sizeof err), AKIDB_EINVAL);
  ASSERT_STR_CONTAINS(err, "embedding.model is required for provider openai");
  const char *bad_urls[][2] = {
      {"ftp://127.0.0.1/v1", "must start with http:// or https://"},
      {"http://127.0.0.1:11434/v1/embeddings", "without /embeddings"},
      {"http://user:pw@127.0.0.1/v1", "may not hold credentials"},
      {"http://127.0.0.1/v1?x=1", "query or fragment"},
      {"http://", "has no host"},
  };
  for (size_t i = 0; i < sizeof bad_urls / sizeof bad_urls[0]; i++) {
    c = config(8);
    c.base_url = bad_urls[i][0];
    ASSERT_EQ_INT(akidb_embed_config_validate(&c, err, sizeof err), AKIDB_EINVAL);
    ASSERT_STR_CONTAINS(err, bad_urls[i][1]);
  }
  c = config(8);
  c.base_url = NULL;
  ASSERT_EQ_INT(akidb_embed_config_validate(&c, err, sizeof err), AKIDB_EINVAL);
  ASSERT_STR_CONTAINS(err, "embedding.base_url is required");
  c = config(8);
  c.api_key_env = "sk-live-abc";
  ASSERT_EQ_INT(akidb_embed_config_validate(&c, err, sizeof err), AKIDB_EINVAL);
  ASSERT_STR_CONTAINS(err, "must be the NAME of an environment variable");
  ASSERT_TRUE(strstr(err, "sk-live-abc") == NULL);
  c = config(8);
  c.provider = (akidb_embed_provider_t)7;
  ASSERT_EQ_INT(akidb_embed_config_validate(&c, err, sizeof err), AKIDB_EINVAL);
  ASSERT_STR_CONTAINS(err, "embedding.provider must be \"builtin\" or \"openai\"");
  c = config(8);
  c.max_request_bytes = 1024;
  c.model = "m";
  ASSERT_OK(akidb_embed_config_validate(&c, err, sizeof err));
}

static void test_embed_unset_key_variable_is_refused_at_create(void) {
  akidb_embed_config_t c = config(8);
  c.api_key_env = "AKIDB_TEST_EMBED_KEY_NOT_SET";
  unsetenv(c.api_key_env);
  akidb_embedder_t *e = NULL;
  char err[512];
  ASSERT_EQ_INT(akidb_embed_create(&c, &e, err, sizeof err), AKIDB_EINVAL);
  ASSERT_STR_CONTAINS(err, "AKIDB_TEST_EMBED_KEY_NOT_SET, which is not set or empty");
  ASSERT_TRUE(e == NULL);
}

static void test_embed_vectors_follow_the_standin_formula(void) {
  reset();
  akidb_embed_config_t c = config(20);
  akidb_embedder_t *e = make(&c);
  /* quotes, backslashes, control bytes, non-ASCII and an empty text: the
   * vectors only match if the body's JSON escaping is exact */
  const char *t[] = {"plain", "quote \" backslash \\ slash /", "tab\tnew\nline\x01\x1f",
                     "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80", ""};
  size_t l[5];
  for (size_t i = 0; i < 5; i++) l[i] = strlen(t[i]);
  float out[5 * 20];
  char err[512] = "";
  int rc = akidb_embed(e, t, l, 5, out, NULL, err, sizeof err);
  if (rc) CHECK_FAIL("%d: %s", rc, err);
  assert_rows(t, l, 5, 20, out);
  json_t *log = requests();
  ASSERT_EQ_INT(json_integer_value(json_object_get(log, "count")), 1);
  json_t *r0 = json_array_get(json_object_get(log, "requests"), 0);
  ASSERT_STR_EQ(json_string_value(json_object_get(r0, "model")), "standin-20");
  ASSERT_TRUE(json_is_null(json_object_get(r0, "dimensions")));
  ASSERT_TRUE(logged_header(log, 0, "authorization") == NULL);
  ASSERT_STR_EQ(logged_header(log, 0, "content-type"), "application/json");
  json_decref(log);
  akidb_embed_destroy(e);
}

static void test_embed_dimensions_sent_when_configured(void) {
  reset();
  akidb_embed_config_t c = config(12);
  c.model = "standin-64"; /* the model's native size; dimensions asks for 12 */
  c.send_dimensions = true;
  akidb_embedder_t *e = make(&c);
  make_texts(2, "dims");
  float out[2 * 12];
  ASSERT_OK(akidb_embed(e, texts, lens, 2, out, NULL, NULL, 0));
  assert_rows(texts, lens, 2, 12, out);
  json_t *log = requests();
  json_t *r0 = json_array_get(json_object_get(log, "requests"), 0);
  ASSERT_EQ_INT(json_integer_value(json_object_get(r0, "dimensions")), 12);
  json_decref(log);
  akidb_embed_destroy(e);
  /* without it, the model's 64 dimensions meet a collection of 12 */
  reset();
  c.send_dimensions = false;
  e = make(&c);
  expect_failure(e, 2, AKIDB_EUNAVAILABLE,
                 "returned a 64-dimensional embedding, the collection's model is configured "
                 "for 12");
  akidb_embed_destroy(e);
}

/* Sorted batch sizes of the logged requests into sizes[]; returns count. */
static size_t logged_batch_sizes(size_t *sizes, size_t max) {
  json_t *log = requests();
  json_t *rs = json_object_get(log, "requests");
  size_t n = json_array_size(rs);
  ASSERT_TRUE(n <= max);
  for (size_t i = 0; i < n; i++)
    sizes[i] = (size_t)json_integer_value(json_object_get(json_array_get(rs, i), "n"));
  json_decref(log);
  for (size_t i = 1; i < n; i++) /* insertion sort, descending */
    for (size_t k = i; k > 0 && sizes[k] > sizes[k - 1]; k--) {
      size_t t = sizes[k];
      sizes[k] = sizes[k - 1];
      sizes[k - 1] = t;
    }
  return n;
}

static void test_embed_batches_of_4_4_2_come_back_in_input_order(void) {
  reset();
  control("{\"reverse\": true}"); /* data[] in reverse order: read by index */
  akidb_embed_config_t c = config(8);
  c.batch_size = 4;
  akidb_embedder_t *e = make(&c);
  make_texts(10, "batch");
  float out[10 * 8];
  char err[512] = "";
  ASSERT_OK(akidb_embed(e, texts, lens, 10, out, NULL, err, sizeof err));
  assert_rows(texts, lens, 10, 8, out);
  size_t sizes[16];
  ASSERT_EQ_INT(logged_batch_sizes(sizes, 16), 3);
  ASSERT_EQ_INT(sizes[0], 4);
  ASSERT_EQ_INT(sizes[1], 4);
  ASSERT_EQ_INT(sizes[2], 2);
  akidb_embed_destroy(e);
}

static void test_embed_request_size_cap_splits_batches_and_refuses_a_huge_text(void) {
  reset();
  akidb_embed_config_t c = config(4);
  c.max_request_bytes = 1024;
  c.batch_size = 64;
  akidb_embedder_t *e = make(&c);
  static char big[12][300];
  const char *t[12];
  size_t l[12];
  for (size_t i = 0; i < 12; i++) {
    memset(big[i], 'a' + (int)i, 299);
    big[i][299] = '\0';
    t[i] = big[i];
    l[i] = 299;
  }
  float out[12 * 4];
  char err[512] = "";
  ASSERT_OK(akidb_embed(e, t, l, 12, out, NULL, err, sizeof err));
  assert_rows(t, l, 12, 4, out);
  json_t *log = requests();
  json_t *rs = json_object_get(log, "requests");
  ASSERT_EQ_INT(json_array_size(rs), 4); /* 3 texts of 301 bytes + ~70 per request */
  for (size_t i = 0; i < json_array_size(rs); i++)
    ASSERT_LE(json_integer_value(json_object_get(json_array_get(rs, i), "bytes")), 1024);
  json_decref(log);
  /* one text alone over the cap: refused before any request */
  reset();
  static char huge[2000];
  memset(huge, 'x', sizeof huge);
  const char *h[] = {"fine", huge};
  size_t hl[] = {4, sizeof huge};
  fill_sentinel(out, 8);
  ASSERT_EQ_INT(akidb_embed(e, h, hl, 2, out, NULL, err, sizeof err), AKIDB_ELIMIT);
  ASSERT_STR_CONTAINS(err, "text 1 to embed takes");
  ASSERT_STR_CONTAINS(err, "embedding.max_request_bytes is 1024");
  assert_untouched(out, 8);
  ASSERT_EQ_INT(request_count(), 0);
  akidb_embed_destroy(e);
}

typedef struct {
  akidb_embedder_t *e;
  int rc;
  char tag[16];
} worker_t;

static void *embed_worker(void *arg) {
  worker_t *w = arg;
  const char *t[24];
  size_t l[24];
  char store[24][32];
  for (size_t i = 0; i < 24; i++) {
    snprintf(store[i], sizeof store[i], "%s %zu", w->tag, i);
    t[i] = store[i];
    l[i] = strlen(store[i]);
  }
  float out[24 * 4];
  w->rc = akidb_embed(w->e, t, l, 24, out, NULL, NULL, 0);
  if (w->rc == 0) assert_rows(t, l, 24, 4, out);
  return NULL;
}

static void test_embed_concurrency_bound_holds_across_threads(void) {
  reset();
  control("{\"delay_ms\": 60}");
  akidb_embed_config_t c = config(4);
  c.batch_size = 2;
  c.max_concurrency = 3;
  akidb_embedder_t *e = make(&c);
  worker_t w[3];
  pthread_t th[3];
  for (int i = 0; i < 3; i++) {
    w[i] = (worker_t){e, -1, ""};
    snprintf(w[i].tag, sizeof w[i].tag, "thread%d", i);
    ASSERT_OK(pthread_create(&th[i], NULL, embed_worker, &w[i]));
  }
  for (int i = 0; i < 3; i++) {
    pthread_join(th[i], NULL);
    ASSERT_OK(w[i].rc);
  }
  json_t *log = requests();
  ASSERT_EQ_INT(json_integer_value(json_object_get(log, "count")), 36);
  long long maxc = json_integer_value(json_object_get(log, "max_concurrent"));
  fprintf(stderr, "  stand-in saw at most %lld requests at once (bound 3)\n", maxc);
  ASSERT_LE(maxc, 3);
  ASSERT_GE(maxc, 2); /* the batches did overlap */
  json_decref(log);
  akidb_embed_destroy(e);
}

static void test_embed_500_twice_is_retried_then_succeeds(void) {
  reset();
  control("{\"fail\": \"500\", \"times\": 2}");
  akidb_embed_config_t c = config(4);
  c.max_retries = 3;
  akidb_embedder_t *e = make(&c);
  make_texts(3, "retry");
  float out[3 * 4];
  char err[512] = "";
  ASSERT_OK(akidb_embed(e, texts, lens, 3, out, NULL, err, sizeof err));
  assert_rows(texts, lens, 3, 4, out);
  ASSERT_EQ_INT(request_count(), 3);
  akidb_embed_stats_t s;
  akidb_embed_stats(e, &s);
  ASSERT_EQ_U64(s.retries, 2);
  ASSERT_EQ_U64(s.errors[AKIDB_EMBED_CAUSE_HTTP_5XX], 2);
  ASSERT_EQ_U64(s.requests_ok, 1);
  ASSERT_EQ_U64(s.requests_failed, 2);
  ASSERT_EQ_U64(s.calls_ok, 1);
  ASSERT_EQ_U64(s.inputs_embedded, 3);
  ASSERT_EQ_U64(s.bytes_embedded, lens[0] + lens[1] + lens[2]);
  akidb_embed_destroy(e);
}

static void test_embed_500_forever_fails_after_max_retries(void) {
  reset();
  control("{\"fail\": \"500\", \"times\": -1, \"message\": \"model crashed\"}");
  akidb_embed_config_t c = config(4);
  c.max_retries = 2;
  akidb_embedder_t *e = make(&c);
  make_texts(3, "fail");
  char want[256];
  snprintf(want, sizeof want, "embedding provider %s failed: HTTP 500: model crashed (3 attempts)",
           base_url);
  expect_failure(e, 3, AKIDB_EUNAVAILABLE, want);
  ASSERT_EQ_INT(request_count(), 3);
  akidb_embed_destroy(e);
}

/* Seconds between the answer of logged request a being sent and request b
 * arriving: at most the client's wait (it read the answer before "sent" was
 * taken, or about then), so asserting gap >= Retry-After is sound. */
static double logged_gap(json_t *log, size_t a, size_t b) {
  return logged_time(log, b, "start") - logged_time(log, a, "sent");
}

static void test_embed_429_waits_retry_after_seconds(void) {
  reset();
  control("{\"fail\": \"429\", \"times\": 1, \"retry_after\": \"1\"}");
  akidb_embed_config_t c = config(4);
  akidb_embedder_t *e = make(&c); /* backoff 5..20 ms: only Retry-After can wait 1 s */
  make_texts(2, "429");
  float out[2 * 4];
  char err[512] = "";
  ASSERT_OK(akidb_embed(e, texts, lens, 2, out, NULL, err, sizeof err));
  json_t *log = requests();
  ASSERT_EQ_INT(json_integer_value(json_object_get(log, "count")), 2);
  double gap = logged_gap(log, 0, 1);
  fprintf(stderr, "  Retry-After: 1 → next attempt %.3f s later\n", gap);
  ASSERT_GE(gap, 1.0);
  json_decref(log);
  akidb_embed_stats_t s;
  akidb_embed_stats(e, &s);
  ASSERT_EQ_U64(s.errors[AKIDB_EMBED_CAUSE_HTTP_429], 1);
  akidb_embed_destroy(e);
}

static void test_embed_429_waits_retry_after_http_date(void) {
  reset();
  /* an HTTP date 3 s ahead: seconds resolution, so at least 2 s remain */
  control("{\"fail\": \"429\", \"times\": 1, \"retry_after\": \"date:3\"}");
  akidb_embed_config_t c = config(4);
  akidb_embedder_t *e = make(&c);
  make_texts(1, "429date");
  float out[4];
  ASSERT_OK(akidb_embed(e, texts, lens, 1, out, NULL, NULL, 0));
  json_t *log = requests();
  double gap = logged_gap(log, 0, 1);
  fprintf(stderr, "  Retry-After: <date 3 s ahead> → next attempt %.3f s later\n", gap);
  ASSERT_GE(gap, 1.9);
  json_decref(log);
  akidb_embed_destroy(e);
}

static void test_embed_429_forever_fails_naming_rate_limiting(void) {
  reset();
  control("{\"fail\": \"429\", \"times\": -1, \"retry_after\": \"0\"}");
  akidb_embed_config_t c = config(4);
  c.max_retries = 1;
  akidb_embedder_t *e = make(&c);
  make_texts(1, "429x");
  char want[256];
  snprintf(want, sizeof want,
           "embedding provider %s is rate limiting requests: HTTP 429: rate limited by the "
           "stand-in (2 attempts)",
           base_url);
  expect_failure(e, 1, AKIDB_EUNAVAILABLE, want);
  ASSERT_EQ_INT(request_count(), 2);
  akidb_embed_destroy(e);
}

static void test_embed_stall_past_timeout_times_out_after_retries(void) {
  reset();
  control("{\"fail\": \"stall\", \"times\": -1, \"stall_ms\": 3000}");
  akidb_embed_config_t c = config(4);
  c.timeout_ms = 300;
  c.max_retries = 1;
  akidb_embedder_t *e = make(&c);
  make_texts(2, "stall");
  char want[256];
  snprintf(want, sizeof want, "embedding provider %s timed out after 300 ms (2 attempts)",
           base_url);
  double t0 = clock_now_s();
  expect_failure(e, 2, AKIDB_ETIMEDOUT, want);
  ASSERT_LE(clock_now_s() - t0, 2.5); /* bounded by the timeout, not the stall */
  ASSERT_EQ_INT(request_count(), 2);
  akidb_embed_stats_t s;
  akidb_embed_stats(e, &s);
  ASSERT_EQ_U64(s.errors[AKIDB_EMBED_CAUSE_TIMEOUT], 2);
  akidb_embed_destroy(e);
  control("{\"fail\": null}");
}

/* A bad answer: not retried, the message, nothing written. */
static void bad_answer_case(const char *mode, size_t n, const char *msg_tail) {
  reset();
  char cmd[128];
  snprintf(cmd, sizeof cmd, "{\"fail\": \"%s\", \"times\": -1}", mode);
  control(cmd);
  akidb_embed_config_t c = config(4);
  c.max_retries = 3;
  akidb_embedder_t *e = make(&c);
  make_texts(n, mode);
  char want[300];
  snprintf(want, sizeof want, "embedding provider %s %s", base_url, msg_tail);
  expect_failure(e, n, AKIDB_EUNAVAILABLE, want);
  ASSERT_EQ_INT(request_count(), 1);
  akidb_embed_stats_t s;
  akidb_embed_stats(e, &s);
  ASSERT_EQ_U64(s.errors[AKIDB_EMBED_CAUSE_BAD_RESPONSE], 1);
  ASSERT_EQ_U64(s.calls_failed, 1);
  akidb_embed_destroy(e);
}

static void test_embed_bad_answers_fail_clearly_without_retry(void) {
  bad_answer_case("count", 4, "returned 3 embeddings for 4 inputs");
  bad_answer_case("malformed", 2, "returned malformed JSON: ");
  bad_answer_case("dimension", 2,
                  "returned a 8-dimensional embedding, the collection's model is configured "
                  "for 4");
  bad_answer_case("index_range", 3, "returned an embedding with index 3 for 3 inputs");
  bad_answer_case("index_dup", 3, "returned index 0 twice");
  bad_answer_case("nan", 2, "returned a non-finite value");
  control("{\"fail\": null}");
}

static void test_embed_4xx_is_not_retried_and_key_is_redacted(void) {
  reset();
  setenv(KEY_ENV, KEY, 1);
  control("{\"fail\": \"401\", \"times\": -1, \"message\": \"Incorrect API key provided: "
          KEY ". Check it.\"}");
  akidb_embed_config_t c = config(4);
  c.api_key_env = KEY_ENV;
  akidb_embedder_t *e = make(&c);
  make_texts(1, "401");
  char want[256];
  snprintf(want, sizeof want,
           "embedding provider %s rejected the request: HTTP 401: Incorrect API key provided: "
           "[redacted]. Check it.",
           base_url);
  expect_failure(e, 1, AKIDB_EUNAVAILABLE, want);
  ASSERT_EQ_INT(request_count(), 1);
  control("{\"fail\": null}");
  akidb_embed_destroy(e);
}

static void test_embed_key_is_sent_as_bearer_and_never_shown(void) {
  reset();
  setenv(KEY_ENV, KEY, 1);
  akidb_embed_config_t c = config(4);
  c.api_key_env = KEY_ENV;
  akidb_embedder_t *e = make(&c);
  make_texts(1, "key");
  float out[4];
  ASSERT_OK(akidb_embed(e, texts, lens, 1, out, TRACEPARENT, NULL, 0));
  json_t *log = requests();
  ASSERT_STR_EQ(logged_header(log, 0, "authorization"), "Bearer " KEY);
  ASSERT_STR_EQ(logged_header(log, 0, "traceparent"), TRACEPARENT);
  json_decref(log);
  char d[512];
  akidb_embed_describe(e, d, sizeof d);
  fprintf(stderr, "  describe: %s\n", d);
  ASSERT_STR_CONTAINS(d, "key from $" KEY_ENV);
  ASSERT_TRUE(strstr(d, KEY) == NULL);
  /* failures of every kind never quote it */
  control("{\"fail\": \"500\", \"times\": -1, \"message\": \"bad key " KEY "\"}");
  c.max_retries = 0;
  akidb_embedder_t *e2 = make(&c);
  expect_failure(e2, 1, AKIDB_EUNAVAILABLE, "HTTP 500: bad key [redacted]");
  control("{\"fail\": null}");
  akidb_embed_destroy(e2);
  akidb_embed_destroy(e);
}

static void test_embed_malformed_traceparent_is_not_forwarded(void) {
  reset();
  akidb_embed_config_t c = config(4);
  akidb_embedder_t *e = make(&c);
  make_texts(1, "tp");
  float out[4];
  ASSERT_OK(akidb_embed(e, texts, lens, 1, out, "00-xyz\r\nX-Injected: 1", NULL, 0));
  json_t *log = requests();
  ASSERT_TRUE(logged_header(log, 0, "traceparent") == NULL);
  ASSERT_TRUE(logged_header(log, 0, "x-injected") == NULL);
  json_decref(log);
  akidb_embed_destroy(e);
}

static void test_embed_one_failed_batch_fails_the_whole_call(void) {
  reset();
  control("{\"fail\": \"count\", \"times\": 1}");
  akidb_embed_config_t c = config(4);
  c.batch_size = 4;
  c.max_concurrency = 1;
  akidb_embedder_t *e = make(&c);
  make_texts(10, "aon");
  expect_failure(e, 10, AKIDB_EUNAVAILABLE, "returned 3 embeddings for 4 inputs");
  ASSERT_LE(request_count(), 3);
  akidb_embed_destroy(e);
}

static void test_embed_connection_refused_names_provider_and_cause(void) {
  /* a port that was free a moment ago and is closed now */
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_OK(bind(fd, (struct sockaddr *)&a, sizeof a));
  socklen_t al = sizeof a;
  ASSERT_OK(getsockname(fd, (struct sockaddr *)&a, &al));
  close(fd);
  char url[64];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/v1", ntohs(a.sin_port));
  akidb_embed_config_t c = config(4);
  c.base_url = url;
  c.max_retries = 2;
  akidb_embedder_t *e = make(&c);
  make_texts(2, "refused");
  char want[256];
  snprintf(want, sizeof want, "embedding provider %s unreachable: connection refused (3 attempts)",
           url);
  expect_failure(e, 2, AKIDB_EUNAVAILABLE, want);
  akidb_embed_stats_t s;
  akidb_embed_stats(e, &s);
  ASSERT_EQ_U64(s.errors[AKIDB_EMBED_CAUSE_CONNECT], 3);
  ASSERT_EQ_U64(s.retries, 2);
  akidb_embed_destroy(e);
}

static void test_embed_breaker_opens_fails_fast_half_opens_and_closes(void) {
  reset();
  control("{\"fail\": \"503\", \"times\": -1}");
  akidb_embed_config_t c = config(4);
  c.max_retries = 0;
  c.breaker_threshold = 3;
  c.breaker_cooldown_ms = 1500; /* ample for "fails at once" on a loaded machine */
  akidb_embedder_t *e = make(&c);
  make_texts(1, "breaker");
  for (int i = 0; i < 3; i++) expect_failure(e, 1, AKIDB_EUNAVAILABLE, "failed: HTTP 503");
  ASSERT_EQ_INT(request_count(), 3);
  akidb_embed_stats_t s;
  akidb_embed_stats(e, &s);
  ASSERT_EQ_INT(s.breaker_state, AKIDB_EMBED_BREAKER_OPEN);
  ASSERT_EQ_U64(s.breaker_opens, 1);
  /* open: fails at once, the stand-in is not contacted */
  char want[256];
  snprintf(want, sizeof want,
           "embedding provider %s unavailable: circuit open after 3 consecutive failures; "
           "retrying after ",
           base_url);
  double t0 = clock_now_s();
  expect_failure(e, 1, AKIDB_EUNAVAILABLE, want);
  expect_failure(e, 1, AKIDB_EUNAVAILABLE, " s (last failure: embedding provider ");
  ASSERT_LE(clock_now_s() - t0, 0.5);
  ASSERT_EQ_INT(request_count(), 3);
  akidb_embed_stats(e, &s);
  ASSERT_EQ_U64(s.errors[AKIDB_EMBED_CAUSE_CIRCUIT_OPEN], 2);
  /* another embedder on the same endpoint and settings shares the breaker */
  akidb_embedder_t *twin = make(&c);
  expect_failure(twin, 1, AKIDB_EUNAVAILABLE, "circuit open after 3 consecutive failures");
  ASSERT_EQ_INT(request_count(), 3);
  /* after the cool-down one trial goes out; it fails: open again */
  usleep(1600 * 1000);
  expect_failure(e, 1, AKIDB_EUNAVAILABLE, "failed: HTTP 503");
  ASSERT_EQ_INT(request_count(), 4);
  akidb_embed_stats(e, &s);
  ASSERT_EQ_INT(s.breaker_state, AKIDB_EMBED_BREAKER_OPEN);
  ASSERT_EQ_U64(s.breaker_opens, 2);
  /* the provider recovers: the next trial closes it */
  control("{\"fail\": null}");
  usleep(1600 * 1000);
  float out[4];
  char err[512] = "";
  ASSERT_OK(akidb_embed(e, texts, lens, 1, out, NULL, err, sizeof err));
  assert_rows(texts, lens, 1, 4, out);
  ASSERT_EQ_INT(request_count(), 5);
  akidb_embed_stats(e, &s);
  ASSERT_EQ_INT(s.breaker_state, AKIDB_EMBED_BREAKER_CLOSED);
  ASSERT_EQ_INT(s.breaker_consecutive_failures, 0);
  ASSERT_OK(akidb_embed(twin, texts, lens, 1, out, NULL, NULL, 0));
  akidb_embed_destroy(twin);
  akidb_embed_destroy(e);
}

static void *embed_one(void *arg) {
  worker_t *w = arg;
  float out[4];
  w->rc = akidb_embed(w->e, texts, lens, 1, out, NULL, NULL, 0);
  return NULL;
}

static void test_embed_half_open_lets_one_trial_through(void) {
  reset();
  control("{\"fail\": \"502\", \"times\": 2}");
  akidb_embed_config_t c = config(4);
  c.max_retries = 0;
  c.breaker_threshold = 2;
  c.breaker_cooldown_ms = 300;
  akidb_embedder_t *e = make(&c);
  make_texts(1, "trial");
  expect_failure(e, 1, AKIDB_EUNAVAILABLE, "failed: HTTP 502");
  expect_failure(e, 1, AKIDB_EUNAVAILABLE, "failed: HTTP 502");
  usleep(400 * 1000);
  control("{\"delay_ms\": 800}"); /* the trial takes 0.8 s */
  worker_t w = {e, -1, ""};
  pthread_t th;
  ASSERT_OK(pthread_create(&th, NULL, embed_one, &w));
  double t0 = clock_now_s();
  while (request_count() < 3 && clock_now_s() - t0 < 5.0) usleep(10000);
  ASSERT_EQ_INT(request_count(), 3); /* the trial is in flight */
  akidb_embed_stats_t s;
  akidb_embed_stats(e, &s);
  ASSERT_EQ_INT(s.breaker_state, AKIDB_EMBED_BREAKER_HALF_OPEN);
  expect_failure(e, 1, AKIDB_EUNAVAILABLE, "circuit half-open after 2 consecutive failures, "
                                           "a trial request is in flight");
  pthread_join(th, NULL);
  ASSERT_OK(w.rc);
  ASSERT_EQ_INT(request_count(), 3);
  akidb_embed_stats(e, &s);
  ASSERT_EQ_INT(s.breaker_state, AKIDB_EMBED_BREAKER_CLOSED);
  control("{\"delay_ms\": 0}");
  akidb_embed_destroy(e);
}

static void test_embed_invalid_utf8_is_refused_before_any_request(void) {
  reset();
  akidb_embed_config_t c = config(4);
  akidb_embedder_t *e = make(&c);
  const char *t[] = {"ok", "bad \xc3\x28 byte", "\xed\xa0\x80"};
  size_t l[] = {2, 10, 3};
  float out[3 * 4];
  char err[256];
  fill_sentinel(out, 12);
  ASSERT_EQ_INT(akidb_embed(e, t, l, 3, out, NULL, err, sizeof err), AKIDB_EINVAL);
  ASSERT_STR_CONTAINS(err, "text 1 to embed is not valid UTF-8 (byte 4)");
  assert_untouched(out, 12);
  ASSERT_EQ_INT(akidb_embed(e, t + 2, l + 2, 1, out, NULL, err, sizeof err), AKIDB_EINVAL);
  ASSERT_EQ_INT(request_count(), 0);
  ASSERT_OK(akidb_embed(e, t, l, 0, out, NULL, err, sizeof err)); /* nothing to do */
  akidb_embed_destroy(e);
}

/* ---------------------------------------------- the builtin vtable slot -- */

static int fake_calls;

static int fake_embed_batch(void *self, const char *const *t, const size_t *l, size_t n,
                            float *out, const char *tp, char *err, size_t errlen) {
  (void)tp, (void)err, (void)errlen;
  uint32_t dim = *(uint32_t *)self;
  fake_calls++;
  for (size_t i = 0; i < n; i++)
    for (uint32_t d = 0; d < dim; d++) out[i * dim + d] = (float)l[i] + (float)d + (t[i][0] == 'x');
  return 0;
}

static void fake_describe(void *self, char *buf, size_t len) {
  snprintf(buf, len, "builtin fake dimension %u", *(uint32_t *)self);
}

static void fake_destroy(void *self) { free(self); }

static const akidb_embed_ops_t fake_ops = {fake_embed_batch, NULL, fake_describe, fake_destroy};

static int fake_factory(const akidb_embed_config_t *c, const akidb_embed_ops_t **ops,
                        void **self, char *err, size_t errlen) {
  (void)err, (void)errlen;
  uint32_t *dim = malloc(sizeof *dim);
  *dim = c->dimension;
  *ops = &fake_ops;
  *self = dim;
  return 0;
}

static void test_embed_builtin_goes_through_the_registered_vtable(void) {
  akidb_embed_config_t c;
  akidb_embed_config_default(&c);
  c.provider = AKIDB_EMBED_BUILTIN;
  c.dimension = 3;
  c.batch_size = 2;
  akidb_embedder_t *e = NULL;
  char err[256];
  akidb_embed_register_builtin(NULL);
  ASSERT_EQ_INT(akidb_embed_create(&c, &e, err, sizeof err), AKIDB_ENOTSUP);
  ASSERT_STR_CONTAINS(err, "builtin is not available");
  akidb_embed_register_builtin(fake_factory);
  ASSERT_OK(akidb_embed_create(&c, &e, err, sizeof err));
  const char *t[] = {"a", "xy", "abc", "x"};
  size_t l[] = {1, 2, 3, 1};
  float out[4 * 3];
  fake_calls = 0;
  ASSERT_OK(akidb_embed(e, t, l, 4, out, NULL, err, sizeof err));
  ASSERT_EQ_INT(fake_calls, 2); /* two batches of 2 */
  ASSERT_EQ_INT((int)out[1 * 3 + 2], 2 + 2 + 1);
  ASSERT_EQ_INT((int)out[3 * 3 + 0], 1 + 0 + 1);
  char d[128];
  akidb_embed_describe(e, d, sizeof d);
  ASSERT_STR_EQ(d, "builtin fake dimension 3");
  akidb_embed_stats_t s;
  akidb_embed_stats(e, &s);
  ASSERT_EQ_U64(s.calls_ok, 1);
  ASSERT_EQ_INT(s.breaker_state, AKIDB_EMBED_BREAKER_CLOSED);
  akidb_embed_destroy(e);
  akidb_embed_register_builtin(NULL);
}

static void test_embed_latency_histogram_counts_each_attempt(void) {
  reset();
  akidb_embed_config_t c = config(4);
  c.batch_size = 1;
  akidb_embedder_t *e = make(&c);
  make_texts(5, "hist");
  float out[5 * 4];
  ASSERT_OK(akidb_embed(e, texts, lens, 5, out, NULL, NULL, 0));
  akidb_embed_stats_t s;
  akidb_embed_stats(e, &s);
  uint64_t req = 0, call = 0;
  for (size_t i = 0; i < AKIDB_EMBED_LATENCY_BUCKETS; i++) {
    req += s.request_latency[i];
    call += s.call_latency[i];
  }
  ASSERT_EQ_U64(req, 5);
  ASSERT_EQ_U64(call, 1);
  ASSERT_TRUE(s.request_latency_sum_us > 0);
  ASSERT_EQ_INT(akidb_embed_latency_bounds_ms()[0], 5);
  ASSERT_EQ_INT(akidb_embed_latency_bounds_ms()[AKIDB_EMBED_LATENCY_BUCKETS - 2], 30000);
  ASSERT_STR_EQ(akidb_embed_cause_name(AKIDB_EMBED_CAUSE_CIRCUIT_OPEN), "circuit_open");
  akidb_embed_destroy(e);
}

static void setup(void) {
  /* loopback only: never through a proxy from the environment */
  const char *proxies[] = {"http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY",
                           "all_proxy", "ALL_PROXY"};
  for (size_t i = 0; i < 6; i++) unsetenv(proxies[i]);
  setenv("no_proxy", "*", 1);
  curl_global_init(CURL_GLOBAL_DEFAULT);
  atexit(standin_kill);
  signal(SIGTERM, standin_on_signal);
  signal(SIGINT, standin_on_signal);
  signal(SIGABRT, standin_on_signal);
  signal(SIGALRM, standin_on_signal);
  alarm(600); /* below ctest's timeout: never leave the stand-in behind */
  start_model_server();
}

int main(int argc, char **argv) {
  static const check_case_t cases[] = {
      CHECK_CASE(test_embed_config_messages_say_what_to_fix),
      CHECK_CASE(test_embed_unset_key_variable_is_refused_at_create),
      CHECK_CASE(test_embed_vectors_follow_the_standin_formula),
      CHECK_CASE(test_embed_dimensions_sent_when_configured),
      CHECK_CASE(test_embed_batches_of_4_4_2_come_back_in_input_order),
      CHECK_CASE(test_embed_request_size_cap_splits_batches_and_refuses_a_huge_text),
      CHECK_CASE(test_embed_concurrency_bound_holds_across_threads),
      CHECK_CASE(test_embed_500_twice_is_retried_then_succeeds),
      CHECK_CASE(test_embed_500_forever_fails_after_max_retries),
      CHECK_CASE(test_embed_429_waits_retry_after_seconds),
      CHECK_CASE(test_embed_429_waits_retry_after_http_date),
      CHECK_CASE(test_embed_429_forever_fails_naming_rate_limiting),
      CHECK_CASE(test_embed_stall_past_timeout_times_out_after_retries),
      CHECK_CASE(test_embed_bad_answers_fail_clearly_without_retry),
      CHECK_CASE(test_embed_4xx_is_not_retried_and_key_is_redacted),
      CHECK_CASE(test_embed_key_is_sent_as_bearer_and_never_shown),
      CHECK_CASE(test_embed_malformed_traceparent_is_not_forwarded),
      CHECK_CASE(test_embed_one_failed_batch_fails_the_whole_call),
      CHECK_CASE(test_embed_connection_refused_names_provider_and_cause),
      CHECK_CASE(test_embed_breaker_opens_fails_fast_half_opens_and_closes),
      CHECK_CASE(test_embed_half_open_lets_one_trial_through),
      CHECK_CASE(test_embed_invalid_utf8_is_refused_before_any_request),
      CHECK_CASE(test_embed_builtin_goes_through_the_registered_vtable),
      CHECK_CASE(test_embed_latency_histogram_counts_each_attempt),
  };
  setup();
  int rc = check_main(argc, argv, cases, sizeof cases / sizeof cases[0]);
  standin_kill();
  return rc;
}
