/*
 * tokenize.c — owns the tokeniser pipeline shared by BM25 and the built-in
 * embedder: strict UTF-8 validation, then one pass over the code points
 * that joins word characters into tokens (folded to lower case, Latin
 * diacritics stripped), makes each CJK ideograph or kana a token of its
 * own, keeps script marks inside the token they follow, and truncates
 * tokens at AKIDB_TEXT_TOKEN_MAX bytes; then, for terms, drops stop words
 * and applies the Porter stemmer to tokens made of ASCII letters only.
 * Pure functions: no locking, no durability.
 */
#include <string.h>

#include "text/text.h"

typedef enum { TOK_NONE, TOK_WORD, TOK_IDEO } tok_kind_t;

typedef struct {
  char buf[AKIDB_TEXT_TOKEN_MAX + 8];
  size_t len;
  tok_kind_t kind;
  bool full; /* a code point did not fit: ignore the rest of this token */
  text_token_fn fn;
  void *ctx;
} tok_state_t;

/* Hands the current token (if any) to the callback and starts afresh. */
static inline int flush(tok_state_t *t) {
  int rc = 0;
  if (t->len > 0) rc = t->fn(t->ctx, t->buf, t->len);
  t->len = 0;
  t->kind = TOK_NONE;
  t->full = false;
  return rc;
}

/* Appends n bytes unless the token would pass the cap (then it is full). */
static inline void append(tok_state_t *t, const char *b, size_t n) {
  if (t->full) return;
  if (t->len + n > AKIDB_TEXT_TOKEN_MAX) {
    t->full = true;
    return;
  }
  memcpy(t->buf + t->len, b, n);
  t->len += n;
}

/* Feeds one code point of class cls (raw UTF-8 bytes raw[0..rawlen)). */
static inline int feed(tok_state_t *t, uint32_t cp, text_class_t cls,
                       const unsigned char *raw, size_t rawlen) {
  char folded[8];
  int rc = 0;
  switch (cls) {
  case TEXT_WORD:
    if (t->kind == TOK_IDEO) rc = flush(t);
    t->kind = TOK_WORD;
    append(t, folded, text_fold(cp, folded));
    break;
  case TEXT_IDEO:
    rc = flush(t);
    t->kind = TOK_IDEO;
    append(t, (const char *)raw, rawlen);
    break;
  case TEXT_MARK:
    if (t->kind != TOK_NONE) append(t, (const char *)raw, rawlen);
    break;
  case TEXT_STRIP:
    break;
  case TEXT_SEP:
    rc = flush(t);
    break;
  }
  return rc;
}

int text_tokenize(const char *s, size_t len, text_token_fn fn, void *ctx,
                  size_t *bad_offset) {
  int rc = akidb_text_validate_utf8(s, len, bad_offset);
  if (rc) return rc;
  tok_state_t t = {.len = 0, .kind = TOK_NONE, .full = false, .fn = fn, .ctx = ctx};
  const unsigned char *p = (const unsigned char *)s;
  size_t i = 0;
  while (i < len) {
    unsigned char b = p[i];
    if (b < 0x80) { /* ASCII: classify and fold inline */
      char c = (char)b;
      bool alpha = (b | 0x20) >= 'a' && (b | 0x20) <= 'z';
      if (alpha || (b >= '0' && b <= '9')) {
        if (t.kind == TOK_IDEO && (rc = flush(&t))) return rc;
        t.kind = TOK_WORD;
        if (b >= 'A' && b <= 'Z') c = (char)(b + 32);
        append(&t, &c, 1);
      } else if ((rc = flush(&t))) {
        return rc;
      }
      i++;
      continue;
    }
    uint32_t cp;
    size_t n = text_utf8_decode(p + i, len - i, &cp); /* valid: checked above */
    if ((rc = feed(&t, cp, text_classify(cp), p + i, n))) return rc;
    i += n;
  }
  return flush(&t);
}

bool text_term(char *buf, size_t *len) {
  if (text_is_stopword(buf, *len)) return false;
  for (size_t i = 0; i < *len; i++)
    if (buf[i] < 'a' || buf[i] > 'z') return true; /* not ASCII letters: as is */
  *len = text_porter_stem(buf, *len);
  return true;
}

/* ------------------------------------------------------- public entry -- */

typedef struct {
  int (*fn)(void *ctx, const char *tok, size_t len);
  void *ctx;
} term_relay_t;

/* Relays a token to the user's callback as a term (or not at all). */
static int relay_term(void *ctx, const char *tok, size_t len) {
  term_relay_t *r = ctx;
  char buf[AKIDB_TEXT_TOKEN_MAX + 1];
  memcpy(buf, tok, len);
  if (!text_term(buf, &len)) return 0;
  return r->fn(r->ctx, buf, len);
}

int akidb_text_tokenize(const char *s, size_t len, akidb_text_mode_t mode,
                        int (*fn)(void *ctx, const char *tok, size_t len),
                        void *ctx, size_t *bad_offset) {
  if (!fn || (!s && len > 0)) return AKIDB_EINVAL;
  if (mode == AKIDB_TEXT_TOKENS) return text_tokenize(s, len, fn, ctx, bad_offset);
  if (mode != AKIDB_TEXT_TERMS) return AKIDB_EINVAL;
  term_relay_t r = {fn, ctx};
  return text_tokenize(s, len, relay_term, &r, bad_offset);
}
