/*
 * search.c — a collection's searches and full scans. A search holds the
 * collection's lock for reading from start to copy-out, so the records it
 * reads cannot change under it. It scans the append buffer exactly first,
 * then searches the graph (approximately, or exactly for small collections,
 * on request, or when the engine finds a filter selective), and merges the
 * two: a point moving from buffer to graph meanwhile may show up on both
 * sides (kept once) but never on neither, because an indexer marks it
 * INDEXED only after its graph insert finished. Every hit is checked
 * against the live records, so a deleted or replaced point never appears.
 * A text search (BM25, text.c's index) holds the lock and then text_lock
 * for reading, and keeps only labels that are live records.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "index/heap.h"
#include "store/store_internal.h"

#define SAY(...) (err ? snprintf(err, errlen, __VA_ARGS__) : 0)

typedef struct {
  akidb_collection_t *c;
  const akidb_point_filter_t *f;
} allow_ctx_t;

/* Whether a live record passes the caller's payload filter. */
static bool record_allowed(const allow_ctx_t *a, const point_rec_t *r) {
  if (!a->f) return true;
  return a->f->allow(a->f->ctx, rec_id(r), r->id_len, rec_payload(r), r->payload_len) != 0;
}

static bool graph_allow(uint64_t label, void *ctx) {
  const allow_ctx_t *a = ctx;
  const point_rec_t *r = records_get(&a->c->rt, label);
  return r && record_allowed(a, r);
}

/*
 * The buffer scan. Vectors are compared four at a time (metric_dist4), and
 * a point whose four-at-once distance shows it cannot enter the k kept is
 * dropped; any other gets its distance from the one-at-a-time kernel, so
 * results and distances are exactly those of a one-at-a-time scan (the
 * kernels sum in different orders, so their last bits differ).
 *
 * How far apart the two kernels can be: each sum of `dim` terms is within
 * dim * 2^-24 * (sum of |terms|) of the exact one (plus the tree's and
 * FMA's roundings: we allow 2 * dim + 64 units). Under l2 and cosine the
 * terms are squares, so that sum is the distance itself; under dot it is
 * at most |q| * |v| (Cauchy-Schwarz), with |v| bounded by the chunk's
 * largest norm.
 */
typedef struct {
  const allow_ctx_t *a;
  const float *q;
  uint32_t k, *n;
  akidb_hit_t *top;
  float q_norm;
  float rel; /* the relative error allowed: (2 * dim + 64) * 2^-24 */
  const float *v[4];
  uint64_t label[4];
  uint32_t held;
} scan_t;

/* Whether a four-at-once distance d4 proves the exact one is beyond the worst kept. */
static bool cannot_enter(const scan_t *s, float d4, float max_norm) {
  if (*s->n < s->k) return false;
  float scale = s->a->c->opt.index.metric == AKIDB_METRIC_DOT ? s->q_norm * max_norm
                                                               : fabsf(d4);
  return d4 - 2.0f * s->rel * scale > s->top[0].distance;
}

/* Offers the held points (up to four) of one chunk. */
static void offer_held(scan_t *s, float max_norm) {
  const akidb_collection_t *c = s->a->c;
  float d4[4];
  bool four = s->held == 4;
  if (four) metric_dist4(&c->metric, s->q, s->v, c->dim, d4);
  for (uint32_t i = 0; i < s->held; i++) {
    if (four && cannot_enter(s, d4[i], max_norm)) continue;
    float d = metric_dist(&c->metric, s->q, s->v[i], c->dim);
    hits_offer(s->top, s->n, s->k, d, s->label[i]);
  }
  s->held = 0;
}

/* Scans one chunk's pending points (positions lo .. hi-1). */
static void scan_chunk(scan_t *s, uint64_t lo, uint64_t hi) {
  akidb_collection_t *c = s->a->c;
  const buf_chunk_t *ch = abuf_chunk(&c->buf, lo);
  for (uint64_t pos = lo; pos < hi; pos++) {
    uint8_t st = atomic_load_explicit(abuf_state(&c->buf, pos), memory_order_acquire);
    if (st != ITEM_PENDING && st != ITEM_INDEXING) continue;
    uint64_t label = abuf_label(&c->buf, pos);
    const point_rec_t *r = records_get(&c->rt, label);
    if (!r || !record_allowed(s->a, r)) continue;
    s->v[s->held] = abuf_vec(&c->buf, pos);
    s->label[s->held++] = label;
    if (s->held == 4) offer_held(s, ch->max_norm);
  }
  if (s->held) offer_held(s, ch->max_norm);
}

/* Exact top-k over buffered points not yet in the graph. */
static void scan_buffer(const allow_ctx_t *a, const float *q, uint32_t k, akidb_hit_t *top,
                        uint32_t *n) {
  akidb_collection_t *c = a->c;
  double qq = 0;
  for (uint32_t d = 0; d < c->dim; d++) qq += (double)q[d] * q[d];
  scan_t s = {.a = a, .q = q, .k = k, .n = n, .top = top, .q_norm = (float)sqrt(qq),
              .rel = (float)(2.0 * c->dim + 64.0) / 16777216.0f};
  for (uint64_t lo = c->buf.head; lo < c->buf.tail; lo = lo - lo % BUF_CHUNK + BUF_CHUNK) {
    uint64_t end = lo - lo % BUF_CHUNK + BUF_CHUNK;
    scan_chunk(&s, lo, end < c->buf.tail ? end : c->buf.tail);
  }
}

static int check_search(const akidb_collection_t *c, const float *query, uint32_t dim,
                        const akidb_search_options_t *o, char *err, size_t errlen) {
  if (dim != c->dim) {
    SAY("query has %u dimensions; the collection has %u", dim, c->dim);
    return AKIDB_EDIM;
  }
  if (!query || o->k == 0 || o->k > AKIDB_K_MAX) {
    SAY("k is %u; it must be between 1 and %u", o->k, AKIDB_K_MAX);
    return AKIDB_EINVAL;
  }
  if (o->ef > AKIDB_HNSW_EF_SEARCH_MAX) {
    SAY("ef is %u; it must be between 1 and %u (0: the collection's default)", o->ef,
        AKIDB_HNSW_EF_SEARCH_MAX);
    return AKIDB_EINVAL;
  }
  if (o->filter && !o->filter->allow) {
    SAY("the filter has no predicate");
    return AKIDB_EINVAL;
  }
  return AKIDB_OK;
}

/* Merges buffer and graph hits: sorted, one per label, live only, at most k. */
static uint32_t merge_hits(akidb_collection_t *c, akidb_hit_t *all, uint32_t n, uint32_t k) {
  hits_sort(all, n);
  uint32_t out = 0;
  for (uint32_t i = 0; i < n && out < k; i++) {
    bool dup = false;
    for (uint32_t j = 0; j < out && !dup; j++) dup = all[j].label == all[i].label;
    if (dup || !records_get(&c->rt, all[i].label)) continue;
    all[out++] = all[i];
  }
  return out;
}

/* Copies the hits out (ids, and payloads/vectors as asked). */
static int fill_hits(akidb_collection_t *c, const akidb_search_options_t *o,
                     const akidb_hit_t *hits, uint32_t n, akidb_search_result_t *out) {
  out->hits = calloc(n ? n : 1, sizeof *out->hits);
  if (!out->hits) return AKIDB_ENOMEM;
  for (uint32_t i = 0; i < n; i++) {
    const point_rec_t *r = records_get(&c->rt, hits[i].label);
    int rc = store_fill_point(c, r, o->include_payload, o->include_vector, &out->hits[i]);
    if (rc) {
      out->n = i;
      akidb_search_result_free(out);
      return rc;
    }
    out->hits[i].distance = hits[i].distance;
    out->n = i + 1;
  }
  return AKIDB_OK;
}

/* The search proper; caller holds the lock for reading. */
static int search_locked(akidb_collection_t *c, const float *query, const float *prepared,
                         const akidb_search_options_t *o, akidb_search_result_t *out) {
  uint32_t k = o->k;
  akidb_hit_t *all = malloc(2 * (size_t)k * sizeof *all);
  if (!all) return AKIDB_ENOMEM;
  allow_ctx_t a = {.c = c, .f = o->filter};
  uint32_t nb = 0, ng = 0;
  scan_buffer(&a, prepared, k, all, &nb);
  akidb_filter_t f = {.allow = graph_allow, .ctx = &a};
  const akidb_filter_t *gf = o->filter ? &f : NULL;
  int rc;
  akidb_hnsw_plan_t hp = {true, 0, -1.0};
  if (o->exact || c->rt.live < c->opt.exact_below)
    rc = akidb_hnsw_search_exact(c->graph, query, k, gf, all + nb, &ng);
  else
    rc = akidb_hnsw_search_planned(c->graph, query, k, o->ef, gf, all + nb, &ng, &hp);
  if (rc == AKIDB_OK) rc = fill_hits(c, o, all, merge_hits(c, all, nb + ng, k), out);
  out->plan = (akidb_search_plan_t){hp.exact, hp.exact ? 0 : hp.ef, hp.filter_fraction,
                                    c->buf.tail - c->buf.head};
  free(all);
  return rc;
}

int akidb_collection_search(akidb_collection_t *c, const float *query, uint32_t dim,
                            const akidb_search_options_t *o, akidb_search_result_t *out,
                            char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  int rc = check_search(c, query, dim, o, err, errlen);
  if (rc) return rc;
  float *prepared = aligned_alloc(64, ((size_t)c->buf.stride * sizeof(float) + 63) & ~(size_t)63);
  if (!prepared) return AKIDB_ENOMEM;
  memset(prepared, 0, (size_t)c->buf.stride * sizeof(float));
  if (metric_prepare(c->opt.index.metric, query, prepared, dim)) {
    free(prepared);
    SAY("query vector holds NaN or Inf%s",
        c->opt.index.metric == AKIDB_METRIC_COSINE ? ", or is all zeros (cosine)" : "");
    return AKIDB_EVALUE;
  }
  pthread_rwlock_rdlock(&c->lock);
  rc = search_locked(c, query, prepared, o, out);
  pthread_rwlock_unlock(&c->lock);
  free(prepared);
  if (rc == AKIDB_ENOMEM) SAY("out of memory");
  return rc;
}

/* ------------------------------------------------------------ text search -- */

static bool text_keep(void *ctx, uint64_t label) {
  const allow_ctx_t *a = ctx;
  const point_rec_t *r = records_get(&a->c->rt, label);
  return r && record_allowed(a, r);
}

/* Copies the BM25 hits out; caller holds lock and text_lock for reading. */
static int fill_text_hits(akidb_collection_t *c, const akidb_search_options_t *o,
                          const akidb_text_hit_t *hits, uint32_t n, akidb_search_result_t *out) {
  out->hits = calloc(n ? n : 1, sizeof *out->hits);
  if (!out->hits) return AKIDB_ENOMEM;
  for (uint32_t i = 0; i < n; i++) {
    const point_rec_t *r = records_get(&c->rt, hits[i].label); /* kept: live */
    int rc = store_fill_point(c, r, o->include_payload, o->include_vector, &out->hits[i]);
    if (rc) {
      out->n = i;
      akidb_search_result_free(out);
      return rc;
    }
    out->hits[i].score = (float)hits[i].score;
    out->n = i + 1;
  }
  return AKIDB_OK;
}

int akidb_collection_text_search(akidb_collection_t *c, const char *query, size_t len,
                                 const akidb_search_options_t *o, akidb_search_result_t *out,
                                 char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  if (!o || o->k == 0 || o->k > AKIDB_K_MAX || (o->filter && !o->filter->allow)) {
    SAY("k is %u; it must be between 1 and %u", o ? o->k : 0, AKIDB_K_MAX);
    return AKIDB_EINVAL;
  }
  if (!c->text) {
    SAY("this collection keeps no text index");
    return AKIDB_ENOTSUP;
  }
  akidb_text_hit_t *hits = malloc((size_t)o->k * sizeof *hits);
  if (!hits) return AKIDB_ENOMEM;
  allow_ctx_t a = {.c = c, .f = o->filter};
  uint32_t n = 0;
  size_t bad = 0;
  pthread_rwlock_rdlock(&c->lock);
  pthread_rwlock_rdlock(&c->text_lock);
  int rc = atomic_load(&c->text_incomplete)
               ? AKIDB_EUNAVAILABLE
               : akidb_text_bm25_search(c->text, query, len, o->k, text_keep, &a, hits, &n, &bad);
  if (rc == AKIDB_OK) rc = fill_text_hits(c, o, hits, n, out);
  pthread_rwlock_unlock(&c->text_lock);
  pthread_rwlock_unlock(&c->lock);
  free(hits);
  if (rc == AKIDB_EINVAL) SAY("the query text is not valid UTF-8 at byte %zu", bad);
  else if (rc == AKIDB_EUNAVAILABLE)
    SAY("the text index missed a write when memory ran out; reopen the collection");
  else if (rc == AKIDB_ENOMEM) SAY("out of memory");
  return rc;
}

void akidb_search_result_free(akidb_search_result_t *r) {
  if (!r) return;
  for (uint32_t i = 0; i < r->n; i++) akidb_point_out_clear(&r->hits[i]);
  free(r->hits);
  r->hits = NULL;
  r->n = 0;
}

int akidb_collection_scan(akidb_collection_t *c, bool with_vector, akidb_point_visit_fn fn,
                          void *ctx) {
  float *vec = with_vector ? malloc((size_t)c->dim * sizeof(float)) : NULL;
  if (with_vector && !vec) return AKIDB_ENOMEM;
  int rc = AKIDB_OK;
  pthread_mutex_lock(&c->apply_lock); /* writes wait; searches go on */
  pthread_rwlock_rdlock(&c->lock);
  for (uint64_t l = 1; l < c->next_label && l < c->rt.recs_cap && rc == AKIDB_OK; l++) {
    const point_rec_t *r = c->rt.recs[l];
    if (!r) continue;
    akidb_point_out_t p = {.id = (char *)rec_id(r), .id_len = r->id_len,
                           .payload = (char *)rec_payload(r), .payload_len = r->payload_len,
                           .text = (char *)rec_text(r), .text_len = r->text_len};
    if (with_vector && (rc = store_copy_vector(c, r, vec))) break;
    p.vector = vec;
    rc = fn(ctx, &p);
  }
  pthread_rwlock_unlock(&c->lock);
  pthread_mutex_unlock(&c->apply_lock);
  free(vec);
  return rc;
}

/* The first live label above `l`, or 0. Read lock held. */
static uint64_t next_live_label(const akidb_collection_t *c, uint64_t l) {
  for (l++; l < c->next_label && l < c->rt.recs_cap; l++)
    if (c->rt.recs[l]) return l;
  return 0;
}

int akidb_collection_scan_page(akidb_collection_t *c, uint64_t after, size_t max,
                               bool with_vector, akidb_point_out_t *out, size_t *n,
                               uint64_t *next) {
  *n = 0;
  *next = 0;
  int rc = AKIDB_OK;
  pthread_rwlock_rdlock(&c->lock);
  uint64_t l = next_live_label(c, after), last = 0;
  while (l && *n < max) {
    if ((rc = store_fill_point(c, c->rt.recs[l], true, with_vector, &out[*n]))) break;
    (*n)++;
    last = l;
    l = next_live_label(c, l);
  }
  pthread_rwlock_unlock(&c->lock);
  if (rc) {
    while (*n) akidb_point_out_clear(&out[--(*n)]);
    return rc;
  }
  *next = l ? last : 0; /* 0: nothing left after this page */
  return AKIDB_OK;
}
