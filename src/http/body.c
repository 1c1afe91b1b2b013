/*
 * http/body.c — request checks that need no server: the X-Request-Id
 * format, the Content-Type rule, the JSON nesting pre-scan and body parsing
 * (jansson) with line/column error messages. Stateless; thread-safe.
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

bool http_content_type_ok(const char *ct) {
  if (!ct) return true;
  while (*ct == ' ' || *ct == '\t') ct++;
  static const char json[] = "application/json";
  if (strncasecmp(ct, json, sizeof json - 1) != 0) return false;
  const char *rest = ct + sizeof json - 1;
  while (*rest == ' ' || *rest == '\t') rest++;
  return *rest == '\0' || *rest == ';';
}

bool http_json_depth_ok(const char *text, size_t len, uint32_t max_depth) {
  uint32_t depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < len; i++) {
    char c = text[i];
    if (in_string) {
      if (c == '\\')
        i++; /* skip the escaped character ("\"" does not end the string) */
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) return false;
    } else if ((c == ']' || c == '}') && depth > 0) {
      depth--;
    }
  }
  return true;
}

static bool all_whitespace(const char *text, size_t len) {
  for (size_t i = 0; i < len; i++)
    if (text[i] != ' ' && text[i] != '\t' && text[i] != '\n' && text[i] != '\r') return false;
  return true;
}

int http_body_parse(const char *text, size_t len, uint32_t max_depth, json_t **out, char *err,
                    size_t errlen) {
  *out = NULL;
  if (len == 0 || all_whitespace(text, len)) return 0;
  if (!http_json_depth_ok(text, len, max_depth)) {
    snprintf(err, errlen,
             "body nests deeper than %u levels of arrays and objects "
             "(limits.max_json_depth); flatten it",
             max_depth);
    return -1;
  }
  return http_json_parse(text, len, max_depth, out, err, errlen);
}
