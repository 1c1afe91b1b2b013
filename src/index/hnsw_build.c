/*
 * hnsw_build.c — owns insertion into the HNSW graph (Malkov & Yashunin,
 * Alg. 1 INSERT with Alg. 4 SELECT-NEIGHBORS-HEURISTIC): slot allocation,
 * level choice, linking the new point and shrinking overfull neighbour
 * lists. Locking: inserts hold the grow lock for reading (taking it for
 * writing only to grow the arenas); a node lock is held only while a list
 * is rewritten; see hnsw_internal.h.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "index/hnsw_internal.h"

static int item_cmp(const void *pa, const void *pb) {
  const heap_item_t *a = pa, *b = pb;
  return a->d < b->d ? -1 : (a->d > b->d ? 1 : (a->id > b->id) - (a->id < b->id));
}

void hnsw_sort_items(heap_item_t *a, uint32_t n) {
  /* insertion sort: lists are short (<= ef_construction, usually ~m0) */
  if (n > 64) {
    qsort(a, n, sizeof *a, item_cmp);
    return;
  }
  for (uint32_t i = 1; i < n; i++) {
    heap_item_t x = a[i];
    uint32_t j = i;
    while (j > 0 && item_cmp(&a[j - 1], &x) > 0) {
      a[j] = a[j - 1];
      j--;
    }
    a[j] = x;
  }
}

/*
 * Keeps a candidate only if it is nearer to the base point than to every
 * candidate kept so far: this spreads links across directions.
 */
uint32_t hnsw_select_neighbors(const akidb_hnsw_t *h, const heap_item_t *cand,
                               uint32_t n, uint32_t max, uint32_t *out) {
  if (n <= max) {
    for (uint32_t i = 0; i < n; i++) out[i] = cand[i].id;
    return n;
  }
  uint32_t kept = 0;
  for (uint32_t i = 0; i < n && kept < max; i++) {
    const float *v = hnsw_vec(h, cand[i].id);
    bool good = true;
    for (uint32_t j = 0; j < kept; j++) {
      if (metric_dist_bounded(&h->metric, v, hnsw_vec(h, out[j]), h->dim, cand[i].d) < cand[i].d) {
        good = false;
        break;
      }
    }
    if (good) out[kept++] = cand[i].id;
  }
  return kept;
}

/* Adds `newcomer` to node's list at `level`, shrinking it with the heuristic
 * when full. Takes node's lock. `scratch` holds 1 + max items. */
static void connect_back(const akidb_hnsw_t *h, uint32_t node, uint32_t newcomer,
                         float d_new, int level, heap_item_t *scratch,
                         uint32_t *ids) {
  uint32_t max = hnsw_max_links(h, level);
  hnsw_node_lock(h, node);
  uint32_t *l = hnsw_links(h, node, level);
  uint32_t n = l[0];
  for (uint32_t i = 1; i <= n; i++)
    if (l[i] == newcomer) goto out;
  if (n < max) {
    l[1 + n] = newcomer;
    l[0] = n + 1;
    goto out;
  }
  const float *base = hnsw_vec(h, node);
  for (uint32_t i = 0; i < n; i++) {
    scratch[i].id = l[1 + i];
    scratch[i].d = metric_dist(&h->metric, base, hnsw_vec(h, l[1 + i]), h->dim);
  }
  scratch[n].id = newcomer;
  scratch[n].d = d_new;
  hnsw_sort_items(scratch, n + 1);
  uint32_t kept = hnsw_select_neighbors(h, scratch, n + 1, max, ids);
  memcpy(l + 1, ids, kept * sizeof(uint32_t));
  l[0] = kept;
out:
  hnsw_node_unlock(h, node);
}

/* Drains c->top into c->cand->a as a nearest-first array; returns its size. */
static uint32_t top_sorted(hnsw_ctx_t *c) {
  uint32_t n = c->top.n;
  if (heap_reserve(&c->cand, n + 1)) return 0;
  for (uint32_t i = n; i-- > 0;) {
    c->cand.a[i] = c->top.a[0];
    maxheap_pop(&c->top);
  }
  c->cand.n = 0;
  return n;
}

/* Links slot s (vector q, level `level`) into the graph. */
static int link_node(akidb_hnsw_t *h, hnsw_ctx_t *c, uint32_t s, int level) {
  const float *q = hnsw_vec(h, s);
  uint32_t ep;
  int top_level;
  hnsw_read_entry(h, &ep, &top_level);
  bool raising = false;
  if (level > top_level) { /* may become the entry point: serialise */
    pthread_mutex_lock(&h->raise_lock);
    raising = true;
    hnsw_read_entry(h, &ep, &top_level);
    if (level <= top_level) {
      pthread_mutex_unlock(&h->raise_lock);
      raising = false;
    }
  }
  int rc = AKIDB_OK;
  if (ep != HNSW_NONE) {
    float d = hnsw_dist(h, q, ep);
    for (int l = top_level; l > level; l--) ep = hnsw_greedy(h, c, q, ep, &d, l);
    heap_item_t scratch[2 * AKIDB_HNSW_M_MAX + 1];
    uint32_t ids[2 * AKIDB_HNSW_M_MAX + 1];
    for (int l = level < top_level ? level : top_level; l >= 0; l--) {
      if ((rc = hnsw_search_layer(h, c, q, ep, d, h->p.ef_construction, l, NULL, true)))
        break;
      uint32_t n = top_sorted(c);
      if (n == 0) continue; /* nothing reachable on this layer: keep descending */
      heap_item_t *found = c->cand.a;
      uint32_t kept = hnsw_select_neighbors(h, found, n, h->m, ids);
      hnsw_node_lock(h, s);
      uint32_t *own = hnsw_links(h, s, l);
      memcpy(own + 1, ids, kept * sizeof(uint32_t));
      own[0] = kept;
      hnsw_node_unlock(h, s);
      float dist_of[2 * AKIDB_HNSW_M_MAX + 1];
      for (uint32_t i = 0, j = 0; i < n && j < kept; i++) /* ids follow found's order */
        if (found[i].id == ids[j]) dist_of[j++] = found[i].d;
      ep = found[0].id;
      d = found[0].d;
      uint32_t back[2 * AKIDB_HNSW_M_MAX + 1];
      memcpy(back, ids, kept * sizeof(uint32_t));
      for (uint32_t j = 0; j < kept; j++)
        connect_back(h, back[j], s, dist_of[j], l, scratch, ids);
    }
  }
  if (level > top_level && (raising || ep == HNSW_NONE)) {
    pthread_mutex_lock(&h->entry_lock);
    if (level > h->max_level) {
      h->entry = s;
      h->max_level = level;
    }
    pthread_mutex_unlock(&h->entry_lock);
  }
  if (raising) pthread_mutex_unlock(&h->raise_lock);
  return rc;
}

/* Reserves a slot for `label` under the map lock; grows the arenas (under
 * the write lock) when full. On success the caller holds grow for reading. */
static int claim_slot(akidb_hnsw_t *h, uint64_t label, bool replace,
                      uint32_t *slot, uint32_t *old) {
  for (;;) {
    pthread_rwlock_rdlock(&h->grow);
    pthread_mutex_lock(&h->map_lock);
    *old = label_map_get(&h->map, label);
    if (*old != LABEL_MAP_NONE && !replace) {
      pthread_mutex_unlock(&h->map_lock);
      pthread_rwlock_unlock(&h->grow);
      return AKIDB_EEXIST;
    }
    uint32_t n = atomic_load_explicit(&h->n_slots, memory_order_relaxed);
    if (n < h->cap) {
      *slot = n;
      atomic_store_explicit(&h->n_slots, n + 1, memory_order_release);
      label_map_put(&h->map, label, n); /* room reserved with the arenas */
      if (*old != LABEL_MAP_NONE) {
        atomic_fetch_or(&h->flags[*old], FLAG_DELETED);
        atomic_fetch_sub(&h->live, 1);
        atomic_fetch_add(&h->deleted, 1);
      }
      pthread_mutex_unlock(&h->map_lock);
      return AKIDB_OK;
    }
    pthread_mutex_unlock(&h->map_lock);
    pthread_rwlock_unlock(&h->grow);
    pthread_rwlock_wrlock(&h->grow);
    int rc = AKIDB_OK;
    if (atomic_load(&h->n_slots) >= h->cap) {
      uint64_t cap = hnsw_next_cap(h->cap);
      if (cap > HNSW_MAX_SLOTS) cap = HNSW_MAX_SLOTS;
      rc = cap <= h->cap ? AKIDB_ELIMIT : hnsw_reserve(h, cap);
    }
    pthread_rwlock_unlock(&h->grow);
    if (rc) return rc;
  }
}

static int insert(akidb_hnsw_t *h, uint64_t label, const float *vec,
                  bool replace) {
  int level = hnsw_random_level(h, label);
  uint32_t *up = NULL;
  if (level > 0 && !(up = mem_calloc(&h->mem, (size_t)level * h->up_words, sizeof(uint32_t))))
    return AKIDB_ENOMEM;
  float *tmp = malloc((size_t)h->dim * sizeof(float));
  int rc = tmp ? metric_prepare(h->metric.metric, vec, tmp, h->dim) : AKIDB_ENOMEM;
  uint32_t s, old;
  if (rc || (rc = claim_slot(h, label, replace, &s, &old))) {
    free(tmp);
    mem_free(&h->mem, up);
    return rc;
  }
  memcpy(hnsw_vec(h, s), tmp, (size_t)h->dim * sizeof(float));
  free(tmp);
  h->labels[s] = label;
  h->levels[s] = (uint8_t)level;
  h->upper[s] = up;
  hnsw_links(h, s, 0)[0] = 0;
  atomic_store_explicit(&h->flags[s], FLAG_READY, memory_order_release);
  hnsw_ctx_t *c = hnsw_ctx_acquire(h);
  rc = c ? link_node(h, c, s, level) : AKIDB_ENOMEM;
  if (c) hnsw_ctx_release(h, c);
  atomic_fetch_add(&h->live, 1);
  pthread_rwlock_unlock(&h->grow);
  return rc;
}

int akidb_hnsw_insert(akidb_hnsw_t *h, uint64_t label, const float *vec) {
  return insert(h, label, vec, false);
}

int akidb_hnsw_upsert(akidb_hnsw_t *h, uint64_t label, const float *vec) {
  return insert(h, label, vec, true);
}
