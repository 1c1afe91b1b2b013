/*
 * otlp_json.c — owns the encoding of finished spans as one OTLP/HTTP JSON
 * ExportTraceServiceRequest (opentelemetry-proto's JSON mapping, written
 * from the OTLP specification):
 *
 *   {"resourceSpans":[{"resource":{"attributes":[...]},
 *     "scopeSpans":[{"scope":{"name":"akidb","version":"..."},
 *                    "spans":[{"traceId":"<32 hex>","spanId":"<16 hex>",
 *                              "parentSpanId":"<16 hex>" (not for a root),
 *                              "name":"...","kind":2,
 *                              "startTimeUnixNano":"<decimal>",
 *                              "endTimeUnixNano":"<decimal>",
 *                              "attributes":[{"key":"k","value":{...}}],
 *                              "droppedAttributesCount":N (when N > 0),
 *                              "status":{"code":2,"message":"..."} (when set)}]}]}]}
 *
 * Ids are lower-case hex (OTLP/JSON's exception to proto3's base64);
 * 64-bit integers (times, intValue) are decimal strings; enums are
 * numbers; doubles are numbers, or "NaN"/"Infinity"/"-Infinity". Strings
 * are escaped per RFC 8259; invalid UTF-8 becomes U+FFFD, so the body is
 * always valid JSON.
 *
 * Locking: none (the exporter thread's buffer). Durability: none.
 */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "akidb/errors.h"
#include "trace/trace_internal.h"

/* -------------------------------------------------------------- buffer -- */

/* Room for n more bytes (and a NUL); false once an allocation failed. */
static bool reserve(trace_buf_t *b, size_t n) {
  if (b->failed) return false;
  if (b->len + n + 1 <= b->cap) return true;
  size_t cap = b->cap ? b->cap : 4096;
  while (cap < b->len + n + 1) cap *= 2;
  char *d = realloc(b->data, cap);
  if (!d) {
    b->failed = true;
    return false;
  }
  b->data = d;
  b->cap = cap;
  return true;
}

static void put(trace_buf_t *b, const char *s, size_t n) {
  if (!reserve(b, n)) return;
  memcpy(b->data + b->len, s, n);
  b->len += n;
  b->data[b->len] = '\0';
}

static void puts_(trace_buf_t *b, const char *s) { put(b, s, strlen(s)); }

static void printf_(trace_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void printf_(trace_buf_t *b, const char *fmt, ...) {
  char tmp[64];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  if (n > 0) put(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

void trace_buf_reset(trace_buf_t *b) {
  b->len = 0;
  b->failed = false;
  if (b->data) b->data[0] = '\0';
}

void trace_buf_free(trace_buf_t *b) {
  free(b->data);
  memset(b, 0, sizeof *b);
}

/* ------------------------------------------------------------- strings -- */

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t n) {
  unsigned char c = s[0];
  size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
  if (c < 0xC2 || c > 0xF4 || n < len) return 0;
  unsigned char lo = 0x80, hi = 0xBF; /* the second byte's range */
  if (c == 0xE0) lo = 0xA0;
  if (c == 0xED) hi = 0x9F; /* no surrogates */
  if (c == 0xF0) lo = 0x90;
  if (c == 0xF4) hi = 0x8F;
  if (s[1] < lo || s[1] > hi) return 0;
  for (size_t i = 2; i < len; i++)
    if ((s[i] & 0xC0) != 0x80) return 0;
  return len;
}

/* Appends n bytes of s as a JSON string. */
static void put_str(trace_buf_t *b, const char *s, size_t n) {
  const unsigned char *u = (const unsigned char *)s;
  put(b, "\"", 1);
  size_t i = 0;
  while (i < n) {
    unsigned char c = u[i];
    if (c >= 0x80) {
      size_t k = utf8_seq(u + i, n - i);
      if (k) put(b, s + i, k);
      else puts_(b, "\\ufffd");
      i += k ? k : 1;
      continue;
    }
    if (c == '"') puts_(b, "\\\"");
    else if (c == '\\') puts_(b, "\\\\");
    else if (c == '\n') puts_(b, "\\n");
    else if (c == '\r') puts_(b, "\\r");
    else if (c == '\t') puts_(b, "\\t");
    else if (c < 0x20 || c == 0x7F) printf_(b, "\\u%04x", (unsigned)c);
    else put(b, s + i, 1);
    i++;
  }
  put(b, "\"", 1);
}

static void put_cstr(trace_buf_t *b, const char *s) { put_str(b, s, strlen(s)); }

static void put_hex(trace_buf_t *b, const uint8_t *id, size_t n) {
  char hex[2 * TRACE_ID_SIZE];
  trace_hex(id, n, hex);
  put(b, "\"", 1);
  put(b, hex, 2 * n);
  put(b, "\"", 1);
}

/* --------------------------------------------------------------- values -- */

static void put_double(trace_buf_t *b, double d) {
  if (isnan(d)) puts_(b, "\"NaN\"");
  else if (isinf(d)) puts_(b, d > 0 ? "\"Infinity\"" : "\"-Infinity\"");
  else printf_(b, "%.17g", d);
}

/* {"key":"k","value":{"stringValue":"v"}} */
static void put_kv_str(trace_buf_t *b, const char *key, const char *v, size_t n) {
  puts_(b, "{\"key\":");
  put_cstr(b, key);
  puts_(b, ",\"value\":{\"stringValue\":");
  put_str(b, v, n);
  puts_(b, "}}");
}

static void put_attr(trace_buf_t *b, const trace_span_t *s, const trace_attr_t *a) {
  if (a->type == ATTR_STR) {
    put_kv_str(b, a->key, s->text + a->v.s.off, a->v.s.len);
    return;
  }
  puts_(b, "{\"key\":");
  put_cstr(b, a->key);
  puts_(b, ",\"value\":{");
  switch (a->type) {
    case ATTR_INT: printf_(b, "\"intValue\":\"%" PRId64 "\"", a->v.i); break;
    case ATTR_DOUBLE:
      puts_(b, "\"doubleValue\":");
      put_double(b, a->v.d);
      break;
    default: puts_(b, a->v.b ? "\"boolValue\":true" : "\"boolValue\":false"); break;
  }
  puts_(b, "}}");
}

/* ---------------------------------------------------------------- spans -- */

static bool is_root(const trace_span_t *s) {
  for (int i = 0; i < TRACE_SPAN_ID_SIZE; i++)
    if (s->parent_id[i]) return false;
  return true;
}

static void put_status(trace_buf_t *b, const trace_span_t *s) {
  if (s->status == TRACE_STATUS_UNSET) return;
  printf_(b, ",\"status\":{\"code\":%d", (int)s->status);
  if (s->msg_len) {
    puts_(b, ",\"message\":");
    put_str(b, s->text + s->msg_off, s->msg_len);
  }
  puts_(b, "}");
}

static void put_span(trace_buf_t *b, const trace_span_t *s) {
  puts_(b, "{\"traceId\":");
  put_hex(b, s->ctx.trace_id, TRACE_ID_SIZE);
  puts_(b, ",\"spanId\":");
  put_hex(b, s->ctx.span_id, TRACE_SPAN_ID_SIZE);
  if (!is_root(s)) {
    puts_(b, ",\"parentSpanId\":");
    put_hex(b, s->parent_id, TRACE_SPAN_ID_SIZE);
  }
  puts_(b, ",\"name\":");
  put_str(b, trace_span_name(s), s->name_len);
  printf_(b, ",\"kind\":%d", (int)s->kind);
  printf_(b, ",\"startTimeUnixNano\":\"%" PRIu64 "\"", s->start_unix_ns);
  printf_(b, ",\"endTimeUnixNano\":\"%" PRIu64 "\"", s->end_unix_ns);
  puts_(b, ",\"attributes\":[");
  for (uint8_t i = 0; i < s->nattrs; i++) {
    if (i) puts_(b, ",");
    put_attr(b, s, &s->attrs[i]);
  }
  puts_(b, "]");
  if (s->dropped_attrs) printf_(b, ",\"droppedAttributesCount\":%" PRIu32, s->dropped_attrs);
  put_status(b, s);
  puts_(b, "}");
}

static void put_resource(trace_buf_t *b, const trace_resource_t *res) {
  puts_(b, "{\"resource\":{\"attributes\":[");
  const char *name = res->service_name ? res->service_name : TRACE_SERVICE_NAME_DEFAULT;
  put_kv_str(b, "service.name", name, strlen(name));
  if (res->service_version) {
    puts_(b, ",");
    put_kv_str(b, "service.version", res->service_version, strlen(res->service_version));
  }
  if (res->host_name) {
    puts_(b, ",");
    put_kv_str(b, "host.name", res->host_name, strlen(res->host_name));
  }
  puts_(b, ",");
  put_kv_str(b, "telemetry.sdk.name", "akidb", 5);
  puts_(b, "]}");
}

int trace_otlp_json(trace_buf_t *b, const trace_resource_t *res, trace_span_t *const *spans,
                    size_t n) {
  puts_(b, "{\"resourceSpans\":[");
  put_resource(b, res);
  puts_(b, ",\"scopeSpans\":[{\"scope\":{\"name\":\"akidb\"");
  if (res->service_version) {
    puts_(b, ",\"version\":");
    put_cstr(b, res->service_version);
  }
  puts_(b, "},\"spans\":[");
  for (size_t i = 0; i < n; i++) {
    if (i) puts_(b, ",");
    put_span(b, spans[i]);
  }
  puts_(b, "]}]}]}");
  return b->failed ? AKIDB_ENOMEM : AKIDB_OK;
}
