/*
 * request.c — the text side of an embeddings request: the UTF-8 check of
 * inputs, the JSON body writer (exact sizes first, so batches are planned
 * against max_request_bytes before any byte is written), the one-line
 * rendering of a provider's error body (secrets redacted) and the W3C
 * traceparent check.
 *
 * Locking: none (pure functions over their arguments).
 * Durability: none.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "embed/embed_internal.h"

/* ------------------------------------------------------------- UTF-8 -- */

/* Length of the UTF-8 sequence starting at s[i] (0: invalid). */
static size_t utf8_seq(const unsigned char *s, size_t n, size_t i) {
  unsigned c = s[i];
  if (c < 0x80) return 1;
  size_t len;
  unsigned lo = 0x80, hi = 0xBF; /* range of the second byte */
  if (c >= 0xC2 && c <= 0xDF) len = 2;
  else if (c == 0xE0) len = 3, lo = 0xA0;
  else if (c == 0xED) len = 3, hi = 0x9F; /* no surrogates */
  else if (c >= 0xE1 && c <= 0xEF) len = 3;
  else if (c == 0xF0) len = 4, lo = 0x90;
  else if (c == 0xF4) len = 4, hi = 0x8F; /* ≤ U+10FFFF */
  else if (c >= 0xF1 && c <= 0xF3) len = 4;
  else return 0;
  if (n - i < len) return 0;
  if (s[i + 1] < lo || s[i + 1] > hi) return 0;
  for (size_t k = 2; k < len; k++)
    if ((s[i + k] & 0xC0) != 0x80) return 0;
  return len;
}

bool embed_utf8_valid(const char *s, size_t n, size_t *bad) {
  const unsigned char *u = (const unsigned char *)s;
  size_t i = 0;
  while (i < n) {
    size_t l = utf8_seq(u, n, i);
    if (l == 0) {
      if (bad) *bad = i;
      return false;
    }
    i += l;
  }
  return true;
}

/* -------------------------------------------------------- JSON strings -- */

/* Bytes byte c takes inside a JSON string literal. */
static size_t escaped_len(unsigned char c) {
  if (c == '"' || c == '\\' || c == '\b' || c == '\f' || c == '\n' || c == '\r' || c == '\t')
    return 2;
  return c < 0x20 ? 6 : 1;
}

size_t embed_json_string_len(const char *s, size_t n) {
  size_t len = 2;
  for (size_t i = 0; i < n; i++) len += escaped_len((unsigned char)s[i]);
  return len;
}

char *embed_json_string_put(char *p, const char *s, size_t n) {
  static const char hex[] = "0123456789abcdef";
  *p++ = '"';
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    char e = 0;
    switch (c) {
    case '"': e = '"'; break;
    case '\\': e = '\\'; break;
    case '\b': e = 'b'; break;
    case '\f': e = 'f'; break;
    case '\n': e = 'n'; break;
    case '\r': e = 'r'; break;
    case '\t': e = 't'; break;
    default: break;
    }
    if (e) {
      *p++ = '\\';
      *p++ = e;
    } else if (c < 0x20) {
      memcpy(p, "\\u00", 4);
      p[4] = hex[c >> 4];
      p[5] = hex[c & 15];
      p += 6;
    } else {
      *p++ = (char)c;
    }
  }
  *p++ = '"';
  return p;
}

/* --------------------------------------------------------- the body -- */

#define BODY_HEAD "{\"model\":"
#define BODY_INPUT ",\"input\":["
#define BODY_TAIL "],\"encoding_format\":\"float\""
#define BODY_DIMS ",\"dimensions\":"

size_t embed_request_overhead(const char *model, uint32_t dimensions) {
  size_t n = sizeof BODY_HEAD - 1 + embed_json_string_len(model, strlen(model)) +
             sizeof BODY_INPUT - 1 + sizeof BODY_TAIL - 1 + 1 /* } */;
  if (dimensions) {
    char digits[16];
    n += sizeof BODY_DIMS - 1 + (size_t)snprintf(digits, sizeof digits, "%u", dimensions);
  }
  return n;
}

char *embed_request_body(const char *model, uint32_t dimensions, const char *const *texts,
                         const size_t *lens, size_t n, size_t *len) {
  size_t total = embed_request_overhead(model, dimensions) + (n ? n - 1 : 0);
  for (size_t i = 0; i < n; i++) total += embed_json_string_len(texts[i], lens[i]);
  char *body = malloc(total + 1);
  if (!body) return NULL;
  char *p = body;
  memcpy(p, BODY_HEAD, sizeof BODY_HEAD - 1);
  p = embed_json_string_put(p + sizeof BODY_HEAD - 1, model, strlen(model));
  memcpy(p, BODY_INPUT, sizeof BODY_INPUT - 1);
  p += sizeof BODY_INPUT - 1;
  for (size_t i = 0; i < n; i++) {
    if (i) *p++ = ',';
    p = embed_json_string_put(p, texts[i], lens[i]);
  }
  memcpy(p, BODY_TAIL, sizeof BODY_TAIL - 1);
  p += sizeof BODY_TAIL - 1;
  if (dimensions) p += sprintf(p, BODY_DIMS "%u", dimensions);
  *p++ = '}';
  *len = (size_t)(p - body);
  return body;
}

/* -------------------------------------------------- provider error text -- */

/* The message inside an error body, when it is JSON shaped like OpenAI's
 * {"error": {"message": ...}}, vLLM's {"message": ...}, TEI's
 * {"error": "..."} or FastAPI's {"detail": "..."}; else NULL. */
static const char *json_error_message(json_t *root) {
  if (!json_is_object(root)) return NULL;
  json_t *e = json_object_get(root, "error");
  if (json_is_string(e)) return json_string_value(e);
  if (json_is_object(e) && json_is_string(json_object_get(e, "message")))
    return json_string_value(json_object_get(e, "message"));
  const char *keys[] = {"message", "detail"};
  for (size_t i = 0; i < 2; i++) {
    json_t *m = json_object_get(root, keys[i]);
    if (json_is_string(m)) return json_string_value(m);
  }
  return NULL;
}

/* Copies src into out (max bytes) as one printable line of valid UTF-8:
 * control bytes become spaces, runs of spaces collapse, ends are trimmed,
 * bytes that are not UTF-8 become '?', and "..." marks a cut. */
static void one_line(const char *src, size_t n, char *out, size_t max) {
  const unsigned char *u = (const unsigned char *)src;
  size_t o = 0, i = 0;
  bool space = true; /* drops leading spaces */
  while (i < n) {
    size_t l = utf8_seq(u, n, i);
    bool blank = l == 1 && (u[i] < 0x20 || u[i] == 0x7F || u[i] == ' ');
    if (blank) {
      if (!space && o + 1 < max) out[o++] = ' ';
      space = true;
      i++;
      continue;
    }
    size_t w = l ? l : 1;
    if (o + w + 1 > max) break;
    if (l) memcpy(out + o, src + i, l);
    else out[o] = '?';
    o += w;
    i += w;
    space = false;
  }
  if (i < n && max > 4) { /* cut: room for "..." */
    while (o + 4 > max || (o > 0 && (((unsigned char)out[o - 1]) & 0xC0) == 0x80)) o--;
    if (o > 0 && ((unsigned char)out[o - 1]) >= 0xC0) o--;
    memcpy(out + o, "...", 3);
    o += 3;
  }
  while (o > 0 && out[o - 1] == ' ') o--;
  out[o] = '\0';
}

/* Replaces every occurrence of secret in s (heap copy) by "[redacted]". */
static char *redact(const char *s, size_t n, const char *secret) {
  size_t sl = secret ? strlen(secret) : 0;
  char *out = malloc(n * (sl ? 10 : 1) + 1); /* worst case: every byte replaced */
  if (!out) return NULL;
  size_t o = 0;
  for (size_t i = 0; i < n;) {
    if (sl && n - i >= sl && memcmp(s + i, secret, sl) == 0) {
      memcpy(out + o, "[redacted]", 10);
      o += 10;
      i += sl;
    } else {
      out[o++] = s[i++];
    }
  }
  out[o] = '\0';
  return out;
}

void embed_error_text(const char *body, size_t len, const char *secret, char *out,
                      size_t max) {
  if (max == 0) return;
  out[0] = '\0';
  json_t *root = json_loadb(body, len, 0, NULL);
  const char *msg = root ? json_error_message(root) : NULL;
  const char *src = msg ? msg : body;
  size_t n = msg ? strlen(msg) : len;
  char *clean = redact(src, n, secret);
  if (clean) {
    one_line(clean, strlen(clean), out, max);
    free(clean);
  } else {
    snprintf(out, max, "(error text dropped: out of memory)");
  }
  json_decref(root);
}

/* ----------------------------------------------------------- traceparent -- */

static bool lower_hex(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return false;
  return true;
}

bool embed_traceparent_valid(const char *tp) {
  /* version(2) - trace-id(32) - parent-id(16) - flags(2) */
  if (!tp || strlen(tp) != 55) return false;
  if (tp[2] != '-' || tp[35] != '-' || tp[52] != '-') return false;
  return lower_hex(tp, 2) && lower_hex(tp + 3, 32) && lower_hex(tp + 36, 16) &&
         lower_hex(tp + 53, 2) && memcmp(tp, "ff", 2) != 0;
}
