/*
 * log.c — owns the server's structured log (obs/log.h): one line per event
 * on stderr, as `text`
 *   2026-11-21T10:00:00.123Z level=info msg="listening" addr=127.0.0.1:8080
 * or as `json` (one object per line: "time", "level", "msg", then the
 * pairs), dropped below the level threshold.
 *
 * Locking: the format and threshold are atomics set by obs_log_setup; each
 * line is built in a buffer of its own and handed to the kernel by one
 * write(2) (repeated only for what a short write left), so lines of
 * concurrent threads never interleave. Text values are quoted when they
 * hold spaces, quotes, '=', control bytes or invalid UTF-8, with \" \\ \n
 * \r \t and \xNN escapes; JSON strings escape per RFC 8259 and replace
 * invalid UTF-8 by U+FFFD, so every line parses.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "akidb/errors.h"
#include "obs/log.h"

#define LINE_INLINE 2048  /* bytes built on the stack before going to the heap */
#define VALUE_MAX 16384   /* bytes of one value or message; longer ones are cut, "..." */

static atomic_int log_format = OBS_LOG_TEXT;
static atomic_int log_level = AKIDB_LOG_INFO;

static const char *const level_names[] = {"debug", "info", "warn", "error"};
static const char *const format_names[] = {"text", "json"};

int obs_log_format_parse(const char *s, obs_log_format_t *out) {
  for (int i = 0; s && i < 2; i++) {
    if (strcasecmp(s, format_names[i]) == 0) {
      *out = (obs_log_format_t)i;
      return AKIDB_OK;
    }
  }
  return AKIDB_EINVAL;
}

int obs_log_level_parse(const char *s, akidb_log_level_t *out) {
  for (int i = 0; s && i < 4; i++) {
    if (strcasecmp(s, level_names[i]) == 0) {
      *out = (akidb_log_level_t)i;
      return AKIDB_OK;
    }
  }
  return AKIDB_EINVAL;
}

void obs_log_setup(obs_log_format_t format, akidb_log_level_t level) {
  atomic_store(&log_format, format == OBS_LOG_JSON ? OBS_LOG_JSON : OBS_LOG_TEXT);
  atomic_store(&log_level, level);
}

/* ------------------------------------------------------------- buffer -- */

typedef struct {
  char *data;
  size_t len, cap;
  bool failed; /* out of memory: the line is dropped */
  char inline_buf[LINE_INLINE];
} line_t;

static void line_init(line_t *l) {
  l->data = l->inline_buf;
  l->len = 0;
  l->cap = sizeof l->inline_buf;
  l->failed = false;
}

static void line_free(line_t *l) {
  if (l->data != l->inline_buf) free(l->data);
}

/* Makes room for `n` more bytes. */
static bool line_room(line_t *l, size_t n) {
  if (l->failed) return false;
  if (l->len + n <= l->cap) return true;
  size_t cap = l->cap * 2;
  while (cap < l->len + n) cap *= 2;
  char *d = l->data == l->inline_buf ? malloc(cap) : realloc(l->data, cap);
  if (!d) {
    l->failed = true;
    return false;
  }
  if (l->data == l->inline_buf) memcpy(d, l->inline_buf, l->len);
  l->data = d;
  l->cap = cap;
  return true;
}

static void put(line_t *l, const char *s, size_t n) {
  if (!line_room(l, n)) return;
  memcpy(l->data + l->len, s, n);
  l->len += n;
}

static void puts_(line_t *l, const char *s) { put(l, s, strlen(s)); }

static void putc_(line_t *l, char c) { put(l, &c, 1); }

/* "2026-11-21T10:00:00.123Z" */
static void put_time(line_t *l) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  char buf[40];
  int n = snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
                   tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                   ts.tv_nsec / 1000000);
  put(l, buf, (size_t)n);
}

/* Length of the valid UTF-8 sequence at `s` (1..4), or 0 if it is invalid. */
static size_t utf8_len(const unsigned char *s) {
  unsigned char c = s[0];
  if (c < 0x80) return 1;
  unsigned char lo = 0x80, hi = 0xBF;
  size_t n;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (s[1] < lo || s[1] > hi) return 0;
  for (size_t i = 2; i < n; i++)
    if (s[i] < 0x80 || s[i] > 0xBF) return 0;
  return n;
}

/* ------------------------------------------------------------- text ---- */

static bool text_needs_quotes(const char *s) {
  if (!s[0]) return true;
  for (const unsigned char *p = (const unsigned char *)s; *p;) {
    if (*p <= ' ' || *p == '"' || *p == '=' || *p == '\\' || *p == 0x7F) return true;
    size_t n = utf8_len(p);
    if (n == 0) return true;
    p += n;
  }
  return false;
}

static void put_text_quoted(line_t *l, const char *s) {
  putc_(l, '"');
  const unsigned char *start = (const unsigned char *)s, *p = start;
  while (*p && (size_t)(p - start) < VALUE_MAX) {
    size_t n = utf8_len(p);
    char esc[8];
    if (n == 0 || *p < 0x20 || *p == 0x7F) {
      if (*p == '\n') puts_(l, "\\n");
      else if (*p == '\r') puts_(l, "\\r");
      else if (*p == '\t') puts_(l, "\\t");
      else {
        snprintf(esc, sizeof esc, "\\x%02X", (unsigned)*p);
        puts_(l, esc);
      }
      p++;
      continue;
    }
    if (*p == '"' || *p == '\\') putc_(l, '\\');
    put(l, (const char *)p, n);
    p += n;
  }
  if (*p) puts_(l, "...");
  putc_(l, '"');
}

static void put_text_value(line_t *l, const char *s) {
  if (text_needs_quotes(s))
    put_text_quoted(l, s);
  else
    puts_(l, s);
}

/* Keys come from the code; anything outside [A-Za-z0-9_.-] becomes '_'. */
static void put_key(line_t *l, const char *k) {
  for (; *k; k++) {
    char c = *k;
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-';
    putc_(l, ok ? c : '_');
  }
}

/* ------------------------------------------------------------- json ---- */

static void put_json_string(line_t *l, const char *s) {
  putc_(l, '"');
  const unsigned char *start = (const unsigned char *)s, *p = start;
  while (*p && (size_t)(p - start) < VALUE_MAX) {
    size_t n = utf8_len(p);
    char esc[8];
    if (n == 0) {
      puts_(l, "\\ufffd");
      p++;
      continue;
    }
    switch (*p) {
      case '"': puts_(l, "\\\""); break;
      case '\\': puts_(l, "\\\\"); break;
      case '\n': puts_(l, "\\n"); break;
      case '\r': puts_(l, "\\r"); break;
      case '\t': puts_(l, "\\t"); break;
      case '\b': puts_(l, "\\b"); break;
      case '\f': puts_(l, "\\f"); break;
      default:
        if (*p < 0x20 || *p == 0x7F) {
          snprintf(esc, sizeof esc, "\\u%04x", (unsigned)*p);
          puts_(l, esc);
        } else {
          put(l, (const char *)p, n);
        }
    }
    p += n;
  }
  if (*p) puts_(l, "...");
  putc_(l, '"');
}

/* ------------------------------------------------------------- lines --- */

/* One key/value pair; `number` values are written unquoted in JSON. */
typedef struct {
  const char *key;
  const char *value;
  bool number;
} field_t;

static void begin(line_t *l, int format, akidb_log_level_t level, const char *msg) {
  const char *name = level_names[level <= AKIDB_LOG_ERROR ? level : AKIDB_LOG_ERROR];
  if (format == OBS_LOG_JSON) {
    puts_(l, "{\"time\":\"");
    put_time(l);
    puts_(l, "\",\"level\":\"");
    puts_(l, name);
    puts_(l, "\",\"msg\":");
    put_json_string(l, msg ? msg : "");
  } else {
    put_time(l);
    puts_(l, " level=");
    puts_(l, name);
    puts_(l, " msg=");
    put_text_quoted(l, msg ? msg : "");
  }
}

static void add(line_t *l, int format, const field_t *f) {
  const char *v = f->value ? f->value : "";
  if (format == OBS_LOG_JSON) {
    putc_(l, ',');
    putc_(l, '"');
    put_key(l, f->key);
    puts_(l, "\":");
    if (f->number)
      puts_(l, v);
    else
      put_json_string(l, v);
  } else {
    putc_(l, ' ');
    put_key(l, f->key);
    putc_(l, '=');
    put_text_value(l, v);
  }
}

/* Ends the line and writes it with one write(2); a line that ran out of
 * memory is dropped. */
static void finish(line_t *l, int format) {
  if (format == OBS_LOG_JSON) putc_(l, '}');
  putc_(l, '\n');
  if (l->failed) return;
  const char *p = l->data;
  size_t left = l->len;
  while (left > 0) {
    ssize_t n = write(STDERR_FILENO, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    p += n;
    left -= (size_t)n;
  }
}

static bool enabled(akidb_log_level_t level) { return (int)level >= atomic_load(&log_level); }

static void emit(akidb_log_level_t level, const char *msg, const field_t *fields, size_t n) {
  int format = atomic_load(&log_format);
  line_t l;
  line_init(&l);
  begin(&l, format, level, msg);
  for (size_t i = 0; i < n; i++) add(&l, format, &fields[i]);
  finish(&l, format);
  line_free(&l);
}

#define PAIRS_MAX 32 /* key/value pairs of one obs_log call */

void obs_log(akidb_log_level_t level, const char *msg, ...) {
  if (!enabled(level)) return;
  field_t fields[PAIRS_MAX];
  size_t n = 0;
  va_list ap;
  va_start(ap, msg);
  for (const char *key; n < PAIRS_MAX && (key = va_arg(ap, const char *)) != NULL;) {
    fields[n].key = key;
    fields[n].value = va_arg(ap, const char *);
    fields[n].number = false;
    n++;
  }
  va_end(ap);
  emit(level, msg, fields, n);
}

void obs_log_request(const char *request_id, const char *method, const char *route,
                     const char *path, int status, double duration_ms, const char *tenant) {
  akidb_log_level_t level = status == 500 ? AKIDB_LOG_ERROR
                            : status >= 500 ? AKIDB_LOG_WARN
                                            : AKIDB_LOG_INFO;
  if (!enabled(level)) return;
  char status_text[16], duration_text[32];
  snprintf(status_text, sizeof status_text, "%d", status);
  if (!(duration_ms >= 0) || duration_ms > 1e12) duration_ms = 0; /* NaN, negative, absurd */
  snprintf(duration_text, sizeof duration_text, "%.3f", duration_ms);
  field_t fields[] = {
      {"request_id", request_id, false}, {"method", method, false},
      {"route", route, false},           {"path", path, false},
      {"status", status_text, true},     {"duration_ms", duration_text, true},
      {"tenant", tenant, false},
  };
  emit(level, "request", fields, sizeof fields / sizeof fields[0]);
}

/* INTERNAL, UNKNOWN and DATA_LOSS are bugs; UNAVAILABLE a warning. */
static akidb_log_level_t rpc_level(int code) {
  if (code == 13 || code == 2 || code == 15) return AKIDB_LOG_ERROR;
  if (code == 14) return AKIDB_LOG_WARN;
  return AKIDB_LOG_INFO;
}

void obs_log_rpc(const char *request_id, const char *method, const char *code_name, int code,
                 double duration_ms, const char *tenant) {
  akidb_log_level_t level = rpc_level(code);
  if (!enabled(level)) return;
  char code_text[16], duration_text[32];
  snprintf(code_text, sizeof code_text, "%d", code);
  if (!(duration_ms >= 0) || duration_ms > 1e12) duration_ms = 0; /* NaN, negative, absurd */
  snprintf(duration_text, sizeof duration_text, "%.3f", duration_ms);
  field_t fields[] = {
      {"request_id", request_id, false}, {"rpc", method, false},
      {"grpc_status", code_name, false}, {"grpc_code", code_text, true},
      {"duration_ms", duration_text, true}, {"tenant", tenant, false},
  };
  emit(level, "rpc", fields, sizeof fields / sizeof fields[0]);
}

void obs_log_sink(void *ctx, akidb_log_level_t level, const char *msg) {
  (void)ctx;
  obs_log(level, msg, NULL);
}
