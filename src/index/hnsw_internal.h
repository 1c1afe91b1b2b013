/*
 * hnsw_internal.h — the HNSW index's private layout, shared by
 * hnsw_core.c (lifecycle, storage, scratch), hnsw_build.c (insert),
 * hnsw_search.c (search), hnsw_delete.c (delete, compaction) and
 * hnsw_io.c (save/load).
 *
 * Storage (indexed by slot, a dense internal id):
 *   vecs    one 64-byte-aligned arena, `stride` floats per slot
 *   links0  one arena of fixed-size layer-0 lists: [count, id * m0]
 *   upper   per slot with level > 0: `level` lists of [count, id * m]
 *   labels, levels, flags (READY, DELETED), locks (one spin lock per slot)
 *
 * Locking:
 *   grow     rwlock. Read side: insert, delete, search. Write side: growing
 *            the arenas, compaction. Nothing else moves the arenas.
 *   locks[s] held only to copy or rewrite slot s's neighbour lists.
 *   entry_lock guards (entry, max_level); raise_lock serialises inserts
 *            whose level is above max_level.
 *   map_lock guards the label map, slot allocation and n_slots writes.
 *   pool_lock guards the free list of search scratch contexts.
 * Memory: every block the index holds is allocated through util/mem.c and
 * charged to `mem` (whose parent, if set, is the collection's account).
 * Growth (hnsw_next_cap): 8 slots at the first insert, x2 below
 * HNSW_GROW_SLOW_SLOTS (4 Ki), x1.25 from there (10k points fill 10,000
 * slots exactly, 100k fill 116,407); arenas of HNSW_HUGE_ARENA_BYTES
 * and more are 2 MiB aligned and advised as huge pages.
 *
 * A slot's vector, label, level and upper lists are written before it is
 * linked into any list (and before READY is set with release order), so a
 * reader that reaches it through a list copied under a lock, or that sees
 * READY with acquire order, sees them complete.
 */
#ifndef AKIDB_HNSW_INTERNAL_H
#define AKIDB_HNSW_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "akidb/index.h"
#include "index/heap.h"
#include "index/label_map.h"
#include "index/metric.h"
#include "util/mem.h"

#define HNSW_MAX_LEVEL 31
#define HNSW_NONE UINT32_MAX
#define HNSW_MAX_SLOTS (UINT32_MAX - 2u)

#define HNSW_FIRST_SLOTS 8u            /* capacity at the first insert */
#define HNSW_GROW_SLOW_SLOTS 4096u     /* from here on grow by 1.25, not 2 */
#define HNSW_HUGE_ARENA_BYTES (32u << 20) /* huge-page alignment from here on */

#define FLAG_READY 1u
#define FLAG_DELETED 2u

/* Per-search scratch: visited tags (cleared only when the tag wraps), heaps,
 * and buffers. Pooled so a search allocates nothing in the steady state. */
typedef struct hnsw_ctx {
  uint16_t *visited;
  uint64_t visited_cap;
  uint16_t tag;
  heap_t cand, top;
  uint32_t *nbuf;  /* a copied neighbour list: 1 + m0 words */
  uint32_t *fresh; /* unvisited neighbours of the node being expanded */
  float *query;    /* the prepared query, stride floats, 64-byte aligned */
  struct hnsw_ctx *next;
} hnsw_ctx_t;

struct akidb_hnsw {
  akidb_hnsw_params_t p;
  akidb_memacct_t mem; /* bytes this index holds; rolls up into its parent */
  _Atomic uint32_t ef_search;
  metric_t metric;
  uint32_t dim, stride; /* floats per stored vector (dim rounded up to 16) */
  uint32_t m, m0;       /* max links on upper layers / on layer 0 */
  uint32_t l0_words;    /* 1 + m0 */
  uint32_t up_words;    /* 1 + m */
  double level_mult;    /* 1 / ln(m) */

  pthread_rwlock_t grow;
  uint64_t cap;
  _Atomic uint32_t n_slots;
  float *vecs;
  uint32_t *links0;
  uint32_t **upper;
  uint64_t *labels;
  uint8_t *levels;
  _Atomic uint8_t *flags;
  _Atomic uint8_t *locks;

  pthread_mutex_t entry_lock;
  uint32_t entry;
  int max_level;
  pthread_mutex_t raise_lock;

  pthread_mutex_t map_lock;
  label_map_t map;
  _Atomic uint64_t live, deleted;

  pthread_mutex_t pool_lock;
  hnsw_ctx_t *pool;
};

/* ---- accessors ---- */

static inline float *hnsw_vec(const akidb_hnsw_t *h, uint32_t id) {
  return h->vecs + (size_t)id * h->stride;
}

/* The list [count, ids...] of slot `id` at `level`. */
static inline uint32_t *hnsw_links(const akidb_hnsw_t *h, uint32_t id,
                                   int level) {
  return level == 0 ? h->links0 + (size_t)id * h->l0_words
                    : h->upper[id] + (size_t)(level - 1) * h->up_words;
}

static inline uint32_t hnsw_max_links(const akidb_hnsw_t *h, int level) {
  return level == 0 ? h->m0 : h->m;
}

static inline float hnsw_dist(const akidb_hnsw_t *h, const float *q,
                              uint32_t id) {
  return metric_dist(&h->metric, q, hnsw_vec(h, id), h->dim);
}

static inline uint8_t hnsw_flags(const akidb_hnsw_t *h, uint32_t id) {
  return atomic_load_explicit(&h->flags[id], memory_order_acquire);
}

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

static inline void hnsw_node_lock(const akidb_hnsw_t *h, uint32_t id) {
  while (atomic_exchange_explicit(&h->locks[id], 1, memory_order_acquire))
    while (atomic_load_explicit(&h->locks[id], memory_order_relaxed))
      cpu_relax();
}

static inline void hnsw_node_unlock(const akidb_hnsw_t *h, uint32_t id) {
  atomic_store_explicit(&h->locks[id], 0, memory_order_release);
}

/* Copies slot id's list at `level` into out (count first); returns count. */
static inline uint32_t hnsw_copy_links(const akidb_hnsw_t *h, uint32_t id,
                                       int level, uint32_t *out) {
  hnsw_node_lock(h, id);
  const uint32_t *l = hnsw_links(h, id, level);
  uint32_t n = l[0];
  for (uint32_t i = 0; i <= n; i++) out[i] = l[i];
  hnsw_node_unlock(h, id);
  return n;
}

/*
 * Prefetches the start of slot id's vector (up to HNSW_PREFETCH_BYTES): the
 * part the early-stopping kernel reads before it can give up on a far point;
 * the hardware streams the rest when the kernel goes on.
 */
#ifndef HNSW_PREFETCH_BYTES
#define HNSW_PREFETCH_BYTES 1024
#endif
static inline void hnsw_prefetch_vec(const akidb_hnsw_t *h, uint32_t id) {
  const char *p = (const char *)hnsw_vec(h, id);
  size_t bytes = (size_t)h->stride * sizeof(float);
  if (bytes > HNSW_PREFETCH_BYTES) bytes = HNSW_PREFETCH_BYTES;
  for (size_t off = 0; off < bytes; off += 64) __builtin_prefetch(p + off, 0, 3);
}

/* ---- hnsw_core.c ---- */
int hnsw_alloc(const akidb_hnsw_params_t *p, akidb_hnsw_t **out, char *err,
               size_t errlen);
int hnsw_reserve(akidb_hnsw_t *h, uint64_t cap); /* caller holds grow (write) */
/* The capacity after `cap` when full (growth policy above). */
uint64_t hnsw_next_cap(uint64_t cap);
/* 64-byte aligned, charged to h->mem; huge pages when large. Free with mem_free. */
void *hnsw_arena_alloc(akidb_hnsw_t *h, size_t bytes);
int hnsw_random_level(const akidb_hnsw_t *h, uint64_t label);
hnsw_ctx_t *hnsw_ctx_acquire(akidb_hnsw_t *h);
void hnsw_ctx_release(akidb_hnsw_t *h, hnsw_ctx_t *c);
void hnsw_ctx_free(akidb_hnsw_t *h, hnsw_ctx_t *c);
uint16_t hnsw_ctx_new_tag(hnsw_ctx_t *c);
void hnsw_read_entry(akidb_hnsw_t *h, uint32_t *entry, int *max_level);

/* ---- hnsw_search.c ---- */
/* Greedy descent on one upper layer (paper Alg. 2 with ef = 1). */
uint32_t hnsw_greedy(const akidb_hnsw_t *h, hnsw_ctx_t *c, const float *q,
                     uint32_t cur, float *dcur, int level);
/*
 * SEARCH-LAYER (paper Alg. 2): best-first search from `ep` on `level`,
 * keeping the `ef` nearest allowed points in c->top (a max-heap). Deleted
 * and filtered-out points route but are not kept, unless keep_deleted
 * (inserts: a new point may link to deleted ones, which still route until
 * compaction; otherwise a point inserted among deleted ones would be left
 * without links). 0 or AKIDB_ENOMEM.
 */
int hnsw_search_layer(const akidb_hnsw_t *h, hnsw_ctx_t *c, const float *q,
                      uint32_t ep, float ep_dist, uint32_t ef, int level,
                      const akidb_filter_t *filter, bool keep_deleted);

/* ---- hnsw_build.c ---- */
/* SELECT-NEIGHBORS-HEURISTIC (paper Alg. 4) over candidates sorted
 * nearest-first; writes up to `max` ids to out, returns how many. */
uint32_t hnsw_select_neighbors(const akidb_hnsw_t *h, const heap_item_t *cand,
                               uint32_t n, uint32_t max, uint32_t *out);
/* Sorts heap items nearest first. */
void hnsw_sort_items(heap_item_t *a, uint32_t n);

#endif /* AKIDB_HNSW_INTERNAL_H */
