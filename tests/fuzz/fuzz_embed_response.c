/*
 * tests/fuzz/fuzz_embed_response.c — libFuzzer harness for what an
 * embedding model server sends back (src/embed/decode.c, request.c): the
 * first byte picks the number of inputs (1..8), the second the dimension
 * (1..8), the rest is the answer body. Checks:
 *   - embed_decode_response: on success every row is written with finite
 *     values; on failure the message is terminated, printable ASCII or
 *     UTF-8, and within its buffer;
 *   - the fast reader against jansson's: whatever the fast one accepts,
 *     jansson's accepts too, with bit-identical floats;
 *   - embed_error_text over the same bytes: one valid UTF-8 line within its
 *     bound that never holds the secret;
 *   - the request writer: when the body is valid UTF-8, the request built
 *     with it as the one input parses (jansson) back to the same string.
 * Any crash, sanitizer report or abort() is a bug.
 */
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "embed/embed_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SECRET "sk-fuzz"

static void check_decode(const char *body, size_t len, size_t n, uint32_t dim) {
  float out[64];
  for (size_t i = 0; i < 64; i++) out[i] = NAN;
  char err[256];
  memset(err, 'x', sizeof err);
  int rc = embed_decode_response(body, len, n, dim, out, err, sizeof err);
  if (rc == 0) {
    for (size_t i = 0; i < n * dim; i++)
      if (!isfinite(out[i])) abort(); /* every row written, every value finite */
    return;
  }
  if (rc != AKIDB_EUNAVAILABLE && rc != AKIDB_ENOMEM) abort();
  size_t el = strnlen(err, sizeof err);
  if (el == sizeof err) abort();
  if (!embed_utf8_valid(err, el, NULL)) abort();
}

static void check_fast_matches_jansson(const char *body, size_t len, size_t n, uint32_t dim) {
  float fast[64], slow[64];
  memset(fast, 0, sizeof fast);
  memset(slow, 0, sizeof slow);
  if (!embed_decode_fast(body, len, n, dim, fast)) return;
  char err[256];
  if (embed_decode_jansson(body, len, n, dim, slow, err, sizeof err) != 0) abort();
  if (memcmp(fast, slow, n * dim * sizeof *fast) != 0) abort();
}

static void check_error_text(const char *body, size_t len) {
  char out[64];
  embed_error_text(body, len, SECRET, out, sizeof out);
  size_t ol = strnlen(out, sizeof out);
  if (ol == sizeof out || !embed_utf8_valid(out, ol, NULL) || strstr(out, SECRET)) abort();
  for (size_t i = 0; i < ol; i++)
    if ((unsigned char)out[i] < 0x20) abort();
}

static void check_request_round_trip(const char *body, size_t len) {
  if (!embed_utf8_valid(body, len, NULL)) return;
  const char *texts[1] = {body};
  size_t lens[1] = {len}, rl = 0;
  char *req = embed_request_body("m", 3, texts, lens, 1, &rl);
  if (!req) return;
  size_t expect = embed_request_overhead("m", 3) + embed_json_string_len(body, len);
  if (rl != expect) abort(); /* the size planned is the size written */
  json_t *j = json_loadb(req, rl, JSON_ALLOW_NUL, NULL);
  if (!j) abort();
  json_t *in = json_array_get(json_object_get(j, "input"), 0);
  if (!json_is_string(in) || json_string_length(in) != len ||
      memcmp(json_string_value(in), body, len) != 0)
    abort();
  json_decref(j);
  free(req);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2) return 0;
  size_t n = 1 + data[0] % 8;
  uint32_t dim = 1 + data[1] % 8;
  const char *body = (const char *)data + 2;
  size_t len = size - 2;
  check_decode(body, len, n, dim);
  check_fast_matches_jansson(body, len, n, dim);
  check_error_text(body, len);
  check_request_round_trip(body, len);
  return 0;
}
