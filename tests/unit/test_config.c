/*
 * test_config.c — the server configuration (src/config/): defaults; the
 * shipped config.example.toml equals them; --print-config output reads back
 * to the same settings; file < environment < flags; every class of error
 * (wrong type, out of range, unknown key or table, duplicate, unterminated
 * string, unsupported syntax, admin_password in the file, bad environment
 * variable, bad flag) names the line or the variable and the key; string
 * escapes, integers with separators, floats and booleans of the TOML subset;
 * the conversion to service and HTTP options.
 */
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "akidb/errors.h"
#include "akidb/index.h"
#include "check.h"
#include "config/config.h"
#include "tmpdir.h"

#define ERR_LEN 1024

static const char *const env_names[] = {
    "AKIDB_CONFIG",    "AKIDB_HOST",       "AKIDB_REST_PORT",      "AKIDB_DATA_DIR",
    "AKIDB_DB_PATH",   "AKIDB_LOG_LEVEL",  "AKIDB_LOG_FORMAT",     "AKIDB_ADMIN_PASSWORD",
    "AKIDB_DURABILITY", "AKIDB_S3_ENDPOINT", "AKIDB_S3_BUCKET", "AKIDB_S3_REGION",
    "AKIDB_S3_ACCESS_KEY", "AKIDB_S3_SECRET_KEY", "AKIDB_S3_SESSION_TOKEN", "AKIDB_OBJECT_STORE",
    "AKIDB_COLD_AFTER_S", "ENABLE_TRACING", "AKIDB_TRACING_ENDPOINT", "AKIDB_TRACING_SAMPLE_RATIO",
    NULL};

/* Every test starts without AKIDB_* variables, in an empty working directory
 * (so no stray ./config.toml is read). */
static void fresh_env(void) {
  for (int i = 0; env_names[i]; i++) unsetenv(env_names[i]);
  char dir[8192];
  tmpdir_path(dir, sizeof dir, "akidb-config", ".");
  if (chdir(dir) != 0) CHECK_FAIL("chdir %s failed", dir);
  unlink(CONFIG_DEFAULT_FILE);
}

/* Writes `text` to a file of the temporary directory; returns its path. */
static const char *write_file(const char *name, const char *text) {
  static char paths[8][8192];
  static int next;
  char *path = paths[next++ % 8];
  tmpdir_path(path, 8192, "akidb-config", name);
  FILE *f = fopen(path, "w");
  if (!f) CHECK_FAIL("cannot write %s", path);
  fputs(text, f);
  fclose(f);
  return path;
}

/* Parses `text` as "config.toml" over the defaults; returns the code. */
static int parse(config_t *c, const char *text, char *err) {
  config_default(c);
  err[0] = '\0';
  return config_parse_text(c, "config.toml", text, strlen(text), err, ERR_LEN);
}

/* Parsing `text` fails with AKIDB_EINVAL and a message holding each of the
 * NULL-terminated fragments. */
static void expect_parse_error(const char *text, ...) {
  config_t c;
  char err[ERR_LEN];
  int rc = parse(&c, text, err);
  if (rc != AKIDB_EINVAL) CHECK_FAIL("parsing <<%s>> returned %d (%s), expected EINVAL", text, rc, err);
  va_list ap;
  va_start(ap, text);
  for (const char *frag; (frag = va_arg(ap, const char *)) != NULL;) ASSERT_STR_CONTAINS(err, frag);
  va_end(ap);
}

/* config_load over argv (a NULL-terminated list after "serve"). */
static int load_args(config_t *c, config_cli_t *cli, char *err, const char **args) {
  char *argv[32];
  int argc = 0;
  argv[argc++] = (char *)"serve";
  for (int i = 0; args && args[i]; i++) argv[argc++] = (char *)args[i];
  argv[argc] = NULL;
  err[0] = '\0';
  return config_load(c, argc, argv, cli, err, ERR_LEN);
}

static void assert_same_settings(const config_t *a, const config_t *b) {
  config_t x = *a, y = *b;
  x.config_file[0] = y.config_file[0] = '\0';
  char *ta = config_to_toml(&x), *tb = config_to_toml(&y);
  ASSERT_TRUE(ta && tb);
  if (strcmp(ta, tb) != 0) CHECK_FAIL("settings differ:\n%s\n---- versus ----\n%s", ta, tb);
  free(ta);
  free(tb);
}

/* ------------------------------------------------------------ defaults -- */

static void test_config_defaults_are_the_documented_values(void) {
  config_t c;
  config_default(&c);
  ASSERT_TRUE(strcmp(c.host, "127.0.0.1") == 0);
  ASSERT_EQ_INT(c.rest_port, 8080);
  ASSERT_EQ_INT(c.threads, 0);
  ASSERT_EQ_INT(c.max_connections, 1024);
  ASSERT_EQ_INT(c.connection_timeout_s, 60);
  ASSERT_EQ_INT(c.shutdown_drain_ms, 10000);
  ASSERT_TRUE(c.tls_cert_file[0] == '\0' && c.tls_key_file[0] == '\0');
  ASSERT_TRUE(strcmp(c.data_dir, "./data") == 0);
  ASSERT_TRUE(c.db_path[0] == '\0');
  ASSERT_EQ_INT(c.durability, AKIDB_DURABILITY_FSYNC);
  ASSERT_EQ_INT(c.fsync_interval_ms, 100);
  ASSERT_EQ_INT(c.index_threads, 0);
  ASSERT_EQ_INT(c.worker_threads, 0);
  ASSERT_EQ_U64(c.memory_budget_bytes, 0);
  ASSERT_EQ_U64(c.max_pending_bytes, 268435456u);
  ASSERT_EQ_INT(c.backpressure_wait_ms, 1000);
  ASSERT_EQ_INT(c.warm_after_s, 600);
  ASSERT_EQ_INT(c.tier_check_ms, 1000);
  ASSERT_TRUE(strcmp(c.admin_username, "admin") == 0);
  ASSERT_EQ_INT(c.session_ttl_s, 43200);
  ASSERT_EQ_U64(c.limits.max_body_bytes, 67108864u);
  ASSERT_EQ_INT(c.limits.max_json_depth, 32);
  ASSERT_EQ_INT(c.limits.max_batch, 10000);
  ASSERT_EQ_INT(c.limits.max_k, 1000);
  ASSERT_EQ_INT(c.limits.max_ef, 10000);
  ASSERT_EQ_INT(c.limits.max_dimension, 65536);
  ASSERT_EQ_INT(c.limits.max_id_bytes, 256);
  ASSERT_EQ_INT(c.limits.max_filter_depth, 16);
  ASSERT_EQ_U64(c.limits.max_payload_bytes, 1048576u);
  ASSERT_EQ_INT(c.log_level, AKIDB_LOG_INFO);
  ASSERT_EQ_INT(c.log_format, OBS_LOG_TEXT);
  ASSERT_EQ_INT(c.audit_retention_days, 90);
  ASSERT_TRUE(c.admin_password[0] == '\0' && c.config_file[0] == '\0');
  char err[ERR_LEN] = "";
  ASSERT_OK(config_validate(&c, err, sizeof err));
}

static void test_config_example_file_equals_the_defaults(void) {
  fresh_env();
  char path[4096];
  snprintf(path, sizeof path, "%s", __FILE__);
  char *cut = strstr(path, "tests/unit/test_config.c");
  if (!cut) CHECK_FAIL("cannot find the repository from %s", __FILE__);
  strcpy(cut, "config.example.toml");
  config_t c, d;
  config_default(&c);
  config_default(&d);
  char err[ERR_LEN] = "";
  int rc = config_load_file(&c, path, err, sizeof err);
  if (rc) CHECK_FAIL("loading %s: %d %s", path, rc, err);
  ASSERT_TRUE(strcmp(c.config_file, path) == 0);
  assert_same_settings(&c, &d);
  /* Every key is in the example: changing each setting from the example's
   * text must be possible, i.e. the example names every key once. */
  size_t n;
  const config_setting_t *s = config_settings(&n);
  FILE *f = fopen(path, "r");
  ASSERT_TRUE(f != NULL);
  static char text[1 << 16];
  size_t len = fread(text, 1, sizeof text - 1, f);
  fclose(f);
  text[len] = '\0';
  for (size_t i = 0; i < n; i++) {
    char line[128];
    snprintf(line, sizeof line, "\n%s = ", s[i].key);
    if (!strstr(text, line)) CHECK_FAIL("config.example.toml lacks key %s.%s", s[i].table, s[i].key);
  }
}

static void test_config_print_config_reads_back_to_the_same_settings(void) {
  config_t c, back;
  char err[ERR_LEN];
  ASSERT_OK(parse(&c,
                  "[server]\nhost = \"0.0.0.0\"\nrest_port = 9999\nthreads = 3\n"
                  "tls_cert_file = \"/a \\\"b\\\"\\\\c\"\ntls_key_file = 'k'\n"
                  "[storage]\ndurability = \"interval\"\ndb_path = \"/x/y.db\"\n"
                  "[limits]\nmax_body_bytes = 4294967296\n[log]\nformat = \"json\"\n"
                  "level = \"debug\"\n[audit]\nretention_days = 0\n",
                  err));
  char *text = config_to_toml(&c);
  ASSERT_TRUE(text != NULL);
  ASSERT_STR_CONTAINS(text, "[server]\nhost = \"0.0.0.0\"\nrest_port = 9999\n");
  ASSERT_STR_CONTAINS(text, "durability = \"interval\"");
  ASSERT_STR_CONTAINS(text, "max_body_bytes = 4294967296");
  config_default(&back);
  int rc = config_parse_text(&back, "printed", text, strlen(text), err, sizeof err);
  if (rc) CHECK_FAIL("re-reading the printed configuration: %s\n%s", err, text);
  free(text);
  assert_same_settings(&c, &back);
  ASSERT_TRUE(strcmp(back.tls_cert_file, "/a \"b\"\\c") == 0);
}

static void test_config_print_config_never_shows_the_admin_password(void) {
  config_t c;
  config_default(&c);
  snprintf(c.admin_password, sizeof c.admin_password, "very-secret-password");
  char *text = config_to_toml(&c);
  ASSERT_TRUE(text != NULL);
  ASSERT_TRUE(strstr(text, "very-secret-password") == NULL);
  ASSERT_STR_CONTAINS(text, "set by AKIDB_ADMIN_PASSWORD");
  free(text);
}

/* ------------------------------------------------------------- layers -- */

static void test_config_file_then_env_then_flags_each_override(void) {
  fresh_env();
  const char *file = write_file("layers.toml",
                                "[server]\nhost = \"10.0.0.1\"\nrest_port = 9000\n"
                                "[storage]\ndata_dir = \"/from/file\"\ndurability = \"none\"\n"
                                "[log]\nlevel = \"warn\"\n");
  setenv("AKIDB_REST_PORT", "9100", 1);
  setenv("AKIDB_DATA_DIR", "/from/env", 1);
  setenv("AKIDB_LOG_LEVEL", "error", 1);
  config_t c;
  config_cli_t cli;
  char err[ERR_LEN];
  const char *args[] = {"--config", file, "--data-dir", "/from/flag", NULL};
  int rc = load_args(&c, &cli, err, args);
  if (rc) CHECK_FAIL("config_load: %d %s", rc, err);
  ASSERT_TRUE(strcmp(c.host, "10.0.0.1") == 0);      /* file only */
  ASSERT_EQ_INT(c.rest_port, 9100);                  /* env over file */
  ASSERT_TRUE(strcmp(c.data_dir, "/from/flag") == 0); /* flag over env over file */
  ASSERT_EQ_INT(c.durability, AKIDB_DURABILITY_NONE); /* file only */
  ASSERT_EQ_INT(c.log_level, AKIDB_LOG_ERROR);        /* env over file */
  ASSERT_EQ_INT(c.max_connections, 1024);             /* default */
  ASSERT_TRUE(strcmp(c.config_file, file) == 0);
  ASSERT_TRUE(!cli.help && !cli.print_config && !cli.print_routes);
}

static void test_config_file_comes_from_flag_else_env_else_working_directory(void) {
  fresh_env();
  const char *a = write_file("a.toml", "[server]\nrest_port = 1111\n");
  const char *b = write_file("b.toml", "[server]\nrest_port = 2222\n");
  write_file(CONFIG_DEFAULT_FILE, "[server]\nrest_port = 3333\n");
  config_t c;
  config_cli_t cli;
  char err[ERR_LEN];
  ASSERT_OK(load_args(&c, &cli, err, NULL));
  ASSERT_EQ_INT(c.rest_port, 3333);
  ASSERT_TRUE(strcmp(c.config_file, CONFIG_DEFAULT_FILE) == 0);
  setenv("AKIDB_CONFIG", b, 1);
  ASSERT_OK(load_args(&c, &cli, err, NULL));
  ASSERT_EQ_INT(c.rest_port, 2222);
  const char *args[] = {"--config=", NULL};
  char flag[4200];
  snprintf(flag, sizeof flag, "--config=%s", a);
  args[0] = flag;
  ASSERT_OK(load_args(&c, &cli, err, args));
  ASSERT_EQ_INT(c.rest_port, 1111);
  unlink(CONFIG_DEFAULT_FILE);
  unsetenv("AKIDB_CONFIG");
  ASSERT_OK(load_args(&c, &cli, err, NULL));
  ASSERT_EQ_INT(c.rest_port, 8080);
  ASSERT_TRUE(c.config_file[0] == '\0');
}

static void test_config_every_environment_variable_applies(void) {
  fresh_env();
  setenv("AKIDB_HOST", "0.0.0.0", 1);
  setenv("AKIDB_REST_PORT", "0", 1);
  setenv("AKIDB_DATA_DIR", "/srv/akidb", 1);
  setenv("AKIDB_DB_PATH", "/srv/catalog.db", 1);
  setenv("AKIDB_LOG_LEVEL", "DEBUG", 1);
  setenv("AKIDB_LOG_FORMAT", "json", 1);
  setenv("AKIDB_DURABILITY", "interval", 1);
  setenv("AKIDB_ADMIN_PASSWORD", "correct horse battery", 1);
  config_t c;
  config_cli_t cli;
  char err[ERR_LEN];
  int rc = load_args(&c, &cli, err, NULL);
  if (rc) CHECK_FAIL("config_load: %s", err);
  ASSERT_TRUE(strcmp(c.host, "0.0.0.0") == 0);
  ASSERT_EQ_INT(c.rest_port, 0);
  ASSERT_TRUE(strcmp(c.data_dir, "/srv/akidb") == 0);
  ASSERT_TRUE(strcmp(c.db_path, "/srv/catalog.db") == 0);
  ASSERT_EQ_INT(c.log_level, AKIDB_LOG_DEBUG);
  ASSERT_EQ_INT(c.log_format, OBS_LOG_JSON);
  ASSERT_EQ_INT(c.durability, AKIDB_DURABILITY_INTERVAL);
  ASSERT_TRUE(strcmp(c.admin_password, "correct horse battery") == 0);
  /* An empty variable counts as unset. */
  fresh_env();
  setenv("AKIDB_HOST", "", 1);
  setenv("AKIDB_ADMIN_PASSWORD", "", 1);
  ASSERT_OK(load_args(&c, &cli, err, NULL));
  ASSERT_TRUE(strcmp(c.host, "127.0.0.1") == 0);
  ASSERT_TRUE(c.admin_password[0] == '\0');
}

static void test_config_every_flag_applies_in_both_spellings(void) {
  fresh_env();
  config_t c;
  config_cli_t cli;
  char err[ERR_LEN];
  const char *args[] = {"--host",      "::1",         "--port=8443",        "--data-dir", "d",
                        "--db-path=x.db", "--log-level", "warn",            "--log-format=json",
                        "--durability", "none",       "--print-config",     NULL};
  int rc = load_args(&c, &cli, err, args);
  if (rc) CHECK_FAIL("config_load: %s", err);
  ASSERT_TRUE(strcmp(c.host, "::1") == 0);
  ASSERT_EQ_INT(c.rest_port, 8443);
  ASSERT_TRUE(strcmp(c.data_dir, "d") == 0);
  ASSERT_TRUE(strcmp(c.db_path, "x.db") == 0);
  ASSERT_EQ_INT(c.log_level, AKIDB_LOG_WARN);
  ASSERT_EQ_INT(c.log_format, OBS_LOG_JSON);
  ASSERT_EQ_INT(c.durability, AKIDB_DURABILITY_NONE);
  ASSERT_TRUE(cli.print_config && !cli.print_routes && !cli.help);
  const char *routes[] = {"--print-routes", NULL};
  ASSERT_OK(load_args(&c, &cli, err, routes));
  ASSERT_TRUE(cli.print_routes);
}

static void test_config_help_loads_nothing(void) {
  fresh_env();
  setenv("AKIDB_REST_PORT", "not-a-port", 1); /* would fail if read */
  config_t c;
  config_cli_t cli;
  char err[ERR_LEN];
  const char *args[] = {"--config", "/does/not/exist.toml", "-h", NULL};
  ASSERT_OK(load_args(&c, &cli, err, args));
  ASSERT_TRUE(cli.help);
}

/* ------------------------------------------------------------- errors -- */

static void test_config_wrong_type_names_line_key_and_value(void) {
  config_t c;
  char err[ERR_LEN];
  ASSERT_EQ_INT(parse(&c, "# comment\n\n[server]\nrest_port = \"abc\"\n", err), AKIDB_EINVAL);
  const char *want = "config.toml:4: key 'server.rest_port': expected an integer 0..65535, "
                     "got \"abc\"";
  if (strcmp(err, want) != 0) CHECK_FAIL("\"%s\" != \"%s\"", err, want);
  expect_parse_error("[server]\nhost = 8080\n", "config.toml:2:", "'server.host'",
                     "expected a string", "got 8080", NULL);
  expect_parse_error("[server]\nthreads = 1.5\n", "config.toml:2:", "'server.threads'",
                     "expected an integer 0..1024, got 1.5", NULL);
  expect_parse_error("[storage]\ndurability = true\n", "config.toml:2:", "'storage.durability'",
                     "one of \"fsync\", \"interval\", \"none\"", "got true", NULL);
  expect_parse_error("[storage]\ndurability = \"fsynk\"\n", "config.toml:2:",
                     "got \"fsynk\"", NULL);
  expect_parse_error("[log]\nlevel = \"verbose\"\n", "config.toml:2:", "'log.level'",
                     "\"debug\", \"info\", \"warn\", \"error\"", NULL);
  expect_parse_error("[auth]\nadmin_username = \"Admin\"\n", "config.toml:2:",
                     "'auth.admin_username'", "a-z 0-9", NULL);
  expect_parse_error("[server]\nhost = \"\"\n", "config.toml:2:", "'server.host'", "non-empty",
                     NULL);
}

static void test_config_out_of_range_names_the_range(void) {
  expect_parse_error("[server]\nrest_port = 65536\n", "config.toml:2:", "'server.rest_port'",
                     "0..65535", "got 65536", NULL);
  expect_parse_error("[server]\nrest_port = -1\n", "config.toml:2:", "got -1", NULL);
  expect_parse_error("[limits]\nmax_id_bytes = 257\n", "'limits.max_id_bytes'", "1..256", NULL);
  expect_parse_error("[limits]\nmax_dimension = 0\n", "'limits.max_dimension'", "1..65536",
                     NULL);
  expect_parse_error("[auth]\nsession_ttl_s = 10\n", "'auth.session_ttl_s'", "60..", NULL);
  expect_parse_error("[server]\nrest_port = 99999999999999999999\n", "config.toml:2:",
                     "does not fit in 64 bits", NULL);
}

/* limits.max_k, max_ef and max_dimension are bounded by the engine's own
 * constants (akidb/index.h), so the server never admits a request the index
 * refuses. */
static void test_config_search_limits_are_bounded_by_the_engine(void) {
  char text[128], range[64], got[64];
  snprintf(range, sizeof range, "1..%u", AKIDB_K_MAX);
  snprintf(got, sizeof got, "got %u", AKIDB_K_MAX + 1);
  snprintf(text, sizeof text, "[limits]\nmax_k = %u\n", AKIDB_K_MAX + 1);
  expect_parse_error(text, "config.toml:2:", "'limits.max_k'", range, got, NULL);
  expect_parse_error("[limits]\nmax_k = 100000\n", "'limits.max_k'", range, NULL);
  snprintf(range, sizeof range, "1..%u", AKIDB_HNSW_EF_SEARCH_MAX);
  snprintf(got, sizeof got, "got %u", AKIDB_HNSW_EF_SEARCH_MAX + 1);
  snprintf(text, sizeof text, "[limits]\nmax_ef = %u\n", AKIDB_HNSW_EF_SEARCH_MAX + 1);
  expect_parse_error(text, "config.toml:2:", "'limits.max_ef'", range, got, NULL);
  expect_parse_error("[limits]\nmax_ef = 1000000\n", "'limits.max_ef'", range, NULL);
  snprintf(range, sizeof range, "1..%u", AKIDB_DIM_MAX);
  snprintf(text, sizeof text, "[limits]\nmax_dimension = %u\n", AKIDB_DIM_MAX + 1);
  expect_parse_error(text, "'limits.max_dimension'", range, NULL);
  /* The engine's maxima themselves are admitted and pass the cross checks. */
  config_t c;
  char err[ERR_LEN];
  snprintf(text, sizeof text, "[limits]\nmax_k = %u\nmax_ef = %u\nmax_dimension = %u\n",
           AKIDB_K_MAX, AKIDB_HNSW_EF_SEARCH_MAX, AKIDB_DIM_MAX);
  ASSERT_OK(parse(&c, text, err));
  ASSERT_EQ_U64(c.limits.max_k, AKIDB_K_MAX);
  ASSERT_EQ_U64(c.limits.max_ef, AKIDB_HNSW_EF_SEARCH_MAX);
  ASSERT_EQ_U64(c.limits.max_dimension, AKIDB_DIM_MAX);
  ASSERT_OK(config_validate(&c, err, sizeof err));
}

static void test_config_unknown_key_names_line_and_suggests(void) {
  expect_parse_error("[server]\nhost = \"a\"\n\nrest_prot = 1\n",
                     "config.toml:4: unknown key 'server.rest_prot'; did you mean 'rest_port'?",
                     NULL);
  expect_parse_error("[server]\nport = 80\n",
                     "config.toml:2: unknown key 'server.port'; did you mean 'rest_port'?", NULL);
  expect_parse_error("[server]\nhots = \"h\"\n", "did you mean 'host'?", NULL);
  expect_parse_error("[server]\ndata_dir = \"x\"\n", "config.toml:2:", "'server.data_dir'",
                     "belongs under [storage]", NULL);
  expect_parse_error("[log]\ncolour = true\n", "config.toml:2:", "'log.colour'",
                     "the keys of [log] are level, format", NULL);
  expect_parse_error("data_dir = \"x\"\n", "config.toml:1:", "'data_dir'",
                     "belongs under [storage]", NULL);
}

static void test_config_unknown_table_names_line_and_suggests(void) {
  expect_parse_error("\n[sever]\nhost = \"x\"\n",
                     "config.toml:2: unknown table [sever]; did you mean [server]?", NULL);
  expect_parse_error("[grpc]\n", "config.toml:1:", "unknown table [grpc]", "[server]",
                     "[audit]", NULL);
}

static void test_config_duplicates_are_refused(void) {
  expect_parse_error("[server]\nrest_port = 1\nhost = \"h\"\nrest_port = 2\n",
                     "config.toml:4: key 'server.rest_port': set twice (first at line 2)", NULL);
  expect_parse_error("[server]\n[storage]\n[server]\n",
                     "config.toml:3: table [server] is defined twice (first at line 1)", NULL);
}

static void test_config_unterminated_strings_are_refused(void) {
  expect_parse_error("[server]\nhost = \"127.0.0.1\n", "config.toml:2:", "'server.host'",
                     "unterminated string", NULL);
  expect_parse_error("[server]\nhost = 'abc\n", "config.toml:2:", "unterminated string", NULL);
  expect_parse_error("[server]\nhost = \"abc\\\"\n", "config.toml:2:", "unterminated", NULL);
}

static void test_config_admin_password_in_file_is_refused(void) {
  expect_parse_error("[auth]\nadmin_username = \"root\"\nadmin_password = \"hunter2hunter2\"\n",
                     "config.toml:3:", "'auth.admin_password'", "AKIDB_ADMIN_PASSWORD", NULL);
}

static void test_config_unsupported_syntax_says_so(void) {
  expect_parse_error("[server]\nhost = [1, 2]\n", "config.toml:2:", "arrays are not supported",
                     NULL);
  expect_parse_error("[server]\nhost = {a = 1}\n", "config.toml:2:", "inline tables", NULL);
  expect_parse_error("[server]\nhost = \"\"\"x\"\"\"\n", "config.toml:2:", "multi-line", NULL);
  expect_parse_error("server.host = \"x\"\n", "config.toml:1:", "dotted keys", NULL);
  expect_parse_error("[server]\n\"host\" = \"x\"\n", "config.toml:2:", "quoted keys", NULL);
  expect_parse_error("[server]\nhost = localhost\n", "config.toml:2:", "'server.host'",
                     "quote strings: \"localhost\"", NULL);
  expect_parse_error("[server]\nhost \"x\"\n", "config.toml:2:", "expected '='", NULL);
  expect_parse_error("[server]\nhost =\n", "config.toml:2:", "missing value", NULL);
  expect_parse_error("[server]\nrest_port = 80 80\n", "config.toml:2:", "unexpected text", NULL);
  expect_parse_error("[[server]]\n", "config.toml:1:", "arrays of tables", NULL);
  expect_parse_error("[server\n", "config.toml:1:", "expected ']'", NULL);
  expect_parse_error("[server]\nrest_port = 0x50\n", "config.toml:2:", "only decimal", NULL);
  expect_parse_error("[server]\nrest_port = 08080\n", "config.toml:2:", "leading zeros", NULL);
  expect_parse_error("[server]\nrest_port = 8__080\n", "config.toml:2:", "not a number", NULL);
  expect_parse_error("[server]\nrest_port = 8080_\n", "config.toml:2:", "not a number", NULL);
  expect_parse_error("[server]\nhost = 1979-05-27\n", "config.toml:2:", "dates", NULL);
  expect_parse_error("[server]\nhost = \"a\\qb\"\n", "config.toml:2:", "invalid escape '\\q'",
                     NULL);
  expect_parse_error("[server]\nhost = \"\\uD800\"\n", "config.toml:2:", "not a Unicode scalar",
                     NULL);
  expect_parse_error("[server]\nhost = \"\\u12\"\n", "config.toml:2:", "4 hexadecimal", NULL);
  expect_parse_error("[server]\nhost = \"\\u0000\"\n", "config.toml:2:", "NUL", NULL);
  expect_parse_error("[server]\nhost = \"a\x01z\"\n", "config.toml:2:", "control character 0x01",
                     NULL);
}

static void test_config_bad_environment_variable_is_named(void) {
  config_t c;
  config_cli_t cli;
  char err[ERR_LEN];
  struct {
    const char *name, *value, *want;
  } cases[] = {
      {"AKIDB_REST_PORT", "abc", "expected an integer 0..65535, got \"abc\""},
      {"AKIDB_REST_PORT", "65536", "got \"65536\""},
      {"AKIDB_REST_PORT", "80x", "got \"80x\""},
      {"AKIDB_DURABILITY", "always", "one of \"fsync\", \"interval\", \"none\""},
      {"AKIDB_LOG_LEVEL", "trace", "got \"trace\""},
      {"AKIDB_LOG_FORMAT", "xml", "one of \"text\", \"json\""},
      {"AKIDB_HOST", "a b", "without spaces"},
      {"AKIDB_ADMIN_PASSWORD", "short", "12..1024 bytes"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    fresh_env();
    setenv(cases[i].name, cases[i].value, 1);
    ASSERT_EQ_INT(load_args(&c, &cli, err, NULL), AKIDB_EINVAL);
    char want[128];
    snprintf(want, sizeof want, "environment variable %s", cases[i].name);
    ASSERT_STR_CONTAINS(err, want);
    ASSERT_STR_CONTAINS(err, cases[i].want);
  }
  fresh_env();
}

static void test_config_bad_flags_are_named(void) {
  fresh_env();
  config_t c;
  config_cli_t cli;
  char err[ERR_LEN];
  const char *bad_port[] = {"--port", "http", NULL};
  ASSERT_EQ_INT(load_args(&c, &cli, err, bad_port), AKIDB_EINVAL);
  ASSERT_STR_CONTAINS(err, "flag --port (server.rest_port): expected an integer 0..65535, got "
                           "\"http\"");
  const char *typo[] = {"--prot", "80", NULL};
  ASSERT_EQ_INT(load_args(&c, &cli, err, typo), AKIDB_EINVAL);
  ASSERT_STR_CONTAINS(err, "unknown flag '--prot'; did you mean --port?");
  const char *missing[] = {"--data-dir", NULL};
  ASSERT_EQ_INT(load_args(&c, &cli, err, missing), AKIDB_EINVAL);
  ASSERT_STR_CONTAINS(err, "flag --data-dir needs a value");
  const char *stray[] = {"run", NULL};
  ASSERT_EQ_INT(load_args(&c, &cli, err, stray), AKIDB_EINVAL);
  ASSERT_STR_CONTAINS(err, "unexpected argument 'run'");
  const char *nofile[] = {"--config", "/no/such/akidb.toml", NULL};
  ASSERT_EQ_INT(load_args(&c, &cli, err, nofile), AKIDB_EIO);
  ASSERT_STR_CONTAINS(err, "cannot read config file '/no/such/akidb.toml'");
}

static void test_config_file_errors_carry_the_file_path(void) {
  fresh_env();
  const char *file = write_file("bad.toml", "[server]\nthreads = -3\n");
  config_t c;
  config_cli_t cli;
  char err[ERR_LEN];
  setenv("AKIDB_CONFIG", file, 1);
  ASSERT_EQ_INT(load_args(&c, &cli, err, NULL), AKIDB_EINVAL);
  char want[4200];
  snprintf(want, sizeof want, "%s:2: key 'server.threads': expected an integer 0..1024, got -3",
           file);
  ASSERT_STR_CONTAINS(err, want);
  fresh_env();
}

static void test_config_cross_checks_tls_pair_and_ef(void) {
  config_t c;
  char err[ERR_LEN];
  ASSERT_OK(parse(&c, "[server]\ntls_cert_file = \"/etc/cert.pem\"\n", err));
  ASSERT_EQ_INT(config_validate(&c, err, sizeof err), AKIDB_EINVAL);
  ASSERT_STR_CONTAINS(err, "must be set together (only tls_cert_file is set)");
  ASSERT_OK(parse(&c, "[limits]\nmax_k = 500\nmax_ef = 100\n", err));
  ASSERT_EQ_INT(config_validate(&c, err, sizeof err), AKIDB_EINVAL);
  ASSERT_STR_CONTAINS(err, "limits.max_ef (100) must be at least limits.max_k (500)");
}

static void test_config_tls_files_must_be_readable(void) {
  fresh_env();
  config_t c;
  config_default(&c);
  char err[ERR_LEN];
  const char *cert = write_file("cert.pem", "-----BEGIN CERTIFICATE-----\n");
  snprintf(c.tls_cert_file, sizeof c.tls_cert_file, "%s", cert);
  snprintf(c.tls_key_file, sizeof c.tls_key_file, "/no/such/key.pem");
  ASSERT_OK(config_validate(&c, err, sizeof err));
  ASSERT_EQ_INT(config_check_files(&c, err, sizeof err), AKIDB_EINVAL);
  ASSERT_STR_CONTAINS(err, "server.tls_key_file: cannot read '/no/such/key.pem'");
  snprintf(c.tls_key_file, sizeof c.tls_key_file, "%s", cert);
  ASSERT_OK(config_check_files(&c, err, sizeof err));
}

/* ------------------------------------------------------------ values --- */

static void test_config_string_escapes_decode(void) {
  config_t c;
  char err[ERR_LEN];
  ASSERT_OK(parse(&c,
                  "[server]\ntls_cert_file = \"q\\\"b\\\\n\\nt\\tu\\u00e9U\\U0001F600\"  # note\n"
                  "tls_key_file = 'C:\\keys\\k.pem'\n",
                  err));
  if (strcmp(c.tls_cert_file, "q\"b\\n\nt\tu\xC3\xA9U\xF0\x9F\x98\x80") != 0)
    CHECK_FAIL("decoded to [%s]", c.tls_cert_file);
  ASSERT_TRUE(strcmp(c.tls_key_file, "C:\\keys\\k.pem") == 0);
  ASSERT_OK(parse(&c, "[server]\nhost = \"a#b\" # a comment with \"quotes\"\n", err));
  ASSERT_TRUE(strcmp(c.host, "a#b") == 0);
  ASSERT_OK(parse(&c, "[server]\r\nhost = \"crlf\"\r\n", err));
  ASSERT_TRUE(strcmp(c.host, "crlf") == 0);
  ASSERT_OK(parse(&c, "\xEF\xBB\xBF[server]\n  host\t=\t'spaced'   \n", err));
  ASSERT_TRUE(strcmp(c.host, "spaced") == 0);
}

static void test_config_integers_accept_separators(void) {
  config_t c;
  char err[ERR_LEN];
  ASSERT_OK(parse(&c, "[limits]\nmax_batch = 20_000\nmax_body_bytes = +1_048_576\n"
                      "[audit]\nretention_days = 0\n", err));
  ASSERT_EQ_INT(c.limits.max_batch, 20000);
  ASSERT_EQ_U64(c.limits.max_body_bytes, 1048576u);
  ASSERT_EQ_INT(c.audit_retention_days, 0);
}

typedef struct {
  config_toml_value_t v[8];
  char keys[8][32];
  int n;
} recorded_t;

static int record(void *ctx, const char *table, const char *key, const config_toml_value_t *v,
                  int line, char *err, size_t errlen) {
  (void)table, (void)line, (void)err, (void)errlen;
  recorded_t *r = ctx;
  if (!key || r->n == 8) return AKIDB_OK;
  r->v[r->n] = *v;
  r->v[r->n].string = NULL; /* valid only during the call */
  snprintf(r->keys[r->n], sizeof r->keys[r->n], "%s", key);
  r->n++;
  return AKIDB_OK;
}

static void test_config_toml_floats_and_booleans_parse(void) {
  const char *text = "[t]\na = 0.5\nb = -1_000.25e-1\nc = 3E2\nd = true\ne = false\nf = inf\n"
                     "g = -9223372036854775808\nh = 9_223_372_036_854_775_807\n";
  recorded_t r;
  memset(&r, 0, sizeof r);
  char err[ERR_LEN] = "";
  int rc = config_toml_parse("t.toml", text, strlen(text), record, &r, err, sizeof err);
  if (rc) CHECK_FAIL("parse: %s", err);
  ASSERT_EQ_INT(r.n, 8);
  ASSERT_EQ_INT(r.v[0].type, CONFIG_TOML_FLOAT);
  ASSERT_NEAR(r.v[0].number, 0.5, 0);
  ASSERT_NEAR(r.v[1].number, -100.025, 1e-12);
  ASSERT_NEAR(r.v[2].number, 300.0, 0);
  ASSERT_EQ_INT(r.v[3].type, CONFIG_TOML_BOOL);
  ASSERT_TRUE(r.v[3].boolean && !r.v[4].boolean);
  ASSERT_TRUE(isinf(r.v[5].number) && r.v[5].number > 0);
  ASSERT_EQ_INT(r.v[6].type, CONFIG_TOML_INTEGER);
  ASSERT_TRUE(r.v[6].integer == INT64_MIN);
  ASSERT_TRUE(r.v[7].integer == INT64_MAX);
}

/* ----------------------------------------------------------- options --- */

static void test_config_converts_to_service_and_http_options(void) {
  config_t c;
  char err[ERR_LEN];
  ASSERT_OK(parse(&c,
                  "[server]\nhost = \"0.0.0.0\"\nrest_port = 9001\nthreads = 4\n"
                  "max_connections = 50\nconnection_timeout_s = 7\n"
                  "[storage]\ndata_dir = \"/d\"\ndurability = \"interval\"\n"
                  "fsync_interval_ms = 250\nindex_threads = 2\n"
                  "[auth]\nadmin_username = \"root\"\nsession_ttl_s = 3600\n"
                  "[limits]\nmax_k = 77\n[audit]\nretention_days = 5\n",
                  err));
  akidb_service_options_t so;
  config_service_options(&c, &so);
  ASSERT_TRUE(strcmp(so.data_dir, "/d") == 0);
  ASSERT_TRUE(so.db_path == NULL);
  ASSERT_TRUE(strcmp(so.admin_username, "root") == 0);
  ASSERT_TRUE(so.admin_password == NULL);
  ASSERT_EQ_INT(so.durability, AKIDB_DURABILITY_INTERVAL);
  ASSERT_EQ_INT(so.fsync_interval_ms, 250);
  ASSERT_EQ_INT(so.index_threads, 2);
  ASSERT_EQ_INT(so.session_ttl_ms, 3600000);
  ASSERT_EQ_INT(so.audit_retention_days, 5);
  ASSERT_EQ_INT(so.limits.max_k, 77);
  http_options_t ho;
  config_http_options(&c, &ho);
  ASSERT_TRUE(strcmp(ho.host, "0.0.0.0") == 0);
  ASSERT_EQ_INT(ho.port, 9001);
  ASSERT_EQ_INT(ho.threads, 4);
  ASSERT_EQ_INT(ho.max_connections, 50);
  ASSERT_EQ_INT(ho.connection_timeout_s, 7);
  ASSERT_TRUE(ho.tls_cert_file == NULL && ho.tls_key_file == NULL);
  ASSERT_EQ_INT(ho.limits.max_k, 77);
  /* The defaults agree with the service layer's own. */
  akidb_limits_t l;
  akidb_limits_default(&l);
  config_default(&c);
  ASSERT_TRUE(memcmp(&l, &c.limits, sizeof l) == 0);
}

/* -------------------------------------------------------- object store -- */

/* S3 is chosen by an endpoint (kind "auto"); it needs a bucket and both
 * keys, and each missing piece is named with where to set it. */
static void test_config_s3_needs_endpoint_bucket_and_keys(void) {
  fresh_env();
  config_t c;
  config_cli_t cli;
  char err[ERR_LEN];
  ASSERT_OK(load_args(&c, &cli, err, NULL));
  ASSERT_TRUE(!config_uses_s3(&c)); /* the default: a local directory */
  setenv("AKIDB_S3_ENDPOINT", "http://127.0.0.1:9000", 1);
  ASSERT_EQ_INT(load_args(&c, &cli, err, NULL), AKIDB_EINVAL);
  ASSERT_STR_CONTAINS(err, "object_store.bucket (AKIDB_S3_BUCKET)");
  setenv("AKIDB_S3_BUCKET", "vectors", 1);
  ASSERT_EQ_INT(load_args(&c, &cli, err, NULL), AKIDB_EINVAL);
  ASSERT_STR_CONTAINS(err, "AKIDB_S3_ACCESS_KEY");
  setenv("AKIDB_S3_ACCESS_KEY", "AKIDEXAMPLE", 1);
  ASSERT_EQ_INT(load_args(&c, &cli, err, NULL), AKIDB_EINVAL);
  ASSERT_STR_CONTAINS(err, "AKIDB_S3_SECRET_KEY or object_store.secret_key_file");
  setenv("AKIDB_S3_SECRET_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", 1);
  setenv("AKIDB_S3_REGION", "eu-west-3", 1);
  ASSERT_OK(load_args(&c, &cli, err, NULL));
  ASSERT_TRUE(config_uses_s3(&c));
  ASSERT_TRUE(strcmp(c.os_endpoint, "http://127.0.0.1:9000") == 0);
  ASSERT_TRUE(strcmp(c.os_bucket, "vectors") == 0 && strcmp(c.os_region, "eu-west-3") == 0);
  ASSERT_TRUE(strcmp(c.s3_access_key, "AKIDEXAMPLE") == 0);
  ASSERT_TRUE(strcmp(c.s3_secret_key, "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY") == 0);
  /* the effective configuration never shows a key */
  char *text = config_to_toml(&c);
  ASSERT_TRUE(text && !strstr(text, "wJalrXUtnFEMI") && !strstr(text, "AKIDEXAMPLE"));
  ASSERT_STR_CONTAINS(text, "S3 keys: set (never printed)");
  free(text);
  /* kind "local" ignores the endpoint */
  const char *local[] = {"--object-store", "local", NULL};
  unsetenv("AKIDB_S3_BUCKET");
  ASSERT_OK(load_args(&c, &cli, err, local));
  ASSERT_TRUE(!config_uses_s3(&c));
  fresh_env();
}

/* Credentials in the file are refused and point at the environment. */
static void test_config_s3_credentials_in_file_are_refused(void) {
  expect_parse_error("[object_store]\nsecret_key = \"abc\"\n", "config.toml:2:",
                     "'object_store.secret_key'", "AKIDB_S3_SECRET_KEY", NULL);
  expect_parse_error("[object_store]\naccess_key = \"abc\"\n", "'object_store.access_key'",
                     "AKIDB_S3_ACCESS_KEY", NULL);
}

/* The secret key may come from a file (its first line); the environment
 * wins over it; an unreadable or empty file is named. */
static void test_config_s3_secret_key_file(void) {
  fresh_env();
  const char *key = write_file("s3-secret", "from-the-file\nsecond line\n");
  char toml[9000];
  snprintf(toml, sizeof toml,
           "[object_store]\nkind = \"s3\"\nendpoint = \"https://s3.example.com\"\n"
           "bucket = \"b-1.x\"\nsecret_key_file = \"%s\"\n", key);
  const char *cfg = write_file("s3.toml", toml);
  const char *args[] = {"--config", cfg, NULL};
  config_t c;
  config_cli_t cli;
  char err[ERR_LEN];
  setenv("AKIDB_S3_ACCESS_KEY", "id", 1);
  ASSERT_OK(load_args(&c, &cli, err, args));
  ASSERT_TRUE(strcmp(c.s3_secret_key, "from-the-file") == 0);
  setenv("AKIDB_S3_SECRET_KEY", "from-env", 1);
  ASSERT_OK(load_args(&c, &cli, err, args));
  ASSERT_TRUE(strcmp(c.s3_secret_key, "from-env") == 0);
  unsetenv("AKIDB_S3_SECRET_KEY");
  write_file("s3-secret", "\n");
  ASSERT_EQ_INT(load_args(&c, &cli, err, args), AKIDB_EINVAL);
  ASSERT_STR_CONTAINS(err, "its first line must hold the secret key");
  fresh_env();
}

/* Endpoints, buckets and prefixes that cannot work are refused at load. */
static void test_config_object_store_values_are_checked(void) {
  expect_parse_error("[object_store]\nendpoint = \"s3.amazonaws.com\"\n",
                     "'object_store.endpoint'", "http:// or https://", NULL);
  expect_parse_error("[object_store]\nbucket = \"My_Bucket\"\n", "'object_store.bucket'",
                     "3..63 characters", NULL);
  expect_parse_error("[object_store]\nprefix = \"../up\"\n", "'object_store.prefix'", NULL);
  expect_parse_error("[object_store]\npart_size_bytes = 1048576\n",
                     "'object_store.part_size_bytes'", "5242880", NULL);
  expect_parse_error("[object_store]\nkind = \"gcs\"\n", "\"auto\", \"local\", \"s3\"", NULL);
}

/* ------------------------------------------------------------- tracing -- */

/* [tracing]: defaults, a bool, a ratio written as float or integer, the
 * tracer's options, and --print-config reading back exactly. */
static void test_config_tracing_section_reads_and_prints_back(void) {
  config_t c;
  config_default(&c);
  ASSERT_TRUE(!c.trace_enabled);
  ASSERT_STR_EQ(c.trace_endpoint, "http://127.0.0.1:4318");
  ASSERT_NEAR(c.trace_sample_ratio, 1.0, 0);
  ASSERT_EQ_INT(c.trace_queue_capacity, 2048);
  ASSERT_EQ_INT(c.trace_batch_max, 512);
  ASSERT_EQ_INT(c.trace_batch_delay_ms, 1000);
  ASSERT_EQ_INT(c.trace_export_timeout_ms, 5000);
  ASSERT_EQ_INT(c.trace_shutdown_timeout_ms, 2000);
  ASSERT_STR_EQ(c.trace_service_name, "akidb");
  char err[ERR_LEN];
  ASSERT_OK(parse(&c,
                  "[tracing]\nenabled = true\nendpoint = \"https://otel.example:4318/\"\n"
                  "sample_ratio = 0.1\nqueue_capacity = 100\nbatch_max = 100\n"
                  "service_name = \"akidb-edge\"\n",
                  err));
  ASSERT_OK(config_validate(&c, err, sizeof err));
  trace_config_t t;
  config_trace_options(&c, &t);
  ASSERT_TRUE(t.enabled);
  ASSERT_STR_EQ(t.endpoint, "https://otel.example:4318/");
  ASSERT_NEAR(t.sample_ratio, 0.1, 0);
  ASSERT_EQ_INT(t.queue_capacity, 100);
  ASSERT_EQ_INT(t.batch_max, 100);
  ASSERT_STR_EQ(t.service_name, "akidb-edge");
  ASSERT_OK(trace_config_validate(&t, err, sizeof err));
  char *text = config_to_toml(&c);
  ASSERT_TRUE(text != NULL);
  ASSERT_STR_CONTAINS(text, "[tracing]\nenabled = true\n");
  config_t back;
  config_default(&back);
  int rc = config_parse_text(&back, "printed", text, strlen(text), err, sizeof err);
  if (rc) CHECK_FAIL("re-reading the printed configuration: %s\n%s", err, text);
  free(text);
  assert_same_settings(&c, &back);
  ASSERT_TRUE(back.trace_sample_ratio == 0.1);
  ASSERT_OK(parse(&c, "[tracing]\nsample_ratio = 0\n", err)); /* an integer is a ratio too */
  ASSERT_NEAR(c.trace_sample_ratio, 0.0, 0);
  text = config_to_toml(&c);
  ASSERT_STR_CONTAINS(text, "sample_ratio = 0.0\n");
  free(text);
}

/* ENABLE_TRACING=true or 1 turns tracing on; the variables are checked. */
static void test_config_enable_tracing_environment(void) {
  const char *on[] = {"1", "true", "TRUE", "yes"};
  config_t c;
  config_cli_t cli;
  char err[ERR_LEN];
  for (int i = 0; i < 4; i++) {
    fresh_env();
    setenv("ENABLE_TRACING", on[i], 1);
    ASSERT_OK(load_args(&c, &cli, err, NULL));
    ASSERT_TRUE(c.trace_enabled);
  }
  fresh_env();
  write_file(CONFIG_DEFAULT_FILE, "[tracing]\nenabled = true\n");
  setenv("ENABLE_TRACING", "0", 1);
  setenv("AKIDB_TRACING_SAMPLE_RATIO", "0.5", 1);
  setenv("AKIDB_TRACING_ENDPOINT", "http://collector:4318", 1);
  char cwd_file[8192];
  tmpdir_path(cwd_file, sizeof cwd_file, "akidb-config", CONFIG_DEFAULT_FILE);
  const char *args[] = {"--config", cwd_file, NULL};
  ASSERT_OK(load_args(&c, &cli, err, args));
  ASSERT_TRUE(!c.trace_enabled); /* the environment overrides the file */
  ASSERT_NEAR(c.trace_sample_ratio, 0.5, 0);
  ASSERT_STR_EQ(c.trace_endpoint, "http://collector:4318");
  fresh_env();
  setenv("ENABLE_TRACING", "maybe", 1);
  ASSERT_EQ_INT(load_args(&c, &cli, err, NULL), AKIDB_EINVAL);
  ASSERT_STR_CONTAINS(err, "ENABLE_TRACING");
  ASSERT_STR_CONTAINS(err, "true or false");
  fresh_env();
  setenv("AKIDB_TRACING_SAMPLE_RATIO", "2", 1);
  ASSERT_EQ_INT(load_args(&c, &cli, err, NULL), AKIDB_EINVAL);
  ASSERT_STR_CONTAINS(err, "AKIDB_TRACING_SAMPLE_RATIO");
  ASSERT_STR_CONTAINS(err, "0..1");
  fresh_env();
}

static void test_config_tracing_values_are_checked(void) {
  expect_parse_error("[tracing]\nenabled = \"yes\"\n", "'tracing.enabled'", "true or false",
                     NULL);
  expect_parse_error("[tracing]\nsample_ratio = 1.5\n", "'tracing.sample_ratio'", "0..1", NULL);
  expect_parse_error("[tracing]\nsample_ratio = nan\n", "'tracing.sample_ratio'", NULL);
  expect_parse_error("[tracing]\nendpoint = \"collector:4318\"\n", "'tracing.endpoint'",
                     "http:// or https://", NULL);
  expect_parse_error("[tracing]\nendpoint = \"\"\n", "'tracing.endpoint'", NULL);
  expect_parse_error("[tracing]\nendpoint = \"http://c:4318/?x=1\"\n", "'tracing.endpoint'",
                     NULL);
  expect_parse_error("[tracing]\nqueue_capacity = 0\n", "'tracing.queue_capacity'", "1..", NULL);
  expect_parse_error("[tracing]\nexport_timeout_ms = 5\n", "'tracing.export_timeout_ms'",
                     "10..", NULL);
  expect_parse_error("[tracing]\nservice_name = \"\"\n", "'tracing.service_name'", NULL);
  config_t c;
  char err[ERR_LEN];
  ASSERT_OK(parse(&c, "[tracing]\nqueue_capacity = 100\nbatch_max = 200\n", err));
  ASSERT_EQ_INT(config_validate(&c, err, sizeof err), AKIDB_EINVAL);
  ASSERT_STR_CONTAINS(err, "tracing.batch_max (200) must be at most tracing.queue_capacity (100)");
}

CHECK_MAIN(CHECK_CASE(test_config_defaults_are_the_documented_values),
           CHECK_CASE(test_config_example_file_equals_the_defaults),
           CHECK_CASE(test_config_print_config_reads_back_to_the_same_settings),
           CHECK_CASE(test_config_print_config_never_shows_the_admin_password),
           CHECK_CASE(test_config_file_then_env_then_flags_each_override),
           CHECK_CASE(test_config_file_comes_from_flag_else_env_else_working_directory),
           CHECK_CASE(test_config_every_environment_variable_applies),
           CHECK_CASE(test_config_every_flag_applies_in_both_spellings),
           CHECK_CASE(test_config_help_loads_nothing),
           CHECK_CASE(test_config_wrong_type_names_line_key_and_value),
           CHECK_CASE(test_config_out_of_range_names_the_range),
           CHECK_CASE(test_config_search_limits_are_bounded_by_the_engine),
           CHECK_CASE(test_config_unknown_key_names_line_and_suggests),
           CHECK_CASE(test_config_unknown_table_names_line_and_suggests),
           CHECK_CASE(test_config_duplicates_are_refused),
           CHECK_CASE(test_config_unterminated_strings_are_refused),
           CHECK_CASE(test_config_admin_password_in_file_is_refused),
           CHECK_CASE(test_config_unsupported_syntax_says_so),
           CHECK_CASE(test_config_bad_environment_variable_is_named),
           CHECK_CASE(test_config_bad_flags_are_named),
           CHECK_CASE(test_config_file_errors_carry_the_file_path),
           CHECK_CASE(test_config_cross_checks_tls_pair_and_ef),
           CHECK_CASE(test_config_tls_files_must_be_readable),
           CHECK_CASE(test_config_string_escapes_decode),
           CHECK_CASE(test_config_integers_accept_separators),
           CHECK_CASE(test_config_toml_floats_and_booleans_parse),
           CHECK_CASE(test_config_converts_to_service_and_http_options),
           CHECK_CASE(test_config_s3_needs_endpoint_bucket_and_keys),
           CHECK_CASE(test_config_s3_credentials_in_file_are_refused),
           CHECK_CASE(test_config_s3_secret_key_file),
           CHECK_CASE(test_config_object_store_values_are_checked),
           CHECK_CASE(test_config_tracing_section_reads_and_prints_back),
           CHECK_CASE(test_config_enable_tracing_environment),
           CHECK_CASE(test_config_tracing_values_are_checked))
