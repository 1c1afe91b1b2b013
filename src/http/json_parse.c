/*
 * json_parse.c — owns decoding of request bodies into jansson values. It
 * exists because jansson's own loader spends most of a search request's
 * time on numbers: it copies each one, calls localeconv() and strtod(), so a
 * 768-float query took ~570 µs to decode on the benchmark machine (45 % of
 * the server's CPU per search). This parser builds the same json_t tree
 * (objects, arrays, strings, integers, reals, literals) with a number fast
 * path: up to 19 significant digits and a decimal exponent within ±22 are
 * converted exactly with one multiplication or division by a power of ten
 * (both operands exact, so the result is correctly rounded); anything else
 * goes to strtod. Elements of the arrays at a route's vector paths go
 * straight to float32 through a faster scanner that reads eight digits at a
 * time (same exactness rule; anything it does not take goes to the general
 * one), which brings a 768-float query from ~51 to ~22 µs. Strings are
 * checked to be valid UTF-8 (no overlongs, surrogates or code points past
 * U+10FFFF); \u escapes, surrogate pairs included, are decoded (\u0000 is
 * refused, as jansson does); control characters must be escaped. Duplicate
 * object keys are refused. Stateless; thread-safe.
 */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_internal.h"

#define PATH_MAX_DEPTH 8 /* deeper values are never vectors */
#define PATH_KEY_MAX 31  /* longer keys never match a pattern */

typedef struct {
  const char *p, *end;
  const char *line_start;
  int line;
  uint32_t depth, max_depth;
  int code; /* -1 syntax, -2 number out of range */
  char *err;
  size_t errlen;
  char *buf; /* scratch for escaped strings */
  size_t cap;
  /* Vector decoding: the path of the value being parsed (one component per
   * enclosing container: a member key, or "[]" for an array element), the
   * patterns to decode, and where the floats go. */
  char path[PATH_MAX_DEPTH][PATH_KEY_MAX + 1];
  const char *const *vector_paths;
  http_floats_t *floats;
} parser_t;

/* Records the first error at the current position; returns NULL. */
static json_t *fail(parser_t *ps, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static json_t *fail(parser_t *ps, int code, const char *fmt, ...) {
  if (ps->code) return NULL;
  ps->code = code;
  char what[160];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  int column = (int)(ps->p - ps->line_start) + 1;
  if (code == -2)
    snprintf(ps->err, ps->errlen,
             "a number in the body is out of range (line %d, column %d): %s", ps->line, column,
             what);
  else
    snprintf(ps->err, ps->errlen, "body is not valid JSON: line %d, column %d: %s", ps->line,
             column, what);
  return NULL;
}

static inline void skip_ws(parser_t *ps) {
  while (ps->p < ps->end) {
    char ch = *ps->p;
    if (ch == '\n') {
      ps->line++;
      ps->line_start = ps->p + 1;
    } else if (ch != ' ' && ch != '\t' && ch != '\r') {
      return;
    }
    ps->p++;
  }
}

static json_t *parse_value(parser_t *ps);

/* ------------------------------------------------------------- numbers -- */

static const double POW10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                               1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                               1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

static bool is_digit(char ch) { return ch >= '0' && ch <= '9'; }

/* Slow path: strtod on a NUL-terminated copy (the process stays in the C
 * locale, so '.' is the decimal point). */
static double slow_double(const char *s, size_t n, bool *range) {
  char small[128];
  char *copy = n < sizeof small ? small : malloc(n + 1);
  if (!copy) return NAN;
  memcpy(copy, s, n);
  copy[n] = '\0';
  errno = 0;
  double d = strtod(copy, NULL);
  *range = errno == ERANGE && isinf(d);
  if (copy != small) free(copy);
  return d;
}

/* Scans a number at ps->p. Sets *is_int with *iv, or *dv; returns 0, or
 * -1 with the error recorded (-2 kind for numbers out of range). */
static int scan_number(parser_t *ps, bool *is_int, json_int_t *iv, double *dv) {
  const char *s = ps->p, *q = s;
  bool neg = false, is_real = false;
  if (q < ps->end && *q == '-') {
    neg = true;
    q++;
  }
  if (q >= ps->end || !is_digit(*q)) return fail(ps, -1, "invalid number"), -1;
  uint64_t mant = 0;
  int digits = 0, exp10 = 0;
  bool exact = true;
  if (*q == '0') {
    q++;
  } else {
    for (; q < ps->end && is_digit(*q); q++) {
      if (digits < 19) {
        mant = mant * 10 + (uint64_t)(*q - '0');
        if (mant) digits++;
      } else {
        exp10++;
        exact = false;
      }
    }
  }
  if (q < ps->end && *q == '.') {
    is_real = true;
    q++;
    if (q >= ps->end || !is_digit(*q))
      return fail(ps, -1, "invalid number: digits expected after '.'"), -1;
    for (; q < ps->end && is_digit(*q); q++) {
      if (digits < 19) {
        mant = mant * 10 + (uint64_t)(*q - '0');
        if (mant) digits++;
        exp10--;
      } else {
        exact = false;
      }
    }
  }
  if (q < ps->end && (*q == 'e' || *q == 'E')) {
    is_real = true;
    q++;
    int sign = 1, e = 0;
    if (q < ps->end && (*q == '+' || *q == '-')) sign = *q++ == '-' ? -1 : 1;
    if (q >= ps->end || !is_digit(*q))
      return fail(ps, -1, "invalid number: digits expected in the exponent"), -1;
    for (; q < ps->end && is_digit(*q); q++)
      if (e < 100000) e = e * 10 + (*q - '0');
    exp10 += sign * e;
  }
  size_t n = (size_t)(q - s);
  *is_int = !is_real;
  if (!is_real) {
    if (!exact || (neg ? mant > (uint64_t)INT64_MAX + 1 : mant > (uint64_t)INT64_MAX))
      return fail(ps, -2, "integer %.*s does not fit in 64 bits", (int)(n > 40 ? 40 : n), s), -1;
    ps->p = q;
    *iv = neg ? (json_int_t)(0 - mant) : (json_int_t)mant;
    return 0;
  }
  double d;
  if (exact && mant <= (1ull << 53) && exp10 >= -22 && exp10 <= 22) {
    d = (double)mant;
    d = exp10 < 0 ? d / POW10[-exp10] : d * POW10[exp10];
    if (neg) d = -d;
  } else {
    bool range = false;
    d = slow_double(s, n, &range);
    if (range || !isfinite(d))
      return fail(ps, -2, "%.*s is not a finite double", (int)(n > 40 ? 40 : n), s), -1;
  }
  ps->p = q;
  *dv = d;
  return 0;
}

/* ------------------------------------------------- vector fast path -- */

/* The digits of a vector element are read eight at a time: the eight bytes
 * at q, XOR '0', hold 0..9 in every byte that was a digit. */
static inline uint64_t load8_digits(const char *q) {
  uint64_t v;
  memcpy(&v, q, sizeof v);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  v = __builtin_bswap64(v); /* byte 0 = first character, as below */
#endif
  return v ^ 0x3030303030303030ull;
}

/* How many of the eight bytes (first character in the low byte) are
 * digits before the first one that is not: a byte is a digit when, XOR
 * '0', it is below 10 (bit 7 of it + 0x76 stays clear, without carries). */
static inline int digit_prefix8(uint64_t x) {
  uint64_t bad = (((x & 0x7f7f7f7f7f7f7f7full) + 0x7676767676767676ull) | x) &
                 0x8080808080808080ull;
  return bad ? __builtin_ctzll(bad) >> 3 : 8;
}

/* The value of eight digit bytes (0..9 each, low byte most significant):
 * pairs, then two multiplications combine four pairs into 8 digits. */
static inline uint32_t value8(uint64_t x) {
  x = x * 10 + (x >> 8);
  x = ((x & 0x000000ff000000ffull) * (100 + (1000000ull << 32)) +
       ((x >> 16) & 0x000000ff000000ffull) * (1 + (10000ull << 32))) >>
      32;
  return (uint32_t)x;
}

static const uint64_t POW10_U64[] = {1,      10,      100,      1000,     10000,
                                     100000, 1000000, 10000000, 100000000};

/* Reads the digits at q into *m, counting them (leading zeros too) in *nd.
 * Returns the end of the digits, or NULL past 19 digits in all (the
 * general scanner then takes the number). */
static inline const char *digit_run(const char *q, const char *end, uint64_t *m, int *nd) {
  while (end - q >= 8) {
    uint64_t x = load8_digits(q);
    int len = digit_prefix8(x);
    if (len == 0) return q;
    if (*nd + len > 19) return NULL;
    *m = *m * POW10_U64[len] + value8(len == 8 ? x : x << (8 * (8 - len)));
    *nd += len;
    q += len;
    if (len < 8) return q;
  }
  for (; q < end && is_digit(*q); q++) {
    if (*nd >= 19) return NULL;
    *m = *m * 10 + (uint64_t)(*q - '0');
    (*nd)++;
  }
  return q;
}

/* Scans the common vector element (at most 19 digits, a mantissa up to
 * 2^53 and a decimal exponent within ±22, so one exact multiplication or
 * division by a power of ten rounds correctly, as in scan_number). Returns
 * false, with nothing consumed, for anything else: the general scanner
 * then takes it, errors included. */
static inline bool scan_float_fast(parser_t *ps, double *out) {
  const char *q = ps->p, *end = ps->end;
  bool neg = q < end && *q == '-';
  q += neg;
  if (q >= end || !is_digit(*q)) return false;
  uint64_t m = 0;
  int nd = 0, exp10 = 0;
  if (*q == '0') {
    q++;
  } else if (!(q = digit_run(q, end, &m, &nd))) {
    return false;
  }
  if (q < end && *q == '.') {
    int before = nd;
    const char *f = q + 1;
    if (!(q = digit_run(f, end, &m, &nd)) || q == f) return false;
    exp10 = before - nd;
  }
  if (q < end && (*q == 'e' || *q == 'E')) {
    q++;
    int sign = 1, e = 0, ne = 0;
    if (q < end && (*q == '+' || *q == '-')) sign = *q++ == '-' ? -1 : 1;
    for (; q < end && is_digit(*q) && ne < 3; q++, ne++) e = e * 10 + (*q - '0');
    if (ne == 0 || (q < end && is_digit(*q))) return false;
    exp10 += sign * e;
  }
  if (m > (1ull << 53) || exp10 < -22 || exp10 > 22) return false;
  double d = (double)m;
  d = exp10 < 0 ? d / POW10[-exp10] : d * POW10[exp10];
  *out = neg ? -d : d;
  ps->p = q;
  return true;
}

static json_t *parse_number(parser_t *ps) {
  bool is_int;
  json_int_t iv = 0;
  double dv = 0;
  if (scan_number(ps, &is_int, &iv, &dv)) return NULL;
  return is_int ? json_integer(iv) : json_real(dv);
}

/* ------------------------------------------------------------- strings -- */

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, const unsigned char *end) {
  unsigned c = s[0];
  if (c < 0x80) return 1;
  size_t n;
  uint32_t cp;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
    cp = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    cp = c & 0x0F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if ((size_t)(end - s) < n) return 0;
  for (size_t i = 1; i < n; i++) {
    if ((s[i] & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (s[i] & 0x3F);
  }
  if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
      (cp >= 0xD800 && cp <= 0xDFFF))
    return 0;
  return n;
}

static bool buf_reserve(parser_t *ps, size_t need) {
  if (need <= ps->cap) return true;
  size_t cap = ps->cap ? ps->cap : 256;
  while (cap < need) cap *= 2;
  char *b = realloc(ps->buf, cap);
  if (!b) return false;
  ps->buf = b;
  ps->cap = cap;
  return true;
}

static int hex4(const char *s, uint32_t *out) {
  uint32_t v = 0;
  for (int i = 0; i < 4; i++) {
    char ch = s[i];
    v <<= 4;
    if (ch >= '0' && ch <= '9') v |= (uint32_t)(ch - '0');
    else if (ch >= 'a' && ch <= 'f') v |= (uint32_t)(ch - 'a' + 10);
    else if (ch >= 'A' && ch <= 'F') v |= (uint32_t)(ch - 'A' + 10);
    else return -1;
  }
  *out = v;
  return 0;
}

static size_t put_utf8(char *o, uint32_t cp) {
  if (cp < 0x80) {
    o[0] = (char)cp;
    return 1;
  }
  if (cp < 0x800) {
    o[0] = (char)(0xC0 | (cp >> 6));
    o[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    o[0] = (char)(0xE0 | (cp >> 12));
    o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
  }
  o[0] = (char)(0xF0 | (cp >> 18));
  o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
  o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
  o[3] = (char)(0x80 | (cp & 0x3F));
  return 4;
}

/* Decodes one \u escape (and its low surrogate) at ps->p (after the 'u'). */
static int unicode_escape(parser_t *ps, char *o, size_t *n) {
  uint32_t cp;
  if (ps->end - ps->p < 4 || hex4(ps->p, &cp)) {
    fail(ps, -1, "invalid \\u escape");
    return -1;
  }
  ps->p += 4;
  if (cp == 0) {
    fail(ps, -1, "\\u0000 (NUL) is not allowed in strings");
    return -1;
  }
  if (cp >= 0xDC00 && cp <= 0xDFFF) {
    fail(ps, -1, "invalid Unicode: lone low surrogate \\u%04X", cp);
    return -1;
  }
  if (cp >= 0xD800 && cp <= 0xDBFF) {
    uint32_t lo;
    if (ps->end - ps->p < 6 || ps->p[0] != '\\' || ps->p[1] != 'u' || hex4(ps->p + 2, &lo) ||
        lo < 0xDC00 || lo > 0xDFFF) {
      fail(ps, -1, "invalid Unicode: high surrogate \\u%04X without its low half", cp);
      return -1;
    }
    ps->p += 6;
    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
  }
  *n = put_utf8(o, cp);
  return 0;
}

/* Parses a string at ps->p (on the opening quote); the text goes to
 * *out and *len (pointing into the body or the scratch buffer). */
static int parse_string_raw(parser_t *ps, const char **out, size_t *len) {
  const char *s = ++ps->p;
  size_t used = 0;
  bool escaped = false;
  while (ps->p < ps->end) {
    unsigned char ch = (unsigned char)*ps->p;
    if (ch == '"') {
      if (escaped) {
        *out = ps->buf;
        *len = used;
      } else {
        *out = s;
        *len = (size_t)(ps->p - s);
      }
      ps->p++;
      return 0;
    }
    if (ch < 0x20) {
      fail(ps, -1, "control character 0x%02x in a string: escape it", ch);
      return -1;
    }
    if (ch == '\\') {
      if (!escaped) {
        if (!buf_reserve(ps, (size_t)(ps->p - s) + 8)) goto nomem;
        memcpy(ps->buf, s, (size_t)(ps->p - s));
        used = (size_t)(ps->p - s);
        escaped = true;
      }
      if (++ps->p >= ps->end) break;
      if (!buf_reserve(ps, used + 8)) goto nomem;
      char e = *ps->p++;
      const char *map = strchr("\"\"\\\\//b\bf\fn\nr\rt\t", e);
      if (e == 'u') {
        size_t n;
        if (unicode_escape(ps, ps->buf + used, &n)) return -1;
        used += n;
      } else if (e != '\0' && map && ((map - "\"\"\\\\//b\bf\fn\nr\rt\t") % 2) == 0) {
        ps->buf[used++] = map[1];
      } else {
        ps->p--;
        fail(ps, -1, "invalid escape '\\%c'", e);
        return -1;
      }
      continue;
    }
    size_t n = utf8_seq((const unsigned char *)ps->p, (const unsigned char *)ps->end);
    if (n == 0) {
      fail(ps, -1, "invalid UTF-8 in a string");
      return -1;
    }
    if (escaped) {
      if (!buf_reserve(ps, used + n)) goto nomem;
      memcpy(ps->buf + used, ps->p, n);
      used += n;
    }
    ps->p += n;
  }
  fail(ps, -1, "unterminated string");
  return -1;
nomem:
  fail(ps, -1, "out of memory");
  return -1;
}

static json_t *parse_string(parser_t *ps) {
  const char *s;
  size_t n;
  if (parse_string_raw(ps, &s, &n)) return NULL;
  json_t *v = json_stringn_nocheck(s, n);
  return v ? v : fail(ps, -1, "out of memory");
}

/* ---------------------------------------------------- arrays, objects -- */

/* ------------------------------------------------------------ vectors -- */

/* Whether the value about to be parsed sits at `pattern` ("points[].vector":
 * components separated by '.', "[]" for an array element). */
static bool path_matches(const parser_t *ps, const char *pattern) {
  uint32_t i = 0;
  const char *p = pattern;
  while (*p) {
    if (i >= ps->depth || i >= PATH_MAX_DEPTH) return false;
    size_t n;
    if (p[0] == '[') {
      n = 2;
    } else {
      n = strcspn(p, ".[");
    }
    if (strlen(ps->path[i]) != n || memcmp(ps->path[i], p, n) != 0) return false;
    p += n;
    if (*p == '.') p++;
    i++;
  }
  return i == ps->depth;
}

static bool at_vector_path(const parser_t *ps) {
  if (!ps->vector_paths || !ps->floats || ps->depth + 1 > ps->max_depth) return false;
  for (const char *const *v = ps->vector_paths; *v; v++)
    if (path_matches(ps, *v)) return true;
  return false;
}

static inline bool floats_push(http_floats_t *f, float v) {
  if (f->n_values == f->cap_values) {
    size_t cap = f->cap_values ? 2 * f->cap_values : 1024;
    float *p = realloc(f->values, cap * sizeof *p);
    if (!p) return false;
    f->values = p;
    f->cap_values = cap;
  }
  f->values[f->n_values++] = v;
  return true;
}

/* Decodes the array at ps->p (on '[') into floats when every element is a
 * number that fits a float32; returns the empty stand-in array, or NULL
 * with ps->p where it was (the caller then parses the array as usual). An
 * error in a number (out of double range) is recorded and ps->code set. */
static json_t *try_float_array(parser_t *ps) {
  parser_t save = *ps;
  http_floats_t *f = ps->floats;
  size_t first = f->n_values;
  ps->p++;
  skip_ws(ps);
  bool ok = true;
  if (ps->p < ps->end && *ps->p == ']') {
    ok = false; /* an empty array stays an ordinary one */
  }
  while (ok) {
    skip_ws(ps);
    if (ps->p >= ps->end || !(*ps->p == '-' || is_digit(*ps->p))) {
      ok = false;
      break;
    }
    double d;
    if (!scan_float_fast(ps, &d)) {
      bool is_int;
      json_int_t iv = 0;
      double dv = 0;
      if (scan_number(ps, &is_int, &iv, &dv)) return NULL; /* error recorded */
      d = is_int ? (double)iv : dv;
    }
    if (fabs(d) > FLT_MAX || !floats_push(f, (float)d)) {
      ok = false;
      break;
    }
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == ',') {
      ps->p++;
      continue;
    }
    if (ps->p < ps->end && *ps->p == ']') {
      ps->p++;
      break;
    }
    ok = false;
  }
  json_t *marker = ok ? json_array() : NULL;
  if (marker && f->count == f->cap) {
    size_t cap = f->cap ? 2 * f->cap : 16;
    http_float_array_t *items = realloc(f->items, cap * sizeof *items);
    if (items) {
      f->items = items;
      f->cap = cap;
    }
  }
  if (!marker || f->count == f->cap) {
    json_decref(marker);
    f->n_values = first;
    http_floats_t *keep = ps->floats;
    *ps = save;
    ps->floats = keep;
    return NULL;
  }
  /* values are set from the offset once parsing ends (the buffer moves). */
  f->items[f->count++] = (http_float_array_t){
      .array = marker, .values = (const float *)(uintptr_t)first, .n = (uint32_t)(f->n_values - first)};
  return marker;
}

void http_floats_free(http_floats_t *f) {
  if (!f) return;
  free(f->items);
  free(f->values);
  memset(f, 0, sizeof *f);
}

static json_t *parse_array(parser_t *ps) {
  ps->p++;
  json_t *arr = json_array();
  if (!arr) return fail(ps, -1, "out of memory");
  skip_ws(ps);
  if (ps->p < ps->end && *ps->p == ']') {
    ps->p++;
    return arr;
  }
  if (ps->depth <= PATH_MAX_DEPTH) strcpy(ps->path[ps->depth - 1], "[]");
  for (;;) {
    json_t *v = parse_value(ps);
    if (!v || json_array_append_new(arr, v)) goto bad;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == ',') {
      ps->p++;
      continue;
    }
    if (ps->p < ps->end && *ps->p == ']') {
      ps->p++;
      return arr;
    }
    fail(ps, -1, "',' or ']' expected");
    goto bad;
  }
bad:
  json_decref(arr);
  return NULL;
}

static json_t *parse_object(parser_t *ps) {
  ps->p++;
  json_t *obj = json_object();
  if (!obj) return fail(ps, -1, "out of memory");
  skip_ws(ps);
  if (ps->p < ps->end && *ps->p == '}') {
    ps->p++;
    return obj;
  }
  for (;;) {
    skip_ws(ps);
    if (ps->p >= ps->end || *ps->p != '"') {
      fail(ps, -1, "string or '}' expected");
      goto bad;
    }
    const char *k;
    size_t kn;
    if (parse_string_raw(ps, &k, &kn)) goto bad;
    char small[64];
    char *key = kn < sizeof small ? small : malloc(kn + 1);
    if (!key) {
      fail(ps, -1, "out of memory");
      goto bad;
    }
    memcpy(key, k, kn);
    key[kn] = '\0';
    if (ps->depth <= PATH_MAX_DEPTH) {
      /* Keys too long for a pattern (or holding a NUL) never match. */
      char *slot = ps->path[ps->depth - 1];
      if (kn <= PATH_KEY_MAX && !memchr(key, '\0', kn)) {
        memcpy(slot, key, kn);
        slot[kn] = '\0';
      } else {
        strcpy(slot, "\x01");
      }
    }
    bool dup = json_object_getn(obj, key, kn) != NULL;
    if (dup) fail(ps, -1, "duplicate object key '%.40s'", key);
    skip_ws(ps);
    json_t *v = NULL;
    if (!dup && (ps->p >= ps->end || *ps->p != ':'))
      fail(ps, -1, "':' expected");
    else if (!dup) {
      ps->p++;
      v = parse_value(ps);
    }
    int rc = v ? json_object_setn_new_nocheck(obj, key, kn, v) : -1;
    if (key != small) free(key);
    if (rc) goto bad;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == ',') {
      ps->p++;
      continue;
    }
    if (ps->p < ps->end && *ps->p == '}') {
      ps->p++;
      return obj;
    }
    fail(ps, -1, "',' or '}' expected");
    goto bad;
  }
bad:
  json_decref(obj);
  return NULL;
}

static json_t *literal(parser_t *ps, const char *word, json_t *value) {
  size_t n = strlen(word);
  if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
    return fail(ps, -1, "invalid token");
  ps->p += n;
  return value;
}

static json_t *parse_value(parser_t *ps) {
  skip_ws(ps);
  if (ps->p >= ps->end) return fail(ps, -1, "unexpected end of input");
  json_t *v;
  switch (*ps->p) {
  case '[':
    if (at_vector_path(ps)) {
      v = try_float_array(ps);
      if (v || ps->code) return v;
    }
    /* fall through */
  case '{':
    if (++ps->depth > ps->max_depth) {
      ps->code = -1;
      snprintf(ps->err, ps->errlen,
               "body nests deeper than %u levels of arrays and objects "
               "(limits.max_json_depth); flatten it",
               ps->max_depth);
      return NULL;
    }
    v = *ps->p == '{' ? parse_object(ps) : parse_array(ps);
    ps->depth--;
    return v;
  case '"':
    return parse_string(ps);
  case 't':
    return literal(ps, "true", json_true());
  case 'f':
    return literal(ps, "false", json_false());
  case 'n':
    return literal(ps, "null", json_null());
  default:
    if (*ps->p == '-' || is_digit(*ps->p)) return parse_number(ps);
    return fail(ps, -1, "invalid token");
  }
}

int http_json_parse_vectors(const char *text, size_t len, uint32_t max_depth,
                            const char *const *vector_paths, http_floats_t *floats, json_t **out,
                            char *err, size_t errlen) {
  parser_t ps = {.p = text,
                 .end = text + len,
                 .line_start = text,
                 .line = 1,
                 .max_depth = max_depth ? max_depth : 1,
                 .err = err,
                 .errlen = errlen,
                 .vector_paths = vector_paths,
                 .floats = floats};
  *out = NULL;
  json_t *v = parse_value(&ps);
  if (v) {
    skip_ws(&ps);
    if (ps.p != ps.end) {
      fail(&ps, -1, "end of input expected after the JSON value");
      json_decref(v);
      v = NULL;
    }
  }
  free(ps.buf);
  if (floats) {
    if (!v) floats->count = floats->n_values = 0;
    for (size_t i = 0; i < floats->count; i++)
      floats->items[i].values = floats->values + (uintptr_t)floats->items[i].values;
  }
  if (!v) return ps.code ? ps.code : -1;
  *out = v;
  return 0;
}

int http_json_parse(const char *text, size_t len, uint32_t max_depth, json_t **out, char *err,
                    size_t errlen) {
  return http_json_parse_vectors(text, len, max_depth, NULL, NULL, out, err, errlen);
}
