/*
 * decode.c — reads an OpenAI-compatible embeddings answer:
 *   {"object": "list", "data": [{"index": i, "embedding": [f, ...]}, ...], ...}
 * into rows by data[].index (any order, each index exactly once), checking
 * the count, the dimension and that every value is a finite float. Every
 * message completes "embedding provider <base_url> " (the caller prefixes
 * it). Exposed on its own for the fuzz harness (tests/fuzz/fuzz_embed_response.c).
 *
 * Locking: none (pure function). Durability: none.
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "embed/embed_internal.h"

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
