/*
 * http/body.c — request checks that need no server: the X-Request-Id
 * format, the Content-Type rule, the JSON nesting pre-scan and body parsing
 * (into jansson values, by the decoder of json_parse.c) with line/column
 * error messages. Stateless; thread-safe.
 * Calls nothing of the service layer.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "http/http_internal.h"

bool http_request_id_valid(const char *id) {
  if (!id) return false;
  size_t n = 0;
  for (; id[n]; n++) {
    unsigned char c = (unsigned char)id[n];
    if (c < 0x20 || c > 0x7e || n >= 128) return false;
  }
  return n >= 1;
}

/* Whether `ct` is the media type `type`, with parameters or not. */
static bool is_type(const char *ct, const char *type) {
  while (*ct == ' ' || *ct == '\t') ct++;
  size_t n = strlen(type);
  if (strncasecmp(ct, type, n) != 0) return false;
  const char *rest = ct + n;
  while (*rest == ' ' || *rest == '\t') rest++;
  return *rest == '\0' || *rest == ';';
}

bool http_content_type_ok(const char *ct) { return !ct || is_type(ct, "application/json"); }

bool http_raw_type_ok(const char *ct) {
  return ct && (is_type(ct, "application/octet-stream") ||
                is_type(ct, "application/vnd.apache.parquet"));
}

static bool all_whitespace(const char *text, size_t len) {
  for (size_t i = 0; i < len; i++)
    if (text[i] != ' ' && text[i] != '\t' && text[i] != '\n' && text[i] != '\r') return false;
  return true;
}

int http_body_parse_vectors(const char *text, size_t len, uint32_t max_depth,
                            const char *const *vector_paths, http_floats_t *floats, json_t **out,
                            char *err, size_t errlen) {
  *out = NULL;
  if (len == 0 || all_whitespace(text, len)) return 0;
  return http_json_parse_vectors(text, len, max_depth, vector_paths, floats, out, err, errlen);
}

int http_body_parse(const char *text, size_t len, uint32_t max_depth, json_t **out, char *err,
                    size_t errlen) {
  return http_body_parse_vectors(text, len, max_depth, NULL, NULL, out, err, errlen);
}
