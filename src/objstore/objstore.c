/*
 * objstore.c — the object store's public face: options (defaults, bounds,
 * validation), open/close, key and metadata rules, dispatch to the local or
 * S3 implementation, the generic writer (CRC32C and size of every byte
 * written, sticky errors), put on top of the writer, verification of whole
 * gets, the retry runner (breaker admission, exponential backoff with full
 * jitter) and the statistics.
 *
 * Locking: the store handle is immutable after open except for the breaker
 * (its own mutex, breaker.c) and the statistics (atomics, relaxed order: a
 * snapshot may see a call's count before its latency). A writer is owned by
 * one thread at a time.
 *
 * Durability: none of its own; see local.c and s3.c.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "trace/trace.h"
#include "objstore/objstore_internal.h"
#include "store/crc32c.h"
#include "util/clock.h"
#include "util/thread.h"

/* ------------------------------------------------------------ small tools */

void objstore_errf(char *err, size_t errlen, const char *fmt, ...) {
  if (!err || errlen == 0) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

void objstore_hex(const uint8_t *in, size_t n, char *out) {
  static const char digits[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = digits[in[i] >> 4];
    out[2 * i + 1] = digits[in[i] & 15];
  }
  out[2 * n] = '\0';
}

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

/* ------------------------------------------------------------------ clock */

static uint64_t real_now_ms(void *ctx) {
  (void)ctx;
  return clock_now_ns() / 1000000u;
}

static void real_sleep_ms(void *ctx, uint64_t ms) {
  (void)ctx;
  struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

/* xorshift64* per thread, seeded from the clock and the thread's stack. */
static uint64_t real_random(void *ctx) {
  (void)ctx;
  static _Thread_local uint64_t state;
  if (state == 0) state = (clock_now_ns() ^ (uint64_t)(uintptr_t)&state) | 1u;
  state ^= state >> 12;
  state ^= state << 25;
  state ^= state >> 27;
  return state * 0x2545F4914F6CDD1Dull;
}

const objstore_clock_t objstore_real_clock = {real_now_ms, real_sleep_ms, real_random, NULL};

/* ------------------------------------------------------------------ stats */

static const double latency_bounds[AKIDB_OBJSTORE_LATENCY_NBOUNDS] = AKIDB_OBJSTORE_LATENCY_BOUNDS;

const double *akidb_objstore_latency_bounds(void) { return latency_bounds; }

void stats_record(objstore_stats_t *st, int op, int rc, uint64_t ns) {
  objstore_op_counters_t *c = &st->op[op];
  atomic_fetch_add_explicit(&c->calls, 1, memory_order_relaxed);
  if (rc != 0) atomic_fetch_add_explicit(&c->errors, 1, memory_order_relaxed);
  double s = (double)ns * 1e-9;
  size_t b = 0;
  while (b < AKIDB_OBJSTORE_LATENCY_NBOUNDS && s > latency_bounds[b]) b++;
  atomic_fetch_add_explicit(&c->bucket[b], 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&c->latency_ns_sum, ns, memory_order_relaxed);
}

void stats_add_bytes(objstore_stats_t *st, int op, uint64_t in, uint64_t out) {
  if (in) atomic_fetch_add_explicit(&st->op[op].bytes_in, in, memory_order_relaxed);
  if (out) atomic_fetch_add_explicit(&st->op[op].bytes_out, out, memory_order_relaxed);
}

void stats_add_retry(objstore_stats_t *st, int op) {
  atomic_fetch_add_explicit(&st->op[op].retries, 1, memory_order_relaxed);
}

void akidb_objstore_stats(akidb_objstore_t *s, akidb_objstore_stats_t *out) {
  memset(out, 0, sizeof *out);
  for (int i = 0; i < AKIDB_OBJSTORE_OP_COUNT; i++) {
    objstore_op_counters_t *c = &s->stats.op[i];
    akidb_objstore_op_stats_t *o = &out->op[i];
    o->calls = atomic_load_explicit(&c->calls, memory_order_relaxed);
    o->errors = atomic_load_explicit(&c->errors, memory_order_relaxed);
    o->retries = atomic_load_explicit(&c->retries, memory_order_relaxed);
    o->bytes_in = atomic_load_explicit(&c->bytes_in, memory_order_relaxed);
    o->bytes_out = atomic_load_explicit(&c->bytes_out, memory_order_relaxed);
    uint64_t cum = 0;
    for (int b = 0; b <= AKIDB_OBJSTORE_LATENCY_NBOUNDS; b++) {
      cum += atomic_load_explicit(&c->bucket[b], memory_order_relaxed);
      o->latency_le[b] = cum;
    }
    o->latency_sum_s =
        (double)atomic_load_explicit(&c->latency_ns_sum, memory_order_relaxed) * 1e-9;
  }
  breaker_read(&s->breaker, &out->breaker_state, &out->consecutive_failures,
               &out->breaker_opens, &out->breaker_probes);
}

const char *akidb_objstore_op_name(int op) {
  static const char *const names[AKIDB_OBJSTORE_OP_COUNT] = {
      "put", "get", "head", "list", "delete", "multipart_create", "multipart_part",
      "multipart_complete", "multipart_abort"};
  return op >= 0 && op < AKIDB_OBJSTORE_OP_COUNT ? names[op] : "?";
}

const char *akidb_objstore_breaker_state_name(int state) {
  switch (state) {
  case AKIDB_OBJSTORE_BREAKER_CLOSED: return "closed";
  case AKIDB_OBJSTORE_BREAKER_HALF_OPEN: return "half_open";
  case AKIDB_OBJSTORE_BREAKER_OPEN: return "open";
  default: return "?";
  }
}

/* ----------------------------------------------------------- retry runner */

uint64_t objstore_backoff_ms(uint32_t retry, uint32_t base_ms, uint32_t max_ms, uint64_t rnd) {
  uint64_t cap = base_ms;
  for (uint32_t i = 1; i < retry && cap < max_ms; i++) cap *= 2;
  if (cap > max_ms) cap = max_ms;
  return rnd % (cap + 1);
}

int objstore_retry_run(const objstore_retry_t *r, int op, objstore_attempt_fn fn, void *ctx,
                       char *err, size_t errlen) {
  char span_name[48];
  snprintf(span_name, sizeof span_name, "objstore.%s", akidb_objstore_op_name(op));
  trace_span_t *sp = trace_is_recording() ? trace_client_begin(span_name) : NULL;
  uint64_t t0 = clock_now_ns();
  char cause[512] = "";
  int rc;
  uint32_t attempt = 0;
  for (;; attempt++) {
    bool probe;
    rc = breaker_admit(r->breaker, &probe, cause, sizeof cause);
    if (rc != 0) break;
    if (attempt > 0) stats_add_retry(r->stats, op); /* counted once it is made */
    bool transient = false;
    cause[0] = '\0';
    rc = fn(ctx, attempt, &transient, cause, sizeof cause);
    breaker_record(r->breaker, probe, rc != 0 && transient, cause);
    if (rc == 0 || !transient || attempt >= r->max_retries) break;
    r->clock->sleep_ms(r->clock->ctx,
                       objstore_backoff_ms(attempt + 1, r->retry_base_ms, r->retry_max_ms,
                                           r->clock->random(r->clock->ctx)));
  }
  if (rc != 0) {
    if (attempt > 0)
      objstore_errf(err, errlen, "%s (gave up after %u attempts)", cause, attempt + 1);
    else
      objstore_errf(err, errlen, "%s", cause);
  }
  stats_record(r->stats, op, rc, clock_now_ns() - t0);
  if (sp) {
    trace_span_set_int(sp, "akidb.objstore.attempts", attempt + 1);
    if (rc) trace_span_set_status(sp, TRACE_STATUS_ERROR, cause);
  }
  trace_span_end(sp);
  return rc;
}

/* ---------------------------------------------------------------- options */

void akidb_objstore_options_default(akidb_objstore_options_t *o) {
  memset(o, 0, sizeof *o);
  o->connect_timeout_ms = AKIDB_OBJSTORE_CONNECT_TIMEOUT_MS_DEFAULT;
  o->request_timeout_ms = AKIDB_OBJSTORE_REQUEST_TIMEOUT_MS_DEFAULT;
  o->max_parallel = AKIDB_OBJSTORE_MAX_PARALLEL_DEFAULT;
  o->part_size = AKIDB_OBJSTORE_PART_SIZE_DEFAULT;
  o->max_retries = AKIDB_OBJSTORE_MAX_RETRIES_DEFAULT;
  o->retry_base_ms = AKIDB_OBJSTORE_RETRY_BASE_MS_DEFAULT;
  o->retry_max_ms = AKIDB_OBJSTORE_RETRY_MAX_MS_DEFAULT;
  o->breaker_failures = AKIDB_OBJSTORE_BREAKER_FAILURES_DEFAULT;
  o->breaker_cooldown_ms = AKIDB_OBJSTORE_BREAKER_COOLDOWN_MS_DEFAULT;
}

/* One row per numeric option: its bounds, checked in one loop. */
#define OBJSTORE_NUMERIC_OPTIONS(X)                                            \
  X(connect_timeout_ms, CONNECT_TIMEOUT_MS)                                    \
  X(request_timeout_ms, REQUEST_TIMEOUT_MS)                                    \
  X(max_parallel, MAX_PARALLEL)                                                \
  X(part_size, PART_SIZE)                                                      \
  X(max_retries, MAX_RETRIES)                                                  \
  X(retry_base_ms, RETRY_BASE_MS)                                              \
  X(retry_max_ms, RETRY_MAX_MS)                                                \
  X(breaker_failures, BREAKER_FAILURES)                                        \
  X(breaker_cooldown_ms, BREAKER_COOLDOWN_MS)

static bool empty(const char *s) { return !s || !*s; }

/* endpoint: http(s)://host[:port][/], nothing else. */
static int check_endpoint(const char *ep, char *err, size_t errlen) {
  const char *host = NULL;
  if (strncmp(ep, "http://", 7) == 0) host = ep + 7;
  else if (strncmp(ep, "https://", 8) == 0) host = ep + 8;
  if (!host || !*host || *host == '/' || *host == ':') {
    objstore_errf(err, errlen,
                  "objstore option endpoint = \"%s\" is not a URL: give "
                  "http://host[:port] or https://host[:port]",
                  ep);
    return AKIDB_EINVAL;
  }
  const char *slash = strchr(host, '/');
  if (strpbrk(host, "?#@ \t") || (slash && slash[1] != '\0')) {
    objstore_errf(err, errlen,
                  "objstore option endpoint = \"%s\" may hold only scheme, host and port "
                  "(the bucket goes in option bucket, key prefixes in option prefix)",
                  ep);
    return AKIDB_EINVAL;
  }
  return 0;
}

static int check_bucket(const char *b, char *err, size_t errlen) {
  size_t n = strlen(b);
  bool ok = n >= 3 && n <= 63;
  for (size_t i = 0; ok && i < n; i++)
    ok = (b[i] >= 'a' && b[i] <= 'z') || (b[i] >= '0' && b[i] <= '9') || b[i] == '-' ||
         b[i] == '.';
  if (ok) ok = b[0] != '-' && b[0] != '.' && b[n - 1] != '-' && b[n - 1] != '.';
  if (!ok) {
    objstore_errf(err, errlen,
                  "objstore option bucket = \"%s\" is not a valid bucket name: 3 to 63 "
                  "characters of a-z, 0-9, '-' and '.', starting and ending with a letter "
                  "or digit",
                  b);
    return AKIDB_EINVAL;
  }
  return 0;
}

int akidb_objstore_options_validate(const akidb_objstore_options_t *o, char *err,
                                    size_t errlen) {
  if (!o) {
    objstore_errf(err, errlen, "objstore options are NULL");
    return AKIDB_EINVAL;
  }
  if (empty(o->kind) || (strcmp(o->kind, "local") != 0 && strcmp(o->kind, "s3") != 0)) {
    objstore_errf(err, errlen, "objstore option kind = \"%s\": give \"local\" or \"s3\"",
                  o->kind ? o->kind : "");
    return AKIDB_EINVAL;
  }
#define CHECK_BOUNDS(field, NAME)                                              \
  if ((uint64_t)o->field < (uint64_t)AKIDB_OBJSTORE_##NAME##_MIN ||             \
      (uint64_t)o->field > (uint64_t)AKIDB_OBJSTORE_##NAME##_MAX) {             \
    objstore_errf(err, errlen,                                                 \
                  "objstore option " #field " = %llu is out of range [%llu, %llu]", \
                  (unsigned long long)o->field,                                \
                  (unsigned long long)AKIDB_OBJSTORE_##NAME##_MIN,             \
                  (unsigned long long)AKIDB_OBJSTORE_##NAME##_MAX);            \
    return AKIDB_EINVAL;                                                       \
  }
  OBJSTORE_NUMERIC_OPTIONS(CHECK_BOUNDS)
#undef CHECK_BOUNDS
  if (o->retry_base_ms > o->retry_max_ms) {
    objstore_errf(err, errlen,
                  "objstore option retry_base_ms = %u exceeds retry_max_ms = %u: the first "
                  "backoff may not exceed the longest",
                  o->retry_base_ms, o->retry_max_ms);
    return AKIDB_EINVAL;
  }
  if (!empty(o->prefix)) {
    char probe[AKIDB_OBJSTORE_KEY_MAX + 2];
    size_t n = strlen(o->prefix);
    if (n >= AKIDB_OBJSTORE_KEY_MAX) {
      objstore_errf(err, errlen, "objstore option prefix is %zu bytes; at most %u", n,
                    AKIDB_OBJSTORE_KEY_MAX - 1);
      return AKIDB_EINVAL;
    }
    snprintf(probe, sizeof probe, "%sx", o->prefix);
    char why[256];
    if (akidb_objstore_key_check(probe, why, sizeof why) != 0) {
      objstore_errf(err, errlen,
                    "objstore option prefix = \"%s\" is unusable (%s); give segments "
                    "separated by '/', e.g. \"akidb/\"",
                    o->prefix, why);
      return AKIDB_EINVAL;
    }
  }
  if (strcmp(o->kind, "local") == 0) {
    if (empty(o->path)) {
      objstore_errf(err, errlen, "objstore option path is required for kind \"local\": "
                                 "give the root directory of the store");
      return AKIDB_EINVAL;
    }
    return 0;
  }
  if (empty(o->endpoint)) {
    objstore_errf(err, errlen, "objstore option endpoint is required for kind \"s3\" "
                               "(e.g. https://s3.us-east-1.amazonaws.com)");
    return AKIDB_EINVAL;
  }
  int rc = check_endpoint(o->endpoint, err, errlen);
  if (rc) return rc;
  if (empty(o->bucket)) {
    objstore_errf(err, errlen, "objstore option bucket is required for kind \"s3\"");
    return AKIDB_EINVAL;
  }
  rc = check_bucket(o->bucket, err, errlen);
  if (rc) return rc;
  if (empty(o->access_key) || empty(o->secret_key)) {
    objstore_errf(err, errlen, "objstore options access_key and secret_key are required "
                               "for kind \"s3\"");
    return AKIDB_EINVAL;
  }
  for (const char *p = o->access_key; *p; p++)
    if (*p <= ' ' || *p > '~' || *p == '/' || *p == ',') {
      objstore_errf(err, errlen, "objstore option access_key holds a character that is "
                                 "not allowed in an access key id");
      return AKIDB_EINVAL;
    }
  if (!empty(o->region)) {
    for (const char *p = o->region; *p; p++)
      if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-')) {
        objstore_errf(err, errlen,
                      "objstore option region = \"%s\" may hold only a-z, 0-9 and '-'",
                      o->region);
        return AKIDB_EINVAL;
      }
  }
  return 0;
}

/* -------------------------------------------------------------- key rules */

/* Length of the UTF-8 sequence at p (1..4), or 0 when it is invalid. */
static size_t utf8_len(const unsigned char *p) {
  if (p[0] < 0x80) return 1;
  size_t n = (p[0] & 0xE0) == 0xC0 ? 2 : (p[0] & 0xF0) == 0xE0 ? 3 : (p[0] & 0xF8) == 0xF0 ? 4 : 0;
  if (n == 0 || p[0] == 0xC0 || p[0] == 0xC1 || p[0] > 0xF4) return 0;
  for (size_t i = 1; i < n; i++)
    if ((p[i] & 0xC0) != 0x80) return 0;
  return n;
}

int akidb_objstore_key_check(const char *key, char *err, size_t errlen) {
  if (!key || !*key) {
    objstore_errf(err, errlen, "object key is empty");
    return AKIDB_EINVAL;
  }
  size_t n = strlen(key);
  if (n > AKIDB_OBJSTORE_KEY_MAX) {
    objstore_errf(err, errlen, "object key is %zu bytes; at most %u", n,
                  AKIDB_OBJSTORE_KEY_MAX);
    return AKIDB_EINVAL;
  }
  if (key[0] == '/') {
    objstore_errf(err, errlen, "object key \"%.200s\" is absolute (starts with '/')", key);
    return AKIDB_EINVAL;
  }
  for (const unsigned char *p = (const unsigned char *)key; *p;) {
    if (*p < 0x20 || *p == 0x7f) {
      objstore_errf(err, errlen, "object key \"%.200s\" holds a control character", key);
      return AKIDB_EINVAL;
    }
    size_t l = utf8_len(p);
    if (l == 0) {
      objstore_errf(err, errlen, "object key is not valid UTF-8");
      return AKIDB_EINVAL;
    }
    p += l;
  }
  const char *seg = key;
  for (;;) {
    const char *end = strchr(seg, '/');
    size_t len = end ? (size_t)(end - seg) : strlen(seg);
    if (len == 0) {
      objstore_errf(err, errlen, "object key \"%.200s\" has an empty segment ('//' or a "
                                 "trailing '/')", key);
      return AKIDB_EINVAL;
    }
    if ((len == 1 && seg[0] == '.') || (len == 2 && seg[0] == '.' && seg[1] == '.')) {
      objstore_errf(err, errlen, "object key \"%.200s\" has a \".\" or \"..\" segment", key);
      return AKIDB_EINVAL;
    }
    if (memmem(seg, len, ".tmp-", 5)) {
      objstore_errf(err, errlen, "object key \"%.200s\" holds \".tmp-\", which is reserved "
                                 "for temporary files", key);
      return AKIDB_EINVAL;
    }
    if (!end) break;
    seg = end + 1;
  }
  return 0;
}

int objstore_meta_check(const akidb_objstore_meta_t *meta, size_t nmeta, char *err,
                        size_t errlen) {
  if (nmeta > AKIDB_OBJSTORE_META_COUNT_MAX) {
    objstore_errf(err, errlen, "%zu user metadata entries; at most %u", nmeta,
                  AKIDB_OBJSTORE_META_COUNT_MAX);
    return AKIDB_ELIMIT;
  }
  size_t total = 0;
  for (size_t i = 0; i < nmeta; i++) {
    const char *nm = meta[i].name, *v = meta[i].value;
    if (empty(nm) || !v) {
      objstore_errf(err, errlen, "user metadata entry %zu has no name or value", i);
      return AKIDB_EINVAL;
    }
    for (const char *p = nm; *p; p++)
      if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-')) {
        objstore_errf(err, errlen, "user metadata name \"%.64s\" may hold only a-z, 0-9 "
                                   "and '-'", nm);
        return AKIDB_EINVAL;
      }
    if (strncmp(nm, "akidb-", 6) == 0) {
      objstore_errf(err, errlen, "user metadata name \"%.64s\" is reserved (akidb-*)", nm);
      return AKIDB_EINVAL;
    }
    for (const char *p = v; *p; p++)
      if (*p < 0x20 || *p > 0x7e) {
        objstore_errf(err, errlen, "user metadata \"%.64s\" holds a character outside "
                                   "printable ASCII", nm);
        return AKIDB_EINVAL;
      }
    total += strlen(nm) + strlen(v);
  }
  if (total > AKIDB_OBJSTORE_META_MAX - 64) {
    objstore_errf(err, errlen, "user metadata is %zu bytes; at most %u", total,
                  AKIDB_OBJSTORE_META_MAX - 64);
    return AKIDB_ELIMIT;
  }
  return 0;
}

void objstore_info_add_meta(akidb_objstore_info_t *info, const char *name, size_t nlen,
                            const char *value, size_t vlen) {
  while (vlen > 0 && (value[vlen - 1] == ' ' || value[vlen - 1] == '\t')) vlen--;
  while (vlen > 0 && (*value == ' ' || *value == '\t')) value++, vlen--;
  if (nlen == 12 && strncmp(name, "akidb-crc32c", 12) == 0) {
    char tmp[16];
    if (vlen == 8) {
      memcpy(tmp, value, 8);
      tmp[8] = '\0';
      char *end;
      unsigned long v = strtoul(tmp, &end, 16);
      if (*end == '\0') {
        info->crc32c = (uint32_t)v;
        info->has_crc32c = true;
      }
    }
    return;
  }
  if (nlen >= 6 && strncmp(name, "akidb-", 6) == 0) return;
  if (info->nmeta >= AKIDB_OBJSTORE_META_COUNT_MAX) return;
  size_t used = 0;
  for (size_t i = 0; i < info->nmeta; i++)
    used += strlen(info->meta[i].name) + strlen(info->meta[i].value) + 2;
  if (used + nlen + vlen + 2 > sizeof info->meta_buf) return;
  char *p = info->meta_buf + used;
  for (size_t i = 0; i < nlen; i++)
    p[i] = (char)((name[i] >= 'A' && name[i] <= 'Z') ? name[i] + 32 : name[i]);
  p[nlen] = '\0';
  memcpy(p + nlen + 1, value, vlen);
  p[nlen + 1 + vlen] = '\0';
  info->meta[info->nmeta].name = p;
  info->meta[info->nmeta].value = p + nlen + 1;
  info->nmeta++;
}

/* ------------------------------------------------------------ open, close */

int akidb_objstore_open(const akidb_objstore_options_t *o, akidb_objstore_t **out,
                        char *err, size_t errlen) {
  *out = NULL;
  int rc = akidb_objstore_options_validate(o, err, errlen);
  if (rc) return rc;
  akidb_objstore_t *s = calloc(1, sizeof *s);
  if (!s) return AKIDB_ENOMEM;
  s->kind = strcmp(o->kind, "local") == 0 ? OBJSTORE_LOCAL : OBJSTORE_S3;
  s->opt = *o;
  s->path = dup_or_null(o->path);
  s->endpoint = dup_or_null(o->endpoint);
  s->bucket = dup_or_null(o->bucket);
  s->region = strdup(empty(o->region) ? "us-east-1" : o->region);
  s->prefix = strdup(o->prefix ? o->prefix : "");
  s->access_key = dup_or_null(o->access_key);
  s->secret_key = dup_or_null(o->secret_key);
  s->session_token = empty(o->session_token) ? NULL : strdup(o->session_token);
  s->ca_file = empty(o->ca_file) ? NULL : strdup(o->ca_file);
  if (s->kind == OBJSTORE_LOCAL) {
    size_t n = strlen(o->path) + 7;
    s->display = malloc(n);
    if (s->display) snprintf(s->display, n, "local:%s", o->path);
  } else {
    s->display = strdup(o->endpoint);
    size_t l = s->display ? strlen(s->display) : 0;
    if (l && s->display[l - 1] == '/') s->display[l - 1] = '\0';
  }
  /* Clear the copies' pointers so nobody mistakes them for owned strings. */
  s->opt.kind = s->kind == OBJSTORE_LOCAL ? "local" : "s3";
  s->opt.path = s->opt.endpoint = s->opt.bucket = s->opt.region = s->opt.prefix = NULL;
  s->opt.access_key = s->opt.secret_key = s->opt.session_token = s->opt.ca_file = NULL;
  if (!s->region || !s->prefix || !s->display || (o->path && !s->path) ||
      (o->endpoint && !s->endpoint) || (o->bucket && !s->bucket) ||
      (o->access_key && !s->access_key) || (o->secret_key && !s->secret_key)) {
    akidb_objstore_close(s);
    return AKIDB_ENOMEM;
  }
  breaker_init(&s->breaker, o->breaker_failures, o->breaker_cooldown_ms, s->display,
               &objstore_real_clock);
  s->retry = (objstore_retry_t){&s->breaker, &s->stats, &objstore_real_clock,
                                o->max_retries, o->retry_base_ms, o->retry_max_ms};
  rc = s->kind == OBJSTORE_LOCAL ? local_open(s, err, errlen) : s3_open(s, err, errlen);
  if (rc) { /* the implementation cleaned up after itself (impl is NULL) */
    akidb_objstore_close(s);
    return rc;
  }
  *out = s;
  return 0;
}

void akidb_objstore_close(akidb_objstore_t *s) {
  if (!s) return;
  if (s->impl.local || s->impl.s3) {
    if (s->kind == OBJSTORE_LOCAL) local_close(s);
    else s3_close(s);
  }
  if (s->breaker.endpoint) breaker_destroy(&s->breaker);
  if (s->secret_key) memset(s->secret_key, 0, strlen(s->secret_key));
  if (s->session_token) memset(s->session_token, 0, strlen(s->session_token));
  free(s->path), free(s->endpoint), free(s->bucket), free(s->region), free(s->prefix);
  free(s->access_key), free(s->secret_key), free(s->session_token), free(s->ca_file);
  free(s->display);
  free(s);
}

const char *akidb_objstore_kind(const akidb_objstore_t *s) {
  return s->kind == OBJSTORE_LOCAL ? "local" : "s3";
}

const char *akidb_objstore_endpoint(const akidb_objstore_t *s) { return s->display; }

/* ----------------------------------------------------------------- writer */

struct akidb_objstore_writer {
  akidb_objstore_t *s;
  backend_writer_t *bw;
  uint64_t size;
  uint32_t crc;
  int sticky;       /* first error; every later call returns it */
  uint64_t t0;      /* open time (local PUT latency) */
};

static int writer_open_sized(akidb_objstore_t *s, const char *key,
                             const akidb_objstore_meta_t *meta, size_t nmeta, uint64_t part_size,
                             akidb_objstore_writer_t **out, char *err, size_t errlen) {
  *out = NULL;
  int rc = akidb_objstore_key_check(key, err, errlen);
  if (!rc) rc = objstore_meta_check(meta, nmeta, err, errlen);
  if (rc) return rc;
  akidb_objstore_writer_t *w = calloc(1, sizeof *w);
  if (!w) return AKIDB_ENOMEM;
  w->s = s;
  w->t0 = clock_now_ns();
  rc = s->kind == OBJSTORE_LOCAL
           ? local_writer_open(s, key, meta, nmeta, &w->bw, err, errlen)
           : s3_writer_open(s, key, meta, nmeta, part_size, &w->bw, err, errlen);
  if (rc) {
    free(w);
    return rc;
  }
  *out = w;
  return 0;
}

int akidb_objstore_writer_open(akidb_objstore_t *s, const char *key,
                               const akidb_objstore_meta_t *meta, size_t nmeta,
                               akidb_objstore_writer_t **out, char *err, size_t errlen) {
  return writer_open_sized(s, key, meta, nmeta, s->opt.part_size, out, err, errlen);
}

int akidb_objstore_writer_write(akidb_objstore_writer_t *w, const void *buf, size_t len,
                                char *err, size_t errlen) {
  if (w->sticky) {
    objstore_errf(err, errlen, "object writer failed earlier (%s); abort it",
                  akidb_err_name(w->sticky));
    return w->sticky;
  }
  if (len == 0) return 0;
  w->crc = crc32c(w->crc, buf, len);
  w->size += len;
  int rc = w->s->kind == OBJSTORE_LOCAL ? local_writer_write(w->bw, buf, len, err, errlen)
                                        : s3_writer_write(w->bw, buf, len, err, errlen);
  if (rc) w->sticky = rc;
  return rc;
}

int akidb_objstore_writer_commit(akidb_objstore_writer_t *w, akidb_objstore_result_t *out,
                                 char *err, size_t errlen) {
  akidb_objstore_t *s = w->s;
  int rc = w->sticky;
  if (rc) {
    objstore_errf(err, errlen, "object writer failed earlier (%s); nothing was stored",
                  akidb_err_name(rc));
    akidb_objstore_writer_abort(w);
    return rc;
  }
  akidb_objstore_result_t res;
  memset(&res, 0, sizeof res);
  if (s->kind == OBJSTORE_LOCAL) {
    rc = local_writer_commit(w->bw, w->size, w->crc, &res, err, errlen);
    stats_record(&s->stats, AKIDB_OBJSTORE_OP_PUT, rc, clock_now_ns() - w->t0);
    if (!rc) stats_add_bytes(&s->stats, AKIDB_OBJSTORE_OP_PUT, 0, w->size);
  } else {
    rc = s3_writer_commit(w->bw, w->size, w->crc, &res, err, errlen);
  }
  if (!rc && out) *out = res;
  free(w);
  return rc;
}

void akidb_objstore_writer_abort(akidb_objstore_writer_t *w) {
  if (!w) return;
  if (w->s->kind == OBJSTORE_LOCAL) local_writer_abort(w->bw);
  else s3_writer_abort(w->bw);
  free(w);
}

/* -------------------------------------------------------------------- put */

#define PUT_CHUNK (64u << 10)

int akidb_objstore_put(akidb_objstore_t *s, const char *key, akidb_objstore_read_fn read,
                       void *read_ctx, const akidb_objstore_put_options_t *opts,
                       akidb_objstore_result_t *out, char *err, size_t errlen) {
  int64_t size = opts ? opts->size : -1;
  uint64_t part = s->opt.part_size;
  if (size > 0 && (uint64_t)size > part * AKIDB_OBJSTORE_MAX_PARTS) {
    /* Grow the part so the object fits in 10,000 parts (rounded to MiB). */
    uint64_t need = ((uint64_t)size + AKIDB_OBJSTORE_MAX_PARTS - 1) / AKIDB_OBJSTORE_MAX_PARTS;
    part = (need + (1u << 20) - 1) & ~(uint64_t)((1u << 20) - 1);
    if (part > AKIDB_OBJSTORE_PART_SIZE_MAX) {
      objstore_errf(err, errlen, "put %s: %lld bytes exceed the largest object (%u parts "
                                 "of 5 GiB)", key, (long long)size, AKIDB_OBJSTORE_MAX_PARTS);
      return AKIDB_ELIMIT;
    }
  }
  akidb_objstore_writer_t *w;
  int rc = writer_open_sized(s, key, opts ? opts->meta : NULL, opts ? opts->nmeta : 0, part,
                             &w, err, errlen);
  if (rc) return rc;
  char buf[PUT_CHUNK];
  bool over = false;
  for (;;) {
    ssize_t n = read(read_ctx, buf, sizeof buf);
    if (n < 0) {
      objstore_errf(err, errlen, "put %s: the source failed (%s); nothing was stored", key,
                    akidb_err_name((int)n));
      akidb_objstore_writer_abort(w);
      return (int)n;
    }
    if (n == 0) break;
    if (size >= 0 && w->size + (uint64_t)n > (uint64_t)size) {
      over = true;
      break;
    }
    rc = akidb_objstore_writer_write(w, buf, (size_t)n, err, errlen);
    if (rc) {
      akidb_objstore_writer_abort(w);
      return rc;
    }
  }
  if (size >= 0 && (over || w->size != (uint64_t)size)) {
    objstore_errf(err, errlen, "put %s: the source gave %s%llu bytes but the put was "
                               "announced as %lld bytes; nothing was stored",
                  key, over ? "more than " : "",
                  (unsigned long long)w->size, (long long)size);
    akidb_objstore_writer_abort(w);
    return AKIDB_EINVAL;
  }
  return akidb_objstore_writer_commit(w, out, err, errlen);
}

ssize_t akidb_objstore_buffer_read(void *ctx, void *buf, size_t len) {
  akidb_objstore_buffer_src_t *m = ctx;
  size_t left = m->len - m->off, n = len < left ? len : left;
  memcpy(buf, (const char *)m->data + m->off, n);
  m->off += n;
  return (ssize_t)n;
}

int akidb_objstore_put_buffer(akidb_objstore_t *s, const char *key, const void *data,
                              size_t len, akidb_objstore_result_t *out, char *err,
                              size_t errlen) {
  akidb_objstore_buffer_src_t m = {data, len, 0};
  akidb_objstore_put_options_t o = {(int64_t)len, NULL, 0};
  return akidb_objstore_put(s, key, akidb_objstore_buffer_read, &m, &o, out, err, errlen);
}

/* ------------------------------------------------------------- put_many */

typedef struct {
  akidb_objstore_t *s;
  akidb_objstore_put_item_t *items;
  size_t n;
  atomic_size_t next;
  atomic_bool stop; /* an item failed: start no more */
} batch_t;

static void *batch_worker(void *arg) {
  batch_t *b = arg;
  util_thread_name("objstore-batch");
  for (;;) {
    if (atomic_load(&b->stop)) break;
    size_t i = atomic_fetch_add(&b->next, 1);
    if (i >= b->n) break;
    akidb_objstore_put_item_t *it = &b->items[i];
    it->attempted = true;
    it->rc = akidb_objstore_put(b->s, it->key, it->read, it->read_ctx, &it->opts, &it->result,
                                it->err, sizeof it->err);
    if (it->rc) atomic_store(&b->stop, true);
  }
  return NULL;
}

int akidb_objstore_put_many(akidb_objstore_t *s, akidb_objstore_put_item_t *items, size_t n,
                            uint32_t parallel, char *err, size_t errlen) {
  for (size_t i = 0; i < n; i++) items[i].attempted = false, items[i].rc = 0, items[i].err[0] = 0;
  size_t workers = parallel ? parallel : s->opt.max_parallel;
  if (workers > n) workers = n;
  batch_t b = {.s = s, .items = items, .n = n};
  pthread_t tid[AKIDB_OBJSTORE_MAX_PARALLEL_MAX];
  if (workers > AKIDB_OBJSTORE_MAX_PARALLEL_MAX) workers = AKIDB_OBJSTORE_MAX_PARALLEL_MAX;
  size_t started = 0;
  /* the caller's thread is a worker too */
  while (started + 1 < workers && pthread_create(&tid[started], NULL, batch_worker, &b) == 0)
    started++;
  if (workers) batch_worker(&b);
  for (size_t i = 0; i < started; i++) pthread_join(tid[i], NULL);
  for (size_t i = 0; i < n; i++)
    if (items[i].attempted && items[i].rc) {
      objstore_errf(err, errlen, "%s", items[i].err);
      return items[i].rc;
    }
  return AKIDB_OK;
}

/* -------------------------------------------------------------------- get */

typedef struct {
  akidb_objstore_write_fn user;
  void *ctx;
  uint32_t crc;
  uint64_t n;
} verify_sink_t;

static int verify_write(void *ctx, const void *buf, size_t len) {
  verify_sink_t *v = ctx;
  v->crc = crc32c(v->crc, buf, len);
  v->n += len;
  return v->user(v->ctx, buf, len);
}

int akidb_objstore_get(akidb_objstore_t *s, const char *key,
                       const akidb_objstore_get_options_t *opts, akidb_objstore_write_fn write,
                       void *write_ctx, akidb_objstore_info_t *info, char *err, size_t errlen) {
  int rc = akidb_objstore_key_check(key, err, errlen);
  if (rc) return rc;
  akidb_objstore_get_options_t o = {0};
  if (opts) o = *opts;
  akidb_objstore_info_t local_info;
  if (!info) info = &local_info;
  memset(info, 0, sizeof *info);
  verify_sink_t v = {write, write_ctx, 0, 0};
  if (s->kind == OBJSTORE_LOCAL) {
    uint64_t t0 = clock_now_ns();
    rc = local_get(s, key, o.offset, o.length, verify_write, &v, info, err, errlen);
    stats_record(&s->stats, AKIDB_OBJSTORE_OP_GET, rc, clock_now_ns() - t0);
    stats_add_bytes(&s->stats, AKIDB_OBJSTORE_OP_GET, v.n, 0);
  } else {
    rc = s3_get(s, key, o.offset, o.length, verify_write, &v, info, err, errlen);
  }
  if (rc) return rc;
  if (o.offset != 0 || o.length != 0) return 0; /* ranges are not verified */
  bool has = o.has_expected || info->has_crc32c;
  uint64_t want_size = o.has_expected ? o.expected_size : info->size;
  uint32_t want_crc = o.has_expected ? o.expected_crc32c : info->crc32c;
  if (v.n != want_size || (has && v.crc != want_crc)) {
    char want[64] = "";
    if (has) snprintf(want, sizeof want, " with CRC32C %08x", want_crc);
    objstore_errf(err, errlen,
                  "%s get %s: checksum mismatch: expected %llu bytes%s (%s), read %llu "
                  "bytes with CRC32C %08x; the stored object is corrupt or was replaced "
                  "(discard what was read)",
                  akidb_objstore_kind(s), key, (unsigned long long)want_size, want,
                  o.has_expected ? "given by the caller" : "from the object's metadata",
                  (unsigned long long)v.n, v.crc);
    return AKIDB_ECORRUPT;
  }
  return 0;
}

/* ------------------------------------------------------- head, list, delete */

int akidb_objstore_head(akidb_objstore_t *s, const char *key, akidb_objstore_info_t *info,
                        char *err, size_t errlen) {
  int rc = akidb_objstore_key_check(key, err, errlen);
  if (rc) return rc;
  memset(info, 0, sizeof *info);
  if (s->kind == OBJSTORE_S3) return s3_head(s, key, info, err, errlen);
  uint64_t t0 = clock_now_ns();
  rc = local_head(s, key, info, err, errlen);
  stats_record(&s->stats, AKIDB_OBJSTORE_OP_HEAD, rc, clock_now_ns() - t0);
  return rc;
}

int akidb_objstore_list(akidb_objstore_t *s, const char *prefix, akidb_objstore_list_fn fn,
                        void *ctx, char *err, size_t errlen) {
  if (!prefix) prefix = "";
  if (strlen(prefix) > AKIDB_OBJSTORE_KEY_MAX) {
    objstore_errf(err, errlen, "list prefix is longer than a key (%u bytes)",
                  AKIDB_OBJSTORE_KEY_MAX);
    return AKIDB_EINVAL;
  }
  if (s->kind == OBJSTORE_S3) return s3_list(s, prefix, fn, ctx, err, errlen);
  uint64_t t0 = clock_now_ns();
  int rc = local_list(s, prefix, fn, ctx, err, errlen);
  stats_record(&s->stats, AKIDB_OBJSTORE_OP_LIST, rc, clock_now_ns() - t0);
  return rc;
}

int akidb_objstore_delete(akidb_objstore_t *s, const char *key, char *err, size_t errlen) {
  int rc = akidb_objstore_key_check(key, err, errlen);
  if (rc) return rc;
  if (s->kind == OBJSTORE_S3) return s3_delete(s, key, err, errlen);
  uint64_t t0 = clock_now_ns();
  rc = local_delete(s, key, err, errlen);
  stats_record(&s->stats, AKIDB_OBJSTORE_OP_DELETE, rc, clock_now_ns() - t0);
  return rc;
}

typedef struct {
  char *buf;
  size_t len, cap;
} membuf_t;

static int to_membuf(void *ctx, const void *data, size_t len) {
  membuf_t *b = ctx;
  if (len > b->cap - b->len) return AKIDB_ELIMIT;
  memcpy(b->buf + b->len, data, len);
  b->len += len;
  return AKIDB_OK;
}

int akidb_objstore_get_all(akidb_objstore_t *s, const char *key, size_t max, char **out,
                           size_t *len, char *err, size_t errlen) {
  *out = NULL;
  *len = 0;
  membuf_t b = {.cap = max, .buf = malloc(max ? max : 1)};
  if (!b.buf) {
    snprintf(err, errlen, "out of memory reading %s", key);
    return AKIDB_ENOMEM;
  }
  int rc = akidb_objstore_get(s, key, NULL, to_membuf, &b, NULL, err, errlen);
  if (rc == AKIDB_ELIMIT) snprintf(err, errlen, "%s is over %zu bytes", key, max);
  if (rc) {
    free(b.buf);
    return rc;
  }
  *out = b.buf;
  *len = b.len;
  return AKIDB_OK;
}

typedef struct {
  char *p;
  size_t left;
  bool over; /* the server sent more than the range */
} span_t;

static int to_span(void *ctx, const void *data, size_t len) {
  span_t *sp = ctx;
  if (len > sp->left) {
    sp->over = true;
    return AKIDB_ECORRUPT;
  }
  memcpy(sp->p, data, len);
  sp->p += len;
  sp->left -= len;
  return AKIDB_OK;
}

int akidb_objstore_read_at(akidb_objstore_t *s, const char *key, uint64_t offset, void *buf,
                           size_t len, char *err, size_t errlen) {
  if (len == 0) return AKIDB_OK;
  span_t sp = {buf, len, false};
  akidb_objstore_get_options_t go = {.offset = offset, .length = len};
  int rc = akidb_objstore_get(s, key, &go, to_span, &sp, NULL, err, errlen);
  if (sp.over)
    snprintf(err, errlen, "%s: the server sent more than the %zu bytes asked for at byte %" PRIu64,
             key, len, offset);
  else if (!rc && sp.left) {
    snprintf(err, errlen, "%s ends before byte %" PRIu64, key, offset + len);
    rc = AKIDB_ECORRUPT;
  }
  return rc;
}

typedef struct {
  akidb_objstore_t *s;
  int rc;
  char err[512];
} delete_all_t;

static int delete_listed(void *ctx, const akidb_objstore_entry_t *e) {
  delete_all_t *d = ctx;
  char err[512];
  int rc = akidb_objstore_delete(d->s, e->key, err, sizeof err);
  if (rc && !d->rc) {
    d->rc = rc;
    snprintf(d->err, sizeof d->err, "%s", err);
  }
  return 0;
}

int akidb_objstore_delete_prefix(akidb_objstore_t *s, const char *first, const char *prefix,
                                 char *err, size_t errlen) {
  int rc = first ? akidb_objstore_delete(s, first, err, errlen) : AKIDB_OK;
  if (rc) return rc;
  delete_all_t d = {.s = s};
  rc = akidb_objstore_list(s, prefix, delete_listed, &d, err, errlen);
  if (!rc && d.rc) {
    snprintf(err, errlen, "%s", d.err);
    rc = d.rc;
  }
  return rc;
}
