/*
 * tests/fuzz/fuzz_tokenize.c — libFuzzer harness for the text engine
 * (src/text/): arbitrary bytes go through UTF-8 validation, the tokeniser
 * (tokens and terms), the built-in embedder and a BM25 index (the input's
 * lines as documents, added, replaced, removed and searched with each
 * line as a query). Checked on every input: tokens are 1..64 bytes of
 * valid UTF-8; validation, tokenising and embedding agree on the offset of
 * invalid input; an embedding is finite, of unit length and the same bits
 * twice; hits are at most k, with finite positive scores in rank order.
 * Errors are expected outcomes; crashes, sanitizer reports or a broken
 * check (abort) are bugs.
 */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "akidb/text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Aborts unless each token is 1..AKIDB_TEXT_TOKEN_MAX bytes of UTF-8. */
static int check_token(void *ctx, const char *tok, size_t len) {
  size_t bad;
  if (len == 0 || len > AKIDB_TEXT_TOKEN_MAX || akidb_text_validate_utf8(tok, len, &bad))
    abort();
  ++*(size_t *)ctx;
  return 0;
}

/* Tokens and terms; returns whether the text is valid (offset in *bad). */
static bool tokenize_both(const char *s, size_t len, size_t *bad) {
  size_t v = (size_t)-1, t = (size_t)-2, u = (size_t)-3, ntok = 0, nterm = 0;
  int rv = akidb_text_validate_utf8(s, len, &v);
  int rt = akidb_text_tokenize(s, len, AKIDB_TEXT_TOKENS, check_token, &ntok, &t);
  int ru = akidb_text_tokenize(s, len, AKIDB_TEXT_TERMS, check_token, &nterm, &u);
  if (rv != rt || rv != ru) abort();
  if (rv) {
    if (v != t || v != u || v >= len || ntok || nterm) abort();
    *bad = v;
    return false;
  }
  if (nterm > ntok) abort();
  return true;
}

static void embed_checks(const char *s, size_t len, bool valid, size_t bad, uint32_t dim) {
  static float a[AKIDB_TEXT_EMBED_DIM_MAX], b[AKIDB_TEXT_EMBED_DIM_MAX];
  size_t off = (size_t)-1;
  int rc = akidb_text_embed(s, len, dim, a, &off, NULL, 0);
  if (!valid) {
    if (rc != AKIDB_EINVAL || off != bad) abort();
    return;
  }
  if (rc == AKIDB_EVALUE || rc == AKIDB_ENOMEM) return;
  if (rc != AKIDB_OK) abort();
  double n2 = 0;
  for (uint32_t i = 0; i < dim; i++) {
    if (!isfinite(a[i])) abort();
    n2 += (double)a[i] * a[i];
  }
  if (fabs(n2 - 1.0) > 1e-5) abort();
  if (akidb_text_embed(s, len, dim, b, NULL, NULL, 0) || memcmp(a, b, dim * sizeof *a)) abort();
}

/* The input's lines as documents of a BM25 index, then each as a query. */
static void bm25_checks(const char *s, size_t len, uint8_t ops) {
  akidb_text_bm25_t *ix;
  if (akidb_text_bm25_create(NULL, NULL, &ix, NULL, 0)) return;
  const char *lines[32];
  size_t lens[32], n = 0;
  for (size_t i = 0, start = 0; i <= len && n < 32; i++)
    if (i == len || s[i] == '\n') {
      lines[n] = s + start;
      lens[n++] = i - start;
      start = i + 1;
    }
  for (size_t i = 0; i < n; i++) {
    uint64_t label = (ops >> (i % 8)) & 1 ? i % 5 : i; /* some labels repeat */
    akidb_text_bm25_replace(ix, label, lines[i], lens[i], NULL);
    if ((ops >> ((i + 3) % 8)) & 1) akidb_text_bm25_remove(ix, (i * 7) % 11);
  }
  akidb_text_hit_t hits[8];
  for (size_t i = 0; i < n; i++) {
    uint32_t k = 1 + (uint32_t)(i % 8), got = 99;
    if (akidb_text_bm25_search(ix, lines[i], lens[i], k, NULL, NULL, hits, &got, NULL)) continue;
    if (got > k) abort();
    for (uint32_t h = 0; h < got; h++) {
      if (!(hits[h].score > 0) || !isfinite(hits[h].score)) abort();
      if (!akidb_text_bm25_contains(ix, hits[h].label)) abort();
      if (h && (hits[h - 1].score < hits[h].score ||
                (hits[h - 1].score == hits[h].score && hits[h - 1].label >= hits[h].label)))
        abort();
    }
  }
  akidb_text_bm25_stats_t st;
  akidb_text_bm25_stats(ix, &st);
  if (st.documents > n || (st.documents == 0 && st.postings)) abort();
  akidb_text_bm25_free(ix);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0) return 0;
  uint8_t ctl = data[0];
  const char *s = (const char *)data + 1;
  size_t len = size - 1, bad = 0;
  bool valid = tokenize_both(s, len, &bad);
  embed_checks(s, len, valid, bad, 32u + (uint32_t)(ctl % 8) * 64u);
  bm25_checks(s, len, ctl);
  return 0;
}
