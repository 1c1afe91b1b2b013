/*
 * test_obs_log.c — the structured log (src/obs/log.c): text lines are
 * "<time> level=<l> msg=\"...\" k=v" with quoting and escapes where needed;
 * JSON lines parse (jansson) with "time", "level", "msg" and the pairs, also
 * for quotes, newlines, control bytes and invalid UTF-8; request lines carry
 * every field (status and duration as numbers in JSON); the level threshold
 * drops what is below it; concurrent threads never interleave lines.
 * stderr is captured by dup2 onto a temporary file.
 */
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "akidb/errors.h"
#include "check.h"
#include "obs/log.h"
#include "tmpdir.h"

/* ------------------------------------------------------------ capture -- */

static int saved_stderr = -1;
static char capture_path[8192];

static void capture_begin(void) {
  fflush(stderr);
  tmpdir_path(capture_path, sizeof capture_path, "akidb-log", "stderr.txt");
  int fd = open(capture_path, O_RDWR | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) CHECK_FAIL("cannot open %s", capture_path);
  saved_stderr = dup(STDERR_FILENO);
  if (saved_stderr < 0 || dup2(fd, STDERR_FILENO) < 0) CHECK_FAIL("dup2 failed");
  close(fd);
}

/* Restores stderr; returns what was written meanwhile (malloc'ed). */
static char *capture_end(void) {
  fflush(stderr);
  dup2(saved_stderr, STDERR_FILENO);
  close(saved_stderr);
  FILE *f = fopen(capture_path, "rb");
  if (!f) CHECK_FAIL("cannot read %s", capture_path);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *text = malloc((size_t)n + 1);
  if (!text) CHECK_FAIL("out of memory");
  size_t got = fread(text, 1, (size_t)n, f);
  text[got] = '\0';
  fclose(f);
  return text;
}

/* "2026-11-21T10:00:00.123Z": 24 characters of digits and fixed separators. */
static void assert_timestamp(const char *s) {
  const char *shape = "dddd-dd-ddTdd:dd:dd.dddZ";
  for (size_t i = 0; shape[i]; i++) {
    bool ok = shape[i] == 'd' ? (s[i] >= '0' && s[i] <= '9') : s[i] == shape[i];
    if (!ok) CHECK_FAIL("timestamp \"%.24s\" does not match %s at %zu", s, shape, i);
  }
}

static void assert_eq_str(const char *got, const char *want) {
  if (!got || strcmp(got, want) != 0)
    CHECK_FAIL("\"%s\" != \"%s\"", got ? got : "(null)", want);
}

/* Parses one JSON line (without its '\n'). */
static json_t *parse_line(const char *line, size_t len) {
  json_error_t je;
  json_t *j = json_loadb(line, len, 0, &je);
  if (!j || !json_is_object(j)) CHECK_FAIL("not a JSON object (%s): %.*s", je.text, (int)len, line);
  return j;
}

static const char *member(json_t *j, const char *key) {
  json_t *v = json_object_get(j, key);
  if (!v) CHECK_FAIL("member \"%s\" missing", key);
  if (!json_is_string(v)) CHECK_FAIL("member \"%s\" is not a string", key);
  return json_string_value(v);
}

/* -------------------------------------------------------------- text --- */

static void test_obs_log_text_line_has_time_level_msg_and_pairs(void) {
  obs_log_setup(OBS_LOG_TEXT, AKIDB_LOG_INFO);
  capture_begin();
  obs_log(AKIDB_LOG_INFO, "listening", "addr", "127.0.0.1:8080", NULL);
  char *out = capture_end();
  assert_timestamp(out);
  assert_eq_str(out + 24, " level=info msg=\"listening\" addr=127.0.0.1:8080\n");
  free(out);
}

static void test_obs_log_text_quotes_and_escapes_values(void) {
  obs_log_setup(OBS_LOG_TEXT, AKIDB_LOG_DEBUG);
  capture_begin();
  obs_log(AKIDB_LOG_WARN, "say \"hi\"\nthere", "a", "two words", "b", "", "c", "x=y", "d",
          "back\\slash", "e", "tab\there", "f", "bell\x07", "g", "bad\xFFutf8", "h", "caf\xC3\xA9",
          "i", NULL, NULL);
  char *out = capture_end();
  assert_timestamp(out);
  assert_eq_str(out + 24,
                " level=warn msg=\"say \\\"hi\\\"\\nthere\" a=\"two words\" b=\"\" c=\"x=y\" "
                "d=\"back\\\\slash\" e=\"tab\\there\" f=\"bell\\x07\" g=\"bad\\xFFutf8\" "
                "h=caf\xC3\xA9 i=\"\"\n");
  free(out);
}

/* -------------------------------------------------------------- json --- */

static void test_obs_log_json_line_parses_with_every_field(void) {
  obs_log_setup(OBS_LOG_JSON, AKIDB_LOG_INFO);
  capture_begin();
  obs_log(AKIDB_LOG_ERROR, "listening", "addr", "127.0.0.1:8080", "url", "http://x/", NULL);
  char *out = capture_end();
  size_t len = strlen(out);
  ASSERT_TRUE(len > 0 && out[len - 1] == '\n');
  ASSERT_TRUE(strchr(out, '\n') == out + len - 1); /* exactly one line */
  json_t *j = parse_line(out, len - 1);
  assert_timestamp(member(j, "time"));
  ASSERT_EQ_INT(strlen(member(j, "time")), 24);
  assert_eq_str(member(j, "level"), "error");
  assert_eq_str(member(j, "msg"), "listening");
  assert_eq_str(member(j, "addr"), "127.0.0.1:8080");
  assert_eq_str(member(j, "url"), "http://x/");
  ASSERT_EQ_INT(json_object_size(j), 5);
  ASSERT_TRUE(strncmp(out, "{\"time\":", 8) == 0); /* time, level, msg come first */
  json_decref(j);
  free(out);
}

static void test_obs_log_json_escapes_quotes_newlines_and_bad_utf8(void) {
  obs_log_setup(OBS_LOG_JSON, AKIDB_LOG_INFO);
  capture_begin();
  obs_log(AKIDB_LOG_INFO, "line one\nline \"two\"", "path", "C:\\dir\t\x01\x1f", "bad",
          "a\xC0\xAFz\xED\xA0\x80!", "ok", "\xE2\x82\xAC", "we\"ird key", "v", NULL);
  char *out = capture_end();
  size_t len = strlen(out);
  ASSERT_TRUE(strchr(out, '\n') == out + len - 1);
  json_t *j = parse_line(out, len - 1);
  assert_eq_str(member(j, "msg"), "line one\nline \"two\"");
  assert_eq_str(member(j, "path"), "C:\\dir\t\x01\x1f");
  assert_eq_str(member(j, "bad"), "a\xEF\xBF\xBD\xEF\xBF\xBDz\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD!");
  assert_eq_str(member(j, "ok"), "\xE2\x82\xAC");
  assert_eq_str(member(j, "we_ird_key"), "v");
  json_decref(j);
  free(out);
}

static void test_obs_log_request_lines_carry_every_field(void) {
  obs_log_setup(OBS_LOG_JSON, AKIDB_LOG_INFO);
  capture_begin();
  obs_log_request("req-1", "POST", "/v1/tenants/{tenant}/databases", "/v1/tenants/acme/databases",
                  201, 1.2345, "acme");
  char *out = capture_end();
  json_t *j = parse_line(out, strlen(out) - 1);
  assert_eq_str(member(j, "msg"), "request");
  assert_eq_str(member(j, "level"), "info");
  assert_eq_str(member(j, "request_id"), "req-1");
  assert_eq_str(member(j, "method"), "POST");
  assert_eq_str(member(j, "route"), "/v1/tenants/{tenant}/databases");
  assert_eq_str(member(j, "path"), "/v1/tenants/acme/databases");
  assert_eq_str(member(j, "tenant"), "acme");
  json_t *status = json_object_get(j, "status"), *dur = json_object_get(j, "duration_ms");
  ASSERT_TRUE(json_is_integer(status));
  ASSERT_EQ_INT(json_integer_value(status), 201);
  ASSERT_TRUE(json_is_number(dur));
  ASSERT_NEAR(json_number_value(dur), 1.2345, 0.001);
  json_decref(j);
  free(out);

  obs_log_setup(OBS_LOG_TEXT, AKIDB_LOG_INFO);
  capture_begin();
  obs_log_request("req-2", "GET", "/health", "/health", 200, 0.5, "");
  obs_log_request("req-3", "GET", "/v1/x", "/v1/x", 500, 2, NULL);
  out = capture_end();
  char *second = strchr(out, '\n');
  ASSERT_TRUE(second != NULL);
  *second++ = '\0';
  assert_eq_str(out + 24, " level=info msg=\"request\" request_id=req-2 method=GET route=/health "
                          "path=/health status=200 duration_ms=0.500 tenant=\"\"");
  assert_eq_str(second + 24, " level=error msg=\"request\" request_id=req-3 method=GET "
                             "route=/v1/x path=/v1/x status=500 duration_ms=2.000 tenant=\"\"\n");
  free(out);
}

static void test_obs_log_long_values_are_cut_but_lines_stay_valid(void) {
  obs_log_setup(OBS_LOG_JSON, AKIDB_LOG_INFO);
  size_t n = 100000;
  char *big = malloc(n + 1);
  ASSERT_TRUE(big != NULL);
  memset(big, '"', n);
  big[n] = '\0';
  capture_begin();
  obs_log(AKIDB_LOG_INFO, "big", "v", big, NULL);
  char *out = capture_end();
  json_t *j = parse_line(out, strlen(out) - 1);
  const char *v = member(j, "v");
  ASSERT_EQ_INT(strlen(v), 16384 + 3);
  ASSERT_TRUE(strcmp(v + 16384, "...") == 0);
  json_decref(j);
  free(out);
  free(big);
}

/* ---------------------------------------------------------- threshold -- */

static void test_obs_log_level_threshold_drops_lower_levels(void) {
  obs_log_setup(OBS_LOG_TEXT, AKIDB_LOG_WARN);
  capture_begin();
  obs_log(AKIDB_LOG_DEBUG, "d", NULL);
  obs_log(AKIDB_LOG_INFO, "i", NULL);
  obs_log_request("r", "GET", "/health", "/health", 200, 1, "");
  obs_log_sink(NULL, AKIDB_LOG_INFO, "sink-info");
  obs_log(AKIDB_LOG_WARN, "w", NULL);
  obs_log_sink(NULL, AKIDB_LOG_ERROR, "sink-error");
  char *out = capture_end();
  ASSERT_TRUE(strstr(out, "msg=\"d\"") == NULL);
  ASSERT_TRUE(strstr(out, "msg=\"i\"") == NULL);
  ASSERT_TRUE(strstr(out, "request") == NULL);
  ASSERT_TRUE(strstr(out, "sink-info") == NULL);
  ASSERT_STR_CONTAINS(out, " level=warn msg=\"w\"\n");
  ASSERT_STR_CONTAINS(out, " level=error msg=\"sink-error\"\n");
  free(out);

  obs_log_setup(OBS_LOG_TEXT, AKIDB_LOG_DEBUG);
  capture_begin();
  obs_log(AKIDB_LOG_DEBUG, "d", NULL);
  out = capture_end();
  ASSERT_STR_CONTAINS(out, " level=debug msg=\"d\"\n");
  free(out);
  obs_log_setup(OBS_LOG_TEXT, AKIDB_LOG_INFO);
}

static void test_obs_log_parses_level_and_format_names(void) {
  akidb_log_level_t l;
  obs_log_format_t f;
  const char *levels[] = {"debug", "info", "warn", "error"};
  for (int i = 0; i < 4; i++) {
    ASSERT_OK(obs_log_level_parse(levels[i], &l));
    ASSERT_EQ_INT(l, i);
  }
  ASSERT_OK(obs_log_level_parse("WARN", &l));
  ASSERT_EQ_INT(l, AKIDB_LOG_WARN);
  ASSERT_EQ_INT(obs_log_level_parse("verbose", &l), AKIDB_EINVAL);
  ASSERT_EQ_INT(obs_log_level_parse(NULL, &l), AKIDB_EINVAL);
  ASSERT_OK(obs_log_format_parse("json", &f));
  ASSERT_EQ_INT(f, OBS_LOG_JSON);
  ASSERT_OK(obs_log_format_parse("text", &f));
  ASSERT_EQ_INT(f, OBS_LOG_TEXT);
  ASSERT_EQ_INT(obs_log_format_parse("xml", &f), AKIDB_EINVAL);
}

/* -------------------------------------------------------- concurrency -- */

#define THREADS 4
#define LINES 300

static void *log_lines(void *arg) {
  char who[16], pad[600];
  snprintf(who, sizeof who, "%d", (int)(intptr_t)arg);
  memset(pad, 'a' + (int)(intptr_t)arg, sizeof pad - 1);
  pad[sizeof pad - 1] = '\0';
  for (int i = 0; i < LINES; i++) obs_log(AKIDB_LOG_INFO, "tick", "thread", who, "pad", pad, NULL);
  return NULL;
}

static void test_obs_log_concurrent_lines_never_interleave(void) {
  obs_log_setup(OBS_LOG_JSON, AKIDB_LOG_INFO);
  capture_begin();
  pthread_t t[THREADS];
  for (int i = 0; i < THREADS; i++)
    if (pthread_create(&t[i], NULL, log_lines, (void *)(intptr_t)i) != 0) CHECK_FAIL("pthread_create");
  for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
  char *out = capture_end();
  int per_thread[THREADS] = {0};
  int lines = 0;
  for (char *line = out, *nl; (nl = strchr(line, '\n')) != NULL; line = nl + 1) {
    json_t *j = parse_line(line, (size_t)(nl - line));
    int who = atoi(member(j, "thread"));
    ASSERT_TRUE(who >= 0 && who < THREADS);
    const char *pad = member(j, "pad");
    ASSERT_EQ_INT(strlen(pad), 599);
    ASSERT_EQ_INT(pad[0], 'a' + who);
    ASSERT_EQ_INT(pad[598], 'a' + who);
    per_thread[who]++;
    lines++;
    json_decref(j);
  }
  ASSERT_EQ_INT(lines, THREADS * LINES);
  for (int i = 0; i < THREADS; i++) ASSERT_EQ_INT(per_thread[i], LINES);
  free(out);
  obs_log_setup(OBS_LOG_TEXT, AKIDB_LOG_INFO);
}

CHECK_MAIN(CHECK_CASE(test_obs_log_text_line_has_time_level_msg_and_pairs),
           CHECK_CASE(test_obs_log_text_quotes_and_escapes_values),
           CHECK_CASE(test_obs_log_json_line_parses_with_every_field),
           CHECK_CASE(test_obs_log_json_escapes_quotes_newlines_and_bad_utf8),
           CHECK_CASE(test_obs_log_request_lines_carry_every_field),
           CHECK_CASE(test_obs_log_long_values_are_cut_but_lines_stay_valid),
           CHECK_CASE(test_obs_log_level_threshold_drops_lower_levels),
           CHECK_CASE(test_obs_log_parses_level_and_format_names),
           CHECK_CASE(test_obs_log_concurrent_lines_never_interleave))
