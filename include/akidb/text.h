/*
 * akidb/text.h — the text engine: a tokeniser of UTF-8 text, the built-in
 * embedder (feature hashing, no model files, no network) and an in-memory
 * BM25 inverted index. docs/embeddings.md states the exact pipeline.
 *
 * Text is UTF-8 of a given length (it need not be NUL-terminated and may
 * hold NUL bytes, which separate tokens like any control character). Every
 * call that reads text validates it strictly first and refuses invalid
 * UTF-8 with AKIDB_EINVAL, storing the offset of the first bad byte in
 * *bad_offset (when not NULL) so a caller can say "text is not valid UTF-8
 * at byte N". Nothing is changed when a call fails.
 *
 * Thread safety: the tokeniser and the embedder are pure functions (any
 * number of threads). A BM25 index is not locked inside: the caller holds
 * a rwlock around it — any number of concurrent akidb_text_bm25_search and
 * _stats calls (shared), add / replace / remove / free exclusive.
 */
#ifndef AKIDB_TEXT_H
#define AKIDB_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "akidb/errors.h"
#include "akidb/index.h" /* akidb_memacct_t */

#ifdef __cplusplus
extern "C" {
#endif

/* Longest token in bytes (after folding); longer runs are truncated. */
#define AKIDB_TEXT_TOKEN_MAX 64u

/* --------------------------------------------------------- tokeniser -- */

/*
 * Checks that s[0..len) is valid UTF-8 (no overlong forms, no surrogates,
 * nothing above U+10FFFF, no truncated sequence). Returns AKIDB_OK, or
 * AKIDB_EINVAL with *bad_offset set to the offset of the first byte of the
 * first invalid sequence. s may be NULL when len is 0.
 */
int akidb_text_validate_utf8(const char *s, size_t len, size_t *bad_offset);

/* What akidb_text_tokenize hands to its callback. */
typedef enum {
  AKIDB_TEXT_TOKENS = 0, /* folded tokens, stop words kept, not stemmed */
  AKIDB_TEXT_TERMS = 1   /* index terms: stop words dropped, Porter stems */
} akidb_text_mode_t;

/*
 * Calls fn(ctx, tok, len) for each token of s in order. `tok` is valid only
 * during the call, is not NUL-terminated and is 1..AKIDB_TEXT_TOKEN_MAX
 * bytes of valid UTF-8. A non-zero return from fn stops the walk and is
 * returned. Errors: AKIDB_EINVAL (invalid UTF-8, *bad_offset set; fn was
 * not called), AKIDB_EINVAL when fn is NULL.
 */
int akidb_text_tokenize(const char *s, size_t len, akidb_text_mode_t mode,
                        int (*fn)(void *ctx, const char *tok, size_t len),
                        void *ctx, size_t *bad_offset);

/* ---------------------------------------------------- built-in embedder -- */

/* The model name a collection records; changes whenever any output would. */
#define AKIDB_TEXT_EMBED_MODEL "akidb-builtin-v1"
#define AKIDB_TEXT_EMBED_DIM_DEFAULT 1024u /* Cranfield nDCG@10: 0.306 at 384, 0.323 at 1024 */
#define AKIDB_TEXT_EMBED_DIM_MIN 32u
#define AKIDB_TEXT_EMBED_DIM_MAX 4096u

/*
 * Embeds text into out[0..dim): a unit-length (L2) float vector, the same
 * bits on every platform for the same text and dim. Errors: AKIDB_EINVAL
 * (dim outside AKIDB_TEXT_EMBED_DIM_MIN..MAX, out NULL, or invalid UTF-8
 * with *bad_offset set), AKIDB_EVALUE ("text has no tokens": empty, only
 * separators or only stop words — a zero vector has no direction and
 * cosine collections refuse it), AKIDB_ENOMEM. `err` (may be NULL) gets
 * one sentence. out is left unchanged on error.
 */
int akidb_text_embed(const char *text, size_t len, uint32_t dim, float *out,
                     size_t *bad_offset, char *err, size_t errlen);

/* ----------------------------------------------------------- BM25 index -- */

/* BM25 parameters: DEFAULT / MIN / MAX, validated at create. */
#define AKIDB_TEXT_BM25_K1_DEFAULT 1.2
#define AKIDB_TEXT_BM25_K1_MIN 0.0
#define AKIDB_TEXT_BM25_K1_MAX 10.0
#define AKIDB_TEXT_BM25_B_DEFAULT 0.75
#define AKIDB_TEXT_BM25_B_MIN 0.0
#define AKIDB_TEXT_BM25_B_MAX 1.0

typedef struct {
  double k1; /* term frequency saturation, 0..10 */
  double b;  /* length normalisation, 0..1 */
} akidb_text_bm25_params_t;

typedef struct akidb_text_bm25 akidb_text_bm25_t;

/* A result: the document's label and its BM25 score (larger is better). */
typedef struct {
  uint64_t label;
  double score;
} akidb_text_hit_t;

typedef struct {
  uint64_t documents;      /* live documents (N) */
  uint64_t terms;          /* distinct terms with df > 0 */
  uint64_t postings;       /* live postings (sum of df) */
  uint64_t dead_postings;  /* postings of removed documents not yet purged */
  double avg_length;       /* mean live document length in terms; 0 if N = 0 */
  uint64_t memory_bytes;   /* every byte the index holds, counted */
} akidb_text_bm25_stats_t;

/* Fills p with k1 = 1.2, b = 0.75. */
void akidb_text_bm25_params_default(akidb_text_bm25_params_t *p);

/*
 * Creates an empty index. p NULL means the defaults. `parent` (may be NULL)
 * is charged every byte the index allocates, from now until free; it must
 * outlive the index. Errors: AKIDB_EINVAL (k1 or b out of range or not
 * finite; `err` names it), AKIDB_ENOMEM.
 */
int akidb_text_bm25_create(const akidb_text_bm25_params_t *p,
                           akidb_memacct_t *parent, akidb_text_bm25_t **out,
                           char *err, size_t errlen);

/* Frees the index and all it holds (crediting `parent`). NULL accepted. */
void akidb_text_bm25_free(akidb_text_bm25_t *ix);

/*
 * Indexes the text of a new document. A text with no terms is a document
 * of length 0 (it counts in N). Errors: AKIDB_EEXIST (label present; use
 * replace), AKIDB_EINVAL (invalid UTF-8, *bad_offset set), AKIDB_ELIMIT
 * (2^32-2 documents, or a document of 2^32-1 terms), AKIDB_ENOMEM. On any
 * error the documents, N, df and scores are unchanged (after AKIDB_ENOMEM
 * the dictionary may keep new terms with df 0, which score nothing).
 */
int akidb_text_bm25_add(akidb_text_bm25_t *ix, uint64_t label,
                        const char *text, size_t len, size_t *bad_offset);

/* add, or replace the text of an existing label (N unchanged then). */
int akidb_text_bm25_replace(akidb_text_bm25_t *ix, uint64_t label,
                            const char *text, size_t len, size_t *bad_offset);

/*
 * Removes a document: N, df and the average length are exact at once; its
 * postings are skipped by searches and purged when dead postings exceed
 * live ones. Errors: AKIDB_ENOTFOUND.
 */
int akidb_text_bm25_remove(akidb_text_bm25_t *ix, uint64_t label);

/* Whether a document has this label. */
bool akidb_text_bm25_contains(const akidb_text_bm25_t *ix, uint64_t label);

/*
 * The k best documents for the query into out[0..*n_out) (*n_out <= k; it
 * is the number of documents sharing a term with the query and kept by the
 * filter, when fewer). Score: sum over the query's terms (a term repeated
 * in the query counts each time) of
 *   idf(t) * tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl / avgdl)),
 *   idf(t) = ln(1 + (N - df + 0.5) / (df + 0.5)),
 * in double. Order: score descending, then label ascending. `keep` (may be
 * NULL) is called with ctx and a label for candidate documents only, from
 * the calling thread; false excludes the document. Errors: AKIDB_EINVAL
 * (k 0 or > AKIDB_K_MAX, out NULL, invalid UTF-8 with *bad_offset set),
 * AKIDB_ENOMEM. A query with no terms returns *n_out = 0.
 */
int akidb_text_bm25_search(const akidb_text_bm25_t *ix, const char *query,
                           size_t len, uint32_t k,
                           bool (*keep)(void *ctx, uint64_t label), void *ctx,
                           akidb_text_hit_t *out, uint32_t *n_out,
                           size_t *bad_offset);

/* Counts and the memory the index holds. Never fails. */
void akidb_text_bm25_stats(const akidb_text_bm25_t *ix,
                           akidb_text_bm25_stats_t *out);

/* The parameters the index was created with. */
void akidb_text_bm25_get_params(const akidb_text_bm25_t *ix,
                                akidb_text_bm25_params_t *out);

#ifdef __cplusplus
}
#endif

#endif /* AKIDB_TEXT_H */
