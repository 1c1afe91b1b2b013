/*
 * toml.c — owns the parser of the TOML subset configuration files use
 * (config.h): reads a whole document line by line, decodes each value and
 * hands every table header and key/value pair to a callback in file order.
 * What the subset leaves out (arrays, inline tables, multi-line strings,
 * dotted or quoted keys, dates, non-decimal integers) is refused with a
 * message naming the line, as are tables and keys defined twice.
 *
 * Locking: none; all state lives in one call.
 */
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "akidb/errors.h"
#include "config/config.h"

#define NAME_MAX_LEN 127 /* bytes of a table name or key */
#define RAW_SHOWN 60     /* bytes of a value quoted in messages */

typedef struct {
  char *name; /* "[table]" or "table.key" */
  int line;
} seen_t;

typedef struct {
  const char *file;     /* name used in messages */
  const char *p, *end;  /* cursor and end of the current line */
  int line;
  char table[NAME_MAX_LEN + 1];
  seen_t *seen;
  size_t n_seen, cap_seen;
  char *buf; /* decoded string value */
  size_t buf_cap;
  char raw[RAW_SHOWN + 8];
  config_toml_fn fn;
  void *ctx;
  char *err;
  size_t errlen;
} parser_t;

/* ------------------------------------------------------------ helpers -- */

/* Writes "<file>:<line>: [key 't.k': ]<message>" and returns AKIDB_EINVAL. */
static int fail(parser_t *ps, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(parser_t *ps, const char *key, const char *fmt, ...) {
  if (!ps->err || ps->errlen == 0) return AKIDB_EINVAL;
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (key)
    snprintf(ps->err, ps->errlen, "%s:%d: key '%s%s%s': %s", ps->file, ps->line, ps->table,
             ps->table[0] ? "." : "", key, msg);
  else
    snprintf(ps->err, ps->errlen, "%s:%d: %s", ps->file, ps->line, msg);
  return AKIDB_EINVAL;
}

static bool is_ws(char c) { return c == ' ' || c == '\t'; }

static bool is_bare(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         c == '_' || c == '-';
}

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

static void skip_ws(parser_t *ps) {
  while (ps->p < ps->end && is_ws(*ps->p)) ps->p++;
}

/* True at the end of a value: end of line, white space or a comment. */
static bool at_delim(const parser_t *ps) {
  return ps->p >= ps->end || is_ws(*ps->p) || *ps->p == '#';
}

/* Copies the rest of the line, shortened, for a message. */
static void rest_of_line(const parser_t *ps, char *out, size_t n) {
  size_t len = (size_t)(ps->end - ps->p);
  if (len > RAW_SHOWN) len = RAW_SHOWN;
  snprintf(out, n, "%.*s%s", (int)len, ps->p, (size_t)(ps->end - ps->p) > len ? "..." : "");
}

/* After a header or value: white space, then a comment or the line's end. */
static int expect_line_end(parser_t *ps, const char *key, const char *after) {
  skip_ws(ps);
  if (ps->p >= ps->end || *ps->p == '#') return AKIDB_OK;
  char rest[RAW_SHOWN + 8];
  rest_of_line(ps, rest, sizeof rest);
  return fail(ps, key, "unexpected text after %s: '%s' (one setting per line; start comments "
              "with #)", after, rest);
}

/* Records `name` (defined at the current line) or reports where it was
 * defined first: returns that line, 0 when new, -1 when out of memory. */
static int remember(parser_t *ps, const char *name) {
  for (size_t i = 0; i < ps->n_seen; i++)
    if (strcmp(ps->seen[i].name, name) == 0) return ps->seen[i].line;
  if (ps->n_seen == ps->cap_seen) {
    size_t cap = ps->cap_seen ? ps->cap_seen * 2 : 32;
    seen_t *s = realloc(ps->seen, cap * sizeof *s);
    if (!s) return -1;
    ps->seen = s;
    ps->cap_seen = cap;
  }
  char *copy = strdup(name);
  if (!copy) return -1;
  ps->seen[ps->n_seen].name = copy;
  ps->seen[ps->n_seen].line = ps->line;
  ps->n_seen++;
  return 0;
}

/* Reads a bare name ([A-Za-z0-9_-], plus '.' in table names) into out. */
static size_t read_name(parser_t *ps, bool dots, char *out) {
  size_t n = 0;
  while (ps->p < ps->end && (is_bare(*ps->p) || (dots && *ps->p == '.'))) {
    if (n < NAME_MAX_LEN) out[n] = *ps->p;
    n++;
    ps->p++;
  }
  out[n < NAME_MAX_LEN ? n : NAME_MAX_LEN] = '\0';
  return n;
}

/* ------------------------------------------------------------ strings -- */

static void put_byte(parser_t *ps, size_t *n, char c) { ps->buf[(*n)++] = c; }

/* Appends code point `cp` as UTF-8. */
static void put_utf8(parser_t *ps, size_t *n, uint32_t cp) {
  if (cp < 0x80) {
    put_byte(ps, n, (char)cp);
  } else if (cp < 0x800) {
    put_byte(ps, n, (char)(0xC0 | (cp >> 6)));
    put_byte(ps, n, (char)(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    put_byte(ps, n, (char)(0xE0 | (cp >> 12)));
    put_byte(ps, n, (char)(0x80 | ((cp >> 6) & 0x3F)));
    put_byte(ps, n, (char)(0x80 | (cp & 0x3F)));
  } else {
    put_byte(ps, n, (char)(0xF0 | (cp >> 18)));
    put_byte(ps, n, (char)(0x80 | ((cp >> 12) & 0x3F)));
    put_byte(ps, n, (char)(0x80 | ((cp >> 6) & 0x3F)));
    put_byte(ps, n, (char)(0x80 | (cp & 0x3F)));
  }
}

static int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Decodes \uXXXX (digits = 4) or \UXXXXXXXX (digits = 8); ps->p is past the u/U. */
static int unicode_escape(parser_t *ps, const char *key, int digits, size_t *n) {
  uint32_t cp = 0;
  for (int i = 0; i < digits; i++) {
    int h = ps->p < ps->end ? hex_value(*ps->p) : -1;
    if (h < 0)
      return fail(ps, key, "a \\%c escape needs exactly %d hexadecimal digits",
                  digits == 4 ? 'u' : 'U', digits);
    cp = cp * 16 + (uint32_t)h;
    ps->p++;
  }
  if (cp == 0) return fail(ps, key, "strings cannot contain NUL (\\u0000)");
  if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
    return fail(ps, key, "\\u escape U+%04X is not a Unicode scalar value", (unsigned)cp);
  put_utf8(ps, n, cp);
  return AKIDB_OK;
}

/* Decodes one escape; ps->p is at the backslash. */
static int escape(parser_t *ps, const char *key, size_t *n) {
  ps->p++;
  if (ps->p >= ps->end)
    return fail(ps, key, "unterminated string: close it with \" on the same line");
  char c = *ps->p++;
  switch (c) {
    case 'b': put_byte(ps, n, '\b'); return AKIDB_OK;
    case 't': put_byte(ps, n, '\t'); return AKIDB_OK;
    case 'n': put_byte(ps, n, '\n'); return AKIDB_OK;
    case 'f': put_byte(ps, n, '\f'); return AKIDB_OK;
    case 'r': put_byte(ps, n, '\r'); return AKIDB_OK;
    case '"': put_byte(ps, n, '"'); return AKIDB_OK;
    case '\\': put_byte(ps, n, '\\'); return AKIDB_OK;
    case 'u': return unicode_escape(ps, key, 4, n);
    case 'U': return unicode_escape(ps, key, 8, n);
    default:
      return fail(ps, key, "invalid escape '\\%c' in a string (write \\\\ for a backslash, "
                  "or use a 'literal string')", c);
  }
}

static int control_char(parser_t *ps, const char *key, char c) {
  return fail(ps, key, "control character 0x%02X in a string; write it as an escape such as "
              "\\n or \\u%04X", (unsigned)(unsigned char)c, (unsigned)(unsigned char)c);
}

static bool is_control(char c) {
  unsigned char u = (unsigned char)c;
  return (u < 0x20 && c != '\t') || u == 0x7F;
}

/* "...": ps->p is at the opening quote. */
static int basic_string(parser_t *ps, const char *key, config_toml_value_t *v) {
  if (ps->end - ps->p >= 3 && ps->p[1] == '"' && ps->p[2] == '"')
    return fail(ps, key, "multi-line strings (\"\"\") are not supported; write the value on one "
                "line with \\n escapes");
  ps->p++;
  size_t n = 0;
  for (;;) {
    if (ps->p >= ps->end)
      return fail(ps, key, "unterminated string: close it with \" on the same line");
    char c = *ps->p;
    if (c == '"') break;
    if (c == '\\') {
      int rc = escape(ps, key, &n);
      if (rc) return rc;
      continue;
    }
    if (is_control(c)) return control_char(ps, key, c);
    put_byte(ps, &n, c);
    ps->p++;
  }
  ps->p++;
  ps->buf[n] = '\0';
  v->type = CONFIG_TOML_STRING;
  v->string = ps->buf;
  v->string_len = n;
  return AKIDB_OK;
}

/* '...': ps->p is at the opening quote; no escapes. */
static int literal_string(parser_t *ps, const char *key, config_toml_value_t *v) {
  if (ps->end - ps->p >= 3 && ps->p[1] == '\'' && ps->p[2] == '\'')
    return fail(ps, key, "multi-line literal strings (''') are not supported; write the value "
                "on one line");
  ps->p++;
  size_t n = 0;
  for (;;) {
    if (ps->p >= ps->end)
      return fail(ps, key, "unterminated string: close it with ' on the same line");
    char c = *ps->p;
    if (c == '\'') break;
    if (is_control(c)) return control_char(ps, key, c);
    put_byte(ps, &n, c);
    ps->p++;
  }
  ps->p++;
  ps->buf[n] = '\0';
  v->type = CONFIG_TOML_STRING;
  v->string = ps->buf;
  v->string_len = n;
  return AKIDB_OK;
}

/* ------------------------------------------------------------ numbers -- */

/* Consumes digits with single underscores between them; false if malformed
 * or empty. */
static bool digit_run(const char **s, const char *end) {
  const char *p = *s;
  if (p >= end || !is_digit(*p)) return false;
  while (p < end) {
    if (is_digit(*p)) {
      p++;
    } else if (*p == '_' && p + 1 < end && is_digit(p[1]) && is_digit(p[-1])) {
      p++;
    } else {
      break;
    }
  }
  *s = p;
  return true;
}

/* Accumulates the decimal digits of [s, e) into a signed 64-bit integer. */
static bool to_int64(const char *s, const char *e, bool negative, int64_t *out) {
  uint64_t limit = negative ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
  uint64_t acc = 0;
  for (; s < e; s++) {
    if (*s == '_') continue;
    uint64_t d = (uint64_t)(*s - '0');
    if (acc > (limit - d) / 10) return false;
    acc = acc * 10 + d;
  }
  *out = negative ? (acc == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)acc) : (int64_t)acc;
  return true;
}

static int number_error(parser_t *ps, const char *key, const char *tok, size_t len) {
  size_t off = (len > 0 && (tok[0] == '+' || tok[0] == '-')) ? 1 : 0;
  const char *d = tok + off;
  size_t dlen = len - off;
  if (dlen >= 2 && d[0] == '0' && (d[1] == 'x' || d[1] == 'o' || d[1] == 'b'))
    return fail(ps, key, "only decimal integers are supported, got %.*s", (int)len, tok);
  if (memchr(tok, ':', len) || (dlen >= 8 && d[4] == '-'))
    return fail(ps, key, "dates and times are not supported, got %.*s", (int)len, tok);
  return fail(ps, key, "'%.*s' is not a number (write integers like 8080 or 10_000, floats "
              "like 0.5 or 1e-3)", (int)len, tok);
}

/* A decimal integer or float, or inf/nan; ps->p is at its first byte. */
static int number(parser_t *ps, const char *key, config_toml_value_t *v) {
  const char *tok = ps->p, *e = ps->p;
  while (e < ps->end && !is_ws(*e) && *e != '#') e++;
  size_t len = (size_t)(e - tok);
  ps->p = e;
  const char *s = tok;
  bool negative = *s == '-';
  if (*s == '+' || *s == '-') s++;
  if ((size_t)(e - s) == 3 && (memcmp(s, "inf", 3) == 0 || memcmp(s, "nan", 3) == 0)) {
    v->type = CONFIG_TOML_FLOAT;
    v->number = s[0] == 'i' ? (negative ? -HUGE_VAL : HUGE_VAL) : NAN;
    return AKIDB_OK;
  }
  const char *int_start = s;
  if (!digit_run(&s, e)) return number_error(ps, key, tok, len);
  const char *int_end = s;
  bool is_float = false;
  if (s < e && *s == '.') {
    s++;
    if (!digit_run(&s, e)) return number_error(ps, key, tok, len);
    is_float = true;
  }
  if (s < e && (*s == 'e' || *s == 'E')) {
    s++;
    if (s < e && (*s == '+' || *s == '-')) s++;
    if (!digit_run(&s, e)) return number_error(ps, key, tok, len);
    is_float = true;
  }
  if (s != e) return number_error(ps, key, tok, len);
  if (*int_start == '0' && int_end - int_start > 1)
    return fail(ps, key, "leading zeros are not allowed in %.*s", (int)len, tok);
  if (!is_float) {
    v->type = CONFIG_TOML_INTEGER;
    if (!to_int64(int_start, int_end, negative, &v->integer))
      return fail(ps, key, "integer %.*s does not fit in 64 bits", (int)len, tok);
    return AKIDB_OK;
  }
  char clean[128];
  size_t n = 0;
  for (const char *q = tok; q < e && n + 1 < sizeof clean; q++)
    if (*q != '_') clean[n++] = *q;
  clean[n] = '\0';
  v->type = CONFIG_TOML_FLOAT;
  v->number = strtod(clean, NULL);
  return AKIDB_OK;
}

/* ------------------------------------------------------------- values -- */

static bool word(parser_t *ps, const char *w) {
  size_t n = strlen(w);
  if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, w, n) != 0) return false;
  const char *save = ps->p;
  ps->p += n;
  if (at_delim(ps)) return true;
  ps->p = save;
  return false;
}

/* An unquoted word where a value belongs: most likely a string without quotes. */
static int bare_word(parser_t *ps, const char *key) {
  const char *s = ps->p, *e = ps->p;
  while (e < ps->end && !is_ws(*e) && *e != '#') e++;
  int n = (int)(e - s) > RAW_SHOWN ? RAW_SHOWN : (int)(e - s);
  return fail(ps, key, "expected a value (a \"string\", an integer, a float, true or false), "
              "got %.*s; quote strings: \"%.*s\"", n, s, n, s);
}

static int value(parser_t *ps, const char *key, config_toml_value_t *v) {
  const char *start = ps->p;
  int rc;
  char c = *ps->p;
  if (c == '"') {
    rc = basic_string(ps, key, v);
  } else if (c == '\'') {
    rc = literal_string(ps, key, v);
  } else if (word(ps, "true") || word(ps, "false")) {
    v->type = CONFIG_TOML_BOOL;
    v->boolean = c == 't';
    rc = AKIDB_OK;
  } else if (c == '[') {
    return fail(ps, key, "arrays are not supported here");
  } else if (c == '{') {
    return fail(ps, key, "inline tables are not supported; use a [table] header");
  } else if (is_digit(c) || c == '+' || c == '-' || word(ps, "inf") || word(ps, "nan")) {
    ps->p = start;
    rc = number(ps, key, v);
  } else {
    return bare_word(ps, key);
  }
  if (rc) return rc;
  size_t len = (size_t)(ps->p - start);
  snprintf(ps->raw, sizeof ps->raw, "%.*s%s", (int)(len > RAW_SHOWN ? RAW_SHOWN : len), start,
           len > RAW_SHOWN ? "..." : "");
  v->raw = ps->raw;
  return AKIDB_OK;
}

/* ------------------------------------------------------------- lines --- */

/* Calls the callback; prefixes its message with "<file>:<line>: ". */
static int deliver(parser_t *ps, const char *key, const config_toml_value_t *v) {
  char msg[768] = "";
  int rc = ps->fn(ps->ctx, ps->table, key, v, ps->line, msg, sizeof msg);
  if (rc && ps->err && ps->errlen) snprintf(ps->err, ps->errlen, "%s:%d: %s", ps->file, ps->line, msg);
  return rc;
}

/* "[name]": ps->p is at the '['. */
static int table_header(parser_t *ps) {
  ps->p++;
  if (ps->p < ps->end && *ps->p == '[')
    return fail(ps, NULL, "arrays of tables ([[...]]) are not supported");
  skip_ws(ps);
  char name[NAME_MAX_LEN + 1];
  size_t n = read_name(ps, true, name);
  if (n == 0) return fail(ps, NULL, "expected a table name after '[', like [server]");
  if (n > NAME_MAX_LEN) return fail(ps, NULL, "table name is longer than %d bytes", NAME_MAX_LEN);
  skip_ws(ps);
  if (ps->p >= ps->end || *ps->p != ']')
    return fail(ps, NULL, "expected ']' to close the table header [%s", name);
  ps->p++;
  int rc = expect_line_end(ps, NULL, "the table header");
  if (rc) return rc;
  char full[NAME_MAX_LEN + 3];
  snprintf(full, sizeof full, "[%s]", name);
  int first = remember(ps, full);
  if (first < 0) return fail(ps, NULL, "out of memory");
  if (first > 0)
    return fail(ps, NULL, "table [%s] is defined twice (first at line %d); merge the two", name,
                first);
  snprintf(ps->table, sizeof ps->table, "%s", name);
  return deliver(ps, NULL, NULL);
}

/* "key = value": ps->p is at the key's first byte. */
static int key_value(parser_t *ps) {
  char key[NAME_MAX_LEN + 1];
  size_t n = read_name(ps, false, key);
  if (n == 0) {
    if (*ps->p == '"' || *ps->p == '\'')
      return fail(ps, NULL, "quoted keys are not supported; write the key bare, like "
                  "rest_port = 8080");
    char rest[RAW_SHOWN + 8];
    rest_of_line(ps, rest, sizeof rest);
    return fail(ps, NULL, "expected 'key = value' or a [table] header, got '%s'", rest);
  }
  if (n > NAME_MAX_LEN) return fail(ps, NULL, "key is longer than %d bytes", NAME_MAX_LEN);
  skip_ws(ps);
  if (ps->p < ps->end && *ps->p == '.')
    return fail(ps, key, "dotted keys are not supported; put the key under a [table] header");
  if (ps->p >= ps->end || *ps->p != '=')
    return fail(ps, key, "expected '=' after the key (write key = value)");
  ps->p++;
  skip_ws(ps);
  if (ps->p >= ps->end || *ps->p == '#') return fail(ps, key, "missing value after '='");
  config_toml_value_t v;
  memset(&v, 0, sizeof v);
  int rc = value(ps, key, &v);
  if (rc) return rc;
  rc = expect_line_end(ps, key, "the value");
  if (rc) return rc;
  char full[2 * NAME_MAX_LEN + 2];
  snprintf(full, sizeof full, "%s%s%s", ps->table, ps->table[0] ? "." : "", key);
  int first = remember(ps, full);
  if (first < 0) return fail(ps, NULL, "out of memory");
  if (first > 0) return fail(ps, key, "set twice (first at line %d); keep one", first);
  return deliver(ps, key, &v);
}

static int parse_line(parser_t *ps) {
  skip_ws(ps);
  if (ps->p >= ps->end || *ps->p == '#') return AKIDB_OK;
  if (*ps->p == '[') return table_header(ps);
  return key_value(ps);
}

static void parser_free(parser_t *ps) {
  for (size_t i = 0; i < ps->n_seen; i++) free(ps->seen[i].name);
  free(ps->seen);
  free(ps->buf);
}

int config_toml_parse(const char *name, const char *text, size_t len, config_toml_fn fn,
                      void *ctx, char *err, size_t errlen) {
  parser_t ps;
  memset(&ps, 0, sizeof ps);
  ps.file = name ? name : "config";
  ps.fn = fn;
  ps.ctx = ctx;
  ps.err = err;
  ps.errlen = errlen;
  if (err && errlen) err[0] = '\0';
  const char *p = text, *end = text + len;
  if (len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0) p += 3; /* byte order mark */
  int rc = AKIDB_OK;
  while (p < end && rc == AKIDB_OK) {
    ps.line++;
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    const char *le = nl ? nl : end;
    if (memchr(p, '\0', (size_t)(le - p))) {
      rc = fail(&ps, NULL, "the file contains a NUL byte; is it a text file?");
      break;
    }
    size_t need = (size_t)(le - p) + 1; /* decoding never makes a string longer */
    if (need > ps.buf_cap) {
      char *b = realloc(ps.buf, need);
      if (!b) {
        rc = AKIDB_ENOMEM;
        if (err && errlen) snprintf(err, errlen, "%s: out of memory", ps.file);
        break;
      }
      ps.buf = b;
      ps.buf_cap = need;
    }
    ps.p = p;
    ps.end = (le > p && le[-1] == '\r') ? le - 1 : le;
    rc = parse_line(&ps);
    p = nl ? nl + 1 : end;
  }
  parser_free(&ps);
  return rc;
}
