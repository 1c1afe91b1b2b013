/*
 * decode.c — reads an OpenAI-compatible embeddings answer:
 *   {"object": "list", "data": [{"index": i, "embedding": [f, ...]}, ...], ...}
 * into rows by data[].index (any order, each index exactly once), checking
 * the count, the dimension and that every value is a finite float. Every
 * message completes "embedding provider <base_url> " (the caller prefixes
 * it). Exposed on its own for the fuzz harness (tests/fuzz/fuzz_embed_response.c).
 *
 * Two readers: a fast one for the common case (plain ASCII keys and
 * strings, numbers converted with strtod exactly as jansson does) that gives
 * up on anything unusual, and jansson, which reads everything else and
 * words every error. The fast reader accepts a subset of what the jansson
 * path accepts and yields the same floats (the fuzz harness checks both).
 *
 * Locking: none (pure functions). Durability: none.
 */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "embed/embed_internal.h"

/* ======================================================= fast reader == */

#define FAST_DEPTH_MAX 32
#define FAST_NUMBER_MAX 64 /* longer numbers go to jansson */

typedef struct {
  const char *p, *end;
} cursor_t;

static void ws(cursor_t *c) {
  while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
    c->p++;
}

/* Consumes byte ch after whitespace. */
static bool eat(cursor_t *c, char ch) {
  ws(c);
  if (c->p < c->end && *c->p == ch) {
    c->p++;
    return true;
  }
  return false;
}

/* A string of printable ASCII without escapes (else false: give up). */
static bool plain_string(cursor_t *c, const char **s, size_t *len) {
  if (!eat(c, '"')) return false;
  const char *b = c->p;
  while (c->p < c->end && *c->p != '"') {
    unsigned char u = (unsigned char)*c->p;
    if (u < 0x20 || u >= 0x7F || u == '\\') return false;
    c->p++;
  }
  if (c->p == c->end) return false;
  *s = b;
  *len = (size_t)(c->p - b);
  c->p++;
  return true;
}

static bool digits(cursor_t *c) {
  const char *b = c->p;
  while (c->p < c->end && *c->p >= '0' && *c->p <= '9') c->p++;
  return c->p > b;
}

/* A JSON number token (RFC 8259 grammar); *is_int when it has no fraction
 * and no exponent (jansson reads those as integers). */
static bool number_token(cursor_t *c, const char **s, size_t *len, bool *is_int) {
  ws(c);
  const char *b = c->p;
  if (c->p < c->end && *c->p == '-') c->p++;
  if (c->p < c->end && *c->p == '0') c->p++;
  else if (!digits(c)) return false;
  *is_int = true;
  if (c->p < c->end && *c->p == '.') {
    c->p++;
    if (!digits(c)) return false;
    *is_int = false;
  }
  if (c->p < c->end && (*c->p == 'e' || *c->p == 'E')) {
    c->p++;
    if (c->p < c->end && (*c->p == '+' || *c->p == '-')) c->p++;
    if (!digits(c)) return false;
    *is_int = false;
  }
  *s = b;
  *len = (size_t)(c->p - b);
  return *len < FAST_NUMBER_MAX;
}

/* A number as jansson would read it: integers through strtoll (overflow:
 * give up, jansson refuses them), reals through strtod (overflow: give up). */
static bool number_value(cursor_t *c, double *v, bool *is_int, long long *iv) {
  const char *s;
  size_t len;
  if (!number_token(c, &s, &len, is_int)) return false;
  char tok[FAST_NUMBER_MAX];
  memcpy(tok, s, len);
  tok[len] = '\0';
  errno = 0;
  if (*is_int) {
    *iv = strtoll(tok, NULL, 10);
    *v = (double)*iv;
  } else {
    *v = strtod(tok, NULL);
  }
  return errno != ERANGE || (!*is_int && isfinite(*v));
}

static bool skip_value(cursor_t *c, int depth);

/* Skips the rest of an array or object whose opening byte was read. */
static bool skip_container(cursor_t *c, char close, int depth) {
  if (eat(c, close)) return true;
  do {
    if (close == '}') {
      const char *k;
      size_t kl;
      if (!plain_string(c, &k, &kl) || !eat(c, ':')) return false;
    }
    if (!skip_value(c, depth + 1)) return false;
  } while (eat(c, ','));
  return eat(c, close);
}

static bool literal(cursor_t *c, const char *word) {
  size_t n = strlen(word);
  if ((size_t)(c->end - c->p) < n || memcmp(c->p, word, n) != 0) return false;
  c->p += n;
  return true;
}

static bool skip_value(cursor_t *c, int depth) {
  if (depth > FAST_DEPTH_MAX) return false;
  ws(c);
  if (c->p == c->end) return false;
  const char *s;
  size_t len;
  bool is_int;
  double v;
  long long iv;
  switch (*c->p) {
  case '"': return plain_string(c, &s, &len);
  case '{': c->p++; return skip_container(c, '}', depth);
  case '[': c->p++; return skip_container(c, ']', depth);
  case 't': return literal(c, "true");
  case 'f': return literal(c, "false");
  case 'n': return literal(c, "null");
  default: return number_value(c, &v, &is_int, &iv);
  }
}

static bool key_is(const char *k, size_t kl, const char *name) {
  return kl == strlen(name) && memcmp(k, name, kl) == 0;
}

/* [f, ...] of exactly dim finite floats into row. */
static bool fast_vector(cursor_t *c, uint32_t dim, float *row) {
  if (!eat(c, '[')) return false;
  uint32_t d = 0;
  if (eat(c, ']')) return dim == 0;
  do {
    double v;
    bool is_int;
    long long iv;
    if (d == dim || !number_value(c, &v, &is_int, &iv)) return false;
    float f = (float)v;
    if (!isfinite(f)) return false;
    row[d++] = f;
  } while (eat(c, ','));
  return eat(c, ']') && d == dim;
}

/* One {"index": i, "embedding": [...], ...} into out[i]. */
static bool fast_entry(cursor_t *c, size_t n, uint32_t dim, float *out, float *row,
                       unsigned char *seen) {
  if (!eat(c, '{')) return false;
  long long idx = -1;
  bool have_vec = false;
  if (!eat(c, '}')) {
    do {
      const char *k;
      size_t kl;
      if (!plain_string(c, &k, &kl) || !eat(c, ':')) return false;
      if (key_is(k, kl, "index")) {
        double v;
        bool is_int;
        if (idx >= 0 || !number_value(c, &v, &is_int, &idx) || !is_int) return false;
        if (idx < 0 || (unsigned long long)idx >= n || seen[idx]) return false;
      } else if (key_is(k, kl, "embedding")) {
        if (have_vec || !fast_vector(c, dim, row)) return false;
        have_vec = true;
      } else if (!skip_value(c, 2)) {
        return false;
      }
    } while (eat(c, ','));
    if (!eat(c, '}')) return false;
  }
  if (idx < 0 || !have_vec) return false;
  seen[idx] = 1;
  memcpy(out + (size_t)idx * dim, row, dim * sizeof *row);
  return true;
}

/* The "data" array: exactly n entries. */
static bool fast_data(cursor_t *c, size_t n, uint32_t dim, float *out, float *row,
                      unsigned char *seen) {
  if (!eat(c, '[')) return false;
  size_t k = 0;
  if (eat(c, ']')) return n == 0;
  do {
    if (k == n || !fast_entry(c, n, dim, out, row, seen)) return false;
    k++;
  } while (eat(c, ','));
  return eat(c, ']') && k == n;
}

static bool fast_document(cursor_t *c, size_t n, uint32_t dim, float *out, float *row,
                          unsigned char *seen) {
  bool have_data = false;
  if (!eat(c, '{') || eat(c, '}')) return false;
  do {
    const char *k;
    size_t kl;
    if (!plain_string(c, &k, &kl) || !eat(c, ':')) return false;
    if (key_is(k, kl, "data")) {
      if (have_data || !fast_data(c, n, dim, out, row, seen)) return false;
      have_data = true;
    } else if (!skip_value(c, 1)) {
      return false;
    }
  } while (eat(c, ','));
  if (!eat(c, '}')) return false;
  ws(c);
  return have_data && c->p == c->end;
}

bool embed_decode_fast(const char *body, size_t len, size_t n, uint32_t dim, float *out) {
  if (n == 0 || dim == 0) return false;
  unsigned char *seen = calloc(n, 1);
  float *row = malloc(dim * sizeof *row);
  cursor_t c = {body, body + len};
  bool ok = seen && row && fast_document(&c, n, dim, out, row, seen);
  free(seen);
  free(row);
  return ok;
}

/* ==================================================== jansson reader == */

#define DECODE_FAIL(...) (snprintf(err, errlen, __VA_ARGS__), AKIDB_EUNAVAILABLE)

/* Reads entry k's index into *idx after checking it. */
static int entry_index(json_t *item, size_t k, size_t n, const unsigned char *seen,
                       size_t *idx, char *err, size_t errlen) {
  json_t *ji = json_object_get(item, "index");
  if (!json_is_integer(ji))
    return DECODE_FAIL("returned data[%zu] without an integer \"index\"", k);
  json_int_t v = json_integer_value(ji);
  if (v < 0 || (unsigned long long)v >= n)
    return DECODE_FAIL("returned an embedding with index %lld for %zu inputs (valid: 0 to %zu)",
                       (long long)v, n, n - 1);
  if (seen[v]) return DECODE_FAIL("returned index %lld twice", (long long)v);
  *idx = (size_t)v;
  return 0;
}

/* Copies entry k's embedding (dim finite numbers) into row. */
static int entry_vector(json_t *item, size_t k, uint32_t dim, float *row, char *err,
                        size_t errlen) {
  json_t *e = json_object_get(item, "embedding");
  if (json_is_string(e))
    return DECODE_FAIL("returned data[%zu].embedding as a string (base64?) although "
                       "\"encoding_format\": \"float\" was asked",
                       k);
  if (!json_is_array(e)) return DECODE_FAIL("returned data[%zu] without an \"embedding\" array", k);
  size_t d = json_array_size(e);
  if (d != dim)
    return DECODE_FAIL("returned a %zu-dimensional embedding, the collection's model is "
                       "configured for %u",
                       d, dim);
  for (size_t j = 0; j < d; j++) {
    json_t *x = json_array_get(e, j);
    if (!json_is_number(x))
      return DECODE_FAIL("returned a value that is not a number in data[%zu].embedding[%zu]", k,
                         j);
    float f = (float)json_number_value(x);
    if (!isfinite(f))
      return DECODE_FAIL("returned a non-finite value (%g) in data[%zu].embedding[%zu]",
                         json_number_value(x), k, j);
    row[j] = f;
  }
  return 0;
}

/* Reads every entry of data (already checked to hold n of them). */
static int decode_entries(json_t *data, size_t n, uint32_t dim, float *out, char *err,
                          size_t errlen) {
  unsigned char *seen = calloc(n ? n : 1, 1);
  if (!seen) return AKIDB_ENOMEM;
  int rc = 0;
  for (size_t k = 0; k < n && rc == 0; k++) {
    json_t *item = json_array_get(data, k);
    size_t idx = 0;
    if (!json_is_object(item)) rc = DECODE_FAIL("returned data[%zu] that is not an object", k);
    else rc = entry_index(item, k, n, seen, &idx, err, errlen);
    if (rc == 0) rc = entry_vector(item, k, dim, out + idx * (size_t)dim, err, errlen);
    if (rc == 0) seen[idx] = 1;
  }
  free(seen);
  return rc;
}

int embed_decode_response(const char *body, size_t len, size_t n, uint32_t dim, float *out,
                          char *err, size_t errlen) {
  if (embed_decode_fast(body, len, n, dim, out)) return 0;
  return embed_decode_jansson(body, len, n, dim, out, err, errlen);
}

int embed_decode_jansson(const char *body, size_t len, size_t n, uint32_t dim, float *out,
                         char *err, size_t errlen) {
  json_error_t je;
  json_t *root = json_loadb(body, len, 0, &je);
  if (!root) {
    for (char *c = je.text; *c; c++) /* jansson quotes the bad token: keep ASCII */
      if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7F) *c = '?';
    return DECODE_FAIL("returned malformed JSON: %s (line %d, column %d)", je.text, je.line,
                       je.column);
  }
  int rc;
  json_t *data = json_is_object(root) ? json_object_get(root, "data") : NULL;
  if (!json_is_array(data)) {
    rc = DECODE_FAIL("returned JSON without a \"data\" array");
  } else if (json_array_size(data) != n) {
    rc = DECODE_FAIL("returned %zu embeddings for %zu inputs", json_array_size(data), n);
  } else {
    rc = decode_entries(data, n, dim, out, err, errlen);
  }
  json_decref(root);
  return rc;
}
