/*
 * config.c — owns the tracer's settings: defaults, the checks (each message
 * names the setting, the value and what to write instead) and the
 * ENABLE_TRACING switch.
 *
 * Locking: none; a trace_config_t belongs to its caller. Durability: none.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "akidb/errors.h"
#include "trace/trace.h"

void trace_config_default(trace_config_t *c) {
  c->enabled = false;
  c->endpoint = TRACE_ENDPOINT_DEFAULT;
  c->sample_ratio = TRACE_SAMPLE_RATIO_DEFAULT;
  c->queue_capacity = TRACE_QUEUE_CAPACITY_DEFAULT;
  c->batch_max = TRACE_BATCH_MAX_DEFAULT;
  c->batch_delay_ms = TRACE_BATCH_DELAY_MS_DEFAULT;
  c->export_timeout_ms = TRACE_EXPORT_TIMEOUT_MS_DEFAULT;
  c->shutdown_timeout_ms = TRACE_SHUTDOWN_TIMEOUT_MS_DEFAULT;
  c->service_name = TRACE_SERVICE_NAME_DEFAULT;
}

/* An http:// or https:// URL with a host, no white space or control
 * bytes, no query or fragment; at most TRACE_ENDPOINT_MAX bytes. */
static bool endpoint_ok(const char *s) {
  size_t n = strnlen(s, TRACE_ENDPOINT_MAX + 1);
  if (n > TRACE_ENDPOINT_MAX) return false;
  size_t scheme = strncmp(s, "http://", 7) == 0 ? 7 : strncmp(s, "https://", 8) == 0 ? 8 : 0;
  if (!scheme || !s[scheme] || s[scheme] == '/') return false;
  for (const char *p = s; *p; p++)
    if ((unsigned char)*p <= 0x20 || *p == 0x7F || *p == '?' || *p == '#') return false;
  return true;
}

/* 1..TRACE_SERVICE_NAME_MAX printable bytes (UTF-8 allowed). */
static bool service_name_ok(const char *s) {
  size_t n = strnlen(s, TRACE_SERVICE_NAME_MAX + 1);
  if (n == 0 || n > TRACE_SERVICE_NAME_MAX) return false;
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)s[i] < 0x20 || s[i] == 0x7F) return false;
  return true;
}

/* Checks lo <= v <= hi for the setting `name`. */
static int check_range(const char *name, uint32_t v, uint32_t lo, uint32_t hi, char *err,
                       size_t errlen) {
  if (v >= lo && v <= hi) return AKIDB_OK;
  snprintf(err, errlen, "tracing.%s: expected an integer %" PRIu32 "..%" PRIu32 ", got %" PRIu32,
           name, lo, hi, v);
  return AKIDB_EINVAL;
}

int trace_config_validate(const trace_config_t *c, char *err, size_t errlen) {
  if (!c->endpoint || !endpoint_ok(c->endpoint)) {
    snprintf(err, errlen, "tracing.endpoint: expected the collector's http:// or https:// base "
             "URL such as \"http://127.0.0.1:4318\" (no query, at most %d bytes; spans go to "
             "<endpoint>/v1/traces), got \"%.80s\"", TRACE_ENDPOINT_MAX,
             c->endpoint ? c->endpoint : "");
    return AKIDB_EINVAL;
  }
  if (!(c->sample_ratio >= 0.0 && c->sample_ratio <= 1.0)) {
    snprintf(err, errlen, "tracing.sample_ratio: expected a number 0..1 (1 records every "
             "request, 0.1 one in ten), got %g", c->sample_ratio);
    return AKIDB_EINVAL;
  }
  int rc = check_range("queue_capacity", c->queue_capacity, TRACE_QUEUE_CAPACITY_MIN,
                       TRACE_QUEUE_CAPACITY_MAX, err, errlen);
  if (!rc) rc = check_range("batch_max", c->batch_max, TRACE_BATCH_MAX_MIN, TRACE_BATCH_MAX_MAX,
                            err, errlen);
  if (!rc) rc = check_range("batch_delay_ms", c->batch_delay_ms, TRACE_BATCH_DELAY_MS_MIN,
                            TRACE_BATCH_DELAY_MS_MAX, err, errlen);
  if (!rc) rc = check_range("export_timeout_ms", c->export_timeout_ms,
                            TRACE_EXPORT_TIMEOUT_MS_MIN, TRACE_EXPORT_TIMEOUT_MS_MAX, err, errlen);
  if (!rc) rc = check_range("shutdown_timeout_ms", c->shutdown_timeout_ms,
                            TRACE_SHUTDOWN_TIMEOUT_MS_MIN, TRACE_SHUTDOWN_TIMEOUT_MS_MAX, err,
                            errlen);
  if (rc) return rc;
  if (c->batch_max > c->queue_capacity) {
    snprintf(err, errlen, "tracing.batch_max (%" PRIu32 ") must be at most tracing."
             "queue_capacity (%" PRIu32 "): a batch is taken from the queue",
             c->batch_max, c->queue_capacity);
    return AKIDB_EINVAL;
  }
  if (!c->service_name || !service_name_ok(c->service_name)) {
    snprintf(err, errlen, "tracing.service_name: expected 1..%d printable bytes such as "
             "\"akidb\", got \"%.80s\"", TRACE_SERVICE_NAME_MAX,
             c->service_name ? c->service_name : "");
    return AKIDB_EINVAL;
  }
  return AKIDB_OK;
}

int trace_parse_enabled(const char *value, bool *on, char *err, size_t errlen) {
  static const char *const yes[] = {"true", "1", "yes", "on"};
  static const char *const no[] = {"false", "0", "no", "off"};
  if (!value || !value[0]) return AKIDB_OK;
  for (size_t i = 0; i < 4; i++) {
    if (strcasecmp(value, yes[i]) == 0) return *on = true, AKIDB_OK;
    if (strcasecmp(value, no[i]) == 0) return *on = false, AKIDB_OK;
  }
  snprintf(err, errlen, "ENABLE_TRACING: expected true or 1 (tracing on) or false or 0 (off), "
           "got \"%.60s\"", value);
  return AKIDB_EINVAL;
}
