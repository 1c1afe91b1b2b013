/*
 * utf8.c — owns strict UTF-8 decoding and validation (RFC 3629): the only
 * accepted forms are the shortest encodings of U+0000..U+D7FF and
 * U+E000..U+10FFFF. Pure functions: no state, no locking, no durability.
 */
#include "text/text.h"

/* Whether b is a continuation byte 10xxxxxx. */
static inline bool is_cont(unsigned char b) { return (b & 0xC0) == 0x80; }

size_t text_utf8_decode(const unsigned char *s, size_t len, uint32_t *cp) {
  unsigned char b0 = s[0];
  if (b0 < 0x80) {
    *cp = b0;
    return 1;
  }
  /* C0, C1 (overlong 2-byte) and F5..FF never start a sequence. */
  if (b0 < 0xC2 || b0 > 0xF4) return 0;
  if (b0 < 0xE0) {
    if (len < 2 || !is_cont(s[1])) return 0;
    *cp = ((uint32_t)(b0 & 0x1F) << 6) | (s[1] & 0x3F);
    return 2;
  }
  if (b0 < 0xF0) {
    if (len < 3 || !is_cont(s[1]) || !is_cont(s[2])) return 0;
    uint32_t c = ((uint32_t)(b0 & 0x0F) << 12) | ((uint32_t)(s[1] & 0x3F) << 6) |
                 (s[2] & 0x3F);
    if (c < 0x800 || (c >= 0xD800 && c <= 0xDFFF)) return 0; /* overlong, surrogate */
    *cp = c;
    return 3;
  }
  if (len < 4 || !is_cont(s[1]) || !is_cont(s[2]) || !is_cont(s[3])) return 0;
  uint32_t c = ((uint32_t)(b0 & 0x07) << 18) | ((uint32_t)(s[1] & 0x3F) << 12) |
               ((uint32_t)(s[2] & 0x3F) << 6) | (s[3] & 0x3F);
  if (c < 0x10000 || c > 0x10FFFF) return 0; /* overlong, beyond Unicode */
  *cp = c;
  return 4;
}

size_t text_utf8_encode(uint32_t cp, char *out) {
  unsigned char *o = (unsigned char *)out;
  if (cp < 0x80) {
    o[0] = (unsigned char)cp;
    return 1;
  }
  if (cp < 0x800) {
    o[0] = (unsigned char)(0xC0 | (cp >> 6));
    o[1] = (unsigned char)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    o[0] = (unsigned char)(0xE0 | (cp >> 12));
    o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    o[2] = (unsigned char)(0x80 | (cp & 0x3F));
    return 3;
  }
  o[0] = (unsigned char)(0xF0 | (cp >> 18));
  o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
  o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
  o[3] = (unsigned char)(0x80 | (cp & 0x3F));
  return 4;
}

int akidb_text_validate_utf8(const char *s, size_t len, size_t *bad_offset) {
  const unsigned char *p = (const unsigned char *)s;
  size_t i = 0;
  while (i < len) {
    /* ASCII fast path: eight bytes at a time while none has the top bit. */
    while (i + 8 <= len) {
      uint64_t w;
      __builtin_memcpy(&w, p + i, 8);
      if (w & 0x8080808080808080ull) break;
      i += 8;
    }
    if (i >= len) break;
    if (p[i] < 0x80) {
      i++;
      continue;
    }
    uint32_t cp;
    size_t n = text_utf8_decode(p + i, len - i, &cp);
    if (n == 0) {
      if (bad_offset) *bad_offset = i;
      return AKIDB_EINVAL;
    }
    i += n;
  }
  return AKIDB_OK;
}
