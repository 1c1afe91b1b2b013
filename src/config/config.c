/*
 * config.c — owns the settings of `akidb serve`: the table of every key
 * (its table, field, range or choices, environment variable and flag), the
 * defaults, setting one key from a TOML value or from text with a message
 * that says what to write instead, the checks that span several keys, and
 * the effective configuration rendered back as TOML.
 *
 * Locking: none; a config_t belongs to its caller.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "akidb/errors.h"
#include "akidb/objstore.h" /* the object store's bounds */
#include "akidb/index.h" /* the engine's bounds: AKIDB_K_MAX, AKIDB_HNSW_EF_SEARCH_MAX, ... */
#include "akidb/pool.h"
#include "config/config.h"

_Static_assert(sizeof(akidb_durability_t) == sizeof(int), "enum fields are stored as int");
_Static_assert(sizeof(akidb_log_level_t) == sizeof(int), "enum fields are stored as int");
_Static_assert(sizeof(obs_log_format_t) == sizeof(int), "enum fields are stored as int");

/* Names in enum order (akidb_durability_t, akidb_log_level_t, obs_log_format_t). */
static const char *const durability_names[] = {"fsync", "interval", "none", NULL};
static const char *const level_names[] = {"debug", "info", "warn", "error", NULL};
static const char *const format_names[] = {"text", "json", NULL};
static const char *const os_kind_names[] = {"auto", "local", "s3", NULL};
static const char *const addressing_names[] = {"path", "virtual", NULL};

static const char *const tables[] = {"server", "storage", "tiering", "object_store", "auth",
                                     "limits", "log", "audit", "embedding", "tracing",
                                     "metrics", NULL};

/* ---------------------------------------------------- string rules -- */

static bool not_empty(const char *s) { return s[0] != '\0'; }

/* A listen address: not empty, no white space. */
static bool host_ok(const char *s) {
  if (!s[0]) return false;
  for (; *s; s++)
    if (*s == ' ' || *s == '\t' || (unsigned char)*s < 0x20) return false;
  return true;
}

/* [a-z0-9][a-z0-9._@-]{0,63}: the catalog's username rule. */
static bool username_ok(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n > CONFIG_USERNAME_MAX) return false;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '@' && c != '-'))) return false;
  }
  return true;
}

/* "" or an http:// or https:// URL without spaces. */
static bool endpoint_ok(const char *s) {
  if (!s[0]) return true;
  if (strncmp(s, "http://", 7) != 0 && strncmp(s, "https://", 8) != 0) return false;
  const char *host = s + (s[4] == 's' ? 8 : 7);
  if (!host[0] || host[0] == '/') return false;
  for (; *s; s++)
    if ((unsigned char)*s <= 0x20 || *s == 0x7F) return false;
  return true;
}

/* A collector URL: endpoint_ok, not empty, without a query or fragment. */
static bool trace_endpoint_ok(const char *s) {
  return s[0] && endpoint_ok(s) && !strpbrk(s, "?#");
}

/* "" or comma-separated endpoint_ok URLs. */
static bool urls_ok(const char *s) {
  char one[CONFIG_URL_MAX + 1];
  while (*s) {
    while (*s == ',' || *s == ' ') s++;
    size_t n = strcspn(s, ", ");
    if (!n) break;
    if (n > CONFIG_URL_MAX) return false;
    memcpy(one, s, n);
    one[n] = '\0';
    if (!endpoint_ok(one)) return false;
    s += n;
  }
  return true;
}

/* "" or 3..63 of a-z 0-9 . -, starting and ending with a letter or digit. */
static bool bucket_ok(const char *s) {
  size_t n = strlen(s);
  if (n == 0) return true;
  if (n < 3 || n > CONFIG_BUCKET_MAX || s[0] == '.' || s[0] == '-' || s[n - 1] == '.' ||
      s[n - 1] == '-')
    return false;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-')) return false;
  }
  return true;
}

/* A region: 1..63 of a-z 0-9 -. */
static bool region_ok(const char *s) {
  if (!s[0]) return false;
  for (; *s; s++)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-')) return false;
  return true;
}

/* A key prefix: printable, no leading '/', no "..", no empty segment. */
static bool prefix_ok(const char *s) {
  if (s[0] == '/') return false;
  if (strstr(s, "..") || strstr(s, "//")) return false;
  for (; *s; s++)
    if ((unsigned char)*s < 0x20 || *s == 0x7F || *s == '\\') return false;
  return true;
}

/* ----------------------------------------------------------- table --- */

#define FIELD(f) offsetof(config_t, f), sizeof(((config_t *)0)->f)
#define STR(t, k, f, chk, rule, env, flag) \
  {t, k, CONFIG_KIND_STRING, FIELD(f), 0, 0, NULL, chk, rule, env, flag}
#define UINT(t, k, f, lo, hi, env, flag) \
  {t, k, CONFIG_KIND_UINT, FIELD(f), lo, hi, NULL, NULL, NULL, env, flag}
#define CHOICE(t, k, f, names, env, flag) \
  {t, k, CONFIG_KIND_CHOICE, FIELD(f), 0, 0, names, NULL, NULL, env, flag}
#define BOOL(t, k, f, env, flag) {t, k, CONFIG_KIND_BOOL, FIELD(f), 0, 1, NULL, NULL, NULL, env, flag}
#define RATIO(t, k, f, env, flag) \
  {t, k, CONFIG_KIND_RATIO, FIELD(f), 0, 1, NULL, NULL, NULL, env, flag}

static const config_setting_t settings[] = {
    STR("server", "host", host, host_ok, "a non-empty address without spaces", "AKIDB_HOST",
        "--host"),
    UINT("server", "rest_port", rest_port, 0, 65535, "AKIDB_REST_PORT", "--port"),
    UINT("server", "grpc_port", grpc_port, 0, 65535, "AKIDB_GRPC_PORT", "--grpc-port"),
    UINT("server", "threads", threads, 0, 1024, NULL, NULL),
    UINT("server", "max_connections", max_connections, 1, 1000000, NULL, NULL),
    UINT("server", "connection_timeout_s", connection_timeout_s, 1, 86400, NULL, NULL),
    UINT("server", "shutdown_drain_ms", shutdown_drain_ms, 0, 600000, NULL, NULL),
    STR("server", "tls_cert_file", tls_cert_file, NULL, NULL, NULL, NULL),
    STR("server", "tls_key_file", tls_key_file, NULL, NULL, NULL, NULL),

    STR("storage", "data_dir", data_dir, not_empty, "a non-empty path", "AKIDB_DATA_DIR",
        "--data-dir"),
    STR("storage", "db_path", db_path, NULL, NULL, "AKIDB_DB_PATH", "--db-path"),
    CHOICE("storage", "durability", durability, durability_names, "AKIDB_DURABILITY",
           "--durability"),
    UINT("storage", "fsync_interval_ms", fsync_interval_ms, 1, 60000, NULL, NULL),
    UINT("storage", "index_threads", index_threads, 0, AKIDB_POOL_THREADS_MAX, NULL, NULL),
    UINT("storage", "worker_threads", worker_threads, 0, AKIDB_POOL_THREADS_MAX,
         "AKIDB_WORKER_THREADS", "--worker-threads"),
    UINT("storage", "memory_budget_bytes", memory_budget_bytes, 0, UINT64_MAX / 2,
         "AKIDB_MEMORY_BUDGET_BYTES", "--memory-budget-bytes"),
    UINT("storage", "max_pending_bytes", max_pending_bytes, 0, UINT64_MAX / 2, NULL, NULL),
    UINT("storage", "backpressure_wait_ms", backpressure_wait_ms, 0, 600000, NULL, NULL),

    UINT("tiering", "warm_after_s", warm_after_s, 0, 31536000, "AKIDB_WARM_AFTER_S",
         "--warm-after-s"),
    UINT("tiering", "check_interval_ms", tier_check_ms, 10, 600000, NULL, NULL),
    UINT("tiering", "cold_after_s", cold_after_s, 0, 31536000, "AKIDB_COLD_AFTER_S",
         "--cold-after-s"),

    CHOICE("object_store", "kind", os_kind, os_kind_names, "AKIDB_OBJECT_STORE",
           "--object-store"),
    STR("object_store", "path", os_path, NULL, NULL, NULL, NULL),
    STR("object_store", "endpoint", os_endpoint, endpoint_ok,
        "\"\" or an http:// or https:// URL such as http://127.0.0.1:9000", "AKIDB_S3_ENDPOINT",
        NULL),
    STR("object_store", "bucket", os_bucket, bucket_ok,
        "3..63 characters of a-z 0-9 . -, starting and ending with a letter or digit",
        "AKIDB_S3_BUCKET", NULL),
    STR("object_store", "region", os_region, region_ok, "a region such as us-east-1",
        "AKIDB_S3_REGION", NULL),
    STR("object_store", "prefix", os_prefix, prefix_ok,
        "printable, not starting with '/', without '..', '//' or '\\\\'", NULL, NULL),
    CHOICE("object_store", "addressing", os_addressing, addressing_names, NULL, NULL),
    STR("object_store", "ca_file", os_ca_file, NULL, NULL, NULL, NULL),
    STR("object_store", "secret_key_file", os_secret_key_file, NULL, NULL, NULL, NULL),
    UINT("object_store", "connect_timeout_ms", os_connect_timeout_ms,
         AKIDB_OBJSTORE_CONNECT_TIMEOUT_MS_MIN, AKIDB_OBJSTORE_CONNECT_TIMEOUT_MS_MAX, NULL, NULL),
    UINT("object_store", "request_timeout_ms", os_request_timeout_ms,
         AKIDB_OBJSTORE_REQUEST_TIMEOUT_MS_MIN, AKIDB_OBJSTORE_REQUEST_TIMEOUT_MS_MAX, NULL, NULL),
    UINT("object_store", "max_parallel", os_max_parallel, AKIDB_OBJSTORE_MAX_PARALLEL_MIN,
         AKIDB_OBJSTORE_MAX_PARALLEL_MAX, NULL, NULL),
    UINT("object_store", "part_size_bytes", os_part_size_bytes, AKIDB_OBJSTORE_PART_SIZE_MIN,
         AKIDB_OBJSTORE_PART_SIZE_MAX, NULL, NULL),
    UINT("object_store", "max_retries", os_max_retries, AKIDB_OBJSTORE_MAX_RETRIES_MIN,
         AKIDB_OBJSTORE_MAX_RETRIES_MAX, NULL, NULL),
    UINT("object_store", "retry_base_ms", os_retry_base_ms, AKIDB_OBJSTORE_RETRY_BASE_MS_MIN,
         AKIDB_OBJSTORE_RETRY_BASE_MS_MAX, NULL, NULL),
    UINT("object_store", "retry_max_ms", os_retry_max_ms, AKIDB_OBJSTORE_RETRY_MAX_MS_MIN,
         AKIDB_OBJSTORE_RETRY_MAX_MS_MAX, NULL, NULL),
    UINT("object_store", "breaker_failures", os_breaker_failures,
         AKIDB_OBJSTORE_BREAKER_FAILURES_MIN, AKIDB_OBJSTORE_BREAKER_FAILURES_MAX, NULL, NULL),
    UINT("object_store", "breaker_cooldown_ms", os_breaker_cooldown_ms,
         AKIDB_OBJSTORE_BREAKER_COOLDOWN_MS_MIN, AKIDB_OBJSTORE_BREAKER_COOLDOWN_MS_MAX, NULL, NULL),
    UINT("object_store", "dead_letter_retry_ms", os_dead_letter_retry_ms, 100, 86400000, NULL,
         NULL),

    STR("auth", "admin_username", admin_username, username_ok,
        "1..64 characters of a-z 0-9 . _ @ -, starting with a letter or digit", NULL, NULL),
    UINT("auth", "session_ttl_s", session_ttl_s, 60, 31536000, NULL, NULL),

    UINT("limits", "max_body_bytes", limits.max_body_bytes, 1024, 4294967296u, NULL, NULL),
    UINT("limits", "max_json_depth", limits.max_json_depth, 4, 1024, NULL, NULL),
    UINT("limits", "max_batch", limits.max_batch, 1, 1000000, NULL, NULL),
    UINT("limits", "max_k", limits.max_k, 1, AKIDB_K_MAX, NULL, NULL),
    UINT("limits", "max_ef", limits.max_ef, 1, AKIDB_HNSW_EF_SEARCH_MAX, NULL, NULL),
    UINT("limits", "max_dimension", limits.max_dimension, 1, AKIDB_DIM_MAX, NULL, NULL),
    UINT("limits", "max_id_bytes", limits.max_id_bytes, 1, AKIDB_POINT_ID_MAX, NULL, NULL),
    UINT("limits", "max_filter_depth", limits.max_filter_depth, 1, 256, NULL, NULL),
    UINT("limits", "max_payload_bytes", limits.max_payload_bytes, 2, AKIDB_PAYLOAD_MAX, NULL,
         NULL),

    CHOICE("log", "level", log_level, level_names, "AKIDB_LOG_LEVEL", "--log-level"),
    CHOICE("log", "format", log_format, format_names, "AKIDB_LOG_FORMAT", "--log-format"),
    UINT("log", "slow_request_ms", slow_request_ms, 0, 3600000, "AKIDB_SLOW_REQUEST_MS", NULL),

    UINT("audit", "retention_days", audit_retention_days, 0, 36500, NULL, NULL),

    STR("embedding", "allowed_urls", embed_allowed_urls, urls_ok,
        "\"\" or comma-separated http:// or https:// URL prefixes such as "
        "\"http://127.0.0.1:11434/v1\"",
        "AKIDB_EMBEDDING_ALLOWED_URLS", NULL),

    BOOL("tracing", "enabled", trace_enabled, "ENABLE_TRACING", NULL),
    STR("tracing", "endpoint", trace_endpoint, trace_endpoint_ok,
        "an http:// or https:// URL without a query such as \"http://127.0.0.1:4318\"",
        "AKIDB_TRACING_ENDPOINT", NULL),
    RATIO("tracing", "sample_ratio", trace_sample_ratio, "AKIDB_TRACING_SAMPLE_RATIO", NULL),
    UINT("tracing", "queue_capacity", trace_queue_capacity, TRACE_QUEUE_CAPACITY_MIN,
         TRACE_QUEUE_CAPACITY_MAX, NULL, NULL),
    UINT("tracing", "batch_max", trace_batch_max, TRACE_BATCH_MAX_MIN, TRACE_BATCH_MAX_MAX, NULL,
         NULL),
    UINT("tracing", "batch_delay_ms", trace_batch_delay_ms, TRACE_BATCH_DELAY_MS_MIN,
         TRACE_BATCH_DELAY_MS_MAX, NULL, NULL),
    UINT("tracing", "export_timeout_ms", trace_export_timeout_ms, TRACE_EXPORT_TIMEOUT_MS_MIN,
         TRACE_EXPORT_TIMEOUT_MS_MAX, NULL, NULL),
    UINT("tracing", "shutdown_timeout_ms", trace_shutdown_timeout_ms,
         TRACE_SHUTDOWN_TIMEOUT_MS_MIN, TRACE_SHUTDOWN_TIMEOUT_MS_MAX, NULL, NULL),
    STR("tracing", "service_name", trace_service_name, not_empty, "a non-empty name", NULL, NULL),

    BOOL("metrics", "per_collection", metrics_per_collection, "AKIDB_METRICS_PER_COLLECTION",
         NULL),
    UINT("metrics", "per_collection_limit", metrics_per_collection_limit, 1,
         HTTP_METRICS_PER_COLLECTION_MAX, NULL, NULL),
};

const config_setting_t *config_settings(size_t *n) {
  *n = sizeof settings / sizeof settings[0];
  return settings;
}

const char *const *config_tables(void) { return tables; }

void config_default(config_t *c) {
  memset(c, 0, sizeof *c);
  snprintf(c->host, sizeof c->host, "127.0.0.1");
  c->rest_port = 8080;
  c->grpc_port = 50051;
  c->threads = 0;
  c->max_connections = 1024;
  c->connection_timeout_s = 60;
  c->shutdown_drain_ms = 10000;
  snprintf(c->data_dir, sizeof c->data_dir, "./data");
  c->durability = AKIDB_DURABILITY_FSYNC;
  c->fsync_interval_ms = 100;
  c->index_threads = 0;
  c->worker_threads = 0;
  c->memory_budget_bytes = 0;
  c->max_pending_bytes = 256ull << 20;
  c->backpressure_wait_ms = 1000;
  c->warm_after_s = 600;
  c->tier_check_ms = 1000;
  c->cold_after_s = 0;
  c->os_kind = CONFIG_OS_AUTO;
  snprintf(c->os_region, sizeof c->os_region, "us-east-1");
  c->os_addressing = CONFIG_OS_PATH_STYLE;
  c->os_connect_timeout_ms = 5000;
  c->os_request_timeout_ms = 60000;
  c->os_max_parallel = 8;
  c->os_part_size_bytes = 8ull << 20;
  c->os_max_retries = 4;
  c->os_retry_base_ms = 100;
  c->os_retry_max_ms = 5000;
  c->os_breaker_failures = 5;
  c->os_breaker_cooldown_ms = 10000;
  c->os_dead_letter_retry_ms = 30000;
  snprintf(c->admin_username, sizeof c->admin_username, "admin");
  c->session_ttl_s = 43200;
  c->limits.max_body_bytes = 64u << 20;
  c->limits.max_json_depth = 32;
  c->limits.max_batch = 10000;
  c->limits.max_k = 1000;
  c->limits.max_ef = 10000;
  c->limits.max_dimension = 65536;
  c->limits.max_id_bytes = 256;
  c->limits.max_filter_depth = 16;
  c->limits.max_payload_bytes = 1u << 20;
  c->log_level = AKIDB_LOG_INFO;
  c->log_format = OBS_LOG_TEXT;
  c->slow_request_ms = 1000;
  c->metrics_per_collection = false;
  c->metrics_per_collection_limit = HTTP_METRICS_PER_COLLECTION_DEFAULT;
  c->audit_retention_days = 90;
  trace_config_t t;
  trace_config_default(&t);
  c->trace_enabled = t.enabled;
  snprintf(c->trace_endpoint, sizeof c->trace_endpoint, "%s", t.endpoint);
  c->trace_sample_ratio = t.sample_ratio;
  c->trace_queue_capacity = t.queue_capacity;
  c->trace_batch_max = t.batch_max;
  c->trace_batch_delay_ms = t.batch_delay_ms;
  c->trace_export_timeout_ms = t.export_timeout_ms;
  c->trace_shutdown_timeout_ms = t.shutdown_timeout_ms;
  snprintf(c->trace_service_name, sizeof c->trace_service_name, "%s", t.service_name);
}

/* ----------------------------------------------------------- setters -- */

static void *field(config_t *c, const config_setting_t *s) { return (char *)c + s->offset; }

static const void *cfield(const config_t *c, const config_setting_t *s) {
  return (const char *)c + s->offset;
}

static uint64_t get_uint(const config_t *c, const config_setting_t *s) {
  const void *f = cfield(c, s);
  switch (s->size) {
    case 2: return *(const uint16_t *)f;
    case 4: return *(const uint32_t *)f;
    default: return *(const uint64_t *)f;
  }
}

static void put_uint(config_t *c, const config_setting_t *s, uint64_t v) {
  void *f = field(c, s);
  switch (s->size) {
    case 2: *(uint16_t *)f = (uint16_t)v; break;
    case 4: *(uint32_t *)f = (uint32_t)v; break;
    default: *(uint64_t *)f = v; break;
  }
}

static int get_choice(const config_t *c, const config_setting_t *s) {
  int v;
  memcpy(&v, cfield(c, s), sizeof v);
  return v;
}

/* "expected one of "a", "b", "c"" into out. */
static void choices_text(const config_setting_t *s, char *out, size_t n) {
  size_t used = (size_t)snprintf(out, n, "one of");
  for (int i = 0; s->choices[i] && used < n; i++)
    used += (size_t)snprintf(out + used, n - used, "%s \"%s\"", i ? "," : "", s->choices[i]);
}

static int bad_value(const config_setting_t *s, const char *got, char *why, size_t whylen) {
  char want[160];
  switch (s->kind) {
    case CONFIG_KIND_UINT:
      snprintf(want, sizeof want, "an integer %" PRIu64 "..%" PRIu64, s->min, s->max);
      break;
    case CONFIG_KIND_CHOICE: choices_text(s, want, sizeof want); break;
    case CONFIG_KIND_BOOL: snprintf(want, sizeof want, "true or false (or 1 or 0)"); break;
    case CONFIG_KIND_RATIO: snprintf(want, sizeof want, "a number 0..1 such as 0.1"); break;
    default:
      snprintf(want, sizeof want, "%s%s", s->rule ? "a string: " : "a string",
               s->rule ? s->rule : "");
      break;
  }
  snprintf(why, whylen, "expected %s, got %s", want, got);
  return AKIDB_EINVAL;
}

static int set_uint(config_t *c, const config_setting_t *s, int64_t v, const char *got,
                    char *why, size_t whylen) {
  if (v < 0 || (uint64_t)v < s->min || (uint64_t)v > s->max) return bad_value(s, got, why, whylen);
  put_uint(c, s, (uint64_t)v);
  return AKIDB_OK;
}

static int set_string(config_t *c, const config_setting_t *s, const char *v, size_t len,
                      const char *got, char *why, size_t whylen) {
  if (len >= s->size) {
    snprintf(why, whylen, "the value is %zu bytes long; at most %zu are allowed", len,
             s->size - 1);
    return AKIDB_EINVAL;
  }
  if (s->check && !s->check(v)) return bad_value(s, got, why, whylen);
  memcpy(field(c, s), v, len + 1);
  return AKIDB_OK;
}

static int set_choice(config_t *c, const config_setting_t *s, const char *v, const char *got,
                      char *why, size_t whylen) {
  for (int i = 0; s->choices[i]; i++) {
    if (strcasecmp(v, s->choices[i]) == 0) {
      memcpy(field(c, s), &i, sizeof i);
      return AKIDB_OK;
    }
  }
  return bad_value(s, got, why, whylen);
}

static void put_bool(config_t *c, const config_setting_t *s, bool v) {
  memcpy(field(c, s), &v, sizeof v);
}

static int set_ratio(config_t *c, const config_setting_t *s, double v, const char *got,
                     char *why, size_t whylen) {
  if (!(v >= 0.0 && v <= 1.0)) return bad_value(s, got, why, whylen);
  memcpy(field(c, s), &v, sizeof v);
  return AKIDB_OK;
}

int config_set_toml(config_t *c, const config_setting_t *s, const config_toml_value_t *v,
                    char *why, size_t whylen) {
  switch (s->kind) {
    case CONFIG_KIND_BOOL:
      if (v->type != CONFIG_TOML_BOOL) return bad_value(s, v->raw, why, whylen);
      put_bool(c, s, v->boolean);
      return AKIDB_OK;
    case CONFIG_KIND_RATIO:
      if (v->type == CONFIG_TOML_INTEGER) return set_ratio(c, s, (double)v->integer, v->raw, why,
                                                           whylen);
      if (v->type != CONFIG_TOML_FLOAT) return bad_value(s, v->raw, why, whylen);
      return set_ratio(c, s, v->number, v->raw, why, whylen);
    case CONFIG_KIND_UINT:
      if (v->type != CONFIG_TOML_INTEGER) return bad_value(s, v->raw, why, whylen);
      return set_uint(c, s, v->integer, v->raw, why, whylen);
    case CONFIG_KIND_CHOICE:
      if (v->type != CONFIG_TOML_STRING) return bad_value(s, v->raw, why, whylen);
      return set_choice(c, s, v->string, v->raw, why, whylen);
    default:
      if (v->type != CONFIG_TOML_STRING) return bad_value(s, v->raw, why, whylen);
      return set_string(c, s, v->string, v->string_len, v->raw, why, whylen);
  }
}

/* Strict decimal: optional '-', digits only, no overflow. */
static bool parse_int(const char *text, int64_t *out) {
  const char *p = text;
  bool negative = *p == '-';
  if (negative) p++;
  if (!*p) return false;
  int64_t acc = 0;
  for (; *p; p++) {
    if (*p < '0' || *p > '9') return false;
    if (acc > (INT64_MAX - (*p - '0')) / 10) return false;
    acc = acc * 10 + (*p - '0');
  }
  *out = negative ? -acc : acc;
  return true;
}

int config_set_text(config_t *c, const config_setting_t *s, const char *text, char *why,
                    size_t whylen) {
  char got[96];
  size_t len = strlen(text);
  snprintf(got, sizeof got, "\"%.*s%s\"", (int)(len > 60 ? 60 : len), text,
           len > 60 ? "..." : "");
  switch (s->kind) {
    case CONFIG_KIND_UINT: {
      int64_t v;
      if (!parse_int(text, &v)) return bad_value(s, got, why, whylen);
      return set_uint(c, s, v, got, why, whylen);
    }
    case CONFIG_KIND_CHOICE: return set_choice(c, s, text, got, why, whylen);
    case CONFIG_KIND_BOOL: {
      bool on;
      if (trace_parse_enabled(text, &on, NULL, 0) != AKIDB_OK || !text[0])
        return bad_value(s, got, why, whylen);
      put_bool(c, s, on);
      return AKIDB_OK;
    }
    case CONFIG_KIND_RATIO: {
      char *end;
      errno = 0;
      double v = strtod(text, &end);
      if (!text[0] || *end || errno) return bad_value(s, got, why, whylen);
      return set_ratio(c, s, v, got, why, whylen);
    }
    default: return set_string(c, s, text, len, got, why, whylen);
  }
}

/* ------------------------------------------------------------ checks -- */

void config_trace_options(const config_t *c, trace_config_t *o) {
  trace_config_default(o);
  o->enabled = c->trace_enabled;
  o->endpoint = c->trace_endpoint;
  o->sample_ratio = c->trace_sample_ratio;
  o->queue_capacity = c->trace_queue_capacity;
  o->batch_max = c->trace_batch_max;
  o->batch_delay_ms = c->trace_batch_delay_ms;
  o->export_timeout_ms = c->trace_export_timeout_ms;
  o->shutdown_timeout_ms = c->trace_shutdown_timeout_ms;
  o->service_name = c->trace_service_name;
}

bool config_uses_s3(const config_t *c) {
  return c->os_kind == CONFIG_OS_S3 || (c->os_kind == CONFIG_OS_AUTO && c->os_endpoint[0]);
}

/* An S3 object store needs an endpoint, a bucket and both keys. */
static int check_object_store(const config_t *c, char *err, size_t errlen) {
  if (!config_uses_s3(c)) return AKIDB_OK;
  const char *missing = !c->os_endpoint[0]  ? "object_store.endpoint (AKIDB_S3_ENDPOINT)"
                        : !c->os_bucket[0]  ? "object_store.bucket (AKIDB_S3_BUCKET)"
                        : !c->s3_access_key[0] ? "an access key (AKIDB_S3_ACCESS_KEY)"
                        : !c->s3_secret_key[0]
                            ? "a secret key (AKIDB_S3_SECRET_KEY or object_store.secret_key_file)"
                            : NULL;
  if (missing) {
    snprintf(err, errlen, "the object store is S3 (object_store.kind = \"%s\") but %s is not "
             "set: set it, or use kind = \"local\"", os_kind_names[c->os_kind], missing);
    return AKIDB_EINVAL;
  }
  if (c->os_retry_max_ms < c->os_retry_base_ms) {
    snprintf(err, errlen, "object_store.retry_max_ms (%" PRIu32 ") must be at least "
             "object_store.retry_base_ms (%" PRIu32 ")", c->os_retry_max_ms, c->os_retry_base_ms);
    return AKIDB_EINVAL;
  }
  return AKIDB_OK;
}

int config_validate(const config_t *c, char *err, size_t errlen) {
  bool cert = c->tls_cert_file[0] != '\0', key = c->tls_key_file[0] != '\0';
  if (cert != key) {
    snprintf(err, errlen,
             "server.tls_cert_file and server.tls_key_file must be set together (only %s is "
             "set): give both for HTTPS, or neither for plain HTTP",
             cert ? "tls_cert_file" : "tls_key_file");
    return AKIDB_EINVAL;
  }
  if (check_object_store(c, err, errlen)) return AKIDB_EINVAL;
  trace_config_t t;
  config_trace_options(c, &t);
  if (trace_config_validate(&t, err, errlen)) return AKIDB_EINVAL;
  if (c->limits.max_ef < c->limits.max_k) {
    snprintf(err, errlen,
             "limits.max_ef (%" PRIu32 ") must be at least limits.max_k (%" PRIu32
             "): a search needs ef >= k",
             c->limits.max_ef, c->limits.max_k);
    return AKIDB_EINVAL;
  }
  return AKIDB_OK;
}

static int readable(const char *key, const char *path, char *err, size_t errlen) {
  FILE *f = fopen(path, "r");
  if (!f) {
    snprintf(err, errlen, "%s: cannot read '%s': %s", key, path, strerror(errno));
    return AKIDB_EINVAL;
  }
  fclose(f);
  return AKIDB_OK;
}

int config_check_files(const config_t *c, char *err, size_t errlen) {
  if (c->tls_cert_file[0] && readable("server.tls_cert_file", c->tls_cert_file, err, errlen))
    return AKIDB_EINVAL;
  if (c->tls_key_file[0] && readable("server.tls_key_file", c->tls_key_file, err, errlen))
    return AKIDB_EINVAL;
  if (c->os_ca_file[0] && config_uses_s3(c) &&
      readable("object_store.ca_file", c->os_ca_file, err, errlen))
    return AKIDB_EINVAL;
  return AKIDB_OK;
}

/* ------------------------------------------------------ TOML output -- */

/* Writes `s` as a TOML basic string. */
static void put_toml_string(FILE *f, const char *s) {
  fputc('"', f);
  for (; *s; s++) {
    unsigned char u = (unsigned char)*s;
    switch (*s) {
      case '"': fputs("\\\"", f); break;
      case '\\': fputs("\\\\", f); break;
      case '\n': fputs("\\n", f); break;
      case '\t': fputs("\\t", f); break;
      case '\r': fputs("\\r", f); break;
      default:
        if (u < 0x20 || u == 0x7F)
          fprintf(f, "\\u%04X", (unsigned)u);
        else
          fputc(*s, f);
    }
  }
  fputc('"', f);
}

static void put_setting(FILE *f, const config_t *c, const config_setting_t *s) {
  fprintf(f, "%s = ", s->key);
  switch (s->kind) {
    case CONFIG_KIND_UINT: fprintf(f, "%" PRIu64, get_uint(c, s)); break;
    case CONFIG_KIND_CHOICE: put_toml_string(f, s->choices[get_choice(c, s)]); break;
    case CONFIG_KIND_BOOL: {
      bool v;
      memcpy(&v, cfield(c, s), sizeof v);
      fputs(v ? "true" : "false", f);
      break;
    }
    case CONFIG_KIND_RATIO: {
      double v;
      memcpy(&v, cfield(c, s), sizeof v);
      char num[32];
      snprintf(num, sizeof num, "%.15g", v);
      if (strtod(num, NULL) != v) snprintf(num, sizeof num, "%.17g", v); /* exact round trip */
      fputs(num, f);
      if (!strpbrk(num, ".eE")) fputs(".0", f); /* a TOML float */
      break;
    }
    default: put_toml_string(f, (const char *)cfield(c, s)); break;
  }
  fputc('\n', f);
}

char *config_to_toml(const config_t *c) {
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  if (!f) return NULL;
  fprintf(f, "# AkiDB effective configuration (file: %s; admin password: %s; S3 keys: %s).\n",
          c->config_file[0] ? c->config_file : "none",
          c->admin_password[0] ? "set by AKIDB_ADMIN_PASSWORD" : "not set",
          c->s3_secret_key[0] ? "set (never printed)" : "not set");
  for (int t = 0; tables[t]; t++) {
    fprintf(f, "\n[%s]\n", tables[t]);
    for (size_t i = 0; i < sizeof settings / sizeof settings[0]; i++)
      if (strcmp(settings[i].table, tables[t]) == 0) put_setting(f, c, &settings[i]);
  }
  if (fclose(f) != 0) {
    free(text);
    return NULL;
  }
  return text;
}
