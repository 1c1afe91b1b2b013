/*
 * hnsw_core.c — owns the HNSW index's lifecycle and storage: parameters and
 * their validation, creation and freeing, growing the arenas (under the
 * grow write lock), level generation from the seed, the pool of per-search
 * scratch contexts, and the small read-only queries (count, memory,
 * contains, get_vector). Every block is charged to the index's memory
 * account (util/mem.c). Layout, growth and locking rules: hnsw_internal.h.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "index/hnsw_internal.h"

void akidb_hnsw_params_default(akidb_hnsw_params_t *p, uint32_t dim,
                               akidb_metric_t metric) {
  memset(p, 0, sizeof *p);
  p->dim = dim;
  p->metric = metric;
  p->m = AKIDB_HNSW_M_DEFAULT;
  p->ef_construction = AKIDB_HNSW_EF_CONSTRUCTION_DEFAULT;
  p->ef_search = AKIDB_HNSW_EF_SEARCH_DEFAULT;
  p->seed = 0x5eed5eed5eedull;
  p->initial_capacity = 0;
}

/* Checks one field against [lo, hi]; writes the complaint into err. */
static int check_range(const char *field, uint64_t v, uint64_t lo, uint64_t hi,
                       char *err, size_t errlen) {
  if (v >= lo && v <= hi) return AKIDB_OK;
  if (err)
    snprintf(err, errlen, "%s = %llu is out of range: use %llu..%llu", field,
             (unsigned long long)v, (unsigned long long)lo,
             (unsigned long long)hi);
  return AKIDB_EINVAL;
}

int akidb_hnsw_params_validate(const akidb_hnsw_params_t *p, char *err,
                               size_t errlen) {
  int rc;
  if ((rc = check_range("dim", p->dim, AKIDB_DIM_MIN, AKIDB_DIM_MAX, err, errlen)) ||
      (rc = check_range("m", p->m, AKIDB_HNSW_M_MIN, AKIDB_HNSW_M_MAX, err, errlen)) ||
      (rc = check_range("ef_construction", p->ef_construction,
                        AKIDB_HNSW_EF_CONSTRUCTION_MIN,
                        AKIDB_HNSW_EF_CONSTRUCTION_MAX, err, errlen)) ||
      (rc = check_range("ef_search", p->ef_search, AKIDB_HNSW_EF_SEARCH_MIN,
                        AKIDB_HNSW_EF_SEARCH_MAX, err, errlen)) ||
      (rc = check_range("initial_capacity", p->initial_capacity, 0,
                        HNSW_MAX_SLOTS, err, errlen)))
    return rc;
  if (p->ef_construction < p->m) {
    if (err)
      snprintf(err, errlen,
               "ef_construction = %u must be at least m = %u", p->ef_construction, p->m);
    return AKIDB_EINVAL;
  }
  if (p->metric != AKIDB_METRIC_L2 && p->metric != AKIDB_METRIC_COSINE &&
      p->metric != AKIDB_METRIC_DOT) {
    if (err) snprintf(err, errlen, "metric = %d is not one of l2, cosine, dot", (int)p->metric);
    return AKIDB_EINVAL;
  }
  return AKIDB_OK;
}

int hnsw_alloc(const akidb_hnsw_params_t *p, akidb_hnsw_t **out, char *err,
               size_t errlen) {
  *out = NULL;
  int rc = akidb_hnsw_params_validate(p, err, errlen);
  if (rc) return rc;
  akidb_hnsw_t *h = calloc(1, sizeof *h);
  if (!h) return AKIDB_ENOMEM;
  if ((rc = metric_init(&h->metric, p->metric, err, errlen))) {
    free(h);
    return rc;
  }
  mem_acct_init(&h->mem, NULL);
  mem_charge(&h->mem, (int64_t)mem_block_bytes(h));
  h->p = *p;
  atomic_init(&h->ef_search, p->ef_search);
  h->dim = p->dim;
  h->stride = (p->dim + 15u) & ~15u;
  h->m = p->m;
  h->m0 = 2 * p->m;
  h->l0_words = 1 + h->m0;
  h->up_words = 1 + h->m;
  h->level_mult = 1.0 / log((double)p->m);
  h->entry = HNSW_NONE;
  h->max_level = -1;
  atomic_init(&h->n_slots, 0);
  atomic_init(&h->live, 0);
  atomic_init(&h->deleted, 0);
  pthread_rwlock_init(&h->grow, NULL);
  pthread_mutex_init(&h->entry_lock, NULL);
  pthread_mutex_init(&h->raise_lock, NULL);
  pthread_mutex_init(&h->map_lock, NULL);
  pthread_mutex_init(&h->pool_lock, NULL);
  label_map_init(&h->map, &h->mem);
  *out = h;
  return AKIDB_OK;
}

int akidb_hnsw_create(const akidb_hnsw_params_t *p, akidb_hnsw_t **out,
                      char *err, size_t errlen) {
  int rc = hnsw_alloc(p, out, err, errlen);
  if (rc) return rc;
  if (p->initial_capacity && (rc = hnsw_reserve(*out, p->initial_capacity))) {
    akidb_hnsw_free(*out);
    *out = NULL;
    if (err) snprintf(err, errlen, "cannot reserve room for %llu points",
                      (unsigned long long)p->initial_capacity);
  }
  return rc;
}

void hnsw_ctx_free(akidb_hnsw_t *h, hnsw_ctx_t *c) {
  if (!c) return;
  mem_free(&h->mem, c->visited);
  heap_free(&c->cand);
  heap_free(&c->top);
  mem_free(&h->mem, c->nbuf);
  mem_free(&h->mem, c->fresh);
  mem_free(&h->mem, c->query);
  mem_free(&h->mem, c);
}

void akidb_hnsw_free(akidb_hnsw_t *h) {
  if (!h) return;
  /* every slot beyond the filled ones has a NULL list (grown zeroed) */
  for (uint64_t i = 0; h->upper && i < h->cap; i++) mem_free(&h->mem, h->upper[i]);
  mem_free(&h->mem, h->vecs);
  mem_free(&h->mem, h->links0);
  mem_free(&h->mem, h->upper);
  mem_free(&h->mem, h->labels);
  mem_free(&h->mem, h->levels);
  mem_free(&h->mem, (void *)h->flags);
  mem_free(&h->mem, (void *)h->locks);
  label_map_free(&h->map);
  while (h->pool) {
    hnsw_ctx_t *next = h->pool->next;
    hnsw_ctx_free(h, h->pool);
    h->pool = next;
  }
  pthread_rwlock_destroy(&h->grow);
  pthread_mutex_destroy(&h->entry_lock);
  pthread_mutex_destroy(&h->raise_lock);
  pthread_mutex_destroy(&h->map_lock);
  pthread_mutex_destroy(&h->pool_lock);
  mem_charge(&h->mem, -(int64_t)mem_block_bytes(h)); /* the parent is credited too */
  free(h);
}

void akidb_hnsw_set_memacct(akidb_hnsw_t *h, akidb_memacct_t *parent) {
  mem_acct_reparent(&h->mem, parent);
}

/* Reallocates *pp to hold new_n items of `size`, zeroing the added part. */
static int grow_array(akidb_hnsw_t *h, void **pp, size_t old_n, size_t new_n, size_t size) {
  void *q = mem_realloc(&h->mem, *pp, new_n * size);
  if (!q) return AKIDB_ENOMEM;
  if (new_n > old_n) memset((char *)q + old_n * size, 0, (new_n - old_n) * size);
  *pp = q;
  return AKIDB_OK;
}

/*
 * Allocates an arena (vectors, layer-0 lists), 64-byte aligned. Arenas of
 * HNSW_HUGE_ARENA_BYTES and more are 2 MiB aligned and advised as huge
 * pages: searches and inserts touch them at random, and with 4 KiB pages
 * most of those touches also miss the TLB. Smaller ones are not: the
 * alignment would waste up to 2 MiB on a collection that holds little.
 */
void *hnsw_arena_alloc(akidb_hnsw_t *h, size_t bytes) {
  const size_t huge = 2u << 20;
  if (bytes < HNSW_HUGE_ARENA_BYTES) return mem_aligned(&h->mem, 64, bytes);
  size_t rounded = (bytes + huge - 1) & ~(huge - 1);
  void *p = mem_aligned(&h->mem, huge, rounded);
#ifdef MADV_HUGEPAGE
  if (p) madvise(p, rounded, MADV_HUGEPAGE);
#endif
  return p;
}

/* Moves an arena of old_bytes into a new one of new_bytes (zeroed tail). */
static int grow_arena(akidb_hnsw_t *h, void **pp, size_t old_bytes, size_t new_bytes) {
  void *q = hnsw_arena_alloc(h, new_bytes);
  if (!q) return AKIDB_ENOMEM;
  if (old_bytes) memcpy(q, *pp, old_bytes);
  memset((char *)q + old_bytes, 0, new_bytes - old_bytes);
  mem_free(&h->mem, *pp);
  *pp = q;
  return AKIDB_OK;
}

uint64_t hnsw_next_cap(uint64_t cap) {
  if (cap < HNSW_FIRST_SLOTS) return HNSW_FIRST_SLOTS;
  if (cap < HNSW_GROW_SLOW_SLOTS) return cap * 2;
  return cap + cap / 4;
}

int hnsw_reserve(akidb_hnsw_t *h, uint64_t cap) {
  if (cap <= h->cap) return AKIDB_OK;
  if (cap > HNSW_MAX_SLOTS) return AKIDB_ELIMIT;
  uint64_t old = h->cap;
  size_t vbytes = (size_t)cap * h->stride * sizeof(float);
  float *v = hnsw_arena_alloc(h, vbytes);
  if (!v) return AKIDB_ENOMEM;
  memset(v + (size_t)old * h->stride, 0, (size_t)(cap - old) * h->stride * sizeof(float));
  if (old) memcpy(v, h->vecs, (size_t)old * h->stride * sizeof(float));
  int rc = AKIDB_OK;
  if ((rc = grow_arena(h, (void **)&h->links0, old * h->l0_words * sizeof(uint32_t),
                       cap * h->l0_words * sizeof(uint32_t))) ||
      (rc = grow_array(h, (void **)&h->upper, old, cap, sizeof(uint32_t *))) ||
      (rc = grow_array(h, (void **)&h->labels, old, cap, sizeof(uint64_t))) ||
      (rc = grow_array(h, (void **)&h->levels, old, cap, sizeof(uint8_t))) ||
      (rc = grow_array(h, (void **)&h->flags, old, cap, sizeof(uint8_t))) ||
      (rc = grow_array(h, (void **)&h->locks, old, cap, sizeof(uint8_t))) ||
      (rc = label_map_reserve(&h->map, cap))) {
    mem_free(&h->mem, v);
    return rc; /* arrays grown so far are merely larger: still consistent */
  }
  mem_free(&h->mem, h->vecs);
  h->vecs = v;
  h->cap = cap;
  return AKIDB_OK;
}

int akidb_hnsw_reserve(akidb_hnsw_t *h, uint64_t more) {
  pthread_rwlock_wrlock(&h->grow);
  uint64_t need = (uint64_t)atomic_load(&h->n_slots) + more, cap = h->cap;
  int rc = AKIDB_OK;
  if (need > cap) {
    cap = hnsw_next_cap(cap);
    if (cap < need) cap = need;
    if (cap > HNSW_MAX_SLOTS) cap = HNSW_MAX_SLOTS;
    rc = need > HNSW_MAX_SLOTS ? AKIDB_ELIMIT : hnsw_reserve(h, cap);
  }
  pthread_rwlock_unlock(&h->grow);
  return rc;
}

/* splitmix64 finaliser. */
static uint64_t mix64(uint64_t z) {
  z += 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

/* Level from -ln(U) * mL, U drawn from (seed, label): reproducible whatever
 * the order of concurrent inserts. */
int hnsw_random_level(const akidb_hnsw_t *h, uint64_t label) {
  uint64_t r = mix64(h->p.seed ^ mix64(label));
  double u = ((double)(r >> 11) + 0.5) * (1.0 / 9007199254740992.0);
  double l = -log(u) * h->level_mult;
  return l >= HNSW_MAX_LEVEL ? HNSW_MAX_LEVEL : (int)l;
}

static hnsw_ctx_t *ctx_new(akidb_hnsw_t *h) {
  hnsw_ctx_t *c = mem_calloc(&h->mem, 1, sizeof *c);
  if (!c) return NULL;
  c->cand.mem = c->top.mem = &h->mem;
  c->nbuf = mem_malloc(&h->mem, (h->m0 + 1) * sizeof(uint32_t));
  c->fresh = mem_malloc(&h->mem, (h->m0 + 1) * sizeof(uint32_t));
  c->query = mem_aligned(&h->mem, 64, (size_t)h->stride * sizeof(float));
  if (!c->nbuf || !c->fresh || !c->query) {
    hnsw_ctx_free(h, c);
    return NULL;
  }
  memset(c->query, 0, (size_t)h->stride * sizeof(float));
  return c;
}

hnsw_ctx_t *hnsw_ctx_acquire(akidb_hnsw_t *h) {
  pthread_mutex_lock(&h->pool_lock);
  hnsw_ctx_t *c = h->pool;
  if (c) h->pool = c->next;
  pthread_mutex_unlock(&h->pool_lock);
  if (!c && !(c = ctx_new(h))) return NULL;
  if (c->visited_cap < h->cap) { /* the index grew since this context was made */
    mem_free(&h->mem, c->visited);
    c->visited = mem_calloc(&h->mem, h->cap, sizeof(uint16_t));
    c->visited_cap = c->visited ? h->cap : 0;
    c->tag = 0;
    if (!c->visited) {
      hnsw_ctx_free(h, c);
      return NULL;
    }
  }
  return c;
}

void hnsw_ctx_release(akidb_hnsw_t *h, hnsw_ctx_t *c) {
  pthread_mutex_lock(&h->pool_lock);
  c->next = h->pool;
  h->pool = c;
  pthread_mutex_unlock(&h->pool_lock);
}

uint16_t hnsw_ctx_new_tag(hnsw_ctx_t *c) {
  if (++c->tag == 0) { /* wrapped: clear once every 65535 searches */
    memset(c->visited, 0, c->visited_cap * sizeof(uint16_t));
    c->tag = 1;
  }
  return c->tag;
}

void hnsw_read_entry(akidb_hnsw_t *h, uint32_t *entry, int *max_level) {
  pthread_mutex_lock(&h->entry_lock);
  *entry = h->entry;
  *max_level = h->max_level;
  pthread_mutex_unlock(&h->entry_lock);
}

void akidb_hnsw_get_params(const akidb_hnsw_t *h, akidb_hnsw_params_t *out) {
  *out = h->p;
  out->ef_search = atomic_load(&((akidb_hnsw_t *)h)->ef_search);
}

int akidb_hnsw_set_ef_search(akidb_hnsw_t *h, uint32_t ef) {
  if (ef < AKIDB_HNSW_EF_SEARCH_MIN || ef > AKIDB_HNSW_EF_SEARCH_MAX)
    return AKIDB_EINVAL;
  atomic_store(&h->ef_search, ef);
  return AKIDB_OK;
}

uint64_t akidb_hnsw_count(const akidb_hnsw_t *h) {
  return atomic_load(&((akidb_hnsw_t *)h)->live);
}

uint64_t akidb_hnsw_deleted_count(const akidb_hnsw_t *h) {
  return atomic_load(&((akidb_hnsw_t *)h)->deleted);
}

uint64_t akidb_hnsw_memory_bytes(const akidb_hnsw_t *h) {
  int64_t bytes = mem_acct_bytes(&h->mem);
  return bytes > 0 ? (uint64_t)bytes : 0;
}

/* Slot of a live label, or HNSW_NONE. Caller holds grow (read). */
static uint32_t live_slot(akidb_hnsw_t *h, uint64_t label) {
  pthread_mutex_lock(&h->map_lock);
  uint32_t s = label_map_get(&h->map, label);
  pthread_mutex_unlock(&h->map_lock);
  if (s == LABEL_MAP_NONE || (hnsw_flags(h, s) & FLAG_DELETED)) return HNSW_NONE;
  return s;
}

bool akidb_hnsw_contains(const akidb_hnsw_t *h, uint64_t label) {
  akidb_hnsw_t *mh = (akidb_hnsw_t *)h;
  pthread_rwlock_rdlock(&mh->grow);
  bool found = live_slot(mh, label) != HNSW_NONE;
  pthread_rwlock_unlock(&mh->grow);
  return found;
}

int akidb_hnsw_get_vector(const akidb_hnsw_t *h, uint64_t label, float *out) {
  akidb_hnsw_t *mh = (akidb_hnsw_t *)h;
  pthread_rwlock_rdlock(&mh->grow);
  uint32_t s = live_slot(mh, label);
  bool ready = s != HNSW_NONE && (hnsw_flags(h, s) & FLAG_READY);
  if (ready) memcpy(out, hnsw_vec(h, s), h->dim * sizeof(float));
  pthread_rwlock_unlock(&mh->grow);
  return ready ? AKIDB_OK : AKIDB_ENOTFOUND;
}
