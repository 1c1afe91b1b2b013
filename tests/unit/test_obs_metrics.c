/*
 * test_obs_metrics.c — the Prometheus registry (src/obs/metrics.c):
 * cumulative histogram buckets, _sum and _count, the request counter, label
 * escaping, bounded method labels, counters of searches, upserts, quotas and
 * logins, process figures, sample value formatting, exact totals under
 * concurrent updates, and the whole page through `promtool check metrics`
 * when promtool is installed.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "akidb/akidb.h"
#include "check.h"
#include "obs/metrics.h"
#include "tmpdir.h"

/* Renders the whole registry (caller frees). */
static char *render(void) {
  obs_buf_t b = {0};
  obs_metrics_render(&b);
  ASSERT_TRUE(!b.failed);
  ASSERT_TRUE(b.data != NULL);
  return b.data;
}

/* Fails unless `text` holds `line` as a whole line. */
static void assert_line(const char *text, const char *line) {
  size_t n = strlen(line);
  for (const char *p = text; (p = strstr(p, line)) != NULL; p++) {
    bool starts = p == text || p[-1] == '\n';
    if (starts && p[n] == '\n') return;
  }
  /* Print the lines sharing the metric name, to show what was there. */
  char name[128];
  size_t k = strcspn(line, "{ ");
  snprintf(name, sizeof name, "%.*s", (int)k, line);
  fprintf(stderr, "lines starting with %s:\n", name);
  for (const char *p = text; (p = strstr(p, name)) != NULL; p++)
    if (p == text || p[-1] == '\n') fprintf(stderr, "  %.*s\n", (int)strcspn(p, "\n"), p);
  CHECK_FAIL("missing line: %s", line);
}

static void assert_no_line_prefix(const char *text, const char *prefix) {
  for (const char *p = text; (p = strstr(p, prefix)) != NULL; p++)
    if (p == text || p[-1] == '\n') CHECK_FAIL("unexpected line starting with %s", prefix);
}

/* ----------------------------------------------------------- histograms -- */

static void test_http_histogram_buckets_are_cumulative_with_sum_and_count(void) {
  /* Exact binary fractions, so the sum is exact. */
  const double v[] = {1.0 / 32768, 1.0 / 8192, 1.0 / 8192, 1.0 / 256, 16.0};
  for (size_t i = 0; i < sizeof v / sizeof *v; i++)
    obs_http_observe("/test/{x}", "GET", 200, v[i]);
  char *page = render();
  const char *lbl = "route=\"/test/{x}\",method=\"GET\",status=\"200\"";
  static const struct {
    const char *le;
    int count;
  } want[] = {{"0.00005", 1}, {"0.0001", 1}, {"0.00025", 3}, {"0.0005", 3}, {"0.001", 3},
              {"0.0025", 3},  {"0.005", 4},  {"0.01", 4},    {"0.025", 4},  {"0.05", 4},
              {"0.1", 4},     {"0.25", 4},   {"0.5", 4},     {"1", 4},      {"2.5", 4},
              {"5", 4},       {"10", 4},     {"+Inf", 5}};
  char line[256];
  for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
    snprintf(line, sizeof line, "akidb_http_request_duration_seconds_bucket{%s,le=\"%s\"} %d", lbl,
             want[i].le, want[i].count);
    assert_line(page, line);
  }
  snprintf(line, sizeof line, "akidb_http_request_duration_seconds_sum{%s} %s", lbl,
           "16.004180908203125");
  assert_line(page, line);
  snprintf(line, sizeof line, "akidb_http_request_duration_seconds_count{%s} 5", lbl);
  assert_line(page, line);
  snprintf(line, sizeof line, "akidb_http_requests_total{%s} 5", lbl);
  assert_line(page, line);
  assert_line(page, "# TYPE akidb_http_request_duration_seconds histogram");
  assert_line(page, "# TYPE akidb_http_requests_total counter");
  ASSERT_STR_CONTAINS(page, "# HELP akidb_http_requests_total ");
  free(page);
}

static void test_label_sets_are_separate_series(void) {
  obs_http_observe("/sep", "POST", 201, 0.002);
  obs_http_observe("/sep", "POST", 409, 0.002);
  obs_http_observe("/sep", "POST", 409, 0.002);
  obs_http_observe("/sep", "DELETE", 204, 0.002);
  char *page = render();
  assert_line(page, "akidb_http_requests_total{route=\"/sep\",method=\"POST\",status=\"201\"} 1");
  assert_line(page, "akidb_http_requests_total{route=\"/sep\",method=\"POST\",status=\"409\"} 2");
  assert_line(page, "akidb_http_requests_total{route=\"/sep\",method=\"DELETE\",status=\"204\"} 1");
  free(page);
}

static void test_label_values_are_escaped(void) {
  obs_http_observe("a\"b\\c\nd", "GET", 404, 0.0001);
  char *page = render();
  assert_line(page, "akidb_http_requests_total{route=\"a\\\"b\\\\c\\nd\",method=\"GET\","
                    "status=\"404\"} 1");
  free(page);
}

static void test_unknown_methods_share_one_label(void) {
  obs_http_observe("unmatched", "BREW", 404, 0.0001);
  obs_http_observe("unmatched", "X-CUSTOM", 404, 0.0001);
  obs_http_observe("unmatched", NULL, 404, 0.0001);
  char *page = render();
  assert_line(page,
              "akidb_http_requests_total{route=\"unmatched\",method=\"other\",status=\"404\"} 3");
  ASSERT_TRUE(strstr(page, "BREW") == NULL);
  free(page);
}

/* ------------------------------------------------------------- counters -- */

static void test_search_upsert_quota_and_login_counters(void) {
  char *page = render();
  /* Known label sets show at zero before anything happened. */
  assert_line(page, "akidb_quota_rejections_total{quota=\"storage\"} 0");
  assert_line(page, "akidb_logins_total{outcome=\"throttled\"} 0");
  assert_line(page, "akidb_search_queries_total{mode=\"vector\"} 0");
  assert_line(page, "akidb_search_duration_seconds_count{mode=\"vector\"} 0");
  assert_line(page, "akidb_tier_transitions_total{from=\"warm\",to=\"cold\"} 0");
  assert_line(page, "akidb_errors_total{code=\"unavailable\"} 0");
  free(page);

  obs_search_observe("vector", 0.0004, 3);
  obs_search_observe("vector", 0.02, 5);
  obs_search_observe("text", 0.002, 1);
  obs_error("not_found");
  obs_error("not_found");
  obs_collection_unload("idle");
  obs_cold_move("cold", 1);
  obs_cold_move("cold", 0);
  obs_upsert_observe(0.003, 100);
  obs_quota_rejection("qps");
  obs_quota_rejection("qps");
  obs_login_observe("success");
  obs_login_observe("failure");
  obs_login_observe("failure");
  page = render();
  assert_line(page, "akidb_search_queries_total{mode=\"vector\"} 8");
  assert_line(page, "akidb_search_queries_total{mode=\"text\"} 1");
  assert_line(page, "akidb_search_duration_seconds_bucket{mode=\"vector\",le=\"0.0005\"} 1");
  assert_line(page, "akidb_search_duration_seconds_bucket{mode=\"vector\",le=\"0.025\"} 2");
  assert_line(page, "akidb_search_duration_seconds_bucket{mode=\"vector\",le=\"+Inf\"} 2");
  assert_line(page, "akidb_search_duration_seconds_count{mode=\"vector\"} 2");
  assert_line(page, "akidb_search_duration_seconds_sum{mode=\"vector\"} 0.0204");
  assert_line(page, "akidb_search_duration_seconds_count{mode=\"text\"} 1");
  assert_line(page, "akidb_errors_total{code=\"not_found\"} 2");
  assert_line(page, "akidb_tier_transitions_total{from=\"hot\",to=\"warm\"} 1");
  assert_line(page, "akidb_tier_transitions_total{from=\"warm\",to=\"cold\"} 1");
  assert_line(page, "akidb_points_upserted_total 100");
  assert_line(page, "akidb_upsert_duration_seconds_count 1");
  assert_line(page, "akidb_quota_rejections_total{quota=\"qps\"} 2");
  assert_line(page, "akidb_quota_rejections_total{quota=\"memory\"} 0");
  assert_line(page, "akidb_logins_total{outcome=\"success\"} 1");
  assert_line(page, "akidb_logins_total{outcome=\"failure\"} 2");
  assert_line(page, "# TYPE akidb_search_queries_total counter");
  assert_line(page, "# TYPE akidb_upsert_duration_seconds histogram");
  assert_no_line_prefix(page, "akidb_search_queries_total_total");
  free(page);
}

/* ------------------------------------------------------------- process -- */

/* The value of the first sample line starting with `prefix`. */
static double sample_value(const char *page, const char *prefix) {
  size_t n = strlen(prefix);
  for (const char *p = page; (p = strstr(p, prefix)) != NULL; p++)
    if ((p == page || p[-1] == '\n') && (p[n] == ' ' || p[n] == '{'))
      return strtod(strchr(p + n, ' ') + 1, NULL);
  CHECK_FAIL("no sample %s", prefix);
  return 0;
}

static void *hold_until_unlocked(void *arg) {
  pthread_mutex_lock(arg);
  pthread_mutex_unlock(arg);
  return NULL;
}

static void test_process_figures(void) {
  char *page = render();
  char line[128];
  snprintf(line, sizeof line, "akidb_build_info{version=\"%s\"} 1", AKIDB_VERSION_STRING);
  assert_line(page, line);
  assert_line(page, "# TYPE akidb_process_resident_memory_bytes gauge");
  double rss = sample_value(page, "akidb_process_resident_memory_bytes");
  ASSERT_GE(rss, 64 * 1024);
  double start = sample_value(page, "akidb_process_start_time_seconds");
  double now = (double)time(NULL);
  ASSERT_LE(start, now + 2);
  ASSERT_GE(start, now - 3600); /* this test process started within the hour */
  double up = sample_value(page, "akidb_process_uptime_seconds");
  ASSERT_GE(up, 0);
  ASSERT_LE(up, now - start + 2);
  free(page);
  /* open descriptors and threads: one more of each shows */
  page = render();
  double fds = sample_value(page, "akidb_process_open_fds");
  double threads = sample_value(page, "akidb_process_threads");
  free(page);
  int fd = dup(1);
  ASSERT_GE(fd, 0);
  pthread_t th;
  pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
  pthread_mutex_lock(&m);
  ASSERT_OK(pthread_create(&th, NULL, hold_until_unlocked, &m));
  page = render();
  ASSERT_EQ_INT(sample_value(page, "akidb_process_open_fds"), fds + 1);
  ASSERT_EQ_INT(sample_value(page, "akidb_process_threads"), threads + 1);
  ASSERT_GE(sample_value(page, "akidb_process_max_fds"), fds + 1);
  free(page);
  pthread_mutex_unlock(&m);
  pthread_join(th, NULL);
  close(fd);
}

/* ----------------------------------------------------- render helpers -- */

static void test_render_helpers_format_values_and_escape_help(void) {
  obs_buf_t b = {0};
  obs_render_family(&b, "x_demo", "gauge", "Line one\nback\\slash \"quoted\".");
  obs_render_sample(&b, "x_demo", 3, NULL);
  obs_render_sample(&b, "x_demo", 0.1, "k", "v", NULL);
  obs_render_sample(&b, "x_demo", 1e20, "a", "1", "b", "q\"\\\n", NULL);
  obs_render_sample(&b, "x_demo", 1.0 / 0.0, NULL);
  obs_render_sample(&b, "x_demo", -1.0 / 0.0, NULL);
  obs_render_sample(&b, "x_demo", 0.0 / 0.0, NULL);
  obs_render_sample(&b, "x_demo", -2.5, NULL);
  obs_render_sample(&b, "x_demo", 123456789012.0, NULL);
  ASSERT_TRUE(!b.failed);
  const char *want =
      "# HELP x_demo Line one\\nback\\\\slash \"quoted\".\n"
      "# TYPE x_demo gauge\n"
      "x_demo 3\n"
      "x_demo{k=\"v\"} 0.1\n"
      "x_demo{a=\"1\",b=\"q\\\"\\\\\\n\"} 1e+20\n"
      "x_demo +Inf\n"
      "x_demo -Inf\n"
      "x_demo NaN\n"
      "x_demo -2.5\n"
      "x_demo 123456789012\n";
  if (strcmp(b.data, want) != 0) CHECK_FAIL("rendered:\n%s\nexpected:\n%s", b.data, want);
  obs_buf_free(&b);
}

static void test_buffer_grows_past_its_first_allocation(void) {
  obs_buf_t b = {0};
  char big[10000];
  memset(big, 'z', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  for (int i = 0; i < 20; i++) obs_buf_printf(&b, "%s-%d\n", big, i);
  ASSERT_TRUE(!b.failed);
  ASSERT_EQ_U64(b.len, 20 * (sizeof big - 1 + 3) + 10);
  ASSERT_EQ_U64(strlen(b.data), b.len);
  obs_buf_free(&b);
  ASSERT_TRUE(b.data == NULL);
}

/* ---------------------------------------------------------- concurrency -- */

#define THREADS 4
#define PER_THREAD 20000

static void *hammer(void *arg) {
  long t = (long)arg;
  char route[32];
  for (int i = 0; i < PER_THREAD; i++) {
    /* Every thread creates a few series of its own and shares one. */
    snprintf(route, sizeof route, "/conc/%ld/%d", t, i % 4);
    obs_http_observe(route, "GET", 200, 0.0003);
    obs_http_observe("/conc/shared", "GET", 200, 0.0003);
    obs_search_observe("vector", 0.001, 1);
  }
  return NULL;
}

static void test_concurrent_observations_are_all_counted(void) {
  char *page = render();
  double searches0 = sample_value(page, "akidb_search_queries_total{mode=\"vector\"}");
  free(page);
  pthread_t th[THREADS];
  for (long t = 0; t < THREADS; t++)
    ASSERT_EQ_INT(pthread_create(&th[t], NULL, hammer, (void *)t), 0);
  for (int t = 0; t < THREADS; t++) pthread_join(th[t], NULL);
  page = render();
  char line[256];
  snprintf(line, sizeof line,
           "akidb_http_requests_total{route=\"/conc/shared\",method=\"GET\",status=\"200\"} %d",
           THREADS * PER_THREAD);
  assert_line(page, line);
  snprintf(line, sizeof line,
           "akidb_http_request_duration_seconds_bucket{route=\"/conc/shared\",method=\"GET\","
           "status=\"200\",le=\"0.0005\"} %d",
           THREADS * PER_THREAD);
  assert_line(page, line);
  for (int t = 0; t < THREADS; t++)
    for (int k = 0; k < 4; k++) {
      snprintf(line, sizeof line,
               "akidb_http_requests_total{route=\"/conc/%d/%d\",method=\"GET\",status=\"200\"} %d",
               t, k, PER_THREAD / 4);
      assert_line(page, line);
    }
  ASSERT_EQ_INT(sample_value(page, "akidb_search_queries_total{mode=\"vector\"}") - searches0, THREADS * PER_THREAD);
  free(page);
}

/* ------------------------------------------------------------- promtool -- */

static void test_page_passes_promtool_check_metrics(void) {
  const char *promtool = NULL;
  if (access("/usr/bin/promtool", X_OK) == 0)
    promtool = "/usr/bin/promtool";
  else if (access("/usr/local/bin/promtool", X_OK) == 0)
    promtool = "/usr/local/bin/promtool";
  if (!promtool) {
    fprintf(stderr, "skip: promtool is not installed (apt-get install prometheus)\n");
    return;
  }
  obs_http_observe("/v1/tenants/{tenant}", "GET", 200, 0.0007);
  obs_buf_t b = {0};
  obs_metrics_render(&b);
  /* A labelled gauge family like the transport's per-collection figures. */
  obs_render_family(&b, "akidb_collection_points", "gauge", "Live points in the collection.");
  obs_render_sample(&b, "akidb_collection_points", 42, "tenant", "acme", "database", "d",
                    "collection", "c\"1", NULL);
  ASSERT_TRUE(!b.failed);
  char path[8192];
  tmpdir_path(path, sizeof path, "akidb-obs", "metrics.txt");
  FILE *f = fopen(path, "w");
  ASSERT_TRUE(f != NULL);
  ASSERT_EQ_U64(fwrite(b.data, 1, b.len, f), b.len);
  fclose(f);
  obs_buf_free(&b);
  char cmd[8300];
  snprintf(cmd, sizeof cmd, "%s check metrics < '%s' 2>&1", promtool, path);
  FILE *p = popen(cmd, "r");
  ASSERT_TRUE(p != NULL);
  char out[4096];
  size_t n = fread(out, 1, sizeof out - 1, p);
  out[n] = '\0';
  int status = pclose(p);
  if (status != 0 || n != 0) CHECK_FAIL("promtool check metrics (exit %d) said:\n%s", status, out);
}

CHECK_MAIN(CHECK_CASE(test_http_histogram_buckets_are_cumulative_with_sum_and_count),
           CHECK_CASE(test_label_sets_are_separate_series),
           CHECK_CASE(test_label_values_are_escaped),
           CHECK_CASE(test_unknown_methods_share_one_label),
           CHECK_CASE(test_search_upsert_quota_and_login_counters),
           CHECK_CASE(test_process_figures),
           CHECK_CASE(test_render_helpers_format_values_and_escape_help),
           CHECK_CASE(test_buffer_grows_past_its_first_allocation),
           CHECK_CASE(test_concurrent_observations_are_all_counted),
           CHECK_CASE(test_page_passes_promtool_check_metrics))
