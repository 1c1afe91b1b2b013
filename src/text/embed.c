/*
 * embed.c — owns the built-in embedder: feature hashing of stemmed
 * unigrams, adjacent-term bigrams and character n-grams of words into a
 * signed `dim`-dimensional vector, sublinear TF weighting, L2
 * normalisation. Bit-identical on every platform: features are 64-bit
 * integer hashes; the float work is IEEE double arithmetic (+ - * / and
 * sqrt, all correctly rounded) in an order fixed by the feature table,
 * compiled with -ffp-contract=off (no fused multiply-add); ln(tf) is a
 * series evaluated here, not libm's log. docs/embeddings.md describes it.
 * Pure function (scratch memory per call): no locking, no durability.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text/embed.h"
#include "util/errf.h"

/* ------------------------------------------------------------ defaults -- */

const text_embed_params_t text_embed_defaults = {
    .w_unigram = 1.0,
    .w_bigram = 0.25,
    .w_char = 0.35,
    .ngram_min = 4,
    .ngram_max = 5,
    .char_min_len = 4,
    .char_of_term = false,
    .len_pivot = 0.0f,
    .term_weight = NULL,
    .term_weight_ctx = NULL,
};

/* Seeds that keep the feature kinds apart in hash space. */
#define SEED_UNIGRAM 0x75u /* 'u' */
#define SEED_BIGRAM 0x9e3779b97f4a7c15ull
#define SEED_CHAR 0x63u /* 'c' */

/* ------------------------------------------------------ deterministic ln -- */

/*
 * ln(n) for n >= 1 in double, by the same operations on every platform:
 * n = 2^e * m with m in [1, 2) (exact), ln m = 2 atanh(z), z = (m-1)/(m+1)
 * in [0, 1/3], by its series to z^31 (error below 1e-16), added in a
 * fixed order; then e * ln 2 + ln m.
 */
double text_ln_uint(uint32_t n) {
  if (n <= 1) return 0.0;
  int e = 31 - __builtin_clz(n);
  double m = (double)n / (double)(1u << e);
  double z = (m - 1.0) / (m + 1.0);
  double z2 = z * z, term = z, sum = 0.0;
  for (int k = 1; k <= 31; k += 2) {
    sum = sum + term / (double)k;
    term = term * z2;
  }
  return (double)e * 0.69314718055994530942 + 2.0 * sum;
}

/* ------------------------------------------------------- feature table -- */

/* A feature: its hash and how often it occurred, with its kind's weight. */
typedef struct {
  uint64_t hash;
  uint32_t count; /* 0: empty slot */
  float weight;   /* the kind's weight (same for every occurrence) */
} feature_t;

typedef struct {
  feature_t *slots;
  size_t cap, used; /* cap a power of two */
  feature_t inline_slots[256];
  bool oom;
} feature_table_t;

static void table_init(feature_table_t *t) {
  memset(t->inline_slots, 0, sizeof t->inline_slots);
  t->slots = t->inline_slots;
  t->cap = sizeof t->inline_slots / sizeof t->inline_slots[0];
  t->used = 0;
  t->oom = false;
}

static void table_free(feature_table_t *t) {
  if (t->slots != t->inline_slots) free(t->slots);
}

/* Slot of hash h (found or empty), by linear probing. */
static inline feature_t *table_find(feature_t *slots, size_t cap, uint64_t h) {
  size_t i = (size_t)h & (cap - 1);
  while (slots[i].count && slots[i].hash != h) i = (i + 1) & (cap - 1);
  return &slots[i];
}

/* Doubles the table, re-inserting in slot order (deterministic). */
static bool table_grow(feature_table_t *t) {
  size_t cap = t->cap * 2;
  feature_t *slots = calloc(cap, sizeof *slots);
  if (!slots) return false;
  for (size_t i = 0; i < t->cap; i++)
    if (t->slots[i].count) *table_find(slots, cap, t->slots[i].hash) = t->slots[i];
  table_free(t);
  t->slots = slots;
  t->cap = cap;
  return true;
}

/* Counts one occurrence of feature h of weight w. */
static inline void table_add(feature_table_t *t, uint64_t h, float w) {
  if (t->oom) return;
  feature_t *f = table_find(t->slots, t->cap, h);
  if (f->count) {
    f->count++;
    return;
  }
  if ((t->used + 1) * 2 > t->cap) {
    if (!table_grow(t)) {
      t->oom = true;
      return;
    }
    f = table_find(t->slots, t->cap, h);
  }
  f->hash = h;
  f->count = 1;
  f->weight = w;
  t->used++;
}

/* ------------------------------------------------------------ features -- */

typedef struct {
  const text_embed_params_t *p;
  feature_table_t table;
  uint64_t prev_term; /* unigram hash of the previous term; 0 = none */
  size_t tokens;      /* terms seen */
} embed_state_t;

/* Adds the character n-grams of "<" word ">" (bytes) as features. */
static void add_char_ngrams(embed_state_t *st, const char *word, size_t len) {
  const text_embed_params_t *p = st->p;
  if (len < p->char_min_len || p->w_char == 0.0f) return;
  char buf[AKIDB_TEXT_TOKEN_MAX + 2];
  buf[0] = '<';
  memcpy(buf + 1, word, len);
  buf[len + 1] = '>';
  size_t n_all = len + 2;
  for (uint32_t n = p->ngram_min; n <= p->ngram_max && n <= n_all; n++) {
    uint64_t seed = text_fnv1a(TEXT_FNV_BASIS, &(uint8_t){(uint8_t)(SEED_CHAR + n)}, 1);
    for (size_t i = 0; i + n <= n_all; i++)
      table_add(&st->table, text_mix64(text_fnv1a(seed, buf + i, n)), p->w_char);
  }
}

/* Tokeniser callback: the features of one token. */
static int embed_token(void *ctx, const char *tok, size_t len) {
  embed_state_t *st = ctx;
  const text_embed_params_t *p = st->p;
  char term[AKIDB_TEXT_TOKEN_MAX + 1];
  size_t tlen = len;
  memcpy(term, tok, len);
  if (!text_term(term, &tlen)) return 0; /* stop word: no features at all */
  uint64_t seed = text_fnv1a(TEXT_FNV_BASIS, &(uint8_t){SEED_UNIGRAM}, 1);
  uint64_t hu = text_mix64(text_fnv1a(seed, term, tlen));
  float wu = p->w_unigram;
  if (p->len_pivot > 0.0f && (float)tlen < p->len_pivot) wu = wu * (float)tlen / p->len_pivot;
  if (p->term_weight) wu = wu * p->term_weight(p->term_weight_ctx, term, tlen);
  table_add(&st->table, hu, wu);
  if (st->prev_term && p->w_bigram != 0.0f) {
    uint64_t hb = text_mix64(st->prev_term ^ ((hu << 17) | (hu >> 47)) ^ SEED_BIGRAM);
    table_add(&st->table, hb, p->w_bigram);
  }
  st->prev_term = hu;
  if (p->char_of_term) add_char_ngrams(st, term, tlen);
  else add_char_ngrams(st, tok, len);
  st->tokens++;
  return st->table.oom ? AKIDB_ENOMEM : 0;
}

/* Sums the weighted, signed features into acc[0..dim) in table order. */
static void accumulate(const feature_table_t *t, uint32_t dim, double *acc) {
  for (size_t i = 0; i < t->cap; i++) {
    const feature_t *f = &t->slots[i];
    if (!f->count) continue;
    double w = (double)f->weight * (1.0 + text_ln_uint(f->count));
    size_t d = (size_t)(f->hash % dim);
    if (f->hash >> 63) acc[d] = acc[d] - w;
    else acc[d] = acc[d] + w;
  }
}

int text_embed_with(const text_embed_params_t *p, const char *text, size_t len,
                    uint32_t dim, float *out, size_t *bad_offset, char *err,
                    size_t errlen) {
  if (dim < AKIDB_TEXT_EMBED_DIM_MIN || dim > AKIDB_TEXT_EMBED_DIM_MAX)
    return errf(err, errlen, AKIDB_EINVAL, "embedding dimension %u is outside %u..%u",
                dim, AKIDB_TEXT_EMBED_DIM_MIN, AKIDB_TEXT_EMBED_DIM_MAX);
  if (!out || (!text && len > 0))
    return errf(err, errlen, AKIDB_EINVAL, "no output vector or no text");
  embed_state_t st = {.p = p, .prev_term = 0, .tokens = 0};
  table_init(&st.table);
  size_t bad = 0;
  int rc = text_tokenize(text, len, embed_token, &st, &bad);
  double *acc = NULL;
  if (rc == AKIDB_EINVAL) {
    if (bad_offset) *bad_offset = bad;
    errf(err, errlen, rc, "text is not valid UTF-8 at byte %zu", bad);
    goto done;
  }
  if (rc) {
    errf(err, errlen, rc, "out of memory while embedding %zu bytes of text", len);
    goto done;
  }
  if (st.tokens == 0) {
    rc = errf(err, errlen, AKIDB_EVALUE, "text has no tokens (empty, only separators or only stop words)");
    goto done;
  }
  acc = calloc(dim, sizeof *acc);
  if (!acc) {
    rc = errf(err, errlen, AKIDB_ENOMEM, "out of memory while embedding");
    goto done;
  }
  accumulate(&st.table, dim, acc);
  double norm2 = 0.0;
  for (uint32_t i = 0; i < dim; i++) norm2 = norm2 + acc[i] * acc[i];
  if (!(norm2 > 0.0)) {
    rc = errf(err, errlen, AKIDB_EVALUE, "text has no tokens that survive hashing (its features cancel out)");
    goto done;
  }
  double norm = sqrt(norm2);
  for (uint32_t i = 0; i < dim; i++) out[i] = (float)(acc[i] / norm);
done:
  free(acc);
  table_free(&st.table);
  return rc;
}

int akidb_text_embed(const char *text, size_t len, uint32_t dim, float *out,
                     size_t *bad_offset, char *err, size_t errlen) {
  return text_embed_with(&text_embed_defaults, text, len, dim, out, bad_offset, err,
                         errlen);
}
