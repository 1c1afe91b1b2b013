/*
 * hnsw_search.c — owns HNSW search: greedy descent through the upper layers,
 * best-first SEARCH-LAYER on layer 0 (Malkov & Yashunin, Alg. 2 and 5) with
 * batched visiting and prefetch, filtered search (allow-sets) with a switch
 * to an exact scan when the allowed fraction is small, and the exact path.
 * Locking: searches hold the grow lock for reading and copy each neighbour
 * list under its node lock; see hnsw_internal.h.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "index/hnsw_internal.h"

uint32_t hnsw_greedy(const akidb_hnsw_t *h, hnsw_ctx_t *c, const float *q,
                     uint32_t cur, float *dcur, int level) {
  for (bool changed = true; changed;) {
    changed = false;
    uint32_t n = hnsw_copy_links(h, cur, level, c->nbuf);
    for (uint32_t i = 1; i <= n; i++) {
      uint32_t id = c->nbuf[i];
      float d = hnsw_dist(h, q, id);
      if (d < *dcur) {
        *dcur = d;
        cur = id;
        changed = true;
      }
    }
  }
  return cur;
}

/* Whether slot id may be returned: not deleted and allowed by the filter. */
static inline bool keepable(const akidb_hnsw_t *h, uint32_t id,
                            const akidb_filter_t *filter) {
  if (atomic_load_explicit(&h->flags[id], memory_order_relaxed) & FLAG_DELETED)
    return false;
  return filter == NULL || filter_allows(filter, h->labels[id]);
}

/* Marks the unvisited neighbours of `node` and gathers them in c->fresh. */
static inline uint32_t gather_fresh(const akidb_hnsw_t *h, hnsw_ctx_t *c,
                                    uint32_t node, int level, uint16_t tag) {
  uint32_t n = hnsw_copy_links(h, node, level, c->nbuf);
  uint32_t nf = 0;
  for (uint32_t i = 1; i <= n; i++) {
    uint32_t id = c->nbuf[i];
    if (c->visited[id] == tag) continue;
    c->visited[id] = tag;
    c->fresh[nf++] = id;
  }
  return nf;
}

int hnsw_search_layer(const akidb_hnsw_t *h, hnsw_ctx_t *c, const float *q,
                      uint32_t ep, float ep_dist, uint32_t ef, int level,
                      const akidb_filter_t *filter, bool keep_deleted) {
  uint16_t tag = hnsw_ctx_new_tag(c);
  if (heap_reserve(&c->top, ef + 1) || heap_reserve(&c->cand, ef + h->m0 + 1))
    return AKIDB_ENOMEM;
  heap_t *cand = &c->cand, *top = &c->top;
  cand->n = top->n = 0;
  c->visited[ep] = tag;
  minheap_push(cand, ep_dist, ep);
  float bound = INFINITY; /* distance of the worst kept result once full */
  if (keep_deleted || keepable(h, ep, filter)) {
    maxheap_push(top, ep_dist, ep);
    if (ef == 1) bound = ep_dist;
  }
  while (cand->n) {
    heap_item_t cur = cand->a[0];
    if (cur.d > bound) break;
    minheap_pop(cand);
    if (cand->n) __builtin_prefetch(hnsw_links(h, cand->a[0].id, level));
    uint32_t nf = gather_fresh(h, c, cur.id, level, tag);
    if (cand->n + nf >= cand->cap && heap_reserve(cand, cand->cap * 2 + nf))
      return AKIDB_ENOMEM;
    for (uint32_t i = 0; i < nf && i < 2; i++) hnsw_prefetch_vec(h, c->fresh[i]);
    for (uint32_t i = 0; i < nf; i++) {
      if (i + 2 < nf) hnsw_prefetch_vec(h, c->fresh[i + 2]);
      uint32_t id = c->fresh[i];
      float d = metric_dist_bounded(&h->metric, q, hnsw_vec(h, id), h->dim, bound);
      if (d >= bound) continue;
      minheap_push(cand, d, id);
      if (!keep_deleted && !keepable(h, id, filter)) continue;
      maxheap_push(top, d, id);
      if (top->n > ef) maxheap_pop(top);
      if (top->n == ef) bound = top->a[0].d;
    }
  }
  return AKIDB_OK;
}

/* ---------------------------------------------------------- exact path -- */

/* Offers slot s to the hit heap if it is ready, live and allowed. */
static inline void offer_slot(const akidb_hnsw_t *h, const float *q, uint32_t s,
                              const akidb_filter_t *filter, akidb_hit_t *out,
                              uint32_t *n, uint32_t k) {
  uint8_t fl = hnsw_flags(h, s);
  if (!(fl & FLAG_READY) || (fl & FLAG_DELETED)) return;
  if (!filter_allows(filter, h->labels[s])) return;
  hits_offer(out, n, k, hnsw_dist(h, q, s), h->labels[s]);
}

/* Exact scan of every slot. Caller holds grow (read). */
static void scan_all(const akidb_hnsw_t *h, const float *q, uint32_t k,
                     const akidb_filter_t *filter, akidb_hit_t *out,
                     uint32_t *n_out) {
  uint32_t n = atomic_load_explicit(&((akidb_hnsw_t *)h)->n_slots, memory_order_acquire);
  *n_out = 0;
  for (uint32_t s = 0; s < n; s++) {
    if (s + 4 < n) __builtin_prefetch(hnsw_vec(h, s + 4));
    offer_slot(h, q, s, filter, out, n_out, k);
  }
  hits_sort(out, *n_out);
}

/* Exact scan of the labels set in a bitmap, through the label map. */
static void scan_bitmap(akidb_hnsw_t *h, const float *q, uint32_t k,
                        const akidb_filter_t *filter, akidb_hit_t *out,
                        uint32_t *n_out) {
  *n_out = 0;
  pthread_mutex_lock(&h->map_lock);
  for (uint64_t w = 0; w < (filter->nbits + 63) / 64; w++) {
    for (uint64_t bits = filter->bits[w]; bits; bits &= bits - 1) {
      uint64_t label = w * 64 + (uint64_t)__builtin_ctzll(bits);
      if (label >= filter->nbits) break;
      uint32_t s = label_map_get(&h->map, label);
      if (s != LABEL_MAP_NONE) offer_slot(h, q, s, filter, out, n_out, k);
    }
  }
  pthread_mutex_unlock(&h->map_lock);
  hits_sort(out, *n_out);
}

/* Number of set bits in the filter's bitmap. */
static uint64_t bitmap_count(const akidb_filter_t *f) {
  uint64_t n = 0, words = f->nbits / 64;
  for (uint64_t w = 0; w < words; w++) n += (uint64_t)__builtin_popcountll(f->bits[w]);
  if (f->nbits % 64)
    n += (uint64_t)__builtin_popcountll(f->bits[words] & ((1ull << (f->nbits % 64)) - 1));
  return n;
}

/* Estimated fraction of live points a filter allows: exact for a bitmap
 * alone, sampled over up to 512 slots when there is a predicate. */
static double allowed_fraction(const akidb_hnsw_t *h, const akidb_filter_t *f,
                               uint64_t live) {
  if (!f->allow) return live ? (double)bitmap_count(f) / (double)live : 0.0;
  uint32_t n = atomic_load(&((akidb_hnsw_t *)h)->n_slots);
  uint32_t step = n > 512 ? n / 512 : 1, seen = 0, ok = 0;
  for (uint32_t s = 0; s < n; s += step) {
    uint8_t fl = hnsw_flags(h, s);
    if (!(fl & FLAG_READY) || (fl & FLAG_DELETED)) continue;
    seen++;
    ok += filter_allows(f, h->labels[s]) ? 1u : 0u;
  }
  return seen ? (double)ok / seen : 0.0;
}

/*
 * Whether a filtered search should scan exactly. Graph search with an
 * allow-fraction f expands about ef/f nodes of ~m0 neighbours; an exact scan
 * costs f*live distances (bitmap) or live predicate calls. The cheaper wins.
 */
static bool prefer_exact(const akidb_hnsw_t *h, const akidb_filter_t *f,
                         uint32_t ef, double frac, uint64_t live) {
  if (frac <= 0.0) return true;
  double graph = (double)ef * h->m0 / frac;
  double exact = f->allow ? (double)live * 0.25 + frac * live : frac * live;
  return exact <= graph;
}

/* Prepares the query into c->query. */
static int prepare_query(const akidb_hnsw_t *h, hnsw_ctx_t *c, const float *q) {
  return metric_prepare(h->metric.metric, q, c->query, h->dim);
}

/* Graph search: descend, search layer 0, emit the k best nearest first. */
static int graph_search(akidb_hnsw_t *h, hnsw_ctx_t *c, uint32_t k, uint32_t ef,
                        const akidb_filter_t *filter, akidb_hit_t *out,
                        uint32_t *n_out) {
  uint32_t ep;
  int top_level;
  *n_out = 0;
  hnsw_read_entry(h, &ep, &top_level);
  if (ep == HNSW_NONE) return AKIDB_OK;
  float d = hnsw_dist(h, c->query, ep);
  for (int l = top_level; l > 0; l--) ep = hnsw_greedy(h, c, c->query, ep, &d, l);
  int rc = hnsw_search_layer(h, c, c->query, ep, d, ef, 0, filter, false);
  if (rc) return rc;
  while (c->top.n > k) maxheap_pop(&c->top);
  uint32_t n = c->top.n;
  for (uint32_t i = n; i-- > 0;) {
    out[i].distance = c->top.a[0].d;
    out[i].label = h->labels[c->top.a[0].id];
    maxheap_pop(&c->top);
  }
  *n_out = n;
  return AKIDB_OK;
}

static int check_args(const akidb_hnsw_t *h, uint32_t k, uint32_t *ef,
                      const akidb_filter_t *filter) {
  if (k == 0 || k > AKIDB_K_MAX) return AKIDB_EINVAL;
  if (*ef == 0) *ef = atomic_load(&((akidb_hnsw_t *)h)->ef_search);
  if (*ef > AKIDB_HNSW_EF_SEARCH_MAX) return AKIDB_EINVAL;
  if (*ef < k) *ef = k;
  return filter_validate(filter);
}

int akidb_hnsw_search(const akidb_hnsw_t *ch, const float *query, uint32_t k,
                      uint32_t ef, const akidb_filter_t *filter,
                      akidb_hit_t *out, uint32_t *n_out) {
  return akidb_hnsw_search_planned(ch, query, k, ef, filter, out, n_out, NULL);
}

int akidb_hnsw_search_planned(const akidb_hnsw_t *ch, const float *query, uint32_t k,
                              uint32_t ef, const akidb_filter_t *filter, akidb_hit_t *out,
                              uint32_t *n_out, akidb_hnsw_plan_t *plan) {
  akidb_hnsw_t *h = (akidb_hnsw_t *)ch;
  akidb_hnsw_plan_t scratch;
  if (!plan) plan = &scratch;
  *plan = (akidb_hnsw_plan_t){false, 0, -1.0};
  *n_out = 0;
  int rc = check_args(h, k, &ef, filter);
  if (rc) return rc;
  pthread_rwlock_rdlock(&h->grow);
  hnsw_ctx_t *c = hnsw_ctx_acquire(h);
  if (!c) {
    rc = AKIDB_ENOMEM;
    goto done;
  }
  if ((rc = prepare_query(h, c, query))) goto done;
  uint64_t live = atomic_load(&h->live);
  double frac = filter ? allowed_fraction(h, filter, live) : 1.0;
  if (filter) plan->filter_fraction = frac;
  if (filter && prefer_exact(h, filter, ef, frac, live)) {
    plan->exact = true;
    if (filter->bits && !filter->allow) scan_bitmap(h, c->query, k, filter, out, n_out);
    else scan_all(h, c->query, k, filter, out, n_out);
    goto done;
  }
  if (filter && frac < 1.0) { /* keep the kept set as wide as unfiltered */
    double wider = ef / sqrt(frac);
    ef = wider > AKIDB_HNSW_EF_SEARCH_MAX ? AKIDB_HNSW_EF_SEARCH_MAX : (uint32_t)wider;
  }
  plan->ef = ef;
  rc = graph_search(h, c, k, ef, filter, out, n_out);
  if (rc == AKIDB_OK && filter && *n_out < k && frac * live >= k) {
    scan_all(h, c->query, k, filter, out, n_out); /* the graph ran dry */
    plan->exact = true;
  }
done:
  if (c) hnsw_ctx_release(h, c);
  pthread_rwlock_unlock(&h->grow);
  return rc;
}

int akidb_hnsw_search_exact(const akidb_hnsw_t *ch, const float *query,
                            uint32_t k, const akidb_filter_t *filter,
                            akidb_hit_t *out, uint32_t *n_out) {
  akidb_hnsw_t *h = (akidb_hnsw_t *)ch;
  uint32_t ef = 1;
  *n_out = 0;
  int rc = check_args(h, k, &ef, filter);
  if (rc) return rc;
  pthread_rwlock_rdlock(&h->grow);
  hnsw_ctx_t *c = hnsw_ctx_acquire(h);
  if (!c) rc = AKIDB_ENOMEM;
  else if ((rc = prepare_query(h, c, query)) == AKIDB_OK)
    scan_all(h, c->query, k, filter, out, n_out);
  if (c) hnsw_ctx_release(h, c);
  pthread_rwlock_unlock(&h->grow);
  return rc;
}
