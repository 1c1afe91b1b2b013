/*
 * text/text.h — internals of the text engine (src/text/): UTF-8 decoding,
 * code point classes and folding, the tokeniser pipeline, the Porter
 * stemmer, the stop-word list and the feature hash. The public API is
 * include/akidb/text.h; docs/embeddings.md states every rule below in prose
 * (bench/text_bm25_ref.py reimplements them from there).
 */
#ifndef AKIDB_TEXT_TEXT_H
#define AKIDB_TEXT_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "akidb/text.h"

/* ------------------------------------------------------------- UTF-8 -- */

/*
 * Decodes one code point at s[0..len) (len >= 1) into *cp and returns its
 * length in bytes, or 0 when the sequence there is not valid UTF-8
 * (overlong, surrogate, above U+10FFFF, bad or missing continuation byte).
 */
size_t text_utf8_decode(const unsigned char *s, size_t len, uint32_t *cp);

/* Encodes cp (a valid scalar value) into out[0..4); returns its length. */
size_t text_utf8_encode(uint32_t cp, char *out);

/* -------------------------------------------------- code point classes -- */

typedef enum {
  TEXT_SEP = 0,   /* separates tokens: spaces, punctuation, symbols, emoji */
  TEXT_WORD = 1,  /* letter or digit of an alphabetic script: joins a run */
  TEXT_IDEO = 2,  /* CJK ideograph or kana: a token of its own */
  TEXT_MARK = 3,  /* script mark (Indic vowel sign, Hebrew point…): kept */
  TEXT_STRIP = 4, /* generic combining diacritic (U+0300..036F…): dropped */
} text_class_t;

/* Whether the range table is sorted and disjoint (checked by the tests). */
bool text_classify_table_ok(void);

/* The class of a code point (hand-written ranges, see unicode.c). */
text_class_t text_classify(uint32_t cp);

/*
 * Appends the folded form of cp (lower case, Latin diacritics stripped,
 * fullwidth ASCII made ASCII) to out as UTF-8; returns the bytes written
 * (1..6). out must have room for 6 bytes.
 */
size_t text_fold(uint32_t cp, char *out);

/* ---------------------------------------------------------- tokeniser -- */

/* Called once per token; a non-zero return stops the walk with that code. */
typedef int (*text_token_fn)(void *ctx, const char *tok, size_t len);

/*
 * Splits valid UTF-8 into folded tokens (no stop words, no stemming),
 * each at most AKIDB_TEXT_TOKEN_MAX bytes. Errors: AKIDB_EINVAL with
 * *bad_offset = the first invalid byte, or the callback's code.
 */
int text_tokenize(const char *s, size_t len, text_token_fn fn, void *ctx,
                  size_t *bad_offset);

/*
 * Turns a folded token into a term in place: NULL (the token is dropped)
 * for a stop word, else the Porter stem for tokens of ASCII letters only,
 * the token unchanged otherwise. *len is updated; buf needs len+1 bytes.
 */
bool text_term(char *buf, size_t *len);

/* ----------------------------------------------- stemmer, stop words -- */

/*
 * Porter (1980) stem of w[0..len) (ASCII a..z only), in place; returns the
 * new length. Words of 1 or 2 letters are returned unchanged.
 */
size_t text_porter_stem(char *w, size_t len);

/* Whether tok[0..len) is one of the stop words (docs/embeddings.md). */
bool text_is_stopword(const char *tok, size_t len);

/* The stop words in sorted order (for tests and docs): count, i-th. */
size_t text_stopword_count(void);
const char *text_stopword_at(size_t i);

/* ------------------------------------------------------------- hashing -- */

/* 64-bit FNV-1a of s[0..len) continuing from h (start: TEXT_FNV_BASIS). */
#define TEXT_FNV_BASIS 0xcbf29ce484222325ull
#define TEXT_FNV_PRIME 0x100000001b3ull
static inline uint64_t text_fnv1a(uint64_t h, const void *s, size_t len) {
  const unsigned char *p = s;
  for (size_t i = 0; i < len; i++) h = (h ^ p[i]) * TEXT_FNV_PRIME;
  return h;
}

/* Final avalanche so that every output bit depends on every input bit. */
static inline uint64_t text_mix64(uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 33;
  return h;
}

#endif /* AKIDB_TEXT_TEXT_H */
