/*
 * hnsw_delete.c — owns deletion and compaction of the HNSW graph.
 * Delete only marks a slot: the point is never returned again but keeps
 * routing searches. Compaction (exclusive, under the grow write lock)
 * removes deleted points for good: every live list that named a deleted
 * point is rebuilt from its live neighbours and the live neighbours of the
 * deleted ones (SELECT-NEIGHBORS-HEURISTIC), a deleted entry point is
 * replaced by the live point of the highest level, points a breadth-first
 * walk from the entry cannot reach at layer 0 (or without an outgoing link)
 * are re-linked by a search, then slots are renumbered densely and the
 * arenas shrunk to fit.
 */
#include <stdlib.h>
#include <string.h>

#include "index/hnsw_internal.h"

int akidb_hnsw_delete(akidb_hnsw_t *h, uint64_t label) {
  pthread_rwlock_rdlock(&h->grow);
  pthread_mutex_lock(&h->map_lock);
  uint32_t s = label_map_get(&h->map, label);
  if (s != LABEL_MAP_NONE) {
    label_map_remove(&h->map, label);
    atomic_fetch_or(&h->flags[s], FLAG_DELETED);
    atomic_fetch_sub(&h->live, 1);
    atomic_fetch_add(&h->deleted, 1);
  }
  pthread_mutex_unlock(&h->map_lock);
  pthread_rwlock_unlock(&h->grow);
  return s == LABEL_MAP_NONE ? AKIDB_ENOTFOUND : AKIDB_OK;
}

static inline bool is_live(const akidb_hnsw_t *h, uint32_t s) {
  return (atomic_load_explicit(&h->flags[s], memory_order_relaxed) &
          (FLAG_READY | FLAG_DELETED)) == FLAG_READY;
}

/* Adds (dist(u, w), w) to cands unless w is u, dead or already added. */
static int add_candidate(const akidb_hnsw_t *h, hnsw_ctx_t *c, heap_t *cands,
                         uint32_t u, uint32_t w, uint16_t tag) {
  if (w == u || c->visited[w] == tag || !is_live(h, w)) return AKIDB_OK;
  c->visited[w] = tag;
  if (cands->n == cands->cap && heap_reserve(cands, cands->cap * 2 + 64))
    return AKIDB_ENOMEM;
  cands->a[cands->n].id = w;
  cands->a[cands->n].d = metric_dist(&h->metric, hnsw_vec(h, u), hnsw_vec(h, w), h->dim);
  cands->n++;
  return AKIDB_OK;
}

/* Rebuilds u's list at `level` if it names a deleted point. */
static int repair_list(akidb_hnsw_t *h, hnsw_ctx_t *c, heap_t *cands,
                       uint32_t u, int level) {
  uint32_t *l = hnsw_links(h, u, level);
  bool dirty = false;
  for (uint32_t i = 1; i <= l[0] && !dirty; i++) dirty = !is_live(h, l[i]);
  if (!dirty) return AKIDB_OK;
  uint16_t tag = hnsw_ctx_new_tag(c);
  c->visited[u] = tag;
  cands->n = 0;
  int rc = AKIDB_OK;
  for (uint32_t i = 1; i <= l[0] && rc == AKIDB_OK; i++) {
    uint32_t v = l[i];
    if (is_live(h, v)) {
      rc = add_candidate(h, c, cands, u, v, tag);
      continue;
    }
    const uint32_t *lv = hnsw_links(h, v, level); /* v's level >= level */
    for (uint32_t j = 1; j <= lv[0] && rc == AKIDB_OK; j++)
      rc = add_candidate(h, c, cands, u, lv[j], tag);
  }
  if (rc) return rc;
  hnsw_sort_items(cands->a, cands->n);
  uint32_t ids[2 * AKIDB_HNSW_M_MAX + 1];
  uint32_t kept = hnsw_select_neighbors(h, cands->a, cands->n, hnsw_max_links(h, level), ids);
  memcpy(l + 1, ids, kept * sizeof(uint32_t));
  l[0] = kept;
  return AKIDB_OK;
}

/* Connects live point u at layer 0 to neighbours found by a search. */
static int relink(akidb_hnsw_t *h, hnsw_ctx_t *c, uint32_t u) {
  uint32_t ep;
  int top;
  hnsw_read_entry(h, &ep, &top);
  const float *q = hnsw_vec(h, u);
  float d = hnsw_dist(h, q, ep);
  for (int l = top; l > 0; l--) ep = hnsw_greedy(h, c, q, ep, &d, l);
  int rc = hnsw_search_layer(h, c, q, ep, d, h->p.ef_construction + 1, 0, NULL, false);
  if (rc) return rc;
  heap_item_t found[AKIDB_HNSW_EF_CONSTRUCTION_MAX + 1];
  uint32_t n = 0;
  while (c->top.n) {
    if (c->top.a[0].id != u) found[n++] = c->top.a[0];
    maxheap_pop(&c->top);
  }
  hnsw_sort_items(found, n);
  uint32_t ids[2 * AKIDB_HNSW_M_MAX + 1];
  uint32_t kept = hnsw_select_neighbors(h, found, n, h->m, ids);
  uint32_t *own = hnsw_links(h, u, 0);
  for (uint32_t j = 0; j < kept; j++) {
    bool have = false;
    for (uint32_t i = 1; i <= own[0]; i++) have |= own[i] == ids[j];
    if (!have && own[0] < h->m0) own[++own[0]] = ids[j];
  }
  for (uint32_t j = 0; j < kept; j++) { /* and the way back in */
    uint32_t *l = hnsw_links(h, ids[j], 0);
    bool have = false;
    for (uint32_t i = 1; i <= l[0]; i++) have |= l[i] == u;
    if (have) continue;
    if (l[0] < h->m0) l[++l[0]] = u;
    else l[l[0]] = u; /* replace the farthest-ranked link */
  }
  return AKIDB_OK;
}

/* Keeps the entry point live: a deleted one is replaced by the live point
 * of the highest level (renumbering keeps it). Exclusive (grow write lock). */
static void choose_entry(akidb_hnsw_t *h, uint32_t n) {
  if (h->entry < n && is_live(h, h->entry)) return;
  uint32_t best = HNSW_NONE;
  for (uint32_t s = 0; s < n; s++)
    if (is_live(h, s) && (best == HNSW_NONE || h->levels[s] > h->levels[best])) best = s;
  pthread_mutex_lock(&h->entry_lock);
  h->entry = best;
  h->max_level = best == HNSW_NONE ? -1 : h->levels[best];
  pthread_mutex_unlock(&h->entry_lock);
}

/* Marks in `seen` every live point reachable at layer 0 from `from`
 * (breadth first; `queue` holds n ids). */
static void mark_reachable(const akidb_hnsw_t *h, uint32_t from, uint8_t *seen, uint32_t *queue) {
  if (seen[from]) return;
  uint32_t head = 0, tail = 0;
  seen[from] = 1;
  queue[tail++] = from;
  while (head < tail) {
    const uint32_t *l = hnsw_links(h, queue[head++], 0);
    for (uint32_t i = 1; i <= l[0]; i++)
      if (!seen[l[i]] && is_live(h, l[i])) {
        seen[l[i]] = 1;
        queue[tail++] = l[i];
      }
  }
}

/* One pass of relink_unreachable; *relinked counts the points linked in. */
static int relink_pass(akidb_hnsw_t *h, hnsw_ctx_t *c, uint32_t n, uint8_t *seen,
                       uint32_t *queue, uint32_t *relinked) {
  memset(seen, 0, n);
  *relinked = 0;
  if (h->entry < n) mark_reachable(h, h->entry, seen, queue);
  int rc = AKIDB_OK;
  for (uint32_t u = 0; u < n && rc == AKIDB_OK; u++) {
    if (!is_live(h, u) || u == h->entry) continue;
    if (seen[u] && hnsw_links(h, u, 0)[0] > 0) continue;
    rc = relink(h, c, u);
    (*relinked)++;
  }
  return rc;
}

#define RELINK_PASSES 4 /* a relink may take the last way into a point marked earlier */

/* Re-links the live points a search cannot reach from the entry point at
 * layer 0 — single points and whole islands that only link among
 * themselves, which repairs after heavy churn (many replaced points) can
 * leave — and points without an outgoing link. Each one is linked in by a
 * search (relink, which also adds the way back from its nearest points):
 * every member of an island, not just one, since a point reachable only
 * along a chain of island links is reachable but not found by a search
 * for it. A relink replaces the farthest link of a full list, which may
 * have been another point's only way in: passes repeat until one finds
 * nothing (at most RELINK_PASSES). */
static int relink_unreachable(akidb_hnsw_t *h, hnsw_ctx_t *c, uint32_t n) {
  uint8_t *seen = malloc(n ? n : 1);
  uint32_t *queue = malloc((n ? n : 1) * sizeof(uint32_t));
  int rc = seen && queue ? AKIDB_OK : AKIDB_ENOMEM;
  uint32_t relinked = 1;
  for (int pass = 0; pass < RELINK_PASSES && relinked && rc == AKIDB_OK; pass++)
    rc = relink_pass(h, c, n, seen, queue, &relinked);
  free(seen);
  free(queue);
  return rc;
}

/* Rewrites a list through the renumbering map, dropping dead ids. */
static void remap_list(uint32_t *l, const uint32_t *new_id) {
  uint32_t kept = 0;
  for (uint32_t i = 1; i <= l[0]; i++)
    if (new_id[l[i]] != HNSW_NONE) l[1 + kept++] = new_id[l[i]];
  l[0] = kept;
}

/* Moves live slots to the front in order and rebuilds the label map. */
static int renumber(akidb_hnsw_t *h, uint32_t n) {
  uint32_t *new_id = malloc((n ? n : 1) * sizeof(uint32_t));
  label_map_t map;
  label_map_init(&map, &h->mem);
  if (!new_id || label_map_reserve(&map, atomic_load(&h->live))) {
    free(new_id);
    label_map_free(&map);
    return AKIDB_ENOMEM;
  }
  uint32_t live = 0, best = HNSW_NONE;
  for (uint32_t s = 0; s < n; s++) {
    new_id[s] = is_live(h, s) ? live++ : HNSW_NONE;
    if (new_id[s] != HNSW_NONE && (best == HNSW_NONE || h->levels[s] > h->levels[best]))
      best = s;
  }
  uint32_t entry = (h->entry < n && new_id[h->entry] != HNSW_NONE) ? h->entry : best;
  for (uint32_t s = 0; s < n; s++) {
    if (new_id[s] == HNSW_NONE) {
      mem_free(&h->mem, h->upper[s]);
      h->upper[s] = NULL;
      continue;
    }
    uint32_t t = new_id[s]; /* t <= s: moving down never overwrites unread data */
    remap_list(hnsw_links(h, s, 0), new_id);
    for (int l = 1; l <= h->levels[s]; l++) remap_list(hnsw_links(h, s, l), new_id);
    label_map_put(&map, h->labels[s], t); /* room reserved: cannot fail */
    if (t == s) continue;
    memcpy(hnsw_vec(h, t), hnsw_vec(h, s), (size_t)h->stride * sizeof(float));
    memcpy(hnsw_links(h, t, 0), hnsw_links(h, s, 0), h->l0_words * sizeof(uint32_t));
    h->upper[t] = h->upper[s];
    h->upper[s] = NULL;
    h->labels[t] = h->labels[s];
    h->levels[t] = h->levels[s];
  }
  for (uint32_t s = 0; s < n; s++)
    atomic_store_explicit(&h->flags[s], s < live ? FLAG_READY : 0, memory_order_relaxed);
  h->entry = entry == HNSW_NONE ? HNSW_NONE : new_id[entry];
  h->max_level = entry == HNSW_NONE ? -1 : h->levels[h->entry];
  free(new_id);
  label_map_free(&h->map);
  h->map = map;
  atomic_store(&h->n_slots, live);
  atomic_store(&h->deleted, 0);
  return AKIDB_OK;
}

/* Shrinks *pp from n items to keep (> 0) items of `size`; keeps it on failure. */
static void shrink_array(akidb_hnsw_t *h, void **pp, size_t keep, size_t size) {
  void *q = mem_realloc(&h->mem, *pp, keep * size);
  if (q) *pp = q;
}

/* Returns the memory of slots beyond `cap` (at least 1) to the system. */
static void shrink(akidb_hnsw_t *h, uint64_t cap) {
  if (cap == 0) cap = 1;
  if (cap >= h->cap) return;
  float *v = hnsw_arena_alloc(h, (size_t)cap * h->stride * sizeof(float));
  uint32_t *l0 = hnsw_arena_alloc(h, (size_t)cap * h->l0_words * sizeof(uint32_t));
  if (!v || !l0) { /* keep the larger arenas: still consistent */
    mem_free(&h->mem, v);
    mem_free(&h->mem, l0);
    return;
  }
  memcpy(v, h->vecs, (size_t)cap * h->stride * sizeof(float));
  mem_free(&h->mem, h->vecs);
  h->vecs = v;
  memcpy(l0, h->links0, (size_t)cap * h->l0_words * sizeof(uint32_t));
  mem_free(&h->mem, h->links0);
  h->links0 = l0;
  shrink_array(h, (void **)&h->upper, cap, sizeof(uint32_t *));
  shrink_array(h, (void **)&h->labels, cap, sizeof(uint64_t));
  shrink_array(h, (void **)&h->levels, cap, 1);
  shrink_array(h, (void **)&h->flags, cap, 1);
  shrink_array(h, (void **)&h->locks, cap, 1);
  h->cap = cap;
}

/* Frees pooled search contexts (their visited arrays are sized to the old
 * capacity). Caller holds grow for writing. */
static void drop_pool(akidb_hnsw_t *h) {
  pthread_mutex_lock(&h->pool_lock);
  while (h->pool) {
    hnsw_ctx_t *next = h->pool->next;
    hnsw_ctx_free(h, h->pool);
    h->pool = next;
  }
  pthread_mutex_unlock(&h->pool_lock);
}

int akidb_hnsw_compact(akidb_hnsw_t *h) {
  pthread_rwlock_wrlock(&h->grow);
  int rc = AKIDB_OK;
  uint32_t n = atomic_load(&h->n_slots);
  if (atomic_load(&h->deleted) == 0) goto done;
  hnsw_ctx_t *c = hnsw_ctx_acquire(h);
  heap_t cands = {.mem = &h->mem};
  if (!c) {
    rc = AKIDB_ENOMEM;
    goto done;
  }
  for (uint32_t u = 0; u < n && rc == AKIDB_OK; u++)
    for (int l = 0; is_live(h, u) && l <= h->levels[u] && rc == AKIDB_OK; l++)
      rc = repair_list(h, c, &cands, u, l);
  choose_entry(h, n);
  if (rc == AKIDB_OK && atomic_load(&h->live) > 1) rc = relink_unreachable(h, c, n);
  heap_free(&cands);
  hnsw_ctx_release(h, c);
  if (rc == AKIDB_OK) rc = renumber(h, n);
  if (rc == AKIDB_OK) shrink(h, atomic_load(&h->n_slots));
  drop_pool(h);
done:
  pthread_rwlock_unlock(&h->grow);
  return rc;
}
