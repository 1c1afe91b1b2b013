/*
 * json_write.c — owns serialising a jansson value into compact JSON text,
 * byte for byte what json_dumps(JSON_COMPACT) writes. It exists because
 * jansson prints every real with snprintf("%.17g"), which took about 8 % of
 * the server's CPU per search (ten distances per answer). Here a real in
 * [1e-4, 1e16) is converted exactly with 128-bit integers: x = m·2^e, and
 * N = round_half_even(m·10^p·2^e) is the 17-digit decimal significand that
 * printf would produce; other reals still go to snprintf. Integers,
 * strings (jansson's escapes: \" \\ \b \f \n \r \t, other control
 * characters as \u00XX, UTF-8 as is) and literals follow jansson too.
 * Stateless; thread-safe.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_internal.h"

typedef struct {
  char *p;
  size_t len, cap;
  bool failed;
} out_t;

static bool reserve(out_t *o, size_t n) {
  if (o->failed) return false;
  if (o->len + n <= o->cap) return true;
  size_t cap = o->cap ? o->cap : 1024;
  while (cap < o->len + n) cap *= 2;
  char *p = realloc(o->p, cap);
  if (!p) {
    o->failed = true;
    return false;
  }
  o->p = p;
  o->cap = cap;
  return true;
}

static void put(out_t *o, const char *s, size_t n) {
  if (!reserve(o, n)) return;
  memcpy(o->p + o->len, s, n);
  o->len += n;
}

static void put_char(out_t *o, char c) {
  if (reserve(o, 1)) o->p[o->len++] = c;
}

/* ------------------------------------------------------------- numbers -- */

static void put_integer(out_t *o, json_int_t v) {
  char tmp[24];
  int n = 0;
  unsigned long long u = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
  do {
    tmp[sizeof tmp - 1 - n++] = (char)('0' + u % 10);
    u /= 10;
  } while (u);
  if (v < 0) tmp[sizeof tmp - 1 - n++] = '-';
  put(o, tmp + sizeof tmp - n, (size_t)n);
}

__extension__ typedef unsigned __int128 u128;

static u128 pow10_u128(int p) {
  u128 r = 1;
  while (p-- > 0) r *= 10;
  return r;
}

/* round_half_even(m · 10^p · 2^e) for p >= 0 and -127 < e <= 1 (the
 * ranges real_digits uses; m < 2^53). */
static u128 scaled(uint64_t m, int p, int e) {
  u128 num = (u128)m * pow10_u128(p);
  if (e >= 0) return num << e;
  int s = -e;
  u128 q = num >> s, rem = num & (((u128)1 << s) - 1), half = (u128)1 << (s - 1);
  if (rem > half || (rem == half && (q & 1))) q++;
  return q;
}

/*
 * The 17 significant digits of x (positive, in [1e-4, 1e16)) as printf's
 * "%.17g" rounds them, and the decimal exponent of the first: x ≈
 * D[0].D[1..16] · 10^E. Returns false outside that range.
 */
static bool real_digits(double x, char d[17], int *exp10) {
  if (!(x >= 1e-4 && x < 1e16)) return false;
  int e2;
  double f = frexp(x, &e2); /* x = f · 2^e2, f in [0.5, 1) */
  uint64_t m = (uint64_t)ldexp(f, 53);
  int e = e2 - 53;
  int E = (int)floor(log10(x));
  const u128 lo = pow10_u128(16), hi = pow10_u128(17);
  u128 n = 0;
  for (int tries = 0; tries < 3; tries++) {
    int p = 16 - E;
    if (p < 0 || p > 21) return false;
    n = scaled(m, p, e);
    if (n >= hi) E++;
    else if (n < lo) E--;
    else break;
  }
  if (n < lo || n >= hi) return false;
  for (int i = 16; i >= 0; i--) {
    d[i] = (char)('0' + (int)(n % 10));
    n /= 10;
  }
  *exp10 = E;
  return true;
}

/* jansson's real format: "%.17g", ".0" added when neither '.' nor 'e' is
 * there, and no '+' or leading zeros in the exponent. */
static void put_real(out_t *o, double v) {
  char d[17], buf[64];
  int E;
  size_t n = 0;
  if (v != 0 && real_digits(fabs(v), d, &E)) { /* E in [-4, 16]: %g's fixed form */
    if (v < 0) buf[n++] = '-';
    int last = 16; /* %g drops trailing zeros */
    while (last > 0 && d[last] == '0') last--;
    if (E >= 0) {
      for (int i = 0; i <= E; i++) buf[n++] = d[i];
      buf[n++] = '.';
      if (last > E)
        for (int i = E + 1; i <= last; i++) buf[n++] = d[i];
      else
        buf[n++] = '0';
    } else {
      buf[n++] = '0';
      buf[n++] = '.';
      for (int i = -1; i > E; i--) buf[n++] = '0';
      for (int i = 0; i <= last; i++) buf[n++] = d[i];
    }
    put(o, buf, n);
    return;
  }
  int len = snprintf(buf, sizeof buf, "%.17g", v);
  if (len < 0 || (size_t)len >= sizeof buf - 3) {
    o->failed = true;
    return;
  }
  n = (size_t)len;
  if (!memchr(buf, '.', n) && !memchr(buf, 'e', n)) {
    buf[n++] = '.';
    buf[n++] = '0';
  }
  char *e = memchr(buf, 'e', n);
  if (e) {
    char *start = e + 1, *end = start + 1;
    if (*start == '-') start++;
    while (end < buf + n && *end == '0') end++;
    if (end != start) {
      memmove(start, end, (size_t)(buf + n - end));
      n -= (size_t)(end - start);
    }
  }
  put(o, buf, n);
}

/* ------------------------------------------------------------- strings -- */

static void put_string(out_t *o, const char *s, size_t len) {
  static const char hex[] = "0123456789ABCDEF";
  put_char(o, '"');
  size_t run = 0; /* bytes copied as they are, pending */
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c >= 0x20 && c != '"' && c != '\\') {
      run++;
      continue;
    }
    put(o, s + i - run, run);
    run = 0;
    char esc[6] = {'\\', 0, 0, 0, 0, 0};
    size_t n = 2;
    switch (c) {
    case '"': esc[1] = '"'; break;
    case '\\': esc[1] = '\\'; break;
    case '\b': esc[1] = 'b'; break;
    case '\f': esc[1] = 'f'; break;
    case '\n': esc[1] = 'n'; break;
    case '\r': esc[1] = 'r'; break;
    case '\t': esc[1] = 't'; break;
    default:
      memcpy(esc + 1, "u00", 3);
      esc[4] = hex[c >> 4];
      esc[5] = hex[c & 15];
      n = 6;
    }
    put(o, esc, n);
  }
  put(o, s + len - run, run);
  put_char(o, '"');
}

/* -------------------------------------------------------------- values -- */

static void put_value(out_t *o, const json_t *v) {
  switch (json_typeof(v)) {
  case JSON_OBJECT: {
    put_char(o, '{');
    bool first = true;
    for (void *it = json_object_iter((json_t *)v); it; it = json_object_iter_next((json_t *)v, it)) {
      if (!first) put_char(o, ',');
      first = false;
      put_string(o, json_object_iter_key(it), json_object_iter_key_len(it));
      put_char(o, ':');
      put_value(o, json_object_iter_value(it));
    }
    put_char(o, '}');
    break;
  }
  case JSON_ARRAY: {
    put_char(o, '[');
    size_t n = json_array_size(v);
    for (size_t i = 0; i < n; i++) {
      if (i) put_char(o, ',');
      put_value(o, json_array_get(v, i));
    }
    put_char(o, ']');
    break;
  }
  case JSON_STRING:
    put_string(o, json_string_value(v), json_string_length(v));
    break;
  case JSON_INTEGER:
    put_integer(o, json_integer_value(v));
    break;
  case JSON_REAL:
    put_real(o, json_real_value(v));
    break;
  case JSON_TRUE:
    put(o, "true", 4);
    break;
  case JSON_FALSE:
    put(o, "false", 5);
    break;
  case JSON_NULL:
    put(o, "null", 4);
    break;
  }
}

long http_encode_json(const json_t *v, char **buf, size_t *cap) {
  out_t o = {.p = *buf, .len = 0, .cap = *cap};
  if (v) put_value(&o, v);
  *buf = o.p;
  *cap = o.cap;
  return o.failed || !v ? -1 : (long)o.len;
}
