/*
 * service/fusion.h — hybrid search's fusion of two ranked lists (the
 * vector side, nearest first, and the text side, best BM25 score first)
 * into one: reciprocal rank fusion with per-side weights, or a linear blend
 * of min-max normalised scores. Pure arithmetic on the lists' ids, ranks
 * and scores; the service moves the hits.
 */
#ifndef AKIDB_SERVICE_FUSION_H
#define AKIDB_SERVICE_FUSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
  FUSION_RRF,    /* Σ weight_side / (k + rank_side) over the sides that found the point */
  FUSION_LINEAR, /* alpha × vector_norm + (1 − alpha) × text_norm (absent side: 0) */
} fusion_method_t;

#define FUSION_RRF_K_DEFAULT 60u
#define FUSION_RRF_K_MIN 1u
#define FUSION_RRF_K_MAX 100000u
#define FUSION_WEIGHT_MAX 1000.0 /* weights are 0..FUSION_WEIGHT_MAX, not both 0 */
#define FUSION_ALPHA_DEFAULT 0.5
/* When the built-in embedder made the vector side: a keyword-like signal
 * that mostly repeats BM25 and is weaker alone, so by default it gets a
 * tenth of the fused score (RRF weights 0.1 : 1, linear alpha 0.1);
 * measured on Cranfield in docs/embeddings.md. */
#define FUSION_BUILTIN_WEIGHT_VECTOR 0.1
#define FUSION_BUILTIN_ALPHA 0.1

typedef struct {
  fusion_method_t method;
  uint32_t rrf_k;                 /* RRF: FUSION_RRF_K_MIN..MAX */
  double weight_vector, weight_text; /* RRF */
  double alpha;                   /* LINEAR: 0..1, the vector side's share */
} fusion_spec_t;

/* RRF, k 60, weights 1 and 1; alpha 0.5. */
void fusion_spec_default(fusion_spec_t *f);
/* The defaults that differ when the built-in embedder made the vector side
 * (FUSION_BUILTIN_*), over fusion_spec_default. */
void fusion_spec_builtin_default(fusion_spec_t *f);

/* One side's list, best first: ids[i] (id_lens[i] bytes) with its score
 * (vector: a distance, lower is better; text: a BM25 score, higher is
 * better). Ids are unique within a list. */
typedef struct {
  const char *const *ids;
  const size_t *id_lens;
  const float *scores;
  size_t n;
  bool lower_is_better;
} fusion_list_t;

/* A fused hit: where it is in each list (SIZE_MAX: absent), its 1-based
 * rank there (0: absent) and its fused score (higher is better). */
typedef struct {
  size_t vector_at, text_at;
  uint32_t vector_rank, text_rank;
  double score;
} fusion_hit_t;

/* The score of a list's entry normalised to 0..1 over the list (best 1,
 * worst 0; every entry 1 when all scores are equal). */
double fusion_normalised(const fusion_list_t *l, size_t i);

/*
 * Fuses the two lists into out[0..*n) (room for vec->n + text->n hits),
 * best first: by fused score, then by the better of the two ranks, then by
 * id bytes; at most `k` hits. 0, or AKIDB_ENOMEM.
 */
int fusion_run(const fusion_spec_t *f, const fusion_list_t *vec, const fusion_list_t *text,
               size_t k, fusion_hit_t *out, size_t *n);

#endif /* AKIDB_SERVICE_FUSION_H */
