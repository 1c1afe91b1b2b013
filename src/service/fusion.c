/*
 * service/fusion.c — owns the arithmetic of hybrid search's fusion
 * (fusion.h): the two lists joined by point id, each joined hit scored by
 * reciprocal rank fusion or by a linear blend of min-max normalised
 * scores, then ordered. Pure functions (the sort's context is
 * thread-local): no locking, nothing durable.
 *
 * RRF (Cormack, Clarke and Büttcher, SIGIR 2009): score = Σ over the sides
 * that found the point of weight_side / (k + rank_side), ranks from 1.
 * LINEAR: each side's scores are min-max normalised over that side's list
 * (a distance d → (max − d) / (max − min), a BM25 score s → (s − min) /
 * (max − min); 1 when all are equal), then score = alpha × vector +
 * (1 − alpha) × text, a side that did not find the point adding 0.
 */
#include "service/fusion.h"

#include <stdlib.h>
#include <string.h>

#include "akidb/errors.h"

void fusion_spec_default(fusion_spec_t *f) {
  f->method = FUSION_RRF;
  f->rrf_k = FUSION_RRF_K_DEFAULT;
  f->weight_vector = 1;
  f->weight_text = 1;
  f->alpha = FUSION_ALPHA_DEFAULT;
}

void fusion_spec_builtin_default(fusion_spec_t *f) {
  f->weight_vector = FUSION_BUILTIN_WEIGHT_VECTOR;
  f->alpha = FUSION_BUILTIN_ALPHA;
}

double fusion_normalised(const fusion_list_t *l, size_t i) {
  double lo = l->scores[0], hi = l->scores[0];
  for (size_t j = 1; j < l->n; j++) {
    if (l->scores[j] < lo) lo = l->scores[j];
    if (l->scores[j] > hi) hi = l->scores[j];
  }
  if (hi <= lo) return 1;
  double s = l->scores[i];
  return l->lower_is_better ? (hi - s) / (hi - lo) : (s - lo) / (hi - lo);
}

/* An entry of either list, for the join by id. */
typedef struct {
  const char *id;
  size_t len;
  size_t at;
  bool text;
} entry_t;

static int id_cmp(const char *a, size_t al, const char *b, size_t bl) {
  int c = memcmp(a, b, al < bl ? al : bl);
  return c ? c : al < bl ? -1 : al > bl ? 1 : 0;
}

static int entry_cmp(const void *pa, const void *pb) {
  const entry_t *a = pa, *b = pb;
  int c = id_cmp(a->id, a->len, b->id, b->len);
  return c ? c : (int)a->text - (int)b->text; /* the vector side's entry first */
}

/* Joins the lists by id into out; returns the number of hits. */
static size_t join(const fusion_list_t *vec, const fusion_list_t *text, entry_t *e,
                   fusion_hit_t *out) {
  size_t n = 0, hits = 0;
  for (size_t i = 0; i < vec->n; i++) e[n++] = (entry_t){vec->ids[i], vec->id_lens[i], i, false};
  for (size_t i = 0; i < text->n; i++)
    e[n++] = (entry_t){text->ids[i], text->id_lens[i], i, true};
  qsort(e, n, sizeof *e, entry_cmp);
  for (size_t i = 0; i < n; i++) {
    fusion_hit_t h = {.vector_at = SIZE_MAX, .text_at = SIZE_MAX};
    if (e[i].text) {
      h.text_at = e[i].at;
    } else {
      h.vector_at = e[i].at;
      if (i + 1 < n && e[i + 1].text && id_cmp(e[i].id, e[i].len, e[i + 1].id, e[i + 1].len) == 0)
        h.text_at = e[++i].at;
    }
    h.vector_rank = h.vector_at == SIZE_MAX ? 0 : (uint32_t)(h.vector_at + 1);
    h.text_rank = h.text_at == SIZE_MAX ? 0 : (uint32_t)(h.text_at + 1);
    out[hits++] = h;
  }
  return hits;
}

static double rrf_score(const fusion_spec_t *f, const fusion_hit_t *h) {
  double s = 0;
  if (h->vector_rank) s += f->weight_vector / ((double)f->rrf_k + h->vector_rank);
  if (h->text_rank) s += f->weight_text / ((double)f->rrf_k + h->text_rank);
  return s;
}

static double linear_score(const fusion_spec_t *f, const fusion_list_t *vec,
                           const fusion_list_t *text, const fusion_hit_t *h) {
  double s = 0;
  if (h->vector_rank) s += f->alpha * fusion_normalised(vec, h->vector_at);
  if (h->text_rank) s += (1 - f->alpha) * fusion_normalised(text, h->text_at);
  return s;
}

/* The sort's context (qsort has none; qsort_r is a GNU extension): the
 * lists, for the ids of ties; per thread, set just before the sort. */
static _Thread_local const fusion_list_t *sort_vec, *sort_text;

static uint32_t best_rank(const fusion_hit_t *h) {
  uint32_t v = h->vector_rank ? h->vector_rank : UINT32_MAX;
  uint32_t t = h->text_rank ? h->text_rank : UINT32_MAX;
  return v < t ? v : t;
}

static void hit_id(const fusion_hit_t *h, const char **id, size_t *len) {
  const fusion_list_t *l = h->vector_rank ? sort_vec : sort_text;
  size_t at = h->vector_rank ? h->vector_at : h->text_at;
  *id = l->ids[at];
  *len = l->id_lens[at];
}

static int hit_cmp(const void *pa, const void *pb) {
  const fusion_hit_t *a = pa, *b = pb;
  if (a->score != b->score) return a->score > b->score ? -1 : 1;
  uint32_t ra = best_rank(a), rb = best_rank(b);
  if (ra != rb) return ra < rb ? -1 : 1;
  const char *ia, *ib;
  size_t la, lb;
  hit_id(a, &ia, &la);
  hit_id(b, &ib, &lb);
  return id_cmp(ia, la, ib, lb);
}

static void sort_hits(const fusion_list_t *vec, const fusion_list_t *text, fusion_hit_t *h,
                      size_t n) {
  sort_vec = vec;
  sort_text = text;
  qsort(h, n, sizeof *h, hit_cmp);
}

int fusion_run(const fusion_spec_t *f, const fusion_list_t *vec, const fusion_list_t *text,
               size_t k, fusion_hit_t *out, size_t *n) {
  *n = 0;
  size_t total = vec->n + text->n;
  if (total == 0) return AKIDB_OK;
  entry_t *e = malloc(total * sizeof *e);
  if (!e) return AKIDB_ENOMEM;
  size_t hits = join(vec, text, e, out);
  free(e);
  for (size_t i = 0; i < hits; i++)
    out[i].score = f->method == FUSION_RRF ? rrf_score(f, &out[i])
                                           : linear_score(f, vec, text, &out[i]);
  sort_hits(vec, text, out, hits);
  *n = hits < k ? hits : k;
  return AKIDB_OK;
}
