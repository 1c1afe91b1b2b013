/*
 * filter/payload.c — owns the path-directed reader of a payload's JSON
 * text (payload.h). A lookup walks the text from the top object down the
 * path, skipping the other members' values (strings, numbers, literals,
 * nested containers) without building anything: no allocation, no
 * recursion (open containers are one bit each in a 256-byte stack array).
 * Every object on the path is read to its end, so a key given twice names
 * its last value, as in jansson.
 *
 * The first lookup in a payload also checks the whole text against JSON
 * and jansson's limits (strings: escapes, UTF-8, control bytes; numbers:
 * int64 integers, finite reals; nesting; nothing after the object) and
 * records the verdict; later lookups trust a valid text and skip those
 * checks. Bounds are checked either way, so no text makes it read outside
 * [text, text + len). Numbers are read as strtod reads them (the C locale:
 * the server never calls setlocale).
 *
 * No state beyond the caller's payload_t; no locking; nothing durable.
 */
#include "filter/payload.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 2048 /* jansson's JSON_PARSER_MAX_DEPTH: containers nested */

typedef struct {
  const unsigned char *p, *end;
  bool check;     /* check strings and number ranges (the first lookup) */
  unsigned depth; /* containers open around p */
} cursor_t;

/* ------------------------------------------------------------ bytes -- */

static bool is_ws(unsigned char ch) { return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r'; }

static bool is_digit(unsigned char ch) { return ch >= '0' && ch <= '9'; }

/* What may follow a value inside an object or array. */
static bool is_delimiter(unsigned char ch) {
  return is_ws(ch) || ch == ',' || ch == '}' || ch == ']';
}

static void skip_ws(cursor_t *c) {
  while (c->p < c->end && is_ws(*c->p)) c->p++;
}

static int hex_digit(unsigned char ch) {
  if (ch >= '0' && ch <= '9') return ch - '0';
  if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
  return -1;
}

/* The 4 hex digits at p, or -1. */
static long hex4(const unsigned char *p, const unsigned char *end) {
  if (end - p < 4) return -1;
  long v = 0;
  for (int i = 0; i < 4; i++) {
    int h = hex_digit(p[i]);
    if (h < 0) return -1;
    v = v << 4 | h;
  }
  return v;
}

/* The code point of the \u escape whose hex digits start at p (a high
 * surrogate takes the \uXXXX low one after it), with *used the bytes read
 * from p; -1 for what jansson refuses: bad hex, U+0000, a lone surrogate. */
static long unicode_escape(const unsigned char *p, const unsigned char *end, size_t *used) {
  long hi = hex4(p, end);
  *used = 4;
  if (hi <= 0 || (hi >= 0xDC00 && hi <= 0xDFFF)) return -1;
  if (hi < 0xD800 || hi > 0xDBFF) return hi;
  if (end - p < 10 || p[4] != '\\' || p[5] != 'u') return -1;
  long lo = hex4(p + 6, end);
  if (lo < 0xDC00 || lo > 0xDFFF) return -1;
  *used = 10;
  return 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
}

/* The length of the escape at p (a backslash), 0 if it is not one. */
static size_t escape_length(const unsigned char *p, const unsigned char *end) {
  if (end - p < 2) return 0;
  switch (p[1]) {
  case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
    return 2;
  case 'u': {
    size_t used;
    return unicode_escape(p + 2, end, &used) < 0 ? 0 : 2 + used;
  }
  default:
    return 0;
  }
}

/* The length of the well-formed UTF-8 sequence at p (a byte >= 0x80), 0
 * if it is not one (overlong, surrogate, past U+10FFFF, cut short). */
static size_t utf8_length(const unsigned char *p, const unsigned char *end) {
  unsigned char b = *p;
  size_t n;
  uint32_t cp;
  if (b >= 0xC2 && b <= 0xDF) n = 2, cp = b & 0x1Fu;
  else if (b >= 0xE0 && b <= 0xEF) n = 3, cp = b & 0x0Fu;
  else if (b >= 0xF0 && b <= 0xF4) n = 4, cp = b & 0x07u;
  else return 0;
  if ((size_t)(end - p) < n) return 0;
  for (size_t i = 1; i < n; i++) {
    if ((p[i] & 0xC0) != 0x80) return 0;
    cp = cp << 6 | (p[i] & 0x3Fu);
  }
  if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10FFFF ||
      (cp >= 0xD800 && cp <= 0xDFFF))
    return 0;
  return n;
}

static size_t utf8_encode(long cp, unsigned char *out) {
  if (cp < 0x80) {
    out[0] = (unsigned char)cp;
    return 1;
  }
  if (cp < 0x800) {
    out[0] = (unsigned char)(0xC0 | cp >> 6);
    out[1] = (unsigned char)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    out[0] = (unsigned char)(0xE0 | cp >> 12);
    out[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
    out[2] = (unsigned char)(0x80 | (cp & 0x3F));
    return 3;
  }
  out[0] = (unsigned char)(0xF0 | cp >> 18);
  out[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3F));
  out[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
  out[3] = (unsigned char)(0x80 | (cp & 0x3F));
  return 4;
}

/* ---------------------------------------------------------- scalars -- */

/* Whether the 8 bytes at p are all plain string bytes: ASCII, no control
 * byte, no quote, no backslash. A byte b of y is zero exactly when some
 * byte of (y - 0x01..01) & ~y has its high bit; likewise below 0x20. */
static bool plain8(const unsigned char *p) {
  const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
  uint64_t x;
  memcpy(&x, p, 8);
  uint64_t quote = x ^ (ones * '"'), backslash = x ^ (ones * '\\');
  uint64_t special = ((quote - ones) & ~quote) | ((backslash - ones) & ~backslash) |
                     ((x - ones * 0x20) & ~x) | x;
  return (special & highs) == 0;
}

/* skip_string in a checked text: to the first quote no backslash escapes. */
static bool skip_trusted_string(cursor_t *c, bool *escaped) {
  const unsigned char *p = c->p + 1, *end = c->end;
  for (;;) {
    const unsigned char *quote = memchr(p, '"', (size_t)(end - p));
    if (!quote) return false;
    const unsigned char *backslash = memchr(p, '\\', (size_t)(quote - p));
    if (!backslash) {
      c->p = quote + 1;
      return true;
    }
    *escaped = true;
    if (end - backslash < 2) return false;
    p = backslash + 2; /* the escaped byte; \u's hex digits are plain */
  }
}

/* Skips the string whose opening quote is at c->p; *escaped tells whether
 * it holds a backslash. Checked: escapes, UTF-8, no control bytes (plain
 * text 8 bytes at a time). */
static bool skip_string(cursor_t *c, bool *escaped) {
  const unsigned char *p = c->p + 1, *end = c->end;
  *escaped = false;
  if (!c->check) return skip_trusted_string(c, escaped);
  while (p < end) {
    if (end - p >= 8 && plain8(p)) {
      p += 8;
      continue;
    }
    unsigned char ch = *p;
    if (ch == '"') {
      c->p = p + 1;
      return true;
    }
    size_t n = 1;
    if (ch == '\\') {
      *escaped = true;
      n = escape_length(p, end);
    } else if (ch < 0x20) {
      n = 0;
    } else if (ch >= 0x80) {
      n = utf8_length(p, end);
    }
    if (n == 0 || (size_t)(end - p) < n) return false;
    p += n;
  }
  return false;
}

/* Whether the integer's digits (n, no leading zero) fit an int64_t. */
static bool fits_int64(const unsigned char *digits, size_t n, bool negative) {
  if (n != 19) return n < 19;
  return memcmp(digits, negative ? "9223372036854775808" : "9223372036854775807", 19) <= 0;
}

/* Skips the number at c->p ('-' or a digit) by JSON's grammar. Checked:
 * what follows is a delimiter, an integer fits int64 and a real does not
 * overflow (jansson refuses both). */
static bool skip_number(cursor_t *c) {
  const unsigned char *s = c->p, *p = s, *end = c->end;
  if (*p == '-') p++;
  const unsigned char *digits = p;
  if (p == end || !is_digit(*p)) return false;
  if (*p == '0') p++;
  else
    while (p < end && is_digit(*p)) p++;
  long long int_digits = digits[0] == '0' ? 0 : p - digits;
  bool real = false;
  if (p < end && *p == '.') {
    real = true;
    if (++p == end || !is_digit(*p)) return false;
    while (p < end && is_digit(*p)) p++;
  }
  long long exp = 0;
  if (p < end && (*p == 'e' || *p == 'E')) {
    real = true;
    bool negative = ++p < end && *p == '-';
    if (p < end && (*p == '+' || *p == '-')) p++;
    if (p == end || !is_digit(*p)) return false;
    for (; p < end && is_digit(*p); p++)
      if (exp < 1000000) exp = exp * 10 + (*p - '0');
    if (negative) exp = -exp;
  }
  c->p = p;
  if (!c->check) return true;
  if (p == end || !(is_delimiter(*p) || *p == '\0')) return false; /* strtod stops there */
  if (!real) return fits_int64(digits, (size_t)(p - digits), *s == '-');
  /* the value is below 10^(int_digits + exp): only a larger bound may overflow */
  return int_digits + exp <= 308 || isfinite(strtod((const char *)s, NULL));
}

static bool skip_literal(cursor_t *c, const char *word, size_t n) {
  if ((size_t)(c->end - c->p) < n || memcmp(c->p, word, n) != 0) return false;
  c->p += n;
  return true;
}

/* The kind of the value whose first byte is ch (a number if nothing else:
 * skipping it checks). */
static payload_kind_t kind_of(unsigned char ch) {
  switch (ch) {
  case '{': return PAYLOAD_OBJECT;
  case '[': return PAYLOAD_ARRAY;
  case '"': return PAYLOAD_STRING;
  case 't': case 'f': return PAYLOAD_BOOL;
  case 'n': return PAYLOAD_NULL;
  default: return PAYLOAD_NUMBER;
  }
}

static bool skip_token(cursor_t *c) {
  switch (*c->p) {
  case 't': return skip_literal(c, "true", 4);
  case 'f': return skip_literal(c, "false", 5);
  case 'n': return skip_literal(c, "null", 4);
  default: return (*c->p == '-' || is_digit(*c->p)) && skip_number(c);
  }
}

/* Skips a string, number or literal. jansson reads one byte past a number
 * or a literal and, when that byte is a NUL, loses it on putting it back:
 * such a NUL is skipped as if it were not there (a value read here keeps
 * it at its end, where strtod stops). */
static bool skip_scalar(cursor_t *c) {
  bool escaped;
  if (*c->p == '"') return skip_string(c, &escaped);
  if (!skip_token(c)) return false;
  if (c->p < c->end && *c->p == '\0') c->p++;
  return true;
}

/* ------------------------------------------------------- containers -- */

/* Skips `"key" :` (whitespace around it included). */
static bool skip_key(cursor_t *c) {
  bool escaped;
  skip_ws(c);
  if (c->p == c->end || *c->p != '"' || !skip_string(c, &escaped)) return false;
  skip_ws(c);
  if (c->p == c->end || *c->p != ':') return false;
  c->p++;
  return true;
}

static void set_open(unsigned char *open, unsigned i, bool object) {
  if (object) open[i / 8] |= (unsigned char)(1u << (i % 8));
  else open[i / 8] &= (unsigned char)~(1u << (i % 8));
}

static bool is_object(const unsigned char *open, unsigned i) { return open[i / 8] >> (i % 8) & 1; }

/* After a value inside the `n` containers open in `open`: closes those
 * that end here and steps past the comma (and key) to the next value.
 * *n == 0 afterwards: the outermost one closed. */
static bool after_value(cursor_t *c, const unsigned char *open, unsigned *n) {
  while (*n > 0) {
    skip_ws(c);
    if (c->p == c->end) return false;
    bool object = is_object(open, *n - 1);
    if (*c->p == (object ? '}' : ']')) {
      c->p++;
      (*n)--;
      continue;
    }
    if (*c->p != ',') return false;
    c->p++;
    return !object || skip_key(c);
  }
  return true;
}

/* Skips the value at c->p (whitespace first), setting *kind. Nested
 * containers are walked in a loop, one bit of `open` per level. */
static bool skip_value(cursor_t *c, payload_kind_t *kind) {
  unsigned char open[MAX_DEPTH / 8];
  unsigned n = 0;
  skip_ws(c);
  if (c->p == c->end) return false;
  *kind = kind_of(*c->p);
  do {
    skip_ws(c);
    if (c->p == c->end) return false;
    unsigned char ch = *c->p;
    if (ch == '{' || ch == '[') {
      if (c->depth + n >= MAX_DEPTH) return false;
      set_open(open, n++, ch == '{');
      c->p++;
      skip_ws(c);
      if (c->p < c->end && *c->p == (ch == '{' ? '}' : ']')) {
        c->p++;
        n--;
      } else if (ch == '{' && !skip_key(c)) {
        return false;
      } else {
        continue; /* the first member's value */
      }
    } else if (!skip_scalar(c)) {
      return false;
    }
    if (!after_value(c, open, &n)) return false;
  } while (n > 0);
  return true;
}

/* ----------------------------------------------------------- lookup -- */

/* The quoted string [p, end) (checked before) against s: as memcmp on the
 * common length, then the shorter first. */
static int compare_string(const unsigned char *p, const unsigned char *end, const unsigned char *s,
                          size_t n) {
  size_t i = 0;
  p++, end--; /* the quotes */
  while (p < end) {
    unsigned char buf[4];
    const unsigned char *b = buf;
    size_t k;
    if (*p != '\\') {
      const unsigned char *q = memchr(p, '\\', (size_t)(end - p));
      b = p;
      k = (size_t)((q ? q : end) - p);
      p += k;
    } else if (p[1] == 'u') {
      size_t used;
      long cp = unicode_escape(p + 2, end, &used);
      if (cp < 0) return 1; /* not after a check */
      k = utf8_encode(cp, buf);
      p += 2 + used;
    } else {
      static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
      const char *at = memchr(from, p[1], sizeof from - 1);
      if (!at) return 1; /* not after a check */
      buf[0] = (unsigned char)to[at - from];
      k = 1;
      p += 2;
    }
    size_t m = k < n - i ? k : n - i;
    int r = m ? memcmp(b, s + i, m) : 0;
    if (r) return r < 0 ? -1 : 1;
    if (m < k) return 1; /* s ended first */
    i += k;
  }
  return i < n ? -1 : 0;
}

/* Whether the key [p, end) (quoted, checked) is the n bytes at seg. */
static bool key_is(const unsigned char *p, const unsigned char *end, bool escaped, const char *seg,
                   size_t n) {
  if (!escaped) return (size_t)(end - p - 2) == n && memcmp(p + 1, seg, n) == 0;
  return compare_string(p, end, (const unsigned char *)seg, n) == 0;
}

/* Reads the object at c->p (its '{') to its end; *hit and *out: the value
 * of its last member named by the n bytes at seg. */
static bool scan_object(cursor_t *c, const char *seg, size_t n, payload_value_t *out, bool *hit) {
  *hit = false;
  c->p++;
  c->depth++;
  skip_ws(c);
  if (c->p < c->end && *c->p == '}') {
    c->p++;
    c->depth--;
    return true;
  }
  for (;;) {
    bool escaped;
    skip_ws(c);
    if (c->p == c->end || *c->p != '"') return false;
    const unsigned char *key = c->p;
    if (!skip_string(c, &escaped)) return false;
    bool named = key_is(key, c->p, escaped, seg, n);
    skip_ws(c);
    if (c->p == c->end || *c->p != ':') return false;
    c->p++;
    skip_ws(c);
    const unsigned char *value = c->p;
    payload_kind_t kind;
    if (!skip_value(c, &kind)) return false;
    if (named) {
      *hit = true;
      *out = (payload_value_t){kind, (const char *)value, (const char *)c->p};
    }
    skip_ws(c);
    if (c->p == c->end) return false;
    if (*c->p == '}') {
      c->p++;
      c->depth--;
      return true;
    }
    if (*c->p != ',') return false;
    c->p++;
  }
}

void payload_init(payload_t *pl, const char *text, size_t len) {
  *pl = (payload_t){.text = text, .len = text ? len : 0,
                    .state = text && len ? PAYLOAD_UNCHECKED : PAYLOAD_INVALID};
}

/* The top object's member named by the first segment; decides the
 * payload's state on the first call. */
static bool find_top(payload_t *pl, const char *seg, size_t n, payload_value_t *out, bool *hit) {
  const unsigned char *text = (const unsigned char *)pl->text;
  cursor_t c = {.p = text, .end = text + pl->len, .check = pl->state == PAYLOAD_UNCHECKED};
  skip_ws(&c);
  bool ok = c.p < c.end && *c.p == '{' && scan_object(&c, seg, n, out, hit);
  if (ok) skip_ws(&c);
  ok = ok && c.p == c.end;
  pl->state = ok ? PAYLOAD_VALID : PAYLOAD_INVALID;
  return ok;
}

bool payload_find(payload_t *pl, const char *path, size_t n, payload_value_t *out) {
  if (pl->state == PAYLOAD_INVALID) return false;
  const char *end = path + n, *seg = path;
  const char *dot = n ? memchr(seg, '.', n) : NULL;
  bool hit;
  if (!find_top(pl, seg, (size_t)((dot ? dot : end) - seg), out, &hit)) return false;
  for (unsigned level = 1; hit && dot; level++) {
    if (out->kind != PAYLOAD_OBJECT) return false;
    seg = dot + 1;
    dot = memchr(seg, '.', (size_t)(end - seg));
    cursor_t c = {.p = (const unsigned char *)out->p, .end = (const unsigned char *)out->end,
                  .depth = level};
    if (!scan_object(&c, seg, (size_t)((dot ? dot : end) - seg), out, &hit)) return false;
  }
  return hit;
}

/* ----------------------------------------------------------- values -- */

bool payload_bool(const payload_value_t *v) { return v->p < v->end && *v->p == 't'; }

double payload_number(const payload_value_t *v) {
  const unsigned char *p = (const unsigned char *)v->p, *end = (const unsigned char *)v->end;
  bool negative = p < end && *p == '-';
  const unsigned char *q = p + negative;
  if (end - q <= 15) { /* a short integer is exact in a double, as strtod gives it */
    uint64_t x = 0;
    while (q < end && is_digit(*q)) x = x * 10 + (uint64_t)(*q++ - '0');
    if (q == end) return negative ? -(double)x : (double)x;
  }
  /* a delimiter follows the number inside the checked text: strtod stops there */
  return strtod(v->p, NULL);
}

int payload_string_cmp(const payload_value_t *v, const char *s, size_t n) {
  return compare_string((const unsigned char *)v->p, (const unsigned char *)v->end,
                        (const unsigned char *)s, n);
}

payload_iter_t payload_elements(const payload_value_t *array) {
  return (payload_iter_t){array->p + 1, array->end - 1};
}

bool payload_next(payload_iter_t *it, payload_value_t *out) {
  cursor_t c = {.p = (const unsigned char *)it->p, .end = (const unsigned char *)it->end};
  skip_ws(&c);
  if (c.p < c.end && *c.p == ',') c.p++;
  skip_ws(&c);
  const unsigned char *start = c.p;
  payload_kind_t kind;
  if (c.p == c.end || !skip_value(&c, &kind)) return false;
  *out = (payload_value_t){kind, (const char *)start, (const char *)c.p};
  it->p = (const char *)c.p;
  return true;
}
