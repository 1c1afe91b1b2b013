/*
 * text/embed.h — the built-in embedder's tunables (internal): the public
 * akidb_text_embed uses text_embed_defaults; bench/text_offline.c sweeps
 * others through text_embed_with to choose those defaults.
 */
#ifndef AKIDB_TEXT_EMBED_H
#define AKIDB_TEXT_EMBED_H

#include "text/text.h"

typedef struct {
  float w_unigram;       /* weight of a stemmed unigram */
  float w_bigram;        /* weight of a pair of adjacent terms */
  float w_char;          /* weight of one character n-gram */
  uint32_t ngram_min;    /* character n-gram sizes, in bytes of "<word>" */
  uint32_t ngram_max;
  uint32_t char_min_len; /* words shorter than this give no n-grams */
  bool char_of_term;     /* n-grams of the stem (true) or the folded token */
  float len_pivot;       /* unigram weight *= min(1, stem bytes / pivot); 0 off */
  /* experiments only (bench): a per-term weight multiplier, NULL = 1 */
  float (*term_weight)(void *ctx, const char *term, size_t len);
  void *term_weight_ctx;
} text_embed_params_t;

extern const text_embed_params_t text_embed_defaults;

/* akidb_text_embed with explicit tunables (same errors). */
int text_embed_with(const text_embed_params_t *p, const char *text, size_t len,
                    uint32_t dim, float *out, size_t *bad_offset, char *err,
                    size_t errlen);

/* ln(n) computed identically on every platform (n >= 1). */
double text_ln_uint(uint32_t n);

#endif /* AKIDB_TEXT_EMBED_H */
